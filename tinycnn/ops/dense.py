"""Gemm and MatMul.  Constant weights are packed once (a Dense layer); the rest
goes through the general GEMM kernel."""
import numpy as np

from .. import _kernels as K
from ..ir import const_value
from . import FUSED_DOMAIN, op
from .common import (bound_step, broadcast_shape, gemm_shapes, is_float32, matmul_shapes,
                     numpy_step, require_float)
from .elementwise import binary


def _gemm(n, A, B, C, alpha, beta, transA, transB, relu):
    require_float(n, A, B, C)
    m, k, nn = gemm_shapes(n, A, B, transA, transB)
    out = (m, nn)
    if C is not None:
        if broadcast_shape(n, C.shape, out) != out:
            raise n.error(f"C {C.shape} does not broadcast to the output {out}")
    ctx = n.ctx
    bias_ok = C is None or (C.const is not None and C.const.size in (1, nn) and (C.ndim < 2 or C.shape[0] == 1))
    if B.const is not None and not transA and bias_ok and A.const is None:
        def make():
            w = np.ascontiguousarray(B.const, np.float32)
            if alpha != 1.0:
                w = w * np.float32(alpha)
            b = None
            if C is not None and beta != 0:
                b = np.ascontiguousarray(np.broadcast_to(C.const.reshape(-1) * np.float32(beta), (nn,)),
                                         np.float32)
            # batch 1 with a [Nout, K] weight (PyTorch Linear): stream the initializer
            # in place, no packed copy (halves the resident weights of AlexNet/VGG)
            in_place = bool(transB) and m == 1
            return K.Dense(ctx, w, b, trans_b=bool(transB), relu=relu, pack=not in_place)
        dense = n.cached(("dense", relu, m == 1), make)

        def run(a, y, *ws):
            return dense.bind(a, y, ws[0] if ws else None)
        return n.emit(bound_step(run), [A], [(out, np.float32)],
                      workspace=dense.workspace_size(m))
    ins = [A, B] + ([C] if C is not None else [])
    alpha, beta, ta, tb = float(alpha), float(beta), bool(transA), bool(transB)
    has_c = C is not None

    def run(a, b, *rest):
        c, y, ws = rest if has_c else (None,) + rest
        if c is not None:
            c = c.reshape((1,) * (2 - c.ndim) + c.shape)
        K.gemm(ctx, np.ascontiguousarray(a, np.float32), np.ascontiguousarray(b, np.float32), y,
               ta, tb, alpha, beta if c is not None else 0.0,
               None if c is None else np.ascontiguousarray(c, np.float32), ws)
        if relu:
            K.unary(ctx, "relu", y, y)
    ins = [_f32(v) for v in ins]
    return n.emit(run, ins, [(out, np.float32)], workspace=K.gemm_workspace_size(ctx))


def _f32(v):
    if v.const is None or v.const.dtype == np.float32:
        return v
    return const_value(v.name, v.const.astype(np.float32))


def gemm_macs(inputs, outputs, *, transA=0, **attrs):
    """M * N * K for Y[M, N] = A'[M, K] B'[K, N]."""
    A, Y = inputs[0], outputs[0]
    return 0 if Y is None else Y.size * A.shape[0 if transA else 1]


def matmul_macs(inputs, outputs, **attrs):
    """prod(batch dims) * M * N * K."""
    A, Y = inputs[0], outputs[0]
    return 0 if Y is None else Y.size * A.shape[-1]


@op("Gemm", cost=gemm_macs)
def Gemm(n, A, B, C=None, *, alpha=1.0, beta=1.0, transA=0, transB=0, broadcast=0):
    """Y = alpha * A' B' + beta * C; a constant B is packed once."""
    return _gemm(n, A, B, C, alpha, beta, transA, transB, False)


@op("Gemm", since=1, domain=FUSED_DOMAIN, cost=gemm_macs)
def FusedGemm(n, A, B, C=None, *, alpha=1.0, beta=1.0, transA=0, transB=0, broadcast=0,
              activation=""):
    return _gemm(n, A, B, C, alpha, beta, transA, transB, activation == "Relu")


@op("MatMul", domain=FUSED_DOMAIN, cost=matmul_macs)
def FusedMatMul(n, A, B, bias):
    """MatMul then Add of a constant bias of B's N values, added in the GEMM's epilogue."""
    if A.ndim < 2 or B.const is None or A.shape[-1] != B.shape[0] or not is_float32(A):
        (y,) = MatMul(n, A, B)
        return binary(n, "add", y, bias)
    rows = int(np.prod(A.shape[:-1]))
    (y,) = _gemm(n, n.view(A, (rows, A.shape[-1])), B, n.view(bias, (bias.size,)), 1.0, 1.0, 0, 0, False)
    return [n.view(y, A.shape[:-1] + (B.shape[1],))]


@op("MatMul", cost=matmul_macs)
def MatMul(n, A, B):
    """Numpy matmul semantics; a constant 2-D B is packed once; float64 and integers in numpy."""
    a_shape, b_shape, batch, m, k, nn, final = matmul_shapes(n, A, B)
    out = batch + (m, nn)
    if not is_float32(A, B):
        return numpy_step(n, np.matmul, [A, B], [(final, np.result_type(A.dtype, B.dtype))])
    require_float(n, A, B)
    if B.ndim == 2 and B.const is not None:
        rows = int(np.prod(a_shape[:-1]))
        (y,) = _gemm(n, n.view(A, (rows, k)), B, None, 1.0, 1.0, 0, 0, False)
        return [n.view(y, final)]
    ctx = n.ctx
    A2, B2 = _f32(A), _f32(B)

    def run(a, b, y, ws):
        a3 = np.broadcast_to(a.reshape(a_shape), batch + (m, k)).reshape(-1, m, k)
        b3 = np.broadcast_to(b.reshape(b_shape), batch + (k, nn)).reshape(-1, k, nn)
        y3 = y.reshape(-1, m, nn)
        for i in range(y3.shape[0]):
            K.gemm(ctx, np.ascontiguousarray(a3[i]), np.ascontiguousarray(b3[i]), y3[i],
                   workspace=ws)
    (y,) = n.emit(run, [A2, B2], [(out, np.float32)], workspace=K.gemm_workspace_size(ctx))
    return [n.view(y, final)]

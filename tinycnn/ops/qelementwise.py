"""The com.microsoft quantized element-wise ops and pools, as onnxruntime defines them:
QLinearAdd, QLinearMul, QLinearSigmoid, QLinearLeakyRelu, QLinearConcat,
QLinearGlobalAveragePool and QLinearAveragePool; and tinycnn::QLinearSigmoidMul, the
x * sigmoid(x) (SiLU) of a QLinearSigmoid and a QLinearMul fused by tinycnn.qdq.

They follow their inputs' layout: channels-last tensors (from the quantized
convolutions) stay channels last.  Unary ops are 256-entry tables built once from
the float function (dequantize, f, quantize: onnxruntime's lookup tables).
"""
import numpy as np

from .. import _kernels as K
from ..ir import CHANNELS_LAST, stored_shape
from . import FUSED_DOMAIN, op
from .common import (UnsupportedOperator, axis_index, bound_step, broadcast_shape, prod,
                     window_geometry)
from .qcommon import Q8, all_const, require_q8, scalar_param
from .qmatmul import MS_DOMAIN


def _const_params(n, values, what):
    """Every quantization parameter must be known at plan time (initializers)."""
    for v, name in zip(values, what):
        if v is not None and v.const is None:
            raise n.error(f"{name} must be a constant (an initializer)", UnsupportedOperator)
    return [None if v is None else v.const for v in values]


# ---- binary ----------------------------------------------------------------------

def _merged(shapes):
    """Drop dims of size 1 in the output and merge adjacent dims that broadcast alike
    (onnxruntime's spans); returns the shapes with equal rank."""
    y = shapes[-1]
    keep = [i for i, d in enumerate(y) if d != 1] or [len(y) - 1]
    out = [[s[i] for i in keep] for s in shapes]
    merged = [[d] for d in out[0]], [[d] for d in out[1]], [[d] for d in out[2]]
    res = [[out[j][0]] for j in range(3)]
    for i in range(1, len(keep)):
        same = all((out[j][i] == 1) == (out[j][i - 1] == 1) for j in range(2))
        for j in range(3):
            if same:
                res[j][-1] *= out[j][i]
            else:
                res[j].append(out[j][i])
    del merged
    return [tuple(r) for r in res]


def qlinear_binary(n, kind, A, a_scale, a_zp, B, b_scale, b_zp, c_scale, c_zp):
    """QLinearAdd (kind "add") or QLinearMul of two 8-bit tensors, channels last when they are."""
    require_q8(n, A, "A")
    require_q8(n, B, "B")
    if A.dtype != B.dtype:
        raise n.error(f"A {A.dtype} and B {B.dtype} must have the same type")
    out_shape = broadcast_shape(n, A.shape, B.shape)
    r = len(out_shape)
    a_s, a_z, b_s, b_z, c_s, c_z = _const_params(
        n, [a_scale, a_zp, b_scale, b_zp, c_scale, c_zp],
        ["A_scale", "A_zero_point", "B_scale", "B_zero_point", "C_scale", "C_zero_point"])
    as_, az = scalar_param(n, a_s, a_z, A.dtype, "A")
    bs, bz = scalar_param(n, b_s, b_z, B.dtype, "B")
    cs, cz = scalar_param(n, c_s, c_z, A.dtype, "C")
    pa = (1,) * (r - A.ndim) + A.shape
    pb = (1,) * (r - B.ndim) + B.shape

    def layout_free(v, padded):
        return v.const is not None or len(padded) < 3 or padded[1] == 1 or \
            all(d == 1 for d in padded[2:])
    layout = None
    if r >= 3 and (A.channels_last or B.channels_last):
        ok = all(v.channels_last and v.ndim == r or layout_free(v, p)
                 for v, p in ((A, pa), (B, pb)))
        layout = CHANNELS_LAST if ok else None
    ins = []
    for v, p in ((A, pa), (B, pb)):
        if v.const is not None:
            arr = np.asarray(v.const).reshape(p)
            if layout == CHANNELS_LAST:
                arr = np.moveaxis(arr, 1, -1)
            ins.append(n.constant(np.ascontiguousarray(arr)))
        elif layout == CHANNELS_LAST:
            ins.append(n.to_layout(v, CHANNELS_LAST) if v.ndim == r else v)
        else:
            ins.append(n.to_layout(v, None))
    sa, sb, sy = (stored_shape(p, layout) for p in (pa, pb, out_shape))
    ma, mb, my = _merged([sa, sb, sy])
    ctx = n.ctx

    def qbinary(a, b, y):  # bound once per arena
        return K.bind_qbinary(ctx, kind, a, as_, az, b, bs, bz, y, cs, cz, ma, mb, my)
    return n.emit(bound_step(qbinary), ins, [(out_shape, A.dtype)], layout=layout)


@op("QLinearAdd", since=1, until=1, domain=MS_DOMAIN, channels_last=True)
def QLinearAdd(n, A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point):
    """With broadcasting; onnxruntime's two fused multiply-adds, rounded once."""
    return qlinear_binary(n, "add", A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale,
                   C_zero_point)


@op("QLinearMul", since=1, until=1, domain=MS_DOMAIN, channels_last=True)
def QLinearMul(n, A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point):
    """With broadcasting; the integer product scaled by A_scale * B_scale / C_scale."""
    return qlinear_binary(n, "mul", A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale,
                   C_zero_point)


# ---- unary (lookup tables) -----------------------------------------------------------

def lookup_table(dtype, x_scale, x_zp, y_scale, y_zp, fn, ctx):
    """256 bytes: table[b] = quantize(fn(dequantize(b))), b read as `dtype` (onnxruntime's
    QlinearBuildLookupTable: x_scale * (x - x_zp) in float32, fn, then x / y_scale)."""
    codes = np.arange(256, dtype=np.uint8).view(dtype).astype(np.int32)
    x = (np.float32(x_scale) * (codes - np.int32(x_zp)).astype(np.float32)).astype(np.float32)
    y = np.ascontiguousarray(fn(x), np.float32)
    table = np.empty(256, dtype)
    K.quantize(ctx, y, table, np.array([y_scale], np.float32), np.array([y_zp], np.int32),
               256, 1, 1)
    return table.view(np.uint8)


def _unary_table(n, dtype, params, fn, what):
    """The 256-byte table of a one-input op: params (X_scale, X_zero_point, Y_scale,
    Y_zero_point) constant, fn the float function."""
    xs, xz, ys, yz = _const_params(n, params, ["X_scale", "X_zero_point", "Y_scale",
                                               "Y_zero_point"])
    xs_, xz_ = scalar_param(n, xs, xz, dtype, "X")
    ys_, yz_ = scalar_param(n, ys, yz, dtype, "Y")
    ctx = n.ctx
    return n.cached((what,), lambda: lookup_table(dtype, xs_, xz_, ys_, yz_, fn, ctx))


def _sigmoid(ctx):
    def f(x):
        y = np.empty_like(x)
        K.unary(ctx, "sigmoid", x, y)
        return y
    return f


def _sigmoid_mul_table(n, dtype, params, sigmoid_is_a):
    """QLinearMul(x, QLinearSigmoid(x)) (the sigmoid as A with sigmoid_is_a): both steps
    depend on x's byte alone, so one 256-entry table holds onnxruntime's two results, built
    by the kernels that run them unfused.  params: X_scale, X_zero_point, S_scale,
    S_zero_point (the sigmoid's output), A_scale ... C_zero_point (the product's)."""
    params = _const_params(n, params, ["X_scale", "X_zero_point", "S_scale", "S_zero_point",
                                       "A_scale", "A_zero_point", "B_scale", "B_zero_point",
                                       "C_scale", "C_zero_point"])
    (xs, xz), (ss, sz), (as_, az), (bs, bz), (cs, cz) = (
        scalar_param(n, params[i], params[i + 1], dtype, what)
        for i, what in zip(range(0, 10, 2), ("X", "S", "A", "B", "C")))
    ctx = n.ctx

    def table():
        codes = np.arange(256, dtype=np.uint8).view(dtype)
        sig = lookup_table(dtype, xs, xz, ss, sz, _sigmoid(ctx), ctx).view(dtype)
        a, b = (sig, codes) if sigmoid_is_a else (codes, sig)
        y = np.empty(256, dtype)
        K.qbinary(ctx, "mul", a, as_, az, b, bs, bz, y, cs, cz, (256,), (256,), (256,))
        return y.view(np.uint8)
    return n.cached(("sigmoid-mul", bool(sigmoid_is_a)), table)


def _leaky_fn(alpha):
    a = np.float32(alpha)
    return lambda x: np.where(x >= 0, x, x * a).astype(np.float32)


def lookup_op_table(n, op_type, dtype, params, alpha=0.01, sigmoid_is_a=0):
    """The 256-byte table of a lookup op (QLinearSigmoid, QLinearLeakyRelu, tinycnn::
    QLinearSigmoidMul) on `dtype` bytes, from its parameter inputs (all after X): for
    the op itself, or fused into the output stage of the convolution that feeds it."""
    if op_type == "QLinearSigmoid":
        return _unary_table(n, dtype, params, _sigmoid(n.ctx), "sigmoid")
    if op_type == "QLinearLeakyRelu":
        return _unary_table(n, dtype, params, _leaky_fn(alpha), ("leaky", float(np.float32(alpha))))
    if op_type == "QLinearSigmoidMul":
        return _sigmoid_mul_table(n, dtype, params, sigmoid_is_a)
    raise n.error(f"no lookup table for {op_type}", UnsupportedOperator)


def emit_lookup(n, X, table):
    """y = table[x] over the bytes of X, in place where X allows it, in X's layout."""
    ctx = n.ctx
    layout = CHANNELS_LAST if X.channels_last else None

    def qlookup(x, y):
        K.lookup(ctx, table, x, y)
    return n.emit(qlookup, [X], [(X.shape, X.dtype)], inplace={0: 0}, layout=layout)


@op("QLinearSigmoid", since=1, until=1, domain=MS_DOMAIN, channels_last=True)
def QLinearSigmoid(n, X, X_scale, X_zero_point, Y_scale, Y_zero_point):
    """A 256-entry table of the float sigmoid."""
    require_q8(n, X, "X")
    return emit_lookup(n, X, lookup_op_table(n, "QLinearSigmoid", X.dtype,
                                             [X_scale, X_zero_point, Y_scale, Y_zero_point]))


@op("QLinearSigmoidMul", since=1, domain=FUSED_DOMAIN, channels_last=True)
def QLinearSigmoidMul(n, X, X_scale, X_zero_point, S_scale, S_zero_point, A_scale, A_zero_point,
                      B_scale, B_zero_point, C_scale, C_zero_point, *, sigmoid_is_a=0):
    """QLinearMul(x, QLinearSigmoid(x)) (B the sigmoid, or A with sigmoid_is_a): one
    256-entry table of onnxruntime's two results."""
    require_q8(n, X, "X")
    params = [X_scale, X_zero_point, S_scale, S_zero_point, A_scale, A_zero_point, B_scale,
              B_zero_point, C_scale, C_zero_point]
    return emit_lookup(n, X, lookup_op_table(n, "QLinearSigmoidMul", X.dtype, params,
                                             sigmoid_is_a=sigmoid_is_a))


@op("QLinearLeakyRelu", since=1, until=1, domain=MS_DOMAIN, channels_last=True)
def QLinearLeakyRelu(n, X, X_scale, X_zero_point, Y_scale, Y_zero_point, *, alpha=0.01):
    """A 256-entry table of x >= 0 ? x : alpha * x."""
    require_q8(n, X, "X")
    return emit_lookup(n, X, lookup_op_table(n, "QLinearLeakyRelu", X.dtype,
                                             [X_scale, X_zero_point, Y_scale, Y_zero_point],
                                             alpha=alpha))


# ---- concat ----------------------------------------------------------------------------

@op("QLinearConcat", since=1, until=1, domain=MS_DOMAIN, channels_last=True)
def QLinearConcat(n, Y_scale, Y_zero_point, *inputs, axis):
    """Inputs with other scales are requantized through tables, as onnxruntime's."""
    if len(inputs) < 3 or len(inputs) % 3:
        raise n.error(f"inputs after Y_scale, Y_zero_point must be (X, X_scale, X_zero_point) "
                      f"triples, got {len(inputs)}")
    xs = inputs[0::3]
    for i, x in enumerate(xs):
        require_q8(n, x, f"input {i}")
    dtype = Y_zero_point.dtype if Y_zero_point is not None else xs[0].dtype
    ys, yz = _const_params(n, [Y_scale, Y_zero_point], ["Y_scale", "Y_zero_point"])
    ys_, yz_ = scalar_param(n, ys, yz, dtype, "Y")
    rank = xs[0].ndim
    axis = axis_index(n, axis, rank)
    for x in xs:
        if x.dtype != dtype or x.ndim != rank or any(
                a != b for i, (a, b) in enumerate(zip(x.shape, xs[0].shape)) if i != axis):
            raise n.error(f"inputs {[v.shape for v in xs]} ({[str(v.dtype) for v in xs]}) do not "
                          f"concatenate on axis {axis} as {dtype}")
    tables = []
    for i, x in enumerate(xs):
        s, z = _const_params(n, inputs[3 * i + 1: 3 * i + 3], [f"X_scale {i}", f"X_zero_point {i}"])
        s_, z_ = scalar_param(n, s, z, dtype, f"input {i}")
        same = np.float32(s_) == np.float32(ys_) and z_ == yz_
        tables.append(None if same else lookup_table(dtype, s_, z_, ys_, yz_, lambda v: v, n.ctx))
    out_shape = list(xs[0].shape)
    out_shape[axis] = sum(x.shape[axis] for x in xs)
    layout = CHANNELS_LAST if rank >= 3 and all(x.channels_last for x in xs) else None
    ins = [x if layout else n.to_layout(x, None) for x in xs]
    phys_axis = rank - 1 if layout and axis == 1 else axis - (1 if layout and axis > 1 else 0)

    def qconcat(*arrays):
        y = arrays[-1]
        parts = []
        for a, t in zip(arrays[:-1], tables):
            parts.append(a if t is None else t.view(a.dtype)[a.view(np.uint8)])
        np.concatenate(parts, axis=phys_axis, out=y)
    return n.emit(qconcat, ins, [(tuple(out_shape), dtype)], layout=layout)


# ---- pools --------------------------------------------------------------------------------

@op("QLinearGlobalAveragePool", since=1, until=1, domain=MS_DOMAIN, channels_last=True)
def QLinearGlobalAveragePool(n, X, x_scale, x_zero_point, y_scale, y_zero_point, *,
                             channels_last=0):
    """Sum in int32, requantized by x_scale / (y_scale * pixels) as onnxruntime."""
    require_q8(n, X, "X")
    if X.ndim < 3:
        raise n.error(f"X must be [N, C, spatial...], got {X.shape}")
    xs, xz, ys, yz = _const_params(n, [x_scale, x_zero_point, y_scale, y_zero_point],
                                   ["x_scale", "x_zero_point", "y_scale", "y_zero_point"])
    xs_, xz_ = scalar_param(n, xs, xz, X.dtype, "x")
    ys_, yz_ = scalar_param(n, ys, yz, X.dtype, "y")
    ctx = n.ctx
    if channels_last:           # the tensor itself is [N, spatial..., C]
        nb, c, s = X.shape[0], X.shape[-1], prod(X.shape[1:-1])
        out_shape = (nb,) + (1,) * (X.ndim - 2) + (c,)
        x_in, rows, chans = n.to_layout(X, None), nb, c
    elif X.channels_last:       # stored [N, spatial..., C]
        nb, c, s = X.shape[0], X.shape[1], prod(X.shape[2:])
        out_shape = (nb, c) + (1,) * (X.ndim - 2)
        x_in, rows, chans = X, nb, c
    else:                        # [N * C images of one channel]
        nb, c, s = X.shape[0], X.shape[1], prod(X.shape[2:])
        out_shape = (nb, c) + (1,) * (X.ndim - 2)
        x_in, rows, chans = X, nb * c, 1
    if s >= (1 << 24) or not 2.0 ** -32 <= xs_ / (ys_ * s) < 256.0:
        raise n.error(f"x_scale / (y_scale * {s} pixels) = {xs_ / (ys_ * s):g} is outside the "
                      "range onnxruntime computes, [2^-32, 256)")

    def qgap(x, y):  # bound once per arena
        return K.bind_qglobal_avg_pool_nhwc(ctx, x, y, rows, s, chans, xs_, xz_, ys_, yz_)
    return n.emit(bound_step(qgap), [x_in], [(out_shape, X.dtype)])


@op("QLinearAveragePool", since=1, until=1, domain=MS_DOMAIN, channels_last=True)
def QLinearAveragePool(n, X, x_scale, x_zero_point, y_scale, y_zero_point, *, auto_pad="NOTSET",
                       ceil_mode=0, channels_last=0, count_include_pad=0, kernel_shape=None,
                       pads=None, strides=None):
    """1-D and 2-D; taps dequantized and averaged in float, as onnxruntime."""
    require_q8(n, X, "X")
    if kernel_shape is None:
        raise n.error("attribute kernel_shape is required")
    if channels_last:
        raise n.error("channels_last=1 is not supported", UnsupportedOperator)
    if X.ndim not in (3, 4):
        raise n.error(f"only 1-D and 2-D pooling is supported; X has shape {X.shape}",
                      UnsupportedOperator)
    xs, xz, ys, yz = _const_params(n, [x_scale, x_zero_point, y_scale, y_zero_point],
                                   ["x_scale", "x_zero_point", "y_scale", "y_zero_point"])
    xs_, xz_ = scalar_param(n, xs, xz, X.dtype, "x")
    ys_, yz_ = scalar_param(n, ys, yz, X.dtype, "y")
    ks, st, dl, pb, pe, out = window_geometry(n, X.shape[2:], kernel_shape, strides, None, pads,
                                              auto_pad, ceil_mode, pool=True)
    out_shape = (X.shape[0], X.shape[1]) + tuple(out)
    if X.ndim == 3:
        ks, st, pb, pe, out = [1] + ks, [1] + st, [0] + pb, [0] + pe, [1] + out
    X = n.to_layout(X, CHANNELS_LAST)
    nb, c = X.shape[:2]
    h, w = (1,) + X.shape[2:] if len(X.shape) == 3 else X.shape[2:]
    x4, y4 = (nb, h, w, c), (nb, out[0], out[1], c)
    ctx, ks, st, pads4 = n.ctx, tuple(ks), tuple(st), (pb[0], pb[1], pe[0], pe[1])

    def qavgpool(x, y):
        K.qavg_pool2d_nhwc(ctx, x.reshape(x4), y.reshape(y4), ks, st, pads4,
                           bool(count_include_pad), xs_, xz_, ys_, yz_)
    return n.emit(qavgpool, [X], [(out_shape, X.dtype)], layout=CHANNELS_LAST)


def max_pool_8bit(n, X, ks, st, dl, pb, pe, out):
    """MaxPool of a uint8/int8 tensor (quantized models), over channels-last images."""
    out_shape = (X.shape[0], X.shape[1]) + tuple(out)
    if X.ndim == 3:
        ks, st, dl, pb, pe, out = [1] + ks, [1] + st, [1] + dl, [0] + pb, [0] + pe, [1] + out
    X = n.to_layout(X, CHANNELS_LAST)
    nb, c = X.shape[:2]
    h, w = (1,) + X.shape[2:] if len(X.shape) == 3 else X.shape[2:]
    x4, y4 = (nb, h, w, c), (nb, out[0], out[1], c)
    ctx, ks, st, dl = n.ctx, tuple(ks), tuple(st), tuple(dl)
    pads4 = (pb[0], pb[1], pe[0], pe[1])

    def maxpool8(x, y):
        K.max_pool2d_nhwc(ctx, x.reshape(x4), y.reshape(y4), ks, st, pads4, dl)
    return n.emit(maxpool8, [X], [(out_shape, X.dtype)], layout=CHANNELS_LAST)


__all__ = ["emit_lookup", "lookup_op_table", "lookup_table", "max_pool_8bit", "qlinear_binary", "Q8",
           "all_const"]

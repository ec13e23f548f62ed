"""Helpers shared by the op functions: ONNX attribute quirks translated once."""
import math

import numpy as np

from ..errors import InvalidModel, UnsupportedOperator


_INT_MAX = (1 << 31) - 1   # kernel geometry is C int


def _div0(a, b):
    """a / b rounded toward zero, as onnxruntime's C++ computes output sizes (for a < 0)."""
    return a // b if a >= 0 else -(-a // b)


def ints(value, n, default, name, node):
    """An INTS attribute of length n (or the default repeated)."""
    if value is None:
        return [default] * n
    value = [int(v) for v in value]
    if len(value) != n:
        raise node.error(f"attribute {name}={value} must have {n} values for {n} spatial dims")
    return value


def window_geometry(node, in_spatial, kernel_shape, strides=None, dilations=None, pads=None,
                    auto_pad="NOTSET", ceil_mode=0, pool=False, negative_same_pad_ok=True):
    """Pads and output size of a conv or pool window, following ONNX's auto_pad rules.

    Returns (kernel, strides, dilations, pads_begin, pads_end, out_spatial), lists
    of one int per spatial dim.  Errors name the node and every shape involved.
    pool: onnxruntime's rules for pools rather than Conv's: an output size of 0 gives an
    empty tensor (Conv refuses it).  negative_same_pad_ok=False: refuse SAME padding that
    comes out negative (a stride longer than the kernel), as onnxruntime's MaxPool does.
    """
    n = len(in_spatial)
    kernel = ints(kernel_shape, n, None, "kernel_shape", node)
    strides = ints(strides, n, 1, "strides", node)
    dilations = ints(dilations, n, 1, "dilations", node)
    for name, vals in (("kernel_shape", kernel), ("strides", strides), ("dilations", dilations)):
        if any(v < 1 for v in vals):
            raise node.error(f"attribute {name}={vals} must be >= 1")
        if any(v > _INT_MAX for v in vals):
            raise node.error(f"attribute {name}={vals} is beyond the kernels' 32-bit range",
                             UnsupportedOperator)
    if isinstance(auto_pad, bytes):
        auto_pad = auto_pad.decode()
    if auto_pad in ("SAME_UPPER", "SAME_LOWER") and any(d > 1 for d in dilations):
        # onnxruntime refuses this for Conv, and pads pools as if undilated, unlike the spec.
        raise node.error(f"auto_pad={auto_pad} with dilations={dilations} is not supported",
                         UnsupportedOperator)
    begin, end, out = [0] * n, [0] * n, [0] * n
    for i in range(n):
        size, k, s, d = in_spatial[i], kernel[i], strides[i], dilations[i]
        span = d * (k - 1) + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out[i] = -(-size // s)
            total = (out[i] - 1) * s + span - size
            if total < 0 and not negative_same_pad_ok:
                # onnxruntime refuses a pool whose SAME padding comes out negative
                raise node.error(f"auto_pad={auto_pad}: kernel {kernel} with strides {strides} "
                                 f"needs negative padding for input size {tuple(in_spatial)}")
            total = max(0, total)
            small, large = total // 2, total - total // 2
            begin[i], end[i] = (small, large) if auto_pad == "SAME_UPPER" else (large, small)
        elif auto_pad in ("NOTSET", "", "VALID"):
            # VALID is no padding; ceil_mode still applies (onnxruntime)
            p = [0] * 2 * n if auto_pad == "VALID" else ints(pads, 2 * n, 0, "pads", node)
            if any(v < 0 for v in p):
                raise node.error(f"attribute pads={p} must not be negative")
            if any(v > _INT_MAX for v in p):
                raise node.error(f"attribute pads={p} is beyond the kernels' 32-bit range",
                                 UnsupportedOperator)
            begin[i], end[i] = p[i], p[i + n]
            padded = size + begin[i] + end[i] - span
            if ceil_mode:
                out[i] = -(-padded // s) + 1
                # The last window must start inside the input or the leading padding.
                if (out[i] - 1) * s >= size + begin[i]:
                    out[i] -= 1
            else:
                out[i] = _div0(padded, s) + 1
        else:
            raise node.error(f"unknown auto_pad {auto_pad!r}", UnsupportedOperator)
        if out[i] < (0 if pool else 1):
            raise node.error(
                f"window {kernel} (dilations {dilations}, pads {begin}+{end}) does not fit the "
                f"input's spatial size {tuple(in_spatial)}")
    return kernel, strides, dilations, begin, end, out


def require_float(node, *values):
    for v in values:
        if v is not None and v.const is None and v.dtype != np.float32:
            raise node.error(f"tensor {v.name or 'input'} has dtype {v.dtype}; only float32 is "
                             "supported at run time", UnsupportedOperator)


def numpy_step(node, fn, inputs, outputs):
    """Schedule fn(*input arrays) -> array (or tuple of arrays) for the outputs [(shape, dtype)].

    The run-time path of tensors other than float32 (int64, int32, float64, bool, uint8:
    shape arithmetic done at run time, masks, indices): numpy, since they are never the hot
    path of a CNN.  With every input known at plan time, emit() runs it right away (folding).
    """
    def numpy_run(*arrays):
        results = fn(*arrays[:len(inputs)])
        if len(outputs) == 1:
            results = (results,)
        for y, r in zip(arrays[len(inputs):], results):
            y[...] = r
    return node.emit(numpy_run, inputs, outputs)


def bound_step(bind):
    """A step function (for NodeContext.emit) made of bind(*arrays) -> a call without
    arguments that runs the kernel over those arrays: the planner binds each step once per
    arena, so the kernel wrapper's checks and views are paid at plan time; called with its
    arrays (a folded node), it binds and runs at once."""
    def step(*arrays):
        bind(*arrays)()
    step.bind = bind
    return step


def is_float32(*values):
    """True when every given (non-None) Value computed at run time is float32."""
    return all(v is None or v.const is not None or v.dtype == np.float32 for v in values)


def require_const(node, value, what):
    if value is None:
        return None
    if value.const is None:
        raise node.error(f"{what} must be a constant (an initializer or computable at load)",
                         UnsupportedOperator)
    return value.const


def axis_index(node, axis, rank, what="axis"):
    axis = int(axis)
    if not -rank <= axis < rank:
        raise node.error(f"{what}={axis} is out of range for rank {rank}")
    return axis % rank


def prod(shape):
    return int(math.prod(int(d) for d in shape))


def broadcast_shape(node, *shapes):
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise node.error(f"shapes {' and '.join(str(tuple(s)) for s in shapes)} do not broadcast") from None


def matmul_shapes(n, A, B):
    """numpy matmul of A and B: (a_shape, b_shape, batch, m, k, nn, final) with 1-D operands
    promoted to matrices (a_shape, b_shape) and the output's shape without them (final)."""
    if A.ndim == 0 or B.ndim == 0:
        raise n.error("MatMul inputs must not be scalars")
    a_shape = (1,) + A.shape if A.ndim == 1 else A.shape
    b_shape = B.shape + (1,) if B.ndim == 1 else B.shape
    if a_shape[-1] != b_shape[-2]:
        raise n.error(f"inner dimensions differ: A {A.shape} and B {B.shape}")
    batch = broadcast_shape(n, a_shape[:-2], b_shape[:-2])
    m, k, nn = a_shape[-2], a_shape[-1], b_shape[-1]
    final = batch + (m, nn)
    if A.ndim == 1:
        final = final[:-2] + final[-1:]
    if B.ndim == 1:
        final = final[:-1]
    return a_shape, b_shape, batch, m, k, nn, final


__all__ = ["window_geometry", "matmul_shapes", "require_float", "require_const", "axis_index",
           "prod", "broadcast_shape", "ints", "numpy_step", "is_float32", "InvalidModel",
           "UnsupportedOperator"]


def gemm_shapes(node, A, B, transA, transB):
    """(m, k, n) of Gemm-style A' [m, k] @ B' [k, n], each operand 2-D and maybe transposed."""
    if A.ndim != 2 or B.ndim != 2:
        raise node.error(f"A {A.shape} and B {B.shape} must be 2-D")
    m, k = A.shape[::-1] if transA else A.shape
    kb, nn = B.shape[::-1] if transB else B.shape
    if k != kb:
        raise node.error(f"inner dimensions differ: A {A.shape} (transA={transA}) and "
                         f"B {B.shape} (transB={transB})")
    return m, k, nn

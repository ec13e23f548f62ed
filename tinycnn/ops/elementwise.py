"""Element-wise ops, BatchNormalization, Softmax and reductions.

Values known at plan time (shape arithmetic on int64 tensors) are computed
with numpy right away; run-time float32 tensors go to the C kernels.
"""
import numpy as np

from .. import _kernels as K
from ..ir import const_value
from . import op
from .common import (axis_index, broadcast_shape, prod, require_const,
                     require_float)


# ---- unary ------------------------------------------------------------------

_NUMPY_UNARY = {
    "relu": lambda x, a, b: np.maximum(x, 0).astype(x.dtype),
    "neg": lambda x, a, b: -x,
    "abs": lambda x, a, b: np.abs(x),
    "sqrt": lambda x, a, b: np.sqrt(x),
    "exp": lambda x, a, b: np.exp(x),
    "tanh": lambda x, a, b: np.tanh(x),
    "sigmoid": lambda x, a, b: (1 / (1 + np.exp(-x))).astype(x.dtype),
    "leaky_relu": lambda x, a, b: np.where(x < 0, x * a, x).astype(x.dtype),
    "hard_sigmoid": lambda x, a, b: np.clip(x * a + b, 0, 1).astype(x.dtype),
    "hard_swish": lambda x, a, b: (x * np.clip(x / 6 + 0.5, 0, 1)).astype(x.dtype),
    "clip": lambda x, a, b: np.clip(x, a, b).astype(x.dtype),
}


def unary(n, kind, X, alpha=0.0, beta=0.0):
    """y = f(x), in place when x dies here."""
    if X.const is not None:
        return [_NUMPY_UNARY[kind](X.const, alpha, beta)]
    require_float(n, X)
    ctx = n.ctx

    def run(x, y):
        K.unary(ctx, kind, x, y, alpha, beta)
    return n.emit(run, [X], [(X.shape, np.float32)], inplace={0: 0})


@op("Relu")
def Relu(n, X):
    """max(x, 0); fused into a preceding Conv or Gemm."""
    return unary(n, "relu", X)


@op("LeakyRelu")
def LeakyRelu(n, X, *, alpha=0.01):
    """x < 0 ? alpha * x : x."""
    return unary(n, "leaky_relu", X, float(alpha))


@op("Sigmoid")
def Sigmoid(n, X):
    """1 / (1 + exp(-x))."""
    return unary(n, "sigmoid", X)


@op("HardSigmoid")
def HardSigmoid(n, X, *, alpha=0.2, beta=0.5):
    """clip(alpha * x + beta, 0, 1)."""
    return unary(n, "hard_sigmoid", X, float(alpha), float(beta))


@op("HardSwish", since=14)
def HardSwish(n, X):
    """x * clip(x / 6 + 1/2, 0, 1)."""
    return unary(n, "hard_swish", X)


@op("Tanh")
def Tanh(n, X):
    """Float32 at run time."""
    return unary(n, "tanh", X)


@op("Exp")
def Exp(n, X):
    """Float32 at run time."""
    return unary(n, "exp", X)


@op("Neg")
def Neg(n, X):
    """Float32 at run time."""
    return unary(n, "neg", X)


@op("Abs")
def Abs(n, X):
    """Float32 at run time."""
    return unary(n, "abs", X)


@op("Sqrt")
def Sqrt(n, X):
    """Float32 at run time."""
    return unary(n, "sqrt", X)


@op("Clip", until=10)
def Clip_6(n, X, *, min=-3.4028234663852886e38, max=3.4028234663852886e38):
    """Clip with min/max attributes (before opset 11)."""
    return unary(n, "clip", X, *_clip_bounds(min, max))


def _clip_bounds(lo, hi):
    """min > max sets every value to max (the spec): pass the kernel lo = hi then."""
    lo, hi = float(lo), float(hi)
    return (hi if lo > hi else lo), hi


@op("Clip", since=11)
def Clip_11(n, X, min=None, max=None):
    """Clip with min/max as optional inputs (opset 11 on)."""
    bounds = [min, max]
    if all(b is None or b.const is not None for b in bounds):
        lo = -np.inf if min is None else float(np.asarray(min.const).reshape(()))
        hi = np.inf if max is None else float(np.asarray(max.const).reshape(()))
        if X.const is not None:
            return [np.minimum(np.maximum(X.const, lo), hi).astype(X.const.dtype)]
        return unary(n, "clip", X, *_clip_bounds(lo, hi))
    # Bounds computed at run time: read the two scalars at every run.
    require_float(n, X, min, max)
    ctx = n.ctx
    present = [b for b in bounds if b is not None]
    has_lo = min is not None

    def run(x, *rest):
        lo = float(rest[0].reshape(())) if has_lo else -np.inf
        hi = float(rest[int(has_lo)].reshape(())) if max is not None else np.inf
        K.unary(ctx, "clip", x, rest[-1], *_clip_bounds(lo, hi))
    return n.emit(run, [X] + present, [(X.shape, np.float32)], inplace={0: 0})


# ---- binary, with numpy broadcasting ----------------------------------------

_NUMPY_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "max": np.maximum,
                 "min": np.minimum, "pow": np.power}


def binary(n, kind, A, B):
    """y = a (op) b with broadcasting; in place into a (or b) when it dies here."""
    # variadic ops chain binary(): a folded partial result arrives as an array
    A, B = (const_value("", v) if isinstance(v, np.ndarray) else v for v in (A, B))
    shape = broadcast_shape(n, A.shape, B.shape)
    n.check_size(shape, np.result_type(A.dtype, B.dtype))
    if A.const is not None and B.const is not None:
        a, b = A.const, B.const
        if kind == "div":
            out = (a // b) if np.issubdtype(a.dtype, np.integer) else a / b
        elif kind == "prelu":
            out = np.where(a < 0, a * b, a)
        else:
            out = _NUMPY_BINARY[kind](a, b)
        return [np.asarray(out).astype(np.result_type(a.dtype, b.dtype) if kind != "pow" else a.dtype)]
    require_float(n, A, B)
    ctx = n.ctx
    consts = []
    for V in (A, B):
        consts.append(V if V.const is None else _as_f32_const(V))
    A, B = consts

    def run(a, b, y):
        K.binary(ctx, kind, a, b, y)
    inplace = {0: 0} if A.shape == shape else ({0: 1} if B.shape == shape and kind != "prelu" else None)
    return n.emit(run, [A, B], [(shape, np.float32)], inplace=inplace)


def _as_f32_const(v):
    return const_value(v.name, np.ascontiguousarray(v.const, np.float32))


def _binary_op(kind):
    def fn(n, A, B):
        return binary(n, kind, A, B)
    return fn


def _binary_op_legacy(kind):
    def fn(n, A, B, *, broadcast=0, axis=None):
        if broadcast and axis is not None:
            # B's dims line up with A's from `axis` on: give B trailing ones.
            a = axis_index(n, axis, A.ndim)
            if a + B.ndim > A.ndim:
                raise n.error(f"B {B.shape} does not fit A {A.shape} at axis {axis}")
            B = n.view(B, B.shape + (1,) * (A.ndim - a - B.ndim))
        elif not broadcast and A.shape != B.shape and B.size != 1:
            raise n.error(f"A {A.shape} and B {B.shape} differ and broadcast=0")
        return binary(n, kind, A, B)
    return fn


for _name, _kind in (("Add", "add"), ("Sub", "sub"), ("Mul", "mul"), ("Div", "div"),
                     ("Pow", "pow")):
    op(_name, until=6, notes="Legacy broadcast=1 with axis (before opset 7).")(_binary_op_legacy(_kind))
    op(_name, since=7, notes="Numpy broadcasting.")(_binary_op(_kind))


@op("PRelu", until=6)
def PRelu_1(n, X, slope):
    """A slope of C values applies per channel (before opset 7)."""
    if X.ndim > 2 and slope.ndim == 1 and slope.size == X.shape[1] > 1:
        slope = n.view(slope, (slope.size,) + (1,) * (X.ndim - 2))
    return PRelu(n, X, slope)


@op("PRelu", since=7)
def PRelu(n, X, slope):
    """x < 0 ? slope * x : x, slope broadcast (unidirectionally) to x."""
    if broadcast_shape(n, X.shape, slope.shape) != X.shape:
        raise n.error(f"slope {slope.shape} does not broadcast to X {X.shape}")
    return binary(n, "prelu", X, slope)


def variadic(n, kind, inputs):
    inputs = [v for v in inputs if v is not None]
    if not inputs:
        raise n.error("needs at least one input")
    if len(inputs) == 1:
        return [n.view(inputs[0], inputs[0].shape)]
    (acc,) = binary(n, kind, inputs[0], inputs[1])
    for v in inputs[2:]:
        (acc,) = binary(n, kind, acc, v)
    return [acc]


@op("Sum")
def Sum(n, *data):
    """Any number of inputs, numpy broadcasting (ResNet's Caffe2 residual)."""
    return variadic(n, "add", data)


@op("Max")
def Max(n, *data):
    """Any number of inputs, numpy broadcasting."""
    return variadic(n, "max", data)


@op("Min")
def Min(n, *data):
    """Any number of inputs, numpy broadcasting."""
    return variadic(n, "min", data)


@op("Mean")
def Mean(n, *data):
    """Any number of inputs, numpy broadcasting."""
    (s,) = variadic(n, "add", data)
    return binary(n, "mul", s, const_value("", np.float32(1.0 / len([d for d in data if d is not None]))))


# ---- normalisation ----------------------------------------------------------

@op("BatchNormalization")
def BatchNormalization(n, X, scale, B, input_mean, input_var, *, epsilon=1e-5, momentum=0.9,
                       spatial=1, training_mode=0, is_test=1, consumed_inputs=None):
    """Folded into a preceding Conv; legacy spatial/is_test accepted; training_mode=1 in numpy.

    training_mode=1 (opset 14 on) normalises with the batch's statistics and
    updates the running mean and variance.
    """
    require_float(n, X, scale, B, input_mean, input_var)
    c = X.shape[1] if X.ndim > 1 else 1
    params = [scale, B, input_mean, input_var]
    for name, v in zip(("scale", "B", "mean", "var"), params):
        if v.size != c:
            raise n.error(f"{name} has shape {v.shape}; expected {c} values (channels of X {X.shape})"
                          + ("; spatial=0 is not supported" if not spatial else ""))
    eps = float(epsilon)
    if training_mode:
        return _batch_norm_training(n, X, params, eps, float(momentum))
    if len([o for o in n.node.outputs if o]) > 1:
        raise n.error("the running mean/var outputs exist only with training_mode=1")
    if all(v.const is not None for v in params):
        params = [const_value("", np.ascontiguousarray(v.const, np.float32).reshape(-1))
                  for v in params]
        if X.const is not None:
            s, b, m, v = (p.const.reshape((-1,) + (1,) * (X.ndim - 2)) for p in params)
            return [((X.const - m) / np.sqrt(v + epsilon) * s + b).astype(np.float32)]
    ctx = n.ctx

    def run(x, s, b, m, v, y):
        K.batch_norm(ctx, x, s.reshape(-1), b.reshape(-1), m.reshape(-1), v.reshape(-1), eps, y)
    return n.emit(run, [X] + params, [(X.shape, np.float32)], inplace={0: 0})


def _batch_norm_training(n, X, params, eps, momentum):
    """y from the batch's statistics; running mean/var updated with momentum (numpy, rare)."""
    axes = (0,) + tuple(range(2, X.ndim))
    bshape = (-1,) + (1,) * (X.ndim - 2)
    c = params[0].size
    outs = [(X.shape, np.float32)] + [((c,), np.float32)] * (len(n.node.outputs) - 1)

    def run(x, s, b, m, v, y, *running):
        x64 = x.astype(np.float64)
        mean = x64.mean(axis=axes)
        var = x64.var(axis=axes)
        y[...] = ((x64 - mean.reshape(bshape)) / np.sqrt(var.reshape(bshape) + eps)
                  * s.reshape(bshape) + b.reshape(bshape))
        if running:
            running[0][...] = m.reshape(-1) * momentum + mean * (1 - momentum)
        if len(running) > 1:
            running[1][...] = v.reshape(-1) * momentum + var * (1 - momentum)
    return n.emit(run, [X] + params, outs)


# ---- softmax ------------------------------------------------------------------

def _softmax(n, X, outer, length, inner, log):
    require_float(n, X)
    ctx = n.ctx

    def run(x, y):
        K.softmax(ctx, x, y, outer, length, inner, log)
    return n.emit(run, [X], [(X.shape, np.float32)])


def _softmax_legacy(n, X, axis, log):
    a = axis_index(n, axis, X.ndim)
    return _softmax(n, X, prod(X.shape[:a]), prod(X.shape[a:]), 1, log)


def _softmax_13(n, X, axis, log):
    a = axis_index(n, axis, X.ndim)
    return _softmax(n, X, prod(X.shape[:a]), X.shape[a], prod(X.shape[a + 1:]), log)


@op("Softmax", since=1, until=12)
def Softmax_1(n, X, *, axis=1):
    """Before opset 13: over the 2-D flattening of X at `axis` (default 1)."""
    return _softmax_legacy(n, X, axis, False)


@op("Softmax", since=13)
def Softmax_13(n, X, *, axis=-1):
    """From opset 13: along the single `axis` (default -1)."""
    return _softmax_13(n, X, axis, False)


@op("LogSoftmax", since=1, until=12)
def LogSoftmax_1(n, X, *, axis=1):
    """Before opset 13: over the 2-D flattening of X at `axis` (default 1)."""
    return _softmax_legacy(n, X, axis, True)


@op("LogSoftmax", since=13)
def LogSoftmax_13(n, X, *, axis=-1):
    """From opset 13: along the single `axis` (default -1)."""
    return _softmax_13(n, X, axis, True)


# ---- reductions -----------------------------------------------------------------

def reduce(n, kind, X, axes, keepdims, noop_with_empty_axes=0):
    rank = X.ndim
    if axes is None or len(axes) == 0:
        if noop_with_empty_axes:
            return [n.view(X, X.shape)]
        axes = list(range(rank))
    axes = sorted({axis_index(n, a, rank, "axes") for a in axes})
    out_keep = tuple(1 if i in axes else d for i, d in enumerate(X.shape))
    out_shape = out_keep if keepdims else tuple(d for i, d in enumerate(X.shape) if i not in axes)
    if X.const is not None:
        f = {"mean": np.mean, "sum": np.sum, "max": np.max, "min": np.min}[kind]
        return [np.asarray(f(X.const, axis=tuple(axes), keepdims=bool(keepdims))).astype(X.const.dtype)]
    require_float(n, X)
    ctx = n.ctx
    # Reduce one contiguous run of axes at a time (mean of equal-sized means is the mean).
    cur = X
    shape = list(X.shape)
    runs = []
    for a in axes:
        if runs and runs[-1][1] == a:
            runs[-1][1] = a + 1
        else:
            runs.append([a, a + 1])
    for lo, hi in reversed(runs):
        outer, length, inner = prod(shape[:lo]), prod(shape[lo:hi]), prod(shape[hi:])
        new_shape = shape[:lo] + [1] * (hi - lo) + shape[hi:]

        def run(x, y, outer=outer, length=length, inner=inner):
            K.reduce(ctx, kind, x, y, outer, length, inner)
        (cur,) = n.emit(run, [cur], [(tuple(new_shape), np.float32)])
        shape = new_shape
    return [n.view(cur, out_shape)]


def _reduce_attr(kind):
    def fn(n, data, *, axes=None, keepdims=1):
        return reduce(n, kind, data, axes, keepdims)
    return fn


def _reduce_input(kind):
    def fn(n, data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
        ax = require_const(n, axes, "the axes input")
        return reduce(n, kind, data, None if ax is None else [int(a) for a in ax.reshape(-1)],
                      keepdims, noop_with_empty_axes)
    return fn


# Axes moved from an attribute to an optional input: ReduceSum at opset 13, the others at 18.
for _name, _kind, _moved in (("ReduceMean", "mean", 18), ("ReduceSum", "sum", 13),
                             ("ReduceMax", "max", 18)):
    op(_name, until=_moved - 1, notes="Axes as an attribute.")(_reduce_attr(_kind))
    op(_name, since=_moved, notes="Axes as an optional input; noop_with_empty_axes.",
       shape_inputs=(1,))(
        _reduce_input(_kind))

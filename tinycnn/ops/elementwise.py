"""Element-wise ops, BatchNormalization and Softmax.

Values known at plan time (shape arithmetic on int64 tensors) are computed
with numpy right away; run-time float32 tensors go to the C kernels.
"""
import math

import numpy as np

from .. import _kernels as K
from ..ir import const_value
from . import FUSED_DOMAIN, op
from .common import (axis_index, bound_step, broadcast_shape, is_float32, numpy_step, prod,
                     require_const, require_float)


# ---- unary ------------------------------------------------------------------

def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype)


def _softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


# numpy forms of the C kernels' ops: constants folded at plan time, and run-time tensors of
# other types than float32 (float64, integers: Neg, Abs, Sign...).  a, b: the op's parameters.
_NUMPY_UNARY = {
    "relu": lambda x, a, b: np.maximum(x, 0),
    "neg": lambda x, a, b: -x,
    "abs": lambda x, a, b: np.abs(x),
    "sqrt": lambda x, a, b: np.sqrt(x),
    "exp": lambda x, a, b: np.exp(x),
    "log": lambda x, a, b: np.log(x),
    "reciprocal": lambda x, a, b: 1 / x,
    "tanh": lambda x, a, b: np.tanh(x),
    "erf": lambda x, a, b: _erf(x),
    "sigmoid": lambda x, a, b: 1 / (1 + np.exp(-x)),
    "leaky_relu": lambda x, a, b: np.where(x < 0, x * a, x),
    "hard_sigmoid": lambda x, a, b: np.clip(x * a + b, 0, 1),
    "hard_swish": lambda x, a, b: x * np.clip(x / 6 + 0.5, 0, 1),
    "clip": lambda x, a, b: np.clip(x, a, b),
    "softplus": lambda x, a, b: _softplus(x),
    "mish": lambda x, a, b: x * np.tanh(_softplus(x)),
    "elu": lambda x, a, b: np.where(x < 0, a * np.expm1(x), x),
    "selu": lambda x, a, b: b * np.where(x <= 0, a * np.exp(x) - a, x),
    "gelu": lambda x, a, b: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
    "gelu_tanh": lambda x, a, b: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi)
                                                         * (x + 0.044715 * x ** 3))),
    "silu": lambda x, a, b: x * (1 / (1 + np.exp(-x))),
}


def _numpy_unary(kind, x, alpha, beta):
    with np.errstate(all="ignore"):
        return np.asarray(_NUMPY_UNARY[kind](x, alpha, beta)).astype(x.dtype, copy=False)


def unary(n, kind, X, alpha=0.0, beta=0.0):
    """y = f(x), in place when x dies here; float32 in C, other types in numpy."""
    if X.const is not None:
        return [_numpy_unary(kind, X.const, alpha, beta)]
    if X.dtype != np.float32:
        return numpy_step(n, lambda x: _numpy_unary(kind, x, alpha, beta), [X],
                          [(X.shape, X.dtype)])
    ctx = n.ctx

    def run(x, y):
        return K.bind_unary(ctx, kind, x, y, alpha, beta)
    return n.emit(bound_step(run), [X], [(X.shape, np.float32)], inplace={0: 0})


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


def _unary_op(kind):
    def fn(n, X):
        return unary(n, kind, X)
    return fn


# Element-wise functions without parameters: float32 in C; float64 and integer tensors
# (Neg, Abs) in numpy.
for _name, _kind, _since in (("Tanh", "tanh", 1), ("Exp", "exp", 1), ("Log", "log", 1),
                             ("Neg", "neg", 1), ("Abs", "abs", 1), ("Sqrt", "sqrt", 1),
                             ("Reciprocal", "reciprocal", 1), ("Erf", "erf", 9),
                             ("Softplus", "softplus", 1), ("Mish", "mish", 18)):
    op(_name, since=_since, notes="Float32 in C; other types in numpy.")(_unary_op(_kind))


@op("Softsign", notes="numpy.")
def Softsign(n, X):
    """x / (1 + |x|): rare in CNNs, so numpy (numpy_step) rather than a C kernel."""
    return numpy_step(n, lambda x: x / (1 + np.abs(x)), [X], [(X.shape, X.dtype)])


@op("Elu")
def Elu(n, X, *, alpha=1.0):
    """x < 0 ? alpha * (exp(x) - 1) : x."""
    return unary(n, "elu", X, float(alpha))


@op("Selu")
def Selu(n, X, *, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875):
    """gamma * (x <= 0 ? alpha * exp(x) - alpha : x)."""
    return unary(n, "selu", X, float(alpha), float(gamma))


@op("Gelu", domain=FUSED_DOMAIN)
def FusedGelu(n, X):
    """GELU (erf form) found in its exported Div-Erf-Add-Mul-Mul expansion."""
    return unary(n, "gelu", X)


@op("Silu", domain=FUSED_DOMAIN)
def Silu(n, X):
    """x * sigmoid(x), found as Sigmoid then Mul."""
    return unary(n, "silu", X)


@op("Gelu", since=20)
def Gelu(n, X, *, approximate="none"):
    """approximate="none" (erf) or "tanh"."""
    kinds = {"none": "gelu", "tanh": "gelu_tanh"}
    if approximate not in kinds:
        raise n.error(f"unknown approximate={approximate!r} (expected 'none' or 'tanh')")
    return unary(n, kinds[approximate], X)


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
    """Clip with min/max as optional inputs (opset 11 on); other types than float32 in numpy."""
    bounds = [min, max]
    if all(b is None or b.const is not None for b in bounds):
        lo = -np.inf if min is None else np.asarray(min.const).reshape(()).item()
        hi = np.inf if max is None else np.asarray(max.const).reshape(()).item()
        if X.const is not None or X.dtype != np.float32:
            return numpy_step(n, lambda x: _clip_numpy(x, lo, hi), [X], [(X.shape, X.dtype)])
        return unary(n, "clip", X, *_clip_bounds(lo, hi))
    # Bounds computed at run time: read the two scalars at every run.
    present = [b for b in bounds if b is not None]
    has_lo, has_hi = min is not None, max is not None

    def read(rest):
        lo = rest[0].reshape(()).item() if has_lo else -np.inf
        hi = rest[int(has_lo)].reshape(()).item() if has_hi else np.inf
        return lo, hi
    if not is_float32(X, min, max):
        return numpy_step(n, lambda x, *rest: _clip_numpy(x, *read(rest)), [X] + present,
                          [(X.shape, X.dtype)])
    ctx = n.ctx

    def run(x, *rest):
        K.unary(ctx, "clip", x, rest[-1], *_clip_bounds(*read(rest[:-1])))
    return n.emit(run, [X] + present, [(X.shape, np.float32)], inplace={0: 0})


def _clip_numpy(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi).astype(x.dtype)


# ---- binary, with numpy broadcasting ----------------------------------------

def _int_div(a, b):
    """Integer division truncated toward zero, as onnxruntime's C++ (numpy floors)."""
    q = np.floor_divide(a, b)
    return q + ((np.remainder(a, b) != 0) & ((a < 0) != (b < 0)))


def _pow(a, b):
    """The base's type (Pow's T, T1): integer powers through double, as onnxruntime."""
    if a.dtype.kind in "iub" or b.dtype.kind in "iub":
        return np.power(a.astype(np.float64), b.astype(np.float64)).astype(a.dtype)
    return np.power(a, b.astype(a.dtype))


_NUMPY_BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "max": np.maximum,
    "min": np.minimum, "pow": _pow,
    "div": lambda a, b: _int_div(a, b) if a.dtype.kind in "iu" else a / b,
    "prelu": lambda a, b: np.where(a < 0, a * b, a),
}


def _numpy_binary(kind, a, b):
    dtype = a.dtype if kind == "pow" or a.dtype == b.dtype else np.result_type(a.dtype, b.dtype)
    with np.errstate(all="ignore"):
        return np.asarray(_NUMPY_BINARY[kind](a, b)).astype(dtype, copy=False)


def binary(n, kind, A, B):
    """y = a (op) b with broadcasting; in place into a (or b) when it dies here.
    Float32 in C; other run-time types (int64, int32, float64...) in numpy."""
    # variadic ops chain binary(): a folded partial result arrives as an array
    A, B = (const_value("", v) if isinstance(v, np.ndarray) else v for v in (A, B))
    shape = broadcast_shape(n, A.shape, B.shape)
    n.check_size(shape, np.result_type(A.dtype, B.dtype))
    float_base = A.dtype == np.float32 or (A.const is not None and B.dtype == np.float32)
    if ((A.const is not None and B.const is not None) or not is_float32(A, B)
            or (kind == "pow" and not float_base)):
        dtype = A.dtype if kind == "pow" or A.dtype == B.dtype else np.result_type(A.dtype, B.dtype)
        return numpy_step(n, lambda a, b: _numpy_binary(kind, a, b), [A, B], [(shape, dtype)])
    ctx = n.ctx
    consts = []
    for V in (A, B):
        consts.append(V if V.const is None else _as_f32_const(V))
    A, B = consts

    def run(a, b, y):
        return K.bind_binary(ctx, kind, a, b, y)
    inplace = {0: 0} if A.shape == shape else ({0: 1} if B.shape == shape and kind != "prelu" else None)
    return n.emit(bound_step(run), [A, B], [(shape, np.float32)], inplace=inplace)


def _as_f32_const(v):
    return const_value(v.name, np.ascontiguousarray(v.const, np.float32))


def _binary_op(kind):
    def fn(n, A, B):
        return binary(n, kind, A, B)
    return fn


def legacy_broadcast(n, A, B, broadcast, axis):
    """B as numpy broadcasting sees it, from the broadcast/axis attributes of opsets 1-6:
    with an axis, B's dims line up with A's from `axis` on."""
    if broadcast and axis is not None:
        a = axis_index(n, axis, A.ndim)
        if a + B.ndim > A.ndim:
            raise n.error(f"B {B.shape} does not fit A {A.shape} at axis {axis}")
        return n.view(B, B.shape + (1,) * (A.ndim - a - B.ndim))
    if not broadcast and A.shape != B.shape and B.size != 1:
        raise n.error(f"A {A.shape} and B {B.shape} differ and broadcast=0")
    return B


def _binary_op_legacy(kind):
    def fn(n, A, B, *, broadcast=0, axis=None):
        return binary(n, kind, A, legacy_broadcast(n, A, B, broadcast, axis))
    return fn


for _name, _kind in (("Add", "add"), ("Sub", "sub"), ("Mul", "mul"), ("Div", "div"),
                     ("Pow", "pow")):
    op(_name, until=6, notes="Legacy broadcast=1 with axis (before opset 7).")(_binary_op_legacy(_kind))
    op(_name, since=7, notes="Numpy broadcasting; float32 in C, other types in numpy"
       + (" (the exponent may have another type)." if _kind == "pow" else "."))(_binary_op(_kind))


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
    return _batch_norm(n, X, scale, B, input_mean, input_var, epsilon, momentum, spatial,
                       training_mode, relu=False)


def _batch_norm(n, X, scale, B, input_mean, input_var, epsilon, momentum, spatial, training_mode,
                relu):
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
            y = ((X.const - m) / np.sqrt(v + epsilon) * s + b).astype(np.float32)
            return [np.where(y < 0, np.float32(0), y) if relu else y]
    ctx = n.ctx

    def bind(x, s, b, m, v, y):
        return K.bind_batch_norm(ctx, x, s.reshape(-1), b.reshape(-1), m.reshape(-1),
                                 v.reshape(-1), eps, y, relu)
    return n.emit(bound_step(bind), [X] + params, [(X.shape, np.float32)], inplace={0: 0})


@op("BatchNormalization", domain=FUSED_DOMAIN)
def FusedBatchNormalization(n, X, scale, B, input_mean, input_var, *, epsilon=1e-5,
                            activation=""):
    """BatchNormalization (inference) then Relu in one pass (graph._fuse_relu)."""
    if activation not in ("", "Relu"):
        raise n.error(f"activation {activation!r} is not one BatchNormalization fuses (only Relu)")
    return _batch_norm(n, X, scale, B, input_mean, input_var, epsilon, 0.9, 1, 0,
                       relu=activation == "Relu")


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

def _softmax_numpy(x, outer, length, inner, log):
    v = x.reshape(outer, length, inner)
    e = v - v.max(axis=1, keepdims=True)
    if log:
        return (e - np.log(np.exp(e).sum(axis=1, keepdims=True))).reshape(x.shape)
    e = np.exp(e)
    return (e / e.sum(axis=1, keepdims=True)).reshape(x.shape)


def _softmax(n, X, outer, length, inner, log):
    if X.const is not None or X.dtype != np.float32:  # float64: numpy
        return numpy_step(n, lambda x: _softmax_numpy(x, outer, length, inner, log), [X],
                          [(X.shape, X.dtype)])
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

"""Reductions (ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceL1, ReduceL2,
ReduceSumSquare), ArgMax/ArgMin and TopK.

Float32 tensors computed at run time are reduced by the C kernel, one contiguous run of
axes at a time; other types (int64, bool, float64...), and the index outputs of ArgMax and
TopK, in numpy.
"""
import numpy as np

from .. import _kernels as K
from . import op
from .common import axis_index, bound_step, numpy_step, prod, require_const

# kind -> (element-wise step before, C reduction, element-wise step after)
_REDUCTIONS = {
    "sum": (None, "sum", None), "mean": (None, "mean", None), "max": (None, "max", None),
    "min": (None, "min", None), "l1": ("abs", "sum", None), "l2": ("square", "sum", "sqrt"),
    "sum_square": ("square", "sum", None),
}


def _reduce_numpy(kind, x, axes, keepdims):
    axes = tuple(axes)
    with np.errstate(all="ignore"):
        if kind in ("max", "min"):
            f = np.max if kind == "max" else np.min
            if x.size == 0:  # onnxruntime: the identity of max (min) is the lowest (highest) value
                if x.dtype == np.bool_:
                    fill = kind == "min"
                elif x.dtype.kind == "f":
                    fill = -np.inf if kind == "max" else np.inf
                else:
                    info = np.iinfo(x.dtype)
                    fill = info.min if kind == "max" else info.max
                return np.full(_reduced_shape(x.shape, axes, keepdims), fill, x.dtype)
            return f(x, axis=axes, keepdims=bool(keepdims))
        if kind == "mean":
            r = np.mean(x, axis=axes, keepdims=bool(keepdims))
        elif kind == "sum":
            r = np.sum(x, axis=axes, keepdims=bool(keepdims))
        elif kind == "l1":
            r = np.sum(np.abs(x), axis=axes, keepdims=bool(keepdims))
        elif kind == "sum_square":
            r = np.sum(x * x, axis=axes, keepdims=bool(keepdims))
        else:
            r = np.sqrt(np.sum(x * x, axis=axes, keepdims=bool(keepdims)))
    return np.asarray(r).astype(x.dtype)


def _reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def reduce(n, kind, X, axes, keepdims, noop_with_empty_axes=0):
    rank = X.ndim
    if axes is None or len(axes) == 0:
        if noop_with_empty_axes:
            return [n.view(X, X.shape)]
        axes = list(range(rank))
    axes = sorted({axis_index(n, a, rank, "axes") for a in axes})
    out_shape = _reduced_shape(X.shape, axes, keepdims)
    if X.const is not None or X.dtype != np.float32:
        return numpy_step(n, lambda x: _reduce_numpy(kind, x, axes, keepdims), [X],
                          [(out_shape, X.dtype)])
    ctx = n.ctx
    before, c_kind, after = _REDUCTIONS[kind]
    cur = X
    if before == "abs":
        def run_abs(x, y):
            K.unary(ctx, "abs", x, y)
        (cur,) = n.emit(run_abs, [cur], [(X.shape, np.float32)])
    elif before == "square":
        def run_square(x, y):
            K.binary(ctx, "mul", x, x, y)
        (cur,) = n.emit(run_square, [cur], [(X.shape, np.float32)])
    # Reduce one contiguous run of axes at a time (mean of equal-sized means is the mean).
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

        run = bound_step(lambda x, y, outer=outer, length=length, inner=inner:
                         K.bind_reduce(ctx, c_kind, x, y, outer, length, inner))
        (cur,) = n.emit(run, [cur], [(tuple(new_shape), np.float32)])
        shape = new_shape
    if after == "sqrt":
        def run_sqrt(x, y):
            K.unary(ctx, "sqrt", x, y)
        (cur,) = n.emit(run_sqrt, [cur], [(cur.shape, np.float32)], inplace={0: 0})
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
                             ("ReduceMax", "max", 18), ("ReduceMin", "min", 18),
                             ("ReduceL1", "l1", 18), ("ReduceL2", "l2", 18),
                             ("ReduceSumSquare", "sum_square", 18)):
    op(_name, until=_moved - 1, notes="Axes as an attribute; float32 in C, other types in numpy.")(
        _reduce_attr(_kind))
    op(_name, since=_moved, notes="Axes as an optional input; noop_with_empty_axes.",
       shape_inputs=(1,))(_reduce_input(_kind))


# ---- ArgMax / ArgMin ---------------------------------------------------------------

def _arg(n, kind, data, axis, keepdims, select_last_index):
    a = axis_index(n, axis, data.ndim)
    if data.shape[a] == 0:
        raise n.error(f"cannot take the {kind} of an empty axis {a} of {data.shape}")
    out_shape = _reduced_shape(data.shape, (a,), keepdims)
    size = data.shape[a]
    f = np.argmax if kind == "argmax" else np.argmin

    def arg(x):
        if select_last_index:
            i = size - 1 - f(np.flip(x, axis=a), axis=a)
        else:
            i = f(x, axis=a)
        return i.reshape(out_shape)
    return numpy_step(n, arg, [data], [(out_shape, np.int64)])


def _arg_op(kind):
    def fn(n, data, *, axis=0, keepdims=1, select_last_index=0):
        return _arg(n, kind, data, axis, keepdims, select_last_index)
    return fn


for _name, _kind in (("ArgMax", "argmax"), ("ArgMin", "argmin")):
    op(_name, notes="Int64 indices, first (or with select_last_index, last) of equal values; "
       "numpy.")(_arg_op(_kind))


# ---- TopK --------------------------------------------------------------------------

def _order_key(x, largest):
    """An array whose ascending stable order is the wanted one (ties: lower index first)."""
    if not largest:
        return x
    if x.dtype.kind == "f":
        return -x
    return ~x  # integers and bools: reverses the order without overflow


def _topk(n, X, k, axis, largest, sorted_):
    a = axis_index(n, axis, X.ndim)
    if not 0 <= k <= X.shape[a]:
        raise n.error(f"K={k} must be in [0, {X.shape[a]}] (axis {a} of X {X.shape})")
    out_shape = X.shape[:a] + (k,) + X.shape[a + 1:]

    def topk(x):
        idx = np.argsort(_order_key(x, largest), axis=a, kind="stable")
        idx = np.take(idx, np.arange(k), axis=a)
        return np.take_along_axis(x, idx, axis=a), idx
    return numpy_step(n, topk, [X], [(out_shape, X.dtype), (out_shape, np.int64)])


@op("TopK", until=9)
def TopK_1(n, X, *, k, axis=-1):
    """K as an attribute (before opset 10); the largest, sorted."""
    return _topk(n, X, int(k), axis, True, True)


@op("TopK", since=10, until=10, shape_inputs=(1,))
def TopK_10(n, X, K_, *, axis=-1):
    """K as an input (opset 10)."""
    return _topk(n, X, _k(n, K_), axis, True, True)


@op("TopK", since=11, shape_inputs=(1,))
def TopK_11(n, X, K_, *, axis=-1, largest=1, sorted=1):
    """largest and sorted (opset 11); ties keep the lower index first; numpy."""
    return _topk(n, X, _k(n, K_), axis, bool(largest), bool(sorted))


def _k(n, K_):
    k = np.asarray(require_const(n, K_, "the K input")).reshape(-1)
    if k.size != 1:
        raise n.error(f"K must hold one value, got shape {K_.shape}")
    return int(k[0])

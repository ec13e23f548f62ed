"""Comparisons (Equal, Less, Greater, LessOrEqual, GreaterOrEqual), logic (Not, And, Or,
Xor) and Where.

They make and consume bool masks: shape arithmetic folded at plan time, or small tensors
at run time, never a network's hot path, so numpy computes them in every case.
"""
import numpy as np

from . import op
from .common import broadcast_shape, numpy_step
from .elementwise import legacy_broadcast

_COMPARE = {"equal": np.equal, "less": np.less, "greater": np.greater,
            "less_equal": np.less_equal, "greater_equal": np.greater_equal}
_LOGIC = {"and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor}


def _bool_binary(n, fn, A, B):
    shape = broadcast_shape(n, A.shape, B.shape)
    return numpy_step(n, fn, [A, B], [(shape, np.bool_)])


def _compare(kind):
    def fn(n, A, B):
        return _bool_binary(n, _COMPARE[kind], A, B)
    return fn


def _logic(kind):
    def fn(n, A, B):
        return _bool_binary(n, _LOGIC[kind], A, B)
    return fn


def _legacy(fn):
    """Opsets 1-6: the broadcast/axis attributes instead of numpy broadcasting."""
    def legacy(n, A, B, *, broadcast=0, axis=None):
        return fn(n, A, legacy_broadcast(n, A, B, broadcast, axis))
    return legacy


for _name, _kind, _since in (("Equal", "equal", 1), ("Less", "less", 1),
                             ("Greater", "greater", 1), ("LessOrEqual", "less_equal", 12),
                             ("GreaterOrEqual", "greater_equal", 12)):
    if _since < 7:
        op(_name, until=6, notes="Legacy broadcast=1 with axis (before opset 7).")(
            _legacy(_compare(_kind)))
    op(_name, since=max(_since, 7), notes="Numpy broadcasting, a bool result; numpy (any "
       "numeric type).")(_compare(_kind))

for _name, _kind in (("And", "and"), ("Or", "or"), ("Xor", "xor")):
    op(_name, until=6, notes="Legacy broadcast=1 with axis (before opset 7).")(_legacy(_logic(_kind)))
    op(_name, since=7, notes="Bool tensors, numpy broadcasting; numpy.")(_logic(_kind))


@op("Not")
def Not(n, X):
    """Bool tensors; numpy."""
    if X.dtype != np.bool_:
        raise n.error(f"input X has dtype {X.dtype}; Not takes bool")
    return numpy_step(n, np.logical_not, [X], [(X.shape, np.bool_)])


@op("Where", since=9)
def Where(n, condition, X, Y):
    """Numpy broadcasting of the three inputs, any type; numpy."""
    if condition.dtype != np.bool_:
        raise n.error(f"condition has dtype {condition.dtype}; it must be bool")
    if X.dtype != Y.dtype:
        raise n.error(f"X ({X.dtype}) and Y ({Y.dtype}) must have the same type")
    shape = broadcast_shape(n, condition.shape, X.shape, Y.shape)
    n.check_size(shape, X.dtype)
    return numpy_step(n, np.where, [condition, X, Y], [(shape, X.dtype)])

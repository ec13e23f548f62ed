"""LayerNormalization, InstanceNormalization and GroupNormalization: one C kernel
(tc_normalize_f32) normalises independent rows and applies a per-chunk affine map;
each op only says what a row, a chunk and the period of its scale are.  Float64
tensors at run time take numpy.  (BatchNormalization, folded into convolutions, is in
elementwise.py.)
"""
import numpy as np

from .. import _kernels as K
from . import op
from .common import axis_index, broadcast_shape, numpy_step, prod


def _normalize_numpy(x, rows, s, chunk, period, scale, bias, eps):
    """The kernel's formula in numpy (float64 tensors); returns y, mean, inv_std."""
    v = x.reshape(rows, s).astype(np.float64)
    m = v.mean(axis=1, keepdims=True)
    inv = 1 / np.sqrt(((v - m) ** 2).mean(axis=1, keepdims=True) + eps)
    j = (np.arange(rows)[:, None] % period) * (s // chunk) + np.arange(s)[None, :] // chunk
    y = (v - m) * inv * scale.reshape(-1)[j]
    if bias is not None:
        y = y + bias.reshape(-1)[j]
    return y.astype(x.dtype).reshape(x.shape), m.reshape(-1), inv.reshape(-1)


def _normalize(n, X, scale, bias, rows, s, chunk, period, eps, stats_shape=None):
    """Schedule the normalisation of the [rows, s] view of X.  scale, bias: Values holding
    period * s / chunk values in kernel order (or broadcasting to them, see _params).
    stats_shape: the node may also output the mean and 1/std of every row, in that shape."""
    outs = [(X.shape, X.dtype)]
    if stats_shape is not None:
        outs += [(stats_shape, np.float32)] * min(2, len(n.node.outputs) - 1)
    has_bias = bias is not None
    ins = [X, scale] + ([bias] if has_bias else [])
    count = period * (s // chunk)
    if X.const is not None or X.dtype != np.float32:
        def numpy_normalize(x, sc, b=None):
            y, m, inv = _normalize_numpy(x, rows, s, chunk, period, _flat(sc, count),
                                         None if b is None else _flat(b, count), eps)
            return (y, m, inv)[:len(outs)]
        return numpy_step(n, numpy_normalize, ins, outs)
    ctx = n.ctx

    def run(x, sc, *rest):
        b = _flat(rest[0], count) if has_bias else None
        y, *stats = rest[1:] if has_bias else rest
        m, inv = (list(st.reshape(-1) for st in stats) + [None, None])[:2]
        K.normalize(ctx, x, _flat(sc, count), b, y, rows, s, chunk, period, eps, m, inv)
    return n.emit(run, ins, outs, inplace={0: 0})


def _flat(a, count):
    """A parameter as the kernel's contiguous float32 vector (broadcast if it is smaller)."""
    a = np.ascontiguousarray(a, np.float32).reshape(-1)
    return a if a.size == count else np.ascontiguousarray(np.broadcast_to(a, (count,)))


def _params(n, X, values, shape, what):
    """Scale/bias Values as float32 constants of `shape` when known at plan time (once),
    else as they are (broadcast at every run).  None stays None."""
    out = []
    for v, name in zip(values, what):
        if v is not None:
            if broadcast_shape(n, v.shape, shape) != tuple(shape):
                raise n.error(f"{name} {v.shape} does not broadcast to {shape} (input X {X.shape})")
            if v.const is not None:
                v = n.constant(np.ascontiguousarray(np.broadcast_to(v.const, shape), np.float32))
        out.append(v)
    return out


@op("LayerNormalization", since=17)
def LayerNormalization(n, X, Scale, B=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    """Over the dims from `axis` on; the Mean and InvStdDev outputs; float32 in C."""
    if X.ndim == 0:
        raise n.error("input X must have at least one dim")
    a = axis_index(n, axis, X.ndim)
    norm_shape = X.shape[a:]
    rows, s = prod(X.shape[:a]), prod(norm_shape)
    if s == 0:
        raise n.error(f"cannot normalise over the empty dims {norm_shape} of X {X.shape}")
    scale, bias = _params(n, X, [Scale, B], norm_shape, ("Scale", "B"))
    stats = X.shape[:a] + (1,) * (X.ndim - a)
    return _normalize(n, X, scale, bias, rows, s, 1, 1, float(epsilon), stats)


@op("InstanceNormalization")
def InstanceNormalization(n, input, scale, B, *, epsilon=1e-5):
    """Per image and channel over the spatial dims; float32 in C."""
    X = input
    if X.ndim < 2:
        raise n.error(f"input must be [N, C, ...], got shape {X.shape}")
    nb, c = X.shape[:2]
    s = prod(X.shape[2:])
    if s == 0 or c == 0:
        raise n.error(f"input {X.shape} has no channels or an empty spatial dim")
    for v, name in ((scale, "scale"), (B, "B")):
        if v.size != c:
            raise n.error(f"{name} {v.shape} must have {c} values (channels of input {X.shape})")
    sc, bias = _params(n, X, [n.view(scale, (c,)), n.view(B, (c,))], (c,), ("scale", "B"))
    return _normalize(n, X, sc, bias, nb * c, s, s, c, float(epsilon))


def _group_norm(n, X, scale, bias, num_groups, epsilon, per_group):
    if X.ndim < 2:
        raise n.error(f"input X must be [N, C, ...], got shape {X.shape}")
    nb, c = X.shape[:2]
    g = int(num_groups)
    spatial = prod(X.shape[2:])
    if g < 1 or c % g:
        raise n.error(f"num_groups={g} must divide the {c} channels of X {X.shape}")
    if spatial == 0:
        raise n.error(f"input X {X.shape} has an empty spatial dim")
    want = g if per_group else c
    for v, name in ((scale, "scale"), (bias, "bias")):
        if v.size != want:
            raise n.error(f"{name} {v.shape} must have {want} values "
                          f"({'groups' if per_group else 'channels'} of X {X.shape})")
    if per_group:  # opset 18: one scale per group, the kernel takes one per channel
        if scale.const is None or bias.const is None:
            raise n.error("GroupNormalization-18 with scale or bias computed at run time is not "
                          "supported")
        scale, bias = (n.constant(np.repeat(np.asarray(v.const, np.float32).reshape(-1), c // g))
                       for v in (scale, bias))
    sc, b = _params(n, X, [n.view(scale, (c,)), n.view(bias, (c,))], (c,), ("scale", "bias"))
    return _normalize(n, X, sc, b, nb * g, (c // g) * spatial, spatial, g, float(epsilon))


@op("GroupNormalization", since=18, until=20)
def GroupNormalization_18(n, X, scale, bias, *, num_groups, epsilon=1e-5):
    """Scale and bias per group (opset 18); float32 in C."""
    return _group_norm(n, X, scale, bias, num_groups, epsilon, True)


@op("GroupNormalization", since=21)
def GroupNormalization_21(n, X, scale, bias, *, num_groups, epsilon=1e-5, stash_type=1):
    """Scale and bias per channel (opset 21); float32 in C."""
    return _group_norm(n, X, scale, bias, num_groups, epsilon, False)

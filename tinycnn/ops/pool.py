"""Pooling and LRN."""
from dataclasses import dataclass

import numpy as np

from .. import _kernels as K
from . import op
from .common import UnsupportedOperator, bound_step, require_float, window_geometry
from .qcommon import Q8
from .qelementwise import max_pool_8bit


@dataclass
class PoolPlan:
    """A 2-D float pool as _pool plans it: 4-D input and output shapes, the output's own
    shape, and the kernels' geometry (pads: top, left, bottom, right)."""
    x4: tuple
    y4: tuple
    out_shape: tuple
    kernel: tuple
    strides: tuple
    pads: tuple
    dilations: tuple


def _pool(n, X, kind, kernel_shape, auto_pad, ceil_mode, dilations, pads, strides,
          count_include_pad=0, plan_only=False):
    """The pool's step; plan_only: its PoolPlan instead (a float pool of 1-D or 2-D X that
    needs no numpy path), or None."""
    eight_bit = kind == "max" and X.dtype in Q8
    if not eight_bit:
        X = n.to_layout(X, None)
        require_float(n, X)
    if X.ndim < 3:
        raise n.error(f"input X must be [N, C, spatial...], got shape {X.shape}")
    if kernel_shape is None:
        raise n.error("attribute kernel_shape is required")
    if 0 in X.shape[1:]:
        raise n.error(f"input X {X.shape} has no channels or an empty spatial dim")
    # A SAME padding that comes out negative (stride > kernel) is refused by onnxruntime
    # (1.32), except by its AveragePool from opset 19 or with ceil_mode and count_include_pad,
    # which clamp it to 0
    clamp = kind == "avg" and (n.opset >= 19 or (ceil_mode and count_include_pad))
    ks, st, dl, pb, pe, out = window_geometry(n, X.shape[2:], kernel_shape, strides, dilations,
                                              pads, auto_pad, ceil_mode, pool=True,
                                              negative_same_pad_ok=clamp)
    if any(p >= k for p, k in zip(pb + pe, ks + ks)):
        # as onnxruntime: a window lying wholly in the padding has no max and no mean
        raise n.error(f"pads {pb + pe} must be smaller than kernel_shape {ks}")
    if not ceil_mode:
        # A kernel longer than the padded input still gives one window (onnxruntime rounds
        # the output size toward zero); its overhang counts as padding in the average.
        pe = [e + max(0, (o - 1) * s + d * (k - 1) + 1 - (size + b + e)) if d == 1 else e
              for e, o, s, d, k, size, b in zip(pe, out, st, dl, ks, X.shape[2:], pb)]
    if plan_only and (eight_bit or X.ndim > 4):
        return None
    if eight_bit:
        if X.ndim > 4:
            raise n.error(f"8-bit MaxPool is 1-D or 2-D; X has shape {X.shape}",
                          UnsupportedOperator)
        return max_pool_8bit(n, X, ks, st, dl, pb, pe, out)
    if X.ndim > 4:
        return _pool_nd(n, X, kind, ks, st, dl, pb, pe, out, count_include_pad)
    if X.ndim == 3:
        ks, st, dl, pb, pe, out = [1] + ks, [1] + st, [1] + dl, [0] + pb, [0] + pe, [1] + out
    nb, c = X.shape[:2]
    h, w = (1,) + X.shape[2:] if X.ndim == 3 else X.shape[2:]
    x4, y4 = (nb, c, h, w), (nb, c, out[0], out[1])
    out_shape = (nb, c) + (tuple(out) if X.ndim == 4 else (out[1],))
    pads4 = (pb[0], pb[1], pe[0], pe[1])
    ctx = n.ctx
    ks, st, dl = tuple(ks), tuple(st), tuple(dl)
    if plan_only:
        return PoolPlan(x4, y4, out_shape, ks, st, pads4, dl)
    if kind == "max":
        def bind(x, y):
            return K.bind_max_pool2d(ctx, x.reshape(x4), y.reshape(y4), ks, st, pads4, dl)
    else:
        include = int(count_include_pad)

        def bind(x, y):
            return K.bind_avg_pool2d(ctx, x.reshape(x4), y.reshape(y4), ks, st, pads4, dl,
                                     include)
    return n.emit(bound_step(bind), [X], [(out_shape, np.float32)])


def _window_taps(spatial, ks, st, dl, pb, out):
    """Per kernel tap: (index arrays clipped to the input, validity mask, unclipped positions),
    shaped to broadcast over the output's spatial dims."""
    nd = len(spatial)
    taps = []
    for tap in np.ndindex(*ks):
        idx, valid, raw = [], True, []
        for i in range(nd):
            p = np.arange(out[i]) * st[i] - pb[i] + tap[i] * dl[i]
            p = p.reshape((-1,) + (1,) * (nd - 1 - i))
            raw.append(p)
            valid = valid & (p >= 0) & (p < spatial[i])
            idx.append(np.clip(p, 0, spatial[i] - 1))
        taps.append((tuple(idx), valid, raw))
    return taps


def _pool_nd(n, X, kind, ks, st, dl, pb, pe, out, count_include_pad):
    """3-D (and higher) pooling in numpy, one gather per kernel tap: volumetric models are
    rare in tinycnn's world, correctness is what matters here."""
    spatial = X.shape[2:]
    out_shape = X.shape[:2] + tuple(out)
    taps = _window_taps(spatial, ks, st, dl, pb, out)
    if kind == "avg":
        # The divisor: taps inside the input, or inside the padded input with count_include_pad
        # (never the extension that ceil_mode adds past the end padding).
        count = 0
        for _, valid, raw in taps:
            if count_include_pad:
                inside = True
                for i, p in enumerate(raw):
                    inside = inside & (p >= -pb[i]) & (p < spatial[i] + pe[i])
                count = count + inside
            else:
                count = count + valid
        count = np.maximum(count, 1).astype(np.float32)

    def run(x, y):
        if kind == "max":
            acc = np.full(out_shape, -np.inf, np.float32)
            for idx, valid, _ in taps:
                np.maximum(acc, np.where(valid, x[(slice(None), slice(None)) + idx], -np.inf), out=acc)
        else:
            acc = np.zeros(out_shape, np.float32)
            for idx, valid, _ in taps:
                acc += np.where(valid, x[(slice(None), slice(None)) + idx], 0)
            acc /= count
        y[...] = acc
    return n.emit(run, [X], [(out_shape, np.float32)])


def pool_window(inputs, outputs, *, kernel_shape=None, dilations=None, strides=None, **attrs):
    """(span, stride) per spatial dim, as for Conv."""
    kernel = list(kernel_shape or [])
    dl = list(dilations or [1] * len(kernel))
    st = list(strides or [1] * len(kernel))
    return [(d * (k - 1) + 1, s) for k, d, s in zip(kernel, dl, st)]


def global_window(inputs, outputs, **attrs):
    """The whole input plane, in one step."""
    return [(d, d) for d in inputs[0].shape[2:]]


@op("MaxPool", window=pool_window, channels_last=True)
def MaxPool(n, X, *, kernel_shape=None, auto_pad="NOTSET", ceil_mode=0, dilations=None,
            pads=None, storage_order=0, strides=None):
    """1-D/2-D (3-D in numpy); pads, strides, dilations, ceil_mode, auto_pad; Indices (numpy); uint8/int8.

    8-bit tensors (quantized models) are pooled channels last, 1-D or 2-D, without Indices.
    """
    if len(n.node.outputs) > 1 and n.node.outputs[1]:
        X = n.to_layout(X, None)
        return _max_pool_with_indices(n, X, kernel_shape, auto_pad, ceil_mode, dilations, pads,
                                      storage_order, strides)
    return _pool(n, X, "max", kernel_shape, auto_pad, ceil_mode, dilations, pads, strides)


def _max_pool_with_indices(n, X, kernel_shape, auto_pad, ceil_mode, dilations, pads,
                           storage_order, strides):
    """MaxPool and the flat index of each maximum, in [0, N*C*H*W) (column-major spatial
    dims when storage_order=1).  Rarely used, so plain numpy: one gather per window tap."""
    require_float(n, X)
    if X.ndim not in (3, 4) or kernel_shape is None:
        raise n.error(f"the Indices output needs 1-D or 2-D pooling with a kernel_shape; input X "
                      f"has shape {X.shape}", UnsupportedOperator)
    ks, st, dl, pb, pe, out = window_geometry(n, X.shape[2:], kernel_shape, strides, dilations,
                                              pads, auto_pad, ceil_mode, pool=True,
                                              negative_same_pad_ok=False)
    if X.ndim == 3:
        ks, st, dl, pb, out = [1] + ks, [1] + st, [1] + dl, [0] + pb, [1] + out
    nb, c = X.shape[:2]
    h, w = (1,) + X.shape[2:] if X.ndim == 3 else X.shape[2:]
    out_shape = (nb, c) + (tuple(out) if X.ndim == 4 else (out[1],))
    rows = np.arange(out[0])[:, None] * st[0] - pb[0]     # window origins
    cols = np.arange(out[1])[None, :] * st[1] - pb[1]
    taps = []                                              # (rows, cols, valid) per tap
    for i in range(ks[0]):
        for j in range(ks[1]):
            r, q = rows + i * dl[0], cols + j * dl[1]
            valid = (r >= 0) & (r < h) & (q >= 0) & (q < w)
            taps.append((np.clip(r, 0, h - 1), np.clip(q, 0, w - 1), valid))
    plane = np.arange(nb * c, dtype=np.int64).reshape(nb, c, 1, 1) * (h * w)

    def run(x, y, idx):
        x4 = x.reshape(nb, c, h, w)
        best = np.full((nb, c, out[0], out[1]), -np.inf, np.float32)
        at = np.zeros((nb, c, out[0], out[1]), np.int64)
        for r, q, valid in taps:
            v = np.where(valid, x4[:, :, r, q], -np.inf)
            pos = (q * h + r) if storage_order else (r * w + q)
            better = v > best
            best = np.where(better, v, best)
            at = np.where(better, pos, at)
        y.reshape(best.shape)[...] = best
        idx.reshape(at.shape)[...] = at + plane
    return n.emit(run, [X], [(out_shape, np.float32), (out_shape, np.int64)])


@op("AveragePool", window=pool_window)
def AveragePool(n, X, *, kernel_shape=None, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0,
                dilations=None, pads=None, strides=None):
    """1-D/2-D (3-D in numpy); pads, strides, dilations, ceil_mode, count_include_pad, auto_pad."""
    return _pool(n, X, "avg", kernel_shape, auto_pad, ceil_mode, dilations, pads, strides,
                 count_include_pad)


def global_pool(n, X, kind):
    """[Value]: X's global "avg" or "max" pool, [N, C, 1...]."""
    require_float(n, X)
    if X.ndim < 3:
        raise n.error(f"input X must have spatial dims, got shape {X.shape}")
    if 0 in X.shape[1:]:
        raise n.error(f"input X {X.shape} has no channels or an empty spatial dim")
    out_shape = X.shape[:2] + (1,) * (X.ndim - 2)
    ctx = n.ctx
    is_max = kind != "avg"

    def bind(x, y):
        return K.bind_global_pool(ctx, x, y, is_max)
    return n.emit(bound_step(bind), [X], [(out_shape, np.float32)])


@op("GlobalAveragePool", window=global_window)
def GlobalAveragePool(n, X):
    """Mean over all spatial dims (any rank)."""
    return global_pool(n, X, "avg")


@op("GlobalMaxPool", window=global_window)
def GlobalMaxPool(n, X):
    """Max over all spatial dims (any rank)."""
    return global_pool(n, X, "max")


@op("LRN")
def LRN(n, X, *, size, alpha=0.0001, beta=0.75, bias=1.0):
    """Across channels, as AlexNet uses it."""
    require_float(n, X)
    if X.ndim < 3:
        raise n.error(f"input X must be [N, C, ...], got shape {X.shape}")
    if int(size) < 1:
        raise n.error(f"size={size} must be >= 1")
    x4 = X.shape[:2] + (int(np.prod(X.shape[2:])), 1)
    ctx = n.ctx
    size, alpha, beta, bias = int(size), float(alpha), float(beta), float(bias)

    def run(x, y):
        K.lrn(ctx, x.reshape(x4), y.reshape(x4), size, alpha, beta, bias)
    return n.emit(run, [X], [(X.shape, np.float32)])

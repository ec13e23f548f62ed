"""Conv, and tinycnn::Conv, the fused Conv [+ residual Add] [+ Relu] built at load.

The algorithm is chosen once per layer and input size, at plan time: Winograd
for 3x3 and 5x5 stride-1 layers where it pays, the packed-GEMM convolution otherwise.
Packed weights are cached per node, so a new batch size re-plans without
re-packing.
"""
import numpy as np

from .. import _kernels as K
from . import FUSED_DOMAIN, op
from .common import UnsupportedOperator, prod, require_float, window_geometry
from .elementwise import binary, unary


# F(4x4,3x3) rounds ~10x more than F(2x2) (1e-5 relative per layer at 512 channels) and the
# error compounds along a plain chain of convolutions; a residual merge restarts the chain
# (graph.conv_chain).  Measured against onnxruntime, end to end, on exports of models/
# (N(0, 1) input): VGG-16 (a chain of 13) 6-8e-5 with F(4x4); VGG-19 (16) 1.1-1.4e-4 with
# F(4x4), 2.4e-5 with F(2x2); ResNet-18, -50 and -101 (chains of 3 or 4) 3e-6, 5e-6 and
# 1.5e-5 with F(4x4) everywhere.  Longer chains than this use F(2x2), ~1e-6 per layer.
# A heuristic fitted to those measurements, not a bound: tests/test_models.py checks it.
# F(2x2,5x5) uses the same points as F(4x4,3x3) and rounds alike (~5e-6 per layer at 64
# channels): it takes the same limit, and otherwise a 5x5 layer goes to the GEMM.
WINOGRAD4_MAX_CHAIN = 15

# F(4x4)'s 36 weight planes take 4x the layer's weights, F(2x2)'s 16 take 1.8x.  With
# at most 16 F(4x4) tiles (a 13x13..16x16 output) each plane is used by few tiles, and a
# layer this large (VGG's 512x512 conv5: 38 MB in F(4x4), 17 MB in F(2x2)) takes F(2x2):
# ~1.4x slower on that layer (6.5 vs 4.4 ms, 1 thread) but 21 MB less resident, which
# keeps VGG-16's peak memory under 0.75 of onnxruntime's for ~1.5% of its time.
WINOGRAD4_MAX_PLANE_BYTES = 16 << 20


def _conv(n, X, W, B, R, activation, auto_pad, dilations, group, kernel_shape, pads, strides):
    require_float(n, X, R, W, B)
    if X.ndim < 3:
        raise n.error(f"input X must be [N, C, spatial...], got shape {X.shape}")
    if W.ndim != X.ndim:
        raise n.error(f"weight W {W.shape} and input X {X.shape} must have the same rank")
    if 0 in X.shape[1:] or 0 in W.shape:
        raise n.error(f"input X {X.shape} and weight W {W.shape} may not have empty dims "
                      "(other than the batch)")
    one_d = X.ndim == 3
    group = int(group)
    c = X.shape[1]
    k = W.shape[0]
    if group < 1 or c % group or k % group or W.shape[1] * group != c:
        raise n.error(f"input X {X.shape} has {c} channels; weight W {W.shape} with group={group} "
                      f"expects {W.shape[1] * group}")
    if kernel_shape is not None and list(kernel_shape) != list(W.shape[2:]):
        raise n.error(f"kernel_shape={list(kernel_shape)} disagrees with weight W {W.shape}")
    if B is not None and B.size != k:
        raise n.error(f"bias B {B.shape} must have {k} values (output channels of W {W.shape})")
    spatial = X.shape[2:]
    ks, st, dl, pb, pe, out = window_geometry(n, spatial, list(W.shape[2:]), strides, dilations,
                                              pads, auto_pad)
    out_shape = (X.shape[0], k) + tuple(out)
    if X.ndim > 4:
        raise n.error(f"only 1-D and 2-D convolution is supported; input X has shape {X.shape}",
                      UnsupportedOperator)
    w4_shape = W.shape
    if one_d:  # a 1-D convolution is a 2-D one of height 1
        spatial, ks, st, dl = (1,) + spatial, [1] + ks, [1] + st, [1] + dl
        pb, pe, out = [0] + pb, [0] + pe, [1] + out
        w4_shape = (k, W.shape[1], 1, W.shape[2])
    nb, h, wd = X.shape[0], spatial[0], spatial[1]
    relu = activation == "Relu"
    pads4 = (pb[0], pb[1], pe[0], pe[1])
    out4 = (nb, k, out[0], out[1])
    x4 = (nb, c, h, wd)
    if W.const is None or (B is not None and B.const is None):
        return _conv_runtime_weights(n, X, W, B, R, relu, w4_shape, st, pads4, dl, group,
                                     x4, out_shape, out4)
    w4 = W.const.reshape(w4_shape)
    b = None if B is None else B.const
    tile = 0
    winograd = (st == [1, 1] and dl == [1, 1] and group == 1 and n.options.winograd
                and K.winograd_takes_weights(w4))  # NaN/Inf weights: the direct convolution
    short_chain = n.options.conv_chain <= WINOGRAD4_MAX_CHAIN
    if winograd and ks == [5, 5] and short_chain and K.winograd5_recommended(k, c, out[0], out[1]):
        tile = 2
    elif winograd and ks == [3, 3]:
        tile = K.winograd_recommended(k, c, out[0], out[1])  # thresholds are on the output size
        if tile == 4 and not short_chain:
            tile = 2
        if (tile == 4 and ((out[0] + 3) // 4) * ((out[1] + 3) // 4) <= 16
                and 36 * 4 * k * c > WINOGRAD4_MAX_PLANE_BYTES):
            tile = 2
    if tile:
        layer = n.cached((f"winograd{tile}", relu), lambda: K.Winograd(
            n.ctx, np.ascontiguousarray(w4, np.float32), _bias(b), pads=pads4, relu=relu, tile=tile))
    else:
        layer = n.cached(("conv", relu), lambda: K.Conv2d(
            n.ctx, np.ascontiguousarray(w4, np.float32), _bias(b), strides=tuple(st), pads=pads4,
            dilations=tuple(dl), group=group, relu=relu))
    ws = layer.workspace_size(nb, h, wd)
    run = layer.run

    if R is not None and R.shape == out_shape:
        def conv_residual(x, r, y, *ws_):
            run(x.reshape(x4), y.reshape(out4), r.reshape(out4), ws_[0] if ws_ else None)
        return n.emit(conv_residual, [X, R], [(out_shape, np.float32)], inplace={0: 1},
                      workspace=ws)

    def conv(x, y, *ws_):
        run(x.reshape(x4), y.reshape(out4), None, ws_[0] if ws_ else None)
    if R is None:
        return n.emit(conv, [X], [(out_shape, np.float32)], workspace=ws)
    # A residual that broadcasts: convolve without the fused ReLU, then add (and clamp).
    raise n.error("internal: fused residual with a broadcasting shape")


def _conv_runtime_weights(n, X, W, B, R, relu, w4_shape, st, pads4, dl, group, x4, out_shape,
                          out4):
    """W (or B) computed at run time: the weights are packed at every run (slow but rare)."""
    if R is not None and R.shape != out_shape:
        raise n.error("internal: fused residual with a broadcasting shape")
    ctx = n.ctx
    kw = dict(strides=tuple(st), pads=pads4, dilations=tuple(dl), group=group, relu=relu)
    # Workspace size depends only on shapes: ask a layer with zero weights.
    ws = K.Conv2d(ctx, np.zeros(w4_shape, np.float32), None, **kw).workspace_size(*x4[:1], *x4[2:])
    ins = [X, W] + ([B] if B is not None else []) + ([R] if R is not None else [])
    has_b, has_r = B is not None, R is not None

    def conv_dynamic(x, w, *rest):
        rest = list(rest)
        b = rest.pop(0) if has_b else None
        r = rest.pop(0) if has_r else None
        y = rest.pop(0)
        layer = K.Conv2d(ctx, np.ascontiguousarray(w.reshape(w4_shape)), _bias(b), **kw)
        layer.run(x.reshape(x4), y.reshape(out4), None if r is None else r.reshape(out4),
                  rest[0] if rest else None)
    return n.emit(conv_dynamic, ins, [(out_shape, np.float32)], workspace=ws)


def _bias(b):
    return None if b is None else np.ascontiguousarray(b, np.float32).reshape(-1)


def conv_macs(inputs, outputs, **attrs):
    """N * K * (C / group) * KH * KW * OH * OW: one multiply-add per weight per output pixel."""
    W, Y = inputs[1], outputs[0]
    return 0 if Y is None else Y.size * prod(W.shape[1:])


def conv_window(inputs, outputs, *, dilations=None, strides=None, **attrs):
    """(span, stride) per spatial dim: span = dilation * (kernel - 1) + 1 input pixels."""
    kernel = inputs[1].shape[2:]
    dl = list(dilations or [1] * len(kernel))
    st = list(strides or [1] * len(kernel))
    return [(d * (k - 1) + 1, s) for k, d, s in zip(kernel, dl, st)]


@op("Conv", since=1, cost=conv_macs, window=conv_window)
def Conv(n, X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
         pads=None, strides=None):
    """1-D and 2-D: pads (asymmetric), strides, dilations, groups, auto_pad."""
    return _conv(n, X, W, B, None, "", auto_pad, dilations, group, kernel_shape, pads, strides)


@op("Conv", since=1, domain=FUSED_DOMAIN, cost=conv_macs, window=conv_window)
def FusedConv(n, X, W, B=None, R=None, *, activation="", auto_pad="NOTSET", dilations=None,
              group=1, kernel_shape=None, pads=None, strides=None):
    """Conv with a fused epilogue: + R (residual Add), then ReLU."""
    if R is not None and R.shape != _out_shape_or_none(n, X, W, auto_pad, dilations, pads, strides):
        # Broadcasting residual: not worth a fused path; fall back to Conv then Add then Relu.
        (y,) = _conv(n, X, W, B, None, "", auto_pad, dilations, group, kernel_shape, pads, strides)
        (y,) = binary(n, "add", y, R)
        if activation == "Relu":
            (y,) = unary(n, "relu", y)
        return [y]
    return _conv(n, X, W, B, R, activation, auto_pad, dilations, group, kernel_shape, pads, strides)


def _out_shape_or_none(n, X, W, auto_pad, dilations, pads, strides):
    if W is None or X.ndim < 3:
        return None
    _, _, _, _, _, out = window_geometry(n, X.shape[2:], list(W.shape[2:]), strides, dilations,
                                         pads, auto_pad)
    return (X.shape[0], W.shape[0]) + tuple(out)

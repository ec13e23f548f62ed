"""Conv, and tinycnn::Conv, the fused Conv [+ residual Add] [+ activation] built at load.

The algorithm is chosen once per layer and input size, at plan time, by
conv_algo.choose_conv_algo (Winograd for 3x3 and 5x5 stride-1 layers where it
pays, the packed-GEMM convolution and its special cases otherwise).  Packed
weights are cached per node and algorithm, so a new batch size re-plans without
re-packing.
"""
from dataclasses import dataclass

import numpy as np

from .. import _kernels as K
from . import FUSED_DOMAIN, op
from .common import UnsupportedOperator, bound_step, prod, require_float, window_geometry
from .conv_algo import ConvGeometry, choose_conv_algo
from .elementwise import binary, unary
from .pool import global_pool


def _activation(n, activation, alpha, beta, S):
    """The Conv2d keyword arguments of a fused activation (tinycnn._kernels.ACTIVATIONS)."""
    if activation not in K.ACTIVATIONS:
        raise n.error(f"unknown fused activation {activation!r}")
    act = dict(activation=activation, alpha=alpha, beta=beta, slope=None)
    if activation == "PRelu":
        if S is None or S.const is None:
            raise n.error("fused PRelu needs a constant slope input")
        act["slope"] = np.ascontiguousarray(S.const, np.float32).reshape(-1)
    return act


def _conv(n, X, W, B, R, act, auto_pad, dilations, group, kernel_shape, pads, strides, tag="",
          G=None, means=False, over_input=False):
    """G: [N, C, 1, 1] gates of X's channels (a squeeze-and-excitation's, graph._fold_se_gate):
    the convolution of X * G, folded into the 1x1 GEMM's weights, else a Mul before it.
    means: a second output, [N, K, 1, 1], the mean of each output plane (its global average
    pool, graph._se_pool_in_depthwise): summed by the depthwise or grouped kernel as it
    writes them, else pooled after the convolution.  over_input: X is the node's own input (its
    readers counted by the planner), which a large stride-1 depthwise may then write over where
    it dies (_dw_in_place); not for a value a fused node's later stages read again (a stem
    block's residual)."""
    require_float(n, X, R, W, B, G)
    c = conv_layer(n, X, W, B, act, auto_pad, dilations, group, kernel_shape, pads, strides, tag)
    if means and (c.layer is None or c.algo not in ("depthwise", "grouped") or G is not None
                  or X.ndim != 4):
        (y,) = _conv(n, X, W, B, R, act, auto_pad, dilations, group, kernel_shape, pads,
                     strides, tag, G)
        return [y] + global_pool(n, y, "avg")
    if G is not None and not _folds_gate(c, X, G):
        (X,) = binary(n, "mul", X, G)
        G = None
    if c.layer is None:
        return _conv_runtime_weights(n, X, W, B, R, act, c.w4_shape, c.strides, c.pads4,
                                     c.dilations, group, c.x4, c.out_shape, c.out4, c.algo)
    bind, x4, out4, out_shape, ws = c.layer.bind, c.x4, c.out4, c.out_shape, c.workspace
    if G is not None:
        ws = c.layer.workspace_size(x4[0], x4[2], x4[3], scaled=True)
    if R is not None and R.shape != out_shape:
        # A residual that broadcasts: convolve without the fused ReLU, then add (and clamp).
        raise n.error("internal: fused residual with a broadcasting shape")
    g2, m2 = x4[:2], out4[:2]
    ins = [X] + ([G] if G is not None else []) + ([R] if R is not None else [])
    has_g, has_r = G is not None, R is not None
    outs = [(out_shape, np.float32)] + ([(m2 + (1, 1), np.float32)] if means else [])
    # the grouped kernel prefetches what the means' reader loads next (NodeContext.reads_next)
    pf_name = n.node.outputs[1] if means and c.algo == "grouped" and len(n.node.outputs) > 1 else None
    next_reads = n.next_reads() if pf_name else None

    def conv(x, *rest):
        g = rest[0].reshape(g2) if has_g else None
        r = rest[has_g].reshape(out4) if has_r else None
        y, rest = rest[has_g + has_r], rest[has_g + has_r + 1:]
        m = rest[0].reshape(m2) if means else None
        ws_ = rest[1:] if means else rest
        pf = next_reads.get(pf_name) if pf_name else None
        return bind(x.reshape(x4), y.reshape(out4), r, ws_[0] if ws_ else None, scale=g,
                    means=m, **({"prefetch": pf} if pf is not None else {}))
    # a 1x1 GEMM's output planes may lie apart (a channel shuffle's, ops/tensor.py)
    apart = (0,) if (c.algo in ("1x1", "1x1_chan") and X.ndim == 4 and not (has_g or has_r)
                     and not means) else ()
    inplace = {0: len(ins) - 1} if has_r else ({0: 0} if over_input and _dw_in_place(c, X) else None)
    return n.emit(bound_step(conv), ins, outs, inplace=inplace, workspace=ws, apart=apart)


# A stride-1 depthwise layer whose output, the input's size, is past L2 may be written over its
# input where that dies there (csrc/conv.c dw_inplace_task): inside a network its output lands on
# the lines its input just came through, not on lines last used a run ago.  The Zen 3 target's
# L2 is 512 KiB: 512 / 256 KiB there (h53-l2, 2026-12-07, const_ab.py, 1 thread, 30 rounds, the
# same bits) EfficientNet-B0 1.006 / 0.999, MobileNetV2 1.004 / 1.003, V3-Large 1.007 / 1.007,
# MnasNet 1.003 / 1.002 (base against itself 0.995-1.014); 512 KiB at 2 threads EfficientNet-B0
# 1.001: kept.
DW_IN_PLACE_MIN_BYTES = 1 << 20


def _dw_in_place(c, X):
    return (c.layer is not None and c.algo == "depthwise" and X.ndim == 4
            and X.size * 4 >= DW_IN_PLACE_MIN_BYTES
            and c.layer.writes_over_input(X.shape[0], X.shape[2], X.shape[3]))


# How the 1x1 layers may take a squeeze-and-excitation's gates (Conv2d.scaled_mode, csrc/conv.c
# tc_conv2d_scaled_mode); elsewhere a Mul step before the layer scales x.
SCALED_GATE_MODES = ("weights", "b_copy")


def _folds_gate(c, X, G):
    """Whether the planned convolution c takes the gates G of X's channels itself: the 1x1
    GEMMs (csrc/conv.c tc_conv2d_scaled_f32) with one gate per image and channel, where the
    kernel scales a copy of its K x C weights ("weights": once per image, where that costs
    less than the pass over x (C x HW) it saves, K <= HW / 2) or x's rows in the GEMM driver's
    aligned copy of B ("b_copy": AVX2, 7x7 maps (up to 64 pixels); the same products as the
    Mul step it replaces, so the same bits, one pass over x fewer: csrc/gemm_internal.h
    TC_GEMM_COPY_MAX_N_AVX2 has what it measured).  Not its third way, a scaled copy of x in
    its workspace: that is the Mul step's pass (h39-rg, 2026-12-06, 14x14: 208 against
    205-208 us).  The weights' rule, per SE block, every projection folded against the
    scale pass (AVX2 emulation, 1 thread, 2026-12-01 08:50, per-node medians of 100 runs):
    EfficientNet-B0 gained 25-46 us at 112x112 and 56x56, 3-12 at 28x28, -4..+4 with K = 80
    at 14x14, lost 2-22 with K = 112 at 14x14 and 25-109 with K = 192-320 at 7x7;
    MobileNetV3-Large lost 20-28 us with K = 160 at 7x7; LRASPP (K <= 160 at 32x32 and
    64x64) gained 14-132 us in every block."""
    return (c.layer is not None and c.algo in ("1x1", "1x1_chan") and X.ndim == 4
            and G.shape == X.shape[:2] + (1, 1)
            and c.layer.scaled_mode(X.shape[2], X.shape[3]) in SCALED_GATE_MODES)


@dataclass
class PlannedConv:
    """A convolution planned for its input (conv_layer): the Conv2d (None when the weights
    come at run time), its algorithm, 4-D shapes, geometry and workspace floats."""
    layer: object
    algo: str
    x4: tuple
    out4: tuple
    out_shape: tuple
    w4_shape: tuple
    strides: list
    pads4: tuple
    dilations: list
    workspace: int


def conv_layer(n, X, W, B, act, auto_pad, dilations, group, kernel_shape, pads, strides, tag=""):
    """Check a convolution, choose its algorithm and pack its weights (cached per node and
    `tag`: a node running several convolutions tells them apart)."""
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
    if act["slope"] is not None and act["slope"].size != k:
        raise n.error(f"fused PRelu slope has {act['slope'].size} values for {k} output channels")
    pads4 = (pb[0], pb[1], pe[0], pe[1])
    out4 = (nb, k, out[0], out[1])
    x4 = (nb, c, h, wd)
    geometry = ConvGeometry(nb, c, k, h, wd, tuple(ks), tuple(st), pads4, tuple(dl), group)
    runtime = W.const is None or (B is not None and B.const is None)
    w4 = None if runtime else np.ascontiguousarray(W.const.reshape(w4_shape), np.float32)
    options = n.options
    algo = choose_conv_algo(geometry, conv_chain=options.conv_chain,
                            num_threads=options.num_threads, winograd=options.winograd,
                            winograd_weights=not runtime and K.winograd_takes_weights(w4),
                            isa=n.ctx.isa)
    if runtime:
        return PlannedConv(None, algo, x4, out4, out_shape, w4_shape, st, pads4, dl, 0)
    b = None if B is None else B.const
    layer = n.cached(("conv", tag, algo, act["activation"], act["alpha"], act["beta"]),
                     lambda: K.Conv2d(n.ctx, w4, _bias(b), algo=algo, strides=tuple(st),
                                      pads=pads4, dilations=tuple(dl), group=group, **act))
    return PlannedConv(layer, algo, x4, out4, out_shape, w4_shape, st, pads4, dl,
                       layer.workspace_size(nb, h, wd))


def _conv_runtime_weights(n, X, W, B, R, act, w4_shape, st, pads4, dl, group, x4, out_shape,
                          out4, algo):
    """W (or B) computed at run time: the weights are packed at every run (slow but rare)."""
    if R is not None and R.shape != out_shape:
        raise n.error("internal: fused residual with a broadcasting shape")
    ctx = n.ctx
    kw = dict(algo=algo, strides=tuple(st), pads=pads4, dilations=tuple(dl), group=group, **act)
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
    return _conv(n, X, W, B, None, _activation(n, "", None, None, None), auto_pad, dilations,
                 group, kernel_shape, pads, strides, over_input=True)


@op("Conv", since=1, domain=FUSED_DOMAIN, cost=conv_macs, window=conv_window)
def FusedConv(n, X, W, B=None, R=None, S=None, G=None, *, activation="", activation_alpha=None,
              activation_beta=None, auto_pad="NOTSET", dilations=None, group=1,
              kernel_shape=None, pads=None, strides=None, channel_means=0):
    """Conv with a fused epilogue: + R (residual Add), then an activation (a name of
    tinycnn._kernels.ACTIVATIONS, with alpha and beta; S: PRelu's slope [K]); G: gates
    [N, C, 1, 1] that scale X's channels first (graph._fold_se_gate); channel_means=1: a
    second output, the mean of each output plane [N, K, 1, 1] (graph._se_pool_in_depthwise)."""
    act = _activation(n, activation, activation_alpha, activation_beta, S)
    if channel_means:
        if R is not None:
            raise n.error("internal: channel_means with a residual")
        return _conv(n, X, W, B, None, act, auto_pad, dilations, group, kernel_shape, pads,
                     strides, G=G, means=True, over_input=G is None)
    if R is not None and R.shape != _out_shape_or_none(n, X, W, auto_pad, dilations, pads, strides):
        # Broadcasting residual: not worth a fused path; fall back to Conv then Add then Relu
        # (graph._fuse_conv fuses no other activation after a residual).
        if activation not in ("", "Relu"):
            raise n.error(f"internal: fused {activation} after a broadcasting residual")
        if G is not None:
            (X,) = binary(n, "mul", X, G)
        (y,) = _conv(n, X, W, B, None, _activation(n, "", None, None, None), auto_pad, dilations,
                     group, kernel_shape, pads, strides)
        (y,) = binary(n, "add", y, R)
        if activation == "Relu":
            (y,) = unary(n, "relu", y)
        return [y]
    return _conv(n, X, W, B, R, act, auto_pad, dilations, group, kernel_shape, pads, strides,
                 G=G, over_input=G is None)


def _out_shape_or_none(n, X, W, auto_pad, dilations, pads, strides):
    if W is None or X.ndim < 3:
        return None
    _, _, _, _, _, out = window_geometry(n, X.shape[2:], list(W.shape[2:]), strides, dilations,
                                         pads, auto_pad)
    return (X.shape[0], W.shape[0]) + tuple(out)

"""tinycnn::StemBlock: a network's first block, the RGB stem Conv -> depthwise Conv -> Conv 1x1
[+ the stem's output], each a tinycnn::Conv with its fused activation, found by
graph._fuse_stem_block (MobileNetV2's and MnasNet's 3 -> 32 stem and 32 -> 16 block,
MobileNetV3-Large's 3 -> 16 stem and 16 -> 16 residual block).

Where the stem runs on the direct kernel (algo 'stem') and the expanded tensors are large
(STEM_FUSE_MIN_BYTES) the block runs in bands of output rows (csrc/stem_fused.c): the stem's
and the depthwise's outputs (1.6 MB each at 32 x 112 x 112) stay in L2 a band at a time
instead of going to memory and back; elsewhere it runs as the three convolutions it was.
Both give the same bits.

Not taken by EfficientNet-B0's first block: its depthwise sums each plane's mean for the SE
(graph._se_pool_in_depthwise) and the SE's gates fold into the projection, so only the stem ->
depthwise half could run in bands, saving the stem output's trip alone (not tried).
"""
import numpy as np

from .. import _kernels as K
from ..ir import Value
from . import FUSED_DOMAIN, op
from .common import bound_step, require_float, window_geometry
from .conv import _conv, conv_macs, conv_window
from .fused_ir import _conv_args, band_rows, constant_stages, plan_stages

# Lone blocks, AVX2 emulation, 1 thread, thread CPU time, 64 MB written between runs (as the
# rest of the network does), min / median of 300 alternating runs, loaded host (2026-12-02
# 10:17, AMD EPYC Zen 4, 1 MiB L2): MobileNetV2's 3 -> 32 stem, 32 depthwise, 32 -> 16 at 224
# unfused 900 / 1592 us, bands of 4 / 8 / 12 / 16 / 24 rows 728 / 716 / 708 / 725 / 750 min
# (0.79 at 12); MobileNetV3-Large's (16 channels, the residual) 560 / 844 unfused, bands of
# 8 / 12 / 20 / 28 rows 444 / 442 / 457 / 456.  band_rows' budget (fused_ir.IR_BAND_BYTES)
# gives 12 and 20.  In the networks (same build, fused / unfused sessions alternating in one
# process, per step, 150-200 runs, loaded host, 10:19-10:22) MobileNetV2's block 0.90-0.94 /
# 0.80-0.88 (min / median), with its next two blocks 0.96-0.99 / 0.91-0.96 (they run 0-2%
# slower after it), the whole run 0.97-1.01 / 0.97-0.99; MnasNet's block 0.91 / 0.89, with the
# next two 0.97 / 0.95.  MobileNetV3-Large's (0.8 MB, under this host's 1 MiB L2) 0.95-0.99 /
# 0.95-0.99 and with its next two blocks 0.99-1.01 / 1.01-1.03 at bands of 8, 12 and 20: left
# unfused here.  On the target's 512 KiB L2 (AMD EPYC Zen 3, native AVX2, 1 thread, 2026-12-03
# 11:20, subgraph_shapes.py --against the base, 21 rounds, median [25-75%]) the threshold at
# 512 KiB, banding it: the block 0.979 [0.953-1.002], with its next two blocks 1.011
# [0.983-1.027]: not a gain, left.  Below this many bytes of stem output the unfused layers
# run from L2.
# n33-ir, on the Intel Xeon host (Sapphire Rapids class, 2 MiB L2; AVX2 emulation, 1 thread,
# 2026-12-05, bit-identical), that 512 KiB threshold (MobileNetV3-Large's 0.8 MB block banded,
# 20-row bands; the only network whose stem block it moves): benchmarks/subgraph_shapes.py
# against the base, each order (this / the base, then the base / this), geometric mean of the
# two: the block with its next two blocks (input -> features.3) 0.958 [0.930-0.982] / 1.035
# [1.002-1.050] (31 rounds), 0.962; the block alone 0.913 [0.890-0.936] (one order); the whole
# network (41 rounds, twice) 0.991 [0.972-1.010] / 1.030 [1.012-1.040] and 1.007
# [0.995-1.025] / 1.023 [1.005-1.037]: 0.981 and 0.992.  At 2 threads (ab_threads.py --fifo,
# 30 rounds x 10, burst medians) 1.000 [0.975-1.020] / 1.011 [0.981-1.030]: 0.995, level.
# Its band (input -> features.3 against the base, one order, 31 rounds): 20 rows (band_rows)
# 0.971, 12 0.976, 28 0.987, 56 0.991: kept.
# The MobileNetV2 block at 1 MiB and more: unfused 1.067 [1.047-1.086] of the 12-row bands'
# time on this host (the block cut alone, 31 rounds), bands of 28 rows 1.001, of 56 1.031:
# kept.
# h44-st (2026-12-06, the same Xeon host, AVX2 emulation, bit-identical): MobileNetV3-Large's
# block at 2 threads, band_rows' 8-row bands (14, 7 per thread) against other bands (the band
# forced in this checkout only), benchmarks/steps_ab.py --threads 2 against the base under
# chrt -f 10, median of per-round ratios: 20 rounds: 4 rows 1.030, 12 0.966, 28 1.051, 56
# 1.444 (one band a thread: its slot and the stem's whole output per thread), 8 (the control)
# 0.983; 40 rounds: 12 0.984 and 0.959 (the whole run 1.000 and 0.971), 14 1.050, 8 1.000:
# 12 at most ~3% of a 0.25 ms step (~0.1% of the network), within the noise: left at
# band_rows'.  At 1 thread 8-row bands cost 1.034 of the 20-row ones (20 rounds): what the
# smaller bands' per-band work costs.  The block scales as the blocks after it
# (cold_steps.py --threads 2, 20 rounds: 1.67 in the network, 1.77 warm, features.2 1.85 /
# 1.91), so its gap to onnxruntime is its kernels' (csrc/stem_fused.c), not the split.
STEM_FUSE_MIN_BYTES = 512 * 1024

_STAGES = ("stem", "depthwise", "project")


def _values(inputs):
    X, W1, B1, W2, B2, W3, B3, S1, S2, S3 = (list(inputs) + [None] * 10)[:10]
    return X, ((W1, B1, S1), (W2, B2, S2), (W3, B3, S3))


def _shape_of(X, W, attrs):
    """The output Value (shape only) of a convolution of X with W under attrs, or None."""
    if X is None or W is None or X.ndim != 4:
        return None
    *_, out = window_geometry(None, X.shape[2:], list(W.shape[2:]), attrs.get("strides"),
                              attrs.get("dilations"), attrs.get("pads"),
                              attrs.get("auto_pad") or "NOTSET")
    return Value("", (X.shape[0], W.shape[0]) + tuple(out), np.float32)


def sb_macs(inputs, outputs, *, stem, depthwise, **attrs):
    """The three convolutions' multiply-adds."""
    X, ((W1, _, _), (W2, _, _), (W3, _, _)) = _values(inputs)
    Y = outputs[0]
    t1 = _shape_of(X, W1, stem)
    t2 = _shape_of(t1, W2, depthwise)
    if t2 is None or W3 is None or Y is None:
        return 0
    return conv_macs([X, W1], [t1]) + conv_macs([t1, W2], [t2]) + conv_macs([t2, W3], [Y])


def sb_window(inputs, outputs, *, stem, depthwise, **attrs):
    """(span, stride): the depthwise's window over the stem's outputs; the 1x1 keeps it."""
    X, ((W1, _, _), (W2, _, _), _) = _values(inputs)
    a = conv_window([X, W1], outputs, dilations=stem.get("dilations"), strides=stem.get("strides"))
    b = conv_window([None, W2], outputs, dilations=depthwise.get("dilations"),
                    strides=depthwise.get("strides"))
    return [(sa + (sb - 1) * ta, ta * tb) for (sa, ta), (sb, tb) in zip(a, b)]


@op("StemBlock", domain=FUSED_DOMAIN, cost=sb_macs, window=sb_window)
def StemBlock(n, X, W1, B1=None, W2=None, B2=None, W3=None, B3=None, S1=None, S2=None, S3=None,
              *, stem, depthwise, project, residual=0):
    """Conv (the stem) -> depthwise Conv -> Conv 1x1 [+ the stem's output when residual], each
    with its fused activation (S: a PRelu's slope); stem, depthwise, project: each
    tinycnn::Conv's attributes."""
    require_float(n, X, W1, W2, W3, B1, B2, B3)
    stages = ((W1, B1, S1, stem), (W2, B2, S2, depthwise), (W3, B3, S3, project))
    fused = _plan_banded(n, X, stages, bool(residual))
    if fused is not None:
        return fused
    y = X
    first = None
    for tag, (W, B, S, attrs) in zip(_STAGES, stages):
        act, geo = _conv_args(n, attrs, S, W.shape[0] if W is not None else 0)
        R = first if tag == "project" and residual else None
        (y,) = _conv(n, y, W, B, R, act, geo["auto_pad"], geo["dilations"], geo["group"],
                     geo["kernel_shape"], geo["pads"], geo["strides"], tag=tag)
        first = y if first is None else first
    return [y]


def _plan_banded(n, X, stages, residual):
    """The banded block's step, or None where it does not apply or not pay."""
    if X.ndim != 4 or not constant_stages(stages):
        return None
    stem, dw, project = plan_stages(n, X, stages, _STAGES)
    if (stem.algo != "stem" or dw.algo != "depthwise" or project.algo not in ("1x1", "1x1_chan")
            or dw.layer.in_channels != dw.layer.out_channels
            or 4 * int(np.prod(stem.out4[1:])) < STEM_FUSE_MIN_BYTES):
        return None
    _, _, h, w = X.shape
    sh, sw = stem.out4[2:]
    oh, ow = dw.out4[2:]
    band = band_rows(dw.layer.in_channels, sw, ow, oh, dw.layer.kernel_shape[0], dw.strides[0],
                     dw.dilations[0], n.options.num_threads)
    try:
        block = n.cached(("stem_fused", band, residual),
                         lambda: K.StemFused(stem.layer, dw.layer, project.layer, band, residual))
    except ValueError:
        return None   # the stages do not chain (a residual of another shape)
    ws = block.workspace_size(h, w)
    if not ws:
        return None
    bind, out4 = block.bind, project.out4

    def stem_block(x, y, *ws_):
        return bind(x, y.reshape(out4), ws_[0] if ws_ else None)
    return n.emit(bound_step(stem_block), [X], [(project.out_shape, np.float32)], workspace=ws)

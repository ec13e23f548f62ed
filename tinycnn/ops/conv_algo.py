"""How each convolution runs: the one plan-time decision, with its thresholds and the
measurements behind them.

Every Conv is planned through `choose_conv_algo`, once per layer and input size, from the
layer's geometry, the numeric budget (PlanOptions.conv_chain), the thread count and whether
Winograd may take the weights.  The kernels (csrc/conv.c, winograd*.c) offer the algorithms
behind one interface and say which geometries each can compute (tc_conv2d_check); this
module says which one to use:

    winograd_f4x4_3x3   3x3 stride 1: 4 products per output and input channel where a direct
                        convolution does 9; the most tiles per weight read, the most rounding
    winograd_f2x2_3x3   3x3 stride 1: 16/4 = 4 products per output (vs 9), more accurate,
                        better for small outputs (7x7) and long chains of convolutions
    winograd_f2x2_5x5   5x5 stride 1: 9 products per output (vs 25)
    depthwise           group == C > 1: a direct kernel per channel
    grouped             group > 1, few channels per group: a direct kernel per block of 4
                        output channels of a group
    1x1                 1x1 stride 1 no pad: a plain GEMM on the input
    1x1_chan            the same GEMM with output channels in the vector lanes and pixels
                        broadcast: small maps (7x7, 14x14), AVX2
    stem                strided, at most 4 input channels (the RGB stems): a direct kernel
                        over bands of output rows, 4 channels x 24 pixels per tile, AVX2
    gemm                everything else: im2col folded into the GEMM's packing (a strided 1x1
                        without pads: a dense copy of the pixels it reads, then the 1x1 GEMM)
    reference           never chosen: plain loops, what every fast path is tested against

The thresholds were measured on AVX2 machines (benchmarks/winograd_shapes.py against
onnxruntime, batch 1) and end to end on the exports of models/ (tests/test_models.py).
"""
from dataclasses import dataclass

# F(4x4,3x3) rounds ~10x more than F(2x2) (1e-5 relative per layer at 512 channels) and the
# error compounds along a plain chain of convolutions; a residual merge restarts the chain
# (graph.conv_chain).  Measured against onnxruntime, end to end, on exports of models/
# (N(0, 1) input): VGG-16 (a chain of 13) 6-8e-5 with F(4x4); VGG-19 (16) 1.1-1.4e-4 with
# F(4x4), 2.4e-5 with F(2x2); ResNet-18, -50 and -101 (chains of 3 or 4) 3e-6, 5e-6 and
# 1.5e-5 with F(4x4) everywhere; DenseNet-121 (its Concats restart the chain like a
# residual merge) 2.5-3.6e-5 with F(4x4), 1.0-1.1e-5 with F(2x2) on its 56 3x3 layers at
# 56..14 (2026-12-01, 5 inputs).  Longer chains than this use F(2x2), ~1e-6 per layer.
# A heuristic fitted to those measurements, not a bound: tests/test_models.py checks it.
# F(2x2,5x5) uses the same points as F(4x4,3x3) and rounds alike (~5e-6 per layer at 64
# channels): it takes the same limit, and otherwise a 5x5 layer goes to the GEMM.
WINOGRAD4_MAX_CHAIN = 15

# F(4x4)'s 36 weight planes take 4x the layer's weights, F(2x2)'s 16 take 1.8x.  With
# at most 16 F(4x4) tiles (a 13x13..16x16 output) each plane is used by few tiles, and a
# layer this large (VGG's 512x512 conv5: 38 MB in F(4x4), 17 MB in F(2x2)) takes F(2x2):
# ~1.4x slower on that layer (6.5 vs 4.4 ms, 1 thread) but 21 MB less resident, which
# keeps VGG-16's peak memory under 0.75 of onnxruntime's for ~1.5% of its time.
WINOGRAD4_FEW_TILES = 16
WINOGRAD4_MAX_PLANE_BYTES = 16 << 20

# 3x3 layers (benchmarks/winograd_shapes.py, AVX2, 1 thread, batch 1):
#  - the transforms cost ~(c + k) per output, the products ~c*k: with c*k/(c + k) below
#    these Winograd loses to the GEMM convolution or ties.  F(2x2) (4 products per output
#    where the GEMM does 9): 24->24 at 56x56 (ratio 12) and 24->64 at 28x28 (17.5) 1.05-1.15x
#    the GEMM's time, 32->32 at 80x80 (16) 0.9x.  F(4x4) (2.25 products per output):
#    16->16 at 160x160 and 80x80 (ratio 8) 0.7-0.75x the GEMM's time, 32->32 at 80x80 0.55x,
#    16->32 at 28x28 (10.7, 49 tiles) a tie; RGB input layers (3->64: 2.8) stay on the GEMM.
#    (2026-11-30, AVX2 under emulation, benchmarks/winograd_shapes.py --layers yolo.)
#    The 3x3 layers of SqueezeNet 1.1, DenseNet-121 and GoogLeNet (--layers squeezenet
#    densenet googlenet, 1 thread, CPU time vs onnxruntime, 2026-12-01) all take the fastest
#    of the three: F(4x4) 0.45-0.7x onnxruntime from 14x14 up (16->64 at 55x55, ratio 12.8:
#    0.66x, the GEMM 0.96x; 16->48 at 14x14, ratio 12: 0.82x, the GEMM 0.95x); at 7x7 F(2x2)
#    (128->32 0.89x, 192->384 0.64x) where F(4x4) takes 1.3-1.5x and the GEMM 1.05-1.27x.
WINOGRAD3_MIN_CHANNEL_RATIO = 20
WINOGRAD4_MIN_CHANNEL_RATIO = 8
#  - F(4x4) needs enough 4x4 tiles: 14x14 (16 tiles) runs at ~0.45-0.55x onnxruntime's
#    time, but at 7x7 (4 tiles) F(4x4) is slower than onnxruntime (its 36 planes of
#    weights are read for 4 tiles) while F(2x2) (16 tiles) runs at ~0.65-0.8x;
WINOGRAD4_MIN_TILES = 16
#  - below ~12 F(2x2) tiles nothing is won.
WINOGRAD2_MIN_TILES = 12

# 5x5 layers: F(2x2,5x5) does 9 products per output and channel where the GEMM does 25, but
# transforms 36 values per 4 outputs: it needs channels on both sides (AlexNet's 64 -> 192
# at 27x27: 2.2x faster than the GEMM) and enough tiles (512->512 at 7x7, 16 tiles: nothing won).
WINOGRAD5_MIN_CHANNEL_RATIO = 16
WINOGRAD5_MIN_TILES = 25

# 1x1 layers on small maps.  The row tiles (1x1) put 16 pixels in the lanes and read x in
# place; the channel-lane tiles (1x1_chan) put 16 output channels in the lanes, waste no
# lane on a short row of pixels, but transpose every tile to store it (~8% of their time:
# 95-100 GFLOP/s where the row tiles run at 104-110 on 48 pixels).  Since the row tiles take
# a 17th column (gemm_avx2.c tile17_rows), a 7x7 map (49 = 3 x 16 + 1) wastes nothing in
# them either.  Time of 1x1_chan / 1x1 per map size (lone layers 576->160, 960->320,
# 160->960, 384->64, 64->384, AVX2 emulation, 1 thread, min of 20+ alternating runs,
# 2026-12-01): 1 pixel 0.38-0.49, 4: 0.47-0.60, 9: 0.64-0.75, 16: 1.08-1.29, 25: 0.82-1.04,
# 36: 0.86-1.09, 49: 1.03-1.22, 64: 1.06-1.34, 81-256: 0.96-1.35 (1.00 +- 0.04 where
# in_channels >= out_channels, 1.1-1.35 on the expansions).  The 7x7 projections of
# MobileNetV2 with weights out of L2 (as in the model): 1x1 0.88 of 1x1_chan's time.  On
# AVX-512 the row tiles are 12x32: 1x1_chan (AVX2's tile) took 1.22-1.37x there.
# SqueezeNet 1.1's layers (AMD Zen 4, AVX2 kernels, 1 thread, benchmarks/pointwise_ab.c with
# PW_ALGO_B=8 and ReLU, min of 200 runs, 2026-12-02 20:3x), 1x1_chan / 1x1: 55x55 64->16
# 1.18, 128->16 0.97, 16->64 1.55; 27x27 128->32 0.975, 256->32 1.00, 32->128 1.34; 13x13
# squeezes (256..512 -> 48..64) 0.96-1.00, 48->192 1.21, 64->256 1.14; 512->1000 1.04.
# Again (s27, same host and protocol, 20-40 rounds x 10, 2026-12-04 07:3x, load ~4), min: 55x55
# 64->16 1.24, 128->16 1.01 (median 1.12), 16->64 1.73; 27x27 128->32 1.02-1.03, 256->32
# 0.94-0.97, 32->128 1.49; 13x13 256->48 1.00, 384->48 1.00, 384->64 0.99, 512->64 0.97; on
# GoogLeNet-like 14x14 / 28x28 shapes 528->32 0.96, 480->16 1.00, 480->64 1.03, 512->64 1.02,
# 512->24 1.35, 192->32 and 256->32 at 28x28 1.05-1.07: no rule of K, M and map size that
# wins beyond 3% without losing elsewhere; the 27x27 row tiles lose to misaligned rows
# (729 floats: 256->32 95 GF/s against 106 at 28x28, whose rows are whole lines).
CHAN_MAX_PIXELS = 48      # and not a multiple of 16 plus 0 or 1 (full row tiles)
CHAN_ALWAYS_PIXELS = 16   # fewer: always the channel-lane tiles

# Grouped layers with few channels per group (RegNet: 8; ResNeXt-50 32x4d: 4 to 32): the
# GEMM runs one product per group with 8 rows of A and 72 values of k, mostly overhead.
# The direct kernel against it (AVX2, 1 thread, 3x3, 2026-11-30, loaded machine, ratios
# of alternating runs): 0.6-0.7 at stride 1 and 0.75-0.8 at stride 2 for 8 channels per
# group, 0.2-0.6 for 4, 0.85-0.9 for 16, 0.9-0.95 for 32; 1.1-1.3 for 64 (the GEMM's
# tile reuses its loads better).  1x1 grouped layers keep the 1x1 GEMM.
# Since each group's padded input is copied right before its blocks run (csrc/conv.c
# grouped_run, 2026-12-01 14:57, loaded host, min of 100): 256 channels at 14x14 stride 1,
# 16 / 32 / 64 per group 0.81 / 0.92 / 0.98 of the GEMM's time; at 28x28 stride 2, 32 / 64
# per group 0.85 / 0.97; 4 per group (128 at 28x28) 0.6.  64 is a tie: the limit stays.
GROUPED_MAX_CHANNELS = 32

# The thread count: the thresholds above were measured on 1 thread; at 2 threads
# (benchmarks/winograd_shapes.py --threads 2) the same layers win and lose, so no threshold
# depends on it yet.  It is an input of the decision so that one that does has its place.


@dataclass(frozen=True)
class ConvGeometry:
    """One 2-D convolution as planned: NCHW input [batch, in_channels, height, width],
    weights [out_channels, in_channels / group, *kernel]; pads (top, left, bottom, right)."""
    batch: int
    in_channels: int
    out_channels: int
    height: int
    width: int
    kernel: tuple
    strides: tuple = (1, 1)
    pads: tuple = (0, 0, 0, 0)
    dilations: tuple = (1, 1)
    group: int = 1

    @property
    def output_hw(self):
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.strides, self.dilations
        pt, pl, pb, pr = self.pads
        return ((self.height + pt + pb - dh * (kh - 1) - 1) // sh + 1,
                (self.width + pl + pr - dw * (kw - 1) - 1) // sw + 1)


def _tiles(out_hw, m):
    """Winograd output tiles of m x m over an output of out_hw."""
    return ((out_hw[0] + m - 1) // m) * ((out_hw[1] + m - 1) // m)


def _winograd_3x3(k, c, out_hw, short_chain):
    """The Winograd algorithm for a 3x3 stride-1 group-1 layer, or None (the GEMM is faster)."""
    f2_pays = c * k >= WINOGRAD3_MIN_CHANNEL_RATIO * (c + k)
    four = _tiles(out_hw, 4)
    if four >= WINOGRAD4_MIN_TILES:
        if not short_chain:
            return "winograd_f2x2_3x3" if f2_pays else None
        if four <= WINOGRAD4_FEW_TILES and 36 * 4 * k * c > WINOGRAD4_MAX_PLANE_BYTES:
            return "winograd_f2x2_3x3" if f2_pays else None
        if c * k >= WINOGRAD4_MIN_CHANNEL_RATIO * (c + k):
            return "winograd_f4x4_3x3"
        return None
    if f2_pays and _tiles(out_hw, 2) >= WINOGRAD2_MIN_TILES:
        return "winograd_f2x2_3x3"
    return None


def _winograd_5x5(k, c, out_hw, short_chain):
    if (short_chain and c * k >= WINOGRAD5_MIN_CHANNEL_RATIO * (c + k)
            and _tiles(out_hw, 2) >= WINOGRAD5_MIN_TILES):
        return "winograd_f2x2_5x5"
    return None


# The RGB stems, 3x3 stride 2 (1 thread, AVX2 under emulation, thread CPU time, min of 200,
# 2026-12-01 17:24, each layer alone): the direct kernel against the GEMM (im2col packing,
# the driver and 6-row A panels around a reduction of only 27) 0.84x on MobileNetV3's
# 3->16, 0.87x on EfficientNet's 3->32 (+SiLU), 0.93x on ShuffleNet's 3->24, 0.94-0.99x on
# MobileNetV2's 3->32; on SqueezeNet's 3->64 a tie with the input in cache and 1.06x with
# it and the output evicted (the GEMM's 6-row panels waste 2 of 66 rows there, 4 of 36 at
# 32 channels, 2 of 18 at 16): it stays on the GEMM, as do ResNet's 7x7 (147 taps, a tie),
# the AVX-512 build (its GEMM tiles are twice as wide) and the portable one (not measured).
# In the networks (tools steps1t.py, min of 30, 2026-12-01 17:55, against main's GEMM stem,
# with the next band's input prefetched as the GEMM stem does): ShuffleNetV2 0.91x,
# MobileNetV2 0.93-0.97x, MobileNetV3 0.92x, EfficientNet-B0 0.90x (17:51); SqueezeNet's
# 3->64 0.94-1.04x over three pairs: not clear enough to move it.
# s18 (2026-12-02, Zen 4, loaded host), with the tile's activation a constant (ReLU without the
# per-vector switch): SqueezeNet's 3->64 + ReLU alone, one process alternating the two
# algorithms (14 rounds of 10 calls), direct / GEMM 0.885x [0.83-0.93] in cache, 0.90x with
# the output evicted; its stem + MaxPool block (ops/fused_cp.py, both banded with the pool,
# subgraph_shapes.py, 10 rounds) 0.889x [0.87-0.90] of the GEMM bands, 1.16 -> 1.02 of ORT
# (not bit-identical to the GEMM: another summation order; the same error against ORT).
STEM_MAX_C = 4
STEM_MAX_K = 64
STEM_MAX_TAPS = 100


def _stem(g, isa):
    """Whether strided layer g, group 1, is a stem for the direct kernel."""
    taps = g.in_channels * g.kernel[0] * g.kernel[1]
    return (isa == "avx2" and g.group == 1 and g.in_channels <= STEM_MAX_C
            and g.out_channels <= STEM_MAX_K and max(g.strides) > 1 and taps <= STEM_MAX_TAPS)


def _pointwise(g, isa):
    """The algorithm of a 1x1 stride-1 unpadded layer."""
    pixels = g.output_hw[0] * g.output_hw[1]
    if isa == "avx2" and g.group == 1 and (
            pixels < CHAN_ALWAYS_PIXELS or (pixels < CHAN_MAX_PIXELS and pixels % 16 > 1)):
        return "1x1_chan"
    return "1x1"


def choose_conv_algo(g, *, conv_chain=0, num_threads=1, winograd=True, winograd_weights=True,
                     isa="avx2"):
    """The algorithm (a name of tinycnn._kernels.CONV_ALGOS) for convolution g.

    conv_chain: the numeric budget, the most Winograd-able convolutions in a row without a
    residual merge (PlanOptions.conv_chain).  num_threads: the kernels' thread count.
    winograd: whether Winograd may be used at all (PlanOptions.winograd).  winograd_weights:
    whether it may take these weights (tinycnn._kernels.winograd_takes_weights: finite, not
    huge; False for weights computed at run time, which cannot be checked at plan time).
    isa: the kernels' instruction set (Context.isa)."""
    del num_threads  # no threshold depends on it yet (see above)
    k, c = g.out_channels, g.in_channels
    if (winograd and winograd_weights and g.group == 1 and tuple(g.strides) == (1, 1)
            and tuple(g.dilations) == (1, 1)):
        short_chain = conv_chain <= WINOGRAD4_MAX_CHAIN
        algo = None
        if tuple(g.kernel) == (3, 3):
            algo = _winograd_3x3(k, c, g.output_hw, short_chain)
        elif tuple(g.kernel) == (5, 5):
            algo = _winograd_5x5(k, c, g.output_hw, short_chain)
        if algo:
            return algo
    if g.group > 1 and g.group == c:
        return "depthwise"
    if tuple(g.kernel) == (1, 1) and tuple(g.strides) == (1, 1) and not any(g.pads):
        return _pointwise(g, isa)
    if g.group > 1 and max(c, k) // g.group <= GROUPED_MAX_CHANNELS:
        return "grouped"
    if _stem(g, isa):
        return "stem"
    return "gemm"

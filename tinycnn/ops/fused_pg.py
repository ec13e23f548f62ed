"""tinycnn::PointwiseGrouped: a 1x1 convolution -> a grouped convolution (RegNet's "a" and
"b" layers), each a tinycnn::Conv with its fused activation, the grouped one with the means
of its output planes where a squeeze-and-excitation pools them; found by
graph._fuse_pointwise_grouped.

Where the 1x1's output is large (PG_FUSE_MIN_BYTES) the pair runs in bands of output rows
(csrc/pg_fused.c), the 1x1's band staying in L2 instead of going to memory and back;
elsewhere, and for geometries the banded kernel does not take, it runs as the two
convolutions it was.  Both give the same bits.  A depthwise second layer (the expansion and
depthwise of EfficientNet's and MobileNetV3's blocks with a squeeze-and-excitation, which
_fuse_inverted_residual cannot take) runs as the inverted-residual block's first two stages
(fused_ir.band_rows), at stride 2 from PD_FUSE_MIN_BYTES.  A stage's first block's projection
shortcut, a 1x1 of the same input (graph._fuse_pg_shortcut), is computed in the bands too where
that input is large (PG_SHORTCUT_MIN_BYTES), else apart, before the pair.
"""
from functools import partial

import numpy as np

from .. import _kernels as K
from ..ir import Value
from . import FUSED_DOMAIN, op
from .common import bound_step, require_float
from .conv import _conv, conv_layer, conv_window
from . import fused_ir
from .fused_ir import _conv_args

# Measured 2026-12-02 00:02 (benchmarks/pg_fused_shapes.py, AVX2 emulation, 1 thread, fused /
# unfused, bands 2 4 8 16 28): RegNetY-400MF's block1-0 (32-48 at 112x112, stride 2, a 2.4 MB
# 1x1 output) 0.77 0.77 0.74 0.92 1.13, block2-0 (48-104 at 56x56, stride 2, 1.3 MB) 0.83 0.72
# 0.71 0.86 0.90; block2-1 (104-104 at 28x28, 0.33 MB) 1.14 1.05 1.05 1.04 1.00, block3-0
# (104-208 at 28x28, stride 2) 1.02-1.08, block4-0 1.0: below about 1 MB the unfused layers
# already run from cache.  On the target (AMD EPYC Zen 3, 512 KiB L2, native AVX2, 1 thread,
# benchmarks/subgraph_shapes.py --against the base, 15 rounds, median of per-round ratios
# [25-75%], 2026-12-03 14:1x, loaded host): block2-0 (1.3 MB) left unfused (a 2 MB threshold)
# ran 1.052 [1.006-1.092] and 1.011 [0.936-1.052] of its time fused: the threshold holds.
# AMD Zen 4 (1 MiB L2, AVX2 emulation, s26, 21 rounds, the same bits): a 600 KB threshold,
# which fuses block3-0 (0.65 MB), ran its block 1.003 [0.963-1.049] and its pair 1.056
# [1.006-1.091] of the unfused time (not measured on the Zen 3, whose L2 is half as large).
# On the Intel Xeon (2 MiB L2; h39-rg, AVX2 emulation, 1 thread, whole RegNetY-400MF,
# benchmarks/const_ab.py, 30 rounds, sessions planned each way in one process, the same bits,
# host load 7-16, 2026-12-06 00:2x, median of per-round ratios [25-75%]; base against itself
# 0.995 and 1.006): 3 MB (nothing banded) 0.999 [0.985-1.014], 2 MB (block2-0 unbanded) 1.002
# [0.991-1.027], 600 KB (block3-0 banded too) 1.001 [0.992-1.014]: level, kept.
PG_FUSE_MIN_BYTES = 1_000_000
# A band's slot (1x1 rows with the halo + grouped rows) at most this many bytes: the best
# bands above, 8 rows, take 451 KB (block1-0) and 489 KB (block2-0); 16 rows, 0.9 MB, lose.
# Smaller slots for the target's 512 KiB L2 won nothing here (s19, the pair's subgraph with
# benchmarks/subgraph_shapes.py --against, 21-31 rounds, load 4-5 on 2 cores, 2026-12-02
# 20:43, 512 KiB / smaller, median of per-round ratios): 256 KiB (4-row bands) block1-0
# 1.045 0.967 1.024 1.014, block2-0 1.047 0.976 0.983 1.001; 384 KiB 0.995 / 1.013; 192 KiB
# 1.003 / 0.991; 128 KiB (2 and 1 rows) 0.945 / 0.882.  The pair fused ran 0.89 of it unfused
# [0.87-0.92] (block1-0) and 0.88-1.0 of onnxruntime's time.  Zen 3, native (as above,
# block1-0 with its projection and SE, 15 rounds): 256 KiB 0.998 [0.976-1.048], 384 KiB
# 0.994 [0.960-1.031] of 512 KiB's time.
# Intel Xeon (as at PG_FUSE_MIN_BYTES): 1 MiB slots 1.001 [0.996-1.016]: level, kept.
# Zen 3 again (h53-l2, 2026-12-07, const_ab.py, whole RegNetY-400MF, bit-identical): 256 KiB /
# 384 KiB / 1 MiB 0.996 / 1.001 / 1.001 at 1 thread (30 rounds), 256 KiB 0.997 [0.964-1.060] at 2
# threads (--threads 2 under chrt -f 10, 50 rounds; base against itself 1.002): kept.
PG_BAND_BYTES = 512 * 1024
# The projection shortcut (graph._fuse_pg_shortcut) runs in the pair's bands where its input,
# which the pair's 1x1 reads band by band, takes this many bytes; elsewhere apart, before the
# pair, right after x was written.  Measured (Intel Xeon, AVX2 emulation, 1 thread,
# subgraph_shapes.py against the base, 41 rounds, both orders, median [25-75%], the same
# bits), with the shortcut in the bands of both banded pairs: RegNetY-400MF's block1-0 (x 32
# x 112 x 112, 1.6 MB; the base read it last, after the block, from memory) 0.977
# [0.962-1.004] and 1 / 1.052 [1.034-1.070], block2-0 (x 0.6 MB) 1.010 [0.984-1.040] and 1 /
# 0.991 [0.964-1.043]: its x still in L2 at the block's end, and 8-row bands' GEMMs of 224
# columns cost what the one read saved; apart, before the pair (this threshold) 1.014
# [0.991-1.034] and 1 / 1.004 [0.978-1.032], block3-0 (never banded) 1.026 [1.007-1.050] and 1
# / 0.990 [0.961-1.006].  The whole network (41 rounds each order) 0.998 [0.990-1.001] and 1 /
# 1.008 [0.997-1.016], geometric mean 0.995 (again, 61 rounds: 1.000 [0.994-1.007] and 1 /
# 1.009 [1.000-1.014]; both bands: 0.995 / 1 / 1.006, 31 rounds); at 2
# threads (ab_threads.py --fifo, 30 rounds each order) 1.015 [1.006-1.022] and 1 / 1.010
# [0.998-1.023]: level.
# Intel Xeon (as at PG_FUSE_MIN_BYTES): 500 KB (block2-0's shortcut in its bands too) 1.006
# [0.978-1.022]: level, kept.
PG_SHORTCUT_MIN_BYTES = 1_000_000
# A depthwise pair (1x1 -> depthwise whose output a squeeze-and-excitation reads) runs in
# bands (fused_ir.band_rows) only at stride 2 and where its expanded tensor takes this many
# bytes: its depthwise then writes each band's rows straight into the output (the
# column-split kernel), and the expanded tensor (4x the output) stays in L2.  At stride 1
# the banded depthwise writes its band to the slot and copies it out, and the output is as
# large as the expanded tensor: no gain.  Lone pairs with SiLU (benchmarks/pd_fused_shapes.py,
# AVX2 emulation, 1 thread, thread CPU time, min over 120 runs, caches warm / flushed, very
# loaded host 2026-12-02 10:28; unfused, then bands 2 4 8): EfficientNet-B0's features.2.0
# (16-96 at 112x112, 3x3/2, 4.8 MB) 2.77 / 2.16 ms, 0.72-0.63 / 0.73-0.70; features.3.0
# (24-144 at 56x56, 5x5/2, 1.8 MB) 0.89 / 0.87 ms, 1.27 1.06 1.03 / 1.37 0.97 0.87;
# features.2.1 (24-144 at 56x56, 3x3/1) 0.80 / 1.03 ms, 1.57 1.31 1.09 / 1.19 1.07 1.01.  In
# the network (per step, min of 80 profiled runs, banded and not alternating in one process,
# load 8-9 on 2 cores, 10:29-10:31): features.2.0 (its pair, SE and projection) 1.41-1.45 /
# 1.56-1.61 ms (0.90-0.91), features.3.0 at band 4 or 8 0.77-0.80 / 0.74-0.75 (1.04-1.07):
# left unbanded, as everything under 3 MB.  Re-measured on the target (AMD EPYC Zen 3, 512 KiB
# L2, native AVX2, 1 thread, the block cut from the network, subgraph_shapes.py --against the
# base, median of 15-21 per-round ratios [25-75%], 2026-12-03 11:10-11:35, loaded host), banded
# / unbanded: MobileNetV3-Large's features.4 (24-72 at 56x56, 5x5/2, 0.9 MB) 1.156 [1.12-1.19],
# EfficientNet-B0's features.3.0 (1.8 MB) 1.114 [1.09-1.15] at band 4, 1.155 at 8, 1.081 at
# 14; and features.2.0 (4.8 MB) unbanded 1.253 [1.21-1.30] of banded, bands 8 / 2 against the
# planned 4 0.993 / 1.045.  The threshold holds there.  Again there (s25, 2026-12-03 17:1x,
# the planning alone changed in one process, the same bits, 15-21 rounds, median [25-75%] of
# the unbanded time): stride 1 banded too (EfficientNet-B0's features.2.1, 24-144 at 56x56,
# 1.8 MB, with its SE and projection) 1.115 [1.066-1.136], at 160 KB bands 1.113
# [1.068-1.129]; the 3x3/2 pair of features.4.0 (40-240 at 28x28, 0.75 MB) banded 1.051
# [1.031-1.079].
PD_FUSE_MIN_BYTES = 3_000_000


def band_rows(e, k, w, ow, oh, kh, stride, dilation, threads):
    """Grouped output rows per band: the most whose slot fits PG_BAND_BYTES, then evened out
    so that the bands split equally over the threads."""
    def slot(b):
        return 4 * (e * ((b - 1) * stride + (kh - 1) * dilation + 1) * w + k * b * ow)
    band = 1
    while band < oh and slot(band + 1) <= PG_BAND_BYTES:
        band += 1
    nbands = -(-oh // band)
    nbands = -(-nbands // threads) * threads
    return max(1, -(-oh // nbands))


def _values(inputs):
    X, Wa, Ba, Wb, Bb, Sa, Sb = (list(inputs) + [None] * 7)[:7]
    return X, ((Wa, Ba, Sa), (Wb, Bb, Sb))


def pg_macs(inputs, outputs, **attrs):
    """The two convolutions' multiply-adds (and the shortcut's)."""
    X, ((Wa, _, _), (Wb, _, _)) = _values(inputs)
    Y = outputs[0]
    if X is None or Y is None or Wa is None or Wb is None:
        return 0
    n, c0, h, w = X.shape
    Ws = inputs[7] if len(inputs) > 7 else None
    sc = Y.size // Y.shape[1] * Ws.shape[0] * c0 if Ws is not None else 0
    return n * Wa.shape[0] * c0 * h * w + Y.size * int(np.prod(Wb.shape[1:])) + sc


def pg_window(inputs, outputs, *, grouped, **attrs):
    """The grouped convolution's (span, stride): the 1x1 keeps each pixel's field."""
    X, (_, (Wb, _, _)) = _values(inputs)
    return conv_window([X, Wb], outputs, dilations=grouped.get("dilations"),
                       strides=grouped.get("strides"))


@op("PointwiseGrouped", domain=FUSED_DOMAIN, cost=pg_macs, window=pg_window)
def PointwiseGrouped(n, X, Wa, Ba=None, Wb=None, Bb=None, Sa=None, Sb=None, Ws=None, Bs=None, *,
                     pointwise, grouped, shortcut=None):
    """Conv 1x1 -> grouped Conv [-> the means of its output planes, grouped's channel_means]
    [and shortcut: a 1x1 Conv of X (Ws, Bs; its attributes), its output last
    (graph._fuse_pg_shortcut)]; pointwise, grouped: each tinycnn::Conv's attributes (S: a
    PRelu's slope)."""
    require_float(n, X, Wa, Wb, Ba, Bb, Ws, Bs)
    means = bool(grouped.get("channel_means", 0))
    stages = ((Wa, Ba, Sa, pointwise), (Wb, Bb, Sb, grouped))
    sc = (Ws, Bs, None, shortcut) if shortcut is not None else None
    fused = _plan_banded(n, X, stages, means, sc)
    if fused is not None:
        return fused
    # the shortcut apart, first: it reads X right after X's producer wrote it
    pre = _conv_stage(n, X, sc, "shortcut", False) if sc is not None else []
    if sc is not None:
        fused = _plan_banded(n, X, stages, means)
    if fused is None and Wb is not None and Wb.shape[1] == 1:
        fused = fused_ir.plan_chan8_pair(n, X, stages, means)
    if fused is not None:
        return list(fused) + pre
    y = X
    for tag, stage in zip(("pointwise", "grouped"), stages):
        outs = _conv_stage(n, y, stage, tag, means and tag == "grouped")
        y = outs[0]
    return list(outs) + pre


def _conv_stage(n, X, stage, tag, means):
    """One stage (W, B, S, attrs) as its own convolution: its outputs"""
    W, B, S, attrs = stage
    act, geo = _conv_args(n, {k: v for k, v in attrs.items() if k != "channel_means"}, S,
                          W.shape[0] if W is not None else 0)
    return _conv(n, X, W, B, None, act, geo["auto_pad"], geo["dilations"], geo["group"],
                 geo["kernel_shape"], geo["pads"], geo["strides"], tag=tag, means=means)


def _plan_banded(n, X, stages, means, sc=None):
    """The banded pair's step (with the shortcut sc computed in its bands), or None where it
    does not apply or not pay."""
    every = stages + ((sc,) if sc is not None else ())
    if X.ndim != 4 or any(W is None or W.const is None or W.ndim != 4 for W, _, _, _ in every):
        return None
    if any(B is not None and B.const is None for _, B, _, _ in every):
        return None
    e = stages[0][0].shape[0]
    depthwise = stages[1][0].shape[1] == 1
    if depthwise and not any(s > 1 for s in stages[1][3].get("strides") or ()):
        return None  # stride 1: see PD_FUSE_MIN_BYTES
    least = PD_FUSE_MIN_BYTES if depthwise else PG_FUSE_MIN_BYTES
    if 4 * e * X.shape[2] * X.shape[3] < least:
        return None
    planned, x = [], X
    for tag, (W, B, S, attrs) in zip(("pointwise", "grouped"), stages):
        act, geo = _conv_args(n, {k: v for k, v in attrs.items() if k != "channel_means"}, S,
                              W.shape[0])
        c = conv_layer(n, x, W, B, act, geo["auto_pad"], geo["dilations"], geo["group"],
                       geo["kernel_shape"], geo["pads"], geo["strides"], tag)
        planned.append(c)
        x = Value("", c.out_shape, np.float32)
    pw, gc = planned
    if (pw.algo not in ("1x1", "1x1_chan") or gc.algo != ("depthwise" if depthwise else "grouped")
            or pw.layer.in_channels != X.shape[1] or gc.layer.in_channels != e
            or (depthwise and gc.out4[1] != e)):
        return None
    s = None
    if sc is not None:
        if 4 * X.shape[1] * X.shape[2] * X.shape[3] < PG_SHORTCUT_MIN_BYTES:
            return None  # the caller runs it apart, before the pair
        W, B, S, attrs = sc
        act, geo = _conv_args(n, attrs, S, W.shape[0])
        s = conv_layer(n, X, W, B, act, geo["auto_pad"], geo["dilations"], geo["group"],
                       geo["kernel_shape"], geo["pads"], geo["strides"], "shortcut")
        if (depthwise or s.layer is None or s.algo not in ("gemm", "1x1")
                or s.out4[2:] != gc.out4[2:]):
            return None
    nb, _, h, w = X.shape
    k, oh, ow = gc.out4[1:]
    rows = fused_ir.band_rows if depthwise else partial(band_rows, e)
    band = rows(k, w, ow, oh, gc.layer.kernel_shape[0], gc.strides[0], gc.dilations[0],
                n.options.num_threads)
    pair = n.cached(("pg_fused", band, s is not None), lambda: K.PGFused(
        pw.layer, gc.layer, band, s.layer if s is not None else None))
    bind, out4 = pair.bind, gc.out4
    ws = pair.workspace_size(h, w)
    outs = [(gc.out_shape, np.float32)] + ([((nb, k, 1, 1), np.float32)] if means else []) + (
        [(s.out_shape, np.float32)] if s is not None else [])
    s4 = s.out4 if s is not None else None

    def pg_pair(x, y, *rest):
        m = rest[0].reshape(nb, k) if means else None
        rest = rest[1:] if means else rest
        ys = rest[0].reshape(s4) if s4 is not None else None
        rest = rest[1:] if s4 is not None else rest
        return bind(x, y.reshape(out4), m, rest[0] if rest else None, ys)
    return n.emit(bound_step(pg_pair), [X], outs, workspace=ws)

"""tinycnn::InvertedResidual: expansion 1x1 -> depthwise -> projection 1x1 [+ residual], each
a tinycnn::Conv with its fused activation, found by graph._fuse_inverted_residual.

Where the expanded tensor is large (IR_FUSE_MIN_BYTES) the block runs in bands of output
rows (csrc/ir_fused.c), the expanded band staying in L2 instead of going to memory and back
twice; elsewhere, and for geometries the banded kernel does not take, it runs as the three
convolutions it was.  Both give the same bits.
"""
import dataclasses

import numpy as np

from .. import _kernels as K
from ..ir import Value
from . import FUSED_DOMAIN, op
from .common import bound_step, require_float
from .conv import _activation, _bias, _conv, conv_layer, conv_window

# Measured 2026-11-30 (benchmarks/ir_fused_shapes.py, emulated AVX2, 1 thread, fused /
# unfused at the best band): MobileNetV2's 112x112 E=96 block 0.87, 56x56 E=144 0.73 and
# (stride 2) 0.93; 28x28 E=192 0.95-1.0, 14x14 and 7x7 1.0; MnasNet's 56x56 E=72 0.99,
# 28x28 E=120 5x5 1.0.  The expanded tensor of the blocks that gain is 1.8 MB or more
# (past L2); at 0.9 MB and below the unfused layers already run from cache.
IR_FUSE_MIN_BYTES = 1_500_000
# ... and half of it for stride-1 blocks with a shallow expansion (C0 <= IR_FUSE_SHALLOW_C0: a
# GEMM of so few K steps that writing its C costs most of its time, and the band's C stays in
# L2): in the networks, where the block's input comes from the layer before and its output
# goes to the next, the 0.9 MB ones gain too.  Per step, AVX2
# emulation, 1 thread, min / median of 150 profiled runs, fused / unfused alternating in one
# process (2026-12-02 03:23-03:27, loaded host): MobileNetV3-Large's features.3 (24-72-24 at
# 56x56) 0.86-0.92 / 0.78-0.85, MnasNet's layers.8.1 and 8.2 (the same shape) 0.95-0.99 /
# 0.90.  The stride-2 blocks of that size lose (MnasNet's layers.9.0, 24-72-40 5x5 at 56x56,
# 1.08 / 1.08; MobileNetV3-Small's features.2, 16-72-24, 1.15 / 1.24), and so do the stride-1
# blocks at 0.6 MB (MobileNetV2's features.5 and .6, 32-192-32 at 28x28, 1.0-1.05 min).  The
# deeper 80-200-80 and 80-184-80 blocks of LRASPP (32x32) and DBNet (40x40) at 0.8-1.3 MB went
# 0.9-1.05 either way (noise on that host): left unfused.
# On the Intel Xeon host (n33-ir, 2 MiB L2, AVX2 emulation, 1 thread, 2026-12-05) the 0.9 MB
# ones unfused (IR_FUSE_S1_FACTOR 1): MobileNetV3-Large's features.3 cut from the network 1.172
# [1.165-1.186] of the banded time (subgraph_shapes.py against the base, 31 rounds): kept.
IR_FUSE_S1_FACTOR = 0.5
IR_FUSE_SHALLOW_C0 = 24
# ... and stride-2 blocks whose expansion is shallower still (C0 <= IR_FUSE_S2_SHALLOW_C0), on
# the target itself (AMD EPYC Zen 3, 512 KiB L2, native AVX2, 1 thread; the block cut from the
# network, benchmarks/subgraph_shapes.py --against the base, 21 rounds, median of per-round
# ratios [25-75%], 2026-12-03 11:40, loaded host): MobileNetV3-Small's features.2 (16-72-24 at
# 56x56, 3x3/2, 0.9 MB; 1.15 / 1.24 under the emulation above) 0.921 [0.915-0.931] and 0.908
# [0.897-0.912] of its time unfused; at 2 threads (alt.py, the block) 0.937, 0.979, 0.879.  In
# context less: with the next block 0.962 [0.932-0.980], from the network's input 0.975
# [0.937-1.009], input to features.3 1.001 [0.972-1.045], the whole network 1.003
# [0.978-1.026] (31 rounds: the block is 0.2 of 2.4 ms; no loss either).  MnasNet's layers.9.0
# (24-72-40 at 56x56, 5x5/2, the same size) still loses fused there, 1.105 [1.096-1.114]:
# C0 = 24 stays out.  Per step in the network (s24, 2026-12-03 14:3x, thread CPU time, 150
# profiled runs of each alternating in one process, min / median): fused 195 / 217 us, unfused
# 206 / 211 (expansion 115, depthwise 58, projection 33; onnxruntime's nodes 89, 31, 34): the
# expansion's shallow K (16 -> 72 at 56x56, 63 GF/s) and the stride-2 depthwise lose, not the
# fusion.
IR_FUSE_S2_SHALLOW_C0 = 16
# A band's slot (expansion rows with the halo + depthwise rows) at most this many bytes:
# the best bands measured lone (56x56 E=144: 8 rows, 580 KB; 112x112 E=96 stride 2: 4-16 rows)
# were 640 KB, but in the networks (per step, AVX2 emulation, 1 thread, min / median of 100
# profiled runs, 640 KB / 320 KB alternating in one process, 2026-12-02 03:42-03:46, load 7-8)
# 320 KB: MobileNetV3-Large's features.3 (24-72-24 at 56x56, 16 -> 8 rows) 0.85-0.88 /
# 0.87-0.89, MobileNetV2's features.3 (24-144-24, 8 -> 4 rows) 0.93-0.99 / 0.99-1.01 and
# features.4 0.90-0.98 / 0.95-0.97, MnasNet's layers.8.1 0.93 / 0.82, 8.2 1.03 / 0.99.  It
# also leaves room in the AVX2 target's 512 KiB L2 (AMD EPYC) for the packed weights and the
# input rows beside the slot.
IR_BAND_BYTES = 320 * 1024
# Re-measured on the Intel Xeon host (n32-mnas, 2 MiB L2; AVX2 emulation, 1 thread,
# subgraph_shapes.py, this budget / the other in one process, 21 rounds, bit-identical, load
# ~9): MnasNet's layers.8.1-8.2 (24-72-24 at 56x56, 8-row bands) against 160 KB (4 rows)
# 0.955 [0.927-0.981], 640 KB (20) 0.940 [0.921-0.952], 1 MB (28) 0.950 [0.932-0.979];
# MobileNetV2's features.3 (24-144-24, 4 rows) against 640 KB (8) 0.976 [0.949-1.002]: kept.
# On the Zen 3 target (512 KiB L2; h53-l2, 2026-12-07, const_ab.py, whole networks, 30 rounds x
# 5, bit-identical, base against itself 0.996-1.003), 160 / 480 / 640 KB against 320: 1 thread
# MobileNetV2 1.006 / 1.009 / 1.001, MnasNet 1.010 / 1.013 / 1.008, V3-Large 1.007 / 1.015 /
# 1.010; 2 threads (--threads 2 under chrt -f 10) 160 / 480 KB MobileNetV2 0.996 / 1.016,
# MnasNet 0.993 / 1.000, V3-Large 1.002 / 0.999: kept, as IR_BAND_BYTES_S2 (120 / 480 KB
# 0.994-1.016 at 1 thread on the four networks with stride-2 bands).
# ... and for stride-2 blocks, whose best bands alone (4-16 rows) cost more in the networks,
# where the block's workspace, input and output are not in cache: per step in the network,
# AVX2 emulation, 1 thread, min / median of 100 profiled runs, both budgets alternating in one
# process (2026-12-01 20:45, loaded host), 240 KB / 640 KB: MnasNet's layers.8.0 (16-48-24 at
# 112x112, 12 -> 4 rows) 0.93 / 0.91, MobileNetV2's features.2 (16-96-24) 0.97 / 0.92,
# MobileNetV3-Large's features.2 (16-64-24) 1.0 / 0.94, MobileNetV2's features.4 (24-144-32 at
# 56x56) 1.0 / 0.99; 120 KB and 400 KB about as 240 KB; LRASPP's 256x256 and 64x64 stride-2
# blocks unchanged.  At 2 threads (min of 150, same session, loaded host) 0.80, 0.92 and 0.84 on
# the three 112x112 blocks, but 1.17 on features.4, cut to 2-row bands (so only from
# IR_BAND_S2_MIN_W wide).  Lone, band 4 ran 1.03 of band 12's time on layers.8.0 with every
# buffer in cache, 1.01 with the caches flushed before each run.
# Re-measured on the Zen 3 target (s24, native, 1 thread, subgraph_shapes.py, 21 rounds, the
# budget alone changed in a copy of the package, same bits): MnasNet's layers.8.0 at 240 KB
# (4-row bands) against 120 KB (the same bands after the DW_ROWS round-up: the control) 0.992
# [0.985-1.003], 480 KB (8 rows) 0.956 [0.931-0.968], 960 KB 0.901
# [0.890-0.920] of their time: kept.
IR_BAND_BYTES_S2 = 240 * 1024
# Where MnasNet's early blocks stand (s26, Zen 4 host, AVX2 emulation, 1 thread; per step, min
# of 8 rounds of profiled runs, benchmarks/mt_steps.py --depth 5 --stat min, 59debfb): tinycnn /
# onnxruntime layers.8.0 (16-48-24 at 112x112, 3x3/2, banded) 0.386 / 0.315 ms (its nodes:
# expansion 0.187, depthwise 0.055, projection 0.073), 8.1 and 8.2 (24-72-24 at 56x56) 0.296 /
# 0.290 and 0.288 / 0.289, 9.0 (24-72-40, 5x5/2, unfused) 0.233 / 0.213, 10.0 0.285 / 0.273,
# every later block 0.89-0.99; the network 7.11 / 7.98.  perf of layers.8.0 cut alone: the
# expansion's GEMM tiles 43% of its samples (about 80% of the FMA peak), the projection's 14%,
# the column-split depthwise 15% (a third of it in its per-plane setup and each row's masked
# first vector), the input's column-split copy 7%, the band driver (ir_task, the carried rows'
# memmove, GEMM dispatch) about 3%: no single stage left to win back the 0.07 ms, and the
# driver is not where it goes.
# Session 28 (Zen 4 host, AVX2 emulation, 1 thread, 26b50c0; benchmarks/steps_vs_ort.py, 30
# rounds, per-run minima): tinycnn / onnxruntime per block, stem block 0.567 / 0.595 ms, 8.0
# 0.369 / 0.313 (onnxruntime's expansion 0.186, depthwise 0.055, projection 0.072), 8.1 0.299 /
# 0.288, 8.2 0.291 / 0.286, 9.0 0.223 / 0.211, 10.0 0.287 / 0.272, every later block 0.88-1.00;
# cut alone (subgraph_shapes.py, 15 rounds) stem block 0.98, 8.0 1.07, 8.1-8.2 0.98, 9.0 1.06.
# perf of layers.8.0 in benchmarks/ir_ab.c (340 us a run, 4-row bands): the expansion's tiles
# 48% (about 160 us for 19.3 MFLOP: the FMA peak), the projection's 17% (peak), the
# column-split depthwise 17% (58 us, 47 GF/s), the input's column-split copy 9% (31 us: x read
# from beyond L2 for the expansion), ir_task / the carried rows' memmove / GEMM tails 6%.  The
# 1x1 stages cannot go faster; what separates it from onnxruntime is the stride-2 depthwise
# and its copy (89 us against onnxruntime's 55 over the whole 2.4 MB tensor).
# h35-mnas (Intel Xeon host, AVX2 emulation, 1 thread, 2026-12-05, base 26eb7c3, loaded host;
# steps_vs_ort.py --detail 5, 30 rounds, minima, ms, tinycnn / onnxruntime): stem block 0.540 /
# 0.631, layers.8 0.968 / 1.109, .9 0.667 / 0.818, .10 1.028 / 1.237, .11 0.843 / 0.886 (0.95),
# .12 1.944 / 2.214 (0.88), .13 0.639 / 0.699, .14 0.415 / 0.455, classifier 0.337 / 0.476.
# Past layers.10 both engines' 1x1 layers run at 88-97 GF/s of 111 (onnxruntime's 11.1
# expansion 0.225 ms, projection 0.219 for 21.7 MFLOP each; ours, the block 0.479 with its
# depthwise); we win the depthwise (dw8 ~0.6 ms of a run against onnxruntime's ~1.2 in those
# blocks) and the GEMV, not the GEMMs.  budget.py --classes (15 rounds, loaded): GEMM classes at
# 81% of peak, the target needs 89% with today's rest; perf (cpu-clock) of a run: chan8_expand
# 28%, the GEMM strips 30%, dw8 8%, the GEMV 4%, the stem block's kernels ~6%.
IR_BAND_S2_MIN_W = 96
# Session 29 (Zen 4 host, AVX2 emulation, 1 thread, load 1-2): every stride-2 depthwise of the
# mobile networks, our kernel alone (benchmarks/dw_ab.sh, 11-21 rounds, median) / onnxruntime's
# node (steps_vs_ort.py --detail 5, min of 15 rounds), us.  Banded, column-split kernel on
# whole planes: MobileNetV2's features.2 96@112 Clip 190 / 151, .4 144@56 76 / 57; MnasNet's
# layers.8.0 48@112 78 / 53; MobileNetV3-Large's features.2 64@112 128 / 81; V3-Small's
# features.2 72@56 38 / 25.  Unfused, channel-block kernel: 5x5 72@56 (MnasNet's 9.0, V3-Large's
# .4) 57-63 / 51-52; 5x5 120@28 27 / 46, 480@14 30 / 39, 672@14 47 / 51; 3x3 240@28 HardSwish
# (V3-Large's .7; now chan8) 38 / 32.  chan8: MobileNetV2's .7 192@28 (alone 35 / 25) and .14
# 576@14 (27 / 20).  The whole-plane numbers overstate the banded ones: in 4-row bands the
# column-split kernel runs 0.38 ns an output from L1 (dw_ab, DW_AB_ROWS=7), onnxruntime's node
# 0.35-0.50; what the 112x112 blocks lose to onnxruntime is in the 16-deep expansion and the
# band driver more than in the depthwise (see above).
# Re-measured on an AMD EPYC Zen 4 host (1 MiB L2; the AVX2 target's is 512 KiB), AVX2
# emulation, 1 thread, per step in the network, min / median of 80-150 profiled runs, the
# settings alternating in one process, load 4-9 on 2 cores (2026-12-02 10:00-10:15): flat.
# MobileNetV3-Large's features.2 (16-64-24 at 112x112, s2) at the band 240 KB gives (4 rows)
# 0.532 / 0.70 ms, 480 KB (8) 0.536 / 0.83, 1 MB (12) 0.547 / 0.83, unfused 0.664 / 1.02;
# features.3 (24-72-24 at 56x56) at 320 KB (8 rows) 0.318 / 0.38, 160 KB (4) 0.324 / 0.45,
# 640 KB (16) 0.328 / 0.46, unfused 0.313 / 0.45.  MobileNetV2's features.2 (16-96-24 s2)
# bands 4 / 2 / 3 / 8: 0.778 0.877 0.825 0.807 (the round-up to DW_ROWS holds: its 4-row slot
# is 473 KB, past the budget); features.3 and .4 at 4 or 8 rows 0.646-0.652 and 0.414-0.415.
# MnasNet's layers.8.0 / 8.1 / 8.2 the same at 240 or 480 KB (s2) and 160 or 320 KB; 8.1
# unfused (IR_FUSE_S1_FACTOR 1) 0.315 / 0.50 against fused 0.320 / 0.47.  The stride-2
# blocks of 0.9 MB still lose fused: MobileNetV3-Small's features.2 1.13, MnasNet's layers.9.0
# 1.06.  Against onnxruntime (per step, min) these blocks are 0.94-1.14: MobileNetV3-Large's
# features.2 0.53 / 0.46, .3 0.32 / 0.29; MobileNetV2's .2 0.78 / 0.83, .4 0.41 / 0.39.  Their
# 1x1 layers run at 1.0-1.1 of onnxruntime's and at the FMA peak within 10-15%; the stride-2
# depthwise is the difference, 1.7-2.0 of onnxruntime's alone (MobileNetV3-Large's features.2
# 0.164 / 0.081 ms, MobileNetV2's features.4 0.106 / 0.061, MnasNet's 5x5 layers.9.0 0.098 /
# 0.052), less in the band (column-split, 0.107 + 0.038 of copy on features.2, perf).
# Session 19 (same host, 2026-12-02 20:33-20:50, load 2-5, AVX2 emulation, 1 thread; in one
# process, benchmarks/subgraph_shapes.py, thread CPU time, median of the per-round ratios): every
# MobileNetV2 block runs at 0.99-1.08 of onnxruntime's (features.1 with the stem 1.02, .2 0.99,
# .3 0.93-1.02, .4 1.04-1.06, .5 to .17 0.97-1.08 over reruns), the network at 0.94-1.03.
# No block is far behind: the time is in the work.  perf over the whole network: the GEMM
# tiles 68% of the run (about 81% of the FMA peak over the 1x1 layers' 534 MFLOP), the
# depthwise kernels 16%, the stem 3%, the column split 2%, the classifier's GEMV 2%.
# onnxruntime per node (min of 300 profiled runs): features.2 expansion 504 us, depthwise 147,
# projection 140; features.4 252, 57, 71: its stride-2 depthwise is the one stage clearly
# faster than ours (about 0.09 ms + 0.02 of split copy, perf).  Tried and left, against this
# planning, current / tried (above 1: the tried one faster):
# - every block banded (IR_FUSE_MIN_BYTES 0, the usual bands): features.5 to .11 0.97-1.07,
#   .12 to .17 0.76-0.97 (bands of 4 rows on 14x14 and 7x7 maps cut the GEMMs' columns);
# - the blocks under the threshold as one band of the whole image (the three layers as one C
#   call, the expanded tensor in the step's workspace): blocks 0.96-1.04, the network 0.96,
#   0.99, 1.01 (three runs);
# - twice the band budgets (640 KB, 480 KB stride 2: features.3 and .4 in 8-row bands, .2
#   unchanged): features.3 alone 1.00-1.06, the network 0.98, 0.99.  Half the budgets plan the
#   same MobileNetV2 bands (the DW_ROWS round-up).
# Session 23, on the target (AMD EPYC Zen 3, 512 KiB L2, native, 1 thread; subgraph_shapes.py
# against the base, 21 rounds, median [25-75%], load 13-17): IR_FUSE_MIN_BYTES 400 KB, so that
# the 28x28 E=192 (602 KB) and 14x14 E=576 (451 KB) blocks run in bands too, since their
# expanded and depthwise tensors no longer fit L2 together: features.11-.13 1.102
# [1.089-1.116] of the unfused time, features.5-.6 1.014 [0.997-1.029], the network 1.032.
# Session 25, the same target (the planning alone changed in one process, the same bits,
# median [25-75%] of the current plan's time; the host loaded, where a plan compared with itself
# read 0.94-1.06): the 3x3/2 blocks of 0.6-1.5 MB banded too: MobileNetV2's features.7 (32-192
# at 28x28) 0.955 [0.916-0.981] and 0.951 [0.911-0.974] (21 and 31 rounds), MobileNetV3-Large's
# features.7 (40-240 at 28x28) 0.941, 1.017 and 1.024 [0.932-1.053], ShuffleNetV2's stage2.0
# branch 0.953 [0.889-1.073]; whole networks (41 rounds) 0.993, 1.016 and 0.996: left.
# MobileNetV3-Large's features.3 (24-72-24 at 56x56) at 160 / 640 KB bands or unfused 1.022 /
# 1.017 / 1.014: flat.  Its features.2 (16-64-24 at 112x112, 3x3/2) runs 1.26-1.33 of
# onnxruntime's time (0.94-1.05 ms against 0.77-0.79): perf, the GEMM tile 60% (the 16-deep
# expansion and the projection), the split depthwise 15%, the column split of the input 7%.
# Session 27 (Zen 4 host, AVX2 emulation, 1 thread, de8dfca; benchmarks/steps_vs_ort.py, 40
# rounds, per-run minima, load 8-13): MobileNetV2 6.75 against onnxruntime's 7.62 ms (0.89);
# per block tinycnn / onnxruntime: the stem with features.1 0.94, .2 0.83, .3 0.94, .4 0.94, .5
# 1.00, .6 0.96, .7 0.95, .8-.11 0.89-0.91, .12 and .13 0.94-0.95, .14 0.92, .15-.18 0.82-0.85,
# the classifier 0.53.  The 1x1 layers alone run at 100-112 GF/s (86-97% of the 116 GF/s FMA
# peak, benchmarks/pointwise_ab.c) and take about 5 ms of the 6.75: a ratio of 0.80 (6.1 ms)
# would leave about 1 ms for the depthwise layers (about 1.15 ms now, 36 GF/s on average), the
# stem and the classifier.  The depthwise layers of the unfused 28x28 and 14x14 blocks transpose
# 8 x 8 blocks in and out of the NCHW planes (0.2 and 0.28 of their time, s18); an expansion
# written channel-blocked (NHWC8) for them, prototyped in benchmarks/chan_nhwc_potential.c
# against the real kernels, same bits: expansion + depthwise 0.86 (32-192 at 28x28), 0.89
# (64-384 at 14x14), 0.90 (96-576 at 14x14), 0.95 (160-960 at 7x7); the projection on the
# NHWC8 depthwise output as channel-lane tiles 0.97-1.13 of the depthwise + projection (0.97
# only for 32 output channels); the stride-2 blocks' expansion + depthwise 0.86 (32-192 at
# 28x28, features.7) and 0.92 (96-576 at 14x14, features.14).  About 0.2 ms of the network
# (3%), not built this session (a
# channel-lane expansion into the step's workspace, the depthwise's channel-block kernel reading
# it without transposes, the projection as now; 1 thread, or the
# channel blocks split over the threads).  Built so at the session's end (1 thread, AVX2, the
# same bits; benchmarks/ir_chan8.patch, not applied): blocks 0.94-1.00 of their time
# (features.7 0.938, .9 0.976, .13 0.993, .5 0.996, .16 1.001) but the whole network 1.026
# (twice, 21-25 rounds); with the activation kinds made constants (tc_act_avx2's switch per
# vector had cost the lone kernels their gain) features.5 0.918, .13 0.980, the network still
# 1.017 [1.007-1.030]: it loses there, for a reason not found (the patch's header).


def fuse_min_bytes(c0, strides):
    """The least expanded tensor, in bytes, of a block that runs in bands, for its input
    channels and its depthwise's strides (None: 1)."""
    s1 = not strides or all(s == 1 for s in strides)
    shallow = c0 <= (IR_FUSE_SHALLOW_C0 if s1 else IR_FUSE_S2_SHALLOW_C0)
    return IR_FUSE_MIN_BYTES * IR_FUSE_S1_FACTOR if shallow else IR_FUSE_MIN_BYTES


def band_budget(stride, w):
    """The byte budget of a band's slot for a block whose depthwise has this stride, on an
    input w pixels wide."""
    return IR_BAND_BYTES_S2 if stride > 1 and w >= IR_BAND_S2_MIN_W else IR_BAND_BYTES

_STAGES = ("expand", "depthwise", "project")


# The depthwise kernel computes DW_ROWS output rows at a time (TC_DW_ROWS, csrc/depthwise_body.h):
# a band of 4k + 1..3 rows pays a whole pass for its last 1-3.  Lone blocks (AVX2 emulation,
# 1 thread, thread CPU time, 2026-12-01, halo carried between bands), bands 3 4 5 6 8 12:
# 16-96-24 112x112 s2 1.02 0.945 1.04 1.00 0.937 0.940 ms; 24-72-24 128x128 2.27 2.12 2.32 2.23
# 2.11 2.08 ms; likewise 16-64-24 256x256 s2, 40-240-80 64x64 s2 and 24-144-24 56x56.
DW_ROWS = 4


def band_rows(e, w, ow, oh, kh, stride, dilation, threads):
    """Depthwise output rows per band: the most whose slot fits band_budget, then evened
    out so that the bands split equally over the threads, then rounded up to a multiple of
    DW_ROWS where the count of bands still splits equally (rounding down, measured at 1
    thread only, is left: at 2 threads it would cut 56x56 blocks to 4-row bands)."""
    def slot(b):
        return 4 * e * (((b - 1) * stride + (kh - 1) * dilation + 1) * w + b * ow)
    band = 1
    while band < oh and slot(band + 1) <= band_budget(stride, w):
        band += 1
    nbands = -(-oh // band)
    nbands = -(-nbands // threads) * threads
    band = max(1, -(-oh // nbands))
    up = -(-band // DW_ROWS) * DW_ROWS
    band = up if up < oh and -(-oh // up) % threads == 0 else band
    if threads == 2:
        # An equal count of bands is not an equal count of rows: 112 rows in bands of 12 are
        # 60 + 52 rows at 2 threads (the last band 4 rows), and the thread with 52 waits a
        # band for the other; 56 rows in bands of 7 pay a depthwise pass of 8 rows each.
        # Among whole depthwise passes no longer than this band, take the one whose claiming
        # ends first (bands_makespan; ties: the longest band).  Only at 2 threads, the one
        # count measured on this 2-core host (it would also move 3- and 4-thread bands).
        # Measured (s21, 2026-12-03 03:44-03:50, AVX2 emulation, SCHED_FIFO, 2 threads):
        # MobileNetV2 with an instrumented pool timing each chunk (300 runs): its first block
        # (bands of 12 -> 8) 390 / 344 -> 353 us a run, the threads' idle at its end 45 / 41
        # -> 15 us.  Lone blocks, both band choices in one process, bursts alternating (the
        # control, one band twice: 0.99-1.01): that first block 0.93 / 0.98 / 0.98 / 0.99 of
        # the time; MobileNetV2's features.4 (28 rows, 3 -> 4: 15 + 13 rows, 10 passes of 4,
        # against 16 + 12 rows claimed as 14 + 14 in 7 bands) 0.97 / 0.99 / 0.97 / 1.01 /
        # 0.91; MnasNet's layers.8.1 and 8.2 (56 rows, 7 -> 4) 0.96 / 0.96 / 0.98.  Counting
        # rows alone would keep 3 and 7: the half-row weight of the depthwise pass's rounding
        # is what picks them (04:16, load 7-9: features.4 0.95, layers.8.1-8.2 0.84; V3-Large's
        # 24-72-24 at 56x56, the same geometry, moves 7 -> 4 too, not timed).  Whole networks,
        # both choices in one process, 30 rounds of 10 runs: MobileNetV2 1.000 / 0.994 /
        # 0.983, MnasNet 0.993 / 0.992 / 0.994.  1 thread unchanged; bands never change results.
        # h46-v3 (2026-12-06, Xeon KVM guest, AVX2 emulation, 2 threads): V3-Large's features.3
        # (24-72-24 at 56x56, these 4-row bands) in the network against other bands forced
        # (benchmarks/ir_band_2t_switches.patch; env_steps_ab.py --fifo, 6 processes a variant,
        # step minima, bit-identical): 169.7 us here, 28 rows (one band a thread) 1.024, 14
        # 1.070, 8 (4 + 3 bands; a noisier run) 1.07, as chan8 bands of 14 rows 1.050: kept.
        # Its threads split the rows as features.2's do (input lines local but the halo); the
        # step scales 1.67x (304.5 -> 182.8 us) against onnxruntime's 1.59x.
        cands = [b for b in range(DW_ROWS, max(band, up) + 1, DW_ROWS) if b < oh]
        best = min(cands + [band], key=lambda b: (bands_makespan(oh, b, threads), -b))
        if bands_makespan(oh, best, threads) < 0.99 * bands_makespan(oh, band, threads):
            band = best
    return band


def bands_makespan(oh, band, threads, pad=0.5):
    """When the last of `threads` equally fast threads ends, claiming the bands of oh rows as
    the pool does (tc_parallel_for_dynamic: thread t from band nbands t / threads on, each
    the next unclaimed band in its order), a band costing its rows plus `pad` of each row
    its depthwise pass adds (rounding up to DW_ROWS)."""
    nbands = -(-oh // band)
    cost = [r + pad * (-(-r // DW_ROWS) * DW_ROWS - r)
            for r in (min(band, oh - i * band) for i in range(nbands))]
    claimed = [False] * nbands
    nxt = [nbands * t // threads for t in range(threads)]
    left = [nbands] * threads
    free = [0.0] * threads
    while True:
        t = min(range(threads), key=lambda i: (free[i] if left[i] else float("inf"), i))
        if not left[t]:
            return max(free)
        while left[t] and claimed[nxt[t]]:
            nxt[t], left[t] = (nxt[t] + 1) % nbands, left[t] - 1
        if left[t]:
            claimed[nxt[t]] = True
            free[t] += cost[nxt[t]]


def _stage_values(inputs):
    """((W, B, S) per stage, R) from InvertedResidual's inputs."""
    X, W1, B1, W2, B2, W3, B3, R, S1, S2, S3 = (list(inputs) + [None] * 11)[:11]
    return X, ((W1, B1, S1), (W2, B2, S2), (W3, B3, S3)), R


def ir_macs(inputs, outputs, **attrs):
    """The three convolutions' multiply-adds."""
    X, stages, _ = _stage_values(inputs)
    Y = outputs[0]
    (W1, _, _), (W2, _, _), (W3, _, _) = stages
    if X is None or Y is None or W1 is None or W2 is None or W3 is None:
        return 0
    n, c0, h, w = X.shape
    e, k2 = W1.shape[0], W3.shape[0]
    out_pixels = Y.size // (n * k2)
    return n * e * c0 * h * w + n * e * int(np.prod(W2.shape[1:])) * out_pixels + Y.size * e


def ir_window(inputs, outputs, *, depthwise, **attrs):
    """The depthwise convolution's (span, stride): the 1x1 ones keep each pixel's field."""
    X, stages, _ = _stage_values(inputs)
    return conv_window([X, stages[1][0]], outputs, dilations=depthwise.get("dilations"),
                       strides=depthwise.get("strides"))


def _conv_args(n, attrs, S, k):
    a = dict(attrs)
    act = _activation(n, a.pop("activation", ""), a.pop("activation_alpha", None),
                      a.pop("activation_beta", None), S)
    if act["slope"] is not None and act["slope"].size != k:
        raise n.error(f"fused PRelu slope has {act['slope'].size} values for {k} output channels")
    geometry = {key: a.get(key) for key in ("auto_pad", "dilations", "group", "kernel_shape",
                                             "pads", "strides")}
    geometry["auto_pad"] = geometry["auto_pad"] or "NOTSET"
    geometry["group"] = 1 if geometry["group"] is None else geometry["group"]
    return act, geometry


def constant_stages(stages):
    """Whether every stage (W, B, S, attrs) of a fused node has constant 4-D weights and a
    constant bias (or none): what a banded kernel packs once."""
    return (all(W is not None and W.const is not None and W.ndim == 4 for W, _, _, _ in stages)
            and all(B is None or B.const is not None for _, B, _, _ in stages))


def plan_stages(n, X, stages, tags):
    """Each stage (W, B, S, attrs) planned as a tinycnn::Conv (conv_layer, cached under its tag)
    on the output of the one before, the first on X: [PlannedConv]."""
    planned, x = [], X
    for tag, (W, B, S, attrs) in zip(tags, stages):
        act, geo = _conv_args(n, attrs, S, W.shape[0])
        c = conv_layer(n, x, W, B, act, geo["auto_pad"], geo["dilations"], geo["group"],
                       geo["kernel_shape"], geo["pads"], geo["strides"], tag)
        planned.append(c)
        x = Value("", c.out_shape, np.float32)
    return planned


@op("InvertedResidual", domain=FUSED_DOMAIN, cost=ir_macs, window=ir_window)
def InvertedResidual(n, X, W1, B1=None, W2=None, B2=None, W3=None, B3=None, R=None, S1=None,
                     S2=None, S3=None, *, expand, depthwise, project):
    """Conv 1x1 -> depthwise Conv -> Conv 1x1 [+ R], each with its fused activation (S: a
    PRelu's slope); expand, depthwise, project: each tinycnn::Conv's attributes."""
    require_float(n, X, W1, W2, W3, B1, B2, B3, R)
    stages = ((W1, B1, S1, expand), (W2, B2, S2, depthwise), (W3, B3, S3, project))
    fused = _plan_chan8(n, X, stages, R, _chan8_band(n, X, stages))
    if fused is None:
        fused = _plan_banded(n, X, stages, R)
    if fused is None:
        fused = _plan_chan8(n, X, stages, R)
    if fused is not None:
        return fused
    y = X
    for tag, (W, B, S, attrs) in zip(_STAGES, stages):
        act, geo = _conv_args(n, attrs, S, W.shape[0] if W is not None else 0)
        (y,) = _conv(n, y, W, B, R if tag == "project" else None, act, geo["auto_pad"],
                     geo["dilations"], geo["group"], geo["kernel_shape"], geo["pads"],
                     geo["strides"], tag=tag)
    return [y]


def _plan_banded(n, X, stages, R):
    """The banded block's step, or None where it does not apply or not pay."""
    if X.ndim != 4 or not constant_stages(stages):
        return None
    e = stages[0][0].shape[0]
    if 4 * e * X.shape[2] * X.shape[3] < fuse_min_bytes(X.shape[1], stages[1][3].get("strides")):
        return None
    expand, dw, project = plan_stages(n, X, stages, _STAGES)
    if (expand.algo not in ("1x1", "1x1_chan") or project.algo not in ("1x1", "1x1_chan")
            or dw.algo != "depthwise" or dw.layer.in_channels != dw.layer.out_channels
            or dw.out4[1] != e or expand.layer.in_channels != X.shape[1]):
        return None
    out_shape = project.out_shape
    if R is not None and R.shape != out_shape:
        return None
    nb, _, h, w = X.shape
    oh, ow = dw.out4[2:]
    band = band_rows(e, w, ow, oh, dw.layer.kernel_shape[0], dw.strides[0], dw.dilations[0],
                     n.options.num_threads)
    block = n.cached(("ir_fused", band), lambda: K.IRFused(expand.layer, dw.layer,
                                                           project.layer, band))
    return _emit_block(n, X, R, block, h, w, project.out4, out_shape)


def _emit_block(n, X, R, block, h, w, out4, out_shape):
    """The step of a fused block (IRFused or IRChan8): x [+ r] -> y, its workspace the
    block's at h x w; the output (and residual) seen as out4."""
    bind, ws = block.bind, block.workspace_size(h, w)
    if R is None:
        def ir_block(x, y, *ws_):
            return bind(x, y.reshape(out4), None, ws_[0] if ws_ else None)
        return n.emit(bound_step(ir_block), [X], [(out_shape, np.float32)], workspace=ws)

    def ir_block_residual(x, r, y, *ws_):
        return bind(x, y.reshape(out4), r.reshape(out4), ws_[0] if ws_ else None)
    return n.emit(bound_step(ir_block_residual), [X, R], [(out_shape, np.float32)], workspace=ws)


# Blocks whose input has fewer pixels keep the three layers.  In MobileNetV2 (benchmarks/
# steps_ab.py, both builds in one process, 40 rounds, 2026-12-04) the 7x7 blocks lost 5-7%
# through chan8 (features.15-16 1.05-1.07, .17 1.05, with the strips and the prefetch of
# csrc/ir_chan8_avx2.c; 1.06-1.09 before them): their expansion (160 -> 960 at 49 pixels) ran
# 1.10 of the row tiles' time hot and 1.23 with the weights cold (lone, thread CPU), more than
# the depthwise gained (39 -> 27 us hot).
_CHAN8_MIN_PIXELS = 64
# ... and at 1 thread (n32-mnas) the blocks and pairs of 7x7 too, on
# the Intel Xeon host (Sapphire Rapids class, 2 MiB L2; AVX2 emulation, 1 thread, 2026-12-05,
# bit-identical), with the expansion's 49 pixels as 4 x 6 + 5 x 5 (csrc/ir_chan8_avx2.c
# chan8_expand_k): benchmarks/subgraph_shapes.py --against the base, MnasNet's layers.12.1-13.0
# cut from the network (192-1152-192 5x5 three times, 192-1152-320 3x3) 0.921 [0.911-0.931] of
# its time (21 rounds; 0.938 [0.926-0.952] with the 1-pixel tail, and the two 0.989
# [0.974-1.015] of each other, 31 rounds).  With the 1-pixel tail: alone 12.1 0.936, 13.0
# 0.943, MobileNetV2's features.15 0.909, .17 0.945; inside MnasNet (benchmarks/steps_ab.py,
# 40 rounds) 12.1-12.3 0.939-0.947, 13.0 0.971, the next step (layers.14) 1.000.  With the
# 5 x 5 tiles inside MobileNetV2 (steps_ab.py, 40 rounds): features.15-.17 0.952 / 0.970 /
# 0.983, but the 1x1 after them (features.18) 1.022 (the arena lines the chain left cold, see
# csrc/ir_chan8_avx2.c).  plan_chan8_pair's pairs before an SE (MobileNetV3's 5x5 at 7x7: Large's
# features.14-15, 160-960; Small's features.10-11, 96-576) likewise, whole networks
# (subgraph_shapes.py, this against the blocks alone at 7x7, 41 rounds, bit-identical): V3-Large
# 0.978 (the other / this 1.023 [1.008-1.045]; 31 rounds 1.025 [1.004-1.048]), V3-Small 0.969
# (1.032 [1.022-1.047]; 31 rounds 1.031 [1.014-1.043]); inside V3-Small (steps_ab.py against the
# base, 40 rounds) features.10 0.902 [0.843-0.969], .11 0.930, the 1x1 after them 1.017.
# Both together against the base (9304e62), whole networks, 41 rounds, each order once
# (subgraph_shapes.py favours its --against build on this host: the same code against a copy
# of itself read 1.008 and 1.031), this / the base, then the base / this: MnasNet 0.989
# [0.976-1.004] / 1.027 [1.017-1.039] (geometric mean of the two: 0.981), MobileNetV2 1.012
# [0.992-1.025] / 1.021 [1.013-1.036] (0.996), V3-Large 1.002 / 1.033 (0.985), V3-Small 0.995
# / 1.031 (0.982); bit-identical.
# n33-2t: at 2 threads too (the strips claimed by the threads, E = 960 / 1152: 60-72 strips, then
# the projection as the GEMM splits it), where the three layers ran, each split: ab_threads.py
# --fifo against the base (40 rounds x 10 runs, AVX2 emulation, 2026-12-05, bit-identical)
# MnasNet 0.985 [0.960-1.000] and 0.985 [0.970-1.004], MobileNetV2 0.969 [0.947-0.992],
# MobileNetV3-Large (its 7x7 pairs) 0.992 [0.964-1.025] (s30's 1.017 at 2 threads was before
# the 5- and 6-pixel tiles).  Per step with the 112x112 bands below (steps_ab.py --threads 2
# under chrt -f 10, 40 rounds x 5): MobileNetV2's features.15 / .16 / .17 0.895 / 0.949 /
# 0.977, MnasNet's layers.12 0.967, V3-Large's features.14 / .15 0.950 / 0.970; but the 1x1
# after the chain pays more than at 1 thread: MobileNetV2's features.18 1.070 [1.058-1.078],
# MnasNet's layers.14 1.085 [1.078-1.096] (+17 us: MnasNet's run 0.997), V3-Large's
# features.16 1.027 (the arena lines the chain left cold, see csrc/ir_chan8_avx2.c).
_CHAN8_MIN_PIXELS_1T = 49
# At 2 threads (s30) the block's 16-channel strips are claimed by the threads, then the
# projection runs as the GEMM splits it (csrc/ir_fused.c tc_ir_chan8_f32), where the base ran
# the three layers each split over the threads.  MobileNetV2 at 2 threads, separate processes
# alternating (benchmarks/pool_ab.py --fifo, 15 rounds in 3 sets of processes, AVX2 emulation,
# 2026-12-04, load 4-5): 4.54 against 4.94 ms, base / new 1.091 [1.050-1.143]; in one process
# (ab_threads.py --fifo, 20 rounds) new / base 0.912 [0.902-0.941]; bit-identical.
# MobileNetV3-Large (features.7) 0.997 [0.926-1.016] of the base's time, level.  Not measured
# past 2 threads: left out there.  Each group pays at 2 threads (the network in one process,
# ab_threads.py --fifo, 20 rounds, this plan against variants of it): the 14x14 blocks back on
# the three layers 1.048 [1.015-1.084] of its time, the 28x28 ones 1.028 [0.968-1.069]; the 7x7
# blocks through chan8 too (no _CHAN8_MIN_PIXELS at 2 threads) 1.017 [1.005-1.025]: left out.
# The strips handed out statically (tc_parallel_for, one range per thread) instead of claimed:
# 1.005 [0.988-1.058] against a relinked copy of the same code at 1.013: level, claimed kept.
# n32-2t: at 2 threads the blocks planned whole run in rows instead, a band of output rows per
# thread (csrc/ir_fused.c chan8_rows_band): MobileNetV2 0.966, MnasNet 0.954 of that time.
_CHAN8_MAX_THREADS = 2
# n31-2t (2026-12-04 21:0x, AVX2 emulation, one process, ab_threads.py, 60 rounds x 10 runs, host
# at load 1-9, bit-identical): at 2 threads the 5x5 blocks and E % 16 == 8 too (the kernel's
# strips took them already, only the planner kept them to 1 thread): MnasNet 0.973
# [0.966-0.981] of the base's time, MobileNetV3-Large 0.937 [0.887-0.972]; and the pair before
# an SE (plan_chan8_pair) at 2 threads against that: V3-Large 0.975 [0.966-0.999], V3-Small
# 0.975 [0.872-1.042] (EfficientNet-B0, SiLU, no pair planned: 1.000, the control).
_CHAN8_MT_ALL = True  # False: at 2 threads 3x3 with E % 16 == 0 only (session 30)
_CHAN8_PAIR_MAX_THREADS = 2


# s31: the stride-2 blocks of 56x56 or more, at 1 thread, through chan8 ahead of the banded
# block (which took the 56x56 ones with E N past fuse_min_bytes; chan8 did not take 112x112
# whole): the whole map where its padded input fits the block's buffers (band 0), else in bands
# of output rows (csrc/ir_chan8_avx2.c: each band's expansion computes the input rows it reads,
# its halo rows again), the most rows whose padded input rows stay within _CHAN8_BAND_PIXELS,
# evened out over the bands.  Lone blocks, random weights (benchmarks/chan8_band_ab.py, 1
# thread, AVX2, 15 rounds, 2026-12-04), chan8 / the banded block, bit-identical:
#   16-96-24 112x112/2 (MobileNetV2 features.2): bands 4 / 8 / 12 / 14 / 17 rows 0.94 / 0.90 /
#     0.89 / 0.90 / 0.91 (2 rows 1.02: the halo recomputed);  16-64-24 112/2 (V3-Large
#     features.2) 0.92 / 0.89 / 0.885 / - / 0.89;  16-48-24 112/2 (MnasNet layers.8.0) 0.96 /
#     0.92 / 0.91 / - / 0.92;
#   24-144-32 56x56/2 (MobileNetV2 features.4): whole 0.858, bands of 4-24 rows 0.86-0.90;
#     24-72-40 56/2 5x5 (MnasNet layers.9.0, chan8 whole before): whole 0.776, bands 0.79-0.92.
# Stride 1 at 56x56 left on the banded block: 24-144-24 bands of 4-17 rows 1.00-1.13 of its
# time, 24-72-24 1.05-1.17 (the halo is 2 rows a band there, the banded block carries it;
# with the rows carried too, benchmarks/chan8_band_carry.patch: 0.98-1.03 and 1.04-1.07).
# In the networks (subgraph_shapes.py, 12-row bands / 8-row (2048 pixels), 31 rounds, one
# process): MobileNetV2 features.2 0.985 [0.953-1.001], V3-Large features.2 1.005, MnasNet
# layers.8.0 0.997: level.
# At 2 threads (s31, the lead: this gate at 2 threads, the rest as is; pool_ab.py --fifo, separate
# processes alternating, 15-25 rounds x 3 processes, bit-identical) level: MobileNetV2 1.008
# [0.978-1.050] and 0.992 [0.981-1.013], V3-Large 0.986 and 1.016, MnasNet 1.011: 1 thread only.
# Stride 1 in bands too, re-measured on the Intel Xeon host (n32-mnas, subgraph_shapes.py, 21
# rounds, this plan / chan8 bands at stride 1 in one process, bit-identical): MnasNet's
# layers.8.1-8.2 0.889 [0.870-0.924], MobileNetV2's features.3 0.967 [0.951-0.982]: left.
# n32-2t: at 2 threads the whole map (band 0) only, which runs in rows there (csrc/ir_fused.c
# chan8_rows_band: a band per thread, no strips job then projection job); against the banded
# block (MobileNetV2's features.4 in 7 bands of 4 rows: one thread ran 4, the other 3, 58 us
# idle a run in pool_trace.py), bit-identical: MobileNetV2 ab_threads.py --fifo 0.982
# [0.967-1.015] (40 rounds x 10), pool_ab.py --nice -20 0.976 [0.960-0.994] (20 rounds, 4 sets
# of processes); MnasNet (layers.9.0, 5x5) 0.998 / 1.001: level.
_CHAN8_BAND_PIXELS = 3072
_CHAN8_BAND_MIN_PIXELS = 56 * 56
_CHAN8_WHOLE_PIXELS = 4096  # tc_ir_chan8_check's padded input pixels
# h53-mv, on the Zen 3 target (512 KiB L2, AVX2, 1 thread, 2026-12-07, host load 6-13; per step
# inside the network, benchmarks/const_steps_ab.py: the planning constants alone changed,
# sessions of one build in one process, 30-40 rounds x 5 runs, median of the per-round ratios
# [25-75%], a base-vs-base control in each run, bit-identical):
# - stride 1 at 56x56 in chan8 bands too (_CHAN8_S1_BANDS, 1 thread; 4 bands of 14 rows, the
#   halo's 2 rows expanded again each band): MobileNetV2's features.3 (24-144-24) 0.926, 0.956
#   [0.946-0.996] (control 0.994, 1.001); bands of 10 / 7 rows 0.968 / 0.973; MnasNet's
#   layers.8.1 / 8.2 (24-72-24) 0.961 [0.935-0.971] / 0.966 (control 0.994 / 0.995);
#   MobileNetV3-Large's features.3 (24-72-24) 0.963 [0.909-0.984] (control 1.007).  The Intel
#   Xeon (2 MiB L2) had found the banded block faster there (above): the L2 decides.
# - a 56x56 /2 map that could run whole in bands where its depthwise output is past
#   _CHAN8_WHOLE_MAX_BYTES_1T (1 thread; only MobileNetV2's features.4, 24-144-32, 451 KB; 2
#   bands of 14 rows): features.4 0.946, 0.951, 0.969 (bands of 7 / 6 / 4 rows 0.955 / 0.973 /
#   0.956; control 1.003-1.031), but features.5 after it 1.011-1.027 (+3..7 us): net ~-18 us.
# The whole of MobileNetV2 (subgraph_shapes.py against the base ref53, 40 rounds, each order):
# new/base 0.992 [0.954-1.022], base/new 1.011 [0.991-1.053], geometric mean 0.991.
# At 2 threads (_CHAN8_S1_MAX_THREADS 2: chan8_band_mt's 14-row bands, 2 a thread; the same tool
# --threads 2 under chrt -f 10, 80 rounds x 5): MobileNetV2's features.3 0.996 (control 1.010),
# MnasNet's layers.8.1 / 8.2 1.019 / 0.991 (control 0.990 / 1.023): level, 1 thread only.
_CHAN8_WHOLE_MAX_BYTES_1T = 320 * 1024
_CHAN8_S1_BANDS = True
_CHAN8_S1_MAX_THREADS = 1


def _chan8_band(n, X, stages):
    """The output rows per band of the chan8 block planned ahead of the banded one (0: the
    whole map), or None where it is not."""
    W2, _, _, a2 = stages[1]
    strides = tuple(a2.get("strides") or (1, 1))
    if (n.options.num_threads > _CHAN8_MAX_THREADS or X.ndim != 4 or W2 is None or W2.ndim != 4
            or X.shape[2] * X.shape[3] < _CHAN8_BAND_MIN_PIXELS
            or (strides != (2, 2) and not (_CHAN8_S1_BANDS and strides == (1, 1)
                                           and n.options.num_threads <= _CHAN8_S1_MAX_THREADS))):
        return None
    kc, s, h, w = W2.shape[2], strides[0], X.shape[2], X.shape[3]
    oh, ow = (h - 1) // s + 1, (w - 1) // s + 1
    whole = (h + kc - 1) * (w + kc - 1) <= _CHAN8_WHOLE_PIXELS and oh * ow <= 1024
    if whole and (n.options.num_threads > 1
                  or 4 * stages[0][0].shape[0] * oh * ow <= _CHAN8_WHOLE_MAX_BYTES_1T):
        return 0
    if n.options.num_threads > 1:
        return chan8_band_mt(oh, ow, w, kc, s, n.options.num_threads)
    band = 1
    while (band < oh and (band * s + kc) * (w + kc - 1) <= _CHAN8_BAND_PIXELS
           and (band + 1) * ow <= 1024):
        band += 1
    nbands = -(-oh // band)
    return -(-oh // nbands)


# n33-2t: at 2 threads the maps too large to run whole in bands as well, each thread a contiguous
# run of them (csrc/ir_fused.c chan8_rows_band: a band's strips then its projection, serially,
# on a d of the thread's own), the band count a multiple of the threads: the 112x112 stride-2
# blocks, in 4 bands of 14 rows (2 a thread) where they ran the banded block (4-row bands
# claimed by the threads).  AVX2 emulation, 2 threads, bit-identical, 2026-12-05 (Xeon KVM
# guest): per step inside the network (steps_ab.py --threads 2 under chrt -f 10, 40 rounds x 5,
# against the base) MobileNetV3-Large's features.2 (16-64-24) 0.900 [0.879-0.919], MnasNet's
# layers.8 (8.0: 16-48-24, then 8.1-8.2) 0.974 [0.953-0.994], MobileNetV2's features.2
# (16-96-24) 0.962 [0.927-0.992] but the block after it (features.3, 24-144-24 at 56x56 banded)
# 1.056 [1.033-1.074]; the whole of MobileNetV2 (ab_threads.py --fifo, 40 x 10) 0.985
# [0.970-1.004] and 0.993 [0.982-1.009], in 8 bands of 7 rows 0.991 and 0.994 (the base
# against itself 1.010, 0.999).
def chan8_band_mt(oh, ow, w, kc, stride, threads):
    """Output rows per band of a chan8 block at `threads` threads whose map does not run whole:
    the band whose busiest thread expands the fewest input rows (halo rows included; each
    thread a contiguous run of the ceil(oh / band) bands, as tc_parallel_for splits them),
    within tc_ir_chan8_check's padded input rows (ties: the longer band); None where no band
    gives every thread one."""
    best = None
    for band in range(1, oh):
        nb = -(-oh // band)
        if (nb < threads or ((band - 1) * stride + kc) * (w + kc - 1) > _CHAN8_WHOLE_PIXELS
                or band * ow > 1024):
            continue
        ins = [(min(band, oh - b * band) - 1) * stride + kc for b in range(nb)]
        cost = max(sum(ins[nb * t // threads:nb * (t + 1) // threads]) for t in range(threads))
        if best is None or (cost, -band) < best[0]:
            best = ((cost, -band), band)
    return None if best is None else best[1]


def _plan_chan8(n, X, stages, R, band=0):
    """The whole block with its expansion written channel-blocked for the depthwise
    (csrc/ir_chan8_avx2.c: AVX2, 1 or 2 threads), or None.  Inside MobileNetV2
    (benchmarks/steps_ab.py against 26b50c0): its 28x28 blocks 0.88-0.93 of their time, the
    14x14 ones 0.97-0.99, bit-identical; the 7x7 ones are left out (_CHAN8_MIN_PIXELS; at 1 thread
    taken since n32-mnas, chan8_min_pixels).
    HardSwish too (s29): MobileNetV3-Large's features.7 (40-240-80 at 28x28, 3x3/2, HardSwish,
    before: the three layers) 0.860 [0.850-0.909] of its time (subgraph_shapes.py --against
    integ29 43c707b, 21 rounds, bit-identical), 0.878 of onnxruntime's where it was 0.997.
    Session 30 (subgraph_shapes.py --against 844ad21, 41 rounds, bit-identical): 5x5 and
    E % 16 == 8, the blocks that ran the three layers: MnasNet's layers.9.0 (24-72-40 at
    56x56, 5x5/2) 0.839 [0.818-0.868], 9.1 (120@28, 5x5) 0.898, 10.0 (240@28, 5x5/2) 0.852,
    10.1 (480@14) 0.935, 12.0 (576@14, 5x5/2) 0.926; MobileNetV3-Large's features.8 (80-200-80
    at 14x14, HardSwish) 0.884.  At 2 threads all of them since n31-2t (_CHAN8_MT_ALL); not
    past 2 threads (_CHAN8_MAX_THREADS).  band (s31, _chan8_band): output rows a band, 0 the
    whole map, None: not planned."""
    if band is None:
        return None
    expand = _chan8_expand(n, X, stages, _CHAN8_MAX_THREADS, chan8_min_pixels(n))
    if expand is None or (n.options.num_threads > 1 and not _CHAN8_MT_ALL and (
            stages[1][0].shape[2:] != (3, 3) or stages[0][0].shape[0] % 16)):
        return None
    nb, c, h, w = X.shape
    (dw,) = plan_stages(n, Value("", (nb, stages[0][0].shape[0], h, w), np.float32),
                        stages[1:2], _STAGES[1:2])
    sparse = _sparse_weights(n, stages, int(np.prod(dw.out4[2:])))
    dx = Value("", dw.out_shape, np.float32)
    if sparse is not None:
        project = _unpacked_project(n, dx, stages[2])
    else:
        (project,) = plan_stages(n, dx, stages[2:], _STAGES[2:])
    if dw.algo != "depthwise" or project.algo not in ("1x1", "1x1_chan"):
        return None
    if R is not None and R.shape != project.out_shape:
        return None
    block = n.cached(("ir_chan8", band, sparse is not None),
                     lambda: K.IRChan8(expand(), dw.layer, project.layer, band, sparse))
    if not block.takes(h, w):
        return None
    return _emit_block(n, X, R, block, h, w, project.out4, project.out_shape)


# h44-mn: the chan8 block's projection multiplies only the nonzero values of the
# depthwise output (csrc/pw_sparse_avx2.c: each pixel's nonzero bits walked, 12 FMAs of 96
# output channels a value; the same bits as the row GEMM) where the depthwise ends in a ReLU
# or a Clip from 0 (about half its outputs exactly 0 in the networks: benchmarks/relu_zeros.py).
IR_SPARSE_PROJECT = True
IR_SPARSE_MAX_THREADS = 2
# ... where it keeps 5 or 6 strips of 16 channels in registers a pass: lone (pw_sparse_probe.c,
# half the values 0, 1 thread, AVX2, 2026-12-06 15:1x, loaded host) 1152 -> 192 / 320 at 7x7
# 0.80-0.82 / 0.84-0.86 of the row GEMM's time, 576 -> 192 at 7x7 0.82, 576 -> 96 at 14x14 0.88,
# 480 -> 80 0.93-0.95, 240 -> 80 0.96, but 120 -> 40 at 28x28 (3 strips: 6 FMA chains) 1.32;
# with the caches flushed before each call (PW_COLD=1: the network's case, weights from L3)
# 1152 -> 192 0.86, 1152 -> 320 0.92, 960 -> 320 0.89, 960 -> 160 0.94, 576 -> 192 0.95, but
# 576 -> 96 and 480 -> 80 at 14x14 0.98-1.08.  Inside the networks (benchmarks/steps_ab.py
# against the base 48debf1, 1 thread, bit-identical, loaded host: fma_peak 58-83 GFLOP/s):
# K2 >= 80, 80 rounds: MnasNet layers.10 (80 outputs) 1.015, .11 0.982, .12 0.982, .13 0.975,
# the 1x1 after them (layers.14) 1.012, the run 0.998; K2 >= 96, 80 rounds: layers.10 0.999,
# .11 0.986, .12 0.978, .13 0.957, .14 1.014, the run 0.994 [0.915-1.012]; MobileNetV2 (60
# rounds) features.17 (960 -> 320) 0.937, .11-.16 0.991-1.018, the run 1.002.
# h48-mv (Intel Xeon, AVX2 emulation, 1 thread, MobileNetV2, benchmarks/const_ab.py, 40 rounds,
# bit-identical, host load 3.5-4.8, 2026-12-07 04:25): 64 (features.7-.10's 192 / 384 -> 64 sparse
# too) 1.035 [1.012-1.050] and 32 (.5-.6 too) 1.066 [1.047-1.074] of the run, where a second
# base session read 1.023; 128 and 200 (.11-.13, then .14-.16 dense) 1.045 / 1.048 and, in the
# other order, 1.010 / 0.989 (base again 0.998 / 1.021): the host's noise; kept.
IR_SPARSE_MIN_K2 = 96
IR_SPARSE_MAX_PIXELS = 1 << 30  # the depthwise output's pixels
# h45-mn: at 2 threads too (csrc/ir_fused.c: in rows each thread's bands, with strips the
# projection's groups of output channels over the threads; bit-identical), up to E = 960.
# steps_ab.py --threads 2 against the base 7a9c84e under chrt -f 10, 80 rounds x 5, per-round
# median ratios (a loaded host, two runs): MobileNetV2 features.11-.13 (576 -> 96 at 14x14, in
# rows) 0.940-0.982, .14-.16 (960 -> 160 at 7x7, strips) 0.935-0.995, .17 (960 -> 320) 0.912 /
# 0.939, the run 0.984 / 0.995; but MnasNet's E = 1152 blocks (layers.12.1-.3, 1152 -> 192 at
# 7x7 5x5; .13, 1152 -> 320) 1.018-1.034 and 1.009 / 1.027 (its layers.11, 480 -> 96 in rows,
# 0.996-1.013; .12.0, 576 -> 192, 1.007), the run 1.009 / 1.006.  With this limit (a third run,
# 80 rounds): MobileNetV2 features.11-.14 0.986-0.994, .15-.16 1.008-1.018, .17 0.975, the run
# 0.996; ab_threads.py --fifo (30 x 10, both orders) MobileNetV2 0.995-0.999 and (reversed)
# 0.979-0.993, MnasNet 0.993-1.000 and 0.995-0.998; 1 thread level.  But in that third run
# MnasNet's layers.12.1-.13, dense in both builds, read 1.005-1.025 (the tool's spread); so the
# limit against itself without it (this build, the planner only, steps_ab.py --threads 2, chrt
# -f 10, 100 rounds each order): layers.12.1-.3 / .13 dense / sparse 0.974-0.992 / 0.986, and
# sparse / dense 1.038-1.069 / 1.059, the run 0.996 / 1.018: at 2 threads the 1152-deep
# projections lose (lone, chan8_blocks_ab.py --sparse --threads 2, they read 0.94-0.98: in the
# network the weights come from L3; why, untraced).  This build against itself at
# IR_SPARSE_MAX_THREADS = 1 (the planner only; ab_threads.py --fifo, 40 x 10, a loaded host at
# 8-9 ms a run): MobileNetV2 sparse / dense 0.956 (minima 0.967), the other order 1.000
# (0.991); MnasNet 1.000 (0.985), 1.000 / 1.015 (0.999); steps_ab.py there (100 rounds each
# order) put MobileNetV2's features.11-.17 1.01-1.07 slower in whichever build ran as "new"
# (MnasNet's layers.11-.12.0 sparse / dense 1.02-1.04, then 0.99-1.01): per step at 2 threads
# this host tells 1-3% apart from nothing only by whole runs.  Each thread's own next K block
# prefetched (the kernel's last pass prefetches the next group in memory, the other thread's):
# benchmarks/pw_sparse_mt_pf.patch, level.
# h46-mn re-measured it (2026-12-06 22:3x, a host at load 8-15; the limit alone changed in a
# copy of the base package, bit-identical): ab_threads.py --fifo (40 x 10) 960 / 1152 0.990
# [0.979-1.013] of the run, the other order 1.018 [1.006-1.035]: kept.  Per step (steps_ab.py
# --threads 2, chrt -f 10, 150 rounds) layers.12.1-.13 dense / sparse 1.049-1.077 in medians
# (the runs where another process took a core: the sparse groups fare better) but 0.92-1.02 in
# minima (both cores there).  The nonzero bits made by the depthwise instead of the kernel's
# pass over d did not change that (benchmarks/pw_sparse_dw_bits.patch).
IR_SPARSE_MAX_E_MT = 960


def _sparse_weights(n, stages, pixels):
    """The projection's weights [K2, E] for IRChan8's sparse projection, or None."""
    W3, _, S3, a3 = stages[2]
    a2 = stages[1][3]
    act = a2.get("activation") or ""
    lo = a2.get("activation_alpha")
    if (not IR_SPARSE_PROJECT or n.options.num_threads > IR_SPARSE_MAX_THREADS
            or not (act == "Relu" or (act == "Clip" and lo is not None and lo >= 0))
            or W3 is None or W3.const is None or W3.ndim != 4 or tuple(W3.shape[2:]) != (1, 1)
            or W3.shape[0] % 8 or W3.shape[1] % 8 or W3.shape[0] < IR_SPARSE_MIN_K2
            or pixels > IR_SPARSE_MAX_PIXELS
            or (n.options.num_threads > 1 and W3.shape[1] > IR_SPARSE_MAX_E_MT)
            or (a3.get("activation") or "") == "PRelu"
            or not np.isfinite(W3.const).all()):
        return None
    return np.ascontiguousarray(W3.const.reshape(W3.shape[0], W3.shape[1]), np.float32)


def _unpacked_project(n, X, stage):
    """The projection planned as plan_stages plans it (the same algorithm and shapes) on a
    layer made with pack=False (h44-mn2): with the sparse projection at 1 thread the block never
    reads the dense packing, so it is not made (MnasNet: 5 MB less)."""
    W, B, S, attrs = stage
    act, geo = _conv_args(n, attrs, S, W.shape[0])
    # W as a run-time value: conv_layer then plans without a layer (no packing)
    p = conv_layer(n, X, Value("", W.shape, np.float32), B, act, geo["auto_pad"],
                   geo["dilations"], geo["group"], geo["kernel_shape"], geo["pads"],
                   geo["strides"], "project")
    w4 = np.ascontiguousarray(W.const.reshape(p.w4_shape), np.float32)
    b = None if B is None else B.const
    layer = n.cached(("conv_unpacked", "project", p.algo, act["activation"], act["alpha"],
                      act["beta"]),
                     lambda: K.Conv2d(n.ctx, w4, _bias(b), algo=p.algo, strides=tuple(p.strides),
                                      pads=p.pads4, dilations=tuple(p.dilations),
                                      group=int(geo["group"]), pack=False, **act))
    return dataclasses.replace(p, layer=layer)


def chan8_min_pixels(n):
    """The least input pixels of a chan8 block or pair at this session's thread count."""
    return (_CHAN8_MIN_PIXELS_1T if n.options.num_threads <= _CHAN8_MAX_THREADS
            else _CHAN8_MIN_PIXELS)


def _chan8_expand(n, X, stages, max_threads=1, min_pixels=_CHAN8_MIN_PIXELS):
    """A maker of the chan8 block's (or pair's) expansion, stages[0], as a '1x1_chan' layer, or
    None where the block's first stage or the session rule it out (more than max_threads, not
    AVX2, fewer than min_pixels)."""
    if (n.options.num_threads > max_threads or n.ctx.isa != "avx2" or X.ndim != 4
            or not constant_stages(stages)):
        return None
    W1, B1, S1, a1 = stages[0]
    act1, geo1 = _conv_args(n, a1, S1, W1.shape[0])
    if (tuple(W1.shape[2:]) != (1, 1) or geo1["auto_pad"] != "NOTSET" or geo1["group"] != 1
            or any(v != 1 for v in geo1["strides"] or [1])
            or any(v != 0 for v in geo1["pads"] or [0])
            or any(v != 1 for v in geo1["dilations"] or [1])
            or act1["slope"] is not None or W1.shape[1] != X.shape[1]):
        return None
    if X.shape[2] * X.shape[3] < min_pixels:
        return None
    w4 = np.ascontiguousarray(W1.const.reshape(W1.shape), np.float32)
    b1 = None if B1 is None else _bias(B1.const)
    return lambda: n.cached(("conv", "expand", "1x1_chan", act1["activation"], act1["alpha"],
                             act1["beta"]),
                            lambda: K.Conv2d(n.ctx, w4, b1, algo="1x1_chan", strides=(1, 1),
                                             pads=(0, 0, 0, 0), dilations=(1, 1), group=1,
                                             **act1))


# The pair's strips bring its squeeze-and-excitation's weights into L2 while they compute (the
# gate then reads them from L2 instead of memory), at this many threads or fewer (h36-v3l).
# Before it (Intel Xeon host, AVX2 emulation, 1 thread) MobileNetV3-Large's gates took 41 us
# (480 channels), 74-76 (672) and 146-149 (960), the 0.46-1.8 MB of weights from memory at
# ~12-16 GB/s.  Per step inside the network (steps_ab.py --depth 5 against the base, 60 rounds
# x 5 runs, medians, us, bit-identical): features.11 pair +4 / gate -22 / projection -1, .12 +1 /
# -29 / -2, .13 +1 / -36 / +1, .14 +7 / -14 / +1, .15 +4 / -20 / 0 (about -105 us a run); the
# 7x7 pairs prefetch at most TC_CHAN8_PF_TILE lines a tile (csrc/ir_chan8_avx2.c: 35 a tile,
# the 960-channel blocks' first 1 MB, cost their pairs +42 us, 16 a tile +4-7, 8 a tile saved
# less: -60 us in all).  Whole network (subgraph_shapes.py, 41 rounds, bit-identical): 0.989
# [0.980-0.999] and 0.994 [0.990-0.998] of the base's time, the base / this 1.008
# [1.002-1.018] (geometric mean of the orders ~0.992).
# At 2 threads too, although the strips and the gate's GEMV rows are claimed by the threads
# apart (a line from the other core's L2 comes slower than from memory, benchmarks/xcore_bw.c):
# per step (steps_ab.py --threads 2 under chrt -f 10, 40 rounds x 5) gates .11-.15 -13 / -17 /
# -18 / -8 / -4 us, pairs -1..+8, projections -2..+3 (about -38 us); whole network
# (ab_threads.py --fifo, 30 rounds x 10, bit-identical) 0.950, 0.996, 0.973, 0.980, the base /
# this 1.008 and 1.026 (the same build prefetching at 1 thread only: 1.008); MobileNetV3-Small
# 0.994 and (base / this) 1.003, level.  Past 2 threads no pair is planned.
PAIR_PREFETCH_MAX_THREADS = 2


def plan_chan8_pair(n, X, stages, means):
    """PointwiseGrouped's expansion -> depthwise pair (before a squeeze-and-excitation) as the
    chan8 block's first two stages (csrc/ir_chan8_avx2.c, tc_ir_chan8_pair_f32: 1 or 2 threads
    since n31-2t, _CHAN8_PAIR_MAX_THREADS; AVX2), its depthwise output and, with means, its
    planes' means: the step, or None.
    Session 30 (subgraph_shapes.py --against the chan8 block of 7bb80a2, 41 rounds,
    bit-identical, before the 5x5 weights' fix): MobileNetV3-Large's features.4 (24-72 at
    56x56, 5x5/2, with its SE and projection) 0.875 [0.856-0.906], .5 (120@28, 5x5) 0.931, .11
    (480@14) 0.912, .12 (672@14) 0.938, .13 (672@14, 5x5/2) 0.970; MobileNetV3-Small's 5x5
    stride-1 pairs at 14x14 then lost (features.5 1.10, .7 1.17, .8 1.05 against 844ad21):
    the 5x5 depthwise spilled its sums, fixed in dw8_k (the pair alone 1.11-1.29 -> 0.84-0.91
    of the two layers' time)."""
    expand = _chan8_expand(n, X, stages, _CHAN8_PAIR_MAX_THREADS, chan8_min_pixels(n))
    if expand is None:
        return None
    nb, c, h, w = X.shape
    W2, B2, S2, a2 = stages[1]
    a2 = {k: v for k, v in a2.items() if k != "channel_means"}
    (dw,) = plan_stages(n, Value("", (nb, W2.shape[0], h, w), np.float32),
                        [(W2, B2, S2, a2)], ("grouped",))
    if dw.algo != "depthwise" or dw.layer.in_channels != dw.layer.out_channels:
        return None
    pair = n.cached(("ir_chan8_pair",), lambda: K.IRChan8Pair(expand(), dw.layer))
    if not pair.takes(h, w):
        return None
    bind, out4, k = pair.bind, dw.out4, dw.out4[1]
    outs = [(dw.out_shape, np.float32)] + ([((nb, k, 1, 1), np.float32)] if means else [])
    # the strips prefetch what the means' reader (the SE gate) loads next (NodeContext.reads_next;
    # PAIR_PREFETCH_MAX_THREADS)
    pf_name = (n.node.outputs[1] if means and len(n.node.outputs) > 1
               and n.options.num_threads <= PAIR_PREFETCH_MAX_THREADS else None)
    next_reads = n.next_reads() if pf_name else None

    def ir_chan8_pair(x, y, *rest):
        m = rest[0].reshape(nb, k) if means else None
        ws_ = rest[1:] if means else rest
        pf = next_reads.get(pf_name) if pf_name else None
        return bind(x, y.reshape(out4), m, ws_[0] if ws_ else None,
                    **({"prefetch": pf} if pf is not None else {}))
    return n.emit(bound_step(ir_chan8_pair), [X], outs, workspace=pair.workspace_size(h, w))

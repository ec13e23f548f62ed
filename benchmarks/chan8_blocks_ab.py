"""Lone chan8 blocks (csrc/ir_chan8_avx2.c + ir_fused.c tc_ir_chan8_f32: expansion, depthwise and
projection of one inverted residual, random weights) of this checkout's build against CHECKOUT's
(subgraph_shapes.other_build) in one process, alternating by round (which goes first alternates
too), each round the minimum of RUNS wall-clock runs; prints each shape's per-round ratio this /
CHECKOUT (median [25-75%]), the ratio of the minima and whether the outputs are bit-identical.
MnasNet's and MobileNetV2's 7x7 and 14x14 blocks with a projection by default.  As on an AVX2-only
CPU:
  LD_PRELOAD=exports/libcpuid_avx2.so TINYCNN_ISA=avx2 \
  nice -n -20 python benchmarks/chan8_blocks_ab.py --against ../ref [--threads 2] [--rounds 40]
--sparse (h44-mn): this build's blocks with their projection over the depthwise output's nonzero
values only (IRChan8's sparse=: csrc/pw_sparse_avx2.c; h45-mn: at 2+ threads too).
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tinycnn  # noqa: E402
from subgraph_shapes import other_build  # noqa: E402

SHAPES = [  # c0, e, k2, h, stride, kernel, residual
    (192, 1152, 192, 7, 1, 5, True), (192, 1152, 320, 7, 1, 3, False),
    (96, 576, 192, 14, 2, 5, False), (160, 960, 160, 7, 1, 3, True),
    (80, 480, 80, 14, 1, 5, True), (96, 576, 96, 14, 1, 3, True), (64, 384, 64, 14, 1, 3, True)]


def block(kernels, threads, weights, shape, sparse=False):
    c0, e, k2, h, s, kc, _ = shape
    w1, b1, wd, bd, w2, b2 = weights
    ctx = kernels.Context(threads, "avx2")
    dw = kernels.Conv2d(ctx, wd, bd, algo="depthwise", strides=(s, s), pads=(kc // 2,) * 4,
                        group=e, activation="Relu")
    project = kernels.Conv2d(ctx, w2, b2, algo="1x1")
    expand = kernels.Conv2d(ctx, w1, b1, algo="1x1_chan", activation="Relu")
    b = kernels.IRChan8(expand, dw, project, 0, *([w2] if sparse else []))
    assert b.takes(h, h)
    return ctx, b, np.empty(b.workspace_size(h, h), np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--against", required=True, metavar="CHECKOUT")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--sparse", action="store_true",
                    help="this build's blocks with the projection over the nonzero values only "
                         "(IRChan8 sparse=, h44-mn)")
    a = ap.parse_args()
    builds = (tinycnn._kernels, other_build(a.against)._kernels)
    rng = np.random.default_rng(1)
    for shape in SHAPES:
        c0, e, k2, h, s, kc, res = shape
        weights = (rng.standard_normal((e, c0, 1, 1), dtype=np.float32) / np.float32(np.sqrt(c0)),
                   rng.standard_normal(e, dtype=np.float32),
                   rng.standard_normal((e, 1, kc, kc), dtype=np.float32) / np.float32(kc),
                   rng.standard_normal(e, dtype=np.float32),
                   rng.standard_normal((k2, e, 1, 1), dtype=np.float32) / np.float32(np.sqrt(e)),
                   rng.standard_normal(k2, dtype=np.float32))
        x = rng.standard_normal((1, c0, h, h), dtype=np.float32)
        oh = (h - 1) // s + 1
        r = x if res else None
        blocks = [block(k, a.threads, weights, shape, a.sparse and i == 0)
                  for i, k in enumerate(builds)]
        ys = [np.empty((1, k2, oh, oh), np.float32) for _ in builds]
        for (_, b, ws), y in zip(blocks, ys):
            b.run(x, y, r, ws)
        same = np.array_equal(ys[0], ys[1])
        t = [[], []]
        for rd in range(a.rounds):
            for v in ((0, 1) if rd % 2 == 0 else (1, 0)):
                _, b, ws = blocks[v]
                b.run(x, ys[v], r, ws)
                best = float("inf")
                for _ in range(a.runs):
                    t0 = time.perf_counter()
                    b.run(x, ys[v], r, ws)
                    best = min(best, time.perf_counter() - t0)
                t[v].append(best)
        rat = sorted(p / q for p, q in zip(t[0], t[1]))
        q = lambda p: rat[min(len(rat) - 1, int(p * len(rat)))]  # noqa: E731
        print(f"{c0}-{e}-{k2}@{h}/{s} {kc}x{kc}{' +res' if res else ''}: this "
              f"{statistics.median(t[0]) * 1e6:.1f} us, against {statistics.median(t[1]) * 1e6:.1f}"
              f" us, this/against {statistics.median(rat):.3f} [{q(0.25):.3f}-{q(0.75):.3f}], "
              f"min {min(t[0]) / min(t[1]):.3f}, same={same}", flush=True)


if __name__ == "__main__":
    main()

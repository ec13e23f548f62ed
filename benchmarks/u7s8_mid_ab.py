"""Lone U7S8 products around a mid-range zero point (MobileNetV2 / EfficientNet-B0 int8's
expansions: each row corrected over its own 4-k groups outside the window), uint8 outputs with
a ReLU-like floor, this checkout's build and any CHECKOUTs' alternating in one process (thread
CPU per call, the mean of --reps calls per build and round, the first build alternating by
round): each build's median / minimum, the per-round ratio to this build (median and
quartiles), and whether the outputs are bit-identical.  The activations: normal around --zp with
--spread, a share --hot of them at 0 or 255 (the outliers the correction pass takes), --feeds
feeds taken in turn (1: the branch predictor learns the one feed's pattern, as a network's run
does not).  Weights normal (sd 40) with a column of 127 and one of -128.
  TINYCNN_ISA=avx2 python benchmarks/u7s8_mid_ab.py [CHECKOUT ...] [--shapes M,K,N ...]
h47-q (2026-12-07, the Xeon, emulated AVX2 1t, host load 4-5, base da13fc1): 96 -> 576 at
14x14 139.9 us with one feed against 145.1 with 8 in turn, 64 -> 384 65.5 / 70.9 (the
corrections' branches); with spread 8, 8 feeds: 135.9 us with no outlier, 143.8 at 0.4%, 166.1
at 2% (onnxruntime's saturating kernel, the same work on any bytes: 125 us cut alone (h35-qm),
127-129 in the network on a photograph (qsteps.py, h47-q): most of the gap is not the
corrections)."""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tinycnn import _kernels as KN  # noqa: E402
from subgraph_shapes import other_build  # noqa: E402


def feeds_for(rng, m, k, a):
    out = []
    for _ in range(a.feeds):
        x = np.clip(np.rint(rng.normal(a.zp, a.spread, (m, k))), 0, 255).astype(np.uint8)
        hot = rng.random((m, k)) < a.hot
        x[hot] = rng.choice(np.array([0, 255], np.uint8), hot.sum())
        out.append(x)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkouts", nargs="*")
    ap.add_argument("--shapes", nargs="+", default=["196,96,576", "196,64,384", "49,160,960"])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--feeds", type=int, default=8)
    ap.add_argument("--zp", type=int, default=128)
    ap.add_argument("--spread", type=float, default=14.0)
    ap.add_argument("--hot", type=float, default=0.004)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    builds = [KN] + [other_build(c)._kernels for c in a.checkouts]
    rng = np.random.default_rng(5)
    for sh in a.shapes:
        m, k, n = map(int, sh.split(","))
        w = np.clip(np.rint(rng.normal(0, 40, (n, k))), -128, 127).astype(np.int16)
        w[:, 0], w[:, 1] = 127, -128
        bias = rng.integers(-3000, 3000, n).astype(np.int32)
        scale = (rng.random(n) * 0.002 / np.sqrt(k) + 1e-4).astype(np.float32)
        feeds = feeds_for(rng, m, k, a)
        layers = []
        for K in builds:
            ctx = K.Context(a.threads, *K.parse_isa(K.INT8_ISA_SETTINGS["avx2"]))
            layers.append(K.QGemm(ctx, w, K.QOutput(np.uint8, bias, scale, a.zp, a.zp, 255), "u7s8"))
        ys = [np.empty((m, n), np.uint8) for _ in builds]
        same = True
        for x in feeds:
            for layer, y in zip(layers, ys):
                layer.run(x, a.zp, y)
            same &= all(np.array_equal(ys[0], y) for y in ys[1:])
        times = [[] for _ in builds]
        for r in range(a.rounds):
            order = range(len(builds)) if r % 2 == 0 else reversed(range(len(builds)))
            for i in order:
                t = time.thread_time_ns()
                for j in range(a.reps):
                    layers[i].run(feeds[j % a.feeds], a.zp, ys[i])
                times[i].append((time.thread_time_ns() - t) / a.reps / 1e3)
        line = f"{sh:>12s} " + " ".join(f"{statistics.median(t):7.1f}/{min(t):7.1f}" for t in times)
        for i in range(1, len(builds)):
            rr = sorted(x / y for x, y in zip(times[i], times[0]))
            line += f"  {i}: {statistics.median(rr):.3f} [{rr[len(rr) // 4]:.3f}-{rr[3 * len(rr) // 4]:.3f}]"
        print(line + ("" if same else "  OUTPUTS DIFFER"), flush=True)


if __name__ == "__main__":
    main()

"""RegNet's "a" (1x1 + ReLU) and "b" (grouped 3x3 + ReLU, its planes' means for the SE
block) alone: the two layers run in turn vs the banded PGFused (csrc/pg_fused.c) at
several band heights, alternated in one process, min of medians.
As on an AVX2-only CPU:
  LD_PRELOAD=exports/libcpuid_avx2.so TINYCNN_ISA=avx2 python benchmarks/pg_fused_shapes.py"""
import argparse
import os
import sys
import time

import numpy as np

# the checkout this file is in, not an installed tinycnn (python puts benchmarks/ first on the path)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tinycnn import _kernels  # noqa: E402
from tinycnn.ops.conv_algo import ConvGeometry, choose_conv_algo  # noqa: E402

# (name, c0, e, h, stride): RegNetY-400MF's blocks at 224 (group width 8), RegNetY-800MF's first
PAIRS = [
    ("regnet400 block1-0 32-48 112 s2", 32, 48, 112, 2),
    ("regnet400 block2-0 48-104 56 s2", 48, 104, 56, 2),
    ("regnet400 block2-1 104-104 28", 104, 104, 28, 1),
    ("regnet400 block3-0 104-208 28 s2", 104, 208, 28, 2),
    ("regnet400 block4-0 208-440 14 s2", 208, 440, 14, 2),
]
GROUP_WIDTH = 8


def layers(ctx, c0, e, h, s):
    rng = np.random.default_rng(0)
    a1 = choose_conv_algo(ConvGeometry(1, c0, e, h, h, (1, 1)), isa=ctx.isa)
    a = _kernels.Conv2d(ctx, rng.standard_normal((e, c0, 1, 1), dtype=np.float32), None, algo=a1,
                        activation="Relu")
    b = _kernels.Conv2d(ctx, rng.standard_normal((e, GROUP_WIDTH, 3, 3), dtype=np.float32),
                        rng.standard_normal(e, dtype=np.float32), algo="grouped",
                        strides=(s, s), pads=(1, 1, 1, 1), group=e // GROUP_WIDTH,
                        activation="Relu")
    return a, b, (h - 1) // s + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--bands", default="2,4,8,16")
    ap.add_argument("--only", default="", help="run the pairs whose name contains this")
    ap.add_argument("--flush", action="store_true",
                    help="write 8 MB between runs, as the network's other layers do")
    a = ap.parse_args()
    ctx = _kernels.Context(a.threads, os.environ.get("TINYCNN_ISA", "auto"))
    bands = [int(b) for b in a.bands.split(",")]
    print(f"isa {ctx.isa}, {a.threads} thread(s); ms: unfused, then fused/unfused per band {bands}")
    for name, c0, e, h, s in PAIRS:
        if a.only not in name:
            continue
        pa, pb, oh = layers(ctx, c0, e, h, s)
        x = np.random.default_rng(1).standard_normal((1, c0, h, h), dtype=np.float32)
        t1 = np.empty((1, e, h, h), np.float32)
        y = np.empty((1, e, oh, oh), np.float32)
        m = np.empty((1, e), np.float32)
        ws = lambda n: np.empty(n, np.float32)  # noqa: E731
        steps = [pa.bind(x, t1, None, ws(pa.workspace_size(1, h, h))),
                 pb.bind(t1, y, None, ws(pb.workspace_size(1, h, h)), means=m)]

        def unfused():
            for st in steps:
                st()
        runs = [unfused]
        for b in bands:
            f = _kernels.PGFused(pa, pb, b)
            runs.append(f.bind(x, np.empty_like(y), np.empty_like(m), ws(f.workspace_size(h, h))))
        reps = max(3, int(1e8 / (c0 * e * h * h + e * 72 * oh * oh)))
        best = [1e9] * len(runs)
        junk = np.zeros(2 << 20, np.float32)
        for _ in range(a.rounds):
            for i, r in enumerate(runs):
                ts = []
                for _ in range(reps):
                    if a.flush:
                        junk += 1.0
                    t = time.perf_counter()
                    r()
                    ts.append(time.perf_counter() - t)
                best[i] = min(best[i], float(np.median(ts)))
        print(f"{name:34s} {best[0] * 1e3:7.3f}  " +
              " ".join(f"{v / best[0]:.2f}" for v in best[1:]), flush=True)


if __name__ == "__main__":
    main()

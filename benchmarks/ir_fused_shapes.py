"""Inverted-residual blocks alone: the three layers run in turn vs the banded IRFused
(csrc/ir_fused.c) at several band heights, alternated in one process, min of medians.
As on an AVX2-only CPU, with the library `bench.py --emulate-avx2` builds from cpuid_avx2.c
(exports/libcpuid_avx2.so after one bench.py --emulate-avx2 run):
  LD_PRELOAD=exports/libcpuid_avx2.so TINYCNN_ISA=avx2 python benchmarks/ir_fused_shapes.py"""
import argparse
import os
import sys
import time

import numpy as np

# the checkout this file is in, not an installed tinycnn (python puts benchmarks/ first on the path)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tinycnn import _kernels  # noqa: E402
from tinycnn.ops.conv_algo import ConvGeometry, choose_conv_algo  # noqa: E402

# (name, c0, e, k2, h, kernel, stride): MobileNetV2's, MobileNetV3's and MnasNet's blocks at 224,
# LRASPP's at 512
BLOCKS = [
    ("mv2.2  16-96-24 112 s2", 16, 96, 24, 112, 3, 2),
    ("mv2.3  24-144-24 56", 24, 144, 24, 56, 3, 1),
    ("mv3l.2 16-64-24 112 s2", 16, 64, 24, 112, 3, 2),
    ("mv3l.3 24-72-24 56", 24, 72, 24, 56, 3, 1),
    ("mv3s.2 16-72-24 56 s2", 16, 72, 24, 56, 3, 2),
    ("mv2.4  24-144-32 56 s2", 24, 144, 32, 56, 3, 2),
    ("mv2.5  32-192-32 28", 32, 192, 32, 28, 3, 1),
    ("mv2.7  32-192-64 28 s2", 32, 192, 64, 28, 3, 2),
    ("mv2.8  64-384-64 14", 64, 384, 64, 14, 3, 1),
    ("mv2.15 160-960-160 7", 160, 960, 160, 7, 3, 1),
    ("mnas.8.0 16-48-24 112 s2", 16, 48, 24, 112, 3, 2),
    ("mnas   24-72-24 56", 24, 72, 24, 56, 3, 1),
    ("mnas   24-72-40 56 5x5 s2", 24, 72, 40, 56, 5, 2),
    ("mnas   40-120-40 28 5x5", 40, 120, 40, 28, 5, 1),
    ("lraspp.2 16-64-24 256 s2", 16, 64, 24, 256, 3, 2),
    ("lraspp.3 24-72-24 128", 24, 72, 24, 128, 3, 1),
    ("lraspp.7 40-240-80 64 s2", 40, 240, 80, 64, 3, 2),
]


def layers(ctx, c0, e, k2, h, ks, s):
    rng = np.random.default_rng(0)
    oh = (h + 2 * (ks // 2) - ks) // s + 1
    a1 = choose_conv_algo(ConvGeometry(1, c0, e, h, h, (1, 1)), isa=ctx.isa)
    a2 = choose_conv_algo(ConvGeometry(1, e, k2, oh, oh, (1, 1)), isa=ctx.isa)
    p = ks // 2
    ex = _kernels.Conv2d(ctx, rng.standard_normal((e, c0, 1, 1), dtype=np.float32), None, algo=a1,
                         activation="Clip", alpha=0.0, beta=6.0)
    dw = _kernels.Conv2d(ctx, rng.standard_normal((e, 1, ks, ks), dtype=np.float32), None,
                         algo="depthwise", strides=(s, s), pads=(p, p, p, p), group=e,
                         activation="Clip", alpha=0.0, beta=6.0)
    pr = _kernels.Conv2d(ctx, rng.standard_normal((k2, e, 1, 1), dtype=np.float32), None, algo=a2)
    return ex, dw, pr, oh


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--bands", default="1,2,4,8,16")
    ap.add_argument("--only", default="", help="run the blocks whose name contains this")
    a = ap.parse_args()
    ctx = _kernels.Context(a.threads, os.environ.get("TINYCNN_ISA", "auto"))
    bands = [int(b) for b in a.bands.split(",")]
    print(f"isa {ctx.isa}, {a.threads} thread(s); ms: unfused, then fused/unfused per band {bands}")
    for name, c0, e, k2, h, ks, s in BLOCKS:
        if a.only not in name:
            continue
        ex, dw, pr, oh = layers(ctx, c0, e, k2, h, ks, s)
        x = np.random.default_rng(1).standard_normal((1, c0, h, h), dtype=np.float32)
        t1 = np.empty((1, e, h, h), np.float32)
        t2 = np.empty((1, e, oh, oh), np.float32)
        y = np.empty((1, k2, oh, oh), np.float32)
        ws = lambda n: np.empty(n, np.float32)  # noqa: E731
        steps = [ex.bind(x, t1, None, ws(ex.workspace_size(1, h, h))),
                 dw.bind(t1, t2, None, ws(dw.workspace_size(1, h, h))),
                 pr.bind(t2, y, None, ws(pr.workspace_size(1, oh, oh)))]

        def unfused():
            for st in steps:
                st()
        runs = [unfused]
        for b in bands:
            f = _kernels.IRFused(ex, dw, pr, b)
            runs.append(f.bind(x, np.empty_like(y), None, ws(f.workspace_size(h, h))))
        reps = max(3, int(2e8 / (c0 * e * h * h + e * k2 * oh * oh)))
        best = [1e9] * len(runs)
        for _ in range(a.rounds):
            for i, r in enumerate(runs):
                ts = []
                for _ in range(reps):
                    t = time.perf_counter()
                    r()
                    ts.append(time.perf_counter() - t)
                best[i] = min(best[i], float(np.median(ts)))
        print(f"{name:28s} {best[0] * 1e3:7.3f}  " +
              " ".join(f"{v / best[0]:.2f}" for v in best[1:]))


if __name__ == "__main__":
    main()

"""A squeeze-and-excitation's scale and the 1x1 projection after it, lone layers with random
weights, two ways in one process: the Mul step (tc_binary_f32, mul_rows) then the layer on
x * g, against the layer taking the gates itself (Conv2d.run(scale=g), csrc/conv.c
tc_conv2d_scaled_f32 in its Conv2d.scaled_mode for the shape).  Alternating bursts of --calls
calls (the order reversed every other round), thread CPU time per call, --rounds rounds;
prints per shape both ways' minima and medians, the median [25-75%] of the per-round ratios
(scaled / Mul + layer), the mode and whether both give the same bits.  --cold N: N MiB written
before each call (the weights and x then come from L3 or memory, as in a network).  The
shapes are MobileNetV3-Large / -Small's and EfficientNet-B0's projections after an SE block
where the weights are not scaled (K > HW / 2).  As on an AVX2-only CPU:
  LD_PRELOAD=exports/libcpuid_avx2.so TINYCNN_ISA=avx2 \\
  python benchmarks/se_scale_ab.py [--threads 1] [--rounds 30] [--calls 10] [--cold 0]
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tinycnn import _kernels  # noqa: E402

# (name, C, K, H, residual)
SHAPES = [("v3l.11 480->112@14", 480, 112, 14, False),
          ("v3l.12 672->112@14", 672, 112, 14, True),
          ("v3l.13 672->160@7", 672, 160, 7, False),
          ("v3l.14 960->160@7", 960, 160, 7, True),
          ("v3s.9 288->96@7", 288, 96, 7, False),
          ("v3s.10 576->96@7", 576, 96, 7, True),
          ("eff.5.1 672->112@14", 672, 112, 14, True),
          ("eff.6.0 672->192@7", 672, 192, 7, False),
          ("eff.6.1 1152->192@7", 1152, 192, 7, True),
          ("eff.7.0 1152->320@7", 1152, 320, 7, False)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--cold", type=int, default=0, help="MiB written before each call")
    ap.add_argument("--only", default="", help="comma-separated name prefixes")
    a = ap.parse_args()
    isa = os.environ.get("TINYCNN_ISA", "avx2")
    ctx = _kernels.Context(a.threads, isa)
    rng = np.random.default_rng(0)
    junk = np.zeros(a.cold * (1 << 18), np.float32)
    clock = time.thread_time_ns if a.threads == 1 else time.perf_counter_ns
    print(f"isa {isa}, {a.threads} thread(s), {a.rounds} rounds x {a.calls} calls, cold {a.cold} MiB")
    tot = {"mul": [], "scaled": []}
    for name, c, k, h, res in SHAPES:
        if a.only and not any(name.startswith(p) for p in a.only.split(",")):
            continue
        weight = (rng.standard_normal((k, c, 1, 1)) / np.sqrt(c)).astype(np.float32)
        bias = rng.standard_normal(k).astype(np.float32)
        layer = _kernels.Conv2d(ctx, weight, bias, algo="1x1")
        x = rng.standard_normal((1, c, h, h), dtype=np.float32)
        g = rng.uniform(0, 1, (1, c, 1, 1)).astype(np.float32)
        r = rng.standard_normal((1, k, h, h), dtype=np.float32) if res else None
        xg = np.empty_like(x)
        y0, y1 = np.empty((1, k, h, h), np.float32), np.empty((1, k, h, h), np.float32)
        ws = np.empty(layer.workspace_size(1, h, h, scaled=True), np.float32)
        mul = _kernels.bind_binary(ctx, "mul", x, g, xg)
        conv = layer.bind(xg, y0, r, ws)
        scaled = layer.bind(x, y1, r, ws, scale=g.reshape(1, c))
        ways = {"mul": lambda: (mul(), conv()), "scaled": scaled}
        times = {w: [] for w in ways}
        for rd in range(a.rounds):
            order = list(ways) if rd % 2 == 0 else list(ways)[::-1]
            for w in order:
                f, best = ways[w], None
                for _ in range(a.calls):
                    if a.cold:
                        junk += 1.0
                    t0 = clock()
                    f()
                    t = clock() - t0
                    best = t if best is None else min(best, t)
                times[w].append(best / 1e3)
        same = np.array_equal(y0, y1)
        ratios = [s / m for s, m in zip(times["scaled"], times["mul"])]
        q = statistics.quantiles(ratios, n=4)
        for w in ways:
            tot[w].append(min(times[w]))
        print(f"{name:22s} {layer.scaled_mode(h, h):7s} mul+layer {min(times['mul']):7.1f} / "
              f"{statistics.median(times['mul']):7.1f} us  scaled {min(times['scaled']):7.1f} / "
              f"{statistics.median(times['scaled']):7.1f} us  ratio {statistics.median(ratios):.3f} "
              f"[{q[0]:.3f}-{q[2]:.3f}]  same bits {same}")
    print(f"sum of minima: mul+layer {sum(tot['mul']):.1f} us, scaled {sum(tot['scaled']):.1f} us")


if __name__ == "__main__":
    main()

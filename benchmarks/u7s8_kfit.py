"""The fixed cost per tile and panel of a lone U7S8 product around a mid-range zero point (the
14x14 expansions' kernel: 6 x 16 tiles, 8 panels a call), from a sweep of K at fixed M and N:
time = F + S * K fitted over the K's (medians and minima of the rounds), F / (tiles x panels)
the cost of everything a tile and panel spend besides their k steps (the byte store, the
corrections' loops, the setup, the split and the driver), 4 S / (tiles x panels) a 4-k step's.
Feeds as u7s8_mid_ab.py's (normal around zp 128 with --spread, a share --hot at 0 or 255, 8 in
turn), weights normal (sd 40) with a column of 127 and one of -128, thread CPU per call.
  TINYCNN_ISA=avx2 python benchmarks/u7s8_kfit.py [CHECKOUT] [--ks 32,64,96,128,160,192]
h50-q (2026-12-07, the Xeon, emulated AVX2 1t, ref50 = 9bb2163, 30 rounds, minima): at M = 196,
N = 576, spread 8, no outlier, F = 19.9 us, 16.8 ns (57 cycles at 3.375 GHz) per tile and panel
(1188 of them), a 4-k step 3.97 ns (13.4 cycles, its 24 multiplies' bound 12); with 0.4% of the
bytes outliers 17.2 ns and 4.19 ns (feeds then drawn by its own copy of feeds_for's code: the same
distribution)."""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkout", nargs="?", help="another checkout's build (default: this one)")
    ap.add_argument("--ks", default="32,64,96,128,160,192")
    ap.add_argument("--m", type=int, default=196)
    ap.add_argument("--n", type=int, default=576)
    ap.add_argument("--spread", type=float, default=8.0)
    ap.add_argument("--hot", type=float, default=0.0)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--reps", type=int, default=20)
    a = ap.parse_args()
    a.zp, a.feeds = 128, 8  # u7s8_mid_ab.feeds_for's
    if a.checkout:
        sys.path.insert(0, os.path.abspath(a.checkout))
    from tinycnn import _kernels as KN
    from u7s8_mid_ab import feeds_for
    rng = np.random.default_rng(5)
    ks = [int(k) for k in a.ks.split(",")]
    layers = {}
    for k in ks:
        w = np.clip(np.rint(rng.normal(0, 40, (a.n, k))), -128, 127).astype(np.int16)
        w[:, 0], w[:, 1] = 127, -128
        bias = rng.integers(-3000, 3000, a.n).astype(np.int32)
        scale = (rng.random(a.n) * 0.002 / np.sqrt(k) + 1e-4).astype(np.float32)
        ctx = KN.Context(1, *KN.parse_isa(KN.INT8_ISA_SETTINGS["avx2"]))
        layer = KN.QGemm(ctx, w, KN.QOutput(np.uint8, bias, scale, 128, 128, 255), "u7s8")
        layers[k] = (layer, feeds_for(rng, a.m, k, a), np.empty((a.m, a.n), np.uint8))
    times = {k: [] for k in ks}
    for r in range(a.rounds):
        for k in (ks if r % 2 == 0 else ks[::-1]):
            layer, feeds, y = layers[k]
            t = time.thread_time_ns()
            for j in range(a.reps):
                layer.run(feeds[j % len(feeds)], 128, y)
            times[k].append((time.thread_time_ns() - t) / a.reps / 1e3)
    tp = (a.m + 5) // 6 * ((a.n + 15) // 16)
    for k in ks:
        print(f"K {k:4d}: median {statistics.median(times[k]):7.1f} us  min {min(times[k]):7.1f}")
    for label, stat in (("median", statistics.median), ("min", min)):
        s, f = np.polyfit(ks, [stat(times[k]) for k in ks], 1)
        print(f"{label}: fixed {f:6.1f} us, {f * 1e3 / tp:5.1f} ns per tile and panel ({tp}); "
              f"a 4-k step {s * 4e3 / tp:5.2f} ns per tile and panel")


if __name__ == "__main__":
    main()

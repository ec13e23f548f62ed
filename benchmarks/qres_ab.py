"""Lone int8 GEMMs with the fused residual QLinearAdd (ResNet's conv3 shapes, U7S8, uint8
outputs) and one without, this checkout's build against CHECKOUT's, alternating in one process
(thread CPU time, the minimum of 5 runs per build and round, which goes first alternating by
round): the per-round ratio's median and quartiles, and whether the outputs are bit-identical.
The activations relu-like (exponential, a few bytes above 127), the residual random bytes.
  LD_PRELOAD=.../libcpuid_avx2.so TINYCNN_ISA=avx2 python benchmarks/qres_ab.py CHECKOUT [ROUNDS]
h45-q (2026-12-06, the Xeon, 30 rounds): the short form of the fused add (csrc/quant_avx2.h,
tc_qres_add8_short_avx2) against ref45: 0.938, 0.951, 0.973, 0.954 and without the add 1.011."""
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tinycnn import _kernels as KN  # noqa: E402
from subgraph_shapes import other_build  # noqa: E402
SHAPES = [(3136, 64, 256, True), (784, 128, 512, True), (196, 256, 1024, True),
          (3136, 64, 64, True), (3136, 64, 256, False)]   # (M, K, N, fused add)
RESIDUAL = (0.05, 120, 0.03, 130, 0.06, 125, True)


def main():
    KO = other_build(sys.argv[1])._kernels
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    rng = np.random.default_rng(1)
    for m, k, n, fused in SHAPES:
        a = np.minimum(rng.exponential(25, (m, k)), 255).astype(np.uint8)
        w = rng.integers(-60, 60, (n, k)).astype(np.int16)
        bias = rng.integers(-3000, 3000, n).astype(np.int32)
        scale = (rng.random(n) * 0.004 + 1e-3).astype(np.float32)
        r = rng.integers(0, 256, (m, n)).astype(np.uint8)
        runs = {}
        for name, K in (("new", KN), ("old", KO)):
            ctx = K.Context(1, *K.parse_isa(K.INT8_ISA_SETTINGS["avx2"]))
            out = K.QOutput(np.uint8, bias, scale, 128, residual=RESIDUAL if fused else None)
            runs[name] = (K.QGemm(ctx, w, out, "u7s8"), np.empty((m, n), np.uint8), ctx)

        def best_us(name):
            layer, y, _ = runs[name]
            best = None
            for _ in range(5):
                t = time.thread_time_ns()
                layer.run(a, 0, y, residual=r if fused else None)
                t = time.thread_time_ns() - t
                best = t if best is None else min(best, t)
            return best / 1e3

        ratios, tn, to = [], [], []
        for i in range(rounds):
            d = {nm: best_us(nm) for nm in (("new", "old") if i % 2 == 0 else ("old", "new"))}
            ratios.append(d["new"] / d["old"])
            tn.append(d["new"])
            to.append(d["old"])
        ratios.sort()
        q = lambda p: ratios[min(len(ratios) - 1, int(p * len(ratios)))]
        same = np.array_equal(runs["new"][1], runs["old"][1])
        print(f"{m} x {k} x {n} {'with' if fused else 'without'} the add: new {min(tn):.1f} us, "
              f"old {min(to):.1f} us; per-round new / old {statistics.median(ratios):.3f} "
              f"[{q(0.25):.3f}-{q(0.75):.3f}]; bit-identical={same}", flush=True)


if __name__ == "__main__":
    main()

"""What an int8 inverted-residual fusion (expansion 1x1 -> depthwise -> projection 1x1 per band
of output rows, the expanded band kept in L2, as csrc/ir_fused.c does in float32) could save,
measured before building it: one block's three tinycnn int8 layers (synthetic weights, the
formats MobileNetV2's int8 layers get: S16X2 expansion, depthwise, U7S8 projection after a
ReLU6), 1 thread, thread CPU time, rounds alternating, in three schedules:
  full   the three layers over whole tensors (what runs now);
  ring   per band of B depthwise output rows, the expansion of only its new input rows (a
         fused kernel's best case: the halo kept, no recomputation), the depthwise on the band
         buffer (rows stand in for the band's real rows: the same work), the projection of the
         band into y;
  redo   the same with the halo rows expanded again (a fused kernel without a ring).
Each schedule runs from one C loop (CallSequence): the bands cost a kernel call per layer
per band (its set-up: a fused kernel would pay less), not a Python call.  Band heights B
divide the output's rows.
usage: python benchmarks/qir_potential.py [--rounds 21] [--reps 20] [--band B ...]

Measured (n25-qir, 2026-12-03 17:20, AMD EPYC Zen 3, native AVX2, 1 thread, 31 rounds, loaded
host: every time about 1.5x a quiet one; median of per-round ratios to full [25-75%]):
  16-96-24 at 112x112 s2 (1.2 MB)  ring B=2/4/7/8/14 1.106 / 1.038 / 1.036 / 1.038 / 1.006
                                   [0.929-1.124]; redo 1.239 / 1.124 / 1.080 / 1.045 / 1.004
  24-144-24 at 56x56 (0.45 MB)     ring B=2/4/7/8/14 1.190 / 1.079 / 1.003 / 1.014 / 0.974
                                   [0.921-1.003]; redo 1.520 / ... / 1.027
  24-144-32 at 56x56 s2            ring 1.109 / 1.071 / 1.042 / 1.021 (B=2/4/7/14)
  32-192-32 at 28x28               ring 1.302 / 1.130 / 1.042 / 1.016 (B=2/4/7/14)
(an earlier run at load 14-20: 112x112 ring B=7/8/14 0.984 / 0.970 / 0.963, 56x56 B=14 1.017.)
So the int8 blocks' expanded tensors (a quarter of float32's bytes: 1.2 MB at most, and
0.45 MB from 56x56 down, within L2 or just past it) cost little to write and read back: the
best band reaches 0.96-1.0 of the unfused layers, the small bands lose to their per-band
costs.  A fused int8 kernel (expansion qgemm + requant -> qdw + requant -> projection qgemm
[+ QLinearAdd] per band, bit-exact by construction) could save at most ~3% of MobileNetV2's
112x112 and 56x56 blocks (0.7 + 0.5 ms of the network's ~5.8 at 1 thread): under 1% of the
network, not worth its code.  Not built."""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tinycnn import _kernels as K  # noqa: E402

# (C0, E, C1, H, stride): MobileNetV2's blocks with an expanded tensor of 0.4 MB or more
BLOCKS = [(16, 96, 24, 112, 2), (24, 144, 24, 56, 1), (24, 144, 32, 56, 2), (32, 192, 32, 28, 1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--band", type=int, action="append")
    a = ap.parse_args()
    ctx = K.Context(1)
    rng = np.random.default_rng(0)

    def out(k):
        return K.QOutput(np.uint8, bias=rng.integers(-2000, 2000, k).astype(np.int32),
                         scale=(rng.random(k) * 0.002 + 0.001).astype(np.float32), lo=0, hi=255)

    def w16(*shape):
        return rng.integers(-127, 128, shape).astype(np.int16)

    def relu6_bytes(shape):  # a ReLU6's output: a quarter zeros, few bytes past 127
        return np.clip(rng.normal(40, 40, shape), 0, 255).astype(np.uint8)

    for c0, e, c1, h, s in BLOCKS:
        oh = h // s
        ex = K.QConv2d(ctx, w16(e, 1, 1, c0), out(e), format="s16x2")
        pr = K.QConv2d(ctx, w16(c1, 1, 1, e), out(c1), format="u7s8")
        x = rng.integers(0, 256, (1, h, h, c0)).astype(np.uint8)
        big_e = np.empty((1, h, h, e), np.uint8)
        d, y = relu6_bytes((1, oh, oh, e)), np.empty((1, oh, oh, c1), np.uint8)
        full = [ex.bind(x, 128, big_e),
                K.QConv2d(ctx, w16(e, 3, 3, 1), out(e), strides=(s, s), pads=(1, 1, 1, 1),
                          group=e).bind(big_e, 0, d),
                pr.bind(d, 0, y)]
        scheds = {"full": K.CallSequence(full)}
        for b in a.band or [b for b in (2, 4, 7, 8, 14) if oh % b == 0 and b < oh]:
            rin = b + 2 if s == 1 else 2 * b + 1
            eb, db = np.empty((1, rin, h, e), np.uint8), relu6_bytes((1, b, oh, e))
            dwb = K.QConv2d(ctx, w16(e, 3, 3, 1), out(e), strides=(s, s), pads=(0, 1, 0, 1),
                            group=e).bind(eb, 0, db)
            projs = [pr.bind(db, 0, y[:, r:r + b]) for r in range(0, oh - b + 1, b)]
            for name, rows in (("ring", b * s), ("redo", rin)):
                exb = ex.bind(np.ascontiguousarray(x[:, :rows]), 128, eb[:, :rows])
                scheds[f"{name} B={b}"] = K.CallSequence([c for p in projs for c in (exb, dwb, p)])
        times = {k: [] for k in scheds}
        for _ in range(a.rounds):
            for k, calls in scheds.items():
                calls.run(False)
                t = time.thread_time_ns()
                for _ in range(a.reps):
                    calls.run(False)
                times[k].append((time.thread_time_ns() - t) / a.reps / 1e3)
        full_t = times["full"]
        print(f"{c0}-{e}-{c1} at {h}x{h} stride {s} (expanded {e * h * h / 1e6:.2f} MB): "
              f"full {statistics.median(full_t):.0f} us", flush=True)
        for k in scheds:
            if k != "full":
                r = sorted(t / f for t, f in zip(times[k], full_t))
                q = len(r) // 4
                print(f"  {k:10s} {statistics.median(times[k]):7.0f} us  /full "
                      f"{statistics.median(r):.3f} [{r[q]:.3f}-{r[-1 - q]:.3f}]", flush=True)


if __name__ == "__main__":
    main()

"""The chan8 block in bands of output rows (s31, csrc/ir_chan8_avx2.c) against the banded block
(ir_fused.c, its band as fused_ir.band_rows picks it at 1 thread) on one block's shape, random
weights, one process, 1 thread, AVX2: bursts alternating, thread CPU time, per round the ratio
of each band's time to the banded block's; prints median [25-75%] and whether the outputs are
bit-identical.
  TINYCNN_ISA=avx2 python benchmarks/chan8_band_ab.py C0 E K2 H W STRIDE [KC] \
      [--bands 4,8,17] [--act Relu] [--rounds 21] [--runs 20]"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tinycnn import _kernels as K  # noqa: E402
from tinycnn.ops.fused_ir import band_rows  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    for a in ("c0", "e", "k2", "h", "w", "stride"):
        ap.add_argument(a, type=int)
    ap.add_argument("kc", type=int, nargs="?", default=3)
    ap.add_argument("--bands", default="0,4,8,12,17")
    ap.add_argument("--act", default="Relu")
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    ctx = K.Context(1, "avx2")
    kw = dict(activation=a.act, alpha=0.0 if a.act == "Clip" else None,
              beta=6.0 if a.act == "Clip" else None) if a.act != "none" else {}
    w1 = rng.standard_normal((a.e, a.c0, 1, 1), dtype=np.float32) / np.float32(np.sqrt(a.c0))
    wd = rng.standard_normal((a.e, 1, a.kc, a.kc), dtype=np.float32) / np.float32(a.kc)
    w2 = rng.standard_normal((a.k2, a.e, 1, 1), dtype=np.float32) / np.float32(np.sqrt(a.e))
    b1, bd, b2 = (rng.standard_normal(k, dtype=np.float32) for k in (a.e, a.e, a.k2))
    rows = K.Conv2d(ctx, w1, b1, algo="1x1", **kw)
    lanes = K.Conv2d(ctx, w1, b1, algo="1x1_chan", **kw)
    dw = K.Conv2d(ctx, wd, bd, algo="depthwise", strides=(a.stride,) * 2, pads=(a.kc // 2,) * 4,
                  group=a.e, **kw)
    project = K.Conv2d(ctx, w2, b2, algo="1x1")
    x = rng.standard_normal((1, a.c0, a.h, a.w), dtype=np.float32)
    oh, ow = dw.output_shape(1, a.h, a.w)[2:]
    fb = band_rows(a.e, a.w, ow, oh, a.kc, a.stride, 1, 1)
    blocks = {f"ir_fused b{fb}": K.IRFused(rows, dw, project, fb)}
    for b in (int(v) for v in a.bands.split(",")):
        blk = K.IRChan8(lanes, dw, project, b)
        if blk.takes(a.h, a.w):
            blocks[f"chan8 b{b}"] = blk
        else:
            print(f"chan8 b{b}: not taken")
    calls, outs = {}, {}
    for name, blk in blocks.items():
        y = np.full((1, a.k2, oh, ow), np.nan, np.float32)
        calls[name] = blk.bind(x, y, None, np.empty(blk.workspace_size(a.h, a.w), np.float32))
        calls[name]()
        outs[name] = y
    base = next(iter(blocks))
    times = {k: [] for k in blocks}
    for r in range(a.rounds):
        for name in (list(blocks) if r % 2 == 0 else list(blocks)[::-1]):
            c = calls[name]
            c()
            t = time.thread_time_ns()
            for _ in range(a.runs):
                c()
            times[name].append((time.thread_time_ns() - t) / a.runs / 1e3)
    for name in blocks:
        rat = [t / b for t, b in zip(times[name], times[base])]
        q = statistics.quantiles(rat, n=4)
        same = np.array_equal(outs[name], outs[base])
        print(f"{name:14s} {statistics.median(times[name]):8.1f} us  /base "
              f"{statistics.median(rat):.3f} [{q[0]:.3f}-{q[2]:.3f}]  bit-identical {same}")


if __name__ == "__main__":
    main()

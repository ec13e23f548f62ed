"""Each int8 convolution of a network in every packed layout it can take, in the network: what
the format rules (tinycnn/ops/qconv.py _format, qgemm.c tc_qgemm_choose_format_for) leave
on the table, layer by layer.  One session as built, and one per layout L (u7s8, u8s8x2,
s16x2, winograd) in which every convolution that is not depthwise nor a stem and can take L
(u7s8: a uint8 input and 8-bit weights, ops.qmatmul.u7s8_suits; winograd: 3x3 stride 1,
qconv_winograd_fits) takes it; the sessions alternate round by round in one process, 1
thread, per-step minima of the thread's CPU clock (qsteps.py's tc_times); outputs checked
bit-identical.  Prints, per convolution whose best layout is not the built one by more than
--margin, the built layout and every layout's time; then the sums.  With --combine, a session
taking each such step's best layout is built and timed against the built one (steps' sums
and whole runs' wall, alternating, --rounds again).  As on an AVX2-only CPU:
  LD_PRELOAD=/work/main/exports/libcpuid_avx2.so TINYCNN_ISA=avx2 \\
  python benchmarks/qformat_sweep.py MODEL-int8-qdq.onnx [--input photo] [--rounds 16]
Found (h39-q, 2026-12-06 00:15, the Xeon, emulated AVX2 1t, a photograph, 12 x 10 runs, every
session bit-identical): the built layout is the fastest of every convolution of int8
MobileNetV2 and ResNet-50 (none of the others faster by 2%), so a per-layer choice by
measured cost has nothing to take there.  Closest: MobileNetV2's 192 -> 64 at 14x14 U8S8X2
0.036 / U7S8 0.036 ms, its 7x7 projections to 160 U8S8X2 0.060 / 0.096 / 0.098 against U7S8
0.061 / 0.099 / 0.098, 144 / 192 -> 32 at 28x28 U8S8X2 0.050 / 0.068 against U7S8 0.055 /
0.075; ResNet-50's 3x3 at 7x7 (layer4.1 / .2 conv2) U7S8 1.366 against Winograd 1.830 / 1.815,
U8S8X2 1.88-1.92, S16X2 2.14; its 1x1 layers on S16X2 1.01-1.8x and U8S8X2 1.5-1.9x U7S8's
time; the step sums 4.104 and 41.467 ms of convolutions as built."""
import argparse
import collections
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinycnn  # noqa: E402
import tinycnn.ops.qconv as qconv  # noqa: E402
from tinycnn import _kernels as K  # noqa: E402
from tinycnn.ops.qmatmul import u7s8_suits  # noqa: E402
from bench import INPUTS, input_feed  # noqa: E402
from qsteps import tc_times  # noqa: E402

LAYOUTS = ("u7s8", "u8s8x2", "s16x2", "winograd")


class Forcing:
    """qconv._layer / _format wrapped: records each convolution's built layout by node name,
    and returns force(name, info) where it gives one"""

    def __init__(self):
        self.orig_layer, self.orig_format = qconv._layer, qconv._format
        self.node = None
        self.force = None
        self.built = {}   # node -> (layout, shape info)

    def layer(self, n, ctx, conv, w, *rest):
        self.node = n.node.name
        return self.orig_layer(n, ctx, conv, w, *rest)

    def format(self, ctx, w16, group, strides, dilations, out_shape, x_dtype=np.uint8,
               x_zero_point=0):
        f = self.orig_format(ctx, w16, group, strides, dilations, out_shape, x_dtype,
                             x_zero_point)
        k, kh, kw, cg = w16.shape
        if group != 1 or cg <= 4:   # depthwise / grouped / a stem: as built
            return f
        built = f or K.qgemm_choose_format_for(ctx, np.ascontiguousarray(w16.reshape(k, -1)))
        can = {"u7s8": u7s8_suits(w16, x_dtype, x_zero_point, mid_zero_point=True),
               "u8s8x2": True, "s16x2": True,
               "winograd": (kh, kw) == (3, 3) and tuple(strides) == (1, 1) and
               tuple(dilations) == (1, 1) and K.qconv_winograd_fits(w16)}
        info = (f"{kh}x{kw}/{strides[0]} {cg}->{k} @{out_shape[2]}x{out_shape[3]} "
                f"zp{x_zero_point}")
        self.built[self.node] = (built, info, can)
        if self.force is not None:
            g = self.force(self.node, built, can)
            if g is not None and g != built and can[g]:
                return g
        return f

    def session(self, model, opts, force):
        self.force = force
        qconv._layer, qconv._format = self.layer, self.format
        try:
            return tinycnn.InferenceSession(model, opts)
        finally:
            qconv._layer, qconv._format = self.orig_layer, self.orig_format
            self.force = None


def alternate(sess, feed, rounds, runs):
    times = {k: {} for k in sess}
    for r in range(rounds):
        for k in (list(sess) if r % 2 == 0 else list(sess)[::-1]):
            tc_times(sess[k], feed, runs, times[k])
    return {k: {n: min(v) for n, v in d.items()} for k, d in times.items()}


def walls(sess, feed, rounds, burst):
    """per round, each session's minimum wall ms over a burst (order alternating)"""
    out = {k: [] for k in sess}
    for r in range(rounds):
        for k in (list(sess) if r % 2 == 0 else list(sess)[::-1]):
            s = sess[k]
            s.run(None, feed)
            ts = []
            for _ in range(burst):
                t = time.perf_counter()
                s.run(None, feed)
                ts.append(time.perf_counter() - t)
            out[k].append(min(ts) * 1e3)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--input", choices=INPUTS, default="photo")
    ap.add_argument("--rounds", type=int, default=16)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--layouts", default=",".join(LAYOUTS))
    ap.add_argument("--margin", type=float, default=0.02,
                    help="report (and --combine) a layout at least this share faster")
    ap.add_argument("--combine", action="store_true")
    a = ap.parse_args()
    o = tinycnn.SessionOptions()
    o.intra_op_num_threads = 1
    fz = Forcing()
    sess = {"built": fz.session(a.model, o, None)}
    built = dict(fz.built)
    for lay in a.layouts.split(","):
        sess[lay] = fz.session(a.model, o, lambda node, b, can, lay=lay: lay)
    i = sess["built"].get_inputs()[0]
    feed = {i.name: input_feed(a.input, [d if isinstance(d, int) else 1 for d in i.shape])}
    ys = {k: s.run(None, feed) for k, s in sess.items()}
    for k in sess:
        same = all(np.array_equal(p, q) for p, q in zip(ys["built"], ys[k]))
        print(f"{k:9s} bit-identical={same}")
    t = alternate(sess, feed, a.rounds, a.runs)
    hdr = f"{'step':44s} {'layer':30s} {'built':>7s}" + "".join(f" {k:>8s}" for k in list(sess)[1:])
    print(hdr)
    best = {}
    tot = collections.Counter()
    for n, (b, info, can) in built.items():
        if n not in t["built"]:
            continue
        row = {k: t[k].get(n) for k in sess}
        tb = row["built"]
        alts = {k: v for k, v in row.items() if k != "built" and can.get(k) and k != b}
        tot["built"] += tb
        w = min(alts, key=alts.get) if alts else None
        tot["best"] += min([tb] + list(alts.values()))
        mark = ""
        if w is not None and alts[w] < tb * (1 - a.margin):
            best[n] = w
            mark = f"  <- {w} {alts[w] / tb:.3f}"
        print(f"{n[-44:]:44s} {info:30s} {b:>7s} {tb:7.3f}" +
              "".join(f" {row[k]:8.3f}" if k in alts else f" {'-':>8s}" for k in list(sess)[1:]) + mark)
    print(f"convolutions: built {tot['built']:.3f} ms, best of each {tot['best']:.3f}, "
          f"{len(best)} better by > {a.margin:.0%}")
    if not a.combine or not best:
        return
    sess2 = {"built": sess["built"],
             "combined": fz.session(a.model, o, lambda node, b, can: best.get(node))}
    del sess
    y2 = sess2["combined"].run(None, feed)
    print("combined bit-identical:", all(np.array_equal(p, q) for p, q in zip(ys["built"], y2)))
    t2 = alternate(sess2, feed, a.rounds, a.runs)
    for n in best:
        print(f"{n[-44:]:44s} {best[n]:>8s} {t2['built'][n]:7.3f} {t2['combined'][n]:7.3f} "
              f"{t2['combined'][n] / t2['built'][n]:6.3f}")
    sb, sc = sum(t2["built"].values()), sum(t2["combined"].values())
    print(f"steps' sums (min): built {sb:.3f} combined {sc:.3f} {sc / sb:.4f}")
    w = walls(sess2, feed, a.rounds, 5)
    r = sorted(c / b for b, c in zip(w["built"], w["combined"]))
    print(f"whole runs (min of 5, {a.rounds} rounds): built {statistics.median(w['built']):.3f} "
          f"combined {statistics.median(w['combined']):.3f} ms, ratio median {statistics.median(r):.4f} "
          f"[{r[len(r) // 4]:.4f}-{r[3 * len(r) // 4]:.4f}]")


if __name__ == "__main__":
    main()

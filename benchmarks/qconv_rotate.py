"""Each int8 convolution of a QDQ network cut alone (as qconv_layers.py cuts it, fed the
network's own activations, in the file's channel order: no qdq._pair_channels), tinycnn only,
1 thread: its step's time with the same feed every run against feeds that change from run to
run (the activations with their pixels rolled by (3 j, 5 j), j = 1 .. --feeds - 1: the same
bytes in other tiles), rounds alternating.  A kernel whose branches follow the bytes (U7S8's
in-place tests, correction lists, the steps leaving the paired loop) has them learnt by the
branch predictor in a loop over one feed, and not in a network, where some fifty other steps
run between two calls; the same feed's times then under-state what the layer costs in the
network.  Minima and medians of each, and the medians' ratio (rotated / same).  With the AVX2
emulation env:
  LD_PRELOAD=.../libcpuid_avx2.so TINYCNN_ISA=avx2 \
  python benchmarks/qconv_rotate.py MODEL-int8-qdq.onnx [--only SUBSTR] [--input photo]

MobileNetV2 int8 on a photograph (h37-qmv, 2026-12-05, the Xeon, emulated AVX2, base ab8bdde,
40 rounds x 16 runs, 8 feeds; step medians rotated / same): every projection run by the
in-place steps kernel (K >= 384 at 14x14 and 7x7, csrc/qgemm_u7s8_steps_avx2.c) 1.03-1.11
(576 -> 96 at 14x14 113 -> 124 us, 960 -> 320 at 7x7 176 -> 188; summed ~64 us), the 6 x 16
expansions at 14x14 (rows corrected one by one around a mid-range zero point) 1.03-1.05
(~22 us), every other convolution 0.99-1.01 (the 6 x 16 projections, the depthwise, the
S16X2 layers); minima level.  In the network (qsteps.py --input photo, minima; with the
pairing: without it, one build, 1.04-1.23 of their time) those projections take 0.082-0.088
/ 0.124-0.133 ms (384 -> 96, 576 -> 96) against 0.077 / 0.112 cut alone on one feed,
onnxruntime's (no data-dependent branches) 0.079 / 0.114 against 0.076 / 0.110: the branch
predictor does not keep a layer's pattern from one run of the network to the next.
Branches, not work: 576 -> 96 alone, each of four rolled feeds repeated 113.2-114.1 us
(medians), the 32 in turn 122.6; 2 feeds in turn 1.016 of the one feed's median, 8 1.065,
32 1.082.  Tried (an environment switch, not kept): that kernel given a tile's 6-8 panels per
call (its steps' list run back to back, TC_QWIDE_PANELS at K >= 384): same-feed medians
0.98-1.00, rotated 1.04-1.10 as before; its paired loop unrolled once in place of twice (GCC
unroll 1): cut alone same-feed 0.996, rotated 0.979 of the ten projections' medians summed,
but in the network (qsteps.py --input photo, 20 x 10, both orders) 1.000 and 1.004, whole
runs (int8_inputs.py --against, 60 rounds, both orders) photo 1.006 / 1 / 1.003, noise 1.001 /
1 / 1.001: level.
A cut has the file's channel order, the network the pairing's: decide in the network.
(h38-qmv: until then the network's paired K >= 384 projections took U8S8X2, not U7S8's
steps kernel at all: the in-network numbers above are U8S8X2's; benchmarks/qblock_rotate.py
cuts a whole block, so that the pairing applies, and rotates its feeds.)  The
split path in place of the steps kernel (another switch), cut alone, rotated medians 1.01-1.11
of the steps kernel's at 14x14 and 0.95-0.96 at 7x7 (K = 960), but in the network (qsteps.py
--input photo, 20 x 10, both orders) those ten projections summed 0.930 / 0.936 and 0.925 /
0.920 ms: level.
ResNet-50 int8 on a photograph (6 x 8 runs): 0.99-1.01 for most layers (0.45-1.1 ms each, too
many branches to learn even on one feed), layer2's conv3 1.01-1.05."""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import shape_inference

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinycnn  # noqa: E402
from bench import INPUTS, input_feed  # noqa: E402
from qconv_layers import conv_blocks  # noqa: E402


def conv_us(sess, feed, step="", clock=time.thread_time_ns):
    """the session's convolution steps (of the nodes whose name contains step) on the
    thread's CPU clock (or clock: time.perf_counter_ns, wall, for several threads) (us), one
    profiled run"""
    real = time.perf_counter_ns
    time.perf_counter_ns = clock
    try:
        recs = sess.run_profiled(feed)[1]
    finally:
        time.perf_counter_ns = real
    return sum(r["seconds"] for r in recs
               if r["op"].startswith("QLinearConv") and step in r["node"]) * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--only", help="layers whose name contains this")
    ap.add_argument("--input", choices=INPUTS, default="photo",
                    help="the network's feed (bench.input_feed)")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--runs", type=int, default=16)
    ap.add_argument("--feeds", type=int, default=8)
    a = ap.parse_args()
    m = shape_inference.infer_shapes(onnx.load(a.model))
    blocks = [b for b in conv_blocks(m) if not a.only or a.only in b[0]]
    full = onnx.load(a.model)
    vi = {v.name: v for v in m.graph.value_info}
    have = {o.name for o in full.graph.output}
    for t in sorted({b[1] for b in blocks} - have):
        full.graph.output.append(vi[t])
    s = ort.InferenceSession(full.SerializeToString(), providers=["CPUExecutionProvider"])
    i = s.get_inputs()[0]
    x = input_feed(a.input, [d if isinstance(d, int) else 1 for d in i.shape])
    acts = dict(zip([o.name for o in s.get_outputs()], s.run(None, {i.name: x})))
    tmpd = tempfile.mkdtemp()
    inferred = os.path.join(tmpd, "inferred.onnx")
    onnx.save(m, inferred)
    for name, t, y in blocks:
        sub = os.path.join(tmpd, "sub.onnx")
        onnx.utils.extract_model(inferred, sub, [t], [y])
        o = tinycnn.SessionOptions()
        o.intra_op_num_threads = 1
        sess = tinycnn.InferenceSession(sub, o)
        v = acts[t]
        feeds = [v] + [np.ascontiguousarray(np.roll(v, (3 * j, 5 * j), axis=(2, 3)))
                       for j in range(1, a.feeds)]
        times = {"same": [], "rotated": []}
        for r in range(a.rounds):
            for mode in ("same", "rotated") if r % 2 == 0 else ("rotated", "same"):
                for j in range(a.runs):
                    f = feeds[0] if mode == "same" else feeds[j % len(feeds)]
                    times[mode].append(conv_us(sess, {t: f}))
        sm, ro = times["same"], times["rotated"]
        print(f"{name[-40:]:40s} same min {min(sm):7.1f} med {statistics.median(sm):7.1f} | "
              f"rotated min {min(ro):7.1f} med {statistics.median(ro):7.1f}  medians "
              f"{statistics.median(ro) / statistics.median(sm):.3f}", flush=True)


if __name__ == "__main__":
    main()

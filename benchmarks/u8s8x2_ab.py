"""An int8 network's 1x1 layers that tinycnn packs as U8S8X2 (tc_qgemm_choose_format_for: a low
share of 4-k groups needing its corrections) on an input U7S8 suits (uint8 after a ReLU, or a
mid-range zero point with many channels): as built against the same session with those layers
forced to U7S8, one process, 1 thread, per-step minima of the thread's CPU clock (qsteps.py's
tc_times), the two sessions alternating round by round; the outputs' bit-equality checked.
qdq's channel pairing moves the share (MobileNetV2 int8: 16 layers take U8S8X2 in the paired
order, none in the file's).  As on an AVX2-only CPU:
  LD_PRELOAD=/work/main/exports/libcpuid_avx2.so TINYCNN_ISA=avx2 \\
  python benchmarks/u8s8x2_ab.py MODEL-int8-qdq.onnx [--input photo] [--rounds 20]
MobileNetV2 int8 on a photograph (h38-q50, 2026-12-05, the Xeon, 20 x 10): the steps 1.005 of
their time forced; the 56x56 projections 0.90 / 0.94, features.17's 0.86, the others 1.02-1.12."""
import argparse
import collections
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinycnn  # noqa: E402
import tinycnn.ops.qconv as qconv  # noqa: E402
from tinycnn.ops.qmatmul import u7s8_suits  # noqa: E402
from bench import INPUTS, input_feed  # noqa: E402
from qsteps import tc_times  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--input", choices=INPUTS, default="photo")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()
    o = tinycnn.SessionOptions()
    o.intra_op_num_threads = 1
    sess = {"built": tinycnn.InferenceSession(a.model, o)}
    built, forced = qconv.gemm_format, []

    def u7s8(ctx, w16, x_dtype, x_zero_point):
        f = built(ctx, w16, x_dtype, x_zero_point)
        if f == "u8s8x2" and w16.shape[1:3] == (1, 1) and \
                u7s8_suits(w16, x_dtype, x_zero_point, mid_zero_point=True):
            forced.append(w16.shape)
            return "u7s8"
        return f
    qconv.gemm_format = u7s8
    sess["u7s8"] = tinycnn.InferenceSession(a.model, o)
    qconv.gemm_format = built
    i = sess["built"].get_inputs()[0]
    feed = {i.name: input_feed(a.input, [d if isinstance(d, int) else 1 for d in i.shape])}
    ys = {k: s.run(None, feed) for k, s in sess.items()}
    same = all(np.array_equal(p, q) for p, q in zip(ys["built"], ys["u7s8"]))
    print(f"{len(forced)} layers forced to U7S8; bit-identical={same}")
    times = {k: {} for k in sess}
    for r in range(a.rounds):
        for k in (list(sess) if r % 2 == 0 else list(sess)[::-1]):
            tc_times(sess[k], feed, a.runs, times[k])
    tot = collections.Counter()
    for n in times["built"]:
        b, f = min(times["built"][n]), min(times["u7s8"][n])
        tot["built"] += b
        tot["u7s8"] += f
        if abs(f - b) > 0.002:
            print(f"{n[-52:]:52s} {b:8.3f} {f:8.3f} {f / b:6.3f}")
    print(f"{'SUM (min)':52s} {tot['built']:8.3f} {tot['u7s8']:8.3f} "
          f"{tot['u7s8'] / tot['built']:6.3f}")


if __name__ == "__main__":
    main()

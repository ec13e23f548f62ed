"""What a GEMM's last short panel costs: lone 1x1 Conv + ReLU layers at sizes around a panel
boundary, tinycnn (and with --ort onnxruntime) in one process, shapes alternating round by
round (order flipped each round), per shape the minimum and the median of the per-round minima.

Two groups (h44-sq):
  rows  : SqueezeNet's 27x27 squeezes K -> M for K 128, 256 and M 30 / 32 / 36: M = 32 is five
          6-row panels and one of 2 rows (4 FMA chains: latency-bound, ~the time of 4 rows);
          t(32) - t(30) against t(36) - t(30) says what the 2-row panel costs;
  cols  : the classifier 512 -> 1000 on 10x16, 13x13, 11x16 maps (N 160 / 169 / 176): 169 =
          10 x 16 + 9, whose last 9 columns run a whole 16-column tile.
As on an AVX2-only CPU:
  LD_PRELOAD=exports/libcpuid_avx2.so TINYCNN_ISA=avx2 PYTHONPATH=<checkout> \\
  python benchmarks/panel_tails.py [--group rows|cols] [--threads 1] [--rounds 40] [--runs 30] [--ort]
(--threads 2: under chrt -f 10.)  Only measures; no assertions."""
import argparse
import os
import sys
import time

import numpy as np
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinycnn  # noqa: E402

GROUPS = {
    "rows": [(K, M, 27, 27) for K in (128, 256) for M in (30, 32, 36)],
    "cols": [(512, 1000, 10, 16), (512, 1000, 13, 13), (512, 1000, 11, 16)],
}


def conv_relu(K, M, H, W, seed=0):
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array((rng.standard_normal((M, K, 1, 1)) * 0.05).astype(np.float32), "w")
    b = numpy_helper.from_array((rng.standard_normal(M) * 0.1).astype(np.float32), "b")
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"]), helper.make_node("Relu", ["c"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, K, H, W])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, M, H, W])], [w, b])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--group", choices=sorted(GROUPS), default="rows")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--runs", type=int, default=30, help="runs a shape a round (their minimum)")
    ap.add_argument("--ort", action="store_true", help="onnxruntime's node beside each shape")
    a = ap.parse_args()
    sess = {}
    for K, M, H, W in GROUPS[a.group]:
        m = conv_relu(K, M, H, W)
        x = {"x": np.maximum(np.random.default_rng(1).standard_normal((1, K, H, W)), 0)
             .astype(np.float32)}
        so = tinycnn.SessionOptions()
        so.intra_op_num_threads = a.threads
        sess[("tinycnn", K, M, H, W)] = (tinycnn.InferenceSession(m, so), x)
        if a.ort:
            import onnxruntime as ort
            o = ort.SessionOptions()
            o.intra_op_num_threads = a.threads
            o.inter_op_num_threads = 1
            sess[("onnxruntime", K, M, H, W)] = (
                ort.InferenceSession(m, o, providers=["CPUExecutionProvider"]), x)
    keys = list(sess)
    mins = {k: [] for k in keys}
    for r in range(a.rounds):
        for k in (keys if r % 2 == 0 else keys[::-1]):
            s, feed = sess[k]
            best = float("inf")
            for _ in range(a.runs):
                t = time.perf_counter()
                s.run(None, feed)
                best = min(best, time.perf_counter() - t)
            mins[k].append(best * 1e6)
    print(f"{a.group}, {a.threads} thread(s), {a.rounds} rounds x {a.runs} runs")
    for k in keys:
        eng, K, M, H, W = k
        gf = 2.0 * M * K * H * W / min(mins[k]) / 1e3
        print(f"{eng:12s} {K:4d} -> {M:4d} at {H}x{W} (N {H * W:4d}): min {min(mins[k]):8.1f} us, "
              f"median of round minima {np.median(mins[k]):8.1f} us, {gf:6.1f} GFLOP/s at the min")


if __name__ == "__main__":
    main()

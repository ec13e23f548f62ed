"""Whole networks with and without the banded inverted-residual blocks (ops/fused_ir.py),
and onnxruntime, alternated in one process: median wall times per round, min over rounds.
As on an AVX2-only CPU, with the library `bench.py --emulate-avx2` builds from cpuid_avx2.c
(exports/libcpuid_avx2.so after one bench.py --emulate-avx2 run):
  LD_PRELOAD=exports/libcpuid_avx2.so TINYCNN_ISA=avx2 python benchmarks/ir_fused_models.py M.onnx..."""
import argparse
import os
import sys
import time

import numpy as np
import onnxruntime as ort

# the checkout this file is in, not an installed tinycnn (python puts benchmarks/ first on the path)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinycnn  # noqa: E402
from tinycnn.ops import fused_ir  # noqa: E402


def session(path, threads, fuse):
    """A tinycnn session planned with the banded blocks on (fuse) or off."""
    saved = fused_ir.IR_FUSE_MIN_BYTES
    fused_ir.IR_FUSE_MIN_BYTES = saved if fuse else float("inf")
    try:
        so = tinycnn.SessionOptions()
        so.intra_op_num_threads = threads
        s = tinycnn.InferenceSession(path, so)
        i = s.get_inputs()[0]
        x = np.random.default_rng(0).standard_normal(
            [d if isinstance(d, int) else 1 for d in i.shape], dtype=np.float32)
        s.run(None, {i.name: x})  # plans now, with the setting above
        return s, {i.name: x}
    finally:
        fused_ir.IR_FUSE_MIN_BYTES = saved


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()
    for path in a.models:
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        o = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        unfused, feed = session(path, a.threads, False)
        fused, _ = session(path, a.threads, True)
        np.testing.assert_array_equal(fused.run(None, feed)[0], unfused.run(None, feed)[0])
        best = [1e9] * 3
        for _ in range(a.rounds):
            for k, s in enumerate((o, unfused, fused)):
                ts = []
                for _ in range(a.runs):
                    t = time.perf_counter()
                    s.run(None, feed)
                    ts.append(time.perf_counter() - t)
                best[k] = min(best[k], float(np.median(ts)))
        print(f"{path.rsplit('/', 1)[-1][:24]:24s} ort {best[0] * 1e3:6.2f} ms  unfused/ort "
              f"{best[1] / best[0]:.3f}  fused/ort {best[2] / best[0]:.3f}  fused/unfused "
              f"{best[2] / best[1]:.3f}")


if __name__ == "__main__":
    main()

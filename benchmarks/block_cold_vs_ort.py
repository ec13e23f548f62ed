"""A block (an ONNX file, e.g. subgraph_shapes.py --save) in tinycnn and onnxruntime, alternating
(the order swapped each round), 1 thread, each run on the thread's CPU clock: first with the feed
warm (as subgraph_shapes.py), then with 32 MB read before every run (the feed, both engines'
weights and workspaces cold, as in a network's first step).  Prints per state the medians and the
median [25-75%] of the per-round ratios tinycnn / onnxruntime.  Input named "input", [1,3,224,224]
(the exported networks' stems).  With the AVX2 emulation env:
  LD_PRELOAD=.../libcpuid_avx2.so TINYCNN_ISA=avx2 PYTHONPATH=<checkout> \
  python benchmarks/block_cold_vs_ort.py block.onnx [rounds]"""
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

import tinycnn


def main():
    path = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    engines = {"ort": ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])}
    to = tinycnn.SessionOptions()
    to.intra_op_num_threads = 1
    engines["tinycnn"] = tinycnn.InferenceSession(path, to)
    feed = {"input": np.random.rand(1, 3, 224, 224).astype(np.float32)}
    junk = np.ones((32 << 20) // 4, np.float32)  # 32 MB, read (clean lines) before a cold run
    for _ in range(5):
        for s in engines.values():
            s.run(None, feed)
    for cold in (False, True):
        us = {k: [] for k in engines}
        ratios = []
        for i in range(rounds):
            order = ["tinycnn", "ort"] if i % 2 == 0 else ["ort", "tinycnn"]
            t = {}
            for k in order:
                if cold:
                    junk.sum()
                c0 = time.thread_time_ns()
                engines[k].run(None, feed)
                t[k] = (time.thread_time_ns() - c0) / 1e3
                us[k].append(t[k])
            ratios.append(t["tinycnn"] / t["ort"])
        q = statistics.quantiles(ratios, n=4)
        print(f"{'cold' if cold else 'warm'}: tinycnn {statistics.median(us['tinycnn']):.0f} us  "
              f"ort {statistics.median(us['ort']):.0f} us  tinycnn/ort {statistics.median(ratios):.3f} "
              f"[{q[0]:.3f}-{q[2]:.3f}]  {rounds} rounds")


if __name__ == "__main__":
    main()

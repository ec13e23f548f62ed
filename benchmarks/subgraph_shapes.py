"""One block of a real network (the nodes between named tensors, onnx.utils.extract_model),
timed in tinycnn and onnxruntime alternately in one process, 1 thread, each run on the
calling thread's CPU clock (a loaded host preempts; CPU time does not count it).
Prints medians (and the 25/75% range of the ratio over rounds).  With the AVX2 emulation env:
  LD_PRELOAD=.../libcpuid_avx2.so CPUID_AVX2_SITES=... TINYCNN_ISA=avx2 PYTHONPATH=<checkout>:<ort_avx2> \
  python benchmarks/subgraph_shapes.py MODEL.onnx IN_TENSOR[,IN2] OUT_TENSOR[,OUT2] [--rounds 15]
A tensor may be given as a prefix of its name when that prefix is unique ("features.3/Concat")."""
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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinycnn  # noqa: E402


def resolve(model, part):
    names = {v for n in model.graph.node for v in list(n.input) + list(n.output)}
    names |= {i.name for i in model.graph.input}
    if part in names:
        return part
    hit = sorted(n for n in names if part in n)
    if len(hit) != 1:
        raise SystemExit(f"{part!r} matches {hit[:8]}")
    return hit[0]


def extract(path, ins, outs):
    m = onnx.load(path)
    ins = [resolve(m, s) for s in ins.split(",")]
    outs = [resolve(m, s) for s in outs.split(",")]
    tmp = tempfile.NamedTemporaryFile(suffix=".onnx", delete=False).name
    inferred = tempfile.NamedTemporaryFile(suffix=".onnx", delete=False).name
    onnx.save(shape_inference.infer_shapes(m), inferred)
    onnx.utils.extract_model(inferred, tmp, ins, outs)
    return tmp


def timed(f, n):
    ts = []
    f()
    for _ in range(n):
        t = time.thread_time()
        f()
        ts.append(time.thread_time() - t)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model"); ap.add_argument("inputs"); ap.add_argument("outputs")
    ap.add_argument("--rounds", type=int, default=15); ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--save", help="also keep the extracted model here")
    a = ap.parse_args()
    sub = extract(a.model, a.inputs, a.outputs)
    if a.save:
        os.replace(sub, a.save); sub = a.save
    so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
    o = ort.InferenceSession(sub, so, providers=["CPUExecutionProvider"])
    ts = tinycnn.SessionOptions(); ts.intra_op_num_threads = 1
    t = tinycnn.InferenceSession(sub, ts)
    rng = np.random.default_rng(0)
    feed = {i.name: np.maximum(rng.standard_normal(i.shape), 0).astype(np.float32) for i in o.get_inputs()}
    yo, yt = o.run(None, feed), t.run(None, feed)
    err = max(float(np.abs(p - q).max() / (np.abs(p).max() + 1e-30)) for p, q in zip(yo, yt))
    to, tt = [], []
    for _ in range(a.rounds):
        to.append(timed(lambda: o.run(None, feed), a.runs))
        tt.append(timed(lambda: t.run(None, feed), a.runs))
    r = sorted(x / y for x, y in zip(tt, to))
    q = lambda p: r[min(len(r) - 1, int(p * len(r)))]
    print(f"{a.inputs[:30]:30s} -> {a.outputs[:30]:30s} tinycnn {statistics.median(tt)*1e3:7.3f} ms  "
          f"ort {statistics.median(to)*1e3:7.3f} ms  ratio {statistics.median(r):5.2f} "
          f"[{q(0.25):.2f}-{q(0.75):.2f}]  err {err:.1e}", flush=True)


if __name__ == "__main__":
    main()

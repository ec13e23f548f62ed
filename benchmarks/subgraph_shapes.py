"""One block of a real network (the nodes between named tensors, onnx.utils.extract_model), or
the whole network, timed in tinycnn and onnxruntime alternately in one process, 1 thread, each
run on the calling thread's CPU clock (a loaded host preempts; CPU time does not count it).
With --against CHECKOUT, that checkout's built tinycnn too (its package copied under another
name, so both builds run in this process): the decisive A/B of a kernel change, where two
processes of one build differ by up to 15% on a shared host.  Prints medians and the 25-75%
range of the per-round ratios.  With the AVX2 emulation env:
  LD_PRELOAD=.../libcpuid_avx2.so CPUID_AVX2_SITES=... TINYCNN_ISA=avx2 PYTHONPATH=<checkout>:<ort_avx2> \
  python benchmarks/subgraph_shapes.py MODEL.onnx [IN_TENSOR[,IN2] OUT_TENSOR[,OUT2]] \
      [--against ../other-checkout] [--rounds 15] [--save block.onnx]
A tensor may be given as a part of its name that only it has ("features.3/Concat")."""
import argparse
import importlib
import os
import shutil
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
    os.unlink(inferred)
    return tmp


def other_build(checkout):
    """CHECKOUT's tinycnn package (relative imports only), imported as tinycnn_against"""
    root = tempfile.mkdtemp()
    shutil.copytree(os.path.join(checkout, "tinycnn"), os.path.join(root, "tinycnn_against"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, root)
    return importlib.import_module("tinycnn_against")


def timed(f, n):
    ts = []
    f()
    for _ in range(n):
        t = time.thread_time()
        f()
        ts.append(time.thread_time() - t)
    return statistics.median(ts)


def spread(a, b):
    r = sorted(x / y for x, y in zip(a, b))
    q = lambda p: r[min(len(r) - 1, int(p * len(r)))]
    return f"{statistics.median(r):5.3f} [{q(0.25):.3f}-{q(0.75):.3f}]"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("inputs", nargs="?")
    ap.add_argument("outputs", nargs="?")
    ap.add_argument("--against", metavar="CHECKOUT", help="also time this checkout's build")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--save", help="also keep the extracted model here")
    a = ap.parse_args()
    sub = a.model
    if a.inputs:
        if not a.outputs:
            raise SystemExit("give both the input and the output tensors")
        sub = extract(a.model, a.inputs, a.outputs)
        if a.save:
            shutil.move(sub, a.save)
            sub = a.save
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    engines = {"ort": ort.InferenceSession(sub, so, providers=["CPUExecutionProvider"])}
    pkgs = [("tinycnn", tinycnn)] + ([("against", other_build(a.against))] if a.against else [])
    for name, pkg in pkgs:
        ts = pkg.SessionOptions()
        ts.intra_op_num_threads = 1
        engines[name] = pkg.InferenceSession(sub, ts)
    rng = np.random.default_rng(0)
    feed = {i.name: np.maximum(rng.standard_normal([d if isinstance(d, int) else 1 for d in i.shape]),
                               0).astype(np.float32)
            for i in engines["ort"].get_inputs()}
    ys = {k: s.run(None, feed) for k, s in engines.items()}
    err = max(float(np.abs(p - q).max() / (np.abs(p).max() + 1e-30))
              for p, q in zip(ys["ort"], ys["tinycnn"]))
    times = {k: [] for k in engines}
    order = list(engines)
    for r in range(a.rounds):
        for k in order if r % 2 == 0 else order[::-1]:
            times[k].append(timed(lambda: engines[k].run(None, feed), a.runs))
    what = f"{a.inputs[:30]} -> {a.outputs[:30]}" if a.inputs else os.path.basename(a.model)[:40]
    ms = "  ".join(f"{k} {statistics.median(v) * 1e3:.3f}" for k, v in times.items())
    line = f"{what:64s} ms: {ms}  tinycnn/ort {spread(times['tinycnn'], times['ort'])}"
    if a.against:
        same = all(np.array_equal(p, q) for p, q in zip(ys["tinycnn"], ys["against"]))
        line += (f"  against/ort {spread(times['against'], times['ort'])}"
                 f"  tinycnn/against {spread(times['tinycnn'], times['against'])}"
                 f" (bit-identical: {same})")
    print(f"{line}  err/ort {err:.1e}", flush=True)


if __name__ == "__main__":
    main()

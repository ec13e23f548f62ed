#!/usr/bin/env python3
"""Latency of the kernels issue 13 added, against onnxruntime: single-node models at the
sizes the target networks use (Resize 2x nearest and bilinear, ConvTranspose 2x2/2,
LayerNormalization over channels), 1 thread.

Not a test.  Run from the repository root (after an in-place build):

    python benchmarks/ops_bench.py [--reps 30] [--threads 1] [--only resize]

Both engines run the same single-node ONNX model in one process, runs alternating
(tinycnn, onnxruntime, tinycnn, ...) so that the machine's slow spells hit both alike;
the medians are printed with their ratio (tinycnn / onnxruntime, lower is better for
tinycnn), the date and the commit.  Whole-model targets (issue 13, item 6) come with the
models.
"""
import argparse
import datetime
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import tinycnn

RNG = np.random.default_rng(0)


def model(node, x_shape, inits):
    graph = helper.make_graph([node], node.op_type, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 8
    return m


def cases():
    """(name, model, x shape): the hot cases of the target networks."""
    f32 = np.float32
    yield ("Resize nearest 2x  YOLOv8n neck 256x20x20",
           model(helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest"), (1, 256, 20, 20),
                 {"s": np.array([1, 1, 2, 2], f32)}), (1, 256, 20, 20))
    yield ("Resize nearest 2x  FPN 128x80x80",
           model(helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest"), (1, 128, 80, 80),
                 {"s": np.array([1, 1, 2, 2], f32)}), (1, 128, 80, 80))
    yield ("Resize bilinear 2x 64x80x80",
           model(helper.make_node("Resize", ["x", "", "s"], ["y"], mode="linear"), (1, 64, 80, 80),
                 {"s": np.array([1, 1, 2, 2], f32)}), (1, 64, 80, 80))
    yield ("Resize bilinear sizes 21x64x64->512",
           model(helper.make_node("Resize", ["x", "", "", "z"], ["y"], mode="linear"), (1, 21, 64, 64),
                 {"z": np.array([1, 21, 512, 512], np.int64)}), (1, 21, 64, 64))
    yield ("ConvTranspose 2x2/2 64->64 @160",
           model(helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2]), (1, 64, 160, 160),
                 {"w": RNG.normal(size=(64, 64, 2, 2)).astype(f32), "b": RNG.normal(size=64).astype(f32)}),
           (1, 64, 160, 160))
    yield ("ConvTranspose 2x2/2 64->1 @320",
           model(helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2]), (1, 64, 320, 320),
                 {"w": RNG.normal(size=(64, 1, 2, 2)).astype(f32), "b": RNG.normal(size=1).astype(f32)}),
           (1, 64, 320, 320))
    for (h, c) in ((56, 96), (14, 384)):
        yield (f"LayerNorm over C  {h}x{h}x{c}",
               model(helper.make_node("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1, epsilon=1e-6),
                     (1, h, h, c), {"g": RNG.normal(size=c).astype(f32), "b": RNG.normal(size=c).astype(f32)}),
               (1, h, h, c))


def commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=os.path.dirname(os.path.abspath(__file__)), check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def measure(name, m, shape, reps, threads):
    data = m.SerializeToString()
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    ref = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    to = tinycnn.SessionOptions()
    to.intra_op_num_threads = threads
    ours = tinycnn.InferenceSession(data, to)
    x = {"x": RNG.normal(size=shape).astype(np.float32)}
    a, b = ours.run(None, x)[0], ref.run(None, x)[0]
    diff = float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))
    times = {"tinycnn": [], "onnxruntime": []}
    for _ in range(reps):
        for label, session in (("tinycnn", ours), ("onnxruntime", ref)):
            t0 = time.perf_counter()
            session.run(None, x)
            times[label].append(time.perf_counter() - t0)
    t, r = statistics.median(times["tinycnn"]), statistics.median(times["onnxruntime"])
    return t, r, diff


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", default="", help="run the cases whose name contains this")
    args = ap.parse_args(argv)
    print(f"# {datetime.datetime.now():%Y-%m-%d %H:%M}  commit {commit()}  {args.threads} thread(s), "
          f"median of {args.reps} alternating runs, isa {tinycnn._kernels.best_isa()}")
    print(f"| {'case':<40} | tinycnn ms | onnxruntime ms | ratio | max rel diff |")
    print(f"|{'-' * 42}|-----------:|---------------:|------:|-------------:|")
    for name, m, shape in cases():
        if args.only.lower() not in name.lower():
            continue
        t, r, diff = measure(name, m, shape, args.reps, args.threads)
        print(f"| {name:<40} | {t * 1e3:10.3f} | {r * 1e3:14.3f} | {t / r:5.2f} | {diff:12.1e} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Squeeze-and-excitation blocks alone, cut from the real networks with their weights: from the
depthwise convolution's input (--from dw, the default: the depthwise, its activation, the SE and
the projection, so tinycnn pools inside the depthwise), from the depthwise's output (--from se) or
from the expansion's input (--from block, the whole inverted-residual block)
to the projection's output (its residual Add too, a second input), tinycnn vs onnxruntime, both
sessions at 1 thread in one process, alternating bursts; thread CPU time, min / median (ms).
As on an AVX2-only CPU:
  LD_PRELOAD=exports/libcpuid_avx2.so CPUID_AVX2_SITES=exports/ort_avx2/cpuid_sites.txt \\
  PYTHONPATH=.:exports/ort_avx2 TINYCNN_ISA=avx2 python benchmarks/se_shapes.py \\
      exports/mobilenet_v3_large-opset17-*.onnx [--from se] [--blocks 4,11] [--rounds 30]"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np
import onnx
import onnx.utils
import onnxruntime as ort

# the checkout this file is in, not an installed tinycnn (python puts benchmarks/ first on the path)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinycnn  # noqa: E402
from tinycnn import graph  # noqa: E402


def se_blocks(model):
    """(name, x, dw_input, expansion_input, residual_or_None, out) per SE block: x the GlobalAveragePool's
    input, whose Mul feeds a 1x1 Conv (the projection), maybe followed by an Add."""
    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    users = {}
    for n in g.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    blocks = []
    for pool in (n for n in g.node if n.op_type == "GlobalAveragePool"):
        x = pool.input[0]
        muls = [n for n in users.get(x, []) if n.op_type == "Mul"
                and any(producer.get(i) is not None and producer[i].op_type in
                        ("HardSigmoid", "Sigmoid") and "scale" in producer[i].name
                        for i in n.input)]
        if len(muls) != 1:
            continue
        proj = [n for n in users.get(muls[0].output[0], []) if n.op_type == "Conv"]
        if len(proj) != 1:
            continue
        out = proj[0].output[0]
        block = proj[0].name.split("/block/")[0]  # the residual Add of this block, not the next's
        adds = [n for n in users.get(out, []) if n.op_type == "Add"
                and n.name.rsplit("/", 1)[0] == block]
        residual = None
        if len(adds) == 1:
            residual = [i for i in adds[0].input if i != out][0]
            out = adds[0].output[0]
        # back from x to the depthwise convolution (group > 1)
        t, dw = x, None
        for _ in range(4):
            n = producer.get(t)
            if n is None:
                break
            if n.op_type == "Conv" and any(a.name == "group" and a.i > 1 for a in n.attribute):
                dw = n
                break
            t = n.input[0]
        # and back from the depthwise to the expansion (a 1x1 convolution, group 1)
        t, ex = dw.input[0] if dw is not None else None, None
        for _ in range(4):
            n = producer.get(t)
            if n is None or (n.op_type == "Conv" and any(a.name == "group" and a.i > 1
                                                          for a in n.attribute)):
                break
            if n.op_type == "Conv":
                ex = n
                break
            t = n.input[0]
        blocks.append((pool.name, x, dw.input[0] if dw is not None else None,
                       ex.input[0] if ex is not None else None, residual, out))
    return blocks


def shapes(model):
    inferred = onnx.shape_inference.infer_shapes(model)
    return {v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
            for v in list(inferred.graph.value_info) + list(inferred.graph.input)
            + list(inferred.graph.output)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--from", dest="start", choices=("block", "dw", "se"), default="dw")
    ap.add_argument("--blocks", default="", help="indices of the SE blocks to time (default all)")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--burst", type=int, default=5)
    ap.add_argument("--nofold", action="store_true",
                    help="also time tinycnn without graph._fold_se_gate (the scale as its own pass)")
    ap.add_argument("--flush", type=int, default=0, metavar="MIB",
                    help="before each timed run, write MIB MiB (the weights leave L2, as in a "
                         "network) then read the inputs back into cache")
    ap.add_argument("--save", default="", help="keep the cut models in this folder")
    a = ap.parse_args()
    model = onnx.load(a.model)
    sh = shapes(model)
    blocks = se_blocks(model)
    pick = [int(b) for b in a.blocks.split(",")] if a.blocks else range(len(blocks))
    tmp = a.save or tempfile.mkdtemp()
    for k in pick:
        name, x, dwin, exin, residual, out = blocks[k]
        start = {"block": exin, "dw": dwin, "se": x}[a.start]
        if start is None:
            continue
        ins = [start] + ([residual] if residual and residual != start else [])
        path = os.path.join(tmp, f"{os.path.basename(a.model).split('-')[0]}-{a.start}{k}.onnx")
        onnx.utils.extract_model(a.model, path, ins, [out])
        rng = np.random.default_rng(0)
        feed = {i: rng.standard_normal(sh[i], dtype=np.float32) for i in ins}
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        o = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        to = tinycnn.SessionOptions()
        to.intra_op_num_threads = 1
        t = tinycnn.InferenceSession(path, to)
        sessions = [("tc", t), ("ort", o)]
        if a.nofold:
            fold = graph._fold_se_gate
            graph._fold_se_gate = lambda g, keep: None
            try:
                sessions.append(("nofold", tinycnn.InferenceSession(path, to)))
            finally:
                graph._fold_se_gate = fold
        ref, got = o.run(None, feed)[0], t.run(None, feed)[0]
        err = float(np.max(np.abs(ref - got)) / (np.max(np.abs(ref)) + 1e-30))
        ts = {key: [] for key, _ in sessions}
        big = np.zeros(a.flush << 18, np.float32)

        def flush():
            if a.flush:
                big[::16] += 1.0
                for v in feed.values():
                    v.sum()

        for _ in range(a.rounds):
            for key, s in sessions:
                s.run(None, feed)
                for _ in range(a.burst):
                    flush()
                    c0 = time.thread_time_ns()
                    s.run(None, feed)
                    ts[key].append(time.thread_time_ns() - c0)
        m = {key: (np.min(v) / 1e6, np.median(v) / 1e6) for key, v in ts.items()}
        c, hw = sh[x][1], sh[x][2:]
        print(f"{k:2d} {name.split('/')[2] if name.count('/') > 2 else name:14s} C {c:4d} "
              f"{hw[0]:3d}x{hw[1]:<3d} -> {sh[out][1]:3d}{' +res' if residual else '     '} "
              f"tc {m['tc'][0]:.3f}/{m['tc'][1]:.3f}  ort {m['ort'][0]:.3f}/{m['ort'][1]:.3f}  "
              f"tc/ort {m['tc'][1] / m['ort'][1]:.2f}  err {err:.1e}"
              + (f"  nofold {m['nofold'][0]:.3f}/{m['nofold'][1]:.3f} "
                 f"{m['nofold'][1] / m['ort'][1]:.2f}" if a.nofold else ""), flush=True)


if __name__ == "__main__":
    main()

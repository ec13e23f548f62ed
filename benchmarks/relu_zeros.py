"""The fraction of exact zeros in the input of every 1x1 Conv whose input a Relu or Clip makes
(an inverted residual's depthwise output: what benchmarks/pw_sparse_probe.c's sparse projection
skips), by onnxruntime on bench.py's feed (standard normal noise, default_rng(0)) or an image
file's pixels scaled as tinycnn infer does not (--photo: a smooth synthetic image, values in
[-2, 2]).  Prints per layer: the Conv's name, its input's shape, the zero fraction, and the
share of the network's multiply-adds in such layers.
  python benchmarks/relu_zeros.py M.onnx [--photo]
"""
import argparse

import numpy as np
import onnx
import onnxruntime as ort
from onnx import shape_inference


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--photo", action="store_true")
    a = ap.parse_args()
    m = shape_inference.infer_shapes(onnx.load(a.model))
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output)}
    inits = {i.name: i for i in m.graph.initializer}
    made_by = {o: n for n in m.graph.node for o in n.output}
    rows, total = [], 0
    for n in m.graph.node:
        if n.op_type != "Conv" or n.input[1] not in inits:
            continue
        w = inits[n.input[1]].dims
        out = shapes.get(n.output[0])
        macs = int(np.prod(w)) * (out[2] * out[3] if out and len(out) == 4 else 1)
        total += macs
        src = made_by.get(n.input[0])
        if tuple(w[2:]) == (1, 1) and src is not None and src.op_type in ("Relu", "Clip"):
            rows.append((n.name, n.input[0], macs))
    for _, t, _ in rows:
        m.graph.output.append(onnx.ValueInfoProto(name=t))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    i = s.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in i.shape]
    if a.photo:
        yy, xx = np.meshgrid(np.linspace(-1, 1, shape[2]), np.linspace(-1, 1, shape[3]),
                             indexing="ij")
        x = np.stack([np.sin(3 * xx + c) + np.cos(2 * yy - c) for c in range(shape[1])])[None]
        x = x.astype(np.float32)
    else:
        x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    outs = s.run([t for _, t, _ in rows], {i.name: x})
    sparse_macs = 0
    for (name, t, macs), v in zip(rows, outs):
        z = float(np.mean(v == 0))
        sparse_macs += macs * z
        print(f"{name[-40:]:40s} {str(list(v.shape)):20s} zeros {z:.3f}  MACs {macs / 1e6:6.1f} M")
    print(f"such layers {sum(r[2] for r in rows) / total:.3f} of the network's conv MACs; "
          f"their zero products {sparse_macs / total:.3f} of them")


if __name__ == "__main__":
    main()

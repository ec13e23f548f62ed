"""A float64 evaluation of an ONNX graph, and how far tinycnn and onnxruntime are from it.

    python benchmarks/f64_reference.py MODEL.onnx [--size HxW] [--batch N] [--seed S]
        [--layers] [--threads T] [--yolo] [--no-winograd] [--json FILE]

The graph's float tensors (initializers, Constant values, ConstantOfShape fills, Casts to
float) are made float64 and the graph is run by onnx's reference evaluator, with Conv and
MaxPool done by torch in float64 (the evaluator's own are plain Python loops).  The input is
N(0, 1) in float32 (the float64 graph gets the same values), so the only rounding left in the
reference is float64's: against it, max|engine - f64| / max|f64| is each engine's own error,
and the difference between the engines splits into whose it is.

Printed per output (and per part with --yolo: boxes rows 0-3, class probabilities 4-83, and
the class logits before the Sigmoid): tinycnn (default plan; with --no-winograd also its plan
without Winograd), onnxruntime optimized and unoptimized, each against float64, and tinycnn
against onnxruntime.  --layers also compares every intermediate tensor the three produce
(the engines run with those tensors as extra outputs, which can change what they fuse).

Not a test: the tool behind the YOLOv8n 640x640 investigation (session 45, h45-yo).
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def to_float64(model):
    """The ModelProto with every float32 tensor made float64 (in place; returns it)."""
    import onnx
    from onnx import numpy_helper, TensorProto

    def conv_tensor(t):
        if t.data_type == TensorProto.FLOAT:
            a = numpy_helper.to_array(t).astype(np.float64)
            t.CopyFrom(numpy_helper.from_array(a, t.name))

    g = model.graph
    for t in g.initializer:
        conv_tensor(t)
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        tt = vi.type.tensor_type
        if tt.elem_type == TensorProto.FLOAT:
            tt.elem_type = TensorProto.DOUBLE
    for n in g.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                conv_tensor(a.t)
            elif n.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.DOUBLE
    return model


def _reference_ops():
    import torch
    import torch.nn.functional as F
    from onnx.reference.op_run import OpRun

    class Conv(OpRun):
        op_domain = ""

        def _run(self, X, W, B=None, auto_pad=None, dilations=None, group=None,
                 kernel_shape=None, pads=None, strides=None):
            assert auto_pad in (None, "NOTSET", b"NOTSET"), auto_pad
            nd = X.ndim - 2
            pads = list(pads or [0] * 2 * nd)
            x = torch.from_numpy(np.array(X, dtype=np.float64))
            # F.pad takes the last dimension first
            pad = []
            for d in reversed(range(nd)):
                pad += [pads[d], pads[d + nd]]
            x = F.pad(x, pad)
            w = torch.from_numpy(np.array(W, dtype=np.float64))
            b = None if B is None else torch.from_numpy(np.asarray(B, dtype=np.float64))
            conv = F.conv2d if nd == 2 else F.conv1d
            y = conv(x, w, b, stride=tuple(strides or [1] * nd),
                     dilation=tuple(dilations or [1] * nd), groups=int(group or 1))
            return (y.numpy(),)

    class MaxPool(OpRun):
        op_domain = ""

        def _run(self, X, auto_pad=None, ceil_mode=None, dilations=None, kernel_shape=None,
                 pads=None, storage_order=None, strides=None):
            assert auto_pad in (None, "NOTSET", b"NOTSET"), auto_pad
            nd = X.ndim - 2
            pads = list(pads or [0] * 2 * nd)
            pad = []
            for d in reversed(range(nd)):
                pad += [pads[d], pads[d + nd]]
            x = F.pad(torch.from_numpy(np.array(X)), pad, value=-np.inf)
            y = F.max_pool2d(x, tuple(kernel_shape), stride=tuple(strides or [1] * nd),
                             dilation=tuple(dilations or [1] * nd), ceil_mode=bool(ceil_mode))
            return (y.numpy(),)

    return [Conv, MaxPool]


def f64_values(path, feeds, names=None):
    """{name: float64 array} of the graph outputs (and `names`) evaluated in float64."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    model = to_float64(onnx.load(path))
    ev = ReferenceEvaluator(model, new_ops=_reference_ops())
    f64_feeds = {k: v.astype(np.float64) if v.dtype == np.float32 else v for k, v in feeds.items()}
    if names:
        results = ev.run(None, f64_feeds, intermediate=True)
        return {n: results[n] for n in list(names) + ev.output_names if n in results}
    return dict(zip(ev.output_names, ev.run(None, f64_feeds)))


def ort_values(path, feeds, names, threads, optimize):
    import onnxruntime
    from tinycnn.cli.verify import _with_outputs
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    if not optimize:
        opts.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    extra = {n: np.float32 for n in names}
    model = _with_outputs(path, extra) if extra else path
    sess = onnxruntime.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    outs = [o.name for o in sess.get_outputs()]
    return dict(zip(outs, sess.run(outs, feeds)))


def tinycnn_values(path, feeds, names, threads, winograd=True):
    import tinycnn
    opts = tinycnn.SessionOptions()
    opts.intra_op_num_threads = threads
    if not winograd:
        opts.add_session_config_entry("session.tinycnn.winograd", "0")
    sess = tinycnn.InferenceSession(path, sess_options=opts)
    # what graph optimization fused away cannot be read: left out (their rows show "-")
    graph = sess._graph
    names = [n for n in names if graph.resolve(n) not in graph.fused_away]
    outs = [o.name for o in sess.get_outputs()] + names
    return dict(zip(outs, sess.run(outs, feeds)))


def rel(a, ref):
    ref = np.asarray(ref, dtype=np.float64)
    scale = np.abs(ref).max()
    return float(np.abs(np.asarray(a, dtype=np.float64) - ref).max() / scale) if scale else 0.0


def yolo_parts(out):
    return {"boxes": out[:, :4], "class probabilities": out[:, 4:]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("--size", default="640x640", help="HxW of the input (default 640x640)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seed", type=int, default=-1,
                   help="input seed (default: tests/test_models_dense.py's input of this size)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--layers", action="store_true", help="every intermediate tensor too")
    p.add_argument("--tensors", default="",
                   help="intermediate tensors to compare too (comma-separated names)")
    p.add_argument("--yolo", action="store_true", help="YOLOv8n's output split in its parts")
    p.add_argument("--no-winograd", action="store_true",
                   help="also run tinycnn with Winograd off")
    p.add_argument("--json", help="write the numbers here")
    args = p.parse_args(argv)
    h, w = (int(v) for v in args.size.lower().split("x"))
    if args.seed < 0:  # tests/test_models_dense.py's input for this size
        rng = np.random.default_rng(1234 + h * 7 + w)
        x = rng.standard_normal((2, 3, h, w), dtype=np.float32)[:args.batch]
    else:
        rng = np.random.default_rng(args.seed)
        x = rng.standard_normal((args.batch, 3, h, w), dtype=np.float32)
    import onnx
    m = onnx.load(args.model, load_external_data=False)
    feeds = {m.graph.input[0].name: x}
    names = []
    if args.layers:
        # the float tensors nodes compute (shape arithmetic left out)
        shape_ops = {"Constant", "Shape", "Gather", "Unsqueeze", "Cast", "Range",
                     "ConstantOfShape", "Expand", "Slice"}
        outputs = {o.name for o in m.graph.output}
        names = [o for n in m.graph.node if n.op_type not in shape_ops for o in n.output
                 if o and o not in outputs]
    names += [n for n in args.tensors.split(",") if n and n not in names]
    t = time.time()
    ref = f64_values(args.model, feeds, names)
    print(f"float64 reference: {time.time() - t:.1f} s", file=sys.stderr)
    names = [n for n in names if n in ref and np.asarray(ref[n]).dtype.kind == "f"]
    engines = {
        "tinycnn": tinycnn_values(args.model, feeds, names, args.threads),
        "ort": ort_values(args.model, feeds, names, args.threads, True),
        "ort-unopt": ort_values(args.model, feeds, names, args.threads, False),
    }
    if args.no_winograd:
        engines["tinycnn-nowino"] = tinycnn_values(args.model, feeds, names, args.threads,
                                                   winograd=False)
    report = {"model": args.model, "size": [h, w], "batch": args.batch, "seed": args.seed,
              "rows": []}
    out_names = [o.name for o in m.graph.output]
    rows = []
    for name in names + out_names:
        if name not in ref:
            continue
        r = np.asarray(ref[name])
        if r.dtype.kind != "f":
            continue
        parts = {name: None}
        if args.yolo and name in out_names:
            parts = {f"{name} {k}": v for k, v in yolo_parts(r).items()}
        for label, sub in parts.items():
            row = {"tensor": label}
            for e, vals in engines.items():
                if name not in vals:
                    continue
                got = np.asarray(vals[name])
                if sub is not None:
                    got = yolo_parts(got)[label.split(" ", 1)[1]]
                    refp = sub
                else:
                    refp = r
                row[e] = rel(got, refp)
            if "tinycnn" in engines and name in engines["tinycnn"] and name in engines["ort"]:
                a, b = engines["tinycnn"][name], engines["ort"][name]
                if sub is not None:
                    part = label.split(" ", 1)[1]
                    a, b = yolo_parts(a)[part], yolo_parts(b)[part]
                row["tinycnn-vs-ort"] = rel(a, b)
            rows.append(row)
    cols = list(engines) + ["tinycnn-vs-ort"]
    print(f"{'tensor':60s} " + " ".join(f"{c:>15s}" for c in cols))
    for row in rows:
        print(f"{row['tensor'][:60]:60s} " + " ".join(
            f"{row[c]:15.3e}" if c in row else f"{'-':>15s}" for c in cols))
    report["rows"] = rows
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

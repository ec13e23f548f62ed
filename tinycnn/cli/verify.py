"""`tinycnn verify MODEL`: run tinycnn and onnxruntime on one input and compare the outputs
(every intermediate tensor with --all-layers)."""
import argparse
import json
import math
import os
from typing import Dict, List, Optional

import numpy as np

from . import images, models, tables
from .args import (EPILOG, EXIT_MISMATCH, EXIT_OK, CLIError, add_input_shape, first_line,
                   nonneg_float, positive_int)


def register(sub, parents):
    p = sub.add_parser("verify", parents=parents, help="compare tinycnn with onnxruntime",
                       description="Run tinycnn and onnxruntime on the same input and compare every output "
                                   "(every intermediate tensor with --all-layers). Exit 0 within tolerance, "
                                   "1 on mismatch, 2 on error. Needs onnxruntime: pip install tinycnn[verify].",
                       epilog=EPILOG)
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--input", metavar="IMAGE|FILE.npy", help="input (default: random normal, fixed seed)")
    p.add_argument("--atol", type=nonneg_float, default=1e-4, metavar="A", help="absolute tolerance (default 1e-4)")
    p.add_argument("--rtol", type=nonneg_float, default=1e-4, metavar="R", help="relative tolerance (default 1e-4)")
    p.add_argument("--all-layers", action="store_true", help="compare every intermediate tensor")
    add_input_shape(p, "fix a symbolic input shape (repeat for several inputs)")
    p.add_argument("--preset", choices=["imagenet", "caffe", "none"], help="normalization of an --input image")
    p.add_argument("--seed", type=int, default=0, help="seed of the random input (default 0)")
    p.add_argument("--threads", type=positive_int, metavar="N")
    p.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    p.set_defaults(func=run)


def _feeds(model, shapes, args) -> Dict[str, np.ndarray]:
    if not args.input:
        return models.random_feeds(model, shapes, seed=args.seed)
    if len(model.inputs) != 1:
        raise CLIError(f"--input: the model has {len(model.inputs)} inputs; give none (random inputs)")
    v = model.inputs[0]
    want = shapes[v.name]
    if args.input.lower().endswith(".npy"):
        if not os.path.exists(args.input):
            raise CLIError(f"{args.input}: no such file")
        try:
            x = np.load(args.input, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise CLIError(f"{args.input}: not a .npy array ({first_line(e)})") from None
        if x.ndim == len(want) - 1:
            x = x[None]
        declared = list(v.dims) if v.dims is not None else want
        if x.ndim != len(want) or any(isinstance(d, int) and d > 0 and d != s
                                      for d, s in zip(declared, x.shape)):
            raise CLIError(f"{args.input}: array of shape {list(x.shape)} does not fit input "
                           f"{v.name!r} of shape {declared}")
        return {v.name: np.ascontiguousarray(x, dtype=v.np_dtype)}
    images.require_pillow("--input IMAGE")
    if len(want) != 4:
        raise CLIError(f"--input {args.input}: an image needs an [N, C, H, W] input, the model's is {want}")
    spec = images.preprocessing_for(argparse.Namespace(preset=args.preset), model.metadata)
    x = images.load_batch([args.input], tuple(want[2:]), want[1], spec)
    return {v.name: np.repeat(x, want[0], axis=0)}


def _computed_tensors(model, shapes):
    """{name: dtype} of every tensor a node computes at run time, in execution order
    (constants and shape arithmetic, known when planning, are left out)."""
    dtypes = {}
    for layer in models.analyze(model, shapes).layers:
        if not layer.constant:
            for t in layer.outputs:
                if t is not None:
                    dtypes.setdefault(t.name, t.dtype)
    return dtypes


def _with_outputs(path: str, dtypes) -> bytes:
    """The model at `path` (weights included) with `dtypes`' tensors added to its graph outputs,
    for onnxruntime to return."""
    import onnx
    from onnx.helper import np_dtype_to_tensor_dtype

    m = onnx.load(path)
    present = {o.name for o in m.graph.output}
    for name, dtype in dtypes.items():
        if name not in present:
            out = m.graph.output.add()
            out.name = name
            out.type.tensor_type.elem_type = np_dtype_to_tensor_dtype(np.dtype(dtype))
    return m.SerializeToString()


def compare(ours: np.ndarray, ref: np.ndarray, atol: float, rtol: float) -> dict:
    """Differences of one tensor; `ok` is numpy.allclose(ours, ref, rtol, atol) plus NaN/Inf parity."""
    ours = np.asarray(ours)
    ref = np.asarray(ref)

    def count(a, test):
        return int(test(a).sum()) if a.dtype.kind == "f" else 0

    row = {"shape": list(ref.shape), "nan": count(ours, np.isnan), "inf": count(ours, np.isinf),
           "ref_nan": count(ref, np.isnan), "ref_inf": count(ref, np.isinf)}
    if ours.shape != ref.shape:
        row.update(ok=False, max_abs=math.inf, max_rel=math.inf, need_atol=math.inf, need_rtol=math.inf,
                   note=f"shape {list(ours.shape)} vs onnxruntime {list(ref.shape)}")
        return row
    a = ours.astype(np.float64)
    b = ref.astype(np.float64)
    same_special = (np.isnan(a) & np.isnan(b)) | (np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b)))
    diff = np.where(same_special, 0.0, np.abs(a - b))
    diff = np.where(np.isnan(diff), np.inf, diff)
    mag = np.abs(np.where(np.isfinite(b), b, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / mag)
        need_rtol = np.where(diff <= atol, 0.0, (diff - atol) / mag)
    need_atol = float(np.max(diff - rtol * mag, initial=0.0))
    row.update(max_abs=float(diff.max(initial=0.0)), max_rel=float(np.max(rel, initial=0.0)),
               need_atol=max(need_atol, 0.0), need_rtol=float(np.max(need_rtol, initial=0.0)),
               ok=bool(np.all(diff <= atol + rtol * mag)), note="")
    if row["nan"] != row["ref_nan"] or row["inf"] != row["ref_inf"]:
        row["ok"] = False
        row["note"] = f"NaN/Inf: tinycnn {row['nan']}/{row['inf']}, onnxruntime {row['ref_nan']}/{row['ref_inf']}"
    return row


def _top5(scores: np.ndarray) -> Optional[List[int]]:
    s = np.asarray(scores)
    if s.ndim < 1 or s.shape[0] < 1:
        return None
    row = s.reshape(s.shape[0], -1)[0]
    if row.size < 5:
        return None
    return [int(i) for i in np.argsort(-row, kind="stable")[:5]]


def run(args) -> int:
    model = models.load(args.model)
    shapes = models.input_shapes(model, 1, args.input_shape or ())
    feeds = _feeds(model, shapes, args)
    final_names = [v.name for v in model.outputs]
    producer = {o: node for node in model.nodes for o in node.outputs}
    if args.all_layers:
        dtypes = _computed_tensors(model, shapes)
        names = list(dtypes) + [n for n in final_names if n not in dtypes]
        ref_model = _with_outputs(args.model, dtypes)
    else:
        names, ref_model = final_names, args.model
    del model  # its weights: the engines load their own
    ort_sess = models.onnxruntime_session(ref_model, args.threads, optimize=not args.all_layers)
    ort_names = [o.name for o in ort_sess.get_outputs()]
    ref_values = dict(zip(ort_names, ort_sess.run(ort_names, feeds)))
    sess = models.tinycnn_session(args.model, args.threads, optimize=not args.all_layers)
    ours = dict(zip(names, models.run_tinycnn(sess, names, feeds, args.model)))

    rows = []
    for name in names:
        row = compare(ours[name], ref_values[name], args.atol, args.rtol)
        node = producer.get(name)
        row.update(tensor=name, node=node.name if node is not None else "(input)",
                   op=node.op_type if node is not None else "")
        rows.append(row)
    first_bad = next((r for r in rows if not r["ok"]), None)
    top5 = {"tinycnn": _top5(ours[final_names[0]]), "onnxruntime": _top5(ref_values[final_names[0]])}
    if args.json:
        print(json.dumps({"model": args.model, "atol": args.atol, "rtol": args.rtol,
                          "tensors": [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                                       for k, v in r.items()} for r in rows],
                          "first_divergence": None if first_bad is None else
                          {"node": first_bad["node"], "op": first_bad["op"], "tensor": first_bad["tensor"]},
                          "top5": top5, "ok": first_bad is None}))
    else:
        print(_report(rows, first_bad, top5, feeds, args))
    return EXIT_OK if first_bad is None else EXIT_MISMATCH


def _short_tensor(tensor: str, node: str) -> str:
    """Blank when the tensor is just the node's output by the exporters' naming (`<node>_output_0`)."""
    return "" if tensor.startswith(node + "_output_") else tensor


def _report(rows, first_bad, top5, feeds, args) -> str:
    table_rows = [[r["node"], r["op"], _short_tensor(r["tensor"], r["node"]), tables.shape(r["shape"]),
                   tables.sci(r["max_abs"]), tables.sci(r["max_rel"]), tables.sci(r["need_atol"]),
                   tables.sci(r["need_rtol"]),
                   "ok" if r["ok"] else "FAIL" + (f" ({r['note']})" if r["note"] else "")]
                  for r in rows]
    lines = [tables.table(["node", "op", "tensor", "shape", "max abs", "max rel", "need atol",
                           "need rtol", ""], table_rows, right={4, 5, 6, 7}),
             "",
             "inputs       " + tables.shapes({k: v.shape for k, v in feeds.items()})
             + ("" if args.input else f" (random normal, seed {args.seed})"),
             f"tolerance    atol {args.atol:g}, rtol {args.rtol:g}  "
             "(|tinycnn - onnxruntime| <= atol + rtol * |onnxruntime|)"]
    if first_bad is None:
        lines.append(f"result       all {len(rows)} tensors within tolerance")
    else:
        bad = sum(1 for r in rows if not r["ok"])
        lines.append(f"result       {bad} of {len(rows)} tensors differ; first divergence at node "
                     f"{first_bad['node']} ({first_bad['op']}), tensor {first_bad['tensor']}")
    ours, ref = top5["tinycnn"], top5["onnxruntime"]
    if ours is not None and ref is not None:
        if ours == ref:
            verdict = "agree"
        elif set(ours) == set(ref):
            verdict = "same classes, different order"
        else:
            verdict = "DIFFER"
        lines.append(f"top-5        {verdict}: tinycnn {ours}, onnxruntime {ref}")
    return "\n".join(lines)

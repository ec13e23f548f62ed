"""`tinycnn verify MODEL`: run tinycnn and a reference on one input and compare the outputs
(every intermediate tensor with --all-layers, up to the first that differs with
--first-divergence).  The reference is onnxruntime, run live, or a file of tensors saved earlier
(--load-outputs: by `verify --save-outputs` on another machine, or written from PyTorch), which
needs no onnxruntime."""
import argparse
import gc
import json
import math
import os
import zipfile
from typing import Dict, List, Optional

import numpy as np

from . import images, models, tables
from .args import (EPILOG, EXIT_MISMATCH, EXIT_OK, CLIError, add_input_shape, first_line,
                   nonneg_float, npz_name, open_for_writing, positive_float, positive_int)

DEFAULT_WINDOW_MB = 256.0


def register(sub, parents):
    p = sub.add_parser("verify", parents=parents, help="compare tinycnn with onnxruntime or saved outputs",
                       description="Run tinycnn and a reference (onnxruntime, or tensors saved in an .npz "
                                   "with --load-outputs) on the same input and compare every output "
                                   "(every intermediate tensor with --all-layers; the first one that "
                                   "differs with --first-divergence). Exit 0 within tolerance, 1 on "
                                   "mismatch, 2 on error. Live comparison needs onnxruntime: "
                                   "pip install tinycnn[verify].", epilog=EPILOG)
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--input", metavar="IMAGE|FILE.npy|FILE.npz",
                   help="input: an image, an array, or arrays named by input (default: random normal, "
                        "fixed seed)")
    p.add_argument("--atol", type=nonneg_float, default=1e-4, metavar="A", help="absolute tolerance (default 1e-4)")
    p.add_argument("--rtol", type=nonneg_float, default=1e-4, metavar="R", help="relative tolerance (default 1e-4)")
    p.add_argument("--steps", type=nonneg_float, metavar="K",
                   help="quantized models: allow K quantization steps on each quantized tensor (K "
                        "codes on an 8-bit tensor, K times its DequantizeLinear's scale on a "
                        "dequantized one); other tensors keep --atol/--rtol")
    layers = p.add_mutually_exclusive_group()
    layers.add_argument("--all-layers", action="store_true", help="compare every intermediate tensor")
    layers.add_argument("--first-divergence", action="store_true",
                        help="find the first tensor that differs, comparing a window of tensors at a time")
    p.add_argument("--window-mb", type=positive_float, default=DEFAULT_WINDOW_MB, metavar="MB",
                   help=f"--first-divergence: tensors compared per run of both engines, in MB "
                        f"(default {DEFAULT_WINDOW_MB:g})")
    saved = p.add_mutually_exclusive_group()
    saved.add_argument("--save-outputs", metavar="FILE.npz",
                       help="save the inputs and onnxruntime's outputs (all layers with --all-layers)")
    saved.add_argument("--load-outputs", metavar="FILE.npz",
                       help="compare with the tensors in FILE.npz instead of running onnxruntime; its "
                            "inputs, if it has them, are used")
    add_input_shape(p, "fix a symbolic input shape (repeat for several inputs)")
    p.add_argument("--preset", choices=["imagenet", "caffe", "none"], help="normalization of an --input image")
    p.add_argument("--seed", type=int, default=0, help="seed of the random input (default 0)")
    p.add_argument("--threads", type=positive_int, metavar="N")
    p.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    p.set_defaults(func=run)


# ---- inputs ----

def _load_npz(path: str, option: str):
    if not os.path.exists(path):
        raise CLIError(f"{option} {path}: no such file")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise CLIError(f"{option} {path}: not an .npz of arrays ({first_line(e)})") from None


def check_feeds(model, arrays: Dict[str, np.ndarray], source: str) -> Dict[str, np.ndarray]:
    """Arrays named by input, checked against the model: every input present, no other name,
    the declared rank and fixed dims, the declared dtype; the error names the file and input."""
    declared = {v.name: v for v in model.inputs}
    extra = sorted(set(arrays) - set(declared))
    missing = [n for n in declared if n not in arrays]
    if extra or missing:
        what = "; ".join(([f"no input named {extra}"] if extra else [])
                         + ([f"missing input(s) {missing}"] if missing else []))
        raise CLIError(f"{source}: {what} (the model's inputs: {', '.join(declared)})")
    feeds = {}
    for name, v in declared.items():
        a = np.asarray(arrays[name])
        dims = list(v.dims) if v.dims is not None else None
        if dims is not None and (a.ndim != len(dims) or any(
                isinstance(d, int) and d >= 0 and d != s for d, s in zip(dims, a.shape))):
            raise CLIError(f"{source}: input {name!r} has shape {list(a.shape)}, the model declares "
                           f"{[d if isinstance(d, int) else str(d) for d in dims]}")
        if a.dtype != v.np_dtype:
            raise CLIError(f"{source}: input {name!r} is {a.dtype}, the model takes {v.np_dtype}")
        feeds[name] = np.ascontiguousarray(a)
    return feeds


def _npy_feeds(model, path: str, shapes) -> Dict[str, np.ndarray]:
    if len(model.inputs) != 1:
        raise CLIError(f"--input {path}: the model has {len(model.inputs)} inputs; give them in an "
                       ".npz named by input")
    v = model.inputs[0]
    want = shapes[v.name]
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    try:
        x = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise CLIError(f"{path}: not a .npy array ({first_line(e)})") from None
    if x.ndim == len(want) - 1:
        x = x[None]
    declared = list(v.dims) if v.dims is not None else want
    if x.ndim != len(want) or any(isinstance(d, int) and d > 0 and d != s
                                  for d, s in zip(declared, x.shape)):
        raise CLIError(f"{path}: array of shape {list(x.shape)} does not fit input "
                       f"{v.name!r} of shape {declared}")
    return {v.name: np.ascontiguousarray(x, dtype=v.np_dtype)}


def _image_feeds(model, path: str, shapes, preset) -> Dict[str, np.ndarray]:
    if len(model.inputs) != 1:
        raise CLIError(f"--input {path}: the model has {len(model.inputs)} inputs; give them in an "
                       ".npz named by input")
    v = model.inputs[0]
    want = shapes[v.name]
    images.require_pillow("--input IMAGE")
    if len(want) != 4:
        raise CLIError(f"--input {path}: an image needs an [N, C, H, W] input, the model's is {want}")
    spec = images.preprocessing_for(argparse.Namespace(preset=preset), model.metadata)
    x = images.load_batch([path], tuple(want[2:]), want[1], spec)
    return {v.name: np.repeat(x, want[0], axis=0)}


def _feeds(model, args, reference):
    """The inputs, and where they come from for the report: the reference file's (when it has
    them), --input, or seeded random ones."""
    names = [v.name for v in model.inputs]
    if isinstance(reference, FileReference):
        held = [n for n in names if n in reference.names]
        if held:
            if args.input:
                raise CLIError(f"--input {args.input}: {reference.path} holds the inputs its outputs "
                               "were computed from; drop --input")
            feeds = check_feeds(model, {n: reference.npz[n] for n in held}, reference.path)
            return feeds, f" (from {reference.path})"
    if args.input and args.input.lower().endswith(".npz"):
        npz = _load_npz(args.input, "--input")
        return check_feeds(model, {k: npz[k] for k in npz.files}, args.input), ""
    shapes = models.input_shapes(model, 1, args.input_shape or ())
    if not args.input:
        return models.random_feeds(model, shapes, seed=args.seed), f" (random normal, seed {args.seed})"
    if args.input.lower().endswith(".npy"):
        return _npy_feeds(model, args.input, shapes), ""
    return _image_feeds(model, args.input, shapes, args.preset), ""


# ---- references ----

class OnnxruntimeReference:
    """onnxruntime run live; intermediate tensors are added to its graph outputs (a new
    session per set of names, so that it holds only those)."""
    label = "onnxruntime"

    def __init__(self, path: str, threads: Optional[int]):
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            raise CLIError("this needs onnxruntime: pip install tinycnn[verify] "
                           "(or compare with saved outputs: --load-outputs FILE.npz)") from None
        self.path, self.threads = path, threads

    def values(self, names: List[str], feeds, dtypes: Optional[Dict[str, np.dtype]] = None) -> dict:
        """{name: array} for `names`; with `dtypes` ({intermediate name: dtype}) the graph is
        run unoptimized with those tensors added to its outputs."""
        if dtypes:
            sess = models.onnxruntime_session(_with_outputs(self.path, dtypes), self.threads, optimize=False)
        else:
            sess = models.onnxruntime_session(self.path, self.threads)
        values = dict(zip(names, sess.run(names, feeds)))
        del sess
        return values


class FileReference:
    """Tensors saved in an .npz, read one at a time when asked for."""
    label = "reference"

    def __init__(self, path: str):
        self.path = path
        self.npz = _load_npz(path, "--load-outputs")
        self.names = set(self.npz.files)

    def values(self, names: List[str], feeds=None, dtypes=None) -> dict:
        return {n: self.npz[n] for n in names}

    def require(self, names: List[str]):
        missing = [n for n in names if n not in self.names]
        if missing:
            raise CLIError(f"--load-outputs {self.path}: no tensor {missing[0]!r} "
                           f"(it holds {', '.join(sorted(self.names)) or 'nothing'})")


def _computed_tensors(model, shapes) -> Dict[str, tuple]:
    """{name: (dtype, bytes)} of every tensor a node computes at run time, in execution order
    (constants and shape arithmetic, known when planning, are left out)."""
    tensors = {}
    for layer in models.analyze(model, shapes).layers:
        if not layer.constant:
            for t in layer.outputs:
                if t is not None and t.name not in tensors:
                    tensors[t.name] = (t.dtype, int(np.prod(t.shape, dtype=np.int64)) * np.dtype(t.dtype).itemsize)
    return tensors


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


# ---- comparing ----

COMPARE_CHUNK = 1 << 20  # elements compared at a time: float64 temporaries stay near 8 MB each


def compare(ours: np.ndarray, ref: np.ndarray, atol: float, rtol: float, ref_label: str = "onnxruntime") -> dict:
    """Differences of one tensor; `ok` is numpy.allclose(ours, ref, rtol, atol) plus NaN/Inf parity.
    Works through the tensors COMPARE_CHUNK elements at a time, so that its float64
    temporaries do not outgrow the tensors themselves."""
    ours = np.asarray(ours)
    ref = np.asarray(ref)

    def count(a, test):
        return int(test(a).sum()) if a.dtype.kind == "f" else 0

    row = {"shape": list(ref.shape), "nan": count(ours, np.isnan), "inf": count(ours, np.isinf),
           "ref_nan": count(ref, np.isnan), "ref_inf": count(ref, np.isinf)}
    if ours.shape != ref.shape:
        row.update(ok=False, max_abs=math.inf, max_rel=math.inf, need_atol=math.inf, need_rtol=math.inf,
                   note=f"shape {list(ours.shape)} vs {ref_label} {list(ref.shape)}")
        return row
    max_abs = max_rel = need_atol = need_rtol = 0.0
    ok = True
    flat_ours, flat_ref = ours.reshape(-1), ref.reshape(-1)
    for start in range(0, flat_ref.size, COMPARE_CHUNK):
        a = flat_ours[start:start + COMPARE_CHUNK].astype(np.float64)
        b = flat_ref[start:start + COMPARE_CHUNK].astype(np.float64)
        same_special = (np.isnan(a) & np.isnan(b)) | (np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b)))
        diff = np.where(same_special, 0.0, np.abs(a - b))
        diff = np.where(np.isnan(diff), np.inf, diff)
        mag = np.abs(np.where(np.isfinite(b), b, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(diff == 0, 0.0, diff / mag)
            need_r = np.where(diff <= atol, 0.0, (diff - atol) / mag)
        max_abs = max(max_abs, float(diff.max(initial=0.0)))
        max_rel = max(max_rel, float(np.max(rel, initial=0.0)))
        need_atol = max(need_atol, float(np.max(diff - rtol * mag, initial=0.0)))
        need_rtol = max(need_rtol, float(np.max(need_r, initial=0.0)))
        ok = ok and bool(np.all(diff <= atol + rtol * mag))
    row.update(max_abs=max_abs, max_rel=max_rel, need_atol=need_atol, need_rtol=need_rtol, ok=ok, note="")
    if row["nan"] != row["ref_nan"] or row["inf"] != row["ref_inf"]:
        row["ok"] = False
        row["note"] = (f"NaN/Inf: tinycnn {row['nan']}/{row['inf']}, "
                       f"{ref_label} {row['ref_nan']}/{row['ref_inf']}")
    return row


def _top5(scores: np.ndarray) -> Optional[List[int]]:
    s = np.asarray(scores)
    if s.ndim < 1 or s.shape[0] < 1:
        return None
    row = s.reshape(s.shape[0], -1)[0]
    if row.size < 5:
        return None
    return [int(i) for i in np.argsort(-row, kind="stable")[:5]]


def windows(tensors: Dict[str, tuple], limit_bytes: float) -> List[List[str]]:
    """Names in execution order cut into runs whose tensors add up to at most `limit_bytes`
    (a tensor larger than that alone)."""
    out, current, size = [], [], 0
    for name, (_, nbytes) in tensors.items():
        if current and size + nbytes > limit_bytes:
            out.append(current)
            current, size = [], 0
        current.append(name)
        size += nbytes
    if current:
        out.append(current)
    return out


class _Search:
    """What --first-divergence did: runs of both engines and the largest window held."""

    def __init__(self, limit_bytes):
        self.limit_bytes, self.runs, self.largest = limit_bytes, 0, 0

    def as_dict(self):
        return {"runs": self.runs, "largest_window_bytes": self.largest,
                "window_limit_bytes": int(self.limit_bytes)}


def _values(args, names, feeds, dtypes, reference):
    """(tinycnn's, the reference's) {name: array} of `names`.  tinycnn gets a new session each
    time, so that no earlier call's tensors stay alive in it (a session caches its plans and
    their buffers)."""
    ref = reference.values(names, feeds, {n: dtypes[n][0] for n in names} if args.layers else None)
    sess = models.tinycnn_session(args.model, args.threads, optimize=not args.layers)
    ours = dict(zip(names, models.run_tinycnn(sess, names, feeds, args.model)))
    del sess
    gc.collect()  # a session holds reference cycles: free it before the next one is built
    return ours, ref


def quantization_steps(model) -> Dict[str, float]:
    """{tensor: one quantization step} of a model's quantized tensors: 1 for what QuantizeLinear
    and the integer ops write (8-bit codes), the constant per-tensor scale for what a
    DequantizeLinear writes."""
    steps = {}
    for node in model.nodes:
        if not node.outputs or not node.outputs[0]:
            continue
        if node.op_type == "DequantizeLinear" and len(node.inputs) > 1:
            scale = model.initializers.get(node.inputs[1])
            if scale is not None and np.size(scale) == 1:
                steps[node.outputs[0]] = float(np.asarray(scale).reshape(-1)[0])
        elif node.op_type == "QuantizeLinear" or node.op_type.startswith("QLinear") \
                or node.op_type in ("QGemm", "DynamicQuantizeLinear"):
            steps[node.outputs[0]] = 1.0
    return steps


def _tolerance(args, name):
    """(atol, rtol) of one tensor: --steps steps of it when it is quantized (plus float32's
    rounding of the values, rtol 2**-20), else --atol/--rtol."""
    step = args.quant_steps.get(name) if args.steps is not None else None
    return (args.steps * step, 2.0 ** -20) if step is not None else (args.atol, args.rtol)


def _rows(names, ours, ref, args, label, producer) -> List[dict]:
    rows = []
    for name in names:
        row = compare(ours[name], ref[name], *_tolerance(args, name), label)
        node = producer.get(name)
        row.update(tensor=name, node=node.name if node is not None else "(input)",
                   op=node.op_type if node is not None else "")
        rows.append(row)
    return rows


def _search(args, feeds, names, dtypes, reference, producer, first_output, search):
    """--first-divergence: windows of tensors in execution order, one run of both engines per
    window, each window dropped before the next; stops after the window with the first tensor
    that differs.  Returns the rows compared and the top-5 pair when the first output was."""
    rows, top5 = [], None
    for group in windows({n: dtypes[n] for n in names}, search.limit_bytes):
        ours, ref = _values(args, group, feeds, dtypes, reference)
        search.runs += 1
        search.largest = max(search.largest, sum(dtypes[n][1] for n in group))
        rows.extend(_rows(group, ours, ref, args, reference.label, producer))
        if first_output in ours:
            top5 = {"tinycnn": _top5(ours[first_output]), reference.label: _top5(ref[first_output])}
        del ours, ref
        if not all(r["ok"] for r in rows):
            break
    return rows, top5


def run(args) -> int:
    if args.first_divergence and args.save_outputs:
        raise CLIError("--save-outputs with --first-divergence: the search stops at the first "
                       "difference; save every tensor with --all-layers")
    args.layers = args.all_layers or args.first_divergence
    save_file = open_for_writing(npz_name(args.save_outputs, "--save-outputs"), "wb") if args.save_outputs else None
    reference = (FileReference(args.load_outputs) if args.load_outputs
                 else OnnxruntimeReference(args.model, args.threads))
    model = models.load(args.model)
    feeds, origin = _feeds(model, args, reference)
    shapes = {k: list(v.shape) for k, v in feeds.items()}
    final_names = [v.name for v in model.outputs]
    producer = {o: node for node in model.nodes for o in node.outputs}
    args.quant_steps = quantization_steps(model) if args.steps is not None else {}
    dtypes = _computed_tensors(model, shapes) if args.layers else {}
    del model  # its weights, and the analysis's plan: the engines load their own
    gc.collect()
    for name in final_names:  # a graph output that no node computes (an input, a constant)
        dtypes.setdefault(name, (np.float32, 0))
    names = list(dtypes) if args.layers else final_names
    skipped = 0
    if isinstance(reference, FileReference):
        reference.require(final_names)
        skipped = sum(1 for n in names if n not in reference.names)
        names = [n for n in names if n in reference.names]

    search = None
    if args.first_divergence:
        search = _Search(args.window_mb * 1e6)
        rows, top5 = _search(args, feeds, names, dtypes, reference, producer, final_names[0], search)
    else:
        ours, ref = _values(args, names, feeds, dtypes, reference)
        rows = _rows(names, ours, ref, args, reference.label, producer)
        top5 = {"tinycnn": _top5(ours[final_names[0]]), reference.label: _top5(ref[final_names[0]])}
        del ours
        if save_file is not None:
            with save_file:
                np.savez(save_file, **{**ref, **feeds})
    first_bad = next((r for r in rows if not r["ok"]), None)
    if args.json:
        report = {"model": args.model, "reference": args.load_outputs or "onnxruntime",
                  "atol": args.atol, "rtol": args.rtol, "steps": args.steps,
                  "tensors": [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                               for k, v in r.items()} for r in rows],
                  "first_divergence": None if first_bad is None else
                  {"node": first_bad["node"], "op": first_bad["op"], "tensor": first_bad["tensor"]},
                  "not_in_reference": skipped, "top5": top5, "ok": first_bad is None}
        if search is not None:
            report["search"] = search.as_dict()
        print(json.dumps(report))
    else:
        print(_report(rows, first_bad, top5, feeds, origin, args, reference.label, skipped, search))
    return EXIT_OK if first_bad is None else EXIT_MISMATCH


def _short_tensor(tensor: str, node: str) -> str:
    """Blank when the tensor is just the node's output by the exporters' naming (`<node>_output_0`)."""
    return "" if tensor.startswith(node + "_output_") else tensor


def _report(rows, first_bad, top5, feeds, origin, args, label, skipped, search) -> str:
    table_rows = [[r["node"], r["op"], _short_tensor(r["tensor"], r["node"]), tables.shape(r["shape"]),
                   tables.sci(r["max_abs"]), tables.sci(r["max_rel"]), tables.sci(r["need_atol"]),
                   tables.sci(r["need_rtol"]),
                   "ok" if r["ok"] else "FAIL" + (f" ({r['note']})" if r["note"] else "")]
                  for r in rows]
    reference = args.load_outputs or "onnxruntime"
    lines = [tables.table(["node", "op", "tensor", "shape", "max abs", "max rel", "need atol",
                           "need rtol", ""], table_rows, right={4, 5, 6, 7}),
             "",
             "inputs       " + tables.shapes({k: v.shape for k, v in feeds.items()}) + origin,
             f"reference    {reference}",
             f"tolerance    atol {args.atol:g}, rtol {args.rtol:g}  "
             f"(|tinycnn - {label}| <= atol + rtol * |{label}|)"]
    if args.steps is not None:
        quantized = sum(1 for r in rows if r["tensor"] in args.quant_steps)
        lines.append(f"             {args.steps:g} quantization step(s) on the {quantized} quantized "
                     f"tensor(s): K codes on 8-bit ones, K x the scale on dequantized ones")
    if first_bad is None:
        lines.append(f"result       all {len(rows)} tensors within tolerance")
    else:
        bad = sum(1 for r in rows if not r["ok"])
        lines.append(f"result       {bad} of {len(rows)} tensors differ; first divergence at node "
                     f"{first_bad['node']} ({first_bad['op']}), tensor {first_bad['tensor']}")
    if skipped:
        lines.append(f"skipped      {skipped} tensors tinycnn computes are not in {reference}")
    if search is not None:
        lines.append(f"search       {len(rows)} tensors compared in {search.runs} run(s) of both engines, "
                     f"at most {tables.nbytes(search.largest)} of tensors per run "
                     f"(--window-mb {args.window_mb:g})")
    if top5 is not None:
        ours, ref = top5["tinycnn"], top5[label]
        if ours is not None and ref is not None:
            if ours == ref:
                verdict = "agree"
            elif set(ours) == set(ref):
                verdict = "same classes, different order"
            else:
                verdict = "DIFFER"
            lines.append(f"top-5        {verdict}: tinycnn {ours}, {label} {ref}")
    return "\n".join(lines)

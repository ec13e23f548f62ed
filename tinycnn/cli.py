"""The `tinycnn` command line: infer, verify, summary, bench and profile.

    tinycnn infer [MODEL] IMAGE... [--top K] [--json] [--preset imagenet|caffe|none] ...
    tinycnn verify MODEL [--input IMAGE|FILE.npy] [--atol A] [--rtol R] [--all-layers]
    tinycnn summary MODEL [--input-shape ...] [--plot FILE.png]
    tinycnn bench MODEL [--threads N] [--batch N] [--seconds S] [--vs onnxruntime]
    tinycnn profile MODEL [--threads N]

Exit codes: 0 success; 1 `verify` found a mismatch; 2 an error (bad arguments, a missing or
unreadable file, a corrupt image, a file that is not ONNX, a model tinycnn cannot run, a missing
optional dependency); 130 interrupted.  Errors are one line on stderr, `tinycnn: error: ...`;
`--debug` (before or after the command) shows the traceback instead.

`summary`, `bench` and `profile` count work with `analyze()`, which reads the ONNX graph itself
(onnx shape inference plus a small per-op table here) and knows nothing of the executor.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
DIGITS_MODEL = os.path.join(DATA_DIR, "digits.onnx")
IMAGENET_LABELS = os.path.join(DATA_DIR, "imagenet_classes.txt")
DEFAULT_SPATIAL = 224  # a symbolic height or width falls back to this
PROGRESS_MIN_IMAGES = 8  # more images than this: progress bar on stderr

EXIT_OK, EXIT_MISMATCH, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


class CLIError(Exception):
    """An error to print as one line; `exit_code` goes to the shell."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR):
        super().__init__(message)
        self.exit_code = exit_code


# ----------------------------------------------------------------------------------------------
# Models and sessions
# ----------------------------------------------------------------------------------------------

def load_onnx(path: str):
    """The ModelProto at `path`, or CLIError naming the file (missing, not ONNX, empty graph)."""
    import onnx
    from google.protobuf.message import DecodeError

    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CLIError(f"{path}: is a folder, expected an .onnx file")
    try:
        model = onnx.load(path, load_external_data=False)  # dims and metadata; weights stay on disk
    except (DecodeError, ValueError, RuntimeError, OSError, UnicodeDecodeError) as e:
        raise CLIError(f"{path}: not an ONNX model ({type(e).__name__}: {_first_line(e)})") from None
    except Exception as e:  # protobuf raises assorted errors on garbage
        raise CLIError(f"{path}: not an ONNX model ({type(e).__name__}: {_first_line(e)})") from None
    # Protobuf parses many byte strings without complaint; a model has a version and nodes.
    if model.ir_version <= 0 or len(model.graph.node) == 0:
        raise CLIError(f"{path}: not an ONNX model (no graph nodes or IR version)")
    return model


def _first_line(e: BaseException) -> str:
    """An exception's message as one line (a multi-line message is joined with '; ')."""
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    if not lines:
        return type(e).__name__
    return " ".join(a + (";" if not a.endswith(":") and b else "") for a, b in zip(lines, lines[1:] + [""])).strip()


def _engine_message(e: BaseException, source: str) -> str:
    """The engine's message, one line, without repeating the file name it may start with."""
    text = _first_line(e)
    return text[len(source) + 2:] if text.startswith(source + ": ") else text


def metadata(model) -> Dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def graph_inputs(model) -> list:
    """The graph inputs that are not initializers (older exporters list weights as inputs)."""
    init = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in init]


def declared_shape(value_info) -> List:
    """Dims of a ValueInfoProto: ints, or strings for symbolic / unknown dims."""
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return []
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim]


def concrete_shape(dims: Sequence, batch: int = 1, spatial: Optional[Tuple[int, int]] = None) -> List[int]:
    """Fill the symbolic dims of an NCHW-like input: batch first, channels 3, spatial 224."""
    out = []
    for i, d in enumerate(dims):
        if isinstance(d, int) and d > 0:
            out.append(d)
        elif i == 0:
            out.append(batch)
        elif i == 1 and len(dims) == 4:
            out.append(3)
        elif spatial is not None and len(dims) == 4 and i >= 2:
            out.append(spatial[i - 2])
        else:
            out.append(DEFAULT_SPATIAL if i >= 2 else 1)
    return out


def parse_shape(text: str) -> Tuple[Optional[str], List[int]]:
    """'1,3,224,224', '1x3x224x224' or 'name=1,3,224,224' to (name or None, dims)."""
    name = None
    if "=" in text:
        name, text = text.split("=", 1)
    parts = [p for p in text.replace("x", ",").replace(" ", ",").split(",") if p]
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        raise CLIError(f"--input-shape {text!r}: expected integers like 1,3,224,224") from None
    if not dims or any(d <= 0 for d in dims):
        raise CLIError(f"--input-shape {text!r}: expected positive integers like 1,3,224,224")
    return name, dims


def input_shapes(model, batch: int = 1, overrides: Sequence[str] = ()) -> Dict[str, List[int]]:
    """A concrete shape for every graph input; `overrides` are --input-shape strings.
    A `batch` other than 1 must fit the model: a fixed batch axis cannot take it."""
    inputs = graph_inputs(model)
    shapes = {i.name: concrete_shape(declared_shape(i), batch) for i in inputs}
    if batch != 1 and not overrides:
        for i in inputs:
            dims = declared_shape(i)
            if dims and isinstance(dims[0], int) and dims[0] > 0 and dims[0] != batch:
                raise CLIError(f"--batch {batch}: input {i.name!r} has a fixed batch of {dims[0]} "
                               f"(export the model with a dynamic batch axis)")
    for k, text in enumerate(overrides):
        name, dims = parse_shape(text)
        if name is None:
            if k >= len(inputs):
                raise CLIError(f"--input-shape: the model has only {len(inputs)} input(s)")
            name = inputs[k].name
        if name not in shapes:
            raise CLIError(f"--input-shape: the model has no input {name!r} "
                           f"(inputs: {', '.join(shapes)})")
        declared = declared_shape(next(i for i in inputs if i.name == name))
        if declared and len(declared) != len(dims):
            raise CLIError(f"--input-shape {text}: input {name!r} has rank {len(declared)} "
                           f"(declared {declared})")
        shapes[name] = dims
    return shapes


def _numpy_dtype(value_info) -> np.dtype:
    import onnx.helper

    elem = value_info.type.tensor_type.elem_type
    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem)) if elem else np.dtype(np.float32)


def random_feeds(model, shapes: Dict[str, List[int]], seed: int = 0) -> Dict[str, np.ndarray]:
    """Seeded standard-normal inputs (integers for integer inputs)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for vi in graph_inputs(model):
        dtype = _numpy_dtype(vi)
        shape = shapes[vi.name]
        if np.issubdtype(dtype, np.floating):
            feeds[vi.name] = rng.standard_normal(shape).astype(dtype)
        else:
            feeds[vi.name] = rng.integers(0, 2, size=shape).astype(dtype)
    return feeds


def tinycnn_session(model, threads: Optional[int] = None, optimize: bool = True, source: str = "model"):
    """A tinycnn.InferenceSession; its ValueError / NotImplementedError become a CLIError."""
    import tinycnn

    if not hasattr(tinycnn, "InferenceSession"):
        raise CLIError("this build of tinycnn has no executor (tinycnn.InferenceSession)")
    opts = tinycnn.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    if not optimize:
        opts.graph_optimization_level = tinycnn.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        return tinycnn.InferenceSession(model, sess_options=opts)
    except (ValueError, NotImplementedError, KeyError, TypeError, tinycnn.TinyCNNError) as e:
        raise CLIError(f"{source}: tinycnn cannot run this model: {_engine_message(e, source)}") from None


def run_tinycnn(sess, names, feeds, source: str = "model"):
    try:
        return sess.run(names, feeds)
    except (ValueError, NotImplementedError, KeyError, TypeError) as e:
        raise CLIError(f"{source}: tinycnn failed: {_engine_message(e, source)}") from None


def onnxruntime_session(model, threads: Optional[int] = None, optimize: bool = True):
    try:
        import onnxruntime as ort
    except ImportError:
        raise CLIError("this needs onnxruntime: pip install tinycnn[verify]") from None
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    if not optimize:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    data = model if isinstance(model, (bytes, str)) else _serialize_with_weights(model)
    try:
        return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise CLIError(f"onnxruntime cannot load the model: {_first_line(e)}") from None


def _serialize_with_weights(model, base_dir: str = ".") -> bytes:
    import onnx.external_data_helper as ext

    if any(ext.uses_external_data(t) for t in model.graph.initializer):
        ext.load_external_data_for_model(model, base_dir)
    return model.SerializeToString()


# ----------------------------------------------------------------------------------------------
# infer
# ----------------------------------------------------------------------------------------------

def _looks_like_model(path: str, n_positional: int) -> bool:
    low = path.lower()
    if low.endswith(".onnx"):
        return True
    if n_positional < 2 or os.path.isdir(path):
        return False
    from .images import IMAGE_EXTENSIONS

    return not low.endswith(IMAGE_EXTENSIONS)


def read_labels(path: str) -> List[str]:
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such labels file")
    try:
        with open(path, encoding="utf-8") as f:
            labels = [line.rstrip("\r\n") for line in f]
    except (OSError, UnicodeDecodeError) as e:
        raise CLIError(f"{path}: cannot read labels ({_first_line(e)})") from None
    while labels and not labels[-1].strip():
        labels.pop()
    return labels


def labels_for(num_classes: int, meta: Dict[str, str], labels_file: Optional[str]) -> Optional[List[str]]:
    """--labels, else the model's tinycnn.labels, else ImageNet-1k names for 1000/1001 classes."""
    if labels_file:
        labels = read_labels(labels_file)
        if len(labels) < num_classes:
            raise CLIError(f"{labels_file}: {len(labels)} labels for a model with {num_classes} classes")
        return labels
    named = meta.get("tinycnn.labels")
    if named:
        path = os.path.join(DATA_DIR, os.path.basename(named))
        if os.path.exists(path):
            labels = read_labels(path)
            if len(labels) >= num_classes:
                return labels
    if num_classes in (1000, 1001):
        labels = read_labels(IMAGENET_LABELS)
        return labels if num_classes == 1000 else ["background"] + labels
    return None


def preprocessing_for(args, meta: Dict[str, str]):
    """The Preprocessing from --preset, else the model's metadata, then the explicit options."""
    from .images import PRESETS

    name = args.preset or meta.get("tinycnn.preset", "imagenet")
    if name not in PRESETS:
        raise CLIError(f"model metadata names an unknown preset {name!r} (known: {', '.join(PRESETS)})")
    spec = PRESETS[name]
    if not args.preset:  # the model's own metadata refines its preset
        spec = spec.replace(
            invert=_meta_bool(meta.get("tinycnn.invert")),
            crop_ratio=_meta_float(meta.get("tinycnn.crop_ratio")),
            mean=_meta_floats(meta.get("tinycnn.mean")),
            std=_meta_floats(meta.get("tinycnn.std")),
            bgr=_meta_bool(meta.get("tinycnn.bgr")),
        )
    spec = spec.replace(
        mean=tuple(args.mean) if args.mean else None,
        std=tuple(args.std) if args.std else None,
        bgr=True if args.bgr else None,
        crop_ratio=args.crop_ratio,
    )
    if any(s == 0 for s in spec.std):
        raise CLIError("--std must not contain 0")
    return spec


def _meta_bool(v):
    return None if v is None else v.strip().lower() in ("1", "true", "yes")


def _meta_float(v):
    return None if v is None else float(v)


def _meta_floats(v):
    return None if v is None else tuple(float(x) for x in v.replace(",", " ").split())


def to_probabilities(scores: np.ndarray) -> Tuple[np.ndarray, bool]:
    """[N, classes] scores to probabilities; softmax unless rows already are a distribution."""
    scores = scores.astype(np.float64)
    finite = np.all(np.isfinite(scores))
    if finite and scores.min() >= 0.0 and scores.max() <= 1.0 and \
            np.allclose(scores.sum(axis=1), 1.0, atol=1e-3):
        return scores, False
    shifted = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True), True


def _class_scores(output: np.ndarray, n: int) -> np.ndarray:
    """Model output to [N, classes]: drops the 1-sized spatial dims of [N, K, 1, 1]."""
    out = np.asarray(output)
    if out.ndim == 1 and n == 1:
        out = out[None, :]
    if out.shape[0] != n:
        raise CLIError(f"model output has shape {list(out.shape)}, expected batch {n} first")
    out = out.reshape(n, -1)
    return out


def _require_pillow(what: str):
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise CLIError(f"{what} needs Pillow to read images: pip install tinycnn[cli]") from None


def cmd_infer(args) -> int:
    from .images import ImageError, find_images, load_and_preprocess

    _require_pillow("infer")

    positional = list(args.inputs)
    if not positional:
        raise CLIError("infer needs at least one image (and optionally a model before it)")
    if _looks_like_model(positional[0], len(positional)):
        model_path, image_args = positional[0], positional[1:]
        if not image_args:
            raise CLIError(f"infer {model_path}: no images given")
    else:
        model_path, image_args = DIGITS_MODEL, positional
    try:
        paths = find_images(image_args)
    except ImageError as e:
        raise CLIError(str(e)) from None

    model = load_onnx(model_path)
    meta = metadata(model)
    inputs = graph_inputs(model)
    if len(inputs) != 1:
        raise CLIError(f"{model_path}: infer needs a model with one image input, this one has "
                       f"{len(inputs)} ({', '.join(i.name for i in inputs)})")
    dims = declared_shape(inputs[0])
    if len(dims) != 4:
        raise CLIError(f"{model_path}: input {inputs[0].name!r} has shape {dims}, expected [N, C, H, W]")
    channels = dims[1] if isinstance(dims[1], int) and dims[1] > 0 else 3
    if channels not in (1, 3):
        raise CLIError(f"{model_path}: input {inputs[0].name!r} has {channels} channels; "
                       "infer handles 1 (grayscale) or 3 (color)")
    if args.size:
        size = tuple(args.size)
        fixed = [d for d in dims[2:] if isinstance(d, int) and d > 0]
        if len(fixed) == 2 and tuple(fixed) != size:
            raise CLIError(f"--size {size[0]} {size[1]}: {model_path} has a fixed input size "
                           f"{fixed[0]}x{fixed[1]}")
    else:
        size = tuple(d if isinstance(d, int) and d > 0 else DEFAULT_SPATIAL for d in dims[2:])
    fixed_batch = dims[0] if isinstance(dims[0], int) and dims[0] > 0 else None
    batch = fixed_batch or max(1, args.batch)
    spec = preprocessing_for(args, meta)
    for what, values in (("mean", spec.mean), ("std", spec.std)):
        if len(values) not in (1, channels) and not (channels == 1 and len(values) == 3):
            raise CLIError(f"--{what} has {len(values)} values but {model_path} takes {channels} channel(s)")
    if args.labels:
        read_labels(args.labels)  # a missing labels file fails before any work

    sess = tinycnn_session(model_path, args.threads, source=model_path)
    input_name = inputs[0].name
    labels = None
    progress = None
    if len(paths) > PROGRESS_MIN_IMAGES and not args.no_progress:
        try:
            from tqdm import tqdm
        except ImportError:  # the progress bar is a nicety: run without it
            tqdm = None
        if tqdm is not None:
            progress = tqdm(total=len(paths), unit="img", file=sys.stderr, desc="infer")
    try:
        for start in range(0, len(paths), batch):
            chunk = paths[start:start + batch]
            try:
                x = np.stack([load_and_preprocess(p, size, channels, spec) for p in chunk])
            except ImageError as e:
                raise CLIError(str(e)) from None
            n = len(chunk)
            if fixed_batch and n < fixed_batch:  # pad a short last batch for a fixed-batch model
                x = np.concatenate([x, np.zeros((fixed_batch - n,) + x.shape[1:], x.dtype)])
            out = run_tinycnn(sess, None, {input_name: x}, model_path)[0]
            scores = _class_scores(out, x.shape[0])[:n]
            probs, _ = to_probabilities(scores)
            if labels is None:
                labels = labels_for(probs.shape[1], meta, args.labels) or []
            for path, p in zip(chunk, probs):
                k = min(args.top, p.size)
                top = np.argsort(-p, kind="stable")[:k]
                entry = {"image": path,
                         "top": [{"index": int(i), "label": labels[i] if i < len(labels) else str(int(i)),
                                  "probability": float(p[i])} for i in top]}
                text = _format_result(entry, args.json)
                if progress is not None:
                    progress.write(text, file=sys.stdout)  # keeps the bar on stderr intact
                else:
                    print(text, flush=True)
            if progress is not None:
                progress.update(n)
    finally:
        if progress is not None:
            progress.close()
    return EXIT_OK


def _format_result(entry, as_json: bool) -> str:
    if as_json:
        return json.dumps(entry)
    lines = [entry["image"]]
    for t in entry["top"]:
        label = t["label"]
        tail = label if label == str(t["index"]) else f"{label} ({t['index']})"
        lines.append(f"  {100.0 * t['probability']:6.2f}%  {tail}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Graph analysis for summary, bench and profile
# ----------------------------------------------------------------------------------------------

class LayerInfo:
    """One ONNX node, as `summary` shows it."""

    __slots__ = ("name", "op", "attrs", "inputs", "outputs", "out_shape", "params", "macs",
                 "rf", "jump")

    def __init__(self, name, op, attrs, inputs, outputs):
        self.name, self.op, self.attrs = name, op, attrs
        self.inputs, self.outputs = inputs, outputs
        self.out_shape: Optional[List[int]] = None
        self.params = 0
        self.macs = 0
        self.rf: Optional[Tuple[int, int]] = None
        self.jump: Optional[Tuple[int, int]] = None


class Analysis:
    """What `analyze` finds: the layers in graph order, tensor shapes and the totals."""

    def __init__(self):
        self.layers: List[LayerInfo] = []
        self.shapes: Dict[str, List[int]] = {}
        self.input_shapes: Dict[str, List[int]] = {}
        self.params = 0
        self.weight_bytes = 0
        self.macs = 0
        self.peak_activation_bytes = 0
        self.opsets: Dict[str, int] = {}
        self.producer = ""

    def macs_by_node(self) -> Dict[str, int]:
        return {layer.name: layer.macs for layer in self.layers}


def _attrs(node) -> dict:
    import onnx.helper

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _spatial_window(layer: LayerInfo, rank: int, kernel: Sequence[int]):
    """kernel, strides, dilations and (begin, end) pads of a Conv / pool, defaults filled."""
    a = layer.attrs
    strides = list(a.get("strides", [1] * rank))
    dilations = list(a.get("dilations", [1] * rank))
    pads = list(a.get("pads", [0] * (2 * rank)))
    return list(kernel), strides, dilations, pads


def _conv_macs(layer, shapes, w_shape):
    # MACs = N * K * (C / group) * KH * KW * OH * OW: one multiply-add per weight per output pixel.
    out = shapes.get(layer.outputs[0])
    if not out or not w_shape:
        return 0
    return int(np.prod(out, dtype=np.int64)) * int(np.prod(w_shape[1:], dtype=np.int64))


def _conv_transpose_macs(layer, shapes, w_shape):
    # Each input pixel scatters C_in/group * (K/group) * KH * KW products: N*C*IH*IW * (K/g)*KH*KW.
    x = shapes.get(layer.inputs[0])
    if not x or not w_shape:
        return 0
    return int(np.prod(x, dtype=np.int64)) * int(np.prod(w_shape[1:], dtype=np.int64))


def _gemm_macs(layer, shapes):
    # Y[M, N] = A[M, K] B[K, N]: M * N * K.
    a, y = shapes.get(layer.inputs[0]), shapes.get(layer.outputs[0])
    if not a or not y or len(a) != 2:
        return 0
    k = a[0] if layer.attrs.get("transA", 0) else a[1]
    return int(y[0]) * int(y[1]) * int(k)


def _matmul_macs(layer, shapes):
    # Batched: prod(batch dims of Y) * M * N * K.
    a, y = shapes.get(layer.inputs[0]), shapes.get(layer.outputs[0])
    if not a or y is None:
        return 0
    return int(np.prod(y, dtype=np.int64)) * int(a[-1])


# Receptive field: rf_out = rf_in + (k - 1) * dilation * jump_in, jump_out = jump_in * stride.
_WINDOW_OPS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool")
_GLOBAL_OPS = ("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")


def analyze(model, shapes: Optional[Dict[str, List[int]]] = None) -> Analysis:
    """Per-node output shape, parameters, MACs, receptive field and jump, plus totals.

    What counts as a MAC (one multiply-accumulate):
      Conv          N * K * (C / group) * KH * KW * OH * OW
      ConvTranspose N * C * (K / group) * KH * KW * IH * IW
      Gemm          M * N * K           MatMul  prod(batch) * M * N * K
    Pooling, activations, normalization and elementwise ops count 0 MACs (their cost is memory
    traffic, not arithmetic).  FLOPs = 2 * MACs.  Parameters are the elements of floating-point
    initializers (and Constant nodes) feeding a node, each counted once, at its first consumer.
    Batch norm that an exporter folded into the convolutions adds no parameters of its own.
    Shapes come from onnx shape inference on the graph with its inputs fixed to `shapes`
    (default: batch 1, symbolic spatial dims 224).
    """
    import onnx
    import onnx.numpy_helper
    import onnx.shape_inference

    result = Analysis()
    result.producer = " ".join(x for x in (model.producer_name, model.producer_version) if x)
    result.opsets = {(o.domain or "ai.onnx"): o.version for o in model.opset_import}
    shapes = dict(shapes or input_shapes(model))
    result.input_shapes = dict(shapes)

    # Fix the inputs, then let onnx infer every other shape (on a copy: the caller's model stays).
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    for vi in fixed.graph.input:
        if vi.name in shapes:
            dims = vi.type.tensor_type.shape.dim
            del dims[:]
            for d in shapes[vi.name]:
                dims.add().dim_value = int(d)
    try:
        inferred = onnx.shape_inference.infer_shapes(fixed, data_prop=True)
    except Exception:  # inference is best effort; unknown shapes stay unknown
        inferred = fixed
    g = inferred.graph
    elem_size: Dict[str, int] = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        dims = declared_shape(vi)
        if dims and all(isinstance(d, int) and d > 0 for d in dims):
            shapes[vi.name] = [int(d) for d in dims]
        elif vi.type.tensor_type.HasField("shape") and not dims:
            shapes[vi.name] = []  # a scalar
        try:
            elem_size[vi.name] = _numpy_dtype(vi).itemsize
        except Exception:
            elem_size[vi.name] = 4

    constants: Dict[str, np.ndarray] = {}
    param_shapes: Dict[str, List[int]] = {}
    for t in model.graph.initializer:
        param_shapes[t.name] = list(t.dims)
        shapes.setdefault(t.name, list(t.dims))
        if t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16,
                           onnx.TensorProto.BFLOAT16):
            constants[t.name] = None  # counted as parameters
            result.weight_bytes += int(np.prod(t.dims, dtype=np.int64)) * \
                (onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize if t.data_type != onnx.TensorProto.BFLOAT16 else 2)
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            t = node.attribute[0].t
            param_shapes[node.output[0]] = list(t.dims)
            shapes.setdefault(node.output[0], list(t.dims))
            if t.data_type == onnx.TensorProto.FLOAT and int(np.prod(t.dims, dtype=np.int64)) > 1:
                constants[node.output[0]] = None
                result.weight_bytes += 4 * int(np.prod(t.dims, dtype=np.int64))

    # Identity of a weight (exporters use it to share one initializer between nodes) is the weight.
    for node in model.graph.node:
        if node.op_type == "Identity" and node.input and node.input[0] in constants:
            constants[node.output[0]] = node.input[0]
            param_shapes[node.output[0]] = param_shapes[node.input[0]]
            shapes.setdefault(node.output[0], param_shapes[node.input[0]])

    counted = set()
    rf: Dict[str, Tuple[Tuple[int, int], Tuple[int, int]]] = {}
    for name in shapes:
        if name in result.input_shapes and len(shapes[name]) == 4:
            rf[name] = ((1, 1), (1, 1))

    for i, node in enumerate(model.graph.node):
        layer = LayerInfo(node.name or f"{node.op_type}_{i}", node.op_type, _attrs(node),
                          list(node.input), list(node.output))
        if node.op_type == "Constant" or node.output[0] in constants:
            continue
        layer.out_shape = shapes.get(node.output[0]) if node.output else None
        for name in node.input:
            root = constants.get(name) or name
            if name in constants and root not in counted:
                counted.add(root)
                layer.params += int(np.prod(param_shapes[root], dtype=np.int64))
        w_shape = param_shapes.get(node.input[1]) if len(node.input) > 1 else None
        if w_shape is None and len(node.input) > 1:
            w_shape = shapes.get(node.input[1])
        op = node.op_type
        if op == "Conv":
            layer.macs = _conv_macs(layer, shapes, w_shape)
        elif op == "ConvTranspose":
            layer.macs = _conv_transpose_macs(layer, shapes, w_shape)
        elif op == "Gemm":
            layer.macs = _gemm_macs(layer, shapes)
        elif op == "MatMul":
            layer.macs = _matmul_macs(layer, shapes)

        # Receptive field and jump along H and W, in input pixels.
        in_rf = [rf[n] for n in node.input if n in rf]
        if in_rf:
            size = (max(r[0][0] for r in in_rf), max(r[0][1] for r in in_rf))
            jump = (max(r[1][0] for r in in_rf), max(r[1][1] for r in in_rf))
            if op in _WINDOW_OPS:
                if op in ("Conv", "ConvTranspose") and w_shape and len(w_shape) == 4:
                    kernel = w_shape[2:]
                else:
                    kernel = layer.attrs.get("kernel_shape", [1, 1])
                if len(kernel) == 2:
                    _, strides, dil, _ = _spatial_window(layer, 2, kernel)
                    if op == "ConvTranspose":  # upsampling: the jump shrinks
                        size = tuple(size[a] + (kernel[a] - 1) * dil[a] * jump[a] // max(1, strides[a])
                                     for a in range(2))
                        jump = tuple(max(1, jump[a] // strides[a]) for a in range(2))
                    else:
                        size = tuple(size[a] + (kernel[a] - 1) * dil[a] * jump[a] for a in range(2))
                        jump = tuple(jump[a] * strides[a] for a in range(2))
                    for o in node.output[:1]:
                        rf[o] = (size, jump)
            elif op in _GLOBAL_OPS:
                x = shapes.get(node.input[0])
                if x and len(x) == 4:
                    size = (size[0] + (x[2] - 1) * jump[0], size[1] + (x[3] - 1) * jump[1])
                for o in node.output[:1]:
                    rf[o] = (size, jump)
            else:
                out = shapes.get(node.output[0]) if node.output else None
                if out is not None and len(out) == 4:  # shape-preserving ops carry it through
                    for o in node.output:
                        rf[o] = (size, jump)
                else:  # flattened: the field is whatever reached it
                    for o in node.output[:1]:
                        rf[o] = (size, (0, 0))
        if node.output and node.output[0] in rf:
            layer.rf, layer.jump = rf[node.output[0]]
        result.layers.append(layer)

    result.shapes = shapes
    result.params = sum(layer.params for layer in result.layers)
    result.macs = sum(layer.macs for layer in result.layers)
    result.peak_activation_bytes = _peak_activation_bytes(model, shapes, elem_size)
    return result


def _peak_activation_bytes(model, shapes, elem_size) -> int:
    """Largest sum of live activation bytes while running the nodes in graph order.

    A tensor is live from the node that makes it (graph inputs: from the start) to its last
    consumer (graph outputs: to the end); weights are not activations.  In-place reuse is ignored,
    so this is what a plain executor needs, an upper bound for a planned one.
    """
    init = {t.name for t in model.graph.initializer}
    nodes = [n for n in model.graph.node if n.op_type != "Constant"]
    last_use: Dict[str, int] = {}
    for i, n in enumerate(nodes):
        for name in n.input:
            if name and name not in init:
                last_use[name] = i
    end = len(nodes)
    for o in model.graph.output:
        last_use[o.name] = end

    def nbytes(name):
        s = shapes.get(name)
        return 0 if s is None else int(np.prod(s, dtype=np.int64)) * elem_size.get(name, 4)

    live = {i.name: nbytes(i.name) for i in graph_inputs(model)}
    peak = sum(live.values())
    for i, n in enumerate(nodes):
        for o in n.output:
            if o:
                live[o] = nbytes(o)
        peak = max(peak, sum(live.values()))
        for name in list(live):
            if last_use.get(name, -1) <= i:
                del live[name]
    return peak


def _scaled(n: int, unit: str) -> str:
    """1.81 GMACs; below ten million, 0.53 MMACs."""
    return f"{n / 1e9:.2f} G{unit}" if n >= 1e7 else f"{n / 1e6:.2f} M{unit}"


def _fmt_bytes(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.2f} kB"


def _fmt_int(n: int) -> str:
    return f"{n:,}"


def _fmt_shape(s) -> str:
    return "?" if s is None else "x".join(str(d) for d in s) if s else "scalar"


def _pair(v) -> str:
    if not v:
        return ""
    return str(v[0]) if len(set(v)) == 1 else "x".join(str(x) for x in v)


def _window_text(layer: LayerInfo, analysis: Analysis) -> str:
    """k3 s2 p1 d1 g1 for convolutions and pools; empty for other ops."""
    if layer.op not in _WINDOW_OPS:
        return ""
    a = layer.attrs
    kernel = a.get("kernel_shape")
    if kernel is None and layer.op in ("Conv", "ConvTranspose") and len(layer.inputs) > 1:
        w = analysis.shapes.get(layer.inputs[1])
        kernel = w[2:] if w else None
    rank = len(kernel) if kernel else 2
    parts = [f"k{_pair(kernel)}" if kernel else "k?"]
    parts.append(f"s{_pair(a.get('strides', [1] * rank))}")
    pads = a.get("pads")
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        ap = a["auto_pad"]
        parts.append(f"p{ap.decode() if isinstance(ap, bytes) else ap}")
    else:
        pads = pads or [0] * (2 * rank)
        begin, end = pads[:rank], pads[rank:]
        parts.append(f"p{_pair(begin)}" if begin == end else f"p{_pair(begin)}/{_pair(end)}")
    if any(d != 1 for d in a.get("dilations", [1])):
        parts.append(f"d{_pair(a['dilations'])}")
    if a.get("group", 1) != 1:
        parts.append(f"g{a['group']}")
    if a.get("ceil_mode", 0):
        parts.append("ceil")
    return " ".join(parts)


def format_summary(analysis: Analysis, model_name: str, show_all: bool = False) -> str:
    rows = []
    total = max(analysis.macs, 1)
    for layer in analysis.layers:
        if not show_all and layer.op in ("Identity", "Shape", "Gather", "Unsqueeze", "Squeeze",
                                         "Concat", "Cast") and layer.macs == 0 and layer.params == 0 \
                and (layer.out_shape is None or len(layer.out_shape) <= 1):
            continue  # shape arithmetic: noise in a layer table
        rf = "" if layer.rf is None else _pair(layer.rf)
        jump = "" if layer.jump is None or layer.jump == (0, 0) else _pair(layer.jump)
        rows.append([layer.name, layer.op, _window_text(layer, analysis), _fmt_shape(layer.out_shape),
                     _fmt_int(layer.params) if layer.params else "",
                     _fmt_int(layer.macs) if layer.macs else "",
                     f"{100.0 * layer.macs / total:.1f}%" if layer.macs else "",
                     rf, jump])
    header = ["node", "op", "window", "output", "params", "MACs", "share", "RF", "jump"]
    right = {4, 5, 6, 7, 8}
    table = _table(header, rows, right)
    inputs = ", ".join(f"{k} {_fmt_shape(v)}" for k, v in analysis.input_shapes.items())
    opsets = ", ".join(f"{d} {v}" for d, v in sorted(analysis.opsets.items()))
    lines = [
        table,
        "",
        f"model        {model_name}",
        f"input        {inputs}",
        f"parameters   {_fmt_int(analysis.params)}",
        f"MACs         {_fmt_int(analysis.macs)}  ({_scaled(analysis.macs, 'MACs')}, "
        f"{_scaled(2 * analysis.macs, 'FLOPs')})",
        f"weights      {_fmt_bytes(analysis.weight_bytes)}",
        f"peak memory  {_fmt_bytes(analysis.peak_activation_bytes)} of activations (live tensors, "
        f"batch {next(iter(analysis.input_shapes.values()), [1])[0] if analysis.input_shapes else 1})",
        f"opsets       {opsets}",
        f"producer     {analysis.producer or '?'}",
    ]
    return "\n".join(lines)


def _table(header, rows, right=()) -> str:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]

    def fmt(r):
        cells = [str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        return "  ".join(cells).rstrip()

    return "\n".join([fmt(header)] + [fmt(r) for r in rows])


# ----------------------------------------------------------------------------------------------
# summary
# ----------------------------------------------------------------------------------------------

def cmd_summary(args) -> int:
    model = load_onnx(args.model)
    analysis = analyze(model, input_shapes(model, 1, args.input_shape or ()))
    if args.json:
        print(json.dumps(summary_dict(analysis, args.model)))
    else:
        print(format_summary(analysis, args.model, show_all=args.all))
    if args.plot:
        plot_feature_maps(analysis, args.plot, os.path.basename(args.model))
        print(f"plot         {args.plot}")
    return EXIT_OK


def summary_dict(analysis: Analysis, model_name: str) -> dict:
    """`summary --json`: the table and the totals as plain data."""
    layers = [{"node": layer.name, "op": layer.op, "window": _window_text(layer, analysis),
               "output": layer.out_shape, "params": layer.params, "macs": layer.macs,
               "rf": list(layer.rf) if layer.rf else None,
               "jump": list(layer.jump) if layer.jump and layer.jump != (0, 0) else None}
              for layer in analysis.layers]
    return {"model": model_name, "inputs": analysis.input_shapes, "layers": layers,
            "params": analysis.params, "macs": analysis.macs, "weight_bytes": analysis.weight_bytes,
            "peak_activation_bytes": analysis.peak_activation_bytes, "opsets": analysis.opsets,
            "producer": analysis.producer}


def plot_feature_maps(analysis: Analysis, path: str, title: str):
    """Feature map height and channel count after each conv / pool, one point per layer."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise CLIError("--plot needs matplotlib: pip install tinycnn[plot]") from None
    points = [(layer.name, layer.out_shape) for layer in analysis.layers
              if (layer.op in _WINDOW_OPS or layer.op in _GLOBAL_OPS) and layer.out_shape
              and len(layer.out_shape) == 4]
    if not points:
        raise CLIError("--plot: the model has no 2-D convolutions or pools to draw")
    xs = np.arange(len(points))
    spatial = [s[2] for _, s in points]
    channels = [s[1] for _, s in points]
    fig, ax1 = plt.subplots(figsize=(max(6.0, 0.25 * len(points)), 4.0))
    ax1.plot(xs, spatial, "o-", color="tab:blue", label="height (pixels)")
    ax1.set_ylabel("feature map height (pixels)", color="tab:blue")
    ax1.set_yscale("log", base=2)
    ax1.set_xlabel("layer (convolutions and pools, in graph order)")
    ax2 = ax1.twinx()
    ax2.plot(xs, channels, "s--", color="tab:orange", label="channels")
    ax2.set_ylabel("channels", color="tab:orange")
    ax2.set_yscale("log", base=2)
    from matplotlib.ticker import ScalarFormatter

    for ax in (ax1, ax2):  # 224, 112, 56 read better than 2^7.8
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(ScalarFormatter())
    ax1.set_title(f"{title}: spatial size shrinks, depth grows")
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    except OSError as e:
        raise CLIError(f"{path}: cannot write the plot ({_first_line(e)})") from None
    finally:
        plt.close(fig)


# ----------------------------------------------------------------------------------------------
# verify
# ----------------------------------------------------------------------------------------------

def _verify_feeds(model, args) -> Dict[str, np.ndarray]:
    inputs = graph_inputs(model)
    shapes = input_shapes(model, 1, args.input_shape or ())
    if not args.input:
        return random_feeds(model, shapes, seed=args.seed)
    if len(inputs) != 1:
        raise CLIError(f"--input: the model has {len(inputs)} inputs; give none (random inputs)")
    vi = inputs[0]
    want = shapes[vi.name]
    if args.input.lower().endswith(".npy"):
        if not os.path.exists(args.input):
            raise CLIError(f"{args.input}: no such file")
        try:
            x = np.load(args.input, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise CLIError(f"{args.input}: not a .npy array ({_first_line(e)})") from None
        if x.ndim == len(want) - 1:
            x = x[None]
        declared = declared_shape(vi)
        if x.ndim != len(want) or any(isinstance(d, int) and d > 0 and d != s for d, s in zip(declared, x.shape)):
            raise CLIError(f"{args.input}: array of shape {list(x.shape)} does not fit input "
                           f"{vi.name!r} of shape {declared}")
        return {vi.name: np.ascontiguousarray(x, dtype=_numpy_dtype(vi))}
    from .images import ImageError, load_and_preprocess

    _require_pillow("--input IMAGE")
    if len(want) != 4:
        raise CLIError(f"--input {args.input}: an image needs an [N, C, H, W] input, the model's is {want}")
    ns = argparse.Namespace(preset=args.preset, mean=None, std=None, bgr=False, crop_ratio=None)
    spec = preprocessing_for(ns, metadata(model))
    try:
        x = load_and_preprocess(args.input, tuple(want[2:]), want[1], spec)
    except ImageError as e:
        raise CLIError(str(e)) from None
    return {vi.name: np.repeat(x[None], want[0], axis=0)}


def _with_all_outputs(model):
    """A copy of `model` whose graph outputs include every node output (for onnxruntime)."""
    import onnx
    import onnx.shape_inference

    m = onnx.ModelProto()
    m.CopyFrom(model)
    try:
        typed = onnx.shape_inference.infer_shapes(m)
    except Exception:
        typed = m
    types = {vi.name: vi for vi in list(typed.graph.value_info) + list(typed.graph.output)}
    present = {o.name for o in m.graph.output}
    for node in m.graph.node:
        if node.op_type == "Constant":
            continue
        for name in node.output:
            if not name or name in present:
                continue
            vi = types.get(name)
            if vi is None or not vi.type.tensor_type.elem_type:
                continue  # type unknown: onnxruntime would refuse the output
            out = m.graph.output.add()
            out.name = name
            out.type.tensor_type.elem_type = vi.type.tensor_type.elem_type
            present.add(name)
    return m


def compare(ours: np.ndarray, ref: np.ndarray, atol: float, rtol: float) -> dict:
    """Differences of one tensor; `ok` is numpy.allclose(ours, ref, rtol, atol) plus NaN/Inf parity."""
    ours = np.asarray(ours)
    ref = np.asarray(ref)
    row = {"shape": list(ref.shape), "nan": int(np.isnan(ours).sum()) if ours.dtype.kind == "f" else 0,
           "inf": int(np.isinf(ours).sum()) if ours.dtype.kind == "f" else 0,
           "ref_nan": int(np.isnan(ref).sum()) if ref.dtype.kind == "f" else 0,
           "ref_inf": int(np.isinf(ref).sum()) if ref.dtype.kind == "f" else 0}
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
    max_abs = float(diff.max(initial=0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / mag)
        need_rtol = np.where(diff <= atol, 0.0, (diff - atol) / mag)
    need_atol = float(np.max(diff - rtol * mag, initial=0.0))
    row.update(max_abs=max_abs, max_rel=float(np.max(rel, initial=0.0)),
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


def cmd_verify(args) -> int:
    model = load_onnx(args.model)
    feeds = _verify_feeds(model, args)
    if args.all_layers:
        ref_model = _with_all_outputs(model)
        ref_model = _serialize_with_weights(ref_model, os.path.dirname(os.path.abspath(args.model)))
    else:
        ref_model = args.model
    ort_sess = onnxruntime_session(ref_model, args.threads, optimize=not args.all_layers)
    final_names = [o.name for o in model.graph.output]
    ort_names = [o.name for o in ort_sess.get_outputs()]
    ref_values = dict(zip(ort_names, ort_sess.run(ort_names, feeds)))

    sess = tinycnn_session(args.model, args.threads, optimize=not args.all_layers, source=args.model)
    if args.all_layers:
        producer = {}
        order = []
        folded = {t.name for t in model.graph.initializer}
        for node in model.graph.node:
            if all(i in folded for i in node.input if i):  # constant-folded: not computed at run time
                folded.update(node.output)
                continue
            for name in node.output:
                if name in ref_values and name not in producer:
                    producer[name] = node
                    order.append(name)
        for name in final_names:
            if name not in producer:
                order.append(name)
        names = order
    else:
        producer = {}
        for node in model.graph.node:
            for name in node.output:
                producer[name] = node
        names = final_names
    ours = dict(zip(names, run_tinycnn(sess, names, feeds, args.model)))

    rows = []
    for name in names:
        row = compare(ours[name], ref_values[name], args.atol, args.rtol)
        node = producer.get(name)
        row.update(tensor=name, node=(node.name or node.op_type) if node is not None else "(input)",
                   op=node.op_type if node is not None else "")
        rows.append(row)
    first_bad = next((r for r in rows if not r["ok"]), None)
    top5_ours = _top5(ours[final_names[0]])
    top5_ref = _top5(ref_values[final_names[0]])

    if args.json:
        print(json.dumps({"model": args.model, "atol": args.atol, "rtol": args.rtol,
                          "tensors": [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                                       for k, v in r.items()} for r in rows],
                          "first_divergence": None if first_bad is None else
                          {"node": first_bad["node"], "op": first_bad["op"], "tensor": first_bad["tensor"]},
                          "top5": {"tinycnn": top5_ours, "onnxruntime": top5_ref},
                          "ok": first_bad is None}))
    else:
        table_rows = [[r["node"], r["op"], _short_tensor(r["tensor"], r["node"]), _fmt_shape(r["shape"]), _g(r["max_abs"]),
                       _g(r["max_rel"]), _g(r["need_atol"]), _g(r["need_rtol"]),
                       "ok" if r["ok"] else "FAIL" + (f" ({r['note']})" if r["note"] else "")]
                      for r in rows]
        print(_table(["node", "op", "tensor", "shape", "max abs", "max rel", "need atol", "need rtol", ""],
                     table_rows, right={4, 5, 6, 7}))
        print()
        print(f"inputs       " + ", ".join(f"{k} {_fmt_shape(v.shape)}" for k, v in feeds.items())
              + ("" if args.input else f" (random normal, seed {args.seed})"))
        print(f"tolerance    atol {args.atol:g}, rtol {args.rtol:g}  (|tinycnn - onnxruntime| <= atol + rtol * |onnxruntime|)")
        if first_bad is None:
            print(f"result       all {len(rows)} tensors within tolerance")
        else:
            bad = sum(1 for r in rows if not r["ok"])
            print(f"result       {bad} of {len(rows)} tensors differ; first divergence at node "
                  f"{first_bad['node']} ({first_bad['op']}), tensor {first_bad['tensor']}")
        if top5_ours is not None and top5_ref is not None:
            if top5_ours == top5_ref:
                verdict = "agree"
            elif set(top5_ours) == set(top5_ref):
                verdict = "same classes, different order"
            else:
                verdict = "DIFFER"
            print(f"top-5        {verdict}: tinycnn {top5_ours}, onnxruntime {top5_ref}")
    return EXIT_OK if first_bad is None else EXIT_MISMATCH


def _short_tensor(tensor: str, node: str) -> str:
    """Blank when the tensor is just the node's output by the exporters' naming (`<node>_output_0`)."""
    return "" if tensor.startswith(node + "_output_") else tensor


def _g(x: float) -> str:
    if x is None:
        return "-"
    if not math.isfinite(x):
        return "inf"
    return "0" if x == 0 else f"{x:.2e}"


# ----------------------------------------------------------------------------------------------
# bench and profile
# ----------------------------------------------------------------------------------------------

def _num(x: float, digits: int = 4) -> str:
    """At least `digits` significant digits, never in exponent form (for tables people and scripts read)."""
    if x == 0 or not math.isfinite(x):
        return f"{x:.1f}"
    decimals = max(1, digits - 1 - int(math.floor(math.log10(abs(x)))))
    return f"{x:.{decimals}f}"


def _stats(times: Sequence[float], batch: int, macs: int) -> dict:
    t = np.asarray(times)
    median = float(np.median(t))
    return {"runs": int(t.size), "median_ms": 1e3 * median, "p90_ms": 1e3 * float(np.percentile(t, 90)),
            "min_ms": 1e3 * float(t.min()), "images_per_s": batch / median,
            "gflops": 2.0 * macs * batch / median / 1e9}


def cmd_bench(args) -> int:
    model = load_onnx(args.model)
    shapes = input_shapes(model, args.batch, args.input_shape or ())
    feeds = random_feeds(model, shapes, seed=0)
    macs = analyze(model, {k: [1] + v[1:] for k, v in shapes.items()}).macs  # per image
    batch = next(iter(shapes.values()))[0] if shapes else 1
    engines = {"tinycnn": None}
    sess = tinycnn_session(args.model, args.threads, source=args.model)
    engines["tinycnn"] = lambda: sess.run(None, feeds)
    if args.vs:
        if args.vs != "onnxruntime":
            raise CLIError(f"--vs {args.vs}: only onnxruntime is supported")
        ort_sess = onnxruntime_session(args.model, args.threads)
        engines["onnxruntime"] = lambda: ort_sess.run(None, feeds)
    try:
        engines["tinycnn"]()
    except (ValueError, NotImplementedError, KeyError, TypeError) as e:
        raise CLIError(f"{args.model}: tinycnn failed: {_engine_message(e, args.model)}") from None

    times = {name: [] for name in engines}
    for name, run in engines.items():  # warm-up
        for _ in range(args.warmup):
            run()
    # Alternate engines in rounds so both see the same machine state (other load, clocks).
    deadline = time.perf_counter() + args.seconds * len(engines)
    while min(len(t) for t in times.values()) < 5 or time.perf_counter() < deadline:
        for name, run in engines.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    stats = {name: _stats(t, batch, macs) for name, t in times.items()}

    if args.json:
        print(json.dumps({"model": args.model, "batch": batch, "threads": args.threads,
                          "macs_per_image": macs, "engines": stats}))
        return EXIT_OK
    inputs = ", ".join(f"{k} {_fmt_shape(v)}" for k, v in shapes.items())
    print(f"model    {args.model}  ({_scaled(macs, 'MACs')} per image)")
    print(f"input    {inputs}  threads {args.threads or 'default'}  warm-up {args.warmup} runs")
    rows = [[name, _num(s["median_ms"]), _num(s["p90_ms"]), _num(s["images_per_s"]), _num(s["gflops"]),
             str(s["runs"])] for name, s in stats.items()]
    print(_table(["engine", "median ms", "p90 ms", "images/s", "GFLOP/s", "runs"], rows, right={1, 2, 3, 4, 5}))
    if "onnxruntime" in stats:
        ratio = stats["tinycnn"]["median_ms"] / stats["onnxruntime"]["median_ms"]
        faster = "tinycnn faster" if ratio < 1 else "onnxruntime faster"
        print(f"ratio    tinycnn / onnxruntime median time = {ratio:.2f}  ({faster})")
    return EXIT_OK


def cmd_profile(args) -> int:
    model = load_onnx(args.model)
    shapes = input_shapes(model, args.batch, args.input_shape or ())
    feeds = random_feeds(model, shapes, seed=0)
    macs = analyze(model, shapes).macs_by_node()
    sess = tinycnn_session(args.model, args.threads, source=args.model)
    if not hasattr(sess, "run_profiled"):
        raise CLIError("this build of tinycnn has no per-node profiler (InferenceSession.run_profiled)")

    def once():
        try:
            return sess.run_profiled(feeds)[1]
        except (ValueError, NotImplementedError, KeyError, TypeError) as e:
            raise CLIError(f"{args.model}: tinycnn failed: {_engine_message(e, args.model)}") from None

    for _ in range(args.warmup):
        once()
    totals: Dict[str, list] = {}
    order: List[str] = []
    for _ in range(args.runs):
        for rec in once():
            key = rec["node"]
            if key not in totals:
                totals[key] = [rec["op"], 0.0]
                order.append(key)
            totals[key][1] += rec["seconds"]
    per_run = {k: v[1] / args.runs for k, v in totals.items()}
    total = sum(per_run.values()) or 1e-30
    ranked = sorted(order, key=lambda k: -per_run[k])
    rows = []
    for k in ranked:
        op, sec = totals[k][0], per_run[k]
        m = macs.get(k, 0)
        rows.append({"node": k, "op": op, "ms": 1e3 * sec, "share": sec / total,
                     "gflops": 2.0 * m / sec / 1e9 if m and sec > 0 else None})
    if args.json:
        print(json.dumps({"model": args.model, "runs": args.runs, "total_ms": 1e3 * total, "nodes": rows}))
        return EXIT_OK
    shown = rows if args.all or len(rows) <= args.limit else rows[:args.limit]
    table = [[r["node"], r["op"], f"{r['ms']:.3f}", f"{100 * r['share']:.1f}%",
              "" if r["gflops"] is None else _num(r["gflops"], 3)] for r in shown]
    print(_table(["node", "op", "ms", "share", "GFLOP/s"], table, right={2, 3, 4}))
    if len(shown) < len(rows):
        rest = rows[len(shown):]
        print(f"... {len(rest)} more nodes, {sum(r['ms'] for r in rest):.3f} ms (--all shows them)")
    total_macs = sum(macs.values())
    inputs = ", ".join(f"{k} {_fmt_shape(v)}" for k, v in shapes.items())
    print()
    print(f"model    {args.model}  input {inputs}  threads {args.threads or 'default'}")
    print(f"total    {1e3 * total:.3f} ms per run (mean of {args.runs} runs after {args.warmup} warm-up), "
          f"{2.0 * total_macs / total / 1e9:.1f} GFLOP/s overall")
    return EXIT_OK


# ----------------------------------------------------------------------------------------------
# Argument parsing and main
# ----------------------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line: `tinycnn: error: ...`."""

    def error(self, message):
        raise CLIError(f"{message} (see '{self.prog} --help')")


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _float_arg(text, ok, what):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not ok(v):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return v


def _positive_float(text):
    return _float_arg(text, lambda v: v > 0, "a positive number")


def _nonneg_float(text):
    return _float_arg(text, lambda v: v >= 0 and math.isfinite(v), "a non-negative number")


EPILOG = """exit codes: 0 success; 1 verify found a mismatch; 2 error (bad arguments, missing or
unreadable file, corrupt image, not an ONNX model, model tinycnn cannot run, missing optional
dependency); 130 interrupted."""


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the Python traceback on errors")
    parser = _Parser(prog="tinycnn", description="Run and inspect convolutional networks stored as ONNX, on the CPU.",
                     epilog=EPILOG, parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"tinycnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("infer", parents=[common], help="classify images",
                       usage="tinycnn infer [MODEL.onnx] IMAGE|FOLDER... [options]",
                       description="Classify images. With no MODEL, the bundled digits model is used "
                                   "(models/digits/samples has pictures to try).", epilog=EPILOG)
    p.add_argument("inputs", nargs="+", metavar="[MODEL] IMAGE",
                   help="an .onnx model (optional, first) then images or folders of images")
    p.add_argument("--top", type=_positive_int, default=5, metavar="K", help="classes to show (default 5)")
    p.add_argument("--json", action="store_true", help="one JSON object per image on stdout")
    p.add_argument("--preset", choices=["imagenet", "caffe", "none"],
                   help="input normalization (default: the model's metadata, else imagenet)")
    p.add_argument("--size", type=_positive_int, nargs=2, metavar=("H", "W"),
                   help="input size when the model's is symbolic (default: the model's, else 224)")
    p.add_argument("--mean", type=float, nargs="+", metavar="M", help="per-channel mean, in the preset's pixel scale")
    p.add_argument("--std", type=float, nargs="+", metavar="S", help="per-channel std, in the preset's pixel scale")
    p.add_argument("--bgr", action="store_true", help="feed channels in BGR order")
    p.add_argument("--crop-ratio", type=_positive_float, metavar="R",
                   help="centre crop / resized shorter side (imagenet, caffe: 0.875; none: 1.0)")
    p.add_argument("--labels", metavar="FILE", help="class names, one per line")
    p.add_argument("--batch", type=_positive_int, default=8, metavar="N", help="images per run (default 8)")
    p.add_argument("--threads", type=_positive_int, metavar="N", help="intra-op threads (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=cmd_infer)

    p = sub.add_parser("verify", parents=[common], help="compare tinycnn with onnxruntime",
                       description="Run tinycnn and onnxruntime on the same input and compare every output "
                                   "(every intermediate tensor with --all-layers). Exit 0 within tolerance, "
                                   "1 on mismatch, 2 on error. Needs onnxruntime: pip install tinycnn[verify].",
                       epilog=EPILOG)
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--input", metavar="IMAGE|FILE.npy", help="input (default: random normal, fixed seed)")
    p.add_argument("--atol", type=_nonneg_float, default=1e-4, metavar="A", help="absolute tolerance (default 1e-4)")
    p.add_argument("--rtol", type=_nonneg_float, default=1e-4, metavar="R", help="relative tolerance (default 1e-4)")
    p.add_argument("--all-layers", action="store_true", help="compare every intermediate tensor")
    p.add_argument("--input-shape", action="append", metavar="[NAME=]1,3,224,224",
                   help="fix a symbolic input shape (repeat for several inputs)")
    p.add_argument("--preset", choices=["imagenet", "caffe", "none"], help="normalization of an --input image")
    p.add_argument("--seed", type=int, default=0, help="seed of the random input (default 0)")
    p.add_argument("--threads", type=_positive_int, metavar="N")
    p.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("summary", parents=[common], help="layers, shapes, parameters, MACs",
                       description="Per-layer table computed from the ONNX graph: window (kernel, stride, "
                                   "pads, dilation, group), output shape, parameters, MACs and their share, "
                                   "receptive field and jump in input pixels; then totals.", epilog=EPILOG)
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--input-shape", action="append", metavar="[NAME=]1,3,224,224",
                   help="input shape (default: batch 1, symbolic spatial dims 224)")
    p.add_argument("--plot", metavar="FILE.png", help="draw feature-map size and depth (needs matplotlib)")
    p.add_argument("--all", action="store_true", help="also list shape-arithmetic nodes")
    p.add_argument("--json", action="store_true", help="the table and totals as one JSON object")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("bench", parents=[common], help="latency and throughput",
                       description="Warm up, then time runs for --seconds: median and p90 latency, "
                                   "throughput, GFLOP/s (2 x MACs of `tinycnn summary`).", epilog=EPILOG)
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--threads", type=_positive_int, metavar="N")
    p.add_argument("--batch", type=_positive_int, default=1, metavar="N")
    p.add_argument("--seconds", type=_positive_float, default=3.0, metavar="S", help="timing per engine (default 3)")
    p.add_argument("--warmup", type=_positive_int, default=3, metavar="N", help="untimed runs first (default 3)")
    p.add_argument("--vs", metavar="onnxruntime", help="also time onnxruntime, alternating runs")
    p.add_argument("--input-shape", action="append", metavar="[NAME=]1,3,224,224")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("profile", parents=[common], help="time per node",
                       description="Time every node (fused nodes are named after their first ONNX node), "
                                   "sorted, with share of the total and GFLOP/s of each convolution.",
                       epilog=EPILOG)
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--threads", type=_positive_int, metavar="N")
    p.add_argument("--batch", type=_positive_int, default=1, metavar="N")
    p.add_argument("--runs", type=_positive_int, default=10, metavar="N", help="timed runs to average (default 10)")
    p.add_argument("--warmup", type=_positive_int, default=2, metavar="N")
    p.add_argument("--limit", type=_positive_int, default=30, metavar="N", help="rows to show (default 30)")
    p.add_argument("--all", action="store_true", help="show every node")
    p.add_argument("--input-shape", action="append", metavar="[NAME=]1,3,224,224")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_profile)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the `tinycnn` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help(sys.stderr)
            return EXIT_ERROR
        return args.func(args)
    except CLIError as e:
        if debug:
            raise
        print(f"tinycnn: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("tinycnn: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `tinycnn infer ... | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK
    except MemoryError:
        if debug:
            raise
        print("tinycnn: error: out of memory", file=sys.stderr)
        return EXIT_ERROR
    except Exception as e:  # a bug or an engine failure we did not foresee: still one line
        if debug:
            raise
        print(f"tinycnn: error: {type(e).__name__}: {_first_line(e)} (run with --debug for the traceback)",
              file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())

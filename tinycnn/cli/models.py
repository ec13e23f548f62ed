"""Models for the commands: loaded and analysed by the library, input shapes, feeds, sessions.

The library checks files (missing, a folder, a FIFO, not ONNX, external data) and models;
here its exceptions become one-line CLIErrors.
"""
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import analysis
from ..classify import DATA_DIR
from ..errors import TinyCNNError
from ..loader import load_model
from .args import CLIError, first_line

DIGITS_MODEL = os.path.join(DATA_DIR, "digits.onnx")

# What tinycnn raises for a model it cannot plan or run: its own errors, and the built-ins
# they subclass (a bug in an op function surfaces as one of these too).
ENGINE_ERRORS = (TinyCNNError, ValueError, NotImplementedError, KeyError, TypeError)


def engine_message(e: BaseException, source: str) -> str:
    """The engine's message, one line, without repeating the file name it may start with."""
    text = first_line(e)
    for prefix in (source, repr(source)):
        if text.startswith(prefix + ": "):
            return text[len(prefix) + 2:]
    return text


def load(path: str):
    """The tinycnn.loader.Model at `path`, or a CLIError naming the file."""
    try:
        return load_model(path)
    except TinyCNNError as e:
        raise CLIError(first_line(e)) from None


def analyze(model, shapes: Dict[str, List[int]]):
    """tinycnn.analysis of a loaded model for these input shapes."""
    return _analysis(analysis.analyze, model, shapes)


def quantized_layers(model, shapes: Dict[str, List[int]]):
    """tinycnn.analysis.quantized_layers of a loaded model for these input shapes."""
    return _analysis(analysis.quantized_layers, model, shapes)


def _analysis(fn, model, shapes):
    try:
        return fn(model, shapes)
    except ENGINE_ERRORS as e:
        raise CLIError(f"{model.source}: tinycnn cannot run this model: "
                       f"{engine_message(e, model.source)}") from None


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
    """A concrete shape for every input of a loaded model; `overrides` are --input-shape strings.
    A `batch` other than 1 must fit the model: a fixed batch axis cannot take it."""
    inputs = model.inputs
    declared = {v.name: list(v.dims) if v.dims is not None else None for v in inputs}
    given = {}
    for k, text in enumerate(overrides):
        name, dims = parse_shape(text)
        if name is None:
            if k >= len(inputs):
                raise CLIError(f"--input-shape: the model has only {len(inputs)} input(s)")
            name = inputs[k].name
        if name not in declared:
            raise CLIError(f"--input-shape: the model has no input {name!r} "
                           f"(inputs: {', '.join(declared)})")
        if declared[name] is not None and len(declared[name]) != len(dims):
            raise CLIError(f"--input-shape {text}: input {name!r} has rank {len(declared[name])} "
                           f"(declared {declared[name]})")
        given[name] = dims
    if batch != 1 and not overrides:
        for v in inputs:
            d0 = v.dims[0] if v.dims else None
            if isinstance(d0, int) and d0 > 0 and d0 != batch:
                raise CLIError(f"--batch {batch}: input {v.name!r} has a fixed batch of {d0} "
                               f"(export the model with a dynamic batch axis)")
    shapes = {}
    for v in inputs:
        if v.name in given:
            shapes[v.name] = given[v.name]
        elif v.dims is None:
            raise CLIError(f"{model.source}: input {v.name!r} declares no shape "
                           f"(give one with --input-shape {v.name}=...)")
        else:
            shapes[v.name] = analysis.default_shape(v.dims, batch)
    return shapes


def random_feeds(model, shapes: Dict[str, List[int]], seed: int = 0) -> Dict[str, np.ndarray]:
    """Seeded standard-normal inputs (0 or 1 for integer and boolean inputs)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for v in model.inputs:
        dtype, shape = v.np_dtype, shapes[v.name]
        if np.issubdtype(dtype, np.floating):
            feeds[v.name] = rng.standard_normal(shape).astype(dtype)
        else:
            feeds[v.name] = rng.integers(0, 2, size=shape).astype(dtype)
    return feeds


def tinycnn_session(path: str, threads: Optional[int] = None, optimize: bool = True):
    """A tinycnn.InferenceSession; what it refuses becomes a CLIError naming the file."""
    from ..session import GraphOptimizationLevel, InferenceSession, SessionOptions

    opts = SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    if not optimize:
        opts.graph_optimization_level = GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        return InferenceSession(path, sess_options=opts)
    except ENGINE_ERRORS as e:
        raise CLIError(f"{path}: tinycnn cannot run this model: {engine_message(e, path)}") from None


def run_tinycnn(sess, names, feeds, source: str):
    try:
        return sess.run(names, feeds)
    except ENGINE_ERRORS as e:
        raise CLIError(f"{source}: tinycnn failed: {engine_message(e, source)}") from None


def onnxruntime_session(model, threads: Optional[int] = None, optimize: bool = True):
    """An onnxruntime session of a path or serialized model bytes."""
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
    try:
        return ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise CLIError(f"onnxruntime cannot load the model: {first_line(e)}") from None

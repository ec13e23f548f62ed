"""Batch inference over pictures: read, preprocess, batch, run, then classify or summarise, one
result per picture.  A picture that cannot be read gets an `error` and the others go on.

This is what `tinycnn infer` runs, and what a batch framework can call on each worker (Ray Data's
`map_batches`): one ImagePipeline per worker, `process` per batch; only where batches run changes.

    pipe = ImagePipeline.from_model("resnet18.onnx", top=5)
    out = pipe.process(["a.jpg", "b.png"])   # paths, Pillow images or HxW[xC] uint8 arrays
    out.results    # one dict per item, in order (below)
    out.outputs    # {output name: [items that ran, ...]}: every model output, per item

Results are plain dicts, ready for JSON:

    {"image": name, "top": [{"index", "label", "probability"}, ...]}          task "classify"
    {"image": name, "outputs": {output: {"shape", "min", "max", "mean", "std"}}}   task "raw"
    {"image": name, "error": "one line naming the file and the reason"}

Task "classify" is for a model with one output of class scores, [N, classes] (or
[N, classes, 1, 1]); "raw" for any other model: output shapes and summary statistics, since a
top K of a feature map or a box list means nothing.  `task_for` picks it from the outputs' shapes.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import classify, images
from .analysis import DEFAULT_SPATIAL

TASKS = ("classify", "raw")


class PipelineError(ValueError):
    """A model or a setting that the pipeline cannot work with; the message names it, and
    `setting` is the from_model argument at fault (None when it is the model)."""

    def __init__(self, message: str, setting: Optional[str] = None):
        super().__init__(message)
        self.setting = setting


def task_for(output_dims: Sequence[Optional[Sequence]]) -> str:
    """"classify" when there is one output shaped [N, classes] or [N, classes, 1, 1] with at
    least 2 classes, else "raw".  `output_dims`: each output's dims (ints, or None / strings for
    unknown ones; None for an output of unknown rank)."""
    if len(output_dims) != 1 or output_dims[0] is None:
        return "raw"
    dims = list(output_dims[0])
    if len(dims) == 4 and dims[2:] == [1, 1]:
        dims = dims[:2]
    if len(dims) != 2:
        return "raw"
    return "classify" if not isinstance(dims[1], int) or dims[1] >= 2 else "raw"


def output_statistics(a: np.ndarray) -> dict:
    """Shape, min, max, mean and std of one item's output; NaN and Inf are left out of the
    numbers and counted in `nonfinite` (JSON has no NaN)."""
    a = np.asarray(a)
    stats = {"shape": [int(d) for d in a.shape]}
    x = a.astype(np.float64).ravel()
    finite = x[np.isfinite(x)]
    if finite.size:
        stats.update(min=float(finite.min()), max=float(finite.max()), mean=float(finite.mean()),
                     std=float(finite.std()))
    else:
        stats.update(min=None, max=None, mean=None, std=None)
    if finite.size != x.size:
        stats["nonfinite"] = int(x.size - finite.size)
    return stats


@dataclasses.dataclass
class BatchResult:
    """What `ImagePipeline.process` returns for a batch of items.

    results: one dict per item, in the order given.  outputs: every model output for the items
    that ran, stacked in their order ([len(ran), ...] per output).  ran: their indices.
    """
    results: List[dict]
    outputs: Dict[str, np.ndarray]
    ran: List[int]

    @property
    def failed(self) -> int:
        return len(self.results) - len(self.ran)


Item = Union[str, os.PathLike, bytes, np.ndarray, "PIL.Image.Image"]  # noqa: F821


@dataclasses.dataclass
class ImagePipeline:
    """Pictures to model inputs to results, for a model with one [N, C, H, W] input (C 1 or 3).

    Build one with `from_model`.  `batch` is the most items per run (a model with a fixed batch
    runs exactly that many, the last run padded).  `labels` are the class names (None: indices).
    """
    session: object
    input_name: str
    output_names: List[str]
    size: Tuple[int, int]
    channels: int
    spec: images.Preprocessing
    task: str = "classify"
    top: int = 5
    labels: Optional[List[str]] = None
    batch: int = 8
    fixed_batch: Optional[int] = None

    @classmethod
    def from_model(cls, model, session=None, *, preset: Optional[str] = None, mean=None, std=None,
                   bgr: Optional[bool] = None, crop_ratio: Optional[float] = None,
                   picture_polarity: Optional[str] = None, size: Optional[Tuple[int, int]] = None,
                   labels_file: Optional[str] = None, top: int = 5, task: str = "auto",
                   batch: int = 8, threads: Optional[int] = None) -> "ImagePipeline":
        """A pipeline for `model` (a path, a loaded tinycnn.loader.Model whose inputs, outputs
        and metadata are read, or an InferenceSession, then also the session), with
        preprocessing from its metadata refined by the options (as
        tinycnn.images.preprocessing_for).

        session: an InferenceSession of the model, or a callable that makes one (called once
        the model's description is read and its weights dropped), or None to build one with
        `threads`.  Raises PipelineError (or ValueError, classify.LabelError) naming what does
        not fit; tinycnn's own errors for a model it cannot load or run."""
        from .loader import load_model
        from .session import InferenceSession

        if isinstance(model, InferenceSession):  # as the session sees it (dims overridden)
            session = model if session is None else session
            source, metadata = model._model.source, dict(model._model.metadata)
            inputs, outputs = list(model._inputs), list(model._outputs)
        else:
            if not hasattr(model, "inputs"):
                model = load_model(model)
            source, metadata = model.source, dict(model.metadata)
            inputs, outputs = list(model.inputs), list(model.outputs)
        del model  # the weights: the session loads its own
        if len(inputs) != 1:
            raise PipelineError(f"{source}: needs a model with one image input, this one has "
                                f"{len(inputs)} ({', '.join(v.name for v in inputs)})")
        dims = list(inputs[0].dims) if inputs[0].dims is not None else []
        if len(dims) != 4:
            raise PipelineError(f"{source}: input {inputs[0].name!r} has shape {dims}, "
                                "expected [N, C, H, W]")
        channels = _fixed(dims[1]) or 3
        if channels not in (1, 3):
            raise PipelineError(f"{source}: input {inputs[0].name!r} has {channels} channels; "
                                "pictures give 1 (grayscale) or 3 (color)")
        fixed = [d for d in dims[2:] if _fixed(d)]
        if size:
            size = tuple(size)
            if len(fixed) == 2 and tuple(fixed) != size:
                raise PipelineError(f"{size[0]}x{size[1]}: {source} has a fixed input size "
                                    f"{fixed[0]}x{fixed[1]}", "size")
        else:
            size = tuple(_fixed(d) or DEFAULT_SPATIAL for d in dims[2:])
        try:
            spec = images.preprocessing_for(metadata, preset, mean=mean, std=std, bgr=bgr,
                                            crop_ratio=crop_ratio, picture_polarity=picture_polarity)
        except ValueError as e:
            raise PipelineError(f"{source}: {e}") from None
        if picture_polarity is not None and spec.polarity is None:
            raise PipelineError(f"{picture_polarity}: {source} does not state the polarity it wants "
                                "(metadata tinycnn.polarity); its pictures go in as they are",
                                "picture_polarity")
        for what, values in (("mean", spec.mean), ("std", spec.std)):
            if len(values) not in (1, channels) and not (channels == 1 and len(values) == 3):
                raise PipelineError(f"{len(values)} values but {source} takes {channels} channel(s)",
                                    what)
        if task not in ("auto",) + TASKS:
            raise PipelineError(f"must be auto, classify or raw, got {task!r}", "task")
        if labels_file:
            classify.read_labels(labels_file)  # a missing file fails before any work

        if session is None:
            from .session import InferenceSession, SessionOptions

            opts = SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
            session = InferenceSession(source, sess_options=opts)
        elif callable(session) and not hasattr(session, "run"):
            session = session()
        fixed_batch = _fixed(dims[0])
        pipe = cls(session, inputs[0].name, [v.name for v in outputs], size, channels, spec,
                   top=top, batch=fixed_batch or batch, fixed_batch=fixed_batch)
        out_dims = [list(v.dims) if v.dims is not None else None for v in outputs]
        if any(d is None or not all(_fixed(x) for x in d[1:]) for d in out_dims):
            out_dims = [list(a.shape) for a in pipe._run(np.zeros(
                (fixed_batch or 1, channels) + size, np.float32))]  # shapes the file leaves open
        pipe.task = task_for(out_dims) if task == "auto" else task
        if pipe.task == "classify":
            if task_for(out_dims) != "classify":
                raise PipelineError(f"classify: {source} has output(s) of shape "
                                    f"{', '.join(str(d) for d in out_dims)}; classify needs one output "
                                    "of class scores, [N, classes] or [N, classes, 1, 1]", "task")
            classes = int(out_dims[0][1])
            pipe.labels = classify.labels_for(classes, metadata, labels_file)
        return pipe

    # -- one batch ------------------------------------------------------------------------
    def prepare(self, item, name: Optional[str] = None) -> np.ndarray:
        """One item (a path; a file's content as bytes; a Pillow image; an HxW / HxWxC array as
        Ray's read_images gives) to a float32 [C, H, W] input; ImageError naming the item (or
        `name`) when it cannot be."""
        if isinstance(item, (str, os.PathLike)):
            return images.load_and_preprocess(os.fspath(item), self.size, self.channels, self.spec)
        if isinstance(item, (bytes, bytearray, memoryview)):
            name = name or "<bytes>"
            item = images.decode_image(bytes(item), name)
        elif isinstance(item, np.ndarray):
            item = images.from_array(item)
        try:
            return images.preprocess(item, self.size, self.channels, self.spec)
        except (OSError, SyntaxError, ValueError, TypeError, AttributeError) as e:
            raise images.ImageError(f"{name or _name(item)}: cannot use as a picture ({e})") from None

    def process(self, items: Sequence[Item], names: Optional[Sequence[str]] = None) -> BatchResult:
        """Results for `items` (any number: runs of at most `batch`).  An item that cannot be
        read or preprocessed gets {"image", "error"} and the others go on; a failure of the
        engine itself (a model it cannot run) raises.  `names` label the results (default: the
        paths; None for pictures given in memory)."""
        names = list(names) if names is not None else [
            os.fspath(i) if isinstance(i, (str, os.PathLike)) else None for i in items]
        results: List[Optional[dict]] = [None] * len(items)
        arrays, ran = [], []
        for k, item in enumerate(items):
            try:
                arrays.append(self.prepare(item, names[k]))
                ran.append(k)
            except images.ImageError as e:
                results[k] = {"image": names[k], "error": _one_line(e)}
        per_item: Dict[str, List[np.ndarray]] = {name: [] for name in self.output_names}
        for start in range(0, len(arrays), self.batch):
            x = np.stack(arrays[start:start + self.batch])
            for name, values in zip(self.output_names, self._split(self._run(x), len(x))):
                per_item[name].extend(values)
        outputs = {name: np.stack(v) if v else np.zeros((0,), np.float32) for name, v in per_item.items()}
        for j, k in enumerate(ran):
            results[k] = self._result(names[k], {name: outputs[name][j] for name in self.output_names})
        return BatchResult(results, outputs, ran)

    def _run(self, x: np.ndarray) -> List[np.ndarray]:
        n = len(x)
        if self.fixed_batch and n < self.fixed_batch:  # pad a short batch for a fixed-batch model
            x = np.concatenate([x, np.zeros((self.fixed_batch - n,) + x.shape[1:], x.dtype)])
        return self.session.run(self.output_names, {self.input_name: x})

    def _split(self, outs: List[np.ndarray], n: int) -> List[List[np.ndarray]]:
        """Each output cut into the n items of the run (a padded batch loses its padding)."""
        split = []
        for name, out in zip(self.output_names, outs):
            out = np.asarray(out)
            if out.ndim >= 1 and out.shape[0] >= n and (out.shape[0] == n or self.fixed_batch):
                split.append(list(out[:n]))
            elif n == 1:  # an output without a batch axis: the whole of it is the item's
                split.append([out])
            else:
                raise PipelineError(f"output {name!r} has shape {list(out.shape)}, not the batch of "
                                    f"{n} first: run one picture at a time (batch 1)")
        return split

    def _result(self, name, outputs: Dict[str, np.ndarray]) -> dict:
        if self.task == "raw":
            return {"image": name, "outputs": {k: output_statistics(v) for k, v in outputs.items()}}
        scores = np.asarray(outputs[self.output_names[0]]).reshape(1, -1)
        probs, _ = classify.to_probabilities(scores)
        return {"image": name, "top": classify.top_k(probs[0], self.top, self.labels)}


# A result as flat columns (Parquet files, tinycnn.ray's datasets): the best class apart, so
# that a table can be filtered or sorted by it without reading the lists.
CLASS_COLUMNS = ("top_index", "top_label", "top_probability", "top_k")


def flat_result(r: dict) -> dict:
    """A result as columns: image, error, and for task classify top_index, top_label,
    top_probability (the best class) and top_k (the list of `top`); for task raw, outputs.
    A picture that failed has only image and error."""
    row = {"image": r.get("image"), "error": r.get("error")}
    top = r.get("top")
    if top:
        row.update(top_index=top[0]["index"], top_label=top[0]["label"],
                   top_probability=top[0]["probability"], top_k=top)
    if "outputs" in r:
        row["outputs"] = r["outputs"]
    return row


def result_from_flat(row: dict) -> dict:
    """The result (as `process` makes it) of a row of `flat_result`'s columns."""
    if row.get("error") is not None:
        return {"image": row.get("image"), "error": row["error"]}
    if row.get("top_k") is not None:
        return {"image": row.get("image"), "top": [
            {"index": int(t["index"]), "label": t["label"], "probability": float(t["probability"])}
            for t in row["top_k"]]}
    return {"image": row.get("image"), "outputs": row["outputs"]}


def _fixed(d):
    return d if isinstance(d, int) and d > 0 else None


def _name(item) -> str:
    return getattr(item, "filename", None) or f"<{type(item).__name__}>"


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


__all__ = ["ImagePipeline", "BatchResult", "PipelineError", "task_for", "output_statistics", "TASKS",
           "CLASS_COLUMNS", "flat_result", "result_from_flat"]

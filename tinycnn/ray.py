"""tinycnn on Ray Data: one session per worker, for batch inference over a cluster.

    import ray
    from tinycnn.ray import ImageClassifier

    ds = ray.data.read_images("s3://bucket/pictures/", include_paths=True)
    ds = ds.map_batches(ImageClassifier, fn_constructor_kwargs={"model": "resnet18.onnx"},
                        compute=ray.data.ActorPoolStrategy(size=4), num_cpus=2, batch_size=64)
    ds.write_parquet("s3://bucket/results/")

`ImageClassifier` classifies pictures exactly as `tinycnn infer` does (tinycnn.pipeline: the
same preprocessing, labels and top K); `Predictor` runs any model on columns of tensors.  Each
is a callable class for `Dataset.map_batches`: Ray builds one per worker (the model loads once
there) and calls it on every batch.  The model is a path every worker can read, the model's
bytes or an onnx.ModelProto (shipped to each worker), or an InferenceSession (pickled to each
worker with its model, external data included: see InferenceSession.__reduce__).

Threads: a worker's session uses the CPUs Ray reserved for it (map_batches' num_cpus), unless
`threads` (or the session's intra_op_num_threads) says otherwise.

Ray is an optional dependency (pip install "tinycnn[ray]"); this module imports it only when a
Ray feature is used, and `import tinycnn` never imports it.
"""
from __future__ import annotations

import os
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np

from .pipeline import CLASS_COLUMNS, ImagePipeline, PipelineError, flat_result, result_from_flat
from .session import InferenceSession, SessionOptions

# the columns ImageClassifier adds
ADDED_COLUMNS = CLASS_COLUMNS + ("error",)
# the columns it reads pictures from, in the order it looks for them
PICTURE_COLUMNS = ("image", "bytes", "path")


def _session(model, threads: Optional[int], sess_options: Optional[SessionOptions]):
    """An InferenceSession of `model` (a session is used as it is)."""
    if isinstance(model, InferenceSession):
        if threads is not None:
            raise ValueError("threads= applies to a model given as a path, bytes or ModelProto; "
                             "a session keeps its own (set its intra_op_num_threads, or 0 for "
                             "the CPUs Ray reserved)")
        return model
    opts = sess_options or SessionOptions()
    if threads is not None:
        opts.intra_op_num_threads = threads
    return InferenceSession(model, sess_options=opts)


class ImageClassifier:
    """Classify the pictures of a batch, as `tinycnn infer` does.

    model: a path every worker can read, bytes, an onnx.ModelProto, an InferenceSession, or a
    whole tinycnn.pipeline.ImagePipeline (pickled with its session and settings: what
    `tinycnn infer --ray` ships).  settings: those of `tinycnn infer`, as keyword arguments of
    ImagePipeline.from_model: preset, size, mean, std, bgr, crop_ratio, picture_polarity,
    labels_file, top, batch (pictures per run of the model).  threads: the session's threads
    (default: the CPUs Ray reserved for this worker); sess_options: its other options.

    A batch holds the pictures in one of these columns: `image` (arrays, as
    ray.data.read_images yields them, any size: H x W, H x W x C), `bytes` (encoded files, as
    ray.data.read_binary_files yields them: decoded here by tinycnn's reader, every Pillow mode
    as `tinycnn infer`) or `path` (files read here).  The result is the batch's columns plus
    `top_index`, `top_label`, `top_probability` (the best class), `top_k` (a list of
    {index, label, probability}, best first) and `error` (None, or why the picture could not
    be read: its other columns are then None).
    """

    def __init__(self, model, *, threads: Optional[int] = None,
                 sess_options: Optional[SessionOptions] = None, **settings):
        if isinstance(model, ImagePipeline):
            if settings or threads is not None or sess_options is not None:
                raise ValueError("ImageClassifier(pipeline): the pipeline has its settings and "
                                 "session already")
            if model.task != "classify":
                raise PipelineError(f"ImageClassifier classifies; this pipeline's task is "
                                    f"{model.task!r}", "task")
            self.pipeline = model
            return
        session = _session(model, threads, sess_options)
        self.pipeline = ImagePipeline.from_model(session, task="classify", **settings)

    def __call__(self, batch: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        column = next((c for c in PICTURE_COLUMNS if c in batch), None)
        if column is None:
            raise PipelineError(f"ImageClassifier: the batch has columns {sorted(batch)}; it needs "
                                f"one of {', '.join(PICTURE_COLUMNS)}")
        items = list(batch[column])
        if column == "image":
            items = [_ray_picture(a) for a in items]
        elif column == "path":
            items = [str(p) for p in items]
        names = [str(p) for p in batch["path"]] if "path" in batch else None
        results = self.pipeline.process(items, names).results
        out = dict(batch)
        out.update(class_columns(results))
        return out


def class_columns(results: Sequence[dict]) -> Dict[str, np.ndarray]:
    """ImageClassifier's added columns for pipeline results (None where a picture failed)."""
    rows = [flat_result(r) for r in results]
    return {c: _column([row.get(c) for row in rows]) for c in ADDED_COLUMNS}


def _column(values: List) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _ray_picture(a) -> np.ndarray:
    """A picture of read_images' `image` column.  In a batch of pictures of different ranks
    Ray pads the grayscale ones to 1 x H x W: back to H x W (a picture 1 pixel high
    and 1 to 4 wide is taken as it comes)."""
    a = np.asarray(a)
    if a.ndim == 3 and a.shape[0] == 1 and a.shape[2] > 4:
        return a[0]
    return a


class Predictor:
    """Run any model on columns of tensors: the batch's columns named like the model's inputs
    are fed (arrays [batch, ...] of the input's type); the outputs are added as columns of
    those names (output_names: which ones, default all).  threads, sess_options: as
    ImageClassifier's."""

    def __init__(self, model, *, output_names: Optional[Sequence[str]] = None,
                 threads: Optional[int] = None, sess_options: Optional[SessionOptions] = None):
        self.session = _session(model, threads, sess_options)
        self.input_names = [v.name for v in self.session.get_inputs()]
        self.output_names = list(output_names or [v.name for v in self.session.get_outputs()])

    def __call__(self, batch: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        missing = [n for n in self.input_names if n not in batch]
        if missing:
            raise PipelineError(f"Predictor: the batch has no column for input(s) {missing}; its "
                                f"columns are {sorted(batch)}")
        clash = [n for n in self.output_names if n in batch and n not in self.input_names]
        if clash:
            raise PipelineError(f"Predictor: output(s) {clash} would replace the batch's columns "
                                "of those names: drop or rename them first")
        feeds = {n: _tensor(batch[n], n) for n in self.input_names}
        rows = len(next(iter(feeds.values()))) if feeds else 0
        outputs = self.session.run(self.output_names, feeds)
        out = dict(batch)
        for name, value in zip(self.output_names, outputs):
            if value.ndim == 0 or value.shape[0] != rows:
                raise PipelineError(f"Predictor: output {name!r} has shape {list(value.shape)}, not "
                                    f"the batch of {rows} first: it cannot be a column")
            out[name] = value
        return out


def _tensor(column, name) -> np.ndarray:
    """A column as one array: Ray gives an object array of arrays when their shapes differ."""
    if isinstance(column, np.ndarray) and column.dtype != object:
        return column
    try:
        return np.stack(list(column))
    except ValueError as e:
        raise PipelineError(f"Predictor: column {name!r} holds tensors of different shapes "
                            f"({e}); a run takes one shape") from None


def classify_files(pipeline: ImagePipeline, paths: Sequence[str], *, workers: int,
                   threads_per_worker: int = 1) -> Iterator[List[dict]]:
    """Run `pipeline` (task classify) over files on the Ray cluster this process is connected
    to: `workers` ImageClassifier actors of `threads_per_worker` CPUs each, reading the files
    themselves (every worker must see them at these paths).  Yields the pipeline's results
    ({"image", "top"} or {"image", "error"}) batch by batch, in the order of `paths`: what
    `tinycnn infer --ray` writes.

    The pipeline is pickled to each worker with its session: set the session's config entry
    session.tinycnn.pickle to "path" when the workers can read the model file (a local Ray, a
    shared file system), else its model travels through Ray's object store."""
    import ray
    import ray.data

    options = ray.data.DataContext.get_current().execution_options
    kept, options.preserve_order = options.preserve_order, True   # in the order of the paths
    try:
        ds = ray.data.from_items([{"path": os.fspath(p)} for p in paths])
        ds = ds.map_batches(ImageClassifier, fn_constructor_args=(pipeline,),
                            compute=ray.data.ActorPoolStrategy(size=workers),
                            num_cpus=threads_per_worker, batch_size=pipeline.batch)
        for table in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            yield [result_from_flat({**row, "image": row["path"]}) for row in table.to_pylist()]
    finally:
        options.preserve_order = kept

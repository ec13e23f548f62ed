"""Export a model of the zoo to ONNX.

    python -m models.export NAME --opset N [--dynamo] [--batch-dynamic] [--no-fold-bn]
                            [--flatten flatten|view] [--seed S] [--size 224 | --size HxW]
                            [--dynamic-size] -o FILE

Two exporters:

- legacy (TorchScript tracing, ``dynamo=False``), opsets 9-17 (ShuffleNetV2 with a dynamic
  batch: 11-17; hard-swish exports as HardSigmoid * x below opset 14).  In eval mode it folds
  every BatchNormalization into the preceding Conv (``TrainingMode.EVAL`` runs the
  eval peephole pass); ``--no-fold-bn`` exports with ``TrainingMode.PRESERVE`` on the
  eval-mode model, which skips that pass and keeps BatchNormalization nodes (inference
  form, one output).
- dynamo (``torch.export`` + onnxscript, ``dynamo=True``), opset 18+.  Weights go to an
  external data file next to the model (``FILE`` + ``FILE.data``; small constants stay
  inline).  The exporter itself emits BatchNormalization; its onnxscript optimizer pass
  folds it into Conv.  ``--no-fold-bn`` runs that optimizer without the fusion rules.

The graph has one input ``input`` [N, 3, H, W] float32 (``--size S`` is S x S, ``--size
HxW`` H x W) and one output: ``logits`` [N, 1000] for the classifiers, else the name in
``models.OUTPUT_NAMES`` (``out`` [N, 21, H, W] for segmentation, ``detections`` [N, 84,
anchors] for YOLOv8n, ``maps`` [N, 1, H, W] for DBNet).  N is 1, or the symbolic
``batch`` with ``--batch-dynamic``; ``--dynamic-size`` makes H and W symbolic too (the
fully convolutional models then take any size, and their shape arithmetic, such as the
Resize sizes and YOLO's anchor grid, stays in the graph).  Models that return a dict
(torchvision's segmentation models) export its ``out`` entry.
"""
import argparse
import contextlib
import io
import logging
import pathlib
import sys
import warnings

import torch
from . import MODELS, FLATTEN_MODES, OUTPUT_NAMES, build

__all__ = ["export", "main", "output_name", "LEGACY_OPSETS", "MIN_DYNAMO_OPSET", "INPUT_NAME",
           "OUTPUT_NAME"]

LEGACY_OPSETS = range(9, 18)
CHANNEL_SPLIT_MODELS = {"shufflenet_v2_x1_0"}
MIN_DYNAMO_OPSET = 18
INPUT_NAME = "input"
OUTPUT_NAME = "logits"  # the classifiers' output; see output_name()
# Input height and width must be multiples of this (feature maps of several strides meet).
SIZE_MULTIPLE = {"yolov8n": 32, "dbnet_mobilenet_v3": 32}


def output_name(name):
    return OUTPUT_NAMES.get(name, OUTPUT_NAME)


class _OutEntry(torch.nn.Module):
    """Exports ``model(x)["out"]`` of a model that returns a dict (the aux head is dropped)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]


def _output_axes(rank, batch_dynamic, spatial_dynamic):
    axes = {0: "batch"} if batch_dynamic else {}
    if spatial_dynamic and rank == 4:  # dense maps at the input's resolution
        axes.update({2: "height", 3: "width"})
    elif spatial_dynamic and rank == 3:  # YOLO: one column per anchor
        axes[2] = "anchors"
    return axes


@contextlib.contextmanager
def _without_batchnorm_fusion():
    """Let onnxscript's optimizer run without its Conv+BatchNormalization fusion rules.

    onnxscript has no public switch for this; these are its internals as of 0.7.
    """
    from onnxscript import rewriter
    try:
        from onnxscript.rewriter.rules.common import _fuse_batchnorm
        saved = rewriter._DEFAULT_REWRITE_RULES
    except (ImportError, AttributeError) as e:
        raise RuntimeError(
            "dynamo export with fold_bn=False patches onnxscript's default rewrite rules "
            f"(written against onnxscript 0.7); this onnxscript differs: {e}") from e
    fusion = set(_fuse_batchnorm.rules)
    rewriter._DEFAULT_REWRITE_RULES = tuple(r for r in saved if r not in fusion)
    try:
        yield
    finally:
        rewriter._DEFAULT_REWRITE_RULES = saved


def _export_legacy(model, x, path, opset, batch_dynamic, fold_bn, spatial_dynamic, out_name,
                   out_rank):
    dynamic_axes = None
    if batch_dynamic or spatial_dynamic:
        in_axes = {0: "batch"} if batch_dynamic else {}
        if spatial_dynamic:
            in_axes.update({2: "height", 3: "width"})
        dynamic_axes = {INPUT_NAME: in_axes,
                        out_name: _output_axes(out_rank, batch_dynamic, spatial_dynamic)}
    # EVAL runs the eval peephole pass (Conv+BN folding); PRESERVE on an eval-mode
    # model exports the same inference graph but leaves BatchNormalization alone.
    training = torch.onnx.TrainingMode.EVAL if fold_bn else torch.onnx.TrainingMode.PRESERVE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        torch.onnx.export(
            model, (x,), str(path), dynamo=False, opset_version=opset,
            input_names=[INPUT_NAME], output_names=[out_name], dynamic_axes=dynamic_axes,
            training=training, do_constant_folding=True,
        )


def _export_dynamo(model, x, path, opset, batch_dynamic, fold_bn, spatial_dynamic, out_name):
    dynamic_shapes = None
    if batch_dynamic or spatial_dynamic:
        dims = {0: torch.export.Dim("batch", min=1, max=1024)} if batch_dynamic else {}
        if spatial_dynamic:
            # AUTO lets torch.export work out what the model needs of H and W (e.g.
            # multiples of 32) instead of failing on a guard a plain Dim would not allow.
            dims.update({2: torch.export.Dim.AUTO, 3: torch.export.Dim.AUTO})
        dynamic_shapes = (dims,)
    # The exporter prints progress lines to stdout and warns that torchvision's ops
    # are not registered; keep the CLI's output clean.
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model, (x,), dynamo=True, opset_version=opset,
            input_names=[INPUT_NAME], output_names=[out_name],
            dynamic_shapes=dynamic_shapes, optimize=False,
        )
        # optimize=True would run the same onnxscript optimizer, which also folds
        # BatchNormalization into Conv; run it ourselves so --no-fold-bn can opt out.
        if fold_bn:
            program.optimize()
        else:
            with _without_batchnorm_fusion():
                program.optimize()
    program.save(str(path), external_data=True)


def _parse_size(size):
    """224 -> (224, 224); (480, 640) or "480x640" -> (480, 640)."""
    if isinstance(size, str):
        parts = size.lower().split("x")
        try:
            size = tuple(int(p) for p in parts)
        except ValueError:
            raise ValueError(f"size must be S or HxW, got {size!r}") from None
    if isinstance(size, int):
        size = (size, size)
    if len(size) == 1:
        size = (size[0], size[0])
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be S or HxW with positive integers, got {size!r}")
    return tuple(int(v) for v in size)


def export(name, path, opset=13, dynamo=False, batch_dynamic=False, fold_bn=True,
           flatten="flatten", seed=0, size=224, spatial_dynamic=False):
    """Export zoo model ``name`` to ONNX file ``path``; returns ``path`` as a Path.

    ``size`` is S or (H, W): the input the export traces with, and the graph's static
    input size unless ``spatial_dynamic``.  With ``dynamo=True`` the weights land in
    ``<path>.data`` beside the model.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    if dynamo and opset < MIN_DYNAMO_OPSET:
        raise ValueError(f"the dynamo exporter needs opset >= {MIN_DYNAMO_OPSET}, got {opset}")
    if not dynamo and opset not in LEGACY_OPSETS:
        raise ValueError(f"the legacy exporter is used with opsets 9-17, got {opset}")
    if not dynamo and batch_dynamic and opset < 11 and name in CHANNEL_SPLIT_MODELS:
        # x.chunk(2, dim=1) on a tensor with a symbolic batch: the legacy exporter has no
        # Split for it before opset 11 (a static batch exports at opset 9).
        raise ValueError(f"{name} with a dynamic batch needs opset >= 11 with the legacy "
                         f"exporter, got {opset}")
    height, width = _parse_size(size)
    multiple = SIZE_MULTIPLE.get(name, 1)
    if height % multiple or width % multiple:
        raise ValueError(f"{name} needs an input height and width that are multiples of "
                         f"{multiple}, got {height}x{width}")
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = build(name, seed=seed, flatten=flatten)
    # torch.export specialises a dimension whose example size is 1: trace a symbolic batch
    # with 2 (ConvNeXt's channels-last Linear fails to export otherwise).
    x = torch.zeros(2 if dynamo and batch_dynamic else 1, 3, height, width)
    with torch.no_grad():
        out = model(x)
        if isinstance(out, dict):
            model = _OutEntry(model).eval()
            out = out["out"]
        out_name = output_name(name)
        if dynamo:
            _export_dynamo(model, x, path, opset, batch_dynamic, fold_bn, spatial_dynamic,
                           out_name)
        else:
            _export_legacy(model, x, path, opset, batch_dynamic, fold_bn, spatial_dynamic,
                           out_name, out.dim())
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m models.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=sorted(MODELS))
    parser.add_argument("--opset", type=int, default=None,
                        help="ONNX opset (default: 13 legacy, 18 dynamo)")
    parser.add_argument("--dynamo", action="store_true",
                        help="use the dynamo exporter (opset >= 18, external data)")
    parser.add_argument("--batch-dynamic", action="store_true",
                        help="make the batch dimension symbolic")
    parser.add_argument("--no-fold-bn", dest="fold_bn", action="store_false",
                        help="keep BatchNormalization nodes instead of folding them into Conv")
    parser.add_argument("--flatten", choices=FLATTEN_MODES, default="flatten",
                        help="torch.flatten(x, 1) (Flatten) or x.view(N, -1) (Shape..Reshape)")
    parser.add_argument("--seed", type=int, default=0, help="weight initialisation seed")
    parser.add_argument("--size", default="224",
                        help="input size: S (S x S) or HxW (default 224)")
    parser.add_argument("--dynamic-size", dest="spatial_dynamic", action="store_true",
                        help="make the input height and width symbolic")
    parser.add_argument("-o", "--output", required=True, help="ONNX file to write")
    args = parser.parse_args(argv)
    opset = args.opset if args.opset is not None else (MIN_DYNAMO_OPSET if args.dynamo else 13)
    try:
        path = export(args.name, args.output, opset=opset, dynamo=args.dynamo,
                      batch_dynamic=args.batch_dynamic, fold_bn=args.fold_bn,
                      flatten=args.flatten, seed=args.seed, size=args.size,
                      spatial_dynamic=args.spatial_dynamic)
    except ValueError as e:
        parser.error(str(e))
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

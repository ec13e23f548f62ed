"""`tinycnn infer [MODEL] IMAGE|FOLDER...`: classify images, print the top K classes."""
import json
import os
import sys

import numpy as np

from .. import classify
from ..analysis import DEFAULT_SPATIAL
from ..images import IMAGE_EXTENSIONS
from . import images, models
from .args import EPILOG, EXIT_OK, CLIError, positive_float, positive_int

PROGRESS_MIN_IMAGES = 8  # more images than this: progress bar on stderr


def register(sub, parents):
    p = sub.add_parser("infer", parents=parents, help="classify images",
                       usage="tinycnn infer [MODEL.onnx] IMAGE|FOLDER... [options]",
                       description="Classify images. With no MODEL, the bundled digits model is used "
                                   "(models/digits/samples has pictures to try).", epilog=EPILOG)
    p.add_argument("inputs", nargs="+", metavar="[MODEL] IMAGE",
                   help="an .onnx model (optional, first) then images or folders of images")
    p.add_argument("--top", type=positive_int, default=5, metavar="K", help="classes to show (default 5)")
    p.add_argument("--json", action="store_true", help="one JSON object per image on stdout")
    p.add_argument("--preset", choices=["imagenet", "caffe", "none"],
                   help="input normalization (default: the model's metadata, else imagenet)")
    p.add_argument("--size", type=positive_int, nargs=2, metavar=("H", "W"),
                   help="input size when the model's is symbolic (default: the model's, else 224)")
    p.add_argument("--mean", type=float, nargs="+", metavar="M", help="per-channel mean, in the preset's pixel scale")
    p.add_argument("--std", type=float, nargs="+", metavar="S", help="per-channel std, in the preset's pixel scale")
    p.add_argument("--bgr", action="store_true", help="feed channels in BGR order")
    p.add_argument("--crop-ratio", type=positive_float, metavar="R",
                   help="centre crop / resized shorter side (imagenet, caffe: 0.875; none: 1.0)")
    p.add_argument("--labels", metavar="FILE", help="class names, one per line")
    p.add_argument("--batch", type=positive_int, default=8, metavar="N", help="images per run (default 8)")
    p.add_argument("--threads", type=positive_int, metavar="N", help="intra-op threads (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=run)


def _looks_like_model(path: str, n_positional: int) -> bool:
    low = path.lower()
    if low.endswith(".onnx"):
        return True
    if n_positional < 2 or os.path.isdir(path):
        return False
    return not low.endswith(IMAGE_EXTENSIONS)


def _image_input(path: str):
    """(input name, declared dims, metadata) of a classifier with one [N, C, H, W] input."""
    model = models.load(path)  # the weights are freed on return, before the session loads them
    inputs = model.inputs
    if len(inputs) != 1:
        raise CLIError(f"{path}: infer needs a model with one image input, this one has "
                       f"{len(inputs)} ({', '.join(v.name for v in inputs)})")
    dims = list(inputs[0].dims) if inputs[0].dims is not None else []
    if len(dims) != 4:
        raise CLIError(f"{path}: input {inputs[0].name!r} has shape {dims}, expected [N, C, H, W]")
    return inputs[0].name, dims, model.metadata


def _fixed(d):
    return d if isinstance(d, int) and d > 0 else None


def run(args) -> int:
    images.require_pillow("infer")
    positional = list(args.inputs)
    if _looks_like_model(positional[0], len(positional)):
        model_path, image_args = positional[0], positional[1:]
        if not image_args:
            raise CLIError(f"infer {model_path}: no images given")
    else:
        model_path, image_args = models.DIGITS_MODEL, positional
    paths = images.find_images(image_args)

    input_name, dims, meta = _image_input(model_path)
    channels = _fixed(dims[1]) or 3
    if channels not in (1, 3):
        raise CLIError(f"{model_path}: input {input_name!r} has {channels} channels; "
                       "infer handles 1 (grayscale) or 3 (color)")
    fixed = [d for d in dims[2:] if _fixed(d)]
    if args.size:
        size = tuple(args.size)
        if len(fixed) == 2 and tuple(fixed) != size:
            raise CLIError(f"--size {size[0]} {size[1]}: {model_path} has a fixed input size "
                           f"{fixed[0]}x{fixed[1]}")
    else:
        size = tuple(_fixed(d) or DEFAULT_SPATIAL for d in dims[2:])
    fixed_batch = _fixed(dims[0])
    batch = fixed_batch or args.batch
    spec = images.preprocessing_for(args, meta)
    for what, values in (("mean", spec.mean), ("std", spec.std)):
        if len(values) not in (1, channels) and not (channels == 1 and len(values) == 3):
            raise CLIError(f"--{what} has {len(values)} values but {model_path} takes {channels} channel(s)")
    if args.labels:
        _labels(0, meta, args.labels)  # a missing labels file fails before any work

    sess = models.tinycnn_session(model_path, args.threads)
    labels = None
    progress = _progress_bar(len(paths), args.no_progress)
    try:
        for start in range(0, len(paths), batch):
            chunk = paths[start:start + batch]
            x = images.load_batch(chunk, size, channels, spec)
            n = len(chunk)
            if fixed_batch and n < fixed_batch:  # pad a short last batch for a fixed-batch model
                x = np.concatenate([x, np.zeros((fixed_batch - n,) + x.shape[1:], x.dtype)])
            out = models.run_tinycnn(sess, None, {input_name: x}, model_path)[0]
            try:
                scores = classify.class_scores(out, x.shape[0])[:n]
            except ValueError as e:
                raise CLIError(f"{model_path}: {e}") from None
            probs, _ = classify.to_probabilities(scores)
            if labels is None:
                labels = _labels(probs.shape[1], meta, args.labels) or []
            for path, p in zip(chunk, probs):
                text = format_result({"image": path, "top": classify.top_k(p, args.top, labels)},
                                     args.json)
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


def _labels(num_classes, meta, labels_file):
    try:
        return classify.labels_for(num_classes, meta, labels_file)
    except classify.LabelError as e:
        raise CLIError(str(e)) from None


def _progress_bar(total, disabled):
    if total <= PROGRESS_MIN_IMAGES or disabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # the progress bar is a nicety: run without it
        return None
    return tqdm(total=total, unit="img", file=sys.stderr, desc="infer")


def format_result(entry, as_json: bool) -> str:
    """One image's result: a JSON line, or its path then one line per class."""
    if as_json:
        return json.dumps(entry)
    lines = [entry["image"]]
    for t in entry["top"]:
        label = t["label"]
        tail = label if label == str(t["index"]) else f"{label} ({t['index']})"
        lines.append(f"  {100.0 * t['probability']:6.2f}%  {tail}")
    return "\n".join(lines)

"""`tinycnn infer [MODEL] IMAGE|FOLDER...`: classify pictures (top K classes), or for a model that
is not a classifier, summarise its outputs; results to stdout, a JSON-lines or Parquet file, and
every output to an .npz.  The work per batch is tinycnn.pipeline's; here are options, the loop,
the progress bar and the writers."""
import os
import sys

from .. import classify, images as image_lib
from ..images import IMAGE_EXTENSIONS, POLARITIES
from ..pipeline import TASKS, ImagePipeline, PipelineError
from . import cluster, images, models, results
from .args import EPILOG, EXIT_OK, EXIT_SOME_FAILED, CLIError, positive_float, positive_int

PROGRESS_MIN_IMAGES = 8  # more images than this: progress bar on stderr
OPTIONS = {"size": "--size", "picture_polarity": "--polarity", "mean": "--mean", "std": "--std",
           "task": "--task"}  # ImagePipeline.from_model's settings, as options


def register(sub, parents):
    p = sub.add_parser("infer", parents=parents, help="classify images (or run any image model)",
                       usage="tinycnn infer [MODEL.onnx] IMAGE|FOLDER... [options]",
                       description="Classify images, or for a model that is not a classifier show its "
                                   "outputs' shapes and statistics. With no MODEL, the bundled digits "
                                   "model is used (models/digits/samples has pictures to try). A picture "
                                   "that cannot be read gets an error (a line on stderr, or an `error` "
                                   "field with --json and --output) and the others go on; the exit code "
                                   "is then 3.", epilog=EPILOG)
    p.add_argument("inputs", nargs="+", metavar="[MODEL] IMAGE",
                   help="an .onnx model (optional, first) then images or folders of images")
    p.add_argument("--task", choices=("auto",) + TASKS, default="auto",
                   help="classify (top K classes) or raw (output shapes and statistics); default: "
                        "classify for one [N, classes] output, raw otherwise")
    p.add_argument("--top", type=positive_int, default=5, metavar="K", help="classes to show (default 5)")
    p.add_argument("--json", action="store_true", help="one JSON object per image on stdout")
    p.add_argument("--output", metavar="FILE", help="write the results to FILE instead of stdout: "
                   "JSON lines (.jsonl) or Parquet (.parquet, needs pyarrow)")
    p.add_argument("--save-outputs", metavar="FILE.npz", help="also save every model output of every image")
    p.add_argument("--preset", choices=["imagenet", "caffe", "none"],
                   help="input normalization (default: the model's metadata, else imagenet)")
    p.add_argument("--polarity", choices=("auto",) + POLARITIES,
                   help="what the pictures are, for a model that states the polarity it wants (the "
                        "digits model): auto (default: read from each picture's border), dark-on-light "
                        "or light-on-dark")
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
    cluster.add_options(p)
    p.set_defaults(func=run)


def _looks_like_model(path: str, n_positional: int) -> bool:
    low = path.lower()
    if low.endswith(".onnx"):
        return True
    if n_positional < 2 or os.path.isdir(path):
        return False
    return not low.endswith(IMAGE_EXTENSIONS)


def pipeline_for(model_path: str, args) -> ImagePipeline:
    """The library's pipeline for this command line; what does not fit is a CLIError."""
    if args.std and any(s == 0 for s in args.std):
        raise CLIError("--std must not contain 0")
    try:
        return ImagePipeline.from_model(
            models.load(model_path), lambda: models.tinycnn_session(model_path, args.threads),
            preset=args.preset, mean=tuple(args.mean) if args.mean else None,
            std=tuple(args.std) if args.std else None, bgr=True if args.bgr else None,
            crop_ratio=args.crop_ratio, picture_polarity=args.polarity,
            size=tuple(args.size) if args.size else None, labels_file=args.labels, top=args.top,
            task=args.task, batch=args.batch)
    except PipelineError as e:
        option = OPTIONS.get(e.setting)
        raise CLIError(f"{option}: {e}" if option else str(e)) from None
    except (classify.LabelError, image_lib.ImageError) as e:
        raise CLIError(str(e)) from None
    except models.ENGINE_ERRORS as e:
        raise CLIError(f"{model_path}: tinycnn cannot run this model: "
                       f"{models.engine_message(e, model_path)}") from None


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
    cluster.check_options(args)
    pipe = pipeline_for(model_path, args)

    progress = _progress_bar(len(paths), args.no_progress)
    writer = saver = None
    failed = 0
    try:
        saver = results.OutputsSaver(args.save_outputs) if args.save_outputs else None
        writer = (results.open_output(args.output, pipe.task, pipe.output_names) if args.output
                  else results.StdoutWriter(args.json, progress))
        batches = (cluster.batches(pipe, paths, args, model_path) if args.ray is not None
                   else _batches(pipe, paths, saver, model_path))
        for done in batches:
            failed += sum("error" in r for r in done)
            writer.write(done)
            if progress is not None:
                progress.update(len(done))
    finally:
        if progress is not None:
            progress.close()
        if writer is not None:
            writer.close()
    if saver is not None:
        saver.close()
    if failed:
        if len(paths) > 1 or args.output or args.json:
            print(f"tinycnn: {failed} of {len(paths)} images could not be read", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK


def _batches(pipe, paths, saver, model_path):
    """The pipeline's results for `paths`, batch by batch, computed here."""
    for start in range(0, len(paths), pipe.batch):
        chunk = paths[start:start + pipe.batch]
        try:
            batch = pipe.process(chunk)
        except PipelineError as e:
            raise CLIError(f"{model_path}: {e}") from None
        except models.ENGINE_ERRORS as e:
            raise CLIError(f"{model_path}: tinycnn failed: {models.engine_message(e, model_path)}") from None
        if saver is not None and batch.ran:
            saver.add([chunk[k] for k in batch.ran], batch.outputs)
        yield batch.results


def _progress_bar(total, disabled):
    if total <= PROGRESS_MIN_IMAGES or disabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # the progress bar is a nicety: run without it
        return None
    return tqdm(total=total, unit="img", file=sys.stderr, desc="infer")

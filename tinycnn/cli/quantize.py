"""`tinycnn quantize MODEL.onnx IMAGES... -o OUT.onnx`: a QDQ model (uint8 activations, int8
per-channel weights) calibrated on the user's pictures, and its accuracy loss against the float
model on them.  The work is tinycnn.quantization's; pictures become inputs as `infer` makes them."""
import json

from .. import classify, images as image_lib
from ..errors import InvalidArgument
from ..pipeline import ImagePipeline, PipelineError
from ..quantization import METHODS, WEIGHT_BITS, accuracy_loss, quantize_qdq
from . import images, models
from .args import EPILOG, EXIT_OK, CLIError, positive_float


def register(sub, parents):
    p = sub.add_parser("quantize", parents=parents, help="quantize a model to int8 (QDQ)",
                       usage="tinycnn quantize MODEL.onnx IMAGE|FOLDER... -o OUT.onnx [options]",
                       description="Write a QDQ model (uint8 activations, int8 weights per output "
                                   "channel) calibrated on the pictures, which tinycnn and onnxruntime "
                                   "both run, and report how far its outputs are from the float "
                                   "model's on those pictures (both run by tinycnn).", epilog=EPILOG)
    p.add_argument("model", metavar="MODEL.onnx")
    p.add_argument("inputs", nargs="+", metavar="IMAGE", help="pictures or folders of pictures")
    p.add_argument("-o", "--output", required=True, metavar="OUT.onnx")
    p.add_argument("--method", choices=METHODS, default="minmax",
                   help="activation ranges: minmax (default) or percentile")
    p.add_argument("--percentile", type=positive_float, default=99.99, metavar="P",
                   help="with --method percentile: the range is [100-P, P] percentiles (default 99.99)")
    p.add_argument("--weight-bits", type=int, choices=WEIGHT_BITS, default=8, metavar="{8,7}",
                   help="weight codes in [-127, 127] (8, default) or [-64, 64] (7, onnxruntime's "
                        "reduce_range): on AVX2 without VNNI, 7-bit weights run every layer on "
                        "the fastest exact 8-bit kernel (u8s8x2), at half the weight resolution")
    p.add_argument("--preset", choices=["imagenet", "caffe", "none"],
                   help="input normalization (default: the model's metadata, else imagenet)")
    p.add_argument("--json", action="store_true", help="the report as one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    import onnx
    images.require_pillow("quantize")
    paths = images.find_images(args.inputs)
    try:
        pipe = ImagePipeline.from_model(models.load(args.model), preset=args.preset, task="raw")
        feeds = [{pipe.input_name: pipe.prepare(p)[None]} for p in paths]
    except PipelineError as e:
        raise CLIError(str(e)) from None
    except (classify.LabelError, image_lib.ImageError) as e:
        raise CLIError(str(e)) from None
    try:
        model = onnx.load(args.model)
        q = quantize_qdq(model, feeds, args.method, args.percentile, args.weight_bits)
        loss = accuracy_loss(model, q, feeds)
    except InvalidArgument as e:
        raise CLIError(f"{args.model}: {e}") from None
    except models.ENGINE_ERRORS as e:
        raise CLIError(f"{args.model}: tinycnn cannot run this model: "
                       f"{models.engine_message(e, args.model)}") from None
    onnx.save(q, args.output)
    report = {"model": args.model, "output": args.output, "method": args.method,
              "weight_bits": args.weight_bits, **loss}
    if args.json:
        print(json.dumps(report))
        return EXIT_OK
    top1 = loss["top1_agreement"]
    weights = "int8 weights" if args.weight_bits == 8 else "7-bit weights (int8 in [-64, 64])"
    print(f"wrote {args.output}: QDQ, uint8 activations ({args.method}), {weights} per channel, "
          f"calibrated on {loss['images']} picture(s)")
    print(f"against the float model on them: largest error {100 * loss['max_error_of_range']:.2f}% "
          f"of the output's range, mean {100 * loss['mean_error_of_range']:.3f}%"
          + ("" if top1 is None else f", same top-1 on {100 * top1:.1f}%"))
    return EXIT_OK

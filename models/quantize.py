"""Quantized exports of the zoo, made by onnxruntime's own tool.

    python -m models.quantize MODEL.onnx --format qdq|qoperator [--images 16] [--reduce-range] -o OUT.onnx

`quantize(src, dst, fmt)` runs onnxruntime.quantization.quantize_static the way apps ship
int8 models: per-channel int8 weights, uint8 activations, calibrated (min-max) on
`calibration_images`, real photographs (scikit-learn's two sample images) cut into random
crops at random scales and mirrored, ImageNet-normalised.  The zoo's networks are randomly
initialised, but their activations on photographs are what calibration should see: smooth
regions, edges, textures, not noise.  `reduce_range=True` is the tool's own option for CPUs
without VNNI: weights within [-64, 64] (7 bits), which vpmaddubsw multiplies without saturating.

Used by the tests and benchmarks; onnxruntime, scikit-learn and Pillow are development
dependencies, not tinycnn's.
"""
import argparse
import os
import tempfile

import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
FORMATS = ("qdq", "qoperator")


def _photos():
    from sklearn.datasets import load_sample_images
    return load_sample_images().images   # two 427 x 640 RGB photographs


def calibration_images(n, size=224, seed=0):
    """n float32 [1, 3, size, size] crops of photographs: random square regions (half to all
    of the short side), resized bilinearly, mirrored half of the time, ImageNet-normalised."""
    from PIL import Image
    photos = _photos()
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        im = photos[i % len(photos)]
        h, w = im.shape[:2]
        s = int(rng.integers(h // 2, h + 1))
        y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        crop = Image.fromarray(im[y:y + s, x:x + s]).resize((size, size), Image.BILINEAR)
        a = np.asarray(crop, np.float32) / 255.0
        if rng.random() < 0.5:
            a = a[:, ::-1]
        a = (a - IMAGENET_MEAN) / IMAGENET_STD
        out.append(np.ascontiguousarray(a.transpose(2, 0, 1)[None], np.float32))
    return out


def quantize(src, dst, fmt="qdq", images=16, seed=0, reduce_range=False):
    """Quantize the float model at src into dst (QDQ or QOperator format); returns dst."""
    import onnxruntime as ort
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    sess = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    size = inp.shape[-1] if isinstance(inp.shape[-1], int) else 224
    feeds = [{inp.name: x} for x in calibration_images(images, size, seed)]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(feeds)

        def get_next(self):
            return next(self.it, None)

    with tempfile.TemporaryDirectory() as tmp:
        pre = os.path.join(tmp, "pre.onnx")
        quant_pre_process(str(src), pre, skip_symbolic_shape=True)
        quantize_static(pre, str(dst), Reader(),
                        quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, reduce_range=reduce_range)
    return dst


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("--format", choices=FORMATS, default="qdq")
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--reduce-range", action="store_true", help="7-bit weights ([-64, 64])")
    p.add_argument("-o", "--output", required=True)
    a = p.parse_args(argv)
    quantize(a.model, a.output, a.format, a.images, reduce_range=a.reduce_range)


if __name__ == "__main__":
    main()

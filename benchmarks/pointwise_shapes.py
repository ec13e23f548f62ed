"""GFLOP/s of the 1x1 (pointwise) convolutions of MobileNetV2, MnasNet-1.0 and EfficientNet-B0,
tinycnn vs onnxruntime (MLAS) on the lone layer, side by side.

Each shape runs as a single-node ONNX Conv in onnxruntime and as one tinycnn Conv2d call,
alternating the two (benchmarks/conv_shapes.py's harness); medians are printed.  Shapes shared
by several networks are listed once.  "ratio" is onnxruntime's time / tinycnn's (above 1:
tinycnn is faster).  No assertions: this only measures.

    python benchmarks/pointwise_shapes.py [--threads 1] [--reps 20] [--only @7] [--min] [--isa avx2]
                                          [--algo 1x1 | 1x1_chan | plan]

--algo: tinycnn's algorithm for every shape; "plan" (the default) is what the planner picks
(tinycnn/ops/conv_algo.py).
"""
import argparse
import os
import statistics
import time

import numpy as np
import onnxruntime as ort

import conv_shapes as cs
from tinycnn import _kernels
from tinycnn.ops.conv_algo import ConvGeometry, choose_conv_algo

# (C, H, W) -> K, in network order; the 1x1s of MobileNetV2 (v2), MnasNet-1.0 (mn) and
# EfficientNet-B0 (eb0), MobileNetV3-Large's at 7x7 (v3l), and
# LRASPP-MobileNetV3-Large at 512x512 (lr), SqueezeNet 1.1 (sq), RegNetY-400MF (rg); every one is stride 1, no padding
POINTWISE = [
    ((32, 112, 112), 16, "v2 mn eb0"),
    ((16, 112, 112), 96, "v2 eb0"),
    ((16, 112, 112), 48, "mn"),
    ((96, 56, 56), 24, "v2 eb0"),
    ((48, 56, 56), 24, "mn"),
    ((24, 56, 56), 144, "v2 eb0"),
    ((144, 56, 56), 24, "v2"),
    ((24, 56, 56), 72, "mn"),
    ((72, 56, 56), 24, "mn"),
    ((144, 28, 28), 32, "v2"),
    ((32, 28, 28), 192, "v2"),
    ((192, 28, 28), 32, "v2"),
    ((144, 28, 28), 40, "eb0"),
    ((40, 28, 28), 240, "eb0"),
    ((240, 28, 28), 40, "eb0"),
    ((40, 28, 28), 120, "mn"),
    ((120, 28, 28), 40, "mn"),
    ((192, 14, 14), 64, "v2"),
    ((64, 14, 14), 384, "v2"),
    ((384, 14, 14), 64, "v2"),
    ((384, 14, 14), 96, "v2"),
    ((96, 14, 14), 576, "v2 mn"),
    ((576, 14, 14), 96, "v2 mn"),
    ((80, 14, 14), 480, "eb0"),
    ((480, 14, 14), 80, "eb0"),
    ((112, 14, 14), 672, "eb0"),
    ((672, 14, 14), 112, "eb0"),
    ((576, 7, 7), 160, "v2"),
    ((672, 7, 7), 160, "v3l"),
    ((160, 7, 7), 960, "v2 v3l"),
    ((960, 7, 7), 160, "v2 v3l"),
    ((960, 7, 7), 320, "v2"),
    ((320, 7, 7), 1280, "v2 mn eb0"),
    ((192, 7, 7), 1152, "mn eb0"),
    ((1152, 7, 7), 192, "mn eb0"),
    ((1152, 7, 7), 320, "mn eb0"),
    # LRASPP-MobileNetV3-Large at 512x512 (lr): the wide maps of the stem, the dilated stages
    ((16, 256, 256), 16, "lr"),
    ((16, 256, 256), 64, "lr"),
    ((64, 128, 128), 24, "lr"),
    ((24, 128, 128), 72, "lr"),
    ((160, 32, 32), 960, "lr"),
    ((960, 32, 32), 160, "lr"),
    ((960, 32, 32), 128, "lr"),
    # SqueezeNet 1.1 (sq): squeeze, expand1x1, the classifier; RegNetY-400MF (rg): block1-0's
    # a and c, then a 1x1 per stage (block4-0's a: 208 -> 440 at 14x14)
    ((64, 55, 55), 16, "sq"),
    ((128, 55, 55), 16, "sq"),
    ((16, 55, 55), 64, "sq"),
    ((128, 27, 27), 32, "sq"),
    ((256, 27, 27), 32, "sq"),
    ((32, 27, 27), 128, "sq"),
    ((256, 13, 13), 48, "sq"),
    ((384, 13, 13), 48, "sq"),
    ((384, 13, 13), 64, "sq"),
    ((512, 13, 13), 64, "sq"),
    ((48, 13, 13), 192, "sq"),
    ((64, 13, 13), 256, "sq"),
    ((512, 13, 13), 1000, "sq"),
    ((32, 112, 112), 48, "rg"),
    ((48, 56, 56), 48, "rg"),
    ((104, 28, 28), 104, "rg"),
    ((104, 28, 28), 208, "rg"),
    ((208, 14, 14), 208, "rg"),
    ((208, 14, 14), 440, "rg"),
    ((440, 7, 7), 440, "rg"),
]


def run(threads, reps, only, isa, algo):
    rng = np.random.default_rng(0)
    ctx = _kernels.Context(threads, isa)
    tot_tc = tot_ort = tot_flops = 0.0
    for (c, h, w_), k, nets in POINTWISE:
        name = f"{c}->{k} @{h}"
        if only and only not in f"{name} {nets}":
            continue
        w = (rng.standard_normal((k, c, 1, 1)) * 0.05).astype(np.float32)
        b = rng.standard_normal(k).astype(np.float32)
        x = rng.standard_normal((1, c, h, w_)).astype(np.float32)
        a = algo
        if a == "plan":
            a = choose_conv_algo(ConvGeometry(1, c, k, h, w_, (1, 1)), num_threads=threads,
                                 isa=ctx.isa)
        conv = _kernels.Conv2d(ctx, w, b, algo=a, strides=(1, 1), pads=(0, 0, 0, 0))
        oshape = conv.output_shape(1, h, w_)
        y = np.empty(oshape, np.float32)
        ws = np.empty(conv.workspace_size(1, h, w_), np.float32)
        sess = cs.ort_session(cs.conv_model(w, b, 1, 0, oshape), threads)
        yo = sess.run(None, {"x": x})[0]
        conv.run(x, y, workspace=ws)
        err = np.abs(y - yo).max() / np.abs(yo).max()
        flops = 2.0 * k * c * h * w_
        t_tc, t_ort = cs.alternate(lambda: conv.run(x, y, workspace=ws),
                                   lambda: sess.run(None, {"x": x}), reps)
        tot_tc += t_tc
        tot_ort += t_ort
        tot_flops += flops
        cs.report(f"{name:18s} {nets:9s}", flops, t_tc, t_ort, f"[err {err:.1e}] {a}")
    if tot_flops:
        cs.report("all listed", tot_flops, tot_tc, tot_ort)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--only", default="", help="substring of a shape's name or networks")
    ap.add_argument("--min", action="store_true", help="fastest run instead of the median")
    ap.add_argument("--isa", default=os.environ.get("TINYCNN_ISA", "auto"),
                    help="tinycnn's instruction set: auto, avx512, avx2, portable (default: "
                         "TINYCNN_ISA, else auto)")
    ap.add_argument("--algo", default="plan", choices=["plan", "1x1", "1x1_chan"],
                    help="tinycnn's algorithm (plan: the planner's choice)")
    args = ap.parse_args()
    if args.min:
        cs.STAT = min
    for t in args.threads:
        print(f"--- {t} thread(s), tinycnn isa {args.isa} (best {_kernels.best_isa()}), "
              f"onnxruntime {ort.__version__}")
        run(t, args.reps, args.only, args.isa, args.algo)


if __name__ == "__main__":
    main()

"""Depthwise convolutions of the mobile networks: tinycnn's kernel vs onnxruntime (MLAS), with
GFLOP/s and the memory traffic it sustains (GB/s: input + output + weights once per run).

A depthwise layer does 2*KH*KW flops per output and reads ~1 input value per output: it is
limited by memory, not by FMA.  Each shape runs as a single-node ONNX model in onnxruntime
and as one tinycnn kernel call, alternating (conv_shapes.alternate); medians are printed.

    python benchmarks/depthwise_shapes.py [--threads 1 2] [--reps 20] [--isa avx2|portable] [--only lraspp]
"""
import argparse

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import conv_shapes
from conv_shapes import alternate, ort_session
from tinycnn import _kernels

# name, (C, H, W), kernel, stride[, dilation] (pads: dilation * (kernel // 2) on every side, as in
# the networks)
DEPTHWISE = [
    ("mbv2 dw 32 @112", (32, 112, 112), 3, 1),
    ("mbv2 dw/2 96 @112", (96, 112, 112), 3, 2),
    ("mbv2 dw 144 @56", (144, 56, 56), 3, 1),
    ("mbv2 dw/2 144 @56", (144, 56, 56), 3, 2),
    ("mbv2 dw 192 @28", (192, 28, 28), 3, 1),
    ("mbv2 dw/2 192 @28", (192, 28, 28), 3, 2),
    ("mbv2 dw 384 @14", (384, 14, 14), 3, 1),
    ("mbv2 dw 576 @14", (576, 14, 14), 3, 1),
    ("mbv2 dw/2 576 @14", (576, 14, 14), 3, 2),
    ("mbv2 dw 960 @7", (960, 7, 7), 3, 1),
    ("effnet dw5/2 144 @56", (144, 56, 56), 5, 2),
    ("effnet dw5 240 @28", (240, 28, 28), 5, 1),
    ("effnet dw5 672 @14", (672, 14, 14), 5, 1),
    ("effnet dw5/2 672 @14", (672, 14, 14), 5, 2),
    ("effnet dw5 1152 @7", (1152, 7, 7), 5, 1),
    ("mnas dw 72 @56", (72, 56, 56), 3, 1),
    ("mnas dw5/2 72 @56", (72, 56, 56), 5, 2),
    ("mnas dw5 120 @28", (120, 28, 28), 5, 1),
    ("mnas dw5/2 240 @28", (240, 28, 28), 5, 2),
    ("mnas dw5 480 @14", (480, 14, 14), 5, 1),
    ("mnas dw 480 @14", (480, 14, 14), 3, 1),
    ("mnas dw5/2 576 @14", (576, 14, 14), 5, 2),
    ("mnas dw 1152 @7", (1152, 7, 7), 3, 1),
    ("lraspp dw 16 @256", (16, 256, 256), 3, 1),
    ("lraspp dw/2 64 @256", (64, 256, 256), 3, 2),
    ("lraspp dw 72 @128", (72, 128, 128), 3, 1),
    ("lraspp dw5 960 @32 d2", (960, 32, 32), 5, 1, 2),
]


def dw_model(w, b, stride, pad, dilation=1):
    c = w.shape[0]
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], strides=[stride] * 2, pads=[pad] * 4,
                            dilations=[dilation] * 2, group=c)
    graph = helper.make_graph(
        [node], "dw", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, None, None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def bench(threads, reps, isa, only=""):
    rng = np.random.default_rng(0)
    ctx = _kernels.Context(threads, isa)
    tot_tc = tot_ort = 0.0
    for name, (c, h, w_), ks, s, *dil in DEPTHWISE:
        if only not in name:
            continue
        d = dil[0] if dil else 1
        p = d * (ks // 2)
        w = rng.standard_normal((c, 1, ks, ks)).astype(np.float32)
        b = rng.standard_normal(c).astype(np.float32)
        x = rng.standard_normal((1, c, h, w_)).astype(np.float32)
        conv = _kernels.Conv2d(ctx, w, b, algo="depthwise", strides=(s, s), pads=(p,) * 4,
                               dilations=(d, d), group=c)
        oshape = conv.output_shape(1, h, w_)
        y = np.empty(oshape, np.float32)
        ws = np.empty(conv.workspace_size(1, h, w_), np.float32)
        sess = ort_session(dw_model(w, b, s, p, d), threads)
        yo = sess.run(None, {"x": x})[0]
        conv.run(x, y, workspace=ws)
        err = np.abs(y - yo).max() / np.abs(yo).max()
        flops = 2.0 * c * ks * ks * oshape[2] * oshape[3]
        nbytes = x.nbytes + y.nbytes + w.nbytes
        t_tc, t_ort = alternate(lambda: conv.run(x, y, workspace=ws),
                                lambda: sess.run(None, {"x": x}), reps)
        tot_tc += t_tc
        tot_ort += t_ort
        print(f"{name:22s} tinycnn {flops / t_tc / 1e9:6.1f} GF/s {nbytes / t_tc / 1e9:6.1f} GB/s  "
              f"ort {flops / t_ort / 1e9:6.1f} GF/s  time tinycnn/ort {t_tc / t_ort:5.2f}  "
              f"err {err:.1e}", flush=True)
    print(f"{'all':22s} time tinycnn/ort {tot_tc / tot_ort:5.2f}  "
          f"(tinycnn {tot_tc * 1e3:.2f} ms, ort {tot_ort * 1e3:.2f} ms)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--isa", default="auto", help="tinycnn's instruction set: auto, avx2, portable")
    ap.add_argument("--min", action="store_true", help="the fastest run instead of the median")
    ap.add_argument("--only", default="", help="substring of a shape's name")
    args = ap.parse_args()
    if args.min:
        conv_shapes.STAT = min
    for t in args.threads:
        print(f"--- {t} thread(s), tinycnn isa {args.isa} (best {_kernels.best_isa()}), "
              f"onnxruntime {ort.__version__} (MLAS picks its own, AVX-512 here)")
        bench(t, args.reps, args.isa, args.only)


if __name__ == "__main__":
    main()

"""Winograd vs onnxruntime on the 3x3 layers of VGG-16 and ResNet (224x224 input) and of the
YOLOv8n-style detector (640x640); also SqueezeNet 1.1's, DenseNet-121's and GoogLeNet's.

For each layer shape: a single-Conv ONNX model run by onnxruntime, tinycnn's
Winograd (F(4x4) and F(2x2)) and GEMM/im2col convolutions; same process, runs
alternated, medians; "rec" is the algorithm tinycnn/ops/conv_algo.py chooses.
Effective GFLOP/s use the direct-convolution flop count 2*K*C*9*OH*OW.
Prints only; no asserts.

    python benchmarks/winograd_shapes.py [--threads 1 2] [--reps 15] [--layers vgg resnet yolo squeezenet densenet googlenet]
"""
import argparse
import os
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tinycnn import _kernels  # noqa: E402
from tinycnn.ops.conv_algo import ConvGeometry, choose_conv_algo  # noqa: E402

# the algorithms timed, and the key each is reported under
ALGOS = {"winograd_f4x4_3x3": 4, "winograd_f2x2_3x3": 2, "gemm": "gemm"}

# name, C, K, H (= W)
LAYERS = {
    "vgg": [
        ("vgg conv1_1 3->64@224", 3, 64, 224),
        ("vgg conv1_2 64@224", 64, 64, 224),
        ("vgg conv2_1 64->128@112", 64, 128, 112),
        ("vgg conv2_2 128@112", 128, 128, 112),
        ("vgg conv3_1 128->256@56", 128, 256, 56),
        ("vgg conv3_x 256@56", 256, 256, 56),
        ("vgg conv4_1 256->512@28", 256, 512, 28),
        ("vgg conv4_x 512@28", 512, 512, 28),
        ("vgg conv5_x 512@14", 512, 512, 14),
    ],
    "resnet": [
        ("resnet 64@56", 64, 64, 56),
        ("resnet 128@28", 128, 128, 28),
        ("resnet 256@14", 256, 256, 14),
        ("resnet 512@7", 512, 512, 7),
    ],
    # the 3x3 stride-1 layers of the YOLOv8n-style detector at 640x640 (models/yolo.py):
    # the C2f bottlenecks' narrow layers and the head's
    "yolo": [
        ("yolo c2f 16@160", 16, 16, 160),
        ("yolo c2f 32@80", 32, 32, 80),
        ("yolo c2f 64@40", 64, 64, 40),
        ("yolo c2f 128@20", 128, 128, 20),
        ("yolo head 64@80", 64, 64, 80),
        ("yolo head 64->80@80", 64, 80, 80),
        ("yolo head 80@80", 80, 80, 80),
        ("yolo head 128->64@40", 128, 64, 40),
        ("yolo head 256->64@20", 256, 64, 20),
    ],
    # SqueezeNet 1.1's expand3x3 layers (fire2/3, 4/5, 6/7, 8/9), at 224x224
    "squeezenet": [
        ("squeeze fire2 16->64@55", 16, 64, 55),
        ("squeeze fire4 32->128@27", 32, 128, 27),
        ("squeeze fire6 48->192@13", 48, 192, 13),
        ("squeeze fire8 64->256@13", 64, 256, 13),
    ],
    # DenseNet-121's dense layers' 3x3 (4 x growth = 128 -> 32) in its four blocks
    "densenet": [
        ("densenet 128->32@56", 128, 32, 56),
        ("densenet 128->32@28", 128, 32, 28),
        ("densenet 128->32@14", 128, 32, 14),
        ("densenet 128->32@7", 128, 32, 7),
    ],
    # GoogLeNet's (torchvision) 3x3 stride-1 layers: conv3, the inceptions' two 3x3 branches
    "googlenet": [
        ("googlenet conv3 64->192@56", 64, 192, 56),
        ("googlenet 3a 96->128@28", 96, 128, 28),
        ("googlenet 3a 16->32@28", 16, 32, 28),
        ("googlenet 3b 128->192@28", 128, 192, 28),
        ("googlenet 3b 32->96@28", 32, 96, 28),
        ("googlenet 4a 96->208@14", 96, 208, 14),
        ("googlenet 4a 16->48@14", 16, 48, 14),
        ("googlenet 4d 144->288@14", 144, 288, 14),
        ("googlenet 4e 160->320@14", 160, 320, 14),
        ("googlenet 4e 32->128@14", 32, 128, 14),
        ("googlenet 5b 192->384@7", 192, 384, 7),
        ("googlenet 5b 48->128@7", 48, 128, 7),
    ],
}
# How often each VGG-16 layer shape occurs (for the whole-network estimate).
VGG_COUNT = {"vgg conv3_x 256@56": 2, "vgg conv4_x 512@28": 2, "vgg conv5_x 512@14": 3}


def conv_model(C, K, H, w, b):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C, H, H])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, K, H, H])
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    graph = helper.make_graph([node], "conv", [x], [y],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


def median_ms(times):
    return 1e3 * float(np.median(times))


def recommended(C, K, H, threads):
    """The key of the algorithm the engine chooses for this layer (4, 2 or 'gemm')."""
    return ALGOS[choose_conv_algo(ConvGeometry(1, C, K, H, H, (3, 3), (1, 1), (1, 1, 1, 1)),
                                  num_threads=threads)]


def bench_layer(name, C, K, H, threads, reps):
    """Times onnxruntime, Winograd F(4x4) and F(2x2), and tinycnn's GEMM/im2col
    convolution; returns {algo: median ms}."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, C, H, H)).astype(np.float32)
    w = (rng.standard_normal((K, C, 3, 3)) / np.sqrt(9 * C)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(conv_model(C, K, H, w, b), so, providers=["CPUExecutionProvider"])
    # the AVX2 tiles (the thresholds were measured on them), also on an AVX-512 CPU
    ctx = _kernels.Context(threads, "avx2" if _kernels.best_isa() in ("avx2", "avx512") else "portable")
    algos = {key: _kernels.Conv2d(ctx, w, b, algo=algo, pads=(1, 1, 1, 1))
             for algo, key in ALGOS.items()}
    bufs = {}
    for key, conv in algos.items():
        bufs[key] = (np.empty(conv.workspace_size(1, H, H), np.float32),
                     np.empty(conv.output_shape(1, H, H), np.float32))
    ref = sess.run(None, {"x": x})[0]
    errs = {}
    for key, conv in algos.items():
        ws, y = bufs[key]
        conv.run(x, y, workspace=ws)
        errs[key] = float(np.abs(y - ref).max() / np.abs(ref).max())
    # Wall time and CPU time (process_time: all threads) of each run.  On a
    # shared, oversubscribed machine wall time mostly measures the scheduler;
    # CPU time is the robust one for 1 thread (onnxruntime's single intra-op
    # thread is the caller's), wall time is what counts for 2 threads.
    times = {"ort": []}
    times.update({key: [] for key in algos})
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        sess.run(None, {"x": x})
        times["ort"].append((time.perf_counter() - t0, time.process_time() - c0))
        for key, conv in algos.items():
            ws, y = bufs[key]
            t0, c0 = time.perf_counter(), time.process_time()
            conv.run(x, y, workspace=ws)
            times[key].append((time.perf_counter() - t0, time.process_time() - c0))
    flops = 2.0 * K * C * 9 * H * H
    col = 1 if threads == 1 else 0
    res = {key: median_ms([t[col] for t in ts]) for key, ts in times.items()}
    wall_ort = median_ms([t[0] for t in times["ort"]])
    line = f"{name:26s} ort {res['ort']:7.2f} ms {flops / res['ort'] / 1e6:6.1f} GF/s |"
    for key in algos:
        label = f"F{key}" if key in (4, 2) else key
        wall = median_ms([t[0] for t in times[key]]) / wall_ort
        line += (f" {label} {res[key]:7.2f} ms {flops / res[key] / 1e6:6.1f} GF/s"
                 f" x{res[key] / res['ort']:5.2f} (wall x{wall:4.2f}) err {errs[key]:.0e} |")
    line += f" rec {recommended(C, K, H, threads)}"
    print(line, flush=True)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--reps", type=int, default=11)
    ap.add_argument("--layers", nargs="+", default=["vgg", "resnet"], choices=sorted(LAYERS))
    args = ap.parse_args()
    print(f"onnxruntime {ort.__version__}, tinycnn isa {_kernels.best_isa()}; "
          "ratio = ours / onnxruntime (lower is better)")
    for threads in args.threads:
        print(f"--- {threads} thread(s): times are medians of "
              f"{'CPU time' if threads == 1 else 'wall time'} ---")
        for group in args.layers:
            tot_ort = tot_best = 0.0
            for name, C, K, H in LAYERS[group]:
                r = bench_layer(name, C, K, H, threads, args.reps)
                count = VGG_COUNT.get(name, 1)
                tot_ort += count * r["ort"]
                tot_best += count * r[recommended(C, K, H, threads)]
            if group == "vgg":
                print(f"VGG-16 3x3 convs, the chosen algorithm per layer: "
                      f"{tot_best:.1f} ms vs onnxruntime {tot_ort:.1f} ms, x{tot_best / tot_ort:.2f}")


if __name__ == "__main__":
    main()

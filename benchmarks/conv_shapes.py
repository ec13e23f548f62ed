"""GFLOP/s of tinycnn's Conv2d / gemm / Dense vs onnxruntime (MLAS) on the same shapes.

Each shape is run as a single-node ONNX model in onnxruntime and as one tinycnn kernel call,
alternating the two, and the medians are printed.  No assertions: this only measures.

    python benchmarks/conv_shapes.py [--threads 1 2] [--reps 15] [--only resnet]
"""
import argparse
import statistics
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from tinycnn import _kernels
from tinycnn.ops.conv_algo import ConvGeometry, choose_conv_algo

# name, (C, H, W), K, kernel, stride, pad
CONVS = [
    ("resnet conv1 7x7/2", (3, 224, 224), 64, 7, 2, 3),
    ("resnet l1 3x3 64", (64, 56, 56), 64, 3, 1, 1),
    ("resnet50 1x1 64->256", (64, 56, 56), 256, 1, 1, 0),
    ("resnet50 1x1 256->64", (256, 56, 56), 64, 1, 1, 0),
    ("resnet l2 3x3 128", (128, 28, 28), 128, 3, 1, 1),
    ("resnet l3 3x3 256", (256, 14, 14), 256, 3, 1, 1),
    ("resnet l4 3x3 512", (512, 7, 7), 512, 3, 1, 1),
    ("resnet50 1x1/2 512->1024", (512, 28, 28), 1024, 1, 2, 0),
    ("resnet50 1x1 1024->256 @14", (1024, 14, 14), 256, 1, 1, 0),
    ("resnet50 1x1 256->1024 @14", (256, 14, 14), 1024, 1, 1, 0),
    ("resnet50 1x1 2048->512 @7", (2048, 7, 7), 512, 1, 1, 0),
    ("resnet50 1x1 512->2048 @7", (512, 7, 7), 2048, 1, 1, 0),
    ("resnet l2 3x3/2 64->128", (64, 56, 56), 128, 3, 2, 1),
    ("vgg 3x3 128 @112", (128, 112, 112), 128, 3, 1, 1),
    ("vgg 3x3 512 @28", (512, 28, 28), 512, 3, 1, 1),
    ("alexnet conv1 11x11/4", (3, 224, 224), 64, 11, 4, 2),
    ("alexnet conv2 5x5", (64, 27, 27), 192, 5, 1, 2),
]


ORT_SPIN = True


def ort_session(model, threads):
    so = ort.SessionOptions()
    if not ORT_SPIN:
        # onnxruntime's idle workers otherwise keep spinning during our runs
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def conv_model(w, b, stride, pad, oshape):
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], strides=[stride] * 2, pads=[pad] * 4)
    xshape = [1, w.shape[1], None, None]
    graph = helper.make_graph(
        [node], "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, xshape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(oshape))],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def matmul_model(b_const, gemm_bias=None):
    if gemm_bias is None:
        node = helper.make_node("MatMul", ["a", "b"], ["y"])
        inits = [numpy_helper.from_array(b_const, "b")]
    else:
        node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transB=1)
        inits = [numpy_helper.from_array(b_const, "b"), numpy_helper.from_array(gemm_bias, "c")]
    graph = helper.make_graph(
        [node], "mm", [helper.make_tensor_value_info("a", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


CLOCK = time.perf_counter
STAT = statistics.median


def alternate(fa, fb, reps, block=5):
    """Alternates blocks of `block` runs of fa and fb (each pool's spinning
    workers are then not competing with the other's first run); returns the
    STAT of each, first run of every block dropped."""
    ta, tb = [], []
    for _ in range(max(1, reps // block)):
        for f, times in ((fa, ta), (fb, tb)):
            f()
            for _ in range(block):
                t = CLOCK()
                f()
                times.append(CLOCK() - t)
    return STAT(ta), STAT(tb)


def report(name, flops, t_tc, t_ort, extra=""):
    print(f"{name:28s} {flops / 1e9:7.3f} GF  tinycnn {flops / t_tc / 1e9:6.1f} GF/s  "
          f"ort {flops / t_ort / 1e9:6.1f} GF/s  ratio {t_ort / t_tc:5.2f}x {extra}", flush=True)


def bench_convs(threads, reps, only):
    rng = np.random.default_rng(0)
    ctx = _kernels.Context(threads, "auto")
    for name, (c, h, w_), k, ks, s, p in CONVS:
        if only and only not in name:
            continue
        w = (rng.standard_normal((k, c, ks, ks)) * 0.05).astype(np.float32)
        b = rng.standard_normal(k).astype(np.float32)
        x = rng.standard_normal((1, c, h, w_)).astype(np.float32)
        # the algorithm the engine would take, Winograd aside (benchmarks/winograd_shapes.py)
        algo = choose_conv_algo(ConvGeometry(1, c, k, h, w_, (ks, ks), (s, s), (p, p, p, p)),
                                num_threads=threads, winograd=False)
        conv = _kernels.Conv2d(ctx, w, b, algo=algo, strides=(s, s), pads=(p, p, p, p))
        oshape = conv.output_shape(1, h, w_)
        y = np.empty(oshape, np.float32)
        ws = np.empty(conv.workspace_size(1, h, w_), np.float32)
        sess = ort_session(conv_model(w, b, s, p, oshape), threads)
        yo = sess.run(None, {"x": x})[0]
        conv.run(x, y, workspace=ws)
        err = np.abs(y - yo).max() / np.abs(yo).max()
        flops = 2.0 * k * c * ks * ks * oshape[2] * oshape[3]
        t_tc, t_ort = alternate(lambda: conv.run(x, y, workspace=ws), lambda: sess.run(None, {"x": x}), reps)
        report(name, flops, t_tc, t_ort, f"[{conv.algo}, err {err:.1e}]")


def bench_gemm(threads, reps):
    rng = np.random.default_rng(1)
    ctx = _kernels.Context(threads, "auto")
    n = 1000
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    y = np.empty((n, n), np.float32)
    sess = ort_session(matmul_model(b), threads)
    t_tc, t_ort = alternate(lambda: _kernels.gemm(ctx, a, b, y), lambda: sess.run(None, {"a": a}), reps)
    report("gemm 1000^3", 2.0 * n ** 3, t_tc, t_ort)
    # AlexNet fc6 at batch 1: GEMV, memory bound
    K, N = 9216, 4096
    wt = (rng.standard_normal((N, K)) * 0.01).astype(np.float32)
    bias = rng.standard_normal(N).astype(np.float32)
    dense = _kernels.Dense(ctx, wt, bias, trans_b=True)
    a1 = rng.standard_normal((1, K)).astype(np.float32)
    y1 = np.empty((1, N), np.float32)
    sess = ort_session(matmul_model(wt, bias), threads)
    t_tc, t_ort = alternate(lambda: dense.run(a1, y1), lambda: sess.run(None, {"a": a1}), reps)
    report("dense 1x9216 -> 4096", 2.0 * K * N, t_tc, t_ort,
           f"[{wt.nbytes / t_tc / 1e9:.1f} GB/s weights]")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--only", default="", help="substring of the shape names to run")
    ap.add_argument("--no-gemm", action="store_true")
    ap.add_argument("--min", action="store_true",
                    help="report the fastest run instead of the median (robust on a loaded machine)")
    ap.add_argument("--cpu", action="store_true",
                    help="1 thread only: time with the calling thread's CPU clock (ignores preemption)")
    ap.add_argument("--ort-no-spin", action="store_true",
                    help="stop onnxruntime's idle workers spinning (they steal cores from tinycnn's runs)")
    args = ap.parse_args()
    global CLOCK, STAT, ORT_SPIN
    ORT_SPIN = not args.ort_no_spin
    if args.min:
        STAT = min
    if args.cpu:
        CLOCK = time.thread_time
        args.threads = [1]
    for t in args.threads:
        print(f"--- {t} thread(s), isa {_kernels.best_isa()}, onnxruntime {ort.__version__}")
        bench_convs(t, args.reps, args.only)
        if not args.no_gemm:
            bench_gemm(t, args.reps)


if __name__ == "__main__":
    main()

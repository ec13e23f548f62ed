"""One convolution alone: how far tinycnn (with and without Winograd) and onnxruntime are from
float64, per layer shape.

    python benchmarks/layer_rounding.py [--layers C,K,S,k ...] [--sweep-k]

Each layer is a one-node ONNX graph (Conv, pads k // 2, bias), input SiLU of N(0, 1) (YOLOv8n's
activations), weights N(0, 2 / (k k C)); the reference is torch's float64 convolution.
Printed: max |error| / max |y| and the RMS over max |y|.  --sweep-k runs 1x1 layers of 64
outputs at 40x40 over C = 16 .. 2048 (the reduction's length), with a plain sequential float32
sum for comparison: where tinycnn's GEMM and onnxruntime's part is where their K blocks do
(tinycnn cuts K into equal blocks of at most TC_GEMM_KC = 320, csrc/gemm_internal.h; a block's
sum runs in one register chain, and blocks add through C).

2026-12-06 (h45-yo, AVX2, 1 thread): 3x3 layers of YOLOv8n (64->64 at 40, 32->32 at 80,
128->128 at 20, 80->80 at 40, 16->16 at 160): tinycnn F(4x4) 3.9-7.2e-6 max (RMS 1.9-4.8e-7),
tinycnn's GEMM 4.0-6.3e-7 (RMS 4.2-6.6e-8), onnxruntime 2.0-2.8e-7 (RMS 3.1-3.7e-8).  1x1 sweep:
the same RMS as onnxruntime up to C = 128 (the same bits' worth: one chain each), 1.37-1.43x from
C = 256 on (onnxruntime's blocks look 128 deep), while one sequential chain keeps growing (1.69e-7
at C = 2048 against tinycnn's 6.55e-8).  1x1 192->64 at 80 and 256->128 at 40: 1.3-1.4x the RMS.
A build with CFLAGS=-DTC_GEMM_KC=128 (not the library's; an experiment in a copy of the tree):
the 1x1 sweep 1.00x onnxruntime's RMS at every C, 192->64 and 256->128 3.8e-8 / 4.1e-8 RMS
(onnxruntime 4.0e-8 / 4.2e-8), the 3x3 GEMM 3.1-4.5e-8 RMS (was 4.2-6.6e-8).
"""
import argparse
import os
import sys

import numpy as np

# this checkout's tinycnn, not an installed one
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def _model(w, bias, shape):
    from onnx import TensorProto, helper, numpy_helper
    k = w.shape[2]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    inits = [numpy_helper.from_array(w, "w")]
    ins = ["x", "w"]
    if bias is not None:
        inits.append(numpy_helper.from_array(bias, "b"))
        ins.append("b")
    node = helper.make_node("Conv", ins, ["y"], pads=[k // 2] * 4)
    g = helper.make_graph([node], "layer", [x], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


def _engines(model, a):
    import onnxruntime
    import tinycnn
    out = {}
    for wino in ("1", "0"):
        o = tinycnn.SessionOptions()
        o.add_session_config_entry("session.tinycnn.winograd", wino)
        out["tinycnn" if wino == "1" else "tinycnn-gemm"] = \
            tinycnn.InferenceSession(model, sess_options=o).run(None, {"x": a})[0]
    out["onnxruntime"] = onnxruntime.InferenceSession(
        model, providers=["CPUExecutionProvider"]).run(None, {"x": a})[0]
    return out


def _layer(c, k_out, s, k, bias=True, seed=0):
    import torch
    import torch.nn.functional as F
    rng = np.random.default_rng(seed + c * 1000 + s)
    w = (rng.standard_normal((k_out, c, k, k)) * np.sqrt(2 / (k * k * c))).astype(np.float32)
    b = (rng.standard_normal(k_out) * 0.1).astype(np.float32) if bias else None
    z = rng.standard_normal((1, c, s, s))
    a = (z / (1 + np.exp(-z))).astype(np.float32)
    ref = F.conv2d(torch.from_numpy(a.astype(np.float64)), torch.from_numpy(w.astype(np.float64)),
                   None if b is None else torch.from_numpy(b.astype(np.float64)),
                   padding=k // 2).numpy()
    return w, a, ref, _engines(_model(w, b, a.shape), a)


def _stats(v, ref):
    scale = np.abs(ref).max()
    e = v.astype(np.float64) - ref
    return np.abs(e).max() / scale, np.sqrt((e ** 2).mean()) / scale


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--layers", nargs="*", default=["64,64,40,3", "32,32,80,3", "128,128,20,3",
                                                   "80,80,40,3", "16,16,160,3", "192,64,80,1",
                                                   "256,128,40,1"],
                   help="C,K,S,k: channels in and out, S x S map, k x k kernel")
    p.add_argument("--sweep-k", action="store_true", help="1x1 layers over C = 16 .. 2048")
    args = p.parse_args(argv)
    for spec in args.layers:
        c, k_out, s, k = (int(v) for v in spec.split(","))
        _, _, ref, res = _layer(c, k_out, s, k)
        print(f"{c}->{k_out} {k}x{k} at {s}x{s}: " + "  ".join(
            f"{n} {m:.2e} (rms {r:.2e})" for n, (m, r) in ((n, _stats(v, ref))
                                                         for n, v in res.items())))
    if args.sweep_k:
        for c in (16, 64, 128, 256, 512, 1024, 2048):
            w, a, ref, res = _layer(c, 64, 40, 1, bias=False)
            # a plain sequential float32 sum (no FMA) over the first 400 pixels
            A = a[0].reshape(c, -1)[:, :400]
            W = w[:, :, 0, 0]
            acc = np.zeros((64, 400), np.float32)
            for i in range(c):
                acc = (acc + W[:, i:i + 1] * A[i:i + 1]).astype(np.float32)
            r2 = ref[0].reshape(64, -1)[:, :400]
            scale = np.abs(ref).max()
            seq = np.sqrt(((acc - r2) ** 2).mean()) / scale
            t, o = _stats(res["tinycnn"], ref)[1], _stats(res["onnxruntime"], ref)[1]
            print(f"1x1 C={c:5d} -> 64 at 40x40: RMS tinycnn {t:.2e} onnxruntime {o:.2e} "
                  f"(tinycnn / onnxruntime {t / o:.2f}); one sequential chain {seq:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

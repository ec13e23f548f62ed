"""The in-place steps kernel's step lists (csrc/qgemm_u7s8_steps_avx2.c) shared by G
consecutive 4-row tiles, counted in numpy: per int8 1x1 convolution at zero point <= 64 with
K >= 224 (the long kernels' paired widths), in the network's channel order (qdq's pairing:
_kernels.qpair_channels up to 320 outputs, qquad_channels past them where K % 8 == 0; the
input's producer a convolution, as qdq._pair_channels needs), from onnxruntime's activations
on one input (bench.input_feed).  For each G: the share of 8-k steps listed (some row of the
G tiles has a byte above the paired widths: the steps run at the pair's widths, 4 multiplies
per 8 k in place of 3) and the runs of listed steps per tile (each run leaves and re-enters
the paired loop, a loop exit whose trip count follows the bytes).

    python benchmarks/u7s8_shared_steps.py MODEL-int8-qdq.onnx [--input photo] [--groups 1,2,4]
"""
import argparse
import os
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench import INPUTS  # noqa: E402
from u7s8_windows import activations, layers_of, paired_widths  # noqa: E402
from tinycnn import _kernels  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--input", choices=INPUTS, default="photo")
    ap.add_argument("--groups", default="1,2,3,4,6,12")
    ap.add_argument("--file-order", action="store_true", help="no pairing: the file's order")
    a = ap.parse_args()
    groups = [int(g) for g in a.groups.split(",")]
    model = onnx.load(a.model)
    prod = {o: n for n in model.graph.node for o in n.output}

    def from_conv(t):   # the quantized input's producer (Q <- Conv / Relu / Clip chain)
        n = prod.get(t)
        while n is not None and n.op_type in ("QuantizeLinear", "DequantizeLinear", "Relu",
                                             "Clip"):
            n = prod.get(n.input[0])
        return n is not None and n.op_type == "Conv"

    layers = [l for l in layers_of(model) if l[2] <= 64 and l[3].shape[1] >= 224]
    acts = activations(model, {l[1] for l in layers}, a.input)
    print(f"{'layer':34s} {'K':>4s} {'N':>5s} {'M':>5s}  " +
          "  ".join(f"G={g}: listed runs" for g in groups))
    for name, t, zp, w, stride in layers:
        n, k = w.shape
        v = acts[t][0][:, ::stride, ::stride].astype(np.int64)
        rows = v.reshape(k, -1).T
        if from_conv(t) and k % 8 == 0 and not a.file_order:
            w8 = w.astype(np.int8)
            perm = (_kernels.qpair_channels(w8, 128) if n <= 320
                    else _kernels.qquad_channels(w8))
            rows, w = rows[:, perm], w[:, perm]
        pl = paired_widths(w)
        m4, k8 = rows.shape[0] // 4 * 4, k // 8 * 8
        bad = (rows[:m4, :k8] > pl[:k8]).reshape(-1, 4, k8 // 8, 8).any((1, 3))  # [tiles, steps]
        out = []
        for g in groups:
            nt = bad.shape[0]
            sh = np.zeros_like(bad)
            for t0 in range(0, nt, g):
                sh[t0:t0 + g] = bad[t0:t0 + g].any(0)
            runs = (sh[:, 1:] & ~sh[:, :-1]).sum(1) + sh[:, 0]
            out.append(f"{sh.mean():12.3f} {runs.mean():5.1f}")
        print(f"{name[-34:]:34s} {k:4d} {n:5d} {rows.shape[0]:5d}  " + "  ".join(out))


if __name__ == "__main__":
    main()

"""The int8 1x1 convolutions of a QDQ network with a given K (default 64: ResNet-50's layer1
conv1 / downsample / conv3) against U7S8's windows in three input-channel orders, counted in
numpy from onnxruntime's activations on one input (bench.input_feed): the file's, in pairs
(_kernels.qpair_channels of the layer's own weights, as qdq._pair_channels gives conv3 of up to
320 outputs), in fours (_kernels.qquad_channels, the long kernels' paired widths), and for
readers of one tensor (the max pool's: conv1 and the downsample) both orders of all its readers'
weights together.  Per layer and order: the 6-row tiles' 4-k groups above the pair's widths
(grp: the 6 x 16 kernel's correction pass) and the tiles with none (in: read in place); the
4-row tiles' 8-k steps above the paired widths (bad: the steps kernel's listed steps), above
the pair's too (abl: two parts) and the tiles with none (clean); the widths' medians.

    python benchmarks/u7s8_orders.py MODEL-int8-qdq.onnx [--input photo] [--k 64]

ResNet-50 int8 on a photograph (h44-q, 2026-12-06): layer1's conv3 in pairs (the network's
order) grp 0.1-4.1%, in 35-98% of the 6-row tiles; in fours bad 15-28%, abl 0.2-13% (layer1.2's
input the highest); on noise bad 0-0.3%.  The max pool's readers (file order) grp 5.1% (conv1)
and 14% (downsample); both readers' weights paired together 5.9% / 8.3%."""
import argparse
import os
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench import INPUTS  # noqa: E402
from tinycnn import _kernels  # noqa: E402
from u7s8_windows import activations, groups_outside, layers_of, pair_widths, paired_widths  # noqa: E402


def six_rows(rows, w):
    """(share of the 6-row tiles' groups above the pair's widths, tiles with none)"""
    out = groups_outside(rows, 0, pair_widths(w))
    m = rows.shape[0] // 6 * 6
    t = out[:m].reshape(-1, 6, out.shape[1]).any(1)
    return t.mean(), (~t.any(1)).mean()


def four_rows(rows, w):
    """(8-k steps of the 4-row tiles above the paired widths, above the pair's, clean tiles)"""
    pl, lim = paired_widths(w), pair_widths(w)
    m, k8 = rows.shape[0] // 4 * 4, w.shape[1] // 8 * 8
    bad = (rows[:m, :k8] > pl[:k8]).reshape(-1, 4, k8 // 8, 8).any((1, 3))
    abl = (rows[:m, :k8] > lim[:k8]).reshape(-1, 4, k8 // 8, 8).any((1, 3))
    return bad.mean(), abl.mean(), (~bad.any(1)).mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--input", choices=INPUTS, default="photo")
    ap.add_argument("--k", type=int, default=64)
    a = ap.parse_args()
    model = onnx.load(a.model)
    layers = [l for l in layers_of(model) if l[3].shape[1] == a.k and l[4] == 1 and l[2] <= 64]
    acts = activations(model, {l[1] for l in layers}, a.input)
    by_in = {}
    for name, t, zp, w, stride in layers:
        by_in.setdefault(t, []).append((name, w.astype(np.int8)))
    for t, ls in by_in.items():
        v = acts[t][0]
        rows = v.reshape(v.shape[0], -1).T.astype(np.int64)
        joint = np.ascontiguousarray(np.concatenate([w for _, w in ls]))
        for name, w in ls:
            orders = {"file": np.arange(w.shape[1]),
                      "pairs": _kernels.qpair_channels(np.ascontiguousarray(w), 128),
                      "fours": _kernels.qquad_channels(np.ascontiguousarray(w))}
            if len(ls) > 1:
                orders["pairs-all"] = _kernels.qpair_channels(joint, 128)
                orders["fours-all"] = _kernels.qquad_channels(joint)
            print(f"{name[-44:]:44s} N={w.shape[0]}")
            for lab, p in orders.items():
                wp, rp = w[:, p].astype(np.int64), rows[:, p]
                g, i = six_rows(rp, wp)
                b, ab, c = four_rows(rp, wp)
                print(f"  {lab:10s} 6-row: grp {g:.4f} in {i:.2f} width {int(np.median(pair_widths(wp)))}"
                      f"   4-row: bad {b:.3f} abl {ab:.3f} clean {c:.2f} paired {int(np.median(paired_widths(wp)))}")


if __name__ == "__main__":
    main()

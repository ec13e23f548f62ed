"""Where an input's bytes fall against U7S8's windows (csrc/qgemm.c), per 1x1 convolution of a
QDQ int8 network with 8-bit weights, counted in numpy (no tinycnn kernel runs): the bytes each
layer gets from a run of the whole network in onnxruntime on one input (bench.input_feed), its
weights' windows as tinycnn's packing computes them (u7s8_limits: per pair of k, and for the
long kernels the paired widths of lanes k, k + 1, k + 4, k + 5) and its window's base
(tc_u7s8_base).  Per layer: the zero point and base, the bytes above 127, the median widths,
and the share of 4-k groups outside the window, per row (a mid-range zero point: each row's
groups are corrected) or per 4-row tile (zero point <= 64: a tile's groups, the long
kernels' tiles), with the tiles wholly inside (read in place) and, at base 0, the tiles that
would leave the paired widths (more than 1 / 20 of their groups above: TC_QU7S8_PAIRED_FIX).
Columns: width (the pair's, median), outside (share of groups), inside (rows or tiles with
none), and at base 0 the paired widths' pwidth, pout, pin and the tiles that would leave them.
The weights in the file's channel order: tinycnn's channel pairing at load (qdq._pair_channels,
MobileNetV2's projections) is not applied, so those layers read worse here than they run;
--quads applies its fours (_kernels.qquad_channels) to the layers of more than 320 outputs and
K >= 128 whose input only they read (ResNet's conv3).

    python benchmarks/u7s8_windows.py MODEL-int8-qdq.onnx [--input photo] [--only SUBSTR] [--quads]

On ResNet-50 int8 (n34-q, 2026-12-05): on bench.py's noise the bytes past layer1 are all
below 128 and every tile keeps the paired widths; on a photograph 0.1-3.7% of the bytes are
above 127, the conv3 layers' paired widths (median 99-111) leave 37-99% of their tiles and
the conv1 layers' 0-92%.  Per row (prow, h35-q): the rows' own groups above the paired
widths are 0.5-0.85 of the tiles' (the bytes above 127 fall in the same channels of
neighbouring pixels), 0.07-2.6% of the row groups of the K >= 512 layers; rleave: the tiles
that would leave the paired widths with more than 1 / 20 of their rows' groups above
(benchmarks/u7s8_row_fix.patch, not applied: level).  With --quads (n34-q2) the conv3
layers' paired widths (median) are 133-137 and 2-80% of their tiles leave them (seeds 1-4 of
the photograph)."""
import argparse
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import INPUTS, input_feed  # noqa: E402


def pair_widths(w):
    """w [N, K] int -> [K]: the window's width at each k of the pair (k, k + 1), the most
    bytes in [0, lim] can reach with every column's pair sum within int16"""
    n, k = w.shape
    wp = np.zeros((n, k + k % 2), np.int64)
    wp[:, :k] = w
    w0, w1 = wp[:, 0::2], wp[:, 1::2]
    same = (w0 * w1) > 0
    most = np.where(same, abs(w0) + abs(w1), np.maximum(abs(w0), abs(w1))).max(0)
    lim = np.where(most > 0, np.minimum(255, 32767 // np.maximum(most, 1)), 255)
    return np.repeat(lim, 2)[:k]


def paired_widths(w):
    """w [N, K] -> [K]: the long kernels' widths, shared by the lanes k, k + 1, k + 4, k + 5
    of each 8-k step (the larger of a column's positive and negative weights' sums)"""
    n, k = w.shape
    kp = (k + 7) // 8 * 8
    wp = np.zeros((n, kp), np.int64)
    wp[:, :k] = w
    lim = np.zeros(kp, np.int64)
    for k8 in range(0, kp, 8):
        for i in (0, 2):
            ks = [k8 + i, k8 + i + 1, k8 + i + 4, k8 + i + 5]
            v = wp[:, ks]
            most = max(np.clip(v, 0, None).sum(1).max(), (-np.clip(v, None, 0)).sum(1).max())
            lim[ks] = min(255, 32767 // most) if most else 255
    return lim[:k]


def u7s8_base(zp):
    return 0 if zp <= 64 else min(zp - 64, 127)


def layers_of(model):
    """(name, quantized input, its zero point, int8 weights [N, K]) of each 1x1 convolution of
    one group between a DequantizeLinear of uint8 activations and of constant int8 weights"""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    prod = {o: n for n in model.graph.node for o in n.output}
    out = []
    for n in model.graph.node:
        groups = [a.i for a in n.attribute if a.name == "group"]
        if n.op_type != "Conv" or (groups and groups[0] != 1):
            continue
        dq, wdq = prod.get(n.input[0]), prod.get(n.input[1])
        if dq is None or dq.op_type != "DequantizeLinear" or wdq is None:
            continue
        w = inits.get(wdq.input[0])
        if w is None or w.dtype != np.int8 or w.shape[2:] != (1, 1):
            continue
        zp = inits.get(dq.input[2]) if len(dq.input) > 2 else None
        zp = 0 if zp is None else int(np.asarray(zp).reshape(-1)[0])
        strides = [list(a.ints) for a in n.attribute if a.name == "strides"]
        out.append((n.name, dq.input[0], zp, w.astype(np.int64).reshape(w.shape[0], -1),
                    strides[0][0] if strides else 1))
    return out


def activations(model, tensors, kind):
    """{name: array} of the model's outputs and these tensors (added to its outputs) from
    one onnxruntime run on bench.input_feed(kind)"""
    have = {o.name for o in model.graph.output}
    for t in sorted(set(tensors) - have):
        model.graph.output.append(onnx.ValueInfoProto(name=t))
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    i = s.get_inputs()[0]
    x = input_feed(kind, [d if isinstance(d, int) else 1 for d in i.shape])
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, {i.name: x})))


def groups_outside(rows, lo, hi):
    """rows [M, K] bytes; lo, hi [K]: per row, per 4-k group, a byte outside [lo, hi]"""
    m, k = rows.shape
    kp = (k + 3) // 4 * 4
    o = np.zeros((m, kp), bool)
    o[:, :k] = (rows < lo) | (rows > hi)
    return o.reshape(m, kp // 4, 4).any(2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--input", choices=INPUTS, default="photo")
    ap.add_argument("--only", help="layers whose name contains this")
    ap.add_argument("--quads", action="store_true",
                    help="conv3-like layers' channels in qdq._pair_channels's fours")
    a = ap.parse_args()
    model = onnx.load(a.model)
    readers, through = {}, {}   # tensor -> its readers; quantized -> readers of its float
    for n in model.graph.node:
        for t in n.input:
            readers[t] = readers.get(t, 0) + 1
    for n in model.graph.node:
        if n.op_type == "DequantizeLinear":
            through[n.input[0]] = through.get(n.input[0], 0) + readers.get(n.output[0], 0)
    layers = [l for l in layers_of(model) if not a.only or a.only in l[0]]
    acts = activations(model, {l[1] for l in layers}, a.input)
    print(f"{'layer':36s} {'K':>5s} {'N':>5s} {'zp':>4s} {'base':>4s} {'>127':>6s} "
          f"{'width':>5s} {'outside':>7s} {'inside':>6s} {'pwidth':>6s} {'pout':>6s} "
          f"{'pin':>6s} {'leave':>6s} {'prow':>6s} {'rleave':>6s}")
    for name, t, zp, w, stride in layers:
        n, k = w.shape
        v = acts[t][0][:, ::stride, ::stride].astype(np.int64)
        rows = v.reshape(k, -1).T
        if a.quads and n > 320 and k >= 128 and k % 8 == 0 and through.get(t) == 1:
            sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            from tinycnn import _kernels
            perm = _kernels.qquad_channels(np.ascontiguousarray(w.astype(np.int8)))
            w, rows = w[:, perm], rows[:, perm]
        base, lim = u7s8_base(zp), pair_widths(w)
        out = groups_outside(rows, base, base + lim)
        line = (f"{name[-36:]:36s} {k:5d} {n:5d} {zp:4d} {base:4d} {(rows > 127).mean():6.4f} "
                f"{int(np.median(lim)):5d}")
        m4 = rows.shape[0] // 4 * 4
        tiles = out[:m4].reshape(-1, 4, out.shape[1]).any(1)
        if base > 0:   # rows corrected one by one
            line += f" {out.mean():7.4f} {(~out.any(1)).mean():6.2f}"
        else:
            line += f" {tiles.mean():7.4f} {(~tiles.any(1)).mean():6.2f}"
            plim = paired_widths(w)
            prow = groups_outside(rows, 0, plim)[:m4]
            pout = prow.reshape(-1, 4, out.shape[1]).any(1)
            leave = (pout.sum(1) * 20 > (k + 3) // 4).mean()
            # corrected row by row: each row's own groups (prow, against pout for every row
            # of the tile), a tile leaving once 1 / 20 of its rows' groups are above
            rleave = (prow.reshape(-1, 4 * out.shape[1]).sum(1) * 20 > 4 * ((k + 3) // 4)).mean()
            line += (f" {int(np.median(plim)):6d} {pout.mean():6.4f} "
                     f"{(~pout.any(1)).mean():6.2f} {leave:6.2f} {prow.mean():6.4f} {rleave:6.2f}")
        print(line)


if __name__ == "__main__":
    main()

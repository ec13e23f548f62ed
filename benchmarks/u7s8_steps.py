"""Where a photograph's bytes fall against the paired U7S8 loop's widths, per int8 convolution
at zero point <= 64 (the window at 0) with K >= 128, 1x1 and (as im2col rows, whether tinycnn
runs it so or by the integer Winograd) KxK, counted in numpy from onnxruntime's activations on
one input (bench.input_feed): per 4-row tile, the share of 8-k steps where some row has a byte
above the paired widths (bad: the steps qgemm_u7s8_steps_avx2.c runs at the pair's widths),
the share with one above the pair's too (abovel: two parts), the tiles the split's path gave
the paired widths up for (leave: more than 1 / TC_QU7S8_PAIRED_FIX of their 4-k groups above)
and the tiles with no such step (clean).

    python benchmarks/u7s8_steps.py MODEL-int8-qdq.onnx [--input photo] [--quads]

--quads: each layer's input channels in the order tinycnn's load gives them (qdq's channel
fours: conv2 -> conv3, and each residual stream's for conv1 and the downsamples), recorded from
qdq._permute while the graph passes run; without it the file's order.

On ResNet-50 int8 (h36-q, 2026-12-05): on bench.py's noise past layer1 bad 0-1.6%, every tile
of layer3 and layer4 clean; on a photograph bad 2-42% (the K = 128 / 256 conv3 layers and the
downsamples 15-42%, the K >= 512 conv1 layers 0.4-9%, layer4's im2col 3x3 9-16%), abovel
0-10%, the split's path leaving the paired widths on 0-98% of the tiles (layer4's 3x3 58-75%),
clean tiles 0-87%.
--tiles (h51-r50, 2026-12-07, ResNet-50 int8, photo, --quads): past layer1.0 the tiles' shares
of bad steps are even, medians 0.00-0.20 and maxima 0.02-0.56 (layer4's 3x3: medians 0.10-0.15,
maxima 0.17-0.31): the tiles with more than a quarter of their steps bad, where a plain 4-k loop
over the whole tile (no exit from the paired loop per step) might pay, hold 0-31% of a layer's bad
steps, but 70% of layer1.2's conv2 (3x3 at 56x56: the integer Winograd runs it), 42% of
layer2.3's conv3 and 64% of layer4.2's conv3."""
import argparse
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import INPUTS, input_feed  # noqa: E402
from u7s8_windows import pair_widths, paired_widths  # noqa: E402


def load_orders(path):
    """{node name: int array}: the input channel order tinycnn's load gives each convolution
    (qdq._permute's calls on weights' axis 1)"""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from tinycnn import loader, qdq
    from tinycnn.graph import Graph
    orders, permute = {}, qdq._permute

    def record(inits, taken, now, node, slots, perm, axis):
        if 3 in slots and axis == 1 and node.op_type == "QLinearConv":
            orders[node.name] = orders.get(node.name, np.arange(len(perm)))[perm]
        return permute(inits, taken, now, node, slots, perm, axis)
    qdq._permute = record
    m = loader.load_model(path)
    qdq.quantized_graph(Graph(list(m.nodes), dict(m.initializers), dict(m.opsets)),
                        {vi.name for vi in m.outputs}, True, path)
    qdq._permute = permute
    return orders


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--input", choices=INPUTS, default="photo")
    ap.add_argument("--quads", action="store_true", help="tinycnn's channel order at load")
    ap.add_argument("--tiles", action="store_true",
                    help="also each layer's spread of the tiles' shares of such steps")
    a = ap.parse_args()
    orders = load_orders(a.model) if a.quads else {}
    model = onnx.load(a.model)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    prod = {o: n for n in model.graph.node for o in n.output}
    layers = []   # (name, quantized input, its zero point, int8 weights, stride, pad)
    for n in model.graph.node:
        if n.op_type != "Conv":
            continue
        dq, wdq = prod.get(n.input[0]), prod.get(n.input[1])
        if dq is None or dq.op_type != "DequantizeLinear" or wdq is None:
            continue
        w = inits.get(wdq.input[0])
        if w is None or w.dtype != np.int8:
            continue
        zp = inits.get(dq.input[2]) if len(dq.input) > 2 else None
        zp = 0 if zp is None else int(np.asarray(zp).reshape(-1)[0])
        att = {t.name: list(t.ints) for t in n.attribute}
        layers.append((n.name, dq.input[0], zp, w, att.get("strides", [1])[0],
                       att.get("pads", [0])[0]))
    for t in sorted({l[1] for l in layers}):
        model.graph.output.append(onnx.ValueInfoProto(name=t))
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    i = s.get_inputs()[0]
    x = input_feed(a.input, [d if isinstance(d, int) else 1 for d in i.shape])
    acts = dict(zip([o.name for o in s.get_outputs()], s.run(None, {i.name: x})))
    for name, t, zp, w, st, pad in layers:
        n, c, kh, kw = w.shape
        if zp > 64 or c * kh * kw < 128 or c == 3:
            continue
        v = np.pad(acts[t][0].astype(np.int64), ((0, 0), (pad, pad), (pad, pad)),
                   constant_values=zp)                         # [C, H, W]
        oh = (v.shape[1] - kh) // st + 1
        ow = (v.shape[2] - kw) // st + 1
        rows = np.concatenate([v[:, ky:ky + st * (oh - 1) + 1:st, kx:kx + st * (ow - 1) + 1:st]
                               .reshape(c, -1).T for ky in range(kh) for kx in range(kw)], 1)
        if name in orders:
            w, v = w[:, orders[name]], v[orders[name]]
        wm = w.astype(np.int64).transpose(0, 2, 3, 1).reshape(n, -1)   # tinycnn's k order
        k = wm.shape[1]
        pl, lim = paired_widths(wm), pair_widths(wm)
        m4, k8 = rows.shape[0] // 4 * 4, k // 8 * 8
        above = rows[:m4, :k8] > pl[:k8]
        bad = above.reshape(-1, 4, k8 // 8, 8).any((1, 3))
        abovel = (rows[:m4, :k8] > lim[:k8]).reshape(-1, 4, k8 // 8, 8).any((1, 3))
        leave = (above.reshape(-1, 4, k8 // 4, 4).any((1, 3)).sum(1) * 20 > (k + 3) // 4).mean()
        if a.tiles:   # tiles past a share: how many, and how many of the layer's bad steps
            per = bad.mean(1)
            past = " ".join(f">{t}: tiles {(per > t).mean():.2f} steps "
                            f"{bad[per > t].sum() / max(bad.sum(), 1):.2f}" for t in (0.2, 0.25, 0.33))
            print(f"{name[-40:]:40s} tiles' bad p50={np.median(per):.3f} "
                  f"p90={np.quantile(per, 0.9):.3f} max={per.max():.3f} {past}")
        print(f"{name[-40:]:40s} K={k:5d} N={n:5d} M={rows.shape[0]:5d} bad={bad.mean():.3f} "
              f"abovel={abovel.mean():.4f} leave={leave:.2f} clean={(~bad.any(1)).mean():.2f}")


if __name__ == "__main__":
    main()

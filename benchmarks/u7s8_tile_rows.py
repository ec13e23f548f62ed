"""The K = 64 int8 1x1 layers of a QDQ network (ResNet-50's layer1: U7S8's 6-row kernel, the
pair's widths, base 0) against their own activations (one onnxruntime run on
bench.input_feed(KIND)), numpy only: the 6-row tiles with a byte above the widths (split, a
correction pass), their 4-k groups above, the (row, group) pairs above, and how many of a
tile-group's 6 rows hold such a byte: what correcting only those rows could save.

    python benchmarks/u7s8_tile_rows.py MODEL-int8-qdq.onnx [KIND]

h45-q (2026-12-06), ResNet-50 int8 on the photograph: tiles split 0.17-0.71, 1.0-3.2 groups a
split tile, 3.6-5.3 of a group's 6 rows above (layer1.0's downsample 5.28, conv3s 3.64-4.89):
the bytes above fall in the same channels of neighbouring pixels, so skipping rows would save
a tenth to two fifths of a pass that is ~11% of the kernel (perf, h44-q); on noise 0-0.55 of
the tiles split, 1.0-1.5 rows a group.  The file's channel order (not qdq's)."""
import os
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import u7s8_windows as uw  # noqa: E402


def main():
    m = onnx.load(sys.argv[1])
    kind = sys.argv[2] if len(sys.argv) > 2 else "photo"
    layers = [l for l in uw.layers_of(m) if l[3].shape[1] == 64]
    acts = uw.activations(m, {l[1] for l in layers}, kind)
    for name, t, zp, w, stride in layers:
        n, k = w.shape
        rows = acts[t][0][:, ::stride, ::stride].astype(np.int64).reshape(k, -1).T
        lim = uw.pair_widths(w)
        out = uw.groups_outside(rows, 0, lim)
        m6 = rows.shape[0] // 6 * 6
        o = out[:m6].reshape(-1, 6, out.shape[1])
        tg = o.any(1)
        split = tg.any(1)
        line = f"{name[-36:]:36s} N {n:4d} zp {zp:3d} split {split.mean():.3f}"
        if split.any():
            line += (f"; a split tile: groups {tg[split].sum(1).mean():.2f}, (row, group) pairs "
                     f"{o[split].sum((1, 2)).mean():.2f}, rows of a group {o.sum(1)[tg].mean():.2f}"
                     f" of 6")
        print(line)


if __name__ == "__main__":
    main()

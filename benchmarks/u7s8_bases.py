"""What a window base per input channel (in place of U7S8's one base, zp - 64) and an input
channel order would leave to U7S8's row-by-row corrections, counted in numpy (no tinycnn kernel
runs), per 1x1 int8 layer whose window sits around a mid-range zero point (MobileNetV2's and
EfficientNet-B0's expansions): the share of row 4-k groups with a byte outside the window on
an evaluation feed (bench.input_feed KIND) with
  one    the base tinycnn takes (tc_u7s8_base: zp - 64), the pair's widths (u7s8_windows.py);
  fitk   a base per channel k in [0, 127] fitted on other feeds (--fit: photographs of
         models.quantize.calibration_images with another seed, or noise), the base that leaves
         fewest of the fit bytes of channel k outside [b, b + lim[k]];
  orack  the same fitted on the evaluation feed itself (the most a per-channel base can do);
  perm   one base, the channels sorted by how often the fit feeds put them outside (the
         outlier-prone channels sharing 4-k groups);
  both   fitk and perm together;
  pair   no data: the channels in pairs by the layer's weights (_kernels.qpair_channels, as
         tinycnn/qdq.py _pair_channels orders the projections' inputs), the pair's widths of the
         reordered weights, one base zp - 64;
  pairc  the same with the base centred for the median of those widths, zp - median / 2 (in
         1 .. 127; csrc/qgemm.c u7s8_mid_base's rule);
  pairo  the same with the one best base for this feed (the most one base can do there);
  pair0  the same at base 0 (the window after a ReLU's: only bytes above lim[k] outside);
  onec   the file's order, the base centred for the median of the pair's widths (the
         centring alone, as n34-q's u7s8_mid_base.patch measured it).
Any base in [0, 127] per byte keeps U7S8 exact (tinycnn.h), and sum_k base_k w[k][n] would go
into the bias, so only the correction pass's work moves: per row group outside, six vector
multiplies a 16-column panel (qgemm_avx2.c FIX_ROW).  Neither needs nor gets a run of
tinycnn; what either would need is the data at plan time (a per-channel base and an order are
facts of the activations, not of the weights).

    python benchmarks/u7s8_bases.py MODEL-int8-qdq.onnx [--input photo] [--fit 8] [--only SUBSTR]"""
import argparse
import os
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench import INPUTS, input_feed  # noqa: E402
from u7s8_windows import groups_outside, layers_of, pair_widths, u7s8_base  # noqa: E402


def run_feeds(model, tensors, feeds):
    """[{tensor: array}] of one onnxruntime run per feed, the tensors added to the outputs"""
    import onnxruntime as ort
    have = {o.name for o in model.graph.output}
    for t in sorted(set(tensors) - have):
        model.graph.output.append(onnx.ValueInfoProto(name=t))
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    outs = [o.name for o in s.get_outputs()]
    return [dict(zip(outs, s.run(None, {name: x}))) for x in feeds]


def rows_of(act, k, stride):
    v = act[0][:, ::stride, ::stride].astype(np.int64)
    return v.reshape(k, -1).T


def fit_bases(rows, lim):
    """[K] bases in 0..127: for each channel the b leaving fewest bytes outside [b, b + lim]"""
    k = rows.shape[1]
    out = np.zeros(k, np.int64)
    for j in range(k):
        hist = np.bincount(rows[:, j], minlength=256)
        cum = np.concatenate([[0], np.cumsum(hist)])   # cum[v] = bytes below v
        b = np.arange(128)
        inside = cum[np.minimum(b + lim[j] + 1, 256)] - cum[b]
        out[j] = b[np.argmax(inside)]   # the first best (lowest) base
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--input", choices=INPUTS, default="photo")
    ap.add_argument("--fit", type=int, default=8, help="fit photographs (another seed)")
    ap.add_argument("--fit-kind", choices=("photo", "normal"), default="photo")
    ap.add_argument("--only")
    a = ap.parse_args()
    model = onnx.load(a.model)
    layers = [l for l in layers_of(model) if u7s8_base(l[2]) > 0 and (not a.only or a.only in l[0])]
    shape = [d.dim_value or 1 for d in model.graph.input[0].type.tensor_type.shape.dim]
    ev = input_feed(a.input, shape)
    if a.fit_kind == "photo":
        from models.quantize import calibration_images
        fits = calibration_images(a.fit, size=shape[-1], seed=7)
    else:
        fits = [np.random.default_rng(100 + i).standard_normal(shape, dtype=np.float32)
                for i in range(a.fit)]
    acts = run_feeds(model, {l[1] for l in layers}, [ev] + fits)
    print(f"{a.input} evaluated, fitted on {a.fit} {a.fit_kind} feeds; share of row 4-k groups "
          "outside the window")
    print(f"{'layer':36s} {'K':>4s} {'N':>5s} {'zp':>4s} {'one':>7s} {'fitk':>7s} {'orack':>7s} "
          f"{'perm':>7s} {'both':>7s} {'pair':>7s} {'pairc':>7s} {'pairo':>7s} {'pair0':>7s} "
          f"{'onec':>7s} {'medw':>4s} {'pmedw':>5s}")
    from tinycnn import _kernels
    tot = np.zeros(10)
    for name, t, zp, w, stride in layers:
        n, k = w.shape
        rows = rows_of(acts[0][t], k, stride)
        fit = np.concatenate([rows_of(x[t], k, stride) for x in acts[1:]])
        base, lim = u7s8_base(zp), pair_widths(w)
        bk = fit_bases(fit, lim)
        order = np.argsort(-((fit < base) | (fit > base + lim)).mean(0), kind="stable")
        shares = [groups_outside(rows, base, base + lim).mean(),
                  groups_outside(rows, bk, bk + lim).mean(),
                  groups_outside(rows, fit_bases(rows, lim), fit_bases(rows, lim) + lim).mean(),
                  groups_outside(rows[:, order], base, (base + lim)[order]).mean(),
                  groups_outside(rows[:, order], bk[order], (bk + lim)[order]).mean()]
        # (perm's widths are no longer the pair's of the permuted weights: a rough count)
        pp = _kernels.qpair_channels(np.ascontiguousarray(w.astype(np.int8)))
        w2, r2 = w[:, pp], rows[:, pp]
        lim2 = pair_widths(w2)
        bc = int(min(max(zp - int(np.median(lim2)) // 2, 1), 127))
        best = min(groups_outside(r2, b, b + lim2).mean() for b in range(1, 128))
        shares += [groups_outside(r2, base, base + lim2).mean(),
                   groups_outside(r2, bc, bc + lim2).mean(), best,
                   groups_outside(r2, 0, lim2).mean()]
        b1 = int(min(max(zp - int(np.median(lim)) // 2, 1), 127))
        shares.append(groups_outside(rows, b1, b1 + lim).mean())
        tot += np.array(shares) * rows.shape[0] * ((k + 3) // 4) * ((n + 15) // 16)
        print(f"{name[-36:]:36s} {k:4d} {n:5d} {zp:4d} " + " ".join(f"{s:7.4f}" for s in shares)
              + f" {int(np.median(lim)):4d} {int(np.median(lim2)):5d}")
    print("row groups x panels outside, relative to one: " +
          " ".join(f"{x / tot[0]:.3f}" for x in tot))


if __name__ == "__main__":
    main()

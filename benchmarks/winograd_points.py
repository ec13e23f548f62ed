"""How much a Winograd F(4x4,3x3) layer rounds with other interpolation points (numpy model).

    python benchmarks/winograd_points.py [--layers C,K,S ...] [--seed N]

Builds the Toom-Cook matrices A^T, G, B^T of F(4,3) for a set of five finite points plus
infinity (exactly, with fractions), checks them against a direct 1-D correlation in float64,
then runs a 2-D F(4x4,3x3) layer in float32 the way csrc/winograd*.c does it: U = G g G^T in
float64 rounded to float32 once, V = B^T d B and Y = A^T M A in float32, M = sum over the
input channels of U . V (one float32 product per position, as the kernels' GEMM).  Input:
SiLU of N(0, 1) (YOLOv8n's activations), weights N(0, 2 / (9 C)); reference: the direct
convolution in float64 (torch).  Printed per layer: max |error| / max |y| (and the RMS) for a
direct float32 convolution and for each point set.

Not the library's arithmetic to the bit (numpy's float32 einsum and sgemm, not the kernels'
operation order), but the same roundings per stage: it reproduces the ~4-7e-6 per layer that
benchmarks/f64_reference.py --layers measures on YOLOv8n's F(4x4) layers (direct: 4-8e-7).
2026-12-06 (h45-yo): Lavin's 0, +-1, +-2 (tinycnn's) 4.3e-6 to 7.4e-6 max / 2.6e-7 to 4.5e-7
RMS; 0, +-1, 1/2, -2 1.7e-6 to 2.5e-6 / 1.7e-7 to 3.0e-7 (2-3x less at the maximum, ~1.5x in
RMS); 0, +-1, +-1/2 as Lavin's.  The asymmetric pair costs the transforms their shared
(a + b, a - b) terms (A^T ~12 operations a row of 6 where Lavin's takes ~10): not built.
"""
import argparse
from fractions import Fraction as Fr

import numpy as np

POINT_SETS = {
    "lavin 0,+-1,+-2": (0, 1, -1, 2, -2),
    "0,+-1,1/2,-2": (0, 1, -1, Fr(1, 2), -2),
    "0,+-1,+-1/2": (0, 1, -1, Fr(1, 2), Fr(-1, 2)),
    "0,+-1,2,-1/2": (0, 1, -1, 2, Fr(-1, 2)),
}


def _poly(roots):
    """Coefficients (x^0 first) of prod (x - root)."""
    c = [Fr(1)]
    for rt in roots:
        c = [Fr(0)] + c
        for i in range(len(c) - 1):
            c[i] -= rt * c[i + 1]
    return c


def toom_cook(points, m=4, r=3):
    """(A^T [m, n], G [n, r], B^T [n, n]) as float64 arrays, n = m + r - 1, for the n - 1
    finite `points` and infinity: y = A^T [(G g) . (B^T d)] is the correlation of d with g."""
    n = m + r - 1
    a = [Fr(p) for p in points]
    if len(a) != n - 1:
        raise ValueError(f"F({m},{r}) needs {n - 1} finite points")
    at = [[a[j] ** i for j in range(n - 1)] + [Fr(int(i == m - 1))] for i in range(m)]
    g = []
    for j in range(n - 1):
        f = Fr(1)
        for l in range(n - 1):
            if l != j:
                f *= a[j] - a[l]
        g.append([a[j] ** k / f for k in range(r)])
    g.append([Fr(0)] * (r - 1) + [Fr(1)])
    bt = [_poly([a[l] for l in range(n - 1) if l != j]) + [Fr(0)] for j in range(n - 1)]
    bt.append(_poly(a))
    as_f64 = lambda rows: np.array([[float(v) for v in row] for row in rows])
    return as_f64(at), as_f64(g), as_f64(bt)


def check_1d(points, m=4, r=3, seed=0):
    at, g, bt = toom_cook(points, m, r)
    rng = np.random.default_rng(seed)
    d, w = rng.standard_normal(m + r - 1), rng.standard_normal(r)
    y = at @ ((g @ w) * (bt @ d))
    ref = np.array([w @ d[i:i + r] for i in range(m)])
    return float(np.abs(y - ref).max())


def winograd_f32(x, w, points):
    """F(4x4,3x3), pad 1, stride 1, of x [C, H, W] (H, W multiples of 4) with w [K, C, 3, 3]."""
    at, g, bt = toom_cook(points)
    c, h, wd = x.shape
    k = w.shape[0]
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    u = np.einsum("ij,kcjl,ml->kcim", g, w.astype(np.float64), g).astype(np.float32)
    th, tw = h // 4, wd // 4
    tiles = np.stack([xp[:, 4 * i:4 * i + 6, 4 * j:4 * j + 6]
                      for i in range(th) for j in range(tw)], 1).astype(np.float32)
    bt32, at32 = bt.astype(np.float32), at.astype(np.float32)
    v = np.einsum("ij,ctjl->ctil", bt32, tiles).astype(np.float32)
    v = np.einsum("ctil,ml->ctim", v, bt32).astype(np.float32)
    uf = u.transpose(2, 3, 0, 1).reshape(36, k, c)
    vf = v.transpose(2, 3, 0, 1).reshape(36, c, -1)
    mm = np.matmul(uf, vf).astype(np.float32).reshape(6, 6, k, -1)
    y = np.einsum("ij,jlkt->ilkt", at32, mm).astype(np.float32)
    y = np.einsum("ilkt,ml->imkt", y, at32).astype(np.float32)
    return y.reshape(4, 4, k, th, tw).transpose(2, 3, 0, 4, 1).reshape(k, h, wd)


def main(argv=None):
    import torch
    import torch.nn.functional as F

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--layers", nargs="*", default=["64,64,40", "32,32,80", "128,128,20",
                                                   "80,80,40"],
                   help="C,K,S: input and output channels, S x S map (default: YOLOv8n's)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    for name, pts in POINT_SETS.items():
        err = check_1d(pts)
        assert err < 1e-12, (name, err)
    rng = np.random.default_rng(args.seed)
    for spec in args.layers:
        c, k, s = (int(v) for v in spec.split(","))
        z = rng.standard_normal((c, s, s))
        x = (z / (1 + np.exp(-z))).astype(np.float32)
        w = (rng.standard_normal((k, c, 3, 3)) * np.sqrt(2 / (9 * c))).astype(np.float32)
        conv = lambda a, b: F.conv2d(torch.from_numpy(a)[None], torch.from_numpy(b),
                                     padding=1)[0].numpy()
        ref = conv(x.astype(np.float64), w.astype(np.float64))
        scale = np.abs(ref).max()

        def stats(y):
            e = y.astype(np.float64) - ref
            return f"{np.abs(e).max() / scale:.2e} (rms {np.sqrt((e ** 2).mean()) / scale:.2e})"

        print(f"{c}->{k} at {s}x{s}: direct float32 {stats(conv(x, w))}")
        for name, pts in POINT_SETS.items():
            print(f"    F(4x4,3x3) {name:18s} {stats(winograd_f32(x, w, pts))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

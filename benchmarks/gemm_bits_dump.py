"""Dump the GEMM's and the 1x1 convolution's outputs over column counts around panel
boundaries (N = 1..40, 160..192, 729), row counts 1..37 and 1000, 1 or 2 K blocks, each epilogue,
in place (B [K, N]) and packed (B stored [N, K]), 1 and 2 threads, to an .npz: run it under two
checkouts and compare the files (--compare a.npz b.npz) for bit-identity (h44-sq2).
  PYTHONPATH=<checkout> python benchmarks/gemm_bits_dump.py out.npz [--isa avx2]
  python benchmarks/gemm_bits_dump.py --compare a.npz b.npz"""
import argparse
import sys

import numpy as np


def dump(path, isa):
    from tinycnn import _kernels
    rng = np.random.default_rng(44)
    out = {}
    epis = [dict(relu=True), dict(activation="Clip", alpha=0.0, beta=6.0), dict(),
            dict(activation="HardSwish"), dict(activation="PRelu"), dict(activation="SiLU")]
    ns = list(range(1, 41)) + list(range(160, 193)) + [729]
    i = 0
    for threads in (1, 2):
        ctx = _kernels.Context(threads, isa)
        for n in ns:
            for M, K in [(1, 5), (7, 33), (13, 330), (37, 64), (24, 700)]:
                a = rng.standard_normal((M, K), dtype=np.float32)
                b = rng.standard_normal((K, n), dtype=np.float32)
                c0 = rng.standard_normal((M, n), dtype=np.float32)
                y, yt = c0.copy(), c0.copy()
                _kernels.gemm(ctx, a, b, y, alpha=1.0, beta=1.0, c=y)
                _kernels.gemm(ctx, a, np.ascontiguousarray(b.T), yt, trans_b=True, alpha=1.0,
                              beta=1.0, c=yt)
                out[f"g{threads}_{M}_{n}_{K}"] = y
                out[f"gt{threads}_{M}_{n}_{K}"] = yt
            for c, k in [(24, 13), (64, 37), (512, 64), (16, 7)]:
                epi = epis[i % len(epis)]
                i += 1
                if epi.get("activation") == "PRelu":
                    epi = dict(epi, slope=rng.standard_normal(k, dtype=np.float32))
                wt = (rng.standard_normal((k, c, 1, 1), dtype=np.float32) / np.sqrt(c)).astype(
                    np.float32)
                bias = rng.standard_normal(k, dtype=np.float32)
                x = rng.standard_normal((2, c, 1, n), dtype=np.float32)
                r = rng.standard_normal((2, k, 1, n), dtype=np.float32)
                conv = _kernels.Conv2d(ctx, wt, bias, algo="1x1", **epi)
                y = np.empty((2, k, 1, n), np.float32)
                conv.run(x, y, residual=r)
                out[f"c{threads}_{c}_{k}_{n}"] = y
        for M, N, K in [(1000, 169, 512), (768, 169, 512), (1000, 729, 64), (64, 169, 512),
                        (256, 169, 64), (48, 169, 384), (128, 729, 32)]:
            a = rng.standard_normal((M, K), dtype=np.float32)
            b = rng.standard_normal((K, N), dtype=np.float32)
            y = np.zeros((M, N), np.float32)
            _kernels.gemm(ctx, a, b, y, alpha=1.0, beta=0.0, c=y)
            out[f"L{threads}_{M}_{N}_{K}"] = y
    np.savez(path, **out)
    print(f"{len(out)} arrays -> {path}")


def compare(p, q):
    a, b = np.load(p), np.load(q)
    assert sorted(a.files) == sorted(b.files)
    bad = [k for k in a.files if not np.array_equal(a[k], b[k], equal_nan=True)]
    print(f"{len(a.files)} arrays, {len(bad)} differ" + (f": {bad[:20]}" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?")
    ap.add_argument("--isa", default=None)
    ap.add_argument("--compare", nargs=2)
    o = ap.parse_args()
    if o.compare:
        sys.exit(compare(*o.compare))
    dump(o.out, o.isa)

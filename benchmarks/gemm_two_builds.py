"""Two builds' GEMM kernels in one process, alternating tightly (h44-sq2): each build's
tinycnn/_kernels*.so loaded as its own module, y = A B (B [K, N] row-major, read in place or
packed as the build decides) for each shape, bursts of --runs calls, the order flipped each
round; per shape the median over rounds of (new burst minimum / base burst minimum).
  LD_PRELOAD=exports/libcpuid_avx2.so python benchmarks/gemm_two_builds.py BASE NEW \\
      [--shapes 1000x169x512,1000x160x512] [--threads 1] [--rounds 60] [--runs 10] [--trans-b]
BASE, NEW: checkouts (their tinycnn/ holds the built .so).  --trans-b: B stored [N, K], which
the GEMM always packs (the packed tiles whatever the shape).  Only measures."""
import argparse
import glob
import importlib.machinery
import importlib.util
import os
import sys
import time

import numpy as np


def load(checkout):
    so = glob.glob(os.path.join(checkout, "tinycnn", "_kernels*.so"))[0]
    loader = importlib.machinery.ExtensionFileLoader("tinycnn._kernels", so)
    spec = importlib.util.spec_from_file_location("tinycnn._kernels", so, loader=loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    sys.modules.pop("tinycnn._kernels", None)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("new")
    ap.add_argument("--shapes", default="1000x160x512,1000x169x512,1000x176x512")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--isa", default="avx2")
    ap.add_argument("--trans-b", action="store_true")
    a = ap.parse_args()
    mods = [load(a.base), load(a.new)]
    ctxs = [m.Context(a.threads, a.isa) for m in mods]
    rng = np.random.default_rng(0)
    shapes = [tuple(int(v) for v in s.split("x")) for s in a.shapes.split(",")]
    data = {}
    for M, N, K in shapes:
        A = rng.standard_normal((M, K), dtype=np.float32)
        B = rng.standard_normal((K, N), dtype=np.float32)
        if a.trans_b:
            B = np.ascontiguousarray(B.T)
        ys = [np.zeros((M, N), np.float32) for _ in mods]
        for m, c, y in zip(mods, ctxs, ys):
            m.gemm(c, A, B, y, trans_b=a.trans_b, alpha=1.0, beta=0.0, c=y)
        assert np.array_equal(ys[0], ys[1]), f"{M}x{N}x{K}: the builds differ"
        data[(M, N, K)] = (A, B, ys)
    t = {s: [[], []] for s in shapes}
    for r in range(a.rounds):
        for s in shapes:
            A, B, ys = data[s]
            for i in ((0, 1) if r % 2 == 0 else (1, 0)):
                m, c, y = mods[i], ctxs[i], ys[i]
                best = float("inf")
                for _ in range(a.runs):
                    t0 = time.perf_counter()
                    m.gemm(c, A, B, y, trans_b=a.trans_b, alpha=1.0, beta=0.0, c=y)
                    best = min(best, time.perf_counter() - t0)
                t[s][i].append(best * 1e6)
    print(f"{a.threads} thread(s), {a.rounds} rounds x {a.runs} runs"
          f"{', B stored [N, K]' if a.trans_b else ''}, new / base")
    for s in shapes:
        b, n = np.array(t[s][0]), np.array(t[s][1])
        q = np.percentile(n / b, [25, 50, 75])
        print(f"{s[0]}x{s[1]}x{s[2]}: base med {np.median(b):8.1f} min {b.min():8.1f} us, new med "
              f"{np.median(n):8.1f} min {n.min():8.1f} us, ratio {q[1]:.3f} [{q[0]:.3f}-{q[2]:.3f}]")


if __name__ == "__main__":
    main()

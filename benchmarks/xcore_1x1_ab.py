"""One 1x1 convolution (1X1 algo, bias, a residual, optionally a squeeze-and-excitation's gates
as Conv2d.run's scale) of two builds at N threads in one process, its input x rewritten before
every call by a job of that build's own pool (an element-wise pass: each thread writes its
range of x's channels, as the strips of a pair or block at 2 threads leave their output), so
that the 1x1's threads read the other core's half of x from its cache, as inside the networks
(TINYCNN_ISA names the kernels' row, avx2 when unset).
--warm: x left as the last call read it instead (the pass runs on another buffer).  The calls
alternate build by build (the order flipped each round); prints each build's min / 25% /
median and the ratios, and checks the outputs bit-identical.  As on an AVX2-only CPU:
  TINYCNN_ISA=avx2 chrt -f 10 python benchmarks/xcore_1x1_ab.py C K HW --against CHECKOUT \\
      [--threads 2] [--calls 4000] [--no-scale] [--warm]
h46-v3 (2026-12-06, Xeon KVM guest, AVX2, 2 threads, loaded host): the in-place GEMM strips'
B prefetch (csrc/gemm_avx2.c TC_GEMM_PF_B_*) widened to M <= 48 and rows >= 512 floats apart
(benchmarks/gemm_pf_b_mt.patch), new / base at the 25th percentile and median: 120 -> 40 at
28x28 scaled 0.987 / 0.983, 72 -> 40 0.916 / 0.966, 64 -> 24 at 56x56 0.831 / 0.880; 1 thread
120 -> 40 1.002, 192 -> 32 0.986.  The lone 120 -> 40 at 2 threads: 48 us with x warm, 57.5
with x rewritten by the two threads (min of 2900 calls), 78 at 1 thread: the cross-core reads
cost it ~10 us, where inside MobileNetV3-Large it takes 72-74 us at 2 threads."""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tinycnn  # noqa: E402
from subgraph_shapes import other_build  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("c", type=int, help="input channels")
    ap.add_argument("k", type=int, help="output channels")
    ap.add_argument("hw", type=int, help="the map's height and width")
    ap.add_argument("--against", metavar="CHECKOUT", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--calls", type=int, default=4000)
    ap.add_argument("--no-scale", action="store_true", help="no gates (a plain 1x1)")
    ap.add_argument("--warm", action="store_true", help="x not rewritten before each call")
    a = ap.parse_args()
    old = other_build(a.against)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((a.k, a.c, 1, 1)).astype(np.float32)
    b = rng.standard_normal(a.k).astype(np.float32)
    x0 = rng.standard_normal((1, a.c, a.hw, a.hw)).astype(np.float32)
    r = rng.standard_normal((1, a.k, a.hw, a.hw)).astype(np.float32)
    g = None if a.no_scale else rng.random((1, a.c)).astype(np.float32)
    builds = {}
    for name, pkg in (("new", tinycnn), ("old", old)):
        kn = sys.modules[pkg.__name__ + "._kernels"]
        ctx = kn.Context(a.threads, os.environ.get("TINYCNN_ISA", "avx2"))
        layer = kn.Conv2d(ctx, w, b, algo="1x1")
        ws = np.empty(layer.workspace_size(1, a.hw, a.hw, scaled=g is not None) + 64, np.float32)
        builds[name] = (kn, ctx, layer, x0.copy(), np.empty_like(x0), np.empty_like(r), ws)
    times = {k: [] for k in builds}
    for i in range(a.calls):
        for name in (("new", "old") if i % 2 else ("old", "new")):
            kn, ctx, layer, x, other, y, ws = builds[name]
            kn.unary(ctx, "relu", x0, other if a.warm else x)
            t = time.perf_counter()
            layer.run(x, y, residual=r, workspace=ws, scale=g)
            times[name].append(time.perf_counter() - t)
    same = np.array_equal(builds["new"][5], builds["old"][5])
    skip = a.calls // 20
    st = {k: np.array(v[skip:]) * 1e6 for k, v in times.items()}
    for k, v in st.items():
        print(f"{k}: min {v.min():.1f} p25 {np.percentile(v, 25):.1f} "
              f"median {np.median(v):.1f} us")
    q = lambda v, p: np.percentile(v, p)  # noqa: E731
    print(f"{a.c} -> {a.k} at {a.hw}x{a.hw}, {a.threads} threads, "
          f"{'x warm' if a.warm else 'x rewritten'}: new / old min "
          f"{st['new'].min() / st['old'].min():.3f}, p25 {q(st['new'], 25) / q(st['old'], 25):.3f}, "
          f"median {np.median(st['new']) / np.median(st['old']):.3f}; "
          f"bit-identical={bool(same)}")


if __name__ == "__main__":
    main()

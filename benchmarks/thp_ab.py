"""What the huge pages are worth to a network, 1 thread, in one process: a session as shipped
(packed weights and arena on 2 MiB pages, tinycnn/memory.py) against one made with
memory._MADV_HUGEPAGE off (4 KiB pages), rounds alternating, each the minimum of 3 runs on the
thread's CPU clock; prints the process's AnonHugePages after each session's first run and the
per-round ratio (4 KiB / huge) median [25-75%].  As on an AVX2-only CPU:
  TINYCNN_ISA=avx2 PYTHONPATH=<checkout> python benchmarks/thp_ab.py M.onnx [--rounds 21]
Measured (n31-pf, Zen 4, AVX2 kernels, THP `madvise`, 21 rounds, 2026-12-04 21:4x): MobileNetV2
1.028 [1.022-1.039] (6751 -> 6980 us), MobileNetV3-Large 1.058 [1.042-1.065] (5445 -> 5780 us),
RegNetY-400MF 1.005 [1.004-1.009] (15 rounds);
the classifiers' in-place weights of MobileNetV2, V3-Large and RegNetY lie on huge pages."""
import argparse
import os
import re
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tinycnn import memory  # noqa: E402
from cold_steps import one_thread_session  # noqa: E402


def anon_huge_kb():
    with open("/proc/self/smaps") as f:
        return sum(int(m) for m in re.findall(r"AnonHugePages:\s+(\d+)", f.read()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--rounds", type=int, default=21)
    args = ap.parse_args()
    huge, feed = one_thread_session(args.model)
    kb_huge = anon_huge_kb()
    saved = memory._MADV_HUGEPAGE
    memory._MADV_HUGEPAGE = None
    try:
        small, _ = one_thread_session(args.model)
    finally:
        memory._MADV_HUGEPAGE = saved
    print(f"AnonHugePages: {kb_huge} kB after the first session, {anon_huge_kb()} kB after both")
    clk = time.thread_time_ns
    ratios, th, ts = [], [], []
    for r in range(args.rounds):
        t = {}
        for name, s in ((("h", huge), ("s", small)) if r % 2 == 0 else (("s", small), ("h", huge))):
            best = None
            for _ in range(3):
                t0 = clk()
                s.run(None, feed)
                dt = clk() - t0
                best = dt if best is None else min(best, dt)
            t[name] = best
        ratios.append(t["s"] / t["h"])
        th.append(t["h"])
        ts.append(t["s"])
    q = np.percentile(ratios, [25, 50, 75])
    print(f"4 KiB pages / huge pages: {q[1]:.4f} [{q[0]:.4f}-{q[2]:.4f}] ({args.rounds} rounds), "
          f"huge {np.median(th) / 1e3:.0f} us, 4 KiB {np.median(ts) / 1e3:.0f} us")


if __name__ == "__main__":
    main()

"""Where a run's time goes beyond its steps, tinycnn at 1 and 2 threads in one process (h44-rg).

Two profiled sessions of MODEL (1 and 2 threads) run in alternating bursts of 5 (a 2 ms pause
before each, as steps_ab.py --threads: the other pool's worker asleep); per thread count it
prints the run's time (min, median), the sum of its steps' times, the time between steps (the
run minus its steps: dispatch, the pool's wake-ups between jobs, the profiler's clock calls),
and the steps whose median exceeds their minimum most (what the typical run pays over the
best one, step by step).  Run it under chrt -f 10 for the 2-thread rows.  As on an AVX2-only CPU:
  LD_PRELOAD=exports/libcpuid_avx2.so TINYCNN_ISA=avx2 chrt -f 10 \
  python benchmarks/step_gaps.py M.onnx [--rounds 40] [--top 8]
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tinycnn  # noqa: E402
from steps_ab import per_step, trace  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--top", type=int, default=8)
    a = ap.parse_args()
    per_step(tinycnn)
    tmp = tempfile.mkdtemp()
    sess = {}
    for t in (1, 2):
        so = tinycnn.SessionOptions()
        so.intra_op_num_threads = t
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, f"t{t}")
        sess[t] = tinycnn.InferenceSession(a.model, so)
    inp = sess[1].get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    feed = {inp.name: np.random.default_rng(0).standard_normal(shape).astype(np.float32)}
    for s in sess.values():
        for _ in range(3):
            s.run(None, feed)
    for r in range(a.rounds):
        for t in ((1, 2) if r % 2 == 0 else (2, 1)):
            time.sleep(0.002)
            for _ in range(5):
                sess[t].run(None, feed)
    for t, s in sess.items():
        runs = trace(s.end_profiling())[3:]
        keys = list(runs[0][1])
        tot = np.array([r for r, _ in runs])
        arr = np.array([[n.get(k, 0.0) for k in keys] for _, n in runs])
        steps = arr.sum(1)
        gap = tot - steps
        fast = np.argsort(tot)[:max(1, len(tot) // 4)]
        print(f"{t} thread(s), {len(keys)} steps, {len(runs)} runs: run min {tot.min():.3f} / "
              f"median {np.median(tot):.3f} ms, steps' sum median {np.median(steps):.3f}; between "
              f"steps median {np.median(gap) * 1e3:.0f} us ({np.median(gap) / len(keys) * 1e3:.2f} "
              f"us a step; fastest quarter of runs {np.median(gap[fast]) * 1e3:.0f} us)")
        mn, md, p75 = arr.min(0), np.median(arr, 0), np.percentile(arr, 75, 0)
        print(f"  sum of step minima {mn.sum():.3f} ms, of medians {md.sum():.3f} ms; the steps "
              "whose median exceeds their minimum most (us):")
        for i in np.argsort(mn - md)[:a.top]:
            print(f"    {keys[i][-56:]:56s} min {mn[i] * 1e3:6.0f} median {md[i] * 1e3:6.0f} "
                  f"75% {p75[i] * 1e3:6.0f}")


if __name__ == "__main__":
    main()

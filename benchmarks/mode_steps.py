"""Which steps does a slow phase of the host slow down?  One engine's profiled session at N
threads, bursts of runs spread over some seconds (the host's fast and slow phases come and go
within seconds, for every process at once: benchmarks/proc_modes.py), each run's step times
from the profiler; the runs split by their total into the fastest quarter and the slowest
half (up to the 90th percentile); per step group the median in each and the difference.

  chrt -f 10 python benchmarks/mode_steps.py MODEL.onnx [--engine tc|ort] [--threads 2]
      [--bursts 60] [--burst 10] [--sleep 0.1] [--depth 2]
As on an AVX2-only CPU: LD_PRELOAD=exports/libcpuid_avx2.so TINYCNN_ISA=avx2.  Under chrt the
process holds both CPUs during its bursts (they are short; it sleeps between them)."""
import argparse
import collections
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mt_steps  # noqa: E402
from pool_trace import run_queue_wait_ns  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--engine", choices=("tc", "ort"), default="tc")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bursts", type=int, default=60)
    ap.add_argument("--burst", type=int, default=10)
    ap.add_argument("--sleep", type=float, default=0.1)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    if a.engine == "ort":
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, "p")
        s = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    else:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        import tinycnn
        so = tinycnn.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, "p")
        s = tinycnn.InferenceSession(a.model, so)
    i = s.get_inputs()[0]
    x = np.maximum(np.random.default_rng(0).standard_normal(
        [d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32), 0)
    feed = {i.name: x}
    wall, keep = [], []
    n = 0
    for _ in range(3):
        s.run(None, feed)
        n += 1
    dropped = 0
    for b in range(a.bursts):
        d0 = run_queue_wait_ns()
        for k in range(a.burst + 1):
            t = time.perf_counter()
            s.run(None, feed)
            wall.append((time.perf_counter() - t) * 1e3)
            keep.append(k > 0)   # a burst's first run pays for the sleep before it
            n += 1
        if run_queue_wait_ns() - d0 > 1e5:
            # a thread of ours waited >= 0.1 ms in a run queue: the burst shared a CPU
            keep[-a.burst - 1:] = [False] * (a.burst + 1)
            dropped += 1
        time.sleep(a.sleep)
    print(f"{dropped} of {a.bursts} bursts dropped (run-queue waits)")
    per = mt_steps.node_runs(s.end_profiling(), 3)
    nrun = min(len(v) for v in per.values())
    groups = collections.defaultdict(lambda: np.zeros(nrun))
    for name, ds in per.items():
        groups[mt_steps.group_of(name, a.depth)] += np.array(ds[:nrun])
    keep = np.array(keep[:nrun])
    wall = np.array(wall[:nrun])
    tot = sum(groups.values())
    q25, q50, q90 = np.percentile(wall[keep], [25, 50, 90])
    fast = keep & (wall <= q25)
    slow = keep & (wall >= q50) & (wall <= q90)
    print(f"{os.path.basename(a.model)} {a.engine} {a.threads} threads: {keep.sum()} runs, wall "
          f"p10 {np.percentile(wall[keep], 10):.3f} p25 {q25:.3f} p50 {q50:.3f} p90 {q90:.3f} ms;"
          f" fastest quarter {np.median(wall[fast]):.3f} ms (steps {np.median(tot[fast]):.3f}),"
          f" slow half {np.median(wall[slow]):.3f} (steps {np.median(tot[slow]):.3f})")
    rows = []
    for g, v in groups.items():
        f, sl = float(np.median(v[fast])), float(np.median(v[slow]))
        rows.append((sl - f, g, f, sl))
    rows.sort(reverse=True)
    print(f"{'step group':40s} {'fast us':>8s} {'slow us':>8s} {'x':>5s} {'+us':>6s}")
    for d, g, f, sl in rows[:a.top]:
        print(f"{g[-40:]:40s} {f * 1e3:8.1f} {sl * 1e3:8.1f} {sl / f if f else 0:5.2f} {d * 1e3:6.1f}")
    d = sum(r[0] for r in rows)
    print(f"{'sum':40s} {sum(r[2] for r in rows) * 1e3:8.1f} {sum(r[3] for r in rows) * 1e3:8.1f}"
          f" {sum(r[3] for r in rows) / sum(r[2] for r in rows):5.2f} {d * 1e3:6.1f}")


if __name__ == "__main__":
    main()

"""Cut steps of a network (subgraph_shapes.py's cuts) at 1 and N threads, warm and cold: what a
second thread gains on a step by itself, and whether it still gains when the step's memory
is out of the caches, as in a whole run (every step's input and output were last touched a
run ago, or by the other core).  Per cut, sessions of 1 and N threads alternate in bursts
(the order flipped every round); each burst times --runs runs (the sum of the cut's steps
from run_profiled: the session's own 15-30 us a run left out), the minimum kept; `cold`
writes --evict MB of another buffer before each timed run (the worker, spinning 0.2 ms after
a job (threadpool.c), has gone to sleep by then: the cold N-thread time includes its
wake-up, 8-15 us).  --pause S sleeps S seconds before every timed run, warm or cold: the CPU
goes idle (2026-12-05, Xeon KVM guest: a 2 ms pause made the warm 64 -> 16 squeeze at 55x55
alone, 1 thread, whole session runs, 1.6x slower, as slow as evicted: an idle vCPU's core
runs other work).  Prints per cut the medians over rounds of both thread counts' times, warm
and cold, and the speedups.  Wall time: run it under chrt -f 10 (root; short runs) so that
both threads have their core.
  LD_PRELOAD=.../libcpuid_avx2.so TINYCNN_ISA=avx2 PYTHONPATH=<checkout> \\
  chrt -f 10 python benchmarks/cuts_mt.py MODEL.onnx IN,OUT [IN,OUT ...] [--threads 2] \\
      [--rounds 30] [--runs 5] [--evict 16] [--pause 0]
A tensor may be given as a part of its name that only it has ("features.3/Concat")."""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinycnn  # noqa: E402
from bench import input_feed  # noqa: E402
from subgraph_shapes import extract, resolve  # noqa: E402


def burst(sess, feed, runs, evict, pause):
    best = float("inf")
    for _ in range(runs):
        if evict is not None:
            evict += 1.0
        if pause:
            time.sleep(pause)
        best = min(best, sum(r["seconds"] for r in sess.run_profiled(feed)[1]))
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("cuts", nargs="+", metavar="IN,OUT")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--evict", type=float, default=16.0, help="MB written before a cold run")
    ap.add_argument("--pause", type=float, default=0.0, help="seconds slept before every run")
    a = ap.parse_args()
    model = onnx.load(a.model)
    junk = np.zeros(int(a.evict * (1 << 20)) // 4, np.float32)
    print(f"{'cut':44s} {'1t warm':>8s} {a.threads}t warm {'x':>5s}  {'1t cold':>8s} "
          f"{a.threads}t cold {'x':>5s}   (us)")
    for cut in a.cuts:
        src, dst = (resolve(model, p) for p in cut.split(","))
        path = extract(a.model, src, dst)
        sess = {}
        for t in (1, a.threads):
            so = tinycnn.SessionOptions()
            so.intra_op_num_threads = t
            sess[t] = tinycnn.InferenceSession(path, so)
        i = sess[1].get_inputs()[0]
        feed = {i.name: input_feed("relu", i.shape)}
        times = {(t, mode): [] for t in (1, a.threads) for mode in ("warm", "cold")}
        for r in range(a.rounds):
            order = (1, a.threads) if r % 2 else (a.threads, 1)
            for mode in ("warm", "cold"):
                for t in order:
                    for _ in range(2):
                        sess[t].run(None, feed)
                    times[(t, mode)].append(
                        burst(sess[t], feed, a.runs, junk if mode == "cold" else None, a.pause))
        med = {key: statistics.median(v) * 1e6 for key, v in times.items()}
        name = "..".join(([""] + t.split("/"))[-2] for t in (src, dst))  # a graph input has no '/'
        print(f"{name[-44:]:44s} {med[(1, 'warm')]:8.1f} {med[(a.threads, 'warm')]:8.1f} "
              f"{med[(1, 'warm')] / med[(a.threads, 'warm')]:5.2f}  {med[(1, 'cold')]:8.1f} "
              f"{med[(a.threads, 'cold')]:8.1f} {med[(1, 'cold')] / med[(a.threads, 'cold')]:5.2f}",
              flush=True)


if __name__ == "__main__":
    main()

"""Two builds of tinycnn on one network at N threads (default 2), in one process: each build's
session with a pool of its own, bursts of --runs runs alternating (the order flipped every
round), a pause of 2 ms before each burst (the other pool's worker spins 0.2 ms after its last
job, then sleeps), wall time (CPU time does not see the second thread).  Prints the median and
25-75% range of the per-round ratios (of burst medians and of burst minima) and whether the
outputs are bit-identical.  `--fifo` re-runs itself under chrt -f 10 (root; starves the host:
short runs only).  With the AVX2 emulation env:
  TINYCNN_ISA=avx2 PYTHONPATH=<checkout> python benchmarks/ab_threads.py MODEL.onnx \\
      --against OTHER_CHECKOUT [--threads 2] [--rounds 30] [--runs 10] [--input KIND]
--input: bench.input_feed's kind (default relu, max(noise, 0)); int8 kernels' time can depend
on the bytes (a photograph: ResNet-50 int8's U7S8 steps above the paired widths)."""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinycnn  # noqa: E402
from bench import INPUTS, input_feed  # noqa: E402
from subgraph_shapes import other_build, spread  # noqa: E402


def feed_and_check(sess, kind="relu"):
    """A feed for sessions {"new": .., "old": ..} of one model (its first input, bench.input_feed
    of kind) and whether both builds' outputs for it are bit-identical."""
    i = sess["new"].get_inputs()[0]
    feed = {i.name: input_feed(kind, [d if isinstance(d, int) else 1 for d in i.shape])}
    ys = {k: s.run(None, feed) for k, s in sess.items()}
    return feed, all(np.array_equal(p, q) for p, q in zip(ys["new"], ys["old"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--against", metavar="CHECKOUT", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--fifo", action="store_true")
    ap.add_argument("--input", choices=INPUTS, default="relu")
    a = ap.parse_args()
    if a.fifo:
        args = [x for x in sys.argv[1:] if x != "--fifo"]
        raise SystemExit(subprocess.call(["chrt", "-f", "10", sys.executable,
                                          os.path.abspath(__file__)] + args))
    pkgs = {"new": tinycnn, "old": other_build(a.against)}
    sess = {}
    for k, pkg in pkgs.items():
        so = pkg.SessionOptions()
        so.intra_op_num_threads = a.threads
        sess[k] = pkg.InferenceSession(a.model, so)
    feed, same = feed_and_check(sess, a.input)
    med = {k: [] for k in sess}
    mins = {k: [] for k in sess}
    for r in range(a.rounds):
        for k in (list(sess) if r % 2 == 0 else list(sess)[::-1]):
            time.sleep(0.002)
            sess[k].run(None, feed)
            ts = []
            for _ in range(a.runs):
                t = time.perf_counter()
                sess[k].run(None, feed)
                ts.append(time.perf_counter() - t)
            med[k].append(statistics.median(ts))
            mins[k].append(min(ts))
    print(f"{os.path.basename(a.model)} {a.threads} threads, {a.rounds} rounds x {a.runs} runs: "
          f"new {statistics.median(med['new']) * 1e3:.3f} ms, old "
          f"{statistics.median(med['old']) * 1e3:.3f} ms (medians of burst medians); "
          f"new/old of burst medians {spread(med['new'], med['old'])}, of burst minima "
          f"{spread(mins['new'], mins['old'])}; bit-identical={same}")


if __name__ == "__main__":
    main()

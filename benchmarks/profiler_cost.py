"""What profiling adds to a whole run: tinycnn's run() against run_profiled() (the per-step
clock reads of qsteps_mt.py / steps_ab.py), onnxruntime without and with enable_profiling (its
node profiler, which qsteps_mt.py / mode_steps.py switch on), at N threads, one process a
variant (as qsteps_mt.py), the variants' processes alternating round by round (the order
reversed every other round), each process's minimum and median wall time over --runs runs
after 5 warm-up runs.  Prints per variant the medians over rounds and each variant over its
unprofiled twin: a tinycnn / onnxruntime ratio read from profiled runs is off by their
quotient.  With the AVX2 emulation env:
  LD_PRELOAD=/work/main/exports/libcpuid_avx2.so TINYCNN_ISA=avx2 \\
  python benchmarks/profiler_cost.py MODEL.onnx [--threads 2] [--rounds 4] [--runs 200] \\
      [--fifo] [--input relu]"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = (("tc", 0), ("tc", 1), ("ort", 0), ("ort", 1))


def worker(engine, profiled, model, threads, runs, kind):
    """(min, median) wall ms of `runs` runs of one session"""
    if engine == "ort":
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        if profiled:
            so.enable_profiling = True
            so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "p")
        s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        run = lambda feed: s.run(None, feed)  # noqa: E731
    else:
        sys.path.insert(0, os.path.dirname(HERE))
        import tinycnn
        so = tinycnn.SessionOptions()
        so.intra_op_num_threads = threads
        s = tinycnn.InferenceSession(model, so)
        run = (lambda feed: s.run_profiled(feed)) if profiled else (lambda feed: s.run(None, feed))  # noqa: E731
    sys.path.insert(0, HERE)
    from bench import input_feed
    i = s.get_inputs()[0]
    feed = {i.name: input_feed(kind, [d if isinstance(d, int) else 1 for d in i.shape])}
    for _ in range(5):
        run(feed)
    wall = []
    for _ in range(runs):
        t = time.perf_counter()
        run(feed)
        wall.append((time.perf_counter() - t) * 1e3)
    return min(wall), float(np.median(wall))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--fifo", action="store_true", help="each process under chrt -f 10 (root)")
    ap.add_argument("--input", default="relu", help="bench.input_feed's kind (default relu)")
    ap.add_argument("--worker", nargs=2, metavar=("ENGINE", "PROFILED"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker[0], int(a.worker[1]), a.model, a.threads, a.runs,
                                a.input)))
        return
    res = {v: [] for v in VARIANTS}
    for r in range(a.rounds):
        for e, p in (VARIANTS if r % 2 == 0 else VARIANTS[::-1]):
            cmd = [sys.executable, os.path.abspath(__file__), a.model, "--threads", str(a.threads),
                   "--runs", str(a.runs), "--input", a.input, "--worker", e, str(p)]
            out = subprocess.run((["chrt", "-f", "10"] if a.fifo else []) + cmd,
                                 capture_output=True, text=True, check=True).stdout
            res[(e, p)].append(json.loads(out.strip().splitlines()[-1]))
    med = {v: (statistics.median(x[0] for x in xs), statistics.median(x[1] for x in xs))
           for v, xs in res.items()}
    print(f"{os.path.basename(a.model)} {a.threads} threads, {a.rounds} rounds x {a.runs} runs "
          f"(medians over rounds of each process's min / median ms)")
    for (e, p), (mn, md) in med.items():
        base = med[(e, 0)]
        print(f"  {e:3s} {'profiled' if p else 'plain':8s} min {mn:7.3f}  median {md:7.3f}"
              f"  over plain {mn / base[0]:.3f} / {md / base[1]:.3f}   "
              f"rounds: {[round(x[0], 2) for x in res[(e, p)]]}")
    for p in (0, 1):
        print(f"  tinycnn / onnxruntime, {'both profiled' if p else 'plain'}: min "
              f"{med[('tc', p)][0] / med[('ort', p)][0]:.3f}  median "
              f"{med[('tc', p)][1] / med[('ort', p)][1]:.3f}")


if __name__ == "__main__":
    main()

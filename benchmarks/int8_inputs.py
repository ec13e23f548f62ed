"""Whole-run wall time of an int8 network, tinycnn against onnxruntime at 1 thread in one
process, on several inputs: how much of bench_int8.py's ratio depends on what is fed.
tinycnn's U7S8 kernels do more work where activations fall outside their 7-bit windows (the
split and the correction pass, csrc/qgemm.c); onnxruntime's saturating vpmaddubsw kernels do
the same work on any bytes.  bench_int8.py (through bench.py's worker) feeds standard normal
noise, qsteps.py max(noise, 0), while the QDQ models were calibrated on crops of photographs
(models/quantize.py).  Inputs (--inputs, bench.input_feed; bench_int8.py --inputs takes
the same): normal (bench.py's noise), relu (its maximum with 0, qsteps.py's), photo (a crop of
the calibration photographs with another seed), zeros (a flat grey picture).
Each round runs every (input, engine) pair as a burst of --burst runs (the first discarded),
in an order rotated round by round; per input it prints each engine's median ms, the median
and 25-75% range of the per-round ratio tinycnn / onnxruntime, and with --steps the sum of
tinycnn's step times (thread CPU, minimum over runs) against its wall (what runs outside the
steps).  --fifo: the process under SCHED_FIFO 10 (short runs only), --nice N: its niceness.
As on an AVX2-only CPU:
  LD_PRELOAD=/work/main/exports/libcpuid_avx2.so TINYCNN_ISA=avx2 \\
  python benchmarks/int8_inputs.py MODEL-int8-qdq.onnx [--rounds 30] [--against CHECKOUT]"""
import argparse
import collections
import os
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinycnn  # noqa: E402
from bench import INPUTS, input_feed  # noqa: E402
from subgraph_shapes import other_build, spread  # noqa: E402


def step_sum(sess, feed, runs):
    """the minimum over runs of the sum of a run's step times (thread CPU), and of its wall"""
    real = time.perf_counter_ns
    sums, walls = [], []
    for _ in range(runs):
        time.perf_counter_ns = time.thread_time_ns
        try:
            t0 = real()
            recs = sess.run_profiled(feed)[1]
            walls.append((real() - t0) / 1e6)
        finally:
            time.perf_counter_ns = real
        sums.append(sum(r["seconds"] for r in recs) * 1e3)
    return min(sums), min(walls)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--inputs", default="normal,relu,photo")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--burst", type=int, default=5)
    ap.add_argument("--against", metavar="CHECKOUT")
    ap.add_argument("--steps", type=int, default=0, metavar="RUNS",
                    help="also the sum of tinycnn's step times over RUNS profiled runs")
    ap.add_argument("--fifo", action="store_true")
    ap.add_argument("--nice", type=int)
    a = ap.parse_args()
    if a.nice is not None:
        os.setpriority(os.PRIO_PROCESS, 0, a.nice)
    if a.fifo:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    engines = {"ort": ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])}
    pkgs = [("tinycnn", tinycnn)] + ([("against", other_build(a.against))] if a.against else [])
    for k, pkg in pkgs:
        o = pkg.SessionOptions()
        o.intra_op_num_threads = 1
        engines[k] = pkg.InferenceSession(a.model, o)
    i = engines["ort"].get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in i.shape]
    kinds = [k for k in a.inputs.split(",") if k]
    if not set(kinds) <= set(INPUTS):
        ap.error(f"--inputs: choose from {', '.join(INPUTS)}")
    xs = {k: input_feed(k, shape) for k in kinds}
    for k, x in xs.items():   # same bits in both builds; tinycnn close to onnxruntime
        outs = {e: s.run(None, {i.name: x})[0] for e, s in engines.items()}
        if a.against and not np.array_equal(outs["tinycnn"], outs["against"]):
            print(f"{k}: tinycnn and against differ")
        d = np.abs(outs["tinycnn"].astype(np.float64) - outs["ort"]).max()
        print(f"{k}: input range [{x.min():.2f}, {x.max():.2f}], tinycnn - onnxruntime max "
              f"{d:.3g} (output max {np.abs(outs['ort']).max():.3g})")
    pairs = [(k, e) for k in xs for e in engines]
    ms = collections.defaultdict(list)   # (input, engine) -> per-round median
    for r in range(a.rounds):
        rot = r % len(pairs)
        for k, e in pairs[rot:] + pairs[:rot]:
            feed, s = {i.name: xs[k]}, engines[e]
            s.run(None, feed)
            ts = []
            for _ in range(a.burst):
                t0 = time.perf_counter()
                s.run(None, feed)
                ts.append((time.perf_counter() - t0) * 1e3)
            ms[k, e].append(statistics.median(ts))
    for k in xs:
        line = f"{k:7s}" + "".join(f" {e} {statistics.median(ms[k, e]):6.3f}" for e in engines)
        line += f"  tinycnn/ort {spread(ms[k, 'tinycnn'], ms[k, 'ort'])}"
        if a.against:
            line += f"  tinycnn/against {spread(ms[k, 'tinycnn'], ms[k, 'against'])}"
        print(line)
    if a.steps:
        for k in xs:
            for e, _ in pkgs:
                s, w = step_sum(engines[e], {i.name: xs[k]}, a.steps)
                print(f"{k:7s} {e}: steps' sum (min) {s:.3f} ms, profiled run's wall (min) {w:.3f}")


if __name__ == "__main__":
    main()

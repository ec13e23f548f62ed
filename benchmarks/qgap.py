"""What lies between a network's steps: whole runs against the sum of their steps, per engine,
1 thread (or --threads N), in one process, tinycnn and onnxruntime alternating in rounds.

Per round and engine: --runs plain runs (wall clock: the time bench_int8.py sees), then --runs
profiled runs (tinycnn: run_profiled, perf_counter around each call; onnxruntime: a second
session with its profiler on, node kernel times).  Printed per engine: the plain runs' minimum
and median, the sum of the step minima, the median of the per-run step sums (the profiled
run's steps summed, run by run), and the plain run's median over that: how much of a whole run
the steps leave out (the executor between steps, the output copy, the input's conversion before
the first step; for tinycnn a profiled run also runs its calls from Python, which a plain run
does from C).  tinycnn / onnxruntime of the whole runs (median of per-round ratios of medians)
against that of the step sums tells whether a gap between the per-step ratio (qsteps.py) and
the whole run's (bench_int8.py) is between the steps or inside them (the step minima come from
different runs; the per-run sums do not).  Use 1 thread: at 2, onnxruntime's pool still spins
when tinycnn's plain runs start after its runs (h40-q: tinycnn's plain runs 1.20 of its step
sums), and the other way round.
With the AVX2 emulation env:
  LD_PRELOAD=.../libcpuid_avx2.so TINYCNN_ISA=avx2 python benchmarks/qgap.py MODEL.onnx \
      [--input photo] [--rounds 20] [--runs 10] [--threads 1]"""
import argparse
import collections
import os
import statistics
import sys
import tempfile
import time

import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinycnn  # noqa: E402
from bench import INPUTS, input_feed  # noqa: E402
from qwhole_gap import ort_steps  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--input", choices=INPUTS, default="photo")
    a = ap.parse_args()

    def ort_session(profile):
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        if profile:
            so.enable_profiling = True
            so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "p")
        return ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])

    o_plain, o_prof = ort_session(False), ort_session(True)
    i = o_plain.get_inputs()[0]
    feed = {i.name: input_feed(a.input, [d if isinstance(d, int) else 1 for d in i.shape])}
    so = tinycnn.SessionOptions()
    so.intra_op_num_threads = a.threads
    tc = tinycnn.InferenceSession(a.model, so)
    for _ in range(3):
        o_plain.run(None, feed), o_prof.run(None, feed), tc.run(None, feed), tc.run_profiled(feed)
    clock = time.perf_counter
    wall = collections.defaultdict(list)      # engine -> [(round, ms)]
    tc_steps = collections.defaultdict(list)  # node -> ms per profiled run
    tc_sums = []
    rounds_med = collections.defaultdict(list)
    for r in range(a.rounds):
        order = ("tc", "ort") if r % 2 == 0 else ("ort", "tc")
        for e in order:
            ts = []
            for _ in range(a.runs):
                t = clock()
                (tc if e == "tc" else o_plain).run(None, feed)
                ts.append((clock() - t) * 1e3)
            wall[e].extend(ts)
            rounds_med[e].append(statistics.median(ts))
            if e == "tc":
                for _ in range(a.runs):
                    per = collections.defaultdict(float)
                    for rec in tc.run_profiled(feed)[1]:
                        per[rec["node"]] += rec["seconds"] * 1e3
                    for k, v in per.items():
                        tc_steps[k].append(v)
                    tc_sums.append(sum(per.values()))
            else:
                for _ in range(a.runs):
                    o_prof.run(None, feed)
    o_steps = collections.defaultdict(list)
    o_sums, o_prof_wall = [], []
    for run_ms, per in ort_steps(o_prof)[3:]:   # the warm-up runs left out
        for k, v in per.items():
            o_steps[k].append(v)
        o_sums.append(sum(per.values()))
        o_prof_wall.append(run_ms)
    med = statistics.median
    rows = {}
    for e, steps, sums in (("tc", tc_steps, tc_sums), ("ort", o_steps, o_sums)):
        rows[e] = {"min": min(wall[e]), "med": med(wall[e]),
                   "step_min_sum": sum(min(v) for v in steps.values()),
                   "sum_med": med(sums), "sum_min": min(sums), "steps": len(steps)}
    print(f"{a.model}: input {a.input}, {a.threads} thread(s), {a.rounds} rounds x {a.runs} runs")
    print(f"{'engine':6s} {'run min':>8s} {'run med':>8s} {'sum(step min)':>13s} "
          f"{'run-sum min':>11s} {'run-sum med':>11s} {'run med / run-sum med':>21s} {'steps':>5s}")
    for e, v in rows.items():
        print(f"{e:6s} {v['min']:8.3f} {v['med']:8.3f} {v['step_min_sum']:13.3f} {v['sum_min']:11.3f} "
              f"{v['sum_med']:11.3f} {v['med'] / v['sum_med']:21.3f} {v['steps']:5d}")
    if o_prof_wall:
        print(f"onnxruntime profiled model_run median {med(o_prof_wall):.3f} ms "
              f"(its node sums {med(o_sums):.3f})")
    ratios = [t / o for t, o in zip(rounds_med["tc"], rounds_med["ort"])]
    print(f"tinycnn / onnxruntime: whole runs {med(ratios):.3f} [{min(ratios):.3f}-{max(ratios):.3f}] "
          f"(per-round medians), minima {rows['tc']['min'] / rows['ort']['min']:.3f}; "
          f"step minima summed {rows['tc']['step_min_sum'] / rows['ort']['step_min_sum']:.3f}, "
          f"per-run step sums (medians) {rows['tc']['sum_med'] / rows['ort']['sum_med']:.3f}")


if __name__ == "__main__":
    main()

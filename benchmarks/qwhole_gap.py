"""Where a whole-run ratio and a per-step ratio part (int8 or fp32, 1 thread): in one process,
alternating bursts (bench_int8.py's 1-thread method: bursts of --burst timed runs after one
untimed run, the order of the variants rotated every round), five variants of one model:
  ort   onnxruntime, plain run()                   (bench_int8.py's onnxruntime column)
  ortp  onnxruntime with enable_profiling          (its node times: qsteps.py's onnxruntime steps)
  tc    tinycnn, plain run()                       (bench_int8.py's tinycnn column)
  tcp   tinycnn run_profiled(), steps on the wall clock
  tcc   tinycnn run_profiled(), steps on the thread's CPU clock (qsteps.py's tinycnn steps)
  tcf   tinycnn on --float MODEL (bench_int8.py's third engine: its order is ort, tc, tcf,
        fixed, --fixed-order)
  nop   tinycnn run() with every kernel call replaced by a call that does nothing (its glue:
        the feed check, the arena, the output allocation and copy), after --evict MB of
        other memory were read (the state a kernel run leaves the caches in)
Per variant: whole-run wall ms, median [25-75%] and minimum; for the profiled ones the per-run
sum of the steps (median, minimum) and the sum over steps of each step's minimum / median (what
qsteps.py sums); onnxruntime's node durations are whole microseconds (its profiler truncates).
Then the tinycnn / onnxruntime ratios read each way.  With the AVX2 emulation env:
  LD_PRELOAD=/work/main/exports/libcpuid_avx2.so TINYCNN_ISA=avx2 \\
  python benchmarks/qwhole_gap.py MODEL.onnx [--input photo] [--rounds 40] [--burst 5] [--fifo]
      [--span-us US]   (ort_node_span.py's in-span cost: onnxruntime's steps corrected by it)"""
import argparse
import collections
import json
import os
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import tinycnn  # noqa: E402
from tinycnn import _kernels  # noqa: E402
from bench import INPUTS, input_feed, set_fifo  # noqa: E402


def ort_session(model, profiled):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    if profiled:
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "p")
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def ort_steps(sess):
    """[(run ms, {node: ms})] per profiled run of an onnxruntime session, in order: its
    model_run spans and the _kernel_time node events inside each (ends the profile)"""
    with open(sess.end_profiling()) as f:
        ev = json.load(f)
    runs = sorted((e["ts"], e["dur"]) for e in ev if e.get("name") == "model_run")
    nodes = sorted((e["ts"], e["name"][:-len("_kernel_time")], e["dur"]) for e in ev
                   if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"))
    out, j = [], 0
    for t0, dur in runs:
        per = collections.defaultdict(float)
        while j < len(nodes) and nodes[j][0] < t0:
            j += 1
        while j < len(nodes) and nodes[j][0] <= t0 + dur:
            per[nodes[j][1]] += nodes[j][2] * 1e-3
            j += 1
        out.append((dur * 1e-3, per))
    return out


def nop_runner(sess, feed):
    """run() with every kernel call a BoundCall that does nothing, after `evict` bytes read"""
    sess.run(None, feed)
    hot = sess._hot
    arena = hot.plan._free[-1]
    seq = arena.calls_for(feed)
    nop = _kernels.CallSequence([_kernels.BoundCall() for _ in range(len(seq))], seq.sources)
    if arena._reused is None or arena._reused[1] is not seq:
        raise SystemExit("nop: the plan does not read its feed in place: no reused sequence")
    arena._reused = (arena._reused[0], nop)
    hot2 = _kernels.RunPlan(hot.plan, tuple((k, a.shape, a.dtype) for k, a in feed.items()),
                            hot.output_names, True, lambda *a: None)
    return hot2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--input", choices=INPUTS, default="photo")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--burst", type=int, default=5)
    ap.add_argument("--evict", type=float, default=16.0, help="MB read before each nop run")
    ap.add_argument("--variants", default="ort,ortp,tc,tcp,tcc,nop")
    ap.add_argument("--float", metavar="MODEL", help="the float model of variant tcf (tinycnn "
                    "float32, bench_int8.py's third engine)")
    ap.add_argument("--fixed-order", action="store_true",
                    help="the variants in the order given every round (bench_int8.py's 1-thread "
                         "order is ort, tc, tcf), not rotated and reversed")
    ap.add_argument("--fifo", action="store_true",
                    help="each burst under SCHED_FIFO (bench.set_fifo; root), a pause after it")
    ap.add_argument("--span-us", type=float, default=0.0,
                    help="onnxruntime's in-span profiler cost per node (ort_node_span.py)")
    a = ap.parse_args()
    variants = a.variants.split(",")
    so_ = ort_session(a.model, False)
    i = so_.get_inputs()[0]
    feed = {i.name: input_feed(a.input, [d if isinstance(d, int) else 1 for d in i.shape])}
    sp = ort_session(a.model, True) if "ortp" in variants else None
    o = tinycnn.SessionOptions()
    o.intra_op_num_threads = 1
    tcs = tinycnn.InferenceSession(a.model, o)
    tcs2 = tinycnn.InferenceSession(a.model, o)     # the nop variant's (its arena is patched)
    evict = np.ones(int(a.evict * 2 ** 20) // 8)
    real = time.perf_counter_ns
    steps = {"tcp": [], "tcc": []}

    def tc_prof(clock):
        def f():
            time.perf_counter_ns = clock
            try:
                recs = tcs.run_profiled(feed)[1]
            finally:
                time.perf_counter_ns = real
            return recs
        return f

    prof = {"tcp": tc_prof(real), "tcc": tc_prof(time.thread_time_ns)}
    nop = None
    if "nop" in variants:
        nop = nop_runner(tcs2, feed)
    runs = {"ort": lambda: so_.run(None, feed), "ortp": lambda: sp.run(None, feed),
            "tc": lambda: tcs.run(None, feed)}
    if "tcf" in variants:
        tcf = tinycnn.InferenceSession(a.float, o)
        runs["tcf"] = lambda: tcf.run(None, feed)
    wall = {v: [] for v in variants}
    pos = {v: [] for v in variants}     # each timed run's place in its burst (1..burst)
    rnd = {v: [] for v in variants}     # and its round
    for _ in range(3):
        for v in variants:
            if v in runs:
                runs[v]()
            elif v in prof:
                prof[v]()
    for r in range(a.rounds):
        k = r % len(variants)
        order = variants[k:] + variants[:k]
        if r % 2:
            order = order[::-1]
        if a.fixed_order:     # bench.py's alternate: the engines always in the order given
            order = variants
        for v in order:
            tb = time.perf_counter()
            if a.fifo:
                set_fifo(True)
            for b in range(a.burst + 1):
                if v == "nop":
                    evict.sum()
                    t = time.perf_counter()
                    nop.run(feed)
                    dt = time.perf_counter() - t
                elif v in prof:
                    t = time.perf_counter()
                    recs = prof[v]()
                    dt = time.perf_counter() - t
                    if b:
                        per = collections.defaultdict(float)
                        for rec in recs:
                            per[rec["node"]] += rec["seconds"] * 1e3
                        steps[v].append(per)
                else:
                    t = time.perf_counter()
                    runs[v]()
                    dt = time.perf_counter() - t
                if b:
                    wall[v].append(dt * 1e3)
                    pos[v].append(b)
                    rnd[v].append(r)
            if a.fifo:     # as bench.py's alternate: the core's other work gets its share
                set_fifo(False)
                time.sleep(max(0.02, 0.1 * (time.perf_counter() - tb)))
    if "ortp" in variants:
        allruns = [per for _, per in ort_steps(sp)]
        # the warm-ups and every burst's untimed first run are in the profile too: keep the
        # timed ones (each burst: 1 untimed + burst timed, in order)
        keep = []
        idx = 3
        for r in range(a.rounds):
            idx += 1
            keep.extend(allruns[idx:idx + a.burst])
            idx += a.burst
        if idx != len(allruns):
            print(f"warning: {len(allruns)} profiled onnxruntime runs, expected {idx}")
        steps["ortp"] = keep

    def q(xs):
        return np.percentile(xs, [50, 25, 75]).tolist() + [min(xs)]

    print(f"{os.path.basename(a.model)}, input {a.input}, 1 thread, {a.rounds} rounds x "
          f"{a.burst} runs (first of each burst untimed), variants "
          + ("in this order" if a.fixed_order else "rotated"))
    summ = {}
    for v in variants:
        md, lo, hi, mn = q(wall[v])
        line = f"  {v:4s} whole wall ms median {md:7.3f} [{lo:.3f}-{hi:.3f}] min {mn:7.3f}"
        summ[v] = {"whole": md, "whole_min": mn}
        if v in steps and steps[v]:
            sums = [sum(p.values()) for p in steps[v]]
            names = set().union(*steps[v])
            summin = sum(min(p.get(n, 0.0) for p in steps[v]) for n in names)
            summed = sum(float(np.median([p.get(n, 0.0) for p in steps[v]])) for n in names)
            s_md, s_lo, s_hi, s_mn = q(sums)
            line += (f"\n        step sum per run median {s_md:7.3f} [{s_lo:.3f}-{s_hi:.3f}] min "
                     f"{s_mn:7.3f}; sum of step minima {summin:7.3f}, of step medians {summed:7.3f}"
                     f" ({len(names)} nodes); whole - step sum (medians) {md - s_md:6.3f}")
            summ[v].update(sum=s_md, sum_min=s_mn, summin=summin, summed=summed)
        print(line)
    for v in variants:
        by = [float(np.median([w for w, p in zip(wall[v], pos[v]) if p == k]))
              for k in range(1, a.burst + 1)]
        print(f"  {v:4s} median by place in the burst: " + " ".join(f"{x:.3f}" for x in by)
              + f"; IQR / median {(q(wall[v])[2] - q(wall[v])[1]) / q(wall[v])[0]:.3f}")
    if "tc" in summ and "ort" in summ:
        per = [float(np.median([w for w, rr in zip(wall["tc"], rnd["tc"]) if rr == r]))
               / float(np.median([w for w, rr in zip(wall["ort"], rnd["ort"]) if rr == r]))
               for r in range(a.rounds)]
        p50, p25, p75 = np.percentile(per, [50, 25, 75])
        print(f"  tc / ort whole medians {summ['tc']['whole'] / summ['ort']['whole']:.3f}, "
              f"minima {summ['tc']['whole_min'] / summ['ort']['whole_min']:.3f}; per round "
              f"(bench_int8.py's) {p50:.3f} [{p25:.3f}-{p75:.3f}]")
    if "ortp" in summ:
        for v in ("tcp", "tcc"):
            if v in summ:
                s, o_ = summ[v], summ["ortp"]
                print(f"  {v} / ortp: whole medians {s['whole'] / o_['whole']:.3f}; step sums "
                      f"median {s['sum'] / o_['sum']:.3f}; sums of step minima "
                      f"{s['summin'] / o_['summin']:.3f}; of step medians "
                      f"{s['summed'] / o_['summed']:.3f}")
        print(f"  ort profiled over plain (whole medians) "
              f"{summ['ortp']['whole'] / summ['ort']['whole']:.3f}")
        if a.span_us:
            n = len(set().union(*steps["ortp"]))
            # ort_node_span.py's cost is read from truncated durations as these steps are:
            # subtracting it leaves the untruncated unprofiled time
            cut = n * a.span_us * 1e-3
            o_ = summ["ortp"]
            print(f"  onnxruntime's steps less {n} x {a.span_us} us in-span profiler "
                  f"cost ({cut:.3f} ms): step sum median {o_['sum'] - cut:.3f} (plain whole "
                  f"{summ['ort']['whole']:.3f}), sum of step minima {o_['summin'] - cut:.3f}")
            for v in ("tcp", "tcc"):
                if v in summ:
                    s = summ[v]
                    print(f"    {v} / corrected ortp: step sums median "
                          f"{s['sum'] / (o_['sum'] - cut):.3f}; sums of step minima "
                          f"{s['summin'] / (o_['summin'] - cut):.3f}")
    if "tcp" in summ and "tc" in summ:
        print(f"  tc profiled (wall steps) over plain {summ['tcp']['whole'] / summ['tc']['whole']:.3f}")


if __name__ == "__main__":
    main()

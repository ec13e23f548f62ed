#!/usr/bin/env python3
"""bench_int8.py's own 2-thread measurement (bench.measure_bursts: one process per engine, bursts
alternating, the first run of each discarded, quiet-waits between bursts) taken apart: the same
protocol and the same worker processes, with each engine's worker also reporting, per timed run,
its threads' run-queue wait (schedstat), their context switches, the CPUID traps of the AVX2
emulation, and (--steps) tinycnn's per-step times inside those very bursts.  Variants of the
method run in turn, set after set (the order rotated), so that each variant's per-round ratio
(tinycnn int8 AVX2 / onnxruntime int8, burst medians) is read in the same minutes as the others':

  bench   the engines of bench_int8.py in its order: onnxruntime int8, tinycnn int8, tinycnn f32
  pair    onnxruntime int8 and tinycnn int8 only (no float process)
  tcfirst tinycnn int8 then onnxruntime int8
  steps   as bench, tinycnn int8 timed per step (run_profiled) inside its bursts
  idle    as bench with --idle seconds of quiet (the parent asleep) after every burst in
          place of --gap: the host's duty cycle lowered, the method otherwise the same
  procs   qprocs.py's method: a fresh process per engine (tinycnn then onnxruntime), each warm-up
          then --runs runs in a row; "per round" = that pair of processes

Run from the repository root after an in-place build:
  python benchmarks/qbursts.py --emulate-avx2 [--model resnet50] [--input photo] [--threads 2]
      [--sets 4] [--runs 30] [--burst 5] [--variants bench,pair,steps,procs] [--json FILE]
Not a test; progress and tables on stdout."""
from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench  # noqa: E402
import bench_int8  # noqa: E402

ORT, AVX2, F32 = bench_int8.ORT, bench_int8.AVX2, bench_int8.F32
VARIANTS = ("bench", "pair", "tcfirst", "steps", "idle", "procs")


# ---------------------------------------------------------------- worker side

def thread_stats():
    """(run-queue wait ns, context switches) summed over this process's threads"""
    wait = switches = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                wait += int(f.read().split()[1])
            with open(f"/proc/self/task/{tid}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        switches += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return wait, switches


def cpuid_traps():
    """CPUID executions answered by the AVX2 emulation so far (None without it)"""
    import ctypes
    try:
        return int(ctypes.CDLL(None).cpuid_avx2_trapped())
    except (AttributeError, OSError):
        return None


class QWorker(bench._Worker):
    """bench's worker, its timed runs also recording the threads' run-queue wait, context
    switches and CPUID traps per run; steps=True: tinycnn per step (run_profiled)."""

    def __init__(self):
        super().__init__()
        self.extra = collections.defaultdict(list)   # per timed run: (wait us, switches, traps)
        self.steps = collections.defaultdict(list)   # step -> ms per profiled run
        self.profiled = False

    def cmd_profile(self, on):
        """per-step times from now on (before "load": onnxruntime's profiler is a session option)"""
        self.profiled = bool(on)
        return {}

    def cmd_load(self, engine, path, threads, input_name, shape, feed="normal"):
        if not (self.profiled and bench._kind(engine) == "onnxruntime"):
            return super().cmd_load(engine, path, threads, input_name, shape, feed)
        import tempfile
        orig = bench._create_session

        def create(engine, module, path, threads):   # bench's options plus the profiler
            so = module.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            so.execution_mode = module.ExecutionMode.ORT_SEQUENTIAL
            so.enable_profiling = True
            so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "p")
            return module.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        bench._create_session = create
        try:
            return super().cmd_load(engine, path, threads, input_name, shape, feed)
        finally:
            bench._create_session = orig

    def _time_one(self, engine):
        sess = self.sessions[engine]
        w0, s0 = thread_stats()
        k0 = cpuid_traps()
        c0 = time.process_time()
        t0 = time.perf_counter()
        if self.profiled and bench._kind(engine) == "tinycnn":
            per = collections.defaultdict(float)
            for r in sess.run_profiled(self.feeds)[1]:
                per[r["node"]] += r["seconds"] * 1e3
        else:
            per = None
            sess.run(None, self.feeds)
        t1 = time.perf_counter()
        self.cpu_ms.setdefault(engine, []).append((time.process_time() - c0) * 1e3)
        w1, s1 = thread_stats()
        k1 = cpuid_traps()
        self.extra[engine].append(((w1 - w0) / 1e3, s1 - s0, None if k0 is None else k1 - k0))
        if per is not None:
            for k, v in per.items():
                self.steps[k].append(v)
        return (t1 - t0) * 1e3

    def cmd_run(self, engine, n, fifo=False):
        self.extra[engine] = []
        r = super().cmd_run(engine, n, fifo)
        r["extra"] = self.extra[engine]
        return r

    def cmd_steps(self):
        """every profiled run's per-step ms so far (and forgets them); onnxruntime: its
        profiler's node times (which inflate them a few %, qsteps_mt.py)"""
        for e, sess in self.sessions.items():
            if bench._kind(e) == "onnxruntime" and self.profiled:
                from mt_steps import node_runs
                return {"steps": node_runs(sess.end_profiling(), 0)}
        out, self.steps = dict(self.steps), collections.defaultdict(list)
        return {"steps": out}

    def cmd_series(self, engine, warmup, runs, fifo=False):
        """qprocs.py's process: warm-up runs, then `runs` timed runs in a row (fifo: all of it
        under SCHED_FIFO, as qprocs.py --fifo's chrt -f 10)"""
        if fifo:
            bench.set_fifo(True)
        try:
            for _ in range(warmup):
                self._time_one(engine)
            self.extra[engine] = []
            self.cpu_ms = {}
            ms = [self._time_one(engine) for _ in range(runs)]
        finally:
            if fifo:
                bench.set_fifo(False)
        return {"ms": ms, "cpu_ms": self.cpu_ms[engine], "extra": self.extra[engine]}


# ---------------------------------------------------------------- parent side

class _QW(bench.Worker):
    """bench.Worker running this script's QWorker (measure_bursts makes them by this name)"""

    def __init__(self, label, script=None, env=None, nice=None):
        super().__init__(label, script=__file__, env=env, nice=nice)


def measure_variant(variant, paths, desc, a):
    """{"ratios": per-round tinycnn int8 / onnxruntime int8, "res": per engine ms / bursts /
    extra, "steps": tinycnn's per-step ms (steps only)}"""
    if variant == "procs":
        return measure_procs(paths, desc, a)
    engines = {"bench": [ORT, AVX2, F32], "pair": [ORT, AVX2], "tcfirst": [AVX2, ORT],
               "steps": [ORT, AVX2, F32], "idle": [ORT, AVX2, F32]}[variant]
    extra = collections.defaultdict(list)
    steps = {}
    orig_call = bench.Worker.call

    def call(self, cmd, **kw):   # collects the worker's per-run extras; turns on --steps' profiling
        if cmd == "load" and variant == "steps" and kw.get("engine") in (AVX2, ORT):
            orig_call(self, "profile", on=True)
        if cmd == "quit":
            return orig_call(self, cmd, **kw)
        r = orig_call(self, cmd, **kw)
        if cmd == "run":
            extra[kw["engine"]].append(r.get("extra", []))
        return r

    saved_worker, saved_close = bench.Worker, bench.Worker.close

    def close(self):   # the tinycnn worker's steps before it quits
        for e in (AVX2, ORT):
            if variant == "steps" and self.label.startswith(e) and self.proc.poll() is None:
                steps[e] = orig_call(self, "steps")["steps"]
        saved_close(self)

    bench.Worker, _QW.call, _QW.close = _QW, call, close
    try:
        res = bench.measure_bursts(engines, paths, desc, a.threads, a.warmup, a.runs, None,
                                   a.burst, a.idle if variant == "idle" else a.gap,
                                   bench.BackgroundMeter(), a.input)
    finally:
        bench.Worker = saved_worker
        del _QW.call, _QW.close
    for e in engines:   # the first (discarded) run of each burst left out, as res does
        res[e]["extra"] = [x for burst in extra[e][1:] for x in burst[1:]]   # [0]: the warm-up call
    return {"ratios": bench.round_ratios(res[AVX2], res[ORT]), "res": res, "steps": steps}


def measure_procs(paths, desc, a):
    res = {e: {"ms": [], "bursts": [], "extra": []} for e in (AVX2, ORT)}
    for _ in range(a.procs):
        for e in (AVX2, ORT):
            with _QW(f"{e}-procs") as w:
                w.call("load", engine=e, path=str(paths[e]), threads=a.threads,
                       input_name=desc["input"], shape=desc["shape"], feed=a.input)
                r = w.call("series", engine=e, warmup=3, runs=a.runs // a.procs, fifo=bench.FIFO)
            res[e]["ms"] += r["ms"]
            res[e]["bursts"].append(len(r["ms"]))
            res[e]["extra"] += r["extra"]
    return {"ratios": bench.round_ratios(res[AVX2], res[ORT]), "res": res, "steps": {}}


def steps_table(agg, tot, top):
    """per step, its median in the fastest quarter of the profiled runs (by their step sums)
    against the slower half: which steps the host's slow phases slow most"""
    order = sorted(range(len(tot)), key=tot.__getitem__)
    fast, slow = order[:max(1, len(order) // 4)], order[len(order) // 2:]
    rows = []
    for k, v in agg.items():
        f = statistics.median(v[i] for i in fast)
        sl = statistics.median(v[i] for i in slow)
        rows.append((sl - f, k, f, sl))
    ft = statistics.median(tot[i] for i in fast)
    st = statistics.median(tot[i] for i in slow)
    out = [f"fastest quarter {ft:.2f} ms, slower half {st:.2f} ms ({st / ft:.3f}x); the {top} steps "
           "that grow most (us: fast, slow, x, extra):"]
    for d, k, f, sl in sorted(rows, reverse=True)[:top]:
        out.append(f"  {k[-48:]:48s} {f * 1e3:8.0f} {sl * 1e3:8.0f} {sl / f:6.3f} {d * 1e3:7.0f}")
    return "\n".join(out)


def fmt_extra(ex):
    if not ex:
        return "-"
    waits = [x[0] for x in ex]
    sw = [x[1] for x in ex]
    traps = [x[2] for x in ex if x[2] is not None]
    return (f"rq-wait us med {statistics.median(waits):.0f} p90 {bench.quantile(waits, 0.9):.0f}, "
            f"switches med {statistics.median(sw):.0f}"
            + (f", cpuid traps/run {statistics.median(traps):.0f}" if traps else ""))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="resnet50", choices=bench_int8.MODELS)
    p.add_argument("--format", default="qdq")
    p.add_argument("--input", default="photo")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sets", type=int, default=4)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--burst", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--gap", type=float, default=0.02)
    p.add_argument("--idle", type=float, default=0.5, help="idle: seconds of quiet after a burst")
    p.add_argument("--top", type=int, default=25, help="steps: the table's length")
    p.add_argument("--procs", type=int, default=3, help="procs: process pairs per set")
    p.add_argument("--variants", default="bench,pair,steps,procs")
    p.add_argument("--cache", default="exports")
    p.add_argument("--emulate-avx2", action="store_true")
    p.add_argument("--workers-nice", type=int, default=0,
                   help="the workers' niceness (bench.py --nice; bench_int8.py's workers run at 0)")
    p.add_argument("--fifo", action="store_true",
                   help="bursts under SCHED_FIFO (bench_int8.py --fifo; root)")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--nice", type=int, default=0, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        if a.nice:
            bench.apply_nice(a.nice)
        bench.worker_main(QWorker())
        return 0
    variants = [v for v in a.variants.split(",") if v]
    for v in variants:
        if v not in VARIANTS:
            p.error(f"unknown variant {v!r}: {', '.join(VARIANTS)}")
    bench.NICE, bench.FIFO = a.workers_nice, a.fifo
    if a.emulate_avx2:
        bench.EMULATE_AVX2 = bench.build_cpuid_avx2(bench.REPO / "build")
    fpath, qpath = bench_int8.ensure_quantized(a.cache, a.model, a.format)
    desc = bench.describe_model(fpath)
    paths = {ORT: qpath, AVX2: qpath, F32: fpath}
    out = collections.defaultdict(list)
    for s in range(a.sets):
        order = variants[s % len(variants):] + variants[:s % len(variants)]
        for v in order:
            t = time.strftime("%H:%M:%S", time.gmtime())
            r = measure_variant(v, paths, desc, a)
            out[v].append(r)
            res = r["res"]
            print(f"{t} set {s} {v:8s} per-round {' '.join(f'{x:.3f}' for x in r['ratios'])} "
                  f"median {statistics.median(r['ratios']):.3f}; tc {statistics.median(res[AVX2]['ms']):.1f} "
                  f"ms ({fmt_extra(res[AVX2]['extra'])}); ort {statistics.median(res[ORT]['ms']):.1f} "
                  f"ms ({fmt_extra(res[ORT]['extra'])})", flush=True)
    print(f"\n{a.model} {a.format} {a.threads}t input {a.input}: {a.sets} sets, {a.runs} runs, "
          f"bursts of {a.burst}")
    for v in variants:
        all_r = [x for r in out[v] for x in r["ratios"]]
        sets = [statistics.median(r["ratios"]) for r in out[v]]
        print(f"{v:8s} per-round median {statistics.median(all_r):.3f} "
              f"[{bench.quantile(all_r, 0.25):.3f}-{bench.quantile(all_r, 0.75):.3f}] over "
              f"{len(all_r)} rounds; per set {' '.join(f'{x:.3f}' for x in sets)}")
    for e in (AVX2, ORT) if "steps" in out else ():
        agg = collections.defaultdict(list)
        for r in out["steps"]:
            for k, v in r["steps"].get(e, {}).items():
                agg[k] += v
        if not agg:
            continue
        tot = [sum(v[i] for v in agg.values()) for i in range(min(len(v) for v in agg.values()))]
        print(f"\nsteps of {e}: per-step sum per profiled run median {statistics.median(tot):.2f} "
              f"ms, min {min(tot):.2f} ms (over {len(tot)} runs)")
        print(steps_table(agg, tot, a.top))
    if a.json:
        Path(a.json).write_text(json.dumps({v: [{"ratios": r["ratios"], "res": r["res"],
                                                 "steps": r["steps"]} for r in out[v]]
                                            for v in variants}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

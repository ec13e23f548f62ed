#!/usr/bin/env python3
"""What does this host's slow state take from each kind of work?  In one worker process (bench's,
under --emulate-avx2 as on the target), round after round: the four probes of host_probe.c
(fma: FMA chains; madd: the int8 kernels' vpmaddubsw / vpmaddwd / vpaddd chains; l1, l2, big:
reads of a buffer in L1, in L2, past L2), then --runs tinycnn int8 runs timed per step
(run_profiled) and --runs onnxruntime int8 runs (whole, or per node with --ort-steps), the
engines' order alternating from round to round.  The rounds are then split by the FMA probe (its top and bottom --split share)
and by tinycnn's own time, and every series' slow / fast median is printed: the probes', the
engines' and each kind of tinycnn step's (convolutions by kernel and stride from the model,
other steps by op; times: slow / fast; rates: fast / slow, so > 1 is a slowdown either way),
with each series' Spearman correlation against the FMA probe and against tinycnn's time.  Which
probe slows as much as tinycnn's steps says which resource the slow state takes.

Run from the repository root after an in-place build:
  python benchmarks/host_state.py --emulate-avx2 [--model resnet50] [--input photo]
      [--rounds 200] [--runs 2] [--probe-ms 20] [--threads 1] [--json FILE]
Not a test; progress and tables on stdout."""
from __future__ import annotations

import argparse
import collections
import json
import re
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench  # noqa: E402
import bench_int8  # noqa: E402
import qbursts  # noqa: E402

ORT, AVX2 = bench_int8.ORT, bench_int8.AVX2
RATES = tuple(bench.PROBE_KINDS)   # probe series (rates: larger is faster)


class StateWorker(qbursts.QWorker):
    """qbursts' worker (its "profile" / "steps": onnxruntime's profiler) with a command that runs
    whole rounds (probes, then both engines)."""

    def cmd_rounds(self, n, lib, probe_ms, threads, runs):
        """n rounds; each {"t", "probe": {kind: rate}, "ms": {engine: [wall ms]},
        "steps": {"op|node": tinycnn's ms for it (summed over its calls), median over the runs}}"""
        out = []
        engines = list(self.sessions)
        for i in range(n):
            rec = {"t": time.time(), "probe": {k: bench.host_probe(lib, k, probe_ms / 1e3, threads)
                                               for k in RATES},
                   "ms": {}, "steps": {}}
            for e in engines if i % 2 == 0 else engines[::-1]:
                sess, ms, per = self.sessions[e], [], collections.defaultdict(list)
                for _ in range(runs):
                    t0 = time.perf_counter()
                    if bench._kind(e) == "tinycnn":
                        labels = collections.defaultdict(float)
                        for r in sess.run_profiled(self.feeds)[1]:
                            labels[f"{r['op']}|{r['node']}"] += r["seconds"] * 1e3
                        for k, v in labels.items():
                            per[k].append(v)
                    else:
                        sess.run(None, self.feeds)
                    ms.append((time.perf_counter() - t0) * 1e3)
                rec["ms"][e] = ms
                if per:
                    rec["steps"] = {k: statistics.median(v) for k, v in per.items()}
            out.append(rec)
        return {"rounds": out}


class _SW(bench.Worker):
    def __init__(self, label, nice=None):
        super().__init__(label, script=__file__, nice=nice)


def spearman(x, y):
    """Spearman's rank correlation (ties by average rank); None under 3 values."""
    if len(x) < 3:
        return None

    def ranks(v):
        order = sorted(range(len(v)), key=v.__getitem__)
        r = [0.0] * len(v)
        i = 0
        while i < len(v):
            j = i
            while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2
            i = j + 1
        return r

    rx, ry = ranks(x), ranks(y)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    return sxy / (sxx * syy) ** 0.5 if sxx and syy else None


def conv_kinds(path):
    """{Conv node name: "conv KxK" (+ " sS" for a stride S > 1)} of an ONNX model"""
    import onnx
    kinds = {}
    for n in onnx.load(str(path), load_external_data=False).graph.node:
        if n.op_type in ("Conv", "QLinearConv"):
            at = {a.name: list(a.ints) for a in n.attribute}
            k, st = at.get("kernel_shape", [0]), max(at.get("strides", [1]) or [1])
            kinds[n.name] = f"conv {'x'.join(map(str, k))}" + (f" s{st}" if st > 1 else "")
    return kinds


def step_kind(key, kinds):
    """a step's group: its convolution's kind, or its op"""
    op, _, node = key.partition("|")
    return kinds.get(node, op) if op.startswith("QLinearConv") else op


def series(rounds, kinds=None):
    """{name: (per-round values, is_rate)}: the probes, both engines' round medians, their ratio,
    tinycnn's step sum and each kind of step's time (step_kind)."""
    s = {f"probe {k}": ([r["probe"][k] for r in rounds], True) for k in RATES}
    s["tinycnn int8 run"] = ([statistics.median(r["ms"][AVX2]) for r in rounds], False)
    s["onnxruntime int8 run"] = ([statistics.median(r["ms"][ORT]) for r in rounds], False)
    s["ratio tinycnn / ort"] = ([a / b for a, b in zip(s["tinycnn int8 run"][0],
                                                         s["onnxruntime int8 run"][0])], False)
    s["tinycnn step sum"] = ([sum(r["steps"].values()) for r in rounds], False)
    for what, field, kind_of in (("step", "steps", step_kind), ("ort step", "ort_steps", ort_kind)):
        if not all(r.get(field) for r in rounds):
            continue
        grouped = [collections.defaultdict(float) for _ in rounds]
        for g, r in zip(grouped, rounds):
            for k, v in r[field].items():
                g[kind_of(k, kinds or {})] += v
        for k in sorted({k for g in grouped for k in g}):
            s[f"{what} {k}"] = ([g.get(k, 0.0) for g in grouped], False)
    return s


def ort_kind(node, kinds):
    """an onnxruntime profiler node's group: its convolution's kind (the fused QLinearConv keeps
    the Conv's name with a "_token_N" suffix), "Add", or "other" """
    name = re.sub(r"_token_\d+$", "", node)
    if name in kinds:
        return kinds[name]
    return "Add" if name.endswith("/Add") else "other"


def attach_ort_steps(rounds, node_runs, skip, runs):
    """rounds[i]["ort_steps"] = {node: median ms of round i's onnxruntime runs}, from the
    profiler's per-run node times (node_runs: {node: [ms per run]}, the first `skip` runs the
    warm-up's, then `runs` per round in order)"""
    for i, r in enumerate(rounds):
        lo = skip + i * runs
        r["ort_steps"] = {k: statistics.median(v[lo:lo + runs]) for k, v in node_runs.items()
                          if len(v) >= lo + runs}


def split_table(rounds, key, share, kinds=None):
    """Every series' slowdown between the rounds where `key` (a rate or a time) reads best and
    those where it reads worst (its top and bottom `share` of rounds)."""
    ser = series(rounds, kinds)
    vals, is_rate = ser[key]
    order = sorted(range(len(rounds)), key=vals.__getitem__, reverse=is_rate)   # best first
    k = max(1, int(len(order) * share))
    fast, slow = order[:k], order[-k:]
    ref, tc = ser["probe fma"][0], ser["tinycnn int8 run"][0]
    lines = [f"split by {key}: best {k} rounds against worst {k} (slowdown: time slow / fast, "
             "rate fast / slow; Spearman over all rounds with the FMA probe, with tinycnn's time)"]
    for name, (v, rate) in ser.items():
        f = statistics.median(v[i] for i in fast)
        sl = statistics.median(v[i] for i in slow)
        x = (f / sl if rate else sl / f) if f and sl else float("nan")
        rho = [spearman(v, ref), spearman(v, tc)]
        lines.append(f"  {name[:36]:36s} fast {f:9.3f} slow {sl:9.3f}  x{x:6.3f}  rho "
                     + " ".join("  -  " if x is None else f"{x:+.2f}" for x in rho))
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="resnet50", choices=bench_int8.MODELS)
    p.add_argument("--format", default="qdq")
    p.add_argument("--input", default="photo")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--chunk", type=int, default=10, help="rounds per worker call (progress)")
    p.add_argument("--runs", type=int, default=2, help="runs of each engine per round")
    p.add_argument("--probe-ms", type=float, default=20)
    p.add_argument("--split", type=float, default=0.25, help="share of rounds in each end")
    p.add_argument("--cache", default="exports")
    p.add_argument("--emulate-avx2", action="store_true")
    p.add_argument("--workers-nice", type=int, default=0)
    p.add_argument("--ort-steps", action="store_true",
                   help="onnxruntime's per-node times too (its profiler, which inflates them a few %%)")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--load", metavar="FILE", help="analyse an earlier --json; measure nothing")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--nice", type=int, default=0, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        if a.nice:
            bench.apply_nice(a.nice)
        bench.worker_main(StateWorker())
        return 0
    if a.load:   # the earlier run's settings for the heading
        saved = json.loads(Path(a.load).read_text())
        rounds = saved["rounds"]
        for k in ("model", "format", "threads", "input", "runs", "probe_ms", "cache"):
            setattr(a, k, saved["args"].get(k, getattr(a, k)))
        qpath = bench_int8.ensure_quantized(a.cache, a.model, a.format)[1]
    else:
        bench.NICE = a.workers_nice
        if a.emulate_avx2:
            bench.EMULATE_AVX2 = bench.build_cpuid_avx2(bench.REPO / "build")
        fpath, qpath = bench_int8.ensure_quantized(a.cache, a.model, a.format)
        desc = bench.describe_model(fpath)
        lib = bench.build_host_probe()
        rounds = []
        with _SW("state") as w:
            if a.ort_steps:
                w.call("profile", on=True)
            for e in (ORT, AVX2):
                w.call("load", engine=e, path=str(qpath), threads=a.threads, input_name=desc["input"],
                       shape=desc["shape"], feed=a.input)
                w.call("run", engine=e, n=2)
            while len(rounds) < a.rounds:
                got = w.call("rounds", n=min(a.chunk, a.rounds - len(rounds)), lib=lib,
                             probe_ms=a.probe_ms, threads=a.threads, runs=a.runs)["rounds"]
                rounds += got
                last = got[-1]
                print(f"{time.strftime('%H:%M:%S', time.gmtime())} {len(rounds)} rounds; last: "
                      + " ".join(f"{k} {last['probe'][k]:.1f}" for k in RATES)
                      + f"; tinycnn {statistics.median(last['ms'][AVX2]):.1f} ms, onnxruntime "
                      f"{statistics.median(last['ms'][ORT]):.1f} ms", flush=True)
            if a.ort_steps:
                attach_ort_steps(rounds, w.call("steps")["steps"], 2, a.runs)
        if a.json:
            Path(a.json).write_text(json.dumps({"args": vars(a), "rounds": rounds}))
    print(f"\n{a.model} {a.format} {a.threads}t input {a.input}: {len(rounds)} rounds of {a.runs} "
          f"runs per engine, probes of {a.probe_ms:g} ms")
    kinds = conv_kinds(qpath)
    for key in ("probe fma", "probe l2", "tinycnn int8 run"):
        print(split_table(rounds, key, a.split, kinds))
    return 0


if __name__ == "__main__":
    sys.exit(main())

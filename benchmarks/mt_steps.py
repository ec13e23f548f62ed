"""Per-step speedup of 2 threads over 1, tinycnn against onnxruntime, in one process.

Four profiled sessions (tinycnn and onnxruntime at 1 and 2 threads) run in alternating bursts;
each engine's own profiler times its nodes (tinycnn's fused steps are named after their first
node).  Nodes are grouped by the first DEPTH parts of their names; per group it prints the
median over runs of the group's time per engine and thread count, and both speedups.  The
profilers inflate small steps: use it to find candidates, then time a step alone.
h51-sq: the sessions' order reversed every other round (each engine and thread count both
before and after the others), a 2 ms pause before each 2-thread burst (the other pools'
workers asleep, as steps_ab.py), `--join G1,G2,...` (groups summed as one, named after the
first: tinycnn's fused steps against onnxruntime's nodes, e.g. SqueezeNet's
features.0,features.1,features.2), and `--stat both`: per group the medians and the minima,
what each engine loses against half its 1-thread time (tc2 - tc1 / 2, ort2 - ort1 / 2, ms)
and tinycnn's excess over --target x onnxruntime at 2 threads.  Under chrt -f 10 (root; short
runs) both threads have their core.
As on an AVX2-only CPU (bench.py --emulate-avx2 builds the library):
  LD_PRELOAD=exports/libcpuid_avx2.so CPUID_AVX2_SITES=exports/ort_avx2/cpuid_sites.txt \
  TINYCNN_ISA=avx2 PYTHONPATH=<checkout>:<patched onnxruntime> python benchmarks/mt_steps.py M.onnx
"""
import argparse
import collections
import json
import os
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinycnn  # noqa: E402


def group_of(name, depth):
    """the first `depth` parts of a node's name, at most all but its last (the op's): a depth past
    the name's parts gave its first part alone (--depth 10 grouped ResNet-50 by layer)"""
    parts = [x for x in name.split("/") if x]
    return "/".join(parts[:max(1, min(depth, len(parts) - 1))]) if parts else name


def sessions(path, tmp):
    out = {}
    for t in (1, 2):
        so = ort.SessionOptions()
        so.intra_op_num_threads = t
        so.inter_op_num_threads = 1
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, f"ort{t}")
        out[("ort", t)] = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        so = tinycnn.SessionOptions()
        so.intra_op_num_threads = t
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, f"tc{t}")
        out[("tc", t)] = tinycnn.InferenceSession(path, so)
    return out


def node_runs(trace_path, skip):
    """{node name: [duration ms of each run]} of a trace, without the first `skip` runs."""
    per = collections.defaultdict(list)
    for e in json.load(open(trace_path)):
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per[e["name"][:-len("_kernel_time")]].append(e["dur"] / 1e3)
    return {k: v[skip:] for k, v in per.items()}


def both_table(sums_of, target):
    """per group: medians and minima of each engine at 1 and 2 threads, each engine's loss at 2
    threads against half its 1-thread time, tinycnn's excess over target x onnxruntime"""
    groups = list(sums_of[("tc", 1)])
    groups += [k for k in sums_of[("ort", 1)] if k not in groups]
    for stat, name in ((np.median, "medians"), (np.min, "minima")):
        print(f"-- {name} (ms); loss = t2 - t1 / 2; excess = tc2 - {target} x ort2")
        print(f"{'group':28s} {'tc1':>7s} {'tc2':>7s} {'x':>5s} {'ort1':>7s} {'ort2':>7s} "
              f"{'x':>5s} {'tc2/ort2':>8s} {'tc loss':>7s} {'ort loss':>8s} {'excess':>7s}")
        tot = collections.Counter()
        for k in groups:
            v = {key: float(stat(s[k])) if k in s else 0.0 for key, s in sums_of.items()}
            for key in v:
                tot[key] += v[key]
            row(k, v, target)
        row("sum", tot, target)


def row(k, v, target):
    t1, t2, o1, o2 = v[("tc", 1)], v[("tc", 2)], v[("ort", 1)], v[("ort", 2)]
    print(f"{k[-28:]:28s} {t1:7.3f} {t2:7.3f} {t1 / t2 if t2 else 0:5.2f} {o1:7.3f} {o2:7.3f} "
          f"{o1 / o2 if o2 else 0:5.2f} {t2 / o2 if o2 else 0:8.2f} {t2 - t1 / 2:7.3f} "
          f"{o2 - o1 / 2:8.3f} {t2 - target * o2:7.3f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--burst", type=int, default=5)
    ap.add_argument("--stat", choices=("median", "min", "both"), default="median")
    ap.add_argument("--join", action="append", default=[], metavar="G1,G2,...",
                    help="these groups summed as one, named after the first; repeatable")
    ap.add_argument("--target", type=float, default=0.8)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    ss = sessions(a.model, tmp)
    i = ss[("tc", 1)].get_inputs()[0]
    x = np.random.default_rng(0).standard_normal(
        [d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32)
    feed = {i.name: x}
    for s in ss.values():
        for _ in range(3):
            s.run(None, feed)
    order = list(ss)
    for r in range(a.rounds):
        for key in order if r % 2 == 0 else order[::-1]:
            if key[1] > 1:
                time.sleep(0.002)
            for _ in range(a.burst):
                ss[key].run(None, feed)
    sums_of = {}
    for key, s in ss.items():
        runs = node_runs(s.end_profiling(), 3)
        # per run sums per group
        nrun = min(len(v) for v in runs.values())
        sums = collections.defaultdict(lambda: np.zeros(nrun))
        for name, ds in runs.items():
            sums[group_of(name, a.depth)] += np.array(ds[:nrun])
        for join in a.join:
            first, *rest = join.split(",")
            for k in rest:
                if k in sums:
                    sums[first] = sums[first] + sums.pop(k)
        sums_of[key] = sums
    if a.stat == "both":
        both_table(sums_of, a.target)
        return
    stat = np.median if a.stat == "median" else np.min
    table = {}
    for key, sums in sums_of.items():
        g = collections.defaultdict(lambda: 0.0)
        for k, v in sums.items():
            g[k] = float(stat(v))
        table[key] = g
    groups = list(table[("tc", 1)].keys())
    for k in table[("ort", 1)]:
        if k not in groups:
            groups.append(k)
    print(f"{'group':40s} {'tc1':>7s} {'tc2':>7s} {'x':>5s} {'ort1':>7s} {'ort2':>7s} {'x':>5s}"
          f" {'tc2/ort2':>8s}")
    tot = collections.Counter()
    for k in groups:
        v = {key: table[key].get(k, 0.0) for key in table}
        for key in v:
            tot[key] += v[key]
        sp_t = v[("tc", 1)] / v[("tc", 2)] if v[("tc", 2)] else 0
        sp_o = v[("ort", 1)] / v[("ort", 2)] if v[("ort", 2)] else 0
        r = v[("tc", 2)] / v[("ort", 2)] if v[("ort", 2)] else 0
        print(f"{k[-40:]:40s} {v[('tc', 1)]:7.3f} {v[('tc', 2)]:7.3f} {sp_t:5.2f} "
              f"{v[('ort', 1)]:7.3f} {v[('ort', 2)]:7.3f} {sp_o:5.2f} {r:8.2f}")
    print(f"{'sum':40s} {tot[('tc', 1)]:7.3f} {tot[('tc', 2)]:7.3f} "
          f"{tot[('tc', 1)] / tot[('tc', 2)]:5.2f} {tot[('ort', 1)]:7.3f} {tot[('ort', 2)]:7.3f} "
          f"{tot[('ort', 1)] / tot[('ort', 2)]:5.2f} {tot[('tc', 2)] / tot[('ort', 2)]:8.2f}")


if __name__ == "__main__":
    main()

"""Per-step speedup of 2 threads over 1, tinycnn against onnxruntime, in one process.

Four profiled sessions (tinycnn and onnxruntime at 1 and 2 threads) run in alternating bursts;
each engine's own profiler times its nodes (tinycnn's fused steps are named after their first
node).  Nodes are grouped by the first DEPTH parts of their names; per group it prints the
median over runs of the group's time per engine and thread count, and both speedups.  The
profilers inflate small steps: use it to find candidates, then time a step alone.
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--burst", type=int, default=5)
    ap.add_argument("--stat", choices=("median", "min"), default="median")
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
    for _ in range(a.rounds):
        for s in ss.values():
            for _ in range(a.burst):
                s.run(None, feed)
    stat = np.median if a.stat == "median" else np.min
    table = {}
    for key, s in ss.items():
        runs = node_runs(s.end_profiling(), 3)
        g = collections.defaultdict(lambda: 0.0)
        # per run sums per group, then the statistic over runs
        nrun = min(len(v) for v in runs.values())
        sums = collections.defaultdict(lambda: np.zeros(nrun))
        for name, ds in runs.items():
            sums[group_of(name, a.depth)] += np.array(ds[:nrun])
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

"""Per block (or node group), two tinycnn builds against each other in one process, 1 thread
(--threads N: N-thread sessions):
this checkout's build and --against CHECKOUT's (its package copied under another name, as
subgraph_shapes.py does), both sessions profiled, run in alternating bursts (which goes first
alternates by round).  Nodes are grouped by the first DEPTH parts of their names (fused steps
are named after their first node); per group: the median (and minimum) over runs of the group's
time in each build, and the median of the per-round ratios of the groups' round medians with
their 25-75% range.  Finds which steps of a network gain or lose inside the whole network,
where a block cut alone may say otherwise.  The profiler's clock calls between steps inflate
small steps a little; both builds pay them alike.  Also prints the whole runs (model_run) and
whether the outputs are bit-identical.  As on an AVX2-only CPU:
  LD_PRELOAD=exports/libcpuid_avx2.so CPUID_AVX2_SITES=exports/ort_avx2/cpuid_sites.txt \
  TINYCNN_ISA=avx2 PYTHONPATH=<checkout>:<patched onnxruntime> \
  python benchmarks/steps_ab.py M.onnx --against ../other-checkout [--rounds 30] [--depth 2]
"""
import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tinycnn  # noqa: E402
from ab_threads import feed_and_check  # noqa: E402
from mt_steps import group_of  # noqa: E402
from subgraph_shapes import other_build  # noqa: E402


def trace(path):
    """[(run ms, {node: ms})] per run of a tinycnn trace, in order"""
    runs, cur = [], None
    for e in sorted(json.load(open(path)), key=lambda e: (e["ts"], -e["dur"])):
        if e.get("name") == "model_run":
            cur = {}
            runs.append((e["dur"] / 1e3, cur))
        elif e.get("cat") == "Node" and cur is not None:
            n = e["name"][:-len("_kernel_time")]
            cur[n] = cur.get(n, 0.0) + e["dur"] / 1e3
    return runs


def per_step(pkg):
    """pkg's profiler writes one event per step: a node's steps as '<node>#i' (its last
    name part kept after it, so that --depth groups them as their node)"""
    prof = sys.modules[pkg.__name__ + ".profiling"].Profiler

    def run(self, plan, start, end, step_times):
        self.event("Session", "model_run", start, end)
        for rec in plan.records:
            parts = rec.node.name.rsplit("/", 1)
            for i in range(rec.first_step, rec.end_step):
                name = (f"{parts[0]}#{i - rec.first_step}/{parts[-1]}" if len(parts) == 2
                        else f"{rec.node.name}#{i - rec.first_step}")
                self.event("Node", f"{name}_kernel_time", *step_times[i])
    prof.run = run


def q(r, p):
    r = sorted(r)
    return r[min(len(r) - 1, int(p * len(r)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--against", required=True, metavar="CHECKOUT")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--burst", type=int, default=5)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1,
                    help="wall times of N-thread sessions (a 2 ms pause before each burst, as "
                         "ab_threads.py: the other pool's worker asleep; under chrt -f 10)")
    ap.add_argument("--steps", action="store_true",
                    help="a node's steps apart (its name + '#i'), not the node's sum")
    ap.add_argument("--join", action="append", default=[], metavar="G1,G2,...",
                    help="these groups summed as one, named after the first (a fused node in "
                         "one build that spans several groups in the other); repeatable")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    sess = {}
    for name, pkg in (("new", tinycnn), ("old", other_build(a.against))):
        if a.steps:
            per_step(pkg)
        so = pkg.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, name)
        sess[name] = pkg.InferenceSession(a.model, so)
    feed, same = feed_and_check(sess)
    for s in sess.values():
        for _ in range(2):
            s.run(None, feed)
    order = list(sess)
    for r in range(a.rounds):
        for k in order if r % 2 == 0 else order[::-1]:
            if a.threads > 1:
                time.sleep(0.002)
            for _ in range(a.burst):
                sess[k].run(None, feed)
    skip = 3 + 1  # the check run and the warm-up runs
    per = {}
    for k, s in sess.items():
        runs = trace(s.end_profiling())[skip:]
        rows = []
        for total, nodes in runs:
            g = collections.defaultdict(float)
            for n, d in nodes.items():
                g[group_of(n, a.depth)] += d
            for join in a.join:
                first, *rest = join.split(",")
                g[first] += sum(g.pop(k, 0.0) for k in rest)
            g["(run)"] = total
            rows.append(g)
        per[k] = rows
    keys = list(per["old"][0])
    keys += [k for k in per["new"][0] if k not in keys]
    keys.remove("(run)")
    keys.append("(run)")
    nr = min(len(per["new"]), len(per["old"])) // a.burst * a.burst
    print(f"bit-identical: {same}; {a.rounds} rounds of {a.burst} runs")
    print(f"{'group (ms)':34s} {'new med':>8s} {'old med':>8s} {'new min':>8s} {'old min':>8s}"
          f"  new/old [25-75%] of round medians")
    for key in keys:
        v = {k: np.array([row.get(key, 0.0) for row in per[k][:nr]]) for k in per}
        rnd = {k: v[k].reshape(-1, a.burst) for k in v}
        ratios = [float(np.median(n)) / float(np.median(o)) if np.median(o) else 0.0
                  for n, o in zip(rnd["new"], rnd["old"])]
        print(f"{key[-34:]:34s} {np.median(v['new']):8.3f} {np.median(v['old']):8.3f} "
              f"{v['new'].min():8.3f} {v['old'].min():8.3f}  {statistics.median(ratios):6.3f} "
              f"[{q(ratios, 0.25):.3f}-{q(ratios, 0.75):.3f}]")


if __name__ == "__main__":
    main()

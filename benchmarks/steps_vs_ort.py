"""Per block (or node group), tinycnn against onnxruntime at 1 thread, in one process: each
engine's profiler times its nodes in alternating bursts; nodes are grouped by the first DEPTH
parts of their names (tinycnn's fused steps are named after their first node, so a fused
inverted residual is one group), and per group it prints the minimum and the median over runs
of the group's time, both ratios, and the excess over a target ratio (tinycnn - TARGET x
onnxruntime, median): the blocks where the target is furthest.  With --detail N, both engines'
nodes grouped at depth N too (onnxruntime's expansion, depthwise, projection; tinycnn's fused
steps, each named after its first node).  The profilers inflate small steps; a block's own
A/B is subgraph_shapes.py.  As on an AVX2-only CPU:
  LD_PRELOAD=exports/libcpuid_avx2.so CPUID_AVX2_SITES=exports/ort_avx2/cpuid_sites.txt \
  TINYCNN_ISA=avx2 PYTHONPATH=<checkout>:<patched onnxruntime> \
  python benchmarks/steps_vs_ort.py M.onnx [--rounds 30] [--depth 2] [--detail 5] [--split]
--places A:B,C:D (h50-mv): per group, each engine's medians over the runs at places A..B-1 of
its bursts and at C..D-1 (--burst 20 --places 1:5,10:20: a burst's start against its steady
state, the same runs), ranked by the late excess over --target x onnxruntime.
--join G1,G2,.. (h51-mn): groups summed as one in both engines (named after G1).
--threads N (h51-mn): both sessions at N threads (intra-op), a pause of --pause-ms (default 5)
before each burst so that the other engine's pool has stopped spinning (onnxruntime's workers
spin after a run, tinycnn's 0.2 ms): the per-step table at 2 threads.  The profilers time a
step's wall span on the calling thread.
"""
import argparse
import collections
import os
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tinycnn  # noqa: E402
from mt_steps import group_of, node_runs  # noqa: E402


def group_sums(runs, depth, keep=None, joins=()):
    """{group: array of the per-run sums of the group's nodes} (keep: a mask of the runs kept;
    joins: lists of groups summed as one, named after the first)"""
    nrun = min(len(v) for v in runs.values())
    sums = collections.defaultdict(lambda: np.zeros(nrun))
    for name, ds in runs.items():
        sums[group_of(name, depth)] += np.array(ds[:nrun])
    for first, *rest in joins:
        for k in rest:
            if k in sums:
                sums[first] += sums.pop(k)
    return sums if keep is None else {k: v[keep[:nrun]] for k, v in sums.items()}


def grouped(runs, depth, keep=None, joins=()):
    """{group: (min, median)} of the per-run sums of each group's nodes"""
    return {k: (float(np.min(v)), float(np.median(v)))
            for k, v in group_sums(runs, depth, keep, joins).items()}


def place_mask(nrun, burst, places):
    """The runs whose place in their burst (0: its first) is in places ("A:B", B excluded)."""
    a, b = (int(x) for x in places.split(":"))
    return np.isin(np.arange(nrun) % burst, np.arange(a, b))


def print_places(runs, depth, burst, early, late, target, joins=()):
    """Per group, each engine's median over the runs at the early places of its bursts and at
    the late ones, the late / early ratios (what each engine gains as a burst goes on) and the
    late excess over target x onnxruntime, ranked by it."""
    nrun = min(len(v) for r in runs.values() for v in r.values())
    m = {(eng, p): grouped(runs[eng], depth, place_mask(nrun, burst, p), joins)
         for eng in runs for p in (early, late)}
    print(f"\nby place in the burst, early {early} / late {late} (medians, ms), ranked by the "
          f"late excess over {target} x onnxruntime")
    print(f"{'group':34s} {'tc ear':>7s} {'late':>7s} {'ort ear':>7s} {'late':>7s} "
          f"{'tc l/e':>6s} {'ort l/e':>7s} {'r ear':>6s} {'r late':>6s} {'x late':>7s}")
    keys = set(m[("ort", late)]) | set(m[("tc", late)])
    rows = []
    for k in keys:
        te, tl = m[("tc", early)].get(k, (0, 0))[1], m[("tc", late)].get(k, (0, 0))[1]
        oe, ol = m[("ort", early)].get(k, (0, 0))[1], m[("ort", late)].get(k, (0, 0))[1]
        rows.append((tl - target * ol, k, te, tl, oe, ol))
    r = lambda x, y: f"{x / y:6.3f}" if y else f"{'-':>6s}"
    for x, k, te, tl, oe, ol in sorted(rows, reverse=True) + [
            (0, "sum", *(sum(row[i] for row in rows) for i in range(2, 6)))]:
        print(f"{k[-34:]:34s} {te:7.3f} {tl:7.3f} {oe:7.3f} {ol:7.3f} {r(tl, te)} "
              f"{r(ol, oe):>7s} {r(te, oe)} {r(tl, ol)} {tl - target * ol:7.3f}")


def split_modes(runs, depth, joins=()):
    """{group: (median in the fastest quarter of the runs, median in the slow half)}, the runs
    ranked by their total (all nodes) time: the host's fast and slow states (mode_steps.py)."""
    sums = group_sums(runs, depth, joins=joins)
    total = sum(sums.values())
    order = np.argsort(total)
    fast, slow = order[:max(1, len(order) // 4)], order[len(order) // 2:]
    return ({k: (float(np.median(v[fast])), float(np.median(v[slow]))) for k, v in sums.items()},
            (float(np.median(total[fast])), float(np.median(total[slow]))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--burst", type=int, default=5)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--detail", type=int, default=0)
    ap.add_argument("--target", type=float, default=0.8)
    ap.add_argument("--places", metavar="A:B,C:D",
                    help="also per group each engine's medians over the runs at places A..B-1 "
                         "of its bursts (0: a burst's first) and at C..D-1 (e.g. 1:5,10:20 with "
                         "--burst 20), ranked by the late excess over --target x onnxruntime")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--pause-ms", type=float, default=5.0,
                    help="with --threads > 1, sleep this long before each burst")
    ap.add_argument("--join", action="append", default=[], metavar="G1,G2,...",
                    help="these groups summed as one, named after the first, in both engines "
                         "(onnxruntime names a fused Conv + Relu after its Relu: MnasNet's stem "
                         "is tinycnn's layers/layers.0 and onnxruntime's layers.2, .5, .6); "
                         "repeatable, at --depth (and --detail where the names are its)")
    ap.add_argument("--split", action="store_true",
                    help="also per group the medians of each engine's fastest quarter of runs "
                         "and slow half (the host's states)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tmp, "ort")
    o = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    ts = tinycnn.SessionOptions()
    ts.intra_op_num_threads = a.threads
    ts.enable_profiling = True
    ts.profile_file_prefix = os.path.join(tmp, "tc")
    t = tinycnn.InferenceSession(a.model, ts)
    rng = np.random.default_rng(0)
    feed = {i.name: np.maximum(rng.standard_normal([d if isinstance(d, int) else 1 for d in i.shape]),
                               0).astype(np.float32) for i in t.get_inputs()}
    for s in (o, t):
        for _ in range(3):
            s.run(None, feed)
    for _ in range(a.rounds):
        for s in (o, t):
            if a.threads > 1:
                time.sleep(a.pause_ms / 1e3)
            for _ in range(a.burst):
                s.run(None, feed)
    runs = {"ort": node_runs(o.end_profiling(), 3), "tc": node_runs(t.end_profiling(), 3)}
    joins = [j.split(",") for j in a.join]
    g = {k: grouped(v, a.depth, joins=joins) for k, v in runs.items()}
    print(f"{'group (ms)':34s} {'tc min':>7s} {'med':>7s} {'ort min':>7s} {'med':>7s} "
          f"{'r min':>6s} {'r med':>6s} {'excess':>7s}")
    keys = list(g["ort"]) + [k for k in g["tc"] if k not in g["ort"]]
    tot = np.zeros(4)
    for k in keys:
        tc, on = g["tc"].get(k, (0.0, 0.0)), g["ort"].get(k, (0.0, 0.0))
        tot += (tc[0], tc[1], on[0], on[1])
        r = lambda x, y: f"{x / y:6.2f}" if y else f"{'-':>6s}"
        print(f"{k[-34:]:34s} {tc[0]:7.3f} {tc[1]:7.3f} {on[0]:7.3f} {on[1]:7.3f} "
              f"{r(tc[0], on[0])} {r(tc[1], on[1])} {tc[1] - a.target * on[1]:7.3f}")
    print(f"{'sum':34s} {tot[0]:7.3f} {tot[1]:7.3f} {tot[2]:7.3f} {tot[3]:7.3f} "
          f"{tot[0] / tot[2]:6.2f} {tot[1] / tot[3]:6.2f} {tot[1] - a.target * tot[3]:7.3f}")
    if a.split:
        m = {k: split_modes(v, a.depth, joins) for k, v in runs.items()}
        print(f"\n{'fast quarter / slow half (ms)':34s} {'tc fast':>7s} {'slow':>7s} "
              f"{'ort fast':>8s} {'slow':>7s} {'r fast':>6s} {'r slow':>6s} {'tc s/f':>6s} "
              f"{'ort s/f':>7s} {'x fast':>7s}")
        rows = [(k, m["tc"][0].get(k, (0.0, 0.0)), m["ort"][0].get(k, (0.0, 0.0))) for k in keys]
        rows.append(("total (runs ranked)", m["tc"][1], m["ort"][1]))
        for k, tc, on in rows:
            r = lambda x, y: f"{x / y:6.2f}" if y else f"{'-':>6s}"
            print(f"{k[-34:]:34s} {tc[0]:7.3f} {tc[1]:7.3f} {on[0]:8.3f} {on[1]:7.3f} "
                  f"{r(tc[0], on[0])} {r(tc[1], on[1])} {r(tc[1], tc[0])} {r(on[1], on[0]):>7s} "
                  f"{tc[0] - a.target * on[0]:7.3f}")
    if a.places:
        early, late = a.places.split(",")
        print_places(runs, a.depth, a.burst, early, late, a.target, joins)
        if a.detail:
            print_places(runs, a.detail, a.burst, early, late, a.target, joins)
    if a.detail:
        for eng in ("ort", "tc"):
            for k, v in grouped(runs[eng], a.detail, joins=joins).items():
                print(f"{eng:3s} {k[-56:]:56s} {v[0]:7.3f} {v[1]:7.3f}")


if __name__ == "__main__":
    main()

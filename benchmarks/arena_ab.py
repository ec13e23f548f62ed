"""Does the arena's layout cost time?  Sessions of ONE build in one process, each with its own
arena layout (planner._assign_offsets wrapped while the session plans): per step group, each
session's time against the first session's (median of per-round ratios of burst medians,
25-75%).  Two sessions with the same layout (--layouts base,base,...) give the spread that
where a session's buffers happen to lie costs (its physical pages, weights and arena addresses)
with no layout change at all: a layout's effect must stand out of that.  --arenas: one
session, an Arena per layout (the same weights, plan and pool; only the arena's buffer and
offsets differ), each arena's huge-page coverage printed.  Layouts:
  base        the planner's
  align:W     every storage's size rounded up to W floats, not 16 (W = 272: offsets of stacked
              tensors at multiples of 1088 bytes, staggered mod 4096)
  shift:W     every arena offset shifted by W floats (the distances between tensors kept;
              those to the workspace and weights moved)
Bursts alternate in rotating order; --threads 2 gives wall times (run it under chrt -f 10).
As on an AVX2-only CPU:
  LD_PRELOAD=exports/libcpuid_avx2.so TINYCNN_ISA=avx2 \
  python benchmarks/arena_ab.py M.onnx --layouts base,base,align:272,shift:272 [--arenas] [--threads 2]
"""
import argparse
import collections
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tinycnn  # noqa: E402
from tinycnn import planner  # noqa: E402
from mt_steps import group_of  # noqa: E402
from steps_ab import q, trace  # noqa: E402

_assign = planner._assign_offsets


def layout(spec):
    """an _assign_offsets for a layout spec (module doc)"""
    kind, _, w = spec.partition(":")
    w = int(w or 0)
    if kind == "base":
        return _assign
    if kind == "align":
        if w % planner._ALIGN:
            raise SystemExit(f"align:{w}: not a multiple of {planner._ALIGN} floats")

        def aligned(storages):
            saved, planner._ALIGN = planner._ALIGN, w
            try:
                return _assign(storages)
            finally:
                planner._ALIGN = saved
        return aligned
    if kind == "shift":
        def shifted(storages):
            end = _assign(storages)
            for s in storages:   # the arena's roots and the views inside them move together
                if s.root()[0].kind == "arena":
                    s.offset += w
            return end + w
        return shifted
    raise SystemExit(f"unknown layout {spec!r}")


def huge_kb(addr):
    """the AnonHugePages (kB) and size (kB) of the mapping holding addr (Linux), or None"""
    try:
        lines = open("/proc/self/smaps").read().splitlines()
    except OSError:
        return None
    hit = None
    for line in lines:
        head = line.split(" ", 1)[0]
        if "-" in head and ":" not in head:
            lo, hi = (int(x, 16) for x in head.split("-"))
            hit = (hi - lo) // 1024 if lo <= addr < hi else None
        elif hit is not None and line.startswith("AnonHugePages:"):
            return int(line.split()[1]), hit
    return None


def arenas(a, specs, feed):
    """one session, one Arena per layout spec (the same weights, pool and plan): the runs' arenas
    in order and the session"""
    so = tinycnn.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "one")
    s = tinycnn.InferenceSession(a.model, so)
    s.run(None, feed)
    plan = next(iter(s._plans.values()))
    base = [(st, st.offset) for st in plan.storages]
    size = plan.arena_size
    made = {}
    for name in specs:
        plan.arena_size = layout(name.split(":", 1)[1])(plan.storages)
        made[name] = planner.Arena(plan)
        made[name].buffer.fill(0)   # touched: its pages now exist
        print(f"arena {name}: huge kB / mapping kB {huge_kb(made[name].buffer.ctypes.data)}, "
              f"{plan.arena_size * 4} bytes, first offsets mod 4096 "
              f"{sorted({st.offset * 4 % 4096 for st in plan.storages if st.kind == 'arena'})[:8]}")
        for st, off in base:
            st.offset = off
        plan.arena_size = size
    order = []

    def run(name):
        with plan._lock:
            plan._free[:] = [made[name]]
        order.append(name)
        return s.run(None, feed)
    return s, run, order


def sessions(a, specs, feed):
    """a session per layout spec, each planned with it"""
    tmp = tempfile.mkdtemp()
    sess = {}
    for name in specs:
        so = tinycnn.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, name.replace(":", "_"))
        planner._assign_offsets = layout(name.split(":", 1)[1])
        try:   # the session plans here (static shapes) or on its first run
            sess[name] = tinycnn.InferenceSession(a.model, so)
            sess[name].run(None, feed)
        finally:
            planner._assign_offsets = _assign
        plan = next(iter(sess[name]._plans.values()))
        print(f"session {name}: arena {plan.arena_size * 4} bytes, first offsets mod 4096 "
              f"{sorted({st.offset * 4 % 4096 for st in plan.storages if st.kind == 'arena'})[:8]}")
    order = []

    def run(name):
        order.append(name)
        return sess[name].run(None, feed)
    return sess, run, order


def runs_of(one, order):
    """the profiled runs, one per entry of order (the layout each ran with)"""
    if isinstance(one, dict):   # a session per layout: its own trace, its planning run dropped
        its = {n: iter(trace(s.end_profiling())[1:]) for n, s in one.items()}
        return [next(its[n]) for n in order]
    return trace(one.end_profiling())[1:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--layouts", default="base,base,align:272,shift:272")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--burst", type=int, default=5)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--arenas", action="store_true",
                    help="one session, an arena per layout (its weights and pool shared): "
                         "the arena's own effect, apart from where a session's weights lie")
    a = ap.parse_args()
    names = [f"{i}:{spec}" for i, spec in enumerate(a.layouts.split(","))]
    i = tinycnn.InferenceSession(a.model).get_inputs()[0]
    feed = {i.name: np.maximum(np.random.default_rng(0).standard_normal(
        [d if isinstance(d, int) else 1 for d in i.shape]), 0).astype(np.float32)}
    if a.arenas:
        one, run, order = arenas(a, names, feed)
    else:
        one, run, order = sessions(a, names, feed)
    outs = {n: run(n) for n in names}
    for n in names:
        run(n)
    ident = all(all(np.array_equal(u, v) for u, v in zip(outs[names[0]], o))
                for o in outs.values())
    for r in range(a.rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            if a.threads > 1:
                time.sleep(0.002)
            for _ in range(a.burst):
                run(name)
    per = collections.defaultdict(list)
    for name, (total, nodes) in zip(order, runs_of(one, order)):
        g = collections.defaultdict(float)
        for n, d in nodes.items():
            g[group_of(n, a.depth)] += d
        g["(run)"] = total
        per[name].append(g)
    for name in names:
        per[name] = per[name][2:]   # the check and warm-up runs
    nr = min(len(v) for v in per.values()) // a.burst * a.burst
    ref = names[0]
    keys = [k for k in per[ref][0] if k != "(run)"] + ["(run)"]
    print(f"bit-identical across layouts: {ident}; {a.rounds} rounds of {a.burst} runs, "
          f"{a.threads} thread(s); ratio to session {ref}, median [25-75%] of round medians")
    print(f"{'group':30s} {ref + ' ms':>10s} " + " ".join(f"{n:>21s}" for n in names[1:]))
    for key in keys:
        v = {n: np.array([row.get(key, 0.0) for row in per[n][:nr]]).reshape(-1, a.burst)
             for n in names}
        base = [float(np.median(b)) for b in v[ref]]
        cols = []
        for n in names[1:]:
            rs = [float(np.median(b)) / o if o else 0.0 for b, o in zip(v[n], base)]
            cols.append(f"{statistics.median(rs):.3f} [{q(rs, .25):.3f}-{q(rs, .75):.3f}]")
        print(f"{key[-30:]:30s} {statistics.median(base):10.3f} " +
              " ".join(f"{c:>21s}" for c in cols))


if __name__ == "__main__":
    main()

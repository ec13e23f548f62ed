"""Planning constants A/B in one process, 1 thread, no rebuild: sessions of this checkout's build,
each planned with some module attributes set (a threshold in tinycnn/ops/*.py, or a planning
method made a no-op), then run in alternating rounds (the order reversed every other round),
each round's time the minimum of --burst runs on the thread's CPU clock (--threads N past 1,
h53-mn: each session at N threads, wall time, a 2 ms pause before each burst).  Prints whether each
variant's output is bit-identical to the first's, and per variant the minimum and median run and
the median [25-75%] of its per-round ratio to the first.  Repeat `base` as the last variant to
see the spread a copy of the first gives.  A constant read at run time, not while planning, is
not what this measures (every session shares the module).  As on an AVX2-only CPU:
  LD_PRELOAD=exports/libcpuid_avx2.so TINYCNN_ISA=avx2 \\
  python benchmarks/const_ab.py M.onnx 'base;tinycnn.ops.fused_pg.PG_BAND_BYTES=1048576;base'
A variant is `base` or comma-separated MODULE.NAME=VALUE (VALUE a Python literal) or
MODULE.CLASS.METHOD=noop (the method does nothing while that variant is planned), e.g.
`tinycnn.ir.NodeContext.reads_next=noop` (no step prefetches what the next reads).
Measured (h39-rg, Intel Xeon, AVX2 emulation, 1 thread, RegNetY-400MF, 30 rounds, host load
10-16, 2026-12-06 00:2x): see tinycnn/ops/fused_pg.py (PG_BAND_BYTES, PG_FUSE_MIN_BYTES) and
tinycnn/ops/se.py (the SE weights' prefetch)."""
import argparse
import ast
import importlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinycnn  # noqa: E402


def _target(path):
    """(object, attribute name) of a dotted MODULE[.CLASS].NAME"""
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for p in parts[i:-1]:
            obj = getattr(obj, p)
        return obj, parts[-1]
    raise ValueError(f"no module in {path!r}")


def _settings(variant):
    if variant == "base":
        return []
    out = []
    for kv in variant.split(","):
        name, value = kv.split("=", 1)
        obj, attr = _target(name.strip())
        value = value.strip()
        new = (lambda *a, **k: None) if value == "noop" else ast.literal_eval(value)
        out.append((obj, attr, new))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("variants", help="';'-separated: base, or MODULE.NAME=VALUE,...")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--burst", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1,
                    help="intra-op threads; past 1 each run's wall time, a pause before each burst")
    a = ap.parse_args()
    variants = a.variants.split(";")
    sessions = []
    for v in variants:
        sets = _settings(v)
        saved = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in sets]
        try:
            for obj, attr, new in sets:
                setattr(obj, attr, new)
            so = tinycnn.SessionOptions()
            so.intra_op_num_threads = a.threads
            sessions.append(tinycnn.InferenceSession(a.model, so))
        finally:
            for obj, attr, old in saved:
                setattr(obj, attr, old)
    i = sessions[0].get_inputs()[0]
    x = np.random.default_rng(0).standard_normal(
        [d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32)
    feed = {i.name: x}
    outs = [s.run(None, feed)[0] for s in sessions]
    print("bit-identical to the first:", [bool(np.array_equal(outs[0], o)) for o in outs[1:]])
    t = [[] for _ in sessions]
    clock = time.thread_time_ns if a.threads == 1 else time.perf_counter_ns
    for r in range(a.rounds):
        order = range(len(sessions)) if r % 2 == 0 else reversed(range(len(sessions)))
        for k in order:
            best = float("inf")
            if a.threads > 1:
                time.sleep(0.002)  # the other sessions' pool workers stop spinning
            for _ in range(a.burst):
                t0 = clock()
                sessions[k].run(None, feed)
                best = min(best, clock() - t0)
            t[k].append(best / 1e6)
    t = np.array(t)
    for k, v in enumerate(variants):
        rr = t[k] / t[0]
        print(f"{v[-60:]:60s} min {t[k].min():7.3f} med {np.median(t[k]):7.3f} ms  "
              f"ratio {np.median(rr):.4f} [{np.quantile(rr, .25):.4f}-{np.quantile(rr, .75):.4f}]")


if __name__ == "__main__":
    main()

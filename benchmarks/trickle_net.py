"""Inside a whole network (1 thread, one session, thread CPU time per call as cold_steps.py times
them): each step trickling the NEXT step's weights into the caches from inside its loops
(trickle.patch's hooks: tc_xnx_step at each chan8 expansion tile, GEMM tile call, 8 pixels of
the sparse projection, chan8 depthwise block of 8 channels), against no trickle, variants
alternating per round in both orders.  --ort: an onnxruntime session of the model runs once
before each timed tinycnn run (bench.py's 1-thread method leaves tinycnn's weights in memory,
not L3).  Needs a build with benchmarks/trickle.patch.  As on an AVX2-only CPU:
  TINYCNN_ISA=avx2 PYTHONPATH=<patched checkout> python benchmarks/trickle_net.py M.onnx \
      --variants 4:8:4:0,2:4:2:0 [--hint 1] [--max-kb 2048] [--rounds 20] [--ort]
A variant is CHAN8:GEMM:SPARSE:DW lines a call at those sites, "x" at its end the same chunks
with no ranges (the hooks' own cost, the control to compare with); --only I-J: only steps I
to J trickle (and their rows are printed).  Prints per variant the run's
total and its ratio to no trickle per round (median [25-75%]), then per step the medians of
the steps that moved most."""
import argparse
import ctypes
import gc
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cold_steps import one_thread_session  # noqa: E402  (puts the checkout on the path)
from tinycnn import _kernels  # noqa: E402

RANGES = 4  # tc_xnx_p's


def weight_arrays(call, lo, hi, seen_ids):
    """the float arrays of 4 KB to 16 MB reachable from a plan's call outside [lo, hi) (the
    arena) and not already in seen_ids (their addresses, updated), by address: a step's
    weights, biases and packings (a block's depthwise, expansion, projection)"""
    out, stack, seen = [], [(call, 0)], set()
    while stack:
        obj, depth = stack.pop(0)
        for r in gc.get_referents(obj):
            if id(r) in seen:
                continue
            seen.add(id(r))
            if isinstance(r, np.ndarray):
                a = r.ctypes.data
                if 4096 <= r.nbytes <= (16 << 20) and not lo <= a < hi and a not in seen_ids:
                    seen_ids.add(a)
                    out.append(r)
            elif depth < 4 and not isinstance(r, (type, str, bytes, int, float, _kernels.Context)):
                stack.append((r, depth + 1))
    return sorted(out, key=lambda r: r.ctypes.data)


def plan_arena_calls(sess, feed):
    """(plan, its arena, the run's calls in order) of sess on feed, bound as a run binds them"""
    names = tuple(o.name for o in sess.get_outputs())
    plan, feeds = sess._plan_for(feed, names, None)
    arena = plan.acquire()
    return plan, arena, list(arena.calls_for(feeds))


def step_weights(arena, calls):
    """per call, its weight_arrays outside arena's buffer, each array in the first call that
    reaches it"""
    lo, seen = arena.buffer.ctypes.data, set()
    return [weight_arrays(c, lo, lo + arena.buffer.nbytes, seen) for c in calls]


def ort_runner(model, feed):
    """a function running an onnxruntime session of model (1 thread) on feed once: the other
    engine's run between tinycnn's, as bench.py's 1-thread method has it"""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    osess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    return lambda: osess.run(None, feed)


def label(v):
    """a variant's name as given (CHAN8:GEMM:SPARSE:DW, "x": no ranges)"""
    return "none" if v is None else ":".join(map(str, v[:4])) + "x" * v[4]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--variants", default="4:8:4:0")
    ap.add_argument("--hint", type=int, default=1)
    ap.add_argument("--max-kb", type=int, default=4096)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--ort", action="store_true")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--only", default="", help="I-J: only steps I to J trickle")
    args = ap.parse_args()
    lib = ctypes.CDLL(_kernels.__file__)
    try:
        P = (ctypes.c_void_p * RANGES).in_dll(lib, "tc_xnx_p")
    except ValueError:
        sys.exit("this build has no trickle.patch hooks (tc_xnx_p)")
    N = (ctypes.c_long * RANGES).in_dll(lib, "tc_xnx_n")
    CH = (ctypes.c_long * 4).in_dll(lib, "tc_xnx_chunk")
    AT = ctypes.c_long.in_dll(lib, "tc_xnx_at")
    R = ctypes.c_int.in_dll(lib, "tc_xnx_r")
    ctypes.c_int.in_dll(lib, "tc_xnx_hint").value = args.hint
    sess, feed = one_thread_session(args.model)
    plan, arena, calls = plan_arena_calls(sess, feed)
    ranges = [[(r.ctypes.data, r.nbytes) for r in arrays] for arrays in step_weights(arena, calls)]
    n = len(calls)
    nxt = []
    first, last = (int(v) for v in args.only.split("-")) if args.only else (0, n)
    for i in range(n):
        rs, budget = [], args.max_kb * 1024 if first <= i <= last else 0
        for a, b in [r for j in range(i + 1, n) for r in ranges[j]]:
            b = min(b, budget)
            if b <= 0 or len(rs) == RANGES:
                break
            rs.append((a, (b + 63) // 64))
            budget -= b
        nxt.append(rs + [(None, 0)] * (RANGES - len(rs)))
    other = ort_runner(args.model, feed) if args.ort else None
    # a variant ending in "x": the same chunks with no ranges (the hooks' own cost)
    variants = [None] + [tuple(int(v) for v in s.rstrip("x").split(":")) + (s.endswith("x"),)
                         for s in args.variants.split(",")]
    clk = time.thread_time_ns
    T = np.zeros((len(variants), args.rounds, n))
    for c in calls:
        c()
    for r in range(args.rounds):
        order = range(len(variants)) if r % 2 == 0 else reversed(range(len(variants)))
        for vi in order:
            v = variants[vi] or (0, 0, 0, 0, False)
            for s in range(4):
                CH[s] = v[s]
            if other:
                other()
            row = T[vi, r]
            for i, c in enumerate(calls):
                rs = nxt[i] if not v[4] else nxt[-1]
                for k in range(RANGES):
                    P[k], N[k] = rs[k]
                AT.value, R.value = 0, 0
                t0 = clk()
                c()
                row[i] = clk() - t0
            for k in range(RANGES):
                P[k] = None
    for s in range(4):
        CH[s] = 0
    tot = T.sum(2)
    print(f"{os.path.basename(args.model)}: {args.rounds} rounds, hint {args.hint}, "
          f"max {args.max_kb} KB, ort {args.ort}")
    for vi, v in enumerate(variants):
        ratio = tot[vi] / tot[0]
        print(f"{label(v):12s} total "
              f"{np.median(tot[vi]) / 1e3:7.0f} us, {np.median(ratio):.4f} "
              f"[{np.percentile(ratio, 25):.4f}-{np.percentile(ratio, 75):.4f}]")
    med = np.median(T, 1) / 1e3
    moved = np.abs(med[1:] - med[0]).max(0) if len(variants) > 1 else med[0]
    print(f"{'step':>4} {'label':34s} {'next KB':>8} " + " ".join(
        f"{label(v):>10s}" for v in variants))
    for i in (range(first, min(n, last + 4)) if args.only else sorted(np.argsort(-moved)[:args.top])):
        kb = sum(b for _, b in nxt[i]) * 64 / 1024
        print(f"{i:4d} {str(plan.steps[i].label)[-34:]:34s} {kb:8.0f} "
              + " ".join(f"{med[vi, i]:10.1f}" for vi in range(len(variants))))


if __name__ == "__main__":
    main()

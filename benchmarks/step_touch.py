"""What a step pays inside a network for finding its workspace or its outputs cold, 1 thread: the
plan's calls run as a whole run does, in rounds of two plain runs and two runs in which, right
before each step (untimed), the step's workspace (--touch ws: the plan's shared workspace up to
the step's size) or its arena outputs (--touch out) are read once, bringing their lines into
L2; the two kinds alternate, the order flipped every round.  Per step: the median over runs of
its time on the thread's CPU clock each way and the difference (plain - touched, us): what the
step's first touches of those lines cost it.  Where a step's weights are cold is
cold_steps.py's (a step against its warm self); this separates two of the other lines a step
writes.  Reading 1-1.5 MB of workspace also evicts part of what the step reads (its input,
its weights from the run before), so a negative difference is that, not a gain.
  LD_PRELOAD=exports/libcpuid_avx2.so TINYCNN_ISA=avx2 PYTHONPATH=<checkout> \\
  python benchmarks/step_touch.py M.onnx [--rounds 40] [--touch ws|out|w|ws,w] [--ort] [--min-diff US]
      [--input photo]   (h50-q2: bench.input_feed's kinds, for int8 models; default uniform)
--touch w (h49-mv): the step's own weights (trickle_net.step_weights: the float arrays of 4 KB
to 16 MB its call reaches outside the arena); --ort: an onnxruntime session runs before each
kind's two runs (bench.py's 1-thread state: tinycnn's weights then come from memory).
Measured (h48-mv, Intel Xeon, AVX2 emulation, 2026-12-07 04:00-04:10, 40 rounds, nice -20, the
host loaded 1-4 by other sessions), MobileNetV2, --touch ws: the 14x14 and 7x7 chan8 blocks
(features.11-.17) faster with their workspace read first, by 0.5-32 us each in one run (85 us of
7.2 ms in all; features.17, the 320-output projection whose sparse workspace, 95 KB, reaches 35
KB past what features.16's touched, 32 us) and by 3-45 in the next, at load ~3.5 (features.12
45, .13 36, .11 17, .2 / .3 15 / 20; 178 us in all): the more other processes share the core,
the more of a step's workspace is gone when it starts.  Its d planes alone (the first E ldd
floats, a variant of this script) 2.5-7 us a block, ~25 us in all; the rest (the sparse
projection's sums, masks and the slots) features.17 25 us, the others within noise.  --touch
out: every step within +-4 us but features.2 (20, once) and .13 (-12): output lines found cold
cost nothing steady.  The blocks' in-network excess over warm (cold_steps.py --ort: 45-68 us
each for features.12-.18, the classifier 156) is then mostly their weights, whose prefetch
(ir_chan8_avx2.c TC_CHAN8_PF_TILE: the projection's lines over the strips) already fills the 7x7
blocks' room: a prefetch of the workspace lines would compete for the same misses in flight.
RegNetY-400MF: --touch ws mixed (-50 to +26 us a step): its steps' 0.8-1.6 MB workspaces evict
their own inputs when read first; block3-x's 'c' steps +6 to +11, block4-0's pair +26.
--touch w --ort (h49-mv, 60 rounds, 2026-12-07 07:38): MobileNetV2's features.11-.18 2-18 us
each (76 in all), the classifier 100 (329 -> 230 us); RegNetY's block4 grouped steps 16-18 each
(56 -> 38-43 us), its fc 50, 372 us of 9.4 ms in all: the most the weights' cold start costs.
--touch ws,w --ort (the same run's state, 60 rounds): MobileNetV2's features.11-.18 -1..+26 us
each (~110 in all, the classifier 64), where cold_steps.py --ort puts those blocks' excess over
warm at 26-62 us each (~360): about two thirds of it is neither their weights nor their
workspace (1.5-3 MB touched: past the 2 MiB L2, so these ceilings are rough)."""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cold_steps import one_thread_session  # noqa: E402
from trickle_net import ort_runner, plan_arena_calls, step_weights  # noqa: E402


def arena_outputs(plan, arena, side="outputs"):
    """Per step, int32 views of its outputs (side="inputs": its inputs) that live in the arena
    (not constants, not runs of another storage, not views into a parent's)"""
    base = arena.buffer[:plan.arena_size].view(np.int32)
    outs = []
    for st in plan.steps:
        views = []
        for v in getattr(st, side):
            s = v.storage if v is not None else None
            if (s is not None and v.const is None and s.kind == "arena" and s.runs is None
                    and s.parent is None):
                views.append(base[s.offset + v.offset:s.offset + v.offset + v.size])
        outs.append(views)
    return outs


def touch_kinds(plan, arena, calls):
    """{kind: a function giving per step the arrays that kind reads before it}: ws (the shared
    workspace up to the step's size), out (its arena outputs), w (its weights)"""
    ws = arena.buffer[plan.arena_size:].view(np.int32)
    return {"ws": lambda: [[ws[:st.workspace]] if st.workspace else [] for st in plan.steps],
            "out": lambda: arena_outputs(plan, arena),
            "w": lambda: step_weights(arena, calls)}


def timed_rounds(calls, prep, rounds, other=None):
    """(plain, prepared): per call, the medians over runs of its time (us, the thread's CPU
    clock) in plain runs and in runs where each function of prep[i] runs just before call i
    (untimed); rounds of two runs of each kind, the order flipped every round, other() (if
    given) before each kind's two runs"""
    clk = time.thread_time_ns
    n = len(calls)
    times = {0: np.zeros((2 * rounds, n)), 1: np.zeros((2 * rounds, n))}
    for r in range(rounds):
        for prepared in ((0, 1) if r % 2 == 0 else (1, 0)):
            if other:
                other()
            for k in range(2):
                row = times[prepared][2 * r + k]
                for i, c in enumerate(calls):
                    if prepared:
                        for t in prep[i]:
                            t()
                    t0 = clk()
                    c()
                    row[i] = clk() - t0
    return tuple(np.median(times[k], 0) / 1e3 for k in (0, 1))


def arg_parser(rounds, touch, kinds_help):
    """the arguments of step_touch.py and step_suspects.py: model, --rounds, --touch, --ort,
    --min-diff"""
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--rounds", type=int, default=rounds)
    ap.add_argument("--touch", default=touch, help=kinds_help)
    ap.add_argument("--ort", action="store_true",
                    help="an onnxruntime session of the model runs before each kind's two runs")
    ap.add_argument("--min-diff", type=float, default=0.0,
                    help="print only the steps whose |difference| is at least this (us)")
    ap.add_argument("--input", default="uniform",
                    help="the feed: uniform (random [0, 1), the default) or one of bench.py's "
                         "INPUTS (photo, normal, ...: an int8 model's kernels depend on it)")
    return ap


def session_feed(model, kind):
    """(a 1-thread session of model run once, its feed): kind "uniform" (cold_steps.py's) or one
    of bench.input_feed's kinds"""
    sess, feed = one_thread_session(model)
    if kind != "uniform":
        from bench import input_feed
        feed = {k: input_feed(kind, v.shape) for k, v in feed.items()}
        sess.run(None, feed)
    return sess, feed


def main():
    ap = arg_parser(40, "ws", "ws, out, w or several, e.g. ws,w")
    a = ap.parse_args()
    sess, feed = session_feed(a.model, a.input)
    plan, arena, calls = plan_arena_calls(sess, feed)
    kinds = touch_kinds(plan, arena, calls)
    touches = [[] for _ in calls]
    for kind in a.touch.split(","):
        for i, t in enumerate(kinds[kind]()):
            touches[i] += t
    other = ort_runner(a.model, feed) if a.ort else None
    plain, touched = timed_rounds(calls, [[t.sum for t in ts] for ts in touches], a.rounds, other)
    print(f"{os.path.basename(a.model)}: --touch {a.touch}, {a.rounds} rounds, medians per step, "
          f"us (diff: plain - touched)")
    for i, st in enumerate(plan.steps):
        d = plain[i] - touched[i]
        if abs(d) >= a.min_diff:
            kb = sum(t.nbytes for t in touches[i]) / 1024
            print(f"{i:3d} {st.node.name[-40:]:40s} {kb:7.0f} KB  plain {plain[i]:7.1f}  "
                  f"touched {touched[i]:7.1f}  diff {d:6.1f}")
    print(f"sum plain {plain.sum():.1f} touched {touched.sum():.1f} us")


if __name__ == "__main__":
    main()

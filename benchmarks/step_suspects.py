"""Which of its lines and which of the core's state a step finds cold inside a network, one kind
at a time (1 thread, h49-mv2): as step_touch.py, rounds of two plain runs and two runs in which,
right before each step (untimed), the kinds given are prepared in the order given; per step the
medians over runs on the thread's CPU clock and the difference (plain - prepared, us).  Kinds:
  in     the step's arena inputs read (its input and a residual, written by the steps before)
  out    its arena outputs read;  ws  its workspace read;  w  its weights read (step_touch's)
  code   the step's call run on a second arena of the same plan (same feed, same weights):
         its code, branch history and weights warm, its own activation lines not
  code2  the step's call of a second session of the model on the same feed (its own weights
         and arena): code and the branch history of the same data warm, none of the step's lines
  code3  as code2 on another random feed: code warm, the branch history of other data
code2 against code3 is what the step's data-dependent branches cost it in a run (the history a
step run three times in a row, cold_steps.py's warm, has learnt).
  LD_PRELOAD=exports/libcpuid_avx2.so TINYCNN_ISA=avx2 PYTHONPATH=<checkout> \\
  python benchmarks/step_suspects.py M.onnx [--rounds 100] [--touch code2] [--ort] [--min-diff US]
      [--repeat N]
Measured (ref49 = 5b72dea, Intel Xeon, AVX2, nice -20, --ort, 100 rounds, 2026-12-07 07:58-08:05,
sums over features.11-18, whose excess over warm cold_steps.py --ort put at 366 us): in -24..+16,
out -26..+70, ws 73-79, w 29-72, ws,w 48-210, ws,w,in,out 125-151, code 143-228, code2 110-180,
code3 -66..+99 (three processes each; code2 - code3 in one process order 177, 81, 70).  A clwb
or clflushopt of the whole arena + workspace before each step (a variant, not kept) costs the
blocks 525 us: their activation lines are mostly in L2 already.  Ranked: the branch history of
the step's own data (code2 - code3, ~70-180 us, the sparse projection's bit walks: each pixel's
walk ends on a count no predictor holds), then the workspace (~75), the weights (~30-70), the
inputs and outputs (noise).  After pw_sparse_avx2.c's walks in words of 64 (h49-mv2, the same
method, 08:18-08:20): code2 104-127, code3 111-139 in the same processes: the data's branch
history no longer shows; what code3 still gives (features.13-18 13-31 us each, where .13 runs
the code .12 just ran) is neither the code nor the data's branches: --touch idle (the same
build, 80 rounds, three processes each) gives as much with no lines touched at all: 300 us
of spinning before each step 134-155 us over features.11-18 (.13-.17 20-35 us each), 300 us of
48 x 48 float matmuls (FMA-heavy, in L1) 156-161 (66 once): not the AVX frequency license;
10 / 30 / 100 / 1000 us of spinning 10-12 / 25-31 / 54-71 / 28-35 (60 rounds, two processes):
not monotonic in the pause, so not a drain of the step before's traffic alone either; not
located (no PMU in the VM).  Nor the software prefetches (h50-pf, 10:31-10:56, host load 5-8,
40-80 rounds a process): every fp32 kernel's prefetches compiled out (relink_variant.py with
no_prefetch.h) -81..+47 us over features.11-18 (median -12, 16 processes), the base -83..+129
(median +10, 18), each family off alone medians +10..+60: the effect comes and goes.  What it
follows (h50-pf, the base, --touch idle --ort, 3 x 30 rounds in each of 11 processes, 11:07-11:10,
sums over features.11-18, 33 measurements): paused 3036 / 3076 / 3189 us (min / median / max),
plain 3032 / 3128 / 3185, the gain -38 / +34 / +129, correlated with the plain time (r 0.67) more
than with the paused (r -0.43): the pause takes the runs that are slow down to about the fast
ones' time.  Some processes repeat their gain closely (-7 / -7 / -4 with plain 3038-3045; +93 /
+129 / +120, .14-.17 +53..+83), others not (+87 / +119 / +4), the arena 2 MiB-aligned in
transparent huge pages in all; in one process of 8 x 15 rounds the whole run's gain went
-156, -140, -133, +47, -73, +106, +66, +10 us (another's -38..+95): the minute's state more than
the process's, which a pause resets; not located."""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cold_steps import one_thread_session  # noqa: E402
from step_touch import arena_outputs, arg_parser, session_feed, timed_rounds, touch_kinds  # noqa: E402
from trickle_net import ort_runner, plan_arena_calls  # noqa: E402


def other_calls(model, feed):
    """the calls of a second session of model on feed (its own weights, plan and arena), run once"""
    sess, _ = one_thread_session(model)
    sess.run(None, feed)
    return plan_arena_calls(sess, feed)[2]


def main():
    ap = arg_parser(100, "code2",
                    "in, out, ws, w, code, code2, code3, idle or several, e.g. ws,w,in")
    ap.add_argument("--idle-us", type=float, default=300.0, help="--touch idle's pause")
    ap.add_argument("--repeat", type=int, default=1,
                    help="measure this many times in the one process (the sums of each printed; "
                         "the per-step table is the last's): whether a difference is the "
                         "process's or the minute's")
    a = ap.parse_args()
    sess, feed = session_feed(a.model, a.input)
    plan, arena, calls = plan_arena_calls(sess, feed)
    kinds = a.touch.split(",")
    scratch = None
    if "code" in kinds:
        names = tuple(o.name for o in sess.get_outputs())
        scratch = list(plan.acquire().calls_for(sess._plan_for(feed, names, None)[1]))
        for c in scratch:
            c()
    touch = touch_kinds(plan, arena, calls)

    def reads(kind):
        return lambda: [[t.sum for t in ts] for ts in kind()]
    make = {k: reads(f) for k, f in touch.items()}
    make.update({"in": reads(lambda: arena_outputs(plan, arena, "inputs")),
                 "code": lambda: [[c] for c in scratch],
                 "code2": lambda: [[c] for c in other_calls(a.model, feed)],
                 "code3": lambda: [[c] for c in other_calls(a.model, {
                     k: np.random.default_rng(7).random(v.shape, np.float32)
                     for k, v in feed.items()})]})
    tiny = np.ones(512, np.float32)
    spin_ns = int(a.idle_us * 1e3)

    def idle():
        end = time.perf_counter_ns() + spin_ns
        while time.perf_counter_ns() < end:
            tiny.sum()
    make["idle"] = lambda: [[idle] for _ in calls]
    prep = [[] for _ in calls]
    for kind in kinds:
        for i, t in enumerate(make[kind]()):
            prep[i] += t
    other = ort_runner(a.model, feed) if a.ort else None
    for r in range(a.repeat):
        plain, prepared = timed_rounds(calls, prep, a.rounds, other)
        if a.repeat > 1:
            print(f"repeat {r}: sum plain {plain.sum():.1f} prepared {prepared.sum():.1f} us, "
                  f"diff {plain.sum() - prepared.sum():.1f}", flush=True)
    print(f"{os.path.basename(a.model)}: --touch {a.touch}, {a.rounds} rounds"
          f"{' --ort' if a.ort else ''}, medians per step, us (diff: plain - prepared)")
    for i, st in enumerate(plan.steps):
        d = plain[i] - prepared[i]
        if abs(d) >= a.min_diff:
            print(f"{i:3d} {st.node.name[-40:]:40s} plain {plain[i]:7.1f}  prepared "
                  f"{prepared[i]:7.1f}  diff {d:6.1f}")
    print(f"sum plain {plain.sum():.1f} prepared {prepared.sum():.1f} us, "
          f"diff {plain.sum() - prepared.sum():.1f}")


if __name__ == "__main__":
    main()

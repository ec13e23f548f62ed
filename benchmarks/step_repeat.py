"""A step inside a whole network against itself run again at once (1 thread): each round runs
the plan's calls in order, the steps whose node name holds --only (default: every step) K
times in a row (--repeat), each call timed on the thread's CPU clock; per step the median and
the minimum over rounds of its first to K-th call.  The first call is the step in the
network; the later ones have its code, branch history, weights and activation lines warm.
The steps must not write over their inputs (a residual accumulated in place, an activation
in place): a repeat then reads other data, and this times another input.
  LD_PRELOAD=exports/libcpuid_avx2.so TINYCNN_ISA=avx2 PYTHONPATH=<checkout> \\
  python benchmarks/step_repeat.py M.onnx [--only conv.0/] [--repeat 5] [--rounds 30]
      [--input photo] [--match 'features.1[234]/conv/conv.0/']
Under valgrind (--rounds 1, h51-q): the counts of --repeat 11 less those of --repeat 1 are ten
calls of the matched steps on the network's own activations (callgrind, cachegrind's branches).
Measured (h50-q2, ref50 = 9bb2163, Intel Xeon, emulated AVX2, nice -20, 30 rounds,
2026-12-07 10:55): MobileNetV2 int8 on the photograph, the 14x14 expansions 96 -> 576
(features.12-14 conv.0) medians 158.5 / 152.1 / 150.8 / 150.5 / 150.3 us over calls 1-5
(.13, .14 alike: 157 -> 151), minima 152 -> 137 (.13 150 -> 138, .14 145 -> 138); the 64 ->
384 ones (features.10-11) 76-81 -> 71.  The in-network excess over warm is 5-8 us a step
(medians); the rest of the gap to qpw_ab.c's 133 us is the real data (see benchmarks/README.md,
h50-q2)."""
import argparse
import os
import re
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from step_touch import session_feed  # noqa: E402
from trickle_net import plan_arena_calls  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--only", default="", help="the steps whose node name holds this")
    ap.add_argument("--match", help="or: the steps whose node name this regex finds")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--input", default="uniform", help="step_touch.session_feed's kinds")
    a = ap.parse_args()
    sess, feed = session_feed(a.model, a.input)
    plan, arena, calls = plan_arena_calls(sess, feed)
    idx = [i for i, st in enumerate(plan.steps)
           if (re.search(a.match, st.node.name) if a.match else a.only in st.node.name)]
    clk = time.thread_time_ns
    res = {i: np.zeros((a.rounds, a.repeat)) for i in idx}
    for r in range(a.rounds):
        for i, c in enumerate(calls):
            for k in range(a.repeat if i in res else 1):
                t0 = clk()
                c()
                if i in res:
                    res[i][r, k] = clk() - t0
    print(f"{os.path.basename(a.model)}: calls 1-{a.repeat} in a row, {a.rounds} rounds, us: "
          "medians | minima")
    for i in idx:
        med, mn = np.median(res[i], 0) / 1e3, res[i].min(0) / 1e3
        print(f"{i:3d} {plan.steps[i].node.name[-40:]:40s} " + " ".join(f"{x:6.1f}" for x in med)
              + " | " + " ".join(f"{x:6.1f}" for x in mn))


if __name__ == "__main__":
    main()

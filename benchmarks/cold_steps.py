"""Per step of a network, 1 thread, tinycnn alone: the step's time inside a whole run against
its time "warm" (run three times in a row, the third timed: its weights, inputs, outputs and
workspace in the caches).  The difference is what the step pays for finding its data cold
inside the network: the weights streamed from memory (each step's are read once per run, a
network's 14-22 MB do not stay in the caches), its output written on lines another step used
long ago, its input evicted by the steps in between.  Each run's calls are timed one by one on
the thread's CPU clock (the plan's calls as a run makes them, without the profiler); rounds
alternate whole runs (two, timed) and the warm repetitions.  Prints the total of both, the
steps with the largest excess and the first steps of the run.  As on an AVX2-only CPU:
  TINYCNN_ISA=avx2 PYTHONPATH=<checkout> python benchmarks/cold_steps.py M.onnx [--rounds 30]
      [--top 15] [--first 4] [--skip I,J] [--ort [--burst 5]]
--skip: those steps are left out of the whole runs (shown as 0 there), e.g. the classifier's, to
see what their reads cost the other steps (the data they evict from L3 before the next run).
--ort: an onnxruntime session of the same model (1 thread) in the process, as bench.py times 1
thread: each round onnxruntime runs a burst (BURST + 1 runs), then tinycnn one untimed run and
BURST timed ones (the whole runs' rows), then the warm repetitions: what each step pays for the
other engine's data between its bursts.
Measured with it (h39-mn, Intel Xeon host of 2026-12-06, 300 MB L3, AVX2, chrt -f 10, MnasNet):
alone 8587 us in the network against 8442 warm (+145, 40 rounds; the classifier 210 against 202:
its 5 MB stay in L3 between runs), again 8351 / 8131 (+220, 20 rounds); with --ort (20 rounds x
5) 9157 / 8660 (+498): the classifier 405 against 204 (its weights from memory: the other
engine's data between the bursts), every other step +2 to +40 as alone.  So bench.py's 1-thread
method (both engines in one process) charges tinycnn's classifier ~200 us a run that a process
running tinycnn alone does not pay; onnxruntime's Gemm pays its own (0.39-0.47 ms profiled).

Measured with it (Zen 4 host, AVX2 kernels, 30 rounds, 2026-12-04, n29-cold), median per step:
MobileNetV3-Large 5.61 ms in the network against 4.94 ms warm (+0.67 ms): the two classifier
GEMVs 175 / 186 us against 58 / 63 (their 10 MB of weights from memory, about 28 GB/s), the
five SE steps with 0.5-1.8 MB of weights 2.5-2.8 times their warm time (+150 us), the stem's
first two steps +54 and +42 us (the feed read from memory, the depthwise's 0.8 MB output on
lines only it writes); MobileNetV2 6.77 against 6.41 ms: the classifier +107 us, the banded
stem block +92 us, every other step within 1-15 us.  The weights dominate: where the excess is
not the weights, arena placement can move at most the stem's tens of microseconds (see
planner._assign_offsets).
Re-measured (n31-pf, same host, 15 rounds, 2026-12-04 21:0x): MobileNetV2 6638 us in the network
against 6387 warm (+250: the classifier +72, the stem block +40, the 23 inverted-residual and
1x1 steps +2 to +12 each, +138 in all, 1.00-1.06 of their warm time: their weights are not where
the 1x1 layers lose); V3-Large 5365 against 4843 (+521: the classifiers +83 and +107, the SE
steps' gates +98, the stem +76, features.14 / .15's first steps +20 each).  With the classifier
left out (--skip, 15 rounds) the other steps of MobileNetV2 took 41 us less (0.6%, mostly the
stem), V3-Large's 14 us: its 5-10 MB are not what evicts the other steps' weights.  Prefetching
the classifier's weights in the step before it: csrc/gemm_avx2.c above panel16_fixed.  The same
timing on an unfused session (ORT_ENABLE_BASIC, one step per ONNX node, 10 rounds): MobileNetV2's
1x1 layers 536 MFLOP, 5481 us in the network (97.8 GF/s, peak ~108), 5428 warm; every 14x14 and
7x7 one at 100-110 GF/s in the network, the losses at 112x112 and 56x56 (features.2's 16 -> 96
75 GF/s, features.1's 32 -> 16 70, features.3-4 88-93); V3-Large's 94.2 GF/s in the network, 97.9
warm, its 112x112 ones 55-76 GF/s and its SE gates' 1x1 layers 10-15 GF/s (20-23 warm).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinycnn  # noqa: E402


def one_thread_session(model, threads=1):
    """(a session of model on `threads` threads (1 by default), a random feed of its inputs),
    run once"""
    so = tinycnn.SessionOptions()
    so.intra_op_num_threads = threads
    sess = tinycnn.InferenceSession(model, so)
    feed = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]
        feed[i.name] = np.random.default_rng(0).random(shape, np.float32)
    sess.run(None, feed)
    return sess, feed


def plan_calls(sess, feed):
    """(plan, the run's calls in order) of sess on feed, bound as a run binds them"""
    names = tuple(o.name for o in sess.get_outputs())
    plan, feeds = sess._plan_for(feed, names, None)
    arena = plan.acquire()
    return plan, list(arena.calls_for(feeds))


def step_times(calls, rounds, clk, skip=(), other=None, burst=5):
    """Per step, the median over rounds of its time inside whole runs (two a round, or `burst`
    after one untimed run when other, another engine's run(), runs burst + 1 times first) and
    warm (its third call in a row), in us, on the clock clk (ns)"""
    n = len(calls)
    per = burst if other else 2
    net = np.zeros((per * rounds, n))
    warm = np.zeros((rounds, n))
    for r in range(rounds):
        if other:
            for _ in range(burst + 1):
                other()
            for c in calls:
                c()
        for k in range(per):
            row = net[per * r + k]
            for i, c in enumerate(calls):
                if i in skip:
                    continue
                t0 = clk()
                c()
                row[i] = clk() - t0
        for i, c in enumerate(calls):
            c()
            c()
            t0 = clk()
            c()
            warm[r, i] = clk() - t0
    return np.median(net, 0) / 1e3, np.median(warm, 0) / 1e3


def threads_table(model, threads, rounds):
    """--threads N: the same at 1 and N threads side by side, on the wall clock (run it under
    chrt -f 10): which steps a second thread speeds up less warm (the partition) or only in
    the network (data the step finds cold)"""
    res = {}
    for t in (1, threads):
        sess, feed = one_thread_session(model, t)
        plan, calls = plan_calls(sess, feed)
        res[t] = step_times(calls, rounds, time.perf_counter_ns) + (plan,)
    (n1, w1, plan), (nt, wt, _) = res[1], res[threads]
    print(f"{os.path.basename(model)}: 1 / {threads} threads, wall us, {rounds} rounds, medians "
          f"per step; x: the speedup in the network / warm")
    print(f"{'step':>4} {'node':36s} {'net1':>7} {'warm1':>7} {'net' + str(threads):>7} "
          f"{'warm' + str(threads):>7} {'x net':>6} {'x warm':>6}")
    for i, st in enumerate(plan.steps):
        print(f"{i:4d} {st.node.name[-36:]:36s} {n1[i]:7.1f} {w1[i]:7.1f} {nt[i]:7.1f} "
              f"{wt[i]:7.1f} {n1[i] / nt[i]:6.2f} {w1[i] / wt[i]:6.2f}")
    print(f"{'':4s} {'sum':36s} {n1.sum():7.1f} {w1.sum():7.1f} {nt.sum():7.1f} {wt.sum():7.1f} "
          f"{n1.sum() / nt.sum():6.2f} {w1.sum() / wt.sum():6.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--first", type=int, default=4, help="also print the run's first steps")
    ap.add_argument("--skip", default="", help="steps I,J left out of the whole runs")
    ap.add_argument("--threads", type=int, default=1,
                    help="N > 1: 1 and N threads side by side, wall clock (under chrt -f 10)")
    ap.add_argument("--ort", action="store_true",
                    help="an onnxruntime session runs a burst before each round's whole runs")
    ap.add_argument("--burst", type=int, default=5, help="with --ort: runs a burst")
    args = ap.parse_args()
    if args.threads > 1:
        threads_table(args.model, args.threads, args.rounds)
        return
    sess, feed = one_thread_session(args.model)
    plan, calls = plan_calls(sess, feed)
    n = len(calls)
    skip = {int(i) for i in args.skip.split(",") if i}
    other = None
    if args.ort:
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = so.inter_op_num_threads = 1
        o = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
        ofeed = dict(feed)
        o.run(None, ofeed)

        def other():
            o.run(None, ofeed)
    netm, warmm = step_times(calls, args.rounds, time.thread_time_ns, skip, other, args.burst)
    print(f"{os.path.basename(args.model)}: {n} steps, in the network {netm.sum():.0f} us, "
          f"warm {warmm.sum():.0f} us, excess {netm.sum() - warmm.sum():.0f} us "
          f"({args.rounds} rounds, medians per step"
          f"{', onnxruntime bursts between' if args.ort else ''})")
    shown = set(np.argsort(warmm - netm)[:args.top]) | set(range(min(args.first, n)))
    print(f"{'step':>4} {'node':40s} {'label':28s} {'network':>8} {'warm':>8} {'excess':>7} ratio")
    for i in sorted(shown):
        st = plan.steps[i]
        print(f"{i:4d} {st.node.name[-40:]:40s} {st.label[:28]:28s} {netm[i]:8.1f} {warmm[i]:8.1f} "
              f"{netm[i] - warmm[i]:7.1f} {netm[i] / max(warmm[i], 1e-9):5.2f}")


if __name__ == "__main__":
    main()

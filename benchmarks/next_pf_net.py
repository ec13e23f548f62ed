"""Inside a whole network (1 thread, one session, thread CPU time per call as cold_steps.py times
them): the weights of GEMM steps (a classifier's Gemm) prefetched by the in-place 1x1 strips of
an earlier step (next_pf.patch's tc_xpf_cur / tc_xpf_end: one line every MASK + 1 k steps of
panel16_fixed), against no prefetch, variants alternating per round.  Needs a build with
benchmarks/next_pf.patch (an experiment: see the comment above panel16_fixed in
csrc/gemm_avx2.c).  As on an AVX2-only CPU:
  TINYCNN_ISA=avx2 PYTHONPATH=<patched checkout> python benchmarks/next_pf_net.py M.onnx \
      --pf-step 23 --gemm-steps 25 [--masks 1,3] [--rounds 25]
Prints per variant the run's total, its ratio to no prefetch per round (median [25-75%]), the
prefetching step's and the GEMM steps' medians.  The prefetch covers the first GEMM step's
weights from their start (as far as the prefetching step's strips reach)."""
import argparse
import ctypes
import gc
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cold_steps import one_thread_session, plan_calls  # noqa: E402  (puts the checkout on the path)
from tinycnn import _kernels  # noqa: E402


def largest_matrix(obj, depth=0, seen=None):
    """the largest 2-D float32 array reachable from obj in a few steps (a Dense's weight)"""
    seen = set() if seen is None else seen
    best = None
    for r in gc.get_referents(obj):
        if id(r) in seen:
            continue
        seen.add(id(r))
        if isinstance(r, np.ndarray):
            if r.dtype == np.float32 and r.ndim == 2 and (best is None or r.size > best.size):
                best = r
        elif depth < 4 and not isinstance(r, (type, str, bytes, int, float)):
            b = largest_matrix(r, depth + 1, seen)
            if b is not None and (best is None or b.size > best.size):
                best = b
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--pf-step", type=int, required=True)
    ap.add_argument("--gemm-steps", required=True)
    ap.add_argument("--masks", default="1,3")
    ap.add_argument("--rounds", type=int, default=25)
    args = ap.parse_args()
    lib = ctypes.CDLL(_kernels.__file__)
    try:
        cur = ctypes.c_void_p.in_dll(lib, "tc_xpf_cur")
    except ValueError:
        sys.exit("this build has no next_pf.patch hooks (tc_xpf_cur)")
    end = ctypes.c_void_p.in_dll(lib, "tc_xpf_end")
    mask = ctypes.c_int.in_dll(lib, "tc_xpf_mask")
    ctypes.c_int.in_dll(lib, "tc_xpf_hint").value = 1
    sess, feed = one_thread_session(args.model)
    plan, calls = plan_calls(sess, feed)
    gemms = [int(s) for s in args.gemm_steps.split(",")]
    w = largest_matrix(calls[gemms[0]])
    print(f"step {args.pf_step} ({plan.steps[args.pf_step].label}) prefetches step {gemms[0]}'s "
          f"weight {w.shape} ({w.nbytes / 1e6:.1f} MB)")
    lo, hi = w.ctypes.data, w.ctypes.data + w.nbytes
    variants = [None] + [int(m) for m in args.masks.split(",")]
    n, clk = len(calls), time.thread_time_ns
    T = np.zeros((len(variants), 2 * args.rounds, n))
    for r in range(args.rounds):
        for vi in (range(len(variants)) if r % 2 == 0 else reversed(range(len(variants)))):
            v = variants[vi]
            for k in range(2):
                row = T[vi, 2 * r + k]
                for i, c in enumerate(calls):
                    if i == args.pf_step and v is not None:
                        cur.value, end.value, mask.value = lo, hi, v
                    t0 = clk()
                    c()
                    row[i] = clk() - t0
                    if i == args.pf_step:
                        end.value = 0
    tot = T.sum(2)
    for vi, v in enumerate(variants):
        m = np.median(T[vi], 0) / 1e3
        ratio = tot[vi] / tot[0]
        print(f"{'none' if v is None else f'mask {v}':8s} total {np.median(tot[vi]) / 1e3:7.0f} us, "
              f"{np.median(ratio):.4f} [{np.percentile(ratio, 25):.4f}-{np.percentile(ratio, 75):.4f}]"
              f"  step {args.pf_step} {m[args.pf_step]:6.1f}  "
              + "  ".join(f"step {g} {m[g]:6.1f}" for g in gemms))


if __name__ == "__main__":
    main()

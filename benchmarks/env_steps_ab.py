"""Per-step A/B of environment switches at N threads, ONE session per process (h37-sq2).

mt_inproc.py alternates variants inside one process, each its own session: at 2 threads under
SCHED_FIFO that puts two pools' workers on 2 vCPUs, and on the Xeon KVM guest (2026-12-05
17:2x) every 2-thread session of such a process ran at its 1-thread speed (SqueezeNet 6.8 ms
a run against 4.1 with one session: a pool's worker spinning at FIFO priority keeps the other
pool's worker off its CPU, which then stands aside).  Here each process runs one variant (an
environment variable a temporary switch in an experimental build reads, or `base`), the
variants alternating process by process (the order flipped every round), under chrt -f 10
with --fifo (root; short runs).  Per process each step's MINIMUM wall time over --runs
profiled runs (tinycnn's run_profiled, a node's steps summed) and the run's median wall;
printed: per variant the median over its processes (processes whose median run is over --slow
times the fastest process's left out: there the worker never got its core), and each step's
ratio to the first variant.  Outputs are checked bit-identical between variants (first output, same input).
A variant may also be a checkout's absolute path (its build on PYTHONPATH, no switch): two
builds' steps side by side, one session a process.
  TINYCNN_ISA=avx2 PYTHONPATH=<checkout> python benchmarks/env_steps_ab.py MODEL.onnx \\
      base,TC_X_SWITCH=1 [--threads 2] [--rounds 6] [--runs 150] [--fifo]
  TINYCNN_ISA=avx2 python benchmarks/env_steps_ab.py MODEL.onnx /work/wt/ref37,/work/wt/mine --fifo"""
import argparse
import collections
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time


def worker(model, threads, runs):
    import numpy as np
    import tinycnn  # the checkout on PYTHONPATH (a variant's own for a /path variant)
    so = tinycnn.SessionOptions()
    so.intra_op_num_threads = threads
    sess = tinycnn.InferenceSession(model, so)
    i = sess.get_inputs()[0]
    x = np.random.default_rng(0).standard_normal(
        [d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32)
    for _ in range(5):
        out = sess.run(None, {i.name: x})[0]
    best = {}
    wall = []
    for _ in range(runs):
        t = time.perf_counter()
        recs = sess.run_profiled({i.name: x})[1]
        wall.append((time.perf_counter() - t) * 1e3)
        d = collections.defaultdict(float)
        for rec in recs:
            d[rec["node"]] += rec["seconds"] * 1e3
        for k, v in d.items():
            best[k] = min(best.get(k, v), v)
    return {"digest": hashlib.sha256(np.ascontiguousarray(out).tobytes()).hexdigest(),
            "wall": statistics.median(wall), "best": best}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("variants", help="comma-separated: NAME=VALUE, base or /CHECKOUT")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--runs", type=int, default=150)
    ap.add_argument("--fifo", action="store_true", help="each process under chrt -f 10")
    ap.add_argument("--slow", type=float, default=1.3,
                    help="leave out processes whose median run exceeds this x the fastest's")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print("JSON " + json.dumps(worker(a.model, a.threads, a.runs)))
        return
    variants = a.variants.split(",")
    names = {v.split("=", 1)[0] for v in variants if "=" in v}
    res = {v: [] for v in variants}
    for r in range(a.rounds):
        for v in (variants if r % 2 == 0 else variants[::-1]):
            env = {k: val for k, val in os.environ.items() if k not in names}
            if v.startswith("/"):  # a checkout: its build, no switch
                env["PYTHONPATH"] = v
            elif "=" in v:
                k, val = v.split("=", 1)
                env[k] = val
            cmd = (["chrt", "-f", "10"] if a.fifo else []) + [
                sys.executable, os.path.abspath(__file__), a.model, v, "--threads",
                str(a.threads), "--runs", str(a.runs), "--worker"]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
            res[v].append(json.loads([ln for ln in out.splitlines() if ln.startswith("JSON ")][-1][5:]))
    digests = {d["digest"] for v in variants for d in res[v]}
    print("outputs bit-identical across variants and processes" if len(digests) == 1
          else f"outputs DIFFER: {len(digests)} digests")
    b = variants[0]
    for v in variants:
        w = [d["wall"] for d in res[v]]
        print(f"{v}: run median wall per process {', '.join(f'{x:.2f}' for x in w)} ms")
    # a process whose worker never got its core runs at 1-thread speed all its life: left out
    best_wall = min(d["wall"] for v in variants for d in res[v])
    for v in variants:
        keep = [d for d in res[v] if d["wall"] <= a.slow * best_wall]
        if len(keep) < len(res[v]):
            print(f"{v}: {len(res[v]) - len(keep)} slow process(es) left out (wall > {a.slow} x "
                  f"the fastest process's {best_wall:.2f} ms)")
        res[v] = keep or res[v]
    steps = list(res[b][0]["best"])
    med = {v: {k: statistics.median(d["best"][k] for d in res[v]) for k in steps} for v in variants}
    print(f"{'step (min us, median of processes)':44s} " + " ".join(f"{v[-10:]:>10s}" for v in variants))
    for k in steps:
        print(f"{k[-44:]:44s} " + " ".join(f"{med[v][k] * 1e3:10.1f}" for v in variants) + "  " +
              " ".join(f"{med[v][k] / med[b][k]:6.3f}" if med[b][k] else "   nan"
                       for v in variants[1:]))
    tot = {v: sum(med[v].values()) for v in variants}
    print(f"{'sum of step minima':44s} " + " ".join(f"{tot[v] * 1e3:10.1f}" for v in variants) +
          "  " + " ".join(f"{tot[v] / tot[b]:6.3f}" for v in variants[1:]))


if __name__ == "__main__":
    main()

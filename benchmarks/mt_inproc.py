"""Per-step A/B inside ONE tinycnn process, the variants alternating run by run, over several
short processes (optionally each under SCHED_FIFO: chrt -f 10, root, a few seconds each).
A variant is
  tN           a session of N threads (t1,t2: where 2 threads lose against half the 1-thread time)
  NAME=VALUE   an environment variable set for the run (os.environ, so a C getenv() read at the
               call sees it: a temporary switch in an experimental build), on the --threads
               session; `base` for none of the variables the other variants name.
`--input KIND` feeds bench.input_feed's kind (default normal: standard normal noise; photo
for int8, whose U7S8 steps depend on the bytes).
Outputs are checked bit-identical between variants first.  Prints each variant's wall per run
(median, 25-75%), the paired per-run wall ratio to the first variant, and per-step wall medians
(tinycnn's profiler, perf_counter) summed by group: --groups resnet (layerN, its 3x3 `conv2`
steps apart from the rest) or none; --nodes prints every step too.

mt_procs.py compares whole processes, whose 2-thread times on this shared 2-vCPU host move by
20-50% from one process to the next (which vCPU, the host's other tenants); alternating inside
a process moves the untouched layers' sums by 0.5-1% (n27-r50q, 2026-12-04, under SCHED_FIFO).
As on an AVX2-only CPU:
  LD_PRELOAD=.../libcpuid_avx2.so CPUID_AVX2_SITES=... TINYCNN_ISA=avx2 PYTHONPATH=<checkout> \\
  python benchmarks/mt_inproc.py M.onnx t1,t2 [--fifo] [--procs 6] [--runs 40] [--input photo]
  python benchmarks/mt_inproc.py M.onnx base,TC_SOME_SWITCH=1 --threads 2 --fifo
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import time

import numpy as np


def env_names(variants):
    return sorted({v.split("=", 1)[0] for v in variants if "=" in v})


def set_variant(v, names):
    for n in names:
        os.environ.pop(n, None)
    if "=" in v:
        k, val = v.split("=", 1)
        os.environ[k] = val


def worker(model, variants, threads, runs, kind="normal"):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import tinycnn
    from bench import input_feed
    names = env_names(variants)
    sess = {}
    for v in variants:
        so = tinycnn.SessionOptions()
        so.intra_op_num_threads = int(v[1:]) if v[:1] == "t" and v[1:].isdigit() else threads
        sess[v] = tinycnn.InferenceSession(model, so)
    i = sess[variants[0]].get_inputs()[0]
    x = input_feed(kind, [d if isinstance(d, int) else 1 for d in i.shape])
    outs = {}
    for v in variants:
        set_variant(v, names)
        for _ in range(3):
            outs[v] = sess[v].run(None, {i.name: x})[0]
    same = {v: bool(np.array_equal(outs[v], outs[variants[0]])) for v in variants}
    wall = {v: [] for v in variants}
    per = {v: collections.defaultdict(list) for v in variants}
    for r in range(runs):
        for v in (variants if r % 2 == 0 else variants[::-1]):
            set_variant(v, names)
            t = time.perf_counter()
            recs = sess[v].run_profiled({i.name: x})[1]
            wall[v].append((time.perf_counter() - t) * 1e3)
            d = collections.defaultdict(float)
            for rec in recs:
                d[rec["node"]] += rec["seconds"] * 1e3
            for k, val in d.items():
                per[v][k].append(val)
    set_variant("", names)
    return {"same": same, "wall": wall, "per": per}


def group_of(node, how):
    if how == "resnet":
        for layer in ("layer1", "layer2", "layer3", "layer4"):
            if layer in node:
                return layer + (" 3x3" if "conv2" in node else " rest")
        return "other"
    return node


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("variants", help="comma-separated: tN or NAME=VALUE or base")
    ap.add_argument("--threads", type=int, default=2, help="threads of the NAME=VALUE variants")
    ap.add_argument("--procs", type=int, default=6)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--fifo", action="store_true", help="each process under chrt -f 10")
    ap.add_argument("--groups", choices=("resnet", "none"), default="resnet")
    ap.add_argument("--nodes", action="store_true")
    ap.add_argument("--input", default="normal",
                    help="the feed (bench.input_feed: normal, relu, photo, zeros); default "
                         "standard normal noise")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    variants = a.variants.split(",")
    if a.worker:
        print("JSON " + json.dumps(worker(a.model, variants, a.threads, a.runs, a.input)))
        return
    wall = {v: [] for v in variants}
    per = {v: collections.defaultdict(list) for v in variants}
    for p in range(a.procs):
        order = variants if p % 2 == 0 else variants[::-1]
        cmd = (["chrt", "-f", "10"] if a.fifo else []) + [
            sys.executable, os.path.abspath(__file__), a.model, ",".join(order),
            "--threads", str(a.threads), "--runs", str(a.runs), "--input", a.input, "--worker"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        d = json.loads([ln for ln in out.splitlines() if ln.startswith("JSON ")][-1][5:])
        for v in variants:
            if not d["same"][v] or not d["same"][order[0]]:
                print(f"process {p}: {v} output DIFFERS from {order[0]}")
            wall[v] += d["wall"][v]
            for k, val in d["per"][v].items():
                per[v][k] += val
    b = variants[0]
    for v in variants:
        w = np.array(wall[v])
        print(f"{v}: wall per run median {np.median(w):.2f} ms "
              f"[{np.percentile(w, 25):.2f}-{np.percentile(w, 75):.2f}], {len(w)} runs")
    for v in variants[1:]:
        r = np.array(wall[v]) / np.array(wall[b])
        print(f"{v} / {b}: paired wall ratio median {np.median(r):.3f} "
              f"[{np.percentile(r, 25):.3f}-{np.percentile(r, 75):.3f}]")
    groups = collections.defaultdict(lambda: collections.defaultdict(float))
    for k in per[b]:
        meds = {v: float(np.median(per[v][k])) if per[v][k] else 0.0 for v in variants}
        for v in variants:
            groups[group_of(k, a.groups)][v] += meds[v]
        if a.nodes:
            print(f"{k[-44:]:44s} " + " ".join(f"{meds[v]:7.3f}" for v in variants))
    print(f"{'group':16s} " + " ".join(f"{v[-9:]:>9s}" for v in variants) + "   / " + b)
    for g in groups:
        s = groups[g]
        print(f"{g[-16:]:16s} " + " ".join(f"{s[v]:9.3f}" for v in variants) + "  " +
              " ".join(f"{s[v] / s[b]:6.3f}" if s[b] else "   nan" for v in variants[1:]))
    tot = {v: sum(groups[g][v] for g in groups) for v in variants}
    print(f"{'sum':16s} " + " ".join(f"{tot[v]:9.3f}" for v in variants))


if __name__ == "__main__":
    main()

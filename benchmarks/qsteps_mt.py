"""Per step of a network, 1 and 2 threads, tinycnn against onnxruntime: each engine and thread
count in processes of its own (as mt_procs.py), each step's MINIMUM wall time over --runs
profiled runs (tinycnn: perf_counter around each call of run_profiled, the steps of one node
summed; onnxruntime: its profiler's node times), then the median of those minima over
--rounds processes.  Steps are matched as in qsteps.py (onnxruntime's node -> the tinycnn step
whose node name is its longest prefix), else by graph order (the last tinycnn step at or before
the graph node the onnxruntime name starts with: its NCHWc nodes, named after their Relu, and
nodes tinycnn fuses or leaves out, e.g. SqueezeNet's Concat, counted in the step before).  The table gives each engine's speedup of 2 threads over
1 per step and tinycnn / onnxruntime at 2 threads: which steps scale worse than onnxruntime's.
Minima, not sums of a run: a step's minimum is what it costs when both threads got their core,
which a loaded 2-core host gives now and then; the whole-run minimum and median are printed too.
--fifo runs each process under chrt -f 10 (root; starves the host while it runs: short runs).
With the AVX2 emulation env:
  LD_PRELOAD=.../libcpuid_avx2.so CPUID_AVX2_SITES=... TINYCNN_ISA=avx2 PYTHONPATH=<checkout>:<ort_avx2> \
  python benchmarks/qsteps_mt.py MODEL.onnx [--rounds 3] [--runs 200] [--fifo] [--threads 2] \
      [--input photo] [--ort-span-us 3.5]"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def worker(engine, model, threads, runs, kind="relu", span_us=0.0):
    if engine == "ort":
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "p")
        s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    else:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        import tinycnn
        so = tinycnn.SessionOptions()
        so.intra_op_num_threads = threads
        s = tinycnn.InferenceSession(model, so)
    i = s.get_inputs()[0]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench import input_feed
    feed = {i.name: input_feed(kind, [d if isinstance(d, int) else 1 for d in i.shape])}
    for _ in range(5):
        s.run(None, feed)
    wall = []
    steps = collections.defaultdict(list)
    for _ in range(runs):
        t = time.perf_counter()
        if engine == "ort":
            s.run(None, feed)
        else:
            per = collections.defaultdict(float)
            for r in s.run_profiled(feed)[1]:
                per[r["node"]] += r["seconds"] * 1e3
            for k, v in per.items():
                steps[k].append(v)
        wall.append((time.perf_counter() - t) * 1e3)
    if engine == "ort":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from mt_steps import node_runs
        steps.update({k: [t - span_us * 1e-3 for t in v]  # the 5 warm-up runs left out
                      for k, v in node_runs(s.end_profiling(), 5).items()})
    return {"wall_min": min(wall), "wall_med": float(np.median(wall)),
            "steps": {k: min(v) for k, v in steps.items()}, "order": list(steps)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fifo", action="store_true", help="run each process under chrt -f 10")
    ap.add_argument("--input", default="relu",
                    help="the feed (bench.input_feed: normal, relu, photo, zeros); default "
                         "max(noise, 0)")
    ap.add_argument("--depth", type=int, default=0,
                    help="sum both engines' steps by the first N parts of their node names "
                         "(/features/features.3 at 2): where onnxruntime's names do not "
                         "start with tinycnn's (its NCHWc nodes are named after the Relu)")
    ap.add_argument("--ort-span-us", type=float, default=0.0,
                    help="us taken off each onnxruntime node time: its profiler's in-span work "
                         "(ort_node_span.py, as qsteps.py; default 0, the times as profiled)")
    ap.add_argument("--worker", nargs=2, metavar=("ENGINE", "THREADS"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker[0], a.model, int(a.worker[1]), a.runs, a.input,
                                a.ort_span_us)))
        return
    res = collections.defaultdict(list)
    combos = [(e, t) for e in ("tc", "ort") for t in (1, a.threads)]
    for r in range(a.rounds):
        for e, t in (combos if r % 2 == 0 else combos[::-1]):
            cmd = [sys.executable, os.path.abspath(__file__), a.model, "--runs", str(a.runs),
                   "--input", a.input, "--ort-span-us", str(a.ort_span_us), "--worker", e, str(t)]
            out = subprocess.run((["chrt", "-f", "10"] if a.fifo else []) + cmd,
                                 capture_output=True, text=True, check=True).stdout
            res[(e, t)].append(json.loads(out.strip().splitlines()[-1]))
    T = a.threads
    for k, v in res.items():
        print(f"{k[0]} {k[1]}t: wall min {[round(x['wall_min'], 2) for x in v]} "
              f"median {[round(x['wall_med'], 2) for x in v]}")
    med = lambda k: {n: float(np.median([x["steps"].get(n, np.nan) for x in res[k]]))
                     for n in res[k][0]["steps"]}
    tc = {t: med(("tc", t)) for t in (1, T)}
    ort_ = {t: med(("ort", t)) for t in (1, T)}
    order = res[("tc", 1)][0]["order"]
    # onnxruntime's nodes under tinycnn's step names before any grouping: the step whose name
    # is the node's longest prefix, else (a fused NCHWc node named after a later node of the
    # step, "/features/features.1/Relu_output_0_nchwc" for the stem's Conv + Relu + MaxPool
    # step "/features/features.0/Conv") the last step at or before that node in graph order
    import onnx
    gnodes = [nd.name for nd in onnx.load(a.model, load_external_data=False).graph.node]
    gpos = {n: i for i, n in enumerate(gnodes)}
    tc_keys = sorted(tc[1], key=len, reverse=True)
    tc_at = sorted((gpos[k], k) for k in tc[1] if k in gpos)

    def tc_step_of(n):
        k = next((k for k in tc_keys if n.startswith(k)), None)
        if k is not None:
            return k
        g = max((m for m in gnodes if m and n.startswith(m)), key=len, default=None)
        if g is None:
            return n
        before = [k for i, k in tc_at if i <= gpos[g]]
        return before[-1] if before else n

    for t in (1, T):
        g = collections.defaultdict(float)
        for n, v in ort_[t].items():
            g[tc_step_of(n)] += v
        ort_[t] = g
    if a.depth:
        part = lambda n: "/".join(n.split("/")[:a.depth + 1])
        for d in (tc, ort_):
            for t in (1, T):
                g = collections.defaultdict(float)
                for n, v in d[t].items():
                    g[part(n)] += v
                d[t] = g
        order = list(dict.fromkeys(part(n) for n in order))
    keys = sorted(tc[1], key=len, reverse=True)
    og = {t: collections.defaultdict(float) for t in (1, T)}
    for t in (1, T):
        for n, v in ort_[t].items():
            k = next((k for k in keys if n.startswith(k)), None)
            if k is not None:
                og[t][k] += v
    print(f"{'step':44s} {'tc1':>7s} {'tc' + str(T):>7s} {'x':>5s} {'ort1':>7s} {'ort' + str(T):>7s}"
          f" {'x':>5s} {'tc/ort' + str(T):>8s} {'lost':>6s}")
    tot = np.zeros(4)
    for k in order:
        v = np.array([tc[1][k], tc[T][k], og[1].get(k, 0.0), og[T].get(k, 0.0)])
        tot += v
        # lost: what tinycnn's step at T threads takes beyond tc1 / (onnxruntime's speedup)
        lost = v[1] - v[0] * v[3] / v[2] if v[2] and v[3] else 0.0
        print(f"{k[-44:]:44s} {v[0]:7.3f} {v[1]:7.3f} {v[0] / v[1]:5.2f} {v[2]:7.3f} {v[3]:7.3f}"
              f" {v[2] / v[3] if v[3] else 0:5.2f} {v[1] / v[3] if v[3] else 0:8.2f} {lost * 1e3:6.0f}")
    print(f"{'SUM':44s} {tot[0]:7.3f} {tot[1]:7.3f} {tot[0] / tot[1]:5.2f} {tot[2]:7.3f} {tot[3]:7.3f}"
          f" {tot[2] / tot[3]:5.2f} {tot[1] / tot[3]:8.2f}")


if __name__ == "__main__":
    main()

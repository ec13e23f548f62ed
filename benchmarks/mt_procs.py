"""Per-step speedup of 2 threads over 1, each engine and thread count in processes of its own,
optionally at real-time priority (--fifo: SCHED_FIFO through chrt, root), which gives the
timed process both cores of a loaded host.

mt_steps.py runs its four sessions in one process; on this 2-core host at load 5-9 neither
engine gains from a second thread there (s17, s20: the worker stands aside on its caller's
CPU, or waits for a core).  Under SCHED_FIFO each process's threads run before every
ordinary task, so a 2-thread process gets both cores; the runs still fall into good and bad
spells (s20: MobileNetV2 at 2 threads 3.96-4.3 ms in some processes, 6.1-6.8 in others, both
threads on their own CPU and never switched out, the FMA peak unchanged: the host's memory
side), so the table splits the 2-thread processes by their wall time (good: under 0.75 of the
1-thread median) and shows the good ones' steps.  Each step's time is the engine's profiled
node time (tinycnn's fused steps are named after their first node), median over runs, then
over processes.  The profilers inflate small steps: find candidates here, then time a step
alone.  onnxruntime's spinning pool under SCHED_FIFO in one process with another session
misbehaves (mt_steps.py), here each process has one session.
As on an AVX2-only CPU (bench.py --emulate-avx2 builds the library):
  LD_PRELOAD=exports/libcpuid_avx2.so CPUID_AVX2_SITES=exports/ort_avx2/cpuid_sites.txt \
  TINYCNN_ISA=avx2 PYTHONPATH=<checkout>:<patched onnxruntime> \
  python benchmarks/mt_procs.py M.onnx [--fifo] [--ort] [--rounds 5] [--runs 100] [--depth 2]
--fifo starves the host's other work while a process runs (seconds): use short runs.
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mt_steps  # noqa: E402


def worker(engine, model, threads, runs, depth):
    """One profiled session: {"wall": median ms of a run, "groups": {group: median ms}}"""
    tmp = tempfile.mkdtemp()
    if engine == "ort":
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, "p")
        s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    else:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        import tinycnn
        so = tinycnn.SessionOptions()
        so.intra_op_num_threads = threads
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, "p")
        s = tinycnn.InferenceSession(model, so)
    i = s.get_inputs()[0]
    x = np.random.default_rng(0).standard_normal(
        [d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32)
    wall = []
    for _ in range(runs + 3):
        t = time.perf_counter()
        s.run(None, {i.name: x})
        wall.append(time.perf_counter() - t)
    per = mt_steps.node_runs(s.end_profiling(), 3)
    nrun = min(len(v) for v in per.values())
    sums = collections.defaultdict(lambda: np.zeros(nrun))
    for name, ds in per.items():
        sums[mt_steps.group_of(name, depth)] += np.array(ds[:nrun])
    return {"wall": float(np.median(wall[3:]) * 1e3),
            "groups": {k: float(np.median(v)) for k, v in sums.items()}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--fifo", action="store_true", help="run each process under chrt -f 10")
    ap.add_argument("--ort", action="store_true", help="onnxruntime too")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--worker", nargs=2, metavar=("ENGINE", "THREADS"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker[0], a.model, int(a.worker[1]), a.runs, a.depth)))
        return
    engines = ["tc", "ort"] if a.ort else ["tc"]
    res = collections.defaultdict(list)
    for _ in range(a.rounds):
        for e in engines:
            for t in (1, 2):
                cmd = [sys.executable, os.path.abspath(__file__), a.model, "--runs", str(a.runs),
                       "--depth", str(a.depth), "--worker", e, str(t)]
                out = subprocess.run((["chrt", "-f", "10"] if a.fifo else []) + cmd,
                                     capture_output=True, text=True, check=True).stdout
                res[(e, t)].append(json.loads(out.strip().splitlines()[-1]))
    for e in engines:
        one = float(np.median([r["wall"] for r in res[(e, 1)]]))
        good = [r for r in res[(e, 2)] if r["wall"] < 0.75 * one]
        print(f"{e}: wall ms per process, 1 thread {[round(r['wall'], 2) for r in res[(e, 1)]]}, "
              f"2 threads {[round(r['wall'], 2) for r in res[(e, 2)]]}; good 2-thread "
              f"processes {len(good)} of {len(res[(e, 2)])}")
        groups = list(res[(e, 1)][0]["groups"])
        med = lambda rs, g: float(np.median([r["groups"].get(g, 0.0) for r in rs])) if rs else 0.0
        print(f"{'group':36s} {'1 thr':>7s} {'2 all':>7s} {'x':>5s} {'2 good':>7s} {'x':>5s}")
        tot = np.zeros(3)
        for g in groups:
            v = np.array([med(res[(e, 1)], g), med(res[(e, 2)], g), med(good, g)])
            tot += v
            sp = [v[0] / v[k] if v[k] else 0.0 for k in (1, 2)]
            print(f"{g[-36:]:36s} {v[0]:7.3f} {v[1]:7.3f} {sp[0]:5.2f} {v[2]:7.3f} {sp[1]:5.2f}")
        sp = [tot[0] / tot[k] if tot[k] else 0.0 for k in (1, 2)]
        print(f"{'sum':36s} {tot[0]:7.3f} {tot[1]:7.3f} {sp[0]:5.2f} {tot[2]:7.3f} {sp[1]:5.2f}")


if __name__ == "__main__":
    main()

"""Whole runs of an int8 (or float) network in many short processes, tinycnn and onnxruntime
alternating process by process (both orders), each process: load, --warmup runs, then --runs
timed runs (wall and the process's CPU time per run).  Printed: each process's median wall
and CPU per run, then per engine the spread of the process medians, and tinycnn /
onnxruntime per pair of neighbouring processes (and each process's AnonHugePages after its
runs): whether a slow 2-thread reading
(bench_int8.py's one process per engine) is the process (some processes slow all run long,
as h39-sq saw at fp32) or the minute (both engines' neighbouring processes slow together).
--fifo runs each process under chrt -f 10 (root).  As on an AVX2-only CPU:
  LD_PRELOAD=.../libcpuid_avx2.so TINYCNN_ISA=avx2 python benchmarks/qprocs.py MODEL.onnx \
      [--threads 2] [--input photo] [--rounds 10] [--runs 15] [--against CHECKOUT]
--against CHECKOUT: a third engine, tinycnn imported from that checkout (same thread count)."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def worker(engine, model, threads, runs, warmup, kind, checkout):
    import numpy as np  # noqa: F401
    sys.path.insert(0, HERE)
    from bench import input_feed
    if engine == "ort":
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    else:
        sys.path.insert(0, checkout)
        import tinycnn
        assert os.path.dirname(os.path.dirname(os.path.abspath(tinycnn.__file__))) == \
            os.path.abspath(checkout), tinycnn.__file__
        so = tinycnn.SessionOptions()
        so.intra_op_num_threads = threads
        s = tinycnn.InferenceSession(model, so)
    i = s.get_inputs()[0]
    feed = {i.name: input_feed(kind, [d if isinstance(d, int) else 1 for d in i.shape])}
    for _ in range(warmup):
        s.run(None, feed)
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        s.run(None, feed)
        wall.append((time.perf_counter() - t) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
    return {"wall": wall, "cpu": cpu, "huge_kb": anon_huge_kb()}


def anon_huge_kb():
    """the process's memory on transparent huge pages (kB), None where unknown"""
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                if line.startswith("AnonHugePages:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--input", default="photo")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--fifo", action="store_true")
    ap.add_argument("--against", metavar="CHECKOUT")
    ap.add_argument("--worker", nargs=2, metavar=("ENGINE", "CHECKOUT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker[0], a.model, a.threads, a.runs, a.warmup, a.input,
                                a.worker[1])))
        return
    engines = [("tc", os.path.dirname(HERE)), ("ort", "-")]
    if a.against:
        engines.append(("against", os.path.abspath(a.against)))
    med = statistics.median
    res = {e: [] for e, _ in engines}
    for r in range(a.rounds):
        for e, co in (engines if r % 2 == 0 else engines[::-1]):
            cmd = [sys.executable, os.path.abspath(__file__), a.model, "--threads", str(a.threads),
                   "--input", a.input, "--runs", str(a.runs), "--warmup", str(a.warmup),
                   "--worker", "ort" if e == "ort" else "tc", co]
            t = time.strftime("%H:%M:%S", time.gmtime())
            out = subprocess.run((["chrt", "-f", "10"] if a.fifo else []) + cmd,
                                 capture_output=True, text=True, check=True).stdout
            d = json.loads(out.strip().splitlines()[-1])
            res[e].append(d)
            print(f"{t} round {r:2d} {e:7s} wall median {med(d['wall']):7.2f} min "
                  f"{min(d['wall']):7.2f}  cpu/run median {med(d['cpu']):7.2f}  huge pages "
                  f"{d['huge_kb'] if d['huge_kb'] is not None else '?'} kB", flush=True)
    print(f"{a.model}: {a.threads} thread(s), input {a.input}, {a.rounds} rounds x {a.runs} runs"
          f"{' under SCHED_FIFO' if a.fifo else ''}")
    for e, _ in engines:
        m = sorted(med(d["wall"]) for d in res[e])
        c = sorted(med(d["cpu"]) for d in res[e])
        print(f"{e:7s} process medians: wall {m[0]:.2f} .. {med(m):.2f} .. {m[-1]:.2f}, "
              f"cpu {c[0]:.2f} .. {med(c):.2f} .. {c[-1]:.2f}; min of all runs "
              f"{min(min(d['wall']) for d in res[e]):.2f}")
    for e, _ in engines:
        if e == "ort":
            continue
        q = [med(x["wall"]) / med(y["wall"]) for x, y in zip(res[e], res["ort"])]
        print(f"{e} / ort per round (process medians): {' '.join(f'{v:.3f}' for v in q)}; "
              f"median {med(q):.3f}; ratio of the medians of process medians "
              f"{med([med(d['wall']) for d in res[e]]) / med([med(d['wall']) for d in res['ort']]):.3f}")


if __name__ == "__main__":
    main()

"""Where a multi-threaded run's time goes, per pool call: each thread's busy time, the idle at
the end of every job (one thread done, the other still working), and per chunk who ran it and
how long it took.  Needs a build of the pool with benchmarks/pool_trace.patch (a diagnostic
copy of the checkout; never commit the patch into csrc/):

  cp -r CHECKOUT /tmp/traced && cd /tmp/traced && git apply benchmarks/pool_trace.patch \\
      && python setup.py build_ext --inplace -q
  LD_PRELOAD=.../libcpuid_avx2.so CPUID_AVX2_SITES=... TINYCNN_ISA=avx2 \\
      PYTHONPATH=/tmp/traced:<ort_avx2> TC_POOL_TRACE=/tmp/t.txt \\
      [chrt -f 10] python benchmarks/pool_trace.py run MODEL.onnx [--threads 2] [--runs 300]
  python benchmarks/pool_trace.py report /tmp/t.txt /tmp/traced/tinycnn/_kernels*.so \\
      [--chunks gemm_task,ir_task]

`run` also writes TRACE.marks.npy (each run's start) and TRACE.ends.npy (its end; `--sleep S`
pauses S seconds before every 10th run, so that the runs sample the host's fast and slow phases:
benchmarks/proc_modes.py).  `report` keeps the fastest 30% of the runs (`--keep LO,HI`: the runs
between those percentiles of the wall time, e.g. 50,90 for the slow phases) (a loaded host's slow spells aside) and prints, per top-level pool call in run order, the
medians of its wall time, the caller's and the worker's busy time, when the worker started,
how long the caller waited, how long the worker sat done, their idle (2 wall - both busy) and
the worker's chunk count; then the idle per kernel function and the time outside any pool call.
Calls made inline inside another job's chunk (a banded step's inner kernels) are left out.
`report --first` adds under each split job, per thread, when its first chunk started after the
job's publication, that chunk's time, its later chunks' median, its chunk count and its last
chunk's end (h49-mt: which thread pays a job's cold start); `run --cpu N` pins the calling
thread to CPU N once the session exists, so that two processes can put the caller on either CPU.
Names are the task functions (nm on the .so).  Without SCHED_FIFO on a loaded 2-core host the
worker mostly stands aside (threadpool.c) and the table says little."""
import argparse
import bisect
import collections
import os
import subprocess
import time

import numpy as np


def run_queue_wait_ns():
    """the run-queue wait of all this process's threads so far (schedstat), ns"""
    tot = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                tot += int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return tot


def run(a):
    import tinycnn
    so = tinycnn.SessionOptions()
    so.intra_op_num_threads = a.threads
    s = tinycnn.InferenceSession(a.model, so)
    if a.cpu is not None:   # this (the calling) thread only: the pool's workers exist already
        os.sched_setaffinity(0, {a.cpu})
    i = s.get_inputs()[0]
    feed = {i.name: np.random.default_rng(0).standard_normal(
        [d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32)}
    for _ in range(20):
        s.run(None, feed)
    marks, ends, wall, waits = [], [], [], []
    for k in range(a.runs):
        d0 = run_queue_wait_ns()
        if a.sleep and k % 10 == 0:
            time.sleep(a.sleep)   # runs spread over the host's phases (proc_modes.py)
            s.run(None, feed)
        marks.append(time.clock_gettime_ns(time.CLOCK_MONOTONIC))
        t = time.perf_counter()
        s.run(None, feed)
        wall.append(time.perf_counter() - t)
        ends.append(time.clock_gettime_ns(time.CLOCK_MONOTONIC))
        waits.append(run_queue_wait_ns() - d0)
    marks.append(time.clock_gettime_ns(time.CLOCK_MONOTONIC))
    np.save(os.environ["TC_POOL_TRACE"] + ".marks.npy", np.array(marks))
    np.save(os.environ["TC_POOL_TRACE"] + ".waits.npy", np.array(waits))
    np.save(os.environ["TC_POOL_TRACE"] + ".ends.npy", np.array(ends))
    print(f"wall ms median {np.median(wall) * 1e3:.3f} min {np.min(wall) * 1e3:.3f}")


def load(trace, so):
    syms = sorted((int(p[0], 16), p[2]) for p in (
        line.split() for line in subprocess.run(["nm", so], capture_output=True, text=True)
        .stdout.splitlines()) if len(p) == 3 and p[1] in "tT")
    addrs = [s for s, _ in syms]
    recs, chunks = [], []
    for line in open(trace):
        p = line.split()
        if p[0] == "C":   # chunk index, executing thread, start and end ns after the job's start
            chunks.append(tuple(int(v) for v in p[1:]))
            continue
        v = [int(x) for x in p[1:]]
        recs.append(dict(fn=syms[bisect.bisect_right(addrs, int(p[0], 16)) - 1][1], n=v[0],
                         nch=v[1], inline=v[2], t0=v[3], t1=v[4], t2=v[5], wstart=v[6],
                         wend=v[7], wbusy=v[8], wchunks=v[9], chunks=chunks))
        chunks = []
    return recs


def print_first(rs):
    """a split job's chunks per thread (medians over the runs rs, us): when the thread's first
    chunk started after the job's publication, how long that first chunk took, its later
    chunks' median, how many chunks it ran and when its last ended"""
    for who, name in ((0, "caller"), (1, "worker")):
        st = collections.defaultdict(list)
        for r in rs:
            mine = sorted((c for c in r["chunks"] if c[1] == who), key=lambda c: c[2])
            if not mine:
                continue
            st["start"].append(mine[0][2] / 1e3)
            st["first"].append((mine[0][3] - mine[0][2]) / 1e3)
            st["n"].append(len(mine))
            st["end"].append(mine[-1][3] / 1e3)
            if len(mine) > 1:
                st["later"].append(np.median([c[3] - c[2] for c in mine[1:]]) / 1e3)
        g = {k: float(np.median(v)) for k, v in st.items()}
        if g:
            print(f"      {name}: starts {g['start']:5.2f}, first chunk {g['first']:6.1f}, later "
                  f"{g.get('later', float('nan')):6.1f} ({g['n']:.0f} chunks), ends {g['end']:6.1f}")


def report(a):
    recs = load(a.trace, a.so)
    m = np.load(a.trace + ".marks.npy")
    walls = np.diff(m) / 1e3
    try:   # run's end marks (run --sleep: a pause between some runs)
        walls = (np.load(a.trace + ".ends.npy") - m[:-1]) / 1e3
    except OSError:
        pass
    clean = np.ones(len(walls), bool)
    try:   # runs where a thread of ours waited in a run queue (shared a CPU) left out
        clean = np.load(a.trace + ".waits.npy") < 50000
        print(f"{(~clean).sum()} of {len(walls)} runs left out: a thread waited >= 50 us "
              "in a run queue")
    except OSError:
        pass
    lo, hi = (float(v) for v in a.keep.split(","))
    cw = walls[clean]
    good = set(np.flatnonzero(clean & (walls >= np.percentile(cw, lo))
                              & (walls <= np.percentile(cw, hi))))
    runs = collections.defaultdict(list)
    for r in recs:
        k = int(np.searchsorted(m, r["t0"], side="right")) - 1
        if k in good:
            runs[k].append(r)
    outside, tops = [], {}
    for k, rs in runs.items():
        rs.sort(key=lambda r: r["t0"])
        top, end = [], -1
        for r in rs:
            if r["t0"] >= end:   # not inside another job's chunk
                top.append(r)
                end = r["t2"]
        tops[k] = top
        outside.append(walls[k] - sum(r["t2"] - r["t0"] for r in top) / 1e3)
    length = collections.Counter(len(t) for t in tops.values()).most_common(1)[0][0]
    same = [t for t in tops.values() if len(t) == length]
    print(f"runs {len(walls)}: wall us median {np.median(walls):.0f}, kept {len(same)} of the "
          f"runs between percentiles {a.keep} (median {np.median([walls[k] for k in good]):.0f})")
    tot = np.median([[sum((r["t2"] - r["t0"]) for r in t if not r["inline"]),
                      sum((r["t1"] - r["t0"]) for r in t if not r["inline"]),
                      sum(r["wbusy"] for r in t if not r["inline"]),
                      sum(2 * (r["t2"] - r["t0"]) - (r["t1"] - r["t0"]) - r["wbusy"]
                          for r in t if not r["inline"]),
                      sum((r["t2"] - r["t0"]) for r in t if r["inline"])] for t in same], 0) / 1e3
    print(f"per run (us, medians): split jobs' wall {tot[0]:.0f}, caller busy {tot[1]:.0f}, "
          f"worker busy {tot[2]:.0f}, idle at job ends {tot[3]:.0f}; one-thread calls {tot[4]:.0f}")
    print(f"{'#':>3} {'function':24s} {'items':>6} {'ch':>3} {'wall':>7} {'caller':>7} "
          f"{'worker':>7} {'wstart':>6} {'cwait':>6} {'wdone':>6} {'idle':>6} {'wch':>4}")
    med = lambda f, rs: float(np.median([f(r) for r in rs]))
    idle_by = collections.Counter()
    for j in range(length):
        rs = [t[j] for t in same]
        r0 = rs[0]
        if r0["inline"]:
            wall = med(lambda r: (r["t2"] - r["t0"]) / 1e3, rs)
            print(f"{j:3d} {r0['fn'][:24]:24s} {r0['n']:6d}   1 {wall:7.1f}  (one thread)")
            continue
        row = [med(f, rs) for f in (
            lambda r: (r["t2"] - r["t0"]) / 1e3, lambda r: (r["t1"] - r["t0"]) / 1e3,
            lambda r: r["wbusy"] / 1e3,
            lambda r: (r["wstart"] - r["t0"]) / 1e3 if r["wchunks"] else 0.0,
            lambda r: (r["t2"] - r["t1"]) / 1e3,
            lambda r: (r["t2"] - r["wend"]) / 1e3 if r["wchunks"] else 0.0,
            lambda r: (2 * (r["t2"] - r["t0"]) - (r["t1"] - r["t0"]) - r["wbusy"]) / 1e3,
            lambda r: r["wchunks"])]
        idle_by[r0["fn"]] += row[6]
        print(f"{j:3d} {r0['fn'][:24]:24s} {r0['n']:6d} {r0['nch']:3d} " +
              " ".join(f"{v:{w}.1f}" for v, w in zip(row[:7], (7, 7, 7, 6, 6, 6, 6))) +
              f" {row[7]:4.0f}")
        if a.first:
            print_first(rs)
        if a.chunks and r0["fn"] in a.chunks.split(","):
            for c in range(min(r0["nch"], 32)):
                cs = [r["chunks"][c] for r in rs if len(r["chunks"]) > c]
                print(f"      chunk {c:2d}: {np.median([x[3] - x[2] for x in cs]) / 1e3:6.1f} us "
                      f"from {np.median([x[2] for x in cs]) / 1e3:6.1f}, by the worker in "
                      f"{np.mean([x[1] != 0 for x in cs]):.0%}")
    print("idle per function (us a run):",
          {k: round(v, 1) for k, v in idle_by.most_common()}, f"total {sum(idle_by.values()):.0f}")
    print(f"outside any pool call: {np.median(outside):.0f} us a run")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("model")
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--cpu", type=int, help="pin the calling thread to this CPU after the "
                   "session exists (its workers keep their masks)")
    r.add_argument("--runs", type=int, default=300)
    r.add_argument("--sleep", type=float, default=0.0,
                   help="sleep this many s (and one untimed run) before every 10th run")
    p = sub.add_parser("report")
    p.add_argument("trace")
    p.add_argument("so")
    p.add_argument("--chunks", help="functions whose chunks to list, comma-separated")
    p.add_argument("--first", action="store_true", help="per split job and thread: its start, "
                   "first chunk, later chunks and end")
    p.add_argument("--keep", default="0,30", help="the runs kept: percentiles LO,HI of the "
                   "wall time (default 0,30: the fastest 30%%)")
    a = ap.parse_args()
    (run if a.cmd == "run" else report)(a)


if __name__ == "__main__":
    main()

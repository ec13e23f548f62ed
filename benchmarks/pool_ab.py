"""Builds of tinycnn (or onnxruntime) at N threads, each in a process of its own, bursts
alternating as bench.py times N > 1 threads: one process computes at a time, the others quiet
(their pool asleep) before each burst, the first run of a burst discarded.  Per round the
ratio of each build's burst median to the first build's; printed: the median and 25-75% range
of those ratios, each build's median run, and whether the outputs are bit-identical.

With --stats, each burst also reads every thread of the timed process from /proc (around the
burst): CPU time and run-queue wait (schedstat), voluntary / involuntary context switches and
migrations (sched), summed per thread role (the caller: the main thread; the pool workers: the
rest that ran) and printed per run (tick-granular on this KVM guest, 4 ms: means over many
bursts only).  A build patched to count its pool's events (a diagnostic
copy exporting tc_pool_diag_read, never committed into csrc/) adds those counters.

  python benchmarks/pool_ab.py MODEL.onnx [MODEL ...] --builds CHECKOUT_A CHECKOUT_B [ort]
      [--threads 2] [--rounds 15] [--procs 1] [--burst 5] [--nice -20] [--fifo] [--stats]
--procs N spreads the rounds over N sets of fresh processes: one process can run slow all its
life (s28: the base at 1 thread 4.74 ms a run in one process, 3.25-3.41 in the next ones).
--nice N (root): the timed processes at niceness N in sessions (autogroups) of their own, as
bench.py --nice.  --fifo: each burst under SCHED_FIFO (every thread of the process switched to
it for the burst only: a burst's fraction of a second starves the host's other work); a build
written CHECKOUT@fifo does so alone (the same build with and without: CFS against FIFO).
Every process gets TINYCNN_ISA=avx2 unless set; `ort` runs the patched onnxruntime of the
AVX2 emulation (exports/ort_avx2, as bench.py --emulate-avx2 makes it)."""
import argparse
import ctypes
import hashlib
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (its worker protocol, nice and quiet wait)

EXPORTS = "/work/main/exports"


# ---------------------------------------------------------------- child side
def _tasks():
    """{tid: [run_ns, delay_ns, vcs, ivcs, migrations]} of this process's threads"""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                run, delay, _ = (int(v) for v in f.read().split())
            vcs = ivcs = mig = 0
            with open(f"/proc/self/task/{tid}/sched") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    k = k.strip()
                    if k == "nr_voluntary_switches":
                        vcs = int(v)
                    elif k == "nr_involuntary_switches":
                        ivcs = int(v)
                    elif k == "se.nr_migrations":
                        mig = int(v)
            out[int(tid)] = [run, delay, vcs, ivcs, mig]
        except (OSError, ValueError):
            pass
    return out


def _stat():
    """[busy, steal] ticks of all CPUs (/proc/stat)"""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return [v[0] + v[1] + v[2] + v[5] + v[6], v[7] if len(v) > 7 else 0]


class Child:
    def __init__(self):
        self.sess = self.feed = self.diag = None

    def cmd_load(self, engine, model, threads):
        import numpy as np
        if engine == "ort":
            import onnxruntime as ort
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            self.sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        else:
            import tinycnn
            from tinycnn import _kernels
            so = tinycnn.SessionOptions()
            so.intra_op_num_threads = threads
            self.sess = tinycnn.InferenceSession(model, so)
            lib = ctypes.CDLL(_kernels.__file__)
            if hasattr(lib, "tc_pool_diag_read"):
                self.diag = lib
        i = self.sess.get_inputs()[0]
        x = np.random.default_rng(0).standard_normal(
            [d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32)
        if "int8" not in model:
            x = np.maximum(x, 0)
        self.feed = {i.name: x}
        ys = self.sess.run(None, self.feed)
        h = hashlib.sha1()
        for y in ys:
            h.update(np.ascontiguousarray(y).tobytes())
        return {"hash": h.hexdigest(), "pid": os.getpid()}

    def _diag(self):
        if self.diag is None:
            return None
        buf = (ctypes.c_long * 64)()
        n = self.diag.tc_pool_diag_read(buf, 64)
        return list(buf[:n])

    def cmd_burst(self, n, fifo=False):
        ms = []
        if fifo:
            bench.set_fifo(True)
        try:
            self.sess.run(None, self.feed)  # discarded: cold caches, sleeping workers
            t0, d0, s0 = _tasks(), self._diag(), _stat()
            for _ in range(n):
                t = time.perf_counter()
                self.sess.run(None, self.feed)
                ms.append((time.perf_counter() - t) * 1e3)
            s1, t1, d1 = _stat(), _tasks(), self._diag()
        finally:
            if fifo:
                bench.set_fifo(False)
        me = os.getpid()
        caller = [b - a for a, b in zip(t0.get(me, [0] * 5), t1.get(me, [0] * 5))]
        workers = [0] * 5
        for tid, b in t1.items():
            if tid != me:
                a = t0.get(tid, [0] * 5)
                workers = [w + (y - x) for w, x, y in zip(workers, a, b)]
        diag = [y - x for x, y in zip(d0, d1)] if d0 is not None else None
        tick = 1e3 / os.sysconf("SC_CLK_TCK")
        return {"ms": ms, "caller": caller, "workers": workers, "diag": diag,
                "host_ms": [(b - a) * tick for a, b in zip(s0, s1)]}


def child_main(nice):
    if nice:
        bench.apply_nice(nice)
    bench.worker_main(Child())


# ---------------------------------------------------------------- parent side
def worker_env(build):
    """the environment of a worker process: tinycnn from the checkout BUILD, or onnxruntime
    ("ort") seeing an AVX2-only CPU (through the CPUID-patched copy in exports/ort_avx2 where the
    host cannot fault CPUID, as on AMD)"""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env.setdefault("TINYCNN_ISA", "avx2")
    if build == "ort":
        env["LD_PRELOAD"] = f"{EXPORTS}/libcpuid_avx2.so"
        if os.path.isdir(f"{EXPORTS}/ort_avx2"):
            env["CPUID_AVX2_SITES"] = f"{EXPORTS}/ort_avx2/cpuid_sites.txt"
            env["PYTHONPATH"] = f"{EXPORTS}/ort_avx2"
    else:
        env["PYTHONPATH"] = os.path.abspath(build)
    return env


class Proc:
    script = __file__   # the worker's own script (a subclass in another tool names its own)

    def __init__(self, build, nice):
        build, _, mode = build.partition("@")
        self.fifo = mode == "fifo"
        self._start(build, nice)

    def _start(self, build, nice):
        self.engine = "ort" if build == "ort" else "tinycnn"
        self.w = bench.Worker(build, script=self.script, env=worker_env(build), nice=nice)
        self.p = self.w.proc
        self.call, self.close = self.w.call, self.w.close


def q(xs):
    xs = sorted(xs)
    if not xs:
        return float("nan"), float("nan"), float("nan")
    def at(f):
        k = f * (len(xs) - 1)
        i = int(k)
        return xs[i] if i + 1 >= len(xs) else xs[i] + (xs[i + 1] - xs[i]) * (k - i)
    return at(0.5), at(0.25), at(0.75)


def label(b):
    b, at, mode = b.partition("@")
    return ("ort" if b == "ort" else os.path.basename(os.path.abspath(b))) + at + mode


def run_model(model, a):
    per = [{"med": [], "ms": [], "caller": [], "workers": [], "diag": [], "host": []}
           for _ in a.builds]
    hashes = set()
    for group in range(a.procs):   # fresh processes: a process can be slow all its life
        procs = [Proc(b, a.nice) for b in a.builds]
        try:
            for p in procs:
                h = p.call("load", engine=p.engine, model=model, threads=a.threads)["hash"]
                if p.engine != "ort":
                    hashes.add(h)
                p.call("burst", n=a.warmup)
                bench.wait_quiet(p.p.pid, a.gap)
            rounds = a.rounds * (group + 1) // a.procs - a.rounds * group // a.procs
            for r in range(rounds):
                order = list(range(len(procs)))
                if r % 2:
                    order.reverse()
                for k in order:
                    res = procs[k].call("burst", n=a.burst, fifo=a.fifo or procs[k].fifo)
                    per[k]["med"].append(statistics.median(res["ms"]))
                    per[k]["ms"].extend(res["ms"])
                    per[k]["caller"].append(res["caller"])
                    per[k]["workers"].append(res["workers"])
                    per[k]["host"].append(res["host_ms"])
                    if res["diag"] is not None:
                        per[k]["diag"].append(res["diag"])
                    bench.wait_quiet(procs[k].p.pid, a.gap)
        finally:
            for p in procs:
                p.close()
    if a.dump:
        with open(a.dump, "a") as f:
            f.write(json.dumps({"model": model, "builds": a.builds, "nice": a.nice,
                                "fifo": a.fifo, "threads": a.threads, "per": per}) + "\n")
    name = os.path.basename(model).split("-opset")[0] + (" int8" if "int8" in model else "")
    base = per[0]["med"]
    same = len(hashes) == 1
    print(f"{name}: {a.threads} threads, {a.rounds} rounds x {a.burst} runs"
          f"{f' in {a.procs} sets of processes' if a.procs > 1 else ''}, nice {a.nice}"
          f"{', FIFO bursts' if a.fifo else ''}; tinycnn builds bit-identical={same}")
    for k, b in enumerate(a.builds):
        m, lo, hi = q(per[k]["ms"])
        line = f"  {label(b):>12}: run {m:.3f} ms [{lo:.3f}-{hi:.3f}]"
        if k:
            rm, rlo, rhi = q([x / y for x, y in zip(per[k]["med"], base)])
            line += f"  /{label(a.builds[0])} {rm:.3f} [{rlo:.3f}-{rhi:.3f}]"
        print(line)
        if a.stats:
            runs = a.burst
            for role in ("caller", "workers"):
                cols = list(zip(*per[k][role]))  # run, delay, vcs, ivcs, mig per burst
                med = [statistics.median(c) / runs for c in cols]
                print(f"      {role:>7} per run: cpu {med[0] / 1e6:.3f} ms, runq wait "
                      f"{med[1] / 1e3:.1f} us, vol cs {med[2]:.2f}, invol cs {med[3]:.2f}, "
                      f"migrations {med[4]:.2f}")
            busy, steal = (statistics.median(c) / runs for c in zip(*per[k]["host"]))
            print(f"      host per run (both CPUs, 10 ms ticks): busy {busy:.2f} ms, "
                  f"steal {steal:.2f} ms")
            if per[k]["diag"]:
                cols = list(zip(*per[k]["diag"]))
                print("      pool per run: " + " ".join(
                    f"{n}={statistics.median(c) / runs / (1e3 if n.endswith('_us') else 1):.2f}"
                    for n, c in zip(DIAG_NAMES, cols)))
    sys.stdout.flush()


DIAG_NAMES = ["jobs", "inline", "busy_inline", "w_chunks", "c_chunks", "bcast", "probe",
              "probe_skip", "w_sleep_spin", "w_sleep_aside", "w_wake", "aside", "moveoff_ok",
              "w_cpu_change", "c_cpu_change", "c_yields", "c_wait_us", "w_late_us", "w_nochunk",
              "w_spin_us"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*")
    ap.add_argument("--builds", nargs="+", default=[])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--procs", type=int, default=1,
                    help="the rounds spread over this many sets of fresh processes")
    ap.add_argument("--burst", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--gap", type=float, default=0.02)
    ap.add_argument("--nice", type=int, default=0)
    ap.add_argument("--fifo", action="store_true")
    ap.add_argument("--stats", action="store_true")
    ap.add_argument("--dump", metavar="FILE", help="append every burst's numbers (JSON lines)")
    ap.add_argument("--child", action="store_true")
    a = ap.parse_args()
    if a.child:
        child_main(a.nice)
        return
    for m in a.models:
        run_model(m, a)


if __name__ == "__main__":
    main()

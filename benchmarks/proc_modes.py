"""Is a slow N-thread process slow all its life (a property of the process: its pages, its
threads' CPUs) or slow at the same moments as its neighbours (the host, in time)?

Per set: K tinycnn processes of one build (and onnxruntime's, --ort) are started together and
time bursts in turn, the order rotating every round, as pool_ab.py / bench.py time N threads
(one process computes at a time, the others quiet before each burst, the first run of a burst
discarded).  Printed per set: each process's burst medians in time order, so that a process
slow in every round beside a fast one (a process mode) and all processes slow in the same
rounds (the host) can be told apart; with --reload each tinycnn process builds a new session
halfway (a new arena and new weight blocks in the same process and threads' pool: does the
mode follow the memory or the process?).  Per tinycnn process also its large mappings
(/proc/self/smaps: size, resident, AnonHugePages: did the arena get its huge pages?) and the
CPU each thread last ran on.

  python benchmarks/proc_modes.py MODEL.onnx [--build CHECKOUT] [--tc 2] [--ort] [--sets 6]
      [--rounds 8] [--burst 5] [--threads 2] [--fifo] [--nice -20] [--reload] [--dump FILE]
Every process gets TINYCNN_ISA=avx2 unless set, onnxruntime the AVX2 emulation (pool_ab.py).
--fifo (root): each burst under SCHED_FIFO (a fraction of a second; starves other work)."""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import pool_ab  # noqa: E402


# ---------------------------------------------------------------- child side
def _smaps_big(min_kb=1024):
    """[(start hex, size kB, rss kB, AnonHugePages kB)] of this process's mappings >= min_kb"""
    out, cur = [], None
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and not head[0].endswith(":"):
                lo, hi = (int(v, 16) for v in head[0].split("-"))
                cur = [head[0].split("-")[0], (hi - lo) >> 10, 0, 0, " ".join(head[5:])]
                out.append(cur)
            elif head[0] == "Rss:":
                cur[2] = int(head[1])
            elif head[0] == "AnonHugePages:":
                cur[3] = int(head[1])
    return [m for m in out if m[1] >= min_kb and not m[4]]


def _thread_cpus():
    """{tid: CPU it last ran on} (/proc/self/task/*/stat field 39)"""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                s = f.read()
            out[int(tid)] = int(s[s.rindex(")") + 2:].split()[36])
        except (OSError, ValueError, IndexError):
            pass
    return out


class Child(pool_ab.Child):
    def cmd_load(self, engine, model, threads, config=None):
        if engine == "ort" or not config:
            return super().cmd_load(engine, model, threads)
        import tinycnn
        orig = tinycnn.SessionOptions

        def opts():
            so = orig()
            for k, v in config.items():
                so.add_session_config_entry(k, v)
            return so
        tinycnn.SessionOptions = opts
        try:
            return super().cmd_load(engine, model, threads)
        finally:
            tinycnn.SessionOptions = orig

    def cmd_info(self):
        return {"maps": _smaps_big(), "cpus": _thread_cpus(), "pid": os.getpid()}

    def cmd_reload(self, engine, model, threads, config=None):
        self.sess = None
        import gc
        gc.collect()
        return self.cmd_load(engine, model, threads, config)


# ---------------------------------------------------------------- parent side
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?")
    ap.add_argument("--build", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--tc", type=int, default=2, help="tinycnn processes per set")
    ap.add_argument("--variants", nargs="+", help="tinycnn processes per set, each "
                    "CHECKOUT[:KEY=VALUE,...] (session config entries, e.g. "
                    "session.tinycnn.huge_pages=0); instead of --build / --tc")
    ap.add_argument("--ort", action="store_true")
    ap.add_argument("--sets", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--burst", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gap", type=float, default=0.02)
    ap.add_argument("--nice", type=int, default=0)
    ap.add_argument("--fifo", action="store_true")
    ap.add_argument("--reload", action="store_true", help="new tinycnn sessions halfway")
    ap.add_argument("--probe", action="store_true", help="benchmarks/smt_probe.c before "
                    "every round: are the two vCPUs on two cores or on one core's siblings now?")
    ap.add_argument("--clean", type=float, default=0.1, help="a burst whose threads waited "
                    "this many ms or more in a run queue is marked * (default 0.1)")
    ap.add_argument("--dump", metavar="FILE")
    ap.add_argument("--child", action="store_true")
    a = ap.parse_args()
    if a.child:
        if a.nice:
            bench.apply_nice(a.nice)
        bench.worker_main(Child())
        return
    builds = (a.variants or [a.build] * a.tc) + (["ort"] if a.ort else [])
    print(f"{os.path.basename(a.model)}: {a.threads} threads, {a.sets} sets x {a.rounds} rounds "
          f"x {a.burst} runs, nice {a.nice}{', FIFO bursts' if a.fifo else ''}"
          f"{', new sessions halfway (|)' if a.reload else ''}; burst medians in ms")
    allres = []
    for s in range(a.sets):
        procs = [_Proc(b, a.nice) for b in builds]
        try:
            for p in procs:
                p.call("load", engine=p.engine, model=a.model, threads=a.threads,
                       config=p.config)
                p.call("burst", n=a.warmup)
                bench.wait_quiet(p.p.pid, a.gap)
            meds = [[] for _ in procs]
            probes = []
            info = [None] * len(procs)
            for r in range(a.rounds):
                if a.reload and r == a.rounds // 2:
                    for k, p in enumerate(procs):
                        if p.engine != "ort":
                            p.call("reload", engine=p.engine, model=a.model,
                                   threads=a.threads, config=p.config)
                            p.call("burst", n=a.warmup)
                            bench.wait_quiet(p.p.pid, a.gap)
                            meds[k].append("|")
                if a.probe:
                    probes.append(_probe(a.fifo))
                order = list(range(len(procs)))
                order = order[r % len(order):] + order[:r % len(order)]
                for k in order:
                    p = procs[k]
                    res = procs[k].call("burst", n=a.burst, fifo=a.fifo)
                    # run-queue wait of the process's threads in the burst (schedstat, ns),
                    # steal time of both vCPUs (/proc/stat ticks, ms): a burst where either
                    # is not ~0 shared its CPUs with other work (marked * / s)
                    wait = (res["caller"][1] + res["workers"][1]) / 1e6
                    steal = res["host_ms"][1]
                    # a pool worker that ran < half the caller's CPU time: it did not get its
                    # CPU (another FIFO process held it: a sleeping worker waits in no run
                    # queue, the caller runs its chunks); counted as a wait (marked *)
                    if (p.engine != "ort" and a.threads > 1
                            and res["workers"][0] < 0.5 * res["caller"][0]):
                        wait = max(wait, a.clean)
                    meds[k].append([round(statistics.median(res["ms"]), 3), round(wait, 3),
                                    round(steal, 1), round(min(res["ms"]), 3)])
                    bench.wait_quiet(procs[k].p.pid, a.gap)
            for k, p in enumerate(procs):
                if p.engine != "ort":
                    info[k] = p.call("info")
            print(f"set {s} ({time.strftime('%H:%M:%S', time.gmtime())})")
            for k, p in enumerate(procs):
                v = [m[0] for m in meds[k] if m != "|"]
                clean = [m[0] for m in meds[k] if m != "|" and m[1] < a.clean and not m[2]]
                line = (f"  {p.label[-14:]:>14} {p.p.pid:>7}: med {statistics.median(v):6.3f} "
                        f"clean {statistics.median(clean) if clean else float('nan'):6.3f} "
                        f"({len(clean)}) | " + " ".join(
                            m if m == "|" else f"{m[0]:.2f}" + ("*" if m[1] >= a.clean else "")
                            + ("s" if m[2] else "") for m in meds[k]))
                print(line)
                if info[k]:
                    maps = info[k]["maps"]
                    print("          maps (MB size/rss/thp): " + " ".join(
                        f"{m[0][-7:]}:{m[1] / 1024:.1f}/{m[2] / 1024:.1f}/{m[3] / 1024:.0f}"
                        for m in maps) + f"; cpus {sorted(info[k]['cpus'].values())}")
            if probes:
                print("  smt_probe 2t/1t fma: " + " ".join(f"{p[0]:.2f}" for p in probes)
                      + "\n             l2 rd: " + " ".join(f"{p[1]:.2f}" for p in probes)
                      + "\n  1t fma GF/s: " + " ".join(f"{p[2]:.0f}" for p in probes)
                      + "\n  1t l2 GB/s: " + " ".join(f"{p[3]:.0f}" for p in probes)
                      + "\n  2t fma slower/faster CPU: " + " ".join(
                          f"{min(p[4:6]) / max(p[4:6]):.2f}" for p in probes)
                      + "\n  2t l2 slower/faster CPU: " + " ".join(
                          f"{min(p[6:8]) / max(p[6:8]):.2f}" for p in probes))
            sys.stdout.flush()
            allres.append({"builds": builds, "meds": meds, "info": info, "probes": probes})
        finally:
            for p in procs:
                p.close()
    if a.dump:
        with open(a.dump, "a") as f:
            f.write(json.dumps({"model": a.model, "args": vars(a), "sets": allres}) + "\n")


_PROBE = None


def _probe(fifo):
    """(fma, l2) per-thread rate at 2 threads over 1 (benchmarks/smt_probe.c, 3 ms blocks)"""
    global _PROBE
    import subprocess
    if _PROBE is None:
        _PROBE = f"/tmp/smt_probe_{os.getuid()}_{os.getpid()}"
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smt_probe.c")
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        subprocess.run(["gcc", "-O2", "-mavx2", "-mfma", "-pthread", src, "-o", _PROBE],
                       check=True, env=env)
    out = subprocess.run((["chrt", "-f", "10"] if fifo else []) + [_PROBE, "3", "1"],
                         capture_output=True, text=True, check=True).stdout.split()
    return (float(out[1]), float(out[3]), float(out[6]), float(out[9]), float(out[14]),
            float(out[15]), float(out[17]), float(out[18].rstrip(")")))


class _Proc(pool_ab.Proc):
    script = __file__

    def __init__(self, build, nice):
        build, _, conf = build.partition(":")
        self.fifo = False
        self.config = dict(kv.split("=", 1) for kv in conf.split(",")) if conf else None
        self.label = ("ort" if build == "ort" else os.path.basename(os.path.abspath(build))) + (
            ":" + conf.split(".")[-1] if conf else "")
        self._start(build, nice)


if __name__ == "__main__":
    main()

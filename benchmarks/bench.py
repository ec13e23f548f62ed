#!/usr/bin/env python3
"""Latency benchmark: tinycnn against onnxruntime, three suites of networks.

    classic   AlexNet, VGG-16, ResNet-18/50 at opset 13 (issue 4's targets)
    mobile    MobileNetV2, MobileNetV3-Small/-Large, EfficientNet-B0, MnasNet 1.0,
              ShuffleNetV2 x1.0, SqueezeNet 1.1, RegNetY-400MF, GoogLeNet, DenseNet-121 and
              ResNet-18/50 at opset 17 (issue 12's targets; ResNet keeps issue 4's)
    dense     LRASPP-MobileNetV3-Large at 512x512, the YOLOv8n-style detector and the
              DBNet-style text detector at 640x640, opset 17 (issue 13's targets)

Not a test.  Run from the repository root (after an in-place build or an install):

    python benchmarks/bench.py                   # the classic suite, 1 and 2 threads
    python benchmarks/bench.py --suite mobile --load-samples 0
    python benchmarks/bench.py --suite dense --quick --threads 1
    python benchmarks/bench.py --quick --models resnet18
    python benchmarks/bench.py --json bench.json

How it measures (the method of issue 4):

* Models come from models/ (the suite's opset, legacy exporter, batch 1, fp32,
  BatchNorm folded, 224x224 unless SIZES says otherwise) and are cached in --cache
  (default ./exports/).
* Every measurement runs in worker processes (this script with --worker); the
  parent only coordinates, so neither torch nor onnx is loaded where we time.
* 1 thread: both engines in ONE process, alternating bursts (A x (burst + 1),
  B x (burst + 1), ...; --burst, default 5), the first run of each burst
  discarded: each engine is timed on the state its own runs leave.  A run right
  after the other engine's pays for what that one left behind in the caches and
  memory: onnxruntime's runs right after a tinycnn run on huge pages were 4-11%
  slower than right after one on ordinary pages (ResNet-50, DenseNet-121,
  MobileNetV2; also across processes), so runs alternating one by one charged
  part of each engine's cost to the other.
* --steady-burst N: after each row's bursts, a second phase as long in bursts of
  N runs (20: both engines in steady state, as an application running image
  after image), its ratio the table's last column and checked against the
  targets too.  The two phases part by a few % either way, by network and run
  (2026-12-07, 1 thread, bursts of 5 / 20: MobileNetV2 0.798 / 0.827 at 09:26,
  0.791 / 0.783 at 11:33; MnasNet 0.789 / 0.819, then 0.805 / 0.824): a target
  met in one phase only is not met.
* N > 1 threads: one process per engine, alternating bursts (A runs a burst
  while B's process waits on its pipe, then the other way round).  Only one
  process computes at a time: before a burst, the parent waits until the other
  process's threads are quiet (onnxruntime's pool spins ~60 ms after a run), so
  idle workers of one engine never steal cores from the other; the CPU the
  waiting process still used is reported.  The first run of each burst is
  discarded (caches and sleeping workers are cold after the other engine ran).
* Session creation ("load") and peak resident memory: fresh processes that
  import the engine (not timed), create the session (timed), run once and read
  its peak resident set (VmHWM: ru_maxrss would also count the parent's memory,
  which Linux carries across fork and exec).  Medians over --load-samples
  processes per engine.
* GFLOP/s count 2 x the MACs of Conv, Gemm and MatMul nodes (tinycnn.analysis),
  compared with the FMA peak measured by benchmarks/fma_peak.c, compiled at run
  time with gcc -O2 -mavx2 -mfma (flops per second of CPU time: what the cores
  can do, even while other processes share them).
* A model that tinycnn cannot run yet is measured with onnxruntime alone, and
  the error is in the notes.
* Noise: each row gives the cores other processes used while ours computed;
  --nice -20 (root) gives the timed processes the cores ahead of other work.
  --fifo (root) also puts every thread of the process whose burst it is under
  SCHED_FIFO for that burst only (N > 1 threads; a burst is a fraction of a second,
  so the host's other work waits at most that long), for both engines alike: the
  2-thread ratios then show the engines' scaling without the fair scheduler moving
  a worker off its core mid-run (on the shared hosts of sessions 34-35 those ratios
  moved 5-8% between runs under CFS).  The default (CFS) is what an application sees.
  --fifo-1t does the same at 1 thread: each burst (either engine's, in their one process) under
  SCHED_FIFO, then at least --gap (and a tenth of the burst) under CFS, so the core's other work
  gets its share and the kernel never throttles a burst.  It is not implied by --fifo: on the
  session-40 VM (2026-12-06 02:45-03:05, MnasNet and MobileNetV2, 11 + 11 bench.py runs of 5 s
  interleaved, bench_repeat.py) it was hardly steadier than CFS (25-75% width of the per-round
  ratios, median over runs, 0.039 / 0.037 against 0.050 / 0.041; the runs' per-round medians
  0.873-0.977 / 0.824-0.902, sd 0.038 / 0.028, against 0.872-0.965 / 0.827-0.891, sd 0.039 /
  0.018), favoured neither engine (median of the runs 0.895 / 0.855 against 0.917 / 0.837: one
  up, one down) and fits a quarter fewer rounds into --seconds (the pauses): the noise of that
  host is the host's, not the scheduler's.
* Per round (a burst of each engine, back to back) the ratio of the two bursts' medians: the
  table gives their median and 25-75% range beside the whole-run ratio, the --json every one
  (models.NAME.rounds.THREADS); a host that swings shows there first.  The notes end with the
  run's host evidence: the FMA peak at the end against the start, and per row how each engine's
  fastest burst and the per-round ratio moved from the first third of rounds to the last.
  "Fast rounds" are the rounds in which both engines ran within 10% of their fastest bursts
  (geometric mean; fast_rounds): their ratio and share.  On the session-40 VM the slow phases
  slowed tinycnn's MnasNet more than onnxruntime's (per-round ratio 0.88 in rounds within 15% of
  onnxruntime's fastest, 0.95 at 1.3-1.6x of it; MobileNetV2 0.83 against 0.85-0.87): a whole-run
  ratio there is a mix of the host's states, and the fast-round ratio tells them apart.  The
  per-round median is also the steadier number: over those 22 runs MobileNetV2's whole-run ratio
  read 0.789-1.052 under CFS (sd 0.071) where its per-round median read 0.827-0.891 (sd 0.018).
* The host's state is also read directly (--probe-ms, default 20): benchmarks/host_probe.c's FMA
  probe at the row's thread count before the first round and after each (in a worker, every
  engine quiet; GFLOP/s per second of CPU time).  "Fast-state rounds" have both their probes at
  least 0.90 of the reference (the 90th percentile of the run's probes at that thread count: one
  stray high reading does not move it), "slow-state rounds" both below (a
  round between a fast and a slow probe is in neither); each column gives the ratio, the rounds
  and their probes' GFLOP/s, so a table says which state its ratio was read in.
* Reported times are medians in milliseconds; ratio = tinycnn / onnxruntime
  (lower is better for tinycnn).

Output: a Markdown block ready for the README (stdout), progress on stderr,
everything including raw samples with --json FILE.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
TITLES = {"resnet18": "ResNet-18", "resnet50": "ResNet-50", "alexnet": "AlexNet", "vgg16": "VGG-16",
          "mobilenet_v2": "MobileNetV2", "mobilenet_v3_small": "MobileNetV3-Small",
          "mobilenet_v3_large": "MobileNetV3-Large", "efficientnet_b0": "EfficientNet-B0",
          "mnasnet1_0": "MnasNet 1.0", "shufflenet_v2_x1_0": "ShuffleNetV2 x1.0",
          "squeezenet1_1": "SqueezeNet 1.1", "regnet_y_400mf": "RegNetY-400MF",
          "googlenet": "GoogLeNet", "densenet121": "DenseNet-121",
          "lraspp_mobilenet_v3_large": "LRASPP-MobileNetV3-Large", "yolov8n": "YOLOv8n-style",
          "dbnet_mobilenet_v3": "DBNet-MobileNetV3"}
REFERENCE = "onnxruntime"
# Issue 4's targets: tinycnn / onnxruntime time at every thread count, at most.
CLASSIC_TARGETS = {"resnet18": 0.85, "resnet50": 0.95, "alexnet": 0.85, "vgg16": 0.55}
# Issue 12's (item 5): the mobile networks at 0.8, GoogLeNet and DenseNet at 0.9, at 1 and 2
# threads, without losing ResNet's ratios (issue 4's targets).
MOBILE_TARGETS = {**{m: 0.8 for m in ("mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
                                      "efficientnet_b0", "mnasnet1_0", "shufflenet_v2_x1_0",
                                      "squeezenet1_1", "regnet_y_400mf")},
                  "googlenet": 0.9, "densenet121": 0.9,
                  "resnet18": CLASSIC_TARGETS["resnet18"], "resnet50": CLASSIC_TARGETS["resnet50"]}
# Issue 13's (item 6): a segmentation model, the detector and the text detector at 0.9, at 1 and
# 2 threads, at the input sizes apps give them (SIZES).
DENSE_TARGETS = {"lraspp_mobilenet_v3_large": 0.9, "yolov8n": 0.9, "dbnet_mobilenet_v3": 0.9}
# Input size (S x S) of the models not measured at 224.
SIZES = {"lraspp_mobilenet_v3_large": 512, "yolov8n": 640, "dbnet_mobilenet_v3": 640}
# suite -> (models in table order, export opset, ratio targets, the issue they come from).
# The mobile suite exports at opset 17, as issue 12 measured (HardSwish and HardSigmoid as ops).
SUITES = {
    "classic": (("resnet18", "resnet50", "alexnet", "vgg16"), 13, CLASSIC_TARGETS, "Issue 4"),
    "mobile": (tuple(MOBILE_TARGETS), 17, MOBILE_TARGETS, "Issue 12"),
    "dense": (tuple(DENSE_TARGETS), 17, DENSE_TARGETS, "Issue 13"),
}
MODELS = tuple(dict.fromkeys(m for models, *_ in SUITES.values() for m in models))
VGG_LOAD_TARGET, VGG_RSS_TARGET, RESNET50_SPEEDUP_TARGET = 1 / 3, 0.75, 1.8


# --------------------------------------------------------------------------
# Worker side: runs in a child process, talks JSON lines on a private pipe.
# Imports only numpy and the engine under test.
# --------------------------------------------------------------------------

def _kind(engine):
    """Engine label -> engine: "onnxruntime#a" is onnxruntime standing in for tinycnn;
    "tinycnn@avx2#int8" is tinycnn with TINYCNN_ISA=avx2 (the part after '#' only names it)."""
    return engine.split("#")[0].split("@")[0]


def _isa(engine):
    """The TINYCNN_ISA an engine label asks for ("tinycnn@avx2" -> "avx2"), or None."""
    return engine.split("#")[0].partition("@")[2] or None


def _import_engine(engine):
    engine = _kind(engine)
    if engine == "onnxruntime":
        import onnxruntime
        return onnxruntime
    if engine == "tinycnn":
        import tinycnn
        return tinycnn
    raise ValueError(f"unknown engine {engine!r} (expected 'tinycnn' or 'onnxruntime')")


def _create_session(engine, module, path, threads):
    """The session each engine's users would create, with `threads` intra-op threads."""
    if _kind(engine) == "onnxruntime":
        so = module.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = module.ExecutionMode.ORT_SEQUENTIAL
        return module.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    so = module.SessionOptions()
    so.intra_op_num_threads = threads
    isa, saved = _isa(engine), os.environ.get("TINYCNN_ISA")
    if isa:
        os.environ["TINYCNN_ISA"] = isa   # read when the session is created
    try:
        return module.InferenceSession(path, so)
    finally:
        if isa:
            os.environ.pop("TINYCNN_ISA") if saved is None else os.environ.update(TINYCNN_ISA=saved)


def _engine_info(engine, module):
    return {"version": getattr(module, "__version__", "?"), "file": getattr(module, "__file__", "?")}


def peak_rss_kb():
    """Peak resident set of this process in KiB.  VmHWM belongs to the current address
    space; ru_maxrss keeps the parent's peak from before exec, hence the fallback only."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


INPUTS = ("normal", "relu", "photo", "zeros")


def input_feed(kind, shape):
    """The float input fed to the engines, by kind (int8 kernels' time can depend on it):
      normal  standard normal noise, np.random.default_rng(0) (bench.py's feed)
      relu    its maximum with 0 (qsteps.py's)
      photo   a crop of the int8 models' calibration photographs with another seed
              (models.quantize.calibration_images)
      zeros   all zero (the ImageNet-normalised mean: a flat grey picture)"""
    import numpy as np
    if kind == "normal":
        return np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    if kind == "relu":
        return np.maximum(np.random.default_rng(0).standard_normal(shape), 0).astype(np.float32)
    if kind == "photo":
        if str(REPO) not in sys.path:   # a worker runs from benchmarks/
            sys.path.append(str(REPO))
        from models.quantize import calibration_images
        return calibration_images(1, size=shape[-1], seed=1)[0]
    if kind == "zeros":
        return np.zeros(shape, np.float32)
    raise ValueError(f"unknown input {kind!r}: {', '.join(INPUTS)}")


class _Worker:
    def __init__(self):
        self.sessions = {}  # engine -> session
        self.modules = {}
        self.feeds = None
        self.cpu_ms = {}  # engine -> process CPU ms of each run since the last reply

    def cmd_load(self, engine, path, threads, input_name, shape, feed="normal"):
        if self.feeds is None:
            self.feeds = {input_name: input_feed(feed, shape)}
        module = self.modules.get(engine) or _import_engine(engine)  # import is not timed
        self.modules[engine] = module
        rss_before = peak_rss_kb()
        t0 = time.perf_counter()
        self.sessions[engine] = _create_session(engine, module, path, threads)
        load_ms = (time.perf_counter() - t0) * 1e3
        return {"load_ms": load_ms, "maxrss_kb_before_load": rss_before,
                "info": _engine_info(engine, module)}

    def _time_one(self, engine):
        """Wall ms of one run; its process CPU ms is appended to self.cpu_ms."""
        sess = self.sessions[engine]
        c0 = time.process_time()
        t0 = time.perf_counter()
        sess.run(None, self.feeds)
        t1 = time.perf_counter()
        self.cpu_ms.setdefault(engine, []).append((time.process_time() - c0) * 1e3)
        return (t1 - t0) * 1e3

    def cmd_run(self, engine, n, fifo=False):
        """A burst of n runs; fifo: every thread of this process under SCHED_FIFO for it."""
        self.cpu_ms = {}
        if fifo:
            set_fifo(True)
        try:
            ms = [self._time_one(engine) for _ in range(n)]
        finally:
            if fifo:
                set_fifo(False)
        return {"ms": ms, "cpu_ms": self.cpu_ms.get(engine, []),
                "maxrss_kb": peak_rss_kb()}

    def cmd_probe(self, lib, kind="fma", seconds=0.02, threads=1):
        """host_probe (benchmarks/host_probe.c at `lib`) in this process: {"rate": ...}"""
        return {"rate": host_probe(lib, kind, seconds, threads)}

    def cmd_alternate(self, engines, warmup, runs, seconds, burst=1, fifo=False, pause=0.02,
                      probe=None):
        """Runs the loaded engines in turn, in this one process: bursts of `burst` timed runs
        after one untimed run (none when burst is 1), until each has `runs` (or `seconds`).
        fifo: this process under SCHED_FIFO for each burst (its untimed run included), back
        under the ordinary scheduler after it for max(pause, a tenth of the burst) s, so that
        the other work of the core gets its share (and the kernel never throttles the burst).
        "bursts": each engine's burst sizes in order (round i = the i-th burst of each).
        probe: {"lib", "seconds", "threads"}: the FMA probe (host_probe) before the first round
        and after each round (after its pauses), its GFLOP/s in "host_probe" (rounds + 1)."""
        for _ in range(warmup):
            for e in engines:
                self._time_one(e)
        samples = {e: [] for e in engines}
        sizes = {e: [] for e in engines}
        probes = []

        def take_probe():
            if probe:
                probes.append(host_probe(probe["lib"], "fma", probe["seconds"], probe["threads"]))

        take_probe()
        self.cpu_ms = {}
        t0 = time.perf_counter()
        while True:
            for e in engines:
                want = burst if seconds is not None else min(burst, runs - len(samples[e]))
                tb = time.perf_counter()
                if fifo:
                    set_fifo(True)
                try:
                    if burst > 1:
                        self._time_one(e)          # pays for the state the other engine left
                        self.cpu_ms[e].pop()
                    for _ in range(max(want, 1)):
                        samples[e].append(self._time_one(e))
                finally:
                    if fifo:
                        set_fifo(False)
                sizes[e].append(max(want, 1))
                if fifo:
                    time.sleep(max(pause, 0.1 * (time.perf_counter() - tb)))
            take_probe()
            n = len(samples[engines[-1]])
            elapsed = time.perf_counter() - t0
            if (seconds is None and n >= runs) or (seconds is not None and elapsed >= seconds and n >= 3):
                break
        return {"ms": samples, "cpu_ms": self.cpu_ms, "bursts": sizes,
                **({"host_probe": probes} if probe else {})}

    def cmd_compare(self, engines):
        """Largest difference between the engines' first outputs, relative to the reference's max."""
        import numpy as np
        outs = {e: self.sessions[e].run(None, self.feeds) for e in engines}
        ref = outs[engines[-1]]
        result = []
        for e in engines[:-1]:
            for i, (a, b) in enumerate(zip(outs[e], ref)):
                a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
                if a.shape != b.shape:
                    result.append({"output": i, "error": f"shape {a.shape} vs {b.shape}"})
                    continue
                scale = max(float(np.abs(b).max()), 1e-30)
                result.append({"output": i, "max_abs_diff": float(np.abs(a - b).max()),
                               "max_rel_diff": float(np.abs(a - b).max()) / scale})
        return {"diffs": result}


def apply_nice(nice):
    """Before any thread exists, so that every engine thread inherits it.  With autogroup
    scheduling, niceness only ranks threads inside one session: the worker runs in its own
    session (start_new_session) and ranks that."""
    os.setpriority(os.PRIO_PROCESS, 0, nice)
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(nice))
    except OSError:
        pass


def set_fifo(on):
    """Every thread of this process (the engine's pool included: it exists after the first
    run) to SCHED_FIFO at priority 10, or back to SCHED_OTHER.  Needs root (CAP_SYS_NICE);
    without it the first thread's refusal is raised (a silent fallback would mislabel the
    table)."""
    pol, prio = (os.SCHED_FIFO, 10) if on else (os.SCHED_OTHER, 0)
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setscheduler(int(tid), pol, os.sched_param(prio))
        except ProcessLookupError:  # the thread ended meanwhile
            pass


PROBE_KINDS = {"fma": 0, "madd": 1, "l1": 2, "l2": 3, "big": 4}   # host_probe.c's kinds
_PROBE_FNS = {}   # library path -> its hp_probe, loaded once per process


def host_probe(lib, kind="fma", seconds=0.02, threads=1):
    """benchmarks/host_probe.c's probe of `kind` (PROBE_KINDS) for `seconds` on `threads`
    threads, in this process: its rate per second of CPU time (fma: GFLOP/s; madd: G u8 x s8
    products/s; l1, l2, big: GB/s).  lib: the shared library (build_host_probe)."""
    fn = _PROBE_FNS.get(lib)
    if fn is None:
        import ctypes
        fn = ctypes.CDLL(lib).hp_probe
        fn.restype, fn.argtypes = ctypes.c_double, [ctypes.c_int, ctypes.c_double, ctypes.c_int]
        _PROBE_FNS[lib] = fn
    rate = fn(PROBE_KINDS[kind], float(seconds), int(threads))
    if rate < 0:
        raise RuntimeError(f"host_probe({kind!r}, {seconds}, {threads}) failed")
    return rate


def worker_main(w=None):
    """Answers the parent's JSON-line requests {"cmd": NAME, ...} with w.cmd_NAME(...)
    (default: a _Worker) until "quit"."""
    # Keep the protocol pipe private: whatever the engines print goes to stderr.
    proto_out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    w = _Worker() if w is None else w
    for line in sys.stdin:
        req = json.loads(line)
        cmd = req.pop("cmd")
        if cmd == "quit":
            break
        try:
            reply = getattr(w, "cmd_" + cmd)(**req)
        except Exception as exc:  # reported to the parent, which raises
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        proto_out.write(json.dumps(reply) + "\n")


# --------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------

def log(msg):
    print(msg, file=sys.stderr, flush=True)


def _worker_env():
    env = dict(os.environ)
    if EMULATE_AVX2:   # the issues' machine kind: both engines on AVX2, no AVX-512, no VNNI
        env["LD_PRELOAD"] = " ".join(filter(None, [str(EMULATE_AVX2), env.get("LD_PRELOAD")]))
        env.setdefault("TINYCNN_ISA", "avx2")
        env.update(EMULATE_ENV)
    # An in-place build in this checkout wins over an installed tinycnn.
    if list((REPO / "tinycnn").glob("_kernels*.so")):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


NICE = 0  # niceness of the workers (--nice)
FIFO = False  # --fifo: N > 1-thread bursts under SCHED_FIFO
EMULATE_AVX2 = None  # --emulate-avx2: the preload library hiding AVX-512 and VNNI from CPUID
EMULATE_ENV = {}     # and what else the workers need for it (the patched onnxruntime, see below)


def _load_segments(lib):
    """[(vaddr, file offset, size)] of an ELF file's PT_LOAD segments (readelf)."""
    out = subprocess.run(["readelf", "-lW", str(lib)], capture_output=True, text=True,
                         check=True).stdout
    segs = []
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            segs.append((int(f[2], 16), int(f[1], 16), int(f[4], 16)))
    return segs


def patch_cpuid_sites(lib):
    """Every CPUID instruction objdump finds in the ELF file lib becomes UD2, in place.
    Returns the sites' virtual addresses (offsets from the load address of a shared object)."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(lib)], capture_output=True,
                         text=True, check=True).stdout
    sites = [int(m.group(1), 16) for m in re.finditer(r"^\s*([0-9a-f]+):\s+cpuid\s*$", out, re.M)]
    segs = _load_segments(lib)
    data = bytearray(Path(lib).read_bytes())
    for va in sites:
        offs = [off + va - v for v, off, size in segs if v <= va < v + size]
        if len(offs) != 1 or data[offs[0]:offs[0] + 2] != b"\x0f\xa2":
            raise SystemExit(f"bench.py --emulate-avx2: {lib}: no CPUID at {va:#x}")
        data[offs[0] + 1] = 0x0b
    Path(lib).write_bytes(bytes(data))
    return sites


def patched_onnxruntime(dest):
    """A copy of the installed onnxruntime package under dest/ort_avx2 whose libraries have
    every CPUID replaced by UD2 (patch_cpuid_sites), and the sites file cpuid_avx2.c reads
    (CPUID_AVX2_SITES).  For machines without CPUID faulting.  Returns (folder, sites file)."""
    import importlib.util
    src = Path(importlib.util.find_spec("onnxruntime").origin).parent
    root = Path(dest) / "ort_avx2"
    sites_file = root / "cpuid_sites.txt"
    stamp = f"{src} {max(p.stat().st_mtime for p in src.rglob('*.so*'))}\n"
    if sites_file.exists() and (root / "stamp").exists() and (root / "stamp").read_text() == stamp:
        return root, sites_file
    tmp = Path(dest) / f"ort_avx2.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        shutil.copytree(src, tmp / "onnxruntime", ignore=shutil.ignore_patterns("__pycache__"))
        lines = []
        for lib in sorted((tmp / "onnxruntime").rglob("*.so*")):
            sites = patch_cpuid_sites(lib)
            if sites:
                lines.append(" ".join([lib.name] + [f"{va:x}" for va in sites]))
        (tmp / "cpuid_sites.txt").write_text("\n".join(lines) + "\n")
        (tmp / "stamp").write_text(stamp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(root, ignore_errors=True)
    tmp.replace(root)
    return root, sites_file


def build_cpuid_avx2(dest):
    """benchmarks/cpuid_avx2.c compiled into dest (once per change of the source), checked to
    take effect: a process preloading it sees no AVX-512 in CPUID.  Returns the library's path."""
    src = HERE / "cpuid_avx2.c"
    lib = Path(dest) / "libcpuid_avx2.so"
    Path(dest).mkdir(parents=True, exist_ok=True)
    if not lib.exists() or lib.stat().st_mtime < src.stat().st_mtime:
        tmp = lib.with_suffix(f".{os.getpid()}.tmp")
        subprocess.run(["gcc", "-O2", "-shared", "-fPIC", str(src), "-o", str(tmp)], check=True)
        tmp.replace(lib)
    probe = ("import ctypes, numpy, onnxruntime; c = ctypes.CDLL(None); "
             "print(c.cpuid_avx2_active(), c.cpuid_avx2_trapped(), onnxruntime.__file__)")

    def check(extra, mode):
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                             env={**os.environ, "LD_PRELOAD": str(lib), **extra})
        fields = out.stdout.split()
        ok = (out.returncode == 0 and len(fields) == 3 and fields[0] == mode
              and int(fields[1]) > 0)
        return ok, (out.stderr.strip().splitlines() or [out.stdout.strip()])[-1]

    ok, why = check({}, "1")          # CPUID faulting: every CPUID of the process answered
    if ok:
        return lib
    # No CPUID faulting (AMD under KVM): onnxruntime's own libraries, patched.
    root, sites = patched_onnxruntime(dest)
    extra = {"CPUID_AVX2_SITES": str(sites),
             "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    ok2, why2 = check(extra, "2")
    if not ok2:
        raise SystemExit("bench.py --emulate-avx2: CPUID could not be intercepted on this machine "
                         f"(no CPUID faulting: {why}; patched onnxruntime: {why2})")
    log(f"--emulate-avx2: no CPUID faulting here; onnxruntime runs from {root} "
        "(its CPUID instructions patched, answered by the preloaded library)")
    EMULATE_ENV.update(extra)
    return lib


class Worker:
    """A child process that loads sessions and times runs on request (JSON lines on its
    stdin / stdout).  script, env, nice: another script's worker (pool_ab.py's), by default
    this one's."""

    def __init__(self, label, script=None, env=None, nice=None):
        self.label = label
        nice = NICE if nice is None else nice
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(script or __file__).resolve()),
             "--worker" if script is None else "--child", f"--nice={nice}"],
            start_new_session=bool(nice), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, bufsize=1, env=_worker_env() if env is None else env)

    def call(self, cmd, **kw):
        self.proc.stdin.write(json.dumps({"cmd": cmd, **kw}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.label} died during {cmd!r} (exit code {self.proc.wait()})")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"worker {self.label}, {cmd} {kw}: {reply['error']}")
        return reply

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write('{"cmd": "quit"}\n')
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- models: export cache, FLOPs ------------------------------------------

def models_fingerprint():
    """Short hash of models/*.py: an export made by other network code (another weight
    initialisation, say) is not reused from the cache."""
    h = hashlib.sha256()
    for f in sorted((REPO / "models").glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:10]


def model_path(cache, name, opset):
    size = f"-{SIZES[name]}" if name in SIZES else ""
    return Path(cache) / f"{name}{size}-opset{opset}-{models_fingerprint()}.onnx"


def ensure_export(cache, name, opset, reexport=False):
    """Exports `name` with models/ at `opset` into the cache unless it is already there."""
    path = model_path(cache, name, opset)
    if path.exists() and not reexport:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    # Export into a scratch folder, then move: an interrupted export never looks cached.
    scratch = Path(tempfile.mkdtemp(prefix=f".partial-{name}-", dir=path.parent))
    try:
        code = ("import sys; from models.export import export; "
                f"export(sys.argv[1], sys.argv[2], opset={opset}, dynamo=False, "
                f"batch_dynamic=False, fold_bn=True, size={SIZES.get(name, 224)})")
        log(f"exporting {name} (opset {opset}, {SIZES.get(name, 224)}x{SIZES.get(name, 224)}, "
            "legacy exporter) ...")
        subprocess.run([sys.executable, "-c", code, name, str(scratch / path.name)],
                       cwd=REPO, check=True)
        for f in scratch.iterdir():  # the .onnx plus any external-data file beside it
            os.replace(f, path.parent / f.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return path


def model_files_bytes(path):
    """Size of the .onnx file plus external data files named after it."""
    return sum(f.stat().st_size for f in path.parent.glob(path.name + "*"))


def _tinycnn_analysis():
    """tinycnn.analysis of the build the workers run (an in-place build in this checkout wins)."""
    if list((REPO / "tinycnn").glob("_kernels*.so")) and str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tinycnn import analysis, loader
    return analysis, loader


def describe_model(path):
    """Input name and shape (batch 1), and 2 x the MACs tinycnn.analysis counts (Conv, Gemm,
    MatMul: the numbers of `tinycnn summary`)."""
    analysis, loader = _tinycnn_analysis()
    model = loader.load_model(str(path))
    if len(model.inputs) != 1:
        raise ValueError(f"{path}: expected one graph input, found {[v.name for v in model.inputs]}")
    v = model.inputs[0]
    dims = [d if isinstance(d, int) and d > 0 else 1 for d in v.dims]
    macs = analysis.analyze(model, {v.name: dims}).macs
    return {"input": v.name, "shape": dims, "flops": 2 * macs}


# ---- machine ------------------------------------------------------------------

def fma_peak(seconds, trials, threads):
    """{threads: {"gflops": over wall time, "cpu_gflops": over each thread's CPU time}}
    from benchmarks/fma_peak.c (best of `trials`)."""
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "fma_peak"
        subprocess.run(["gcc", "-O2", "-mavx2", "-mfma", "-pthread", "-std=c99",
                        str(HERE / "fma_peak.c"), "-o", str(exe)], check=True)
        out = subprocess.run(["nice", "-n", str(NICE), str(exe), str(seconds), str(trials),
                              *map(str, threads)], check=True, capture_output=True, text=True).stdout
    peak = {}
    for line in out.splitlines():
        fields = dict(f.split("=") for f in line.split())
        peak[int(fields.pop("threads"))] = {k: float(v) for k, v in fields.items()}
    return peak


_HOST_PROBE_SO = []   # the library build_host_probe made in this process


def build_host_probe():
    """benchmarks/host_probe.c built as a shared library (gcc -O2 -mavx2 -mfma), once per process,
    in a temporary directory removed at exit; its path (what host_probe and the workers' probes
    load)."""
    if not _HOST_PROBE_SO:
        import atexit
        tmp = tempfile.mkdtemp(prefix="host_probe_")
        atexit.register(shutil.rmtree, tmp, True)
        so = Path(tmp) / "host_probe.so"
        # without a preload: gcc's cc1 crashes under the AVX2 emulation's CPUID faulting
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        subprocess.run(["gcc", "-O2", "-mavx2", "-mfma", "-pthread", "-shared", "-fPIC",
                        str(HERE / "host_probe.c"), "-o", str(so)], check=True, env=env)
        _HOST_PROBE_SO.append(str(so))
    return _HOST_PROBE_SO[0]


def probe_spec(ms, threads):
    """The per-round probe's settings for the workers ({"lib", "seconds", "threads"}; None for
    ms <= 0 or where the library cannot be built: the rows then have no host-state columns)."""
    if not ms or ms <= 0:
        return None
    try:
        return {"lib": build_host_probe(), "seconds": ms / 1e3, "threads": threads}
    except (OSError, subprocess.CalledProcessError) as exc:
        log(f"the per-round host probe cannot be built, rounds go unlabelled: {exc}")
        return None


def isa_note():
    """The instruction sets each engine computes with: tinycnn's tier (TINYCNN_ISA or the best
    it has kernels for), and whether the CPU has AVX-512, which onnxruntime (MLAS) then uses."""
    flags = ""
    try:
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), "")
    except OSError:
        pass
    avx512 = " avx512f" in flags
    try:
        if list((REPO / "tinycnn").glob("_kernels*.so")) and str(REPO) not in sys.path:
            sys.path.insert(0, str(REPO))
        from tinycnn import _kernels
        best = _kernels.best_isa()
    except ImportError:
        best = "?"
    tier = os.environ.get("TINYCNN_ISA", "auto").strip().lower() or "auto"
    if EMULATE_AVX2:
        return (f"tinycnn {os.environ.get('TINYCNN_ISA', 'avx2')}; onnxruntime (MLAS) on AVX2: "
                "AVX-512 and VNNI hidden from CPUID in both engines' processes "
                "(benchmarks/cpuid_avx2.c, --emulate-avx2)")
    ours = best if tier == "auto" else tier
    return (f"tinycnn {ours}; onnxruntime (MLAS) its best for this CPU, "
            + ("AVX-512 (the CPU reports avx512f)" if avx512 else "AVX2 (no AVX-512 on this CPU)"))


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions(engine_a):
    from importlib import metadata

    def v(pkg):
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return None

    git = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                         capture_output=True, text=True)
    gcc = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True, text=True)
    return {"python": platform.python_version(), "numpy": v("numpy"), "onnx": v("onnx"),
            "onnxruntime": v("onnxruntime"), "torch (export)": v("torch"),
            "gcc": gcc.stdout.strip() or None,
            "tinycnn commit": (git.stdout.strip() or None) if engine_a == "tinycnn" else None}


# ---- measurements ----------------------------------------------------------------

def median(xs):
    return statistics.median(xs) if xs else None


def quantile(xs, f):
    """The f-quantile of xs (0 <= f <= 1), linear between the sorted values (None if empty)."""
    xs = sorted(xs)
    if not xs:
        return None
    k = f * (len(xs) - 1)
    i = int(k)
    return xs[i] if i + 1 >= len(xs) else xs[i] + (xs[i + 1] - xs[i]) * (k - i)


def split_bursts(ms, sizes):
    """The flat list of timed runs `ms` cut into its bursts (`sizes`: each burst's run count,
    in order; runs beyond their sum are left out)."""
    out, i = [], 0
    for n in sizes:
        out.append(ms[i:i + n])
        i += n
    return out


def round_ratios(a, b, stat=None):
    """Per round (the i-th burst of each engine: a burst pair), stat(a's runs) / stat(b's runs),
    stat the median by default.  a, b: {"ms": [...], "bursts": [sizes]}; [] without "bursts"
    (results written before it existed)."""
    stat = stat or statistics.median
    if "bursts" not in a or "bursts" not in b:
        return []
    return [stat(x) / stat(y) for x, y in zip(split_bursts(a["ms"], a["bursts"]),
                                              split_bursts(b["ms"], b["bursts"])) if x and y]


def spread(xs):
    """{"n", "median", "p25", "p75", "min", "max"} of the values xs (None if there are none)."""
    if not xs:
        return None
    return {"n": len(xs), "median": statistics.median(xs), "p25": quantile(xs, 0.25),
            "p75": quantile(xs, 0.75), "min": min(xs), "max": max(xs)}


def drift(per_round):
    """How a per-round series moved during a run: min of its last third of rounds over min of
    its first third, minus 1 (+0.05: the last third's best 5% slower).  None under 3 rounds."""
    k = len(per_round) // 3
    if k < 1:
        return None
    return min(per_round[-k:]) / min(per_round[:k]) - 1


def rounds_summary(a, b):
    """Per-round evidence of one row (engines a against b, dicts as round_ratios takes): the
    spread of the per-round ratios of burst medians ("ratio", with the list in "ratios"), and the
    drift (see drift) of each engine's burst minima and of the per-round ratios, first third of
    rounds to last.  None without bursts."""
    ratios = round_ratios(a, b)
    if not ratios:
        return None
    mins = {k: [min(x) for x in split_bursts(r["ms"], r["bursts"]) if x] for k, r in (("a", a), ("b", b))}
    k = len(ratios) // 3
    return {"ratio": spread(ratios), "ratios": ratios, "fast": fast_rounds(a, b),
            "state": state_rounds(a, b),   # against the row's own probes (markdown: the run's)
            "drift_a": drift(mins["a"]), "drift_b": drift(mins["b"]),
            "ratio_drift": (None if k < 1 else
                            statistics.median(ratios[-k:]) / statistics.median(ratios[:k]) - 1)}


FAST_ROUND = 1.10   # a round is "fast" within 10% of both engines' fastest bursts (fast_rounds)


def fast_rounds(a, b, limit=FAST_ROUND):
    """The per-round ratios of the rounds in which the host was at its best: both engines' burst
    medians, as a geometric mean of each over its own fastest burst median of the run, within
    `limit` (symmetric, so selecting does not favour either engine).  {"ratio": their median
    (None if no round is that fast),
    "n", "share": n over all rounds, "rest": the median of the other rounds' ratios (None if
    none)}; None without bursts."""
    ma = [statistics.median(x) for x in split_bursts(a.get("ms", []), a.get("bursts", [])) if x]
    mb = [statistics.median(x) for x in split_bursts(b.get("ms", []), b.get("bursts", [])) if x]
    n = min(len(ma), len(mb))
    if n == 0:
        return None
    ma, mb = ma[:n], mb[:n]
    best_a, best_b = min(ma), min(mb)
    fast, rest = [], []
    for x, y in zip(ma, mb):
        (fast if (x / best_a) * (y / best_b) <= limit * limit else rest).append(x / y)
    return {"ratio": statistics.median(fast) if fast else None, "n": len(fast), "share": len(fast) / n,
            "rest": statistics.median(rest) if rest else None}


FAST_MIN_ROUNDS = 3   # fewer fast rounds than this: their ratio is not shown (the --json has it)


def fmt_fast(f):
    """"0.88 (40%)": fast_rounds' ratio and share of rounds ("–" for None; "– (5%)" when fewer
    than FAST_MIN_ROUNDS rounds were fast: one or two bursts are not a ratio to quote)."""
    if not f:
        return "–"
    ratio = f["ratio"] if f["n"] >= FAST_MIN_ROUNDS else None
    return f"{_fmt(ratio, '.2f')} ({100 * f['share']:.0f}%)"


STATE_FAST = 0.90   # a probe reading at least this share of the reference: the host's fast state
PROBE_REF_Q = 0.90  # the reference: this quantile of the run's probes at a thread count
PROBE_MS = 20       # --probe-ms's default


def state_rounds(a, b, ref=None, limit=STATE_FAST):
    """The per-round ratios (a's burst median / b's) split by the host's state, as the FMA probes
    around each round read it.  a["host_probe"]: GFLOP/s before the first round and after each
    (rounds + 1 values).  A round is in the fast state when both its probes read at least `limit`
    x `ref`, in the slow state when both read below, and "mixed" (in neither) when the state
    changed around it.  ref: the run's reference at this thread count (run_probe_reference), by
    default this row's own (the PROBE_REF_Q quantile of its probes).  {"fast": {"ratio" (median;
    None without rounds), "n", "gflops" (median over the rounds of their two probes' mean)},
    "slow": likewise, "mixed": n, "ref"}; None without probes or bursts."""
    probes = a.get("host_probe") or b.get("host_probe")
    ratios = round_ratios(a, b)
    if not probes or not ratios or len(probes) < len(ratios) + 1:
        return None
    ref = ref or quantile(probes, PROBE_REF_Q)
    cut = limit * ref
    out = {"fast": [], "slow": [], "mixed": 0, "ref": ref}
    for i, r in enumerate(ratios):
        p0, p1 = probes[i], probes[i + 1]
        if min(p0, p1) >= cut:
            out["fast"].append((r, (p0 + p1) / 2))
        elif max(p0, p1) < cut:
            out["slow"].append((r, (p0 + p1) / 2))
        else:
            out["mixed"] += 1
    for k in ("fast", "slow"):
        xs = out[k]
        out[k] = {"n": len(xs), "ratio": statistics.median(r for r, _ in xs) if xs else None,
                  "gflops": statistics.median(g for _, g in xs) if xs else None}
    return out


def run_probe_reference(pairs):
    """{threads: the PROBE_REF_Q quantile of every per-round probe at that thread count} over
    (threads, engine result) pairs: state_rounds' reference, one per thread count for the whole
    run (a row wholly in the slow state then reads as slow, not against its own probes; a
    quantile, not the largest, so that one stray high reading does not move it)."""
    probes = {}
    for t, r in pairs:
        probes.setdefault(t, []).extend((r or {}).get("host_probe") or [])
    return {t: quantile(ps, PROBE_REF_Q) for t, ps in probes.items() if ps}


def fmt_state(part):
    """"0.81 (7, 84)": a state_rounds part's ratio, its rounds and their probe GFLOP/s ("–" for
    None; "– (2, 84)" for fewer than FAST_MIN_ROUNDS rounds)."""
    if not part:
        return "–"
    if not part["n"]:
        return "– (0)"
    ratio = part["ratio"] if part["n"] >= FAST_MIN_ROUNDS else None
    return f"{_fmt(ratio, '.2f')} ({part['n']}, {part['gflops']:.0f})"


def state_note(ref, ms, mixed):
    """The notes' sentence on the host-state columns (None without probes)."""
    if not ref:
        return None
    return (f"Host state per round: an FMA probe of {ms:g} ms at the row's thread count "
            "(benchmarks/host_probe.c, GFLOP/s per second of CPU time) before and after every "
            f"round; fast-state rounds: both probes at least {STATE_FAST:.2f} of the reference, the "
            f"{100 * PROBE_REF_Q:.0f}th percentile of the run's probes at that thread count ("
            + ", ".join(f"{t}t {g:.1f} GFLOP/s" for t, g in sorted(ref.items()))
            + f"), slow-state rounds: both below; rounds where the state changed ({mixed}) in "
            "neither.  In brackets: rounds, and their probes' median GFLOP/s.")


def state_log(rounds):
    """The progress line's host-state part ("" without probes): the row's own probes as
    reference (the table takes the run's)."""
    st = (rounds or {}).get("state")
    if not st:
        return ""
    return (f"; by probe (reference {st['ref']:.1f} GFLOP/s): fast-state {fmt_state(st['fast'])}, "
            f"slow-state {fmt_state(st['slow'])}, mixed {st['mixed']}")


def fmt_pct(x):
    """A relative change as "+1.2%" (never "-0.0%")."""
    return f"{round(100 * x, 1) + 0.0:+.1f}%"


def fmt_spread(sp, spec=".2f"):
    """"0.83 [0.82-0.84]": median and 25-75% range of a spread() ("–" for None)."""
    if not sp:
        return "–"
    return f"{format(sp['median'], spec)} [{format(sp['p25'], spec)}-{format(sp['p75'], spec)}]"


def try_engine(engine, path, desc):
    """None if `engine` loads and runs the model in a fresh process, else the error."""
    try:
        with Worker(f"probe-{engine}") as w:
            w.call("load", engine=engine, path=str(path), threads=1,
                   input_name=desc["input"], shape=desc["shape"])
            w.call("run", engine=engine, n=1)
    except RuntimeError as exc:
        return str(exc)
    return None


def measure_load(engines, path, desc, samples):
    """Fresh process per sample and engine: create the session (timed), run once, peak RSS."""
    res = {e: {"load_ms": [], "maxrss_kb": [], "maxrss_kb_before_load": []} for e in engines}
    info = {}
    for s in range(samples):
        order = engines if s % 2 == 0 else engines[::-1]
        for e in order:
            with Worker(f"load-{e}") as w:
                r = w.call("load", engine=e, path=str(path), threads=1,
                           input_name=desc["input"], shape=desc["shape"])
                run = w.call("run", engine=e, n=1)
            res[e]["load_ms"].append(r["load_ms"])
            res[e]["maxrss_kb"].append(run["maxrss_kb"])
            res[e]["maxrss_kb_before_load"].append(r["maxrss_kb_before_load"])
            info[e] = r["info"]
    return res, info


def measure_one_process(engines, path, desc, threads, warmup, runs, seconds, meter, burst=1,
                        feed="normal", fifo=False, pause=0.02, probe=None):
    """Both engines in one process, alternating bursts of `burst` timed runs, the first run of
    each burst discarded (runs one by one when burst is 1); used at 1 thread.  path: one model for
    all engines (their outputs are compared), or {engine: model}; feed: input_feed's kind;
    fifo, pause: each burst under SCHED_FIFO, a pause after it (_Worker.cmd_alternate); probe:
    probe_spec's, the host's FMA rate before the first round and after each.
    Per engine: "ms", "cpu_ms" and "bursts" (the burst sizes, in order), with a probe
    "host_probe" (the same series for every engine)."""
    with Worker("alternate") as w:
        for e in engines:
            w.call("load", engine=e, path=str(path[e] if isinstance(path, dict) else path),
                   threads=threads, input_name=desc["input"], shape=desc["shape"], feed=feed)
        same = len(engines) > 1 and not isinstance(path, dict)
        diffs = w.call("compare", engines=engines)["diffs"] if same else []
        with meter.around([w]):
            r = w.call("alternate", engines=engines, warmup=warmup, runs=runs, seconds=seconds,
                       burst=burst, fifo=fifo, pause=pause, probe=probe)
    return {e: {"ms": r["ms"][e], "cpu_ms": r["cpu_ms"][e], "bursts": r["bursts"][e],
                **({"host_probe": r["host_probe"]} if "host_probe" in r else {})}
            for e in engines}, diffs


def _cpu_ns(pid):
    """CPU time of every thread of process `pid`, in ns (None where /proc is missing)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # thread exited meanwhile
    return total


def wait_quiet(pid, gap, limit=2.0, tick=0.01):
    """Waits at least `gap` s, then until the process burns < 5% of a core over a tick
    (pool workers of some engines spin for tens of ms after a run).  Returns the wait in s."""
    t0 = time.perf_counter()
    time.sleep(gap)
    prev = _cpu_ns(pid)
    while prev is not None and time.perf_counter() - t0 < limit:
        time.sleep(tick)
        cur = _cpu_ns(pid)
        if cur is None or cur - prev < 0.05 * tick * 1e9:
            break
        prev = cur
    return time.perf_counter() - t0


def measure_bursts(engines, path, desc, threads, warmup, runs, seconds, burst, gap, meter,
                   feed="normal", probe=None):
    """One process per engine; strictly alternating bursts, the first run of each discarded.
    Before a burst starts, the other process must be quiet (see wait_quiet); the CPU it
    still burns during the burst is recorded as idle_cpu_ms.  path: one model for all
    engines, or {engine: model}; feed: input_feed's kind; probe: probe_spec's, the host's FMA
    rate before the first round and after each (the first engine's process runs it, every
    process quiet), in every engine's "host_probe"."""
    workers = {}
    try:
        for e in engines:
            workers[e] = Worker(f"{e}-{threads}t")
            workers[e].call("load", engine=e, path=str(path[e] if isinstance(path, dict) else path),
                            threads=threads,
                            input_name=desc["input"], shape=desc["shape"], feed=feed)
            workers[e].call("run", engine=e, n=warmup)
            wait_quiet(workers[e].proc.pid, gap)
        res = {e: {"ms": [], "cpu_ms": [], "idle_cpu_ms": [], "quiet_wait_ms": [], "bursts": []}
               for e in engines}
        probes = []

        def take_probe():
            if probe:
                probes.append(workers[engines[0]].call("probe", lib=probe["lib"], kind="fma",
                                                       seconds=probe["seconds"],
                                                       threads=probe["threads"])["rate"])

        take_probe()
        t0 = time.perf_counter()
        while True:
            for e in engines:
                others = [o for o in engines if o != e]
                before = {o: _cpu_ns(workers[o].proc.pid) for o in others}
                with meter.around(list(workers.values())):
                    r = workers[e].call("run", engine=e, n=burst + 1, fifo=FIFO)
                for o in others:
                    after = _cpu_ns(workers[o].proc.pid)
                    if before[o] is not None and after is not None:
                        res[o]["idle_cpu_ms"].append((after - before[o]) / 1e6)
                res[e]["ms"].extend(r["ms"][1:])
                res[e]["bursts"].append(len(r["ms"]) - 1)
                res[e]["cpu_ms"].extend(r["cpu_ms"][1:])
                res[e]["quiet_wait_ms"].append(wait_quiet(workers[e].proc.pid, gap) * 1e3)
            take_probe()
            n = min(len(res[e]["ms"]) for e in engines)
            elapsed = time.perf_counter() - t0
            if (seconds is None and n >= runs) or (seconds is not None and elapsed >= seconds and n >= 3):
                break
        if probe:
            for e in engines:
                res[e]["host_probe"] = probes
        return res
    finally:
        for w in workers.values():
            w.close()


def measure_phase(engines, path, desc, threads, warmup, runs, seconds, burst, gap, meter,
                  feed="normal", fifo_1t=False, probe=None):
    """Both engines at `threads` in alternating bursts of `burst` timed runs, the way the thread
    count calls for (1: measure_one_process, --fifo-1t's bursts; N > 1: measure_bursts):
    ({engine: result}, the output diffs at 1 thread, else None)."""
    if threads == 1:
        return measure_one_process(engines, path, desc, 1, warmup, runs, seconds, meter, burst, feed,
                                   fifo=fifo_1t, pause=gap, probe=probe)
    return measure_bursts(engines, path, desc, threads, warmup, runs, seconds, burst, gap, meter,
                          feed, probe=probe), None


def _busy_seconds():
    """CPU seconds all cores spent busy since boot, steal time included (None without /proc)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class BackgroundMeter:
    """Cores used by other processes while our workers compute: the noise on a shared machine.
    Wraps each timed call (`with meter.around(workers):`), so pauses between bursts don't count."""

    def __init__(self):
        self.other_s = 0.0
        self.wall_s = 0.0
        self.ok = True

    def around(self, workers):
        meter = self

        class _Span:
            def __enter__(self):
                self.t0, self.b0 = time.perf_counter(), _busy_seconds()
                self.c0 = [_cpu_ns(w.proc.pid) for w in workers]

            def __exit__(self, *exc):
                b1, t1 = _busy_seconds(), time.perf_counter()
                c1 = [_cpu_ns(w.proc.pid) for w in workers]
                if None in (b1, self.b0) or None in self.c0 or None in c1:
                    meter.ok = False
                    return
                ours = sum(b - a for a, b in zip(self.c0, c1)) / 1e9
                meter.other_s += max(0.0, b1 - self.b0 - ours)
                meter.wall_s += t1 - self.t0

        return _Span()

    @property
    def cores(self):
        return self.other_s / self.wall_s if self.ok and self.wall_s > 0 else None


def run_benchmark(args):
    # --engine-a onnxruntime: onnxruntime stands in for tinycnn (to test the harness itself).
    engines = {"none": [REFERENCE], "onnxruntime": [REFERENCE + "#a", REFERENCE]}.get(
        args.engine_a, [args.engine_a, REFERENCE])
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(), "cores": os.cpu_count(), "versions": versions(args.engine_a),
        "engines": engines, "loadavg_start": os.getloadavg(),
        "method": {"nice": args.nice, "fifo": args.fifo, "fifo_1t": args.fifo_1t,
                   "runs": args.runs, "seconds": args.seconds,
                   "warmup": args.warmup,
                   "burst": args.burst, "burst_1t": args.burst, "min_gap_s": args.gap,
                   "steady_burst": args.steady_burst,
                   "load_samples": args.load_samples, "probe_ms": args.probe_ms},
        "suite": args.suite, "opset": args.opset, "isa": isa_note(),
        "models": {},
    }
    log(f"measuring the FMA peak ({', '.join(map(str, args.threads))} threads) ...")
    # The peak is what the cores can do: flops per second of CPU time, robust to sharing.
    try:
        result["fma_probe"] = fma_peak(args.fma_seconds, args.fma_trials, args.threads)
    except (OSError, subprocess.CalledProcessError) as exc:  # no gcc, or no AVX2/FMA
        log(f"  the FMA probe failed, GFLOP/s are shown without a peak: {exc}")
        result["fma_probe"] = {}
    result["fma_peak_gflops"] = {t: p["cpu_gflops"] for t, p in result["fma_probe"].items()}
    log("  " + ", ".join(f"{t} threads: {p['cpu_gflops']:.1f} GFLOP/s of CPU time, {p['gflops']:.1f} of wall time"
                         for t, p in result["fma_probe"].items()))

    for name in args.models:
        path = ensure_export(args.cache, name, args.opset, args.reexport)
        desc = describe_model(path)
        m = {"file": str(path), "file_mb": model_files_bytes(path) / 1e6, "gflop": desc["flops"] / 1e9,
             "input": desc, "threads": {}}
        result["models"][name] = m
        m["engines"] = list(engines)
        if len(engines) > 1:  # a model the engine under test cannot run yet: measure onnxruntime alone
            err = try_engine(engines[0], path, desc)
            if err:
                log(f"{name}: {engines[0]} failed, measuring {REFERENCE} alone: {err}")
                m["error"] = err
                m["engines"] = [REFERENCE]
        # Alternate which engine goes first from model to model.
        order = m["engines"] if len(result["models"]) % 2 else m["engines"][::-1]
        if args.load_samples > 0:
            log(f"{name}: session creation and peak RSS, {args.load_samples} fresh processes per engine ...")
            m["load"], info = measure_load(order, path, desc, args.load_samples)
            result.setdefault("engine_info", {}).update(info)
        def phase(t, burst, bg):
            return measure_phase(order, path, desc, t, args.warmup, args.runs, args.seconds, burst,
                                 args.gap, bg, fifo_1t=args.fifo_1t, probe=probe_spec(args.probe_ms, t))

        for t in args.threads:
            log(f"{name}: {t} thread(s) ...")
            bg = BackgroundMeter()
            m["threads"][t], diffs = phase(t, args.burst, bg)
            if diffs is not None:
                m["output_diff"] = diffs
            m.setdefault("background_cores", {})[t] = bg.cores
            for e in m["engines"]:
                r = m["threads"][t][e]
                r["median_ms"] = median(r["ms"])
                r["median_cpu_ms"] = median(r["cpu_ms"])
                r["gflops"] = m["gflop"] / (r["median_ms"] / 1e3)
                p = result["fma_peak_gflops"].get(t)
                r["peak_fraction"] = r["gflops"] / p if p else None
            rounds = None
            if len(m["engines"]) > 1:   # per-round ratios of the engine under test to onnxruntime
                rounds = rounds_summary(m["threads"][t][m["engines"][0]], m["threads"][t][REFERENCE])
                m.setdefault("rounds", {})[t] = rounds
            log("  " + ", ".join(f"{e} {m['threads'][t][e]['median_ms']:.1f} ms "
                                 f"(CPU {m['threads'][t][e]['median_cpu_ms']:.1f} ms)" for e in m["engines"])
                + f"; other processes used {_fmt(bg.cores, '.2f')} cores"
                + (f"; per-round ratios {fmt_spread(rounds['ratio'], '.3f')} over {rounds['ratio']['n']}, "
                   f"fast rounds {fmt_fast(rounds['fast'])}" if rounds else "")
                + state_log(rounds))
            if args.steady_burst and len(m["engines"]) > 1:
                log(f"{name}: {t} thread(s), bursts of {args.steady_burst} ...")
                per, _ = phase(t, args.steady_burst, BackgroundMeter())
                for r in per.values():
                    r["median_ms"] = median(r["ms"])
                st = {"burst": args.steady_burst, "engines": per,
                      "rounds": rounds_summary(per[m["engines"][0]], per[REFERENCE])}
                m.setdefault("steady", {})[t] = st
                log("  " + ", ".join(f"{e} {per[e]['median_ms']:.1f} ms" for e in m["engines"])
                    + (f"; per-round ratios {fmt_spread(st['rounds']['ratio'], '.3f')} over "
                       f"{st['rounds']['ratio']['n']}" if st["rounds"] else ""))
    result["loadavg_end"] = os.getloadavg()
    if result["fma_probe"]:   # the host's state at the end too: a table carries its own evidence
        try:
            result["fma_probe_end"] = fma_peak(args.fma_seconds, args.fma_trials, args.threads)
            result["fma_peak_gflops_end"] = {t: p["cpu_gflops"] for t, p in result["fma_probe_end"].items()}
            log("FMA peak at the end: " + ", ".join(
                f"{t} threads: {p['cpu_gflops']:.1f} GFLOP/s of CPU time"
                for t, p in result["fma_probe_end"].items()))
        except (OSError, subprocess.CalledProcessError) as exc:
            log(f"  the FMA probe at the end failed: {exc}")
    return result


# ---- report -------------------------------------------------------------------

def _fmt(x, spec=".1f", missing="–"):
    return missing if x is None else format(x, spec)


def _ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def markdown(result):
    engines = result["engines"]
    a = engines[0] if len(engines) > 1 else None
    an = a or "tinycnn"  # column title
    v = result["versions"]
    peak = result["fma_peak_gflops"]
    out = [
        f"Measured {result['date']} on {result['cpu']} ({result['cores']} cores), "
        + ", ".join(f"{k} {val}" for k, val in v.items() if val) + ".",
        f"FMA peak (benchmarks/fma_peak.c, per second of CPU time): "
        + (", ".join(f"{g:.1f} GFLOP/s on {t} thread{'s' if t > 1 else ''}" for t, g in peak.items())
           or "not measured")
        + f". Load average {result['loadavg_start'][0]:.2f} at start, {result['loadavg_end'][0]:.2f} at end."
        + (f" Instruction sets: {result['isa']}." if result.get("isa") else ""),
        "",
        f"| model | input | GFLOP | threads | {an} ms | onnxruntime ms | ratio "
        f"| per-round ratio [25-75%] | fast rounds: ratio (share) "
        "| fast-state rounds: ratio (n, probe GFLOP/s) | slow-state rounds: ratio (n, probe GFLOP/s) "
        f"| {an} GFLOP/s (% peak) | onnxruntime GFLOP/s (% peak) | other processes (cores) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    steady_burst = result.get("method", {}).get("steady_burst") or 0
    steady = steady_burst and any("steady" in m for m in result["models"].values())
    if steady:   # a last column: the second phase's ratio (--steady-burst)
        out[-2] += f" bursts of {steady_burst}: ratio, per-round [25-75%] |"
        out[-1] += "---:|"
    ref = run_probe_reference((t, per.get(REFERENCE)) for m in result["models"].values()
                              for t, per in m["threads"].items())
    mixed = 0
    end = result.get("fma_peak_gflops_end") or {}
    if end:
        out[1] += (" FMA peak at the end: "
                   + ", ".join(f"{g:.1f} GFLOP/s on {t} thread{'s' if t > 1 else ''}" for t, g in end.items())
                   + ".")

    def rate(r):
        if r is None:
            return "–"
        frac = r.get("peak_fraction")
        return f"{r['gflops']:.1f}" + ("" if frac is None else f" ({100 * frac:.0f}%)")

    for name, m in result["models"].items():
        for t, per in m["threads"].items():
            ra, rb = per.get(a), per[REFERENCE]
            ma = ra["median_ms"] if ra else None
            size = "x".join(map(str, m.get("input", {}).get("shape", [])[2:])) or "–"
            st = state_rounds(ra, rb, ref.get(t)) if ra and "ms" in ra and "ms" in rb else None
            mixed += st["mixed"] if st else 0
            out.append(f"| {TITLES.get(name, name)} | {size} | {m['gflop']:.2f} | {t} | {_fmt(ma)} "
                       f"| {_fmt(rb['median_ms'])} | {_fmt(_ratio(ma, rb['median_ms']), '.2f')} "
                       f"| {fmt_spread((m.get('rounds', {}).get(t) or {}).get('ratio'))} "
                       f"| {fmt_fast((m.get('rounds', {}).get(t) or {}).get('fast'))} "
                       f"| {fmt_state(st and st['fast'])} | {fmt_state(st and st['slow'])} "
                       f"| {rate(ra)} | {rate(rb)} | {_fmt(m['background_cores'].get(t), '.2f')} |"
                       + (f" {steady_cell(m, t, a)} |" if steady else ""))
    if any("load" in m for m in result["models"].values()):
        out += ["",
                f"| model | file MB | {an} load ms | onnxruntime load ms | ratio "
                f"| {an} peak RSS MB (after import) | onnxruntime peak RSS MB (after import) | ratio |",
                "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name, m in result["models"].items():
            if "load" not in m:
                continue
            L = m["load"]
            la = median(L[a]["load_ms"]) if a in L else None
            lb = median(L[REFERENCE]["load_ms"])
            sa = median(L[a]["maxrss_kb"]) / 1024 if a in L else None
            sb = median(L[REFERENCE]["maxrss_kb"]) / 1024

            def rss(e, total):  # the peak, and its growth from the moment before the session
                if e not in L:
                    return "–"
                return f"{total:.0f} (+{total - median(L[e]['maxrss_kb_before_load']) / 1024:.0f})"

            out.append(f"| {TITLES.get(name, name)} | {m['file_mb']:.0f} | {_fmt(la)} | {_fmt(lb)} "
                       f"| {_fmt(_ratio(la, lb), '.2f')} | {rss(a, sa)} | {rss(REFERENCE, sb)} "
                       f"| {_fmt(_ratio(sa, sb), '.2f')} |")
    notes = []
    for name, m in result["models"].items():
        th = m["threads"]
        if 1 in th and len(th) > 1:
            t2 = max(th)
            sp = {e: _ratio(th[1][e]["median_ms"], th[t2][e]["median_ms"]) for e in m["engines"]}
            if name == "resnet50" or len(result["models"]) == 1:
                notes.append(f"{TITLES.get(name, name)}, speedup of {t2} threads over 1: "
                             + ", ".join(f"{e} {_fmt(sp[e], '.2f')}x" for e in m["engines"]) + ".")
        if "error" in m:
            notes.append(f"{an} could not run {TITLES.get(name, name)}: {m['error'].splitlines()[-1]}")
        for d in m.get("output_diff", []):
            if "error" in d or d["max_rel_diff"] > 1e-3:
                notes.append(f"WARNING: {TITLES.get(name, name)} output {d['output']} differs from "
                             f"onnxruntime: {d}.")
    cpu1 = []
    for name, m in result["models"].items():
        per = m["threads"].get(1)
        if per:
            ca, cb = (per[a]["median_cpu_ms"] if a in per else None), per[REFERENCE]["median_cpu_ms"]
            cpu1.append(f"{TITLES.get(name, name)} {_fmt(ca)} / {cb:.1f} = {_fmt(_ratio(ca, cb), '.2f')}")
    if cpu1:
        notes.append(f"1 thread, median process CPU time per run, {an} / onnxruntime ms (less sensitive to "
                     "other processes than wall time): " + "; ".join(cpu1) + ".")
    diffs = [f"{TITLES.get(name, name)} {d['max_rel_diff']:.1e}" for name, m in result["models"].items()
             for d in m.get("output_diff", []) if "max_rel_diff" in d]
    if diffs:
        notes.append(f"Largest difference of {an}'s output from onnxruntime's, relative to onnxruntime's "
                     "largest |output|: " + "; ".join(diffs) + ".")
    idle = [x for m in result["models"].values() for per in m["threads"].values()
            for r in per.values() for x in r.get("idle_cpu_ms", [])]
    if idle:
        notes.append(f"While one engine ran a burst, the other's waiting process used at most "
                     f"{max(idle):.1f} ms of CPU (median {median(idle):.1f} ms).")
    if a:
        notes.append(targets_line(result, a))
    meth = result["method"]
    count = (f"at least {meth['seconds']} s per model and thread count" if meth["seconds"]
             else f"{meth['runs']} runs per engine")
    many = ",".join(str(t) for t in sorted({t for m in result["models"].values() for t in m["threads"]}) if t > 1)
    if meth.get("nice"):
        notes.append(f"Timed processes ran at niceness {meth['nice']}.")
    if meth.get("fifo") or meth.get("fifo_1t"):
        which = ("at every thread count" if meth.get("fifo") and meth.get("fifo_1t")
                 else "at N > 1 threads" if meth.get("fifo") else "at 1 thread")
        notes.append(f"Bursts {which} ran under SCHED_FIFO ("
                     + " and ".join(f for f, on in (("--fifo", meth.get("fifo")),
                                                    ("--fifo-1t", meth.get("fifo_1t"))) if on)
                     + "), both engines alike"
                     + (f"; at 1 thread with a pause of at least {meth.get('min_gap_s', 0.02) * 1e3:.0f} ms "
                        "(and a tenth of the burst) after each burst" if meth.get("fifo_1t") else "")
                     + ".")
    if steady:
        notes.append(f"Last column: after each row's bursts, a second phase as long in bursts of {steady_burst} "
                     "runs (the first of each discarded): both engines in steady state, as an application "
                     "running image after image. The two phases part by a few % either way, by network and "
                     "run, so the targets are checked on both.")
    host = host_line(result)
    if host:
        notes.append(host)
    state = state_note(ref, meth.get("probe_ms") or PROBE_MS, mixed)
    if state:
        notes.append(state)
    notes.append(
        f"Medians of {count}, batch 1, fp32, models exported by models/ at opset {result['opset']} "
        "(legacy exporter). "
        + ("1 thread: both engines in one process, runs alternating. " if not meth.get("burst_1t")
           else f"1 thread: both engines in one process, alternating bursts of {meth['burst_1t']} runs "
           "(first run of each burst discarded). ")
        + (f"{many} threads: one process per engine, alternating bursts of {meth['burst']} runs (first run "
           "of each burst discarded), one process computing at a time. " if many else "")
        + "Load: session creation in fresh processes; peak RSS: VmHWM of a "
        "fresh process after its first run (in brackets: its growth from just before the session was "
        "created, i.e. without the interpreter, numpy and the engine's import). "
        "GFLOP counts 2 x MACs of direct Conv and Gemm, so an engine that does fewer flops (Winograd) "
        f"can exceed 100% of the peak. Ratio = {an} / onnxruntime. Other processes: cores they used while "
        "ours computed (a shared machine makes numbers noisy); at 1 thread the second core is theirs, so "
        "up to 1.0 there slows us only through shared caches and memory.")
    return "\n".join(out + [""] + notes)


def steady_ratio(m, t, a):
    """The ratio a / onnxruntime of a row's second phase (--steady-burst), None without one."""
    st = m.get("steady", {}).get(t)
    if not st or a not in st["engines"]:
        return None
    return _ratio(st["engines"][a]["median_ms"], st["engines"][REFERENCE]["median_ms"])


def steady_cell(m, t, a):
    """The table cell of a row's second phase: its whole ratio, then its per-round spread."""
    r = steady_ratio(m, t, a)
    if r is None:
        return "–"
    rounds = m["steady"][t].get("rounds")
    return f"{r:.2f}, {fmt_spread(rounds and rounds['ratio'])}"


def host_line(result):
    """The run's own evidence of a steady or a swinging host: per row, how each engine's fastest
    runs and the per-round ratio moved from the first third of rounds to the last (rounds_summary),
    summarised as the median and the largest move, and the FMA peak at start and end."""
    rows = [(name, t, r) for name, m in result["models"].items()
            for t, r in (m.get("rounds") or {}).items() if r]
    parts = []
    peak, end = result.get("fma_peak_gflops") or {}, result.get("fma_peak_gflops_end") or {}
    if peak and end:
        parts.append("FMA peak at end / start " + ", ".join(
            f"{t}t {end[t] / peak[t]:.2f}" for t in peak if t in end and peak[t]))
    for key, what in (("drift_b", "onnxruntime's"), ("drift_a", f"{result['engines'][0]}'s"),
                      ("ratio_drift", "the per-round ratio's")):
        vals = [(r[key], name, t) for name, t, r in rows if r.get(key) is not None]
        if not vals:
            continue
        worst = max(vals, key=lambda v: abs(v[0]))
        parts.append(f"{what} median {fmt_pct(median([v[0] for v in vals]))}, largest "
                     f"{fmt_pct(worst[0])} ({TITLES.get(worst[1], worst[1])} {worst[2]}t)")
    if not parts:
        return None
    return ("Host during the run (drift: fastest burst of the last third of rounds against the "
            "first third's, per-round ratio: median of the last third against the first third's; "
            "a steady host keeps these within a few %): " + "; ".join(parts) + ".")


def load_result(path):
    """A --json file back into the form markdown() takes (JSON made the thread counts strings)."""
    r = json.loads(Path(path).read_text())
    r["fma_peak_gflops"] = {int(k): v for k, v in r["fma_peak_gflops"].items()}
    if "fma_peak_gflops_end" in r:
        r["fma_peak_gflops_end"] = {int(k): v for k, v in r["fma_peak_gflops_end"].items()}
    r.setdefault("suite", "classic")   # files written before the suites existed
    r.setdefault("opset", SUITES[r["suite"]][1])
    for m in r["models"].values():
        m["threads"] = {int(k): v for k, v in m["threads"].items()}
        m["background_cores"] = {int(k): v for k, v in m.get("background_cores", {}).items()}
        if "steady" in m:
            m["steady"] = {int(k): v for k, v in m["steady"].items()}
        if "rounds" in m:
            m["rounds"] = {int(k): v for k, v in m["rounds"].items()}
        elif len(m.get("engines", [])) > 1:   # written before the rounds: rebuilt (infer_bursts)
            rounds = {}
            for t, per in m["threads"].items():
                a, b = per.get(m["engines"][0]), per.get(REFERENCE)
                if a and b and "ms" in a and "ms" in b:
                    for e in (a, b):
                        e.setdefault("bursts", infer_bursts(len(e["ms"]), t, r.get("method", {})))
                    rounds[t] = rounds_summary(a, b)
            m["rounds"] = rounds
    return r


def infer_bursts(n, threads, method):
    """The burst sizes a run of n timed runs had, for --json files written before the workers
    reported them: N > 1 threads, bursts of method["burst"] (measure_bursts times burst of
    burst + 1 runs); 1 thread, bursts of method["burst_1t"], the last one shorter under --runs
    (cmd_alternate), or runs one by one before bursts existed (no "burst_1t")."""
    size = method.get("burst", 1) if threads > 1 else method.get("burst_1t") or 1
    return [size] * (n // size) + ([n % size] if n % size else [])


def targets_line(result, a):
    """Which of the suite's targets (issue 4's, or 12's) this run meets."""
    _, _, targets, issue = SUITES[result["suite"]]
    met, missed = [], []

    def check(label, value, limit, at_least=False):
        if value is None:
            return
        ok = value >= limit if at_least else value <= limit
        (met if ok else missed).append(f"{label} {value:.2f} (target {'>=' if at_least else '<='} {limit:.2f})")

    for name, m in result["models"].items():
        for t, per in m["threads"].items():
            if a in per and name in targets:
                check(f"{TITLES[name]} {t}t", _ratio(per[a]["median_ms"], per[REFERENCE]["median_ms"]),
                      targets[name])
                if t in m.get("steady", {}):   # the steady-state phase must meet the target too
                    check(f"{TITLES[name]} {t}t bursts of {m['steady'][t]['burst']}",
                          steady_ratio(m, t, a), targets[name])
    vgg = result["models"].get("vgg16", {}).get("load", {})
    if a in vgg:
        check("VGG-16 load", _ratio(median(vgg[a]["load_ms"]), median(vgg[REFERENCE]["load_ms"])),
              VGG_LOAD_TARGET)
        check("VGG-16 peak RSS", _ratio(median(vgg[a]["maxrss_kb"]), median(vgg[REFERENCE]["maxrss_kb"])),
              VGG_RSS_TARGET)
    r50 = result["models"].get("resnet50", {}).get("threads", {})
    if 1 in r50 and 2 in r50 and a in r50[1] and a in r50[2]:
        check("ResNet-50 2t speedup", _ratio(r50[1][a]["median_ms"], r50[2][a]["median_ms"]),
              RESNET50_SPEEDUP_TARGET, at_least=True)
    return (f"{issue} targets met ({len(met)}): " + ("; ".join(met) or "none")
            + f". Missed ({len(missed)}): " + ("; ".join(missed) or "none") + ".")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", default="classic", choices=sorted(SUITES),
                   help="classic: issue 4's four networks at opset 13; mobile: issue 12's ten and "
                        "ResNet-18/50 at opset 17; dense: issue 13's segmentation, detection and text "
                        "detection networks at opset 17 (default classic)")
    p.add_argument("--models", default=None,
                   help=f"comma-separated, from {', '.join(MODELS)} (default: the suite's)")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default: 1,2)")
    p.add_argument("--runs", type=int, default=15, help="timed runs per engine and thread count (default 15)")
    p.add_argument("--seconds", type=float, default=None,
                   help="instead of --runs: alternate for this many seconds per model and thread count")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs per engine before timing (default 2)")
    p.add_argument("--burst", type=int, default=5, help="timed runs per burst (default 5; after one untimed run)")
    p.add_argument("--steady-burst", type=int, default=0, metavar="N",
                   help="after each row's bursts of --burst, a second phase in bursts of N runs (e.g. "
                        "20: the engines in steady state, as an application running image after "
                        "image), with the same --runs / --seconds; its ratio is a column of its own "
                        "and its targets are checked too (default 0: no second phase)")
    p.add_argument("--gap", type=float, default=0.02,
                   help="least pause between bursts, s; then wait until the last process is quiet (default 0.02)")
    p.add_argument("--load-samples", type=int, default=3,
                   help="fresh processes per engine for load time and peak RSS (default 3; 0 skips)")
    p.add_argument("--cache", default="exports", help="folder of exported models (default ./exports/)")
    p.add_argument("--reexport", action="store_true", help="export the models again")
    p.add_argument("--quick", action="store_true",
                   help="a fast, rough pass: 5 runs, bursts of 3, 1 load sample, short FMA probe")
    p.add_argument("--json", metavar="FILE", help="also write every sample and setting as JSON")
    p.add_argument("--render", metavar="FILE", help="print the Markdown of an earlier --json FILE; measure nothing")
    p.add_argument("--emulate-avx2", action="store_true",
                   help="run both engines as on the issues' AVX2-only machine: AVX-512 and VNNI hidden "
                        "from CPUID (benchmarks/cpuid_avx2.c, preloaded; needs Linux and CPUID "
                        "faulting) and tinycnn at TINYCNN_ISA=avx2 unless set")
    p.add_argument("--nice", type=int, default=0,
                   help="niceness of the timed processes; on a shared machine, -10 (needs root) "
                        "gives them the cores ahead of other work (default 0)")
    p.add_argument("--fifo", action="store_true",
                   help="N > 1 threads: each burst's process under SCHED_FIFO for the burst only, "
                        "both engines alike (root; the 1-thread process stays under CFS)")
    p.add_argument("--fifo-1t", action="store_true",
                   help="1 thread: each burst (of either engine, in their one process) under "
                        "SCHED_FIFO, then a pause of at least --gap under CFS (root)")
    p.add_argument("--probe-ms", type=float, default=PROBE_MS,
                   help="the host's state per round: an FMA probe of this many ms (benchmarks/"
                        "host_probe.c, at the row's thread count) before and after every round, "
                        f"the table's fast-state / slow-state columns (default {PROBE_MS}; 0: none)")
    # For developing the harness: 'none' measures onnxruntime alone, 'onnxruntime' stands in for tinycnn.
    p.add_argument("--engine-a", default="tinycnn", choices=["tinycnn", "onnxruntime", "none"],
                   help=argparse.SUPPRESS)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    suite_models, args.opset, _, _ = SUITES[args.suite]
    args.models = [m.strip() for m in (args.models or ",".join(suite_models)).split(",") if m.strip()]
    for m in args.models:
        if m not in MODELS:
            p.error(f"unknown model {m!r}; choose from {', '.join(MODELS)}")
    args.threads = sorted({int(t) for t in args.threads.split(",")})
    if not args.threads or min(args.threads) < 1:
        p.error("--threads: positive integers, e.g. 1,2")
    args.fma_seconds, args.fma_trials = 0.3, 3
    if args.quick:
        args.runs, args.burst, args.load_samples = 5, 3, min(args.load_samples, 1)
        args.fma_seconds, args.fma_trials = 0.1, 2
    if args.runs < 1 or args.burst < 1:
        p.error("--runs and --burst must be at least 1")
    if args.steady_burst < 0:
        p.error("--steady-burst must be 0 (off) or at least 1")
    return args


def main(argv=None):
    global NICE, FIFO, EMULATE_AVX2
    args = parse_args(argv)
    NICE, FIFO = args.nice, args.fifo
    if args.emulate_avx2 and not args.worker:
        EMULATE_AVX2 = build_cpuid_avx2(args.cache)
    if args.worker:
        if args.nice:
            apply_nice(args.nice)
        worker_main()
        return 0
    if args.render:
        print(markdown(load_result(args.render)))
        return 0
    if args.fifo or args.fifo_1t:  # refused here rather than by the first worker's burst, minutes in
        try:
            set_fifo(True)
            set_fifo(False)
        except PermissionError:
            raise SystemExit("bench.py: --fifo needs the right to set SCHED_FIFO "
                             "(root or CAP_SYS_NICE)")
    if args.engine_a == "tinycnn":
        probe = subprocess.run([sys.executable, "-c", "import tinycnn; tinycnn.InferenceSession"],
                               env=_worker_env(), capture_output=True, text=True)
        if probe.returncode != 0:
            raise SystemExit("bench.py: cannot use tinycnn.InferenceSession (build it in place with "
                             "`python setup.py build_ext --inplace`, or install it):\n"
                             + probe.stderr.strip().splitlines()[-1])
    result = run_benchmark(args)
    text = markdown(result)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

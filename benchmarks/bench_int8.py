#!/usr/bin/env python3
"""int8 latency benchmark (issue 15): tinycnn int8 against onnxruntime int8, and against
tinycnn float32, on ResNet-18, ResNet-50, MobileNetV2 and EfficientNet-B0.

Not a test.  Run from the repository root (after an in-place build):

    python benchmarks/bench_int8.py                     # four networks, QDQ, 1 and 2 threads
    python benchmarks/bench_int8.py --formats qdq,qoperator --models mobilenet_v2 --quick

The method is bench.py's (whose workers, quiet-waits and background meter it reuses):
1 thread, every engine in one process, alternating bursts; 2 threads, one process per engine,
alternating bursts (the first run of every burst discarded).  Models: the float export of bench.py's cache (opset 13, BatchNorm folded),
quantized by onnxruntime's quantize_static (models/quantize.py: per-channel int8 weights,
uint8 activations, min-max calibration on 16 crops of photographs), cached beside it.

Engines: onnxruntime int8; tinycnn int8 forced to AVX2 without VNNI (TINYCNN_ISA=avx2: the
tier issue 15 targets, the product); tinycnn float32 (AVX2); and, on a CPU with AVX-512 VNNI
or AVX-VNNI, tinycnn int8 on that tier as an extra column.  onnxruntime is not forced: its
MLAS picks its best kernels by CPUID, so on a VNNI host it runs vpdpbusd and the AVX2 ratio
is not the one an AVX2-only machine would see; the output says which the host has.

Inputs (--inputs, bench.input_feed): bench.py's standard normal noise and a photograph (a
crop of the calibration photographs with another seed), each measured on its own.  tinycnn's
U7S8 kernels do more work where activations fall outside their 7-bit windows (a second pass,
csrc/qgemm.c), onnxruntime's the same on any bytes: on a photograph tinycnn's ratio is the
worse (n33-q, int8_inputs.py).  The summary judges the target per model, format and
thread count on the worse of its inputs.

Per row beside the ratio: the per-round ratios' median [25-75%], the "fast rounds" (both engines
within 10% of their fastest bursts) and, from bench.py's per-round FMA probe (--probe-ms,
benchmarks/host_probe.c, before the first round and after each), the ratio over the rounds in
the host's fast state and over those in its slow state, with their counts and probe GFLOP/s:
on the shared VMs of sessions 39-42 the slow state slows tinycnn's int8 steps more than
onnxruntime's (benchmarks/host_state.py), so a row says which state its ratio was read in.

Output: a Markdown block (stdout) with date, commit, CPU flags and load; progress on stderr.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import bench
from bench import REPO, log, median

MODELS = ("resnet18", "resnet50", "mobilenet_v2", "efficientnet_b0")
TITLES = {"resnet18": "ResNet-18", "resnet50": "ResNet-50", "mobilenet_v2": "MobileNetV2",
          "efficientnet_b0": "EfficientNet-B0"}
FORMATS = ("qdq", "qoperator")
INPUTS = ("normal", "photo")   # the default --inputs (bench.INPUTS: every kind)
TARGET = 0.85   # issue 15: tinycnn int8 / onnxruntime int8, at most, at 1 and 2 threads
ORT, AVX2, F32 = "onnxruntime#int8", "tinycnn@avx2#int8", "tinycnn@avx2#f32"


def cpu_flags():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def vnni_tier(flags):
    """tinycnn's VNNI tier on this CPU (None without one)."""
    if {"avx512f", "avx512bw", "avx512vl", "avx512_vnni"} <= flags:
        return "avx512vnni"
    return "avxvnni" if "avx_vnni" in flags else None


def ensure_quantized(cache, name, fmt, reexport=False, reduce_range=False):
    """The float export of bench.py's cache, quantized by onnxruntime's tool (cached);
    reduce_range: 7-bit weights (the tool's option for CPUs without VNNI)."""
    src = bench.ensure_export(cache, name, 13, reexport)   # the opset of bench.py's float suite
    dst = src.with_name(src.stem + f"-int8{'-rr' if reduce_range else ''}-{fmt}.onnx")
    if dst.exists() and not reexport:
        return src, dst
    log(f"quantizing {name} ({fmt}) with onnxruntime.quantization ...")
    tmp = dst.with_name(".partial-" + dst.name)
    subprocess.run([sys.executable, "-m", "models.quantize", str(src), "--format", fmt,
                    "-o", str(tmp)] + (["--reduce-range"] if reduce_range else []),
                   cwd=REPO, check=True, env=bench._worker_env())
    os.replace(tmp, dst)
    return src, dst


def run(args):
    flags = cpu_flags()
    vnni = vnni_tier(flags)
    # TINYCNN_ISA=avx2+<vnni>: the AVX2 float row with the 8-bit kernels on that extension
    engines = [ORT, AVX2, F32] + ([f"tinycnn@avx2+{vnni}#int8"] if vnni and not args.no_vnni else [])
    git = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip()
    result = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "commit": git, "cpu": bench.cpu_model(), "cores": os.cpu_count(),
              "vnni": vnni, "versions": bench.versions("tinycnn"),
              "emulate_avx2": bool(bench.EMULATE_AVX2), "reduce_range": args.reduce_range,
              "fifo": args.fifo, "fifo_1t": args.fifo_1t, "probe_ms": args.probe_ms,
              "loadavg_start": os.getloadavg(), "engines": engines, "rows": []}
    result["fma_peak_gflops"] = probe_fma(args.threads, "start")
    for name in args.models:
        for fmt in args.formats:
            fpath, qpath = ensure_quantized(args.cache, name, fmt, args.reexport, args.reduce_range)
            desc = bench.describe_model(fpath)
            paths = {e: str(fpath if e == F32 else qpath) for e in engines}
            for t, feed in ((t, f) for t in args.threads for f in args.inputs):
                log(f"{name} {fmt}: {t} thread(s), input {feed} ...")
                meter = bench.BackgroundMeter()
                probe = bench.probe_spec(args.probe_ms, t)

                def phase(burst, meter):
                    return bench.measure_phase(engines, paths, desc, t, args.warmup, args.runs, None,
                                               burst, args.gap, meter, feed, fifo_1t=args.fifo_1t,
                                               probe=probe)[0]

                res = phase(args.burst, meter)
                row = {"model": name, "format": fmt, "threads": t, "input": feed,
                       "background_cores": meter.cores,
                       "ms": {e: median(res[e]["ms"]) for e in engines},
                       "cpu_ms": {e: median(res[e]["cpu_ms"]) for e in engines},
                       # per round (burst pair): tinycnn int8 AVX2 / onnxruntime int8, and drifts
                       "rounds": bench.rounds_summary(res[AVX2], res[ORT]),
                       # every timed run and the burst sizes, for a later look (bench.py's --json has them)
                       "raw": {e: {"ms": res[e]["ms"], "bursts": res[e]["bursts"]} for e in engines}}
                if "host_probe" in res[ORT]:   # GFLOP/s before the first round and after each
                    row["host_probe"] = res[ORT]["host_probe"]
                result["rows"].append(row)
                log("  " + ", ".join(f"{e} {row['ms'][e]:.1f} ms" for e in engines)
                    + (f"; per-round AVX2 / ort {bench.fmt_spread(row['rounds']['ratio'], '.3f')}, "
                       f"fast rounds {bench.fmt_fast(row['rounds']['fast'])}"
                       if row["rounds"] else "") + bench.state_log(row["rounds"]))
                if args.steady_burst:   # the same row in steady state (bench.py --steady-burst)
                    log(f"{name} {fmt}: {t} thread(s), input {feed}, bursts of {args.steady_burst} ...")
                    res = phase(args.steady_burst, bench.BackgroundMeter())
                    row["steady"] = {"burst": args.steady_burst,
                                     "ms": {e: median(res[e]["ms"]) for e in engines},
                                     "rounds": bench.rounds_summary(res[AVX2], res[ORT])}
                    log("  " + ", ".join(f"{e} {row['steady']['ms'][e]:.1f} ms" for e in engines)
                        + (f"; per-round AVX2 / ort "
                           f"{bench.fmt_spread(row['steady']['rounds']['ratio'], '.3f')}"
                           if row["steady"]["rounds"] else ""))
    result["loadavg_end"] = os.getloadavg()
    result["fma_peak_gflops_end"] = probe_fma(args.threads, "end")
    return result


def probe_fma(threads, when):
    """bench.fma_peak's GFLOP/s of CPU time at 1 / N threads ({} if it cannot run): the host's
    state at the start and the end of the run, beside the table."""
    try:
        peak = {t: p["cpu_gflops"] for t, p in bench.fma_peak(0.3, 3, threads).items()}
    except (OSError, subprocess.CalledProcessError) as exc:
        log(f"the FMA probe ({when}) failed: {exc}")
        return {}
    log(f"FMA peak at the {when}: " + ", ".join(f"{t}t {g:.1f} GFLOP/s" for t, g in peak.items()))
    return peak


def _peak_text(peak):
    return ", ".join(f"{g:.1f} GFLOP/s on {t} thread{'s' if int(t) > 1 else ''}" for t, g in peak.items())


def _r(a, b):
    return f"{a / b:.2f}" if a and b else "–"


def markdown(res):
    vnni = res["vnni"]
    extra = [e for e in res["engines"] if e not in (ORT, AVX2, F32)]
    head = ("| model | format | threads | input | onnxruntime int8 ms | tinycnn int8 AVX2 ms | "
            f"AVX2 / ort (target <= {TARGET}) | per-round AVX2 / ort [25-75%] | fast rounds: ratio "
            "(share) | fast-state rounds: ratio (n, probe GFLOP/s) | slow-state rounds: ratio (n, "
            "probe GFLOP/s) | tinycnn float32 ms | int8 AVX2 / float32 |")
    sep = "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    if extra:
        head += f" tinycnn int8 {vnni} ms | {vnni} / ort |"
        sep += "---:|---:|"
    head += " other processes (cores) |"
    sep += "---:|"
    steady = sorted({r["steady"]["burst"] for r in res["rows"] if "steady" in r})
    if steady:   # a last column: the second phase's ratio (--steady-burst)
        head += f" bursts of {'/'.join(map(str, steady))}: AVX2 / ort, per-round [25-75%] |"
        sep += "---:|"
    v = res["versions"]
    out = [f"Measured {res['date']} at commit {res['commit']} on {res['cpu']} ({res['cores']} cores), "
           f"onnxruntime {v.get('onnxruntime')}, numpy {v.get('numpy')}, gcc {v.get('gcc')}. "
           f"Load average {res['loadavg_start'][0]:.2f} at start, {res['loadavg_end'][0]:.2f} at end."
           + (f" FMA peak (benchmarks/fma_peak.c, per second of CPU time) {_peak_text(res['fma_peak_gflops'])} "
              f"at start, {_peak_text(res['fma_peak_gflops_end'])} at end."
              if res.get("fma_peak_gflops") and res.get("fma_peak_gflops_end") else ""),
           "",
           ("This CPU has " + (f"{vnni} (VNNI): onnxruntime's MLAS uses it (vpdpbusd) by CPUID, while "
            "tinycnn's AVX2 column is forced to AVX2 without VNNI (TINYCNN_ISA=avx2), the tier "
            "issue 15 targets; on an AVX2-only CPU onnxruntime would run its AVX2 kernels too."
            if vnni and not res.get("emulate_avx2") else
            "AVX-512 and VNNI hidden from CPUID in both engines' processes (--emulate-avx2): "
            "onnxruntime runs its AVX2 kernels (vpmaddubsw, saturating), tinycnn AVX2 (exact)."
            if res.get("emulate_avx2") else "no VNNI: both engines run AVX2 kernels.")),
           "", ("Weights: 7-bit (quantize_static's reduce_range, within [-64, 64]): no vpmaddubsw "
                "pair sum can saturate, in either engine, and every tinycnn layer takes u8s8x2."
                if res.get("reduce_range") else
                "Weights: 8-bit (quantize_static's default, within [-127, 127])."),
           "", head, sep]
    ref = bench.run_probe_reference((r["threads"], r) for r in res["rows"])
    mixed = 0
    for r in res["rows"]:
        ms = r["ms"]
        st = None
        if r.get("host_probe") and "raw" in r:
            st = bench.state_rounds(dict(r["raw"][AVX2], host_probe=r["host_probe"]), r["raw"][ORT],
                                    ref.get(r["threads"]))
            mixed += st["mixed"] if st else 0
        line = (f"| {TITLES.get(r['model'], r['model'])} | {r['format']} | {r['threads']} "
                f"| {r.get('input', 'normal')} | {ms[ORT]:.1f} | {ms[AVX2]:.1f} "
                f"| {_r(ms[AVX2], ms[ORT])} | {bench.fmt_spread((r.get('rounds') or {}).get('ratio'))} "
                f"| {bench.fmt_fast((r.get('rounds') or {}).get('fast'))} "
                f"| {bench.fmt_state(st and st['fast'])} | {bench.fmt_state(st and st['slow'])} "
                f"| {ms[F32]:.1f} | {_r(ms[AVX2], ms[F32])} |")
        for e in extra:
            line += f" {ms[e]:.1f} | {_r(ms[e], ms[ORT])} |"
        bg = r["background_cores"]
        line += f" {'–' if bg is None else f'{bg:.2f}'} |"
        if steady:
            st = r.get("steady")
            line += (f" {_r(st['ms'][AVX2], st['ms'][ORT])}, "
                     f"{bench.fmt_spread((st.get('rounds') or {}).get('ratio'))} |" if st else " – |")
        out.append(line)
    fifo = [f for f, on in (("--fifo: bursts at N > 1 threads", res.get("fifo")),
                            ("--fifo-1t: bursts at 1 thread", res.get("fifo_1t"))) if on]
    if fifo:
        out += ["", "Under SCHED_FIFO, every engine alike (" + "; ".join(fifo) + ")."]
    if steady:
        out += ["", f"Last column: after each row, a second phase as long in bursts of "
                f"{'/'.join(map(str, steady))} runs (the first of each discarded): the engines in "
                "steady state; the target is judged on it too."]
    out += ["", target_line(res["rows"])]
    state = bench.state_note(ref, res.get("probe_ms") or bench.PROBE_MS, mixed)
    if state:
        out += ["", state]
    host = host_line(res["rows"])
    if host:
        out += ["", host]
    return "\n".join(out)


def host_line(rows):
    """The run's own evidence of a steady or a swinging host (bench.rounds_summary's drifts:
    fastest burst of the last third of rounds against the first third's), median and largest."""
    parts = []
    for key, what in (("drift_b", "onnxruntime int8's"), ("drift_a", "tinycnn int8 AVX2's"),
                      ("ratio_drift", "the per-round ratio's")):
        vals = [(r["rounds"][key], r) for r in rows if (r.get("rounds") or {}).get(key) is not None]
        if not vals:
            continue
        worst = max(vals, key=lambda v: abs(v[0]))
        w = worst[1]
        parts.append(f"{what} median {bench.fmt_pct(median([v[0] for v in vals]))}, largest "
                     f"{bench.fmt_pct(worst[0])} ({TITLES.get(w['model'], w['model'])} {w['format']} "
                     f"{w['threads']}t {w.get('input', 'normal')})")
    if not parts:
        return None
    return ("Host during the run (drift: fastest burst of the last third of rounds against the first "
            "third's; per-round ratio: median of the last third against the first third's): "
            + "; ".join(parts) + ".")


def target_line(rows):
    """The target judged per model, format and threads on the worse of its inputs (and of its
    two phases, with --steady-burst)."""
    worst = {}
    for r in rows:
        key = (r["model"], r["format"], r["threads"])
        feed = r.get("input", "normal")
        cands = [(r["ms"][AVX2] / r["ms"][ORT], feed)]
        if "steady" in r:
            st = r["steady"]
            cands.append((st["ms"][AVX2] / st["ms"][ORT], f"{feed}, bursts of {st['burst']}"))
        for ratio, what in cands:
            if key not in worst or ratio > worst[key][0]:
                worst[key] = (ratio, what)
    held = sum(ratio <= TARGET for ratio, _ in worst.values())
    inputs = sorted({r.get("input", "normal") for r in rows})
    missed = ", ".join(f"{TITLES.get(m, m)} {f} {t}t {ratio:.2f} ({feed})"
                       for (m, f, t), (ratio, feed) in worst.items() if ratio > TARGET)
    return (f"Target tinycnn int8 (AVX2) / onnxruntime int8 <= {TARGET}, on the worse of "
            f"{' and '.join(inputs)}: held in {held} of {len(worst)}"
            + (f"; missed: {missed}." if missed else "."))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--formats", default="qdq", help="comma-separated: qdq, qoperator (default qdq)")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--inputs", default=",".join(INPUTS),
                   help=f"comma-separated, each measured on its own: {', '.join(bench.INPUTS)} "
                        "(bench.input_feed; default normal,photo)")
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--burst", type=int, default=5)
    p.add_argument("--steady-burst", type=int, default=0, metavar="N",
                   help="after each row, a second phase in bursts of N runs (steady state; "
                        "a column of its own, the target judged on it too; default 0: none)")
    p.add_argument("--gap", type=float, default=0.02)
    p.add_argument("--cache", default="exports")
    p.add_argument("--reexport", action="store_true")
    p.add_argument("--reduce-range", action="store_true",
                   help="quantize with 7-bit weights (quantize_static's reduce_range, the setting "
                        "onnxruntime recommends without VNNI); cached as *-int8-rr-FORMAT.onnx")
    p.add_argument("--no-vnni", action="store_true", help="leave out the VNNI column")
    p.add_argument("--emulate-avx2", action="store_true",
                   help="both engines as on the issues' AVX2-only machine (bench.py's option: "
                        "AVX-512 and VNNI hidden from CPUID); implies --no-vnni")
    p.add_argument("--fifo", action="store_true",
                   help="bench.py's: N > 1 threads, each burst's process under SCHED_FIFO (root)")
    p.add_argument("--fifo-1t", action="store_true",
                   help="bench.py's: 1 thread, each burst under SCHED_FIFO, a pause of at least "
                        "--gap after it (root)")
    p.add_argument("--probe-ms", type=float, default=bench.PROBE_MS,
                   help="bench.py's: an FMA probe of this many ms before and after every round, the "
                        f"fast-state / slow-state columns (default {bench.PROBE_MS}; 0: none)")
    p.add_argument("--quick", action="store_true", help="5 runs, bursts of 3")
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    a.models = [m for m in a.models.split(",") if m]
    a.formats = [f for f in a.formats.split(",") if f]
    a.threads = sorted({int(t) for t in a.threads.split(",")})
    a.inputs = [i for i in a.inputs.split(",") if i]
    for i in a.inputs:
        if i not in bench.INPUTS:
            p.error(f"unknown input {i!r}; choose from {', '.join(bench.INPUTS)}")
    for m in a.models:
        if m not in MODELS:
            p.error(f"unknown model {m!r}; choose from {', '.join(MODELS)}")
    for f in a.formats:
        if f not in FORMATS:
            p.error(f"unknown format {f!r}; choose from {', '.join(FORMATS)}")
    if a.steady_burst < 0:
        p.error("--steady-burst must be 0 (off) or at least 1")
    if a.quick:
        a.runs, a.burst = 5, 3
    return a


def main(argv=None):
    args = parse_args(argv)
    if args.fifo or args.fifo_1t:   # refused before measuring, as bench.py does
        try:
            bench.set_fifo(True)
            bench.set_fifo(False)
        except PermissionError:
            raise SystemExit("bench_int8.py: --fifo / --fifo-1t need the right to set SCHED_FIFO "
                             "(root or CAP_SYS_NICE)")
        bench.FIFO = args.fifo
    if args.emulate_avx2:   # bench's workers preload it; onnxruntime then runs its AVX2 kernels
        bench.EMULATE_AVX2 = bench.build_cpuid_avx2(REPO / "build")  # not the (shareable) cache
        args.no_vnni = True
    result = run(args)
    print(markdown(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

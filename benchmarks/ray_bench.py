#!/usr/bin/env python3
"""Throughput of `tinycnn infer` over a folder of pictures: one process against `--ray` with 1
and 2 workers, on this machine.  Not a test.  Run from the repository root:

    python benchmarks/ray_bench.py                       # 2000 pictures, ResNet-18, 1 round
    python benchmarks/ray_bench.py --images 4000 --rounds 3 --json ray_bench.json
    python benchmarks/ray_bench.py --model my.onnx --folder my_pictures/

How it measures:

* The model (default: ResNet-18 from models/, batch axis dynamic) and the pictures (JPEG, 3
  channels, 200 to 500 pixels a side, smooth shapes and noise) are made once and cached in
  --cache (default ./exports/).
* Each configuration is the real command, `python -m tinycnn infer MODEL FOLDER --output
  FILE.jsonl --no-progress`, in a fresh process, timed from start to exit: model loading,
  Ray's start and its workers' included.  Configurations run in turn, --rounds times
  (A, B, C, A, B, C...); the median is reported.
* Fixed cost: the same command on the first 16 pictures.  "steady" images/s leaves it out:
  (N - 16) / (time for N - time for 16).
* Every configuration's results are checked against the single process's (same top-5
  indices, probabilities within 1e-6).
* The load average (1 minute) before and after each run is printed: on a shared machine the
  wall clock moves with other processes.

Prints a Markdown block for the README (date, commit, CPU, load, a table with ratios to the
single process) on stdout, progress on stderr.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SMALL = 16   # pictures in the run that measures the fixed cost


def configurations(cores):
    half = max(1, cores // 2)
    return [
        ("1 process", f"--threads {cores}", ["--threads", str(cores)]),
        ("--ray, 1 worker", f"--workers 1 --threads-per-worker {cores}",
         ["--ray", "--workers", "1", "--threads-per-worker", str(cores)]),
        ("--ray, 2 workers", f"--workers 2 --threads-per-worker {half}",
         ["--ray", "--workers", "2", "--threads-per-worker", str(half)]),
    ]


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def make_model(cache: Path) -> Path:
    path = cache / "ray_bench_resnet18.onnx"
    if not path.exists():
        log(f"exporting ResNet-18 to {path}")
        sys.path.insert(0, str(REPO))
        from models.export import export
        cache.mkdir(parents=True, exist_ok=True)
        export("resnet18", str(path), batch_dynamic=True)
    return path


def make_pictures(folder: Path, count: int, seed: int = 0) -> Path:
    """`count` JPEG pictures in `folder` (kept: made again only if the count differs)."""
    import numpy as np
    from PIL import Image

    existing = sorted(folder.glob("*.jpg")) if folder.exists() else []
    if len(existing) == count:
        return folder
    log(f"making {count} pictures in {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    for p in existing:
        p.unlink()
    rng = np.random.default_rng(seed)
    for k in range(count):
        h, w = (int(v) for v in rng.integers(200, 500, 2))
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        base = np.stack([np.sin(xx / rng.uniform(8, 40) + c) * np.cos(yy / rng.uniform(8, 40))
                         for c in range(3)], axis=2)
        pixels = np.clip((base + 1) * 110 + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{k:06d}.jpg", quality=90)
    return folder


def run(model, folder, extra, out):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    cmd = [sys.executable, "-m", "tinycnn", "infer", str(model), str(folder), "--output", str(out),
           "--no-progress", *extra]
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return seconds, load0, os.getloadavg()[0]


def results(path):
    return {r["image"]: r for r in map(json.loads, Path(path).read_text().splitlines())}


def same_results(got, want):
    if sorted(got) != sorted(want):
        return False
    for name, r in want.items():
        g = got[name]
        if [t["index"] for t in g["top"]] != [t["index"] for t in r["top"]]:
            return False
        if any(abs(a["probability"] - b["probability"]) > 1e-6 for a, b in zip(g["top"], r["top"])):
            return False
    return True


def commit():
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True).stdout.strip()
        return rev + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=2000, help="pictures in the folder (default 2000)")
    ap.add_argument("--model", type=Path, help="an image classifier (default: ResNet-18 from models/)")
    ap.add_argument("--folder", type=Path, help="pictures to use as they are (default: made in --cache)")
    ap.add_argument("--cache", type=Path, default=Path("exports"), help="where the model and pictures are kept")
    ap.add_argument("--rounds", type=int, default=1, help="runs of each configuration, in turn (median)")
    ap.add_argument("--json", type=Path, help="also write every measurement to this file")
    args = ap.parse_args(argv)

    cores = len(os.sched_getaffinity(0))
    model = args.model or make_model(args.cache)
    folder = args.folder or make_pictures(args.cache / f"ray_bench_pictures_{args.images}", args.images)
    count = len([p for p in folder.iterdir() if p.is_file()])
    configs = configurations(cores)
    samples = {name: {"full": [], "small": [], "load": []} for name, _, _ in configs}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        small = tmp / "small"
        small.mkdir()
        for p in sorted(folder.iterdir())[:SMALL]:
            (small / p.name).symlink_to(p.resolve())
        reference = None
        for r in range(args.rounds):
            for k, (name, _, extra) in enumerate(configs):
                out = tmp / f"out{k}.jsonl"
                log(f"round {r + 1}/{args.rounds}: {name}, {count} pictures")
                full, l0, l1 = run(model, folder, extra, out)
                got = results(out)
                if reference is None:
                    reference = got
                elif not same_results(got, reference):
                    raise SystemExit(f"{name}: results differ from the single process's")
                log(f"  {full:.1f} s ({count / full:.1f} images/s), load {l0:.1f} -> {l1:.1f}")
                small_s, _, _ = run(model, small, extra, tmp / "small.jsonl")
                samples[name]["full"].append(full)
                samples[name]["small"].append(small_s)
                samples[name]["load"].append((l0, l1))

    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"{when}, commit {commit()}, {cpu_name()}, {cores} cores; {count} pictures "
             f"({folder}), model {Path(model).name}; median of {args.rounds} round(s).", "",
             "| configuration | options | wall s | images/s | ratio | fixed cost s | steady images/s "
             "| steady ratio | load before -> after |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    base = base_steady = None
    for name, options, _ in configs:
        s = samples[name]
        full, fixed = statistics.median(s["full"]), statistics.median(s["small"])
        rate = count / full
        steady = (count - SMALL) / (full - fixed) if full > fixed else float("nan")
        base = base or rate
        base_steady = base_steady or steady
        loads = ", ".join(f"{a:.1f} -> {b:.1f}" for a, b in s["load"])
        lines.append(f"| {name} | `{options}` | {full:.1f} | {rate:.1f} | {rate / base:.2f} | "
                     f"{fixed:.1f} | {steady:.1f} | {steady / base_steady:.2f} | {loads} |")
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps({"date": when, "commit": commit(), "cpu": cpu_name(),
                                         "cores": cores, "pictures": count, "model": str(model),
                                         "samples": samples}, indent=1))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Runs bench.py several times per variant of its options, the variants interleaved in the
order A B B A A B ... (so a host that drifts during the session weighs on both alike), and
prints how steady each variant's ratios are: per invocation the whole-run ratio (medians), the
median and 25-75% range of its per-round ratios, and across invocations the spread of both.

    python benchmarks/bench_repeat.py --repeat 5 --variants ",--fifo-1t" -- \\
        --suite mobile --models mnasnet1_0,mobilenet_v2 --threads 1 --seconds 5 \\
        --load-samples 0 --emulate-avx2 --nice -20

Variants are comma-separated extra option strings for bench.py (split on spaces; "" is
bench.py's defaults; write --variants=--fifo-1t, when the first starts with "-").  Every run's
--json is kept in --out.  Not a test.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench  # noqa: E402


def order(n_variants, repeat):
    """Variant indices in the order to run them: A B B A A B ... for two variants (each run
    `repeat` times), and a rotation reversed every other round for more."""
    out = []
    for r in range(repeat):
        idx = list(range(n_variants))
        out += idx if r % 2 == 0 else idx[::-1]
    return out


def summarize(results):
    """{(model, threads): {"whole": [ratio per invocation], "round_median": [...],
    "round_iqr": [p75 - p25 per invocation]}} from bench.py --json results."""
    rows = {}
    for res in results:
        a = res["engines"][0]
        for name, m in res["models"].items():
            for t, per in m["threads"].items():
                if a not in per:
                    continue
                row = rows.setdefault((name, int(t)), {"whole": [], "round_median": [], "round_iqr": [],
                                                       "ms_a": [], "ms_b": []})
                row["whole"].append(per[a]["median_ms"] / per[bench.REFERENCE]["median_ms"])
                row["ms_a"].append(per[a]["median_ms"])
                row["ms_b"].append(per[bench.REFERENCE]["median_ms"])
                rd = (m.get("rounds") or {}).get(str(t)) or (m.get("rounds") or {}).get(t)
                if rd:
                    row["round_median"].append(rd["ratio"]["median"])
                    row["round_iqr"].append(rd["ratio"]["p75"] - rd["ratio"]["p25"])
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", default=",--fifo-1t")
    p.add_argument("--repeat", type=int, default=4)
    p.add_argument("--out", default="/tmp/bench_repeat")
    p.add_argument("bench_args", nargs=argparse.REMAINDER)
    a = p.parse_args(argv)
    variants = a.variants.split(",")
    extra = [x for x in a.bench_args if x != "--"]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {v: [] for v in variants}
    for k, vi in enumerate(order(len(variants), a.repeat)):
        v = variants[vi]
        js = out / f"run{k:02d}-v{vi}.json"
        cmd = [sys.executable, str(HERE / "bench.py"), *extra, *v.split(), "--json", str(js)]
        print(f"[{k + 1}] {v or '(default)'}", file=sys.stderr, flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        results[v].append(json.loads(js.read_text()))
    for v in variants:
        print(f"## variant {v or '(default)'}: {len(results[v])} runs")
        for (name, t), row in sorted(summarize(results[v]).items()):
            w, rm, iqr = row["whole"], row["round_median"], row["round_iqr"]
            print(f"{bench.TITLES.get(name, name)} {t}t: whole-run ratios "
                  + " ".join(f"{x:.3f}" for x in w)
                  + f" (range {max(w) - min(w):.3f}, stdev {statistics.pstdev(w):.3f}); per-round medians "
                  + " ".join(f"{x:.3f}" for x in rm)
                  + (f" (range {max(rm) - min(rm):.3f}); per-round 25-75% widths "
                     + " ".join(f"{x:.3f}" for x in iqr) if rm else "")
                  + f"; ms {statistics.median(row['ms_a']):.2f} / {statistics.median(row['ms_b']):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

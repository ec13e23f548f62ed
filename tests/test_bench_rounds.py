"""benchmarks/bench.py and bench_int8.py: the per-round (burst pair) ratios and their spread,
the host-drift evidence, the table columns they add (old --json files still render), the burst
sizes the 1-thread worker reports, its --fifo-1t bursts, and both measuring paths end to end on
a small model (onnxruntime standing in for tinycnn, as bench.py's --engine-a onnxruntime)."""
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import conv_net, save

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench  # noqa: E402
import bench_int8  # noqa: E402
import bench_repeat  # noqa: E402


# ---- pure functions -------------------------------------------------------------

def test_quantile_interpolates_and_handles_edges():
    assert bench.quantile([], 0.5) is None
    assert bench.quantile([7.0], 0.25) == 7.0
    xs = [4.0, 1.0, 3.0, 2.0, 5.0]                     # unsorted on purpose
    assert bench.quantile(xs, 0) == 1 and bench.quantile(xs, 1) == 5
    assert bench.quantile(xs, 0.5) == 3
    assert bench.quantile(xs, 0.25) == 2 and bench.quantile(xs, 0.75) == 4
    assert bench.quantile([1.0, 2.0], 0.25) == pytest.approx(1.25)
    assert bench.quantile([0.0, 10.0, 20.0, 30.0], 0.5) == pytest.approx(15.0)


def test_split_bursts_by_sizes():
    ms = [1, 2, 3, 4, 5, 6, 7]
    assert bench.split_bursts(ms, [3, 3, 1]) == [[1, 2, 3], [4, 5, 6], [7]]
    assert bench.split_bursts(ms, [1] * 7) == [[x] for x in ms]
    assert bench.split_bursts(ms, [5]) == [[1, 2, 3, 4, 5]]            # the rest left out
    assert bench.split_bursts([], []) == []


def test_round_ratios_of_burst_medians():
    a = {"ms": [10, 11, 30, 8, 8, 9, 5], "bursts": [3, 3, 1]}
    b = {"ms": [20, 20, 20, 16, 18, 40, 10], "bursts": [3, 3, 1]}
    r = bench.round_ratios(a, b)
    assert r == pytest.approx([11 / 20, 8 / 18, 5 / 10])
    rmin = bench.round_ratios(a, b, stat=min)
    assert rmin == pytest.approx([10 / 20, 8 / 16, 5 / 10])
    # an odd round count with runs of 1 (--burst 1: runs alternating one by one)
    one = bench.round_ratios({"ms": [1, 2, 3], "bursts": [1, 1, 1]}, {"ms": [2, 2, 2], "bursts": [1, 1, 1]})
    assert one == pytest.approx([0.5, 1.0, 1.5])
    # results from before "bursts" existed: no rounds
    assert bench.round_ratios({"ms": [1.0]}, {"ms": [1.0]}) == []
    assert bench.rounds_summary({"ms": [1.0]}, {"ms": [1.0]}) is None


def test_spread_and_its_format():
    assert bench.spread([]) is None
    sp = bench.spread([0.9, 0.8, 0.85, 0.95, 0.75])
    assert sp == {"n": 5, "median": 0.85, "p25": 0.8, "p75": 0.9, "min": 0.75, "max": 0.95}
    assert bench.fmt_spread(sp) == "0.85 [0.80-0.90]"
    assert bench.fmt_spread(sp, ".3f") == "0.850 [0.800-0.900]"
    assert bench.fmt_spread(None) == "–"
    one = bench.spread([0.83])
    assert one["p25"] == one["p75"] == one["median"] == 0.83


def test_drift_first_third_against_last():
    assert bench.drift([1.0, 2.0]) is None                     # fewer than 3 rounds
    assert bench.drift([1.0, 5.0, 1.1]) == pytest.approx(0.1)
    # 7 rounds: thirds of 2; the minima 10 and 9
    assert bench.drift([10, 12, 50, 50, 50, 9, 11]) == pytest.approx(-0.1)


def test_rounds_summary_steady_and_drifting():
    n = 9
    a = {"ms": [8.0] * (3 * n), "bursts": [3] * n}
    b = {"ms": [10.0] * (3 * n), "bursts": [3] * n}
    s = bench.rounds_summary(a, b)
    assert s["ratio"]["n"] == n and s["ratio"]["median"] == pytest.approx(0.8)
    assert s["ratio"]["p25"] == pytest.approx(0.8) and s["ratio"]["p75"] == pytest.approx(0.8)
    assert s["drift_a"] == pytest.approx(0) and s["drift_b"] == pytest.approx(0)
    assert s["ratio_drift"] == pytest.approx(0) and len(s["ratios"]) == n
    assert s["fast"]["share"] == 1 and s["fast"]["ratio"] == pytest.approx(0.8)
    # the host slows both engines by 20% in the last third; the ratio does not move
    slow = [1.0] * 6 + [1.2] * 3
    a2 = {"ms": [8.0 * f for f in slow for _ in range(3)], "bursts": [3] * n}
    b2 = {"ms": [10.0 * f for f in slow for _ in range(3)], "bursts": [3] * n}
    s2 = bench.rounds_summary(a2, b2)
    assert s2["drift_a"] == pytest.approx(0.2) and s2["drift_b"] == pytest.approx(0.2)
    assert s2["ratio_drift"] == pytest.approx(0)
    # only onnxruntime slows: the ratio falls by 1/1.2
    s3 = bench.rounds_summary(a, b2)
    assert s3["drift_a"] == pytest.approx(0) and s3["drift_b"] == pytest.approx(0.2)
    assert s3["ratio_drift"] == pytest.approx(1 / 1.2 - 1)
    assert s3["ratio"]["min"] == pytest.approx(0.8 / 1.2) and s3["ratio"]["max"] == pytest.approx(0.8)


def test_fast_rounds_select_the_hosts_best_state():
    # rounds 0-3 fast (ratio 0.8), 4-7 with both engines 40% slower and tinycnn more so (0.95)
    a = {"ms": [8.0] * 12 + [13.3] * 12, "bursts": [3] * 8}
    b = {"ms": [10.0] * 12 + [14.0] * 12, "bursts": [3] * 8}
    f = bench.fast_rounds(a, b)
    assert f["n"] == 4 and f["share"] == 0.5
    assert f["ratio"] == pytest.approx(0.8) and f["rest"] == pytest.approx(0.95)
    assert bench.fmt_fast(f) == "0.80 (50%)"
    # one engine slow alone by 15%: the geometric mean (7%) keeps the round among the fast
    a2 = {"ms": [8.0] * 3 + [9.2] * 3, "bursts": [3, 3]}
    b2 = {"ms": [10.0] * 6, "bursts": [3, 3]}
    f2 = bench.fast_rounds(a2, b2)
    assert f2["n"] == 2 and f2["rest"] is None and f2["ratio"] == pytest.approx((0.8 + 0.92) / 2)
    assert bench.fmt_fast(f2) == "– (100%)"             # two fast rounds: no ratio to quote
    # 25% slower alone: out
    a3 = {"ms": [8.0] * 3 + [10.0] * 3, "bursts": [3, 3]}
    assert bench.fast_rounds(a3, b2)["n"] == 1
    assert bench.fast_rounds({"ms": [1.0]}, {"ms": [1.0]}) is None
    assert bench.fmt_fast(None) == "–"
    assert bench.fmt_fast({"ratio": None, "n": 0, "share": 0.0, "rest": 1.0}) == "– (0%)"


def test_state_rounds_split_by_the_probes():
    # 6 rounds, 7 probes (before round 0 and after each); the reference, their 90th percentile,
    # 97.6: rounds 0-1 fast (both probes >= 0.9 x 97.6), round 2 mixed (91 -> 70), rounds 3-4
    # slow, round 5 mixed (70 -> 95)
    probes = [100.0, 96.0, 91.0, 70.0, 72.0, 70.0, 95.0]
    ratios = [0.80, 0.82, 0.85, 0.90, 0.92, 0.86]
    a = {"ms": [10.0 * r for r in ratios for _ in range(2)], "bursts": [2] * 6, "host_probe": probes}
    b = {"ms": [10.0] * 12, "bursts": [2] * 6}
    st = bench.state_rounds(a, b)
    assert st["ref"] == pytest.approx(97.6) and st["mixed"] == 2
    assert st["fast"]["n"] == 2 and st["fast"]["ratio"] == pytest.approx(0.81)
    assert st["fast"]["gflops"] == pytest.approx(statistics.median([98.0, 93.5]))
    assert st["slow"]["n"] == 2 and st["slow"]["ratio"] == pytest.approx(0.91)
    assert st["slow"]["gflops"] == pytest.approx(71.0)
    # the probes on either engine's result; the run's reference: a row wholly below it is slow
    st2 = bench.state_rounds({k: v for k, v in a.items() if k != "host_probe"}, dict(b, host_probe=probes), 125.0)
    assert st2["fast"]["n"] == 0 and st2["fast"]["ratio"] is None
    assert st2["slow"]["n"] == 6 and st2["mixed"] == 0            # cut 112.5: every probe below
    assert st2["slow"]["ratio"] == pytest.approx(0.855) and st2["ref"] == 125.0
    # a stricter limit moves rounds from fast to mixed (96 < 0.99 x 97.6)
    assert bench.state_rounds(a, b, limit=0.99)["fast"]["n"] == 0
    # one stray high probe does not make the rest slow (the largest would: 0.9 x 300 = 270)
    long_a = {"ms": [8.0] * 20, "bursts": [1] * 20, "host_probe": [300.0] + [100.0] * 10 + [60.0] * 10}
    long_b = {"ms": [10.0] * 20, "bursts": [1] * 20}
    stray = bench.state_rounds(long_a, long_b)
    assert stray["ref"] == pytest.approx(100.0)
    assert (stray["fast"]["n"], stray["mixed"], stray["slow"]["n"]) == (10, 1, 9)
    # no probes, too few probes, no bursts: None
    assert bench.state_rounds(b, b) is None
    assert bench.state_rounds(dict(a, host_probe=probes[:6]), b) is None
    assert bench.state_rounds({"ms": [1.0], "host_probe": [1.0, 1.0]}, {"ms": [1.0]}) is None
    # rounds_summary carries the row's own split, the progress line shows it
    s = bench.rounds_summary(a, b)
    assert s["state"] == st
    assert bench.state_log(s) == "; by probe (reference 97.6 GFLOP/s): fast-state – (2, 96), slow-state – (2, 71), mixed 2"
    assert bench.rounds_summary(b, b)["state"] is None and bench.state_log(bench.rounds_summary(b, b)) == ""


def test_fmt_state_and_run_probe_reference():
    assert bench.fmt_state(None) == "–"
    assert bench.fmt_state({"n": 0, "ratio": None, "gflops": None}) == "– (0)"
    assert bench.fmt_state({"n": 2, "ratio": 0.8, "gflops": 84.4}) == "– (2, 84)"   # too few to quote
    assert bench.fmt_state({"n": 7, "ratio": 0.812, "gflops": 84.6}) == "0.81 (7, 85)"
    ref = bench.run_probe_reference([(1, {"host_probe": [80.0, 70.0]}), (1, {"host_probe": [85.0]}),
                                     (2, {"host_probe": [150.0]}), (2, {}), (1, None)])
    assert ref == pytest.approx({1: 84.0, 2: 150.0})             # 1t: 90th percentile of 70, 80, 85
    assert bench.run_probe_reference([]) == {}
    assert bench.state_note({}, 20, 0) is None
    note = bench.state_note({2: 150.0, 1: 85.0}, 20, 3)
    assert "an FMA probe of 20 ms" in note and "(1t 85.0 GFLOP/s, 2t 150.0 GFLOP/s)" in note
    assert "at least 0.90 of the reference, the 90th percentile of the run's probes" in note
    assert "changed (3)" in note


# ---- the host probe (benchmarks/host_probe.c) --------------------------------------------

@pytest.fixture(scope="module")
def probe_lib():
    try:
        return bench.build_host_probe()
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"no gcc with AVX2: {exc}")


@pytest.mark.parametrize("kind", sorted(bench.PROBE_KINDS))
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_host_probe_kinds_read_a_rate(probe_lib, kind, threads):
    """Every kind at 1-3 threads gives a positive rate per CPU second, within what one core of any
    current CPU can do per thread (a rate summed wrongly or divided by wall time would show)."""
    rate = bench.host_probe(probe_lib, kind, 0.005, threads)
    per_thread = rate / threads
    limit = {"fma": 1000.0, "madd": 2000.0, "l1": 2000.0, "l2": 2000.0, "big": 2000.0}[kind]
    assert 0.1 < per_thread < limit, (kind, threads, rate)


def test_host_probe_refuses_bad_arguments(probe_lib):
    for kind, seconds, threads in ((7, 0.001, 1), (-1, 0.001, 1), (0, 0.0, 1), (0, 0.001, 0),
                                   (0, 0.001, 17)):
        fn = bench._PROBE_FNS[probe_lib]
        assert fn(kind, seconds, threads) == -1.0
    with pytest.raises(KeyError):
        bench.host_probe(probe_lib, "avx512", 0.001, 1)
    assert bench.probe_spec(0, 1) is None
    assert bench.probe_spec(20, 2) == {"lib": probe_lib, "seconds": 0.02, "threads": 2}


def test_alternate_probes_around_every_round(probe_lib):
    spec = {"lib": probe_lib, "seconds": 0.001, "threads": 1}
    r, _ = _alternate(warmup=0, runs=7, seconds=None, burst=3, probe=spec)
    assert r["bursts"]["a"] == [3, 3, 1] and len(r["host_probe"]) == 4
    assert all(g > 0 for g in r["host_probe"])
    r, _ = _alternate(warmup=0, runs=2, seconds=None, burst=3)
    assert "host_probe" not in r


# ---- tables -------------------------------------------------------------------------

def _result(with_rounds=True, fma_end=True):
    """A bench.py result as run_benchmark builds it, from synthetic samples."""
    eng = ["tinycnn", "onnxruntime"]
    models = {}
    for name, fa, fb in (("mnasnet1_0", 8.0, 10.0), ("mobilenet_v2", 9.0, 10.0)):
        m = {"gflop": 0.6, "input": {"shape": [1, 3, 224, 224]}, "engines": eng, "threads": {},
             "background_cores": {}, "file_mb": 17.0}
        for t in (1, 2):
            per = {}
            for e, base in zip(eng, (fa / t, fb / t)):
                ms = [base * (1 + 0.01 * (i % 3)) for i in range(12)]
                per[e] = {"ms": ms, "cpu_ms": ms, "bursts": [3, 3, 3, 3], "median_ms": statistics.median(ms),
                          "median_cpu_ms": statistics.median(ms), "gflops": 1.0, "peak_fraction": 0.1}
            m["threads"][t] = per
            m["background_cores"][t] = 0.05
            if with_rounds:
                m.setdefault("rounds", {})[t] = bench.rounds_summary(per["tinycnn"], per["onnxruntime"])
        models[name] = m
    r = {"date": "2026-12-06 03:00 UTC", "cpu": "test CPU", "cores": 2, "versions": {"python": "3"},
         "engines": eng, "loadavg_start": (1.0, 1.0, 1.0), "loadavg_end": (1.1, 1.0, 1.0),
         "fma_peak_gflops": {1: 80.0, 2: 160.0}, "isa": "tinycnn avx2",
         "method": {"nice": -20, "fifo": True, "fifo_1t": True, "runs": 15, "seconds": 5, "warmup": 2,
                    "burst": 3, "burst_1t": 3, "min_gap_s": 0.02, "load_samples": 0},
         "suite": "mobile", "opset": 17, "models": models}
    if fma_end:
        r["fma_peak_gflops_end"] = {1: 72.0, 2: 160.0}
    return r


def test_markdown_has_the_round_column_and_host_line():
    text = bench.markdown(_result())
    lines = text.splitlines()
    head = next(line for line in lines if line.startswith("| model | input |"))
    cols = [c.strip() for c in head.strip("|").split("|")]
    assert cols[6] == "ratio" and cols[7] == "per-round ratio [25-75%]"
    assert cols[8] == "fast rounds: ratio (share)"
    rows = [line for line in lines if line.startswith("| MnasNet 1.0 |")]
    assert len(rows) == 2
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert len(cells) == len(cols)
    assert cells[6] == "0.80" and cells[7] == "0.80 [0.80-0.80]" and cells[8] == "0.80 (100%)"
    assert "FMA peak at the end: 72.0 GFLOP/s on 1 thread, 160.0 GFLOP/s on 2 threads." in text
    host = next(line for line in lines if line.startswith("Host during the run"))
    assert "FMA peak at end / start 1t 0.90, 2t 1.00" in host
    assert "onnxruntime's median +0.0%" in host and "the per-round ratio's median +0.0%" in host
    assert "Bursts at every thread count ran under SCHED_FIFO (--fifo and --fifo-1t)" in text


def test_markdown_host_state_columns():
    """With probes: the fast-state / slow-state cells against the run's reference at each thread count
    (MobileNetV2's row, all at 60 GFLOP/s, is slow beside MnasNet's 80), and the note."""
    r = _result()
    for name, probes in (("mnasnet1_0", [80.0] * 5), ("mobilenet_v2", [60.0] * 5)):
        for e in r["models"][name]["threads"][1].values():
            e["host_probe"] = probes
    r["method"]["probe_ms"] = 20
    lines = bench.markdown(r).splitlines()
    head = next(line for line in lines if line.startswith("| model | input |"))
    cols = [c.strip() for c in head.strip("|").split("|")]
    assert cols[9] == "fast-state rounds: ratio (n, probe GFLOP/s)"
    assert cols[10] == "slow-state rounds: ratio (n, probe GFLOP/s)"

    def cells(title, t):
        row = next(line for line in lines if line.startswith(f"| {title} |") and f"| {t} |" in line)
        c = [x.strip() for x in row.strip("|").split("|")]
        assert len(c) == len(cols)
        return c

    assert cells("MnasNet 1.0", 1)[9:11] == ["0.80 (4, 80)", "– (0)"]
    assert cells("MobileNetV2", 1)[9:11] == ["– (0)", "0.90 (4, 60)"]
    assert cells("MnasNet 1.0", 2)[9:11] == ["–", "–"]             # no probes at 2 threads
    note = next(line for line in lines if line.startswith("Host state per round"))
    assert "an FMA probe of 20 ms" in note and "(1t 80.0 GFLOP/s)" in note and "changed (0)" in note
    assert not any(line.startswith("Host state per round") for line in bench.markdown(_result()).splitlines())


def test_infer_bursts_of_older_results():
    meth = {"burst": 5, "burst_1t": 3}
    assert bench.infer_bursts(10, 2, meth) == [5, 5]
    assert bench.infer_bursts(12, 1, meth) == [3, 3, 3, 3]
    assert bench.infer_bursts(14, 1, meth) == [3, 3, 3, 3, 2]      # --runs: the last burst shorter
    assert bench.infer_bursts(4, 1, {"burst": 5}) == [1, 1, 1, 1]   # before bursts: one by one
    assert bench.infer_bursts(0, 2, meth) == []


def test_markdown_of_an_older_json_still_renders(tmp_path):
    """A --json written before the rounds existed: rebuilt from the raw runs and the method's
    burst sizes (infer_bursts); without its raw runs the new columns read "–"; no host line
    without the FMA peak at the end."""
    import json
    r = _result(with_rounds=False, fma_end=False)
    for m in r["models"].values():
        for per in m["threads"].values():
            for e in per.values():
                del e["bursts"]
    r["method"].pop("fifo_1t")
    path = tmp_path / "old.json"
    path.write_text(json.dumps(r))
    old = bench.load_result(path)
    assert old["models"]["mnasnet1_0"]["threads"][1]["tinycnn"]["bursts"] == [3, 3, 3, 3]
    text = bench.markdown(old)
    row = next(line for line in text.splitlines() if line.startswith("| MnasNet 1.0 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[6] == "0.80" and cells[7] == "0.80 [0.80-0.80]" and cells[8] == "0.80 (100%)"
    assert "FMA peak at the end" not in text and "FMA peak at end / start" not in text
    assert "Bursts at N > 1 threads ran under SCHED_FIFO (--fifo)" in text
    for m in r["models"].values():           # no raw runs at all: the columns stay empty
        for per in m["threads"].values():
            for e in per.values():
                del e["ms"]
    path.write_text(json.dumps(r))
    text = bench.markdown(bench.load_result(path))
    row = next(line for line in text.splitlines() if line.startswith("| MnasNet 1.0 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[6] == "0.80" and cells[7] == "–" and cells[8] == "–"
    assert "Host during the run" not in text


def test_json_round_trip_keeps_rounds(tmp_path):
    import json
    path = tmp_path / "new.json"
    path.write_text(json.dumps(_result()))
    r = bench.load_result(path)
    assert set(r["models"]["mnasnet1_0"]["rounds"]) == {1, 2}
    assert r["fma_peak_gflops_end"] == {1: 72.0, 2: 160.0}
    assert bench.markdown(r) == bench.markdown(_result())


def _with_steady(r, ms_a, ms_b, name="mobilenet_v2", t=1, burst=20):
    """r with a --steady-burst phase on one row: bursts of `burst` runs at the given times."""
    per = {}
    for e, base in zip(r["engines"], (ms_a, ms_b)):
        ms = [base * (1 + 0.01 * (i % 2)) for i in range(2 * burst)]
        per[e] = {"ms": ms, "cpu_ms": ms, "bursts": [burst, burst], "median_ms": statistics.median(ms)}
    r["models"][name].setdefault("steady", {})[t] = {
        "burst": burst, "engines": per, "rounds": bench.rounds_summary(per["tinycnn"], per["onnxruntime"])}
    r["method"]["steady_burst"] = burst
    return r


def test_markdown_steady_column_and_targets(tmp_path):
    """--steady-burst: the second phase's ratio is the table's last column ("–" on rows without
    one), a note says what it is, and the targets line checks it as well as the first phase's:
    MnasNet's second phase meets 0.80, MobileNetV2's misses it; the JSON round trip keeps it."""
    import json
    r = _with_steady(_with_steady(_result(), 8.4, 10.0), 7.5, 10.0, name="mnasnet1_0")
    text = bench.markdown(r)
    lines = text.splitlines()
    head = next(line for line in lines if line.startswith("| model | input |"))
    cols = [c.strip() for c in head.strip("|").split("|")]
    assert cols[-1] == "bursts of 20: ratio, per-round [25-75%]"
    assert next(line for line in lines if line.startswith("|---")).count("|") == len(cols) + 1

    def cells(title, t):
        row = next(line for line in lines if line.startswith(f"| {title} |") and f"| {t} |" in line)
        c = [x.strip() for x in row.strip("|").split("|")]
        assert len(c) == len(cols)
        return c

    assert cells("MobileNetV2", 1)[-1] == "0.84, 0.84 [0.84-0.84]"
    assert cells("MnasNet 1.0", 1)[-1] == "0.75, 0.75 [0.75-0.75]"
    assert cells("MobileNetV2", 2)[-1] == "–"
    assert any(line.startswith("Last column: after each row's bursts, a second phase as long in bursts of 20")
               for line in lines)
    targets = next(line for line in lines if line.startswith("Issue 12 targets met"))
    met, missed = targets.split("Missed")
    assert "MnasNet 1.0 1t bursts of 20 0.75 (target <= 0.80)" in met
    assert "MobileNetV2 1t bursts of 20 0.84 (target <= 0.80)" in missed
    assert "MobileNetV2 2t bursts" not in targets          # no second phase on that row
    path = tmp_path / "steady.json"
    path.write_text(json.dumps(r))
    back = bench.load_result(path)
    assert set(back["models"]["mobilenet_v2"]["steady"]) == {1}
    assert bench.markdown(back) == text
    plain = bench.markdown(_result())                      # no second phase: no column, no note
    assert "bursts of 20" not in plain and "Last column" not in plain


def test_steady_burst_argument():
    assert bench.parse_args(["--steady-burst", "20"]).steady_burst == 20
    assert bench.parse_args([]).steady_burst == 0
    with pytest.raises(SystemExit):
        bench.parse_args(["--steady-burst", "-1"])


def test_int8_table_column_and_host_line():
    def row(model, t, feed, fa, fb, rounds=True):
        a = {"ms": [fa] * 9, "bursts": [3, 3, 3]}
        b = {"ms": [fb] * 6 + [fb * 1.1] * 3, "bursts": [3, 3, 3]}
        r = {"model": model, "format": "qdq", "threads": t, "input": feed, "background_cores": 0.0,
             "ms": {bench_int8.ORT: fb, bench_int8.AVX2: fa, bench_int8.F32: 2 * fa},
             "cpu_ms": {}}
        if rounds:
            r["rounds"] = bench.rounds_summary(a, b)
        return r

    res = {"vnni": None, "engines": [bench_int8.ORT, bench_int8.AVX2, bench_int8.F32],
           "versions": {}, "date": "d", "commit": "c", "cpu": "cpu", "cores": 2,
           "loadavg_start": (0, 0, 0), "loadavg_end": (0, 0, 0), "emulate_avx2": True,
           "rows": [row("resnet18", 1, "normal", 8.0, 10.0), row("resnet18", 2, "photo", 9.0, 10.0, False)]}
    text = bench_int8.markdown(res)
    lines = text.splitlines()
    head = next(line for line in lines if line.startswith("| model | format |"))
    cols = [c.strip() for c in head.strip("|").split("|")]
    assert cols[6].startswith("AVX2 / ort") and cols[7] == "per-round AVX2 / ort [25-75%]"
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines if line.startswith("| ResNet-18 |")]
    assert len(rows) == 2 and all(len(r) == len(cols) for r in rows)
    assert rows[0][6] == "0.80" and rows[0][7] == "0.80 [0.76-0.80]"
    assert rows[1][7] == "–"                                        # a row without rounds
    # fast rounds (bench.fast_rounds): both engines within 10% of their fastest bursts; the third
    # round's onnxruntime burst is 1.1x its fastest, just inside: 3 of 3, ratio 0.80
    assert cols[8] == "fast rounds: ratio (share)"
    assert rows[0][8] == "0.80 (100%)" and rows[1][8] == "–"
    assert cols[9].startswith("fast-state rounds") and cols[10].startswith("slow-state rounds")
    assert rows[0][9] == rows[0][10] == "–"                        # no probes: no states
    assert cols[11] == "tinycnn float32 ms" and rows[0][11] == "16.0"
    host = next(line for line in lines if line.startswith("Host during the run"))
    assert "onnxruntime int8's median +10.0%" in host and "ResNet-18 qdq 1t normal" in host
    assert "FMA peak" not in text                                   # not measured: not shown
    assert "Host state per round" not in text
    # probes (bench.state_rounds): the row's 3 rounds, all near the run's reference: fast
    res["rows"][0]["raw"] = {bench_int8.AVX2: {"ms": [8.0] * 9, "bursts": [3, 3, 3]},
                             bench_int8.ORT: {"ms": [10.0] * 9, "bursts": [3, 3, 3]}}
    res["rows"][0]["host_probe"] = [70.0, 71.0, 70.5, 71.0]
    res["probe_ms"] = 15
    lines = bench_int8.markdown(res).splitlines()
    row = next([c.strip() for c in line.strip("|").split("|")] for line in lines if line.startswith("| ResNet-18 |"))
    assert row[9:11] == ["0.80 (3, 71)", "– (0)"]
    assert any(line.startswith("Host state per round: an FMA probe of 15 ms") for line in lines)
    res["fma_peak_gflops"], res["fma_peak_gflops_end"] = {"1": 80.0, "2": 160.0}, {"1": 70.0, "2": 150.0}
    assert ("FMA peak (benchmarks/fma_peak.c, per second of CPU time) 80.0 GFLOP/s on 1 thread, "
            "160.0 GFLOP/s on 2 threads at start, 70.0 GFLOP/s on 1 thread, 150.0 GFLOP/s on 2 threads "
            "at end.") in bench_int8.markdown(res)


def test_int8_steady_column_and_target():
    """bench_int8.py --steady-burst: the second phase's ratio is the last column ("–" where a row
    has none), and the target is judged on the worse of the inputs and the phases: ResNet-18's
    1-thread row meets 0.85 in bursts of 3 (0.80) but not in bursts of 20 (0.90)."""
    def row(t, feed, fa, fb, steady=None):
        r = {"model": "resnet18", "format": "qdq", "threads": t, "input": feed, "background_cores": 0.0,
             "ms": {bench_int8.ORT: fb, bench_int8.AVX2: fa, bench_int8.F32: 2 * fa}, "cpu_ms": {},
             "rounds": bench.rounds_summary({"ms": [fa] * 6, "bursts": [3, 3]},
                                            {"ms": [fb] * 6, "bursts": [3, 3]})}
        if steady:
            sa, sb = steady
            r["steady"] = {"burst": 20, "ms": {bench_int8.ORT: sb, bench_int8.AVX2: sa},
                           "rounds": bench.rounds_summary({"ms": [sa] * 40, "bursts": [20, 20]},
                                                          {"ms": [sb] * 40, "bursts": [20, 20]})}
        return r

    res = {"vnni": None, "engines": [bench_int8.ORT, bench_int8.AVX2, bench_int8.F32],
           "versions": {}, "date": "d", "commit": "c", "cpu": "cpu", "cores": 2,
           "loadavg_start": (0, 0, 0), "loadavg_end": (0, 0, 0), "emulate_avx2": True,
           "rows": [row(1, "normal", 8.0, 10.0, steady=(9.0, 10.0)), row(2, "normal", 7.0, 10.0)]}
    lines = bench_int8.markdown(res).splitlines()
    head = next(line for line in lines if line.startswith("| model | format |"))
    cols = [c.strip() for c in head.strip("|").split("|")]
    assert cols[-1] == "bursts of 20: AVX2 / ort, per-round [25-75%]"
    assert next(line for line in lines if line.startswith("|---")).count("|") == len(cols) + 1
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines if line.startswith("| ResNet-18 |")]
    assert all(len(r) == len(cols) for r in rows)
    assert rows[0][6] == "0.80" and rows[0][-1] == "0.90, 0.90 [0.90-0.90]" and rows[1][-1] == "–"
    assert any(line.startswith("Last column: after each row, a second phase") for line in lines)
    target = next(line for line in lines if line.startswith("Target tinycnn int8"))
    assert "held in 1 of 2; missed: ResNet-18 qdq 1t 0.90 (normal, bursts of 20)." in target
    del res["rows"][0]["steady"]
    plain = bench_int8.markdown(res)
    assert "bursts of 20" not in plain and "held in 2 of 2." in plain
    assert bench_int8.parse_args(["--steady-burst", "20"]).steady_burst == 20
    with pytest.raises(SystemExit):
        bench_int8.parse_args(["--steady-burst", "-2"])


# ---- bench_repeat.py -------------------------------------------------------------------

def test_repeat_order_interleaves_variants():
    assert bench_repeat.order(2, 4) == [0, 1, 1, 0, 0, 1, 1, 0]
    assert bench_repeat.order(3, 2) == [0, 1, 2, 2, 1, 0]
    assert bench_repeat.order(1, 3) == [0, 0, 0]
    assert bench_repeat.order(2, 1) == [0, 1]


def test_repeat_summarize_reads_json_results(tmp_path):
    import json
    runs = []
    for k in range(3):
        r = _result()
        r["models"]["mnasnet1_0"]["threads"][1]["onnxruntime"]["median_ms"] *= 1 + 0.1 * k
        runs.append(json.loads(json.dumps(r)))        # as bench.py --json writes it (str keys)
    rows = bench_repeat.summarize(runs)
    assert set(rows) == {("mnasnet1_0", 1), ("mnasnet1_0", 2), ("mobilenet_v2", 1), ("mobilenet_v2", 2)}
    mn = rows[("mnasnet1_0", 1)]
    assert mn["whole"] == pytest.approx([0.8, 0.8 / 1.1, 0.8 / 1.2])
    assert mn["round_median"] == pytest.approx([0.8] * 3) and mn["round_iqr"] == pytest.approx([0] * 3)
    assert rows[("mobilenet_v2", 2)]["whole"] == pytest.approx([0.9] * 3)


# ---- the workers -----------------------------------------------------------------------

class _FakeSession:
    def __init__(self, log):
        self.log = log

    def run(self, _names, _feeds):
        self.log.append(os.sched_getscheduler(0))


def _alternate(**kw):
    w = bench._Worker()
    log = []
    w.sessions = {"a": _FakeSession(log), "b": _FakeSession(log)}
    w.feeds = {}
    return w.cmd_alternate(["a", "b"], **kw), log


@pytest.mark.parametrize("runs,burst,sizes", [(7, 3, [3, 3, 1]), (6, 3, [3, 3]), (1, 5, [1]),
                                              (4, 1, [1, 1, 1, 1])])
def test_alternate_reports_its_bursts(runs, burst, sizes):
    r, log = _alternate(warmup=1, runs=runs, seconds=None, burst=burst)
    for e in "ab":
        assert r["bursts"][e] == sizes
        assert len(r["ms"][e]) == runs == len(r["cpu_ms"][e])
    assert log.count(os.SCHED_FIFO) == 0
    # warmup 2 runs, then per burst one discarded run (burst > 1) and its timed runs
    assert len(log) == 2 + 2 * (runs + (len(sizes) if burst > 1 else 0))


def test_alternate_seconds_mode_whole_rounds():
    r, _ = _alternate(warmup=0, runs=15, seconds=0.01, burst=2)
    assert r["bursts"]["a"] == r["bursts"]["b"] and set(r["bursts"]["a"]) == {2}
    assert len(r["ms"]["a"]) == len(r["ms"]["b"]) >= 3


def test_alternate_fifo_bursts():
    """--fifo-1t: every run of every burst (the discarded one too) under SCHED_FIFO, the warmup
    and the time after the run under the ordinary scheduler; refused without the right."""
    try:
        bench.set_fifo(True)
        bench.set_fifo(False)
    except PermissionError:
        with pytest.raises(PermissionError):
            _alternate(warmup=0, runs=2, seconds=None, burst=2, fifo=True, pause=0.001)
        return
    r, log = _alternate(warmup=1, runs=5, seconds=None, burst=2, fifo=True, pause=0.001)
    assert r["bursts"]["a"] == [2, 2, 1]
    assert log[:2] == [os.SCHED_OTHER] * 2 and log[2:] == [os.SCHED_FIFO] * (len(log) - 2)
    assert os.sched_getscheduler(0) == os.SCHED_OTHER


def test_fifo_1t_refused_without_the_right():
    """bench.py --fifo-1t checks the right before measuring, as --fifo does."""
    try:
        bench.set_fifo(True)
        bench.set_fifo(False)
        pytest.skip("this process may set SCHED_FIFO")
    except PermissionError:
        pass
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--fifo-1t",
                        "--models", "resnet18", "--threads", "1"], capture_output=True, text=True)
    assert r.returncode != 0 and "needs the right to set SCHED_FIFO" in r.stderr, r.stderr


@pytest.mark.parametrize("threads", [1, 2])
def test_measure_paths_report_bursts(tmp_path, threads, probe_lib):
    """Both of bench.py's measuring paths on a small model in real worker processes (onnxruntime
    against itself): every engine's burst sizes add up to its runs, the rounds summary of the
    pair is a ratio near 1 per round, and the host probe read before the first round and after
    each (at the row's thread count), the same series for both engines."""
    path = save(conv_net(batch=1), tmp_path / "conv.onnx")
    desc = {"input": "x", "shape": [1, 3, 8, 8]}
    engines = ["onnxruntime#a", "onnxruntime"]
    meter = bench.BackgroundMeter()
    probe = bench.probe_spec(2, threads)
    assert probe["lib"] == probe_lib and probe["threads"] == threads
    if threads == 1:
        res, diffs = bench.measure_one_process(engines, path, desc, 1, 1, 7, None, meter, burst=3,
                                               probe=probe)
        assert diffs and diffs[0]["max_abs_diff"] == 0
    else:
        res = bench.measure_bursts(engines, path, desc, 2, 1, 7, None, 3, 0.001, meter, probe=probe)
    for e in engines:
        assert sum(res[e]["bursts"]) == len(res[e]["ms"]) >= 7
        assert all(n >= 1 for n in res[e]["bursts"])
        assert len(res[e]["host_probe"]) == len(res[e]["bursts"]) + 1
        assert res[e]["host_probe"] == res[engines[0]]["host_probe"] and min(res[e]["host_probe"]) > 0
    st = bench.state_rounds(res[engines[0]], res[engines[1]])
    assert st["fast"]["n"] + st["slow"]["n"] + st["mixed"] == len(res[engines[0]]["bursts"])
    if threads == 2:   # without a probe: no series
        plain = bench.measure_bursts(engines, path, desc, 2, 1, 3, None, 3, 0.001, meter)
        assert all("host_probe" not in plain[e] for e in engines)
    s = bench.rounds_summary(res[engines[0]], res[engines[1]])
    assert s["ratio"]["n"] == len(res[engines[0]]["bursts"]) >= 3
    assert 0 < s["ratio"]["min"] <= s["ratio"]["median"] <= s["ratio"]["max"]

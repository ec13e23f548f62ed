"""benchmarks/qbursts.py: bench_int8.py's 2-thread method (bench.measure_bursts) run with its own
workers, which also report per timed run their threads' run-queue wait, context switches and
CPUID traps, and (variant steps) both engines' per-step times; end to end on a small float
model in real worker processes (tinycnn in the int8 column's place), and its step table."""
import argparse
import sys
from pathlib import Path

import pytest

from helpers import conv_net, save

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import qbursts  # noqa: E402


def _args(**kw):
    a = dict(threads=2, warmup=1, runs=6, burst=3, gap=0.001, idle=0.01, input="normal", procs=2)
    a.update(kw)
    return argparse.Namespace(**a)


@pytest.mark.parametrize("variant", ["bench", "pair", "tcfirst", "idle", "steps", "procs"])
def test_variants_measure_rounds_and_per_run_extras(tmp_path, variant):
    path = save(conv_net(batch=1), tmp_path / "conv.onnx")
    desc = {"input": "x", "shape": [1, 3, 8, 8]}
    paths = {qbursts.ORT: path, qbursts.AVX2: path, qbursts.F32: path}
    r = qbursts.measure_variant(variant, paths, desc, _args())
    res = r["res"]
    rounds = 2   # 6 runs: 2 bursts of 3 each, or (procs) 2 process pairs of 3 runs
    assert len(r["ratios"]) == rounds and all(x > 0 for x in r["ratios"])
    for e in (qbursts.AVX2, qbursts.ORT):
        assert sum(res[e]["bursts"]) == len(res[e]["ms"]) == 6
        # one (run-queue wait us, switches, CPUID traps) per timed run, the discarded runs left out
        assert len(res[e]["extra"]) == len(res[e]["ms"])
        for wait, switches, traps in res[e]["extra"]:
            assert wait >= 0 and switches >= 0 and (traps is None or traps >= 0)
    if variant == "steps":
        for e in (qbursts.AVX2, qbursts.ORT):
            steps = r["steps"][e]
            assert steps, e
            n = {len(v) for v in steps.values()}
            # warm-up + every burst's runs (its discarded first included): 1 + 2 x 4
            assert n == {9}, (e, n)
            assert all(x >= 0 for v in steps.values() for x in v)
    else:
        assert r["steps"] == {}


def test_steps_table_ranks_the_steps_that_grow():
    # 8 runs; step b doubles in the slow runs, a stays
    agg = {"a": [5.0] * 8, "b": [5.0] * 4 + [15.0] * 4}
    tot = [agg["a"][i] + agg["b"][i] for i in range(8)]
    text = qbursts.steps_table(agg, tot, 2)
    lines = text.splitlines()
    assert "fastest quarter 10.00 ms, slower half 20.00 ms (2.000x)" in lines[0]
    assert lines[1].split()[0] == "b" and lines[1].split()[3] == "3.000"
    assert lines[2].split()[0] == "a" and lines[2].split()[3] == "1.000"

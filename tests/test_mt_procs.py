"""benchmarks/mt_procs.py: per-step times at 1 and 2 threads from separate processes (here
without SCHED_FIFO): each worker reports its run's wall time and every profiled step, and the
table covers both engines' steps and their sums."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import conv_net, save

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "benchmarks" / "mt_procs.py")

pytestmark = pytest.mark.slow   # four to six interpreters with a session each: ~20 s


def test_worker_reports_wall_and_steps(tmp_path):
    model = save(conv_net(batch=1), tmp_path / "conv.onnx")
    for engine in ("tc", "ort"):
        out = subprocess.run([sys.executable, SCRIPT, model, "--runs", "3", "--worker", engine, "2"],
                             capture_output=True, text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        assert r["wall"] > 0, (engine, r)
        assert r["groups"] and all(v >= 0 for v in r["groups"].values()), (engine, r)


def test_table_has_both_engines_and_sums(tmp_path):
    model = save(conv_net(batch=1), tmp_path / "conv.onnx")
    out = subprocess.run([sys.executable, SCRIPT, model, "--ort", "--rounds", "1", "--runs", "3"],
                         capture_output=True, text=True, check=True).stdout
    assert "tc: wall ms per process" in out and "ort: wall ms per process" in out, out
    assert sum(line.startswith("sum ") for line in out.splitlines()) == 2, out

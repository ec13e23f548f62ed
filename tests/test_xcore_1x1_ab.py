"""benchmarks/xcore_1x1_ab.py: one 1x1 layer of two builds (here the same checkout twice) at N
threads, x rewritten by the pool before each call or left warm, with or without the gates:
the per-build lines, the ratio line and bit-equality."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "benchmarks" / "xcore_1x1_ab.py")


@pytest.mark.parametrize("extra,threads", [([], 2), (["--warm", "--no-scale"], 1), ([], 3)])
def test_two_builds_of_one_1x1_are_timed_and_bit_identical(extra, threads):
    env = dict(os.environ, TINYCNN_ISA=os.environ.get("TINYCNN_ISA", "portable"))
    out = subprocess.run([sys.executable, SCRIPT, "24", "40", "13", "--against", str(ROOT),
                          "--threads", str(threads), "--calls", "40"] + extra,
                         capture_output=True, text=True, check=True, env=env).stdout
    lines = out.splitlines()
    assert [ln.split(":")[0] for ln in lines[:2]] == ["new", "old"], out
    assert all(float(v) > 0 for v in lines[0].split()[2:7:2]), out
    last = lines[-1]
    assert last.startswith(f"24 -> 40 at 13x13, {threads} threads"), out
    assert ("x warm" if "--warm" in extra else "x rewritten") in last, out
    assert "bit-identical=True" in last, out

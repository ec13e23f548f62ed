"""benchmarks/pointwise_ab.c (two builds' 1x1 layers alternating in one process): it compiles,
loads this build twice and finds the two copies writing the same bits."""
import glob
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "benchmarks" / "pointwise_ab.c"


def _extension():
    hits = glob.glob(str(ROOT / "tinycnn" / "_kernels*.so"))
    return hits[0] if hits else None


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_pointwise_ab_runs_two_copies_of_this_build(tmp_path):
    so = _extension()
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    if so is None or not glob.glob(os.path.join(libdir, "libpython3*.so*")):
        pytest.skip("needs the built extension and a shared libpython")
    exe = tmp_path / "pointwise_ab"
    subprocess.run(["gcc", "-O1", f"-I{ROOT / 'csrc'}", str(SRC), "-o", str(exe), "-ldl"],
                   check=True)
    a, b = tmp_path / "a.so", tmp_path / "b.so"
    shutil.copy(so, a)
    shutil.copy(so, b)
    env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    env.pop("LD_PRELOAD", None)
    # an expansion with Clip at 7x7 (17-column tiles) and a projection with a residual at 14x14
    out = subprocess.run([str(exe), str(a), str(b), "1", "32", "96", "7", "96", "24", "14"],
                         env=env, capture_output=True, text=True, check=True, timeout=120).stdout
    rows = [line for line in out.splitlines() if "->" in line]
    assert len(rows) == 2, out
    assert all(line.endswith("same bits") for line in rows), out
    assert "sum of minima" in out
    # SiLU on every layer, on the 1X1_CHAN algorithm
    env.update(PW_MODE="s", PW_ALGO="8")
    out = subprocess.run([str(exe), str(a), str(b), "1", "64", "16", "7"], env=env,
                         capture_output=True, text=True, check=True, timeout=120).stdout
    assert "same bits" in out, out
    # two algorithms of one build (PW_ALGO_B): 1X1 against 1X1_CHAN, which promises the same
    # bits, on a 55x55 map with ReLU (SqueezeNet's 128 -> 16) and a 13x13 expansion
    env.update(PW_MODE="r", PW_ALGO="1", PW_ALGO_B="8")
    out = subprocess.run([str(exe), str(a), str(b), "1", "128", "16", "55", "48", "192", "13"],
                         env=env, capture_output=True, text=True, check=True, timeout=120).stdout
    rows = [line for line in out.splitlines() if "->" in line]
    assert len(rows) == 2, out
    assert all(line.endswith("same bits") for line in rows), out


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_pointwise_ab_usage_error(tmp_path):
    exe = tmp_path / "pointwise_ab"
    subprocess.run(["gcc", "-O1", f"-I{ROOT / 'csrc'}", str(SRC), "-o", str(exe), "-ldl"],
                   check=True)
    r = subprocess.run([str(exe), "a.so"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "usage" in r.stderr

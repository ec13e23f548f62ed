"""benchmarks/next_pf.patch (an experiment's prefetch hooks, not applied) and its C driver
benchmarks/next_pf_ab.c: the patch still applies to csrc/, the driver compiles and refuses a
short command line, and (slow) a build of csrc/ with the patch runs it: the hooks change no bit
of the layer's output (the driver's variants only prefetch)."""
import glob
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATCH = ROOT / "benchmarks" / "next_pf.patch"
SRC = ROOT / "benchmarks" / "next_pf_ab.c"

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("patch") is None,
                               reason="needs gcc and patch")


def _patched_csrc(tmp_path):
    shutil.copytree(ROOT / "csrc", tmp_path / "csrc")
    subprocess.run(["patch", "-p1", "-s", "-d", str(tmp_path), "-i", str(PATCH)], check=True)
    return tmp_path


@needs_gcc
def test_patch_applies(tmp_path):
    root = _patched_csrc(tmp_path)
    assert "tc_xpf_cur" in (root / "csrc" / "gemm_avx2.c").read_text()


@needs_gcc
def test_driver_compiles_and_usage_error(tmp_path):
    exe = tmp_path / "next_pf_ab"
    subprocess.run(["gcc", "-O1", f"-I{ROOT / 'csrc'}", f"-I{ROOT / 'benchmarks'}", str(SRC),
                    "-o", str(exe), "-ldl"], check=True)
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "usage" in r.stderr


@pytest.mark.slow
@needs_gcc
def test_driver_runs_on_a_patched_build(tmp_path):
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    if not glob.glob(os.path.join(libdir, "libpython3*.so*")):
        pytest.skip("needs a shared libpython")
    root = _patched_csrc(tmp_path)
    so = tmp_path / "x.so"
    env = dict(os.environ, AB_SO_CACHE=str(tmp_path / "obj"))
    subprocess.run(["bash", str(ROOT / "benchmarks" / "ab_so.sh"), str(root), str(so)], env=env,
                   check=True, timeout=900)
    exe = tmp_path / "next_pf_ab"
    subprocess.run(["gcc", "-O1", f"-I{ROOT / 'csrc'}", f"-I{ROOT / 'benchmarks'}", str(SRC),
                    "-o", str(exe), "-ldl"], check=True)
    env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    env.pop("LD_PRELOAD", None)
    # 64 -> 96 at 7x7 then a 96 -> 100 GEMV: none, in-strip every 2nd k, 4 lines after each call
    r = subprocess.run([str(exe), str(so), "2", "64", "96", "7", "96", "100", "1", "0", "-1", "4"],
                       env=env, capture_output=True, text=True, timeout=300, check=True)
    rows = [line for line in r.stdout.splitlines() if line.startswith("variant")]
    assert len(rows) == 3, r.stdout
    assert "in the strips" in r.stderr

"""benchmarks/cpuid_avx2.c (bench.py --emulate-avx2): a process that preloads it sees a CPU
without AVX-512 or VNNI, keeps every other feature, and still dies of a real segfault."""
import ctypes
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "benchmarks" / "cpuid_avx2.c"


def _cpu_flags():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or "cpuid_fault" not in _cpu_flags() or shutil.which("gcc") is None,
    reason="needs Linux, gcc and a CPU with CPUID faulting (the cpuid_fault flag)")

# numpy reads CPUID at import; its view of the CPU is what a preloaded process sees.
FEATURES = ("from numpy._core._multiarray_umath import __cpu_features__ as f; "
            "print(' '.join(k for k, v in sorted(f.items()) if v))")


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    out = tmp_path_factory.mktemp("cpuid") / "libcpuid_avx2.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", str(SRC), "-o", str(out)], check=True)
    return out


def _run(code, preload=None):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env.pop("PYTHONFAULTHANDLER", None)  # its SIGSEGV handler would replace the library's
    if preload:
        env["LD_PRELOAD"] = str(preload)
    return subprocess.run([sys.executable, "-c", code], env=env,
                          capture_output=True, text=True, timeout=120)


def test_hides_avx512_and_vnni_only(lib):
    real = set(_run(FEATURES).stdout.split())
    seen = set(_run(FEATURES, lib).stdout.split())
    assert "AVX2" in real and "FMA3" in real
    # X86_V4 is numpy's name for the AVX-512 level of x86-64
    hidden = {f for f in real if f.startswith("AVX512") or "VNNI" in f or f == "X86_V4"}
    assert hidden == real - seen, f"hidden: {sorted(real - seen)}"
    assert {"AVX2", "FMA3", "F16C", "SSE42"} & real <= seen


def test_reports_itself_and_counts(lib):
    code = "import ctypes, numpy; c = ctypes.CDLL(None); print(c.cpuid_avx2_active(), c.cpuid_avx2_trapped())"
    active, trapped = _run(code, lib).stdout.split()
    assert active == "1" and int(trapped) > 0


def test_real_segfault_still_kills(lib):
    r = _run("import ctypes; ctypes.string_at(0)", lib)
    assert r.returncode == -signal.SIGSEGV

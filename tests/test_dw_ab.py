"""benchmarks/dw_ab.sh: the in-process A/B harness of the depthwise kernels builds from a
checkout's headers and, run with the same headers on both sides, finds both kernels' outputs
bit-identical (the block kernels and the plane kernels)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _avx2():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return {"avx2", "fma"} <= flags
    except OSError:
        pass
    return False


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux" or shutil.which("gcc") is None or not _avx2(),
                       reason="needs Linux, gcc and an AVX2 + FMA CPU"),
]


@pytest.fixture(scope="module")
def dw_ab(tmp_path_factory):
    out = tmp_path_factory.mktemp("dw_ab") / "dw_ab"
    subprocess.run(["sh", str(ROOT / "benchmarks" / "dw_ab.sh"), str(ROOT), str(ROOT), str(out)],
                   check=True)
    return out


@pytest.mark.parametrize("shape, kernel", [
    (("48", "14", "3", "1", "2"), "block"),   # channel-block kernel, Clip
    (("24", "28", "5", "2", "8"), "block"),   # staged stride-2 5x5, SiLU
    (("16", "28", "3", "1", "1"), "block"),   # channel-block kernel in bands, Relu
    (("16", "56", "3", "1", "1"), "plane"),   # row kernel, Relu
    (("13", "56", "5", "2", "1"), "block"),   # stride-2 channel-block kernel on a ring of rows, Relu
    (("13", "55", "3", "2", "2"), "block"),   # the same at 3x3, an odd height, Clip
])
def test_same_headers_same_bits(dw_ab, shape, kernel):
    out = subprocess.run([str(dw_ab), *shape, "2", "3"], check=True, capture_output=True,
                         text=True).stdout
    assert f"({kernel})" in out, out
    assert "same=1" in out, out

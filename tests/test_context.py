import numpy as np
import pytest

from tinycnn import _kernels


def test_context_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_threads"):
        _kernels.Context(0)
    with pytest.raises(ValueError, match="isa"):
        _kernels.Context(1, "sse9")


def test_portable_context_always_available():
    ctx = _kernels.Context(2, "portable")
    assert ctx.isa == "portable" and ctx.num_threads == 2


def test_the_context_dispatches_to_its_isa_kernels():
    """Context(isa=...) picks its instruction set's kernels once: the AVX2 GEMM fuses each
    multiply-add (one rounding), the portable one rounds twice, so long dot products differ
    in their last bits while both stay within float32 accuracy of the exact result."""
    if _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((12, 700), dtype=np.float32)
    b = rng.standard_normal((700, 32), dtype=np.float32)
    exact = a.astype(np.float64) @ b
    out = {}
    for isa in ("portable", "avx2"):
        out[isa] = np.empty((12, 32), np.float32)
        _kernels.gemm(_kernels.Context(1, isa), a, b, out[isa])
        assert np.abs(out[isa] - exact).max() < 1e-3 * np.abs(exact).max(), isa
    assert (out["portable"] != out["avx2"]).any(), "the avx2 context ran the portable GEMM"

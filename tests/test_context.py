import re

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


def test_every_instruction_set_of_this_cpu_has_every_kernel_family():
    """Each ISA's row of the dispatch table names every kernel family (tc_ctx_init refuses a
    row with a gap, which used to crash the first kernel of the missing family): a context
    of each ISA this CPU has runs a transposed convolution, a resize and a normalisation,
    and agrees with the portable one."""
    order = ["portable", "avx2", "avx512"]
    rng = np.random.default_rng(3)
    w = rng.standard_normal((8, 4, 2, 2), dtype=np.float32)
    x = rng.standard_normal((1, 8, 5, 6), dtype=np.float32)
    # 2x2 stride 2: each input pixel spreads its channels' weights over a 2x2 block
    ref = np.einsum("ncij,ckab->nkiajb", x.astype(np.float64), w).reshape(1, 4, 10, 12)
    # the VNNI twins of the AVX2 and AVX-512 rows (tc_ctx_set_vnni) too
    rows = [(isa, "none") for isa in order[:order.index(_kernels.best_isa()) + 1]]
    rows += [(isa, v) for isa, _ in rows[1:] for v in ("avxvnni", "avx512vnni")
             if v in _kernels.int8_isas()]
    for isa, vnni in rows:
        ctx = _kernels.Context(1, isa, vnni)  # ValueError if its row lacks a family
        assert (ctx.isa, ctx.vnni) == (isa, vnni)
        y = np.full((1, 4, 10, 12), np.nan, np.float32)
        _kernels.ConvTranspose(ctx, w, None, strides=(2, 2)).run(x, y)
        assert np.abs(y - ref).max() <= 1e-5 * np.abs(ref).max(), isa


def test_tinycnn_isa_names_the_float_tier_and_the_vnni_setting(monkeypatch):
    """TINYCNN_ISA is a float tier, optionally '+' an 8-bit VNNI extension; a named tier alone
    runs the 8-bit kernels without VNNI; anything else is refused with the accepted forms."""
    import tinycnn
    from helpers import conv_net
    model = conv_net().SerializeToString()
    monkeypatch.setenv("TINYCNN_ISA", "portable")
    ctx = tinycnn.InferenceSession(model)._ctx
    assert (ctx.isa, ctx.vnni, ctx.int8_isa) == ("portable", "none", "portable")
    if "avx2" in _kernels.int8_isas():
        monkeypatch.setenv("TINYCNN_ISA", "avx2")
        ctx = tinycnn.InferenceSession(model)._ctx
        assert (ctx.isa, ctx.vnni, ctx.int8_isa) == ("avx2", "none", "avx2")
    for vnni in ("avxvnni", "avx512vnni"):
        if vnni in _kernels.int8_isas():
            monkeypatch.setenv("TINYCNN_ISA", f"{_kernels.best_isa()}+{vnni}")
            ctx = tinycnn.InferenceSession(model)._ctx
            assert (ctx.isa, ctx.vnni, ctx.int8_isa) == (_kernels.best_isa(), vnni, vnni)
    for bad in ("avxvnni", "avx2+avx2", "sse4"):
        monkeypatch.setenv("TINYCNN_ISA", bad)
        with pytest.raises(tinycnn.InvalidArgument,
                           match=rf"TINYCNN_ISA='{re.escape(bad)}'.*'avx512'.*'\+avxvnni' or '\+avx512vnni'"):
            tinycnn.InferenceSession(model)

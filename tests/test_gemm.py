"""GEMM, sgemm and Dense against numpy, on both ISAs and 1/2 threads."""
import numpy as np
import pytest

from tinycnn import _kernels
from helpers import ISAS, assert_close, requires_avx2, run_conv_variant


# (M, N, K): tile multiples, off-by-one around MR=6 / NR=16 / KC=256 / MC=144 / NC=512, tiny and large
SHAPES = [(1, 1, 1), (1, 17, 5), (5, 1, 9), (6, 16, 8), (7, 17, 3), (13, 31, 257), (12, 48, 256),
          (145, 33, 20), (20, 530, 70), (150, 520, 600), (64, 3136 // 4, 147), (3, 1000, 1)]


@pytest.mark.parametrize("M,N,K", SHAPES)
def test_gemm_plain(ctx, M, N, K):
    rng = np.random.default_rng(M * 1000 + N * 7 + K)
    a = rng.standard_normal((M, K), dtype=np.float32)
    b = rng.standard_normal((K, N), dtype=np.float32)
    y = np.full((M, N), np.nan, dtype=np.float32)
    _kernels.gemm(ctx, a, b, y)
    assert_close(y, a.astype(np.float64) @ b, 1e-5, f"gemm y=a@b M={M} N={N} K={K}")


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("M,N,K", [(7, 19, 33), (50, 37, 300)])
def test_gemm_trans_alpha_beta(ctx, trans_a, trans_b, M, N, K):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((K, M) if trans_a else (M, K), dtype=np.float32)
    b = rng.standard_normal((N, K) if trans_b else (K, N), dtype=np.float32)
    opa = (a.T if trans_a else a).astype(np.float64)
    opb = (b.T if trans_b else b).astype(np.float64)
    for cshape in [(M, N), (1, N), (M, 1), (1, 1)]:
        c = rng.standard_normal(cshape, dtype=np.float32)
        y = np.empty((M, N), dtype=np.float32)
        _kernels.gemm(ctx, a, b, y, trans_a=trans_a, trans_b=trans_b, alpha=0.5, beta=-1.5, c=c)
        assert_close(y, 0.5 * opa @ opb - 1.5 * c.astype(np.float64), 1e-5,
                     f"gemm alpha=0.5 beta=-1.5 c{cshape} trans=({trans_a},{trans_b})")


def test_gemm_c_is_y_and_zero_k(ctx):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((9, 20), dtype=np.float32)
    b = rng.standard_normal((20, 23), dtype=np.float32)
    y = rng.standard_normal((9, 23), dtype=np.float32)
    ref = a.astype(np.float64) @ b + 2.0 * y
    _kernels.gemm(ctx, a, b, y, beta=2.0, c=y)
    assert_close(y, ref, 1e-5, "gemm c is y")
    y0 = np.full((4, 5), 3.0, dtype=np.float32)
    _kernels.gemm(ctx, np.zeros((4, 0), np.float32), np.zeros((0, 5), np.float32), y0)
    assert_close(y0, np.zeros((4, 5)), 1e-5, "gemm K=0")


def test_gemm_rejects_bad_shapes(ctx):
    with pytest.raises(ValueError, match="do not match"):
        _kernels.gemm(ctx, np.zeros((3, 4), np.float32), np.zeros((5, 6), np.float32),
                      np.zeros((3, 6), np.float32))
    with pytest.raises(ValueError, match="float32"):
        _kernels.gemm(ctx, np.zeros((3, 4)), np.zeros((4, 6), np.float32), np.zeros((3, 6), np.float32))


@pytest.mark.parametrize("M", [1, 5, 13])
@pytest.mark.parametrize("K,Nout", [(1, 1), (9, 10), (300, 1000), (4096, 37)])
@pytest.mark.parametrize("trans_b", [True, False])
@pytest.mark.parametrize("relu,with_bias", [(False, True), (True, True), (True, False)])
def test_dense(ctx, M, K, Nout, trans_b, relu, with_bias):
    rng = np.random.default_rng(K + Nout + M)
    w = rng.standard_normal((Nout, K) if trans_b else (K, Nout), dtype=np.float32)
    bias = rng.standard_normal(Nout, dtype=np.float32) if with_bias else None
    layer = _kernels.Dense(ctx, w, bias, trans_b=trans_b, relu=relu)
    assert (layer.in_features, layer.out_features) == (K, Nout)
    a = rng.standard_normal((M, K), dtype=np.float32)
    y = np.full((M, Nout), np.nan, dtype=np.float32)
    layer.run(a, y)
    ref = np.einsum("mk,nk->mn" if trans_b else "mk,kn->mn", a.astype(np.float64), w.astype(np.float64))
    if with_bias:
        ref = ref + bias
    if relu:
        ref = np.maximum(ref, 0)
    assert_close(y, ref, 1e-5, f"dense a{a.shape} w{w.shape} trans_b={trans_b} relu={relu}")


@pytest.mark.parametrize("M", [1, 3])
@pytest.mark.parametrize("K,Nout", [(1, 1), (7, 3), (8, 4), (15, 5), (16, 9), (100, 10),
                                    (300, 1000), (4096, 37), (9216, 13)])
@pytest.mark.parametrize("relu,with_bias", [(False, True), (True, True), (False, False)])
def test_dense_in_place(ctx, M, K, Nout, relu, with_bias):
    """pack=False streams the [Nout, K] weight rows in place (no copy): same answer."""
    rng = np.random.default_rng(7 * K + Nout + M)
    w = rng.standard_normal((Nout, K), dtype=np.float32)
    bias = rng.standard_normal(Nout, dtype=np.float32) if with_bias else None
    layer = _kernels.Dense(ctx, w, bias, trans_b=True, relu=relu, pack=False)
    assert not layer.packed_weight
    a = rng.standard_normal((M, K), dtype=np.float32)
    y = np.full((M, Nout), np.nan, dtype=np.float32)
    layer.run(a, y)
    ref = a.astype(np.float64) @ w.astype(np.float64).T
    if with_bias:
        ref = ref + bias
    if relu:
        ref = np.maximum(ref, 0)
    assert_close(y, ref, 1e-5, f"dense in place a{a.shape} w{w.shape} relu={relu}")
    packed = _kernels.Dense(ctx, w, bias, trans_b=True, relu=relu)
    y2 = np.full((M, Nout), np.nan, dtype=np.float32)
    packed.run(a, y2)
    assert_close(y, y2.astype(np.float64), 1e-5, f"dense in place vs packed a{a.shape} w{w.shape}")


@pytest.mark.parametrize("K", [24, 1000, 1029])
@pytest.mark.parametrize("rows", [61, 64, 67, 1003])
def test_dense_in_place_rows_are_computed_alike_wherever_they_fall(ctx, K, rows):
    """The in-place GEMV runs rows one by one over ranges split between threads, a long range
    as four streams of rows (gemm_avx2.c GEMV_STREAMS, from 64 rows; the rows past 4 x its
    quarter one by one): equal rows give equal bits in every position, and the same bits at 1
    and 2 threads."""
    rng = np.random.default_rng(K)
    w = np.repeat(rng.standard_normal((1, K), dtype=np.float32), rows, axis=0)
    a = rng.standard_normal((1, K), dtype=np.float32)
    y = np.full((1, rows), np.nan, dtype=np.float32)
    _kernels.Dense(ctx, w, None, pack=False).run(a, y)
    assert (y == y[0, 0]).all(), f"unequal sums of equal rows: {np.unique(y)}"
    one = _kernels.Context(1, ctx.isa)
    y1 = np.full_like(y, np.nan)
    _kernels.Dense(one, w, None, pack=False).run(a, y1)
    np.testing.assert_array_equal(y, y1)
    assert_close(y, a.astype(np.float64) @ w.T.astype(np.float64), 1e-5, f"K={K}")


def test_dense_in_place_needs_trans_b(ctx):
    with pytest.raises(ValueError, match="trans_b"):
        _kernels.Dense(ctx, np.zeros((4, 6), np.float32), trans_b=False, pack=False)


@pytest.mark.parametrize("pack", [True, False])
def test_dense_bound_call_reads_its_buffers_at_every_call(ctx, pack):
    """Dense.bind(a, y, ws) (a plan step): each call computes run's y from a's values then."""
    rng = np.random.default_rng(21)
    w = rng.standard_normal((7, 5), dtype=np.float32)
    layer = _kernels.Dense(ctx, w, rng.standard_normal(7, dtype=np.float32), pack=pack)
    a, y = np.empty((3, 5), np.float32), np.empty((3, 7), np.float32)
    call = layer.bind(a, y, np.empty(max(layer.workspace_size(3), 1), np.float32))
    for seed in (1, 2):
        a[...] = np.random.default_rng(seed).standard_normal(a.shape)
        call()
        ref = np.empty_like(y)
        layer.run(a, ref)
        np.testing.assert_array_equal(y, ref)
    with pytest.raises(ValueError, match="in_features"):
        layer.bind(np.empty((3, 4), np.float32), y)


def test_gemm_and_dense_compute_in_the_callers_workspace(ctx):
    """gemm and a packed Dense layer pack their operands into the caller's workspace (the
    executor's arena), of the size they state; a short one is refused with both sizes."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((20, 300), dtype=np.float32)
    b = rng.standard_normal((300, 40), dtype=np.float32)
    need = _kernels.gemm_workspace_size(ctx)
    assert need > 0
    y = np.empty((20, 40), np.float32)
    _kernels.gemm(ctx, a, b, y, workspace=np.full(need, np.nan, np.float32))
    assert_close(y, a.astype(np.float64) @ b, 1e-5, "gemm, caller's workspace")
    with pytest.raises(ValueError, match=f"gemm: workspace has {need - 1} elements, needs {need}"):
        _kernels.gemm(ctx, a, b, y, workspace=np.empty(need - 1, np.float32))

    w = rng.standard_normal((40, 300), dtype=np.float32)
    packed = _kernels.Dense(ctx, w, None)
    in_place = _kernels.Dense(ctx, w, None, pack=False)
    assert packed.workspace_size(1) == 0 and in_place.workspace_size(20) == 0
    need = packed.workspace_size(20)
    assert need == _kernels.gemm_workspace_size(ctx)
    packed.run(a, y, np.full(need, np.nan, np.float32))
    assert_close(y, a.astype(np.float64) @ w.T, 1e-5, "dense, caller's workspace")
    with pytest.raises(ValueError, match=f"Dense: workspace has 3 elements, needs {need}"):
        packed.run(a, y, np.empty(3, np.float32))


# ---- the AVX-512 tiles (one B panel, or two at once): the same FMAs per output as AVX2's, so the
# same bits ----------------------------------------------------------------------------------------

requires_avx512 = pytest.mark.skipif(_kernels.best_isa() != "avx512", reason="CPU lacks AVX-512F")


@requires_avx512
@pytest.mark.parametrize("threads", [1, 2])
def test_avx512_gemm_is_bit_identical_to_avx2(threads):
    """Every tile shape (full, partial rows, the narrow last column panel, several K blocks),
    with every epilogue the GEMM drivers use: accumulate, bias, residual, ReLU."""
    rng = np.random.default_rng(11)
    ctxs = {isa: _kernels.Context(threads, isa) for isa in ("avx2", "avx512")}
    # the 12-row tiles: rows 7..12 of a pair, an odd panel left over, pairs across an MC block
    # (121, 125), shallow K swept 48 rows at a time (100 = 48 + 48 + 4), two K blocks (330, 700)
    tall = [(12, 32, 7), (18, 49, 16), (11, 17, 330), (24, 8, 9), (100, 300, 16), (125, 33, 40),
            (121, 64, 700), (30, 1, 3), (1100, 40, 500)]  # the last: B packed (M K >= 512 Ki)
    for M, N, K in SHAPES + [(64, 49, 960), (96, 196, 576), (13, 8, 5), (7, 9, 700)] + tall:
        a = rng.standard_normal((M, K), dtype=np.float32)
        b = rng.standard_normal((K, N), dtype=np.float32)
        c0 = rng.standard_normal((M, N), dtype=np.float32)
        bt = np.ascontiguousarray(b.T)
        out = {}
        for isa, ctx in ctxs.items():
            y = c0.copy()
            _kernels.gemm(ctx, a, b, y, alpha=0.5, beta=1.0, c=y)
            # B stored [N, K]: packed (a row-major B is read in place by AVX-512's tiles)
            yt = c0.copy()
            _kernels.gemm(ctx, a, bt, yt, trans_b=True, alpha=0.5, beta=1.0, c=yt)
            out[isa] = y, yt
        assert np.array_equal(out["avx2"][0], out["avx512"][0]), f"gemm M={M} N={N} K={K}"
        assert np.array_equal(out["avx2"][1], out["avx512"][1]), \
            f"gemm trans_b M={M} N={N} K={K}"
    for M, K, Nout in [(1, 300, 1000), (5, 9, 10), (13, 4096, 37)]:
        a = rng.standard_normal((M, K), dtype=np.float32)
        w = rng.standard_normal((Nout, K), dtype=np.float32)
        bias = rng.standard_normal(Nout, dtype=np.float32)
        out = {isa: _kernels.Dense(ctx, w, bias, relu=True).run(a, np.empty((M, Nout), np.float32))
               for isa, ctx in ctxs.items()}
        assert np.array_equal(out["avx2"], out["avx512"]), f"dense M={M} K={K} Nout={Nout}"


@requires_avx512
@pytest.mark.parametrize("algo", ["1x1", "1x1_chan", "gemm", "winograd_f4x4_3x3",
                                  "winograd_f2x2_3x3"])
def test_avx512_convolutions_are_bit_identical_to_avx2(algo):
    """The convolutions on the GEMM tiles, with bias, residual and ReLU (NaN kept), at
    MobileNet's small maps and a larger one."""
    rng = np.random.default_rng(12)
    kernel = (1, 1) if algo.startswith("1x1") else (3, 3)
    pads = (0, 0, 0, 0) if algo.startswith("1x1") else (1, 1, 1, 1)
    # pixels: 16 (one panel), 25 (two: 16 + 9), 49 (32 + 17), 196 and 841 (many pairs)
    # and a shallow expansion (16 -> 50 channels: rows swept 48 at a time, 12-row tiles + 2)
    for c, k, hw in [(16, 7, 4), (8, 13, 5), (160, 96, 7), (64, 40, 14), (24, 36, 29),
                     (16, 50, 23)]:
        w = rng.standard_normal((k, c) + kernel, dtype=np.float32)
        bias = rng.standard_normal(k, dtype=np.float32)
        x = rng.standard_normal((2, c, hw, hw), dtype=np.float32)
        x[0, 0, 1, 1] = np.nan
        out = {}
        for isa in ("avx2", "avx512"):
            conv = _kernels.Conv2d(_kernels.Context(2, isa), w, bias, algo=algo, pads=pads,
                                   relu=True)
            shape = conv.output_shape(2, hw, hw)
            residual = np.random.default_rng(13).standard_normal(shape, dtype=np.float32)
            out[isa] = conv.run(x, np.empty(shape, np.float32), residual)
        assert np.array_equal(out["avx2"], out["avx512"], equal_nan=True), \
            f"Conv2d[{algo}] {c}->{k} at {hw}x{hw}"


# ---- the channel-lane tiles (1x1_chan): output channels in the lanes, the same FMAs per output
# as the row tiles, so the same bits as 1x1 on every ISA -------------------------------------------

def row_and_chan_outputs(ctx, wt, bias, epi, x, residual):
    """{algo: (y into a NaN-filled output, y added into the residual in place)} of the 1x1
    layer (wt, bias, epi) on x, for the row tiles (1x1) and the channel-lane ones (1x1_chan)."""
    n, _, h, w = x.shape
    out = {}
    for algo in ("1x1", "1x1_chan"):
        conv = _kernels.Conv2d(ctx, wt, bias, algo=algo, **epi)
        shape = conv.output_shape(n, h, w)
        out[algo] = (run_conv_variant(conv, x, shape, "nan-filled", residual),
                     run_conv_variant(conv, x, shape, "residual-is-y", residual))
    return out


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("isa", ISAS + (["avx512"] if _kernels.best_isa() == "avx512" else []))
def test_1x1_chan_is_bit_identical_to_1x1(isa, threads):
    """Every tile shape: 16-channel panels with 1..15 rows left over, 6-pixel tiles with
    1..5 left over, several K blocks (700, 960), and each epilogue: bias, residual (also y
    itself), ReLU, PReLU's per-channel slopes, HardSwish, and the deferred SiLU."""
    ctx = _kernels.Context(threads, isa)
    rng = np.random.default_rng(14)
    epilogues = [dict(relu=True), dict(activation="PRelu"), dict(activation="HardSwish"),
                 dict(activation="SiLU"), dict()]
    for i, (c, k, h, w) in enumerate([(160, 96, 7, 7), (16, 50, 7, 7), (96, 37, 14, 14),
                                      (700, 17, 3, 5), (960, 33, 7, 7), (5, 3, 1, 4),
                                      (24, 16, 2, 3)]):
        wt = rng.standard_normal((k, c, 1, 1), dtype=np.float32)
        bias = rng.standard_normal(k, dtype=np.float32) if i % 3 else None
        x = rng.standard_normal((2, c, h, w), dtype=np.float32)
        x[1, c // 2, h // 2, w - 1] = np.nan
        epi = epilogues[i % len(epilogues)]
        if epi.get("activation") == "PRelu":
            epi = dict(epi, slope=rng.standard_normal(k, dtype=np.float32))
        residual = rng.standard_normal((2, k, h, w), dtype=np.float32)
        out = row_and_chan_outputs(ctx, wt, bias, epi, x, residual)
        for j in range(2):
            assert np.array_equal(out["1x1"][j], out["1x1_chan"][j], equal_nan=True), \
                f"Conv2d[1x1_chan] {c}->{k} at {h}x{w} {epi} ({isa}, residual {j})"


@requires_avx2
def test_avx2_in_place_tiles_give_the_packed_tiles_bits():
    """AVX2's 6x16 tiles reading a row-major B where it lies (masked last columns, two A
    panels per call, several K blocks) against the same product with B stored [N, K], which
    is packed: the same FMAs per output, so the same bits; and against numpy."""
    rng = np.random.default_rng(15)
    ctx = _kernels.Context(1, "avx2")
    for M, N, K in [(12, 32, 7), (18, 49, 16), (11, 17, 330), (7, 9, 700), (100, 300, 16),
                    (30, 1, 3), (13, 8, 5), (64, 196, 96),
                    # rows 16 KiB apart (a 64x64 map) are packed (TC_GEMM_INPLACE_ALIAS_FLOATS),
                    # 64 bytes more apart read in place: the same bits either way
                    (24, 4096, 72), (24, 4112, 72),
                    # a large A over a 13x13 map is packed (TC_GEMM_PACKED_MK), just under
                    # it, on a 7x7 map (49) or on 64 pixels in place
                    (1000, 169, 512), (768, 169, 512), (767, 196, 512), (800, 49, 512),
                    (800, 64, 512), (130, 65, 1024),
                    # C of 512 KiB and more under a shallow K sweeps 12 rows at a time
                    # (gemm.c gemm_mstep, TC_GEMM_MC_COLD): 16 -> 64 at 55x55, 24 -> 50 at 112x112
                    (64, 3025, 16), (50, 12544, 24)]:
        check_in_place_vs_packed(ctx, rng, M, N, K, 0.5, f"gemm M={M} N={N} K={K}")


def check_in_place_vs_packed(ctx, rng, M, N, K, alpha, what):
    """y = alpha a b + c0 with b [K, N] row-major (read in place where the ISA can) and the
    same b stored [N, K] (packed): the same bits, and close to numpy's."""
    a = rng.standard_normal((M, K), dtype=np.float32)
    b = rng.standard_normal((K, N), dtype=np.float32)
    c0 = rng.standard_normal((M, N), dtype=np.float32)
    y, yt = c0.copy(), c0.copy()
    _kernels.gemm(ctx, a, b, y, alpha=alpha, beta=1.0, c=y)
    _kernels.gemm(ctx, a, np.ascontiguousarray(b.T), yt, trans_b=True, alpha=alpha, beta=1.0,
                  c=yt)
    assert np.array_equal(y, yt), what + ": in place vs packed"
    assert_close(y, alpha * (a.astype(np.float64) @ b) + c0, 1e-5, what)


def pointwise_case(rng, c, k, h, w, epi):
    """A 1x1 layer c -> k on a batch of 2 h x w maps with bias, residual and the activation
    of epi (PRelu: slopes drawn here): (epi, weight, bias, x, residual, float64 reference)."""
    if epi.get("activation") == "PRelu":
        epi = dict(epi, slope=rng.standard_normal(k, dtype=np.float32))
    wt = (rng.standard_normal((k, c, 1, 1), dtype=np.float32) / np.sqrt(c)).astype(np.float32)
    bias = rng.standard_normal(k, dtype=np.float32)
    x = rng.standard_normal((2, c, h, w), dtype=np.float32)
    r = rng.standard_normal((2, k, h, w), dtype=np.float32)
    z = np.einsum("kc,nchw->nkhw", wt[:, :, 0, 0].astype(np.float64), x) \
        + bias[None, :, None, None] + r
    act = epi.get("activation", "Relu" if epi.get("relu") else "")
    if act == "Relu":
        z = np.maximum(z, 0)
    elif act == "Clip":
        z = np.clip(z, 0, 6)
    elif act == "HardSwish":
        z = z * np.clip(z / 6 + 0.5, 0, 1)
    elif act == "SiLU":
        z = z / (1 + np.exp(-z))
    elif act == "PRelu":
        z = np.where(z < 0, z * epi["slope"][None, :, None, None], z)
    return epi, wt, bias, x, r, z


def check_1x1_on_1_and_2_threads(c, k, h, w, epi, wt, bias, x, r, z):
    """The 1x1 layer of pointwise_case on every ISA: the same bits on 1 and 2 threads, and
    close to numpy's z."""
    for isa in ISAS:
        ys = []
        for threads in (1, 2):
            conv = _kernels.Conv2d(_kernels.Context(threads, isa), wt, bias, algo="1x1", **epi)
            ys.append(run_conv_variant(conv, x, (2, k, h, w), "nan-filled", r))
        what = f"Conv2d[1x1] {c}->{k} at {h}x{w} {epi} ({isa})"
        assert np.array_equal(ys[0], ys[1], equal_nan=True), what + ": 1 vs 2 threads"
        assert_close(ys[0], z, 1e-5, what)


def test_short_rows_read_in_place_up_to_more_pages_at_one_thread():
    """1x1 layers on maps of at most 31x31 (B's rows less than a page apart) whose sweeps touch
    129 to 176 pages of B and C (RegNetY's 104 -> 104 and 104 -> 208 at 28x28: 160 and 172) read
    B in place at 1 thread (gemm.c gemm_b_inplace, TC_GEMM_INPLACE_SHORT_ROWS_PAGES_AVX2) and
    packed at 2 and 3 threads; 120 -> 104 (172) in place, 128 -> 104 (178) packed; odd maps
    (29x29, 27x31), a last partial row panel (M = 101), bias, residual and each epilogue: the
    same bits on 1, 2 and 3 threads, on every ISA, as the same product packed (B stored
    [N, K]), and against numpy."""
    rng = np.random.default_rng(47)
    epilogues = [dict(relu=True), dict(), dict(activation="Clip", alpha=0.0, beta=6.0),
                 dict(activation="SiLU")]
    cases = [(104, 104, 28, 28), (104, 208, 28, 28), (120, 104, 28, 28), (128, 104, 28, 28),
             (104, 101, 29, 29), (96, 112, 27, 31)]
    for i, (c, k, h, w) in enumerate(cases):
        epi, wt, bias, x, r, z = pointwise_case(rng, c, k, h, w, epilogues[i % len(epilogues)])
        check_1x1_on_1_2_and_3_threads(c, k, h, w, epi, wt, bias, x, r, z)
        check_in_place_vs_packed(_kernels.Context(1, ISAS[-1]), rng, k, h * w, c, 1.0,
                                 f"gemm M={k} N={h * w} K={c}")


def check_1x1_on_1_2_and_3_threads(c, k, h, w, epi, wt, bias, x, r, z):
    """The 1x1 layer of pointwise_case on every ISA: the same bits on 1, 2 and 3 threads, and
    close to numpy's z."""
    for isa in ISAS:
        ys = []
        for threads in (1, 2, 3):
            conv = _kernels.Conv2d(_kernels.Context(threads, isa), wt, bias, algo="1x1", **epi)
            ys.append(run_conv_variant(conv, x, (2, k, h, w), "nan-filled", r))
        what = f"Conv2d[1x1] {c}->{k} at {h}x{w} {epi} ({isa})"
        for t in (1, 2):
            assert np.array_equal(ys[0], ys[t], equal_nan=True), what + f": 1 vs {t + 1} threads"
        assert_close(ys[0], z, 1e-5, what)


def test_small_maps_one_rectangle_a_thread_and_past_it_at_any_thread_count():
    """1x1 layers on maps of at most 16 column panels (N <= 256: 14x14, 13x13, 7x7, 16x16) run
    one GEMM rectangle a thread at 2 and 3 threads, not cut finer (gemm.c TC_GEMM_FINE_MIN_NP:
    ResNet-50's 1024 -> 256 at 14x14 is 256 -> 96 here; 49 columns with 1040 rows, which the
    finer cut split by rows); 17 panels (17x16) are cut finer again: the same bits on 1, 2 and 3
    threads, on every ISA, and against numpy, with bias, residual and an activation."""
    rng = np.random.default_rng(51)
    epilogues = [dict(relu=True), dict(), dict(activation="Clip", alpha=0.0, beta=6.0)]
    for i, (c, k, h, w) in enumerate([(256, 96, 14, 14), (192, 64, 16, 16), (160, 72, 17, 16),
                                      (120, 48, 13, 13), (64, 1040, 7, 7)]):
        epi, wt, bias, x, r, z = pointwise_case(rng, c, k, h, w, epilogues[i % len(epilogues)])
        check_1x1_on_1_2_and_3_threads(c, k, h, w, epi, wt, bias, x, r, z)


def test_few_output_channels_on_large_maps_prefetching_b_at_any_thread_count():
    """1x1 layers of at most 16 output channels, K >= 64, on maps whose rows of x lie a page
    or more apart (SqueezeNet's squeezes 64 -> 16 and 128 -> 16 at 55x55): the whole panels'
    strips prefetch x's rows two strips ahead (gemm_avx2.c TC_GEMM_PF_B_INPLACE), at 2 threads
    packed where K >= 128 (gemm.c TC_GEMM_PACK_MT_MIN_K: 128 -> 16, 330 -> 10); 6, 12, 16
    and 10 rows (a last panel of 4), two K blocks (330), each epilogue: the same bits on 1
    and 2 threads, on every ISA, as the channel-lane tiles, and against numpy."""
    rng = np.random.default_rng(23)
    epilogues = [dict(relu=True), dict(), dict(activation="Clip", alpha=0.0, beta=6.0),
                 dict(activation="HardSwish")]
    for i, (c, k, h, w) in enumerate([(128, 16, 55, 55), (64, 16, 33, 33), (330, 10, 32, 40),
                                      (96, 12, 35, 33), (64, 6, 45, 45)]):
        epi, wt, bias, x, r, z = pointwise_case(rng, c, k, h, w, epilogues[i % len(epilogues)])
        check_1x1_on_1_and_2_threads(c, k, h, w, epi, wt, bias, x, r, z)
        for isa in ISAS:
            out = row_and_chan_outputs(_kernels.Context(1, isa), wt, bias, epi, x, r)
            for j in range(2):
                assert np.array_equal(out["1x1"][j], out["1x1_chan"][j], equal_nan=True), \
                    f"Conv2d[1x1] {c}->{k} at {h}x{w} {epi} ({isa}): vs 1x1_chan (residual {j})"


def test_shallow_layers_on_large_maps_at_any_thread_count():
    """1x1 layers of shallow K whose output is 512 KiB or more (SqueezeNet's 16 -> 64 at
    55x55, RegNetY's 32 -> 48 at 112x112, 20 -> 37 there: partial row panels) sweep 12 rows
    of C at a time (gemm.c gemm_mstep), and at 2 threads K <= 16 into 32 or more rows on maps
    of 1024 pixels and more packs B instead (gemm.c TC_GEMM_PACK_MT_MAX_SHALLOW_K: 16 -> 64,
    12 -> 32 at 33x33, 9 -> 45 at 32x32; 17 -> 40 stays in place): the same bits on 1 and 2
    threads, on every ISA, and against numpy, with bias, residual and an activation."""
    rng = np.random.default_rng(19)
    epilogues = [dict(activation="Clip", alpha=0.0, beta=6.0), dict(relu=True), dict()]
    for i, (c, k, hw) in enumerate([(16, 64, 55), (32, 48, 112), (20, 37, 112), (12, 32, 33),
                                    (9, 45, 32), (17, 40, 33)]):
        epi, wt, bias, x, r, z = pointwise_case(rng, c, k, hw, hw, epilogues[i % len(epilogues)])
        check_1x1_on_1_and_2_threads(c, k, hw, hw, epi, wt, bias, x, r, z)


def test_shallow_layers_into_a_warm_output_sweep_all_rows_at_one_thread():
    """1x1 layers of shallow K (< 64, B in place) whose output is 512 KiB to 1 MiB sweep up to 66
    rows of C at a time at 1 thread (gemm.c TC_GEMM_MC_WARM: SqueezeNet's 16 -> 64 at 55x55,
    ShuffleNetV2's 24 -> 58 at 56x56, RegNetY's 48 -> 48; 100 and 90 rows as 66 + 34 and 66 +
    24, K = 1, 37 rows at 60x60 just past 512 KiB), 12 rows on 2 or 3 threads, and SiLU (its
    pass after the tiles) 12 rows at any count: the same bits on 1, 2 and 3 threads, on every
    ISA, and against numpy, with bias, residual and an activation."""
    rng = np.random.default_rng(43)
    epilogues = [dict(relu=True), dict(activation="Clip", alpha=0.0, beta=6.0), dict(),
                 dict(activation="SiLU")]
    for i, (c, k, h, w) in enumerate([(16, 64, 55, 55), (24, 58, 56, 56), (48, 48, 56, 56),
                                      (16, 100, 50, 50), (1, 90, 53, 53), (20, 37, 60, 60),
                                      (24, 64, 55, 55)]):
        epi, wt, bias, x, r, z = pointwise_case(rng, c, k, h, w, epilogues[i % len(epilogues)])
        check_1x1_on_1_2_and_3_threads(c, k, h, w, epi, wt, bias, x, r, z)


def test_row_tiles_take_a_17th_column_at_any_thread_count():
    """A row of 16 k + 1 pixels (7x7 = 3 x 16 + 1, 17, 33, 65, 81) ends in one tile of 17
    columns on AVX2 (gemm_avx2.c tile17_rows), and 2 threads split the columns so that the
    last one never stands alone (gemm.c gemm_range).  Each output keeps its FMA sequence: the
    same bits on 1 and 2 threads, in place or packed (B stored [N, K]), and against numpy;
    output channels 1..37 (not multiples of 6 or 16), 1 to 3 K blocks, bias, residual and the
    activations whose epilogue the 17th column runs on its own (Clip, PRelu) or after the
    tile (SiLU); also N = 1, 7, 196, 197 around it."""
    rng = np.random.default_rng(18)
    epilogues = [dict(activation="Clip", alpha=0.0, beta=6.0), dict(activation="PRelu"),
                 dict(activation="SiLU"), dict()]
    cases = [(37, 16, 49), (160, 19, 49), (700, 5, 49), (960, 37, 49), (24, 13, 17),
             (330, 7, 33), (96, 25, 65), (48, 1, 81), (32, 12, 1), (64, 20, 7), (96, 30, 196),
             (72, 29, 197)]
    for i, (c, k, n) in enumerate(cases):
        h, w = (7, 7) if n == 49 else (14, 14) if n == 196 else (1, n)
        epi, wt, bias, x, r, z = pointwise_case(rng, c, k, h, w, epilogues[i % len(epilogues)])
        check_1x1_on_1_and_2_threads(c, k, h, w, epi, wt, bias, x, r, z)
        if not epi:  # the same product packed: B stored [N, K] (no in-place tiles)
            ctx = _kernels.Context(1, ISAS[-1])
            for b in range(2):
                a2, b2 = wt[:, :, 0, 0], x[b].reshape(c, n)
                y, yt = r[b].reshape(k, n).copy(), r[b].reshape(k, n).copy()
                _kernels.gemm(ctx, a2, b2, y, alpha=1.0, beta=1.0, c=y)
                _kernels.gemm(ctx, a2, np.ascontiguousarray(b2.T), yt, trans_b=True, alpha=1.0,
                              beta=1.0, c=yt)
                assert np.array_equal(y, yt), f"gemm in place vs packed {k}x{n}x{c}"


@pytest.mark.parametrize("threads", [1, 2])
def test_small_maps_read_from_an_aligned_copy_give_the_same_bits(threads):
    """B of at most 64 columns whose rows are not a multiple of 16 floats (a 7x7 map's 49) is
    read by AVX2's in-place tiles from a copy of each K block with aligned rows (gemm.c
    gemm_copy_ldb): with several K blocks, several sweeps of 120 rows, and row or column
    ranges split between 2 threads, the same bits as the packed product (B stored [N, K])
    and close to numpy's."""
    rng = np.random.default_rng(23)
    ctx = _kernels.Context(threads, ISAS[-1])
    for M, N, K in [(320, 49, 960), (1280, 49, 320), (250, 33, 700), (130, 17, 70),
                    (64, 7, 900), (300, 50, 400), (40, 63, 96)]:
        check_in_place_vs_packed(ctx, rng, M, N, K, 1.0,
                                 f"gemm M={M} N={N} K={K} ({ctx.isa}, {threads} threads)")


@pytest.mark.parametrize("threads", [1, 2])
def test_wide_maps_whose_rows_crowd_few_l1_sets_give_the_same_bits(threads):
    """A wide B read in place whose K block's rows fall in fewer than 8 of the L1's 64 sets
    (rows 784 lines apart, a 112x112 map's 12544 floats: 4 sets; 528 lines: 4; 9219 floats:
    6) with M >= 32 is read by AVX2's in-place tiles from an odd-line aligned copy of each
    column block (gemm.c gemm_copy_ldb, inplace_l1_sets): M = 32 = 5 x 6 + 2 rows, a partial
    last column panel (9219 = 576 x 16 + 3), on each ISA, 1 and 2 threads; the same bits as
    the packed product (B stored [N, K]) and close to numpy's."""
    rng = np.random.default_rng(31)
    for isa in ISAS:
        ctx = _kernels.Context(threads, isa)
        for M, N, K in [(48, 12544, 32), (32, 12544, 24), (64, 8448, 40), (40, 9219, 32)]:
            check_in_place_vs_packed(ctx, rng, M, N, K, 1.0,
                                     f"gemm M={M} N={N} K={K} ({isa}, {threads} threads)")


@pytest.mark.parametrize("threads", [1, 2])
def test_row_by_row_packing_and_short_last_panels_give_the_same_bits(threads):
    """Few rows of C (M <= 48) over a B too scattered to read in place, or any number where
    B's rows are a multiple of 4 KiB apart (a 32x32 to 256x256 map: one L1 set): B is packed
    a block of columns at a time, row by row (gemm.c, gemm_pack_cols), and AVX2's last row panel
    runs only its mr rows (M = 32 = 5 x 6 + 2).  On each ISA, against the per-panel packing of
    the same product with B stored [N, K] (the same bits) and numpy; several K blocks, a
    partial last column panel and chunk."""
    rng = np.random.default_rng(16)
    shapes = [(24, 3136, 144), (32, 784 * 2 + 3, 192), (40, 1100, 240), (1, 1030, 300),
              (47, 1057, 700), (16, 3136, 96), (7, 529, 330),
              (64, 4096, 16), (160, 1024, 960), (50, 2048, 24), (49, 3072, 40)]
    data = {(M, N, K): (rng.standard_normal((M, K), dtype=np.float32),
                        rng.standard_normal((K, N), dtype=np.float32),
                        rng.standard_normal((M, N), dtype=np.float32)) for M, N, K in shapes}
    for isa in ISAS:
        ctx = _kernels.Context(threads, isa)
        for M, N, K in shapes:
            a, b, c0 = data[(M, N, K)]
            y, yt = c0.copy(), c0.copy()
            _kernels.gemm(ctx, a, b, y, alpha=1.0, beta=1.0, c=y)
            _kernels.gemm(ctx, a, np.ascontiguousarray(b.T), yt, trans_b=True, alpha=1.0,
                          beta=1.0, c=yt)
            assert np.array_equal(y, yt), f"gemm row-packed vs per panel M={M} N={N} K={K} {isa}"
            assert_close(y, a.astype(np.float64) @ b + c0, 1e-5, f"gemm M={M} N={N} K={K} {isa}")


@pytest.mark.parametrize("threads", [1, 2])
def test_projection_1x1_layers_against_numpy(threads):
    """1x1 projections (8-64 output channels, K 64-960, 7x7 to 56x56, batch 2) with bias,
    residual and each kind of activation, on every ISA, against numpy."""
    rng = np.random.default_rng(17)
    epilogues = [dict(), dict(relu=True), dict(activation="Clip", alpha=0.0, beta=6.0),
                 dict(activation="HardSwish"), dict(activation="SiLU"),
                 dict(activation="PRelu")]
    shapes = [(144, 24, 56), (96, 24, 56), (192, 32, 28), (240, 40, 28), (64, 8, 28),
              (960, 64, 7), (576, 16, 14), (120, 40, 14)]
    for i, (c, k, hw) in enumerate(shapes):
        epi, wt, bias, x, r, z = pointwise_case(rng, c, k, hw, hw, epilogues[i % len(epilogues)])
        for isa in ISAS:
            conv = _kernels.Conv2d(_kernels.Context(threads, isa), wt, bias, algo="1x1", **epi)
            y = np.empty((2, k, hw, hw), np.float32)
            conv.run(x, y, residual=r)
            assert_close(y, z, 1e-5, f"Conv2d[1x1] {c}->{k} at {hw}x{hw} {epi} ({isa})")


def test_last_1_to_4_columns_of_a_row_give_the_same_bits():
    """The last 1..4 columns of a row of C read in place (a 14x14 map: 196 = 12 x 16 + 4) run
    in AVX2's rows-in-lanes tail tile (gemm_avx2.c tile_tail_avx2) after 0, 1 or 2 full
    16-column tiles of the 32-column call; N = 1..20 past multiples of 16 and 32, output
    channels 1..37 (one or two A panels, partial ones), 1 or 2 K blocks, bias, residual and
    each kind of activation: the same bits on 1 and 2 threads, in place or packed (B stored
    [N, K]), and against numpy."""
    rng = np.random.default_rng(21)
    epilogues = [dict(activation="Clip", alpha=0.0, beta=6.0), dict(activation="PRelu"),
                 dict(activation="SiLU"), dict(relu=True), dict(activation="HardSwish"), dict()]
    i = 0
    for base in (0, 16, 32, 48, 192):
        for extra in range(1, 21):
            n = base + extra
            c, k = [(24, 13), (330, 7), (40, 12), (96, 37), (8, 1), (64, 18)][i % 6]
            epi, wt, bias, x, r, z = pointwise_case(rng, c, k, 1, n, epilogues[i % len(epilogues)])
            check_1x1_on_1_and_2_threads(c, k, 1, n, epi, wt, bias, x, r, z)
            i += 1
            ctx = _kernels.Context(1, ISAS[-1])
            a2, b2 = wt[:, :, 0, 0], x[0].reshape(c, n)
            y, yt = r[0].reshape(k, n).copy(), r[0].reshape(k, n).copy()
            _kernels.gemm(ctx, a2, b2, y, alpha=1.0, beta=1.0, c=y)
            _kernels.gemm(ctx, a2, np.ascontiguousarray(b2.T), yt, trans_b=True, alpha=1.0,
                          beta=1.0, c=yt)
            assert np.array_equal(y, yt), f"gemm in place vs packed {k}x{n}x{c}"
            assert_close(y, a2.astype(np.float64) @ b2 + r[0].reshape(k, n), 1e-5,
                         f"gemm {k}x{n}x{c}")


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_last_9_to_12_columns_of_a_row_give_the_same_bits(threads):
    """The last 9..12 columns of a row of C (a 13x13 map: 169 = 10 x 16 + 9; 27x27: 729 =
    45 x 16 + 9) run in AVX2's tile of 8 columns as vectors and the rest with the rows in the
    lanes (gemm_avx2.c tile_8p_avx2; a last 9 two A panels a call, in place and packed) after
    0, 1, 2 or 10 whole 16-column tiles: output channels 1..37 (one or two A panels, partial
    ones), 1 or 2 K blocks, bias, residual (also y itself) and each activation: the
    channel-lane tiles' bits and numpy's values; the GEMM in place (B [K, N]) and packed (B
    stored [N, K], and a classifier-sized A, which is packed either way): the same bits."""
    ctx = _kernels.Context(threads, "avx2")
    rng = np.random.default_rng(44)
    epilogues = [dict(relu=True), dict(activation="PRelu"), dict(activation="HardSwish"),
                 dict(activation="Clip", alpha=0.0, beta=6.0), dict(activation="SiLU"), dict()]
    kc = [(24, 13), (330, 7), (40, 12), (96, 37), (8, 1), (64, 18), (17, 6), (700, 25)]
    cases = []
    for base in (0, 16, 32, 160):
        for extra in range(9, 13):
            c, k = kc[len(cases) % len(kc)]
            cases.append((c, k, 1, base + extra))
    cases += [(64, 48, 13, 13), (48, 19, 27, 27)]
    for _ in check_row_vs_chan_tiles(ctx, threads, rng, cases, epilogues):
        pass
    for M, N, K in [(1, 9, 5), (7, 10, 33), (13, 11, 330), (37, 12, 64), (12, 25, 7),
                    (19, 169, 512), (100, 41, 700), (1000, 169, 512), (770, 172, 512),
                    # packed, a last 9 two A panels a call (ukernel_12x9_avx2): 1 to 4 rows
                    # of a last pair's second panel, an odd panel left alone, 1000 rows
                    (7, 9, 40), (12, 25, 3), (13, 169, 64), (17, 57, 200), (30, 9, 1),
                    (35, 153, 130), (1000, 9, 16)]:
        check_in_place_vs_packed(ctx, rng, M, N, K, 0.5, f"gemm M={M} N={N} K={K}")


@pytest.mark.parametrize("threads", [1, 2])
def test_in_place_tiles_over_many_row_panels_per_call_give_the_chan_tiles_bits(threads):
    """AVX2's in-place tiles take every row panel of a K block in one call (gemm.c
    inplace_rows, gemm_avx2.c tile16_panels): 3 to 20 panels with 1..5 rows left over, rows
    of 16 columns, a 17th, a last 1..4 (two panels per tail tile) or 5..15 (masked), 1 or 2 K
    blocks, bias, residual (also y itself) and each activation (ReLU, Clip, PReLU's
    per-channel slopes, HardSwish, SiLU, none): the channel-lane tiles' bits (the same FMAs
    per output), and numpy's values."""
    ctx = _kernels.Context(threads, "avx2")
    rng = np.random.default_rng(20)
    epilogues = [dict(relu=True), dict(activation="PRelu"), dict(activation="HardSwish"),
                 dict(activation="Clip", alpha=0.0, beta=6.0), dict(activation="SiLU"), dict()]
    cases = [(16, 48, 1, 64), (16, 48, 3, 33), (24, 72, 2, 52), (32, 16, 1, 100),
             (16, 61, 1, 49), (24, 37, 2, 35), (48, 120, 1, 66), (700, 25, 1, 38),
             (16, 114, 1, 20), (40, 18, 4, 9), (8, 96, 5, 7)]
    for _ in check_row_vs_chan_tiles(ctx, threads, rng, cases, epilogues):
        pass


def check_row_vs_chan_tiles(ctx, threads, rng, cases, epilogues):
    """For each (c, k, h, w) of cases, the 1x1 layer of pointwise_case (epilogues in turn)
    through the row tiles and the channel-lane ones: the same bits, and numpy's values.
    Yields each case."""
    for i, (c, k, h, w) in enumerate(cases):
        epi, wt, bias, x, r, z = pointwise_case(rng, c, k, h, w, epilogues[i % len(epilogues)])
        out = row_and_chan_outputs(ctx, wt, bias, epi, x, r)
        what = f"Conv2d[1x1] {c}->{k} at {h}x{w} {epi}"
        for j in range(2):
            assert np.array_equal(out["1x1"][j], out["1x1_chan"][j], equal_nan=True), \
                f"{what} ({threads} threads, residual {j}): row tiles vs channel-lane tiles"
        assert_close(out["1x1"][0], z, 1e-5, what)
        yield c, k, h, w


@pytest.mark.parametrize("threads", [1, 2])
def test_in_place_tiles_take_a_blocks_other_columns_in_one_call(threads):
    """Under a shallow K (the A block in L1) AVX2's in-place tiles take a K block's columns
    after the first 32 in one call (gemm.c inplace_wide): rows of 33 to 1033 columns (one to
    three 512-column blocks) whose last call ends in a 17th column, a last 1..4, 5..15
    (masked) or whole tiles, 1..20 row panels with rows left over, C of 512 KiB and more
    (12-row sweeps), bias, residual (also y itself) and each activation (SiLU's deferred pass
    keeps 32-column calls): the channel-lane tiles' bits (the same FMAs per output), the
    packed product's bits (B stored [N, K]), and numpy's values."""
    ctx = _kernels.Context(threads, "avx2")
    rng = np.random.default_rng(24)
    epilogues = [dict(activation="Clip", alpha=0.0, beta=6.0), dict(relu=True),
                 dict(activation="PRelu"), dict(activation="HardSwish"),
                 dict(activation="SiLU"), dict()]
    cases = [(16, 37, 1, 561), (24, 50, 1, 547), (16, 13, 1, 500), (32, 20, 1, 523),
             (24, 64, 1, 1033), (40, 30, 2, 305), (16, 96, 5, 113), (48, 120, 1, 577),
             (8, 7, 1, 33), (16, 64, 55, 55), (24, 23, 3, 260)]
    for c, k, h, w in check_row_vs_chan_tiles(ctx, threads, rng, cases, epilogues):
        check_in_place_vs_packed(ctx, rng, k, h * w, c, 1.0,
                                 f"gemm M={k} N={h * w} K={c} (threads {threads})")


# ---- a tc_dense_b's row_scale (a squeeze-and-excitation's gates) on every path of the driver:
# the same bits as the GEMM on b's rows multiplied first (the element-wise Mul's products) -------

# (M, N, K, what the AVX2 table does with B): in place through the aligned copy (7x7, 8x8); in place
# without a copy, so packed where scaled, row by row (M <= 48) or per panel; B packed as M K >= 512
# Ki; several K blocks (700 = 3 x 234); a single row, column, depth
SCALED_B = [(20, 49, 30, "copy"), (64, 64, 40, "copy"), (7, 49, 700, "copy, 3 K blocks"),
            (20, 200, 30, "rows block"), (60, 200, 30, "panels"), (13, 1000, 33, "panels"),
            (600, 20, 900, "packed, M K"), (1, 1, 5, "one"), (7, 1, 3, "one column"),
            (1, 300, 1, "one row")]
SCALED_B_ISAS = ISAS + (["avx512"] if _kernels.best_isa() == "avx512" else [])


def _scaled_b_case(rng, M, N, K, trans_b):
    a = rng.standard_normal((M, K), dtype=np.float32)
    x = rng.standard_normal((K, N), dtype=np.float32)
    g = rng.uniform(0.05, 1.5, K).astype(np.float32)
    bias = rng.standard_normal(M, dtype=np.float32)
    xg = x * g[:, None]  # one rounding per product, as the Mul step's
    if trans_b:
        return a, np.ascontiguousarray(x.T), g, bias, np.ascontiguousarray(xg.T), xg
    return a, x, g, bias, xg, xg


@pytest.mark.parametrize("isa", SCALED_B_ISAS)
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("trans_b", [False, True])
def test_gemm_row_scaled_b_is_the_gemm_on_the_scaled_rows(isa, threads, trans_b):
    rng = np.random.default_rng(threads * 2 + trans_b)
    ctx = _kernels.Context(threads, isa)
    for M, N, K, path in SCALED_B:
        a, b, g, bias, bg, xg = _scaled_b_case(rng, M, N, K, trans_b)
        for relu in (False, True):
            got = np.full((M, N), np.nan, np.float32)
            want = np.full((M, N), np.nan, np.float32)
            _kernels._gemm_scaled_b(ctx, a, b, got, scale=g, bias=bias, trans_b=trans_b, relu=relu)
            _kernels._gemm_scaled_b(ctx, a, bg, want, bias=bias, trans_b=trans_b, relu=relu)
            what = f"{M}x{N}x{K} ({path}) {isa} {threads}t trans_b={trans_b} relu={relu}"
            np.testing.assert_array_equal(got, want, err_msg=what)
            ref = a.astype(np.float64) @ xg + bias[:, None]
            assert_close(got, np.maximum(ref, 0) if relu else ref, 1e-5, what)


# the channel-lane tiles: 7x7, 13x13 over three K blocks, and columns past what a 1-thread
# workspace holds of a 320-deep K block (635: the scaled copy in two column chunks)
@pytest.mark.parametrize("isa", SCALED_B_ISAS)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_gemm_row_scaled_b_on_the_channel_lane_tiles(isa, threads):
    rng = np.random.default_rng(40 + threads)
    ctx = _kernels.Context(threads, isa)
    for M, N, K in [(20, 49, 30), (40, 169, 700), (20, 700, 640), (17, 1400, 320), (1, 1, 1)]:
        a, b, g, bias, bg, xg = _scaled_b_case(rng, M, N, K, False)
        got = np.full((M, N), np.nan, np.float32)
        want = np.full((M, N), np.nan, np.float32)
        rows = np.full((M, N), np.nan, np.float32)
        _kernels._gemm_scaled_b(ctx, a, b, got, scale=g, bias=bias, chan=True, relu=True)
        _kernels._gemm_scaled_b(ctx, a, bg, want, bias=bias, chan=True, relu=True)
        _kernels._gemm_scaled_b(ctx, a, b, rows, scale=g, bias=bias, relu=True)
        what = f"1x1_chan {M}x{N}x{K} {isa} {threads}t"
        np.testing.assert_array_equal(got, want, err_msg=what)
        # the channel-lane tiles and the row tiles: the same FMAs per output
        np.testing.assert_array_equal(got, rows, err_msg=what + " vs the row tiles")
        assert_close(got, np.maximum(a.astype(np.float64) @ xg + bias[:, None], 0), 1e-5, what)
    with pytest.raises(ValueError, match="untransposed"):
        _kernels._gemm_scaled_b(ctx, a, b, got, scale=g, trans_b=True, chan=True)

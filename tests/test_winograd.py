"""Winograd (F(4x4,3x3), F(2x2,3x3), F(2x2,5x5)) against a float64 direct convolution."""
import functools
import zlib

import numpy as np
import pytest

from tinycnn import _kernels
from helpers import assert_same_nan_inf, rel_diff as rel_err, requires_avx2

TOL = 1e-4  # max|diff| / max|ref|


# (kernel size r, output tile m): the algorithms F(m x m, r x r)
ALGOS = [(3, 4), (3, 2), (5, 2)]
ALGO_IDS = ["F4-3x3", "F2-3x3", "F2-5x5"]
algos = pytest.mark.parametrize("r,tile", ALGOS, ids=ALGO_IDS)


def algo_name(r, tile):
    return f"winograd_f{tile}x{tile}_{r}x{r}"


def winograd(ctx, w, b=None, pads=(0, 0, 0, 0), relu=False, tile=4):
    """The Conv2d layer of Winograd F(tile x tile, r x r) for weights w [K, C, r, r]."""
    return _kernels.Conv2d(ctx, w, b, algo=algo_name(w.shape[2], tile), pads=pads, relu=relu)


def pads_for(r, pads):
    """The 3x3 shapes' pads, one wider on every side for 5x5 (the same output size)."""
    return tuple(p + (r - 3) // 2 for p in pads)

# name, N, C, K, H, W, pads (top, left, bottom, right)
SHAPES = [
    ("vgg conv1_2 (scaled)", 1, 64, 64, 36, 36, (1, 1, 1, 1)),
    ("vgg conv2 (scaled)", 1, 128, 128, 20, 20, (1, 1, 1, 1)),
    ("vgg conv3 (scaled)", 1, 256, 256, 16, 16, (1, 1, 1, 1)),
    ("vgg conv4 512@28", 1, 512, 512, 28, 28, (1, 1, 1, 1)),
    ("vgg conv5 512@14", 1, 512, 512, 14, 14, (1, 1, 1, 1)),
    ("vgg conv4_1 256->512@14", 1, 256, 512, 14, 14, (1, 1, 1, 1)),
    ("resnet 128@28 (scaled)", 1, 128, 128, 15, 15, (1, 1, 1, 1)),
    ("resnet 256@14", 1, 256, 256, 14, 14, (1, 1, 1, 1)),
    ("resnet 512@7", 1, 512, 512, 7, 7, (1, 1, 1, 1)),
    ("rgb input 3->16", 1, 3, 16, 19, 17, (1, 1, 1, 1)),
    ("odd 5->7 13x11", 1, 5, 7, 13, 11, (1, 1, 1, 1)),
    ("asym pads", 1, 6, 13, 10, 9, (0, 2, 1, 0)),
    ("pad 0", 1, 8, 8, 11, 14, (0, 0, 0, 0)),
    ("N=2 odd", 2, 9, 11, 9, 7, (1, 1, 1, 1)),
    ("N=3 many tiles", 3, 16, 20, 33, 30, (1, 0, 2, 1)),
    ("tiny 3x3 no pad", 2, 4, 5, 3, 3, (0, 0, 0, 0)),
    ("1 row", 1, 7, 9, 1, 40, (1, 1, 1, 1)),
    ("wide rows (8 tiles side by side)", 1, 16, 24, 18, 75, (1, 1, 1, 1)),
    ("wide pad 0, patches at the end of x", 2, 4, 5, 10, 34, (0, 0, 0, 0)),
    # SqueezeNet's maps: 14 tiles a row (groups of 8 crossing rows: pairs of whole tiles
    # side by side, the last tile 3 wide) and 7 (pairs across rows)
    ("squeezenet 16->24@55", 1, 16, 24, 55, 55, (1, 1, 1, 1)),
    ("squeezenet 8->12@27", 1, 8, 12, 27, 27, (1, 1, 1, 1)),
    # several chunks of tiles: with 2 threads each thread runs whole chunks
    ("many chunks 128@62x64", 1, 128, 128, 62, 64, (1, 1, 1, 1)),
]


def conv_ref(x, w, b, pads):
    """Direct r x r stride-1 convolution in float64."""
    pt, pl, pb, pr = pads
    r = w.shape[2]
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    N, C, H, W = xp.shape
    OH, OW = H - r + 1, W - r + 1
    w64 = w.astype(np.float64)
    y = np.zeros((N, w.shape[0], OH, OW))
    for i in range(r):
        for j in range(r):
            y += np.einsum("kc,nchw->nkhw", w64[:, :, i, j], xp[:, :, i:i + OH, j:j + OW],
                           optimize=True)
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
    return y


@functools.lru_cache(maxsize=None)
def case(name, r=3):
    """Inputs and float64 reference for a named shape and r x r filters (cached across contexts)."""
    _, N, C, K, H, W, pads = next(s for s in SHAPES if s[0] == name)
    pads = pads_for(r, pads)
    rng = np.random.default_rng(zlib.crc32(f"{name} {r}".encode()))
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = (rng.standard_normal((K, C, r, r)) / np.sqrt(r * r * C)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    return x, w, b, pads, conv_ref(x, w, None, pads)


@algos
@pytest.mark.parametrize("name", [s[0] for s in SHAPES])
def test_winograd_matches_direct(name, r, tile, ctx):
    x, w, b, pads, ref = case(name, r)
    isa, threads = ctx.isa, ctx.num_threads
    conv = winograd(ctx, w, b, pads=pads, tile=tile)
    assert conv.algo == algo_name(r, tile)
    assert (conv.out_channels, conv.in_channels) == w.shape[:2]
    shape = conv.output_shape(*x.shape[:1], *x.shape[2:])
    assert shape == ref.shape, f"{name}: output_shape {shape} != {ref.shape}"
    y = np.full(shape, np.nan, dtype=np.float32)
    conv.run(x, y)
    ref_b = ref + b.astype(np.float64)[None, :, None, None]
    err = rel_err(y, ref_b)
    assert err <= TOL, (f"{name} F({tile}x{tile},{r}x{r}) {isa} x{threads}: y {shape} from x {x.shape} "
                        f"w {w.shape} pads {pads}: relative error {err:.3g} > {TOL}")


@algos
@pytest.mark.parametrize("name", ["odd 5->7 13x11", "N=2 odd", "resnet 512@7", "vgg conv3 (scaled)",
                                  "wide rows (8 tiles side by side)", "squeezenet 16->24@55",
                                  "squeezenet 8->12@27"])
def test_winograd_fused_epilogue(name, r, tile, ctx):
    """No bias, residual (separate and aliasing y), relu, caller workspace."""
    x, w, b, pads, ref = case(name, r)
    isa, threads = ctx.isa, ctx.num_threads
    rng = np.random.default_rng(7)
    res = rng.standard_normal(ref.shape).astype(np.float32)
    want = np.maximum(ref + res, 0.0)

    conv = winograd(ctx, w, None, pads=pads, relu=True, tile=tile)
    n, _, h, wd = x.shape
    ws = np.empty(conv.workspace_size(n, h, wd), dtype=np.float32)
    y = np.full(ref.shape, np.nan, dtype=np.float32)
    conv.run(x, y, residual=res, workspace=ws)
    err = rel_err(y, want)
    assert err <= TOL, f"{name} tile {tile} {isa} x{threads}: relu(conv + residual) y {y.shape}: {err:.3g}"

    y2 = res.copy()  # residual is y itself
    conv.run(x, y2, residual=y2)
    err = rel_err(y2, want)
    assert err <= TOL, f"{name} tile {tile} {isa} x{threads}: residual aliasing y {y2.shape}: {err:.3g}"

    conv_nb = winograd(ctx, w, None, pads=pads, tile=tile)
    y3 = np.empty(ref.shape, dtype=np.float32)
    conv_nb.run(x, y3)
    err = rel_err(y3, ref)
    assert err <= TOL, f"{name} tile {tile} {isa} x{threads}: no bias, y {y3.shape}: {err:.3g}"
    assert np.min(y) >= 0.0


@requires_avx2
@algos
def test_avx2_and_portable_agree(r, tile):
    x, w, b, pads, ref = case("N=3 many tiles", r)
    out = []
    for isa in ("portable", "avx2"):
        conv = winograd(_kernels.Context(1, isa), w, b, pads=pads, tile=tile)
        y = np.empty(ref.shape, dtype=np.float32)
        out.append(conv.run(x, y))
    err = rel_err(out[1], out[0].astype(np.float64))
    assert err <= 1e-5, f"avx2 vs portable, tile {tile}, y {ref.shape}: {err:.3g}"


def test_bad_arguments_are_named():
    ctx = _kernels.Context(1, "portable")
    w = np.zeros((4, 3, 3, 3), np.float32)
    with pytest.raises(ValueError, match="algo 'winograd_f4x4_3x3' cannot compute 3->4 channels, "
                                         "kernel 7x7"):
        _kernels.Conv2d(ctx, np.zeros((4, 3, 7, 7), np.float32), algo="winograd_f4x4_3x3")
    with pytest.raises(ValueError, match="cannot compute 3->4 channels, kernel 3x5"):
        _kernels.Conv2d(ctx, np.zeros((4, 3, 3, 5), np.float32), algo="winograd_f2x2_5x5")
    with pytest.raises(ValueError, match="unknown algo 'winograd_f4x4_5x5'"):
        winograd(ctx, np.zeros((4, 3, 5, 5), np.float32), tile=4)
    with pytest.raises(ValueError, match=r"cannot compute .* strides \(2, 2\)"):
        _kernels.Conv2d(ctx, w, algo="winograd_f2x2_3x3", strides=(2, 2))
    with pytest.raises(ValueError, match=r"bias has shape \(5,\), expected \(4,\)"):
        winograd(ctx, w, np.zeros(5, np.float32))
    conv = winograd(ctx, w, pads=(1, 1, 1, 1))
    x = np.zeros((1, 3, 8, 8), np.float32)
    with pytest.raises(ValueError, match="channels"):
        conv.run(np.zeros((1, 2, 8, 8), np.float32), np.zeros((1, 4, 8, 8), np.float32))
    with pytest.raises(ValueError, match="y has shape"):
        conv.run(x, np.zeros((1, 4, 7, 8), np.float32))
    with pytest.raises(ValueError, match="residual has shape"):
        conv.run(x, np.zeros((1, 4, 8, 8), np.float32), residual=np.zeros((1, 4, 8, 7), np.float32))
    with pytest.raises(ValueError, match="workspace"):
        conv.run(x, np.zeros((1, 4, 8, 8), np.float32), workspace=np.zeros(1, np.float32))


# ---- NaN, Inf and overflow: each stays in the 3x3 windows that hold it ----------------------

def conv_ref_nan(x, w, b, pads, residual=None, relu=False):
    """Direct convolution in float64 with plain loops (no BLAS), so that NaN and Inf propagate
    exactly as in a direct convolution: y = relu(conv + b + residual), ReLU keeping NaN."""
    pt, pl, pb, pr = pads
    r = w.shape[2]
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (r, r), axis=(2, 3))  # n c oh ow r r
    with np.errstate(invalid="ignore", over="ignore"):
        y = np.einsum("nchwij,kcij->nkhw", win, w.astype(np.float64), optimize=False)
        if b is not None:
            y += b.astype(np.float64)[None, :, None, None]
        y = y.astype(np.float32).astype(np.float64)  # overflow to +-Inf as float32 does
        if residual is not None:
            y += residual
        if relu:
            y = np.where(y < 0, 0.0, y)
    return y


def assert_same_specials(y, ref, what, some_finite=True):
    """NaN and +-Inf at the same places, finite values within TOL of the largest one."""
    assert_same_nan_inf(y, ref, what)
    finite = np.isfinite(ref)
    if not some_finite:
        return
    assert finite.any(), f"{what}: the special values should not reach every output"
    err = rel_err(y[finite], ref[finite])
    assert err <= TOL, f"{what}: finite values off by {err:.3g} (relative) > {TOL}"


def special_positions(tile, pads, H, W):
    """(row, col) of x at a corner, on the padded border, in the interior, and on both sides of
    each boundary between two tiles' input patches (which overlap by 2 rows/columns)."""
    pt, pl = pads[0], pads[1]
    pos = [(0, 0), (H - 1, W - 1), (0, W // 2), (H // 2, 0), (H - 1, W // 3), (H // 2 + 1, W // 2)]
    for e in (-1, 0, 1, 2):  # around the first and second tile boundary
        pos += [(tile - pt + e, tile - pl + e), (2 * tile - pt + e, W // 2), (H // 3, 2 * tile - pl + e)]
    return [(min(max(r, 0), H - 1), min(max(c, 0), W - 1)) for r, c in pos]


# name, N, C, K, H, W, pads
NAN_SHAPES = [
    ("small 5->7 13x11", 2, 5, 7, 13, 11, (1, 1, 1, 1)),
    ("asym pads 6->13", 1, 6, 13, 10, 9, (0, 2, 1, 0)),
    ("wide 16->24 18x75", 1, 16, 24, 18, 75, (1, 1, 1, 1)),  # 8 whole tiles side by side
    ("squeezenet 8->12@27", 1, 8, 12, 27, 27, (1, 1, 1, 1)),  # pairs of whole tiles
]


@pytest.mark.parametrize("fused", ["plain", "bias+relu", "residual+relu", "residual is y",
                                   "NaN/Inf residual+relu"])
@algos
@pytest.mark.parametrize("name", [s[0] for s in NAN_SHAPES])
def test_nan_and_inf_stay_in_their_windows(ctx, name, r, tile, fused):
    _, N, C, K, H, W, pads = next(s for s in NAN_SHAPES if s[0] == name)
    pads = pads_for(r, pads)
    rng = np.random.default_rng(zlib.crc32(f"{name} {tile} {r}".encode()))
    w = (rng.standard_normal((K, C, r, r)) / np.sqrt(r * r * C)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32) if fused != "plain" else None
    relu = fused != "plain"
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    specials = [np.nan, np.inf, -np.inf]
    for i, (r, c) in enumerate(special_positions(tile, pads, H, W)):
        x[i % N, (3 * i) % C, r, c] = specials[i % 3]
    # +Inf and -Inf in one window (NaN), NaN and Inf in one window (NaN)
    x[0, 0, H // 2, W // 2], x[0, C - 1, H // 2 + 1, W // 2 + 1] = np.inf, -np.inf
    x[N - 1, 0, 1, W - 2], x[N - 1, C - 1, 2, W - 1] = np.nan, np.inf
    conv = winograd(ctx, w, b, pads=pads, relu=relu, tile=tile)
    shape = conv.output_shape(N, H, W)
    res = rng.standard_normal(shape).astype(np.float32) if "residual" in fused else None
    if fused.startswith("NaN"):  # ReLU keeps NaN, on tiles that do not fall back too
        u = rng.random(shape)
        res[u < 0.03] = np.nan
        res[(u >= 0.03) & (u < 0.06)] = np.inf
        res[(u >= 0.06) & (u < 0.09)] = -np.inf
    ref = conv_ref_nan(x, w, b, pads, res, relu)
    if fused == "residual is y":
        y = res.copy()
        conv.run(x, y, residual=y)
    else:
        y = np.full(shape, 7.0, np.float32)
        conv.run(x, y, residual=res)
    assert_same_specials(y, ref, f"{name} {algo_name(r, tile)} {fused}: y {shape} from x {x.shape} "
                                 f"pads {pads}")


@algos
def test_every_input_nan_or_inf(ctx, r, tile):
    """Every tile falls back: all NaN gives all NaN; all +Inf gives +-Inf by the sign of the
    window's weight sum (weights of one sign per output channel here)."""
    rng = np.random.default_rng(3)
    C, K, H, W = 4, 6, 9, 10
    pads = pads_for(r, (1, 1, 1, 1))
    w = np.abs(rng.standard_normal((K, C, r, r))).astype(np.float32) + 0.1
    w[1::2] *= -1
    conv = winograd(ctx, w, None, pads=pads, tile=tile)
    for v in (np.nan, np.inf, -np.inf):
        x = np.full((1, C, H, W), v, np.float32)
        y = conv.run(x, np.zeros(conv.output_shape(1, H, W), np.float32))
        ref = conv_ref_nan(x, w, None, pads)
        assert_same_specials(y, ref, f"x all {v}, tile {tile}", some_finite=False)
        if v != v:
            assert np.isnan(y).all(), f"x all NaN, tile {tile}: y must be all NaN"
        else:
            assert np.isinf(y).all(), f"x all {v}, tile {tile}: y must be all +-Inf"


@pytest.mark.parametrize("scale", [1e30, 3e37, 3e38])
@algos
def test_huge_finite_inputs_stay_finite(ctx, r, tile, scale):
    """Inputs that overflow in the transforms (3e37 and up) while the direct convolution is
    finite: the overflowing tiles are recomputed directly."""
    rng = np.random.default_rng(int(np.log10(scale)))
    N, C, K, H, W, pads = 1, 8, 10, 14, 13, pads_for(r, (1, 1, 1, 1))
    x = (rng.uniform(-1, 1, (N, C, H, W)) * scale).astype(np.float32)
    x[0, :, 4:8, 4:8] *= 1e-20  # some tiles without overflow next to overflowing ones
    w = (rng.uniform(-1, 1, (K, C, r, r)) / (r * r * C)).astype(np.float32)  # |y| < scale
    b = rng.standard_normal(K).astype(np.float32)
    ref = conv_ref_nan(x, w, b, pads)
    assert np.isfinite(ref).all()
    for fused in ("plain", "relu"):
        conv = winograd(ctx, w, b, pads=pads, relu=fused == "relu", tile=tile)
        y = conv.run(x, np.empty(conv.output_shape(N, H, W), np.float32))
        want = np.maximum(ref, 0) if fused == "relu" else ref
        assert np.isfinite(y).all(), f"x ~{scale:g}, tile {tile}, {fused}: non-finite outputs"
        err = rel_err(y, want)
        assert err <= TOL, f"x ~{scale:g}, tile {tile}, {fused}: y {y.shape} relative error {err:.3g}"


@algos
def test_zero_weights_times_inf_give_nan(ctx, r, tile):
    """The fallback recovers the filters from the transformed weights: a zero weight must come
    back exactly zero (0 * Inf = NaN in a direct convolution, not +-Inf)."""
    rng = np.random.default_rng(11)
    C, K, H, W = 3, 8, 9, 9
    w = rng.standard_normal((K, C, r, r)).astype(np.float32)
    w[rng.random(w.shape) < 0.4] = 0.0  # pruned: many exact zeros, among them whole taps
    w[:, :, r // 2, r // 2] = 0.0
    w[0] = 0.0
    w[1, :, :, 1] = 0.0
    w[2] = 0.0
    w[2, :, r // 2 - 1:r // 2 + 2, r // 2 - 1:r // 2 + 2] = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]  # Sobel
    x = rng.standard_normal((1, C, H, W)).astype(np.float32)
    x[0, 0, 4, 4] = np.inf
    x[0, 1, 1, 6] = -np.inf
    x[0, 2, 7, 2] = np.inf
    pads = pads_for(r, (1, 1, 1, 1))
    ref = conv_ref_nan(x, w, None, pads)
    conv = winograd(ctx, w, None, pads=pads, tile=tile)
    y = conv.run(x, np.empty(ref.shape, np.float32))
    assert_same_specials(y, ref, f"zero weights, Inf inputs, {algo_name(r, tile)}")


@algos
def test_nan_and_inf_bias(ctx, r, tile):
    """A non-finite bias is added after the check: it does not send tiles to the fallback."""
    x, w, _, pads, ref = case("odd 5->7 13x11", r)
    b = np.ones(w.shape[0], np.float32)
    b[1], b[3], b[4] = np.nan, np.inf, -np.inf
    conv = winograd(ctx, w, b, pads=pads, relu=True, tile=tile)
    y = conv.run(x, np.empty(ref.shape, np.float32))
    assert_same_specials(y, conv_ref_nan(x, w, b, pads, relu=True), f"NaN/Inf bias, tile {tile}")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 3e38])
def test_nonfinite_or_huge_weights_are_refused(bad):
    """The fallback cannot recover such filters: Winograd refuses them and the executor
    takes the direct convolution (tests/test_nan_inf.py checks that end to end)."""
    w = np.ones((4, 3, 3, 3), np.float32)
    assert _kernels.winograd_takes_weights(w)
    w[2, 1, 0, 2] = bad
    assert not _kernels.winograd_takes_weights(w)
    with pytest.raises(ValueError, match="NaN, Inf or .* cannot take"):
        winograd(_kernels.Context(1, "portable"), w, pads=(1, 1, 1, 1))


@functools.lru_cache(maxsize=None)
def chunked_nan_case(r, tile):
    """128 -> 128 channels at 64x64, batch 2: several chunks of tiles (with 2 threads each
    thread runs whole chunks).  The reference: the BLAS one on x with its specials zeroed,
    and the outputs whose windows hold a special summed exactly (few)."""
    rng = np.random.default_rng(40 + tile + r)
    h = r // 2
    N, C, K, H, W, pads = 2, 128, 128, 64, 64, (h, h, h, h)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = (rng.standard_normal((K, C, r, r)) / np.sqrt(r * r * C)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    spots = [(0, 5, 0, 0, np.nan), (0, 77, 31, 32, np.inf), (1, 127, 63, 17, -np.inf),
             (1, 0, 40, 63, np.nan), (1, 9, 41, 62, np.inf), (0, 64, 4 * 7 - 1, 2 * 9, -np.inf)]
    for n, c, row, col, v in spots:
        x[n, c, row, col] = v
    ref = conv_ref(np.where(np.isfinite(x), x, 0), w, None, pads) + b.astype(np.float64)[None, :, None, None]
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (h, h), (h, h)))
    with np.errstate(invalid="ignore"):
        for n, c, row, col, v in spots:
            for oy in range(max(row - h, 0), min(row + h + 1, H)):
                for ox in range(max(col - h, 0), min(col + h + 1, W)):
                    win = xp[n, :, oy:oy + r, ox:ox + r]
                    ref[n, :, oy, ox] = np.einsum("cij,kcij->k", win, w.astype(np.float64)) + b
    return x, w, b, pads, ref


@algos
def test_nan_and_inf_across_chunks_and_threads(ctx, r, tile):
    x, w, b, pads, ref = chunked_nan_case(r, tile)
    conv = winograd(ctx, w, b, pads=pads, tile=tile)
    y = conv.run(x, np.full(ref.shape, 7.0, np.float32))
    assert_same_specials(y, ref, f"tile {tile}: y {y.shape} from x {x.shape}")


# One chunk of few tiles with many output channels (SqueezeNet's 13x13 expand3x3s): at 2+
# threads the threads share each phase of the chunk (winograd.c, make_plan), every tile and
# output channel's sums in the 1-thread order.
SHARE_SHAPES = [
    # name, N, C, K, H, W, pads
    ("squeezenet 48->192@13", 1, 48, 192, 13, 13, (1, 1, 1, 1)),
    ("squeezenet 64->256@13", 1, 64, 256, 13, 13, (1, 1, 1, 1)),
    ("odd 10->70 11x9 asym", 1, 10, 70, 11, 9, (0, 2, 1, 0)),
    ("N=2 16->67 7x6", 2, 16, 67, 7, 6, (1, 1, 1, 1)),
]


@algos
@pytest.mark.parametrize("shape", SHARE_SHAPES, ids=[s[0] for s in SHARE_SHAPES])
@pytest.mark.parametrize("isa", ["portable", "avx2"])
def test_shared_phases_match_one_thread(shape, isa, r, tile):
    """Every thread count gives the 1-thread bits (each output's sums in the same order) and
    the direct convolution's values, with bias, residual and relu fused."""
    if isa == "avx2" and _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    name, N, C, K, H, W, pads = shape
    pads = pads_for(r, pads)
    rng = np.random.default_rng(zlib.crc32(f"{name} {r} share".encode()))
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = (rng.standard_normal((K, C, r, r)) / np.sqrt(r * r * C)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    ref = conv_ref(x, w, b, pads)
    res = rng.standard_normal(ref.shape).astype(np.float32)
    want = np.maximum(ref + res, 0.0)
    ys = []
    for threads in (1, 2, 3):
        conv = winograd(_kernels.Context(threads, isa), w, b, pads=pads, relu=True, tile=tile)
        y = np.full(ref.shape, np.nan, dtype=np.float32)
        conv.run(x, y, residual=res)
        err = rel_err(y, want)
        assert err <= TOL, f"{name} F({tile}x{tile},{r}x{r}) {isa} x{threads}: {err:.3g}"
        ys.append(y)
    for threads, y in zip((2, 3), ys[1:]):
        assert np.array_equal(y, ys[0]), f"{name} {isa} x{threads}: not the 1-thread bits"

"""The cheap Sigmoid / SiLU (tc_sigmoidf_, epilogue*.h): every ISA's form against float64 on a
grid of the whole useful range with its edge values, the same bits on every ISA, and the
deferred epilogue pass (the GEMM driver's and the depthwise kernel's act_rows, the Winograd
output transforms' whole vectors) equal to the standalone op applied to the convolution without
activation."""
import numpy as np
import pytest

from tinycnn import _kernels
from helpers import HAVE_AVX2, HAVE_AVX512

ISAS_ALL = ["portable"] + (["avx2"] if HAVE_AVX2 else []) + (["avx512"] if HAVE_AVX512 else [])
TINY = np.finfo(np.float32).tiny
EDGES = [0.0, -0.0, 1e-30, -1e-30, 1e-45, -1e-45, 0.5, -0.5, 15.9, -15.9, 16.7, -16.7, 87.3, -87.3,
         88.72, -88.72, 88.8, -88.8, 103.2, -103.2, 103.9, -103.9, 104.0, -104.0, 200.0, -200.0,
         3.4e38, -3.4e38, np.inf, -np.inf]


def grid():
    # dense over [-110, 110] (every tail length: odd size), plus the edge values
    dense = np.linspace(-110, 110, 2_000_001, dtype=np.float64).astype(np.float32)
    return np.concatenate([dense, np.array(EDGES, np.float32)])


def ref(op, x):
    xd = x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        s = 1.0 / (1.0 + np.exp(-xd))
        return s if op == "sigmoid" else xd * s


def run(isa, op, x):
    y = np.empty_like(x)
    _kernels.unary(_kernels.Context(1, isa), op, x, y)
    return y


@pytest.mark.parametrize("isa", ISAS_ALL)
@pytest.mark.parametrize("op", ["sigmoid", "silu"])
def test_sigmoid_against_float64(isa, op):
    x = grid()
    y, r = run(isa, op, x), ref(op, x)
    s = ref("sigmoid", x)
    normal = np.isfinite(r) & (np.abs(s) >= TINY) & (np.abs(r) >= TINY)
    rel = np.abs(y[normal] - r[normal]) / np.abs(r[normal])
    # sigmoid 4.0e-7 at x = -86.3 (ln 2 / 8 in one float in the reduction: N of up to 1200
    # 2.4e-10 off each), SiLU 4.4e-7 at x = -88.6
    assert rel.max() <= 5e-7, f"{op} [{isa}]: max rel err {rel.max():.3g} at x={x[normal][rel.argmax()]}"
    # a denormal sigmoid keeps the bits a denormal can hold: absolute error of a few 2^-149 (times |x|)
    den = np.isfinite(r) & ~normal
    if op == "silu":
        # SiLU is x / (1 + exp(-x)) with exp(-x) itself (tc_siluf_): -0 where that is past the
        # floats (x <= -88.72284 = -ln(FLT_MAX), true values under 2.7e-37 in magnitude), no
        # gradual underflow
        past = den & (x <= np.float32(-88.72284))
        assert (y[past] == 0).all() and np.signbit(y[past]).all(), f"silu [{isa}]: not -0 below -88.7228"
        assert np.abs(r[past]).max() <= 2.7e-37
        den &= ~past
    err = np.abs(y[den] - r[den]) / np.maximum(1.0, np.abs(x[den]))
    # (3.1 x 2^-149 for SiLU, with the reduction's error above)
    assert err.max() <= 5e-45, f"{op} [{isa}]: denormal results, abs err {err.max():.3g}"


@pytest.mark.parametrize("isa", ISAS_ALL)
def test_sigmoid_table_steps(isa):
    """The sigmoid's exp(-|x|) as 2^(N/8) from an 8-entry table times a polynomial
    (tc_sigmoidf_): at both sides of every x where N = round(8 |x| / ln 2) steps (N in [0,
    1201], so every table entry j and every 2^n from n = 0 down to -150 where the result is
    denormal), against float64, the same bits on every ISA, and the curve nondecreasing there
    and over the dense grid but for steps back of one ulp: the polynomial's error at +-ln2/16
    and the entries' roundings leave 4 such steps at table steps of x in [-1.43, -0.30] (the
    degree-5 form before s44 had none; onnxruntime's MLAS logistic 44510 on the dense grid,
    steps of up to 1.7e-7 below x = -17)."""
    edges = (np.arange(0, 1202, dtype=np.float64) + 0.5) * np.log(2.0) / 8
    e32 = edges.astype(np.float32)
    x = np.concatenate([e32, np.nextafter(e32, np.float32(0)), np.nextafter(e32, np.float32(np.inf))])
    x = np.concatenate([x, -x])
    y, r = run(isa, "sigmoid", x), ref("sigmoid", x)
    np.testing.assert_array_equal(y, run("portable", "sigmoid", x))
    normal = r >= TINY
    assert (np.abs(y[normal] - r[normal]) / r[normal]).max() <= 5e-7
    assert np.abs(y[~normal] - r[~normal]).max() <= 5e-45
    for xs in (np.sort(x), grid()[:-len(EDGES)]):
        ys = run(isa, "sigmoid", xs)
        back = ys[1:] < ys[:-1] - np.spacing(ys[:-1])
        assert not back.any(), f"sigmoid [{isa}] decreases by more than an ulp at x = {xs[1:][back][:5]}"
        assert (ys[1:] < ys[:-1]).sum() <= 8


@pytest.mark.parametrize("isa", ISAS_ALL)
def test_sigmoid_special_values(isa):
    x = np.array([np.inf, -np.inf, np.nan, -np.nan, 0.0, -0.0, -200.0, 200.0] * 3, np.float32)
    s, si = run(isa, "sigmoid", x), run(isa, "silu", x)
    # sigmoid: 1, 0, NaN, NaN, 0.5, 0.5, 0, 1
    np.testing.assert_array_equal(s[:8], np.array([1, 0, np.nan, np.nan, 0.5, 0.5, 0, 1], np.float32))
    # SiLU = x * sigmoid(x): +inf, NaN (-inf * 0, as onnxruntime's Sigmoid then Mul), NaN, NaN,
    # 0, -0, -0, 200
    np.testing.assert_array_equal(si[:8], np.array([np.inf, np.nan, np.nan, np.nan, 0, 0, 0, 200], np.float32))
    assert np.signbit(si[5]) and np.signbit(si[6]) and not np.signbit(si[4]), f"SiLU signs of zero [{isa}]"


def test_every_isa_gives_the_same_bits():
    x = grid()
    x = np.concatenate([x, np.array([np.nan], np.float32)])
    for op in ("sigmoid", "silu"):
        out = {isa: run(isa, op, x) for isa in ISAS_ALL}
        for isa in ISAS_ALL[1:]:
            np.testing.assert_array_equal(out[isa], out["portable"], err_msg=f"{op}: {isa} vs portable")
        for n in range(1, 40):  # every tail length
            part = {isa: run(isa, op, x[1000:1000 + n]) for isa in ISAS_ALL}
            for isa in ISAS_ALL[1:]:
                assert np.array_equal(part[isa], part["portable"]), f"{op} n={n}: {isa} vs portable"


# (c, k, hw, kernel, group, algo): M = k > MC = 120 rows and partial row panels, K = c > KC = 320
# (several K blocks: the activation only after the last), pixels 7x7 = 49 (wide tiles: 32 + 17),
# 29x29 = 841 (past NC = 512), depthwise with 4-row blocks and a 1-row plane, grouped with
# 8 -> 7 channels per group (a short block) and with 7x7 planes; Winograd (the output
# transforms activate whole vectors): partial tiles at the right and bottom edges, and
# F(4x4)'s rows of 8 whole tiles side by side (32 + 1 columns)
LAYERS = [(16, 130, 29, 1, 1, "1x1"), (340, 127, 7, 1, 1, "1x1"), (24, 13, 5, 3, 1, "gemm"),
          (40, 40, 15, 3, 40, "depthwise"), (8, 8, 1, 5, 8, "depthwise"),
          (48, 42, 14, 3, 6, "grouped"), (16, 16, 7, 3, 2, "grouped"),
          (24, 20, 15, 3, 1, "winograd_f2x2_3x3"), (24, 20, 33, 3, 1, "winograd_f4x4_3x3"),
          (24, 20, 13, 5, 1, "winograd_f2x2_5x5")]


@pytest.mark.parametrize("layer", LAYERS, ids=[f"{l[5]}-{l[0]}x{l[1]}@{l[2]}" for l in LAYERS])
@pytest.mark.parametrize("act", ["Sigmoid", "SiLU"])
@pytest.mark.parametrize("threads", [1, 2])
def test_deferred_pass_is_the_standalone_op(layer, act, threads):
    c, k, hw, ks, group, algo = layer
    rng = np.random.default_rng(c * 1000 + k)
    w = (rng.standard_normal((k, c // group, ks, ks)) / np.sqrt(c // group * ks * ks)).astype(np.float32)
    bias = rng.standard_normal(k, dtype=np.float32)
    x = rng.standard_normal((2, c, hw, hw), dtype=np.float32) * 3
    x[1, 0, 0, 0] = np.nan
    for isa in ISAS_ALL:
        ctx = _kernels.Context(threads, isa)
        geom = dict(algo=algo, group=group, pads=(ks // 2,) * 4)
        plain = _kernels.Conv2d(ctx, w, bias, **geom)
        shape = plain.output_shape(2, hw, hw)
        v = plain.run(x, np.empty(shape, np.float32))
        want = np.empty_like(v)
        _kernels.unary(ctx, "silu" if act == "SiLU" else "sigmoid", v, want)
        got = _kernels.Conv2d(ctx, w, bias, activation=act, **geom).run(x, np.full(shape, 7.0, np.float32))
        np.testing.assert_array_equal(got, want, err_msg=f"{act} fused vs standalone [{algo}, {isa}]")
        r = ref(act.lower(), v)
        fin = np.isfinite(r)
        assert np.isnan(got[~fin]).all() and (np.abs(got[fin] - r[fin]) <= 1e-6 * np.abs(r[fin]) + 1e-30).all()


# The AVX2 pass's short rows (epilogue_avx2.h, tc_act_rows_avx2): a 1x1 GEMM's last panel of
# 4 to 7 columns goes two rows per vector (an odd row count leaves one row alone), 1 to 3
# columns through a buffer, 8 and more with the tail as the row's last 8 values (9, 17: the
# vector before shares 7 of them).  M = 13 rows (odd), pixels h x w.
@pytest.mark.parametrize("hw", [(1, 1), (1, 3), (2, 2), (1, 5), (2, 3), (1, 7), (3, 3), (14, 14), (1, 17),
                                (5, 5)])
@pytest.mark.parametrize("act", ["Sigmoid", "SiLU"])
def test_deferred_pass_short_rows(hw, act):
    h, w_ = hw
    rng = np.random.default_rng(h * 100 + w_)
    c, k = 24, 13
    w = (rng.standard_normal((k, c, 1, 1)) / np.sqrt(c)).astype(np.float32)
    bias = rng.standard_normal(k, dtype=np.float32)
    x = rng.standard_normal((1, c, h, w_), dtype=np.float32) * 3
    for isa in ISAS_ALL:
        ctx = _kernels.Context(1, isa)
        plain = _kernels.Conv2d(ctx, w, bias, algo="1x1")
        shape = plain.output_shape(1, h, w_)
        v = plain.run(x, np.empty(shape, np.float32))
        want = np.empty_like(v)
        _kernels.unary(ctx, "silu" if act == "SiLU" else "sigmoid", v, want)
        got = _kernels.Conv2d(ctx, w, bias, activation=act, algo="1x1").run(x, np.full(shape, 7.0, np.float32))
        np.testing.assert_array_equal(got, want, err_msg=f"{act} fused vs standalone [{hw}, {isa}]")

"""Element-wise, normalisation, softmax and reduction kernels against numpy references."""
import math

import numpy as np
import pytest

from tinycnn import _kernels
from helpers import lrn_ref, ort_node, requires_avx2


def erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x.astype(np.float64))


UNARY = {
    "relu": (0, 0, lambda x, a, b: np.maximum(x, 0)),
    "leaky_relu": (0.1, 0, lambda x, a, b: np.where(x < 0, a * x, x)),
    "sigmoid": (0, 0, lambda x, a, b: 1 / (1 + np.exp(-x))),
    "hard_sigmoid": (0.2, 0.5, lambda x, a, b: np.clip(a * x + b, 0, 1)),
    "hard_swish": (0, 0, lambda x, a, b: x * np.clip(x / 6 + 0.5, 0, 1)),
    "clip": (-0.5, 2.0, lambda x, a, b: np.minimum(np.maximum(x, a), b)),
    "tanh": (0, 0, lambda x, a, b: np.tanh(x)),
    "exp": (0, 0, lambda x, a, b: np.exp(x)),
    "neg": (0, 0, lambda x, a, b: -x),
    "abs": (0, 0, lambda x, a, b: np.abs(x)),
    "sqrt": (0, 0, lambda x, a, b: np.sqrt(x)),
    "erf": (0, 0, lambda x, a, b: erf(x)),
}


@pytest.mark.parametrize("op", sorted(UNARY))
@pytest.mark.parametrize("shape", [(7,), (2, 3, 5, 5), (1, 64, 56, 56), (3, 1000)])
def test_unary(ctx, op, shape):
    alpha, beta, ref = UNARY[op]
    rng = np.random.default_rng(11)
    x = (rng.standard_normal(shape) * 4).astype(np.float32)
    x.reshape(-1)[:5] = [0.0, -0.0, 3.0, -3.0, 6.0][: x.size]  # kinks of relu / hard_* / clip
    if op == "sqrt":
        x = np.abs(x)
    expect = ref(x.astype(np.float64), alpha, beta)
    y = np.empty_like(x)
    _kernels.unary(ctx, op, x, y, alpha, beta)
    np.testing.assert_allclose(y, expect, rtol=2e-6, atol=1e-6, err_msg=f"unary {op} y, x {shape}")
    xi = x.copy()
    _kernels.unary(ctx, op, xi, xi, alpha, beta)  # in place
    np.testing.assert_array_equal(xi, y, err_msg=f"unary {op} in place, x {shape}")


@pytest.mark.parametrize("op", ["exp", "sigmoid", "tanh"])
def test_unary_extremes(ctx, op):
    """exp / sigmoid / tanh use our own vectorisable exp: check its range ends, infinities and NaN."""
    x = np.array([-np.inf, -200, -104, -103.5, -90, -87.5, -20, -1e-3, -1e-30, 0, 1e-30, 1e-3, 0.39, 0.41, 20,
                  88.5, 88.72, 88.8, 200, np.inf, np.nan] * 3, np.float32)
    alpha, beta, ref = UNARY[op]
    with np.errstate(over="ignore", under="ignore"):
        expect = ref(x.astype(np.float64), alpha, beta).astype(np.float32)
    y = np.empty_like(x)
    _kernels.unary(ctx, op, x, y)
    # denormal results (exp below -87.3, sigmoid below -87.3) may be lost: compare those absolutely
    np.testing.assert_allclose(y, expect, rtol=1e-6, atol=1e-37, err_msg=f"unary {op} at extremes")


@pytest.mark.parametrize("op", ["relu", "clip", "leaky_relu", "abs", "neg"])
def test_unary_keeps_nan(ctx, op):
    alpha, beta, _ = UNARY[op]
    x = np.array([np.nan, -1, 1, np.nan] * 20, np.float32)
    y = np.empty_like(x)
    _kernels.unary(ctx, op, x, y, alpha, beta)
    assert np.isnan(y[::4]).all() and np.isnan(y[3::4]).all() and not np.isnan(y[1::4]).any(), f"unary {op}"


BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "max": np.maximum, "min": np.minimum, "pow": np.power,
    "prelu": lambda a, b: np.where(a < 0, b * a, a),
}

SHAPE_PAIRS = [
    ((2, 3, 4, 5), (2, 3, 4, 5)),           # residual add
    ((2, 3, 4, 5), (1, 3, 1, 1)),           # per-channel
    ((1, 3, 1, 1), (2, 3, 4, 5)),
    ((2, 3, 4, 5), ()),                     # scalar
    ((), (2, 3)),
    ((2, 3, 4, 5), (1,)),
    ((3, 1, 5), (4, 1)),                    # rank mismatch, both sides broadcast
    ((1, 4, 1), (3, 1, 5)),
    ((2, 1, 3, 1, 4), (3, 5, 1)),
    ((2, 1, 2, 1, 2, 1, 2, 3), (1, 2, 1, 2, 1, 2, 1, 3)),  # rank 8
    ((5,), (3, 1)),
    ((1,), (1,)),
    ((4, 1), (1, 1)),
    ((3, 5), (3, 1)),
    ((6, 1, 1), (6, 7, 1)),
    ((1, 64, 56, 56), (1, 64, 56, 56)),     # big enough to split across threads
    ((2, 64, 28, 28), (64, 1, 1)),
    ((2, 64, 28, 28), (1, 1, 28, 28)),
    ((2, 8, 3000), (2, 1, 3000)),
    ((1, 208, 14, 14), (1, 208, 1, 1)),     # RegNetY's SE product: split at 2 threads too
]


def binary_inputs(op, sa, sb, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    if op == "pow":
        a = np.abs(a) + 0.1
    if op == "div":
        b = np.where(np.abs(b) < 0.1, 0.5, b).astype(np.float32)
    return np.asarray(a, np.float32), np.asarray(b, np.float32)


@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize("pair", range(len(SHAPE_PAIRS)))
def test_binary(ctx, op, pair):
    sa, sb = SHAPE_PAIRS[pair]
    a, b = binary_inputs(op, sa, sb, pair)
    expect = BINARY[op](a.astype(np.float64), b.astype(np.float64))
    y = np.empty(np.broadcast_shapes(sa, sb), np.float32)
    _kernels.binary(ctx, op, a, b, y)
    np.testing.assert_allclose(y, expect, rtol=2e-6, atol=1e-6, err_msg=f"binary {op} y, a {sa}, b {sb}")


# A Mul of rows by one value a row (x [N, C, HW] * gate [N, C, 1], either order) runs whole rows
# per call (csrc/eltwise.c mul_rows_range): rows of 1-7 values, of whole vectors, of 6 vectors + 1
# (7x7), batch 2, and sizes that the threads' ranges cut inside a row (3 threads: thirds of 47040
# values, 960 rows of 49).  The products are the same float32 roundings as numpy's.
ROWS_MUL_PAIRS = [
    ((1, 960, 7, 7), (1, 960, 1, 1)),
    ((1, 960, 1, 1), (1, 960, 7, 7)),
    ((2, 5, 3, 7), (2, 5, 1, 1)),
    ((2, 5, 1, 1), (2, 5, 3, 7)),
    ((1, 3, 1, 5), (1, 3, 1, 1)),
    ((1, 1, 2, 8), (1, 1, 2, 1)),
    ((2, 672, 14, 14), (2, 672, 1, 1)),
    ((1, 40, 13), (1, 40, 1)),
    ((7, 1), (7, 1)),                       # rows of 1: a plain product, not this path
]


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("isa", ["portable", "avx2"])
@pytest.mark.parametrize("pair", range(len(ROWS_MUL_PAIRS)))
def test_binary_mul_rows_same_bits(isa, threads, pair):
    if isa == "avx2" and _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    ctx = _kernels.Context(threads, isa)
    sa, sb = ROWS_MUL_PAIRS[pair]
    rng = np.random.default_rng(pair)
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    a.flat[::17] = np.float32(3e38)             # products past the floats: inf, as numpy's
    with np.errstate(over="ignore"):
        expect = np.multiply(a, b)
    y = np.empty(expect.shape, np.float32)
    _kernels.binary(ctx, "mul", a, b, y)
    np.testing.assert_array_equal(y, expect, err_msg=f"mul a {sa}, b {sb}")
    full = a if a.shape == expect.shape else b
    xi = full.copy()
    if full is a:
        _kernels.binary(ctx, "mul", xi, b, xi)
    else:
        _kernels.binary(ctx, "mul", a, xi, xi)
    np.testing.assert_array_equal(xi, expect, err_msg=f"mul in place, a {sa}, b {sb}")


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "prelu"])
@pytest.mark.parametrize("pair", [0, 1, 2, 5, 13, 15, 16])
def test_binary_in_place(ctx, op, pair):
    sa, sb = SHAPE_PAIRS[pair]
    a, b = binary_inputs(op, sa, sb, 100 + pair)
    expect = BINARY[op](a.astype(np.float64), b.astype(np.float64)).astype(np.float32)
    y = np.broadcast_shapes(sa, sb)
    if a.shape == y:
        ai = a.copy()
        _kernels.binary(ctx, op, ai, b, ai)
        np.testing.assert_allclose(ai, expect, rtol=2e-6, atol=1e-6, err_msg=f"binary {op} y=a, a {sa}, b {sb}")
    if b.shape == y:
        bi = b.copy()
        _kernels.binary(ctx, op, a, bi, bi)
        np.testing.assert_allclose(bi, expect, rtol=2e-6, atol=1e-6, err_msg=f"binary {op} y=b, a {sa}, b {sb}")


def test_binary_max_min_propagate_nan(ctx):
    a = np.array([np.nan, 1, np.nan, 2] * 10, np.float32)
    b = np.array([1, np.nan, np.nan, 3] * 10, np.float32)
    for op, f in (("max", np.maximum), ("min", np.minimum)):
        y = np.empty_like(a)
        _kernels.binary(ctx, op, a, b, y)
        np.testing.assert_array_equal(y, f(a, b), err_msg=f"binary {op} with NaN")
        _kernels.binary(ctx, op, a, b[:1].copy(), y)
        np.testing.assert_array_equal(y, f(a, b[:1]), err_msg=f"binary {op} with NaN, scalar b")


def test_clip_missing_bounds():
    x = np.array([-5, -1, 0, 2, 7], np.float32)
    y = np.empty_like(x)
    _kernels.unary(None, "clip", x, y, None, 1.5)
    np.testing.assert_array_equal(y, np.minimum(x, 1.5))
    _kernels.unary(None, "clip", x, y, -2.0, None)
    np.testing.assert_array_equal(y, np.maximum(x, -2.0))


def test_binary_bad_arguments():
    a = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="broadcast"):
        _kernels.binary(None, "add", a, np.zeros((4,), np.float32), a)
    with pytest.raises(ValueError, match="broadcast shape"):
        _kernels.binary(None, "add", a, np.zeros((3,), np.float32), np.zeros((3,), np.float32))
    with pytest.raises(ValueError, match="unknown op"):
        _kernels.binary(None, "hypot", a, a, a)
    with pytest.raises(ValueError, match="b must be float32"):
        _kernels.binary(None, "add", a, np.zeros((2, 3)), a)
    with pytest.raises(ValueError, match="overlaps"):
        big = np.zeros((4, 3), np.float32)
        _kernels.binary(None, "add", big[:2], big[:2], big[1:3])


@pytest.mark.parametrize("shape", [(2, 3, 5, 5), (1, 64, 56, 56), (4, 10), (2, 5, 3, 4, 2)])
def test_batch_norm(ctx, shape):
    rng = np.random.default_rng(21)
    x = rng.standard_normal(shape).astype(np.float32)
    c = shape[1]
    scale, bias, mean = (rng.standard_normal(c).astype(np.float32) for _ in range(3))
    var = rng.uniform(0.1, 2, c).astype(np.float32)
    bshape = (1, c) + (1,) * (len(shape) - 2)
    r = lambda v: v.astype(np.float64).reshape(bshape)
    expect = (x - r(mean)) / np.sqrt(r(var) + 1e-5) * r(scale) + r(bias)
    y = np.empty_like(x)
    _kernels.batch_norm(ctx, x, scale, bias, mean, var, 1e-5, y)
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5, err_msg=f"batch_norm y, x {shape}")
    _kernels.batch_norm(ctx, x, scale, bias, mean, var, 1e-5, x)
    np.testing.assert_array_equal(x, y, err_msg=f"batch_norm in place, x {shape}")
    # bound once (a plan step), it reads x at every call
    z = np.empty_like(y)
    call = _kernels.bind_batch_norm(ctx, x, scale, bias, mean, var, 1e-5, z, True)
    for _ in range(2):
        x += 1
        call()
        np.testing.assert_array_equal(
            z, _kernels.batch_norm(ctx, x, scale, bias, mean, var, 1e-5, np.empty_like(z), True))
    with pytest.raises(ValueError, match="scale"):
        _kernels.batch_norm(ctx, x, scale[:-1].copy(), bias, mean, var, 1e-5, y)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("shape", [(2, 7, 4, 5), (1, 96, 27, 27), (3, 4)])
@pytest.mark.parametrize("beta", [0.75, 0.6])  # 0.75 has its own sqrt path
def test_lrn(ctx, size, shape, beta):
    rng = np.random.default_rng(size)
    x = (rng.standard_normal(shape) * 10).astype(np.float32)
    alpha, bias = 1e-2, 1.0
    expect = lrn_ref(x, size, alpha, beta, bias)
    y = np.empty_like(x)
    _kernels.lrn(ctx, x, y, size, alpha, beta, bias)
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-6, err_msg=f"lrn y, x {shape}, size {size}, beta {beta}")


@pytest.mark.parametrize("outer,n,inner", [(1, 1000, 1), (4, 10, 1), (2, 5, 7), (3, 7, 130), (1, 1, 5), (2, 300, 64)])
@pytest.mark.parametrize("log", [False, True])
def test_softmax(ctx, outer, n, inner, log):
    rng = np.random.default_rng(n + inner)
    x = (rng.standard_normal((outer, n, inner)) * 30).astype(np.float32)  # large: needs the max shift
    x64 = x.astype(np.float64)
    z = x64 - x64.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1, keepdims=True))
    expect = z - lse if log else np.exp(z - lse)
    y = np.empty_like(x)
    _kernels.softmax(ctx, x, y, outer, n, inner, log=log)
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-6, err_msg=f"softmax(log={log}) y, view {(outer, n, inner)}")
    _kernels.softmax(ctx, x, x, outer, n, inner, log=log)
    np.testing.assert_array_equal(x, y, err_msg=f"softmax(log={log}) in place, view {(outer, n, inner)}")


@pytest.mark.parametrize("op", ["mean", "sum", "max", "min"])
@pytest.mark.parametrize("outer,n,inner", [(1, 1000, 1), (4, 10, 1), (2, 5, 7), (3, 7, 130), (1, 1, 5), (2, 64, 49)])
def test_reduce(ctx, op, outer, n, inner):
    x = np.random.default_rng(n).standard_normal((outer, n, inner)).astype(np.float32)
    expect = getattr(np, op)(x.astype(np.float64), axis=1)
    y = np.empty((outer, inner), np.float32)
    _kernels.reduce(ctx, op, x, y, outer, n, inner)
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5, err_msg=f"reduce {op} y, view {(outer, n, inner)}")



@pytest.mark.parametrize("op", ["mean", "sum"])
@pytest.mark.parametrize("n", [1, 7, 8, 49, 127, 128, 131, 160, 196, 1000, 3136])
def test_reduce_contiguous_is_the_same_on_every_isa(op, n):
    """A mean or sum over contiguous runs (ReduceMean over H, W) runs the ISA's sum, partial
    sums in tc_sum_f32_ref_'s order (four chains from TC_SUM_WIDE_MIN = 128 values, then the
    eight): the portable build's bits at 1 and 2 threads."""
    if _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    x = np.random.default_rng(n).standard_normal((37, n, 1)).astype(np.float32)
    outs = []
    for threads, isa in ((1, "portable"), (1, "avx2"), (2, "avx2")):
        y = np.empty((37, 1), np.float32)
        _kernels.reduce(_kernels.Context(threads, isa), op, x, y, 37, n, 1)
        outs.append(y)
    for y, label in zip(outs[1:], ("avx2 1t", "avx2 2t")):
        np.testing.assert_array_equal(y, outs[0], err_msg=f"reduce {op} n={n}: {label} against portable")

@pytest.mark.parametrize("op", ["mean", "sum", "max", "min"])
@pytest.mark.parametrize("outer,n,inner", [(1280, 49, 1), (341, 49, 1), (3, 20000, 1), (5, 49, 67),
                                           (1, 20000, 1)])
@pytest.mark.parametrize("isa", ["portable", "avx2"])
def test_reduce_split_over_threads_has_the_one_thread_bits(op, outer, n, inner, isa):
    """Reductions of 16K floats or more are split over the threads (norm.c TC_REDUCE_GRAIN:
    MnasNet's ReduceMean, 1280 planes of 7x7, at 2 threads): each output sums its own planes
    whoever runs it, so 2 and 3 threads give the 1-thread bits (odd plane counts, one plane)."""
    if isa == "avx2" and _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    x = np.random.default_rng(outer + n).standard_normal((outer, n, inner)).astype(np.float32)
    outs = []
    for threads in (1, 2, 3):
        y = np.full((outer, inner), np.nan, np.float32)
        _kernels.reduce(_kernels.Context(threads, isa), op, x, y, outer, n, inner)
        outs.append(y)
    np.testing.assert_allclose(outs[0], getattr(np, op)(x.astype(np.float64), axis=1), rtol=1e-5,
                               atol=1e-5, err_msg=f"reduce {op} {x.shape}")
    for y, threads in zip(outs[1:], (2, 3)):
        np.testing.assert_array_equal(y, outs[0], err_msg=f"reduce {op} {x.shape}: {threads} threads")


@pytest.mark.parametrize("op", ["mean", "sum", "max", "min"])
@pytest.mark.parametrize("outer,n,inner", [(2, 5, 7), (3, 0, 4), (0, 3, 4)])
def test_a_bound_reduce_runs_over_its_arrays_at_every_call(ctx, op, outer, n, inner):
    """bind_reduce: a call checked once, whose every run reduces the arrays' current values
    (an empty reduction: y is the op's identity at every run, whatever was written in it
    between runs, as in an arena)."""
    x = np.random.default_rng(4).standard_normal((outer, n, inner)).astype(np.float32)
    y = np.empty((outer, inner), np.float32)
    call = _kernels.bind_reduce(ctx, op, x, y, outer, n, inner)
    assert isinstance(call, _kernels.BoundCall)
    for _ in range(2):
        x[...] = np.random.default_rng(5).standard_normal(x.shape)
        y[...] = 42.0
        call()
        with np.errstate(invalid="ignore"):
            expect = (getattr(np, op)(x.astype(np.float64), axis=1) if n else
                      np.full((outer, inner), {"sum": 0.0, "mean": np.nan, "max": -np.inf,
                                               "min": np.inf}[op]))
        np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5, err_msg=f"{op} {x.shape}")


def test_view_mismatch_raises():
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="view"):
        _kernels.softmax(None, x, x, 2, 3, 5)
    with pytest.raises(ValueError, match="view"):
        _kernels.reduce(None, "sum", x, np.zeros((2, 3), np.float32), 2, 3, 4)


@pytest.mark.parametrize("size", [1, 3, 5])  # onnxruntime takes odd sizes only
def test_lrn_matches_onnxruntime(ctx, size):
    x = (np.random.default_rng(size).standard_normal((2, 9, 5, 6)) * 5).astype(np.float32)
    expect = ort_node("LRN", [x], size=size, alpha=1e-3, beta=0.75, bias=1.5)
    y = np.empty_like(x)
    _kernels.lrn(ctx, x, y, size, 1e-3, 0.75, 1.5)
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-6, err_msg=f"lrn y vs onnxruntime, size {size}")


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_matches_onnxruntime(ctx, op):
    x = (np.random.default_rng(2).standard_normal((3, 4, 10)) * 10).astype(np.float32)
    expect = ort_node(op, [x], axis=1)  # opset 13+: along axis 1 only -> view [3, 4, 10]
    y = np.empty_like(x)
    _kernels.softmax(ctx, x, y, 3, 4, 10, log=(op == "LogSoftmax"))
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-6, err_msg=f"{op} y vs onnxruntime")


@requires_avx2
def test_isa_paths_agree_bitwise():
    """The AVX2 twins must give exactly the portable answers (same loops, no FMA contraction)."""
    rng = np.random.default_rng(77)
    x = (rng.standard_normal((2, 12, 9, 13)) * 3).astype(np.float32)
    b = rng.standard_normal((1, 12, 1, 1)).astype(np.float32)
    out = {}
    for isa in ("portable", "avx2"):
        c = _kernels.Context(1, isa)
        res = []
        for op in sorted(UNARY):
            alpha, beta, _ = UNARY[op]
            y = np.empty_like(x)
            _kernels.unary(c, op, np.abs(x) if op == "sqrt" else x, y, alpha, beta)
            res.append((f"unary {op}", y))
        for op in sorted(BINARY):
            y = np.empty_like(x)
            _kernels.binary(c, op, np.abs(x) + 0.1 if op == "pow" else x, b, y)
            res.append((f"binary {op}", y))
        for beta in (0.75, 0.6):
            y = np.empty_like(x)
            _kernels.lrn(c, x, y, 5, 1e-2, beta, 1.0)
            res.append((f"lrn beta {beta}", y))
        for log in (False, True):
            y = np.empty_like(x)
            _kernels.softmax(c, x, y, 2, 12, 117, log=log)
            res.append((f"softmax log={log}", y))
        out[isa] = res
    for (name, p), (_, a) in zip(out["portable"], out["avx2"]):
        np.testing.assert_array_equal(a, p, err_msg=f"{name}: avx2 differs from portable")

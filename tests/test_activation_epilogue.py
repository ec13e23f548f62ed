"""Activations fused into the convolution's epilogue (enum tc_act): every kind on every
algorithm (GEMM, 1x1, depthwise, the three Winograd variants, the reference), both ISAs,
1 and 2 threads, against numpy's activation of the reference convolution; NaN kept."""
import zlib

import numpy as np
import pytest

from tinycnn import _kernels

# ctx: tests/conftest.py (both ISAs, 1 and 2 threads)


def sigmoid(v):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-v))


# name, kwargs, numpy form (ONNX semantics, NaN propagating through every comparison)
ACTS = [
    ("Relu", {}, lambda v, s: np.where(v < 0, 0.0, v)),
    ("Clip", dict(alpha=0.0, beta=6.0), lambda v, s: np.where(v > 6, 6.0, np.where(v < 0, 0.0, v))),
    ("Clip", dict(alpha=-0.5, beta=0.25), lambda v, s: np.where(v > 0.25, 0.25, np.where(v < -0.5, -0.5, v))),
    ("Clip", dict(alpha=1.0, beta=-1.0), lambda v, s: np.where(np.isnan(v), v, -1.0)),  # min > max
    ("LeakyRelu", dict(alpha=0.1), lambda v, s: np.where(v < 0, 0.1 * v, v)),
    ("PRelu", {}, lambda v, s: np.where(v < 0, s[None, :, None, None] * v, v)),
    ("HardSigmoid", dict(alpha=0.2, beta=0.5),
     lambda v, s: np.where(np.isnan(v), v, np.clip(0.2 * v + 0.5, 0, 1))),
    ("HardSwish", {}, lambda v, s: v * np.where(np.isnan(v), v, np.clip(v / 6 + 0.5, 0, 1))),
    ("HardSwish", dict(alpha=0.2, beta=0.5),  # x * HardSigmoid(x)
     lambda v, s: v * np.where(np.isnan(v), v, np.clip(0.2 * v + 0.5, 0, 1))),
    ("Sigmoid", {}, lambda v, s: sigmoid(v)),
    ("SiLU", {}, lambda v, s: v * sigmoid(v)),
]

# (c, k, h, w, kernel, pads, group): one geometry per algorithm (5x5 Winograd needs room)
GEOMS = {
    "gemm": (6, 13, 9, 10, (3, 3), (1, 1, 1, 1), 1),
    "1x1": (7, 13, 5, 9, (1, 1), (0, 0, 0, 0), 1),
    "1x1_chan": (7, 19, 7, 7, (1, 1), (0, 0, 0, 0), 1),  # 16 + 3 channels, 49 = 8 x 6 + 1 pixels
    "depthwise": (13, 13, 9, 10, (3, 3), (1, 1, 1, 1), 13),
    "grouped": (12, 18, 9, 10, (3, 3), (1, 1, 1, 1), 3),  # 6 per group: a full and a short block
    "winograd_f2x2_3x3": (6, 13, 9, 10, (3, 3), (1, 1, 1, 1), 1),
    "winograd_f4x4_3x3": (6, 13, 9, 10, (3, 3), (1, 1, 1, 1), 1),
    "winograd_f2x2_5x5": (6, 13, 11, 10, (5, 5), (2, 2, 2, 2), 1),
    "reference": (6, 12, 9, 10, (3, 3), (1, 1, 1, 1), 3),  # groups: slope per group
    "stem": (3, 13, 9, 10, (3, 3), (1, 1, 1, 1), 1),  # 4 + 4 + 4 + 1 channels
}


@pytest.mark.parametrize("algo", list(GEOMS))
@pytest.mark.parametrize("act", ACTS, ids=[f"{a[0]}{i}" for i, a in enumerate(ACTS)])
def test_activation_in_epilogue(ctx, algo, act):
    name, kw, ref_fn = act
    c, k, h, w, kernel, pads, group = GEOMS[algo]
    rng = np.random.default_rng(zlib.crc32(f"{algo} {name} {kw}".encode()))
    x = rng.standard_normal((2, c, h, w), dtype=np.float32) * 2
    x[1, 0, 2, 3] = np.nan  # reaches every output whose window holds it
    wt = rng.standard_normal((k, c // group) + kernel, dtype=np.float32)
    bias = rng.standard_normal(k, dtype=np.float32)
    slope = rng.standard_normal(k, dtype=np.float32) if name == "PRelu" else None
    geom = dict(pads=pads, group=group)
    plain = _kernels.Conv2d(ctx, wt, bias, algo="reference", **geom)
    shape = plain.output_shape(2, h, w)
    v = plain.run(x, np.empty(shape, np.float32)).astype(np.float64)
    ref = ref_fn(v, slope)
    conv = _kernels.Conv2d(ctx, wt, bias, algo=algo, activation=name, slope=slope, **kw, **geom)
    y = conv.run(x, np.full(shape, 7.0, np.float32))
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref), err_msg=f"{name} {kw} [{algo}]: NaN")
    fin = ~np.isnan(ref)
    # relative to the convolution's scale: a clipped output is small, its rounding is not
    err = np.abs(y[fin] - ref[fin]).max() / max(np.abs(v[fin]).max(), 1e-30)
    tol = 1e-4 if algo.startswith("winograd") else 1e-5
    assert err <= tol, f"{name} {kw} [{algo}] ({ctx}): rel err {err:.3g}"


def test_activation_arguments_are_checked(ctx):
    wt = np.ones((4, 1, 3, 3), np.float32)
    with pytest.raises(ValueError, match="unknown activation 'Gelu'"):
        _kernels.Conv2d(ctx, wt, None, algo="depthwise", group=4, activation="Gelu")
    with pytest.raises(ValueError, match=r"'PRelu' needs slope \[4\]"):
        _kernels.Conv2d(ctx, wt, None, algo="depthwise", group=4, activation="PRelu")
    with pytest.raises(ValueError, match="slope"):
        _kernels.Conv2d(ctx, wt, None, algo="depthwise", group=4, activation="PRelu",
                        slope=np.ones(3, np.float32))
    with pytest.raises(ValueError, match="relu=True and activation='Sigmoid'"):
        _kernels.Conv2d(ctx, wt, None, algo="depthwise", group=4, relu=True, activation="Sigmoid")


def assert_1x1_matches_numpy(y, x, wt, bias, res, name, kw, what):
    """y: a 1x1 convolution of x by wt[:k] (+ bias, + res) through activation name (kw), within
    1e-5 of numpy's float64 relative to the sums' scale"""
    v = np.einsum("kc,nchw->nkhw", wt[:, :, 0, 0].astype(np.float64), x.astype(np.float64))
    if bias is not None:
        v += bias[None, :, None, None]
    if res is not None:
        v += res
    ref = dict((a[0], a[2]) for a in ACTS if a[1] == kw).get(name, lambda v, s: v)(v, None)
    err = np.abs(y - ref).max() / np.abs(v).max()
    assert err <= 1e-5, f"{what}: rel err {err:.3g}"


# whole-tile stores (AVX2: one activation for all rows, its kind a constant) against the
# row-by-row stores of partial tiles: the same function, bit for bit
WHOLE_TILE_ACTS = [("", {}), ("Relu", {}), ("Clip", dict(alpha=0.0, beta=6.0)), ("HardSwish", {}),
                   ("LeakyRelu", dict(alpha=0.1)), ("HardSigmoid", dict(alpha=0.2, beta=0.5))]


@pytest.mark.parametrize("act", WHOLE_TILE_ACTS, ids=[a[0] or "none" for a in WHOLE_TILE_ACTS])
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("with_residual", [True, False], ids=["residual", "noresidual"])
def test_whole_tiles_store_what_partial_tiles_store(ctx, act, with_bias, with_residual):
    """AVX2 stores the tiles with all 16 columns through one epilogue, 6 or fewer rows (a
    last row panel), and the others row by row.  A 1x1 convolution with 12 output channels
    (two 6-row panels) and one with 11 (a 5-row panel): the rows both compute are equal bit
    for bit; 40 pixels (a last column panel of 8, row by row) against 48 (whole panels): the
    first 40 equal bit for bit (each output's sum and epilogue do not depend on the tile),
    and all match numpy.  Shallow (16 channels) and deeper (40) sums, maps of 40 and 64x4
    pixels."""
    name, kw = act
    for c, (h, w) in [(16, (5, 8)), (40, (4, 64))]:
        rng = np.random.default_rng(zlib.crc32(f"{name} {with_bias} {with_residual} {c}".encode()))
        x = rng.standard_normal((1, c, h, w), dtype=np.float32)
        wt = rng.standard_normal((12, c, 1, 1), dtype=np.float32)
        bias = rng.standard_normal(12, dtype=np.float32) if with_bias else None
        res = rng.standard_normal((1, 12, h, w), dtype=np.float32) if with_residual else None
        outs = []
        for k in (12, 11):
            conv = _kernels.Conv2d(ctx, wt[:k].copy(), None if bias is None else bias[:k].copy(),
                                   algo="1x1", activation=name, **kw)
            r = None if res is None else res[:, :k].copy()
            outs.append(conv.run(x, np.empty((1, k, h, w), np.float32), r))
        what = f"{name or 'none'} {kw} bias={with_bias} residual={with_residual} c={c} [{ctx}]"
        np.testing.assert_array_equal(outs[0][:, :11], outs[1], err_msg=what)
        if (h, w) == (5, 8):  # the same 40 pixels, then 8 more: whole column panels only
            x48 = np.concatenate([x.reshape(1, c, 1, 40), rng.standard_normal((1, c, 1, 8), dtype=np.float32)], 3)
            r48 = None if res is None else np.concatenate(
                [res.reshape(1, 12, 1, 40), np.zeros((1, 12, 1, 8), np.float32)], 3)
            conv = _kernels.Conv2d(ctx, wt, bias, algo="1x1", activation=name, **kw)
            y48 = conv.run(x48, np.empty((1, 12, 1, 48), np.float32), r48)
            np.testing.assert_array_equal(y48[..., :40].reshape(outs[0].shape), outs[0],
                                          err_msg=what + " (40 vs 48 pixels)")
        assert_1x1_matches_numpy(outs[0], x, wt, bias, res, name, kw, what)


@pytest.mark.parametrize("act", WHOLE_TILE_ACTS[:4], ids=[a[0] or "none" for a in WHOLE_TILE_ACTS[:4]])
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("with_residual", [True, False], ids=["residual", "noresidual"])
@pytest.mark.parametrize("c", [24, 400, 700], ids=["k1", "k2", "k3"])
def test_last_short_panels_and_k_blocks(ctx, act, with_bias, with_residual, c):
    """AVX2 runs a 1x1 layer's last panel of 4 or 2 rows (16 or 14 output channels: 6 + 6 + 4,
    6 + 6 + 2) through a kernel of its own, and the K blocks of a deep sum (400: two blocks,
    700: three) through kernels adding C: the rows of 16 and 14 channels equal bit for bit
    those of 18 (whole panels), 8 x 16 + 4 pixels (whole strips, then a last 4 columns), all
    match numpy."""
    name, kw = act
    h, w = 4, 33
    rng = np.random.default_rng(zlib.crc32(f"tail {name} {with_bias} {with_residual} {c}".encode()))
    x = rng.standard_normal((1, c, h, w), dtype=np.float32)
    wt = (rng.standard_normal((18, c, 1, 1), dtype=np.float32) / np.sqrt(c)).astype(np.float32)
    bias = rng.standard_normal(18, dtype=np.float32) if with_bias else None
    res = rng.standard_normal((1, 18, h, w), dtype=np.float32) if with_residual else None
    outs = {}
    for k in (18, 16, 14):
        conv = _kernels.Conv2d(ctx, wt[:k].copy(), None if bias is None else bias[:k].copy(),
                               algo="1x1", activation=name, **kw)
        r = None if res is None else res[:, :k].copy()
        outs[k] = conv.run(x, np.empty((1, k, h, w), np.float32), r)
    what = f"{name or 'none'} bias={with_bias} residual={with_residual} c={c} [{ctx}]"
    for k in (16, 14):
        np.testing.assert_array_equal(outs[18][:, :k], outs[k], err_msg=f"{what} k={k}")
    assert_1x1_matches_numpy(outs[18], x, wt, bias, res, name, kw, what)

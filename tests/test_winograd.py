"""Winograd3x3 (F(4x4,3x3) and F(2x2,3x3)) against a float64 direct convolution."""
import functools
import zlib

import numpy as np
import pytest

from tinycnn import _kernels

TOL = 1e-4  # max|diff| / max|ref|

ISAS = ["portable"] + (["avx2"] if _kernels.best_isa() == "avx2" else [])
CONTEXTS = [(isa, nt) for isa in ISAS for nt in (1, 2)]

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
    # several chunks of tiles: with 2 threads each thread runs whole chunks
    ("many chunks 128@62x64", 1, 128, 128, 62, 64, (1, 1, 1, 1)),
]


def conv_ref(x, w, b, pads):
    """Direct 3x3 stride-1 convolution in float64."""
    pt, pl, pb, pr = pads
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    N, C, H, W = xp.shape
    OH, OW = H - 2, W - 2
    w64 = w.astype(np.float64)
    y = np.zeros((N, w.shape[0], OH, OW))
    for i in range(3):
        for j in range(3):
            y += np.einsum("kc,nchw->nkhw", w64[:, :, i, j], xp[:, :, i:i + OH, j:j + OW],
                           optimize=True)
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
    return y


@functools.lru_cache(maxsize=None)
def case(name):
    """Inputs and float64 reference for a named shape (cached across contexts)."""
    _, N, C, K, H, W, pads = next(s for s in SHAPES if s[0] == name)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = (rng.standard_normal((K, C, 3, 3)) / np.sqrt(9 * C)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    return x, w, b, pads, conv_ref(x, w, None, pads)


def rel_err(got, ref):
    return float(np.max(np.abs(got - ref)) / max(np.max(np.abs(ref)), 1e-30))


@pytest.mark.parametrize("isa,threads", CONTEXTS)
@pytest.mark.parametrize("tile", [4, 2])
@pytest.mark.parametrize("name", [s[0] for s in SHAPES])
def test_winograd_matches_direct(name, tile, isa, threads):
    x, w, b, pads, ref = case(name)
    ctx = _kernels.Context(threads, isa)
    conv = _kernels.Winograd3x3(ctx, w, b, pads=pads, tile=tile)
    assert conv.algo == f"winograd{tile}"
    assert (conv.out_channels, conv.in_channels) == w.shape[:2]
    shape = conv.output_shape(*x.shape[:1], *x.shape[2:])
    assert shape == ref.shape, f"{name}: output_shape {shape} != {ref.shape}"
    y = np.full(shape, np.nan, dtype=np.float32)
    conv.run(x, y)
    ref_b = ref + b.astype(np.float64)[None, :, None, None]
    err = rel_err(y, ref_b)
    assert err <= TOL, (f"{name} F({tile}x{tile},3x3) {isa} x{threads}: y {shape} from x {x.shape} "
                        f"w {w.shape} pads {pads}: relative error {err:.3g} > {TOL}")


@pytest.mark.parametrize("isa,threads", CONTEXTS)
@pytest.mark.parametrize("tile", [4, 2])
@pytest.mark.parametrize("name", ["odd 5->7 13x11", "N=2 odd", "resnet 512@7", "vgg conv3 (scaled)",
                                  "wide rows (8 tiles side by side)"])
def test_winograd_fused_epilogue(name, tile, isa, threads):
    """No bias, residual (separate and aliasing y), relu, caller workspace."""
    x, w, b, pads, ref = case(name)
    ctx = _kernels.Context(threads, isa)
    rng = np.random.default_rng(7)
    res = rng.standard_normal(ref.shape).astype(np.float32)
    want = np.maximum(ref + res, 0.0)

    conv = _kernels.Winograd3x3(ctx, w, None, pads=pads, relu=True, tile=tile)
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

    conv_nb = _kernels.Winograd3x3(ctx, w, None, pads=pads, tile=tile)
    y3 = np.empty(ref.shape, dtype=np.float32)
    conv_nb.run(x, y3)
    err = rel_err(y3, ref)
    assert err <= TOL, f"{name} tile {tile} {isa} x{threads}: no bias, y {y3.shape}: {err:.3g}"
    assert np.min(y) >= 0.0


@pytest.mark.parametrize("tile", [4, 2])
def test_avx2_and_portable_agree(tile):
    if "avx2" not in ISAS:
        pytest.skip("no AVX2 on this CPU")
    x, w, b, pads, ref = case("N=3 many tiles")
    out = []
    for isa in ("portable", "avx2"):
        conv = _kernels.Winograd3x3(_kernels.Context(1, isa), w, b, pads=pads, tile=tile)
        y = np.empty(ref.shape, dtype=np.float32)
        out.append(conv.run(x, y))
    err = rel_err(out[1], out[0].astype(np.float64))
    assert err <= 1e-5, f"avx2 vs portable, tile {tile}, y {ref.shape}: {err:.3g}"


def test_bad_arguments_are_named():
    ctx = _kernels.Context(1, "portable")
    w = np.zeros((4, 3, 3, 3), np.float32)
    with pytest.raises(ValueError, match="weight"):
        _kernels.Winograd3x3(ctx, np.zeros((4, 3, 5, 5), np.float32))
    with pytest.raises(ValueError, match="tile"):
        _kernels.Winograd3x3(ctx, w, tile=3)
    with pytest.raises(ValueError, match="bias"):
        _kernels.Winograd3x3(ctx, w, np.zeros(5, np.float32))
    conv = _kernels.Winograd3x3(ctx, w, pads=(1, 1, 1, 1))
    x = np.zeros((1, 3, 8, 8), np.float32)
    with pytest.raises(ValueError, match="channels"):
        conv.run(np.zeros((1, 2, 8, 8), np.float32), np.zeros((1, 4, 8, 8), np.float32))
    with pytest.raises(ValueError, match="y must"):
        conv.run(x, np.zeros((1, 4, 7, 8), np.float32))
    with pytest.raises(ValueError, match="residual"):
        conv.run(x, np.zeros((1, 4, 8, 8), np.float32), residual=np.zeros((1, 4, 8, 7), np.float32))
    with pytest.raises(ValueError, match="workspace"):
        conv.run(x, np.zeros((1, 4, 8, 8), np.float32), workspace=np.zeros(1, np.float32))


@pytest.mark.parametrize("k,c,h,w,want", [
    (64, 3, 224, 224, 0),      # RGB input layer: transforms dominate
    (64, 64, 224, 224, 4), (128, 128, 112, 112, 4), (256, 256, 56, 56, 4),
    (512, 512, 28, 28, 4), (512, 512, 14, 14, 4),  # VGG-16
    (512, 512, 7, 7, 2),       # ResNet's last stage: too few 4x4 tiles
    (512, 512, 2, 2, 0),
])
def test_recommended_tile(k, c, h, w, want):
    got = _kernels.winograd_recommended(k, c, h, w)
    assert got == want, f"winograd_recommended(k={k}, c={c}, h={h}, w={w}) = {got}, expected {want}"

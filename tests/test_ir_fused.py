"""The banded inverted-residual block (csrc/ir_fused.c, _kernels.IRFused) against its three
layers run one after the other (Conv2d), which it must match bit for bit: every ISA, 1 and 2
threads, stride 1 and 2, 3x3 and 5x5, pads, each activation, with and without the residual,
odd sizes, batch 2, band heights from 1 row to the whole plane."""
import numpy as np
import pytest

from tinycnn import _kernels
from test_depthwise import ctx  # noqa: F401  (every ISA, AVX-512's depthwise included)


ACTS = [("", None, None), ("Relu", None, None), ("Clip", 0.0, 6.0), ("HardSwish", None, None),
        ("SiLU", None, None), ("Sigmoid", None, None), ("LeakyRelu", 0.1, None), ("PRelu", None, None)]


def _layers(ctx, rng, c0, e, k2, ks, stride, pads, acts, pw_algo="1x1"):
    def act(i, k):
        name, alpha, beta = acts[i]
        slope = rng.uniform(-0.5, 0.5, k).astype(np.float32) if name == "PRelu" else None
        return dict(activation=name, alpha=alpha, beta=beta, slope=slope)
    w1 = rng.standard_normal((e, c0, 1, 1), dtype=np.float32) / np.float32(np.sqrt(c0))
    wd = rng.standard_normal((e, 1, ks, ks), dtype=np.float32) / np.float32(ks)
    w2 = rng.standard_normal((k2, e, 1, 1), dtype=np.float32) / np.float32(np.sqrt(e))
    bias = lambda k: rng.standard_normal(k, dtype=np.float32)  # noqa: E731
    expand = _kernels.Conv2d(ctx, w1, bias(e), algo=pw_algo, **act(0, e))
    dw = _kernels.Conv2d(ctx, wd, bias(e), algo="depthwise", strides=(stride, stride), pads=pads,
                         group=e, **act(1, e))
    project = _kernels.Conv2d(ctx, w2, bias(k2), algo=pw_algo, **act(2, k2))
    return expand, dw, project


def _unfused(layers, x, residual):
    expand, dw, project = layers
    n, _, h, w = x.shape
    t1 = np.empty(expand.output_shape(n, h, w), np.float32)
    expand.run(x, t1, None, np.empty(expand.workspace_size(n, h, w), np.float32))
    t2 = np.empty(dw.output_shape(n, h, w), np.float32)
    dw.run(t1, t2, None, np.empty(dw.workspace_size(n, h, w), np.float32))
    y = np.empty(project.output_shape(*t2.shape[:1], *t2.shape[2:]), np.float32)
    project.run(t2, y, residual, np.empty(project.workspace_size(n, *t2.shape[2:]), np.float32))
    return y


CASES = [  # (n, c0, e, k2, h, w, ks, stride, pads)
    (1, 8, 24, 8, 13, 11, 3, 1, (1, 1, 1, 1)),
    (2, 5, 30, 7, 17, 9, 3, 2, (1, 1, 1, 1)),
    (1, 16, 40, 16, 15, 15, 5, 1, (2, 2, 2, 2)),
    (2, 6, 20, 9, 16, 19, 5, 2, (2, 2, 2, 2)),
    (1, 8, 16, 8, 7, 7, 3, 1, (0, 0, 0, 0)),
    (1, 4, 12, 6, 10, 13, 3, 2, (0, 1, 1, 0)),
    (1, 3, 9, 5, 1, 1, 3, 1, (1, 1, 1, 1)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "n{}c{}e{}k{}_{}x{}_k{}s{}p{}".format(
    *c[:8], "".join(map(str, c[8]))))
def test_fused_block_is_the_unfused_one_bit_for_bit(ctx, case):
    n, c0, e, k2, h, w, ks, stride, pads = case
    rng = np.random.default_rng(sum(map(int, case[:8])))
    for acts in [(ACTS[2], ACTS[2], ACTS[0]), (ACTS[3], ACTS[3], ACTS[0]),
                 (ACTS[4], ACTS[4], ACTS[1]), (ACTS[6], ACTS[7], ACTS[5])]:
        layers = _layers(ctx, rng, c0, e, k2, ks, stride, pads, acts)
        x = rng.standard_normal((n, c0, h, w), dtype=np.float32)
        oh, ow = layers[1].output_shape(n, h, w)[2:]
        with_residual = k2 == c0 and (oh, ow) == (h, w)
        for residual in [None] + ([x] if with_residual else []):
            want = _unfused(layers, x, residual)
            for band in sorted({1, 2, 3, 5, oh, oh + 4}):
                f = _kernels.IRFused(*layers, band)
                y = np.full(want.shape, np.nan, np.float32)
                f.run(x, y, residual, np.empty(f.workspace_size(h, w), np.float32))
                np.testing.assert_array_equal(
                    y, want, err_msg=f"y of the fused block, band {band}, acts {acts}, "
                                     f"residual {residual is not None}")


def test_fused_block_with_channel_lane_pointwise(ctx):
    rng = np.random.default_rng(7)
    layers = _layers(ctx, rng, 24, 72, 24, 3, 1, (1, 1, 1, 1), (ACTS[2], ACTS[2], ACTS[0]),
                     pw_algo="1x1_chan")
    x = rng.standard_normal((1, 24, 14, 14), dtype=np.float32)
    want = _unfused(layers, x, x)
    f = _kernels.IRFused(*layers, 4)
    y = f.run(x, np.empty_like(want), x, None)
    np.testing.assert_array_equal(y, want)


def test_fused_block_refuses_layers_that_do_not_chain(ctx):
    rng = np.random.default_rng(1)
    expand, dw, project = _layers(ctx, rng, 8, 16, 8, 3, 1, (1, 1, 1, 1), (ACTS[0],) * 3)
    with pytest.raises(ValueError, match="ir_fused: .*do not chain|ir_fused: .*that chain"):
        _kernels.IRFused(dw, expand, project, 4)
    with pytest.raises(ValueError, match="band 0"):
        _kernels.IRFused(expand, dw, project, 0)
    f = _kernels.IRFused(expand, dw, project, 4)
    x = rng.standard_normal((1, 8, 9, 9), dtype=np.float32)
    with pytest.raises(ValueError, match="y"):
        f.run(x, np.empty((1, 8, 8, 8), np.float32))
    with pytest.raises(ValueError, match="x"):
        f.run(x, x)

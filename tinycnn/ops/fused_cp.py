"""tinycnn::ConvMaxPool: a convolution (a tinycnn::Conv with its fused activation) whose output
only a MaxPool reads (SqueezeNet's, ResNet's, GoogLeNet's and DenseNet's stems and their 3x3/2
pools); found by graph._fuse_conv_maxpool.

Where the convolution runs as a banded stem (algo 'gemm' on a strided layer of few input
channels, or the direct 'stem') the pair is one call (csrc/conv.c tc_conv2d_maxpool_f32):
each band of the stem's rows pooled in its thread's buffer, the stem's output (SqueezeNet:
64 x 111 x 111, 3.2 MB) never written whole; elsewhere the two steps it was.  Both give the
same bits (for one algorithm).
"""
import numpy as np

from ..ir import Value
from . import FUSED_DOMAIN, op
from .common import bound_step, require_float, window_geometry
from .conv import _conv, conv_layer, conv_macs, conv_window
from .fused_ir import _conv_args
from .pool import _pool, pool_window


def _conv_out(X, W, conv):
    """The convolution's output Value (shape only) of input X.  Called for the cost of a node
    that planned, so its geometry is valid (window_geometry would need a node to name in an
    error)."""
    if X is None or W is None or X.ndim != 4:
        return None
    *_, out = window_geometry(None, X.shape[2:], list(W.shape[2:]), conv.get("strides"),
                              conv.get("dilations"), conv.get("pads"),
                              conv.get("auto_pad") or "NOTSET")
    return Value("", (X.shape[0], W.shape[0]) + tuple(out), np.float32)


def cp_macs(inputs, outputs, *, conv, **attrs):
    """The convolution's multiply-adds (the pool's maxima are not counted)."""
    X, W = (list(inputs) + [None, None])[:2]
    return conv_macs([X, W], [_conv_out(X, W, conv)])


def cp_window(inputs, outputs, *, conv, pool, **attrs):
    """(span, stride) of the pair: the pool's window over the convolution's outputs."""
    X, W = (list(inputs) + [None, None])[:2]
    a = conv_window([X, W], outputs, dilations=conv.get("dilations"),
                    strides=conv.get("strides"))
    b = pool_window([], outputs, kernel_shape=pool.get("kernel_shape"),
                    dilations=pool.get("dilations"), strides=pool.get("strides"))
    return [(sa + (sb - 1) * ta, ta * tb) for (sa, ta), (sb, tb) in zip(a, b)]


def _pool_args(pool):
    return dict(kernel_shape=pool.get("kernel_shape"), auto_pad=pool.get("auto_pad") or "NOTSET",
                ceil_mode=pool.get("ceil_mode", 0), dilations=pool.get("dilations"),
                pads=pool.get("pads"), strides=pool.get("strides"))


@op("ConvMaxPool", domain=FUSED_DOMAIN, cost=cp_macs, window=cp_window)
def ConvMaxPool(n, X, W, B=None, S=None, *, conv, pool):
    """Conv (with its fused activation; S: a PRelu's slope) -> MaxPool; conv, pool: the
    tinycnn::Conv's and the MaxPool's attributes."""
    require_float(n, X, W, B)
    act, geo = _conv_args(n, conv, S, W.shape[0] if W is not None else 0)
    fused = _plan_fused(n, X, W, B, act, geo, pool)
    if fused is not None:
        return fused
    (y,) = _conv(n, X, W, B, None, act, geo["auto_pad"], geo["dilations"], geo["group"],
                 geo["kernel_shape"], geo["pads"], geo["strides"])
    return _pool(n, y, "max", **_pool_args(pool))


def _plan_fused(n, X, W, B, act, geo, pool):
    """The one-call step, or None where the kernel does not take the pair."""
    if X.ndim != 4 or W is None or W.const is None or (B is not None and B.const is None):
        return None
    c = conv_layer(n, X, W, B, act, geo["auto_pad"], geo["dilations"], geo["group"],
                   geo["kernel_shape"], geo["pads"], geo["strides"])
    if c.layer is None or c.algo not in ("gemm", "stem"):
        # The direct stem (algo 'stem') in these bands since s18 (tc_stem_rows_f32 into the
        # pool's buffer): SqueezeNet's 3->64 + pool 0.889x [0.87-0.90] of the GEMM bands
        # (ops/conv_algo.py).  s17-grp had found the fusion itself a wash on ShuffleNetV2's
        # 3->24 + pool (fused / unfused 1.01 [0.97-1.11]); s18 again 1.006 [0.97-1.03]
        # (subgraph_shapes.py, 10 rounds, bit-identical): its gap to ORT is the stem kernel.
        return None
    q = _pool(n, Value("", c.out_shape, np.float32), "max", **_pool_args(pool), plan_only=True)
    if q is None or 0 in q.y4:
        return None
    _, _, h, w = c.x4
    oh, ow = q.y4[2:]
    layer = c.layer
    geometry = (q.kernel, q.strides, q.pads, q.dilations)
    if not layer.maxpool_supported(h, w, *geometry, oh, ow):
        return None
    ws = layer.maxpool_workspace_size(h, w, *geometry, oh, ow)
    x4, y4 = c.x4, q.y4

    def conv_maxpool(x, y, *rest):
        return layer.bind_maxpool(x.reshape(x4), y.reshape(y4), *geometry,
                                  rest[0] if rest else None)
    return n.emit(bound_step(conv_maxpool), [X], [(q.out_shape, np.float32)], workspace=ws)

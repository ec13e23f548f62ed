"""tinycnn::Fire: SqueezeNet's fire module, a squeeze 1x1 -> an expand 1x1 and an expand 3x3
(each a tinycnn::Conv with its fused activation) -> the Concat of the two expands along the
channels; found by graph._fuse_fire.

Where the three convolutions plan as a banded kernel takes them (the squeeze and expand1x1 as
1x1 GEMMs, the expand3x3 keeping the map's size) the module is one call (csrc/fire_fused.c):
bands of rows, the squeeze's band staying in cache, both expands written straight into their
slices of the Concat's output; one parallel call instead of three.  Elsewhere it runs as the
three convolutions and the Concat it was.  Both give the same bits.

Measured in SqueezeNet 1.1 (AVX2 emulation, per step, min of 60 profiled runs, fused and
unfused sessions alternating in one process, 2026-12-02 06:18-06:25, load 5-7), fused / the
three unfused steps: 1 thread, 55x55 fires 1.01-1.21 and 1.14-1.31, 27x27 1.07-1.11, 13x13
0.96-1.05; at the whole map as one band 1.10-1.26 at 55x55, so not the banding: the copy of
the expand3x3's band into its slice (Winograd writes dense planes) costs most of it (without
the copy, wrong output, 0.94 and 1.10 at 55x55, 1.03 at 27x27, 1.0 at 13x13).  2 threads:
0.89-0.96 at 55x55 without the copy, 13x13 (two bands of 8 and 5 rows) 1.4-1.6.
"""
import numpy as np

from .. import _kernels as K
from ..ir import Value
from . import FUSED_DOMAIN, op
from .common import bound_step, require_float
from .conv import _conv, conv_layer, conv_window
from .fused_ir import _conv_args
from .tensor import Concat

_STAGES = ("squeeze", "expand1x1", "expand3x3")
# Bands are whole multiples of this many rows: a Winograd expand3x3 (F(4x4) or F(2x2)) then
# cuts its tiles where the whole image's are, and gives the unfused bits.
FIRE_BAND_ALIGN = 4
# ... of at least this many pixels: the expand3x3's GEMMs (Winograd: one per frequency, over
# the band's tiles) need enough columns.  Lone fires (AVX2 emulation, 1 thread, min of 100,
# fused / unfused, 2026-12-02 06:20, loaded host), bands of 4 8 16 rows and the whole map:
# 64-16-64+64 at 55x55 0.90 0.87 0.90 0.87; 256-32-128+128 at 27x27 1.14 0.94 0.92 0.93;
# 384-64-256+256 at 13x13 2.06 1.23 - 0.90 (4 rows of 13: 4 F(4x4) tiles per GEMM).
FIRE_BAND_MIN_PIXELS = 400


def band_rows(h, w, threads):
    """Rows per band: the fewest (a multiple of FIRE_BAND_ALIGN) of FIRE_BAND_MIN_PIXELS, then
    fewer where that leaves a thread without a band."""
    a = FIRE_BAND_ALIGN
    band = max(a, -(-FIRE_BAND_MIN_PIXELS // w // a) * a)
    while band > a and (band * w < FIRE_BAND_MIN_PIXELS):
        band += a
    band = min(band, -(-h // a) * a)
    if threads > 1 and -(-h // band) < threads:
        band = max(a, -(-(-(-h // threads)) // a) * a)
    return band


def _values(inputs):
    X, Ws, Bs, W1, B1, W3, B3, Ss, S1, S3 = (list(inputs) + [None] * 10)[:10]
    return X, ((Ws, Bs, Ss), (W1, B1, S1), (W3, B3, S3))


def fire_macs(inputs, outputs, **attrs):
    """The three convolutions' multiply-adds."""
    X, ((Ws, _, _), (W1, _, _), (W3, _, _)) = _values(inputs)
    if X is None or Ws is None or W1 is None or W3 is None or X.ndim != 4:
        return 0
    n, c0, h, w = X.shape
    return n * h * w * (Ws.shape[0] * c0 + W1.shape[0] * W1.shape[1] +
                        int(np.prod(W3.shape[:])))


def fire_window(inputs, outputs, *, expand3x3, **attrs):
    """The expand3x3's (span, stride): the 1x1 ones keep each pixel's field."""
    X, (_, _, (W3, _, _)) = _values(inputs)
    return conv_window([X, W3], outputs, dilations=expand3x3.get("dilations"),
                       strides=expand3x3.get("strides"))


@op("Fire", domain=FUSED_DOMAIN, cost=fire_macs, window=fire_window)
def Fire(n, X, Ws, Bs=None, W1=None, B1=None, W3=None, B3=None, Ss=None, S1=None, S3=None, *,
         squeeze, expand1x1, expand3x3, e1_first=1):
    """Conv 1x1 -> (Conv 1x1, Conv 3x3) -> Concat along the channels, expand1x1's channels
    first when e1_first, else expand3x3's; squeeze, expand1x1, expand3x3: each tinycnn::Conv's
    attributes (S: a PRelu's slope)."""
    require_float(n, X, Ws, W1, W3, Bs, B1, B3)
    stages = ((Ws, Bs, Ss, squeeze), (W1, B1, S1, expand1x1), (W3, B3, S3, expand3x3))
    fused = _plan_banded(n, X, stages, bool(e1_first))
    if fused is not None:
        return fused
    outs = []
    for tag, (W, B, S, attrs) in zip(_STAGES, stages):
        act, geo = _conv_args(n, attrs, S, W.shape[0] if W is not None else 0)
        (y,) = _conv(n, outs[0] if outs else X, W, B, None, act, geo["auto_pad"],
                     geo["dilations"], geo["group"], geo["kernel_shape"], geo["pads"],
                     geo["strides"], tag=tag)
        outs.append(y)
    _, e1, e3 = outs
    return Concat(n, *((e1, e3) if e1_first else (e3, e1)), axis=1)


def _plan_banded(n, X, stages, e1_first):
    """The banded module's step, or None where it does not apply."""
    if X.ndim != 4 or any(W is None or W.const is None or W.ndim != 4 for W, _, _, _ in stages):
        return None
    if any(B is not None and B.const is None for _, B, _, _ in stages):
        return None
    planned = []
    for tag, (W, B, S, attrs) in zip(_STAGES, stages):
        act, geo = _conv_args(n, attrs, S, W.shape[0])
        x = X if tag == "squeeze" else Value("", planned[0].out_shape, np.float32)
        planned.append(conv_layer(n, x, W, B, act, geo["auto_pad"], geo["dilations"],
                                  geo["group"], geo["kernel_shape"], geo["pads"], geo["strides"],
                                  tag))
    sq, e1, e3 = planned
    nb, _, h, w = X.shape
    s, k1, k3 = sq.out4[1], e1.out4[1], e3.out4[1]
    if (sq.algo not in ("1x1", "1x1_chan") or e1.algo not in ("1x1", "1x1_chan")
            or e3.algo == "reference" or e3.w4_shape[1] != s or tuple(e3.strides) != (1, 1)
            or sq.layer.in_channels != X.shape[1] or e1.layer.in_channels != s
            or e3.layer.in_channels != s or tuple(e1.out4[2:]) != (h, w)
            or tuple(e3.out4[2:]) != (h, w)):
        return None
    ky = k1 + k3
    c1, c3 = (0, k1) if e1_first else (k3, 0)
    band = band_rows(h, w, n.options.num_threads)
    fire = n.cached(("fire_fused", band, c1, c3),
                    lambda: K.FireFused(sq.layer, e1.layer, e3.layer, band, ky, c1, c3))
    bind, out4 = fire.bind, (nb, ky, h, w)
    ws = fire.workspace_size(h, w)

    def fire_module(x, y, *ws_):
        return bind(x, y.reshape(out4), ws_[0] if ws_ else None)
    return n.emit(bound_step(fire_module), [X], [(out4, np.float32)], workspace=ws)

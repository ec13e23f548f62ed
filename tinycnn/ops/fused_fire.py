"""tinycnn::Fire: SqueezeNet's fire modules, one or several in a row (graph._fuse_fire): each
a squeeze 1x1 whose output only an expand 1x1 and an expand 3x3 read, their outputs
concatenated along channels, the next module's squeeze reading that Concat alone.

For two modules or more on maps of at least FIRE_MIN_PIXELS, where the planner picks the 1x1
GEMMs and Winograd expand 3x3s, the modules run as one call (csrc/fire.c): each thread takes a
band of rows through every module, one pool job a module, the Concats but the last staying in
the band's own buffer, where the split steps wrote halves of every plane and each next layer
read them from L3 (csrc/threadpool.c, h36-2t); at 1 thread the one band is the whole map.
Elsewhere the convolutions and the Concats they were.  Both give the same bits.
"""
import numpy as np

from .. import _kernels as K
from ..ir import Value
from . import FUSED_DOMAIN, op
from .common import bound_step, require_float
from .conv import conv_layer, conv_window
from .fused_ir import _conv_args
from .fused_pg import _conv_stage
from .tensor import Concat

# Where the modules run as one call: FIRE_MIN_MODULES in a row (one module a call was level at 2
# threads, benchmarks/fire_module.patch: the next squeeze read the Concat's planes from L3) on
# maps of FIRE_MIN_PIXELS.  Measured (h46-sq, 2026-12-06 22:3x, AVX2 emulation, SqueezeNet,
# ab_threads.py --fifo, 30-40 rounds x 10, new / ref46, both orders, the same bits; host at load
# 13-15, its 2-thread runs at their 1-thread time most of the while): 1 thread, features.3 + .4
# as one call 0.978 / 0.986 (burst medians / minima), ref-first 0.980 / 0.978 (inverted), again
# 0.988 / 0.987; with the 27x27 pair too (against the 55x55 pair alone) 0.999 / 0.993, the
# 13x13 four as well 0.996 / 0.994: level, left as layers.  2 threads, 22:4x, the host in its
# fast state (runs 3.8-4.2 ms): new-first 0.987 / 0.989, 0.978 / 0.973, 0.952 / 0.950, ref-first
# inverted 0.974 / 0.972, 0.970 / 0.964, 0.963 / 0.966 (the order alone is worth ~2% here: both
# orders needed); steps_ab.py --threads 2 under chrt, 200 x 5: the pair 0.887 [0.852-0.925] of
# its six steps, the max pool after it 1.14 (+7 us), the run 0.974 [0.947-0.992].  In the slow
# state (2-thread runs at their 1-thread time, 22:3x) level: 1.005 / 0.999, ref-first 0.997 /
# 0.990 (fixed bands cannot hand work to the faster thread).  The 27x27 pair too at 2 threads
# (against the 55x55 pair alone) 0.977 / 0.970, inverted 1.018 / 1.025: level.  Again (h51-sq,
# 2026-12-07 13:48, ab_threads.py --fifo 40 x 10 against 7581eb8, both orders, the same bits):
# FIRE_MIN_PIXELS 27 * 27 0.995 [0.991-1.012], inverted 1.002: level; 13 * 13 (the 13x13 four
# as one call too, its 4 rows of 4-row tiles in bands of 8 | 5 rows) 1.056 [1.050-1.065],
# inverted 1.057 [1.045-1.066]: slower.
FIRE_MIN_PIXELS = 55 * 55
FIRE_MIN_MODULES = 2
FIRE_MIN_THREADS = 1

_STAGES = ("squeeze", "expand1", "expand3")


def _modules(weights, squeeze, expand1, expand3):
    """[((Ws, Bs, squeeze), (W1, B1, expand1), (W3, B3, expand3))] a module"""
    weights = list(weights) + [None] * (6 * len(squeeze) - len(weights))
    return [tuple((weights[6 * j + 2 * i], weights[6 * j + 2 * i + 1], attrs[j])
                  for i, attrs in enumerate((squeeze, expand1, expand3)))
            for j in range(len(squeeze))]


def fire_macs(inputs, outputs, *, squeeze, **attrs):
    """The convolutions' multiply-adds."""
    X = inputs[0] if inputs else None
    weights = list(inputs[1:]) + [None] * (6 * len(squeeze))
    if X is None or X.ndim != 4:
        return 0
    n, c, h, w = X.shape
    macs = 0
    for j in range(len(squeeze)):
        Ws, W1, W3 = weights[6 * j], weights[6 * j + 2], weights[6 * j + 4]
        if Ws is None or W1 is None or W3 is None:
            return 0
        macs += Ws.shape[0] * c + W1.shape[0] * Ws.shape[0] + W3.shape[0] * int(np.prod(W3.shape[1:]))
        c = W1.shape[0] + W3.shape[0]
    return n * h * w * macs


def fire_window(inputs, outputs, *, expand3, **attrs):
    """The expand 3x3s' (span, stride) one after the other: the 1x1 layers keep each pixel's
    field."""
    spans = []
    for j, a in enumerate(expand3):
        W3 = (list(inputs) + [None] * (6 * len(expand3) + 1))[5 + 6 * j]
        spans.append(conv_window([None, W3], outputs, dilations=a.get("dilations"),
                                 strides=a.get("strides")))
    return [(1 + sum(s[d][0] - 1 for s in spans), 1) for d in range(len(spans[0]))]


@op("Fire", domain=FUSED_DOMAIN, cost=fire_macs, window=fire_window)
def Fire(n, X, *weights, squeeze, expand1, expand3):
    """Per module Conv 1x1 (squeeze) -> Conv 1x1 and Conv 3x3 (expands) -> Concat along
    channels, each convolution with its fused activation; weights: each module's Ws, Bs, W1,
    B1, W3, B3 (a B None for none); squeeze, expand1, expand3: each module's tinycnn::Conv
    attributes."""
    require_float(n, X, *weights)
    modules = _modules(weights, squeeze, expand1, expand3)
    fused = _plan_fused(n, X, modules)
    if fused is not None:
        return fused
    y = X
    for j, stages in enumerate(modules):
        (s,) = _conv_stage(n, y, _stage(*stages[0]), f"squeeze.{j}", False)
        (y1,) = _conv_stage(n, s, _stage(*stages[1]), f"expand1.{j}", False)
        (y3,) = _conv_stage(n, s, _stage(*stages[2]), f"expand3.{j}", False)
        (y,) = Concat(n, y1, y3, axis=1)
    return [y]


def _stage(W, B, attrs):
    """A module's (W, B, attrs) as fused_pg's stage (W, B, S, attrs): no PRelu slope"""
    return W, B, None, attrs


def _plan_fused(n, X, modules):
    """The one-call step, or None where it does not apply."""
    if (n.options.num_threads < FIRE_MIN_THREADS or len(modules) < FIRE_MIN_MODULES or X.ndim != 4
            or X.shape[2] * X.shape[3] < FIRE_MIN_PIXELS
            or any(W is None or W.const is None or W.ndim != 4 or (B is not None and B.const is None)
                   for stages in modules for W, B, _ in stages)):
        return None
    layers, x = [], X
    for j, stages in enumerate(modules):
        planned = []
        for tag, (W, B, attrs) in zip(_STAGES, stages):
            act, geo = _conv_args(n, attrs, None, W.shape[0])
            c = conv_layer(n, x if tag == "squeeze" else s, W, B, act, geo["auto_pad"],
                           geo["dilations"], geo["group"], geo["kernel_shape"], geo["pads"],
                           geo["strides"], f"{tag}.{j}")
            planned.append(c)
            if tag == "squeeze":
                s = Value("", c.out_shape, np.float32)
        sq, e1, e3 = planned
        if (any(c.layer is None for c in planned) or sq.algo not in ("1x1", "1x1_chan")
                or e1.algo not in ("1x1", "1x1_chan")
                or e3.algo not in ("winograd_f4x4_3x3", "winograd_f2x2_3x3")
                or e1.out_shape[2:] != X.shape[2:] or e3.out_shape[2:] != X.shape[2:]
                or e3.layer.pads != (1, 1, 1, 1)):
            return None
        layers += [c.layer for c in planned]
        x = Value("", (X.shape[0], e1.out_shape[1] + e3.out_shape[1]) + X.shape[2:], np.float32)
    block = n.cached(("fire",), lambda: K.Fire(*layers))
    h, w = X.shape[2:]
    bind, ws = block.bind, block.workspace_size(h, w)

    def fire(x, y, *ws_):
        return bind(x, y, ws_[0] if ws_ else None)
    return n.emit(bound_step(fire), [X], [(x.shape, np.float32)], workspace=ws)

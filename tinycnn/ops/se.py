"""tinycnn::SqueezeExcite: the squeeze-and-excitation block found by graph._fuse_se.

GlobalAveragePool -> Conv 1x1 [+ activation] -> Conv 1x1 + Sigmoid or HardSigmoid -> Mul
with the block input, run as one kernel call (csrc/se.c) that materializes only the pooled
channels, the hidden layer and the gates.  tinycnn::SqueezeExciteGate stops at the gates when
the 1x1 convolution that follows folds the scale into its weights (graph._fold_se_gate).
"""
import numpy as np

from .. import _kernels as K
from . import FUSED_DOMAIN, op
from .common import bound_step, require_float


def se_macs(inputs, outputs, **attrs):
    """The scale (one multiply per element; SqueezeExciteGate: the pool's add) and the two
    small dense layers."""
    X, W1 = inputs[0], inputs[1]
    return 0 if X is None or W1 is None else X.size + 2 * X.shape[0] * W1.shape[0] * W1.shape[1]


def _matrix(n, name, W, rows, cols):
    if W is None or W.const is None:
        raise n.error(f"{name} must be a constant")
    if W.ndim != 4 or W.shape != (rows, cols, 1, 1):
        raise n.error(f"{name} {W.shape} must be [{rows}, {cols}, 1, 1]")
    return np.ascontiguousarray(W.const, np.float32).reshape(rows, cols)


def _vector(n, name, B, k):
    if B is None:
        return None
    if B.const is None or B.size != k:
        raise n.error(f"{name} {B.shape} must be {k} constant values")
    return np.ascontiguousarray(B.const, np.float32).reshape(-1)


def _se_layer(n, X, W1, B1, W2, B2, activation, activation_alpha, activation_beta, gate,
              gate_alpha, gate_beta):
    """The planned kernel (tinycnn._kernels.SqueezeExcite) of either op, cached per node."""
    require_float(n, X, W1, W2, B1, B2)
    if X.ndim < 3:
        raise n.error(f"input X must be [N, C, spatial...], got shape {X.shape}")
    if W1 is None or W1.ndim != 4:
        raise n.error(f"W1 must be [C1, {X.shape[1]}, 1, 1], got {None if W1 is None else W1.shape}")
    c, c1 = X.shape[1], W1.shape[0]
    w1, w2 = _matrix(n, "W1", W1, c1, c), _matrix(n, "W2", W2, c, c1)
    b1, b2 = _vector(n, "B1", B1, c1), _vector(n, "B2", B2, c)
    try:
        layer = n.cached(("se", activation, activation_alpha, activation_beta, gate, gate_alpha,
                          gate_beta), lambda: K.SqueezeExcite(
            n.ctx, w1, b1, w2, b2, activation=activation, gate=gate, alpha=activation_alpha,
            beta=activation_beta, gate_alpha=gate_alpha, gate_beta=gate_beta))
    except ValueError as e:
        raise n.error(str(e)) from None
    return layer


@op("SqueezeExcite", domain=FUSED_DOMAIN, cost=se_macs)
def SqueezeExcite(n, X, W1, B1=None, W2=None, B2=None, *, activation="", activation_alpha=None,
                  activation_beta=None, gate="Sigmoid", gate_alpha=None, gate_beta=None):
    """X * gate(W2 . act(W1 . mean(X) + B1) + B2): squeeze-and-excitation in one pass.
    W1 [C1, C, 1, 1], W2 [C, C1, 1, 1] constant."""
    layer = _se_layer(n, X, W1, B1, W2, B2, activation, activation_alpha, activation_beta, gate,
                      gate_alpha, gate_beta)
    run = layer.run

    def squeeze_excite(x, y, *ws):
        run(x, y, ws[0] if ws else None)
    return n.emit(squeeze_excite, [X], [(X.shape, np.float32)], inplace={0: 0},
                  workspace=layer.workspace_size(X.shape[0]))


# Where the SE blocks stand on the AMD EPYC Zen 4 host (s20, AVX2 emulation, 1 thread,
# 2026-12-03 00:15-00:45): from the depthwise's output to the projection's (se_shapes.py
# --from se, one process, median) 0.57-0.70 of onnxruntime's time on the 28x28-112x112
# blocks, 0.79-0.93 on 14x14 and 7x7; in the networks (mt_steps.py, profiled) the gates of
# MobileNetV3-Large's 960-channel blocks take 58-61 us against onnxruntime's two 1x1 nodes'
# 103-107.  The blocks' remaining losses are elsewhere (per step in the cut blocks, run_profiled
# against onnxruntime's profiler, medians of 600): the 5x5 stride-2 depthwise with its
# activation and means 1.07-1.5 of onnxruntime's Conv and activation (MobileNetV3-Large's
# features.4, 72 @ 56x56, 76-85 us against 49; EfficientNet-B0's features.3.0, 144 @ 56x56,
# 180 against 98 + 47), and the shallow 24 -> 72 expansion at 56x56 122-145 us against 103.
# Running a 7x7 block as one step would save only the per-step fixed cost: a chain of 40
# tiny convolutions runs in 5.3 us a run against 0.65 for one (~0.12 us a step).  The 7x7
# projections kept the scale as its own pass (ops/conv.py _folds_gate: K > HW / 2), 6.3 us
# (672 x 49) to 10 us (1152 x 49) a block; scaling a copy of x inside tc_conv2d_scaled_f32
# instead (tried, s20) is the same multiplications and saves only that step's call.  Since
# h42-se (2026-12-06) the GEMM driver's aligned copy of B, which it makes at 7x7 anyway,
# scales x's rows (the same bits): that pass is gone there (csrc/gemm_internal.h
# TC_GEMM_COPY_MAX_N_AVX2 has the measurements); 14x14 keeps it.  That
# rule re-measured here (whole SE blocks cut from the networks, every projection folded /
# the rule, one process, 31 alternating rounds, median [25-75%]): K = 112 at 14x14 0.986-1.004
# [0.92-1.04] (EfficientNet-B0's features.5.0 and .5.1, MobileNetV3-Large's .11 and .12),
# K = 160-320 at 7x7 1.014-1.053 (MobileNetV3-Large's .13 and .14, EfficientNet-B0's .6.1
# and .7.0): it holds on this host.
# On the Intel Xeon host (s32, AVX2 emulation, 1 thread, steps_vs_ort.py, 20 rounds, minima):
# MobileNetV3-Large's gate steps take 0.113 / 0.117 ms (960 channels) and 0.055-0.057 (672)
# against onnxruntime's fc1 + fc2 nodes' 0.114 / 0.114 and 0.060-0.069 (plus its pool, Mul
# and reorders): both stream the 0.9-1.8 MB of weights from memory at ~16 GB/s (budget.py's
# copy bandwidth past 4 MiB: 30 GB/s read + write).  The gates are level with onnxruntime's;
# the network's 0.83 of its time is spread over the expansions, depthwise layers and
# projections (0.85-0.90 per block at 14x14 and 7x7), not here.
@op("SqueezeExciteGate", domain=FUSED_DOMAIN, cost=se_macs)
def SqueezeExciteGate(n, X, W1, B1=None, W2=None, B2=None, P=None, *, activation="",
                      activation_alpha=None, activation_beta=None, gate="Sigmoid",
                      gate_alpha=None, gate_beta=None):
    """gate(W2 . act(W1 . mean(X) + B1) + B2) as [N, C, 1...]: SqueezeExcite without the
    scale, which the 1x1 convolution after it folds into its weights (graph._fold_se_gate,
    tinycnn::Conv's input G).  P: mean(X) [N, C, 1, 1], pooled by the depthwise convolution
    that wrote X (graph._se_pool_in_depthwise): X is then not read."""
    layer = _se_layer(n, X, W1, B1, W2, B2, activation, activation_alpha, activation_beta, gate,
                      gate_alpha, gate_beta)
    bind = layer.bind_gate
    out = [(X.shape[:2] + (1,) * (X.ndim - 2), np.float32)]
    if P is not None:
        require_float(n, P)
        if P.size != X.shape[0] * X.shape[1]:
            raise n.error(f"P {P.shape} must hold the N * C = {X.shape[0] * X.shape[1]} means "
                          f"of X {X.shape}")
        nc = X.shape[:2]
        # the grouped convolution that pools P loads the weights into L2 as it computes:
        # RegNetY-400MF's gates at 7x7 took 29 us from memory, 6 from cache.  A depthwise
        # producer ignores it.  Tried and dropped (s17-se, 2026-12-02, AVX2 emulation, 1
        # thread, thread CPU time, median of 60, the block's kernels in turn after a 24 MB /
        # 4 MB flush): the depthwise prefetching a share of the weights after each task's
        # planes (all, or the first 256 KB / 512 KB / 1 MB) made MobileNetV3-Large's gates
        # at 960 channels 84 -> 58 us but its 5x5 depthwise 127 -> 171 (672 at 14x14: gate
        # 55 -> 45, depthwise 189 -> 226; 576 at 7x7: 40 -> 35, 83 -> 105): the bursts stall
        # the depthwise, and 1.8 MB of weights do not fit the 1 MiB L2 beside its planes;
        # whole networks 0.99-1.01 (in one process, sessions with and without).
        # Re-measured (h39-rg, Intel Xeon, 2 MiB L2, AVX2 emulation, 1 thread, 2026-12-06):
        # RegNetY-400MF without this prefetch (benchmarks/const_ab.py, reads_next=noop, 30
        # rounds, the same bits) 1.011 [1.000-1.027] and 1.019 [0.990-1.048] of its time: it
        # pays.  Its price is in the grouped step: 440 channels at 7x7 alone 43-46 us, with the
        # means 46-50, with the means and this prefetch from memory 48-56 (in the network,
        # steps_ab.py --steps, 64 us; the gate 12, its lone time with the weights in L2 6.9).
        # The gate's two GEMVs as packed panels (tc_dense_f32, other bits) instead of rows in
        # place, lone with the weights in cache: 440 <-> 104 7.6 -> 5.2 us, 208 <-> 52 2.7 ->
        # 1.8, 104 <-> 26 1.3 -> 0.8: ~20 us a RegNetY run (0.2%), not taken.
        n.reads_next(n.node.inputs[5], layer.weights)

        def squeeze_excite_pooled(x, p, g, *ws):
            return bind(x, g, ws[0] if ws else None, means=p.reshape(nc))
        return n.emit(bound_step(squeeze_excite_pooled), [X, P], out, workspace=layer.hidden)

    def squeeze_excite_gate(x, g, *ws):
        return bind(x, g, ws[0] if ws else None)
    return n.emit(bound_step(squeeze_excite_gate), [X], out,
                  workspace=layer.gate_workspace_size(X.shape[0]))

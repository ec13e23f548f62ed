"""QLinearMatMul, MatMulInteger and com.microsoft QGemm on the 8-bit GEMM.

A constant right operand is packed once (minus its zero points, per column); a
run-time one is packed at every run.  The requantization scale of column n is
a_scale * b_scale[n] / y_scale in float32 (QGemm: alpha * a_scale * b_scale[n],
then / y_scale), as onnxruntime computes it.
"""
import numpy as np

from .. import _kernels as K
from . import op
from .common import UnsupportedOperator, bound_step, gemm_shapes, matmul_shapes, prod
from .qcommon import Q8, all_const, scalar_param, scales, type_range, zero_points

MS_DOMAIN = "com.microsoft"


# U7S8's cost grows with the share of the input's bytes outside its window of 128 values
# around the zero point (tinycnn.h): few after a ReLU (zero point <= 32: bytes >= 128, 0.1-7%
# of ResNet-50's) or after a projection or a residual Add (zero points 110-149: 0.05-2.4% of
# the bytes of MobileNetV2's and EfficientNet-B0's expansions, on photographs), but most of
# an image's pixels: the stems (3 channels, zero point 114) would correct 94-99% of their
# 4-k groups (ResNet-50's 7x7 stem 4.9 times S16X2's time).  Against S16X2 its gain is the
# main pass's (the vpmaddubsw + vpmaddwd pair does 4 k in the multiplier ports' time
# vpmaddwd does 2 k of S16X2, with half the additions and broadcasts), so it needs enough
# input channels to pay for its correction pass and its split of the rows.  Lone expansions
# with a mid-range zero point (real weights and photographs, emulated AVX2, 1 thread,
# 2026-12-01 08:06-08:10, U7S8 / S16X2): C = 16-32 0.93-1.07; 40 0.90-0.91; 64 0.88-0.92;
# 80-112 0.83-0.89; 160-192 0.81-0.87; 320 0.80-0.82.  With the split's AVX2 twin and the
# two-row output stage (MobileNetV2's expansions, its weights and activations, 2026-12-01
# 11:17, U7S8 / S16X2 us): C = 16 525 / 500; 24 226.5 / 227.5; 32 84.8 / 93.5.  With a
# tile's panels in one kernel call for kpad <= 32 (qgemm.c, 2026-12-01 12:47-12:50, same
# setup): C = 16 (16 -> 96 at 112x112) 482-493 / 492-508; 24 (24 -> 144 at 56x56, random
# activations around zero point 144) 214-216 / 224-226.  Later (2026-12-01 17:27, the
# networks' own weights and activations, 3 alternated sessions, thread CPU us) C = 16 turned
# the other way: MobileNetV2's 16 -> 96 at 112x112 (zero point 144) 470-490 / 440-453,
# EfficientNet-B0's (zero point 134) 476-493 / 446-451: so from 24 channels.  Again on the Zen
# 4 host (s18-q, 2026-12-02 17:05, benchmarks/qconv_layers.py --set
# ops.qmatmul._U7S8_MIN_CHANNELS=16 against the same build): MobileNetV2's 16 -> 96 1.07 of
# S16X2's time.  With S16X2's tiles per call up to kpad 32 (s20-q, qgemm.c; 2026-12-03 00:33,
# qconv_layers.py --set ops.qmatmul._U7S8_MIN_CHANNELS=32 against the same build, 8 rounds):
# MobileNetV2's 24 -> 144 at 56x56 (zero point 144) S16X2 160.9 / U7S8 185.2 us (0.87); its
# 32 -> 192 at 28x28 (features.5 and .6, --set ..=40) 68.0 / 70.9 and 68.0 / 70.1 (on random
# activations, fewer bytes outside U7S8's window, tc_qgemm alone had U7S8 69.6 / S16X2 72.1):
# so past 32 channels, where S16X2 leaves the tiles' path (kpad > 32).
# Its split of the rows is shared by the output channels' panels: with one panel (16
# channels or fewer) S16X2 is faster.  Lone MobileNetV2 features.1 projection 32 -> 16 at
# 112x112 (its weights and activations, zero point 0, emulated AVX2, 1 thread, 2026-12-01
# 14:10, thread CPU us): U7S8 165-166, S16X2 146-147, U8S8X2 190-191.  Again with its tiles
# read in place and in runs per kernel call (s21-q, 2026-12-03, not kept; qgemm.c,
# TC_QU7S8_IN_PLACE): 1.14-1.17x S16X2's time, the multiplies being the same.
# On the Intel Xeon (n32-q, 2026-12-05, emulated AVX2, 1 thread, qconv_layers.py --set
# against the same build, 10 rounds): _U7S8_MIN_CHANNELS=24 took MobileNetV2's 24 -> 144 at
# 56x56 to 1.21-1.22 of S16X2's time and its 32 -> 192 at 28x28 to 1.05-1.07; S16X2 for every
# expansion (=100000) its 64 -> 384 and 96 -> 576 at 14x14 and 160 -> 960 at 7x7 to 1.15-1.24
# of U7S8's: the thresholds hold there too.  On a photograph (n34-q, 2026-12-05, the Xeon,
# qconv_layers.py --input photo --set _U7S8_MAX_X_ZERO_POINT=-1 --set _U7S8_MIN_CHANNELS=100000
# against the same build, 4 x 10 runs), where ResNet-50 int8's 1x1 layers take 1.05-1.20 of
# their time on noise: S16X2 for its zero-point-0 layers 1.04-1.25 of U7S8's time in layer1
# (56x56), 1.31-1.40 at 14x14 and 7x7, layer4.1's 3x3 1.29: U7S8 stays, on pictures too.
_U7S8_MAX_X_ZERO_POINT = 32
_U7S8_MIN_CHANNELS = 33
_U7S8_MIN_OUTPUTS = 17


def gemm_format(ctx, w16, x_dtype, x_zero_point):
    """The packed layout of weights w16 ([N, ..., C] int16, minus their zero point, C the
    input channels of a group) for a GEMM or a direct convolution: K.qgemm_choose_format_for's,
    except that 8-bit weights which AVX2 without VNNI would widen to S16X2 take U7S8
    (vpmaddubsw on the input's part in a window of 7 bits around its zero point, a second
    pass over the few groups with a byte outside) when the input is uint8 with a low zero
    point, or a mid-range one and more than 32 channels, and more than 16 outputs.  Lone 1x1 layers of ResNet-50 (its
    weights, inputs with no byte >= 128, emulated AVX2, 1 thread, 2026-12-01, S16X2 / U7S8
    ms): 256->64 at 56x56 1.06 / 0.88; 1024->256 at 14x14 1.02 / 0.80; 2048->512 at 7x7
    1.08 / 0.83."""
    k = w16.shape[0]
    direct = K.qgemm_choose_format_for(ctx, np.ascontiguousarray(w16.reshape(k, -1)))
    if direct == "s16x2" and u7s8_suits(w16, x_dtype, x_zero_point, mid_zero_point=True):
        return "u7s8"
    return direct


def u7s8_suits(w16, x_dtype, x_zero_point, mid_zero_point):
    """Whether U7S8 suits weights w16 ([N, ..., C] int16, minus their zero point) on an input
    of x_dtype with x_zero_point: a uint8 input, more than 16 outputs, 8-bit weights, and a
    low zero point (its window of 7 bits holds most bytes), or with mid_zero_point also a
    mid-range one where there are more than 32 channels."""
    return x_dtype == np.uint8 and w16.shape[0] >= _U7S8_MIN_OUTPUTS and w16.size > 0 \
        and w16.min() >= -128 and w16.max() <= 127 \
        and (x_zero_point <= _U7S8_MAX_X_ZERO_POINT or
             (mid_zero_point and w16.shape[-1] >= _U7S8_MIN_CHANNELS))


def _w16(n, b, b_zero_point, nn):
    """B [K, N] minus its zero point(s) (one or one per column) -> int16 [N, K]."""
    z = np.zeros(1, np.int32) if b_zero_point is None else \
        zero_points(n, b_zero_point, "b zero point", b.dtype, nn)
    return np.ascontiguousarray((b.astype(np.int16) - z.astype(np.int16)).T)


def _matmul(n, A, B, out_dtype, make_output, params, a_zp_of):
    """y = A @ B with numpy broadcasting.  params: the quantization parameter Values, the
    last one B's zero point; make_output(*others) -> QOutput of the N columns,
    a_zp_of(*others) -> A's zero point."""
    if A.dtype not in Q8 or B.dtype not in Q8:
        raise n.error(f"A {A.dtype} and B {B.dtype} must be uint8 or int8")
    a_shape, b_shape, batch, m, k, nn, final = matmul_shapes(n, A, B)
    ctx = n.ctx
    out = batch + (m, nn)
    if B.ndim <= 2 and all_const(B, *params):
        consts = [None if p is None else p.const for p in params]
        layer = n.cached(("qgemm",), lambda: K.QGemm(
            ctx, _w16(n, np.asarray(B.const).reshape(k, nn), consts[-1], nn),
            make_output(*consts[:-1])))
        az = a_zp_of(*consts[:-1])
        rows = prod(a_shape[:-1])

        def bind(a, y, ws):
            return layer.bind(a.reshape(rows, k), az, y.reshape(rows, nn), ws)
        return n.emit(bound_step(bind), [A], [(final, out_dtype)],
                      workspace=layer.workspace_size(rows))
    present = [p for p in params if p is not None]
    slots = [i for i, p in enumerate(params) if p is not None]

    def qmatmul_runtime(a, b, *rest):
        args = [None] * len(params)
        for i, v in zip(slots, rest[:-1]):
            args[i] = v
        y3 = rest[-1].reshape(out).reshape(-1, m, nn)
        a3 = np.broadcast_to(a.reshape(a_shape), batch + (m, k)).reshape(-1, m, k)
        b3 = np.broadcast_to(b.reshape(b_shape), batch + (k, nn)).reshape(-1, k, nn)
        output = make_output(*args[:-1])
        az = a_zp_of(*args[:-1])
        for i in range(y3.shape[0]):
            layer = K.QGemm(ctx, _w16(n, b3[i], args[-1], nn), output)
            layer.run(np.ascontiguousarray(a3[i]), az, y3[i])
    return n.emit(qmatmul_runtime, [A, B] + present, [(final, out_dtype)])


def qmatmul_macs(inputs, outputs, **attrs):
    """prod(batch dims) * M * N * K."""
    A, Y = inputs[0], outputs[0]
    return 0 if Y is None else Y.size * A.shape[-1]


def _qlinear_matmul(n, a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point):
    for v, what in ((a_scale, "a_scale"), (b_scale, "b_scale"), (y_scale, "y_scale")):
        if v.dtype not in (np.float32, np.float16):
            raise n.error(f"{what} of type {v.dtype} is not supported (float32 and float16 are)",
                          UnsupportedOperator)
    if y_zero_point is None:
        raise n.error("y_zero_point is required")
    y_dtype = y_zero_point.dtype
    nn = b.shape[-1] if b.ndim > 1 else 1

    def make_output(as_, az, bs, ys, yz):
        as_v, _ = scalar_param(n, as_, az, a.dtype, "a")
        ys_v, yz_v = scalar_param(n, ys, yz, y_dtype, "y")
        scale = (np.float32(as_v) * scales(n, bs, "b scale", nn)) / np.float32(ys_v)
        lo, hi = type_range(y_dtype)
        return K.QOutput(y_dtype, None, np.ascontiguousarray(scale, np.float32), yz_v, lo, hi)

    def a_zp(as_, az, bs, ys, yz):
        return scalar_param(n, as_, az, a.dtype, "a")[1]
    return _matmul(n, a, b, y_dtype, make_output,
                   [a_scale, a_zero_point, b_scale, y_scale, y_zero_point, b_zero_point], a_zp)


@op("QLinearMatMul", since=10, cost=qmatmul_macs)
def QLinearMatMul(n, a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point):
    """numpy matmul of uint8/int8 tensors, requantized; per-column b parameters."""
    return _qlinear_matmul(n, a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale,
                           y_zero_point)


@op("MatMulInteger", since=10, cost=qmatmul_macs)
def MatMulInteger(n, A, B, a_zero_point=None, b_zero_point=None):
    """int32 result of (A - a_zero_point) @ (B - b_zero_point); per-column b_zero_point."""
    if a_zero_point is not None and a_zero_point.size > 1:
        raise n.error("a per-row a_zero_point is not supported", UnsupportedOperator)

    def make_output(az):
        return K.QOutput(np.int32)

    def a_zp(az):
        if az is None:
            return 0
        return int(zero_points(n, az, "a zero point", A.dtype, 1)[0])
    return _matmul(n, A, B, np.int32, make_output, [a_zero_point, b_zero_point], a_zp)


@op("QGemm", since=1, until=1, domain=MS_DOMAIN, cost=qmatmul_macs)
def QGemm(n, A, a_scale, a_zero_point, B, b_scale, b_zero_point, C=None, y_scale=None,
          y_zero_point=None, *, alpha=1.0, transA=0, transB=0):
    """Y = alpha * A'B' (+ int32 C), requantized (y_zero_point) or float32 (no y_zero_point)."""
    if A.dtype not in Q8 or B.dtype not in Q8:
        raise n.error(f"A {A.dtype} and B {B.dtype} must be uint8 or int8")
    m, k, nn = gemm_shapes(n, A, B, transA, transB)
    if C is not None and C.dtype != np.int32:
        raise n.error(f"C has type {C.dtype}; QGemm's C is int32")
    if C is not None and not (C.size == 1 or C.size == nn and (C.ndim == 1 or C.shape[0] == 1)):
        raise n.error(f"C {C.shape}: only a bias per column ([{nn}] or [1, {nn}]) is supported",
                      UnsupportedOperator)
    y_dtype = y_zero_point.dtype if y_zero_point is not None else np.dtype(np.float32)
    ctx = n.ctx
    params = [a_scale, a_zero_point, b_scale, b_zero_point, C, y_scale, y_zero_point]

    def make(bt, as_, az, bs, bz, c, ys, yz):
        as_v, az_v = scalar_param(n, as_, az, A.dtype, "a")
        scale = np.float32(alpha) * np.float32(as_v) * scales(n, bs, "b scale", nn)
        if ys is not None:
            scale = scale / scales(n, ys, "y scale", 1)[0]
        bias = None
        if c is not None:
            bias = np.ascontiguousarray(np.broadcast_to(np.asarray(c, np.int32).reshape(-1), (nn,)))
        if yz is not None:
            ys_v, yz_v = scalar_param(n, ys, yz, y_dtype, "y")
            lo, hi = type_range(y_dtype)
            out = K.QOutput(y_dtype, bias, np.ascontiguousarray(scale, np.float32), yz_v, lo, hi)
        else:
            out = K.QOutput(np.float32, bias, np.ascontiguousarray(scale, np.float32))
        b2 = np.asarray(bt)
        b2 = b2.T if transB else b2
        w16 = _w16(n, b2, bz, nn)
        return K.QGemm(ctx, w16, out, gemm_format(ctx, w16, A.dtype, az_v)), az_v

    if all_const(B, *params):
        layer, az = n.cached(("qgemm",), lambda: make(B.const, *[None if p is None else p.const
                                                                 for p in params]))

        def qgemm(a, y, ws):
            if transA:
                a = np.ascontiguousarray(a.T)
            layer.run(a, az, y, ws)
        return n.emit(qgemm, [A], [((m, nn), y_dtype)], workspace=layer.workspace_size(m))
    present = [p for p in params if p is not None]
    slots = [i for i, p in enumerate(params) if p is not None]

    def qgemm_runtime(a, b, *rest):
        args = [None] * len(params)
        for i, v in zip(slots, rest[:-1]):
            args[i] = v
        layer, az = make(b, *args)
        layer.run(np.ascontiguousarray(a.T) if transA else a, az, rest[-1])
    return n.emit(qgemm_runtime, [A, B] + present, [((m, nn), y_dtype)])

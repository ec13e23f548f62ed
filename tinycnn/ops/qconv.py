"""QLinearConv, ConvInteger and tinycnn::QLinearConv (with a fused ReLU/Clip).

Integer convolutions over channels-last images (the input is converted once if it
comes in ONNX's layout; the output stays channels last for the next quantized op).
The weights, minus their zero point, are packed once per node; the requantization
scale of output channel k is x_scale * w_scale[k] / y_scale in float32, as
onnxruntime computes it, and the sums are exact in 32 bits.
"""
import numpy as np

from .. import _kernels as K
from ..ir import CHANNELS_LAST
from . import FUSED_DOMAIN, op
from .common import UnsupportedOperator, bound_step, window_geometry
from .conv import conv_macs, conv_window
from .qcommon import Q8, all_const, scalar_param, scales, type_range, zero_points
from .qelementwise import emit_lookup, lookup_op_table, qlinear_binary
from .qmatmul import gemm_format, u7s8_suits


def _geometry(n, X, W, group, kernel_shape, auto_pad, dilations, pads, strides):
    """Checks shapes; returns (4-D conv params..., out_shape) with 1-D convs as 2-D."""
    if X.dtype not in Q8 or W.dtype not in Q8:
        raise n.error(f"x {X.dtype} and w {W.dtype} must be uint8 or int8")
    if X.ndim < 3:
        raise n.error(f"input x must be [N, C, spatial...], got shape {X.shape}")
    if X.ndim > 4:
        raise n.error(f"only 1-D and 2-D convolution is supported; x has shape {X.shape}",
                      UnsupportedOperator)
    if W.ndim != X.ndim:
        raise n.error(f"weight w {W.shape} and input x {X.shape} must have the same rank")
    if 0 in X.shape[1:] or 0 in W.shape:
        raise n.error(f"input x {X.shape} and weight w {W.shape} may not have empty dims")
    group = int(group)
    c, k = X.shape[1], W.shape[0]
    if group < 1 or c % group or k % group or W.shape[1] * group != c:
        raise n.error(f"input x {X.shape} has {c} channels; weight w {W.shape} with group={group} "
                      f"expects {W.shape[1] * group}")
    if kernel_shape is not None and list(kernel_shape) != list(W.shape[2:]):
        raise n.error(f"kernel_shape={list(kernel_shape)} disagrees with weight w {W.shape}")
    ks, st, dl, pb, pe, out = window_geometry(n, X.shape[2:], list(W.shape[2:]), strides,
                                              dilations, pads, auto_pad)
    out_shape = (X.shape[0], k) + tuple(out)
    if X.ndim == 3:
        st, dl, pb, pe, out = [1] + st, [1] + dl, [0] + pb, [0] + pe, [1] + out
    return group, tuple(st), (pb[0], pb[1], pe[0], pe[1]), tuple(dl), out_shape


def _weights16(n, w, w_zero_point, k):
    """w minus its zero point(s), int16, as [K, KH, KW, C/group] (channels last)."""
    z = zero_points(n, w_zero_point, "w zero point", w.dtype, k) if w_zero_point is not None \
        else np.zeros(1, np.int32)
    w16 = w.astype(np.int16) - z.astype(np.int16).reshape((-1,) + (1,) * (w.ndim - 1))
    if w.ndim == 3:
        w16 = w16[:, :, None, :]
    return np.ascontiguousarray(w16.transpose(0, 2, 3, 1))


def _bias(n, b, k):
    if b is None:
        return None
    b = np.asarray(b)
    if b.dtype != np.int32:
        raise n.error(f"bias B has type {b.dtype}; QLinearConv's bias is int32")
    if b.size != k:
        raise n.error(f"bias B {b.shape} must have {k} values (output channels)")
    return np.ascontiguousarray(b.reshape(-1))


def _layer(n, ctx, conv, w, w_zero_point, output, out_shape, x_dtype, x_zero_point):
    group, st, pads, dl = conv
    w16 = _weights16(n, w, w_zero_point, w.shape[0])
    return K.QConv2d(ctx, w16, output, strides=st, pads=pads, dilations=dl, group=group,
                     format=_format(ctx, w16, group, st, dl, out_shape, x_dtype, x_zero_point))


# After a ReLU, U7S8's correction pass (bytes past its window, few) costs less than
# U8S8X2's (weight pairs past 128) once more than a 32nd of U8S8X2's groups need one.  Lone
# ResNet-18 layer4.1.conv1 (512 at 7x7, its weights and activations, zero point 0, emulated
# AVX2 1t, thread CPU us, 2026-12-01 20:40, min of 20 alternated, U8S8X2 / U7S8): 8-bit
# weights (20% of the groups corrected) 1592-1653 / 1336-1347; 7-bit (reduce_range, none)
# 1290-1323 / 1333-1347.
_U8S8X2_MAX_SHARE = 1 / 32
# and a 1x1 convolution after a ReLU (zero point <= 64) takes U7S8 in place of U8S8X2 from
# this many input channels (csrc/qgemm.c TC_QU7S8_LONG_K: the long kernels, whose tiles at
# zero point 0 are read in place and leave the paired 8-k loop only for the steps with a byte
# above its widths, qgemm_u7s8_steps_avx2.c), or with a last half panel (N % 16 in 1..8:
# U7S8's 6 x 16 kernel runs it at 8 columns).  MobileNetV2 int8's projections: once
# qdq._pair_channels has paired their input channels, few of U8S8X2's weight pairs need its
# correction pass and they took U8S8X2 (h38-qmv, 2026-12-05: the network's projections never
# ran the steps kernel; a projection cut alone keeps the file's order and took U7S8).
# Measured (the Xeon, emulated AVX2 1t, benchmarks/qblock_rotate.py: a block cut so that
# the pairing applies, the projection's step, feeds rotated run by run, 16-20 rounds, U7S8 /
# U8S8X2 medians, bit-identical; U7S8 with the bitmask scan of qgemm_u7s8_steps_avx2.c):
# 384 -> 64 at 14x14 0.951, 576 -> 96 0.915, 960 -> 320 at 7x7 0.882; 96 -> 24 and 144 -> 24
# at 56x56 0.872 and 0.849.  Left: 144 / 192 -> 32 at 28x28 1.053-1.065 (so not every kpad);
# 192 -> 64 at 14x14 0.959 (not taken: K < 224, N % 16 == 0).  In the network (qsteps.py
# --input photo, 40 x 10, both orders, step minima): the ten K >= 384 projections 0.933 /
# 0.949 of their time, the 56x56 ones 0.89-0.94, the whole run's steps 0.985 / 0.984.  With
# _U7S8_OVER_U8S8X2_SMALL_N, whole runs against the base (both orders): 1 thread
# (int8_inputs.py, 40 rounds) photo 0.983 / 0.970, noise 0.978 / 0.977; 2 threads
# (ab_threads.py --fifo --input photo, 50 x 10, twice each order, burst medians) 0.990,
# 0.985, 0.996, 0.982.
_U7S8_OVER_U8S8X2_K = 224
# and below 14x14 only from this many outputs: at 2 threads (qblock_rotate.py --threads 2
# under chrt -f 10, 20 rounds, rotated medians) 576 -> 160 and 960 -> 160 at 7x7 took 1.021
# and 1.100 of U8S8X2's time (49 rows: 13 tiles of 4 rows in each column chunk against 9 of
# 6; at 1 thread level), 960 -> 320 0.987 (1t 0.882), the 14x14 ones 0.92-0.96, 56x56 0.85-0.88
_U7S8_OVER_U8S8X2_SMALL_N = 320


def _format(ctx, w16, group, strides, dilations, out_shape, x_dtype=np.uint8, x_zero_point=0):
    """The packed layout: the direct path's (K.qgemm_choose_format_for, in QConv2d), or the
    exact integer Winograd F(2x2, 3x3) where it measured faster on AVX2 without VNNI (lone
    layers, emulated AVX2, 1 thread, 2026-11-30, direct S16X2 / U8S8X2 / Winograd ms):
    64->64 at 56x56 2.33 / 1.76 / 1.45; 128 at 28x28 2.17 / 1.70 / 1.29; 256 at 14x14
    2.28 / 1.72 / 1.41; 512 at 7x7 3.16 / 2.05 / 2.30; 256 at 7x7 0.87 / 0.60 / 0.67;
    16 at 56x56 0.30 / 0.25 / 0.22; 24->48 at 14x14 0.052 / 0.044 / 0.054.  Instructions
    (callgrind, millions per layer, same order): 64 at 56x56 24.6 / 17.3 / 15.6; 128 at 28x28
    23.0 / 15.7 / 12.6; 256 at 14x14 22.5 / 15.3 / 12.1; 512 at 7x7 24.2 / 16.5 / 15.1 (there
    the packed weights, 8 MiB, are the cost).  So: against
    S16X2 (8-bit weights) everywhere, against U8S8X2 (7-bit weights) on maps of 14x14 and
    more, where the 16/9 larger packed weights are streamed over enough tiles; channels a
    multiple of 16 or many (the transform pads them to 16).  VNNI (S8X4) keeps the direct
    path.  Against U7S8 (8-bit weights after a ReLU) as against U8S8X2, from 14x14 up: at
    7x7 the byte kernel is faster (ResNet-18 layer4.1.conv1, 512 at 7x7, its weights and
    activations, 2026-12-01 20:30, thread CPU us, min of 20: U7S8 1358-1420, Winograd
    1629-1895; with 256 MiB read between runs 1574-1584 / 1832-1836).  Else the direct
    path's layout: None for QConv2d's own choice, or 'u7s8' (gemm_format, or in place of
    U8S8X2 after a ReLU when more than _U8S8X2_MAX_SHARE of its groups need a correction,
    and for 1x1 from _U7S8_OVER_U8S8X2_K channels or a last half panel, below 14x14 from
    _U7S8_OVER_U8S8X2_SMALL_N outputs)."""
    k, kh, kw, cg = w16.shape
    direct = gemm_format(ctx, w16, x_dtype, x_zero_point) if group == 1 else None
    if direct == "u8s8x2" and (kh, kw) != (1, 1) and \
            u7s8_suits(w16, x_dtype, x_zero_point, mid_zero_point=False) and \
            K.qgemm_u8s8x2_share(np.ascontiguousarray(w16.reshape(k, -1))) > _U8S8X2_MAX_SHARE:
        direct = "u7s8"
    if direct == "u8s8x2" and (kh, kw) == (1, 1) and \
            (cg >= _U7S8_OVER_U8S8X2_K or 0 < k % 16 <= 8) and \
            (min(out_shape[2:]) >= 14 or k >= _U7S8_OVER_U8S8X2_SMALL_N) and \
            u7s8_suits(w16, x_dtype, x_zero_point, mid_zero_point=False):
        direct = "u7s8"
    own = "u7s8" if direct == "u7s8" else None  # else QConv2d's own choice
    if (kh, kw) != (3, 3) or group != 1 or tuple(strides) != (1, 1) or \
            tuple(dilations) != (1, 1) or (cg % 16 and cg < 64):
        return own
    if direct == "s8x4" or not K.qconv_winograd_fits(w16):
        return own
    if direct in ("u8s8x2", "u7s8") and min(out_shape[2:]) < 14:
        return own
    return "winograd"


def _emit(n, X, inputs, out_shape, out_dtype, make, R=None):
    """Schedule the convolution: make(arrays of the parameters) -> (layer, x zero point),
    built once now when every parameter is a constant, else at every run.  R: the other
    operand of a fused QLinearAdd (the output may take its buffer)."""
    X = n.to_layout(X, CHANNELS_LAST)
    nb, c = X.shape[:2]
    h, w = (1,) + X.shape[2:] if X.ndim == 3 else X.shape[2:]
    x4 = (nb, h, w, c)
    ctx = n.ctx
    data = [X] + ([n.to_layout(R, CHANNELS_LAST)] if R is not None else [])
    inplace = {0: 1} if R is not None else None
    if all_const(*inputs):
        layer, xz = n.cached(("qconv",), lambda: make(*[v.const if v is not None else None
                                                        for v in inputs]))
        y4 = layer.output_shape(nb, h, w)

        def qconv(x, *rest):  # bound once per arena: the checks and views at plan time
            r = rest[0].reshape(y4) if R is not None else None
            return layer.bind(x.reshape(x4), xz, rest[-2].reshape(y4), rest[-1], r)
        return n.emit(bound_step(qconv), data, [(out_shape, out_dtype)], layout=CHANNELS_LAST,
                      workspace=layer.workspace_size(nb, h, w), inplace=inplace)
    present = [v for v in inputs if v is not None]
    slots = [i for i, v in enumerate(inputs) if v is not None]
    nd = len(data)

    def qconv_runtime(x, *rest):
        args = [None] * len(inputs)
        for i, a in zip(slots, rest[nd - 1:-1]):
            args[i] = a
        layer, xz = make(*args)
        y4 = layer.output_shape(nb, h, w)
        r = rest[0].reshape(y4) if R is not None else None
        layer.run(x.reshape(x4), xz, rest[-1].reshape(y4), None, r)
    return n.emit(qconv_runtime, data + present, [(out_shape, out_dtype)], layout=CHANNELS_LAST,
                  inplace=inplace)


def _qlinearconv(n, X, x_scale, x_zero_point, W, w_scale, w_zero_point, y_scale, y_zero_point,
                 B, auto_pad, dilations, group, kernel_shape, pads, strides, clamp=None,
                 add=None, lut=None):
    """add: (R, [A_scale, A_zero_point, B_scale, B_zero_point, C_scale, C_zero_point],
    the convolution is A) of a fused com.microsoft QLinearAdd, R of the output's shape;
    lut: the 256-byte table of a fused lookup op, applied last."""
    conv = _geometry(n, X, W, group, kernel_shape, auto_pad, dilations, pads, strides)
    *conv, out_shape = conv
    k = W.shape[0]
    y_dtype = y_zero_point.dtype if y_zero_point is not None else X.dtype
    if y_zero_point is None:
        raise n.error("y_zero_point is required")
    if X.dtype == np.int8 and (W.dtype != np.int8 or y_dtype != np.int8):
        raise n.error(f"int8 input x needs int8 w and y (got w {W.dtype}, y {y_dtype})",
                      UnsupportedOperator)
    params = [x_scale, x_zero_point, W, w_scale, w_zero_point, y_scale, y_zero_point, B]
    R = None
    if add is not None:
        R, add_params, conv_is_a = add
        if R.dtype != y_dtype:
            raise n.error(f"the residual {R.dtype} and the convolution's output {y_dtype} differ")
        params += add_params

    def make(xs, xz, w, ws, wz, ys, yz, b, *add_values):
        xs_, xz_ = scalar_param(n, xs, xz, X.dtype, "x")
        ys_, yz_ = scalar_param(n, ys, yz, y_dtype, "y")
        wsc = scales(n, ws, "w scale", k)
        if wz is not None:
            zero_points(n, wz, "w zero point", W.dtype, k)
        # onnxruntime: x_scale * w_scale[k] / y_scale, in float32, in that order
        scale = (np.float32(xs_) * wsc) / np.float32(ys_)
        lo, hi = type_range(y_dtype)
        if clamp is not None:  # the real bounds quantized like the output
            bounds = [_quantized_bound(c, ys_, yz_) for c in clamp]
            lo = lo if bounds[0] is None else max(lo, min(hi, bounds[0]))
            hi = hi if bounds[1] is None else min(hi, max(lo, bounds[1]))
        residual = None
        if add_values:
            a_s, a_z = scalar_param(n, add_values[0], add_values[1], y_dtype, "A")
            b_s, b_z = scalar_param(n, add_values[2], add_values[3], y_dtype, "B")
            c_s, c_z = scalar_param(n, add_values[4], add_values[5], y_dtype, "C")
            residual = (a_s, a_z, b_s, b_z, c_s, c_z, conv_is_a)
        out = K.QOutput(y_dtype, _bias(n, b, k), np.ascontiguousarray(scale, np.float32), yz_,
                        lo, hi, residual, lut)
        return _layer(n, n.ctx, conv, np.asarray(w), wz, out, out_shape, X.dtype, xz_), xz_

    return _emit(n, X, params, out_shape, y_dtype, make, R)


def _quantized_bound(v, scale, zero_point):
    """round(v / scale) + zero_point (None for no bound), kept within int32."""
    if v is None:
        return None
    q = np.float32(v) / np.float32(scale)
    return int(np.clip(np.rint(q), -2 ** 30, 2 ** 30)) + zero_point


def qconv_macs(inputs, outputs, **attrs):
    """As Conv: one multiply-add per weight per output pixel."""
    return conv_macs([inputs[0], inputs[3]], outputs)


def qconv_window(inputs, outputs, **attrs):
    return conv_window([inputs[0], inputs[3]], outputs, **attrs)


@op("QLinearConv", since=10, cost=qconv_macs, window=qconv_window, channels_last=True)
def QLinearConv(n, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point,
                B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
                pads=None, strides=None):
    """1-D and 2-D, groups and depthwise; per-channel w_scale and w_zero_point; 32-bit sums."""
    return _qlinearconv(n, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale,
                        y_zero_point, B, auto_pad, dilations, group, kernel_shape, pads, strides)


@op("QLinearConv", since=1, domain=FUSED_DOMAIN, cost=qconv_macs, window=qconv_window,
    channels_last=True)
def FusedQLinearConv(n, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point,
                     B=None, R=None, A_scale=None, A_zero_point=None, B_scale=None,
                     B_zero_point=None, C_scale=None, C_zero_point=None, *lookup_params,
                     auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None,
                     strides=None, clip_min=None, clip_max=None, residual_a=1, lookup=None,
                     lookup_alpha=0.01, lookup_sigmoid_is_a=0):
    """QLinearConv with a fused ReLU or Clip ([clip_min, clip_max] clamps the real output),
    then a fused com.microsoft QLinearAdd(conv, R) (residual_a) or QLinearAdd(R, conv),
    then a fused lookup op (`lookup`: QLinearSigmoid, QLinearLeakyRelu, QLinearSigmoidMul,
    lookup_params its inputs after X, lookup_* its attributes) on the result."""
    lut = None
    if lookup is not None:
        y_dtype = y_zero_point.dtype if y_zero_point is not None else x.dtype
        lut = lookup_op_table(n, lookup, y_dtype, list(lookup_params), alpha=lookup_alpha,
                              sigmoid_is_a=lookup_sigmoid_is_a)
    elif lookup_params:
        raise n.error(f"{len(lookup_params)} inputs after C_zero_point without a lookup")
    clamp = None
    if clip_min is not None or clip_max is not None:
        clamp = (None if clip_min is None else float(clip_min),
                 None if clip_max is None else float(clip_max))
    conv = (x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B,
            auto_pad, dilations, group, kernel_shape, pads, strides, clamp)
    if R is None:
        return _qlinearconv(n, *conv, lut=lut)
    add_params = [A_scale, A_zero_point, B_scale, B_zero_point, C_scale, C_zero_point]
    out_shape = _geometry(n, x, w, group, kernel_shape, auto_pad, dilations, pads, strides)[-1]
    if R.shape == out_shape:
        return _qlinearconv(n, *conv, add=(R, add_params, bool(residual_a)), lut=lut)
    # a residual that broadcasts: the convolution, then the add (and the lookup) on its own
    (y,) = _qlinearconv(n, *conv)
    ab = (y, R) if residual_a else (R, y)
    (y,) = qlinear_binary(n, "add", ab[0], A_scale, A_zero_point, ab[1], B_scale, B_zero_point,
                          C_scale, C_zero_point)
    return (y,) if lut is None else emit_lookup(n, y, lut)


def cinteger_macs(inputs, outputs, **attrs):
    return conv_macs(inputs[:2], outputs)


@op("ConvInteger", since=10, cost=cinteger_macs, window=conv_window, channels_last=True)
def ConvInteger(n, x, w, x_zero_point=None, w_zero_point=None, *, auto_pad="NOTSET",
                dilations=None, group=1, kernel_shape=None, pads=None, strides=None):
    """uint8/int8 in, int32 out: sum of (x - x_zero_point) * (w - w_zero_point)."""
    conv = _geometry(n, x, w, group, kernel_shape, auto_pad, dilations, pads, strides)
    *conv, out_shape = conv
    k = w.shape[0]

    def make(xz, wt, wz):
        xz_ = 0
        if xz is not None:
            xz_ = int(zero_points(n, xz, "x zero point", x.dtype, 1)[0])
        return _layer(n, n.ctx, conv, np.asarray(wt), wz, K.QOutput(np.int32), out_shape,
                      x.dtype, xz_), xz_

    return _emit(n, x, [x_zero_point, w, w_zero_point], out_shape, np.int32, make, None)

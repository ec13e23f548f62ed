"""QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear: float32 <-> 8-bit.

Per-tensor and per-axis parameters; element-wise, so channels-last tensors stay
channels last (a per-axis parameter on the channel axis follows it).  Rounding is
onnxruntime's: x / scale in float32, round half to even, saturate.
"""
import numpy as np

from .. import _kernels as K
from ..ir import CHANNELS_LAST, stored_shape
from . import op
from .common import UnsupportedOperator, axis_index, bound_step, prod
from .qcommon import Q8, scales, type_mismatch, zero_points


def _axis_view(x, axis, layout):
    """(outer, c, inner) of the stored tensor for a per-axis parameter on `axis`."""
    shape = stored_shape(x.shape, layout)
    if layout == CHANNELS_LAST and x.ndim >= 3 and axis == 1:
        return prod(shape[:-1]), shape[-1], 1
    return prod(x.shape[:axis]), x.shape[axis], prod(x.shape[axis + 1:])


def _layout_for(n, x, axis, per_axis):
    """The layout the op computes in: x's own, unless a per-axis parameter lies on an
    axis other than channels of a channels-last tensor."""
    if x.channels_last and per_axis and axis != 1:
        return n.to_layout(x, None), None
    return x, (CHANNELS_LAST if x.channels_last else None)


def _param_axis(n, x, scale, zero_point, axis, what):
    """(per_axis, axis, channel count) of a parameter pair: per axis when the scale has more
    than one value, which must then be x's size along axis."""
    per_axis = scale.size > 1
    axis = axis_index(n, axis, max(x.ndim, 1)) if per_axis else 0
    if per_axis and scale.size != x.shape[axis]:
        raise n.error(f"per-axis {what}_scale {scale.shape} must have {x.shape[axis]} values "
                      f"(axis {axis} of {what} {x.shape})")
    if zero_point is not None and zero_point.size != scale.size:
        raise n.error(f"{what}_zero_point {zero_point.shape} and {what}_scale {scale.shape} "
                      "differ in size")
    return per_axis, axis, x.shape[axis] if per_axis else 1


def _params(n, scale, zero_point, dtype, what, count):
    return (scales(n, scale, f"{what} scale", count),
            zero_points(n, zero_point, f"{what} zero point", dtype, count)
            if zero_point is not None else np.zeros(1, np.int32))


def _quantize(n, x, y_scale, y_zero_point, axis, out_dtype):
    if x.dtype != np.float32:
        raise n.error(f"input x has type {x.dtype}; only float32 is supported",
                      UnsupportedOperator)
    if out_dtype not in Q8:
        raise n.error(f"quantizing to {out_dtype} is not supported (uint8 and int8 are)",
                      UnsupportedOperator)
    per_axis, axis, count = _param_axis(n, x, y_scale, y_zero_point, axis, "y")
    x, layout = _layout_for(n, x, axis, per_axis)
    outer, c, inner = _axis_view(x, axis, layout) if per_axis else (prod(x.shape), 1, 1)
    ctx = n.ctx

    if y_scale.const is not None and (y_zero_point is None or y_zero_point.const is not None):
        s, z = _params(n, y_scale.const, None if y_zero_point is None else y_zero_point.const,
                       out_dtype, "y", count)

        def bind(xa, ya):
            return K.bind_quantize(ctx, xa, ya, s, z, outer, c, inner)
        return n.emit(bound_step(bind), [x], [(x.shape, out_dtype)], layout=layout)

    ins = [x, y_scale] + ([y_zero_point] if y_zero_point is not None else [])

    def quantize_runtime(xa, sa, *rest):
        s, z = _params(n, sa, rest[0] if len(rest) == 2 else None, out_dtype, "y", count)
        K.quantize(ctx, xa, rest[-1], s, z, outer, c, inner)
    return n.emit(quantize_runtime, ins, [(x.shape, out_dtype)], layout=layout)


def _out_dtype(n, y_zero_point, output_dtype=0):
    if y_zero_point is not None:
        if output_dtype and _ONNX_TYPES.get(output_dtype) != y_zero_point.dtype:
            raise n.error(f"output_dtype={output_dtype} disagrees with y_zero_point's type "
                          f"{y_zero_point.dtype}")
        return y_zero_point.dtype
    if output_dtype:
        t = _ONNX_TYPES.get(output_dtype)
        if t is None:
            raise n.error(f"output_dtype={output_dtype} is not supported (uint8 and int8 are)",
                          UnsupportedOperator)
        return t
    return np.dtype(np.uint8)


_ONNX_TYPES = {2: np.dtype(np.uint8), 3: np.dtype(np.int8)}


def _check_block_size(n, block_size):
    if block_size:
        raise n.error(f"blocked quantization (block_size={block_size}) is not supported",
                      UnsupportedOperator)


@op("QuantizeLinear", since=10, until=12, channels_last=True)
def QuantizeLinear_10(n, x, y_scale, y_zero_point=None):
    """float32 -> uint8/int8, per tensor; rounding as onnxruntime's (x / scale, half to even)."""
    return _quantize(n, x, y_scale, y_zero_point, 1, _out_dtype(n, y_zero_point))


@op("QuantizeLinear", since=13, until=18, channels_last=True)
def QuantizeLinear_13(n, x, y_scale, y_zero_point=None, *, axis=1):
    """Per tensor or per axis."""
    return _quantize(n, x, y_scale, y_zero_point, axis, _out_dtype(n, y_zero_point))


@op("QuantizeLinear", since=19, channels_last=True)
def QuantizeLinear_19(n, x, y_scale, y_zero_point=None, *, axis=1, saturate=1, block_size=0,
                      output_dtype=0, precision=0):
    """uint8/int8 outputs (float8, 4- and 16-bit types refused); block_size refused."""
    _check_block_size(n, block_size)
    if y_scale.dtype != np.float32:
        raise n.error(f"y_scale of type {y_scale.dtype} is not supported (float32 is)",
                      UnsupportedOperator)
    return _quantize(n, x, y_scale, y_zero_point, axis, _out_dtype(n, y_zero_point, output_dtype))


def _dequantize(n, x, x_scale, x_zero_point, axis):
    if x.dtype not in Q8 + (np.dtype(np.int32),):
        raise n.error(f"dequantizing {x.dtype} is not supported (uint8, int8 and int32 are)",
                      UnsupportedOperator)
    if x_scale.dtype != np.float32:
        raise n.error(f"x_scale of type {x_scale.dtype} is not supported (float32 is)",
                      UnsupportedOperator)
    if x_zero_point is not None and x_zero_point.dtype != x.dtype:
        z = x_zero_point.const if x_zero_point.const is not None else np.zeros(0, x_zero_point.dtype)
        raise n.error(type_mismatch("x_zero_point", z, x.dtype))
    per_axis, axis, count = _param_axis(n, x, x_scale, x_zero_point, axis, "x")
    ctx = n.ctx

    def params(s, z):
        sc, zp = _params(n, s, z, x.dtype, "x", count)
        if x.dtype == np.int32 and zp.any():
            raise n.error(f"x_zero_point must be 0 for an int32 input, got {zp[:4].tolist()}")
        return sc, zp

    if x.const is not None and x_scale.const is not None and (
            x_zero_point is None or x_zero_point.const is not None):
        s, z = params(x_scale.const, None if x_zero_point is None else x_zero_point.const)
        xc = np.ascontiguousarray(x.const)
        outer, c, inner = _axis_view(x, axis, None) if per_axis else (xc.size, 1, 1)
        y = np.empty(x.shape, np.float32)
        K.dequantize(ctx, xc, y, s, z, outer, c, inner)
        return [y]
    x, layout = _layout_for(n, x, axis, per_axis)
    outer, c, inner = _axis_view(x, axis, layout) if per_axis else (prod(x.shape), 1, 1)
    if x_scale.const is not None and (x_zero_point is None or x_zero_point.const is not None):
        s, z = params(x_scale.const, None if x_zero_point is None else x_zero_point.const)

        def bind(xa, ya):
            return K.bind_dequantize(ctx, xa, ya, s, z, outer, c, inner)
        return n.emit(bound_step(bind), [x], [(x.shape, np.float32)], layout=layout)

    ins = [x, x_scale] + ([x_zero_point] if x_zero_point is not None else [])

    def dequantize_runtime(xa, sa, *rest):
        s, z = params(sa, rest[0] if len(rest) == 2 else None)
        K.dequantize(ctx, xa, rest[-1], s, z, outer, c, inner)
    return n.emit(dequantize_runtime, ins, [(x.shape, np.float32)], layout=layout)


@op("DequantizeLinear", since=10, until=12, channels_last=True)
def DequantizeLinear_10(n, x, x_scale, x_zero_point=None):
    """uint8/int8/int32 -> float32: (x - zero_point) * scale, per tensor."""
    return _dequantize(n, x, x_scale, x_zero_point, 1)


@op("DequantizeLinear", since=13, until=18, channels_last=True)
def DequantizeLinear_13(n, x, x_scale, x_zero_point=None, *, axis=1):
    """Per tensor or per axis."""
    return _dequantize(n, x, x_scale, x_zero_point, axis)


@op("DequantizeLinear", since=19, channels_last=True)
def DequantizeLinear_19(n, x, x_scale, x_zero_point=None, *, axis=1, block_size=0,
                        output_dtype=0):
    """float32 output; float8, 4- and 16-bit inputs and block_size refused."""
    _check_block_size(n, block_size)
    if output_dtype not in (0, 1):
        raise n.error(f"output_dtype={output_dtype} is not supported (float32 is)",
                      UnsupportedOperator)
    return _dequantize(n, x, x_scale, x_zero_point, axis)


@op("DynamicQuantizeLinear", since=11, channels_last=True)
def DynamicQuantizeLinear(n, x):
    """float32 -> uint8 with scale and zero point from the tensor's range (0 included)."""
    if x.dtype != np.float32:
        raise n.error(f"input x has type {x.dtype}; only float32 is supported", UnsupportedOperator)
    ctx = n.ctx
    layout = CHANNELS_LAST if x.channels_last else None

    def dynamic_quantize(xa, ya, sa, za):
        lo = min(float(xa.min()), 0.0) if xa.size else 0.0
        hi = max(float(xa.max()), 0.0) if xa.size else 0.0
        scale = np.float32(np.float32(hi) - np.float32(lo)) / np.float32(255)
        if scale == 0:   # an all-zero tensor: onnxruntime's scale is 1
            scale, zp = np.float32(1), 0
        else:
            zp = int(np.rint(np.clip(np.float32(0) - np.float32(lo) / scale, 0, 255)))
        K.quantize(ctx, xa, ya, np.array([scale], np.float32), np.array([zp], np.int32),
                   xa.size, 1, 1)
        sa[...] = scale
        za[...] = zp
    return n.emit(dynamic_quantize, [x], [(x.shape, np.uint8), ((), np.float32), ((), np.uint8)],
                  layout=layout)

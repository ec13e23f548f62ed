"""Resize (opsets 10, 11, 13, 18, 19) and Upsample (7, 9).

Every ONNX attribute is turned, once per plan, into one table per axis: for each output
position, the input positions it reads and their weights (and whether it lies outside the
input, for tf_crop_and_resize).  All the quirks of the coordinate modes, nearest modes,
cubic coefficients, antialiasing and exclude_outside live in `axis_table`; the C kernel
(tc_resize2d_f32) only applies separable tables to planes.  The spatial axes (the last
two) are resampled by one kernel call; any other resized axis by one call of its own.

Coordinates are computed in float32, in onnxruntime's order of operations, so that
nearest-neighbour ties round as they do there.  Where ONNX's reference implementation and
onnxruntime differ, align_corners and tf_crop_and_resize with scales follow the reference
(and ONNX's test cases): length_resized is scale * length_original, not the rounded size.
"""
import math
from fractions import Fraction

import numpy as np

from .. import _kernels as K
from ..ir import const_value
from . import FUSED_DOMAIN, lookup, op
from .common import UnsupportedOperator, axis_index, prod, require_const
from .conv import _activation, _conv

_COORDINATE_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                     "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize")
_NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple")
_F = np.float32


def _source_coordinates(mode, out, length_in, scale, width, roi):
    """x_original of every output position, in float32 (onnxruntime's order of operations).
    width: the output length as a real number (scale * length_in when scales were given)."""
    j = np.arange(out, dtype=_F)
    s = _F(scale)
    half = _F(0.5)
    if mode == "half_pixel":
        return (j + half) / s - half
    if mode == "asymmetric":
        return j / s
    if mode == "pytorch_half_pixel":
        return (j + half) / s - half if out > 1 else np.zeros(out, _F)
    if mode == "tf_half_pixel_for_nn":
        return (j + half) / s
    if mode == "align_corners":
        if width == 1:
            return np.zeros(out, _F)
        return j * _F(length_in - 1) / _F(width - 1)
    if mode == "half_pixel_symmetric":
        adjustment = _F(out) / (s * _F(length_in))
        offset = (_F(length_in) / _F(2)) * (_F(1) - adjustment)
        # (x + 0.5) / scale - 0.5 in double, as onnxruntime
        return (np.float64(offset) + (j.astype(np.float64) + 0.5) / np.float64(s) - 0.5).astype(_F)
    # tf_crop_and_resize
    start, end = _F(roi[0]), _F(roi[1])
    if width == 1:
        return np.full(out, 0.5 * (float(start) + float(end)) * (length_in - 1), _F)
    return start * _F(length_in - 1) + (j * (end - start) * _F(length_in - 1)) / _F(width - 1)


def _round_half_away(x):
    """std::round: halves away from zero (in float64, exact for float32 x)."""
    x = x.astype(np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _nearest_index(x, mode, downsampling):
    if mode == "round_prefer_floor":  # a tie (x == trunc(x) + 0.5) goes down
        return np.where(x == np.trunc(x) + _F(0.5), np.floor(x), _round_half_away(x))
    if mode == "round_prefer_ceil":
        return _round_half_away(x)
    if mode == "floor":
        return np.floor(x)
    if mode == "ceil":
        return np.ceil(x)
    # "simple": Upsample and Resize-10 (onnxruntime): ceil when downsampling, else truncation
    return np.ceil(x) if downsampling else np.trunc(x)


def _linear_coeffs(ratio, scale, antialias):
    """Weights of the taps around x for the fractional part `ratio` in (0, 1]."""
    s = min(scale, 1.0) if antialias else 1.0
    start = math.floor(-1 / s) + 1
    args = (np.arange(start, 2 - start) - ratio[:, None]) * s
    c = np.clip(1 - np.abs(args), 0, 1)
    return c / c.sum(axis=1, keepdims=True)


def _cubic_coeffs(ratio, scale, antialias, a):
    s = min(scale, 1.0) if antialias else 1.0
    start = math.floor(-2 / s) + 1
    x = np.abs((np.arange(start, 2 - start) - ratio[:, None]) * s)
    c = np.where(x <= 1, (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1,
                 np.where(x < 2, a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a, 0.0))
    return c / c.sum(axis=1, keepdims=True)


def axis_table(mode, coordinate_mode, nearest_mode, length_in, out, scale, width, roi=(0.0, 1.0),
               cubic_coeff_a=-0.75, exclude_outside=0, antialias=0):
    """(idx [out, taps] int32, w [out, taps] float32, outside [out] bool or None) for one axis.
    scale: the axis's scale (out / in when sizes were given); width: out as a real number."""
    x = _source_coordinates(coordinate_mode, out, length_in, scale, width, roi)
    outside = None
    if coordinate_mode == "tf_crop_and_resize":
        outside = (x < 0) | (x > _F(length_in - 1))
    if mode == "nearest":
        i = _nearest_index(x, nearest_mode, scale < 1).astype(np.int64)
        idx = np.clip(i, 0, length_in - 1)[:, None]
        return idx.astype(np.int32), np.ones(idx.shape, np.float32), outside
    x = x.astype(np.float64)
    floor = np.floor(x)
    ratio = np.where(x == floor, 1.0, x - floor)  # (0, 1]: the pixel left of x is preferred
    if mode == "linear":
        coeffs = _linear_coeffs(ratio, scale, antialias)
    else:
        coeffs = _cubic_coeffs(ratio, scale, antialias, cubic_coeff_a)
    n = coeffs.shape[1]
    # the n input positions nearest x, ties to the lower ones (ONNX's reference)
    pad = -(-n // 2)
    xp = x + pad
    p = np.floor(xp)
    frac = xp - p
    if n % 2 == 0:
        offset = np.where(frac == 0, -(n // 2), -(n // 2) + 1)
    else:
        offset = np.where(frac <= 0.5, -((n - 1) // 2), -((n - 1) // 2) + 1)
    idx = (p + offset - pad).astype(np.int64)[:, None] + np.arange(n)[None, :]
    if exclude_outside:
        coeffs = np.where((idx < 0) | (idx >= length_in), 0.0, coeffs)
        total = coeffs.sum(axis=1, keepdims=True)
        coeffs = coeffs / np.where(total == 0, 1.0, total)
    idx = np.clip(idx, 0, length_in - 1)
    return idx.astype(np.int32), coeffs.astype(np.float32), outside


def _identity_table(length):
    return (length, np.arange(length, dtype=np.int32)[:, None], np.ones((length, 1), np.float32),
            None, 0.0)


def _check_choice(n, name, value, choices):
    if value not in choices:
        raise n.error(f"unknown {name} {value!r} (expected one of {', '.join(choices)})",
                      UnsupportedOperator)


def resize(n, X, mode, scales=None, sizes=None, coordinate_mode="half_pixel",
           nearest_mode="round_prefer_floor", roi=None, axes=None, keep_aspect_ratio_policy="stretch",
           cubic_coeff_a=-0.75, exclude_outside=0, extrapolation_value=0.0, antialias=0,
           upsample_only=False):
    """Resize X (every opset funnels here).  scales/sizes: per entry of `axes` (all axes
    when None), one of the two given."""
    _check_choice(n, "mode", mode, ("nearest", "linear", "cubic"))
    _check_choice(n, "coordinate_transformation_mode", coordinate_mode, _COORDINATE_MODES)
    if mode == "nearest":
        _check_choice(n, "nearest_mode", nearest_mode, _NEAREST_MODES)
        if antialias:
            raise n.error("antialias applies to the linear and cubic modes only")
    _check_choice(n, "keep_aspect_ratio_policy", keep_aspect_ratio_policy,
                  ("stretch", "not_larger", "not_smaller"))
    r = X.ndim
    if r == 0:
        raise n.error("input X must have at least one dim")
    axes = list(range(r)) if axes is None else [axis_index(n, a, r, "axes") for a in axes]
    if len(set(axes)) != len(axes):
        raise n.error(f"axes {axes} repeat an axis")
    if (scales is None) == (sizes is None):
        raise n.error("exactly one of scales and sizes must be given")
    given = scales if scales is not None else sizes
    if len(given) != len(axes):
        raise n.error(f"{'scales' if scales is not None else 'sizes'} {list(given)} must have "
                      f"{len(axes)} values (axes {axes} of X {X.shape})")
    axis_scale = [1.0] * r
    out = list(X.shape)
    width = [float(d) for d in X.shape]
    if scales is not None:
        for a, s in zip(axes, scales):
            s = float(np.float32(s))
            if not s > 0 or not math.isfinite(s):
                raise n.error(f"scales {list(scales)} must be finite and > 0")
            if upsample_only and s < 1:
                raise n.error(f"Upsample scales {list(scales)} must be >= 1")
            axis_scale[a] = s
            out[a] = int(np.float32(s) * np.float32(X.shape[a]))  # floor, as onnxruntime
            width[a] = s * X.shape[a]
    else:
        for a, size in zip(axes, sizes):
            if size < 0:
                raise n.error(f"sizes {list(sizes)} must not be negative")
            if X.shape[a] == 0 and size:
                raise n.error(f"axis {a} of X {X.shape} is empty; sizes {list(sizes)} cannot grow it")
            out[a] = int(size)
        for a in axes:
            axis_scale[a] = float(np.float32(out[a]) / np.float32(X.shape[a])) if X.shape[a] else 1.0
            width[a] = float(out[a])
        if keep_aspect_ratio_policy != "stretch":
            # one scale for every axis, which the coordinates use too (as onnxruntime)
            ratios = [axis_scale[a] for a in axes if X.shape[a]]
            s = min(ratios) if keep_aspect_ratio_policy == "not_larger" else max(ratios)
            for a in axes:
                out[a] = int(math.floor(s * X.shape[a] + 0.5))  # round half up
                axis_scale[a], width[a] = s, float(out[a])
    out_shape = tuple(out)
    n.check_size(out_shape, X.dtype)
    full_roi = [0.0] * r + [1.0] * r
    if coordinate_mode == "tf_crop_and_resize":
        if roi is None or len(roi) != 2 * len(axes):
            raise n.error(f"tf_crop_and_resize needs roi with 2 x {len(axes)} values, got "
                          f"{None if roi is None else list(roi)}")
        for i, a in enumerate(axes):
            full_roi[a], full_roi[r + a] = float(roi[i]), float(roi[len(axes) + i])
    tables = {}
    for a in axes:
        trivial_roi = full_roi[a] == 0.0 and full_roi[r + a] == 1.0
        if out[a] == X.shape[a] and axis_scale[a] == 1.0 and (
                coordinate_mode != "tf_crop_and_resize" or trivial_roi):
            continue  # nothing to resample on this axis
        if X.shape[a] == 0 or out[a] == 0:
            continue  # an empty output: nothing to compute
        if mode != "nearest" and antialias and axis_scale[a] < 1:
            taps = 2 * (math.floor((2 if mode == "cubic" else 1) / axis_scale[a]) + 1)
            n.check_size((out[a], taps), np.float64, "resampling table")
        idx, w, outside = axis_table(mode, coordinate_mode, nearest_mode, X.shape[a], out[a],
                                     axis_scale[a], width[a], (full_roi[a], full_roi[r + a]),
                                     float(cubic_coeff_a), int(exclude_outside), int(antialias))
        tables[a] = (X.shape[a], idx, w, outside, float(extrapolation_value))
    if not tables or 0 in out_shape:
        if out_shape == X.shape:
            return [n.view(X, X.shape)]
        return n.emit(lambda x, y: None, [X], [(out_shape, X.dtype)])
    if X.dtype != np.float32:
        if mode != "nearest":
            raise n.error(f"{mode} resizing of a {X.dtype} tensor is not supported (float32 only)",
                          UnsupportedOperator)
        return _resize_numpy(n, X, tables, out_shape)
    return _resize_float(n, X, tables)


def _resize_numpy(n, X, tables, out_shape):
    """Nearest resizing of other types than float32 (uint8 images...): one gather per axis."""
    def resize_nearest(x):
        for a, (_, idx, _, outside, fill) in sorted(tables.items()):
            x = np.take(x, idx[:, 0], axis=a)
            if outside is not None:
                x = np.where(outside.reshape((-1,) + (1,) * (x.ndim - a - 1)), fill, x).astype(x.dtype)
        return x
    return n.emit(lambda x, y: np.copyto(y, resize_nearest(x)), [X], [(out_shape, X.dtype)])


def _resize_float(n, X, tables):
    """One kernel call for the last two axes, one per other resized axis (float32)."""
    r = X.ndim
    ctx = n.ctx
    cur = X
    shape = list(X.shape)
    for a in sorted(tables):
        if a >= r - 2:
            continue
        # this axis alone: rows = its table, cols = the identity over everything inside it
        inner = prod(shape[a + 1:])
        _check_int(n, inner, X)
        table = tables[a]
        shape[a] = table[1].shape[0]
        cur = _resample_step(n, ctx, cur, tuple(shape), table, _identity_table(inner))
    last = [a for a in (r - 2, r - 1) if a >= 0]
    if any(a in tables for a in last):
        rows = tables.get(r - 2) or _identity_table(shape[r - 2] if r >= 2 else 1)
        cols = tables.get(r - 1) or _identity_table(shape[r - 1])
        for a in last:
            if a in tables:
                shape[a] = tables[a][1].shape[0]
        cur = _resample_step(n, ctx, cur, tuple(shape), rows, cols)
    return [cur]


def _check_int(n, length, X):
    if length >= 1 << 31:
        raise n.error(f"input X {X.shape}: a resampled run of {length} values is beyond the "
                      "kernel's 32-bit sizes", UnsupportedOperator)


def _resample_step(n, ctx, cur, out_shape, rows, cols):
    _check_int(n, cols[0], cur)
    kernel = K.Resample2d(ctx, rows, cols)
    ws = kernel.workspace_size()

    def resample(x, y, workspace):
        kernel.run(x, y, workspace)
    (y,) = n.emit(resample, [cur], [(out_shape, np.float32)], workspace=ws)
    return y


def resize_window(inputs, outputs, *, mode="nearest", **attrs):
    """(span, stride) per spatial dim: the taps of the mode (1 nearest, 2 linear, 4 cubic), at
    a stride of in / out input pixels (a fraction when upsampling)."""
    X, Y = inputs[0], outputs[0]
    if Y is None or X.ndim < 3:
        return []
    span = {"linear": 2, "cubic": 4}.get(mode, 1)
    return [(span, Fraction(i, o) if o else 1) for i, o in zip(X.shape[2:], Y.shape[2:])]


# ---- the registrations --------------------------------------------------------------

def _floats(n, v, what):
    """A float input (scales, roi) known at plan time, or None when absent or empty."""
    if v is None:
        return None
    c = np.asarray(require_const(n, v, f"the {what} input")).reshape(-1)
    return None if c.size == 0 else [float(s) for s in c]


def _sizes(n, v):
    if v is None:
        return None
    c = np.asarray(require_const(n, v, "the sizes input")).reshape(-1)
    if c.size and c.dtype.kind not in "iu":
        raise n.error(f"sizes must be int64, got {c.dtype}")
    return None if c.size == 0 else [int(s) for s in c]


@op("Upsample", since=7, until=8, window=resize_window)
def Upsample_7(n, X, *, mode="nearest", scales):
    """Scales as an attribute (opsets 7-8); nearest (floor) or linear, asymmetric."""
    return resize(n, X, mode, scales=scales, coordinate_mode="asymmetric", nearest_mode="simple",
                  upsample_only=True)


@op("Upsample", since=9, until=9, shape_inputs=(1,), window=resize_window)
def Upsample_9(n, X, scales, *, mode="nearest"):
    """Scales as an input (opset 9; deprecated from 10)."""
    return resize(n, X, mode, scales=_floats(n, scales, "scales"), coordinate_mode="asymmetric",
                  nearest_mode="simple", upsample_only=True)


@op("Resize", since=10, until=10, shape_inputs=(1,), window=resize_window)
def Resize_10(n, X, scales, *, mode="nearest"):
    """Scales; nearest or linear, asymmetric coordinates (opset 10)."""
    return resize(n, X, mode, scales=_floats(n, scales, "scales"), coordinate_mode="asymmetric",
                  nearest_mode="simple")


@op("Resize", since=11, until=17, shape_inputs=(1, 2, 3), window=resize_window)
def Resize_11(n, X, roi=None, scales=None, sizes=None, *, coordinate_transformation_mode="half_pixel",
              cubic_coeff_a=-0.75, exclude_outside=0, extrapolation_value=0.0, mode="nearest",
              nearest_mode="round_prefer_floor"):
    """Scales or sizes, roi; every coordinate mode, nearest mode, cubic (opsets 11-17)."""
    return resize(n, X, mode, _floats(n, scales, "scales"), _sizes(n, sizes),
                  coordinate_transformation_mode, nearest_mode, _floats(n, roi, "roi"), None,
                  "stretch", cubic_coeff_a, exclude_outside, extrapolation_value)


@op("Resize", since=18, shape_inputs=(1, 2, 3), window=resize_window)
def Resize_18(n, X, roi=None, scales=None, sizes=None, *, antialias=0, axes=None,
              coordinate_transformation_mode="half_pixel", cubic_coeff_a=-0.75, exclude_outside=0,
              extrapolation_value=0.0, keep_aspect_ratio_policy="stretch", mode="nearest",
              nearest_mode="round_prefer_floor"):
    """Also antialias, axes, keep_aspect_ratio_policy (18) and half_pixel_symmetric (19)."""
    if coordinate_transformation_mode == "half_pixel_symmetric" and n.opset < 19:
        raise n.error("half_pixel_symmetric comes with opset 19", UnsupportedOperator)
    return resize(n, X, mode, _floats(n, scales, "scales"), _sizes(n, sizes),
                  coordinate_transformation_mode, nearest_mode, _floats(n, roi, "roi"), axes,
                  keep_aspect_ratio_policy, cubic_coeff_a, exclude_outside, extrapolation_value,
                  antialias)


def _conv_resize_macs(inputs, outputs, **attrs):
    """The 1x1 convolution's multiply-adds, on the resize's input."""
    X, W = inputs[0], inputs[4]
    return 0 if X is None or W is None else X.size // X.shape[1] * W.shape[0] * W.shape[1]


def _conv_resize_window(inputs, outputs, *, resize, **attrs):
    return resize_window(inputs, outputs, **resize)


@op("ConvResize", domain=FUSED_DOMAIN, shape_inputs=(1, 2, 3), cost=_conv_resize_macs,
    window=_conv_resize_window)
def ConvResize(n, X, roi=None, scales=None, sizes=None, W=None, B=None, *, resize,
               resize_opset):
    """Resize (attributes `resize`, of opset resize_opset) -> Conv 1x1 (W, B; no activation,
    residual or padding), found by graph._conv_before_resize, run as the convolution then the
    resize: the convolution mixes channels and the resize pixels, each linear, and a resize's
    taps sum to 1, so the bias passes through unchanged.  The convolution then runs on the
    map before it grows, and the resize moves K channels instead of C (LRASPP's head: 128 ->
    21 channels, 32x32 -> 64x64).  A resize that would change the batch or channel axes runs
    first, as in the graph."""
    fn = lookup("", "Resize", resize_opset).fn
    attrs = dict(resize)
    act = _activation(n, "", None, None, None)
    given_sizes = _sizes(n, sizes)
    given = given_sizes if given_sizes is not None else _floats(n, scales, "scales")
    axes = attrs.get("axes")
    axes = list(range(X.ndim)) if axes is None else [int(a) % max(X.ndim, 1) for a in axes]
    same = {a: (X.shape[a] if given_sizes is not None else 1.0) for a in (0, 1)}
    if (X.ndim != 4 or W is None or W.ndim != 4 or given is None or len(given) != len(axes)
            or any(a in same and v != same[a] for a, v in zip(axes, given))):
        (r,) = fn(n, X, roi, scales, sizes, **attrs)
        return _conv(n, r, W, B, None, act, "NOTSET", None, 1, None, None, None)
    (y,) = _conv(n, X, W, B, None, act, "NOTSET", None, 1, None, None, None)
    if given_sizes is not None:
        sizes = const_value("", np.array([W.shape[0] if a == 1 else v for a, v in
                                          zip(axes, given_sizes)], np.int64))
    return fn(n, y, roi, scales, sizes, **attrs)

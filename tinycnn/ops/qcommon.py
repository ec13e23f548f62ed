"""What the quantized ops share: their (scale, zero point) parameters checked once.

ONNX gives quantization parameters as tensors.  Known at plan time (initializers, the
usual case) they are checked there, so a bad model fails at load with the node named;
fed at run time (onnx's conformance tests) the same checks run in the step.
"""
import numpy as np

Q8 = (np.dtype(np.uint8), np.dtype(np.int8))


def type_range(dtype):
    """(lo, hi) of an 8-bit element type."""
    return (-128, 127) if np.dtype(dtype) == np.int8 else (0, 255)


def scales(n, s, what, count=None):
    """A float32 1-D array of positive finite scales (one, or `count` per axis)."""
    a = np.asarray(s)
    if a.dtype.kind != "f":
        raise n.error(f"{what} must be a float tensor, got {a.dtype}")
    a = a.astype(np.float32).reshape(-1)
    if a.size == 0:
        raise n.error(f"{what} is empty")
    if count is not None and a.size not in (1, count):
        raise n.error(f"{what} has {a.size} values; expected 1 or {count} (one per channel)")
    bad = ~(np.isfinite(a) & (a > 0))
    if bad.any():
        raise n.error(f"{what} must be positive and finite, got {a[bad][:4].tolist()}"
                      f"{' ...' if bad.sum() > 4 else ''}")
    return np.ascontiguousarray(a)


def zero_points(n, z, what, dtype, count=None):
    """An int32 1-D array of zero points of the 8-bit type `dtype` (the tensor's): the
    zero point must have that type, which bounds its values."""
    a = np.asarray(z)
    dtype = np.dtype(dtype)
    if a.dtype != dtype:
        raise n.error(type_mismatch(what, a, dtype))
    a = a.astype(np.int32).reshape(-1)
    if a.size == 0:
        raise n.error(f"{what} is empty")
    if count is not None and a.size not in (1, count):
        raise n.error(f"{what} has {a.size} values; expected 1 or {count} (one per channel)")
    return np.ascontiguousarray(a)


def type_mismatch(what, z, dtype):
    """The message for a zero point z whose type is not the quantized tensor's `dtype`."""
    z = np.asarray(z)
    msg = f"{what} has type {z.dtype} but the tensor it describes is {dtype}"
    if dtype in Q8 and z.dtype.kind in "iu" and z.size:
        lo, hi = type_range(dtype)
        out = z[(z < lo) | (z > hi)].reshape(-1)
        if out.size:
            msg += f": {out[:4].tolist()} is outside {dtype}'s range [{lo}, {hi}]"
    return msg + " (a quantized tensor and its zero point share one element type)"


def scalar_param(n, s, z, dtype, what):
    """(scale, zero point) of a per-tensor parameter pair, as Python numbers."""
    sc = scales(n, s, f"{what} scale", 1)
    zp = zero_points(n, z, f"{what} zero point", dtype, 1) if z is not None else np.zeros(1, np.int32)
    return float(sc[0]), int(zp[0])


def const_or_none(v):
    return None if v is None else v.const


def all_const(*values):
    return all(v is None or v.const is not None for v in values)


def require_q8(n, v, what):
    if v is not None and v.dtype not in Q8:
        raise n.error(f"{what} has type {v.dtype}; expected uint8 or int8")


__all__ = ["Q8", "type_range", "type_mismatch", "scales", "zero_points", "scalar_param", "const_or_none",
           "all_const", "require_q8"]

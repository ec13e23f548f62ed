"""Resource limits, checked before anything is allocated.

A hostile model can ask for a 10^12-element ConstantOfShape or declare a
weight of absurd dims; every such size is computed (Python ints: no overflow)
and compared with these limits first.  Configurable through SessionOptions.
"""
from dataclasses import dataclass

import numpy as np

from .errors import InvalidModel, ResourceLimit

GiB = 1 << 30

# numpy (and the C kernels' ptrdiff_t) cannot index more than this many bytes, even
# in an array with a zero dimension: dims like (0, 2**62, 2**62) are refused too.
MAX_INDEX = (1 << 63) - 1


@dataclass(frozen=True)
class Limits:
    max_tensor_bytes: int = 4 * GiB      # any one tensor: weight, activation, feed
    max_weight_bytes: int = 16 * GiB     # all initializers together
    max_nodes: int = 100_000
    max_arena_bytes: int = 16 * GiB      # the buffers of one run: activations + workspace

    def tensor(self, what, shape, dtype):
        """Raise ResourceLimit if a tensor of this shape and dtype is over the limit."""
        shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape):
            raise ResourceLimit(f"{what}: negative dimension in shape {shape}")
        if overflows(shape, dtype):
            raise ResourceLimit(f"{what}: shape {shape} of {np.dtype(dtype)} overflows a 64-bit size")
        nbytes = _count(shape) * np.dtype(dtype).itemsize
        if nbytes > self.max_tensor_bytes:
            raise ResourceLimit(
                f"{what}: shape {shape} of {np.dtype(dtype)} needs "
                f"{nbytes:,} bytes, over the limit of {self.max_tensor_bytes:,} "
                "(SessionOptions.max_tensor_bytes)")
        return nbytes

    def arena(self, what, nbytes):
        """Raise ResourceLimit if the buffers of one run would take more than max_arena_bytes."""
        if nbytes > self.max_arena_bytes:
            raise ResourceLimit(
                f"{what}: one run needs {nbytes:,} bytes of activations and workspace, over the "
                f"limit of {self.max_arena_bytes:,} (SessionOptions.max_arena_bytes)")
        return nbytes


def _count(shape):
    count = 1
    for d in shape:
        count *= int(d)
    return count


def overflows(shape, dtype):
    """True if an array of this shape cannot be indexed with 64-bit byte offsets."""
    return _count(max(int(d), 1) for d in shape) * max(np.dtype(dtype).itemsize, 1) > MAX_INDEX


def check_dims(what, dims, dtype, limits):
    """Element count of a tensor stored in a model, after checking its dims: InvalidModel if
    a dim is negative or the size overflows, ResourceLimit if it is over `limits`."""
    dims = tuple(int(d) for d in dims)
    if any(d < 0 for d in dims):
        raise InvalidModel(f"{what} has negative dims {dims}")
    if overflows(dims, dtype):
        raise InvalidModel(f"{what}: dims {dims} overflow a 64-bit size")
    limits.tensor(what, dims, dtype)
    return _count(dims)


DEFAULT = Limits()

"""Resource limits, checked before anything is allocated.

A hostile model can ask for a 10^12-element ConstantOfShape or declare a
weight of absurd dims; every such size is computed (Python ints: no overflow)
and compared with these limits first.  Configurable through SessionOptions.
"""
from dataclasses import dataclass

import numpy as np

from .errors import ResourceLimit

GiB = 1 << 30


@dataclass(frozen=True)
class Limits:
    max_tensor_bytes: int = 4 * GiB      # any one tensor: weight, activation, feed
    max_weight_bytes: int = 16 * GiB     # all initializers together
    max_nodes: int = 100_000

    def tensor(self, what, shape, dtype):
        """Raise ResourceLimit if a tensor of this shape and dtype is over the limit."""
        count = 1
        for d in shape:
            d = int(d)
            if d < 0:
                raise ResourceLimit(f"{what}: negative dimension in shape {tuple(shape)}")
            count *= d
        nbytes = count * np.dtype(dtype).itemsize
        if nbytes > self.max_tensor_bytes:
            raise ResourceLimit(
                f"{what}: shape {tuple(int(d) for d in shape)} of {np.dtype(dtype)} needs "
                f"{nbytes:,} bytes, over the limit of {self.max_tensor_bytes:,} "
                "(SessionOptions.max_tensor_bytes)")
        return nbytes


DEFAULT = Limits()

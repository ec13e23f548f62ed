# cython: language_level=3
"""Thin Cython wrappers of the C kernels in csrc/.

Each wrapper checks shapes and dtypes while holding the GIL, then calls C with
the GIL released.  Outputs are caller-allocated numpy arrays: the executor's
memory plan owns them.
"""
import numpy as np
cimport numpy as cnp

cnp.import_array()

ISA_NAMES = {TC_ISA_PORTABLE: "portable", TC_ISA_AVX2: "avx2"}


def best_isa():
    """Name of the best instruction set this CPU supports ('avx2' or 'portable')."""
    return ISA_NAMES[tc_cpu_best_isa()]


cdef class Context:
    """A thread pool and an instruction set, handed to every kernel.

    Context(num_threads=1, isa='auto'): isa is 'auto', 'portable' or 'avx2'
    ('avx2' raises ValueError when the CPU lacks AVX2/FMA).
    """
    cdef tc_ctx ctx
    cdef readonly int num_threads
    cdef readonly str isa

    def __cinit__(self, int num_threads=1, str isa="auto"):
        cdef int best = tc_cpu_best_isa()
        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        if isa == "auto":
            self.ctx.isa = best
        elif isa == "portable":
            self.ctx.isa = TC_ISA_PORTABLE
        elif isa == "avx2":
            if best < TC_ISA_AVX2:
                raise ValueError("isa='avx2' requested but this CPU lacks AVX2/FMA")
            self.ctx.isa = TC_ISA_AVX2
        else:
            raise ValueError(f"isa must be 'auto', 'portable' or 'avx2', got {isa!r}")
        self.ctx.pool = tc_pool_create(num_threads)
        if self.ctx.pool == NULL:
            raise MemoryError("could not create the thread pool")
        self.num_threads = num_threads
        self.isa = ISA_NAMES[self.ctx.isa]

    def __dealloc__(self):
        if self.ctx.pool != NULL:
            tc_pool_destroy(self.ctx.pool)
            self.ctx.pool = NULL

    def __repr__(self):
        return f"Context(num_threads={self.num_threads}, isa={self.isa!r})"


# Each kernel family's wrappers live in their own include file.
include "_gemm.pxi"
include "_conv.pxi"
include "_winograd.pxi"
include "_pool.pxi"
include "_eltwise.pxi"
include "_normalize.pxi"
include "_resize.pxi"
include "_conv_transpose.pxi"

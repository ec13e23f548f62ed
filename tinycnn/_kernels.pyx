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
# The 8-bit kernels' tiers: above AVX2 (vpmaddwd), the VNNI extensions (vpdpbusd).
INT8_ISAS = ("portable", "avx2", "avxvnni", "avx512vnni")
_VNNI = {"avx2": TC_VNNI_NONE, "avxvnni": TC_VNNI_AVX, "avx512vnni": TC_VNNI_AVX512}
_VNNI_NAMES = {v: k for k, v in _VNNI.items()}


def best_isa():
    """Name of the best instruction set this CPU supports ('avx2' or 'portable')."""
    return ISA_NAMES[tc_cpu_best_isa()]


def best_int8_isa():
    """The 8-bit kernels' best tier on this CPU: 'avx512vnni', 'avxvnni', 'avx2' or 'portable'."""
    if tc_cpu_best_isa() != TC_ISA_AVX2:
        return "portable"
    return _VNNI_NAMES[tc_cpu_best_vnni()]


cdef class Context:
    """A thread pool and an instruction set, handed to every kernel.

    Context(num_threads=1, isa='auto'): isa is 'auto' (the best this CPU has), 'portable',
    'avx2' (AVX2 + FMA only: the 8-bit kernels too run AVX2 without VNNI), or 'avxvnni' /
    'avx512vnni' (the AVX2 float kernels, the 8-bit GEMM and convolution on that VNNI
    extension).  A tier the CPU lacks raises ValueError.  `isa` then names the float
    kernels' set ('portable' or 'avx2'), `int8_isa` the 8-bit kernels' (one of INT8_ISAS).
    """
    cdef tc_ctx ctx
    cdef readonly int num_threads
    cdef readonly str isa
    cdef readonly str int8_isa

    def __cinit__(self, int num_threads=1, str isa="auto"):
        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        if isa == "auto":
            isa = best_int8_isa()
        if isa not in INT8_ISAS:
            raise ValueError(f"isa must be 'auto' or one of {INT8_ISAS}, got {isa!r}")
        if INT8_ISAS.index(isa) > INT8_ISAS.index(best_int8_isa()):
            raise ValueError(f"isa={isa!r} requested but this CPU's best is "
                             f"{best_int8_isa()!r}")
        self.ctx.isa = TC_ISA_PORTABLE if isa == "portable" else TC_ISA_AVX2
        self.ctx.vnni = _VNNI.get(isa, TC_VNNI_NONE)
        self.ctx.pool = tc_pool_create(num_threads)
        if self.ctx.pool == NULL:
            raise MemoryError("could not create the thread pool")
        self.num_threads = num_threads
        self.isa = ISA_NAMES[self.ctx.isa]
        self.int8_isa = isa

    def __dealloc__(self):
        if self.ctx.pool != NULL:
            tc_pool_destroy(self.ctx.pool)
            self.ctx.pool = NULL

    def __repr__(self):
        return f"Context(num_threads={self.num_threads}, isa={self.int8_isa!r})"


# Each kernel family's wrappers live in their own include file.
include "_gemm.pxi"
include "_conv.pxi"
include "_winograd.pxi"
include "_pool.pxi"
include "_eltwise.pxi"
include "_quant.pxi"

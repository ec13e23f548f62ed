# cython: language_level=3
"""Thin Cython wrappers of the C kernels in csrc/.

Each wrapper checks its arguments while holding the GIL (with the one set of
helpers below), then calls C with the GIL released.  Outputs and workspaces are
caller-allocated numpy arrays: the executor's memory plan owns them.  The C
declarations are in _kernels.pxd; each kernel family's wrappers in its .pxi.
"""
import numpy as np
cimport numpy as cnp

cnp.import_array()

ISA_NAMES = {TC_ISA_PORTABLE: "portable", TC_ISA_AVX2: "avx2", TC_ISA_AVX512: "avx512"}
_ISA_CODES = {name: code for code, name in ISA_NAMES.items()}


def best_isa():
    """Name of the best instruction set this CPU supports and this build has kernels for:
    'avx512' (AVX2's kernels with AVX-512 GEMM tiles), 'avx2' or 'portable'."""
    return ISA_NAMES[tc_cpu_best_isa()]


cdef class Context:
    """A thread pool and an instruction set, handed to every kernel.

    Context(num_threads=1, isa='auto'): isa is 'auto', 'portable', 'avx2' or 'avx512'
    (ValueError when the CPU lacks that instruction set).  The instruction
    set's kernels are chosen here, once (tc_ctx_init).
    """
    cdef tc_ctx ctx
    cdef readonly int num_threads
    cdef readonly str isa

    def __cinit__(self, int num_threads=1, str isa="auto"):
        cdef int best = tc_cpu_best_isa(), code
        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        if isa == "auto":
            code = best
        elif isa in _ISA_CODES:
            code = _ISA_CODES[isa]
            if best < code:
                raise ValueError(f"isa={isa!r} requested but this CPU lacks it "
                                 f"(its best is {ISA_NAMES[best]!r})")
        else:
            raise ValueError(f"isa must be 'auto', 'portable', 'avx2' or 'avx512', got {isa!r}")
        cdef tc_pool *pool = tc_pool_create(num_threads)
        if pool == NULL:
            raise MemoryError("could not create the thread pool")
        if tc_ctx_init(&self.ctx, pool, code) != 0:
            self.ctx.pool = NULL
            tc_pool_destroy(pool)
            raise ValueError(f"isa {isa!r} is not available in this build")
        self.num_threads = num_threads
        self.isa = ISA_NAMES[self.ctx.isa]

    def __dealloc__(self):
        if self.ctx.pool != NULL:
            tc_pool_destroy(self.ctx.pool)
            self.ctx.pool = NULL

    def __repr__(self):
        return f"Context(num_threads={self.num_threads}, isa={self.isa!r})"


# ---- argument checks, shared by every wrapper ----------------------------------
# Arrays are checked (float32, C-contiguous, outputs writeable, rank, shape,
# overlaps), then passed by their data pointer: a typed memoryview over
# .reshape(-1) costs ~2 us per array per call, which adds up over the hundreds
# of small element-wise and pooling calls of a network.  Every message names
# the wrapper, the argument and the shapes.

cdef inline const tc_ctx *_ctx_ptr(Context ctx):
    """The kernels' context; None runs serially, portable C."""
    return NULL if ctx is None else &ctx.ctx


cdef inline bint _is_f32_c(a, bint writeable):
    return (isinstance(a, cnp.ndarray) and cnp.PyArray_TYPE(<cnp.ndarray>a) == cnp.NPY_FLOAT32
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a)
            and (not writeable or cnp.PyArray_ISWRITEABLE(<cnp.ndarray>a)))


cdef int _check_array(str fn, str name, a, int ndim=-1, bint writeable=False) except -1:
    """a is a float32, C-contiguous (and, for an output, writeable) array of ndim dims (-1: any)."""
    if not _is_f32_c(a, writeable):
        if not isinstance(a, np.ndarray):
            raise ValueError(f"{fn}: {name} must be a numpy array, got {type(a).__name__}")
        raise ValueError(f"{fn}: {name} must be float32, C-contiguous{', writeable' if writeable else ''}; "
                         f"got dtype {a.dtype}, shape {a.shape}, C-contiguous={a.flags.c_contiguous}, "
                         f"writeable={a.flags.writeable}")
    if ndim >= 0 and cnp.PyArray_NDIM(<cnp.ndarray>a) != ndim:
        raise ValueError(f"{fn}: {name} must have {ndim} dims, got shape {a.shape}")
    return 0


cdef int _check_shape(str fn, str name, a, tuple expected, str why="") except -1:
    if a.shape != expected:
        raise ValueError(f"{fn}: {name} has shape {a.shape}, expected {expected}{why}")
    return 0


cdef inline const float *_fptr(a):
    return <const float *>cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline float *_fptr_mut(a):
    return <float *>cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline float *_fptr_or_null(a):
    return NULL if a is None else <float *>cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline bint _overlap(a, b):
    """Do two C-contiguous arrays share bytes?"""
    cdef char *pa = <char *>cnp.PyArray_DATA(<cnp.ndarray>a)
    cdef char *pb = <char *>cnp.PyArray_DATA(<cnp.ndarray>b)
    return pa < pb + cnp.PyArray_NBYTES(<cnp.ndarray>b) and pb < pa + cnp.PyArray_NBYTES(<cnp.ndarray>a)


cdef int _check_disjoint(str fn, str name, a, y) except -1:
    """The output y must not overlap the input a."""
    if _overlap(a, y):
        raise ValueError(f"{fn}: y {y.shape} must not overlap {name} {a.shape}")
    return 0


cdef int _check_same_or_disjoint(str fn, str name, a, y) except -1:
    """The output y may be exactly a (same buffer, same shape) or must not overlap it."""
    if _overlap(a, y):
        if not (cnp.PyArray_DATA(<cnp.ndarray>a) == cnp.PyArray_DATA(<cnp.ndarray>y) and a.shape == y.shape):
            raise ValueError(f"{fn}: y {y.shape} partially overlaps {name} {a.shape}; "
                             f"it may only be the very same array")
    return 0


cdef object _aligned_empty(size_t n):
    """A 1-D float32 array of n elements whose data is 64-byte aligned (at least 1 element)."""
    cdef size_t m = n if n > 0 else 1
    buf = np.empty(m + 16, dtype=np.float32)
    cdef size_t off = (<size_t>cnp.PyArray_DATA(buf) % 64) // 4
    off = (16 - off) % 16
    return buf[off:off + m]


cdef object _workspace(str fn, workspace, size_t need):
    """The caller's workspace, checked to hold need floats; for None, a new one (tests,
    one-off calls), or None when no workspace is needed."""
    if workspace is None:
        return _aligned_empty(need) if need > 0 else None
    _check_array(fn, "workspace", workspace, 1, True)
    if <size_t>cnp.PyArray_SIZE(<cnp.ndarray>workspace) < need:
        raise ValueError(f"{fn}: workspace has {workspace.shape[0]} elements, needs {need}")
    return workspace


# Each kernel family's wrappers live in their own include file.
include "_gemm.pxi"
include "_conv.pxi"
include "_pool2d.pxi"
include "_eltwise.pxi"
include "_normalize.pxi"
include "_resize.pxi"
include "_conv_transpose.pxi"

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
# The 8-bit kernels' VNNI extension (vpdpbusd), a setting of its own on top of the 'avx2' or
# 'avx512' row: a CPU may have either extension without the other.
VNNI_NAMES = {TC_VNNI_NONE: "none", TC_VNNI_AVX: "avxvnni", TC_VNNI_AVX512: "avx512vnni"}
_VNNI_CODES = {name: code for code, name in VNNI_NAMES.items()}
# The tiers the 8-bit kernels run (Context.int8_isa): the float rows share AVX2's 8-bit
# kernels, so 'avx512' without VNNI runs them as 'avx2'.
INT8_ISAS = ("portable", "avx2", "avxvnni", "avx512vnni")
# The TINYCNN_ISA setting that runs each 8-bit tier (on the AVX2 float row).
INT8_ISA_SETTINGS = {"portable": "portable", "avx2": "avx2", "avxvnni": "avx2+avxvnni",
                     "avx512vnni": "avx2+avx512vnni"}


def best_isa():
    """Name of the best instruction set this CPU supports and this build has kernels for:
    'avx512' (AVX2's kernels with AVX-512 GEMM tiles), 'avx2' or 'portable'."""
    return ISA_NAMES[tc_cpu_best_isa()]


def int8_isas():
    """The 8-bit kernels' tiers this CPU can run (a subset of INT8_ISAS, in its order)."""
    if tc_cpu_best_isa() < TC_ISA_AVX2:
        return ("portable",)
    return ("portable", "avx2") + tuple(VNNI_NAMES[v] for v in (TC_VNNI_AVX, TC_VNNI_AVX512)
                                        if tc_cpu_has_vnni(v))


def best_int8_isa():
    """The 8-bit kernels' best tier on this CPU: 'avx512vnni', 'avxvnni', 'avx2' or 'portable'."""
    isas = int8_isas()
    return isas[len(isas) - 1]


def parse_isa(str text):
    """TINYCNN_ISA's grammar -> (isa, vnni) for Context: 'auto' (the best this CPU has, VNNI
    included), or a float tier 'portable', 'avx2' or 'avx512' (the 8-bit kernels then without
    VNNI), optionally '+avxvnni' or '+avx512vnni' (e.g. 'avx2+avxvnni').  ValueError names the
    accepted forms."""
    text = text.strip().lower() or "auto"
    isa, plus, vnni = text.partition("+")
    if text == "auto":
        return "auto", "auto"
    if isa not in _ISA_CODES or (plus and vnni not in ("avxvnni", "avx512vnni")):
        raise ValueError(f"{text!r}: expected 'auto' or one of 'portable', 'avx2', 'avx512', "
                         f"the last two optionally with '+avxvnni' or '+avx512vnni' "
                         f"(e.g. 'avx2+avxvnni')")
    return isa, vnni if plus else "none"


cdef class Context:
    """A thread pool and an instruction set, handed to every kernel.

    Context(num_threads=1, isa='auto', vnni='auto'):
      isa: 'auto' (the best this CPU has), 'portable', 'avx2' or 'avx512': every kernel's row.
      vnni: the 8-bit GEMM and convolution's extension on top of an 'avx2' or 'avx512' row:
        'none' (AVX2's vpmaddwd, the tier every AVX2 CPU runs), 'avxvnni' or 'avx512vnni'
        (vpdpbusd); 'auto' is the best this CPU has when isa is 'auto', 'none' when isa is
        named (a named tier reproduces that tier).
    A tier the CPU lacks raises ValueError.  The kernels are chosen here, once (tc_ctx_init,
    tc_ctx_set_vnni).  `isa` then names the row, `vnni` the extension, `int8_isa` the tier the
    8-bit kernels run (one of INT8_ISAS).
    `weights`: None (the default: numpy's memory), or where the layers built with this
    Context take their packed weights: an object whose .empty(nbytes) returns a 64-byte
    aligned 1-D uint8 array of at least nbytes (a session's tinycnn.memory.Blocks: many
    layers' weights in one huge page).
    """
    cdef tc_ctx ctx
    cdef public object weights
    cdef readonly int num_threads
    cdef readonly str isa
    cdef readonly str vnni
    cdef readonly str int8_isa

    def __cinit__(self, int num_threads=1, str isa="auto", str vnni="auto"):
        cdef int best = tc_cpu_best_isa(), code, vcode
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
        if vnni == "auto":
            vcode = tc_cpu_best_vnni() if isa == "auto" else TC_VNNI_NONE
        elif vnni in _VNNI_CODES:
            vcode = _VNNI_CODES[vnni]
            if vcode != TC_VNNI_NONE and code < TC_ISA_AVX2:
                raise ValueError(f"vnni={vnni!r} needs isa 'avx2' or 'avx512', got {isa!r}")
            if not tc_cpu_has_vnni(vcode):
                raise ValueError(f"vnni={vnni!r} requested but this CPU lacks it "
                                 f"(it runs {', '.join(int8_isas())})")
        else:
            raise ValueError(f"vnni must be 'auto', 'none', 'avxvnni' or 'avx512vnni', "
                             f"got {vnni!r}")
        cdef tc_pool *pool = tc_pool_create(num_threads)
        if pool == NULL:
            raise MemoryError("could not create the thread pool")
        if (tc_ctx_init(&self.ctx, pool, code) != 0
                or tc_ctx_set_vnni(&self.ctx, vcode) != 0):
            self.ctx.pool = NULL
            tc_pool_destroy(pool)
            raise ValueError(f"isa {isa!r} (vnni {vnni!r}) is not available in this build")
        self.num_threads = num_threads
        self.isa = ISA_NAMES[self.ctx.isa]
        self.vnni = VNNI_NAMES[vcode]
        self.int8_isa = ("portable" if self.ctx.isa == TC_ISA_PORTABLE
                         else "avx2" if vcode == TC_VNNI_NONE else self.vnni)

    def __dealloc__(self):
        if self.ctx.pool != NULL:
            tc_pool_destroy(self.ctx.pool)
            self.ctx.pool = NULL

    def __repr__(self):
        return f"Context(num_threads={self.num_threads}, isa={self.isa!r}, vnni={self.vnni!r})"


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


cdef ptrdiff_t _plane_stride(str fn, y, int ndim) except -1:
    """0 for a C-contiguous y; else y's plane stride in floats when y is a writeable float32
    array of ndim dims whose planes (its last two axes) are each C-contiguous, ldy >= a
    plane apart, its leading axes stepping ldy per plane (as numpy views every G-th plane of
    a C-contiguous tensor); anything else is left to _check_array to refuse."""
    if not isinstance(y, np.ndarray) or y.flags.c_contiguous or y.ndim != ndim or ndim < 3:
        return 0
    if y.dtype != np.float32 or not y.flags.writeable or not y.flags.aligned:
        return 0
    st, sh = y.strides, y.shape
    if st[ndim - 1] != 4 or st[ndim - 2] != 4 * sh[ndim - 1] or st[ndim - 3] % 4:
        return 0
    cdef ptrdiff_t ldy = st[ndim - 3] // 4
    if ldy < sh[ndim - 1] * sh[ndim - 2]:
        return 0
    cdef ptrdiff_t step = ldy * sh[ndim - 3]
    for k in range(ndim - 4, -1, -1):
        if sh[k] > 1 and st[k] != 4 * step:
            return 0
        step *= sh[k]
    return ldy


cdef int _check_disjoint_span(str fn, str name, a, y, ptrdiff_t span) except -1:
    """The output y, spanning `span` floats from its first (its planes apart), must not
    overlap the C-contiguous input a."""
    cdef char *pa = <char *>cnp.PyArray_DATA(<cnp.ndarray>a)
    cdef char *pb = <char *>cnp.PyArray_DATA(<cnp.ndarray>y)
    if pa < pb + 4 * span and pb < pa + cnp.PyArray_NBYTES(<cnp.ndarray>a):
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


cdef object _packed_empty(Context ctx, size_t n):
    """_aligned_empty(n) for a layer's packed weights: from ctx.weights when it is set."""
    if ctx is None or ctx.weights is None:
        return _aligned_empty(n)
    cdef size_t nbytes = 4 * (n if n > 0 else 1)
    buf = ctx.weights.empty(nbytes)
    if (not isinstance(buf, np.ndarray) or buf.dtype != np.uint8 or buf.ndim != 1
            or not buf.flags.c_contiguous or not buf.flags.writeable
            or <size_t>buf.shape[0] < nbytes or <size_t>cnp.PyArray_DATA(buf) % 64):
        raise ValueError(f"Context.weights.empty({nbytes}) must return a writeable 64-byte "
                         f"aligned uint8 array of {nbytes} bytes, got {buf!r:.80}")
    return buf[:nbytes].view(np.float32)


cdef object _packed_copy(Context ctx, a):
    """A copy of the float32 array a kept by a layer (its bias, its weights), beside the
    packed weights (_packed_empty)."""
    out = _packed_empty(ctx, a.size)[:a.size].reshape(a.shape)
    np.copyto(out, a)
    return out


cdef object _workspace(str fn, workspace, size_t need):
    """The caller's workspace, checked to hold need floats; for None, a new one (tests,
    one-off calls), or None when no workspace is needed."""
    if workspace is None:
        return _aligned_empty(need) if need > 0 else None
    _check_array(fn, "workspace", workspace, 1, True)
    if <size_t>cnp.PyArray_SIZE(<cnp.ndarray>workspace) < need:
        raise ValueError(f"{fn}: workspace has {workspace.shape[0]} elements, needs {need}")
    return workspace


# Each kernel family's wrappers live in their own include file; _run.pxi first: the
# bound calls' base class and the run loop over them.
include "_run.pxi"
include "_gemm.pxi"
include "_conv.pxi"
include "_pool2d.pxi"
include "_eltwise.pxi"
include "_normalize.pxi"
include "_resize.pxi"
include "_conv_transpose.pxi"
include "_quant.pxi"
include "_se.pxi"
include "_ir_fused.pxi"
include "_fire.pxi"
include "_pg_fused.pxi"
include "_stem_fused.pxi"

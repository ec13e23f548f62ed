# Wrappers of the gemm kernels (included by _kernels.pyx).

cdef extern from "tinycnn.h" nogil:
    ctypedef struct tc_epilogue:
        const float *bias
        const float *col_bias
        const float *residual
        ptrdiff_t ldr
        int act

    size_t tc_gemm_pack_a_size(int M, int K)
    size_t tc_gemm_pack_b_size(int K, int N)
    void tc_gemm_pack_a_f32(int M, int K, const float *A, ptrdiff_t lda, int trans_a, float alpha,
                            float *packed)
    void tc_gemm_pack_b_f32(int K, int N, const float *B, ptrdiff_t ldb, int trans_b, float *packed)
    size_t tc_gemm_workspace_size(const tc_ctx *ctx)
    void tc_gemm_packed_a_f32(const tc_ctx *ctx, int M, int N, int K, const float *packed_a,
                              const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate,
                              const tc_epilogue *epi, float *workspace)
    int tc_sgemm_f32(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                     ptrdiff_t lda, const float *B, ptrdiff_t ldb, float beta, float *C, ptrdiff_t ldc,
                     const tc_ctx *ctx)
    size_t tc_dense_pack_size(int K, int Nout)
    void tc_dense_pack_f32(int K, int Nout, const float *weight, int trans_b, float *packed)
    size_t tc_dense_workspace_size(const tc_ctx *ctx, int M, int K, int Nout)
    void tc_dense_f32(const tc_ctx *ctx, int M, int K, int Nout, const float *a, const float *packed,
                      const float *bias, int act, float *y, float *workspace)


cdef object _aligned_empty(size_t n):
    """A 1-D float32 array of n elements whose data is 64-byte aligned (at least 1 element)."""
    cdef size_t m = n if n > 0 else 1
    buf = np.empty(m + 16, dtype=np.float32)
    cdef size_t off = (<size_t>cnp.PyArray_DATA(buf) % 64) // 4
    off = (16 - off) % 16
    return buf[off:off + m]


cdef inline const float *_fptr(object arr):
    return <const float *>cnp.PyArray_DATA(arr)


cdef inline float *_fptr_mut(object arr):
    return <float *>cnp.PyArray_DATA(arr)


def _check_f32(name, arr, int ndim):
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(arr).__name__}")
    if arr.dtype != np.float32:
        raise ValueError(f"{name} must be float32, got {arr.dtype} with shape {arr.shape}")
    if ndim >= 0 and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if not arr.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (shape {arr.shape})")


def _check_out(name, arr, int ndim):
    _check_f32(name, arr, ndim)
    if not arr.flags.writeable:
        raise ValueError(f"{name} must be writeable (shape {arr.shape})")


cdef class Dense:
    """Dense layer with a constant weight packed once:
    y[M, Nout] = act(a[M, K] . W^T + bias), weight stored [Nout, K] (trans_b=True,
    PyTorch Linear) or [K, Nout] (trans_b=False).

    Dense(ctx, weight, bias=None, trans_b=True, relu=False); .run(a, y)
    """
    cdef readonly Context ctx
    cdef readonly int in_features, out_features
    cdef readonly bint relu
    cdef object packed, bias

    def __init__(self, Context ctx, weight, bias=None, trans_b=True, relu=False):
        _check_f32("weight", weight, 2)
        self.ctx = ctx
        if trans_b:
            self.out_features, self.in_features = weight.shape[0], weight.shape[1]
        else:
            self.in_features, self.out_features = weight.shape[0], weight.shape[1]
        if bias is not None:
            _check_f32("bias", bias, 1)
            if bias.shape[0] != self.out_features:
                raise ValueError(f"bias shape {bias.shape} does not match weight shape {weight.shape} "
                                 f"(out_features={self.out_features})")
            self.bias = bias.copy()
        self.relu = relu
        self.packed = _aligned_empty(tc_dense_pack_size(self.in_features, self.out_features))
        cdef int K = self.in_features, Nout = self.out_features, tb = 1 if trans_b else 0
        cdef const float *w = _fptr(weight)
        cdef float *pk = _fptr_mut(self.packed)
        with nogil:
            tc_dense_pack_f32(K, Nout, w, tb, pk)

    def run(self, a, y):
        """y[M, Nout] = act(a[M, K] . W^T + bias).  Releases the GIL."""
        _check_f32("a", a, 2)
        _check_out("y", y, 2)
        if a.shape[1] != self.in_features or y.shape[0] != a.shape[0] or y.shape[1] != self.out_features:
            raise ValueError(f"Dense: a {a.shape} and y {y.shape} do not match "
                             f"in_features={self.in_features}, out_features={self.out_features}")
        cdef int M = a.shape[0], K = self.in_features, Nout = self.out_features
        ws = _aligned_empty(tc_dense_workspace_size(&self.ctx.ctx, M, K, Nout))
        cdef const float *pa = _fptr(a)
        cdef const float *pk = _fptr(self.packed)
        cdef const float *pb = _fptr(self.bias) if self.bias is not None else NULL
        cdef float *py = _fptr_mut(y)
        cdef float *pw = _fptr_mut(ws)
        cdef int act = TC_ACT_RELU if self.relu else TC_ACT_NONE
        with nogil:
            tc_dense_f32(&self.ctx.ctx, M, K, Nout, pa, pk, pb, act, py, pw)


def gemm(Context ctx, a, b, y, trans_a=False, trans_b=False, float alpha=1.0, float beta=0.0, c=None):
    """y[M, N] = alpha * op(a) @ op(b) + beta * c, c None or float32 (1|M, 1|N) broadcast to y."""
    _check_f32("a", a, 2)
    _check_f32("b", b, 2)
    _check_out("y", y, 2)
    cdef int M = a.shape[1] if trans_a else a.shape[0]
    cdef int K = a.shape[0] if trans_a else a.shape[1]
    cdef int Kb = b.shape[1] if trans_b else b.shape[0]
    cdef int N = b.shape[0] if trans_b else b.shape[1]
    if K != Kb or y.shape[0] != M or y.shape[1] != N:
        raise ValueError(f"gemm: op(a) {(M, K)} (a {a.shape}, trans_a={trans_a}), op(b) {(Kb, N)} "
                         f"(b {b.shape}, trans_b={trans_b}), y {y.shape} do not match")
    cdef float cbeta = 0.0
    if c is not None and beta != 0.0:
        _check_f32("c", c, 2)
        if c.shape[0] not in (1, M) or c.shape[1] not in (1, N):
            raise ValueError(f"gemm: c {c.shape} does not broadcast to y {y.shape}")
        if c is not y:
            np.copyto(y, c)
        cbeta = beta
    cdef const float *pa = _fptr(a)
    cdef const float *pb = _fptr(b)
    cdef float *py = _fptr_mut(y)
    cdef int ta = 1 if trans_a else 0, tb = 1 if trans_b else 0, rc = 0
    cdef ptrdiff_t lda = a.shape[1], ldb = b.shape[1], ldy = N
    with nogil:
        rc = tc_sgemm_f32(ta, tb, M, N, K, alpha, pa, lda, pb, ldb, cbeta, py, ldy, &ctx.ctx)
    if rc != 0:
        raise MemoryError("gemm: out of memory for the packing buffers")


# -- thread pool test hook -------------------------------------------------

cdef extern from "tinycnn.h" nogil:
    ctypedef void (*tc_range_fn)(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end) noexcept nogil
    void tc_parallel_for(tc_pool *pool, ptrdiff_t n, ptrdiff_t grain, tc_range_fn fn, void *arg)
    void tc_parallel_for_dynamic(tc_pool *pool, ptrdiff_t n, ptrdiff_t grain, tc_range_fn fn, void *arg)


cdef void _count_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    # arg: int[2, n]: visit counts, then the tid that visited
    cdef int *counts = <int *>arg
    cdef ptrdiff_t n = counts[0]
    cdef ptrdiff_t i
    for i in range(begin, end):
        counts[1 + i] += 1
        counts[1 + n + i] = tid


def _parallel_for_counts(Context ctx, Py_ssize_t n, Py_ssize_t grain=1, dynamic=False):
    """Runs tc_parallel_for (or _dynamic) over [0, n) on ctx's pool.
    Returns (how often each index was visited, the tid that visited it)."""
    buf = np.zeros(1 + 2 * max(n, 1), dtype=np.intc)
    buf[0] = n
    cdef int *pc = <int *>cnp.PyArray_DATA(buf)
    cdef bint dyn = dynamic
    with nogil:
        if dyn:
            tc_parallel_for_dynamic(ctx.ctx.pool, n, grain, _count_range, pc)
        else:
            tc_parallel_for(ctx.ctx.pool, n, grain, _count_range, pc)
    return buf[1:1 + n], buf[1 + max(n, 1):1 + max(n, 1) + n]

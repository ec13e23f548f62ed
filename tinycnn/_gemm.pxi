# Wrappers of the GEMM kernels (included by _kernels.pyx): Dense, gemm.

cdef class Dense:
    """Dense layer with a constant weight:
    y[M, Nout] = act(a[M, K] . W^T + bias), weight stored [Nout, K] (trans_b=True,
    PyTorch Linear) or [K, Nout] (trans_b=False).

    pack=True packs the weight once into GEMM panels (best for M > 1).  pack=False
    (trans_b=True only) keeps a reference to the weight and streams its rows in
    place: no second copy of the weight, and the fastest batch-1 GEMV.

    Dense(ctx, weight, bias=None, trans_b=True, relu=False, pack=True);
    .run(a, y, workspace=None) with workspace_size(M) floats of workspace.
    """
    cdef readonly Context ctx
    cdef readonly int in_features, out_features
    cdef readonly bint relu, packed_weight
    cdef object packed, weight, bias

    def __init__(self, Context ctx, weight, bias=None, trans_b=True, relu=False, pack=True):
        _check_array("Dense", "weight", weight, 2)
        self.ctx = ctx
        if trans_b:
            self.out_features, self.in_features = weight.shape[0], weight.shape[1]
        else:
            self.in_features, self.out_features = weight.shape[0], weight.shape[1]
        if bias is not None:
            _check_array("Dense", "bias", bias, 1)
            _check_shape("Dense", "bias", bias, (self.out_features,), f" (weight {weight.shape})")
            self.bias = _packed_copy(ctx, bias)
        self.relu = relu
        if not pack and not trans_b:
            raise ValueError(f"Dense: pack=False needs a [Nout, K] weight (trans_b=True), "
                             f"got weight {weight.shape} with trans_b=False")
        self.packed_weight = bool(pack)
        if not pack:
            self.weight = weight
            return
        self.packed = _packed_empty(ctx, tc_dense_pack_size(self.in_features, self.out_features))
        cdef int K = self.in_features, Nout = self.out_features, tb = 1 if trans_b else 0
        cdef const float *w = _fptr(weight)
        cdef float *pk = _fptr_mut(self.packed)
        with nogil:
            tc_dense_pack_f32(K, Nout, w, tb, pk)

    def workspace_size(self, int M):
        """float32 elements of workspace run() needs for M rows (with this Context)."""
        if not self.packed_weight:
            return 0
        return int(tc_dense_workspace_size(&self.ctx.ctx, M, self.in_features, self.out_features))

    def run(self, a, y, workspace=None):
        """y[M, Nout] = act(a[M, K] . W^T + bias).  Releases the GIL."""
        self.bind(a, y, workspace)()

    def bind(self, a, y, workspace=None):
        """run(a, y, workspace) checked now, as a call without arguments that runs it again
        and again over these buffers (a plan's arena)."""
        _check_array("Dense", "a", a, 2)
        _check_array("Dense", "y", y, 2, True)
        if a.shape[1] != self.in_features:
            raise ValueError(f"Dense: a {a.shape} must have in_features={self.in_features} columns")
        _check_shape("Dense", "y", y, (a.shape[0], self.out_features), f" for a {a.shape}")
        _check_disjoint("Dense", "a", a, y)
        cdef BoundDense call = BoundDense.__new__(BoundDense)
        call.ctx = &self.ctx.ctx
        call.M, call.K, call.Nout = a.shape[0], self.in_features, self.out_features
        call.act = TC_ACT_RELU if self.relu else TC_ACT_NONE
        call.pa = _fptr(a)
        call.pb = _fptr_or_null(self.bias)
        call.py = _fptr_mut(y)
        call.packed = self.packed_weight
        ws = None
        if self.packed_weight:
            ws = _workspace("Dense", workspace,
                            tc_dense_workspace_size(&self.ctx.ctx, call.M, call.K, call.Nout))
            call.pk = _fptr(self.packed)
        else:
            call.pk = _fptr(self.weight)
        call.pw = _fptr_or_null(ws)
        call.keep = (self, a, y, ws)
        return call


cdef class BoundDense(BoundCall):
    """Dense.run over fixed buffers, checked once (Dense.bind); call it without arguments.
    Holds the layer and the arrays, so the pointers stay valid."""
    cdef object keep
    cdef const tc_ctx *ctx
    cdef int M, K, Nout, act
    cdef bint packed
    cdef const float *pa
    cdef const float *pk
    cdef const float *pb
    cdef float *py
    cdef float *pw

    cdef int run(self) noexcept nogil:
        if self.packed:
            tc_dense_f32(self.ctx, self.M, self.K, self.Nout, self.pa, self.pk, self.pb,
                         self.act, self.py, self.pw)
        else:
            tc_dense_rows_f32(self.ctx, self.M, self.K, self.Nout, self.pa, self.pk,
                              self.pb, self.act, self.py)
        return 0


def gemm_workspace_size(Context ctx):
    """float32 elements of workspace gemm() needs with ctx (it grows with the thread count)."""
    return int(tc_gemm_workspace_size(_ctx_ptr(ctx)))


def gemm(Context ctx, a, b, y, trans_a=False, trans_b=False, float alpha=1.0, float beta=0.0, c=None,
         workspace=None):
    """y[M, N] = alpha * op(a) @ op(b) + beta * c, c None or float32 (1|M, 1|N) broadcast to y.
    Both operands are packed into workspace (gemm_workspace_size(ctx) floats)."""
    _check_array("gemm", "a", a, 2)
    _check_array("gemm", "b", b, 2)
    _check_array("gemm", "y", y, 2, True)
    cdef int M = a.shape[1] if trans_a else a.shape[0]
    cdef int K = a.shape[0] if trans_a else a.shape[1]
    cdef int Kb = b.shape[1] if trans_b else b.shape[0]
    cdef int N = b.shape[0] if trans_b else b.shape[1]
    if K != Kb or y.shape[0] != M or y.shape[1] != N:
        raise ValueError(f"gemm: op(a) {(M, K)} (a {a.shape}, trans_a={trans_a}), op(b) {(Kb, N)} "
                         f"(b {b.shape}, trans_b={trans_b}), y {y.shape} do not match")
    _check_disjoint("gemm", "a", a, y)
    _check_disjoint("gemm", "b", b, y)
    cdef float cbeta = 0.0
    if c is not None and beta != 0.0:
        _check_array("gemm", "c", c, 2)
        if c.shape[0] not in (1, M) or c.shape[1] not in (1, N):
            raise ValueError(f"gemm: c {c.shape} does not broadcast to y {y.shape}")
        if c is not y:
            np.copyto(y, c)
        cbeta = beta
    cdef const tc_ctx *cx = _ctx_ptr(ctx)
    ws = _workspace("gemm", workspace, tc_gemm_workspace_size(cx))
    cdef const float *pa = _fptr(a)
    cdef const float *pb = _fptr(b)
    cdef float *py = _fptr_mut(y)
    cdef float *pw = _fptr_or_null(ws)
    cdef int ta = 1 if trans_a else 0, tb = 1 if trans_b else 0
    cdef ptrdiff_t lda = a.shape[1], ldb = b.shape[1], ldy = N
    with nogil:
        tc_sgemm_f32(ta, tb, M, N, K, alpha, pa, lda, pb, ldb, cbeta, py, ldy, cx, pw)


def _gemm_scaled_b(Context ctx, a, b, y, scale=None, bias=None, trans_b=False, chan=False,
                   relu=False):
    """Test hook: y[M, N] = act(a[M, K] @ (scale[:, None] * op(b)) + bias[:, None]) through the
    GEMM driver as a 1x1 layer runs it (a packed as the layers pack it; chan: the channel-lane
    tiles), B's rows scaled by the driver's path itself (tc_dense_b's row_scale)."""
    _check_array("_gemm_scaled_b", "a", a, 2)
    _check_array("_gemm_scaled_b", "b", b, 2)
    _check_array("_gemm_scaled_b", "y", y, 2, True)
    cdef int M = a.shape[0], K = a.shape[1]
    cdef int N = b.shape[0] if trans_b else b.shape[1]
    if (b.shape[1] if trans_b else b.shape[0]) != K or y.shape[0] != M or y.shape[1] != N:
        raise ValueError(f"_gemm_scaled_b: a {a.shape}, b {b.shape} (trans_b={trans_b}), "
                         f"y {y.shape} do not match")
    if scale is not None:
        _check_array("_gemm_scaled_b", "scale", scale, 1)
        _check_shape("_gemm_scaled_b", "scale", scale, (K,))
    if bias is not None:
        _check_array("_gemm_scaled_b", "bias", bias, 1)
        _check_shape("_gemm_scaled_b", "bias", bias, (M,))
    cdef const tc_ctx *cx = _ctx_ptr(ctx)
    packed = _aligned_empty(tc_gemm_pack_a_chan_size(M, K) if chan else tc_gemm_pack_a_size(M, K))
    ws = _aligned_empty(tc_gemm_workspace_size(cx))
    cdef const float *pa = _fptr(a)
    cdef float *pp = _fptr_mut(packed)
    cdef const float *pb = _fptr(b)
    cdef const float *ps = _fptr_or_null(scale)
    cdef const float *pbias = _fptr_or_null(bias)
    cdef float *py = _fptr_mut(y)
    cdef float *pw = _fptr_mut(ws)
    cdef int ch = 1 if chan else 0, tb = 1 if trans_b else 0, rl = 1 if relu else 0
    cdef ptrdiff_t ldb = b.shape[1]
    cdef int r
    with nogil:
        r = tc_gemm_scaled_b_f32(cx, M, N, K, pa, ch, pp, pb, ldb, tb, ps, pbias, rl, py, pw)
    if r:
        raise ValueError("_gemm_scaled_b: the channel-lane tiles read an untransposed b")


# -- thread pool test hook -------------------------------------------------

cdef void _count_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    # arg: int[2, n]: visit counts, then the tid that visited
    cdef int *counts = <int *>arg
    cdef ptrdiff_t n = counts[0]
    cdef ptrdiff_t i
    for i in range(begin, end):
        counts[1 + i] += 1
        counts[1 + n + i] = tid


cdef extern from "<sched.h>" nogil:
    int sched_getcpu()

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    struct timespec:
        time_t tv_sec
        long tv_nsec
    int nanosleep(const timespec *req, timespec *rem)


cdef void _where_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    # arg: int[2 + 2n]: n, microseconds the caller (tid 0) sleeps in each of its chunks,
    # then per index the tid that ran it and the CPU it ran on
    cdef int *out = <int *>arg
    cdef ptrdiff_t n = out[0]
    cdef ptrdiff_t i
    cdef timespec ts
    if tid == 0 and out[1] > 0:
        ts.tv_sec = out[1] // 1000000
        ts.tv_nsec = (out[1] % 1000000) * 1000
        nanosleep(&ts, NULL)
    for i in range(begin, end):
        out[2 + i] = tid
        out[2 + n + i] = sched_getcpu()


def _parallel_for_where(Context ctx, Py_ssize_t n, int sleep_us=0):
    """Runs tc_parallel_for_dynamic (grain 1) over [0, n) on ctx's pool, the calling thread
    sleeping sleep_us in each chunk it runs.  Returns (the tid that ran each index, the CPU
    it ran on)."""
    buf = np.full(2 + 2 * max(n, 1), -1, dtype=np.intc)
    buf[0] = n
    buf[1] = sleep_us
    cdef int *pc = <int *>cnp.PyArray_DATA(buf)
    with nogil:
        tc_parallel_for_dynamic(ctx.ctx.pool, n, 1, _where_range, pc)
    return buf[2:2 + n], buf[2 + max(n, 1):2 + max(n, 1) + n]


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

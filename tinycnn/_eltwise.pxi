# Wrappers of the eltwise kernels (included by _kernels.pyx).
# Element-wise, normalisation, softmax and reduction kernels: csrc/eltwise.c, csrc/norm.c.

UNARY_OPS = {
    "relu": TC_UNARY_RELU, "leaky_relu": TC_UNARY_LEAKY_RELU, "sigmoid": TC_UNARY_SIGMOID,
    "hard_sigmoid": TC_UNARY_HARD_SIGMOID, "hard_swish": TC_UNARY_HARD_SWISH, "clip": TC_UNARY_CLIP,
    "tanh": TC_UNARY_TANH, "exp": TC_UNARY_EXP, "neg": TC_UNARY_NEG, "abs": TC_UNARY_ABS,
    "sqrt": TC_UNARY_SQRT, "erf": TC_UNARY_ERF, "log": TC_UNARY_LOG,
    "reciprocal": TC_UNARY_RECIPROCAL, "softplus": TC_UNARY_SOFTPLUS, "mish": TC_UNARY_MISH,
    "elu": TC_UNARY_ELU, "selu": TC_UNARY_SELU, "gelu": TC_UNARY_GELU,
    "gelu_tanh": TC_UNARY_GELU_TANH, "silu": TC_UNARY_SILU,
}
BINARY_OPS = {
    "add": TC_BINARY_ADD, "sub": TC_BINARY_SUB, "mul": TC_BINARY_MUL, "div": TC_BINARY_DIV,
    "max": TC_BINARY_MAX, "min": TC_BINARY_MIN, "pow": TC_BINARY_POW, "prelu": TC_BINARY_PRELU,
}
REDUCE_OPS = {"mean": TC_REDUCE_MEAN, "sum": TC_REDUCE_SUM, "max": TC_REDUCE_MAX, "min": TC_REDUCE_MIN}


cdef _elt_op(str fn, dict table, op):
    try:
        return table[op]
    except (KeyError, TypeError):
        raise ValueError(f"{fn}: unknown op {op!r}, expected one of {sorted(table)}") from None


def unary(Context ctx, str op, x, y, alpha=0.0, beta=0.0):
    """y = op(x) element-wise; y may be x.  clip: alpha=min, beta=max (None: unbounded);
    leaky_relu, elu: alpha; hard_sigmoid: alpha, beta; selu: alpha, beta=gamma.  NaN stays NaN through relu, clip and friends."""
    bind_unary(ctx, op, x, y, alpha, beta)()
    return y


def bind_unary(Context ctx, str op, x, y, alpha=0.0, beta=0.0):
    """unary(ctx, op, x, y, alpha, beta) checked now, as a call without arguments that runs
    it over these arrays (a plan's arena): the checks are paid once."""
    cdef int code = _elt_op("unary", UNARY_OPS, op)
    if code == TC_UNARY_CLIP:  # ONNX Clip: a missing bound is None here
        alpha = -np.inf if alpha is None else alpha
        beta = np.inf if beta is None else beta
    _check_array("unary", "x", x)
    _check_array("unary", "y", y, -1, True)
    if x.shape != y.shape:
        raise ValueError(f"unary {op}: x {x.shape} and y {y.shape} must have the same shape")
    _check_same_or_disjoint("unary", "x", x, y)
    cdef BoundUnary call = BoundUnary.__new__(BoundUnary)
    call.keep = (ctx, x, y)
    call.ctx = _ctx_ptr(ctx)
    call.code = code
    call.alpha = alpha
    call.beta = beta
    call.x = _fptr_mut(x)
    call.y = _fptr_mut(y)
    call.n = cnp.PyArray_SIZE(<cnp.ndarray>x)
    return call


cdef class BoundUnary(BoundCall):
    """A unary kernel over fixed arrays (bind_unary); call it without arguments."""
    cdef object keep
    cdef const tc_ctx *ctx
    cdef int code
    cdef float alpha, beta
    cdef const float *x
    cdef float *y
    cdef ptrdiff_t n

    cdef int run(self) noexcept nogil:
        tc_unary_f32(self.ctx, self.code, self.alpha, self.beta, self.x, self.y, self.n)
        return 0


def binary(Context ctx, str op, a, b, y):
    """y = a op b with numpy broadcasting (rank <= 8); y has the broadcast shape and may be a or b.
    prelu: y = a < 0 ? b * a : a (b is the slope)."""
    bind_binary(ctx, op, a, b, y)()
    return y


def bind_binary(Context ctx, str op, a, b, y):
    """binary(ctx, op, a, b, y) checked now, as a call without arguments that runs it over
    these arrays (a plan's arena): the checks are paid once."""
    cdef int code = _elt_op("binary", BINARY_OPS, op)
    _check_array("binary", "a", a)
    _check_array("binary", "b", b)
    _check_array("binary", "y", y, -1, True)
    cdef int na = cnp.PyArray_NDIM(<cnp.ndarray>a), nb = cnp.PyArray_NDIM(<cnp.ndarray>b)
    cdef int ny = cnp.PyArray_NDIM(<cnp.ndarray>y), nd = max(na, nb), k
    cdef cnp.npy_intp *da = cnp.PyArray_DIMS(<cnp.ndarray>a)
    cdef cnp.npy_intp *db = cnp.PyArray_DIMS(<cnp.ndarray>b)
    cdef cnp.npy_intp *dy = cnp.PyArray_DIMS(<cnp.ndarray>y)
    cdef BoundBinary call = BoundBinary.__new__(BoundBinary)
    if nd > TC_MAX_DIMS:
        raise ValueError(f"binary {op}: rank {nd} > {TC_MAX_DIMS} (a {a.shape}, b {b.shape})")
    if ny != nd:
        raise ValueError(f"binary {op}: y {y.shape} must have the broadcast shape of a {a.shape}, b {b.shape}")
    for k in range(nd):
        call.as_[k] = da[k - (nd - na)] if k >= nd - na else 1
        call.bs[k] = db[k - (nd - nb)] if k >= nd - nb else 1
        if call.as_[k] != call.bs[k] and call.as_[k] != 1 and call.bs[k] != 1:
            raise ValueError(f"binary {op}: a {a.shape} and b {b.shape} do not broadcast")
        call.ys[k] = call.as_[k] if call.bs[k] == 1 else call.bs[k]
        if call.ys[k] != dy[k]:
            raise ValueError(f"binary {op}: y {y.shape} must have the broadcast shape of a {a.shape}, b {b.shape}")
    _check_same_or_disjoint("binary", "a", a, y)
    _check_same_or_disjoint("binary", "b", b, y)
    call.keep = (ctx, a, b, y)
    call.op = op
    call.ctx = _ctx_ptr(ctx)
    call.code = code
    call.nd = nd
    call.a = _fptr_mut(a)
    call.b = _fptr_mut(b)
    call.y = _fptr_mut(y)
    return call


cdef class BoundBinary(BoundCall):
    """A binary kernel over fixed arrays (bind_binary); call it without arguments."""
    cdef object keep, op
    cdef const tc_ctx *ctx
    cdef int code, nd
    cdef ptrdiff_t ys[8]
    cdef ptrdiff_t as_[8]
    cdef ptrdiff_t bs[8]
    cdef const float *a
    cdef const float *b
    cdef float *y

    cdef int run(self) noexcept nogil:
        return tc_binary_f32(self.ctx, self.code, self.nd, self.ys, self.a, self.as_, self.b,
                             self.bs, self.y)

    cdef failed(self, int rc):
        _, a, b, y = self.keep
        raise ValueError(f"binary {self.op}: kernel rejected a {a.shape}, b {b.shape}, "
                         f"y {y.shape}")


def batch_norm(Context ctx, x, scale, bias, mean, var, eps, y, relu=False):
    """Inference BatchNormalization over axis 1 of x [N, C, ...]; parameters [C]; y may be x;
    relu: then max(y, 0) in the same pass."""
    bind_batch_norm(ctx, x, scale, bias, mean, var, eps, y, relu)()
    return y


cdef class BoundBatchNorm(BoundCall):
    """batch_norm over fixed buffers, checked once (bind_batch_norm); call it without
    arguments.  Holds the arrays, so the pointers stay valid."""
    cdef object keep
    cdef const tc_ctx *ctx
    cdef ptrdiff_t n, c, s
    cdef const float *xp
    cdef const float *sp
    cdef const float *bp
    cdef const float *mp
    cdef const float *vp
    cdef float *yp
    cdef float eps
    cdef int relu

    cdef int run(self) noexcept nogil:
        if self.n == 0:
            return 0
        tc_batch_norm_act_f32(self.ctx, self.n, self.c, self.s, self.xp, self.sp, self.bp,
                              self.mp, self.vp, self.eps, self.relu, self.yp)
        return 0


def bind_batch_norm(Context ctx, x, scale, bias, mean, var, eps, y, relu=False):
    """batch_norm(ctx, x, scale, bias, mean, var, eps, y, relu) checked now, as a call without
    arguments that runs it again and again over these buffers (a plan's arena)."""
    for name, arr in (("x", x), ("scale", scale), ("bias", bias), ("mean", mean), ("var", var)):
        _check_array("batch_norm", name, arr)
    _check_array("batch_norm", "y", y, -1, True)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: x must be [N, C, ...], got {x.shape}")
    ch = x.shape[1]
    for name, arr in (("scale", scale), ("bias", bias), ("mean", mean), ("var", var)):
        if arr.shape != (ch,):
            raise ValueError(f"batch_norm: {name} {arr.shape} must be ({ch},) for x {x.shape}")
    if y.shape != x.shape:
        raise ValueError(f"batch_norm: y {y.shape} must have x's shape {x.shape}")
    _check_same_or_disjoint("batch_norm", "x", x, y)
    cdef BoundBatchNorm call = BoundBatchNorm.__new__(BoundBatchNorm)
    call.n = 0 if x.size == 0 else x.shape[0]
    call.c = ch
    call.s = x.size // (x.shape[0] * ch) if x.size else 0
    call.ctx = _ctx_ptr(ctx)
    call.xp, call.sp, call.bp = _fptr(x), _fptr(scale), _fptr(bias)
    call.mp, call.vp, call.yp = _fptr(mean), _fptr(var), _fptr_mut(y)
    call.eps = eps
    call.relu = 1 if relu else 0
    call.keep = (ctx, x, scale, bias, mean, var, y)
    return call


cdef class BoundCopyPlanes(BoundCall):
    """copy_planes over fixed buffers, checked once (bind_copy_planes); call it without
    arguments.  Holds the arrays, so the pointers stay valid."""
    cdef object keep
    cdef const tc_ctx *ctx
    cdef ptrdiff_t planes, n, y_stride
    cdef const float *xp
    cdef float *yp

    cdef int run(self) noexcept nogil:
        tc_copy_planes_f32(self.ctx, self.planes, self.n, self.xp, self.yp, self.y_stride)
        return 0


def bind_copy_planes(Context ctx, x, y, ptrdiff_t n, ptrdiff_t y_offset, ptrdiff_t y_stride):
    """copy_planes(ctx, x, y, n, y_offset, y_stride) checked now, as a call without arguments
    that runs it again and again over these buffers (a plan's arena)."""
    _check_array("copy_planes", "x", x)
    _check_array("copy_planes", "y", y, -1, True)
    cdef ptrdiff_t size = x.size, ysize = y.size
    if n < 1 or size % n or y_offset < 0 or y_stride < n:
        raise ValueError(f"copy_planes: x {x.shape} must be planes of n={n} >= 1 floats, "
                         f"y_offset={y_offset} >= 0 and y_stride={y_stride} >= n")
    cdef ptrdiff_t planes = size // n
    if planes and y_offset + (planes - 1) * y_stride + n > ysize:
        raise ValueError(f"copy_planes: {planes} planes of {n} floats, {y_stride} apart from "
                         f"{y_offset}, do not fit in y {y.shape}")
    _check_disjoint("copy_planes", "x", x, y)
    cdef BoundCopyPlanes call = BoundCopyPlanes.__new__(BoundCopyPlanes)
    call.ctx = _ctx_ptr(ctx)
    call.planes, call.n, call.y_stride = planes, n, y_stride
    call.xp = _fptr(x)
    call.yp = _fptr_mut(y) + y_offset
    call.keep = (ctx, x, y)
    return call


def copy_planes(Context ctx, x, y, n, y_offset, y_stride):
    """The planes of n floats of x (C-contiguous) into y (C-contiguous), y_stride floats
    apart from y_offset on: y.flat[y_offset + i * y_stride + k] = x.flat[i * n + k]."""
    bind_copy_planes(ctx, x, y, n, y_offset, y_stride)()
    return y


def lrn(Context ctx, x, y, size, alpha, beta, bias):
    """ONNX LRN across channels of x [N, C, ...]; y must not overlap x."""
    _check_array("lrn", "x", x)
    _check_array("lrn", "y", y, -1, True)
    if x.ndim < 2 or y.shape != x.shape:
        raise ValueError(f"lrn: x must be [N, C, ...] and y the same shape, got x {x.shape}, y {y.shape}")
    if int(size) < 1:
        raise ValueError(f"lrn: size must be >= 1, got {size}")
    _check_disjoint("lrn", "x", x, y)
    if x.size == 0:
        return y
    cdef ptrdiff_t n = x.shape[0], ch = x.shape[1], s = x.size // (x.shape[0] * x.shape[1])
    cdef int sz = size
    cdef float fa = alpha, fb = beta, fbias = bias
    cdef const float *xp = _fptr_mut(x)
    cdef float *yp = _fptr_mut(y)
    cdef const tc_ctx *c = _ctx_ptr(ctx)
    with nogil:
        tc_lrn_f32(c, n, ch, s, sz, fa, fb, fbias, xp, yp)
    return y


def softmax(Context ctx, x, y, outer, n, inner, log=False):
    """Softmax (log=True: LogSoftmax) along the middle axis of the [outer, n, inner] view of x; y may be x."""
    _check_array("softmax", "x", x)
    _check_array("softmax", "y", y, -1, True)
    cdef ptrdiff_t o = outer, nn = n, i = inner
    if o < 0 or nn < 0 or i < 0 or x.size != o * nn * i or y.shape != x.shape:
        raise ValueError(f"softmax: x {x.shape}, y {y.shape} do not match the view [{outer}, {n}, {inner}]")
    _check_same_or_disjoint("softmax", "x", x, y)
    if x.size == 0:
        return y
    cdef const float *xp = _fptr_mut(x)
    cdef float *yp = _fptr_mut(y)
    cdef const tc_ctx *c = _ctx_ptr(ctx)
    cdef int lg = 1 if log else 0
    with nogil:
        tc_softmax_f32(c, o, nn, i, lg, xp, yp)
    return y


def reduce(Context ctx, str op, x, y, outer, n, inner):
    """y [outer, inner] = op over the middle axis of the [outer, n, inner] view of x (any shapes of those sizes)."""
    bind_reduce(ctx, op, x, y, outer, n, inner)()
    return y


def bind_reduce(Context ctx, str op, x, y, outer, n, inner):
    """reduce(ctx, op, x, y, outer, n, inner) checked now, as a call without arguments that
    runs it over these arrays (a plan's arena): the checks are paid once."""
    cdef int code = _elt_op("reduce", REDUCE_OPS, op)
    _check_array("reduce", "x", x)
    _check_array("reduce", "y", y, -1, True)
    cdef ptrdiff_t o = outer, nn = n, i = inner
    if o < 0 or nn < 0 or i < 0 or x.size != o * nn * i or y.size != o * i:
        raise ValueError(f"reduce {op}: x {x.shape}, y {y.shape} do not match the view [{outer}, {n}, {inner}]")
    _check_disjoint(f"reduce {op}", "x", x, y)
    cdef BoundReduce call = BoundReduce.__new__(BoundReduce)
    call.keep = (ctx, x, y)
    call.ctx = _ctx_ptr(ctx)
    call.code = code
    call.o, call.n, call.i = o, nn, i
    call.x = _fptr_mut(x)
    call.y = _fptr_mut(y)
    call.empty = x.size == 0     # y is then the identity of the op
    call.identity = {"sum": 0.0, "mean": np.nan, "max": -np.inf, "min": np.inf}[op]
    return call


cdef class BoundReduce(BoundCall):
    """A reduction over fixed arrays (bind_reduce); call it without arguments."""
    cdef object keep
    cdef const tc_ctx *ctx
    cdef int code
    cdef bint empty
    cdef float identity
    cdef ptrdiff_t o, n, i
    cdef const float *x
    cdef float *y

    cdef int run(self) noexcept nogil:
        cdef ptrdiff_t k
        if self.o * self.i == 0:
            return 0
        if self.empty:
            for k in range(self.o * self.i):
                self.y[k] = self.identity
        else:
            tc_reduce_f32(self.ctx, self.code, self.o, self.n, self.i, self.x, self.y)
        return 0

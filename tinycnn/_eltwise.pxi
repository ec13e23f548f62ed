# Wrappers of the eltwise kernels (included by _kernels.pyx).
# Element-wise, normalisation, softmax and reduction kernels: csrc/eltwise.c, csrc/norm.c.

cdef extern from "tinycnn.h" nogil:
    enum:
        TC_UNARY_RELU
        TC_UNARY_LEAKY_RELU
        TC_UNARY_SIGMOID
        TC_UNARY_HARD_SIGMOID
        TC_UNARY_HARD_SWISH
        TC_UNARY_CLIP
        TC_UNARY_TANH
        TC_UNARY_EXP
        TC_UNARY_NEG
        TC_UNARY_ABS
        TC_UNARY_SQRT
        TC_UNARY_ERF
        TC_UNARY_LOG
        TC_UNARY_RECIPROCAL
        TC_UNARY_SOFTPLUS
        TC_UNARY_MISH
        TC_UNARY_ELU
        TC_UNARY_SELU
        TC_UNARY_GELU
        TC_UNARY_GELU_TANH
        TC_UNARY_SILU
        TC_BINARY_ADD
        TC_BINARY_SUB
        TC_BINARY_MUL
        TC_BINARY_DIV
        TC_BINARY_MAX
        TC_BINARY_MIN
        TC_BINARY_POW
        TC_BINARY_PRELU
        TC_REDUCE_MEAN
        TC_REDUCE_SUM
        TC_REDUCE_MAX
        TC_REDUCE_MIN
        TC_MAX_DIMS
    int tc_unary_f32(const tc_ctx *ctx, int op, float alpha, float beta, const float *x, float *y,
                     ptrdiff_t n)
    int tc_binary_f32(const tc_ctx *ctx, int op, int ndim, const ptrdiff_t *y_shape,
                      const float *a, const ptrdiff_t *a_shape,
                      const float *b, const ptrdiff_t *b_shape, float *y)
    void tc_batch_norm_f32(const tc_ctx *ctx, ptrdiff_t n, ptrdiff_t c, ptrdiff_t s, const float *x,
                           const float *scale, const float *bias, const float *mean, const float *var,
                           float eps, float *y)
    void tc_lrn_f32(const tc_ctx *ctx, ptrdiff_t n, ptrdiff_t c, ptrdiff_t s, int size, float alpha,
                    float beta, float bias, const float *x, float *y)
    void tc_softmax_f32(const tc_ctx *ctx, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                        int log_softmax, const float *x, float *y)
    int tc_reduce_f32(const tc_ctx *ctx, int op, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                      const float *x, float *y)

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


# As in _pool.pxi: arrays are checked, then passed by data pointer (no per-call
# memoryview or reshape: these calls are many and often small).

cdef inline const tc_ctx *_elt_ctx(Context ctx):
    return NULL if ctx is None else &ctx.ctx


cdef inline bint _elt_ok(a, bint writeable):
    return (isinstance(a, cnp.ndarray) and cnp.PyArray_TYPE(<cnp.ndarray>a) == cnp.NPY_FLOAT32
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a)
            and (not writeable or cnp.PyArray_ISWRITEABLE(<cnp.ndarray>a)))


cdef _elt_check(str fn, str name, a, bint writeable=False):
    if not _elt_ok(a, writeable):
        if not isinstance(a, np.ndarray):
            raise ValueError(f"{fn}: {name} must be a numpy array, got {type(a).__name__}")
        raise ValueError(f"{fn}: {name} must be float32, C-contiguous{', writeable' if writeable else ''}; "
                         f"got dtype {a.dtype}, shape {a.shape}, C-contiguous={a.flags.c_contiguous}, "
                         f"writeable={a.flags.writeable}")


cdef inline float *_elt_ptr(a):
    return <float *>cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline bint _elt_overlap(a, b):
    """Do two C-contiguous arrays share bytes?"""
    cdef char *pa = <char *>cnp.PyArray_DATA(<cnp.ndarray>a)
    cdef char *pb = <char *>cnp.PyArray_DATA(<cnp.ndarray>b)
    return pa < pb + cnp.PyArray_NBYTES(<cnp.ndarray>b) and pb < pa + cnp.PyArray_NBYTES(<cnp.ndarray>a)


cdef _elt_same_or_disjoint(str fn, str name, a, y):
    """y may be exactly a (same buffer, same shape) or must not overlap it."""
    if _elt_overlap(a, y):
        if not (cnp.PyArray_DATA(<cnp.ndarray>a) == cnp.PyArray_DATA(<cnp.ndarray>y) and a.shape == y.shape):
            raise ValueError(f"{fn}: y {y.shape} partially overlaps {name} {a.shape}; "
                             f"it may only be the very same array")


cdef _elt_op(str fn, dict table, op):
    try:
        return table[op]
    except (KeyError, TypeError):
        raise ValueError(f"{fn}: unknown op {op!r}, expected one of {sorted(table)}") from None


def unary(Context ctx, str op, x, y, alpha=0.0, beta=0.0):
    """y = op(x) element-wise; y may be x.  clip: alpha=min, beta=max (None: unbounded);
    leaky_relu, elu: alpha; hard_sigmoid: alpha, beta; selu: alpha, beta=gamma.  NaN stays NaN through relu, clip and friends."""
    cdef int code = _elt_op("unary", UNARY_OPS, op)
    if code == TC_UNARY_CLIP:  # ONNX Clip: a missing bound is None here
        alpha = -np.inf if alpha is None else alpha
        beta = np.inf if beta is None else beta
    _elt_check("unary", "x", x)
    _elt_check("unary", "y", y, True)
    if x.shape != y.shape:
        raise ValueError(f"unary {op}: x {x.shape} and y {y.shape} must have the same shape")
    _elt_same_or_disjoint("unary", "x", x, y)
    cdef const float *xp = _elt_ptr(x)
    cdef float *yp = _elt_ptr(y)
    cdef const tc_ctx *c = _elt_ctx(ctx)
    cdef float fa = alpha, fb = beta
    cdef ptrdiff_t n = cnp.PyArray_SIZE(<cnp.ndarray>x)
    with nogil:
        tc_unary_f32(c, code, fa, fb, xp, yp, n)
    return y


def binary(Context ctx, str op, a, b, y):
    """y = a op b with numpy broadcasting (rank <= 8); y has the broadcast shape and may be a or b.
    prelu: y = a < 0 ? b * a : a (b is the slope)."""
    cdef int code = _elt_op("binary", BINARY_OPS, op)
    _elt_check("binary", "a", a)
    _elt_check("binary", "b", b)
    _elt_check("binary", "y", y, True)
    cdef int na = cnp.PyArray_NDIM(<cnp.ndarray>a), nb = cnp.PyArray_NDIM(<cnp.ndarray>b)
    cdef int ny = cnp.PyArray_NDIM(<cnp.ndarray>y), nd = max(na, nb), k
    cdef cnp.npy_intp *da = cnp.PyArray_DIMS(<cnp.ndarray>a)
    cdef cnp.npy_intp *db = cnp.PyArray_DIMS(<cnp.ndarray>b)
    cdef cnp.npy_intp *dy = cnp.PyArray_DIMS(<cnp.ndarray>y)
    cdef ptrdiff_t ys[8]
    cdef ptrdiff_t as_[8]
    cdef ptrdiff_t bs[8]
    if nd > TC_MAX_DIMS:
        raise ValueError(f"binary {op}: rank {nd} > {TC_MAX_DIMS} (a {a.shape}, b {b.shape})")
    if ny != nd:
        raise ValueError(f"binary {op}: y {y.shape} must have the broadcast shape of a {a.shape}, b {b.shape}")
    for k in range(nd):
        as_[k] = da[k - (nd - na)] if k >= nd - na else 1
        bs[k] = db[k - (nd - nb)] if k >= nd - nb else 1
        if as_[k] != bs[k] and as_[k] != 1 and bs[k] != 1:
            raise ValueError(f"binary {op}: a {a.shape} and b {b.shape} do not broadcast")
        ys[k] = as_[k] if bs[k] == 1 else bs[k]
        if ys[k] != dy[k]:
            raise ValueError(f"binary {op}: y {y.shape} must have the broadcast shape of a {a.shape}, b {b.shape}")
    _elt_same_or_disjoint("binary", "a", a, y)
    _elt_same_or_disjoint("binary", "b", b, y)
    cdef const float *ap = _elt_ptr(a)
    cdef const float *bp = _elt_ptr(b)
    cdef float *yp = _elt_ptr(y)
    cdef const tc_ctx *c = _elt_ctx(ctx)
    cdef int rc
    with nogil:
        rc = tc_binary_f32(c, code, nd, ys, ap, as_, bp, bs, yp)
    if rc != 0:
        raise ValueError(f"binary {op}: kernel rejected a {a.shape}, b {b.shape}, y {y.shape}")
    return y


def batch_norm(Context ctx, x, scale, bias, mean, var, eps, y):
    """Inference BatchNormalization over axis 1 of x [N, C, ...]; parameters [C]; y may be x."""
    for name, arr in (("x", x), ("scale", scale), ("bias", bias), ("mean", mean), ("var", var)):
        _elt_check("batch_norm", name, arr)
    _elt_check("batch_norm", "y", y, True)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: x must be [N, C, ...], got {x.shape}")
    ch = x.shape[1]
    for name, arr in (("scale", scale), ("bias", bias), ("mean", mean), ("var", var)):
        if arr.shape != (ch,):
            raise ValueError(f"batch_norm: {name} {arr.shape} must be ({ch},) for x {x.shape}")
    if y.shape != x.shape:
        raise ValueError(f"batch_norm: y {y.shape} must have x's shape {x.shape}")
    _elt_same_or_disjoint("batch_norm", "x", x, y)
    if x.size == 0:
        return y
    cdef ptrdiff_t n = x.shape[0], c_ = ch, s = x.size // (x.shape[0] * ch)
    cdef const float *xp = _elt_ptr(x)
    cdef const float *sp = _elt_ptr(scale)
    cdef const float *bp = _elt_ptr(bias)
    cdef const float *mp = _elt_ptr(mean)
    cdef const float *vp = _elt_ptr(var)
    cdef float *yp = _elt_ptr(y)
    cdef float e = eps
    cdef const tc_ctx *c = _elt_ctx(ctx)
    with nogil:
        tc_batch_norm_f32(c, n, c_, s, xp, sp, bp, mp, vp, e, yp)
    return y


def lrn(Context ctx, x, y, size, alpha, beta, bias):
    """ONNX LRN across channels of x [N, C, ...]; y must not overlap x."""
    _elt_check("lrn", "x", x)
    _elt_check("lrn", "y", y, True)
    if x.ndim < 2 or y.shape != x.shape:
        raise ValueError(f"lrn: x must be [N, C, ...] and y the same shape, got x {x.shape}, y {y.shape}")
    if int(size) < 1:
        raise ValueError(f"lrn: size must be >= 1, got {size}")
    if _elt_overlap(x, y):
        raise ValueError("lrn: y must not overlap x")
    if x.size == 0:
        return y
    cdef ptrdiff_t n = x.shape[0], ch = x.shape[1], s = x.size // (x.shape[0] * x.shape[1])
    cdef int sz = size
    cdef float fa = alpha, fb = beta, fbias = bias
    cdef const float *xp = _elt_ptr(x)
    cdef float *yp = _elt_ptr(y)
    cdef const tc_ctx *c = _elt_ctx(ctx)
    with nogil:
        tc_lrn_f32(c, n, ch, s, sz, fa, fb, fbias, xp, yp)
    return y


def softmax(Context ctx, x, y, outer, n, inner, log=False):
    """Softmax (log=True: LogSoftmax) along the middle axis of the [outer, n, inner] view of x; y may be x."""
    _elt_check("softmax", "x", x)
    _elt_check("softmax", "y", y, True)
    cdef ptrdiff_t o = outer, nn = n, i = inner
    if o < 0 or nn < 0 or i < 0 or x.size != o * nn * i or y.shape != x.shape:
        raise ValueError(f"softmax: x {x.shape}, y {y.shape} do not match the view [{outer}, {n}, {inner}]")
    _elt_same_or_disjoint("softmax", "x", x, y)
    if x.size == 0:
        return y
    cdef const float *xp = _elt_ptr(x)
    cdef float *yp = _elt_ptr(y)
    cdef const tc_ctx *c = _elt_ctx(ctx)
    cdef int lg = 1 if log else 0
    with nogil:
        tc_softmax_f32(c, o, nn, i, lg, xp, yp)
    return y


def reduce(Context ctx, str op, x, y, outer, n, inner):
    """y [outer, inner] = op over the middle axis of the [outer, n, inner] view of x (any shapes of those sizes)."""
    cdef int code = _elt_op("reduce", REDUCE_OPS, op)
    _elt_check("reduce", "x", x)
    _elt_check("reduce", "y", y, True)
    cdef ptrdiff_t o = outer, nn = n, i = inner
    if o < 0 or nn < 0 or i < 0 or x.size != o * nn * i or y.size != o * i:
        raise ValueError(f"reduce {op}: x {x.shape}, y {y.shape} do not match the view [{outer}, {n}, {inner}]")
    if _elt_overlap(x, y):
        raise ValueError(f"reduce {op}: y must not overlap x")
    if y.size == 0:
        return y
    if x.size == 0:
        # empty reduction: the identity of the op
        y[...] = {"sum": 0.0, "mean": np.nan, "max": -np.inf, "min": np.inf}[op]
        return y
    cdef const float *xp = _elt_ptr(x)
    cdef float *yp = _elt_ptr(y)
    cdef const tc_ctx *c = _elt_ctx(ctx)
    with nogil:
        tc_reduce_f32(c, code, o, nn, i, xp, yp)
    return y

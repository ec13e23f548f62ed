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
    "sqrt": TC_UNARY_SQRT, "erf": TC_UNARY_ERF,
}
BINARY_OPS = {
    "add": TC_BINARY_ADD, "sub": TC_BINARY_SUB, "mul": TC_BINARY_MUL, "div": TC_BINARY_DIV,
    "max": TC_BINARY_MAX, "min": TC_BINARY_MIN, "pow": TC_BINARY_POW, "prelu": TC_BINARY_PRELU,
}
REDUCE_OPS = {"mean": TC_REDUCE_MEAN, "sum": TC_REDUCE_SUM, "max": TC_REDUCE_MAX, "min": TC_REDUCE_MIN}


cdef inline const tc_ctx *_elt_ctx(Context ctx):
    return NULL if ctx is None else &ctx.ctx


cdef _elt_check(str fn, str name, a):
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{fn}: {name} must be a numpy array, got {type(a).__name__}")
    if a.dtype != np.float32 or not a.flags.c_contiguous:
        raise ValueError(f"{fn}: {name} must be float32 and C-contiguous, got dtype {a.dtype}, "
                         f"shape {a.shape}, C-contiguous={a.flags.c_contiguous}")


cdef _elt_same_or_disjoint(str fn, str name, a, y):
    """y may be exactly a (same buffer, same shape) or must not overlap it."""
    if np.may_share_memory(a, y):
        if not (cnp.PyArray_DATA(a) == cnp.PyArray_DATA(y) and a.shape == y.shape):
            raise ValueError(f"{fn}: y {y.shape} partially overlaps {name} {a.shape}; "
                             f"it may only be the very same array")


cdef _elt_op(str fn, dict table, op):
    try:
        return table[op]
    except (KeyError, TypeError):
        raise ValueError(f"{fn}: unknown op {op!r}, expected one of {sorted(table)}") from None


def unary(Context ctx, str op, x, y, alpha=0.0, beta=0.0):
    """y = op(x) element-wise; y may be x.  clip: alpha=min, beta=max;
    leaky_relu: alpha; hard_sigmoid: alpha, beta."""
    cdef int code = _elt_op("unary", UNARY_OPS, op)
    _elt_check("unary", "x", x)
    _elt_check("unary", "y", y)
    if x.shape != y.shape:
        raise ValueError(f"unary {op}: x {x.shape} and y {y.shape} must have the same shape")
    _elt_same_or_disjoint("unary", "x", x, y)
    if x.size == 0:
        return y
    cdef const float[::1] xv = x.reshape(-1)
    cdef float[::1] yv = y.reshape(-1)
    cdef const tc_ctx *c = _elt_ctx(ctx)
    cdef float fa = alpha, fb = beta
    cdef ptrdiff_t n = x.size
    with nogil:
        tc_unary_f32(c, code, fa, fb, &xv[0], &yv[0], n)
    return y


def binary(Context ctx, str op, a, b, y):
    """y = a op b with numpy broadcasting (rank <= 8); y has the broadcast shape and may be a or b.
    prelu: y = a < 0 ? b * a : a (b is the slope)."""
    cdef int code = _elt_op("binary", BINARY_OPS, op)
    _elt_check("binary", "a", a)
    _elt_check("binary", "b", b)
    _elt_check("binary", "y", y)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"binary {op}: a {a.shape} and b {b.shape} do not broadcast") from None
    if shape != y.shape:
        raise ValueError(f"binary {op}: y {y.shape} must have the broadcast shape {shape} of a {a.shape}, b {b.shape}")
    cdef int nd = len(shape), k
    if nd > TC_MAX_DIMS:
        raise ValueError(f"binary {op}: rank {nd} > {TC_MAX_DIMS} (a {a.shape}, b {b.shape})")
    _elt_same_or_disjoint("binary", "a", a, y)
    _elt_same_or_disjoint("binary", "b", b, y)
    if y.size == 0:
        return y
    cdef ptrdiff_t ys[8]
    cdef ptrdiff_t as_[8]
    cdef ptrdiff_t bs[8]
    for k in range(nd):
        ys[k] = shape[k]
        as_[k] = 1
        bs[k] = 1
    for k in range(a.ndim):
        as_[nd - a.ndim + k] = a.shape[k]
    for k in range(b.ndim):
        bs[nd - b.ndim + k] = b.shape[k]
    cdef const float[::1] av = a.reshape(-1)
    cdef const float[::1] bv = b.reshape(-1)
    cdef float[::1] yv = y.reshape(-1)
    cdef const tc_ctx *c = _elt_ctx(ctx)
    cdef int rc
    with nogil:
        rc = tc_binary_f32(c, code, nd, ys, &av[0], as_, &bv[0], bs, &yv[0])
    if rc != 0:
        raise ValueError(f"binary {op}: kernel rejected a {a.shape}, b {b.shape}, y {y.shape}")
    return y


def batch_norm(Context ctx, x, scale, bias, mean, var, eps, y):
    """Inference BatchNormalization over axis 1 of x [N, C, ...]; parameters [C]; y may be x."""
    for name, arr in (("x", x), ("scale", scale), ("bias", bias), ("mean", mean), ("var", var), ("y", y)):
        _elt_check("batch_norm", name, arr)
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
    cdef const float[::1] xv = x.reshape(-1)
    cdef const float[::1] sv = scale
    cdef const float[::1] bv = bias
    cdef const float[::1] mv = mean
    cdef const float[::1] vv = var
    cdef float[::1] yv = y.reshape(-1)
    cdef float e = eps
    cdef const tc_ctx *c = _elt_ctx(ctx)
    with nogil:
        tc_batch_norm_f32(c, n, c_, s, &xv[0], &sv[0], &bv[0], &mv[0], &vv[0], e, &yv[0])
    return y


def lrn(Context ctx, x, y, size, alpha, beta, bias):
    """ONNX LRN across channels of x [N, C, ...]; y must not overlap x."""
    _elt_check("lrn", "x", x)
    _elt_check("lrn", "y", y)
    if x.ndim < 2 or y.shape != x.shape:
        raise ValueError(f"lrn: x must be [N, C, ...] and y the same shape, got x {x.shape}, y {y.shape}")
    if int(size) < 1:
        raise ValueError(f"lrn: size must be >= 1, got {size}")
    if np.may_share_memory(x, y):
        raise ValueError("lrn: y must not overlap x")
    if x.size == 0:
        return y
    cdef ptrdiff_t n = x.shape[0], ch = x.shape[1], s = x.size // (x.shape[0] * x.shape[1])
    cdef int sz = size
    cdef float fa = alpha, fb = beta, fbias = bias
    cdef const float[::1] xv = x.reshape(-1)
    cdef float[::1] yv = y.reshape(-1)
    cdef const tc_ctx *c = _elt_ctx(ctx)
    with nogil:
        tc_lrn_f32(c, n, ch, s, sz, fa, fb, fbias, &xv[0], &yv[0])
    return y


def softmax(Context ctx, x, y, outer, n, inner, log=False):
    """Softmax (log=True: LogSoftmax) along the middle axis of the [outer, n, inner] view of x; y may be x."""
    _elt_check("softmax", "x", x)
    _elt_check("softmax", "y", y)
    cdef ptrdiff_t o = outer, nn = n, i = inner
    if o < 0 or nn < 0 or i < 0 or x.size != o * nn * i or y.shape != x.shape:
        raise ValueError(f"softmax: x {x.shape}, y {y.shape} do not match the view [{outer}, {n}, {inner}]")
    _elt_same_or_disjoint("softmax", "x", x, y)
    if x.size == 0:
        return y
    cdef const float[::1] xv = x.reshape(-1)
    cdef float[::1] yv = y.reshape(-1)
    cdef const tc_ctx *c = _elt_ctx(ctx)
    cdef int lg = 1 if log else 0
    with nogil:
        tc_softmax_f32(c, o, nn, i, lg, &xv[0], &yv[0])
    return y


def reduce(Context ctx, str op, x, y, outer, n, inner):
    """y [outer, inner] = op over the middle axis of the [outer, n, inner] view of x (any shapes of those sizes)."""
    cdef int code = _elt_op("reduce", REDUCE_OPS, op)
    _elt_check("reduce", "x", x)
    _elt_check("reduce", "y", y)
    cdef ptrdiff_t o = outer, nn = n, i = inner
    if o < 0 or nn < 0 or i < 0 or x.size != o * nn * i or y.size != o * i:
        raise ValueError(f"reduce {op}: x {x.shape}, y {y.shape} do not match the view [{outer}, {n}, {inner}]")
    if np.may_share_memory(x, y):
        raise ValueError(f"reduce {op}: y must not overlap x")
    if y.size == 0:
        return y
    if x.size == 0:
        # empty reduction: the identity of the op
        y[...] = {"sum": 0.0, "mean": np.nan, "max": -np.inf, "min": np.inf}[op]
        return y
    cdef const float[::1] xv = x.reshape(-1)
    cdef float[::1] yv = y.reshape(-1)
    cdef const tc_ctx *c = _elt_ctx(ctx)
    with nogil:
        tc_reduce_f32(c, code, o, nn, i, &xv[0], &yv[0])
    return y

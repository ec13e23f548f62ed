# Wrappers of the pool kernels (included by _kernels.pyx).
# Pooling kernels: csrc/pool2d.c.  The executor computes output sizes
# (including ceil_mode) and passes y with that shape.

cdef extern from "tinycnn.h" nogil:
    ctypedef struct tc_pool2d_desc:
        ptrdiff_t nc
        int h, w, oh, ow, kh, kw, sh, sw
        int pad_t, pad_l, pad_b, pad_r
        int dh, dw
    int tc_pool2d_check(const tc_pool2d_desc *d)
    void tc_max_pool2d_f32(const tc_ctx *ctx, const tc_pool2d_desc *d, const float *x, float *y)
    void tc_avg_pool2d_f32(const tc_ctx *ctx, const tc_pool2d_desc *d, int count_include_pad,
                           const float *x, float *y)
    void tc_global_avg_pool_f32(const tc_ctx *ctx, ptrdiff_t nc, ptrdiff_t s, const float *x, float *y)
    void tc_global_max_pool_f32(const tc_ctx *ctx, ptrdiff_t nc, ptrdiff_t s, const float *x, float *y)


cdef inline const tc_ctx *_pool_ctx(Context ctx):
    return NULL if ctx is None else &ctx.ctx


cdef _pool_check_array(str fn, str name, a, int ndim=-1):
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{fn}: {name} must be a numpy array, got {type(a).__name__}")
    if a.dtype != np.float32 or not a.flags.c_contiguous:
        raise ValueError(f"{fn}: {name} must be float32 and C-contiguous, got dtype {a.dtype}, "
                         f"shape {a.shape}, C-contiguous={a.flags.c_contiguous}")
    if ndim >= 0 and a.ndim != ndim:
        raise ValueError(f"{fn}: {name} must have {ndim} dims, got shape {a.shape}")


cdef _pool_pair(str fn, str name, v):
    t = tuple(int(e) for e in v)
    if len(t) != 2:
        raise ValueError(f"{fn}: {name} must have 2 values (h, w), got {v!r}")
    return t


cdef _pool_desc(tc_pool2d_desc *d, str fn, x, y, kernel, strides, pads, dilations):
    _pool_check_array(fn, "x", x, 4)
    _pool_check_array(fn, "y", y, 4)
    if x.shape[0] != y.shape[0] or x.shape[1] != y.shape[1]:
        raise ValueError(f"{fn}: x {x.shape} and y {y.shape} must agree on N and C")
    k = _pool_pair(fn, "kernel", kernel)
    s = _pool_pair(fn, "strides", strides)
    dl = _pool_pair(fn, "dilations", dilations)
    p = tuple(int(e) for e in pads)
    if len(p) != 4:
        raise ValueError(f"{fn}: pads must have 4 values (top, left, bottom, right), got {pads!r}")
    d.nc = x.shape[0] * x.shape[1]
    d.h, d.w = x.shape[2], x.shape[3]
    d.oh, d.ow = y.shape[2], y.shape[3]
    d.kh, d.kw = k
    d.sh, d.sw = s
    d.pad_t, d.pad_l, d.pad_b, d.pad_r = p
    d.dh, d.dw = dl
    if tc_pool2d_check(d) != 0:
        raise ValueError(f"{fn}: invalid geometry: x {x.shape}, y {y.shape}, kernel {k}, strides {s}, "
                         f"pads {p}, dilations {dl} (sizes, strides, dilations >= 1, pads >= 0)")
    if np.may_share_memory(x, y):
        raise ValueError(f"{fn}: y must not overlap x")


def max_pool2d(Context ctx, x, y, kernel, strides, pads, dilations):
    """MaxPool over x [N, C, H, W] into y [N, C, OH, OW] (y's shape gives the output size).

    kernel, strides, dilations: (h, w); pads: (top, left, bottom, right).
    """
    cdef tc_pool2d_desc d
    _pool_desc(&d, "max_pool2d", x, y, kernel, strides, pads, dilations)
    if x.size == 0 or y.size == 0:
        return y
    cdef const float[::1] xv = x.reshape(-1)
    cdef float[::1] yv = y.reshape(-1)
    cdef const tc_ctx *c = _pool_ctx(ctx)
    with nogil:
        tc_max_pool2d_f32(c, &d, &xv[0], &yv[0])
    return y


def avg_pool2d(Context ctx, x, y, kernel, strides, pads, dilations, count_include_pad):
    """AveragePool over x [N, C, H, W] into y [N, C, OH, OW], onnxruntime's divisor rules."""
    cdef tc_pool2d_desc d
    _pool_desc(&d, "avg_pool2d", x, y, kernel, strides, pads, dilations)
    if x.size == 0 or y.size == 0:
        return y
    cdef const float[::1] xv = x.reshape(-1)
    cdef float[::1] yv = y.reshape(-1)
    cdef const tc_ctx *c = _pool_ctx(ctx)
    cdef int cip = 1 if count_include_pad else 0
    with nogil:
        tc_avg_pool2d_f32(c, &d, cip, &xv[0], &yv[0])
    return y


cdef _global_pool(Context ctx, str fn, x, y, bint is_max):
    _pool_check_array(fn, "x", x)
    _pool_check_array(fn, "y", y)
    if x.ndim < 3 or y.ndim < 2 or y.shape[:2] != x.shape[:2] or any(e != 1 for e in y.shape[2:]):
        raise ValueError(f"{fn}: x must be [N, C, *spatial] and y [N, C, 1, ...], got x {x.shape}, y {y.shape}")
    if np.may_share_memory(x, y):
        raise ValueError(f"{fn}: y must not overlap x")
    cdef ptrdiff_t nc = x.shape[0] * x.shape[1]
    if nc == 0:
        return y
    cdef ptrdiff_t s = x.size // nc
    if s == 0:
        raise ValueError(f"{fn}: x {x.shape} has no spatial positions")
    cdef const float[::1] xv = x.reshape(-1)
    cdef float[::1] yv = y.reshape(-1)
    cdef const tc_ctx *c = _pool_ctx(ctx)
    with nogil:
        if is_max:
            tc_global_max_pool_f32(c, nc, s, &xv[0], &yv[0])
        else:
            tc_global_avg_pool_f32(c, nc, s, &xv[0], &yv[0])
    return y


def global_avg_pool(Context ctx, x, y):
    """GlobalAveragePool: x [N, C, *spatial] -> y [N, C, 1, ...]."""
    return _global_pool(ctx, "global_avg_pool", x, y, False)


def global_max_pool(Context ctx, x, y):
    """GlobalMaxPool: x [N, C, *spatial] -> y [N, C, 1, ...]."""
    return _global_pool(ctx, "global_max_pool", x, y, True)

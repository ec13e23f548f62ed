# Wrappers of the pooling kernels (included by _kernels.pyx).
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


# Arrays are checked (float32, C-contiguous, outputs writeable) and then passed
# by their data pointer: typed memoryviews over .reshape(-1) cost ~2 us per array
# per call, which adds up over the hundreds of pooling / element-wise calls of
# a network.

cdef inline const tc_ctx *_pool_ctx(Context ctx):
    return NULL if ctx is None else &ctx.ctx


cdef inline bint _pool_ok(a, bint writeable):
    return (isinstance(a, cnp.ndarray) and cnp.PyArray_TYPE(<cnp.ndarray>a) == cnp.NPY_FLOAT32
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a)
            and (not writeable or cnp.PyArray_ISWRITEABLE(<cnp.ndarray>a)))


cdef _pool_check_array(str fn, str name, a, int ndim=-1, bint writeable=False):
    if not _pool_ok(a, writeable):
        if not isinstance(a, np.ndarray):
            raise ValueError(f"{fn}: {name} must be a numpy array, got {type(a).__name__}")
        raise ValueError(f"{fn}: {name} must be float32, C-contiguous{', writeable' if writeable else ''}; "
                         f"got dtype {a.dtype}, shape {a.shape}, C-contiguous={a.flags.c_contiguous}, "
                         f"writeable={a.flags.writeable}")
    if ndim >= 0 and cnp.PyArray_NDIM(<cnp.ndarray>a) != ndim:
        raise ValueError(f"{fn}: {name} must have {ndim} dims, got shape {a.shape}")


cdef inline float *_pool_ptr(a):
    return <float *>cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline bint _pool_overlap(a, b):
    """Do two C-contiguous arrays share bytes?"""
    cdef char *pa = <char *>cnp.PyArray_DATA(<cnp.ndarray>a)
    cdef char *pb = <char *>cnp.PyArray_DATA(<cnp.ndarray>b)
    return pa < pb + cnp.PyArray_NBYTES(<cnp.ndarray>b) and pb < pa + cnp.PyArray_NBYTES(<cnp.ndarray>a)


cdef _pool_desc(tc_pool2d_desc *d, str fn, x, y, kernel, strides, pads, dilations):
    _pool_check_array(fn, "x", x, 4)
    _pool_check_array(fn, "y", y, 4, True)
    cdef cnp.npy_intp *xs = cnp.PyArray_DIMS(<cnp.ndarray>x)
    cdef cnp.npy_intp *ys = cnp.PyArray_DIMS(<cnp.ndarray>y)
    if xs[0] != ys[0] or xs[1] != ys[1]:
        raise ValueError(f"{fn}: x {x.shape} and y {y.shape} must agree on N and C")
    if len(kernel) != 2 or len(strides) != 2 or len(dilations) != 2 or len(pads) != 4:
        raise ValueError(f"{fn}: kernel {kernel!r}, strides {strides!r}, dilations {dilations!r} need 2 values "
                         f"(h, w) and pads {pads!r} 4 (top, left, bottom, right)")
    d.nc = xs[0] * xs[1]
    d.h, d.w = xs[2], xs[3]
    d.oh, d.ow = ys[2], ys[3]
    d.kh, d.kw = kernel[0], kernel[1]
    d.sh, d.sw = strides[0], strides[1]
    d.pad_t, d.pad_l, d.pad_b, d.pad_r = pads[0], pads[1], pads[2], pads[3]
    d.dh, d.dw = dilations[0], dilations[1]
    if tc_pool2d_check(d) != 0:
        raise ValueError(f"{fn}: invalid geometry: x {x.shape}, y {y.shape}, kernel {kernel}, strides {strides}, "
                         f"pads {pads}, dilations {dilations} (sizes, strides, dilations >= 1, pads >= 0)")
    if _pool_overlap(x, y):
        raise ValueError(f"{fn}: y must not overlap x")


def max_pool2d(Context ctx, x, y, kernel, strides, pads, dilations):
    """MaxPool over x [N, C, H, W] into y [N, C, OH, OW] (y's shape gives the output size).

    kernel, strides, dilations: (h, w); pads: (top, left, bottom, right).
    """
    cdef tc_pool2d_desc d
    _pool_desc(&d, "max_pool2d", x, y, kernel, strides, pads, dilations)
    cdef const float *xp = _pool_ptr(x)
    cdef float *yp = _pool_ptr(y)
    cdef const tc_ctx *c = _pool_ctx(ctx)
    with nogil:
        tc_max_pool2d_f32(c, &d, xp, yp)
    return y


def avg_pool2d(Context ctx, x, y, kernel, strides, pads, dilations, count_include_pad):
    """AveragePool over x [N, C, H, W] into y [N, C, OH, OW], onnxruntime's divisor rules."""
    cdef tc_pool2d_desc d
    _pool_desc(&d, "avg_pool2d", x, y, kernel, strides, pads, dilations)
    cdef const float *xp = _pool_ptr(x)
    cdef float *yp = _pool_ptr(y)
    cdef const tc_ctx *c = _pool_ctx(ctx)
    cdef int cip = 1 if count_include_pad else 0
    with nogil:
        tc_avg_pool2d_f32(c, &d, cip, xp, yp)
    return y


cdef _global_pool(Context ctx, str fn, x, y, bint is_max):
    _pool_check_array(fn, "x", x)
    _pool_check_array(fn, "y", y, -1, True)
    if x.ndim < 3 or y.ndim < 2 or y.shape[:2] != x.shape[:2] or y.size != x.shape[0] * x.shape[1]:
        raise ValueError(f"{fn}: x must be [N, C, *spatial] and y [N, C, 1, ...], got x {x.shape}, y {y.shape}")
    if _pool_overlap(x, y):
        raise ValueError(f"{fn}: y must not overlap x")
    cdef ptrdiff_t nc = x.shape[0] * x.shape[1]
    if nc == 0:
        return y
    cdef ptrdiff_t s = x.size // nc
    if s == 0:
        raise ValueError(f"{fn}: x {x.shape} has no spatial positions")
    cdef const float *xp = _pool_ptr(x)
    cdef float *yp = _pool_ptr(y)
    cdef const tc_ctx *c = _pool_ctx(ctx)
    with nogil:
        if is_max:
            tc_global_max_pool_f32(c, nc, s, xp, yp)
        else:
            tc_global_avg_pool_f32(c, nc, s, xp, yp)
    return y


def global_avg_pool(Context ctx, x, y):
    """GlobalAveragePool: x [N, C, *spatial] -> y [N, C, 1, ...]."""
    return _global_pool(ctx, "global_avg_pool", x, y, False)


def global_max_pool(Context ctx, x, y):
    """GlobalMaxPool: x [N, C, *spatial] -> y [N, C, 1, ...]."""
    return _global_pool(ctx, "global_max_pool", x, y, True)

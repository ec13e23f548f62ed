# Wrappers of the pooling kernels (included by _kernels.pyx): csrc/pool2d.c.
# The executor computes output sizes (including ceil_mode) and passes y with
# that shape.

cdef _pool_desc(tc_pool2d_desc *d, str fn, x, y, kernel, strides, pads, dilations):
    _check_array(fn, "x", x, 4)
    _check_array(fn, "y", y, 4, True)
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
    _check_disjoint(fn, "x", x, y)


def max_pool2d(Context ctx, x, y, kernel, strides, pads, dilations):
    """MaxPool over x [N, C, H, W] into y [N, C, OH, OW] (y's shape gives the output size).

    kernel, strides, dilations: (h, w); pads: (top, left, bottom, right).
    """
    cdef tc_pool2d_desc d
    _pool_desc(&d, "max_pool2d", x, y, kernel, strides, pads, dilations)
    cdef const float *xp = _fptr_mut(x)
    cdef float *yp = _fptr_mut(y)
    cdef const tc_ctx *c = _ctx_ptr(ctx)
    with nogil:
        tc_max_pool2d_f32(c, &d, xp, yp)
    return y


def avg_pool2d(Context ctx, x, y, kernel, strides, pads, dilations, count_include_pad):
    """AveragePool over x [N, C, H, W] into y [N, C, OH, OW], onnxruntime's divisor rules."""
    cdef tc_pool2d_desc d
    _pool_desc(&d, "avg_pool2d", x, y, kernel, strides, pads, dilations)
    cdef const float *xp = _fptr_mut(x)
    cdef float *yp = _fptr_mut(y)
    cdef const tc_ctx *c = _ctx_ptr(ctx)
    cdef int cip = 1 if count_include_pad else 0
    with nogil:
        tc_avg_pool2d_f32(c, &d, cip, xp, yp)
    return y


cdef _global_pool(Context ctx, str fn, x, y, bint is_max):
    _check_array(fn, "x", x)
    _check_array(fn, "y", y, -1, True)
    if x.ndim < 3 or y.ndim < 2 or y.shape[:2] != x.shape[:2] or y.size != x.shape[0] * x.shape[1]:
        raise ValueError(f"{fn}: x must be [N, C, *spatial] and y [N, C, 1, ...], got x {x.shape}, y {y.shape}")
    _check_disjoint(fn, "x", x, y)
    cdef ptrdiff_t nc = x.shape[0] * x.shape[1]
    if nc == 0:
        return y
    cdef ptrdiff_t s = x.size // nc
    if s == 0:
        raise ValueError(f"{fn}: x {x.shape} has no spatial positions")
    cdef const float *xp = _fptr_mut(x)
    cdef float *yp = _fptr_mut(y)
    cdef const tc_ctx *c = _ctx_ptr(ctx)
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

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


cdef enum:
    _POOL_MAX, _POOL_AVG, _POOL_GLOBAL_MAX, _POOL_GLOBAL_AVG


cdef class BoundPool(BoundCall):
    """A pooling kernel over fixed buffers, checked once (bind_max_pool2d, bind_avg_pool2d,
    bind_global_pool); call it without arguments.  Holds the arrays, so the pointers stay
    valid."""
    cdef object keep
    cdef const tc_ctx *ctx
    cdef tc_pool2d_desc d
    cdef int kind           # _POOL_MAX, _POOL_AVG, _POOL_GLOBAL_MAX, _POOL_GLOBAL_AVG
    cdef int cip
    cdef ptrdiff_t nc, s
    cdef const float *xp
    cdef float *yp

    cdef int run(self) noexcept nogil:
        if self.nc == 0:
            return 0
        if self.kind == _POOL_MAX:
            tc_max_pool2d_f32(self.ctx, &self.d, self.xp, self.yp)
        elif self.kind == _POOL_AVG:
            tc_avg_pool2d_f32(self.ctx, &self.d, self.cip, self.xp, self.yp)
        elif self.kind == _POOL_GLOBAL_MAX:
            tc_global_max_pool_f32(self.ctx, self.nc, self.s, self.xp, self.yp)
        else:
            tc_global_avg_pool_f32(self.ctx, self.nc, self.s, self.xp, self.yp)
        return 0


cdef BoundPool _bound_pool(Context ctx, int kind, x, y):
    cdef BoundPool call = BoundPool.__new__(BoundPool)
    call.kind = kind
    call.ctx = _ctx_ptr(ctx)
    call.xp = _fptr(x)
    call.yp = _fptr_mut(y)
    call.keep = (ctx, x, y)
    return call


def bind_max_pool2d(Context ctx, x, y, kernel, strides, pads, dilations):
    """max_pool2d(ctx, x, y, ...) checked now, as a call without arguments that runs it again
    and again over these buffers (a plan's arena)."""
    cdef tc_pool2d_desc d
    _pool_desc(&d, "max_pool2d", x, y, kernel, strides, pads, dilations)
    cdef BoundPool call = _bound_pool(ctx, _POOL_MAX, x, y)
    call.d, call.nc = d, d.nc
    return call


def bind_avg_pool2d(Context ctx, x, y, kernel, strides, pads, dilations, count_include_pad):
    """avg_pool2d(ctx, x, y, ...) checked now, as a call without arguments (bind_max_pool2d)."""
    cdef tc_pool2d_desc d
    _pool_desc(&d, "avg_pool2d", x, y, kernel, strides, pads, dilations)
    cdef BoundPool call = _bound_pool(ctx, _POOL_AVG, x, y)
    call.d, call.nc = d, d.nc
    call.cip = 1 if count_include_pad else 0
    return call


def bind_global_pool(Context ctx, x, y, bint is_max):
    """global_max_pool (is_max) or global_avg_pool(ctx, x, y) checked now, as a call without
    arguments (bind_max_pool2d)."""
    fn = "global_max_pool" if is_max else "global_avg_pool"
    _check_array(fn, "x", x)
    _check_array(fn, "y", y, -1, True)
    if x.ndim < 3 or y.ndim < 2 or y.shape[:2] != x.shape[:2] or y.size != x.shape[0] * x.shape[1]:
        raise ValueError(f"{fn}: x must be [N, C, *spatial] and y [N, C, 1, ...], got x {x.shape}, y {y.shape}")
    _check_disjoint(fn, "x", x, y)
    cdef BoundPool call = _bound_pool(ctx, _POOL_GLOBAL_MAX if is_max else _POOL_GLOBAL_AVG, x, y)
    call.nc = x.shape[0] * x.shape[1]
    if call.nc:
        call.s = x.size // call.nc
        if call.s == 0:
            raise ValueError(f"{fn}: x {x.shape} has no spatial positions")
    return call


def max_pool2d(Context ctx, x, y, kernel, strides, pads, dilations):
    """MaxPool over x [N, C, H, W] into y [N, C, OH, OW] (y's shape gives the output size).

    kernel, strides, dilations: (h, w); pads: (top, left, bottom, right).
    """
    bind_max_pool2d(ctx, x, y, kernel, strides, pads, dilations)()
    return y


def avg_pool2d(Context ctx, x, y, kernel, strides, pads, dilations, count_include_pad):
    """AveragePool over x [N, C, H, W] into y [N, C, OH, OW], onnxruntime's divisor rules."""
    bind_avg_pool2d(ctx, x, y, kernel, strides, pads, dilations, count_include_pad)()
    return y


def global_avg_pool(Context ctx, x, y):
    """GlobalAveragePool: x [N, C, *spatial] -> y [N, C, 1, ...]."""
    bind_global_pool(ctx, x, y, False)()
    return y


def global_max_pool(Context ctx, x, y):
    """GlobalMaxPool: x [N, C, *spatial] -> y [N, C, 1, ...]."""
    bind_global_pool(ctx, x, y, True)()
    return y

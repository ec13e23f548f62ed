# Wrappers of the mean/variance normalisation kernel (included by _kernels.pyx): csrc/normalize.c.

cdef extern from "tinycnn.h" nogil:
    int tc_normalize_f32(const tc_ctx *ctx, ptrdiff_t rows, ptrdiff_t s, ptrdiff_t chunk,
                         ptrdiff_t period, const float *x, const float *scale, const float *bias,
                         float eps, float *y, float *mean, float *inv_std)


def normalize(Context ctx, x, scale, bias, y, ptrdiff_t rows, ptrdiff_t s, ptrdiff_t chunk,
              ptrdiff_t period, float eps, mean=None, inv_std=None):
    """Normalise the rows of the [rows, s] view of x into y (y may be x): y = (x - mean) /
    sqrt(var + eps) * scale[j] + bias[j], j = (row % period) * (s / chunk) + i / chunk.
    scale, bias (bias may be None): period * s / chunk values; mean, inv_std: rows values or None."""
    _elt_check("normalize", "x", x)
    _elt_check("normalize", "scale", scale)
    _elt_check("normalize", "y", y, True)
    if rows < 0 or s < 1 or chunk < 1 or s % chunk or period < 1:
        raise ValueError(f"normalize: invalid view rows={rows}, s={s}, chunk={chunk}, period={period}")
    if x.size != rows * s or y.shape != x.shape:
        raise ValueError(f"normalize: x {x.shape} and y {y.shape} must both be [{rows}, {s}]")
    if scale.size != period * (s // chunk):
        raise ValueError(f"normalize: scale has {scale.size} values, expected {period * (s // chunk)}")
    _elt_same_or_disjoint("normalize", "x", x, y)
    cdef const float *bp = NULL
    cdef float *mp = NULL
    cdef float *ip = NULL
    if bias is not None:
        _elt_check("normalize", "bias", bias)
        if bias.size != scale.size:
            raise ValueError(f"normalize: bias has {bias.size} values, scale {scale.size}")
        bp = _elt_ptr(bias)
    for name, arr in (("mean", mean), ("inv_std", inv_std)):
        if arr is not None:
            _elt_check("normalize", name, arr, True)
            if arr.size != rows:
                raise ValueError(f"normalize: {name} has {arr.size} values, expected {rows}")
    if mean is not None:
        mp = _elt_ptr(mean)
    if inv_std is not None:
        ip = _elt_ptr(inv_std)
    cdef const float *xp = _elt_ptr(x)
    cdef const float *sp = _elt_ptr(scale)
    cdef float *yp = _elt_ptr(y)
    cdef const tc_ctx *c = _elt_ctx(ctx)
    cdef int rc
    with nogil:
        rc = tc_normalize_f32(c, rows, s, chunk, period, xp, sp, bp, eps, yp, mp, ip)
    if rc != 0:
        raise ValueError("normalize: the kernel rejected its arguments")
    return y

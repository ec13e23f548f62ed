# Wrappers of the mean/variance normalisation kernel (included by _kernels.pyx): csrc/normalize.c.


def normalize(Context ctx, x, scale, bias, y, ptrdiff_t rows, ptrdiff_t s, ptrdiff_t chunk,
              ptrdiff_t period, float eps, mean=None, inv_std=None):
    """Normalise the rows of the [rows, s] view of x into y (y may be x): y = (x - mean) /
    sqrt(var + eps) * scale[j] + bias[j], j = (row % period) * (s / chunk) + i / chunk.
    scale, bias (bias may be None): period * s / chunk values; mean, inv_std: rows values or None."""
    _check_array("normalize", "x", x)
    _check_array("normalize", "scale", scale)
    _check_array("normalize", "y", y, -1, True)
    if rows < 0 or s < 1 or chunk < 1 or s % chunk or period < 1:
        raise ValueError(f"normalize: invalid view rows={rows}, s={s}, chunk={chunk}, period={period}")
    if x.size != rows * s or y.shape != x.shape:
        raise ValueError(f"normalize: x {x.shape} and y {y.shape} must both be [{rows}, {s}]")
    if scale.size != period * (s // chunk):
        raise ValueError(f"normalize: scale has {scale.size} values, expected {period * (s // chunk)}")
    _check_same_or_disjoint("normalize", "x", x, y)
    cdef const float *bp = NULL
    cdef float *mp = NULL
    cdef float *ip = NULL
    if bias is not None:
        _check_array("normalize", "bias", bias)
        if bias.size != scale.size:
            raise ValueError(f"normalize: bias has {bias.size} values, scale {scale.size}")
        bp = _fptr(bias)
    for name, arr in (("mean", mean), ("inv_std", inv_std)):
        if arr is not None:
            _check_array("normalize", name, arr, -1, True)
            if arr.size != rows:
                raise ValueError(f"normalize: {name} has {arr.size} values, expected {rows}")
    if mean is not None:
        mp = _fptr_mut(mean)
    if inv_std is not None:
        ip = _fptr_mut(inv_std)
    cdef const float *xp = _fptr(x)
    cdef const float *sp = _fptr(scale)
    cdef float *yp = _fptr_mut(y)
    cdef const tc_ctx *c = _ctx_ptr(ctx)
    cdef int rc
    with nogil:
        rc = tc_normalize_f32(c, rows, s, chunk, period, xp, sp, bp, eps, yp, mp, ip)
    if rc != 0:
        raise ValueError("normalize: the kernel rejected its arguments")
    return y

# Wrapper of the resampling kernel (included by _kernels.pyx): csrc/resize.c.

cdef _resample_axis(tc_resample_axis *a, str name, table, list keep):
    """table: (in, idx [out, taps] int32, w [out, taps] float32, outside [out] bool or None, fill)."""
    n_in, idx, w, outside, fill = table
    idx = np.ascontiguousarray(idx, np.int32)
    w = np.ascontiguousarray(w, np.float32)
    if idx.ndim != 2 or w.shape != idx.shape:
        raise ValueError(f"Resample2d: {name} idx {idx.shape} and w {w.shape} must be [out, taps]")
    if n_in < 1 or idx.shape[1] < 1 or (idx.size and (idx.min() < 0 or idx.max() >= n_in)):
        raise ValueError(f"Resample2d: {name} indices must lie in [0, {n_in})")
    a.in_ = n_in
    a.out = idx.shape[0]
    a.taps = idx.shape[1]
    a.idx = <const int32_t *>cnp.PyArray_DATA(<cnp.ndarray>idx)
    a.w = <const float *>cnp.PyArray_DATA(<cnp.ndarray>w)
    a.outside = NULL
    a.fill = fill
    keep += [idx, w]
    if outside is not None:
        outside = np.ascontiguousarray(outside, np.uint8)
        if outside.shape != (idx.shape[0],):
            raise ValueError(f"Resample2d: {name} outside {outside.shape} must be [{idx.shape[0]}]")
        a.outside = <const unsigned char *>cnp.PyArray_DATA(<cnp.ndarray>outside)
        keep.append(outside)


cdef class Resample2d:
    """Separable resampling of planes, with tables built once:
    Resample2d(ctx, rows, cols); rows/cols = (in, idx [out, taps], w [out, taps],
    outside [out] or None, fill).  run(x, y, workspace): x [planes, rows in, cols in] ->
    y [planes, rows out, cols out] (any shapes of those sizes)."""
    cdef tc_resample_axis rows, cols
    cdef Context ctx
    cdef list keep

    def __cinit__(self, Context ctx, rows, cols):
        self.ctx = ctx
        self.keep = []
        _resample_axis(&self.rows, "rows", rows, self.keep)
        _resample_axis(&self.cols, "cols", cols, self.keep)

    def workspace_size(self):
        return tc_resize2d_workspace_size(_ctx_ptr(self.ctx), &self.rows, &self.cols)

    def run(self, x, y, workspace=None):
        _check_array("Resample2d", "x", x)
        _check_array("Resample2d", "y", y, -1, True)
        cdef ptrdiff_t in_plane = <ptrdiff_t>self.rows.in_ * self.cols.in_
        cdef ptrdiff_t out_plane = <ptrdiff_t>self.rows.out * self.cols.out
        cdef ptrdiff_t planes = x.size // in_plane
        if x.size != planes * in_plane or y.size != planes * out_plane:
            raise ValueError(f"Resample2d: x {x.shape} and y {y.shape} are not planes of "
                             f"[{self.rows.in_}, {self.cols.in_}] -> [{self.rows.out}, {self.cols.out}]")
        _check_disjoint("Resample2d", "x", x, y)
        workspace = _workspace("Resample2d", workspace, self.workspace_size())
        cdef const float *xp = _fptr(x)
        cdef float *yp = _fptr_mut(y)
        cdef float *wp = _fptr_or_null(workspace)
        cdef const tc_ctx *c = _ctx_ptr(self.ctx)
        cdef int rc
        with nogil:
            rc = tc_resize2d_f32(c, planes, &self.rows, &self.cols, xp, yp, wp)
        if rc != 0:
            raise ValueError("Resample2d: the kernel rejected its tables")
        return y

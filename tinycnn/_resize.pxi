# Wrapper of the resampling kernel (included by _kernels.pyx): csrc/resize.c.

from libc.stdint cimport int32_t

cdef extern from "tinycnn.h" nogil:
    ctypedef struct tc_resample_axis:
        int in_ "in"
        int out, taps
        const int32_t *idx
        const float *w
        const unsigned char *outside
        float fill
    size_t tc_resize2d_workspace_size(const tc_ctx *ctx, const tc_resample_axis *rows,
                                      const tc_resample_axis *cols)
    int tc_resize2d_f32(const tc_ctx *ctx, ptrdiff_t planes, const tc_resample_axis *rows,
                        const tc_resample_axis *cols, const float *x, float *y, float *workspace)


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
        return tc_resize2d_workspace_size(_elt_ctx(self.ctx), &self.rows, &self.cols)

    def run(self, x, y, workspace):
        _elt_check("Resample2d", "x", x)
        _elt_check("Resample2d", "y", y, True)
        _elt_check("Resample2d", "workspace", workspace, True)
        cdef ptrdiff_t in_plane = <ptrdiff_t>self.rows.in_ * self.cols.in_
        cdef ptrdiff_t out_plane = <ptrdiff_t>self.rows.out * self.cols.out
        cdef ptrdiff_t planes = x.size // in_plane
        if x.size != planes * in_plane or y.size != planes * out_plane:
            raise ValueError(f"Resample2d: x {x.shape} and y {y.shape} are not planes of "
                             f"[{self.rows.in_}, {self.cols.in_}] -> [{self.rows.out}, {self.cols.out}]")
        if workspace.size < self.workspace_size():
            raise ValueError(f"Resample2d: workspace of {workspace.size} floats, needs {self.workspace_size()}")
        if _elt_overlap(x, y):
            raise ValueError("Resample2d: y must not overlap x")
        cdef const float *xp = _elt_ptr(x)
        cdef float *yp = _elt_ptr(y)
        cdef float *wp = _elt_ptr(workspace)
        cdef const tc_ctx *c = _elt_ctx(self.ctx)
        cdef int rc
        with nogil:
            rc = tc_resize2d_f32(c, planes, &self.rows, &self.cols, xp, yp, wp)
        if rc != 0:
            raise ValueError("Resample2d: the kernel rejected its tables")
        return y

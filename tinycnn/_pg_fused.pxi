# Wrapper of the banded pointwise -> grouped pair (csrc/pg_fused.c), included by _kernels.pyx.

cdef class BoundPGFused(BoundCall):
    """A PGFused run over fixed buffers, checked once (PGFused.bind); call it without arguments."""
    cdef object keep
    cdef const tc_ctx *ctx
    cdef tc_ir_stage st[2]
    cdef int n, h, w, band
    cdef const float *px
    cdef float *py
    cdef float *pm
    cdef float *pw

    cdef int run(self) noexcept nogil:
        tc_pg_fused_f32(self.ctx, &self.st[0], &self.st[1], self.n, self.h, self.w,
                        self.band, self.px, self.py, self.pm, self.pw)
        return 0


cdef class PGFused:
    """pw (1x1) -> gc (grouped) in bands of `band` output rows of gc: two planned Conv2d layers
    run without the 1x1's output ever whole in memory, bit-identical to running them one after
    the other (and means, each output plane's mean, to Conv2d's means=).
    .run(x, y, means=None, workspace=None); workspace: workspace_size(h, w) floats."""
    cdef readonly Conv2d pw, gc
    cdef readonly int band
    cdef tc_ir_stage st[2]

    def __init__(self, Conv2d pw not None, Conv2d gc not None, int band):
        if not (pw.ctx is gc.ctx):
            raise ValueError("pg_fused: the two layers must share one Context")
        self.pw, self.gc, self.band = pw, gc, band
        for i, layer in enumerate((pw, gc)):
            _ir_stage(&self.st[i], layer)
        if tc_pg_fused_check(&self.st[0], &self.st[1], 64, 64, self.band) != 0 and \
                tc_pg_fused_check(&self.st[0], &self.st[1], 1, 1, self.band) != 0:
            raise ValueError(f"pg_fused: {pw!r} -> {gc!r} with band {band} is not a 1x1 and a "
                             "grouped convolution that chain")

    def workspace_size(self, int h, int w):
        """float32 elements of workspace run() needs for an h x w input (all of the Context's
        threads)."""
        return int(tc_pg_fused_workspace_size(&self.pw.ctx.ctx, &self.st[0], &self.st[1], h, w,
                                              self.band))

    def run(self, x, y, means=None, workspace=None):
        self.bind(x, y, means, workspace)()
        return y

    def bind(self, x, y, means=None, workspace=None):
        _check_array("pg_fused", "x", x, 4)
        _check_array("pg_fused", "y", y, 4, True)
        n, c, h, w = x.shape
        if c != self.st[0].p.C:
            raise ValueError(f"pg_fused: x {x.shape} has {c} channels, the 1x1 expects "
                             f"{self.st[0].p.C}")
        if tc_pg_fused_check(&self.st[0], &self.st[1], h, w, self.band) != 0:
            raise ValueError(f"pg_fused: empty grouped output for x {x.shape}")
        _, _, oh, ow = self.gc.output_shape(n, h, w)
        expected = (n, self.st[1].p.K, oh, ow)
        _check_shape("pg_fused", "y", y, expected, f" for x {x.shape}")
        _check_disjoint("pg_fused", "x", x, y)
        cdef BoundPGFused call = BoundPGFused.__new__(BoundPGFused)
        call.pm = NULL
        if means is not None:
            _check_array("pg_fused", "means", means, 2, True)
            _check_shape("pg_fused", "means", means, (n, self.st[1].p.K), f" for x {x.shape}")
            call.pm = _fptr_mut(means)
        ws = _workspace("pg_fused", workspace, tc_pg_fused_workspace_size(
            &self.pw.ctx.ctx, &self.st[0], &self.st[1], h, w, self.band))
        call.keep = (self, x, y, means, ws)
        call.ctx = &self.pw.ctx.ctx
        call.st[0], call.st[1] = self.st[0], self.st[1]
        call.n, call.h, call.w, call.band = n, h, w, self.band
        call.px = _fptr(x)
        call.py = _fptr_mut(y)
        call.pw = _fptr_or_null(ws)
        return call

# Wrapper of the banded pointwise -> grouped pair (csrc/pg_fused.c), included by _kernels.pyx.

cdef class BoundPGFused(BoundCall):
    """A PGFused run over fixed buffers, checked once (PGFused.bind); call it without arguments."""
    cdef object keep
    cdef const tc_ctx *ctx
    cdef tc_ir_stage st[3]
    cdef bint has_sc
    cdef int n, h, w, band
    cdef const float *px
    cdef float *py
    cdef float *pm
    cdef float *ps
    cdef float *pw

    cdef int run(self) noexcept nogil:
        tc_pg_fused_f32(self.ctx, &self.st[0], &self.st[1], &self.st[2] if self.has_sc else NULL,
                        self.n, self.h, self.w, self.band, self.px, self.py, self.pm, self.ps,
                        self.pw)
        return 0


cdef class PGFused:
    """pw (1x1) -> gc (grouped) in bands of `band` output rows of gc: two planned Conv2d layers
    run without the 1x1's output ever whole in memory, bit-identical to running them one after
    the other (and means, each output plane's mean, to Conv2d's means=).  sc: a third planned
    Conv2d, a 1x1 over x with gc's output size (a strided projection shortcut), computed in the
    same bands into run's `shortcut`, bit-identical to sc.run(x).
    .run(x, y, means=None, workspace=None, shortcut=None); workspace: workspace_size(h, w)
    floats."""
    cdef readonly Conv2d pw, gc, sc
    cdef readonly int band
    cdef tc_ir_stage st[3]

    def __init__(self, Conv2d pw not None, Conv2d gc not None, int band, Conv2d sc=None):
        if not (pw.ctx is gc.ctx) or (sc is not None and not (sc.ctx is pw.ctx)):
            raise ValueError("pg_fused: the layers must share one Context")
        self.pw, self.gc, self.sc, self.band = pw, gc, sc, band
        for i, layer in enumerate((pw, gc) if sc is None else (pw, gc, sc)):
            _ir_stage(&self.st[i], layer)
        if tc_pg_fused_check(&self.st[0], &self.st[1], self._sc(), 64, 64, self.band) != 0 and \
                tc_pg_fused_check(&self.st[0], &self.st[1], self._sc(), 1, 1, self.band) != 0:
            raise ValueError(f"pg_fused: {pw!r} -> {gc!r} with band {band} is not a 1x1 and a "
                             "grouped convolution that chain" + (
                                 "" if sc is None else f" (with the shortcut {sc!r})"))

    cdef const tc_ir_stage *_sc(self):
        return &self.st[2] if self.sc is not None else NULL

    def workspace_size(self, int h, int w):
        """float32 elements of workspace run() needs for an h x w input (all of the Context's
        threads)."""
        return int(tc_pg_fused_workspace_size(&self.pw.ctx.ctx, &self.st[0], &self.st[1],
                                              self._sc(), h, w, self.band))

    def run(self, x, y, means=None, workspace=None, shortcut=None):
        self.bind(x, y, means, workspace, shortcut)()
        return y

    def bind(self, x, y, means=None, workspace=None, shortcut=None):
        _check_array("pg_fused", "x", x, 4)
        _check_array("pg_fused", "y", y, 4, True)
        n, c, h, w = x.shape
        if c != self.st[0].p.C:
            raise ValueError(f"pg_fused: x {x.shape} has {c} channels, the 1x1 expects "
                             f"{self.st[0].p.C}")
        if tc_pg_fused_check(&self.st[0], &self.st[1], self._sc(), h, w, self.band) != 0:
            raise ValueError(f"pg_fused: empty grouped output (or a shortcut of another size) "
                             f"for x {x.shape}")
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
        call.ps = NULL
        call.has_sc = self.sc is not None
        if (shortcut is not None) != call.has_sc:
            raise ValueError("pg_fused: shortcut= is the output of the layer's sc, and only that")
        if shortcut is not None:
            _check_array("pg_fused", "shortcut", shortcut, 4, True)
            _check_shape("pg_fused", "shortcut", shortcut, (n, self.st[2].p.K, oh, ow),
                         f" for x {x.shape}")
            _check_disjoint("pg_fused", "x", x, shortcut)
            _check_disjoint("pg_fused", "y", y, shortcut)
            call.ps = _fptr_mut(shortcut)
        ws = _workspace("pg_fused", workspace, tc_pg_fused_workspace_size(
            &self.pw.ctx.ctx, &self.st[0], &self.st[1], self._sc(), h, w, self.band))
        call.keep = (self, x, y, means, ws, shortcut)
        call.ctx = &self.pw.ctx.ctx
        call.st[0], call.st[1], call.st[2] = self.st[0], self.st[1], self.st[2]
        call.n, call.h, call.w, call.band = n, h, w, self.band
        call.px = _fptr(x)
        call.py = _fptr_mut(y)
        call.pw = _fptr_or_null(ws)
        return call

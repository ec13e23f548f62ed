# Wrapper of the banded fire module (csrc/fire_fused.c), included by _kernels.pyx.

cdef class BoundFireFused(BoundCall):
    """A FireFused run over fixed buffers, checked once (FireFused.bind); call it without
    arguments."""
    cdef object keep
    cdef const tc_ctx *ctx
    cdef tc_ir_stage st[3]
    cdef int n, h, w, band, ky, c1, c3
    cdef const float *px
    cdef float *py
    cdef float *pw

    cdef int run(self) noexcept nogil:
        tc_fire_fused_f32(self.ctx, &self.st[0], &self.st[1], &self.st[2], self.n, self.h,
                          self.w, self.band, self.px, self.py, self.ky, self.c1, self.c3,
                          self.pw)
        return 0


cdef class FireFused:
    """sq (1x1) -> e1 (1x1) and e3 (3x3, output the input's size) in bands of `band` rows: three
    planned Conv2d layers, e1's and e3's outputs written at channels c1 and c3 of a y of ky
    channels (the Concat of a fire module), bit-identical to running them one after the other
    (for a Winograd e3, with band a multiple of its tile).
    .run(x, y, workspace=None); workspace: workspace_size(h, w) floats."""
    cdef readonly Conv2d sq, e1, e3
    cdef readonly int band, ky, c1, c3
    cdef tc_ir_stage st[3]

    def __init__(self, Conv2d sq not None, Conv2d e1 not None, Conv2d e3 not None, int band,
                 int ky, int c1, int c3):
        if not (sq.ctx is e1.ctx and sq.ctx is e3.ctx):
            raise ValueError("fire_fused: the three layers must share one Context")
        self.sq, self.e1, self.e3 = sq, e1, e3
        self.band, self.ky, self.c1, self.c3 = band, ky, c1, c3
        for i, layer in enumerate((sq, e1, e3)):
            self._stage(&self.st[i], layer)
        if tc_fire_fused_check(&self.st[0], &self.st[1], &self.st[2], 16, 16, band, ky, c1,
                               c3) != 0:
            raise ValueError(f"fire_fused: {sq!r} -> {e1!r}, {e3!r} with band {band}, channels "
                             f"{c1} and {c3} of {ky} is not a squeeze 1x1 and two expands "
                             "(1x1, same-size 3x3) that chain")

    cdef void _stage(self, tc_ir_stage *s, Conv2d layer):
        s.p = layer.p
        s.algo = layer.algo_id
        s.packed = _fptr(layer.packed)
        s.bias = _fptr_or_null(layer.bias)
        s.act = &layer.act

    def workspace_size(self, int h, int w):
        """float32 elements of workspace run() needs for an h x w input (all of the Context's
        threads)."""
        return int(tc_fire_fused_workspace_size(&self.sq.ctx.ctx, &self.st[0], &self.st[1],
                                                &self.st[2], h, w, self.band))

    def run(self, x, y, workspace=None):
        self.bind(x, y, workspace)()
        return y

    def bind(self, x, y, workspace=None):
        _check_array("fire_fused", "x", x, 4)
        _check_array("fire_fused", "y", y, 4, True)
        n, c, h, w = x.shape
        if c != self.st[0].p.C:
            raise ValueError(f"fire_fused: x {x.shape} has {c} channels, the squeeze expects "
                             f"{self.st[0].p.C}")
        if tc_fire_fused_check(&self.st[0], &self.st[1], &self.st[2], h, w, self.band, self.ky,
                               self.c1, self.c3) != 0:
            raise ValueError(f"fire_fused: the expand3x3 does not keep the size of x {x.shape}")
        _check_shape("fire_fused", "y", y, (n, self.ky, h, w), f" for x {x.shape}")
        _check_disjoint("fire_fused", "x", x, y)
        ws = _workspace("fire_fused", workspace, tc_fire_fused_workspace_size(
            &self.sq.ctx.ctx, &self.st[0], &self.st[1], &self.st[2], h, w, self.band))
        cdef BoundFireFused call = BoundFireFused.__new__(BoundFireFused)
        call.keep = (self, x, y, ws)
        call.ctx = &self.sq.ctx.ctx
        call.st[0], call.st[1], call.st[2] = self.st[0], self.st[1], self.st[2]
        call.n, call.h, call.w, call.band = n, h, w, self.band
        call.ky, call.c1, call.c3 = self.ky, self.c1, self.c3
        call.px = _fptr(x)
        call.py = _fptr_mut(y)
        call.pw = _fptr_or_null(ws)
        return call

# Wrapper of the banded first block, stem -> depthwise -> projection (csrc/stem_fused.c),
# included by _kernels.pyx.

cdef class BoundStemFused(BoundCall):
    """A StemFused run over fixed buffers, checked once (StemFused.bind); call it without
    arguments."""
    cdef object keep
    cdef const tc_ctx *ctx
    cdef tc_ir_stage st[3]
    cdef int residual, n, h, w, band
    cdef const float *px
    cdef float *py
    cdef float *pw

    cdef int run(self) noexcept nogil:
        tc_stem_fused_f32(self.ctx, &self.st[0], &self.st[1], &self.st[2], self.residual,
                          self.n, self.h, self.w, self.band, self.px, self.py, self.pw)
        return 0


cdef class StemFused:
    """stem (algo 'stem') -> dw (depthwise) -> project (1x1) [+ the stem's output, residual=True]
    in bands of `band` depthwise output rows: three planned Conv2d layers run without the stem's
    or the depthwise's output ever whole in memory, bit-identical to running them one after the
    other.  .run(x, y, workspace=None); workspace: workspace_size(h, w) floats."""
    cdef readonly Conv2d stem, dw, project
    cdef readonly int band
    cdef readonly bint residual
    cdef tc_ir_stage st[3]

    def __init__(self, Conv2d stem not None, Conv2d dw not None, Conv2d project not None,
                 int band, bint residual=False):
        if not (stem.ctx is dw.ctx is project.ctx):
            raise ValueError("stem_fused: the three layers must share one Context")
        self.stem, self.dw, self.project, self.band, self.residual = stem, dw, project, band, residual
        for i, layer in enumerate((stem, dw, project)):
            _ir_stage(&self.st[i], layer)
        if tc_stem_fused_check(&self.st[0], &self.st[1], &self.st[2], residual, 224, 224,
                               band) != 0:
            raise ValueError(f"stem_fused: {stem!r} -> {dw!r} -> {project!r} with band {band}"
                             f"{' and the residual' if residual else ''} is not a stem, a "
                             "depthwise and a projection 1x1 that chain")

    def workspace_size(self, int h, int w):
        """float32 elements of workspace run() needs for an h x w input (all of the Context's
        threads); 0 where the block does not take that size."""
        return int(tc_stem_fused_workspace_size(&self.stem.ctx.ctx, &self.st[0], &self.st[1],
                                                &self.st[2], self.residual, h, w, self.band))

    def run(self, x, y, workspace=None):
        self.bind(x, y, workspace)()
        return y

    def bind(self, x, y, workspace=None):
        _check_array("stem_fused", "x", x, 4)
        _check_array("stem_fused", "y", y, 4, True)
        n, c, h, w = x.shape
        if c != self.st[0].p.C:
            raise ValueError(f"stem_fused: x {x.shape} has {c} channels, the stem expects "
                             f"{self.st[0].p.C}")
        if tc_stem_fused_check(&self.st[0], &self.st[1], &self.st[2], self.residual, h, w,
                               self.band) != 0:
            raise ValueError(f"stem_fused: the block does not take x {x.shape}")
        _, _, sh, sw = self.stem.output_shape(n, h, w)
        _, _, oh, ow = self.dw.output_shape(n, sh, sw)
        _check_shape("stem_fused", "y", y, (n, self.st[2].p.K, oh, ow), f" for x {x.shape}")
        _check_disjoint("stem_fused", "x", x, y)
        ws = _workspace("stem_fused", workspace, tc_stem_fused_workspace_size(
            &self.stem.ctx.ctx, &self.st[0], &self.st[1], &self.st[2], self.residual, h, w,
            self.band))
        cdef BoundStemFused call = BoundStemFused.__new__(BoundStemFused)
        call.keep = (self, x, y, ws)
        call.ctx = &self.stem.ctx.ctx
        call.st[0], call.st[1], call.st[2] = self.st[0], self.st[1], self.st[2]
        call.residual, call.n, call.h, call.w, call.band = self.residual, n, h, w, self.band
        call.px = _fptr(x)
        call.py = _fptr_mut(y)
        call.pw = _fptr_or_null(ws)
        return call

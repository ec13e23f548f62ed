# Wrapper of the banded inverted-residual block (csrc/ir_fused.c), included by _kernels.pyx.

# a planned Conv2d layer as a fused kernel's stage (its arrays kept alive by the layer);
# unpacked: a layer made with pack=False (packed NULL), else such a layer is refused
cdef int _ir_stage(tc_ir_stage *s, Conv2d layer, bint unpacked=False) except -1:
    if layer.packed is None and not unpacked:
        raise ValueError(f"{layer!r} was made with pack=False: a fused kernel cannot run it")
    s.p = layer.p
    s.algo = layer.algo_id
    if layer.packed is None:
        s.packed = NULL
    else:
        s.packed = _fptr(layer.packed)
    s.bias = _fptr_or_null(layer.bias)
    s.act = &layer.act


cdef class BoundIRFused(BoundCall):
    """An IRFused run over fixed buffers, checked once (IRFused.bind); call it without arguments."""
    cdef object keep
    cdef const tc_ctx *ctx
    cdef tc_ir_stage st[3]
    cdef int n, h, w, band
    cdef const float *px
    cdef const float *pr
    cdef float *py
    cdef float *pw

    cdef int run(self) noexcept nogil:
        tc_ir_fused_f32(self.ctx, &self.st[0], &self.st[1], &self.st[2], self.n, self.h,
                        self.w, self.band, self.px, self.pr, self.py, self.pw)
        return 0


cdef class IRFused:
    """expand (1x1) -> dw (depthwise) -> project (1x1) [+ residual] in bands of `band`
    depthwise output rows: three planned Conv2d layers run without their expanded tensors
    ever whole in memory, bit-identical to running them one after the other.
    .run(x, y, residual=None, workspace=None); workspace: workspace_size(h, w) floats."""
    cdef readonly Conv2d expand, dw, project
    cdef readonly int band
    cdef tc_ir_stage st[3]

    def __init__(self, Conv2d expand not None, Conv2d dw not None, Conv2d project not None,
                 int band, *, bint _unpacked_project=False):
        if not (expand.ctx is dw.ctx is project.ctx):
            raise ValueError("ir_fused: the three layers must share one Context")
        self.expand, self.dw, self.project, self.band = expand, dw, project, band
        for i, layer in enumerate((expand, dw, project)):
            _ir_stage(&self.st[i], layer, i == 2 and _unpacked_project)
        if tc_ir_fused_check(&self.st[0], &self.st[1], &self.st[2], 1, 1, band) != 0 and \
                tc_ir_fused_check(&self.st[0], &self.st[1], &self.st[2], 64, 64, band) != 0:
            raise ValueError(f"ir_fused: {expand!r} -> {dw!r} -> {project!r} with band {band} "
                             "is not an expansion 1x1, a depthwise and a projection 1x1 that chain")

    def workspace_size(self, int h, int w):
        """float32 elements of workspace run() needs for an h x w input (all of the Context's
        threads)."""
        return int(tc_ir_fused_workspace_size(&self.expand.ctx.ctx, &self.st[0], &self.st[1],
                                              &self.st[2], h, w, self.band))

    def run(self, x, y, residual=None, workspace=None):
        self.bind(x, y, residual, workspace)()
        return y

    def bind(self, x, y, residual=None, workspace=None):
        _check_array("ir_fused", "x", x, 4)
        _check_array("ir_fused", "y", y, 4, True)
        n, c, h, w = x.shape
        if c != self.st[0].p.C:
            raise ValueError(f"ir_fused: x {x.shape} has {c} channels, the expansion expects "
                             f"{self.st[0].p.C}")
        if tc_ir_fused_check(&self.st[0], &self.st[1], &self.st[2], h, w, self.band) != 0:
            raise ValueError(f"ir_fused: empty depthwise output for x {x.shape}")
        _, _, oh, ow = self.dw.output_shape(n, h, w)
        expected = (n, self.st[2].p.K, oh, ow)
        _check_shape("ir_fused", "y", y, expected, f" for x {x.shape}")
        _check_disjoint("ir_fused", "x", x, y)
        cdef BoundIRFused call = BoundIRFused.__new__(BoundIRFused)
        call.pr = NULL
        if residual is not None:
            _check_array("ir_fused", "residual", residual, 4)
            _check_shape("ir_fused", "residual", residual, expected, f" for x {x.shape}")
            _check_disjoint("ir_fused", "residual", residual, y)
            call.pr = _fptr(residual)
        ws = _workspace("ir_fused", workspace, tc_ir_fused_workspace_size(
            &self.expand.ctx.ctx, &self.st[0], &self.st[1], &self.st[2], h, w, self.band))
        call.keep = (self, x, y, residual, ws)
        call.ctx = &self.expand.ctx.ctx
        call.st[0], call.st[1], call.st[2] = self.st[0], self.st[1], self.st[2]
        call.n, call.h, call.w, call.band = n, h, w, self.band
        call.px = _fptr(x)
        call.py = _fptr_mut(y)
        call.pw = _fptr_or_null(ws)
        return call


cdef class BoundIRChan8(BoundCall):
    """An IRChan8 run over fixed buffers, checked once (IRChan8.bind)."""
    cdef object keep
    cdef const tc_ctx *ctx
    cdef tc_ir_stage st[3]
    cdef int n, h, w, band
    cdef const float *px
    cdef const float *pr
    cdef float *py
    cdef float *pw
    cdef const float *psparse

    cdef int run(self) noexcept nogil:
        if self.psparse != NULL:
            tc_ir_chan8_sparse_f32(self.ctx, &self.st[0], &self.st[1], &self.st[2], self.psparse,
                                   self.n, self.h, self.w, self.band, self.px, self.pr, self.py,
                                   self.pw)
        else:
            tc_ir_chan8_f32(self.ctx, &self.st[0], &self.st[1], &self.st[2], self.n, self.h,
                            self.w, self.band, self.px, self.pr, self.py, self.pw)
        return 0


cdef class IRChan8(IRFused):
    """The same block, its expansion (a '1x1_chan' layer) written channel-blocked for the
    depthwise (csrc/ir_chan8_avx2.c; with a pool, its threads take the 16-channel strips, then
    split the projection): bit-identical to the three layers one after the other.  takes(h, w):
    whether it runs this block (an AVX2 Context, a 3x3 or 5x5 depthwise at stride 1 or 2 with
    pads 1 or 2, E a multiple of 8, ...: tc_ir_chan8_check).  band (s31): the depthwise's
    output rows at a time (the expansion then computes only the input rows they read, the
    projection runs on them), 0 the whole map.  sparse (h44-mn): the projection's weights
    [K2, E] (float32): the projection then multiplies only the depthwise output's nonzero
    values (csrc/pw_sparse_avx2.c, the same bits; h45-mn: at 2+ threads too, per band in rows,
    by output channel groups with strips); .sparse says whether it does (not where a weight is
    not finite)."""
    cdef object sparse_packed

    def __init__(self, Conv2d expand not None, Conv2d dw not None, Conv2d project not None,
                 int band=0, sparse=None):
        if band < 0:
            raise ValueError(f"ir_chan8: band {band} < 0")
        # h44-mn2: a projection made with pack=False (its dense packing never read) only with
        # sparse weights that pack, on the shapes the sparse product takes (h45-mn: at any
        # thread count)
        unpacked = not project.packs
        if unpacked and (sparse is None or project.out_channels % 8 or
                         project.in_channels % 8 or project.activation == "PRelu"):
            raise ValueError(f"ir_chan8: project {project!r} made with pack=False needs sparse "
                             "weights, channels multiples of 8 and no PRelu")
        super().__init__(expand, dw, project, 1, _unpacked_project=unpacked)
        self.band = band
        self.sparse_packed = None
        if sparse is not None:
            k2, e = self.st[2].p.K, self.st[2].p.C
            w = np.ascontiguousarray(sparse, np.float32).reshape(k2, e)
            size = tc_pw_sparse_pack_size(k2, e)
            # 64-byte aligned (lines split the loads), beside the layers' packed weights
            packed = _packed_empty(project.ctx, size)[:size]
            if tc_pw_sparse_pack(k2, e, _fptr(w), _fptr_mut(packed)):
                self.sparse_packed = packed
            elif unpacked:
                raise ValueError("ir_chan8: project made with pack=False needs finite sparse "
                                 "weights")

    @property
    def sparse(self):
        return self.sparse_packed is not None

    cdef size_t _ws(self, int h, int w):
        if self.sparse_packed is not None:
            return tc_ir_chan8_sparse_workspace_size(&self.expand.ctx.ctx, &self.st[0],
                                                     &self.st[1], &self.st[2], h, w, self.band)
        return tc_ir_chan8_workspace_size(&self.expand.ctx.ctx, &self.st[0], &self.st[1],
                                          &self.st[2], h, w, self.band)

    def takes(self, int h, int w):
        return tc_ir_chan8_check(&self.expand.ctx.ctx, &self.st[0], &self.st[1], &self.st[2],
                                 h, w, self.band) == 0

    def workspace_size(self, int h, int w):
        return int(self._ws(h, w))

    def bind(self, x, y, residual=None, workspace=None):
        _check_array("ir_chan8", "x", x, 4)
        _check_array("ir_chan8", "y", y, 4, True)
        n, c, h, w = x.shape
        if c != self.st[0].p.C or not self.takes(h, w):
            raise ValueError(f"ir_chan8: not a block it runs for x {x.shape}")
        _, _, oh, ow = self.dw.output_shape(n, h, w)
        expected = (n, self.st[2].p.K, oh, ow)
        _check_shape("ir_chan8", "y", y, expected, f" for x {x.shape}")
        _check_disjoint("ir_chan8", "x", x, y)
        cdef BoundIRChan8 call = BoundIRChan8.__new__(BoundIRChan8)
        call.pr = NULL
        if residual is not None:
            _check_array("ir_chan8", "residual", residual, 4)
            _check_shape("ir_chan8", "residual", residual, expected, f" for x {x.shape}")
            _check_disjoint("ir_chan8", "residual", residual, y)
            call.pr = _fptr(residual)
        ws = _workspace("ir_chan8", workspace, self._ws(h, w))
        call.keep = (self, x, y, residual, ws)
        call.psparse = NULL
        if self.sparse_packed is not None:
            call.psparse = _fptr(self.sparse_packed)
        call.ctx = &self.expand.ctx.ctx
        call.st[0], call.st[1], call.st[2] = self.st[0], self.st[1], self.st[2]
        call.n, call.h, call.w, call.band = n, h, w, self.band
        call.px = _fptr(x)
        call.py = _fptr_mut(y)
        call.pw = _fptr_or_null(ws)
        return call


cdef class BoundIRChan8Pair(BoundCall):
    """An IRChan8Pair run over fixed buffers, checked once (IRChan8Pair.bind)."""
    cdef object keep
    cdef const tc_ctx *ctx
    cdef tc_ir_stage st[2]
    cdef int n, h, w
    cdef const float *px
    cdef float *py
    cdef float *pm
    cdef float *pw
    cdef const void *ppf
    cdef size_t pf_bytes

    cdef int run(self) noexcept nogil:
        tc_ir_chan8_pair_f32(self.ctx, &self.st[0], &self.st[1], self.n, self.h, self.w,
                             self.px, self.py, self.pm, self.ppf, self.pf_bytes, self.pw)
        return 0


cdef class IRChan8Pair:
    """IRChan8's expansion and depthwise alone (the pair before a squeeze-and-excitation): y the
    depthwise output and means (or None) its planes' means, bit-identical to the two layers (the
    depthwise with Conv2d's means=).  takes(h, w): tc_ir_chan8_check without a projection.
    .run(x, y, means=None, workspace=None); workspace: workspace_size(h, w) floats.
    bind(..., prefetch=array): the strips also bring that C-contiguous array (what the next
    step reads: the SE's weights) into L2 as they compute; hints only, the same bits."""
    cdef readonly Conv2d expand, dw
    cdef tc_ir_stage st[2]

    def __init__(self, Conv2d expand not None, Conv2d dw not None):
        if not (expand.ctx is dw.ctx):
            raise ValueError("ir_chan8_pair: the two layers must share one Context")
        self.expand, self.dw = expand, dw
        _ir_stage(&self.st[0], expand)
        _ir_stage(&self.st[1], dw)

    def takes(self, int h, int w):
        return tc_ir_chan8_check(&self.expand.ctx.ctx, &self.st[0], &self.st[1], NULL, h, w,
                                 0) == 0

    def workspace_size(self, int h, int w):
        return int(tc_ir_chan8_workspace_size(&self.expand.ctx.ctx, &self.st[0], &self.st[1],
                                              NULL, h, w, 0))

    def run(self, x, y, means=None, workspace=None):
        self.bind(x, y, means, workspace)()
        return y

    def bind(self, x, y, means=None, workspace=None, prefetch=None):
        _check_array("ir_chan8_pair", "x", x, 4)
        _check_array("ir_chan8_pair", "y", y, 4, True)
        n, c, h, w = x.shape
        if c != self.st[0].p.C or not self.takes(h, w):
            raise ValueError(f"ir_chan8_pair: not a pair it runs for x {x.shape}")
        _, _, oh, ow = self.dw.output_shape(n, h, w)
        expected = (n, self.st[1].p.K, oh, ow)
        _check_shape("ir_chan8_pair", "y", y, expected, f" for x {x.shape}")
        _check_disjoint("ir_chan8_pair", "x", x, y)
        cdef BoundIRChan8Pair call = BoundIRChan8Pair.__new__(BoundIRChan8Pair)
        call.pm = NULL
        if means is not None:
            _check_array("ir_chan8_pair", "means", means, 2, True)
            _check_shape("ir_chan8_pair", "means", means, (n, self.st[1].p.K),
                         f" for x {x.shape}")
            call.pm = _fptr_mut(means)
        ws = _workspace("ir_chan8_pair", workspace, tc_ir_chan8_workspace_size(
            &self.expand.ctx.ctx, &self.st[0], &self.st[1], NULL, h, w, 0))
        call.keep = (self, x, y, means, ws)
        call.ppf, call.pf_bytes = NULL, 0
        if prefetch is not None:
            if not isinstance(prefetch, cnp.ndarray) or not prefetch.flags.c_contiguous:
                raise ValueError("ir_chan8_pair: prefetch needs a C-contiguous array, got "
                                 f"{type(prefetch).__name__}")
            call.keep = call.keep + (prefetch,)
            call.ppf = cnp.PyArray_DATA(<cnp.ndarray>prefetch)
            call.pf_bytes = prefetch.nbytes
        call.ctx = &self.expand.ctx.ctx
        call.st[0], call.st[1] = self.st[0], self.st[1]
        call.n, call.h, call.w = n, h, w
        call.px = _fptr(x)
        call.py = _fptr_mut(y)
        call.pw = _fptr_or_null(ws)
        return call

# Wrapper of the fire modules (csrc/fire.c), included by _kernels.pyx after _ir_fused.pxi.


cdef class BoundFire(BoundCall):
    """A Fire run over fixed buffers, checked once (Fire.bind); call it without arguments."""
    cdef object keep
    cdef const tc_ctx *ctx
    cdef tc_ir_stage st[3 * TC_FIRE_MAX_MODULES]
    cdef int modules, n, h, w
    cdef const float *px
    cdef float *py
    cdef float *pw

    cdef int run(self) noexcept nogil:
        tc_fire_f32(self.ctx, self.st, self.modules, self.n, self.h, self.w, self.px, self.py,
                    self.pw)
        return 0


cdef class Fire:
    """SqueezeNet's fire modules, one or several in a row: each a squeeze (1x1) -> expand 1x1
    and expand 3x3 (Winograd), their outputs concatenated along channels, the next module's
    squeeze reading that; as one call in which each thread runs every layer on its own band of
    rows, one pool job a module (csrc/fire.c); bit-identical to the layers and the Concats.
    Fire(squeeze, expand1, expand3[, squeeze, expand1, expand3 ...]).
    .run(x, y, workspace=None); workspace: workspace_size(h, w) floats."""
    cdef readonly tuple layers
    cdef readonly int modules
    cdef tc_ir_stage st[3 * TC_FIRE_MAX_MODULES]

    def __init__(self, *layers):
        if not layers or len(layers) % 3 or len(layers) > 3 * TC_FIRE_MAX_MODULES:
            raise ValueError(f"fire: {len(layers)} layers, not 3 per module for 1 to "
                             f"{TC_FIRE_MAX_MODULES} modules")
        cdef Conv2d layer
        for i, layer in enumerate(layers):
            if layer is None:
                raise TypeError("fire: a layer is None")
            if layer.ctx is not layers[0].ctx:
                raise ValueError("fire: the layers must share one Context")
            _ir_stage(&self.st[i], layer)
        self.layers = tuple(layers)
        self.modules = len(layers) // 3
        if tc_fire_check(self.st, self.modules, 1, 1) != 0:
            raise ValueError("fire: " + " -> ".join(repr(l) for l in layers) + " are not 1x1 "
                             "squeezes, 1x1 expands and 3x3 Winograd expands (pads 1) that chain")

    def workspace_size(self, int h, int w):
        """float32 elements of workspace run() needs for an h x w input (all of the Context's
        threads)."""
        cdef Conv2d first = self.layers[0]
        return int(tc_fire_workspace_size(&first.ctx.ctx, self.st, self.modules, h, w))

    def run(self, x, y, workspace=None):
        self.bind(x, y, workspace)()
        return y

    def bind(self, x, y, workspace=None):
        _check_array("fire", "x", x, 4)
        _check_array("fire", "y", y, 4, True)
        n, c, h, w = x.shape
        if c != self.st[0].p.C:
            raise ValueError(f"fire: x {x.shape} has {c} channels, the squeeze expects "
                             f"{self.st[0].p.C}")
        if tc_fire_check(self.st, self.modules, h, w) != 0:
            raise ValueError(f"fire: empty input {x.shape}")
        last = 3 * self.modules - 1
        expected = (n, self.st[last - 1].p.K + self.st[last].p.K, h, w)
        _check_shape("fire", "y", y, expected, f" for x {x.shape}")
        _check_disjoint("fire", "x", x, y)
        cdef Conv2d first = self.layers[0]
        cdef BoundFire call = BoundFire.__new__(BoundFire)
        ws = _workspace("fire", workspace, tc_fire_workspace_size(
            &first.ctx.ctx, self.st, self.modules, h, w))
        call.keep = (self, x, y, ws)
        call.ctx = &first.ctx.ctx
        call.st = self.st
        call.modules, call.n, call.h, call.w = self.modules, n, h, w
        call.px = _fptr(x)
        call.py = _fptr_mut(y)
        call.pw = _fptr_or_null(ws)
        return call


# The most fire modules one call takes (graph._fuse_fire chains no more).
FIRE_MAX_MODULES = TC_FIRE_MAX_MODULES

# Squeeze-and-excitation block as one kernel call (csrc/se.c).

cdef int _se_act(tc_activation *act, str name, alpha, beta) except -1:
    if name not in ACTIVATIONS or name == "PRelu":
        raise ValueError(f"squeeze_excite: unknown activation {name!r}, expected one of "
                         f"{sorted(a for a in ACTIVATIONS if a and a != 'PRelu')}")
    kind, alpha0, beta0 = ACTIVATIONS[name]
    act.kind = kind
    act.alpha = alpha0 if alpha is None else alpha
    act.beta = beta0 if beta is None else beta
    act.slope = NULL
    return 0


cdef class BoundSqueezeExciteGate(BoundCall):
    """SqueezeExcite.run_gate over fixed buffers, checked once (SqueezeExcite.bind_gate);
    call it without arguments.  Holds the layer and the arrays, so the pointers stay valid."""
    cdef object layer, keep
    cdef const tc_ctx *ctx
    cdef int n, c, c1
    cdef ptrdiff_t s
    cdef const float *xp
    cdef const float *mp
    cdef const float *w1p
    cdef const float *b1p
    cdef const float *w2p
    cdef const float *b2p
    cdef const tc_activation *act1
    cdef const tc_activation *act2
    cdef float *gp
    cdef float *wsp

    cdef int run(self) noexcept nogil:
        if self.n == 0:
            return 0
        if self.mp != NULL:
            return tc_se_gate_means_f32(self.ctx, self.n, self.c, self.c1, self.mp, self.w1p,
                                        self.b1p, self.act1, self.w2p, self.b2p, self.act2,
                                        self.gp, self.wsp)
        return tc_se_gate_f32(self.ctx, self.n, self.c, self.s, self.c1, self.xp, self.w1p,
                              self.b1p, self.act1, self.w2p, self.b2p, self.act2, self.gp,
                              self.wsp)

    cdef failed(self, int rc):
        raise ValueError(f"squeeze_excite: invalid arguments (N {self.n}, C {self.c}, "
                         f"C1 {self.c1})")


cdef class SqueezeExcite:
    """y = x * gate(w2 . act(w1 . mean(x) + b1) + b2), per image and channel.

    SqueezeExcite(ctx, w1 [C1, C], b1 [C1] or None, w2 [C, C1], b2 [C] or None, *,
                  activation="Relu", gate="Sigmoid", alpha/beta and gate_alpha/gate_beta)
    run(x [N, C, *spatial], y like x (may be x), workspace=None).
    weights: w1 and w2 in one buffer (the views .w1 and .w2), the memory the gates read."""
    cdef readonly Context ctx
    cdef readonly object w1, b1, w2, b2, weights
    cdef readonly int channels, hidden
    cdef tc_activation act1, act2

    def __init__(self, Context ctx not None, w1, b1, w2, b2, *, str activation="Relu",
                 str gate="Sigmoid", alpha=None, beta=None, gate_alpha=None, gate_beta=None):
        _check_array("squeeze_excite", "w1", w1, 2)
        _check_array("squeeze_excite", "w2", w2, 2)
        c1, c = w1.shape
        if c1 < 1 or c < 1 or w2.shape != (c, c1):
            raise ValueError(f"squeeze_excite: w1 {w1.shape} must be [C1, C] and w2 {w2.shape} "
                             f"[C, C1]")
        for name, b, k in (("b1", b1, c1), ("b2", b2, c)):
            if b is not None:
                _check_array("squeeze_excite", name, b, 1)
                _check_shape("squeeze_excite", name, b, (k,))
        _se_act(&self.act1, activation, alpha, beta)
        _se_act(&self.act2, gate, gate_alpha, gate_beta)
        self.ctx, self.channels, self.hidden = ctx, c, c1
        # w1 and w2 in one buffer, `weights`: what the layer reads from memory, for the
        # convolution before it to prefetch (Conv2d.bind(prefetch=...))
        cdef Py_ssize_t off = (c1 * c + 15) // 16 * 16
        self.weights = _packed_empty(ctx, off + c * c1)
        self.w1 = self.weights[:c1 * c].reshape(c1, c)
        self.w2 = self.weights[off:off + c * c1].reshape(c, c1)
        np.copyto(self.w1, w1)
        np.copyto(self.w2, w2)
        self.b1 = None if b1 is None else _packed_copy(ctx, b1)
        self.b2 = None if b2 is None else _packed_copy(ctx, b2)

    def workspace_size(self, int n):
        return tc_se_workspace_size(n, self.channels, self.hidden)

    def gate_workspace_size(self, int n):
        return tc_se_gate_workspace_size(n, self.channels, self.hidden)

    def run_gate(self, x, gate, workspace=None, means=None):
        """gate [N, C, 1...] (any shape of N * C floats) = the block's gates for x, without
        the scale (csrc/se.c tc_se_gate_f32).  means: [N, C], x's channels pooled already
        (a depthwise layer's Conv2d.run(means=...)): x is not read (tc_se_gate_means_f32).
        Returns gate."""
        self.bind_gate(x, gate, workspace, means)()
        return gate

    def bind_gate(self, x, gate, workspace=None, means=None):
        """run_gate(x, gate, workspace, means) checked now, as a call without arguments
        that runs it again and again over these buffers (a plan's arena)."""
        _check_array("squeeze_excite", "x", x)
        _check_array("squeeze_excite", "gate", gate, -1, True)
        if x.ndim < 3 or x.shape[1] != self.channels or gate.size != x.shape[0] * x.shape[1]:
            raise ValueError(f"squeeze_excite: x must be [N, {self.channels}, *spatial] and gate "
                             f"N * {self.channels} floats, got x {x.shape}, gate {gate.shape}")
        cdef BoundSqueezeExciteGate call = BoundSqueezeExciteGate.__new__(BoundSqueezeExciteGate)
        call.n = x.shape[0]
        call.mp = NULL
        if means is None:
            call.s = x.size // (x.shape[0] * x.shape[1]) if x.shape[0] else 1
            if call.s == 0:
                raise ValueError(f"squeeze_excite: x {x.shape} has no spatial positions")
            _check_disjoint("squeeze_excite", "x", x, gate)
            ws = _workspace("squeeze_excite", workspace,
                            tc_se_gate_workspace_size(call.n, self.channels, self.hidden))
        else:
            _check_array("squeeze_excite", "means", means, 2)
            _check_shape("squeeze_excite", "means", means, (x.shape[0], self.channels))
            _check_disjoint("squeeze_excite", "means", means, gate)
            ws = _workspace("squeeze_excite", workspace, self.hidden)
            call.mp = _fptr(means)
        call.layer = self
        call.keep = (x, gate, ws, means)
        call.ctx = _ctx_ptr(self.ctx)
        call.c, call.c1 = self.channels, self.hidden
        call.xp = _fptr(x)
        call.gp = _fptr_mut(gate)
        call.wsp = _fptr_or_null(ws)
        call.w1p, call.w2p = _fptr(self.w1), _fptr(self.w2)
        call.b1p, call.b2p = _fptr_or_null(self.b1), _fptr_or_null(self.b2)
        call.act1, call.act2 = &self.act1, &self.act2
        return call

    def run(self, x, y, workspace=None):
        _check_array("squeeze_excite", "x", x)
        _check_array("squeeze_excite", "y", y, -1, True)
        if x.ndim < 3 or x.shape[1] != self.channels or y.shape != x.shape:
            raise ValueError(f"squeeze_excite: x must be [N, {self.channels}, *spatial] and y "
                             f"its shape, got x {x.shape}, y {y.shape}")
        return self._call(x, y, workspace, False)

    cdef _call(self, x, out, workspace, bint gate_only):
        """run's (out = y, which may be x) or run_gate's (out = the gates) kernel call, x and
        out checked against each other's shapes."""
        if x.shape[0] == 0:
            return out
        cdef int n = x.shape[0]
        cdef ptrdiff_t s = x.size // (x.shape[0] * x.shape[1])
        if s == 0:
            raise ValueError(f"squeeze_excite: x {x.shape} has no spatial positions")
        if gate_only:
            _check_disjoint("squeeze_excite", "x", x, out)
        elif not (out is x or not _overlap(x, out) or
                  cnp.PyArray_DATA(<cnp.ndarray>x) == cnp.PyArray_DATA(<cnp.ndarray>out)):
            raise ValueError("squeeze_excite: y overlaps x without being x")
        ws = _workspace("squeeze_excite", workspace,
                        tc_se_gate_workspace_size(n, self.channels, self.hidden) if gate_only
                        else tc_se_workspace_size(n, self.channels, self.hidden))
        cdef const float *xp = _fptr(x)
        cdef float *op = _fptr_mut(out)
        cdef const float *w1p = _fptr(self.w1)
        cdef const float *w2p = _fptr(self.w2)
        cdef const float *b1p = _fptr_or_null(self.b1)
        cdef const float *b2p = _fptr_or_null(self.b2)
        cdef float *wsp = _fptr_mut(ws)
        cdef const tc_ctx *cx = _ctx_ptr(self.ctx)
        cdef int c = self.channels, c1 = self.hidden, rc
        with nogil:
            if gate_only:
                rc = tc_se_gate_f32(cx, n, c, s, c1, xp, w1p, b1p, &self.act1, w2p, b2p,
                                    &self.act2, op, wsp)
            else:
                rc = tc_se_f32(cx, n, c, s, c1, xp, w1p, b1p, &self.act1, w2p, b2p, &self.act2,
                               op, wsp)
        if rc:
            raise ValueError(f"squeeze_excite: invalid arguments (x {x.shape}, C1 {c1})")
        return out

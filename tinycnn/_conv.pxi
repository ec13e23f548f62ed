# Wrappers of the convolution kernels (included by _kernels.pyx): one layer
# class for every algorithm.  Which algorithm a layer takes is decided at plan
# time by tinycnn/ops/conv_algo.py; here it is an argument.

# name -> enum tc_conv_algo; the geometries each can compute: tc_conv2d_check (csrc/conv.c).
CONV_ALGOS = {
    "reference": TC_CONV_ALGO_REFERENCE,
    "gemm": TC_CONV_ALGO_GEMM,
    "1x1": TC_CONV_ALGO_1X1,
    "1x1_chan": TC_CONV_ALGO_1X1_CHAN,
    "depthwise": TC_CONV_ALGO_DEPTHWISE,
    "grouped": TC_CONV_ALGO_GROUPED,
    "winograd_f2x2_3x3": TC_CONV_ALGO_WINOGRAD_2X2_3X3,
    "winograd_f4x4_3x3": TC_CONV_ALGO_WINOGRAD_4X4_3X3,
    "winograd_f2x2_5x5": TC_CONV_ALGO_WINOGRAD_2X2_5X5,
    "stem": TC_CONV_ALGO_STEM,
}
_CONV_ALGO_NAMES = {code: name for name, code in CONV_ALGOS.items()}
WINOGRAD_ALGOS = tuple(name for name in CONV_ALGOS if name.startswith("winograd"))

# F(2x2)'s transformed weights reach 2.25 max|w|: below this they stay finite in float32.
WINOGRAD_MAX_ABS_WEIGHT = 1e38


def winograd_takes_weights(weight):
    """Whether Winograd computes with these weights as a direct convolution would,
    NaN and Inf included: every weight finite with |w| <= 1e38.  Tiles whose result is not
    finite (a NaN/Inf input, an overflow) are recomputed directly from filters recovered
    from the transformed weights, which NaN/Inf weights do not give back."""
    return bool(np.all(np.abs(np.asarray(weight, dtype=np.float32)) <= WINOGRAD_MAX_ABS_WEIGHT))


# The activations a convolution's epilogue applies (enum tc_act), by ONNX op name, with the
# spec's default (alpha, beta).  "SiLU" is x * Sigmoid(x); "HardSwish" with HardSigmoid's
# (alpha, beta) is x * HardSigmoid(x); "PRelu" takes one slope per output channel.
ACTIVATIONS = {
    "": (TC_ACT_NONE, 0.0, 0.0),
    "Relu": (TC_ACT_RELU, 0.0, 0.0),
    "Clip": (TC_ACT_CLIP, float("-inf"), float("inf")),
    "LeakyRelu": (TC_ACT_LEAKY_RELU, 0.01, 0.0),
    "PRelu": (TC_ACT_PRELU, 0.0, 0.0),
    "HardSigmoid": (TC_ACT_HARD_SIGMOID, 0.2, 0.5),
    "HardSwish": (TC_ACT_HARD_SWISH, 1.0 / 6.0, 0.5),
    "Sigmoid": (TC_ACT_SIGMOID, 0.0, 0.0),
    "SiLU": (TC_ACT_SILU, 0.0, 0.0),
}


cdef int _conv_params(tc_conv2d_params *p, int C, int K, int KH, int KW, strides, pads, dilations,
                      int group) except -1:
    strides, pads, dilations = tuple(strides), tuple(pads), tuple(dilations)
    if len(strides) != 2 or len(pads) != 4 or len(dilations) != 2:
        raise ValueError(f"conv: expected strides (2), pads (top, left, bottom, right) and dilations (2), "
                         f"got strides={strides}, pads={pads}, dilations={dilations}")
    if min(strides) < 1 or min(dilations) < 1 or min(pads) < 0:
        raise ValueError(f"conv: strides/dilations must be >= 1 and pads >= 0, got strides={strides}, "
                         f"pads={pads}, dilations={dilations}")
    if group < 1 or K % group:
        raise ValueError(f"conv: out channels {K} not divisible by group={group}")
    p.C, p.K, p.KH, p.KW = C, K, KH, KW
    p.sh, p.sw = strides
    p.pt, p.pl, p.pb, p.pr = pads
    p.dh, p.dw = dilations
    p.group = group
    return 0


def conv2d_algos(int in_channels, int out_channels, kernel, strides=(1, 1), pads=(0, 0, 0, 0),
                 dilations=(1, 1), int group=1):
    """The names of the algorithms that can compute this geometry (tc_conv2d_check)."""
    cdef tc_conv2d_params p
    kernel = tuple(kernel)
    if len(kernel) != 2 or min(kernel) < 1:
        raise ValueError(f"conv: kernel must be 2 sizes >= 1, got {kernel}")
    _conv_params(&p, in_channels, out_channels, kernel[0], kernel[1], strides, pads, dilations, group)
    return [name for name, code in CONV_ALGOS.items() if tc_conv2d_check(&p, code) == 0]


cdef str _conv_geometry(const tc_conv2d_params *p):
    return (f"{p.C}->{p.K} channels, kernel {p.KH}x{p.KW}, strides ({p.sh}, {p.sw}), "
            f"pads ({p.pt}, {p.pl}, {p.pb}, {p.pr}), dilations ({p.dh}, {p.dw}), group {p.group}")


cdef class BoundConv2d(BoundCall):
    """A Conv2d's run over fixed buffers, checked once (Conv2d.bind); call it without
    arguments.  Holds the layer and the arrays, so the pointers stay valid."""
    cdef object layer, keep
    cdef const tc_ctx *ctx
    cdef const tc_conv2d_params *p
    cdef const tc_activation *act
    cdef int algo
    cdef int n, h, w
    cdef const float *px
    cdef const float *pk
    cdef const float *pb
    cdef const float *pr
    cdef const float *pg
    cdef float *py
    cdef float *pm
    cdef float *pw
    cdef ptrdiff_t ldy
    cdef const void *ppf
    cdef size_t pf_bytes

    cdef int run(self) noexcept nogil:
        if self.ldy:
            tc_conv2d_strided_f32(self.ctx, self.p, self.algo, self.n, self.h, self.w,
                                  self.px, self.pk, self.pb, self.pr, self.act, self.py,
                                  self.ldy, self.pw)
        elif self.pm != NULL:
            tc_conv2d_means_f32(self.ctx, self.p, self.algo, self.n, self.h, self.w, self.px,
                                self.pk, self.pb, self.pr, self.act, self.py, self.pm,
                                self.ppf, self.pf_bytes, self.pw)
        elif self.pg == NULL:
            tc_conv2d_f32(self.ctx, self.p, self.algo, self.n, self.h, self.w, self.px,
                          self.pk, self.pb, self.pr, self.act, self.py, self.pw)
        else:
            tc_conv2d_scaled_f32(self.ctx, self.p, self.algo, self.n, self.h, self.w, self.px,
                                 self.pg, self.pk, self.pb, self.pr, self.act, self.py,
                                 self.pw)
        return 0


cdef class BoundConvMaxPool(BoundCall):
    """A convolution and the max pool after it over fixed buffers, checked once
    (Conv2d.bind_maxpool); call it without arguments."""
    cdef object keep
    cdef const tc_ctx *ctx
    cdef const tc_conv2d_params *p
    cdef const tc_activation *act
    cdef tc_pool2d_desc q
    cdef int algo, n, h, w
    cdef const float *px
    cdef const float *pk
    cdef const float *pb
    cdef float *py
    cdef float *pw

    cdef int run(self) noexcept nogil:
        tc_conv2d_maxpool_f32(self.ctx, self.p, self.algo, &self.q, self.n, self.h, self.w,
                              self.px, self.pk, self.pb, self.act, self.py, self.pw)
        return 0


cdef class Conv2d:
    """2-D convolution (NCHW float32) planned once: weights packed for the given algorithm.

    Conv2d(ctx, weight[K, C//group, KH, KW], bias[K] | None, *, algo, strides=(1, 1),
           pads=(top, left, bottom, right), dilations=(1, 1), group=1, relu=False,
           activation="", alpha=None, beta=None, slope=None, pack=True)
    algo: a name of CONV_ALGOS; ValueError when it cannot compute this geometry, or for a
    Winograd algorithm, these weights (winograd_takes_weights).
    activation: a name of ACTIVATIONS fused into the store (relu=True is "Relu"); alpha and
    beta default to the ONNX op's (Clip: min, max); slope: [K] for "PRelu".
    .run(x, y, residual=None, workspace=None, scale=None): y = act(conv(x) + bias + residual),
    residual may be y itself; workspace: workspace_size(n, h, w) floats; scale: [N, C] gates of
    x's channels (algo '1x1' or '1x1_chan'): the convolution of x * scale, folded into a
    per-image copy of the weights in workspace (workspace_size(n, h, w, scaled=True));
    means: [N, K] (algo 'depthwise' or 'grouped'), written with each output plane's mean (the global average
    pool of y, csrc/conv.c tc_conv2d_means_f32).
    y may have its planes apart (algo '1x1' or '1x1_chan', no residual, scale or means): y's
    last two axes C-contiguous, its image stride K times its plane stride, as a view of every
    G-th plane of a bigger tensor (a channel shuffle's, csrc/conv.c tc_conv2d_strided_f32).
    """
    cdef tc_conv2d_params p
    cdef int algo_id
    cdef readonly Context ctx
    cdef readonly int in_channels, out_channels
    cdef readonly bint relu
    cdef readonly str activation
    cdef tc_activation act
    cdef object packed, bias, slope

    def __init__(self, Context ctx not None, weight, bias=None, *, str algo, strides=(1, 1),
                 pads=(0, 0, 0, 0), dilations=(1, 1), int group=1, relu=False, str activation="",
                 alpha=None, beta=None, slope=None, bint pack=True):
        if algo not in CONV_ALGOS:
            raise ValueError(f"conv: unknown algo {algo!r}, expected one of {sorted(CONV_ALGOS)}")
        _check_array("conv", "weight", weight, 4)
        K, Cg, KH, KW = weight.shape
        if min(weight.shape) < 1:
            raise ValueError(f"conv: empty weight shape {weight.shape}")
        _conv_params(&self.p, Cg * group, K, KH, KW, strides, pads, dilations, group)
        self.algo_id = CONV_ALGOS[algo]
        if tc_conv2d_check(&self.p, self.algo_id) != 0:
            raise ValueError(f"conv: algo {algo!r} cannot compute {_conv_geometry(&self.p)} "
                             f"(weight {weight.shape})")
        if algo in WINOGRAD_ALGOS and not winograd_takes_weights(weight):
            raise ValueError(f"conv: weight {weight.shape} has NaN, Inf or |w| > "
                             f"{WINOGRAD_MAX_ABS_WEIGHT:g} values, which algo {algo!r} cannot take")
        if bias is not None:
            _check_array("conv", "bias", bias, 1)
            _check_shape("conv", "bias", bias, (K,), f" (weight {weight.shape})")
            self.bias = _packed_copy(ctx, bias)
        if relu and activation not in ("", "Relu"):
            raise ValueError(f"conv: relu=True and activation={activation!r} both given")
        if relu:
            activation = "Relu"
        if activation not in ACTIVATIONS:
            raise ValueError(f"conv: unknown activation {activation!r}, expected one of "
                             f"{sorted(a for a in ACTIVATIONS if a)}")
        kind, alpha0, beta0 = ACTIVATIONS[activation]
        self.act.kind = kind
        self.act.alpha = alpha0 if alpha is None else alpha
        self.act.beta = beta0 if beta is None else beta
        self.act.slope = NULL
        if activation == "PRelu":
            if slope is None:
                raise ValueError(f"conv: activation 'PRelu' needs slope [{K}]")
            _check_array("conv", "slope", slope, 1)
            _check_shape("conv", "slope", slope, (K,), f" (weight {weight.shape})")
            self.slope = _packed_copy(ctx, slope)
            self.act.slope = _fptr(self.slope)
        elif slope is not None:
            raise ValueError(f"conv: slope is for activation 'PRelu', not {activation!r}")
        self.activation = activation
        self.ctx = ctx
        self.in_channels = Cg * group
        self.out_channels = K
        self.relu = activation == "Relu"
        self.packed = None
        if not pack:
            return
        self.packed = _packed_empty(ctx, tc_conv2d_pack_size(&self.p, self.algo_id))
        cdef const float *pw = _fptr(weight)
        cdef float *pk = _fptr_mut(self.packed)
        with nogil:
            tc_conv2d_pack_f32(&self.ctx.ctx, &self.p, self.algo_id, pw, pk)

    @property
    def algo(self):
        return _CONV_ALGO_NAMES[self.algo_id]

    @property
    def packs(self):
        """False for a layer made with pack=False (h44-mn2): its geometry, bias and activation
        only, for a fused kernel that packs the weights its own way (IRChan8's sparse
        projection); it cannot run."""
        return self.packed is not None

    cdef int _need_packed(self) except -1:
        if self.packed is None:
            raise ValueError(f"conv: {self!r} was made with pack=False: it cannot run")
        return 0

    @property
    def kernel_shape(self):
        return (self.p.KH, self.p.KW)

    @property
    def pads(self):
        return (self.p.pt, self.p.pl, self.p.pb, self.p.pr)

    def __repr__(self):
        return (f"Conv2d({_conv_geometry(&self.p)}, activation={self.activation!r}, "
                f"algo={self.algo!r})")

    def output_shape(self, int n, int h, int w):
        """(n, K, oh, ow); raises ValueError if the output would be empty."""
        cdef int oh = 0, ow = 0
        if n < 1 or tc_conv2d_output_hw(&self.p, h, w, &oh, &ow) != 0:
            raise ValueError(f"conv: empty or invalid output for input (N={n}, C={self.p.C}, H={h}, "
                             f"W={w}) with {_conv_geometry(&self.p)}")
        return (n, self.p.K, oh, ow)

    def writes_over_input(self, int n, int h, int w):
        """Whether y may be x itself for an (n, C, h, w) input (without a residual): a depthwise
        at stride 1 with K == C, at most 16 rows of top padding and an output of x's size,
        which csrc/conv.c's dw_in_place (the same conditions) writes over x in bands."""
        return (self.algo_id == TC_CONV_ALGO_DEPTHWISE and self.p.K == self.p.C
                and self.p.sh == 1 and self.p.sw == 1 and self.p.pt <= 16
                and self.output_shape(n, h, w) == (n, self.p.C, h, w))

    def scaled_mode(self, int h, int w):
        """How run(scale=...) applies the gates to an (h, w) input (csrc/conv.c
        tc_conv2d_scaled_mode): "weights" (a scaled copy of the weights: other bits than the
        layer on x * scale), "b_copy" (x's rows scaled in the GEMM driver's copy of B) or
        "x_copy" (a scaled copy of x): both the same bits as the layer on x * scale; None
        where run refuses a scale (another algorithm)."""
        self.output_shape(1, h, w)
        cdef int m = tc_conv2d_scaled_mode(&self.ctx.ctx, &self.p, self.algo_id, h, w)
        return {TC_SCALED_WEIGHTS: "weights", TC_SCALED_B_COPY: "b_copy",
                TC_SCALED_X_COPY: "x_copy"}.get(m)

    def workspace_size(self, int n, int h, int w, bint scaled=False):
        """float32 elements of workspace run() needs for an input of (n, C, h, w), with this
        object's Context (it grows with the thread count); scaled: for run(scale=...)."""
        self.output_shape(n, h, w)
        return int(self._workspace_size(n, h, w, scaled))

    cdef size_t _workspace_size(self, int n, int h, int w, bint scaled):
        if scaled:
            return tc_conv2d_scaled_workspace_size(&self.ctx.ctx, &self.p, self.algo_id, n, h, w)
        return tc_conv2d_workspace_size(&self.ctx.ctx, &self.p, self.algo_id, n, h, w)

    def run(self, x, y, residual=None, workspace=None, scale=None, means=None):
        """y = act(conv(x * scale) + bias + residual); residual may be y itself; means: the
        mean of each plane of y.  Releases the GIL.  Returns y."""
        self._bind(x, y, residual, workspace, scale, means)()
        return y

    def bind(self, x, y, residual=None, workspace=None, scale=None, means=None,
             prefetch=None):
        """run(x, y, residual, workspace, scale, means) checked now, as a call without
        arguments that runs it again and again over these buffers (a plan's arena): the
        checks are paid once, at plan time, not at every run.  prefetch (with means): a
        C-contiguous array the next step reads, brought into L2 while the grouped kernel
        computes (csrc/conv.c tc_conv2d_means_f32; only read, as hints)."""
        call = self._bind(x, y, residual, workspace, scale, means)
        if prefetch is not None:
            if means is None or not isinstance(prefetch, cnp.ndarray) or \
                    not prefetch.flags.c_contiguous:
                raise ValueError("conv: prefetch needs means and a C-contiguous array, got "
                                 f"{type(prefetch).__name__}")
            call.keep = call.keep + (prefetch,)
            call.ppf = cnp.PyArray_DATA(<cnp.ndarray>prefetch)
            call.pf_bytes = prefetch.nbytes
        return call

    cdef BoundConv2d _bind(self, x, y, residual, workspace, scale, means=None):
        _check_array("conv", "x", x, 4)
        cdef ptrdiff_t ldy = _plane_stride("conv", y, 4)
        if not ldy:
            _check_array("conv", "y", y, 4, True)
        n, c, h, w = x.shape
        if c != self.p.C:
            raise ValueError(f"conv: x {x.shape} has {c} channels, weight expects {self.p.C}")
        expected = self.output_shape(n, h, w)
        _check_shape("conv", "y", y, expected, f" for x {x.shape}")
        if ldy:
            if (self.algo_id not in (TC_CONV_ALGO_1X1, TC_CONV_ALGO_1X1_CHAN) or
                    residual is not None or scale is not None or means is not None):
                raise ValueError(f"conv: y with planes apart (strides {y.strides}) needs algo "
                                 f"'1x1' or '1x1_chan' without residual, scale or means, "
                                 f"not {self.algo!r}")
            _check_disjoint_span("conv", "x", x, y, (y.shape[0] * y.shape[1] - 1) * ldy
                                 + y.shape[2] * y.shape[3])
        elif residual is None and self.writes_over_input(n, h, w):
            _check_same_or_disjoint("conv", "x", x, y)
        else:
            _check_disjoint("conv", "x", x, y)
        cdef BoundConv2d call = BoundConv2d.__new__(BoundConv2d)
        call.ldy = ldy
        call.ppf, call.pf_bytes = NULL, 0
        call.pr = call.pg = NULL
        call.pm = NULL
        if means is not None:
            if (self.algo_id != TC_CONV_ALGO_DEPTHWISE and self.algo_id != TC_CONV_ALGO_GROUPED
                    or scale is not None):
                raise ValueError(f"conv: means needs algo 'depthwise' or 'grouped' and no scale, "
                                 f"not {self.algo!r}")
            _check_array("conv", "means", means, 2, True)
            _check_shape("conv", "means", means, (n, self.p.K), f" for x {x.shape}")
            _check_disjoint("conv", "means", means, y)
            _check_disjoint("conv", "means", means, x)
            call.pm = _fptr_mut(means)
        if scale is not None:
            if self.algo_id not in (TC_CONV_ALGO_1X1, TC_CONV_ALGO_1X1_CHAN):
                raise ValueError(f"conv: scale needs algo '1x1' or '1x1_chan', not {self.algo!r}")
            _check_array("conv", "scale", scale, 2)
            _check_shape("conv", "scale", scale, (n, c), f" for x {x.shape}")
            _check_disjoint("conv", "scale", scale, y)
            call.pg = _fptr(scale)
        if residual is not None:
            _check_array("conv", "residual", residual, 4)
            _check_shape("conv", "residual", residual, expected, f" for x {x.shape}")
            _check_same_or_disjoint("conv", "residual", residual, y)
            call.pr = _fptr(residual)
        ws = _workspace("conv", workspace, self._workspace_size(n, h, w, scale is not None))
        call.layer = self
        call.ctx, call.p, call.act, call.algo = &self.ctx.ctx, &self.p, &self.act, self.algo_id
        call.keep = (x, y, residual, ws, scale, means)
        call.n, call.h, call.w = n, h, w
        call.px = _fptr(x)
        self._need_packed()
        call.pk = _fptr(self.packed)
        call.pb = _fptr_or_null(self.bias)
        call.py = _fptr_mut(y)
        call.pw = _fptr_or_null(ws)
        return call


    cdef int _maxpool_desc(self, tc_pool2d_desc *q, int h, int w, kernel, strides, pads,
                           dilations, int oh, int ow) except -1:
        if len(kernel) != 2 or len(strides) != 2 or len(dilations) != 2 or len(pads) != 4:
            raise ValueError(f"conv_maxpool: kernel {kernel!r}, strides {strides!r}, dilations "
                             f"{dilations!r} need 2 values (h, w) and pads {pads!r} 4")
        q.nc, q.h, q.w, q.oh, q.ow = 0, 0, 0, oh, ow
        q.kh, q.kw = kernel[0], kernel[1]
        q.sh, q.sw = strides[0], strides[1]
        q.pad_t, q.pad_l, q.pad_b, q.pad_r = pads[0], pads[1], pads[2], pads[3]
        q.dh, q.dw = dilations[0], dilations[1]
        return 0

    def maxpool_supported(self, int h, int w, kernel, strides, pads, dilations, int oh, int ow):
        """Whether bind_maxpool takes this layer, an h x w input and the max pool (kernel,
        strides, pads (top, left, bottom, right), dilations, pooled size oh x ow) after it:
        the banded stems (algo 'gemm', few input channels, strided or padded)."""
        cdef tc_pool2d_desc q
        self._maxpool_desc(&q, h, w, kernel, strides, pads, dilations, oh, ow)
        return tc_conv2d_maxpool_check(&self.p, self.algo_id, &q, h, w) == 0

    def maxpool_workspace_size(self, int h, int w, kernel, strides, pads, dilations, int oh,
                               int ow):
        """float32 elements of workspace bind_maxpool needs (all of the Context's threads)."""
        cdef tc_pool2d_desc q
        self._maxpool_desc(&q, h, w, kernel, strides, pads, dilations, oh, ow)
        return int(tc_conv2d_maxpool_workspace_size(&self.ctx.ctx, &self.p, self.algo_id, &q, h,
                                                    w))

    def bind_maxpool(self, x, y, kernel, strides, pads, dilations, workspace=None):
        """y = max_pool2d(act(conv(x) + bias)) as one call without arguments over these buffers
        (csrc/conv.c tc_conv2d_maxpool_f32): the convolution's output never whole in memory;
        the same bits as run() then max_pool2d.  y: [N, K, oh, ow], the pooled size."""
        _check_array("conv_maxpool", "x", x, 4)
        _check_array("conv_maxpool", "y", y, 4, True)
        n, c, h, w = x.shape
        if c != self.p.C:
            raise ValueError(f"conv_maxpool: x {x.shape} has {c} channels, weight expects "
                             f"{self.p.C}")
        self.output_shape(n, h, w)
        if y.shape[:2] != (n, self.p.K):
            raise ValueError(f"conv_maxpool: y {y.shape} must be [{n}, {self.p.K}, oh, ow] for "
                             f"x {x.shape}")
        cdef BoundConvMaxPool call = BoundConvMaxPool.__new__(BoundConvMaxPool)
        self._maxpool_desc(&call.q, h, w, kernel, strides, pads, dilations, y.shape[2],
                           y.shape[3])
        if tc_conv2d_maxpool_check(&self.p, self.algo_id, &call.q, h, w) != 0:
            raise ValueError(f"conv_maxpool: {self!r} on x {x.shape} with the pool kernel "
                             f"{kernel}, strides {strides}, pads {pads}, dilations {dilations} "
                             f"to y {y.shape} is not a banded stem and a max pool")
        _check_disjoint("conv_maxpool", "x", x, y)
        ws = _workspace("conv_maxpool", workspace, tc_conv2d_maxpool_workspace_size(
            &self.ctx.ctx, &self.p, self.algo_id, &call.q, h, w))
        call.keep = (self, x, y, ws)
        call.ctx, call.p, call.act, call.algo = &self.ctx.ctx, &self.p, &self.act, self.algo_id
        call.n, call.h, call.w = n, h, w
        call.px = _fptr(x)
        self._need_packed()
        call.pk = _fptr(self.packed)
        call.pb = _fptr_or_null(self.bias)
        call.py = _fptr_mut(y)
        call.pw = _fptr_or_null(ws)
        return call


# Wrappers of the conv kernels (included by _kernels.pyx).

cdef extern from "tinycnn.h" nogil:
    ctypedef struct tc_conv2d_params:
        int C, K, KH, KW, sh, sw, pt, pl, pb, pr, dh, dw, group
    enum:
        TC_CONV_ALGO_GEMM
        TC_CONV_ALGO_1X1
        TC_CONV_ALGO_DEPTHWISE
    int tc_conv2d_output_hw(const tc_conv2d_params *p, int h, int w, int *oh, int *ow)
    void tc_conv2d_ref_f32(const tc_conv2d_params *p, int n, int h, int w, const float *x,
                           const float *weight, const float *bias, const float *residual, int act,
                           float *y)
    int tc_conv2d_choose_algo(const tc_conv2d_params *p)
    size_t tc_conv2d_pack_size(const tc_conv2d_params *p, int algo)
    void tc_conv2d_pack_f32(const tc_conv2d_params *p, int algo, const float *weight, float *packed)
    size_t tc_conv2d_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n,
                                    int h, int w)
    void tc_conv2d_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n, int h, int w,
                       const float *x, const float *packed, const float *bias, const float *residual,
                       int act, float *y, float *workspace)


_CONV_ALGO_NAMES = {TC_CONV_ALGO_GEMM: "gemm", TC_CONV_ALGO_1X1: "1x1",
                    TC_CONV_ALGO_DEPTHWISE: "depthwise"}


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


cdef object _conv_output_shape(tc_conv2d_params *p, int n, int h, int w):
    cdef int oh = 0, ow = 0
    if tc_conv2d_output_hw(p, h, w, &oh, &ow) != 0:
        raise ValueError(f"conv: empty or invalid output for input (N={n}, C={p.C}, H={h}, W={w}), "
                         f"kernel {p.KH}x{p.KW}, strides ({p.sh}, {p.sw}), "
                         f"pads ({p.pt}, {p.pl}, {p.pb}, {p.pr}), dilations ({p.dh}, {p.dw}), group {p.group}")
    return (n, p.K, oh, ow)


cdef class Conv2d:
    """2-D convolution (NCHW float32) planned once: algorithm chosen, weights packed.

    Conv2d(ctx, weight[K, C//group, KH, KW], bias[K] | None, strides=(1, 1),
           pads=(top, left, bottom, right), dilations=(1, 1), group=1, relu=False)
    .run(x, y, residual=None, workspace=None): y = act(conv(x) + bias + residual).
    """
    cdef tc_conv2d_params p
    cdef int algo_id
    cdef readonly Context ctx
    cdef readonly int in_channels, out_channels
    cdef readonly bint relu
    cdef object packed, bias

    def __init__(self, Context ctx, weight, bias=None, strides=(1, 1), pads=(0, 0, 0, 0),
                 dilations=(1, 1), int group=1, relu=False):
        _check_f32("weight", weight, 4)
        K, Cg, KH, KW = weight.shape
        if min(weight.shape) < 1:
            raise ValueError(f"conv: empty weight shape {weight.shape}")
        _conv_params(&self.p, Cg * group, K, KH, KW, strides, pads, dilations, group)
        if bias is not None:
            _check_f32("bias", bias, 1)
            if bias.shape[0] != K:
                raise ValueError(f"conv: bias shape {bias.shape} does not match weight shape {weight.shape}")
            self.bias = bias.copy()
        self.ctx = ctx
        self.in_channels = Cg * group
        self.out_channels = K
        self.relu = relu
        self.algo_id = tc_conv2d_choose_algo(&self.p)
        self.packed = _aligned_empty(tc_conv2d_pack_size(&self.p, self.algo_id))
        cdef const float *pw = _fptr(weight)
        cdef float *pk = _fptr_mut(self.packed)
        with nogil:
            tc_conv2d_pack_f32(&self.p, self.algo_id, pw, pk)

    @property
    def algo(self):
        return _CONV_ALGO_NAMES[self.algo_id]

    @property
    def kernel_shape(self):
        return (self.p.KH, self.p.KW)

    def __repr__(self):
        p = self.p
        return (f"Conv2d({p.C}->{p.K}, kernel=({p.KH}, {p.KW}), strides=({p.sh}, {p.sw}), "
                f"pads=({p.pt}, {p.pl}, {p.pb}, {p.pr}), dilations=({p.dh}, {p.dw}), group={p.group}, "
                f"relu={bool(self.relu)}, algo={self.algo!r})")

    def output_shape(self, int n, int h, int w):
        """(n, K, oh, ow); raises ValueError if the output would be empty."""
        return _conv_output_shape(&self.p, n, h, w)

    def workspace_size(self, int n, int h, int w):
        """float32 elements of workspace run() needs for an input of (n, C, h, w)."""
        self.output_shape(n, h, w)
        return int(tc_conv2d_workspace_size(&self.ctx.ctx, &self.p, self.algo_id, n, h, w))

    def run(self, x, y, residual=None, workspace=None):
        """y = act(conv(x) + bias + residual); residual may be y itself.  Releases the GIL."""
        _check_f32("x", x, 4)
        _check_out("y", y, 4)
        n, c, h, w = x.shape
        if c != self.p.C:
            raise ValueError(f"conv: x {x.shape} has {c} channels, weight expects {self.p.C}")
        expected = self.output_shape(n, h, w)
        if y.shape != expected:
            raise ValueError(f"conv: y has shape {y.shape}, expected {expected} for x {x.shape}")
        cdef const float *pr = NULL
        if residual is not None:
            _check_f32("residual", residual, 4)
            if residual.shape != expected:
                raise ValueError(f"conv: residual has shape {residual.shape}, expected {expected}")
            pr = _fptr(residual)
        cdef size_t need = tc_conv2d_workspace_size(&self.ctx.ctx, &self.p, self.algo_id, n, h, w)
        if workspace is None:
            workspace = _aligned_empty(need)
        else:
            _check_out("workspace", workspace, 1)
            if <size_t>workspace.shape[0] < need:
                raise ValueError(f"conv: workspace has {workspace.shape[0]} elements, needs {need}")
        cdef const float *px = _fptr(x)
        cdef const float *pk = _fptr(self.packed)
        cdef const float *pb = _fptr(self.bias) if self.bias is not None else NULL
        cdef float *py = _fptr_mut(y)
        cdef float *pw = _fptr_mut(workspace)
        cdef int act = TC_ACT_RELU if self.relu else TC_ACT_NONE
        cdef int cn = n, ch = h, cw = w
        with nogil:
            tc_conv2d_f32(&self.ctx.ctx, &self.p, self.algo_id, cn, ch, cw, px, pk, pb, pr, act, py, pw)


def conv2d_ref(x, weight, bias, y, strides, pads, dilations, int group, relu=False, residual=None):
    """Reference convolution (plain nested loops in C): y = act(conv(x) + bias + residual)."""
    cdef tc_conv2d_params p
    _check_f32("x", x, 4)
    _check_f32("weight", weight, 4)
    _check_out("y", y, 4)
    n, c, h, w = x.shape
    K, Cg, KH, KW = weight.shape
    if c != Cg * group:
        raise ValueError(f"conv2d_ref: x {x.shape} does not match weight {weight.shape} with group={group}")
    _conv_params(&p, c, K, KH, KW, strides, pads, dilations, group)
    expected = _conv_output_shape(&p, n, h, w)
    if y.shape != expected:
        raise ValueError(f"conv2d_ref: y has shape {y.shape}, expected {expected} for x {x.shape}")
    cdef const float *pb = NULL
    cdef const float *pr = NULL
    if bias is not None:
        _check_f32("bias", bias, 1)
        if bias.shape[0] != K:
            raise ValueError(f"conv2d_ref: bias shape {bias.shape} does not match weight {weight.shape}")
        pb = _fptr(bias)
    if residual is not None:
        _check_f32("residual", residual, 4)
        if residual.shape != expected:
            raise ValueError(f"conv2d_ref: residual has shape {residual.shape}, expected {expected}")
        pr = _fptr(residual)
    cdef const float *px = _fptr(x)
    cdef const float *pw = _fptr(weight)
    cdef float *py = _fptr_mut(y)
    cdef int act = TC_ACT_RELU if relu else TC_ACT_NONE
    cdef int cn = n, ch = h, cw = w
    with nogil:
        tc_conv2d_ref_f32(&p, cn, ch, cw, px, pw, pb, pr, act, py)

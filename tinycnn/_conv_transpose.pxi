# Wrapper of the transposed convolution (included by _kernels.pyx): csrc/conv_transpose.c.

cdef extern from "tinycnn.h" nogil:
    int tc_conv_transpose2d_check(const tc_conv2d_params *p, int h, int w, int oh, int ow)
    size_t tc_conv_transpose2d_pack_size(const tc_conv2d_params *p)
    void tc_conv_transpose2d_pack_f32(const tc_conv2d_params *p, const float *weight, float *packed)
    size_t tc_conv_transpose2d_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p, int h, int w)
    void tc_conv_transpose2d_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int n, int h, int w,
                                 int oh, int ow, const float *x, const float *packed, const float *bias,
                                 int act, float *y, float *workspace)
    void tc_conv_transpose2d_ref_f32(const tc_conv2d_params *p, int n, int h, int w, int oh, int ow,
                                     const float *x, const float *weight, const float *bias, int act,
                                     float *y)


cdef class ConvTranspose2d:
    """2-D transposed convolution (NCHW float32), weights packed once.

    ConvTranspose2d(ctx, weight[C, K//group, KH, KW], bias[K] | None, strides=(1, 1),
                    pads=(top, left, bottom, right), dilations=(1, 1), group=1, relu=False)
    .run(x, y, workspace): y [N, K, OH, OW] (OH, OW chosen by the caller) = act(convT(x) + bias).
    .reference(x, y): the same with plain loops.
    """
    cdef tc_conv2d_params p
    cdef readonly Context ctx
    cdef readonly bint relu
    cdef object packed, bias, weight

    def __init__(self, Context ctx, weight, bias=None, strides=(1, 1), pads=(0, 0, 0, 0),
                 dilations=(1, 1), int group=1, relu=False):
        _check_f32("weight", weight, 4)
        C, Kg, KH, KW = weight.shape
        if min(weight.shape) < 1 or C % group:
            raise ValueError(f"conv_transpose: weight {weight.shape} with group={group}")
        _conv_params(&self.p, C, Kg * group, KH, KW, strides, pads, dilations, group)
        if bias is not None:
            _check_f32("bias", bias, 1)
            if bias.shape[0] != Kg * group:
                raise ValueError(f"conv_transpose: bias {bias.shape} for weight {weight.shape}, group={group}")
        self.ctx = ctx
        self.relu = relu
        self.bias = bias
        self.weight = weight
        self.packed = np.empty(tc_conv_transpose2d_pack_size(&self.p), np.float32)
        cdef const float *wp = <const float *>cnp.PyArray_DATA(<cnp.ndarray>weight)
        cdef float *pp = <float *>cnp.PyArray_DATA(<cnp.ndarray>self.packed)
        with nogil:
            tc_conv_transpose2d_pack_f32(&self.p, wp, pp)

    def workspace_size(self, int h, int w):
        return tc_conv_transpose2d_workspace_size(&self.ctx.ctx, &self.p, h, w)

    cdef _check(self, x, y):
        _check_f32("x", x, 4)
        _check_out("y", y, 4)
        n, c, h, w = x.shape
        if c != self.p.C or y.shape[0] != n or y.shape[1] != self.p.K:
            raise ValueError(f"conv_transpose: x {x.shape} or y {y.shape} do not match C={self.p.C}, K={self.p.K}")
        if tc_conv_transpose2d_check(&self.p, h, w, y.shape[2], y.shape[3]) != 0:
            raise ValueError(f"conv_transpose: invalid sizes x {x.shape}, y {y.shape}")
        if _elt_overlap(x, y):
            raise ValueError("conv_transpose: y must not overlap x")

    def run(self, x, y, workspace):
        self._check(x, y)
        _check_out("workspace", workspace, 1)
        cdef int n = x.shape[0], h = x.shape[2], w = x.shape[3], oh = y.shape[2], ow = y.shape[3]
        if workspace.shape[0] < self.workspace_size(h, w):
            raise ValueError(f"conv_transpose: workspace of {workspace.shape[0]} floats, needs "
                             f"{self.workspace_size(h, w)}")
        cdef const float *xp = <const float *>cnp.PyArray_DATA(<cnp.ndarray>x)
        cdef const float *pp = <const float *>cnp.PyArray_DATA(<cnp.ndarray>self.packed)
        cdef const float *bp = NULL
        if self.bias is not None:
            bp = <const float *>cnp.PyArray_DATA(<cnp.ndarray>self.bias)
        cdef float *yp = <float *>cnp.PyArray_DATA(<cnp.ndarray>y)
        cdef float *wsp = <float *>cnp.PyArray_DATA(<cnp.ndarray>workspace)
        cdef int act = TC_ACT_RELU if self.relu else TC_ACT_NONE
        with nogil:
            tc_conv_transpose2d_f32(&self.ctx.ctx, &self.p, n, h, w, oh, ow, xp, pp, bp, act, yp, wsp)
        return y

    def reference(self, x, y):
        self._check(x, y)
        cdef int n = x.shape[0], h = x.shape[2], w = x.shape[3], oh = y.shape[2], ow = y.shape[3]
        cdef const float *xp = <const float *>cnp.PyArray_DATA(<cnp.ndarray>x)
        cdef const float *wp = <const float *>cnp.PyArray_DATA(<cnp.ndarray>self.weight)
        cdef const float *bp = NULL
        if self.bias is not None:
            bp = <const float *>cnp.PyArray_DATA(<cnp.ndarray>self.bias)
        cdef float *yp = <float *>cnp.PyArray_DATA(<cnp.ndarray>y)
        cdef int act = TC_ACT_RELU if self.relu else TC_ACT_NONE
        with nogil:
            tc_conv_transpose2d_ref_f32(&self.p, n, h, w, oh, ow, xp, wp, bp, act, yp)
        return y

# Wrapper of the transposed convolution (included by _kernels.pyx): csrc/conv_transpose.c.


cdef class ConvTranspose2d:
    """2-D transposed convolution (NCHW float32), weights packed once.

    ConvTranspose2d(ctx, weight[C, K//group, KH, KW], bias[K] | None, strides=(1, 1),
                    pads=(top, left, bottom, right), dilations=(1, 1), group=1, relu=False)
    .run(x, y, workspace=None): y [N, K, OH, OW] (OH, OW chosen by the caller) =
    act(convT(x) + bias); workspace: workspace_size(h, w) floats.
    .reference(x, y): the same with plain loops.
    """
    cdef tc_conv2d_params p
    cdef readonly Context ctx
    cdef readonly bint relu
    cdef object packed, bias, weight

    def __init__(self, Context ctx not None, weight, bias=None, strides=(1, 1), pads=(0, 0, 0, 0),
                 dilations=(1, 1), int group=1, relu=False):
        _check_array("conv_transpose", "weight", weight, 4)
        C, Kg, KH, KW = weight.shape
        if min(weight.shape) < 1 or group < 1 or C % group:
            raise ValueError(f"conv_transpose: weight {weight.shape} with group={group}")
        _conv_params(&self.p, C, Kg * group, KH, KW, strides, pads, dilations, group)
        if bias is not None:
            _check_array("conv_transpose", "bias", bias, 1)
            _check_shape("conv_transpose", "bias", bias, (Kg * group,),
                         f" (weight {weight.shape}, group={group})")
        self.ctx = ctx
        self.relu = relu
        self.bias = bias
        self.weight = weight
        self.packed = _aligned_empty(tc_conv_transpose2d_pack_size(&self.p))
        cdef const float *wp = _fptr(weight)
        cdef float *pp = _fptr_mut(self.packed)
        with nogil:
            tc_conv_transpose2d_pack_f32(&self.p, wp, pp)

    def workspace_size(self, int h, int w):
        return tc_conv_transpose2d_workspace_size(&self.ctx.ctx, &self.p, h, w)

    cdef _check(self, x, y):
        _check_array("conv_transpose", "x", x, 4)
        _check_array("conv_transpose", "y", y, 4, True)
        n, c, h, w = x.shape
        if c != self.p.C or y.shape[0] != n or y.shape[1] != self.p.K:
            raise ValueError(f"conv_transpose: x {x.shape} or y {y.shape} do not match "
                             f"C={self.p.C}, K={self.p.K}")
        if tc_conv_transpose2d_check(&self.p, h, w, y.shape[2], y.shape[3]) != 0:
            raise ValueError(f"conv_transpose: invalid sizes x {x.shape}, y {y.shape} for "
                             f"{_conv_geometry(&self.p)}")
        _check_disjoint("conv_transpose", "x", x, y)

    def run(self, x, y, workspace=None):
        self._check(x, y)
        cdef int n = x.shape[0], h = x.shape[2], w = x.shape[3], oh = y.shape[2], ow = y.shape[3]
        workspace = _workspace("conv_transpose", workspace,
                               tc_conv_transpose2d_workspace_size(&self.ctx.ctx, &self.p, h, w))
        cdef const float *xp = _fptr(x)
        cdef const float *pp = _fptr(self.packed)
        cdef const float *bp = _fptr_or_null(self.bias)
        cdef float *yp = _fptr_mut(y)
        cdef float *wsp = _fptr_or_null(workspace)
        cdef int act = TC_ACT_RELU if self.relu else TC_ACT_NONE
        with nogil:
            tc_conv_transpose2d_f32(&self.ctx.ctx, &self.p, n, h, w, oh, ow, xp, pp, bp, act, yp, wsp)
        return y

    def reference(self, x, y):
        self._check(x, y)
        cdef int n = x.shape[0], h = x.shape[2], w = x.shape[3], oh = y.shape[2], ow = y.shape[3]
        cdef const float *xp = _fptr(x)
        cdef const float *wp = _fptr(self.weight)
        cdef const float *bp = _fptr_or_null(self.bias)
        cdef float *yp = _fptr_mut(y)
        cdef int act = TC_ACT_RELU if self.relu else TC_ACT_NONE
        with nogil:
            tc_conv_transpose2d_ref_f32(&self.p, n, h, w, oh, ow, xp, wp, bp, act, yp)
        return y

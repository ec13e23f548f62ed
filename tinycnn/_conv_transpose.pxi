# Wrapper of the transposed convolution (included by _kernels.pyx): csrc/conv_transpose.c.


cdef class ConvTranspose:
    """2-D or 3-D transposed convolution (NCHW / NCDHW float32), weights packed once.

    ConvTranspose(ctx, weight[C, K//group, (KD,) KH, KW], bias[K] | None, strides=(1, 1),
                  pads=(top, left, bottom, right), dilations=(1, 1), group=1, relu=False)
    3-D: strides and dilations (depth, height, width), pads (front, top, left, back, bottom,
    right) as ONNX orders them.  The end pads are the caller's to turn into output sizes.
    .run(x, y, workspace=None): y [N, K, (OD,) OH, OW] (output sizes chosen by the caller) =
    act(convT(x) + bias); workspace: workspace_size(*x.shape[2:]) floats.
    .reference(x, y): the same with plain loops.
    """
    cdef tc_conv2d_params p
    cdef tc_conv_depth dp
    cdef readonly int rank
    cdef readonly Context ctx
    cdef readonly bint relu
    cdef object packed, bias, weight

    def __init__(self, Context ctx not None, weight, bias=None, strides=(1, 1), pads=(0, 0, 0, 0),
                 dilations=(1, 1), int group=1, relu=False):
        if not isinstance(weight, np.ndarray) or weight.ndim not in (4, 5):
            raise ValueError(f"conv_transpose: weight must be [C, K/group, (KD,) KH, KW], got "
                             f"{getattr(weight, 'shape', type(weight))}")
        _check_array("conv_transpose", "weight", weight, weight.ndim)
        self.rank = weight.ndim
        shape = tuple(weight.shape)
        C, Kg, KH, KW = shape[0], shape[1], shape[self.rank - 2], shape[self.rank - 1]
        if min(weight.shape) < 1 or group < 1 or C % group:
            raise ValueError(f"conv_transpose: weight {weight.shape} with group={group}")
        strides, pads, dilations = tuple(strides), tuple(pads), tuple(dilations)
        self.dp.KD, self.dp.sd, self.dp.dd, self.dp.pf = 1, 1, 1, 0
        if self.rank == 5:
            if len(strides) != 3 or len(pads) != 6 or len(dilations) != 3:
                raise ValueError(f"conv_transpose: 3-D takes strides (3), pads (6) and dilations (3), "
                                 f"got strides={strides}, pads={pads}, dilations={dilations}")
            if strides[0] < 1 or dilations[0] < 1 or pads[0] < 0 or pads[3] < 0:
                raise ValueError(f"conv_transpose: strides/dilations must be >= 1 and pads >= 0, got "
                                 f"strides={strides}, pads={pads}, dilations={dilations}")
            self.dp.KD, self.dp.sd, self.dp.dd, self.dp.pf = shape[2], strides[0], dilations[0], pads[0]
            strides, dilations, pads = strides[1:], dilations[1:], pads[1:3] + pads[4:]
        _conv_params(&self.p, C, Kg * group, KH, KW, strides, pads, dilations, group)
        if tc_conv_transpose_pack_size(&self.p, &self.dp) == 0:
            raise ValueError(f"conv_transpose: weight {weight.shape} is beyond the kernel's sizes")
        if bias is not None:
            _check_array("conv_transpose", "bias", bias, 1)
            _check_shape("conv_transpose", "bias", bias, (Kg * group,),
                         f" (weight {weight.shape}, group={group})")
        self.ctx = ctx
        self.relu = relu
        self.bias = bias
        self.weight = weight
        self.packed = _packed_empty(ctx, tc_conv_transpose_pack_size(&self.p, &self.dp))
        cdef const float *wp = _fptr(weight)
        cdef float *pp = _fptr_mut(self.packed)
        with nogil:
            tc_conv_transpose_pack_f32(&self.p, &self.dp, wp, pp)

    cdef tuple _spatial(self, shape):
        """(d, h, w) of a [N, C, (D,) H, W] shape."""
        return (shape[2], shape[3], shape[4]) if self.rank == 5 else (1, shape[2], shape[3])

    def workspace_size(self, *spatial):
        if len(spatial) != self.rank - 2:
            raise ValueError(f"conv_transpose: workspace_size takes {self.rank - 2} sizes, got {spatial}")
        d, h, w = self._spatial((0, 0) + spatial)
        return tc_conv_transpose_workspace_size(&self.ctx.ctx, &self.p, &self.dp, d, h, w)

    cdef _check(self, x, y):
        _check_array("conv_transpose", "x", x, self.rank)
        _check_array("conv_transpose", "y", y, self.rank, True)
        n, c = x.shape[:2]
        if c != self.p.C or y.shape[0] != n or y.shape[1] != self.p.K:
            raise ValueError(f"conv_transpose: x {x.shape} or y {y.shape} do not match "
                             f"C={self.p.C}, K={self.p.K}")
        d, h, w = self._spatial(x.shape)
        od, oh, ow = self._spatial(y.shape)
        if tc_conv_transpose_check(&self.p, &self.dp, d, h, w, od, oh, ow) != 0:
            raise ValueError(f"conv_transpose: invalid sizes x {x.shape}, y {y.shape} for "
                             f"{_conv_geometry(&self.p)}, depth kernel {self.dp.KD} stride {self.dp.sd} "
                             f"dilation {self.dp.dd} pad {self.dp.pf}")
        _check_disjoint("conv_transpose", "x", x, y)

    def run(self, x, y, workspace=None):
        self._check(x, y)
        cdef int n = x.shape[0], d, h, w, od, oh, ow
        d, h, w = self._spatial(x.shape)
        od, oh, ow = self._spatial(y.shape)
        workspace = _workspace("conv_transpose", workspace,
                               tc_conv_transpose_workspace_size(&self.ctx.ctx, &self.p, &self.dp, d, h, w))
        cdef const float *xp = _fptr(x)
        cdef const float *pp = _fptr(self.packed)
        cdef const float *bp = _fptr_or_null(self.bias)
        cdef float *yp = _fptr_mut(y)
        cdef float *wsp = _fptr_or_null(workspace)
        cdef int act = TC_ACT_RELU if self.relu else TC_ACT_NONE
        with nogil:
            tc_conv_transpose_f32(&self.ctx.ctx, &self.p, &self.dp, n, d, h, w, od, oh, ow, xp, pp, bp, act, yp,
                                  wsp)
        return y

    def reference(self, x, y):
        self._check(x, y)
        cdef int n = x.shape[0], d, h, w, od, oh, ow
        d, h, w = self._spatial(x.shape)
        od, oh, ow = self._spatial(y.shape)
        cdef const float *xp = _fptr(x)
        cdef const float *wp = _fptr(self.weight)
        cdef const float *bp = _fptr_or_null(self.bias)
        cdef float *yp = _fptr_mut(y)
        cdef int act = TC_ACT_RELU if self.relu else TC_ACT_NONE
        with nogil:
            tc_conv_transpose_ref_f32(&self.p, &self.dp, n, d, h, w, od, oh, ow, xp, wp, bp, act, yp)
        return y

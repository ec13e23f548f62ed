# Wrappers of the 8-bit quantized kernels (included by _kernels.pyx).
from libc.stdint cimport int8_t, int16_t, int32_t, uint8_t

# C declarations: _kernels.pxd (8-bit quantized kernels).


QFORMATS = {"s8x4": TC_QFMT_S8X4, "s16x2": TC_QFMT_S16X2, "u8s8x2": TC_QFMT_U8S8X2,
            "u7s8": TC_QFMT_U7S8}
_QFORMAT_NAMES = {v: k for k, v in QFORMATS.items()}
# qgemm_choose_format_for takes U8S8X2 up to this qgemm_u8s8x2_share
QGEMM_U8S8X2_MAX_SHARE = TC_QGEMM_U8S8X2_MAX_SHARE
_QOUT_TYPES = {np.dtype(np.uint8): TC_QOUT_U8, np.dtype(np.int8): TC_QOUT_S8,
               np.dtype(np.int32): TC_QOUT_S32, np.dtype(np.float32): TC_QOUT_F32}
_Q8 = (np.dtype(np.uint8), np.dtype(np.int8))


def qkernel_name(Context ctx, str format):
    """The micro-kernel ctx runs for packed weights of this format ('s8x4', 's16x2',
    'u8s8x2' or 'u7s8'), e.g.
    's16x2-avx2' or 's8x4-avx512vnni': tests and benchmarks say which path they ran."""
    if format not in QFORMATS:
        raise ValueError(f"format must be 's8x4', 's16x2', 'u8s8x2' or 'u7s8', got {format!r}")
    return tc_qukernel_for(&ctx.ctx, QFORMATS[format]).name.decode()


def _check_qarray(name, arr, dtypes, int ndim=-1, writeable=False):
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(arr).__name__}")
    if arr.dtype not in dtypes:
        raise ValueError(f"{name} must be {' or '.join(str(np.dtype(d)) for d in dtypes)}, "
                         f"got {arr.dtype} with shape {arr.shape}")
    if ndim >= 0 and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if not arr.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (shape {arr.shape})")
    if writeable and not arr.flags.writeable:
        raise ValueError(f"{name} must be writeable (shape {arr.shape})")


cdef inline void *_vptr(object arr):
    return cnp.PyArray_DATA(arr)


cdef extern from "quant_internal.h" nogil:
    void tc_qpair_channels(const uint8_t *pos, const uint8_t *neg, int K, int N, int wide,
                           int32_t *order)
    void tc_qquad_channels(const uint8_t *pos, const uint8_t *neg, int K, int N, int32_t *order,
                           int16_t *sums, int32_t *bound)


def _sign_parts(w):
    """pos, neg [K, N] uint8: the positive and negative parts of the (checked) int8 weights
    w [N, K], transposed; and the input channels from the largest weight down (int32 [K]):
    what qpair_channels / qquad_channels hand to C"""
    wt = w.T.astype(np.int16)
    pos = np.ascontiguousarray(np.maximum(wt, 0).astype(np.uint8))
    neg = np.ascontiguousarray(np.maximum(-wt, 0).astype(np.uint8))
    return pos, neg, np.argsort(-np.maximum(pos, neg).max(axis=1), kind="stable").astype(np.int32)


def qpair_channels(w, int wide=128):
    """A permutation of the input channels of int8 weights w [N, K] (a 1x1 convolution's)
    that puts each channel, from the largest weights down, beside the first other one whose
    pair costs at most `wide` (else the cheapest) per byte of activation (max over the
    columns of |w0| + |w1| of the same sign, or the larger): U7S8's window for such a pair
    takes every byte (csrc/qgemm.c u7s8_limits).  Returns int32 [K]."""
    _check_qarray("w", w, (np.dtype(np.int8),), 2)
    cdef int N = w.shape[0], K = w.shape[1]
    pos, neg, order = _sign_parts(w)
    cdef const uint8_t *pp = <const uint8_t *>_vptr(pos)
    cdef const uint8_t *pn = <const uint8_t *>_vptr(neg)
    cdef int32_t *po = <int32_t *>_vptr(order)
    with nogil:
        tc_qpair_channels(pp, pn, K, N, wide, po)
    return order


def qquad_channels(w):
    """A permutation of the input channels of int8 weights w [N, K] (K a multiple of 8) for
    U7S8's long kernels, whose paired widths are shared by the lanes k, k + 1, k + 4, k + 5
    of each 8-k step (csrc/qgemm.c u7s8_limits): channels in fours, from the largest weights
    down, each with the three that keep the four's largest same-sign column sum lowest,
    the 2i-th four at lanes 8i + {0, 1, 4, 5}, the next at 8i + {2, 3, 6, 7}.  Returns int32
    [K]."""
    _check_qarray("w", w, (np.dtype(np.int8),), 2)
    cdef int N = w.shape[0], K = w.shape[1]
    if K % 8:
        raise ValueError(f"w's input channels must be a multiple of 8, got shape {w.shape}")
    pos, neg, order = _sign_parts(w)
    sums = np.empty(2 * N, np.int16)
    bound = np.empty(K, np.int32)
    cdef const uint8_t *pp = <const uint8_t *>_vptr(pos)
    cdef const uint8_t *pn = <const uint8_t *>_vptr(neg)
    cdef int32_t *po = <int32_t *>_vptr(order)
    cdef int16_t *ps = <int16_t *>_vptr(sums)
    cdef int32_t *pb = <int32_t *>_vptr(bound)
    with nogil:
        tc_qquad_channels(pp, pn, K, N, po, ps, pb)
    # four q of step i: q's channels t = 0..3 at lane (t & 1) + (t >> 1) * 4, q odd 2 further
    quads = order.reshape(-1, 2, 2, 2)        # [step][which four][t >> 1][t & 1]
    return np.ascontiguousarray(quads.transpose(0, 2, 1, 3).reshape(-1))


def _bytes_workspace(size_t nbytes):
    """A 64-byte aligned workspace of at least nbytes (as a float32 array)."""
    return _aligned_empty((nbytes + 3) // 4)


cdef object _packed_bytes(Context ctx, size_t nbytes):
    """_packed_empty for 8-bit packed weights of nbytes (as a float32 array)."""
    return _packed_empty(ctx, (nbytes + 3) // 4)


cdef class BoundQuantize(BoundCall):
    """A quantize or dequantize over fixed buffers, checked once (bind_quantize,
    bind_dequantize); call it without arguments.  The checks cost 12-14 us a call, more
    than the kernel on a classifier's 1000 outputs (about 1 us), so a plan binds once."""
    cdef object keep
    cdef const tc_ctx *ctx
    cdef ptrdiff_t outer, c, inner
    cdef int ns, signed, elem, to_float
    cdef const void *px
    cdef const float *ps
    cdef const int32_t *pz
    cdef void *py

    cdef int run(self) noexcept nogil:
        if self.to_float:
            return tc_dequantize_f32(self.ctx, self.outer, self.c, self.inner, self.px,
                                     self.elem, self.signed, self.ps, self.pz, self.ns,
                                     <float *>self.py)
        return tc_quantize_f32(self.ctx, self.outer, self.c, self.inner, <const float *>self.px,
                               self.ps, self.pz, self.ns, self.signed, self.py)


cdef BoundQuantize _bind_quantize(str fn, Context ctx, x, y, scale, zero_point, ptrdiff_t outer,
                                  ptrdiff_t c, ptrdiff_t inner):
    _check_qarray("scale", scale, (np.float32,), 1)
    _check_qarray("zero_point", zero_point, (np.int32,), 1)
    if x.size != y.size or x.size != outer * c * inner:
        raise ValueError(f"{fn}: x {x.shape} and y {y.shape} must hold {outer} x {c} x {inner}")
    cdef int ns = scale.shape[0]
    if zero_point.shape[0] != ns or ns not in (1, c):
        raise ValueError(f"{fn}: {ns} scales and {zero_point.shape[0]} zero points for {c} channels")
    cdef BoundQuantize call = BoundQuantize.__new__(BoundQuantize)
    call.keep = (x, y, scale, zero_point)
    call.ctx = &ctx.ctx
    call.outer, call.c, call.inner, call.ns = outer, c, inner, ns
    call.px = _vptr(x)
    call.ps = _fptr(scale)
    call.pz = <const int32_t *>_vptr(zero_point)
    call.py = _vptr(y)
    return call


def bind_quantize(Context ctx, x, y, scale, zero_point, ptrdiff_t outer, ptrdiff_t c,
                  ptrdiff_t inner):
    """quantize(...) checked now, as a call without arguments that runs it again and again
    over these buffers (a plan's arena)."""
    _check_qarray("x", x, (np.float32,))
    _check_qarray("y", y, _Q8, writeable=True)
    cdef BoundQuantize call = _bind_quantize("quantize", ctx, x, y, scale, zero_point, outer,
                                             c, inner)
    call.to_float = 0
    call.signed = y.dtype == np.int8
    return call


def quantize(Context ctx, x, y, scale, zero_point, ptrdiff_t outer, ptrdiff_t c, ptrdiff_t inner):
    """y = saturate(round_half_even(x / scale[j]) + zero_point[j]) over x viewed as
    [outer, c, inner], j the channel (len(scale) == c) or 0 (len(scale) == 1)."""
    bind_quantize(ctx, x, y, scale, zero_point, outer, c, inner)()


def bind_dequantize(Context ctx, x, y, scale, zero_point, ptrdiff_t outer, ptrdiff_t c,
                    ptrdiff_t inner):
    """dequantize(...) checked now, as a call without arguments that runs it again and
    again over these buffers (a plan's arena)."""
    _check_qarray("x", x, _Q8 + (np.dtype(np.int32),))
    _check_array("dequantize", "y", y, -1, True)
    cdef BoundQuantize call = _bind_quantize("dequantize", ctx, x, y, scale, zero_point, outer,
                                             c, inner)
    call.to_float = 1
    call.elem = x.dtype.itemsize
    call.signed = x.dtype == np.int8
    return call


def dequantize(Context ctx, x, y, scale, zero_point, ptrdiff_t outer, ptrdiff_t c, ptrdiff_t inner):
    """y = float(x - zero_point[j]) * scale[j], x uint8, int8 or int32."""
    bind_dequantize(ctx, x, y, scale, zero_point, outer, c, inner)()


cdef class BoundQBinary(BoundCall):
    """A qbinary over fixed buffers, checked once (bind_qbinary); call it without arguments."""
    cdef object keep
    cdef const tc_ctx *ctx
    cdef tc_qbinary_params p
    cdef int nd
    cdef ptrdiff_t sy[8]
    cdef ptrdiff_t sa[8]
    cdef ptrdiff_t sb[8]
    cdef const void *pa
    cdef const void *pb
    cdef void *py

    cdef int run(self) noexcept nogil:
        return tc_qbinary(self.ctx, &self.p, self.nd, self.sy, self.pa, self.sa, self.pb,
                          self.sb, self.py)

    cdef failed(self, int rc):
        sa = tuple([self.sa[i] for i in range(self.nd)])
        sb = tuple([self.sb[i] for i in range(self.nd)])
        sy = tuple([self.sy[i] for i in range(self.nd)])
        raise ValueError(f"qbinary: shapes {sa} and {sb} do not broadcast to {sy}")


def bind_qbinary(Context ctx, str op, a, float a_scale, int a_zero_point, b, float b_scale,
                 int b_zero_point, y, float y_scale, int y_zero_point, a_shape, b_shape, y_shape):
    """qbinary(...) checked now, as a call without arguments that runs it again and again
    over these buffers (a plan's arena)."""
    _check_qarray("a", a, _Q8)
    _check_qarray("b", b, (a.dtype,))
    _check_qarray("y", y, (a.dtype,), writeable=True)
    cdef int nd = len(y_shape)
    if nd < 1 or nd > TC_MAX_DIMS or len(a_shape) != nd or len(b_shape) != nd:
        raise ValueError(f"qbinary: shapes {a_shape}, {b_shape}, {y_shape} must have one rank <= 8")
    if int(np.prod(a_shape)) != a.size or int(np.prod(b_shape)) != b.size or int(np.prod(y_shape)) != y.size:
        raise ValueError(f"qbinary: arrays of sizes {a.size}, {b.size}, {y.size} for shapes "
                         f"{a_shape}, {b_shape}, {y_shape}")
    cdef BoundQBinary call = BoundQBinary.__new__(BoundQBinary)
    if op == "add":
        call.p.op = TC_QBINARY_ADD
    elif op == "mul":
        call.p.op = TC_QBINARY_MUL
    else:
        raise ValueError(f"qbinary: unknown op {op!r}")
    call.p.is_signed = a.dtype == np.int8
    call.p.a_scale, call.p.b_scale, call.p.y_scale = a_scale, b_scale, y_scale
    call.p.a_zero_point, call.p.b_zero_point, call.p.y_zero_point = a_zero_point, b_zero_point, y_zero_point
    call.nd = nd
    for i in range(nd):
        call.sy[i], call.sa[i], call.sb[i] = y_shape[i], a_shape[i], b_shape[i]
    call.keep = (a, b, y)
    call.ctx = &ctx.ctx
    call.pa = _vptr(a)
    call.pb = _vptr(b)
    call.py = _vptr(y)
    return call


def qbinary(Context ctx, str op, a, float a_scale, int a_zero_point, b, float b_scale,
            int b_zero_point, y, float y_scale, int y_zero_point, a_shape, b_shape, y_shape):
    """com.microsoft QLinearAdd / QLinearMul (op 'add' or 'mul') with broadcasting:
    the shapes have equal rank (<= 8) and adjacent dims that broadcast alike merged."""
    bind_qbinary(ctx, op, a, a_scale, a_zero_point, b, b_scale, b_zero_point, y, y_scale,
                 y_zero_point, a_shape, b_shape, y_shape)()


def lookup(Context ctx, table, x, y):
    """y[i] = table[x[i]] over the bytes of x (uint8 or int8; table: 256 bytes)."""
    _check_qarray("table", table, (np.uint8,), 1)
    _check_qarray("x", x, _Q8)
    _check_qarray("y", y, _Q8, writeable=True)
    if table.shape[0] != 256 or x.size != y.size:
        raise ValueError(f"lookup: table {table.shape}, x {x.shape}, y {y.shape}")
    cdef const uint8_t *pt = <const uint8_t *>_vptr(table)
    cdef const uint8_t *px = <const uint8_t *>_vptr(x)
    cdef uint8_t *py = <uint8_t *>_vptr(y)
    cdef ptrdiff_t n = x.size
    with nogil:
        tc_lookup_u8(&ctx.ctx, pt, px, n, py)


def transpose_channels(Context ctx, bint channels_last, x, y, ptrdiff_t n, ptrdiff_t c, ptrdiff_t s):
    """[n, c, s] -> [n, s, c] (channels_last) or back, for 1- or 4-byte elements."""
    _check_qarray("x", x, _Q8 + (np.dtype(np.int32), np.dtype(np.float32)))
    _check_qarray("y", y, (x.dtype,), writeable=True)
    if x.size != n * c * s or y.size != x.size:
        raise ValueError(f"transpose_channels: x {x.shape}, y {y.shape} for [{n}, {c}, {s}]")
    cdef const void *px = _vptr(x)
    cdef void *py = _vptr(y)
    cdef int elem = x.dtype.itemsize
    with nogil:
        tc_transpose_channels(&ctx.ctx, channels_last, n, c, s, elem, px, py)


cdef int _pool_desc_nhwc(tc_pool2d_desc *d, x, y, kernel, strides, pads, dilations) except -1:
    n, h, w, c = x.shape
    if y.shape[0] != n or y.shape[3] != c:
        raise ValueError(f"pool: x {x.shape} and y {y.shape} (channels last) differ in N or C")
    d.nc = n
    d.h, d.w = h, w
    d.oh, d.ow = y.shape[1], y.shape[2]
    d.kh, d.kw = kernel
    d.sh, d.sw = strides
    d.pad_t, d.pad_l, d.pad_b, d.pad_r = pads
    d.dh, d.dw = dilations
    if tc_pool2d_check(d) != 0:
        raise ValueError(f"pool: invalid geometry x {x.shape} -> y {y.shape}, kernel {kernel}, "
                         f"strides {strides}, pads {pads}, dilations {dilations}")
    return 0


def max_pool2d_nhwc(Context ctx, x, y, kernel, strides, pads, dilations):
    """Max pool of channels-last 8-bit images x [N, H, W, C] -> y [N, OH, OW, C]."""
    _check_qarray("x", x, _Q8, 4)
    _check_qarray("y", y, (x.dtype,), 4, writeable=True)
    cdef tc_pool2d_desc d
    _pool_desc_nhwc(&d, x, y, kernel, strides, pads, dilations)
    cdef const void *px = _vptr(x)
    cdef void *py = _vptr(y)
    cdef ptrdiff_t c = x.shape[3]
    cdef int signed = x.dtype == np.int8
    with nogil:
        tc_max_pool2d_nhwc_8(&ctx.ctx, &d, c, signed, px, py)


def qavg_pool2d_nhwc(Context ctx, x, y, kernel, strides, pads, bint count_include_pad,
                     float x_scale, int x_zero_point, float y_scale, int y_zero_point):
    """com.microsoft QLinearAveragePool over channels-last images (no dilation)."""
    _check_qarray("x", x, _Q8, 4)
    _check_qarray("y", y, (x.dtype,), 4, writeable=True)
    cdef tc_pool2d_desc d
    _pool_desc_nhwc(&d, x, y, kernel, strides, pads, (1, 1))
    cdef const void *px = _vptr(x)
    cdef void *py = _vptr(y)
    cdef ptrdiff_t c = x.shape[3]
    cdef int signed = x.dtype == np.int8
    with nogil:
        tc_qavg_pool2d_nhwc(&ctx.ctx, &d, c, signed, count_include_pad, x_scale, x_zero_point,
                            y_scale, y_zero_point, px, py)


cdef class BoundQGlobalAvgPool(BoundCall):
    """A qglobal_avg_pool_nhwc over fixed buffers, checked once (bind_qglobal_avg_pool_nhwc);
    call it without arguments."""
    cdef object keep
    cdef const tc_ctx *ctx
    cdef ptrdiff_t n, s, c
    cdef int signed, x_zero_point, y_zero_point
    cdef float x_scale, y_scale
    cdef const void *px
    cdef void *py

    cdef int run(self) noexcept nogil:
        return tc_qglobal_avg_pool_nhwc(self.ctx, self.n, self.s, self.c, self.signed,
                                        self.x_scale, self.x_zero_point, self.y_scale,
                                        self.y_zero_point, self.px, self.py)

    cdef failed(self, int rc):
        raise ValueError(f"QLinearGlobalAveragePool: x_scale / (y_scale * {self.s}) = "
                         f"{self.x_scale / (self.y_scale * self.s):g} (or {self.s} pixels) "
                         "is outside the range onnxruntime computes, [2^-32, 256) and < 2^24 "
                         "pixels")


def bind_qglobal_avg_pool_nhwc(Context ctx, x, y, ptrdiff_t n, ptrdiff_t s, ptrdiff_t c,
                               float x_scale, int x_zero_point, float y_scale, int y_zero_point):
    """qglobal_avg_pool_nhwc(...) checked now, as a call without arguments that runs it
    again and again over these buffers (a plan's arena)."""
    _check_qarray("x", x, _Q8)
    _check_qarray("y", y, (x.dtype,), writeable=True)
    if x.size != n * s * c or y.size != n * c:
        raise ValueError(f"qglobal_avg_pool: x {x.shape}, y {y.shape} for [{n}, {s}, {c}]")
    cdef BoundQGlobalAvgPool call = BoundQGlobalAvgPool.__new__(BoundQGlobalAvgPool)
    call.keep = (x, y)
    call.ctx = &ctx.ctx
    call.n, call.s, call.c = n, s, c
    call.signed = x.dtype == np.int8
    call.x_scale, call.x_zero_point, call.y_scale, call.y_zero_point = (x_scale, x_zero_point,
                                                                        y_scale, y_zero_point)
    call.px = _vptr(x)
    call.py = _vptr(y)
    return call


def qglobal_avg_pool_nhwc(Context ctx, x, y, ptrdiff_t n, ptrdiff_t s, ptrdiff_t c,
                          float x_scale, int x_zero_point, float y_scale, int y_zero_point):
    """com.microsoft QLinearGlobalAveragePool: x [n, s, c] (channels last) -> y [n, c]."""
    bind_qglobal_avg_pool_nhwc(ctx, x, y, n, s, c, x_scale, x_zero_point, y_scale,
                               y_zero_point)()


cdef class QOutput:
    """The output stage of a quantized GEMM or convolution (tc_qoutput): its element
    type (uint8/int8 requantized, int32 raw sums, float32 scaled), per-column int32
    bias and float32 scales, zero point and the clamp [lo, hi] of a fused ReLU/Clip.

    residual=(a_scale, a_zero_point, b_scale, b_zero_point, y_scale, y_zero_point, q_is_a):
    a com.microsoft QLinearAdd fused after the requantization (8-bit outputs), whose
    other operand run() takes; the layer's own value is the add's A when q_is_a.

    lut: 256 uint8, a table every stored byte goes through last (8-bit outputs): a fused
    QLinearSigmoid, SiLU (tinycnn::QLinearSigmoidMul) or QLinearLeakyRelu, as lookup()."""
    cdef tc_qoutput out
    cdef tc_qresidual res
    cdef readonly object dtype
    cdef readonly bint has_residual
    cdef object bias, scale, lut

    def __init__(self, dtype, bias=None, scale=None, int zero_point=0, lo=None, hi=None,
                 residual=None, lut=None):
        dtype = np.dtype(dtype)
        if dtype not in _QOUT_TYPES:
            raise ValueError(f"QOutput: output type {dtype} is not uint8, int8, int32 or float32")
        self.dtype = dtype
        self.out.type = _QOUT_TYPES[dtype]
        self.out.bias = NULL
        self.out.scale = NULL
        self.out.per_channel = 0
        if bias is not None:
            _check_qarray("bias", bias, (np.int32,), 1)
            self.bias = bias
            self.out.bias = <const int32_t *>_vptr(bias)
        if dtype != np.int32:
            if scale is None:
                raise ValueError(f"QOutput: a {dtype} output needs scales")
            _check_qarray("scale", scale, (np.float32,), 1)
            self.scale = scale
            self.out.scale = _fptr(scale)
            self.out.per_channel = scale.shape[0] > 1
        tlo, thi = (-128, 127) if dtype == np.int8 else (0, 255)
        self.out.zero_point = zero_point
        self.out.lo = tlo if lo is None else max(tlo, int(lo))
        self.out.hi = thi if hi is None else min(thi, int(hi))
        self.out.residual = NULL
        self.out.lut = NULL
        if lut is not None:
            if dtype not in _Q8:
                raise ValueError(f"QOutput: a fused lookup needs an 8-bit output, not {dtype}")
            _check_qarray("lut", lut, (np.uint8,), 1)
            if lut.shape[0] != 256:
                raise ValueError(f"QOutput: lut {lut.shape} must have 256 entries")
            self.lut = lut
            self.out.lut = <const uint8_t *>_vptr(lut)
        self.has_residual = residual is not None
        cdef tc_qbinary_params p
        if residual is not None:
            if dtype not in _Q8:
                raise ValueError(f"QOutput: a fused residual needs an 8-bit output, not {dtype}")
            (p.a_scale, p.a_zero_point, p.b_scale, p.b_zero_point, p.y_scale, p.y_zero_point,
             q_is_a) = residual
            tc_qresidual_init(&self.res, &p, bool(q_is_a))

    cdef tc_qoutput with_residual(self, r, y, tc_qresidual *res) except *:
        """This output stage for one run: the fused residual read from r (y's shape)."""
        cdef tc_qoutput o = self.out
        if self.has_residual:
            if r is None:
                raise ValueError("QOutput: the fused residual QLinearAdd needs its other operand")
            _check_qarray("residual", r, (y.dtype,))
            if r.size != y.size:
                raise ValueError(f"QOutput: residual {r.shape} and output {y.shape} differ in size")
            res[0] = self.res
            res.r = _vptr(r)
            o.residual = res
        elif r is not None:
            raise ValueError("QOutput: a residual given to a layer without a fused QLinearAdd")
        return o

    cdef int check(self, int n) except -1:
        if self.bias is not None and self.bias.shape[0] != n:
            raise ValueError(f"QOutput: {self.bias.shape[0]} biases for {n} output channels")
        if self.scale is not None and self.scale.shape[0] not in (1, n):
            raise ValueError(f"QOutput: {self.scale.shape[0]} scales for {n} output channels")
        return 0


def _check_weights16(w, int n, int k):
    _check_qarray("weight", w, (np.int16,), 2)
    if w.shape[0] != n or w.shape[1] != k:
        raise ValueError(f"weight {w.shape} must be [{n}, {k}]")


def qgemm_choose_format(Context ctx, int w_min, int w_max):
    """The packed-weight layout ('s8x4' or 's16x2') the ctx's kernels run best for
    weights (minus their zero point) within [w_min, w_max]."""
    return _QFORMAT_NAMES[tc_qgemm_choose_format(&ctx.ctx, w_min, w_max)]


def qgemm_choose_format_for(Context ctx, w):
    """The packed-weight layout for these weights (int16 [N, K], minus their zero point):
    as qgemm_choose_format, or 'u8s8x2' on AVX2 without VNNI when few 4-k groups of w
    need its correction pass."""
    _check_qarray("weight", w, (np.int16,), 2)
    w = np.ascontiguousarray(w)
    cdef const int16_t *pw = <const int16_t *>_vptr(w)
    cdef int n = w.shape[0], k = w.shape[1], f
    with nogil:
        f = tc_qgemm_choose_format_for(&ctx.ctx, k, n, pw, k)
    return _QFORMAT_NAMES[f]


def qgemm_u8s8x2_share(w):
    """The share (0 to 1) of the 4-k groups of U8S8X2's 16-column panels of these weights
    (int16 [N, K], minus their zero point) that need its correction pass."""
    _check_qarray("weight", w, (np.int16,), 2)
    w = np.ascontiguousarray(w)
    cdef const int16_t *pw = <const int16_t *>_vptr(w)
    cdef int n = w.shape[0], k = w.shape[1]
    cdef double share
    with nogil:
        share = tc_qgemm_u8s8x2_share(k, n, pw, k)
    return share


cdef bint qwinograd_fits(tc_conv2d_params p, w):
    cdef const int16_t *pw = <const int16_t *>_vptr(w)
    return w.dtype == np.int16 and w.flags.c_contiguous and tc_qwinograd_fits(&p, pw) != 0


def qconv_winograd_fits(w, strides=(1, 1), dilations=(1, 1), int group=1):
    """Can QConv2d(format='winograd') run these weights (int16 [K, KH, KW, C/group], minus
    their zero point) exactly?  3x3, stride 1, no dilation, one group, and
    255 * sum |w[k]| < 2^29 for every output channel k."""
    _check_qarray("weight", w, (np.int16,), 4)
    w = np.ascontiguousarray(w)
    cdef tc_conv2d_params p
    K, KH, KW, Cg = w.shape
    _conv_params(&p, Cg * group, K, KH, KW, strides, (1, 1, 1, 1), dilations, group)
    return qwinograd_fits(p, w)


cdef int _format_id(str format, w) except -1:
    if format not in QFORMATS:
        raise ValueError(f"format must be 's8x4', 's16x2', 'u8s8x2' or 'u7s8', got {format!r}")
    if format != "s16x2" and w.size and (w.min() < -128 or w.max() > 127):
        raise ValueError(f"format {format!r} needs weights in [-128, 127], got [{w.min()}, {w.max()}]")
    return QFORMATS[format]


cdef class BoundQGemm(BoundCall):
    """A QGemm's run over fixed buffers, checked once (QGemm.bind); call it without
    arguments.  Holds the layer and the arrays, and its own copy of the output stage."""
    cdef object keep
    cdef tc_qoutput out
    cdef tc_qresidual res
    cdef const tc_ctx *ctx
    cdef int fmt, m, n, k, signed, a_zero_point
    cdef const void *pa
    cdef const void *pk
    cdef void *py
    cdef void *pw

    cdef int run(self) noexcept nogil:
        tc_qgemm(self.ctx, self.fmt, self.m, self.n, self.k, self.pa, self.k, self.signed,
                 self.a_zero_point, self.pk, &self.out, self.py, self.n, self.pw)
        return 0


cdef class QGemm:
    """y[M, N] = output(sum_k (a[m, k] - a_zero_point) * w[n, k]) with the weights
    (minus their zero point, int16 [N, K]) packed once.

    QGemm(ctx, w, output, format=None); .run(a, a_zero_point, y)
    """
    cdef readonly Context ctx
    cdef readonly int K, N
    cdef readonly str format
    cdef int fmt
    cdef object packed
    cdef readonly QOutput output

    def __init__(self, Context ctx, w, QOutput output, format=None):
        _check_qarray("weight", w, (np.int16,), 2)
        self.N, self.K = w.shape
        if self.K < 1 or self.N < 1:
            raise ValueError(f"QGemm: empty weight {w.shape}")
        output.check(self.N)
        if format is None:
            format = qgemm_choose_format_for(ctx, w)
        self.fmt = _format_id(format, w)
        self.format = format
        self.ctx = ctx
        self.output = output
        w = np.ascontiguousarray(w)
        cdef const int16_t *pw = <const int16_t *>_vptr(w)
        self.packed = _packed_bytes(ctx, tc_qgemm_pack_size_for(self.fmt, self.K, self.N, pw, self.K))
        cdef void *pk = _vptr(self.packed)
        cdef int fmt = self.fmt, K = self.K, N = self.N
        with nogil:
            tc_qgemm_pack(fmt, K, N, pw, K, pk)

    def workspace_size(self, int m):
        """float32 elements of workspace run() needs for m rows."""
        return (tc_qgemm_workspace_size(&self.ctx.ctx, self.fmt, m, self.N, self.K) + 3) // 4

    def run(self, a, int a_zero_point, y, workspace=None, residual=None):
        self.bind(a, a_zero_point, y, workspace, residual)()

    def bind(self, a, int a_zero_point, y, workspace=None, residual=None):
        """run(a, a_zero_point, y, workspace, residual) checked now, as a call without
        arguments that runs it again and again over these buffers (a plan's arena): the
        checks (about 12 us, a sixth of a classifier's GEMV) are paid once, at plan time."""
        _check_qarray("a", a, _Q8)
        _check_qarray("y", y, (self.output.dtype,), writeable=True)
        if a.ndim < 1 or a.shape[a.ndim - 1] != self.K:
            raise ValueError(f"QGemm: a {a.shape} must have {self.K} columns")
        cdef int m = a.size // self.K
        if y.size != m * self.N:
            raise ValueError(f"QGemm: y {y.shape} must hold [{m}, {self.N}]")
        need = self.workspace_size(m)
        if workspace is None:
            workspace = _aligned_empty(need)
        elif workspace.dtype != np.float32 or workspace.size < need:
            raise ValueError(f"QGemm: workspace needs {need} float32 elements")
        cdef BoundQGemm call = BoundQGemm.__new__(BoundQGemm)
        call.out = self.output.with_residual(residual, y, &call.res)
        call.keep = (self, a, y, workspace, residual)
        call.ctx = &self.ctx.ctx
        call.fmt, call.m, call.n, call.k = self.fmt, m, self.N, self.K
        call.signed = a.dtype == np.int8
        call.a_zero_point = a_zero_point
        call.pa = _vptr(a)
        call.pk = _vptr(self.packed)
        call.py = _vptr(y)
        call.pw = _vptr(workspace)
        return call


def _stem_rows(w, int klen):
    """w [K, KH, KW, C] -> [K, KH * klen]: each kernel row's KW * C weights, then zeros
    (tc_qstem's packed rows)."""
    k, kh, kw, c = w.shape
    rows = np.zeros((k, kh, klen), np.int16)
    rows[:, :, :kw * c] = w.reshape(k, kh, kw * c)
    return rows.reshape(k, kh * klen)


cdef enum:
    _QCONV_DIRECT, _QCONV_DEPTHWISE, _QCONV_WINOGRAD, _QCONV_STEM


cdef class BoundQConv2d(BoundCall):
    """A QConv2d's run over fixed buffers, checked once (QConv2d.bind); call it without
    arguments.  Holds the layer and the arrays, so the pointers stay valid, and its own
    copy of the output stage (the fused residual's pointer into it)."""
    cdef object keep
    cdef tc_qoutput out
    cdef tc_qresidual res
    cdef const tc_ctx *ctx
    cdef const tc_conv2d_params *p
    cdef int kind, fmt, n, h, w, signed, x_zero_point
    cdef const void *px
    cdef const void *pk
    cdef void *py
    cdef void *pw

    cdef int run(self) noexcept nogil:
        if self.kind == _QCONV_DEPTHWISE:
            tc_qconv2d_depthwise(self.ctx, self.p, self.n, self.h, self.w, self.px,
                                 self.signed, self.x_zero_point, self.pk, &self.out, self.py,
                                 self.pw)
        elif self.kind == _QCONV_WINOGRAD:
            tc_qwinograd(self.ctx, self.p, self.n, self.h, self.w, self.px, self.signed,
                         self.x_zero_point, self.pk, &self.out, self.py, self.pw)
        elif self.kind == _QCONV_STEM:
            tc_qstem(self.ctx, self.fmt, self.p, self.n, self.h, self.w, self.px, self.signed,
                     self.x_zero_point, self.pk, &self.out, self.py, self.pw)
        else:
            tc_qconv2d(self.ctx, self.fmt, self.p, self.n, self.h, self.w, self.px,
                       self.signed, self.x_zero_point, self.pk, &self.out, self.py, self.pw)
        return 0


cdef class QConv2d:
    """Convolution of channels-last 8-bit images with weights packed once.

    QConv2d(ctx, w[K, KH, KW, C/group] int16 (minus the zero point), output,
            strides, pads (top, left, bottom, right), dilations, group, format=None,
            stem=None)
    .run(x [N, H, W, C], x_zero_point, y [N, OH, OW, K], workspace=None, residual=None)
    Depthwise layers (group == C == K) use the direct depthwise kernel.  Stems (few input
    channels: tc_qstem) read the kernel rows of a padded copy of the input instead of
    im2col rows, where the geometry allows (stem=None), or never (stem=False); stem=True
    requires it.
    """
    cdef tc_conv2d_params p
    cdef readonly Context ctx
    cdef readonly str format
    cdef readonly bint depthwise
    cdef readonly bint winograd
    cdef readonly bint stem
    cdef int fmt
    cdef object packed
    cdef readonly QOutput output

    def __init__(self, Context ctx, w, QOutput output, strides=(1, 1), pads=(0, 0, 0, 0),
                 dilations=(1, 1), int group=1, format=None, stem=None):
        _check_qarray("weight", w, (np.int16,), 4)
        K, KH, KW, Cg = w.shape
        if min(w.shape) < 1:
            raise ValueError(f"QConv2d: empty weight {w.shape}")
        _conv_params(&self.p, Cg * group, K, KH, KW, strides, pads, dilations, group)
        output.check(K)
        self.ctx = ctx
        self.output = output
        self.depthwise = group == Cg * group and group == K and KH <= 64
        if self.depthwise:
            self.format = "depthwise"
            self._pack_depthwise(np.ascontiguousarray(w))
            return
        if format == "winograd":
            if not qwinograd_fits(self.p, w):
                raise ValueError(f"QConv2d: format 'winograd' needs a 3x3 stride-1 undilated "
                                 f"convolution of one group and weights with 255 * sum |w| < 2^29 "
                                 f"per output channel; got weight {w.shape}, "
                                 f"{_conv_geometry(&self.p)}")
            self.winograd = True
            self.format = format
            self._pack_winograd(np.ascontiguousarray(w))
            return
        kg, kd = K // group, KH * KW * Cg
        w2 = np.ascontiguousarray(w.reshape(K, kd))
        # a stem's layout is chosen on its own rows (a kernel row's weights, then zeros)
        # not by default on the portable tier: its kernels compute the rows' padding too
        # (21 -> 24 bytes per 7x7 kernel row: lone ResNet stem 1.2x im2col's time)
        cdef int klen = 0 if stem is False or stem is None and ctx.isa == "portable" \
            else tc_qstem_klen(TC_QFMT_S8X4, &self.p)
        if format is None:
            format = qgemm_choose_format_for(ctx, _stem_rows(w, klen) if klen else w2)
        self.fmt = _format_id(format, w)
        self.format = format
        if klen:
            klen = tc_qstem_klen(self.fmt, &self.p)
        if stem and not klen:
            raise ValueError(f"QConv2d: stem=True needs one group, at most 4 input channels, "
                             f"no dilation along x and a layout other than 'u7s8'; got weight "
                             f"{w.shape}, format {format!r}, {_conv_geometry(&self.p)}")
        self.stem = klen != 0
        if self.stem:
            w2 = _stem_rows(w, klen)
            kd = KH * klen
        cdef const int16_t *pw = <const int16_t *>_vptr(w2)
        cdef int fmt = self.fmt, g
        cdef int ikd = kd, ikg = kg
        # the groups one after the other, each its own size (U8S8X2's corrections vary)
        sizes = [tc_qgemm_pack_size_for(fmt, ikd, ikg, pw + <ptrdiff_t>g * ikg * ikd, ikd)
                 for g in range(group)]
        self.packed = _packed_bytes(ctx, sum(sizes))
        cdef char *pk = <char *>_vptr(self.packed)
        cdef size_t at = 0
        for g in range(group):
            with nogil:
                tc_qgemm_pack(fmt, ikd, ikg, pw + <ptrdiff_t>g * ikg * ikd, ikd, pk + at)
            at += sizes[g]

    def _pack_depthwise(self, w):
        self.packed = _packed_bytes(self.ctx, tc_qconv2d_depthwise_pack_size(&self.p))
        cdef const int16_t *pw = <const int16_t *>_vptr(w)
        cdef void *pk = _vptr(self.packed)
        with nogil:
            tc_qconv2d_depthwise_pack(&self.p, pw, pk)

    def _pack_winograd(self, w):
        self.packed = _packed_bytes(self.ctx, tc_qwinograd_pack_size(&self.p))
        cdef const int16_t *pw = <const int16_t *>_vptr(w)
        cdef void *pk = _vptr(self.packed)
        with nogil:
            tc_qwinograd_pack(&self.p, pw, pk)

    def output_shape(self, int n, int h, int w):
        """(n, oh, ow, K), channels last."""
        cdef int oh = 0, ow = 0
        if n < 1 or tc_conv2d_output_hw(&self.p, h, w, &oh, &ow) != 0:
            raise ValueError(f"qconv: empty or invalid output for input (N={n}, H={h}, W={w}, "
                             f"C={self.p.C}) with {_conv_geometry(&self.p)}")
        return (n, oh, ow, self.p.K)

    def workspace_size(self, int n, int h, int w):
        """float32 elements of workspace run() needs for an input of (n, h, w, C)."""
        self.output_shape(n, h, w)
        if self.depthwise:
            nbytes = tc_qconv2d_depthwise_workspace_size(&self.ctx.ctx, &self.p, n, h, w)
        elif self.winograd:
            nbytes = tc_qwinograd_workspace_size(&self.ctx.ctx, &self.p, n, h, w)
        elif self.stem:
            nbytes = tc_qstem_workspace_size(&self.ctx.ctx, self.fmt, &self.p, n, h, w)
        else:
            nbytes = tc_qconv2d_workspace_size(&self.ctx.ctx, self.fmt, &self.p, n, h, w)
        return (nbytes + 3) // 4

    def run(self, x, int x_zero_point, y, workspace=None, residual=None):
        """y = output(conv(x)); residual: the other operand of a fused QLinearAdd (y's shape,
        may be y itself)."""
        self._bind(x, x_zero_point, y, workspace, residual)()

    def bind(self, x, int x_zero_point, y, workspace=None, residual=None):
        """run(x, x_zero_point, y, workspace, residual) checked now, as a call without
        arguments that runs it again and again over these buffers (a plan's arena): the
        checks, the views and the output stage are paid once, at plan time."""
        return self._bind(x, x_zero_point, y, workspace, residual)

    cdef BoundQConv2d _bind(self, x, int x_zero_point, y, workspace, residual):
        _check_qarray("x", x, _Q8, 4)
        _check_qarray("y", y, (self.output.dtype,), 4, writeable=True)
        n, h, w, c = x.shape
        if c != self.p.C:
            raise ValueError(f"QConv2d: x {x.shape} has {c} channels, weight expects {self.p.C}")
        expected = self.output_shape(n, h, w)
        if y.shape != expected:
            raise ValueError(f"QConv2d: y has shape {y.shape}, expected {expected} for x {x.shape}")
        need = self.workspace_size(n, h, w)
        if workspace is None:
            workspace = _aligned_empty(need)
        elif workspace.dtype != np.float32 or workspace.size < need:
            raise ValueError(f"QConv2d: workspace needs {need} float32 elements")
        cdef BoundQConv2d call = BoundQConv2d.__new__(BoundQConv2d)
        call.out = self.output.with_residual(residual, y, &call.res)
        call.keep = (self, x, y, workspace, residual)
        call.ctx, call.p = &self.ctx.ctx, &self.p
        call.kind = (_QCONV_DEPTHWISE if self.depthwise else _QCONV_WINOGRAD if self.winograd
                     else _QCONV_STEM if self.stem else _QCONV_DIRECT)
        call.fmt = self.fmt
        call.n, call.h, call.w = n, h, w
        call.signed = x.dtype == np.int8
        call.x_zero_point = x_zero_point
        call.px = _vptr(x)
        call.pk = _vptr(self.packed)
        call.py = _vptr(y)
        call.pw = _vptr(workspace)
        return call

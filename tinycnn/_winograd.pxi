# Wrappers of the winograd kernels (included by _kernels.pyx).

cdef extern from "tinycnn.h" nogil:
    size_t tc_winograd_packed_size(int K, int C, int r, int tile)
    void tc_winograd_pack_f32(const tc_ctx *ctx, const float *w, int K, int C, int r, int tile,
                              float *packed)
    size_t tc_winograd_workspace_size(const tc_ctx *ctx, int N, int C, int H, int W, int K,
                                      int pad_t, int pad_l, int pad_b, int pad_r, int r, int tile)
    void tc_winograd_f32(const tc_ctx *ctx, const float *x, int N, int C, int H, int W,
                         const float *packed, const float *bias, int K,
                         int pad_t, int pad_l, int pad_b, int pad_r, int r, int tile, int act,
                         const float *residual, float *y, float *workspace)


def winograd_recommended(int k, int c, int h, int w):
    """Tile size for a 3x3, stride-1, group-1 convolution with k output and c
    input channels and an h x w output (= the input size with pads 1):
    4 (F(4x4,3x3)), 2 (F(2x2,3x3)) or 0 (don't: the GEMM/im2col convolution
    is faster).  Measured against onnxruntime with benchmarks/winograd_shapes.py
    (AVX2, 1 thread, batch 1):
      - the transforms cost ~(c + k) per output, the products ~c*k: with
        c*k/(c + k) < 20 (RGB input layers, 32->32) Winograd loses or ties;
      - F(4x4) needs enough 4x4 tiles: 14x14 (16 tiles) runs at ~0.45-0.55x
        onnxruntime's time, but at 7x7 (4 tiles) F(4x4) is slower than
        onnxruntime (its 36 planes of weights are read for 4 tiles) while
        F(2x2) (16 tiles) runs at ~0.65-0.8x;
      - below ~12 F(2x2) tiles nothing is won.
    """
    if k < 1 or c < 1 or h < 1 or w < 1:
        return 0
    if c * k < 20 * (c + k):
        return 0
    if ((h + 3) // 4) * ((w + 3) // 4) >= 16:
        return 4
    if ((h + 1) // 2) * ((w + 1) // 2) >= 12:
        return 2
    return 0


def winograd5_recommended(int k, int c, int h, int w):
    """Whether F(2x2,5x5) beats the GEMM convolution for a 5x5, stride-1, group-1 layer
    with k output and c input channels and an h x w output.  It does 9 products per output
    and channel where the GEMM does 25, but transforms 36 values per 4 outputs: it needs
    channels on both sides (AlexNet's 64 -> 192 at 27x27: 2.2x faster) and enough tiles."""
    if k < 1 or c < 1 or h < 1 or w < 1:
        return False
    return c * k >= 16 * (c + k) and ((h + 1) // 2) * ((w + 1) // 2) >= 25


# F(2x2)'s transformed weights reach 2.25 max|w|: below this they stay finite in float32.
WINOGRAD_MAX_ABS_WEIGHT = 1e38


def winograd_takes_weights(weight):
    """Whether Winograd computes with these weights as a direct convolution would,
    NaN and Inf included: every weight finite with |w| <= 1e38.  Tiles whose result is not
    finite (a NaN/Inf input, an overflow) are recomputed directly from filters recovered
    from the transformed weights, which NaN/Inf weights do not give back: use Conv2d then."""
    return bool(np.all(np.abs(np.asarray(weight, dtype=np.float32)) <= WINOGRAD_MAX_ABS_WEIGHT))


cdef class Winograd:
    """r x r (3 or 5, from the weight), stride 1, dilation 1, group 1 convolution by
    Winograd F(4x4,3x3) (tile=4), F(2x2,3x3) (tile=2) or F(2x2,5x5) (5x5 weights, tile=2),
    weights transformed and packed once.

    Winograd(ctx, weight[K, C, r, r], bias[K] or None, pads=(top, left, bottom, right),
             relu=False, tile=4)

    NaN and Inf in x give NaN/Inf at the outputs a direct convolution gives them (the
    tiles they touch are recomputed directly); weight must be finite (winograd_takes_weights).
    """
    cdef Context ctx
    cdef object packed          # float32 transformed weights, kept alive here
    cdef object bias_arr        # float32 [K] or None
    cdef readonly int out_channels, in_channels, kernel, tile
    cdef int pt, pl, pb, pr, act

    def __init__(self, Context ctx, weight, bias=None, pads=(0, 0, 0, 0), relu=False, int tile=4):
        if ctx is None:
            raise ValueError("ctx must be a Context")
        w = np.ascontiguousarray(weight, dtype=np.float32)
        if w.ndim != 4 or w.shape[2] != w.shape[3] or w.shape[2] not in (3, 5):
            raise ValueError(f"weight must be [K, C, 3, 3] or [K, C, 5, 5], got shape "
                             f"{tuple(np.shape(weight))}")
        cdef int r = w.shape[2]
        if not ((r == 3 and tile in (2, 4)) or (r == 5 and tile == 2)):
            raise ValueError(f"tile must be {'2 or 4' if r == 3 else '2'} for {r}x{r} weights, "
                             f"got {tile}")
        pads = tuple(int(p) for p in pads)
        if len(pads) != 4 or min(pads) < 0:
            raise ValueError(f"pads must be 4 non-negative ints (top, left, bottom, right), got {pads}")
        cdef int K = w.shape[0], C = w.shape[1]
        if K < 1 or C < 1:
            raise ValueError(f"weight shape {w.shape} has no channels")
        if not winograd_takes_weights(w):
            raise ValueError(f"weight {w.shape} has NaN, Inf or |w| > {WINOGRAD_MAX_ABS_WEIGHT:g} "
                             "values: use Conv2d")
        if bias is not None:
            b = np.ascontiguousarray(bias, dtype=np.float32).reshape(-1)
            if b.shape[0] != K:
                raise ValueError(f"bias must have {K} elements (weight {w.shape}), got {np.shape(bias)}")
            self.bias_arr = b
        else:
            self.bias_arr = None
        self.ctx = ctx
        self.out_channels = K
        self.in_channels = C
        self.kernel = r
        self.tile = tile
        self.pt, self.pl, self.pb, self.pr = pads
        self.act = TC_ACT_RELU if relu else TC_ACT_NONE
        packed = np.empty(tc_winograd_packed_size(K, C, r, tile), dtype=np.float32)
        cdef const float[::1] wv = w.reshape(-1)
        cdef float[::1] pv = packed
        with nogil:
            tc_winograd_pack_f32(&self.ctx.ctx, &wv[0], K, C, r, tile, &pv[0])
        self.packed = packed

    @property
    def algo(self):
        return f"winograd{self.tile}" + ("" if self.kernel == 3 else f"-{self.kernel}x{self.kernel}")

    @property
    def pads(self):
        return (self.pt, self.pl, self.pb, self.pr)

    def output_shape(self, int n, int h, int w):
        cdef int e = self.kernel - 1
        return (n, self.out_channels, h + self.pt + self.pb - e, w + self.pl + self.pr - e)

    def workspace_size(self, int n, int h, int w):
        """float32 elements of workspace run() needs for an [n, C, h, w] input
        (with this object's Context: it grows with the thread count)."""
        return int(tc_winograd_workspace_size(&self.ctx.ctx, n, self.in_channels, h, w, self.out_channels,
                                              self.pt, self.pl, self.pb, self.pr, self.kernel, self.tile))

    def run(self, x, y, residual=None, workspace=None):
        """y = act(conv(x) + bias + residual); residual may be y itself. Returns y."""
        if not isinstance(x, np.ndarray) or x.dtype != np.float32 or x.ndim != 4 \
                or not x.flags.c_contiguous:
            raise ValueError(f"x must be a C-contiguous float32 [N, C, H, W] array, got "
                             f"{getattr(x, 'dtype', type(x))} {np.shape(x)}")
        cdef int N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
        if C != self.in_channels:
            raise ValueError(f"x has {C} channels, weight expects {self.in_channels} (x {x.shape})")
        oshape = self.output_shape(N, H, W)
        if oshape[2] < 1 or oshape[3] < 1:
            raise ValueError(f"x {x.shape} with pads {self.pads} gives an empty output {oshape}")
        if not isinstance(y, np.ndarray) or y.dtype != np.float32 or y.shape != oshape \
                or not y.flags.c_contiguous or not y.flags.writeable:
            raise ValueError(f"y must be a writeable C-contiguous float32 array of shape {oshape}, "
                             f"got {getattr(y, 'dtype', type(y))} {np.shape(y)} (x {x.shape})")
        if np.may_share_memory(x, y):
            raise ValueError("y must not overlap x")
        cdef const float *rp = NULL
        cdef const float[::1] rv
        if residual is not None:
            if not isinstance(residual, np.ndarray) or residual.dtype != np.float32 \
                    or residual.shape != oshape or not residual.flags.c_contiguous:
                raise ValueError(f"residual must be a C-contiguous float32 array of shape {oshape}, "
                                 f"got {getattr(residual, 'dtype', type(residual))} {np.shape(residual)}")
            if residual.ctypes.data != y.ctypes.data and np.may_share_memory(residual, y):
                raise ValueError("residual must be y itself or not overlap y")
            rv = residual.reshape(-1)
            rp = &rv[0]
        cdef size_t need = tc_winograd_workspace_size(&self.ctx.ctx, N, C, H, W, self.out_channels,
                                                      self.pt, self.pl, self.pb, self.pr, self.kernel,
                                                      self.tile)
        if workspace is None:
            workspace = np.empty(max(<Py_ssize_t>need, 1), dtype=np.float32)
        if not isinstance(workspace, np.ndarray) or workspace.dtype != np.float32 \
                or not workspace.flags.c_contiguous or <size_t>workspace.size < need:
            raise ValueError(f"workspace must be a C-contiguous float32 array of at least {need} "
                             f"elements, got {getattr(workspace, 'dtype', type(workspace))} "
                             f"{np.shape(workspace)}")
        cdef const float[::1] xv = x.reshape(-1)
        cdef float[::1] yv = y.reshape(-1)
        cdef float[::1] wsv = workspace.reshape(-1)
        cdef const float[::1] pv = self.packed
        cdef const float *bp = NULL
        cdef const float[::1] bv
        if self.bias_arr is not None:
            bv = self.bias_arr
            bp = &bv[0]
        cdef int K = self.out_channels
        with nogil:
            tc_winograd_f32(&self.ctx.ctx, &xv[0], N, C, H, W, &pv[0], bp, K,
                            self.pt, self.pl, self.pb, self.pr, self.kernel, self.tile, self.act,
                            rp, &yv[0], &wsv[0])
        return y

    def __repr__(self):
        return (f"Winograd(K={self.out_channels}, C={self.in_channels}, pads={self.pads}, "
                f"algo={self.algo!r}, relu={self.act == TC_ACT_RELU})")

"""ConvTranspose, and tinycnn::ConvTranspose (with a fused ReLU, built at load).

ONNX's output-size rules (pads, output_padding, output_shape, auto_pad) are turned into
plain pads and an output size here, once per plan; the C kernel (GEMM then col2im, the
weights packed once per node and cached across plans) knows nothing of them.  1-D is 2-D
with a height of 1; 3-D has the kernel's depth axis.
"""
import math
from fractions import Fraction

import numpy as np

from .. import _kernels as K
from . import FUSED_DOMAIN, op
from .common import UnsupportedOperator, ints, prod, require_float

_INT_MAX = (1 << 31) - 1


def transpose_geometry(n, in_spatial, kernel, strides=None, dilations=None, pads=None,
                       output_padding=None, output_shape=None, auto_pad="NOTSET"):
    """(strides, dilations, pads_begin, pads_end, out_spatial) of a transposed convolution.

    The full output of in * stride is cropped by the pads; output_shape (spatial, or with
    N and C first) replaces it, its padding split as ONNX says (the odd one at the start,
    or at the end with SAME_UPPER); SAME_* without output_shape gives in * stride."""
    nd = len(in_spatial)
    st = ints(strides, nd, 1, "strides", n)
    dl = ints(dilations, nd, 1, "dilations", n)
    op_ = ints(output_padding, nd, 0, "output_padding", n)
    for name, vals, low in (("strides", st, 1), ("dilations", dl, 1), ("output_padding", op_, 0)):
        if any(v < low for v in vals):
            raise n.error(f"attribute {name}={vals} must be >= {low}")
    if any(o >= max(s, d) for o, s, d in zip(op_, st, dl)):
        raise n.error(f"output_padding={op_} must be smaller than the strides {st} or dilations {dl}")
    if auto_pad not in ("NOTSET", "", "VALID", "SAME_UPPER", "SAME_LOWER"):
        raise n.error(f"unknown auto_pad {auto_pad!r}", UnsupportedOperator)
    full = [s * (i - 1) + o + d * (k - 1) + 1 for i, s, o, d, k in zip(in_spatial, st, op_, dl, kernel)]
    if output_shape is not None:
        want = [int(v) for v in output_shape]
        want = want[2:] if len(want) == nd + 2 else want
        if len(want) != nd or any(v < 1 for v in want):
            raise n.error(f"output_shape={list(output_shape)} must give {nd} spatial sizes >= 1")
        total = [max(0, f - w) for f, w in zip(full, want)]
        upper = auto_pad == "SAME_UPPER"
        begin = [t // 2 if upper else t - t // 2 for t in total]
        end = [t - b for t, b in zip(total, begin)]
        return st, dl, begin, end, want
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = [i * s for i, s in zip(in_spatial, st)]
        total = [max(0, f - o) for f, o in zip(full, out)]
        if auto_pad == "SAME_UPPER":
            begin = [t // 2 for t in total]
        else:
            begin = [t - t // 2 for t in total]
        end = [t - b for t, b in zip(total, begin)]
        return st, dl, begin, end, out
    p = [0] * 2 * nd if auto_pad == "VALID" else ints(pads, 2 * nd, 0, "pads", n)
    if any(v < 0 for v in p):
        raise n.error(f"attribute pads={p} must not be negative")
    begin, end = p[:nd], p[nd:]
    out = [f - b - e for f, b, e in zip(full, begin, end)]
    if any(o < 1 for o in out):
        raise n.error(f"pads {p} crop the whole output {full} (input spatial size {tuple(in_spatial)})")
    return st, dl, begin, end, out


def _conv_transpose(n, X, W, B, activation, auto_pad, dilations, group, kernel_shape,
                    output_padding, output_shape, pads, strides):
    require_float(n, X, W, B)
    if X.ndim < 3 or W.ndim != X.ndim:
        raise n.error(f"input X {X.shape} must be [N, C, spatial...] and weight W {W.shape} of "
                      "the same rank")
    if 0 in X.shape[1:] or 0 in W.shape:
        raise n.error(f"input X {X.shape} and weight W {W.shape} may not have empty dims "
                      "(other than the batch)")
    group = int(group)
    c = X.shape[1]
    if group < 1 or W.shape[0] != c or c % group:
        raise n.error(f"input X {X.shape} has {c} channels; weight W {W.shape} must be "
                      f"[{c}, K/group, ...] with group={group} dividing {c}")
    k = W.shape[1] * group
    kernel = list(W.shape[2:])
    if kernel_shape is not None and list(kernel_shape) != kernel:
        raise n.error(f"kernel_shape={list(kernel_shape)} disagrees with weight W {W.shape}")
    if B is not None and B.size != k:
        raise n.error(f"bias B {B.shape} must have {k} values (output channels: W {W.shape}, "
                      f"group={group})")
    st, dl, pb, pe, out = transpose_geometry(n, X.shape[2:], kernel, strides, dilations, pads,
                                             output_padding, output_shape, auto_pad)
    out_shape = (X.shape[0], k) + tuple(out)
    n.check_size(out_shape, np.float32)
    relu = activation == "Relu"
    if X.ndim > 5:
        raise n.error(f"input X {X.shape}: {X.ndim - 2}-D transposed convolution (tinycnn runs 1-D to 3-D)",
                      UnsupportedOperator)
    spatial = list(X.shape[2:])
    if any(v > _INT_MAX for v in out + spatial + st + dl + pb + pe) or prod(spatial) > _INT_MAX \
            or prod(out[:-1]) > _INT_MAX or prod(W.shape[1:]) > _INT_MAX:
        raise n.error(f"sizes beyond the kernel's 32-bit range (input {X.shape}, output {out_shape})",
                      UnsupportedOperator)
    w_k = W.shape
    if X.ndim == 3:  # 1-D: 2-D with a height of 1
        st, dl, pb, pe, out, spatial = [1] + st, [1] + dl, [0] + pb, [0] + pe, [1] + out, [1] + spatial
        w_k = (W.shape[0], W.shape[1], 1, W.shape[2])
    x_k, y_k = (X.shape[0], c) + tuple(spatial), (X.shape[0], k) + tuple(out)
    geometry = dict(strides=tuple(st), pads=tuple(pb + pe), dilations=tuple(dl), group=group, relu=relu)
    ctx = n.ctx
    if W.const is None or (B is not None and B.const is None):
        # weights computed at run time: packed at every run (slow but rare)
        ws = K.ConvTranspose(ctx, np.zeros(w_k, np.float32), None, **geometry).workspace_size(*spatial)
        has_b = B is not None

        def conv_transpose_dynamic(x, w, *rest):
            b = np.ascontiguousarray(rest[0], np.float32).reshape(-1) if has_b else None
            layer = K.ConvTranspose(ctx, np.ascontiguousarray(w, np.float32).reshape(w_k), b, **geometry)
            layer.run(x.reshape(x_k), rest[-2].reshape(y_k), rest[-1])
        return n.emit(conv_transpose_dynamic, [X, W] + ([B] if has_b else []),
                      [(out_shape, np.float32)], workspace=ws)
    layer = n.cached(("conv_transpose", relu), lambda: K.ConvTranspose(
        ctx, np.ascontiguousarray(W.const, np.float32).reshape(w_k),
        None if B is None else np.ascontiguousarray(B.const, np.float32).reshape(-1), **geometry))
    run = layer.run

    def conv_transpose(x, y, workspace):
        run(x.reshape(x_k), y.reshape(y_k), workspace)
    return n.emit(conv_transpose, [X], [(out_shape, np.float32)], workspace=layer.workspace_size(*spatial))


def conv_transpose_macs(inputs, outputs, **attrs):
    """N * C * spatial * (K / group) * kernel: one multiply-add per input pixel per weight."""
    X, W = inputs[0], inputs[1]
    return 0 if outputs[0] is None else X.size * prod(W.shape[1:])


def conv_transpose_window(inputs, outputs, *, dilations=None, strides=None, **attrs):
    """(span, stride) per spatial dim in input pixels: a stride of 1 / s (upsampling), and the
    input pixels one output pixel sees, ceil(((k - 1) * d + 1) / s)."""
    kernel = inputs[1].shape[2:]
    dl = list(dilations or [1] * len(kernel))
    st = list(strides or [1] * len(kernel))
    return [(math.ceil((d * (k - 1) + 1) / s), Fraction(1, s)) for k, d, s in zip(kernel, dl, st)]


@op("ConvTranspose", cost=conv_transpose_macs, window=conv_transpose_window)
def ConvTranspose(n, X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
                  output_padding=None, output_shape=None, pads=None, strides=None):
    """1-D, 2-D and 3-D: groups, dilations, strides, pads, output_padding, output_shape,
    auto_pad."""
    return _conv_transpose(n, X, W, B, "", auto_pad, dilations, group, kernel_shape,
                           output_padding, output_shape, pads, strides)


@op("ConvTranspose", domain=FUSED_DOMAIN, cost=conv_transpose_macs, window=conv_transpose_window)
def FusedConvTranspose(n, X, W, B=None, *, activation="", auto_pad="NOTSET", dilations=None, group=1,
                       kernel_shape=None, output_padding=None, output_shape=None, pads=None,
                       strides=None):
    """ConvTranspose with a ReLU fused into col2im's store."""
    return _conv_transpose(n, X, W, B, activation, auto_pad, dilations, group, kernel_shape,
                           output_padding, output_shape, pads, strides)

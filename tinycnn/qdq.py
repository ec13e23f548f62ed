"""Quantized graphs at load: the checks of every QuantizeLinear/DequantizeLinear, and
QDQ groups rewritten into integer ops.

A QDQ model (onnxruntime.quantization's QuantFormat.QDQ) spells an integer convolution
as DequantizeLinear(x_q) and DequantizeLinear(w_q) feeding a float Conv whose output goes
to a QuantizeLinear.  `quantized_graph` rewrites such groups into the QOperator form that
onnxruntime also runs them as (QLinearConv, com.microsoft QLinearAdd, QGemm, ...), which
tinycnn computes with integer kernels.  A group it does not recognise keeps running in
float between its DequantizeLinear and QuantizeLinear: never refused.

Rewritten groups (x: a DequantizeLinear of a per-tensor quantized tensor; y: the op's only
consumer is a per-tensor QuantizeLinear):
  Conv(x, w [, b]) [-> Relu | Clip] -> QLinearConv (tinycnn::QLinearConv with a clamp);
      w a DequantizeLinear of a constant (per-tensor or per output channel), b one of an
      int32 constant (re-quantized if its scale is not x_scale * w_scale)
  Gemm(x, w [, b]) -> com.microsoft QGemm;  MatMul(x, x') -> QLinearMatMul
  Add, Mul -> com.microsoft QLinearAdd, QLinearMul
  GlobalAveragePool, AveragePool, Sigmoid, LeakyRelu, Concat -> their com.microsoft QLinear forms
  MaxPool, Flatten, Reshape, Transpose, Squeeze, Unsqueeze with the same scale and zero
      point in and out -> the op itself on the 8-bit tensor

Not fused (measured, s15): the inverted-residual block expand -> depthwise -> project in
bands of rows, as the float one (csrc/ir_fused.c).  Its 8-bit intermediates fit this host's
L2 (2 MiB a core: 1.2 MB at 112x112 x 96, 0.45 MB at 56x56 x 144), so the bands save little
traffic and pay each band's kernel calls.  A prototype over the layers' own kernels on row
views (MobileNetV2, emulated AVX2, 1 thread, 2026-12-02 06:10, us, whole layers / bands of
28, 16, 8 output rows, halo rows expanded again): features.2 (16 -> 96 at 112x112, stride 2)
797 / 791, 813, 833, about 760 at 8 rows once the halo's own cost is taken off, 5% of the
block and 0.6% of the network; features.3 (24 -> 144 at 56x56, stride 1) 690 / 703, 764,
816, no gain left once the halo is taken off.  A smaller L2 (the AVX2 target, an AMD EPYC:
512 KiB to 1 MiB a core) may change this; not measured.
"""
import dataclasses

import numpy as np

from . import _kernels
from .errors import InvalidModel
from .loader import Node
from .ops import FUSED_DOMAIN

MS = "com.microsoft"
_Q8 = (np.dtype(np.uint8), np.dtype(np.int8))
_SAME_SCALE_OPS = ("MaxPool", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze")


def quantized_graph(g, keep, fuse, source):
    """Check the graph's quantize/dequantize nodes; with fuse, rewrite its QDQ groups and
    fuse residual adds into the convolutions that feed them."""
    _check(g, source)
    if not fuse:
        return
    if any(n.op_type == "DequantizeLinear" and n.domain == "" for n in g.nodes):
        _Rewriter(g, keep, source).run()
    _fuse_residual_adds(g, keep)
    _fuse_sigmoid_muls(g, keep)
    _fuse_lookups_into_convs(g, keep)
    _pair_channels(g, keep)
    _pair_shared_channels(g, keep)
    _stream_channels(g, keep)


def _fuse_into_binary(g, keep, op_type, fits, make):
    """Each com.microsoft `op_type` node (QLinearAdd/QLinearMul: A at input 0, B at 3) with an
    operand whose producer `fits(producer, other_operand)`, used there only and not a graph
    output, becomes `make(producer, node, slot)`: one node in the binary op's place (so its
    other operand is ready)."""
    consumers = g.consumers()
    producers = {o: n for n in g.nodes for o in n.outputs if o}
    replaced = {}
    for node in g.nodes:
        if node.op_type != op_type or node.domain != MS or len(node.inputs) != 8:
            continue
        for slot in (0, 3):
            name, other = node.inputs[slot], node.inputs[3 - slot]
            prod = producers.get(name)
            if (prod is None or id(prod) in replaced or name in keep or other == name
                    or len(consumers.get(name, [])) != 1 or not fits(prod, other)):
                continue
            g.fused_away.add(name)
            replaced[id(prod)] = None
            replaced[id(node)] = make(prod, node, slot)
            break
    if replaced:
        g.nodes = [replaced.get(id(n), n) for n in g.nodes if replaced.get(id(n), n) is not None]


def _fuse_residual_adds(g, keep):
    """QLinearConv -> com.microsoft QLinearAdd(conv, other) becomes one tinycnn::QLinearConv
    whose output stage adds `other` (ResNet's residual merges): the convolution's 8-bit
    result never goes to memory."""
    def fits(conv, other):
        return (conv.op_type == "QLinearConv" and conv.domain in ("", FUSED_DOMAIN)
                and not (conv.domain == FUSED_DOMAIN and len(conv.inputs) > 9))

    def make(conv, add, slot):
        ins = list(conv.inputs) + [""] * (9 - len(conv.inputs))
        fused = Node(conv.name, "QLinearConv", FUSED_DOMAIN,
                     ins[:9] + [add.inputs[3 - slot]] + list(add.inputs[1:3]) + list(add.inputs[4:8]),
                     list(add.outputs), dict(conv.attrs, residual_a=int(slot == 0)), conv.index)
        fused.label = (conv.label if conv.domain == FUSED_DOMAIN else "QLinearConv") + "+QLinearAdd"
        return fused
    _fuse_into_binary(g, keep, "QLinearAdd", fits, make)


def _fuse_sigmoid_muls(g, keep):
    """QLinearMul(x, QLinearSigmoid(x)) (SiLU, swish: EfficientNet's activation) becomes one
    tinycnn::QLinearSigmoidMul, a table lookup."""
    def fits(sig, other):
        return (sig.op_type == "QLinearSigmoid" and sig.domain == MS and len(sig.inputs) == 5
                and sig.inputs[0] == other)

    def make(sig, mul, slot):
        fused = Node(mul.name, "QLinearSigmoidMul", FUSED_DOMAIN,
                     list(sig.inputs) + list(mul.inputs[1:3]) + list(mul.inputs[4:8]),
                     list(mul.outputs), {"sigmoid_is_a": int(slot == 0)}, mul.index)
        fused.label = "QLinearSigmoid+QLinearMul"
        return fused
    _fuse_into_binary(g, keep, "QLinearMul", fits, make)


# The lookup ops a convolution's output stage can apply (tc_qoutput.lut), with the
# attributes their tables depend on
_LOOKUPS = {(MS, "QLinearSigmoid"): (), (MS, "QLinearLeakyRelu"): ("alpha",),
            (FUSED_DOMAIN, "QLinearSigmoidMul"): ("sigmoid_is_a",)}


def _fuse_lookups_into_convs(g, keep):
    """A QLinearConv whose output goes only to a table lookup (QLinearSigmoid,
    QLinearLeakyRelu, the fused SiLU: EfficientNet's activations and SE gates) becomes one
    tinycnn::QLinearConv whose output stage looks its bytes up while they are in cache:
    inputs 16.. are the lookup's parameters (after X), attribute `lookup` its op type."""
    consumers = g.consumers()
    producers = {o: n for n in g.nodes for o in n.outputs if o}
    replaced = {}
    for node in g.nodes:
        attrs = _LOOKUPS.get((node.domain, node.op_type))
        if attrs is None or not node.inputs or id(node) in replaced:
            continue
        name = node.inputs[0]
        conv = producers.get(name)
        if (conv is None or id(conv) in replaced or conv.op_type != "QLinearConv"
                or conv.domain not in ("", FUSED_DOMAIN) or "lookup" in conv.attrs
                or name in keep or len(consumers.get(name, [])) != 1
                or not all(i == "" or i in g.initializers for i in node.inputs[1:])):
            continue  # (a table is built at plan time: its parameters must be constants)
        ins = list(conv.inputs) + [""] * (16 - len(conv.inputs))
        fused_attrs = dict(conv.attrs, lookup=node.op_type)
        for a in attrs:
            if a in node.attrs:
                fused_attrs["lookup_" + a] = node.attrs[a]
        fused = Node(conv.name, "QLinearConv", FUSED_DOMAIN, ins + list(node.inputs[1:]),
                     list(node.outputs), fused_attrs, conv.index)
        fused.label = (conv.label if conv.domain == FUSED_DOMAIN else "QLinearConv") + \
            "+" + node.label
        g.fused_away.add(name)
        replaced[id(conv)] = None
        replaced[id(node)] = fused
    if replaced:
        g.nodes = [replaced.get(id(n), n) for n in g.nodes if replaced.get(id(n), n) is not None]


# ---- channel order -------------------------------------------------------------------------

# a pair costing at most this has the widest window: any byte, 32767 // 128 = 255
_PAIR_WIDE = 128
# 1x1 convolutions with more output channels keep their input order: the widest window needs
# a pair's same-sign weights within 128 in every column, which none of ResNet-50 int8's conv3
# pairs (256-2048 columns) reached; reordered all the same (a first version of this pass, the
# Xeon, emulated AVX2 1t, int8_inputs.py --against the base, 12 rounds, load 4), ResNet-50
# int8 took 0.990 [0.954-1.002] of its time on noise, 0.992 [0.980-1.020] on a photograph
_PAIR_MAX_OUTPUTS = 320
# past them, from this K (the long kernels' shortest, qgemm.c TC_QU7S8_LONG_K_WIDE), the
# channels go in fours that share the long kernels' paired widths (_kernels.qquad_channels):
# ResNet-50 int8's conv2 -> conv3 (K 128-512, N 512-2048), whose weights' paired widths
# (median) rise from 106-111 to 133-137, and the 4-row tiles leaving them on photographs
# (u7s8_windows.py's count, 4 of bench.input_feed's kind, seeds 1-4) from 0.27-0.99 to
# 0.02-0.80 (none on noise either way).  Measured (n34-q2, the Xeon, emulated AVX2 1t,
# qsteps.py --input photo against the base, both orders, 20 x 10 runs, step minima): the 13
# conv3 layers 0.985 of their time (layer3's 0.94-0.99, layer2's and layer4's 0.98-1.0), the
# whole run's steps 0.9994 / 1.0002: level (on the photograph the conv3 layers take 1.12-1.19
# of their time on noise, and the fours take back about a tenth of that); loading +100 ms.
# Kept since the in-place steps (h37-q50, 2026-12-05, the Xeon, emulated AVX2 1t, qsteps.py
# against main ab8bdde, 12 x 10 runs, step minima, bit-identical): there a tile's cost grows
# with its 8-k steps holding a byte above the paired widths (qgemm_u7s8_steps_avx2.c), so
# fewer such steps pay where a tile left the paired widths wholly before: the photograph
# 0.991 / 0.991 of the steps' time (both orders; 40.36 -> 40.00 ms), its conv3 layers
# 0.91-0.98, noise 1.003 / 1.000; MobileNetV2, EfficientNet-B0, ResNet-18 have no such layer
_QUAD_MIN_K = 128
# and a 3x3 convolution's input channels (ResNet's conv1 -> conv2) in fours over every tap
# (the im2col rows: taps of the channels in one order), where it runs U7S8 directly
# (qconv._format: below 14x14 or at stride 2): ResNet-50 int8's layer4 conv2 paired widths
# (median) 146 -> 159, the 4-row tiles leaving them on photographs 0.08-0.75 -> 0-0.5
# (u7s8_windows.py's count over the im2col rows).  Measured with 9 (as above): layer4's conv2
# 0.991, but layer3's Winograd conv2 (no shapes here to skip them) 1.035 in both orders (not
# understood: exact int16 sums whatever the order), loading +420 ms: so 1 (off)
_QUAD_MAX_TAPS = 1


def _qconv_parts(node, inits, residual=False):
    """(weights, group) of a QLinearConv with constant weights (and no fused residual unless
    residual), else None."""
    if node.op_type != "QLinearConv" or node.domain not in ("", FUSED_DOMAIN):
        return None
    if not residual and len(node.inputs) > 9 and node.inputs[9]:  # its output's order fixed
        return None
    w = inits.get(node.inputs[3])
    if w is None or np.asarray(w).ndim != 4:
        return None
    for i in (4, 5, 8):   # per-tensor or per output channel
        if i < len(node.inputs) and node.inputs[i]:
            v = inits.get(node.inputs[i])
            if v is None or np.asarray(v).size not in (1, w.shape[0]):
                return None
    return np.asarray(w), int(node.attrs.get("group", 1))


def _pair_channels(g, keep):
    """Reorder the channels of the tensors between a convolution and a 1x1 convolution with
    8-bit activations after a ReLU (MobileNetV2's expansion -> depthwise -> projection),
    through depthwise convolutions between them: the first's output channels, the depthwise
    ones' channels and the last's input channels, all by one permutation
    (_kernels.qpair_channels of the last one's weights).  The sums are the same, so are the
    outputs, bit for bit.  U7S8 (csrc/qgemm.c) reads two adjacent input channels as one pair
    whose window (the bytes summed in its main loop, the rest in a correction pass) narrows
    with the pair's largest weights; beside a channel of opposite or small weights most pairs
    take every byte, and the rows need no split.  MobileNetV2 int8's projections on a
    photograph (the calibration's kind of input): 47-97% of the 6-row tiles had a byte
    outside the window, 0-12% after (features.4: 74%; features.14-17's at 7x7 13-100%).
    Measured in one build with this pass on and off (the Xeon, emulated AVX2 1t, 20 rounds,
    thread-CPU step minima summed / whole-run wall, bit-identical): on bench.py's noise 0.980
    / 0.976 [0.971-0.987], on a photograph 0.964 / 0.960 [0.957-0.968], on max(noise, 0)
    0.996 / 0.993 [0.990-0.999]: there its 56x56 projections (96 and 144 -> 24) took 1.12 and
    1.13 of their time, the others 0.88-0.96.  With the pass those two take 104 and 158 us on
    any input (no byte outside their windows); without it 95 and 141 on max(noise, 0) (2.5%
    of the tiles with a byte outside), 111 and 152 on noise (44% and 25%), 112 and 178 on a
    photograph (47% and 72%), features.3's 152 on zeros (none outside): not understood (the
    reordered rows' bytes, or the in-place reads against split copies on this host, whose
    TC_QU7S8_IN_PLACE shares were measured on the Zen 4); not tried yet.
    Tried and left: the pairs themselves matched the same way, two of each 4 channels apart,
    so that the long kernels' paired windows (u7s8_limits) widen too (a numpy model of the
    tiles said 0.8-1.0 of the 4-row tiles of the 14x14 projections would keep them, against
    0.3-0.7): whole runs 0.996, 0.992, 1.001 of the pairs' alone (same build, 20 rounds), level.
    Past _PAIR_MAX_OUTPUTS (ResNet's conv2 -> conv3), and for a 3x3 last convolution
    (conv1 -> conv2: its weights' columns of every tap), the channels go in fours for the
    long kernels' paired widths instead (_kernels.qquad_channels: _QUAD_MIN_K, _QUAD_MAX_TAPS).
    """
    inits = g.initializers
    consumers = g.consumers()
    producers = {o: n for n in g.nodes for o in n.outputs if o}
    now = {}   # id(node) -> the node with its permuted initializers (model nodes stay as read)

    def single(name):
        return name not in keep and len(consumers.get(name, [])) == 1

    def permute(node, slots, perm, axis):
        _permute(inits, producers, now, node, slots, perm, axis)

    for last in list(g.nodes):
        cur = now.get(id(last), last)
        parts = _qconv_parts(cur, inits, residual=True)
        if parts is None or parts[1] != 1:
            continue
        w_last = parts[0]
        k, taps = w_last.shape[1], w_last.shape[2] * w_last.shape[3]
        quads = w_last.shape[0] > _PAIR_MAX_OUTPUTS or taps > 1
        if quads and (k * taps < _QUAD_MIN_K or k % 8 or taps > _QUAD_MAX_TAPS):
            continue
        if not _pairable_reader(cur, w_last, inits):
            continue
        chain, name = [], cur.inputs[0]
        while True:   # back through depthwise convolutions to a convolution of one group
            node = producers.get(name)
            p = None if node is None or not single(name) else \
                _qconv_parts(now.get(id(node), node), inits)
            if p is None or p[0].shape[0] != k:
                chain = None
                break
            chain.append(node)
            if p[1] == 1:
                break
            if p[1] != k or p[0].shape[1] != 1:
                chain = None
                break
            name = node.inputs[0]
        if not chain:
            continue
        w2 = np.ascontiguousarray(w_last.transpose(0, 2, 3, 1).reshape(-1, k))  # every tap's
        perm = _kernels.qquad_channels(w2) if quads else _kernels.qpair_channels(w2, _PAIR_WIDE)
        if np.array_equal(perm, np.arange(k)):
            continue
        for node in chain:   # weights, scales, zero points and bias per output channel
            permute(node, (3, 4, 5, 8), perm, 0)
        permute(last, (3,), perm, 1)
    if now:
        g.nodes = [now.get(id(n), n) for n in g.nodes]


def _pairable_reader(node, w, inits):
    """Whether the QLinearConv node (weights w) reads channels in the order the paired kernels
    want them moved (_pair_channels, _pair_shared_channels): int8 weights of zero point 0, an
    input of one zero point 0 (after a ReLU: the 7-bit window's base 0), 4 channels at least."""
    ins = node.inputs
    wz = inits.get(ins[5]) if len(ins) > 5 and ins[5] else None
    z = inits.get(ins[2]) if ins[2] else None
    return (w.dtype == np.int8 and (wz is None or not np.any(wz)) and w.shape[1] >= 4 and
            z is not None and np.asarray(z).size == 1 and not np.any(z))


def _pair_shared_channels(g, keep):
    """Reorder in pairs (_kernels.qpair_channels of all the readers' weights' columns together)
    the channels of a convolution's output that several 1x1 convolutions read, straight or
    through a MaxPool (channel by channel): ResNet-50's stem -> max pool -> layer1.0's conv1 and
    downsample (K = 64: the 6 x 16 U7S8 kernel over the pair's widths, tinycnn/qdq.py
    _pair_channels' case with more than one reader).  The producer's output channels and the
    readers' input channels move by one permutation: the same sums, the same outputs, bit for
    bit.  Only readers with K < _QUAD_MIN_K (the long kernels' paired widths take fours, as
    _stream_channels), int8 weights of zero point 0 and activations of zero point 0 (after a
    ReLU: the window's base 0), where the order leaves each reader's packed layout
    (_u8s8x2_takes).  On a photograph (numpy, u7s8_windows.py's counts over 6-row tiles) the
    downsample's 4-k groups above its widths 14.0% -> 8.3% of a tile's, its tiles with none
    0.29 -> 0.44 (conv1 5.1% -> 5.9%, 0.41 -> 0.47); on bench.py's noise 4.8% -> 0.7%, 0.45 ->
    0.89 (conv1 1.5% -> 0.5%, 0.78 -> 0.92).  Pairs by conv1's weights alone would leave conv1
    1.4% and the downsample 12.9%; by the downsample's alone 10.6% and 7.2%: both readers'
    together weigh the downsample's four times the columns.  Measured (h48-q, 2026-12-07, the
    Xeon, emulated AVX2, against the base, both orders, bit-identical): qsteps.py --input photo
    1t (16 x 10, step minima) the downsample 0.739 -> 0.699 ms both orders, conv1 level; whole
    runs (ab_threads.py --fifo, 20 x 8) 1t photo 0.999 / 1.001, noise 0.998 / 0.997, 2t photo
    0.995 / 1.001, noise 1.002 / 0.991: 0.04 ms of a 41 ms run, within their noise."""
    inits = g.initializers
    consumers = g.consumers()
    producers = {o: n for n in g.nodes for o in n.outputs if o}
    now = {}
    for pool in g.nodes:
        if pool.op_type != "MaxPool" or pool.domain != "" or not pool.inputs or \
                not pool.outputs or not pool.inputs[0] or not pool.outputs[0] or \
                pool.inputs[0] in keep or pool.outputs[0] in keep or \
                len(consumers.get(pool.inputs[0], [])) != 1:
            continue   # (a malformed node is refused later, by its op's checks)
        made = producers.get(pool.inputs[0])
        if not _stream_producer(made, inits) or (len(made.inputs) > 9 and made.inputs[9]):
            continue
        readers = consumers.get(pool.outputs[0], [])
        ws = []
        for n in readers:
            parts = _qconv_parts(n, inits, residual=True)
            if parts is None or parts[1] != 1 or n.inputs.count(pool.outputs[0]) != 1 or \
                    n.inputs[0] != pool.outputs[0]:
                break
            w = parts[0]
            if w.shape[2] * w.shape[3] != 1 or w.shape[1] >= _QUAD_MIN_K or \
                    not _pairable_reader(n, w, inits):
                break
            ws.append(w.reshape(w.shape[0], -1))
        else:
            if len(ws) < 2:   # one reader: _pair_channels' chains
                continue
            perm = _kernels.qpair_channels(np.ascontiguousarray(np.concatenate(ws)), _PAIR_WIDE)
            if np.array_equal(perm, np.arange(len(perm))) or \
                    any(_u8s8x2_takes(w) != _u8s8x2_takes(w[:, perm]) for w in ws):
                continue
            _permute(inits, producers, now, made, (3, 4, 5, 8), perm, 0)
            for n in readers:
                _permute(inits, producers, now, n, (3,), perm, 1)
    if now:
        g.nodes = [now.get(id(n), n) for n in g.nodes]


def _stream_readers(g, keep, stream, consumers):
    """The readers of a residual stream's tensors, each (node, input slot, axis of that
    input's initializer in the stream's channels): convolutions of one group (their weights'
    input channels), and through a QLinearGlobalAveragePool and a Flatten, QGemm (B's rows or
    columns); None if some reader is anything else (its order unknown) or the pool's or
    Flatten's output is a graph output or read by anything else."""
    inits, out = g.initializers, []

    def only(name, op_type, domain):
        c = consumers.get(name, [])
        ok = name not in stream and name not in keep and len(c) == 1 and \
            c[0].op_type == op_type and c[0].domain == domain and c[0].inputs[0] == name
        return c[0] if ok else None

    for t in stream:
        for c in consumers.get(t, []):
            slots = [i for i, v in enumerate(c.inputs) if v == t]
            parts = _qconv_parts(c, inits, residual=True)
            if parts is not None and slots == [9] and c.outputs[0] in stream:
                continue   # the residual sum of another tensor of the stream
            if parts is not None and slots == [0] and parts[1] == 1:
                out.append((c, 3, 1))
                continue
            if slots != [0] or c.op_type != "QLinearGlobalAveragePool" or c.domain != MS or \
                    c.attrs.get("channels_last", 0):
                return None
            flat = only(c.outputs[0], "Flatten", "")
            gemm = flat and flat.attrs.get("axis", 1) == 1 and only(flat.outputs[0], "QGemm", MS)
            if not gemm or len(gemm.inputs) < 4 or gemm.inputs[3] not in inits or \
                    np.asarray(inits[gemm.inputs[3]]).ndim != 2 or gemm.attrs.get("transA", 0):
                return None
            out.append((gemm, 3, 1 if gemm.attrs.get("transB", 0) else 0))
    return out


# tc_qgemm_choose_format_for (csrc/qgemm.c) packs 8-bit weights as U8S8X2 on AVX2 without VNNI
# where at most _kernels.QGEMM_U8S8X2_MAX_SHARE of their 4-k groups need its corrections, a share
# the channel order moves; after a ReLU a 1x1 convolution then keeps U8S8X2 (qconv._format
# replaces it by U7S8 for larger kernels and long 1x1 ones).  _pair_channels' pairs move it too:
# 16 of MobileNetV2 int8's 1x1 layers (its projections and some expansions) take U8S8X2 in the
# paired order, U7S8 in the file's.  Forced back to U7S8 (h38-q50, 2026-12-05, the Xeon, emulated
# AVX2 1t, one process, photo, 20 x 10 runs, step minima, bit-identical) the steps took 1.005 of
# their time: the 56x56 projections (features.2, .3) 0.90 / 0.94 and features.17's 0.86, the
# others 1.02-1.12; a per-layer choice might take ~0.05 ms (not tried)
def _u8s8x2_takes(w):
    """Whether AVX2 without VNNI packs int8 weights w [N, K] (zero point 0) as U8S8X2"""
    share = _kernels.qgemm_u8s8x2_share(np.ascontiguousarray(w, np.int16))
    return share <= _kernels.QGEMM_U8S8X2_MAX_SHARE


def _stream_producer(node, inits):
    """Whether node is a convolution of one group whose output channels can move (weights and
    parameters per output channel or per tensor, its fused add's per tensor)."""
    parts = None if node is None else _qconv_parts(node, inits, residual=True)
    if parts is None or parts[1] != 1:
        return False
    add = node.inputs[10:16] if len(node.inputs) > 9 and node.inputs[9] else ()
    return all(i in inits and np.asarray(inits[i]).size == 1 for i in add if i)


# Residual streams wider than this keep the file's channel order (_stream_channels): the
# order's search (qquad_channels, quadratic in the channels, over all readers' columns) took
# ResNet-50's session creation from ~0.6 to ~1.0 s with layer3's 1024-channel stream (1024
# channels by 3840 columns), for steps the fours barely moved (layer3's conv1 0.4-9% of steps
# above the paired widths -> 0.1-5%).  Up to 512 (layer1's and layer2's streams; 2026-12-05,
# the Xeon, emulated AVX2 1t, qsteps.py --input photo against main 4474f1a, 16 x 10 runs, both
# orders, step minima, bit-identical): 0.9967 / 0.9996 of the steps' time (all three streams:
# 0.997 / 0.998 above), session creation level with the file's order (min of 5 0.59 against
# 0.66 s on a loaded host; all three 0.93)
_STREAM_MAX_C = 512
# U7S8's window sits around the zero point above this (tc_u7s8_base: zp - 64 > 0)
_MID_ZP = 64


def _stream_channels(g, keep):
    """One channel order per residual stream (a ResNet stage's: the downsample's output and
    every block's conv3 + add output, which the adds tie to one order) in fours for its
    readers' long U7S8 kernels (_kernels.qquad_channels of all their weights' columns
    together): the next blocks' conv1 and the next stage's conv1 and downsample read the
    stream through their paired widths as conv3 reads conv2's output (_pair_channels).  The
    producers' output channels (weights, scales, zero points, bias), the readers' input
    channels and, after the last stage, the classifier's (through the global pool and the
    Flatten) move by one permutation; the adds see both operands in it, so the sums and the
    outputs are the same, bit for bit.  Only streams whose readers are all 1x1 convolutions
    (and the classifier) with K >= _QUAD_MIN_K, K % 8 == 0, int8 weights of zero point 0
    and activations of zero point 0 (after a ReLU: the window's base 0), and where the order
    leaves every reader's packed layout (_u8s8x2_takes), up to _STREAM_MAX_C channels:
    ResNet-50 int8's first two stages, not its third (load time) nor its fourth, nor
    ResNet-18's (3x3 readers).  A stream around a mid-range zero point (MobileNetV2's and
    EfficientNet-B0's linear bottlenecks), whose readers are all 1x1 convolutions there
    (_stream_kind), goes in pairs instead (_kernels.qpair_channels, as _pair_channels):
    U7S8 corrects those readers row by row over the groups outside [base, base + lim], and
    pairs of wide windows with the base centred for the median width (csrc/qgemm.c
    u7s8_mid_base) leave a quarter of those groups (benchmarks/u7s8_bases.py, see there).
    On a photograph (u7s8_steps.py --quads) the 8-k steps above the paired widths fall from
    14-18% to 10-12% of layer1's conv1 and layer2.0's, 27% to 13% of layer2.0's downsample,
    0.4-9% to 0.1-5% of layer2's and layer3's other conv1 and layer3.0's downsample, 6% and
    13% to 4% and 5% of layer4.0's conv1 and downsample.  Measured (h38-q50, 2026-12-05, the
    Xeon, emulated AVX2 1t, qsteps.py --against main 4474f1a, 20 x 10 runs, both orders, step
    minima, bit-identical): the photograph 0.9974 / 0.9980 of the steps' time (40.09 -> 39.98
    ms; the downsamples 0.973, the conv1 layers 0.998), again 0.9961 / 0.9964 (downsamples
    0.972, conv1 0.997), noise 1.0001 / 1.0008;
    quantized_graph 0.17 -> 1.06 s on a loaded host (load 6.5; mostly qquad_channels over
    layer3's readers, 1024 channels by 3840 columns).  With the fourth stage too (its conv1
    readers, 2048 -> 512 at 7x7, and the classifier) those two conv1 took 1.47 and 1.39 of
    their time: their U8S8X2 share fell from 0.29-0.30 to 0.21-0.22, under the format's
    limit, and U8S8X2 replaced U7S8 (0.52 -> 0.74-0.77 ms); hence the layout check."""
    inits = g.initializers
    consumers = g.consumers()
    producers = {o: n for n in g.nodes for o in n.outputs if o}
    root = {}

    def find(t):
        while root.get(t, t) != t:
            t = root[t]
        return t

    for n in g.nodes:   # the tensors an add ties: a fused conv's output and its residual
        if _qconv_parts(n, inits, residual=True) is not None and len(n.inputs) > 9 and \
                n.inputs[9]:
            a, b = find(n.inputs[9]), find(n.outputs[0])
            root.setdefault(n.inputs[9], n.inputs[9])
            root.setdefault(n.outputs[0], n.outputs[0])
            if a != b:
                root[a] = b
    streams = {}
    for t in root:
        streams.setdefault(find(t), []).append(t)
    now = {}
    for stream in streams.values():
        made = [producers.get(t) for t in stream]
        if any(t in keep for t in stream) or not all(_stream_producer(p, inits) for p in made):
            continue
        if _qconv_parts(made[0], inits, residual=True)[0].shape[0] > _STREAM_MAX_C:
            continue   # the order's cost at load (qquad_channels) outweighs it
        readers = _stream_readers(g, keep, set(stream), consumers)
        convs = [n for n, _, _ in readers or () if n.op_type == "QLinearConv"]
        if not convs:
            continue
        ws, kinds = [], set()
        for n in convs:
            w = _qconv_parts(n, inits, residual=True)[0]
            wz = inits.get(n.inputs[5]) if n.inputs[5] else None
            z = inits.get(n.inputs[2]) if n.inputs[2] else None
            if (w.dtype != np.int8 or (wz is not None and np.any(wz)) or z is None or
                    np.asarray(z).size != 1):
                break
            kinds.add(_stream_kind(w, z))
            if None in kinds or len(kinds) > 1:
                break
            ws.append(w.transpose(0, 2, 3, 1).reshape(-1, w.shape[1]))  # a tap: columns
        else:
            order = _kernels.qquad_channels if kinds == {"quads"} else _kernels.qpair_channels
            perm = order(np.ascontiguousarray(np.concatenate(ws)))
            if np.array_equal(perm, np.arange(len(perm))) or \
                    any(_u8s8x2_takes(w) != _u8s8x2_takes(w[:, perm]) for w in ws):
                continue
            for p in made:   # weights, scales, zero points and bias per output channel
                _permute(inits, producers, now, p, (3, 4, 5, 8), perm, 0)
            for n, slot, axis in readers:
                _permute(inits, producers, now, n, (slot,), perm, axis)
    if now:
        g.nodes = [now.get(id(n), n) for n in g.nodes]


def _stream_kind(w, z):
    """How a stream's reader (int8 weights w of zero point 0, its input's zero point z) wants
    the channels: "quads" for the long kernels' paired widths after a ReLU (zero point 0,
    K >= _QUAD_MIN_K, K % 8 == 0), "pairs" for the pair's widths of a 1x1 convolution's
    window around a mid-range zero point (a uint8 input above _MID_ZP: MobileNetV2's and
    EfficientNet-B0's expansions), else None."""
    zp, taps = int(np.asarray(z).reshape(-1)[0]), w.shape[2] * w.shape[3]
    if zp == 0:
        ok = taps <= _QUAD_MAX_TAPS and w.shape[1] >= _QUAD_MIN_K and w.shape[1] % 8 == 0
        return "quads" if ok else None
    return "pairs" if taps == 1 and np.asarray(z).dtype == np.uint8 and zp > _MID_ZP else None


def _permute(inits, taken, now, node, slots, perm, axis):
    """now[id(node)]: node (as now holds it) with its initializers at input slots taken along
    axis by perm, as new initializers (the old ones may have other readers; names not in
    taken); scalars stay."""
    n = now.get(id(node), node)
    ins = list(n.inputs)
    for i in slots:
        if i < len(ins) and ins[i]:
            v = np.asarray(inits[ins[i]])
            if v.size > 1:
                ins[i] = _add_init(inits, ins[i] + "_paired",
                                   np.ascontiguousarray(np.take(v, perm, axis=axis)), taken)
    now[id(node)] = dataclasses.replace(n, inputs=ins)


def _add_init(inits, name, array, taken=()):
    """array as a new initializer named name (plus "_" until no initializer nor a name in
    taken has it); returns the name."""
    while name in inits or name in taken:
        name += "_"
    inits[name] = array
    return name


# ---- checks ----------------------------------------------------------------------------

def _check(g, source):
    """Constant parameters of QuantizeLinear/DequantizeLinear: positive finite scales, zero
    points of the tensor's type, per-axis sizes; the element type a DequantizeLinear reads
    is the one its QuantizeLinear writes."""
    producers = {o: n for n in g.nodes for o in n.outputs if o}
    inits = g.initializers
    for n in g.nodes:
        if n.domain != "" or n.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        where = f"{source}: {n.describe()}"
        scale = inits.get(n.inputs[1]) if len(n.inputs) > 1 else None
        zp = inits.get(n.inputs[2]) if len(n.inputs) > 2 and n.inputs[2] else None
        if scale is not None:
            s = np.asarray(scale)
            if s.dtype.kind != "f":
                raise InvalidModel(f"{where}: scale {n.inputs[1]!r} has type {s.dtype}")
            bad = ~(np.isfinite(s) & (s > 0))
            if bad.any():
                raise InvalidModel(f"{where}: scale {n.inputs[1]!r} must be positive and finite, "
                                   f"got {s[bad].reshape(-1)[:4].tolist()}")
            if zp is not None and np.asarray(zp).size != s.size:
                raise InvalidModel(f"{where}: zero point {n.inputs[2]!r} has {np.asarray(zp).size} "
                                   f"values but scale {n.inputs[1]!r} has {s.size}")
        if n.op_type == "DequantizeLinear":
            x = inits.get(n.inputs[0])
            if zp is not None and x is not None and np.asarray(zp).dtype != x.dtype:
                raise InvalidModel(f"{where}: zero point {n.inputs[2]!r} has type "
                                   f"{np.asarray(zp).dtype} but the tensor {n.inputs[0]!r} is "
                                   f"{x.dtype}")
            if x is not None and scale is not None and np.asarray(scale).size > 1 and x.ndim:
                axis = int(n.attrs.get("axis", 1))
                if not -x.ndim <= axis < x.ndim or np.asarray(scale).size != x.shape[axis]:
                    raise InvalidModel(
                        f"{where}: per-axis scale {n.inputs[1]!r} has {np.asarray(scale).size} "
                        f"values; axis {axis} of {n.inputs[0]!r} {x.shape} needs "
                        f"{x.shape[axis] if -x.ndim <= axis < x.ndim else 'a valid axis'}")
            q = producers.get(n.inputs[0])
            if q is not None and q.op_type == "QuantizeLinear" and q.domain == "":
                qt = _q_type(q, inits)
                if qt is not None and zp is not None and np.asarray(zp).dtype != qt:
                    raise InvalidModel(
                        f"{where}: reads {n.inputs[0]!r} as {np.asarray(zp).dtype} (its zero "
                        f"point's type) but {q.describe()} writes it as {qt}")


def _q_type(q, inits):
    """The element type a QuantizeLinear writes, when known at load."""
    if len(q.inputs) > 2 and q.inputs[2]:
        z = inits.get(q.inputs[2])
        return None if z is None else np.asarray(z).dtype
    t = int(q.attrs.get("output_dtype", 0))
    return {0: np.dtype(np.uint8), 2: np.dtype(np.uint8), 3: np.dtype(np.int8)}.get(t)


# ---- rewriting ----------------------------------------------------------------------------

class _Rewriter:
    def __init__(self, g, keep, source):
        self.g = g
        self.keep = keep
        self.source = source
        self.inits = g.initializers
        self.producers = {o: n for n in g.nodes for o in n.outputs if o}
        self.consumers = g.consumers()
        self.replaced = {}   # id(node) -> new node, or None to drop

    def run(self):
        g = self.g
        handlers = {"Conv": self._conv, "Gemm": self._gemm, "MatMul": self._matmul,
                    "Add": self._binary, "Mul": self._binary,
                    "GlobalAveragePool": self._gap, "AveragePool": self._avgpool,
                    "Sigmoid": self._unary, "LeakyRelu": self._unary, "Concat": self._concat}
        for node in list(g.nodes):
            if node.domain != "" or id(node) in self.replaced:
                continue
            h = handlers.get(node.op_type)
            if h is None and node.op_type in _SAME_SCALE_OPS:
                h = self._same_scale
            if h is not None:
                h(node)
        if not self.replaced:
            return
        g.nodes = [self.replaced.get(id(n), n) for n in g.nodes
                   if self.replaced.get(id(n), n) is not None]
        g.opsets.setdefault(MS, 1)
        self._drop_dead()

    def _drop_dead(self):
        """Remove nodes none of whose outputs is used (the absorbed DequantizeLinears)."""
        g = self.g
        while True:
            used = {i for n in g.nodes for i in n.inputs if i} | set(self.keep)
            kept = [n for n in g.nodes if any(o and o in used for o in n.outputs)]
            if len(kept) == len(g.nodes):
                return
            g.nodes = kept

    # -- pattern pieces ---------------------------------------------------------------------
    def _const(self, name):
        return self.inits.get(name) if name else None

    def _dq(self, name, per_tensor=True):
        """(x_q, scale, zero point) names when `name` is a DequantizeLinear's output with
        constant parameters (per tensor unless per_tensor=False)."""
        d = self.producers.get(name)
        if d is None or d.op_type != "DequantizeLinear" or d.domain != "" or len(d.inputs) < 3:
            return None
        s, z = self._const(d.inputs[1]), self._const(d.inputs[2])
        if s is None or z is None or np.asarray(z).dtype not in _Q8 and not (
                np.asarray(z).dtype == np.int32 and not per_tensor):
            return None
        if per_tensor and np.asarray(s).size != 1:
            return None
        return d.inputs[0], d.inputs[1], d.inputs[2], d

    def _only_consumer(self, name):
        if name in self.keep:
            return None
        c = self.consumers.get(name, [])
        return c[0] if len(c) == 1 and id(c[0]) not in self.replaced else None

    def _q(self, name):
        """(QuantizeLinear node, scale, zero point) when name's only consumer quantizes it
        per tensor with constant parameters."""
        q = self._only_consumer(name)
        if q is None or q.op_type != "QuantizeLinear" or q.domain != "" or len(q.inputs) < 3:
            return None
        s, z = self._const(q.inputs[1]), self._const(q.inputs[2])
        if s is None or z is None or np.asarray(s).size != 1 or np.asarray(z).dtype not in _Q8:
            return None
        return q, q.inputs[1], q.inputs[2]

    def _new(self, node, op_type, domain, inputs, outputs, attrs, absorbed):
        fused = Node(node.name, op_type, domain, inputs, outputs, attrs, node.index)
        fused.label = op_type
        for a in absorbed[:-1]:
            self.replaced[id(a)] = None
        self.replaced[id(absorbed[-1])] = fused
        return fused

    def _zp_type(self, name):
        return np.asarray(self.inits[name]).dtype

    def _add_init(self, name, array):
        return _add_init(self.inits, name, array, self.producers)

    # -- Conv ------------------------------------------------------------------------------
    def _activation(self, out):
        """Relu or Clip consuming `out` alone: (node, clip_min, clip_max), else None."""
        a = self._only_consumer(out)
        if a is None or a.domain != "":
            return None
        if a.op_type == "Relu":
            return a, 0.0, None
        if a.op_type == "Clip":
            lo, hi = a.attrs.get("min"), a.attrs.get("max")
            for i, slot in ((1, "lo"), (2, "hi")):
                if len(a.inputs) > i and a.inputs[i]:
                    v = self._const(a.inputs[i])
                    if v is None:
                        return None
                    if slot == "lo":
                        lo = float(np.asarray(v).reshape(-1)[0])
                    else:
                        hi = float(np.asarray(v).reshape(-1)[0])
            return a, lo, hi
        return None

    def _bias(self, name, x_scale, w_scale, factor=1.0):
        """An int32 bias for the integer op: the DequantizeLinear's input when its scale is
        x_scale * w_scale (as quantizers make it), else re-quantized to that scale."""
        d = self._dq(name, per_tensor=False)
        if d is None:
            return None
        b_q, b_s, b_z, _ = d
        bq, bs, bz = self._const(b_q), self._const(b_s), self._const(b_z)
        if bq is None or bq.dtype != np.int32 or np.any(bz):
            return None
        want = (np.float32(factor) * np.float32(x_scale) * np.asarray(w_scale, np.float32)).reshape(-1)
        have = np.broadcast_to(np.asarray(bs, np.float32).reshape(-1), want.shape)
        if np.allclose(have, want, rtol=1e-6, atol=0):
            return b_q
        real = bq.astype(np.float64) * np.broadcast_to(have, bq.shape)
        requant = np.clip(np.rint(real / want.astype(np.float64)), -2 ** 31, 2 ** 31 - 1)
        return self._add_init(f"{b_q}_requantized", requant.astype(np.int32))

    def _conv(self, conv):
        if len(conv.inputs) < 2:
            return
        x = self._dq(conv.inputs[0])
        w = self._dq(conv.inputs[1], per_tensor=False)
        if x is None or w is None or self._const(w[0]) is None:
            return
        w_scale = self._const(w[1])
        if np.asarray(w_scale).size > 1 and int(w[3].attrs.get("axis", 1)) != 0:
            return
        out, absorbed, clip = conv.outputs[0], [conv], None
        act = self._activation(out)
        if act is not None:
            clip = act[1:]
            absorbed.append(act[0])
            out = act[0].outputs[0]
        q = self._q(out)
        if q is None:
            return
        bias = ""
        if len(conv.inputs) > 2 and conv.inputs[2]:
            bias = self._bias(conv.inputs[2], self._const(x[1]).reshape(-1)[0], w_scale)
            if bias is None:
                return
        absorbed.append(q[0])
        inputs = [x[0], x[1], x[2], w[0], w[1], w[2], q[1], q[2]] + ([bias] if bias else [])
        if clip is None:
            self._new(conv, "QLinearConv", "", inputs, [q[0].outputs[0]], dict(conv.attrs),
                      absorbed)
        else:
            attrs = dict(conv.attrs)
            if clip[0] is not None:
                attrs["clip_min"] = clip[0]
            if clip[1] is not None:
                attrs["clip_max"] = clip[1]
            f = self._new(conv, "QLinearConv", FUSED_DOMAIN, inputs, [q[0].outputs[0]], attrs,
                          absorbed)
            f.label = f"QLinearConv+{act[0].op_type}"

    # -- Gemm, MatMul ----------------------------------------------------------------------
    def _gemm(self, gemm):
        if len(gemm.inputs) < 2 or gemm.attrs.get("transA", 0):
            return
        a = self._dq(gemm.inputs[0])
        b = self._dq(gemm.inputs[1], per_tensor=False)
        if a is None or b is None or self._const(b[0]) is None:
            return
        alpha = float(gemm.attrs.get("alpha", 1.0))
        trans_b = int(gemm.attrs.get("transB", 0))
        b_scale = self._const(b[1])
        if np.asarray(b_scale).size > 1 and int(b[3].attrs.get("axis", 1)) != (0 if trans_b else 1):
            return
        q = self._q(gemm.outputs[0])
        if q is None:
            return
        c = ""
        if len(gemm.inputs) > 2 and gemm.inputs[2]:
            if float(gemm.attrs.get("beta", 1.0)) != 1.0:
                return
            c = self._bias(gemm.inputs[2], self._const(a[1]).reshape(-1)[0], b_scale, alpha)
            if c is None:
                return
        self._new(gemm, "QGemm", MS, [a[0], a[1], a[2], b[0], b[1], b[2], c, q[1], q[2]],
                  [q[0].outputs[0]], {"alpha": alpha, "transB": trans_b}, [gemm, q[0]])

    def _matmul(self, mm):
        a, b = self._dq(mm.inputs[0]), self._dq(mm.inputs[1], per_tensor=False)
        if a is None or b is None:
            return
        if np.asarray(self._const(b[1])).size > 1 and (
                self._const(b[0]) is None or int(b[3].attrs.get("axis", 1)) != self._const(b[0]).ndim - 1):
            return
        q = self._q(mm.outputs[0])
        if q is None:
            return
        self._new(mm, "QLinearMatMul", "", [a[0], a[1], a[2], b[0], b[1], b[2], q[1], q[2]],
                  [q[0].outputs[0]], {}, [mm, q[0]])

    # -- element-wise and pools ------------------------------------------------------------
    def _binary(self, node):
        if len(node.inputs) != 2:
            return
        a, b = self._dq(node.inputs[0]), self._dq(node.inputs[1])
        q = self._q(node.outputs[0])
        if a is None or b is None or q is None:
            return
        if not self._zp_type(a[2]) == self._zp_type(b[2]) == self._zp_type(q[2]):
            return
        self._new(node, f"QLinear{node.op_type}", MS,
                  [a[0], a[1], a[2], b[0], b[1], b[2], q[1], q[2]], [q[0].outputs[0]], {},
                  [node, q[0]])

    def _unary(self, node):
        x, q = self._dq(node.inputs[0]), self._q(node.outputs[0])
        if x is None or q is None or self._zp_type(x[2]) != self._zp_type(q[2]):
            return
        attrs = {"alpha": node.attrs.get("alpha", 0.01)} if node.op_type == "LeakyRelu" else {}
        self._new(node, f"QLinear{node.op_type}", MS, [x[0], x[1], x[2], q[1], q[2]],
                  [q[0].outputs[0]], attrs, [node, q[0]])

    def _gap(self, node):
        x, q = self._dq(node.inputs[0]), self._q(node.outputs[0])
        if x is None or q is None or self._zp_type(x[2]) != self._zp_type(q[2]):
            return
        self._new(node, "QLinearGlobalAveragePool", MS, [x[0], x[1], x[2], q[1], q[2]],
                  [q[0].outputs[0]], {"channels_last": 0}, [node, q[0]])

    def _avgpool(self, node):
        if any(d != 1 for d in node.attrs.get("dilations", [])):
            return
        x, q = self._dq(node.inputs[0]), self._q(node.outputs[0])
        if x is None or q is None or self._zp_type(x[2]) != self._zp_type(q[2]):
            return
        attrs = {k: v for k, v in node.attrs.items() if k != "dilations"}
        self._new(node, "QLinearAveragePool", MS, [x[0], x[1], x[2], q[1], q[2]],
                  [q[0].outputs[0]], attrs, [node, q[0]])

    def _concat(self, node):
        xs = [self._dq(i) for i in node.inputs]
        q = self._q(node.outputs[0])
        if q is None or not xs or any(x is None for x in xs):
            return
        if any(self._zp_type(x[2]) != self._zp_type(q[2]) for x in xs):
            return
        ins = [q[1], q[2]] + [name for x in xs for name in x[:3]]
        self._new(node, "QLinearConcat", MS, ins, [q[0].outputs[0]],
                  {"axis": node.attrs.get("axis", 1)}, [node, q[0]])

    def _same_scale(self, node):
        """An op that moves values (MaxPool, Reshape...) between a DequantizeLinear and a
        QuantizeLinear of the same parameters runs on the 8-bit tensor."""
        if not node.inputs or len([o for o in node.outputs if o]) != 1:
            return
        x, q = self._dq(node.inputs[0]), self._q(node.outputs[0])
        if x is None or q is None:
            return
        same = (np.array_equal(np.asarray(self._const(x[1]), np.float32).reshape(-1),
                               np.asarray(self._const(q[1]), np.float32).reshape(-1))
                and self._zp_type(x[2]) == self._zp_type(q[2])
                and np.array_equal(self._const(x[2]), self._const(q[2])))
        if not same:
            return
        f = self._new(node, node.op_type, "", [x[0]] + list(node.inputs[1:]), [q[0].outputs[0]],
                      dict(node.attrs), [node, q[0]])
        f.label = node.op_type

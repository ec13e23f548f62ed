"""Static quantization to QDQ: the library behind `tinycnn quantize`.

    q = quantize_qdq(onnx_model, calibration_feeds, method="minmax" | "percentile")
    loss = accuracy_loss(onnx_model, q, feeds)

The float model runs in tinycnn on the calibration feeds with every float tensor made a
graph output; each tensor's range (min-max over all feeds, or the mean over feeds of the
low/high percentiles) gives it a uint8 scale and zero point (the range widened to hold 0).
The result is the QDQ form onnxruntime's own tool writes, so both engines run it:
  - weights of Conv and Gemm: int8, symmetric per output channel (scale max|w| / 127, values
    in [-127, 127]) behind a per-axis DequantizeLinear; their biases int32 with scale
    x_scale * w_scale, zero point 0;
  - every float activation (graph inputs, node outputs) a QuantizeLinear -> DequantizeLinear
    pair, except a Conv/Gemm output whose only reader is a Relu or Clip (the activation's
    output is quantized instead, so the pair fuses into the integer convolution), and the
    outputs of MaxPool, Flatten, Reshape, Transpose, Squeeze and Unsqueeze, which keep their
    input's parameters (they run on the bytes).
Only numpy and onnx: calibration runs on tinycnn itself.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .errors import InvalidArgument

METHODS = ("minmax", "percentile")
_SAME_SCALE = ("MaxPool", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze")
_ACTIVATIONS = ("Relu", "Clip")


def _float_tensors(model):
    """Names of the float activations: graph inputs and the node outputs computed from them,
    of type float32 (from shape inference), in graph order."""
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type
             for v in list(inferred.graph.value_info) + list(inferred.graph.input)
             + list(inferred.graph.output)}
    inits = {i.name for i in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in inits]
    dynamic = set(names)   # computed from the inputs (not constants such as Clip's bounds)
    for n in model.graph.node:
        if any(i in dynamic for i in n.input):
            dynamic.update(o for o in n.output if o)
            names += [o for o in n.output if o]
    return [n for n in names if types.get(n) == TensorProto.FLOAT]


def calibrate(model, feeds, method="minmax", percentile=99.99):
    """{tensor: (low, high)} of every float activation over the feeds (a list of {input: array})."""
    from .session import InferenceSession
    if method not in METHODS:
        raise InvalidArgument(f"calibration method must be one of {METHODS}, got {method!r}")
    if not 50 < percentile <= 100:
        raise InvalidArgument(f"percentile must be in (50, 100], got {percentile}")
    if not feeds:
        raise InvalidArgument("calibration needs at least one input")
    names = _float_tensors(model)
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    outs = {o.name for o in probe.graph.output}
    for n in names:
        if n not in outs:
            probe.graph.output.append(helper.make_tensor_value_info(n, TensorProto.FLOAT, None))
    sess = InferenceSession(probe.SerializeToString())
    lows, highs = {n: [] for n in names}, {n: [] for n in names}
    for feed in feeds:
        for n, v in zip(names, sess.run(names, feed)):
            v = np.asarray(v, np.float32).ravel()
            v = v[np.isfinite(v)]
            if v.size == 0:
                continue
            if method == "minmax":
                lows[n].append(float(v.min()))
                highs[n].append(float(v.max()))
            else:
                lo, hi = np.percentile(v, [100 - percentile, percentile])
                lows[n].append(float(lo))
                highs[n].append(float(hi))
    if method == "minmax":
        return {n: (min(lows[n], default=0.0), max(highs[n], default=0.0)) for n in names}
    return {n: (float(np.mean(lows[n])) if lows[n] else 0.0,
                float(np.mean(highs[n])) if highs[n] else 0.0) for n in names}


def activation_params(low, high):
    """uint8 (scale, zero point) of a range, widened to hold 0 (so padding and ReLU are exact)."""
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    scale = np.float32((high - low) / 255.0)
    if not scale > 0 or not np.isfinite(scale):
        return np.float32(1.0), np.uint8(0)
    zp = int(np.clip(np.rint(-low / scale), 0, 255))
    return scale, np.uint8(zp)


WEIGHT_BITS = (8, 7)


def weight_params(w, axis, bits=8):
    """int8 symmetric per-channel quantization of w along axis: (q, scales).  bits=8: codes in
    [-127, 127]; bits=7: in [-64, 64], as onnxruntime's reduce_range, so that no two codes'
    magnitudes sum past 128 and AVX2 without VNNI multiplies them by vpmaddubsw alone, exactly
    (255 * 128 fits a 16-bit pair sum), at half the weight resolution."""
    if bits not in WEIGHT_BITS:
        raise InvalidArgument(f"weight bits must be one of {WEIGHT_BITS}, got {bits!r}")
    top = 127.0 if bits == 8 else 64.0
    moved = np.moveaxis(np.asarray(w, np.float32), axis, 0).reshape(w.shape[axis], -1)
    scale = (np.abs(moved).max(axis=1) / np.float32(top)).astype(np.float32)
    scale[~(scale > 0)] = 1.0
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.rint(w / scale.reshape(shape)), -top, top).astype(np.int8)
    return q, scale


class _Builder:
    def __init__(self, model):
        self.model = model
        self.g = model.graph
        self.inits = {i.name: i for i in self.g.initializer}
        self.new_inits = []
        self.new_nodes = {}   # index of the node before which to insert -> [nodes]
        self.taken = {i.name for i in self.g.initializer} | {o for n in self.g.node for o in n.output}

    def fresh(self, base):
        name, k = base, 0
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name

    def const(self, base, array):
        name = self.fresh(base)
        self.new_inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name


def quantize_qdq(model, feeds, method="minmax", percentile=99.99, weight_bits=8):
    """A QDQ copy of the float ONNX `model` (a ModelProto), calibrated on `feeds`; weights
    quantized to weight_bits (8, or 7: see weight_params)."""
    if weight_bits not in WEIGHT_BITS:
        raise InvalidArgument(f"weight bits must be one of {WEIGHT_BITS}, got {weight_bits!r}")
    if not isinstance(model, onnx.ModelProto):
        raise InvalidArgument(f"quantize_qdq needs an onnx.ModelProto, got {type(model).__name__}")
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset < 13:
        raise InvalidArgument(f"per-channel QDQ needs opset >= 13 (DequantizeLinear's axis); "
                              f"the model imports opset {opset}")
    ranges = calibrate(model, feeds, method, percentile)
    q = onnx.ModelProto()
    q.CopyFrom(model)
    g = q.graph
    # Constant nodes become initializers (Clip's bounds: the QDQ pass reads them as constants).
    consts = [n for n in g.node if n.op_type == "Constant" and len(n.attribute) == 1
              and n.attribute[0].name == "value"]
    for n in consts:
        t = onnx.TensorProto()
        t.CopyFrom(n.attribute[0].t)
        t.name = n.output[0]
        g.initializer.append(t)
        g.node.remove(n)
    b = _Builder(q)
    readers = {}
    for n in g.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    graph_outputs = {o.name for o in g.output}
    params = {}   # activation -> (scale name, zero point name)

    # Which activations get their own parameters, which share their input's.
    order = list(ranges)
    producer = {o: n for n in g.node for o in n.output}
    values = {}   # activation -> (scale, zero point) as numbers
    for name in order:
        p = producer.get(name)
        if p is not None and p.op_type in _SAME_SCALE and p.input[0] in params:
            params[name], values[name] = params[p.input[0]], values[p.input[0]]
            continue
        values[name] = activation_params(*ranges[name])
        params[name] = (b.const(name + "_scale", values[name][0]),
                        b.const(name + "_zero_point", values[name][1]))

    # Weights and biases of Conv and Gemm (before the activations are renamed).
    weight_dq = []
    for n in g.node:
        if n.op_type not in ("Conv", "Gemm") or len(n.input) < 2 or n.input[1] not in b.inits:
            continue
        w = numpy_helper.to_array(b.inits[n.input[1]]).astype(np.float32)
        axis = 0
        if n.op_type == "Gemm":
            if w.ndim != 2:
                continue
            axis = 0 if next((a.i for a in n.attribute if a.name == "transB"), 0) else 1
        qw, ws = weight_params(w, axis, weight_bits)
        wd = b.fresh(n.input[1] + "_dequantized")
        weight_dq.append(helper.make_node(
            "DequantizeLinear", [b.const(n.input[1] + "_quantized", qw),
                                 b.const(n.input[1] + "_scale", ws),
                                 b.const(n.input[1] + "_zero_point", np.zeros(ws.shape, np.int8))],
            [wd], name=wd, axis=axis))
        if len(n.input) > 2 and n.input[2] in b.inits and n.input[0] in values:
            bias = numpy_helper.to_array(b.inits[n.input[2]]).astype(np.float32)
            bs = (values[n.input[0]][0] * ws).astype(np.float32)
            qb = np.clip(np.rint(bias / bs), -2**31, 2**31 - 1).astype(np.int32)
            bd = b.fresh(n.input[2] + "_dequantized")
            weight_dq.append(helper.make_node(
                "DequantizeLinear", [b.const(n.input[2] + "_quantized", qb),
                                     b.const(n.input[2] + "_scale", bs),
                                     b.const(n.input[2] + "_zero_point", np.zeros(bs.shape, np.int32))],
                [bd], name=bd, axis=0))
            n.input[2] = bd
        n.input[1] = wd

    def fused_away(name):
        """A Conv/Gemm output read only by a Relu/Clip: the activation's output carries the pair."""
        p, rs = producer.get(name), readers.get(name, [])
        return (p is not None and p.op_type in ("Conv", "Gemm") and len(rs) == 1
                and rs[0].op_type in _ACTIVATIONS and name not in graph_outputs)

    # Q -> DQ after each activation.  Readers switch to the DQ's output; a graph output keeps
    # its name (its producer writes `<name>_float`, the DQ writes the name).
    renames, after = {}, {}
    for name in order:
        if fused_away(name):
            continue
        s, z = params[name]
        qn = b.fresh(name + "_quantized")
        src, dqn = name, b.fresh(name + "_dequantized")
        if name in graph_outputs and name in producer:
            src, dqn = b.fresh(name + "_float"), name
            out = producer[name].output
            out[list(out).index(name)] = src
        else:
            renames[name] = dqn
        after[src] = [helper.make_node("QuantizeLinear", [src, s, z], [qn], name=qn),
                      helper.make_node("DequantizeLinear", [qn, s, z], [dqn], name=dqn)]
    for n in g.node:
        for k, i in enumerate(n.input):
            if i in renames:
                n.input[k] = renames[i]

    # Node order: weight DQs first, each pair right after its tensor's producer.
    nodes = list(weight_dq)
    for name in [i.name for i in g.input]:
        nodes += after.pop(name, [])
    for n in g.node:
        nodes.append(n)
        for o in n.output:
            nodes += after.pop(o, [])
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(b.new_inits)
    used = {i for n in g.node for i in n.input}
    keep = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    onnx.checker.check_model(q)
    return q


def accuracy_loss(float_model, quant_model, feeds):
    """How far the quantized model's first output is from the float model's, both run by
    tinycnn, over feeds: top-1 agreement (for [N, classes] outputs), and the largest and mean
    absolute difference relative to each feed's float output range."""
    from .session import InferenceSession
    fs = InferenceSession(float_model.SerializeToString())
    qs = InferenceSession(quant_model.SerializeToString())
    agree, worst, mean = [], [], []
    for feed in feeds:
        f = np.asarray(fs.run(None, feed)[0], np.float64)
        q = np.asarray(qs.run(None, feed)[0], np.float64)
        span = float(f.max() - f.min()) or 1.0
        worst.append(float(np.abs(q - f).max()) / span)
        mean.append(float(np.abs(q - f).mean()) / span)
        if f.ndim == 2:
            agree.extend((f.argmax(1) == q.argmax(1)).tolist())
    return {"images": len(feeds), "top1_agreement": float(np.mean(agree)) if agree else None,
            "max_error_of_range": max(worst), "mean_error_of_range": float(np.mean(mean))}

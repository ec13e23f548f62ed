"""What a model computes, node by node: output shapes, parameters, MACs, receptive fields, memory.

Read from tinycnn's own planning, not from a second graph walker: the model is planned at
ORT_DISABLE_ALL (every ONNX node kept, nothing fused; Identity and Dropout are aliases, not
nodes) for the given input shapes.  Each node's `NodeRecord` gives its input and output Values;
its MACs come from its registration's `cost`, its receptive field from the registration's
`window`, and the peak memory from the lifetimes of the plan's own buffers.

What counts as a MAC (one multiply-accumulate) is each op's business (tinycnn/ops):
Conv N*K*(C/group)*KH*KW*OH*OW, Gemm M*N*K, MatMul batch*M*N*K; pooling, activations and
element-wise ops count none (their cost is memory traffic).  FLOPs = 2 x MACs.  A node whose
inputs are all known at plan time (shape arithmetic, constants) runs once, when planning, and
counts no MACs.

    from tinycnn.analysis import analyze
    a = analyze("resnet18.onnx")              # batch 1, symbolic spatial dims 224
    a.params, a.macs, a.peak_activation_bytes
    [(layer.name, layer.out_shape, layer.macs, layer.rf) for layer in a.layers]
"""
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Dict, List, Optional, Tuple

import numpy as np

from . import _kernels
from .errors import InvalidArgument
from .graph import prepare
from .ir import PlanOptions
from .limits import DEFAULT as DEFAULT_LIMITS
from .loader import Model, load_model
from .ops import lookup
from .planner import Planner
from .session import GraphOptimizationLevel, default_num_threads

DEFAULT_SPATIAL = 224   # a symbolic height or width falls back to this
DEFAULT_CHANNELS = 3    # a symbolic channel count of an [N, C, H, W] input


@dataclass
class Tensor:
    name: str
    shape: List[int]
    dtype: np.dtype


@dataclass
class Layer:
    """One node of the model as planned.

    params: elements of the floating-point initializers (and Constant nodes) it reads, each
    counted at its first reader.  rf / jump: receptive field and distance between neighbouring
    outputs, per spatial dim, in input pixels (None where no image reaches the node; jump None
    once the spatial dims are gone).  window: the registration's (span, stride) per spatial dim,
    None for ops without one.  constant: its outputs are known at plan time (shape arithmetic,
    constants): it ran once, when planning.  steps: kernel calls per run.
    """
    name: str
    op: str
    domain: str
    attrs: dict
    inputs: List[Optional[Tensor]]
    outputs: List[Optional[Tensor]]
    params: int = 0
    macs: int = 0
    rf: Optional[tuple] = None
    jump: Optional[tuple] = None
    window: Optional[list] = None
    constant: bool = False
    steps: int = 0

    @property
    def out_shape(self) -> Optional[List[int]]:
        return self.outputs[0].shape if self.outputs and self.outputs[0] is not None else None


@dataclass
class Analysis:
    layers: List[Layer] = field(default_factory=list)
    input_shapes: Dict[str, List[int]] = field(default_factory=dict)
    params: int = 0
    weight_bytes: int = 0
    macs: int = 0
    peak_activation_bytes: int = 0
    opsets: Dict[str, int] = field(default_factory=dict)
    producer: str = ""

    def macs_by_node(self) -> Dict[str, int]:
        return {layer.name: layer.macs for layer in self.layers}


def default_shape(dims, batch: int = 1) -> List[int]:
    """A concrete shape for declared dims (ints, or strings / None for symbolic ones): the batch
    first, 3 channels for an [N, C, H, W] input, 224 for the other dims."""
    out = []
    for i, d in enumerate(dims):
        if isinstance(d, int) and d > 0:
            out.append(d)
        elif i == 0:
            out.append(batch)
        elif i == 1 and len(dims) == 4:
            out.append(DEFAULT_CHANNELS)
        else:
            out.append(DEFAULT_SPATIAL)
    return out


def analyze(model, input_shapes: Optional[Dict[str, List[int]]] = None, base_dir=None) -> Analysis:
    """Analyse `model` (a path, bytes, onnx.ModelProto or a loaded tinycnn.loader.Model) for
    `input_shapes` ({input name: dims}; inputs not named get `default_shape` at batch 1).
    Raises what InferenceSession would: tinycnn's errors name the file, node and shapes."""
    if not isinstance(model, Model):
        model = load_model(model, base_dir, DEFAULT_LIMITS)
    shapes = {}
    for v in model.inputs:
        if input_shapes and v.name in input_shapes:
            shapes[v.name] = [int(d) for d in input_shapes[v.name]]
        elif v.dims is None:
            raise InvalidArgument(f"{model.source}: input {v.name!r} declares no shape; give one")
        else:
            shapes[v.name] = default_shape(v.dims)
    unknown = set(input_shapes or ()) - set(shapes)
    if unknown:
        raise InvalidArgument(f"{model.source}: no input named {sorted(unknown)} "
                              f"(inputs: {', '.join(shapes)})")
    graph, plan = _plan(model, shapes)

    result = Analysis(input_shapes=shapes, producer=" ".join(
        x for x in (model.producer, model.producer_version) if x))
    result.opsets = {(d or "ai.onnx"): v for d, v in model.opsets.items()}
    params = _parameters(graph, plan.records)
    rf = {name: ((1,) * (len(s) - 2), (1,) * (len(s) - 2)) for name, s in shapes.items()
          if len(s) >= 3}
    for rec in plan.records:
        node = rec.node
        if node.op_type == "Constant" and node.domain == "":
            continue  # its value is a parameter (or shape arithmetic) of the nodes reading it
        layer = Layer(node.name, node.op_type, node.domain, dict(node.attrs),
                      [_tensor(v) for v in rec.inputs], [_tensor(v) for v in rec.outputs],
                      steps=rec.end_step - rec.first_step)
        layer.constant = all(v.const is not None for v in rec.outputs if v is not None)
        layer.macs = rec.macs if layer.steps else 0
        layer.params, nbytes = params.get(id(rec), (0, 0))
        result.weight_bytes += nbytes
        opdef = lookup(node.domain, node.op_type, graph.opsets.get(node.domain, 1))
        if opdef is not None and opdef.window is not None:
            layer.window = opdef.window(rec.inputs, rec.outputs, **node.attrs)
        _receptive_field(layer, rec, rf)
        result.layers.append(layer)
    result.params = sum(layer.params for layer in result.layers)
    result.macs = sum(layer.macs for layer in result.layers)
    result.peak_activation_bytes = peak_live_bytes(plan)
    return result


# Where an integer op's quantization parameters are among its inputs: (input scale, input zero
# point, weight scale, output scale, output zero point); None: the op has no such input.
_QPARAMS = {("", "QLinearConv"): (1, 2, 4, 6, 7), ("tinycnn", "QLinearConv"): (1, 2, 4, 6, 7),
            ("", "QLinearMatMul"): (1, 2, 4, 6, 7), ("com.microsoft", "QGemm"): (1, 2, 4, 7, 8),
            ("", "ConvInteger"): (None, 2, None, None, None),
            ("", "MatMulInteger"): (None, 2, None, None, None)}


def _scale_text(v) -> Optional[str]:
    if v is None or v.const is None:
        return None
    a = np.asarray(v.const, np.float64).reshape(-1)
    if a.size == 1:
        return f"{a[0]:.4g}"
    return f"per-channel x{a.size} [{a.min():.3g}, {a.max():.3g}]"


def quantized_layers(model, input_shapes: Optional[Dict[str, List[int]]] = None,
                     base_dir=None) -> List[dict]:
    """The layers a session runs on integer GEMM/convolution kernels (QDQ groups after
    tinycnn's rewriting, QOperator nodes as they are), in order: {"node", "op", "x_scale",
    "x_zero_point", "w_scale", "y_scale", "y_zero_point"} (texts; None where the op has none)."""
    if not isinstance(model, Model):
        model = load_model(model, base_dir, DEFAULT_LIMITS)
    shapes = {v.name: [int(d) for d in (input_shapes or {}).get(v.name) or default_shape(v.dims)]
              for v in model.inputs}
    _, plan = _plan(model, shapes, GraphOptimizationLevel.ORT_ENABLE_ALL)
    out = []
    for rec in plan.records:
        where = _QPARAMS.get((rec.node.domain, rec.node.op_type))
        if where is None:
            continue
        vals = [None if i is None or i >= len(rec.inputs) else rec.inputs[i] for i in where]
        zp = [None if v is None or v.const is None else
              str(int(np.asarray(v.const).reshape(-1)[0])) for v in (vals[1], vals[4])]
        out.append({"node": rec.node.name, "op": getattr(rec.node, "label", None) or rec.node.op_type,
                    "x_scale": _scale_text(vals[0]), "x_zero_point": zp[0],
                    "w_scale": _scale_text(vals[2]), "y_scale": _scale_text(vals[3]),
                    "y_zero_point": zp[1]})
    return out


def _plan(model, shapes, level=GraphOptimizationLevel.ORT_DISABLE_ALL):
    """(graph, plan) of `model` at `level` (ORT_DISABLE_ALL for the analysis) for `shapes`, on a
    copy of its nodes (graph rewriting edits nodes in place; the caller's Model stays as loaded)."""
    model = replace(model, nodes=[replace(n, inputs=list(n.inputs), outputs=list(n.outputs))
                                  for n in model.nodes])
    threads = default_num_threads()
    ctx = _kernels.Context(threads, "auto")
    # Winograd off: the numbers do not depend on the algorithm, and its packing costs time.
    options = PlanOptions(limits=DEFAULT_LIMITS, winograd=False, num_threads=threads)
    cache = {}
    graph, options = prepare(model, level, ctx, options, cache)
    feeds = {v.name: (tuple(shapes[v.name]), v.np_dtype) for v in model.inputs}
    outputs = [graph.resolve(v.name) for v in model.outputs]
    return graph, Planner(graph, ctx, options, cache).build(feeds, outputs)


def _tensor(v) -> Optional[Tensor]:
    return None if v is None else Tensor(v.name, list(v.shape), v.dtype)


def _parameters(graph, records) -> Dict[int, Tuple[int, int]]:
    """{id(record): (elements, bytes)} of the parameters each node reads first.  Parameters are
    floating-point initializers and the float tensors of Constant nodes (not their scalars:
    exporters write `x * 0.5` that way), except where the op's registration reads them as
    shapes (its `shape_inputs`: Resize's scales, for one)."""
    roots = {name for name, a in graph.initializers.items() if np.asarray(a).dtype.kind == "f"}
    for rec in records:
        if rec.node.op_type == "Constant" and rec.node.domain == "":
            roots.update(v.name for v in rec.outputs
                         if v is not None and v.dtype.kind == "f" and v.size > 1)
    counted, out = set(), {}
    for rec in records:
        n = nbytes = 0
        opdef = lookup(rec.node.domain, rec.node.op_type, graph.opsets.get(rec.node.domain, 1))
        shape_inputs = set(opdef.shape_inputs) if opdef is not None else set()
        for k, v in enumerate(rec.inputs):
            if k in shape_inputs:
                continue
            if v is not None and v.name in roots and v.name not in counted:
                counted.add(v.name)
                n += v.size
                nbytes += v.size * v.dtype.itemsize
        if n:
            out[id(rec)] = (n, nbytes)
    return out


def _receptive_field(layer, rec, rf):
    """Receptive field and jump of the node's outputs, from those of its inputs (`rf`: tensor
    name -> (field, jump)): through a window, field += (span - 1) * jump and jump *= stride."""
    reaching = [rf[v.name] for v in rec.inputs if v is not None and v.name in rf]
    if not reaching:
        return
    dims = len(reaching[0][0])
    reaching = [r for r in reaching if len(r[0]) == dims]
    size = tuple(max(r[0][a] for r in reaching) for a in range(dims))
    jumps = [r[1] for r in reaching if r[1] is not None]
    jump = tuple(max(j[a] for j in jumps) for a in range(dims)) if jumps else None
    out = rec.outputs[0] if rec.outputs else None
    if out is None:
        return
    if layer.window is not None:
        if len(layer.window) != dims or jump is None:
            return
        size = tuple(_exact(s + (span - 1) * j) for s, j, (span, _) in zip(size, jump, layer.window))
        jump = tuple(_exact(j * Fraction(stride)) for j, (_, stride) in zip(jump, layer.window))
        rf[out.name] = (size, jump)
    elif out.ndim == dims + 2:  # shape-preserving ops (element-wise, normalisation) carry it
        for v in rec.outputs:
            if v is not None and v.ndim == out.ndim:
                rf[v.name] = (size, jump)
    else:  # flattened: the field is whatever reached it, neighbours are gone
        rf[out.name] = (size, None)
    layer.rf, layer.jump = rf[out.name]


def _exact(x):
    """An int where the value is whole (a fractional stride of an upsampling op may leave none)."""
    x = Fraction(x)
    return int(x) if x.denominator == 1 else float(x)


def peak_live_bytes(plan) -> int:
    """The largest total of activation buffers live at once in `plan`: a buffer is live from the
    step that writes it (inputs: from the start) to the last step that reads it (outputs: to the
    end).  Views and in-place results share their input's buffer; weights are not counted."""
    n = len(plan.steps) + 2
    delta = np.zeros(n + 1, np.int64)
    for s in plan.storages:
        if s.parent is not None:   # inside another buffer (a Concat's input): counted there
            continue
        nbytes = s.size * np.dtype(s.dtype).itemsize
        delta[s.first + 1] += nbytes   # first is -1 for the inputs
        delta[min(s.last, n - 2) + 2] -= nbytes
    return int(np.cumsum(delta).max(initial=0))

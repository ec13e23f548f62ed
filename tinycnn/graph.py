"""Load-time graph passes: no-op removal, topological order, constant folding, fusion.

They work on the `Model` produced by tinycnn.loader and leave a `Graph`: nodes in
execution order, constants as numpy initializers, and the aliases left by the
removal of Identity and Dropout (a graph output may be such an alias).
"""
from dataclasses import dataclass, field
import heapq

import numpy as np

from ._kernels import FIRE_MAX_MODULES
from .errors import InvalidModel
from .ir import const_value
from .loader import Node
from .ops import FUSED_DOMAIN as FUSED, check_supported, lookup
from .planner import Planner
from .qdq import quantized_graph


@dataclass
class Graph:
    nodes: list
    initializers: dict
    opsets: dict
    aliases: dict = field(default_factory=dict)   # removed name -> name that carries its value
    fused_away: set = field(default_factory=set)  # intermediate names that no longer exist

    def resolve(self, name):
        while name in self.aliases:
            name = self.aliases[name]
        return name

    def consumers(self):
        out = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    out.setdefault(i, []).append(n)
        return out


def prepare(model, level, ctx, options, cache):
    """Model -> (Graph ready to plan, PlanOptions with the graph's numeric budget).

    level: 0 none (constant nodes are still evaluated when a plan is built, since shapes
    depend on them), 1 basic (constant folding at load), >= 2 also the fusions.
    """
    check_supported(model.nodes, model.opsets, model.source)
    opsets = dict(model.opsets)
    opsets.setdefault(FUSED, 1)
    g = Graph(list(model.nodes), dict(model.initializers), opsets)
    feeds = {vi.name for vi in model.inputs}
    _remove_noops(g, {vi.name for vi in model.outputs})
    g.nodes = _topological(g.nodes, set(g.initializers) | feeds, model.source)
    produced = feeds | set(g.initializers) | {o for n in g.nodes for o in n.outputs}
    for vi in model.outputs:
        name = g.resolve(vi.name)
        if name not in produced:
            raise InvalidModel(f"{model.source}: graph output {vi.name!r} is not produced by any node")
    quantized_graph(g, {g.resolve(vi.name) for vi in model.outputs}, level >= 2, model.source)
    if level >= 1:
        _fold_constants(g, ctx, options, cache)
    if level >= 2:
        keep = {g.resolve(vi.name) for vi in model.outputs}
        _fold_batchnorm(g, keep)
        _pool_before_pointwise(g, keep)
        _fuse_conv(g, keep)
        _fuse_se(g, keep)
        _conv_before_resize(g, keep, opsets.get("", 0))
        _fuse_inverted_residual(g, keep)
        _fuse_channel_shuffle(g, keep)
        _fold_se_gate(g, keep)
        _se_pool_in_depthwise(g)
        _fuse_pointwise_grouped(g, keep)
        _fuse_pg_shortcut(g, keep)
        _fuse_stem_block(g, keep)
        _fuse_conv_maxpool(g, keep)
        _fuse_fire(g, keep)
        _fuse_relu(g, keep, "Gemm")
        _fuse_relu(g, keep, "ConvTranspose")
        _fuse_relu(g, keep, "BatchNormalization")
        _fuse_matmul_bias(g, keep)
        _fuse_gelu(g, keep)
        _fuse_silu(g, keep)
    return g, options.replace(conv_chain=conv_chain(g.nodes, g.initializers))


def conv_chain(nodes, constants=()):
    """The most Winograd-able convolutions in a row with no residual merge between them.

    Rounding error compounds along a plain chain of convolutions (VGG: its whole depth);
    a residual merge (an Add of two computed tensors, or a Conv with a fused residual) adds
    a block's error to a shortcut that carries it on unamplified, so the count restarts
    there (ResNets: 3 or 4).  A Concat with a shortcut (one of its inputs computed from
    another of them: DenseNet's layers append their features to all earlier ones, YOLOv8n's
    C2f) is the same merge: the earlier features pass on unamplified, and the new channels
    carry one block's error (DenseNet-121, a chain of 58 through its Concats: 2.5-3.6e-5
    with F(4x4) on its 56, 28 and 14 layers, 1.0-1.1e-5 with F(2x2)).  A Concat of parallel
    branches (Inception, SqueezeNet's fire modules) carries on the longest of them.
    Only the convolutions Winograd could compute are counted
    (3x3 and 5x5, stride 1, no dilation, group 1): they are the ones whose rounding the
    budget is about (F(4x4) rounds ~10x more than a direct convolution); the 1x1 and
    strided layers between them pass an error on but add next to none (YOLOv8n: 37
    convolutions on its longest path, 10 Winograd-able at most in a row).  The convolution op uses
    this to pick a Winograd tile the whole network can afford.
    """
    run = {}     # tensor -> Winograd-able convolutions since the last merge, longest path
    below = {}   # tensor -> bit set of the computed tensors it is computed from, itself too
    bit = {}
    best = 0
    for n in nodes:
        computed = [i for i in n.inputs if i and i not in constants]
        d = max((run.get(i, 0) for i in computed), default=0)
        d += _winograd_convs(n, constants)
        best = max(best, d)
        if _is_merge(n, computed) or _is_shortcut_concat(n, computed, below, bit):
            d = 0
        deps = 0
        for i in computed:
            deps |= below.get(i, 0) | bit.setdefault(i, 1 << len(bit))
        for o in n.outputs:
            run[o] = d
            below[o] = deps | bit.setdefault(o, 1 << len(bit))
    return best


def _is_shortcut_concat(n, computed, below, bit):
    """A Concat one of whose inputs another is computed from (a dense shortcut)."""
    if n.op_type != "Concat" or n.domain != "" or len(computed) < 2:
        return False
    return any(a != b and bit.get(a, 0) & below.get(b, 0) for a in computed for b in computed)


def _winograd_convs(n, constants):
    """How many of the Winograd-able convolutions n is: a Conv one or none; a tinycnn::Fire
    (graph._fuse_fire) its modules' expand 3x3s, one after the other on its longest path."""
    if n.op_type == "Fire" and n.domain == FUSED:
        return sum(_winograd_able(Node(n.name, "Conv", FUSED, ["", w3], n.outputs, a, n.index),
                                  constants)
                   for w3, a in zip(n.inputs[5::6], n.attrs["expand3"]))
    return int(_winograd_able(n, constants))


def _winograd_able(n, constants):
    """A Conv with constant 3x3 or 5x5 weights, stride 1, no dilation, group 1; a Conv whose
    weights are computed at run time counts too (its shape is unknown here)."""
    if n.op_type != "Conv":
        return False
    w = constants.get(n.inputs[1]) if len(n.inputs) > 1 and hasattr(constants, "get") else None
    if w is None:
        return True
    a = n.attrs
    return (np.ndim(w) == 4 and tuple(np.shape(w)[2:]) in ((3, 3), (5, 5))
            and int(a.get("group", 1)) == 1 and all(int(v) == 1 for v in a.get("strides") or [1])
            and all(int(v) == 1 for v in a.get("dilations") or [1]))


def _is_merge(n, computed):
    if n.op_type in ("Add", "Sum") and n.domain == "":
        return len(computed) >= 2
    # tinycnn's fused Conv: inputs X, W, B, R (the residual)
    return n.op_type == "Conv" and n.domain == FUSED and len(n.inputs) > 3 and bool(n.inputs[3])


def _remove_noops(g, graph_outputs=()):
    """Identity, and Dropout in inference (when its mask is unused), become aliases."""
    used = {i for n in g.nodes for i in n.inputs} | set(graph_outputs)
    kept = []
    for n in g.nodes:
        if n.op_type == "Identity" and n.domain == "" and n.inputs and n.inputs[0]:
            g.aliases[n.outputs[0]] = n.inputs[0]
        elif (n.op_type == "Dropout" and n.domain == "" and n.inputs and n.inputs[0]
              and (len(n.outputs) < 2 or not n.outputs[1] or n.outputs[1] not in used)
              and not _dropout_training(n, g)):
            g.aliases[n.outputs[0]] = n.inputs[0]
        else:
            kept.append(n)
    for n in kept:
        n.inputs = [g.resolve(i) if i else i for i in n.inputs]
    g.nodes = kept


def _dropout_training(n, g):
    if len(n.inputs) >= 3 and n.inputs[2]:
        t = g.initializers.get(n.inputs[2])
        return t is None or bool(np.asarray(t).reshape(-1)[0])
    return False


def _topological(nodes, available, source):
    """Nodes in an order where every input is defined first (stable: file order wins ties)."""
    producer = {}
    for n in nodes:
        for o in n.outputs:
            if o:
                if o in producer or o in available:
                    raise InvalidModel(
                        f"{source}: {n.describe()}: output {o!r} is also produced elsewhere")
                producer[o] = n
    waiting = {}
    indegree = {}
    for pos, n in enumerate(nodes):
        deps = set()
        for i in n.inputs:
            if not i or i in available:
                continue
            p = producer.get(i)
            if p is None:
                raise InvalidModel(f"{source}: {n.describe()}: input {i!r} is not defined "
                                   "(not a graph input, initializer or node output)")
            deps.add(id(p))
        indegree[id(n)] = len(deps)
        for d in deps:
            waiting.setdefault(d, []).append((pos, n))
    heap = [(pos, id(n), n) for pos, n in enumerate(nodes) if indegree[id(n)] == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        _, _, n = heapq.heappop(heap)
        order.append(n)
        for pos, m in waiting.get(id(n), ()):
            indegree[id(m)] -= 1
            if indegree[id(m)] == 0:
                heapq.heappush(heap, (pos, id(m), m))
    if len(order) != len(nodes):
        stuck = [n.name for n in nodes if indegree[id(n)] > 0]
        raise InvalidModel(f"{source}: the graph has a cycle through nodes {stuck[:8]}")
    return order


def _fold_constants(g, ctx, options, cache):
    """Evaluate, at load, nodes whose inputs are all constants (e.g. ConstantOfShape weights)."""
    planner = Planner(g, ctx, options, cache)
    values = {name: const_value(name, arr) for name, arr in g.initializers.items()}
    kept = []
    for n in g.nodes:
        opdef = lookup(n.domain, n.op_type, g.opsets.get(n.domain, 1))
        if all(i in values for i in n.inputs if i) and not opdef.nondeterministic:
            planner.evaluate(n, values)
            if all(not o or (o in values and values[o].const is not None) for o in n.outputs):
                continue
        kept.append(n)
    g.nodes = kept
    g.initializers = {name: v.const for name, v in values.items()}


def _single_consumer(g, name, keep):
    if name in keep:
        return None
    c = g.consumers().get(name, [])
    return c[0] if len(c) == 1 else None


def _fold_batchnorm(g, keep):
    """Conv (or ConvTranspose) -> BatchNormalization with constant parameters: scale the
    conv's weights per output channel."""
    producers = {o: n for n in g.nodes for o in n.outputs}
    removed = set()
    for bn in g.nodes:
        if bn.op_type != "BatchNormalization" or bn.domain != "" or len(bn.inputs) < 5:
            continue
        if any(o for o in bn.outputs[1:]) or bn.attrs.get("training_mode", 0):
            continue
        conv = producers.get(bn.inputs[0])
        if (conv is None or conv.op_type not in ("Conv", "ConvTranspose") or conv.domain != ""
                or id(conv) in removed):
            continue
        if _single_consumer(g, conv.outputs[0], keep) is not bn:
            continue
        params = [g.initializers.get(i) for i in bn.inputs[1:5]]
        w = g.initializers.get(conv.inputs[1])
        b = g.initializers.get(conv.inputs[2]) if len(conv.inputs) > 2 and conv.inputs[2] else None
        if w is None or any(p is None for p in params) or (len(conv.inputs) > 2 and conv.inputs[2] and b is None):
            continue
        scale, bias, mean, var = (np.asarray(p, np.float64).reshape(-1) for p in params)
        group = int(conv.attrs.get("group", 1))
        # output channels: Conv W [K, C/g, ...]; ConvTranspose W [C, K/g, ...], K = g * K/g
        k = w.shape[0] if conv.op_type == "Conv" else w.shape[1] * group
        if w.ndim < 3 or not all(p.size == k for p in (scale, bias, mean, var)):
            continue
        if conv.op_type == "ConvTranspose" and w.shape[0] % group:
            continue
        s = scale / np.sqrt(var + float(bn.attrs.get("epsilon", 1e-5)))
        if conv.op_type == "Conv":
            w2 = np.asarray(w, np.float64) * s.reshape(-1, *([1] * (w.ndim - 1)))
        else:
            wg = np.asarray(w, np.float64).reshape((group, w.shape[0] // group) + w.shape[1:])
            w2 = (wg * s.reshape((group, 1, -1) + (1,) * (w.ndim - 2))).reshape(w.shape)
        w2 = w2.astype(np.float32)
        b0 = np.zeros(k) if b is None else np.asarray(b, np.float64).reshape(-1)
        b2 = ((b0 - mean) * s + bias).astype(np.float32)
        wname, bname = f"{conv.name}::W_bn", f"{conv.name}::B_bn"
        g.initializers[wname] = w2
        g.initializers[bname] = b2
        g.fused_away.add(conv.outputs[0])
        conv.inputs = [conv.inputs[0], wname, bname]
        conv.outputs = [bn.outputs[0]]
        removed.add(id(bn))
    g.nodes = [n for n in g.nodes if id(n) not in removed]


def _pool_before_pointwise(g, keep):
    """Conv 1x1 (stride 1, no pads) -> AveragePool that shrinks the map: pool first.

    A 1x1 convolution maps each pixel on its own, linearly (bias included), and an average
    of a window commutes with that, so the convolution can run on the pooled pixels: a
    quarter of them for DenseNet's transitions (BN, ReLU, 1x1 conv, AvgPool 2x2 s2), whose
    convolutions are a tenth of the network's multiply-adds.  Only windows without padding,
    dilation or ceil_mode, so each output averages the same real pixels either way.
    """
    producers = {o: n for n in g.nodes for o in n.outputs}
    moved = {}   # id(pool) -> [new pool, conv]
    for pool in g.nodes:
        a = pool.attrs
        if pool.op_type != "AveragePool" or pool.domain != "" or len(pool.inputs) != 1:
            continue
        ks, st = list(a.get("kernel_shape") or []), list(a.get("strides") or [])
        if (len(ks) != 2 or len(st) not in (0, 2) or int(np.prod(st or [1])) < 2
                or any(int(v) for v in a.get("pads") or []) or int(a.get("ceil_mode", 0))
                or any(int(v) != 1 for v in a.get("dilations") or [])
                or a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID", b"NOTSET", b"VALID")):
            continue
        conv = producers.get(pool.inputs[0])
        if conv is None or conv.op_type != "Conv" or conv.domain != "" or id(conv) in moved:
            continue
        c = conv.attrs
        w = g.initializers.get(conv.inputs[1]) if len(conv.inputs) > 1 else None
        if (w is None or np.ndim(w) != 4 or tuple(np.shape(w)[2:]) != (1, 1)
                or any(int(v) != 1 for v in c.get("strides") or [])
                or any(int(v) for v in c.get("pads") or [])
                or c.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID", b"NOTSET", b"VALID")
                or _single_consumer(g, conv.outputs[0], keep) is not pool):
            continue
        pooled = f"{pool.name}::before_{conv.name}"
        first = Node(pool.name, "AveragePool", "", [conv.inputs[0]], [pooled], dict(a), pool.index)
        second = Node(conv.name, "Conv", "", [pooled] + list(conv.inputs[1:]),
                      list(pool.outputs), dict(c), conv.index)
        g.fused_away.add(conv.outputs[0])
        moved[id(conv)] = []
        moved[id(pool)] = [first, second]
    if moved:
        g.nodes = [m for n in g.nodes for m in moved.get(id(n), [n])]


def _const_scalar(g, name, default):
    """The value of an optional scalar input that is an initializer, default when absent,
    None when it is computed at run time or not a single value."""
    if not name:
        return default
    v = g.initializers.get(name)
    if v is None or np.asarray(v).size != 1:
        return None
    return float(np.asarray(v).reshape(-1)[0])


def _prelu_slope(g, name, k, rank):
    """PRelu's slope as [k] values when it is one constant per channel of a rank-`rank`
    NCHW tensor (shapes [k, 1, 1], [1, k, 1, 1], or a single value), else None."""
    s = g.initializers.get(name)
    if s is None:
        return None
    s = np.asarray(s, np.float32)
    if s.size == 1:
        return np.full(k, s.reshape(-1)[0], np.float32)
    shape = (1,) * (rank - s.ndim) + s.shape
    if s.ndim > rank or shape[1] != k or any(d != 1 for d in shape[:1] + shape[2:]):
        return None
    return s.reshape(-1)


def _activation_after(g, out, keep, replaced, k, rank, relu_only):
    """The activation applied to value `out` (a Conv's output) that a convolution's epilogue
    can take: (nodes absorbed, their output, attrs of tinycnn::Conv, slope input or ""), or
    None.  k, rank: the conv's output channels and rank (None: weights not constant, no
    PRelu).  relu_only: after a residual Add, only Relu.  Recognised: Relu, Clip with constant bounds, LeakyRelu, PRelu with one slope per
    channel, HardSigmoid, HardSwish, Sigmoid; and x * Sigmoid(x) (SiLU as exported: Sigmoid
    then Mul) and x * HardSigmoid(x) (HardSwish below opset 14)."""
    consumers = g.consumers().get(out, [])
    if (out in keep or not consumers or any(c.domain != "" or id(c) in replaced for c in consumers)
            or (relu_only and [c.op_type for c in consumers] != ["Relu"])):
        return None
    if len(consumers) == 2:  # x * gate(x)
        gate = next((c for c in consumers if c.op_type in ("Sigmoid", "HardSigmoid")), None)
        mul = next((c for c in consumers if c.op_type == "Mul"), None)
        if gate is None or mul is None or gate.outputs[0] in keep:
            return None
        if sorted(mul.inputs) != sorted([out, gate.outputs[0]]):
            return None
        if g.consumers().get(gate.outputs[0], []) != [mul]:
            return None
        if gate.op_type == "Sigmoid":
            attrs = dict(activation="SiLU")
        else:
            attrs = dict(activation="HardSwish", activation_alpha=float(gate.attrs.get("alpha", 0.2)),
                         activation_beta=float(gate.attrs.get("beta", 0.5)))
        return [gate, mul], mul.outputs[0], attrs, ""
    if len(consumers) != 1:
        return None
    (nxt,) = consumers
    t, attrs, slope = nxt.op_type, None, ""
    if t in ("Relu", "Sigmoid", "HardSwish"):
        attrs = dict(activation=t)
    elif t == "LeakyRelu":
        attrs = dict(activation=t, activation_alpha=float(nxt.attrs.get("alpha", 0.01)))
    elif t == "HardSigmoid":
        attrs = dict(activation=t, activation_alpha=float(nxt.attrs.get("alpha", 0.2)),
                     activation_beta=float(nxt.attrs.get("beta", 0.5)))
    elif t == "Clip":
        if "min" in nxt.attrs or "max" in nxt.attrs or len(nxt.inputs) == 1:  # opset < 11
            lo = float(nxt.attrs.get("min", -3.4028234663852886e38))
            hi = float(nxt.attrs.get("max", 3.4028234663852886e38))
        else:
            lo = _const_scalar(g, nxt.inputs[1] if len(nxt.inputs) > 1 else "", float("-inf"))
            hi = _const_scalar(g, nxt.inputs[2] if len(nxt.inputs) > 2 else "", float("inf"))
        if lo is not None and hi is not None:
            attrs = dict(activation=t, activation_alpha=lo, activation_beta=hi)
    elif t == "PRelu" and k is not None and len(nxt.inputs) == 2 and nxt.inputs[0] == out:
        s = _prelu_slope(g, nxt.inputs[1], k, rank)
        if s is not None:
            slope = f"{nxt.name}::slope"
            g.initializers[slope] = s
            attrs = dict(activation=t)
    if attrs is None:
        return None
    return [nxt], nxt.outputs[0], attrs, slope


def _fuse_conv(g, keep):
    """Conv [+ Add(residual)] [+ activation] -> one tinycnn::Conv with a fused epilogue.

    Any activation of _activation_after when there is no residual; after a residual only
    Relu (ResNet's), whose broadcasting fallback FusedConv knows.  The fused node takes
    the place of the last node it absorbs, so a residual computed after the convolution
    (ResNet's downsample branch) is ready.
    The first Conv in node order takes the Add: RegNet's strided 1x1 shortcut (proj), so it
    runs after the block, its input (the stem's 1.6 MB at block1-0) read again after it.  Tried
    and left (s26, AVX2 emulation, Zen 4, 1 thread, subgraph_shapes.py --against the base, 21
    rounds): the block's last Conv taking the Add instead, the shortcut in its own place
    right after the block input: block1-0 0.991 [0.968-1.019], block2-0 0.999, RegNetY-400MF
    1.001 [0.983-1.010]; blocks 1-0 to 3-5 bit-identical, block4-0 not (its 7x7 last Conv
    with the residual rounds otherwise than the shortcut with it).
    """
    replaced = {}   # id(absorbed node) -> None (drop) ; id(last node) -> fused node
    for conv in g.nodes:
        if conv.op_type != "Conv" or conv.domain != "" or id(conv) in replaced:
            continue
        absorbed = [conv]
        out = conv.outputs[0]
        residual = ""
        nxt = _single_consumer(g, out, keep)
        if (nxt is not None and nxt.op_type in ("Add", "Sum") and nxt.domain == ""
                and len(nxt.inputs) == 2 and nxt.inputs[0] != nxt.inputs[1]
                and id(nxt) not in replaced):
            other = nxt.inputs[1] if nxt.inputs[0] == out else nxt.inputs[0]
            if other not in g.initializers:
                residual = other
                absorbed.append(nxt)
                g.fused_away.add(out)
                out = nxt.outputs[0]
        w = g.initializers.get(conv.inputs[1]) if len(conv.inputs) > 1 else None
        k, rank = (np.shape(w)[0], np.ndim(w)) if w is not None and np.ndim(w) >= 3 else (None, None)
        found = _activation_after(g, out, keep, replaced, k, rank, relu_only=bool(residual))
        attrs = dict(activation="")
        slope = ""
        if found is not None:
            nodes, act_out, attrs, slope = found
            absorbed += nodes
            g.fused_away.add(out)
            for n in nodes[:-1]:
                g.fused_away.update(n.outputs)
            out = act_out
        if len(absorbed) == 1:
            continue
        ins = list(conv.inputs) + [""] * (3 - len(conv.inputs))
        fused = Node(conv.name, "Conv", FUSED, ins[:3] + [residual] + ([slope] if slope else []),
                     [out], dict(conv.attrs, **attrs), conv.index)
        fused.label = "+".join(n.op_type for n in absorbed)
        for n in absorbed[:-1]:
            replaced[id(n)] = None
        replaced[id(absorbed[-1])] = fused
    g.nodes = [replaced.get(id(n), n) for n in g.nodes if replaced.get(id(n), n) is not None]


def _se_conv(g, node, keep, activations):
    """(W, B, attrs) of a 1x1 convolution on a pooled [N, C, 1, 1] value that the squeeze-and-
    excitation kernel can take (constant 4-D weights, group 1, no padding, no residual nor
    PRelu slope, its activation in `activations`), else None."""
    if node is None or node.op_type != "Conv" or node.domain not in ("", FUSED):
        return None
    ins = list(node.inputs) + [""] * (5 - len(node.inputs))
    w = g.initializers.get(ins[1])
    if w is None or np.ndim(w) != 4 or np.shape(w)[2:] != (1, 1) or any(ins[3:]):
        return None
    if ins[2] and (ins[2] not in g.initializers or np.size(g.initializers[ins[2]]) != np.shape(w)[0]):
        return None
    a = node.attrs
    if (int(a.get("group", 1)) != 1 or any(int(p) for p in a.get("pads", ()))
            or a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID")
            or a.get("activation", "") not in activations):
        return None
    return ins[1], ins[2], a


def _fuse_se(g, keep):
    """The squeeze-and-excitation block -> one tinycnn::SqueezeExcite (ops/se.py):
    GlobalAveragePool(x) -> Conv 1x1 [+ activation] -> Conv 1x1 + Sigmoid or HardSigmoid (as
    _fuse_conv left them) -> Mul with x, either operand order.  Refused: a pooled, hidden or
    gate value used by another node or kept as an output, a Mul whose other operand is not the
    pool's input, weights whose shapes do not give one gate per channel of x ([C1, C] then
    [C, C1])."""
    producers = {o: n for n in g.nodes for o in n.outputs}
    consumers = g.consumers()

    def only_consumer(name, node):
        return name not in keep and consumers.get(name, []) == [node]

    for mul in [n for n in g.nodes if n.op_type == "Mul" and n.domain == "" and len(n.inputs) == 2]:
        for x, gate in (mul.inputs, mul.inputs[::-1]):
            conv2 = producers.get(gate)
            se2 = _se_conv(g, conv2, keep, ("Sigmoid", "HardSigmoid"))
            if se2 is None or not only_consumer(gate, mul):
                continue
            conv1 = producers.get(conv2.inputs[0])
            se1 = _se_conv(g, conv1, keep, ("", "Relu", "Clip", "LeakyRelu", "HardSigmoid",
                                             "HardSwish", "Sigmoid", "SiLU"))
            if se1 is None or not only_consumer(conv1.outputs[0], conv2):
                continue
            pool = producers.get(conv1.inputs[0])
            if (pool is None or pool.op_type != "GlobalAveragePool" or pool.domain != ""
                    or pool.inputs[0] != x or not only_consumer(pool.outputs[0], conv1)):
                continue
            (w1, b1, a1), (w2, b2, a2) = se1, se2
            c1, c = np.shape(g.initializers[w1])[:2]
            if np.shape(g.initializers[w2])[:2] != (c, c1):
                continue
            attrs = dict(activation=a1.get("activation", ""), gate=a2["activation"])
            for src, dst in ((a1, "activation"), (a2, "gate")):
                for k in ("alpha", "beta"):
                    if src.get(f"activation_{k}") is not None:
                        attrs[f"{dst}_{k}"] = float(src[f"activation_{k}"])
            fused = Node(pool.name, "SqueezeExcite", FUSED, [x, w1, b1, w2, b2], list(mul.outputs),
                         attrs, pool.index)
            fused.label = "+".join(n.label for n in (pool, conv1, conv2, mul))
            _replace(g, [pool, conv1, conv2, mul], fused)
            producers = {o: n for n in g.nodes for o in n.outputs}
            consumers = g.consumers()
            break


def _conv_before_resize(g, keep, opset):
    """Resize (opset 11 on; linear, cubic or nearest; not tf_crop_and_resize, whose fill is
    no blend of the input, nor half_pixel_symmetric) -> a 1x1 Conv without activation,
    residual, groups, strides or pads, constant weights -> one tinycnn::ConvResize
    (ops/resize.py), which convolves first and resizes the convolution's output.  Refused:
    a resized tensor used elsewhere or kept as an output."""
    if opset < 11:
        return
    producers = {o: n for n in g.nodes for o in n.outputs}
    for conv in [n for n in g.nodes if n.op_type == "Conv" and n.domain in ("", FUSED)]:
        ins = list(conv.inputs) + [""] * (3 - len(conv.inputs))
        w = g.initializers.get(ins[1])
        a = conv.attrs
        resize = producers.get(ins[0])
        if (resize is None or resize.op_type != "Resize" or resize.domain != "" or len(ins) > 3
                or w is None or np.ndim(w) != 4 or np.shape(w)[2:] != (1, 1)
                or (ins[2] and ins[2] not in g.initializers)
                or int(a.get("group", 1)) != 1 or a.get("activation", "")
                or any(int(v) != 1 for v in list(a.get("strides") or []) + list(a.get("dilations") or []))
                or any(int(v) for v in a.get("pads") or [])
                or a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID")
                or _single_consumer(g, ins[0], keep) is not conv):
            continue
        r = resize.attrs
        if (r.get("mode", "nearest") not in ("nearest", "linear", "cubic")
                or r.get("coordinate_transformation_mode", "half_pixel")
                in ("tf_crop_and_resize", "half_pixel_symmetric")):
            continue
        rins = list(resize.inputs) + [""] * (4 - len(resize.inputs))
        fused = Node(resize.name, "ConvResize", FUSED, rins[:4] + [ins[1], ins[2]],
                     list(conv.outputs), {"resize": dict(r), "resize_opset": opset}, resize.index)
        fused.label = conv.label + "+" + resize.label
        _replace(g, [resize, conv], fused)
        producers = {o: n for n in g.nodes for o in n.outputs}


def _constant_conv(g, node):
    """A Conv or tinycnn::Conv with constant 4-D weights, bias and PRelu slope, and no gates:
    its inputs (X, W, B, R, S) with "" for those it lacks, else None."""
    if node is None or node.op_type != "Conv" or node.domain not in ("", FUSED):
        return None
    ins = list(node.inputs) + [""] * (5 - len(node.inputs))
    w = g.initializers.get(ins[1])
    if w is None or np.ndim(w) != 4 or len(ins) > 5 or any(
            ins[i] and ins[i] not in g.initializers for i in (2, 4)):
        return None
    return ins


def _fuse_inverted_residual(g, keep):
    """Conv 1x1 -> depthwise Conv -> Conv 1x1 [+ residual], each as _fuse_conv left it (with
    its activation) -> one tinycnn::InvertedResidual (ops/fused_ir.py), which runs it in bands
    where that pays and as the three convolutions otherwise.  Refused: an intermediate used
    by another node or kept as an output, weights that are not constant, a residual on the
    first two convolutions."""
    producers = {o: n for n in g.nodes for o in n.outputs}

    def conv(node, kernel_1x1):
        ins = _constant_conv(g, node)
        if ins is None:
            return None
        w = g.initializers[ins[1]]
        if kernel_1x1 != (np.shape(w)[2:] == (1, 1) and node.attrs.get("group", 1) == 1):
            return None
        if not kernel_1x1 and not (node.attrs.get("group", 1) == np.shape(w)[0] and np.shape(w)[1] == 1):
            return None
        return ins

    for project in list(g.nodes):
        p = conv(project, True)
        if p is None:
            continue
        dw_node = producers.get(p[0])
        d = conv(dw_node, False)
        if d is None or d[3] or _single_consumer(g, p[0], keep) is not project:
            continue
        expand = producers.get(d[0])
        e = conv(expand, True)
        if e is None or e[3] or _single_consumer(g, d[0], keep) is not dw_node:
            continue
        attrs = {}
        for key, node in zip(("expand", "depthwise", "project"), (expand, dw_node, project)):
            attrs[key] = {k: tuple(v) if isinstance(v, list) else v for k, v in node.attrs.items()}
        fused = Node(expand.name, "InvertedResidual", FUSED,
                     [e[0], e[1], e[2], d[1], d[2], p[1], p[2], p[3], e[4], d[4], p[4]],
                     list(project.outputs), attrs, expand.index)
        fused.label = "+".join(n.label for n in (expand, dw_node, project))
        _replace(g, [expand, dw_node, project], fused)
        producers = {o: n for n in g.nodes for o in n.outputs}


def _fuse_channel_shuffle(g, keep):
    """Concat -> Reshape -> Transpose(perm 0, 2, 1, ...) -> Reshape, each intermediate read by
    the next node alone and not kept as an output (ShuffleNet's channel_shuffle of its
    units' two branches) -> one tinycnn::ChannelShuffle (ops/tensor.py): where the shapes
    make it a shuffle of the Concat's inputs, their producers write their planes where the
    shuffle puts them, instead of a Concat and a Transpose copying them twice.  The Concat's
    output may also be read by Shape nodes (a batch-dynamic export computes the reshapes'
    shapes from it): they become tinycnn::ConcatShape of the Concat's inputs."""
    producers = {o: n for n in g.nodes for o in n.outputs}
    consumers = g.consumers()

    def node(name, op_type):
        n = producers.get(name)
        return n if n is not None and n.op_type == op_type and n.domain == "" else None

    def only(name, reader, shapes_too=False):
        readers = consumers.get(name, [])
        others = [c for c in readers if c is not reader]
        return (name not in keep and len(others) == len(readers) - 1
                and all(shapes_too and c.op_type == "Shape" and c.domain == "" for c in others))

    for merge in [n for n in g.nodes if n.op_type == "Reshape" and n.domain == ""]:
        t = node(merge.inputs[0], "Transpose")
        split = node(t.inputs[0], "Reshape") if t is not None else None
        cat = node(split.inputs[0], "Concat") if split is not None else None
        if cat is None or "axis" not in cat.attrs or len(split.inputs) != 2 or len(merge.inputs) != 2:
            continue
        perm = [int(p) for p in (t.attrs.get("perm") or [])]
        if (perm[:3] != [0, 2, 1] or not only(cat.outputs[0], split, shapes_too=True)
                or not only(split.outputs[0], t) or not only(t.outputs[0], merge)):
            continue
        for shape in consumers.get(cat.outputs[0], []):
            if shape is not split:
                shape.op_type, shape.domain = "ConcatShape", FUSED
                shape.attrs = dict(shape.attrs, axis=int(cat.attrs["axis"]))
                shape.inputs = list(cat.inputs)
        attrs = dict(axis=int(cat.attrs["axis"]), perm=perm,
                     split_allowzero=int(split.attrs.get("allowzero", 0)),
                     merged_allowzero=int(merge.attrs.get("allowzero", 0)))
        fused = Node(cat.name, "ChannelShuffle", FUSED,
                     [split.inputs[1], merge.inputs[1]] + list(cat.inputs), list(merge.outputs),
                     attrs, cat.index)
        fused.label = "Concat+Shuffle"
        _replace(g, [cat, split, t, merge], fused)
        producers = {o: n for n in g.nodes for o in n.outputs}
        consumers = g.consumers()


def _fold_se_gate(g, keep):
    """tinycnn::SqueezeExcite whose only consumer is a 1x1 convolution (stride 1, no pads,
    group 1, constant weights: MobileNetV3's, EfficientNet's and RegNetY's projections) ->
    tinycnn::SqueezeExciteGate, the gates alone ([N, C, 1, 1]), and that convolution as a
    tinycnn::Conv taking the block input and the gates (input G, ops/conv.py): since
    W . (x * g) = (W diag(g)) . x, a per-image copy of the packed weights has its columns
    scaled by the gates (csrc/conv.c tc_conv2d_scaled_f32), and the gated tensor is never
    written.
    Runs after _fuse_inverted_residual, which must not take such a convolution as a
    projection (it fuses no gate)."""
    producers = {o: n for n in g.nodes for o in n.outputs}
    consumers = g.consumers()
    replaced = {}
    for se in [n for n in g.nodes if n.op_type == "SqueezeExcite" and n.domain == FUSED]:
        y = se.outputs[0]
        users = consumers.get(y, [])
        if y in keep or len(users) != 1 or producers.get(y) is not se:
            continue
        conv = users[0]
        if conv.op_type != "Conv" or conv.domain not in ("", FUSED) or id(conv) in replaced:
            continue
        ins = list(conv.inputs) + [""] * (5 - len(conv.inputs))
        w = g.initializers.get(ins[1])
        a = conv.attrs
        if (ins[0] != y or y in ins[1:] or len(ins) > 5 or w is None or np.ndim(w) != 4
                or np.shape(w)[2:] != (1, 1) or int(a.get("group", 1)) != 1
                or any(int(v) != 1 for v in a.get("strides") or [1])
                or any(int(v) for v in a.get("pads") or [0])
                or a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID")):
            continue
        gate = f"{y}::se_gate"
        gate_node = Node(se.name, "SqueezeExciteGate", FUSED, list(se.inputs), [gate],
                         dict(se.attrs), se.index)
        gate_node.label = se.label
        folded = Node(conv.name, "Conv", FUSED, [se.inputs[0]] + ins[1:] + [gate],
                      list(conv.outputs), dict(conv.attrs), conv.index)
        folded.label = "SEScale+" + conv.label
        replaced[id(se)], replaced[id(conv)] = gate_node, folded
        g.fused_away.add(y)
    g.nodes = [replaced.get(id(n), n) for n in g.nodes]


def _se_pool_in_depthwise(g):
    """tinycnn::SqueezeExciteGate whose input a depthwise or grouped convolution writes
    (group > 1, constant weights, no residual: MobileNetV3's and EfficientNet's depthwise
    layers, RegNetY's grouped 3x3) -> that convolution also writes the means of its output
    planes (tinycnn::Conv channel_means=1, a second output, each plane summed while in cache,
    csrc/conv.c tc_conv2d_means_f32; a layer planned on another algorithm pools after it,
    ops/conv.py), and the gate takes them (input P) instead of pooling its input in another
    pass over it.  The same sums, so the same bits."""
    producers = {o: n for n in g.nodes for o in n.outputs}
    replaced = {}
    for se in [n for n in g.nodes if n.op_type == "SqueezeExciteGate" and n.domain == FUSED]:
        x = se.inputs[0]
        dw = producers.get(x)
        if (dw is None or dw.op_type != "Conv" or dw.domain not in ("", FUSED)
                or len(dw.outputs) != 1 or id(dw) in replaced or len(se.inputs) > 5):
            continue
        ins = list(dw.inputs) + [""] * (5 - len(dw.inputs))
        w = g.initializers.get(ins[1])
        if (w is None or np.ndim(w) != 4 or ins[3] or len(ins) > 5
                or int(dw.attrs.get("group", 1)) <= 1
                or (ins[2] and ins[2] not in g.initializers)):
            continue
        means = f"{x}::channel_means"
        pooled = Node(dw.name, "Conv", FUSED, list(dw.inputs), [x, means],
                      dict(dw.attrs, channel_means=1), dw.index)
        pooled.label = dw.label
        gate = Node(se.name, se.op_type, FUSED, list(se.inputs) + [""] * (5 - len(se.inputs))
                    + [means], list(se.outputs), dict(se.attrs), se.index)
        gate.label = se.label
        replaced[id(dw)], replaced[id(se)] = pooled, gate
        g.fused_away.add(means)
    g.nodes = [replaced.get(id(n), n) for n in g.nodes]


def _fuse_pointwise_grouped(g, keep):
    """Conv 1x1 (group 1) -> grouped Conv (group > 1), each as _fuse_conv left it (with its
    activation; the grouped one with the means of its planes where _se_pool_in_depthwise gave
    it them) -> one tinycnn::PointwiseGrouped (ops/fused_pg.py), run in bands where that pays
    and as the two convolutions otherwise (RegNet's "a" and "b" layers; the expansion and
    depthwise of the inverted-residual blocks _fuse_inverted_residual left, those with a
    squeeze-and-excitation between depthwise and projection).  Refused: the 1x1's output used by another node or kept as an output, weights
    that are not constant, a residual or gates on either convolution."""
    producers = {o: n for n in g.nodes for o in n.outputs}

    def conv(node, pointwise):
        ins = _constant_conv(g, node)
        if ins is None or ins[3]:
            return None
        w = g.initializers[ins[1]]
        group = int(node.attrs.get("group", 1))
        if pointwise:
            ok = (np.shape(w)[2:] == (1, 1) and group == 1 and len(node.outputs) == 1
                  and not node.attrs.get("channel_means"))
        else:
            ok = group > 1 and (np.shape(w)[1] > 1 or group == np.shape(w)[0])
        return ins if ok else None

    for grouped in list(g.nodes):
        b = conv(grouped, False)
        if b is None:
            continue
        pointwise = producers.get(b[0])
        a = conv(pointwise, True)
        if a is None or _single_consumer(g, b[0], keep) is not grouped:
            continue
        attrs = {}
        for key, node in (("pointwise", pointwise), ("grouped", grouped)):
            attrs[key] = {k: tuple(v) if isinstance(v, list) else v for k, v in node.attrs.items()}
        fused = Node(pointwise.name, "PointwiseGrouped", FUSED,
                     [a[0], a[1], a[2], b[1], b[2], a[4], b[4]], list(grouped.outputs), attrs,
                     pointwise.index)
        fused.label = pointwise.label + "+" + grouped.label
        _replace(g, [pointwise, grouped], fused)
        producers = {o: n for n in g.nodes for o in n.outputs}


# The most input channels of the 1x1 that takes over the shortcut's residual add and
# activation (_fuse_pg_shortcut): csrc/gemm_internal.h's TC_GEMM_KC, the GEMM's depth block,
# whose first block adds the residual; within one block the sum's order is unchanged.
_PG_SHORTCUT_MAX_K = 320
_ACT_KEYS = ("activation", "activation_alpha", "activation_beta")


def _fuse_pg_shortcut(g, keep):
    """RegNet's first block of a stage: x -> PointwiseGrouped (a, b; grouped, not depthwise)
    -> ... -> Conv c (1x1, no residual or activation), and the projection shortcut, a 1x1
    Conv of x at the grouped layer's strides (group 1, no pads) to which _fuse_conv gave the
    block's Add (c as its residual) and Relu, run last and reading x cold.  Instead the
    PointwiseGrouped computes the shortcut without them (ops/fused_pg.py: its weights and
    bias as inputs 7 and 8, its output last), in its bands, from the input rows its 1x1 just
    read, and c takes the residual (the shortcut's output) and the activation.  The same bits:
    each output is still act(round(p + bias_p) + round(c + bias_c)), where c's depth fits one
    GEMM block (_PG_SHORTCUT_MAX_K).  Refused: x read by a third node, c's output read by
    another node or kept, c with an activation, residual or slope, the shortcut with a slope."""
    consumers = g.consumers()
    producers = {o: n for n in g.nodes for o in n.outputs}
    for pg in [n for n in g.nodes if n.op_type == "PointwiseGrouped" and n.domain == FUSED]:
        wb = g.initializers.get(pg.inputs[3])
        others = [n for n in consumers.get(pg.inputs[0], []) if n is not pg]
        if wb is None or np.shape(wb)[1] == 1 or len(others) != 1 or len(pg.inputs) > 7:
            continue
        sc = others[0]
        ins = _constant_conv(g, sc)
        if ins is None or not ins[3] or ins[4] or len(sc.inputs) > 4 or len(sc.outputs) != 1:
            continue
        a = sc.attrs
        strides = tuple(pg.attrs["grouped"].get("strides") or (1, 1))
        if (np.shape(g.initializers[ins[1]])[2:] != (1, 1) or int(a.get("group", 1)) != 1
                or any(int(v) for v in a.get("pads") or ())
                or a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID")
                or a.get("channel_means") or tuple(a.get("strides") or (1, 1)) != strides):
            continue
        c = producers.get(ins[3])
        c_ins = list(c.inputs) + [""] * (6 - len(c.inputs)) if c is not None else []
        wc = g.initializers.get(c_ins[1]) if c_ins else None
        if (wc is None or c.op_type != "Conv" or c.domain != FUSED or len(c_ins) > 6
                or np.ndim(wc) != 4 or np.shape(wc)[1] > _PG_SHORTCUT_MAX_K
                or (c_ins[2] and c_ins[2] not in g.initializers) or c_ins[3] or c_ins[4]
                or c.attrs.get("activation", "") or int(c.attrs.get("group", 1)) != 1
                or len(c.outputs) != 1 or _single_consumer(g, ins[3], keep) is not sc):
            continue
        short = f"{sc.outputs[0]}::shortcut"
        attrs = dict(pg.attrs, shortcut={k: tuple(v) if isinstance(v, list) else v
                                         for k, v in a.items() if k not in _ACT_KEYS})
        fused = Node(pg.name, "PointwiseGrouped", FUSED,
                     list(pg.inputs) + [""] * (7 - len(pg.inputs)) + [ins[1], ins[2]],
                     list(pg.outputs) + [short], attrs, pg.index)
        fused.label = pg.label + "+" + sc.op_type
        c_ins[3] = short
        merged = Node(c.name, "Conv", FUSED, c_ins, list(sc.outputs),
                      dict(c.attrs, **{k: a[k] for k in _ACT_KEYS if k in a}), c.index)
        merged.label = c.label + "+" + sc.label
        g.fused_away.add(ins[3])
        swap = {id(pg): fused, id(c): merged}
        g.nodes = [swap.get(id(n), n) for n in g.nodes if n is not sc]
        consumers = g.consumers()
        producers = {o: n for n in g.nodes for o in n.outputs}


# The input channels of a stem (csrc/conv.c TC_STEM_MAX_C): the layers conv.c runs in bands
_STEM_MAX_CHANNELS = 4


def _fuse_stem_block(g, keep):
    """A strided Conv of at most _STEM_MAX_CHANNELS input channels (the stem) -> depthwise Conv
    -> Conv 1x1, each as _fuse_conv left it (with its activation; the 1x1 with the stem's
    output as its residual, or none) -> one tinycnn::StemBlock (ops/fused_stem.py), run in
    bands where that pays and as the three convolutions otherwise (MobileNetV2's, MnasNet's and
    MobileNetV3-Large's first block).  Strided or depthwise, the three are never Winograd-able:
    conv_chain is the same after it.  Refused: the stem's or the depthwise's output read by
    another node (but the residual) or kept as an output, weights that are not constant,
    another residual, gates, the planes' means."""
    producers = {o: n for n in g.nodes for o in n.outputs}

    def conv(node):
        ins = _constant_conv(g, node)
        if ins is None or len(node.outputs) != 1 or node.attrs.get("channel_means"):
            return None, None
        return ins, np.shape(g.initializers[ins[1]])

    for project in list(g.nodes):
        p, wp = conv(project)
        if p is None or wp[2:] != (1, 1) or int(project.attrs.get("group", 1)) != 1:
            continue
        dw_node = producers.get(p[0])
        d, wd = conv(dw_node)
        if (d is None or d[3] or wd[1] != 1 or int(dw_node.attrs.get("group", 1)) != wd[0]
                or _single_consumer(g, p[0], keep) is not project):
            continue
        stem = producers.get(d[0])
        s, ws = conv(stem)
        if (s is None or s[3] or ws[1] > _STEM_MAX_CHANNELS or int(stem.attrs.get("group", 1)) != 1
                or all(int(v) == 1 for v in stem.attrs.get("strides") or [1]) or d[0] in keep):
            continue
        residual = bool(p[3]) and p[3] == d[0]
        readers = g.consumers().get(d[0], [])
        if (p[3] and not residual) or sorted(map(id, readers)) != sorted(
                map(id, [dw_node] + ([project] if residual else []))):
            continue
        attrs = {"residual": int(residual)}
        for key, node in zip(("stem", "depthwise", "project"), (stem, dw_node, project)):
            attrs[key] = {k: tuple(v) if isinstance(v, list) else v for k, v in node.attrs.items()}
        fused = Node(stem.name, "StemBlock", FUSED,
                     [s[0], s[1], s[2], d[1], d[2], p[1], p[2], s[4], d[4], p[4]],
                     list(project.outputs), attrs, stem.index)
        fused.label = "+".join(n.label for n in (stem, dw_node, project))
        _replace(g, [stem, dw_node, project], fused)
        producers = {o: n for n in g.nodes for o in n.outputs}


def _fuse_conv_maxpool(g, keep):
    """A strided Conv of at most _STEM_MAX_CHANNELS input channels (as _fuse_conv left it, with
    its activation) -> MaxPool, the Conv's output read by the pool alone -> one
    tinycnn::ConvMaxPool (ops/fused_cp.py): the stems and their pools, run as one banded call
    where the stem is banded and as the two steps otherwise.  Strided, so never Winograd-able:
    conv_chain, which counts tinycnn::Conv nodes, is the same after it.  Refused: weights that
    are not constant, a residual or gates, the planes' means, a 1-D or 3-D pool, the pool's
    Indices output."""
    producers = {o: n for n in g.nodes for o in n.outputs}
    for pool in [n for n in g.nodes if n.op_type == "MaxPool" and n.domain == ""]:
        if len(pool.inputs) != 1 or any(pool.outputs[1:]) or len(pool.attrs.get(
                "kernel_shape") or ()) != 2 or pool.attrs.get("storage_order", 0):
            continue
        conv = producers.get(pool.inputs[0])
        ins = _constant_conv(g, conv)
        if (ins is None or ins[3] or len(conv.outputs) != 1 or conv.attrs.get("channel_means")
                or _single_consumer(g, pool.inputs[0], keep) is not pool):
            continue
        if (np.shape(g.initializers[ins[1]])[1] > _STEM_MAX_CHANNELS
                or all(int(v) == 1 for v in conv.attrs.get("strides") or [1])):
            continue
        attrs = {}
        for key, node in (("conv", conv), ("pool", pool)):
            attrs[key] = {k: tuple(v) if isinstance(v, list) else v for k, v in node.attrs.items()}
        fused = Node(conv.name, "ConvMaxPool", FUSED, [ins[0], ins[1], ins[2], ins[4]],
                     list(pool.outputs), attrs, conv.index)
        fused.label = conv.label + "+" + pool.label
        _replace(g, [conv, pool], fused)
        producers = {o: n for n in g.nodes for o in n.outputs}


def _fuse_fire(g, keep):
    """SqueezeNet's fire modules: a Conv 1x1 (the squeeze, as _fuse_conv left it, with its
    activation) read only by a Conv 1x1 and a Conv 3x3 (the expands), whose outputs only a
    Concat along channels reads, the 1x1's first -> one tinycnn::Fire (ops/fused_fire.py);
    then a Fire whose output only the next Fire reads joins it, up to FIRE_MAX_MODULES in a
    row.  Each runs as one banded call where that pays, as the convolutions and the Concats
    otherwise.  Refused: weights that are not constant, a residual, gates or a PRelu slope,
    the planes' means, an intermediate kept as an output.  A Fire's inputs: X, then each
    module's squeeze W and B, expand 1x1 W and B, expand 3x3 W and B ("" for no bias); its
    attributes squeeze, expand1, expand3: each module's tinycnn::Conv attributes."""
    producers = {o: n for n in g.nodes for o in n.outputs}

    def conv(node, kernel):
        ins = _constant_conv(g, node)
        if (ins is None or ins[3] or ins[4] or len(node.outputs) != 1
                or node.attrs.get("channel_means") or int(node.attrs.get("group", 1)) != 1
                or tuple(np.shape(g.initializers[ins[1]])[2:]) != kernel):
            return None
        return ins

    for cat in [n for n in g.nodes if n.op_type == "Concat" and n.domain == ""]:
        if len(cat.inputs) != 2 or int(cat.attrs.get("axis", 1)) not in (1, -3):
            continue
        e1, e3 = producers.get(cat.inputs[0]), producers.get(cat.inputs[1])
        i1, i3 = conv(e1, (1, 1)), conv(e3, (3, 3))
        if (i1 is None or i3 is None or i1[0] != i3[0] or e1 is e3
                or _single_consumer(g, cat.inputs[0], keep) is not cat
                or _single_consumer(g, cat.inputs[1], keep) is not cat):
            continue
        sq = producers.get(i1[0])
        i0 = conv(sq, (1, 1))
        readers = g.consumers().get(i1[0], [])
        if (i0 is None or i1[0] in keep
                or sorted(map(id, readers)) != sorted(map(id, [e1, e3]))):
            continue
        attrs = {}
        for key, node in (("squeeze", sq), ("expand1", e1), ("expand3", e3)):
            attrs[key] = ({k: tuple(v) if isinstance(v, list) else v
                           for k, v in node.attrs.items()},)
        fused = Node(sq.name, "Fire", FUSED, [i0[0], i0[1], i0[2], i1[1], i1[2], i3[1], i3[2]],
                     list(cat.outputs), attrs, sq.index)
        fused.label = "+".join(n.label for n in (sq, e1, e3, cat))
        _replace(g, [sq, e1, e3, cat], fused)
        producers = {o: n for n in g.nodes for o in n.outputs}
    _chain_fire(g, keep)


def _chain_fire(g, keep):
    """A tinycnn::Fire whose output only the next one reads: the two as one Fire."""
    joined = True
    while joined:
        joined = False
        producers = {o: n for n in g.nodes for o in n.outputs}
        for b in [n for n in g.nodes if n.op_type == "Fire" and n.domain == FUSED]:
            a = producers.get(b.inputs[0])
            if (a is None or a.op_type != "Fire" or a.domain != FUSED
                    or _single_consumer(g, a.outputs[0], keep) is not b
                    or len(a.attrs["squeeze"]) + len(b.attrs["squeeze"]) > FIRE_MAX_MODULES):
                continue
            attrs = {k: a.attrs[k] + b.attrs[k] for k in ("squeeze", "expand1", "expand3")}
            fused = Node(a.name, "Fire", FUSED, list(a.inputs) + list(b.inputs[1:]),
                         list(b.outputs), attrs, a.index)
            fused.label = a.label + "+" + b.label
            _replace(g, [a, b], fused)
            joined = True
            break


def _fuse_relu(g, keep, op_type):
    """op_type -> Relu becomes tinycnn::op_type with a ReLU epilogue: Gemm (VGG/AlexNet
    classifiers), ConvTranspose (DBNet's head: the ReLU in col2im's store), an inference
    BatchNormalization left unfolded (DenseNet's norm + relu after each concat, one pass)."""
    replaced = {}
    for node in g.nodes:
        if node.op_type != op_type or node.domain != "":
            continue
        if op_type == "BatchNormalization" and (
                node.attrs.get("training_mode", 0) or any(node.outputs[1:])
                or not node.attrs.get("spatial", 1)
                or any(i not in g.initializers for i in node.inputs[1:5])):
            continue
        nxt = _single_consumer(g, node.outputs[0], keep)
        if nxt is None or nxt.op_type != "Relu" or nxt.domain != "":
            continue
        attrs = node.attrs
        if op_type == "BatchNormalization":  # inference: only epsilon matters
            attrs = {k: v for k, v in attrs.items() if k == "epsilon"}
        fused = Node(node.name, op_type, FUSED, list(node.inputs), list(nxt.outputs),
                     dict(attrs, activation="Relu"), node.index)
        fused.label = f"{op_type}+Relu"
        g.fused_away.add(node.outputs[0])
        replaced[id(node)] = fused
        replaced[id(nxt)] = None
    g.nodes = [replaced.get(id(n), n) for n in g.nodes if replaced.get(id(n), n) is not None]


def _scalar(g, name):
    """The value of a one-element constant, or None."""
    v = g.initializers.get(name)
    if v is None or np.size(v) != 1 or np.asarray(v).dtype.kind != "f":
        return None
    return float(np.asarray(v).reshape(-1)[0])


def _other(node, name):
    """The input of a two-input node that is not `name` (None if neither or both are)."""
    a, b = (list(node.inputs) + ["", ""])[:2]
    return b if a == name and b != name else a if b == name and a != name else None


def _replace(g, absorbed, fused):
    """Replace the chain `absorbed` (the last node carries the outputs) by `fused`."""
    drop = {id(n) for n in absorbed[:-1]}
    for n in absorbed[:-1]:
        g.fused_away.update(o for o in n.outputs if o)
    last = id(absorbed[-1])
    g.nodes = [fused if id(n) == last else n for n in g.nodes if id(n) not in drop]


def _fuse_gelu(g, keep):
    """x * 0.5 * (1 + erf(x / sqrt 2)) as the legacy exporter writes GELU (Div, Erf, Add, Mul,
    Mul, in either operand order) -> one tinycnn::Gelu: one pass over x instead of five."""
    for erf in [n for n in g.nodes if n.op_type == "Erf" and n.domain == ""]:
        producers = {o: n for n in g.nodes for o in n.outputs}
        div = producers.get(erf.inputs[0])
        if div is None or div.domain != "" or div.op_type not in ("Div", "Mul"):
            continue
        x = div.inputs[0]
        c = _scalar(g, div.inputs[1])
        if c is None or not np.isclose(c if div.op_type == "Div" else 1 / c, np.sqrt(2), rtol=1e-6):
            continue
        chain = [div, erf]
        add = _single_consumer(g, erf.outputs[0], keep)
        if add is None or add.op_type != "Add" or _scalar(g, _other(add, erf.outputs[0]) or "") != 1.0:
            continue
        mul = _single_consumer(g, add.outputs[0], keep)
        if mul is None or mul.op_type != "Mul" or _other(mul, add.outputs[0]) != x:
            continue
        half = _single_consumer(g, mul.outputs[0], keep)
        if half is None or half.op_type != "Mul" or _scalar(g, _other(half, mul.outputs[0]) or "") != 0.5:
            continue
        if _single_consumer(g, div.outputs[0], keep) is not erf:
            continue
        chain += [add, mul, half]
        fused = Node(div.name, "Gelu", FUSED, [x], list(half.outputs), {}, div.index)
        fused.label = "Gelu"
        _replace(g, chain, fused)


def _fuse_silu(g, keep):
    """x * sigmoid(x) (SiLU, YOLOv8's activation) -> one tinycnn::Silu: one pass, not two."""
    for sig in [n for n in g.nodes if n.op_type == "Sigmoid" and n.domain == ""]:
        mul = _single_consumer(g, sig.outputs[0], keep)
        if mul is None or mul.op_type != "Mul" or mul.domain != "" or \
                _other(mul, sig.outputs[0]) != sig.inputs[0]:
            continue
        fused = Node(sig.name, "Silu", FUSED, [sig.inputs[0]], list(mul.outputs), {}, sig.index)
        fused.label = "Sigmoid+Mul"
        _replace(g, [sig, mul], fused)


def _fuse_matmul_bias(g, keep):
    """MatMul(x, W) + b with a constant 2-D W and b of its N values (a Linear layer as PyTorch
    exports it on a 3-D or 4-D input: ConvNeXt's MLP) -> tinycnn::MatMul adding b in the GEMM's
    epilogue."""
    for mm in [n for n in g.nodes if n.op_type == "MatMul" and n.domain == ""]:
        w = g.initializers.get(mm.inputs[1])
        if w is None or np.ndim(w) != 2 or mm.inputs[0] in g.initializers:
            continue
        add = _single_consumer(g, mm.outputs[0], keep)
        if add is None or add.op_type != "Add" or add.domain != "":
            continue
        bias = _other(add, mm.outputs[0])
        b = g.initializers.get(bias) if bias else None
        if b is None or np.ndim(b) != 1 or np.size(b) != np.shape(w)[1]:
            continue
        fused = Node(mm.name, "MatMul", FUSED, [mm.inputs[0], mm.inputs[1], bias], list(add.outputs),
                     {}, mm.index)
        fused.label = "MatMul+Add"
        _replace(g, [mm, add], fused)

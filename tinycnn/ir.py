"""What op functions and the planner share: values, plan options, the node context.

This module sits below both the op table (`tinycnn.ops`) and the planner
(`tinycnn.planner`): ops receive a `NodeContext` and `Value`s and return Values
or numpy arrays; the planner builds the context, collects the `Step`s an op
emits and lays out the `Storage`s in an arena.  Neither imports the other's
internals through it.
"""
import dataclasses
from dataclasses import dataclass

import numpy as np

from .errors import InvalidModel
from .limits import DEFAULT as DEFAULT_LIMITS, Limits


@dataclass(frozen=True)
class PlanOptions:
    """Everything planning decisions depend on besides the graph and the input shapes.

    limits: sizes checked before allocating.  conv_chain: the most Winograd-able
    convolutions in a row without a residual merge (tinycnn.graph.conv_chain), the numeric
    budget the convolution algorithm choice works with.  winograd: whether Winograd
    convolutions may be used at all (session config entry "session.tinycnn.winograd").
    num_threads: the kernels' thread count.  huge_pages: whether arenas go on huge pages
    (tinycnn.memory; session config entry "session.tinycnn.huge_pages").
    """
    limits: Limits = DEFAULT_LIMITS
    conv_chain: int = 0
    winograd: bool = True
    num_threads: int = 1
    huge_pages: bool = True

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


# Element types whose run-time tensors share the arena (offsets in float32 words):
# the float pipeline's and the quantized one's.  Others (shape data, bool) get buffers
# of their own.
ARENA_DTYPES = (np.dtype(np.float32), np.dtype(np.uint8), np.dtype(np.int8),
                np.dtype(np.int32))

# Value.layout of a tensor stored channels last: memory holds [N, spatial..., C]
# while Value.shape stays the ONNX shape [N, C, spatial...].
CHANNELS_LAST = "nhwc"


def stored_shape(shape, layout):
    """The shape of a tensor's buffer: ONNX's, or [N, spatial..., C] when channels last."""
    shape = tuple(shape)
    if layout == CHANNELS_LAST and len(shape) >= 3:
        return (shape[0],) + shape[2:] + (shape[1],)
    return shape


class Storage:
    """A buffer that one or more Values (views, in-place results) live in.

    A storage may live inside another (`parent`, at `parent_offset` elements): a Concat
    gives each producer the slice of its output (NodeContext.concat_in_place).  Only
    storages without a parent get a place in the arena, for the union of their members'
    lifetimes; a storage inside another, or with others inside, is `pinned`: no op writes
    its result over it in place, since the other members' data may still be needed.

    runs: None (its elements contiguous), or (plane, step) for a float32 storage inside
    another whose elements come in runs of `plane`, each `step` elements after the last, from
    parent_offset on: one input's planes among a channel shuffle's output planes
    (NodeContext.shuffle_in_place), written there by its producer (Step.apart)."""
    __slots__ = ("size", "dtype", "kind", "first", "last", "refs", "offset", "parent",
                 "parent_offset", "pinned", "runs")

    def __init__(self, size, dtype, kind, first):
        self.size = size          # elements
        self.dtype = dtype
        self.kind = kind          # 'arena' | 'private' | 'input'
        self.first = first        # index of the step that writes it first
        self.last = first         # index of the last step that reads it
        self.refs = 0             # pending consumers (graph edges) during planning
        self.offset = None
        self.parent = None
        self.parent_offset = 0
        self.pinned = False
        self.runs = None

    def root(self):
        """(the outermost storage this one lives in, this one's offset there)."""
        st, offset = self, 0
        while st.parent is not None:
            offset += st.parent_offset
            st = st.parent
        return st, offset

    @property
    def words(self):
        """Size in float32 words (the arena's unit)."""
        return (self.size * self.dtype.itemsize + 3) // 4


class Value:
    """A tensor as the planner sees it: shape, dtype, and the value if known now.  A run-time
    value lives in `storage`, from element `offset` on (a slice viewed in place).

    layout: None (ONNX's) or CHANNELS_LAST, set by the ops that produce channels-last
    tensors (the quantized convolutions); only ops registered with channels_last=True
    see such Values, the planner converts them for every other consumer.
    """
    __slots__ = ("name", "shape", "dtype", "const", "storage", "offset", "layout")

    def __init__(self, name, shape, dtype, const=None, storage=None, offset=0, layout=None):
        self.name = name
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.const = const
        self.storage = storage
        self.offset = offset
        self.layout = layout

    def location(self):
        """(the outermost storage this value lives in, its offset there)."""
        root, offset = self.storage.root()
        return root, offset + self.offset

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def channels_last(self):
        """Stored channels last, with a spatial extent that makes it differ from ONNX's layout."""
        return self.layout == CHANNELS_LAST and any(d != 1 for d in self.shape[2:])

    def __repr__(self):
        return (f"Value({self.name!r}, {self.shape}, {self.dtype}"
                f"{', const' if self.const is not None else ''}"
                f"{', channels last' if self.layout == CHANNELS_LAST else ''})")


def const_value(name, array):
    """A Value known at plan time."""
    array = np.asarray(array)
    return Value(name, array.shape, array.dtype, const=array)


class Step:
    """One kernel call of a plan: fn(*input arrays, *output arrays[, workspace]).
    apart: indices of the outputs fn may get as arrays whose planes (the axes after the
    first two) lie apart (Storage.runs), instead of C-contiguous."""
    __slots__ = ("fn", "inputs", "outputs", "workspace", "node", "label", "flops", "apart")

    def __init__(self, fn, inputs, outputs, workspace, node, label, flops=0, apart=()):
        self.fn = fn
        self.inputs = inputs
        self.outputs = outputs
        self.workspace = workspace
        self.node = node
        self.label = label
        self.flops = flops
        self.apart = frozenset(apart)


class NodeContext:
    """What an op function sees of planning: the node, its opset, the kernels' context,
    the plan options, and emit() to schedule kernel calls.

    `sink` is the planner building the plan: it provides `steps`, `storages`, `cache`
    (per-node objects kept across plans, e.g. packed weights) and `ctx`.
    """

    def __init__(self, sink, node, opset, occurrences, folding, inputs=()):
        self.sink = sink
        self.node = node
        self.opset = opset
        self.ctx = sink.ctx
        self.options = sink.options
        self._occ = occurrences
        self.folding = folding
        self._inputs = inputs

    # -- errors -----------------------------------------------------------
    def error(self, message, cls=InvalidModel):
        return cls(f"{self.node.describe()}: {message}")

    def check_size(self, shape, dtype, what="output"):
        """ResourceLimit if a tensor this big may not be allocated (before allocating it)."""
        self.options.limits.tensor(f"{self.node.describe()}: {what}", shape, dtype)

    # -- per-node cache kept across plans (packed weights) -----------------
    def cached(self, key, factory):
        """factory(), made once per node, key and values of the node's constant inputs: a
        plan for another input shape reuses it, one where a constant input differs (computed
        from a fed shape, say) does not."""
        cache = self.sink.cache.setdefault(self.node.name, {})
        key = (key, self._constants_key())
        if key not in cache:
            cache[key] = factory()
        return cache[key]

    def _constants_key(self):
        """Identifies the values of the node's constant inputs: an initializer by identity
        (the graph keeps it alive, so its id is never reused), a value computed while
        planning by its contents."""
        initializers = getattr(getattr(self.sink, "graph", None), "initializers", {})
        key = []
        for name, v in zip(self.node.inputs, self._inputs):
            if v is None or v.const is None:
                key.append(None)
            elif initializers.get(name) is v.const:
                key.append(id(v.const))
            else:
                import hashlib   # rare (weights computed while planning): imported when needed
                c = np.ascontiguousarray(v.const)
                key.append((c.dtype.str, c.shape, hashlib.blake2b(c.reshape(-1).view(np.uint8)).digest()))
        return tuple(key)

    # -- memory the next step reads ------------------------------------------
    def reads_next(self, name, array):
        """This node's step, right after the one that writes tensor `name`, reads `array`
        from memory (a squeeze-and-excitation's weights, evicted by the layers between its
        runs): that step may prefetch it while it computes (next_reads)."""
        reads = getattr(self.sink, "next_reads", None)
        if reads is not None:
            reads[name] = array

    def next_reads(self):
        """{tensor name: array} that reads_next gave, complete once every node is planned:
        look a name up from a step's bind (ops.common.bound_step), not while planning.  A
        step's function holds this dict, never the NodeContext: through its sink (the
        planner, its records, their steps) that would make a cycle, and a session's layers
        and packed weights would outlive it until the garbage collector ran."""
        return getattr(self.sink, "next_reads", {})

    # -- scheduling ---------------------------------------------------------
    def emit(self, fn, inputs, outputs, inplace=None, workspace=0, label=None, layout=None,
             apart=()):
        """Schedule fn(*input_arrays, *output_arrays[, workspace]) for every run.

        outputs: list of (shape, dtype), or of Values already given a storage (a Concat
        written in place).  inplace: {output index: input index}, the output may share the
        input's buffer when that input dies here (and is not pinned, see Storage).
        layout: of the outputs (CHANNELS_LAST: stored [N, spatial..., C]; the arrays fn
        receives are then flat).  apart: indices of the outputs fn can also write with
        their planes apart (Step.apart).  Returns the output Values.  When the node is being
        folded (all inputs known at plan time) fn runs now and the outputs are constants.
        """
        given = {k: o for k, o in enumerate(outputs) if isinstance(o, Value)}
        outputs = [(o.shape, o.dtype) if isinstance(o, Value) else o for o in outputs]
        for shape, dtype in outputs:
            self.check_size(shape, dtype)
        if self.folding:
            arrays = [np.empty(stored_shape(s, layout), np.dtype(d)) for s, d in outputs]
            args = [v.const for v in inputs] + arrays
            if workspace:
                args.append(np.empty(int(workspace), np.float32))
            fn(*args)
            if layout == CHANNELS_LAST:  # constants keep ONNX's layout
                arrays = [np.ascontiguousarray(np.moveaxis(a, -1, 1)) if a.ndim >= 3 else a
                          for a in arrays]
            return [const_value("", a) for a in arrays]
        p = self.sink
        step_index = len(p.steps)
        outs = []
        for k, (shape, dtype) in enumerate(outputs):
            shape = tuple(int(d) for d in shape)
            if any(d < 0 for d in shape):
                raise self.error(f"negative output dimension {shape}")
            dtype = np.dtype(dtype)
            storage = given[k].storage if k in given else None
            if inplace and k in inplace and storage is None:
                src = inputs[inplace[k]]
                st = src.storage
                if (st is not None and st.kind == "arena" and not st.pinned and src.dtype == dtype
                        and src.layout == layout
                        and src.size == int(np.prod(shape, dtype=np.int64)) == st.size
                        and st.refs - self._occ.get(id(st), 0) == 0
                        and sum(1 for v in inputs if v.storage is st) == 1):
                    storage = st
            if storage is None:
                size = int(np.prod(shape, dtype=np.int64))
                kind = "arena" if dtype in ARENA_DTYPES else "private"
                storage = Storage(size, dtype, kind, step_index)
                p.storages.append(storage)
            outs.append(Value("", shape, dtype, storage=storage, layout=layout))
        for v in inputs:
            if v.storage is not None:
                v.storage.last = max(v.storage.last, step_index)
        p.steps.append(Step(fn, list(inputs), outs, int(workspace), self.node,
                            label or self.node.label, apart=apart))
        return outs

    def shuffle_in_place(self, inputs, shape, dtype, plane):
        """The output [N, G * c, ...] of a channel shuffle of the Concat of G inputs
        [N, c, ...] (float32, `plane` elements per channel): output channel G * i + g is
        channel i of input g, so input g's planes lie `G * plane` elements apart from
        element g * plane on.  Each input that its producer alone wrote, in a step that takes
        its planes apart (Step.apart), and that nothing reads later, is placed there
        (Storage.runs): its producer writes it in place, no copy.  Returns (the output
        Value, [whether input g is in place]); the caller copies the others."""
        size = int(np.prod(shape, dtype=np.int64))
        out = Storage(size, np.dtype(dtype), "arena", len(self.sink.steps))
        G = len(inputs)
        placed = []
        for g, v in enumerate(inputs):
            ok = self._may_run_apart(v, plane)
            if ok:
                st = v.storage
                st.parent, st.parent_offset, st.pinned = out, g * plane, True
                st.runs = (plane, G * plane)
                out.pinned = True
            placed.append(ok)
        self.sink.storages.append(out)
        return Value("", shape, dtype, storage=out), placed

    def _may_run_apart(self, v, plane):
        """Whether v's storage can become runs of `plane` elements inside another: v fills
        it alone, a step of this plan wrote it (as an output it may write apart, of v's
        shape) and no other step touches it, nor will a later consumer."""
        st = v.storage
        if (v.const is not None or st is None or v.offset or v.size != st.size
                or v.layout is not None or st.parent is not None or st.pinned
                or st.runs is not None or st.kind != "arena" or st.dtype != np.float32
                or st.first < 0 or self._occ.get(id(st), 0) != 1
                or st.refs - self._occ.get(id(st), 0) != 0):
            return False
        steps = self.sink.steps
        if st.first >= len(steps):
            return False
        producer = steps[st.first]
        outs = [k for k, o in enumerate(producer.outputs) if o.storage is st]
        if (len(outs) != 1 or outs[0] not in producer.apart
                or producer.outputs[outs[0]].shape != v.shape
                or any(w.storage is st for w in producer.inputs)
                or int(np.prod(v.shape[2:], dtype=np.int64)) != plane):
            return False
        return not any(w is not None and w.storage is st
                       for s in steps[st.first + 1:] for w in list(s.inputs) + list(s.outputs))

    def concat_in_place(self, inputs, shape, dtype):
        """A Concat's output whose inputs are contiguous slices of it, in order (the caller
        checked: every axis before the concatenated one has size 1).  Each input whose
        buffer can move there (made by a kernel of this plan, not yet inside another
        buffer, and not a feed) is placed inside the output, so its producer writes its
        slice directly; a run of inputs that already fill a buffer of their own, in order
        (an earlier Concat of the same prefix, as in DenseNet), moves there whole.
        Returns (the output Value, [whether input i is in place]); the others are copied."""
        size = int(np.prod(shape, dtype=np.int64))
        out = Storage(size, np.dtype(dtype), "arena", len(self.sink.steps))
        offsets = np.cumsum([0] + [v.size for v in inputs]).tolist()
        i = 0
        while i < len(inputs):
            run = self._whole_buffer_run(inputs, i, out)
            if run:
                st, j = run
                st.parent, st.parent_offset, st.pinned = out, offsets[i], True
                out.pinned = True
                i = j
            else:
                i += 1
        placed = [v.storage is not None and v.location() == (out, offsets[i])
                  for i, v in enumerate(inputs)]
        self.sink.storages.append(out)
        return Value("", shape, dtype, storage=out), placed

    @staticmethod
    def _whole_buffer_run(inputs, i, out):
        """(storage, j) when inputs[i:j] are exactly, in order, the whole contents of one
        movable storage; else None."""
        v = inputs[i]
        if v.const is not None or v.storage is None or v.storage.runs is not None:
            return None
        root, offset = v.location()
        if (offset != 0 or root is out or root.kind != "arena" or root.first < 0
                or root.dtype != np.float32):
            return None
        at, j = 0, i
        while at < root.size and j < len(inputs):
            w = inputs[j]
            if (w.const is not None or w.storage is None or w.storage.runs is not None
                    or w.location() != (root, at)):
                return None
            at += w.size
            j += 1
        return (root, j) if at == root.size else None

    def view(self, x, shape):
        """x reshaped without copying (Flatten, Reshape, Squeeze, Unsqueeze)."""
        shape = tuple(int(d) for d in shape)
        if int(np.prod(shape, dtype=np.int64)) != x.size:
            raise self.error(f"cannot view {x.shape} as {shape}")
        if x.const is not None:
            return const_value("", x.const.reshape(shape))
        if x.channels_last:
            raise self.error("internal: a view of a channels-last tensor")
        return Value("", shape, x.dtype, storage=x.storage, offset=x.offset)

    def slice_view(self, x, start, shape):
        """The `shape` elements of x from flat element `start` on, without copying (a Slice
        whose result is contiguous in x).  Nobody writes over x in place while it lives."""
        if x.channels_last:
            raise self.error("internal: a view of a channels-last tensor")
        return Value("", shape, x.dtype, storage=x.storage, offset=x.offset + int(start))

    def to_layout(self, x, layout):
        """x stored in `layout` (None: ONNX's, or CHANNELS_LAST): x itself, or a copy
        converted by a step (shared with the node's other consumers of x)."""
        if x.const is not None or x.ndim < 3:
            return x
        if (x.layout == CHANNELS_LAST) == (layout == CHANNELS_LAST):
            return x
        if not any(d != 1 for d in x.shape[2:]):   # no spatial extent: the same bytes
            return Value(x.name, x.shape, x.dtype, storage=x.storage, offset=x.offset,
                         layout=layout)
        return self.sink.convert_layout(x, layout, self.node)

    @staticmethod
    def constant(array, name=""):
        """A plan-time constant Value (e.g. a weight converted once to float32)."""
        return const_value(name, array)

"""Planning: from a graph and concrete input shapes to a list of kernel calls.

A plan is built once per set of input shapes (the batch size may change between
runs) and cached by the session.  Building it runs every op function once: shapes
are inferred, values that depend only on shapes or constants are computed right
away (this is what makes `x.view(x.size(0), -1)` work), and every other node
schedules kernel calls (`Step`s).  Then lifetimes are computed and every
float32 tensor gets an offset in one arena; ReLU, Add and the fused convolution
epilogues write in place where their input dies.

A run takes an `Arena` (buffers plus prebuilt argument tuples) from the plan's
free list, so several threads can run one session at once without allocating
large buffers per run.
"""
import threading
from collections import Counter

import numpy as np

from .errors import InvalidArgument, InvalidModel, TinyCNNError, UnsupportedOperator
from .ops import lookup

_ALIGN = 16  # floats: 64-byte alignment of every arena tensor


class Storage:
    """A buffer that one or more Values (views, in-place results) live in."""
    __slots__ = ("size", "dtype", "kind", "first", "last", "refs", "offset")

    def __init__(self, size, dtype, kind, first):
        self.size = size          # elements
        self.dtype = dtype
        self.kind = kind          # 'arena' | 'private' | 'input'
        self.first = first        # index of the step that writes it first
        self.last = first         # index of the last step that reads it
        self.refs = 0             # pending consumers (graph edges) during planning
        self.offset = None


class Value:
    """A tensor as the planner sees it: shape, dtype, and the value if known now."""
    __slots__ = ("name", "shape", "dtype", "const", "storage", "slot")

    def __init__(self, name, shape, dtype, const=None, storage=None):
        self.name = name
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.const = const
        self.storage = storage
        self.slot = None

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def __repr__(self):
        return f"Value({self.name!r}, {self.shape}, {self.dtype}{', const' if self.const is not None else ''})"


def const_value(name, array):
    array = np.asarray(array)
    return Value(name, array.shape, array.dtype, const=array)


class Step:
    __slots__ = ("fn", "inputs", "outputs", "workspace", "node", "label", "flops")

    def __init__(self, fn, inputs, outputs, workspace, node, label, flops):
        self.fn = fn
        self.inputs = inputs
        self.outputs = outputs
        self.workspace = workspace
        self.node = node
        self.label = label
        self.flops = flops


class NodeContext:
    """What an op function sees of the planner: the node, the kernels' context, emit()."""

    def __init__(self, planner, node, opset, occurrences, folding):
        self.planner = planner
        self.node = node
        self.opset = opset
        self.ctx = planner.ctx
        self.options = planner.options
        self._occ = occurrences
        self.folding = folding

    # -- errors -----------------------------------------------------------
    def error(self, message, cls=InvalidModel):
        return cls(f"{self.node.describe()}: {message}")

    def check_size(self, shape, dtype, what="output"):
        """ResourceLimit if a tensor this big may not be allocated (before allocating it)."""
        limits = self.options.get("limits")
        if limits is not None:
            limits.tensor(f"{self.node.describe()}: {what}", shape, dtype)

    # -- per-node cache kept across plans (packed weights) -----------------
    def cached(self, key, factory):
        cache = self.planner.cache.setdefault(self.node.name, {})
        if key not in cache:
            cache[key] = factory()
        return cache[key]

    # -- scheduling ---------------------------------------------------------
    def emit(self, fn, inputs, outputs, inplace=None, workspace=0, flops=0, label=None):
        """Schedule fn(*input_arrays, *output_arrays[, workspace]) for every run.

        outputs: list of (shape, dtype).  inplace: {output index: input index},
        the output may share the input's buffer when that input dies here.
        Returns the output Values.  When the node is being folded (all inputs
        known at plan time) fn runs now and the outputs are constants.
        """
        for shape, dtype in outputs:
            self.check_size(shape, dtype)
        if self.folding:
            arrays = [np.empty(tuple(s), np.dtype(d)) for s, d in outputs]
            args = [v.const for v in inputs] + arrays
            if workspace:
                args.append(np.empty(int(workspace), np.float32))
            fn(*args)
            return [const_value("", a) for a in arrays]
        p = self.planner
        step_index = len(p.steps)
        outs = []
        for k, (shape, dtype) in enumerate(outputs):
            shape = tuple(int(d) for d in shape)
            if any(d < 0 for d in shape):
                raise self.error(f"negative output dimension {shape}")
            dtype = np.dtype(dtype)
            storage = None
            if inplace and k in inplace:
                src = inputs[inplace[k]]
                st = src.storage
                if (st is not None and st.kind == "arena" and src.dtype == dtype
                        and src.size == int(np.prod(shape, dtype=np.int64))
                        and st.refs - self._occ.get(id(st), 0) == 0
                        and sum(1 for v in inputs if v.storage is st) == 1):
                    storage = st
            if storage is None:
                size = int(np.prod(shape, dtype=np.int64))
                kind = "arena" if dtype == np.float32 else "private"
                storage = Storage(size, dtype, kind, step_index)
                p.storages.append(storage)
            outs.append(Value("", shape, dtype, storage=storage))
        for v in inputs:
            if v.storage is not None:
                v.storage.last = max(v.storage.last, step_index)
        p.steps.append(Step(fn, list(inputs), outs, int(workspace), self.node,
                            label or self.node.label, int(flops)))
        return outs

    def view(self, x, shape):
        """x reshaped without copying (Flatten, Reshape, Squeeze, Unsqueeze)."""
        shape = tuple(int(d) for d in shape)
        if int(np.prod(shape, dtype=np.int64)) != x.size:
            raise self.error(f"cannot view {x.shape} as {shape}")
        if x.const is not None:
            return const_value("", x.const.reshape(shape))
        return Value("", shape, x.dtype, storage=x.storage)


class Plan:
    """Steps plus memory layout for one set of input shapes."""

    def __init__(self, steps, storages, feeds, outputs, values):
        self.steps = steps
        self.storages = storages
        self.feeds = feeds          # [(name, Value)]
        self.outputs = outputs      # [Value] in the requested order
        self.values = values        # name -> Value
        self.arena_size = _assign_offsets(storages)
        self.workspace = max((s.workspace for s in steps), default=0)
        self._free = []
        self._lock = threading.Lock()

    def acquire(self):
        with self._lock:
            if self._free:
                return self._free.pop()
        return Arena(self)

    def release(self, arena):
        with self._lock:
            self._free.append(arena)


def _assign_offsets(storages):
    """Greedy first-fit by decreasing size over lifetime intervals; returns arena size."""
    placed = []
    end = 0
    for s in sorted((s for s in storages if s.kind == "arena"), key=lambda s: -s.size):
        size = (s.size + _ALIGN - 1) // _ALIGN * _ALIGN
        busy = sorted((o.offset, o.offset + ((o.size + _ALIGN - 1) // _ALIGN * _ALIGN))
                      for o in placed if not (o.last < s.first or s.last < o.first))
        offset = 0
        for lo, hi in busy:
            if offset + size <= lo:
                break
            offset = max(offset, hi)
        s.offset = offset
        placed.append(s)
        end = max(end, offset + size)
    return end


class Arena:
    """The buffers of one concurrent run of a plan, with prebuilt kernel arguments."""

    def __init__(self, plan):
        self.buffer = np.empty(plan.arena_size + _ALIGN, np.float32)
        shift = (-(self.buffer.ctypes.data // 4)) % _ALIGN
        base = self.buffer[shift:shift + plan.arena_size]
        private = {}

        def array(v):
            if v.const is not None:
                return v.const
            st = v.storage
            if st.kind == "arena":
                return base[st.offset:st.offset + v.size].reshape(v.shape)
            buf = private.get(id(st))
            if buf is None:
                buf = private[id(st)] = np.empty(st.size, st.dtype)
            return buf[:v.size].reshape(v.shape)

        self.feeds = [(name, array(v)) for name, v in plan.feeds]
        ws = np.empty(max(plan.workspace, 1), np.float32)
        self.calls = []
        for s in plan.steps:
            args = tuple(array(v) for v in s.inputs) + tuple(array(v) for v in s.outputs)
            if s.workspace:
                args += (ws[:s.workspace],)
            self.calls.append((s.fn, args))
        self.outputs = [array(v) for v in plan.outputs]


class Planner:
    """Builds a Plan for a prepared graph and concrete feed shapes."""

    def __init__(self, graph, ctx, options, cache):
        self.graph = graph
        self.ctx = ctx
        self.options = options
        self.cache = cache
        self.steps = []
        self.storages = []

    def build(self, feed_shapes, output_names):
        g = self.graph
        env = {name: const_value(name, arr) for name, arr in g.initializers.items()}
        uses = Counter(i for n in g.nodes for i in n.inputs if i)
        uses.update(output_names)
        feeds = []
        limits = self.options.get("limits")
        for name, (shape, dtype) in feed_shapes.items():
            if limits is not None:
                limits.tensor(f"input {name!r}", shape, dtype)
            kind = "arena" if np.dtype(dtype) == np.float32 else "private"
            st = Storage(int(np.prod(shape, dtype=np.int64)), np.dtype(dtype), kind, -1)
            st.refs = uses[name]
            self.storages.append(st)
            v = Value(name, shape, dtype, storage=st)
            env[name] = v
            feeds.append((name, v))
        for node in g.nodes:
            self._plan_node(node, env, uses)
        outputs = []
        for name in output_names:
            v = env.get(name)
            if v is None:
                raise InvalidArgument(f"output {name!r} is not computed by the graph")
            if v.storage is not None:
                v.storage.last = len(self.steps)
            outputs.append(v)
        plan = Plan(self.steps, self.storages, feeds, outputs, env)
        if limits is not None:  # before any run allocates an Arena
            private = sum(s.size * s.dtype.itemsize for s in self.storages if s.kind == "private")
            limits.arena(f"inputs {dict((k, tuple(s)) for k, (s, _) in feed_shapes.items())}",
                         4 * (plan.arena_size + plan.workspace) + private)
        return plan

    def _plan_node(self, node, env, uses):
        g = self.graph
        opset = g.opsets.get(node.domain, 1)
        opdef = lookup(node.domain, node.op_type, opset)
        if opdef is None:  # check_supported ran at load; only internal misuse gets here
            raise UnsupportedOperator(f"{node.describe()}: not supported at opset {opset}")
        inputs = []
        for name in node.inputs:
            if not name:
                inputs.append(None)
                continue
            v = env.get(name)
            if v is None:
                raise InvalidModel(f"{node.describe()}: input {name!r} is not defined")
            inputs.append(v)
        present = [v for v in inputs if v is not None]
        folding = bool(present) and all(v.const is not None for v in present) or (
            not present and node.op_type != "RandomNormal")
        occ = Counter(id(v.storage) for v in present if v.storage is not None)
        n = NodeContext(self, node, opset, occ, folding)
        try:
            results = opdef.fn(n, *inputs, **node.attrs)
        except TypeError as e:
            if "keyword argument" in str(e) or "positional argument" in str(e):
                raise UnsupportedOperator(
                    f"{node.describe()}: unsupported attributes or inputs ({e})") from None
            raise InvalidModel(f"{node.describe()}: invalid attributes or inputs "
                               f"(TypeError: {e})") from e
        except TinyCNNError:
            raise
        except ValueError as e:
            raise InvalidModel(f"{node.describe()}: {e}") from None
        except (LookupError, ArithmeticError, AttributeError) as e:
            # An attribute of the wrong type or arity (a float where ints are due, no inputs):
            # a bad model, reported with the node rather than as a crash of the op function.
            raise InvalidModel(f"{node.describe()}: invalid attributes or inputs "
                               f"({type(e).__name__}: {e})") from e
        if not isinstance(results, (list, tuple)):
            results = [results]
        for v in present:
            if v.storage is not None:
                v.storage.refs -= 1
        for name, r in zip(node.outputs, results):
            if not name:
                continue
            if r is None:
                continue
            if isinstance(r, Value):
                if r.const is not None:
                    r = const_value(name, r.const)
                else:
                    r = _named(r, name)
                    r.storage.refs += uses[name]
            else:
                r = const_value(name, np.asarray(r))
            env[name] = r


def _named(v, name):
    out = Value(name, v.shape, v.dtype, storage=v.storage)
    return out

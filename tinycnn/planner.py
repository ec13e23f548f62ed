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

Inputs whose values decide shapes (Reshape's shape, Slice's starts...: the op
registrations' `shape_inputs`) cannot wait for the run: `plan_time_inputs` names
them, and a plan is built per set of their values, which the op functions see as
constants.
"""
import functools
from collections import Counter
from dataclasses import dataclass

import numpy as np

from . import _kernels, memory
from .errors import InvalidArgument, InvalidModel, TinyCNNError, UnsupportedOperator
from .ir import (CHANNELS_LAST, NodeContext, PlanOptions, Storage, Value, const_value,
                 stored_shape)
from .ops import FUSED_DOMAIN, lookup, shape_inputs

_ALIGN = 16  # floats: 64-byte alignment of every arena tensor
# An output smaller than this is copied out of the arena, not computed into a new array
# bound per run (_direct_outputs): binding anew after the kernels ran costs tens of us of
# Python on evicted caches (MobileNetV3-Small's 4 kB output: ~150 us per run with the
# feed's rebinding, AVX2 emulation 1t thread CPU time, 2026-12-02 00:05), the copy ~1 us.
_DIRECT_BYTES = 1 << 18


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
        self.plain_outputs = False   # every output returned as computed (the session sets it)
        self.huge_pages = True       # Arena buffers on huge pages (PlanOptions.huge_pages)
        self._free = []
        memory.new_lock_after_fork(self)   # the free list is whole at any point

    def acquire(self):
        with self._lock:
            if self._free:
                return self._free.pop()
        return Arena(self)

    def release(self, arena):
        with self._lock:
            self._free.append(arena)

    def drop_arenas(self):
        """Free the buffers of idle runs (a plan not used lately); the next run allocates anew."""
        with self._lock:
            self._free.clear()


def _assign_offsets(storages):
    """Greedy first-fit by decreasing size over lifetime intervals; returns arena size
    (float32 words: 8-bit and int32 tensors share the arena, by their size in bytes).
    A storage inside another (a Concat's input, float32 like its output) is placed with
    it: the outer one lives for all of its members' lifetimes.

    Tried and left (n29-cold, 2026-12-04, Zen 4, AVX2 kernels, 1 thread; bit-identical):
    placing by recency instead, the storages in the order of their first step, each at the
    free offset whose lines the steps before it touched most recently (4 KiB bins, the age
    of a bin = steps since a dead storage there was last read; a second pass also counting
    the previous run's last touches, so that a run's first outputs land where its last steps
    wrote).  The mobile networks' fused steps already ping-pong between two or three offsets
    near 0 (MobileNetV2's arena is 1.34 MB, V3-Large's 1.53 MB), so little moves: one
    process, two sessions alternating, thread CPU time, median [25-75%] of per-round ratios,
    21-31 rounds on a host at load 1-30: V3-Large 0.996 [0.992-1.011] and 0.979 [0.937-1.007]
    (the arena 1.53 -> 2.1 MB), MobileNetV2 1.009 [0.987-1.107] and 1.015 [0.991-1.042],
    against the same layout in both sessions 0.999 [0.980-1.012] and 1.008 [0.993-1.175].
    benchmarks/cold_steps.py says why: what a step pays for cold data inside the network
    is mostly its weights (a run streams 14-22 MB of them, none left in L2 between runs),
    which no activation layout moves; the one activation cost of note is the first steps'
    output on lines last written a run ago, where nothing is warm after the classifier's
    GEMVs (5-10 MB streamed through L2).

    Measured level (n34-arena, 2026-12-05, Xeon KVM guest, AVX2 emulation; bit-identical):
    offsets staggered mod 4096 against 4K aliasing and set conflicts, `benchmarks/arena_ab.py
    --arenas`: one session, an Arena per layout (weights and pool shared), 40 rounds of 5 runs,
    median [25-75%] of per-round ratios to a base-layout arena: every storage rounded to 1088
    bytes (align:272) or all offsets shifted by 1088 bytes (shift:272), whole runs at 1 thread
    0.985-1.005 (SqueezeNet 1.1, MobileNetV2, MnasNet, RegNetY-400MF, ResNet-50), at 2 threads
    0.957-1.023, where a second arena with the base layout read 0.991-1.011 at 1 thread and
    0.927-1.031 at 2 (SqueezeNet 0.927 [0.879-0.954], MobileNetV2 0.976, RegNetY 1.031): at 2
    threads an arena's own pages move its steps by up to ~10%, its layout no more than that
    (ResNet-50 level at both, MnasNet's layers.14 1x1 after the NHWC8 chain 0.986-1.003).
    Two sessions of one build in one process differ as much (steps_ab.py, a build against a copy of itself, 2 threads: SqueezeNet's
    features.9 / .11 1.006-1.088 / 0.944-1.105 in three processes).  n34-2t's split Winograd
    shares (benchmarks/wg_split_shares.patch), whose 13x13 expand3x3s ran slower, moved no
    offset: it shrank the workspace, the arena + workspace block 4.42 -> 3.55 MB, so all past
    its first 2 MB on 4 KiB pages.  steps_ab.py, 2 threads, chrt -f 10, 40 rounds, both orders
    (geometric mean; the first-named build read ~8% faster either way that hour): the patch
    1.085 of the base's whole run, features.9-12 1.08-1.11; the base with only its first 2 MB
    advised huge (the same pages as the patch) 1.009, features.9-12 0.995-1.032: the patch's
    code, not where its buffers lie."""
    for s in storages:
        if s.parent is not None:
            root, _ = s.root()
            root.first, root.last = min(root.first, s.first), max(root.last, s.last)
    placed = []
    end = 0
    for s in sorted((s for s in storages if s.kind == "arena" and s.parent is None),
                    key=lambda s: -s.words):
        size = (s.words + _ALIGN - 1) // _ALIGN * _ALIGN
        busy = sorted((o.offset, o.offset + ((o.words + _ALIGN - 1) // _ALIGN * _ALIGN))
                      for o in placed if not (o.last < s.first or s.last < o.first))
        offset = 0
        for lo, hi in busy:
            if offset + size <= lo:
                break
            offset = max(offset, hi)
        s.offset = offset
        placed.append(s)
        end = max(end, offset + size)
    for s in storages:
        if s.parent is not None:
            root, rel = s.root()
            s.offset = root.offset + rel
    return end


class Arena:
    """The buffers of one concurrent run of a plan, with prebuilt kernel arguments."""

    def __init__(self, plan):
        # the arena then the workspace, in one block: on huge pages where the plan has them
        words = plan.arena_size + max(plan.workspace, 1)
        self.buffer = (memory.huge_empty(4 * words) if plan.huge_pages
                       else memory.aligned_empty(4 * words)).view(np.float32)
        base = self.buffer[:plan.arena_size]
        private = {}

        def array(v):
            if v.const is not None:
                return v.const
            st = v.storage
            shape = stored_shape(v.shape, v.layout)
            if st.runs is not None:
                return _runs_view(base, st.offset + v.offset, shape, *st.runs)
            if st.kind == "arena":
                words = base[st.offset:st.offset + st.words]
                if st.dtype != np.float32:
                    words = words.view(st.dtype)
                return words[v.offset:v.offset + v.size].reshape(shape)
            buf = private.get(id(st))
            if buf is None:
                buf = private[id(st)] = np.empty(st.size, st.dtype)
            return buf[v.offset:v.offset + v.size].reshape(shape)

        ws = self.buffer[plan.arena_size:]   # 64-byte aligned: arena_size is a multiple of _ALIGN
        # One call without arguments per step, in order, run by a _kernels.CallSequence.
        # Steps made by ops.common.bound_step are bound here, their checks paid once.
        calls = []
        step_args = []
        for s in plan.steps:
            args = tuple(array(v) for v in s.inputs) + tuple(array(v) for v in s.outputs)
            if s.workspace:
                args += (ws[:s.workspace],)
            step_args.append(args)
            calls.append(_bound_call(s, args))
        self.feeds = [(name, array(v), _feed_readers(plan, v, step_args))
                      for name, v in plan.feeds]
        self.outputs = [array(v) for v in plan.outputs]
        self.direct = _direct_outputs(plan, step_args)
        # the outputs a sequence's run(copy=True) copies out of the arena itself
        self._sources = self.outputs if all(
            o.flags.c_contiguous and o.dtype.isnative and o.dtype.kind in "biuf"
            for o in self.outputs) else None
        self._steps = plan.steps
        self.calls = calls

    @property
    def calls(self):
        """The calls of a run on the feeds copied into the arena (a tuple, one per step)."""
        return self.sequence.calls

    @calls.setter
    def calls(self, calls):
        self.sequence = _kernels.CallSequence(calls, self._sources)
        self._reused = None   # (feeds read in place, their CallSequence): see calls_for

    def calls_for(self, feeds, fresh=None):
        """The calls of a run on these checked feeds {name: array}, as a CallSequence.  A float32 feed that
        is C-contiguous and aligned is read where it is, by its readers' calls bound anew
        for this run (cheaper than copying it, and never written: see _feed_readers);
        any other feed is copied into its buffer, converted (float16 feeds: to float32).
        fresh: {output index: a new array of its storage's size} for outputs of
        self.direct: the steps that touch their storage write there instead.
        Without fresh outputs, the calls bound to the feeds read in place are kept (with
        those arrays) for the next run: fed the same array objects again, it binds nothing
        (binding after the kernels ran costs tens of us of Python on evicted caches)."""
        reused = self._reused
        if not fresh and reused is not None and len(reused[0]) == len(feeds):
            # the same arrays as the last run, already checked C-contiguous and aligned
            for a, (name, _, _) in zip(reused[0], self.feeds):
                if feeds[name] is not a:
                    break
            else:
                return reused[1]
        patched = {}     # step index -> its arrays, with every feed it reads in place
        in_place = []
        for name, buf, readers in self.feeds:
            x = feeds[name]
            if readers is None or x.dtype != np.float32 or not (
                    x.flags.c_contiguous and x.flags.aligned):
                np.copyto(buf, x, casting="safe")
            else:
                in_place.append(x)
                _patch(patched, x.reshape(-1), readers)
        for i, out in (fresh or {}).items():
            _patch(patched, out.reshape(-1), self.direct[i])
        if not patched:
            return self.sequence
        calls = list(self.calls)
        for i, arrays in patched.items():
            calls[i] = _bound_call(self._steps[i], arrays)
        calls = _kernels.CallSequence(calls, None if fresh else self._sources)
        if not fresh and len(in_place) == len(self.feeds):
            self._reused = (in_place, calls)
        return calls


def _patch(patched, flat, users):
    """Arena.calls_for: in patched {step index: its arrays}, the users' slots
    [(step index, its arrays, [(position, start, stop, shape)])] set to views of `flat`."""
    for i, args, slots in users:
        arrays = patched.get(i)
        if arrays is None:
            arrays = patched[i] = list(args)
        for pos, start, stop, shape in slots:
            arrays[pos] = flat[start:stop].reshape(shape)


def _runs_view(words, start, shape, plane, step):
    """The float32 tensor of `shape` stored in runs of `plane` elements (its trailing axes),
    each `step` elements after the last, from words[start] on (Storage.runs): a view."""
    k = next((k for k in range(len(shape) + 1)
              if int(np.prod(shape[k:], dtype=np.int64)) == plane), None)
    if k is None:
        raise TinyCNNError(f"internal: shape {shape} is not runs of {plane} elements")
    strides, at = [0] * len(shape), 4
    for i in range(len(shape) - 1, k - 1, -1):
        strides[i], at = at, at * shape[i]
    at = 4 * step
    for i in range(k - 1, -1, -1):
        strides[i], at = at, at * shape[i]
    return np.lib.stride_tricks.as_strided(words[start:], shape, strides)


def _direct_outputs(plan, step_args):
    """{output index: [(step index, its arrays, [(position, start, stop, shape)])]} for the
    outputs a run can compute straight into the array it returns (Arena.calls_for's fresh),
    instead of copying them out of the arena (the last copy of a run: 1.5 ms of LRASPP's
    22 MB output at 512x512): a run-time tensor of _DIRECT_BYTES or more that fills its
    storage alone (no other output, no feed, no constant in it), in ONNX's layout; every
    step that touches that storage, views and in-place results included, is bound to the
    new array."""
    direct, seen = {}, set()
    feeds = {id(v.location()[0]) for _, v in plan.feeds if v.storage is not None}
    for i, v in enumerate(plan.outputs):
        if v.const is not None or v.storage is None or v.layout is not None:
            continue
        root, offset = v.location()
        if (offset or v.size != root.size or root.kind not in ("arena", "private")
                or root.dtype != v.dtype or id(root) in seen or id(root) in feeds
                or v.size * root.dtype.itemsize < _DIRECT_BYTES):
            seen.add(id(root))
            direct.pop(next((j for j, r in direct.items() if r[0] is root), None), None)
            continue
        seen.add(id(root))
        direct[i] = (root, [])
    for k, s in enumerate(plan.steps):
        slots = {}
        for pos, v in enumerate(tuple(s.inputs) + tuple(s.outputs)):
            if v is None or v.const is not None or v.storage is None:
                continue
            root, offset = v.location()
            for i, (r, _) in direct.items():
                if r is root:
                    if v.dtype != root.dtype or v.layout is not None or v.storage.runs:
                        direct[i] = (None, None)
                    else:
                        slots.setdefault(i, []).append(
                            (pos, offset, offset + v.size, stored_shape(v.shape, v.layout)))
        for i, sl in slots.items():
            if direct[i][1] is not None:
                direct[i][1].append((k, step_args[k], sl))
    return {i: steps for i, (root, steps) in direct.items() if root is not None}


def _bound_call(step, args):
    """step's kernel over its arrays `args`, as a call without arguments."""
    bind = getattr(step.fn, "bind", None)
    if bind is None:
        return functools.partial(step.fn, *args)
    try:
        return bind(*args)
    except (ValueError, TypeError) as e:
        raise InvalidModel(f"{step.node.describe()}: {type(e).__name__}: {e}") from e


def _feed_readers(plan, feed, step_args):
    """[(step index, its arrays, [(position, start, stop, shape) of each array of the feed's
    storage])] of the steps that read the feed `feed` (a Value), for Arena.calls_for; None
    when the feed cannot be read in place: not a float32 arena tensor, written by a step (a
    ReLU in place where the feed dies), inside another buffer, or a graph output."""
    st = feed.storage
    if st.kind != "arena" or st.dtype != np.float32 or st.parent is not None or any(
            v.storage is st for v in plan.outputs):
        return None
    readers = []
    for i, s in enumerate(plan.steps):
        if any(v.storage is st for v in s.outputs):
            return None
        slots = [(k, v.offset, v.offset + v.size, stored_shape(v.shape, v.layout))
                 for k, v in enumerate(s.inputs) if v.storage is st]
        if slots:
            readers.append((i, step_args[i], slots))
    return readers


@dataclass
class NodeRecord:
    """What planning learnt about one node: its input and output Values (shapes, dtypes,
    constants), the MACs of its registered cost function, and its steps [first, end)."""
    node: object
    inputs: list
    outputs: list
    macs: int
    first_step: int
    end_step: int


class Planner:
    """Builds a Plan for a prepared graph and concrete feed shapes."""

    def __init__(self, graph, ctx, options, cache):
        if not isinstance(options, PlanOptions):
            raise TypeError(f"options must be a PlanOptions, got {type(options).__name__}")
        self.graph = graph
        self.ctx = ctx
        self.options = options
        self.cache = cache
        self.steps = []
        self.storages = []
        self.records = []
        self._producers = {}      # tensor name -> node (for steps scheduled on its behalf)
        self._converted = {}      # (id(Value), layout) -> its copy in that layout
        self.next_reads = {}      # tensor name -> what its reader loads cold (reads_next)

    def build(self, feed_shapes, output_names, feed_values=None):
        """A Plan for run-time feeds of these {name: (shape, dtype)} and the plan-time feeds
        `feed_values` ({name: array}, see plan_time_inputs), computing `output_names`."""
        g = self.graph
        env = {name: const_value(name, arr) for name, arr in g.initializers.items()}
        env.update((name, const_value(name, arr)) for name, arr in (feed_values or {}).items())
        uses = Counter(i for n in g.nodes for i in n.inputs if i)
        uses.update(output_names)
        feeds = []
        limits = self.options.limits
        for name, (shape, dtype) in feed_shapes.items():
            limits.tensor(f"input {name!r}", shape, dtype)
            kind = "arena" if np.dtype(dtype) == np.float32 else "private"
            st = Storage(int(np.prod(shape, dtype=np.int64)), np.dtype(dtype), kind, -1)
            st.refs = uses[name]
            self.storages.append(st)
            v = Value(name, shape, dtype, storage=st)
            env[name] = v
            feeds.append((name, v))
        for node in g.nodes:
            self.plan_node(node, env, uses)
        outputs = []
        for name in output_names:
            v = env.get(name)
            if v is None:
                raise InvalidArgument(f"output {name!r} is not computed by the graph")
            if v.channels_last:
                v = self._to_channels_first(v, self._producers[name])
            outputs.append(v)
        for v in outputs:  # after every conversion step: outputs live to the end
            if v.storage is not None:
                v.storage.last = len(self.steps)
        plan = Plan(self.steps, self.storages, feeds, outputs, env)
        plan.records = self.records
        plan.huge_pages = self.options.huge_pages
        # before any run allocates an Arena
        private = sum(s.size * s.dtype.itemsize for s in self.storages if s.kind == "private")
        limits.arena(f"inputs {dict((k, tuple(s)) for k, (s, _) in feed_shapes.items())}",
                     4 * (plan.arena_size + plan.workspace) + private)
        return plan

    def evaluate(self, node, values):
        """Plan one node whose inputs are all in `values` ({name: Value}), adding its outputs
        there.  With constant inputs the node is folded: its outputs become constants and no
        step is scheduled.  The public entry point for graph rewriting (constant folding)."""
        self.plan_node(node, values, Counter())

    def _to_channels_first(self, v, node):
        """v (stored channels last) in ONNX's layout for a consumer that needs it (an op
        not registered channels_last, a graph output): converted once for all of them."""
        c = self.convert_layout(v, None, node)
        v.storage.refs -= 1       # this consumer reads the copy
        c.storage.refs += 1
        return c

    def convert_layout(self, v, layout, node):
        """A copy of the run-time Value v stored in `layout` (None: ONNX's, or
        CHANNELS_LAST), scheduled on behalf of node; one per (tensor, layout)."""
        key = (id(v), layout)
        c = self._converted.get(key)
        if c is not None:
            return c
        n, ch = v.shape[0], v.shape[1]
        s = int(np.prod(v.shape[2:], dtype=np.int64))
        ctx, to_last = self.ctx, layout == CHANNELS_LAST

        def convert(x, y):
            if x.dtype.itemsize in (1, 4):
                _kernels.transpose_channels(ctx, to_last, x, y, n, ch, s)
            elif to_last:
                np.copyto(y, np.moveaxis(x, 1, -1))
            else:
                np.copyto(y, np.moveaxis(x, -1, 1))
        nc = NodeContext(self, node, self.graph.opsets.get(node.domain, 1), Counter(), False)
        (c,) = nc.emit(convert, [v], [(v.shape, v.dtype)], layout=layout,
                       label="ToChannelsLast" if to_last else "ToChannelsFirst")
        c = Value(v.name, c.shape, c.dtype, storage=c.storage, layout=layout)
        self._converted[key] = c
        return c

    def plan_node(self, node, env, uses):
        """Run the op function of `node` on its inputs from `env` and bind its outputs there."""
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
            if v.channels_last and not opdef.channels_last:
                v = self._to_channels_first(v, node)
            inputs.append(v)
        present = [v for v in inputs if v is not None]
        folding = bool(present) and all(v.const is not None for v in present) or (
            not present and not opdef.nondeterministic)
        occ = Counter(id(v.storage) for v in present if v.storage is not None)
        n = NodeContext(self, node, opset, occ, folding, inputs)
        first_step = len(self.steps)
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
        outputs = []
        for name, r in zip(node.outputs, results):
            if not name or r is None:
                outputs.append(None)
                continue
            if isinstance(r, Value):
                if r.const is not None:
                    r = const_value(name, r.const)
                else:
                    r = Value(name, r.shape, r.dtype, storage=r.storage, offset=r.offset,
                              layout=r.layout)
                    r.storage.refs += uses[name]
            else:
                r = const_value(name, np.asarray(r))
            env[name] = r
            self._producers[name] = node
            outputs.append(r)
        macs = int(opdef.cost(inputs, outputs, **node.attrs)) if opdef.cost else 0
        if macs and len(self.steps) > first_step:
            self.steps[first_step].flops = 2 * macs
        self.records.append(NodeRecord(node, inputs, outputs, macs, first_step, len(self.steps)))


# Ops whose outputs depend on their inputs' shapes only, never on their values.
_SHAPE_ONLY = frozenset({("", "Shape"), ("", "Size"), (FUSED_DOMAIN, "ConcatShape")})


def plan_time_inputs(graph, feed_names):
    """The feeds (of `feed_names`) whose values must be known to plan `graph`: those that
    reach an op's shape input (its registration's `shape_inputs`: Reshape's shape, Slice's
    starts...), directly or through other ops, other than through Shape or Size."""
    producer = {o: n for n in graph.nodes for o in n.outputs if o}
    needed, todo = set(), []
    for node in graph.nodes:
        slots = shape_inputs(node.domain, node.op_type, graph.opsets.get(node.domain, 1))
        todo.extend(node.inputs[k] for k in slots if k < len(node.inputs) and node.inputs[k])
    while todo:
        name = todo.pop()
        if name in needed or name in graph.initializers:
            continue
        needed.add(name)
        node = producer.get(name)
        if node is not None and (node.domain, node.op_type) not in _SHAPE_ONLY:
            todo.extend(i for i in node.inputs if i)
    return [name for name in feed_names if name in needed]

"""InferenceSession: onnxruntime's Python API over tinycnn's planner and kernels."""
import enum
import os
import threading
import time
from collections import OrderedDict

import numpy as np

from . import _kernels
from .errors import InvalidArgument, InvalidModel, TinyCNNError
from .graph import prepare
from .ir import PlanOptions
from .limits import DEFAULT as DEFAULT_LIMITS, Limits
from .loader import carried_dtype, load_model
from .planner import Planner

_ELEM_NAMES = {1: "tensor(float)", 2: "tensor(uint8)", 3: "tensor(int8)", 5: "tensor(int16)",
               6: "tensor(int32)", 7: "tensor(int64)", 9: "tensor(bool)", 10: "tensor(float16)",
               11: "tensor(double)"}
_PLAN_CACHE_SIZE = 8
_ARENA_PLANS = 2
WINOGRAD_CONFIG_KEY = "session.tinycnn.winograd"


class GraphOptimizationLevel(enum.IntEnum):
    """As onnxruntime's: BASIC folds constants, EXTENDED and ALL also fuse
    (batch norm into conv weights, residual Add and ReLU into the conv epilogue)."""
    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_ALL = 99


class SessionOptions:
    """Options of an InferenceSession (the subset of onnxruntime's that applies).

    intra_op_num_threads: threads for the kernels; 0 means the TINYCNN_NUM_THREADS
    environment variable if set, else the number of cores this process may use.
    """

    def __init__(self):
        self.intra_op_num_threads = 0
        self.inter_op_num_threads = 0
        self.graph_optimization_level = GraphOptimizationLevel.ORT_ENABLE_ALL
        self.enable_profiling = False
        self.log_severity_level = 2
        self.execution_mode = None
        # Limits checked before allocating (see tinycnn.limits).
        self.max_tensor_bytes = DEFAULT_LIMITS.max_tensor_bytes
        self.max_weight_bytes = DEFAULT_LIMITS.max_weight_bytes
        self.max_nodes = DEFAULT_LIMITS.max_nodes
        self.max_arena_bytes = DEFAULT_LIMITS.max_arena_bytes
        self._config = {}

    def add_session_config_entry(self, key, value):
        """A string option, as onnxruntime's.  tinycnn reads "session.tinycnn.winograd"
        ("1", the default, or "0": never choose Winograd convolutions)."""
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidArgument(f"session config entries are strings, got {key!r}: {value!r}")
        if key == WINOGRAD_CONFIG_KEY and value not in ("0", "1"):
            raise InvalidArgument(f"session config entry {key}={value!r}: expected '0' or '1'")
        self._config[key] = value

    def get_session_config_entry(self, key):
        if key not in self._config:
            raise InvalidArgument(f"session config entry {key!r} is not set")
        return self._config[key]


class NodeArg:
    """Name, shape (ints, symbolic dims as strings, None when unknown) and type of an input/output."""

    def __init__(self, name, shape, type):
        self.name = name
        self.shape = shape
        self.type = type

    def __repr__(self):
        return f"NodeArg(name={self.name!r}, type={self.type!r}, shape={self.shape!r})"


def default_num_threads():
    env = os.environ.get("TINYCNN_NUM_THREADS", "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            raise InvalidArgument(f"TINYCNN_NUM_THREADS={env!r} is not an integer") from None
        if n < 1:
            raise InvalidArgument(f"TINYCNN_NUM_THREADS={env!r} must be >= 1")
        return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _isa_from_env():
    isa = os.environ.get("TINYCNN_ISA", "auto").strip().lower() or "auto"
    if isa not in ("auto", "portable", "avx2"):
        raise InvalidArgument(f"TINYCNN_ISA={isa!r}: expected auto, portable or avx2")
    return isa


class InferenceSession:
    """Load an ONNX model and run it: tinycnn.InferenceSession(path_or_bytes_or_model).

    Mirrors onnxruntime.InferenceSession: get_inputs(), get_outputs(), run().
    """

    def __init__(self, path_or_bytes, sess_options=None, providers=None, provider_options=None,
                 *, base_dir=None, **kwargs):
        """base_dir: where a model given as bytes or ModelProto finds its external data
        (a model loaded from a path uses its own folder)."""
        opts = sess_options if sess_options is not None else SessionOptions()
        threads = int(getattr(opts, "intra_op_num_threads", 0) or 0)
        if threads < 0:
            raise InvalidArgument(f"intra_op_num_threads={threads} must be >= 0")
        self._num_threads = threads or default_num_threads()
        self._ctx = _kernels.Context(self._num_threads, _isa_from_env())
        self._level = int(getattr(opts, "graph_optimization_level",
                                  GraphOptimizationLevel.ORT_ENABLE_ALL))
        limits = Limits(int(getattr(opts, "max_tensor_bytes", DEFAULT_LIMITS.max_tensor_bytes)),
                        int(getattr(opts, "max_weight_bytes", DEFAULT_LIMITS.max_weight_bytes)),
                        int(getattr(opts, "max_nodes", DEFAULT_LIMITS.max_nodes)),
                        int(getattr(opts, "max_arena_bytes", DEFAULT_LIMITS.max_arena_bytes)))
        config = getattr(opts, "_config", {})
        options = PlanOptions(limits=limits, winograd=config.get(WINOGRAD_CONFIG_KEY, "1") == "1",
                              num_threads=self._num_threads)
        self._model = load_model(path_or_bytes, base_dir, limits)
        self._cache = {}
        self._graph, self._options = prepare(self._model, self._level, self._ctx, options,
                                             self._cache)
        self._inputs = self._model.inputs
        self._outputs = self._model.outputs
        # outputs whose declared type tinycnn carries as another (float16 as float32)
        self._declared_dtypes = {v.name: v.np_dtype for v in self._outputs if v.elem_type
                                 and carried_dtype(v.np_dtype) != v.np_dtype}
        self._plans = OrderedDict()
        self._plan_lock = threading.Lock()
        self._validate_at_load()

    # -- onnxruntime API ----------------------------------------------------
    def get_inputs(self):
        return [NodeArg(v.name, _public_dims(v.dims), _ELEM_NAMES.get(v.elem_type, "tensor(?)"))
                for v in self._inputs]

    def get_outputs(self):
        return [NodeArg(v.name, _public_dims(v.dims),
                        _ELEM_NAMES.get(v.elem_type, "tensor(?)")) for v in self._outputs]

    def get_providers(self):
        return ["CPUExecutionProvider"]

    def get_modelmeta(self):
        return {"producer_name": self._model.producer, "opsets": dict(self._model.opsets)}

    def run(self, output_names, input_feed, run_options=None):
        """Outputs (a list of numpy arrays) for the feeds {input name: array}.

        output_names: None for every graph output, or a list of names; with
        graph_optimization_level=ORT_DISABLE_ALL any intermediate tensor may be named.
        """
        names = self._output_names(output_names)
        plan, feeds = self._plan_for(input_feed, names)
        arena = plan.acquire()
        try:
            for (name, buf), arr in zip(arena.feeds, feeds):
                np.copyto(buf, arr, casting="safe")  # float16 feeds: carried as float32
            try:
                for fn, args in arena.calls:
                    fn(*args)
            except TinyCNNError:
                raise
            except (ValueError, TypeError, LookupError, ArithmeticError) as e:
                # A kernel wrapper refused its arguments: report the node, never a bare error.
                raise _kernel_error(plan, arena, fn, e) from e
            return self._returned(names, arena.outputs)
        finally:
            plan.release(arena)

    def run_profiled(self, input_feed, output_names=None):
        """(outputs, records): one record per kernel call, {"node", "op", "seconds", "flops"}."""
        names = self._output_names(output_names)
        plan, feeds = self._plan_for(input_feed, names)
        arena = plan.acquire()
        records = []
        try:
            for (name, buf), arr in zip(arena.feeds, feeds):
                np.copyto(buf, arr, casting="safe")
            clock = time.perf_counter
            for step, (fn, args) in zip(plan.steps, arena.calls):
                t0 = clock()
                fn(*args)
                records.append({"node": step.node.name, "op": step.label,
                                "seconds": clock() - t0, "flops": step.flops})
            return self._returned(names, arena.outputs), records
        finally:
            plan.release(arena)

    # -- internals --------------------------------------------------------------
    def _returned(self, names, outputs):
        """Copies of the outputs, in their declared types (float16 is carried as float32)."""
        declared = self._declared_dtypes
        return [o.astype(declared[name]) if name in declared else np.array(o, copy=True)
                for name, o in zip(names, outputs)]

    def _output_names(self, output_names):
        if output_names is None:
            return tuple(v.name for v in self._outputs)
        if isinstance(output_names, str):
            raise InvalidArgument("output_names must be a list of names or None, not a string")
        return tuple(output_names)

    def _check_feeds(self, input_feed):
        if not isinstance(input_feed, dict):
            raise InvalidArgument(f"input_feed must be a dict {{name: array}}, got {type(input_feed).__name__}")
        expected = {v.name: v for v in self._inputs}
        unknown = [k for k in input_feed if k not in expected]
        if unknown:
            raise InvalidArgument(f"unknown input name(s) {unknown}; the model's inputs are "
                                  f"{list(expected)}")
        missing = [k for k in expected if k not in input_feed]
        if missing:
            raise InvalidArgument(f"missing input(s) {missing}; the model's inputs are {list(expected)}")
        shapes, arrays = {}, []
        for v in self._inputs:
            arr = input_feed[v.name]
            if not isinstance(arr, np.ndarray):
                raise InvalidArgument(f"input {v.name!r} must be a numpy array, got {type(arr).__name__}")
            want = v.np_dtype
            if arr.dtype != want:
                raise InvalidArgument(f"input {v.name!r} has dtype {arr.dtype}; the model expects "
                                      f"{_ELEM_NAMES.get(v.elem_type, want)}")
            if v.dims is not None:
                if arr.ndim != len(v.dims):
                    raise InvalidArgument(f"input {v.name!r} has rank {arr.ndim} (shape {arr.shape}); "
                                          f"the model expects rank {len(v.dims)} {_public_dims(v.dims)}")
                for i, (got, d) in enumerate(zip(arr.shape, v.dims)):
                    if isinstance(d, int) and got != d:
                        raise InvalidArgument(
                            f"input {v.name!r} has shape {arr.shape}; dimension {i} must be {d} "
                            f"(the model expects {_public_dims(v.dims)})")
            shapes[v.name] = (arr.shape, carried_dtype(arr.dtype))
            arrays.append(arr)
        return shapes, arrays

    def _plan_for(self, input_feed, names):
        shapes, arrays = self._check_feeds(input_feed)
        key = (tuple((k, s) for k, (s, _) in shapes.items()), names)
        with self._plan_lock:
            plan = self._plans.get(key)
            if plan is None:
                self._check_names(names)
                plan = Planner(self._graph, self._ctx, self._options, self._cache).build(
                    shapes, [self._graph.resolve(n) for n in names])
                self._plans[key] = plan
                if len(self._plans) > _PLAN_CACHE_SIZE:
                    self._plans.popitem(last=False)
            else:
                self._plans.move_to_end(key)
            # Only the plans of the last _ARENA_PLANS shapes keep their activation buffers
            # between runs (alternating two sizes allocates nothing); older plans keep their
            # steps and layout, not hundreds of MB each.
            for old in list(self._plans.values())[:-_ARENA_PLANS]:
                old.drop_arenas()
        return plan, arrays

    def _check_names(self, names):
        known = {v.name for v in self._outputs}
        for name in names:
            r = self._graph.resolve(name)
            if name in known:
                continue
            if r in self._graph.fused_away:
                raise InvalidArgument(
                    f"tensor {name!r} is fused away by graph optimizations; create the session with "
                    "SessionOptions.graph_optimization_level = ORT_DISABLE_ALL to read it")
            produced = ({o for n in self._graph.nodes for o in n.outputs}
                        | set(self._graph.initializers) | {v.name for v in self._inputs})
            if r not in produced:
                raise InvalidArgument(f"output {name!r} is not a tensor of this model; its outputs "
                                      f"are {sorted(known)}")

    def _validate_at_load(self):
        """Plan once at batch 1 (when only the batch is symbolic) so errors surface at load."""
        shapes = {}
        for v in self._inputs:
            if v.dims is None:
                return
            dims = []
            for i, d in enumerate(v.dims):
                if isinstance(d, int) and d >= 0:
                    dims.append(d)
                elif i == 0:
                    dims.append(1)
                else:
                    return
            # A declared shape too big to ever feed is refused here, before np.zeros.
            self._options.limits.tensor(f"input {v.name!r} (declared shape)", dims, v.np_dtype)
            shapes[v.name] = np.zeros(dims, v.np_dtype)
        if not self._inputs:
            return
        self._plan_for(shapes, self._output_names(None))


def _kernel_error(plan, arena, fn, e):
    node = next((s.node for s, (f, _) in zip(plan.steps, arena.calls) if f is fn), None)
    where = node.describe() if node is not None else "a kernel"
    return InvalidModel(f"{where}: {type(e).__name__}: {e}")


def _public_dims(dims):
    if dims is None:
        return None
    return [d if d is not None else None for d in dims]

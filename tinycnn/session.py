"""InferenceSession: onnxruntime's Python API over tinycnn's planner and kernels.

A session loads and prepares the graph once (tinycnn.graph), then builds a plan per set of
input shapes (tinycnn.planner) and keeps the last few.  Inputs whose values decide shapes
(Reshape's shape fed at run time...) are part of a plan's key: the planner sees them as
constants.  An overridable initializer fed at run time gets its own prepared graph.
"""
import collections.abc
import copy
import dataclasses
import logging
import os
import sys
import threading
import time
import warnings
from collections import OrderedDict

import numpy as np

from . import _kernels, memory
from . import providers as _providers
from .errors import (InvalidArgument, InvalidModel, ResourceLimit, RunTerminated,
                     RuntimeInvalidArgument, TinyCNNError)
from .graph import prepare
from .ir import PlanOptions
from .limits import Limits
from .loader import carried_dtype, load_model
from .options import (HUGE_PAGES_CONFIG_KEY, PICKLE_CONFIG_KEY,  # noqa: F401
                      WINOGRAD_CONFIG_KEY, ExecutionMode, ExecutionOrder,
                      GraphOptimizationLevel, RunOptions, SessionOptions)
from .planner import Planner, plan_time_inputs
from .profiling import Profiler

log = logging.getLogger("tinycnn")

_ELEM_NAMES = {1: "tensor(float)", 2: "tensor(uint8)", 3: "tensor(int8)", 4: "tensor(uint16)",
               5: "tensor(int16)", 6: "tensor(int32)", 7: "tensor(int64)", 8: "tensor(string)",
               9: "tensor(bool)", 10: "tensor(float16)", 11: "tensor(double)",
               12: "tensor(uint32)", 13: "tensor(uint64)", 16: "tensor(bfloat16)"}
_PLAN_CACHE_SIZE = 8
_ARENA_PLANS = 2    # plans that keep their activation buffers between runs (see _plan_for)
_VARIANT_CACHE_SIZE = 2    # graphs prepared for fed overridable initializers
# onnxruntime's severities (0 verbose ... 4 fatal) as logging levels
_LOG_LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)
_TERMINATED = "Exiting due to terminate flag being set to true."


class NodeArg:
    """Name, shape (ints, symbolic dims as strings, None when unknown) and type of an input/output."""

    def __init__(self, name, shape, type):
        self.name = name
        self.shape = shape
        self.type = type

    def __repr__(self):
        return f"NodeArg(name={self.name!r}, type={self.type!r}, shape={self.shape!r})"


class ModelMetadata:
    """What get_modelmeta() returns, as onnxruntime's: producer_name, graph_name, domain,
    description, graph_description, version, custom_metadata_map (and producer_version,
    the opsets)."""

    def __init__(self, model):
        self.producer_name = model.producer
        self.producer_version = model.producer_version
        self.graph_name = model.graph_name
        self.domain = model.domain
        self.description = model.doc_string
        self.graph_description = model.graph_doc_string
        self.version = model.model_version
        self.custom_metadata_map = dict(model.metadata)
        self.opsets = dict(model.opsets)

    def __getitem__(self, key):
        """meta["producer_name"], meta["opsets"]: get_modelmeta() returned a dict before."""
        if key.startswith("_") or not hasattr(self, key):
            raise KeyError(key)
        return getattr(self, key)

    def __repr__(self):
        return (f"ModelMetadata(producer_name={self.producer_name!r}, "
                f"graph_name={self.graph_name!r}, version={self.version})")


def default_num_threads():
    """Threads of a session whose intra_op_num_threads is 0: TINYCNN_NUM_THREADS if set; else,
    in a Ray task or actor, the CPUs Ray reserved for it (num_cpus; Ray's OMP_NUM_THREADS is
    not read); else the cores this process may use."""
    env = os.environ.get("TINYCNN_NUM_THREADS", "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            raise InvalidArgument(f"TINYCNN_NUM_THREADS={env!r} is not an integer") from None
        if n < 1:
            raise InvalidArgument(f"TINYCNN_NUM_THREADS={env!r} must be >= 1")
        return n
    reserved = ray_reserved_cpus()
    if reserved:
        return reserved
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def ray_reserved_cpus():
    """Whole CPUs Ray reserved for this process's task or actor (at least 1 for a fraction), or
    None: not in a Ray worker, or no CPU reserved.  Never imports ray: in a Ray worker it is
    already imported."""
    ray = sys.modules.get("ray")
    if ray is None or not hasattr(ray, "get_runtime_context") or not ray.is_initialized():
        return None
    try:
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 0)
    except AssertionError:   # Ray's answer in the driver, which has no reservation
        return None
    return max(1, int(cpus)) if cpus > 0 else None


def _isa_from_env():
    """TINYCNN_ISA -> (isa, vnni) for _kernels.Context: 'auto', or 'portable', 'avx2', 'avx512',
    the last two optionally with '+avxvnni' or '+avx512vnni' (_kernels.parse_isa)."""
    text = os.environ.get("TINYCNN_ISA", "auto")
    try:
        return _kernels.parse_isa(text)
    except ValueError as e:
        raise InvalidArgument(f"TINYCNN_ISA={e}") from None


class _Prepared:
    """A graph ready to plan, with its plans (LRU) keyed by the run-time feeds' shapes, the
    plan-time feeds' values and the outputs asked for."""

    def __init__(self, model, level, ctx, options):
        self.cache = {}      # per-node objects shared by the plans (packed weights)
        self.graph, self.options = prepare(model, level, ctx, options, self.cache)
        self.plan_time = frozenset(plan_time_inputs(self.graph, [v.name for v in model.inputs]))
        self.plans = OrderedDict()
        self.last = None     # (key, plan) of the latest run: most runs repeat it
        # held while planning; a plan is only cached once built: a fork mid-planning leaves
        # the child without it, the child plans again
        memory.new_lock_after_fork(self, "lock")


class InferenceSession:
    """Load an ONNX model and run it: tinycnn.InferenceSession(path_or_bytes_or_model).

    Mirrors onnxruntime.InferenceSession (its CPU provider): get_inputs(), get_outputs(),
    run(), run_async(), profiling, providers, model metadata.
    """

    def __init__(self, path_or_bytes, sess_options=None, providers=None, provider_options=None,
                 *, base_dir=None, enable_fallback=1, read_config_from_model=0):
        """base_dir: where a model given as bytes or ModelProto finds its external data
        (a model loaded from a path uses its own folder).  enable_fallback: as onnxruntime,
        an unknown provider falls back to the CPU with a warning; 0 raises instead.
        read_config_from_model: accepted, no effect.

        A session pickles (to another process or machine): see __reduce__."""
        self._build(path_or_bytes, sess_options, providers, provider_options, base_dir,
                    enable_fallback)

    def _build(self, path_or_bytes, sess_options, providers, provider_options, base_dir,
               enable_fallback, supplied=None, source=None):
        """__init__'s work; an unpickled session passes its initializers as `supplied`."""
        opts = sess_options if sess_options is not None else SessionOptions()
        if not isinstance(opts, SessionOptions):
            raise TypeError(f"sess_options must be a tinycnn.SessionOptions, got "
                            f"{type(opts).__module__}.{type(opts).__name__}")
        self._sess_options = opts
        self._fallback = bool(int(enable_fallback))
        self._set_providers(providers, provider_options, at_init=True)
        self._log_level = opts.log_severity_level if opts.log_severity_level >= 0 else 2
        self._logid = opts.logid
        self._profiler = Profiler(opts.profile_file_prefix) if opts.enable_profiling else None
        self._profiling_start_ns = self._profiler.start_ns if self._profiler else 0
        if opts.optimized_model_filepath:
            warnings.warn(f"tinycnn does not write optimized models: optimized_model_filepath="
                          f"{opts.optimized_model_filepath!r} is ignored", stacklevel=2)
        t_load = time.perf_counter_ns()
        self._num_threads = opts.intra_op_num_threads or default_num_threads()
        self._ctx = _kernels.Context(self._num_threads, *_isa_from_env())
        huge_pages = opts._config.get(HUGE_PAGES_CONFIG_KEY, "1") == "1"
        if huge_pages:
            # the initializers read from the file, then the layers' packed weights
            self._ctx.weights = memory.Blocks()
        self._level = int(opts.graph_optimization_level)
        limits = Limits(opts.max_tensor_bytes, opts.max_weight_bytes, opts.max_nodes,
                        opts.max_arena_bytes)
        self._plan_options = PlanOptions(
            limits=limits, winograd=opts._config.get(WINOGRAD_CONFIG_KEY, "1") == "1",
            num_threads=self._num_threads, huge_pages=huge_pages)
        model = load_model(path_or_bytes, base_dir, limits,
                           opts._initializers if supplied is None else supplied,
                           skeleton=True, source=source, weights=self._ctx.weights)
        self._model = model
        self._path = _file_path(path_or_bytes)
        self._path_size = os.path.getsize(self._path) if self._path else None
        self._base_dir = base_dir
        t_init = time.perf_counter_ns()
        # prepare() rewrites the nodes it is given: keep pristine copies for fed initializers
        self._pristine_nodes = [_copy_node(n) for n in model.nodes] if model.overridable else None
        fix = _dims_fixer(opts._dims_by_name, opts._dims_by_denotation)
        self._inputs = [fix(v) for v in model.inputs]
        self._outputs = [fix(v) for v in model.outputs]
        self._input_map = {v.name: v for v in self._inputs}
        self._all_outputs = tuple(v.name for v in self._outputs)
        self._overridable = {v.name: v for v in model.overridable}
        self._base = _Prepared(model, self._level, self._ctx, self._plan_options)
        self._hot = None   # a _kernels.RunPlan of the last plan run: see run
        self._variants = OrderedDict()
        memory.new_lock_after_fork(self, "_variants_lock")
        self._validate_at_load()
        if huge_pages:
            memory.give_back_freed()   # the load's temporaries: see memory.give_back_freed
        if self._profiler is not None:
            end = time.perf_counter_ns()
            kind = "uri" if isinstance(path_or_bytes, (str, os.PathLike)) else "array"
            self._profiler.event("Session", f"model_loading_{kind}", t_load, t_init)
            self._profiler.event("Session", "session_initialization", t_init, end)
        self._log(0, f"loaded {model.source}: {len(model.nodes)} nodes, "
                     f"{len(self._base.graph.nodes)} after graph optimizations, "
                     f"{self._num_threads} thread(s)")

    # -- pickling (onnxruntime's sessions cannot be pickled) -------------------------
    def __reduce__(self):
        """pickle.dumps(session): the model (its graph, and its initializers as numpy arrays,
        external data included), the options and the providers; never plans or packed
        weights.  pickle.loads builds the session again in the receiving process, with the
        same outputs bit for bit on the same machine.

        Up to SessionOptions.max_pickle_bytes (1 GiB by default) of model: over it, pickling
        raises ResourceLimit.  To ship a large model by path instead, put it where every
        receiver can read it under the same path and set the session config entry
        "session.tinycnn.pickle" to "path": the pickle then carries the path (and the
        initializers supplied from memory, if any), and the receiver loads the file."""
        opts = self._sess_options
        by_path = opts._config.get(PICKLE_CONFIG_KEY, "model") == "path"
        initializers = self._model.initializers
        shipped = copy.copy(opts)   # the same arrays as `initializers`: pickled once
        shipped._initializers = {k: initializers[k] for k in opts._initializers}
        state = {"format": _PICKLE_FORMAT, "options": shipped, "providers": list(self._providers),
                 "fallback": self._fallback, "source": self._model.source}
        if by_path:
            if self._path is None:
                raise InvalidArgument(
                    f"cannot pickle {self._model.source} by path (session config entry "
                    f"{PICKLE_CONFIG_KEY}=path): the session was built from bytes or a "
                    "ModelProto; build it from a file, or pickle the model itself")
            state.update(path=self._path, size=self._path_size, base_dir=self._base_dir)
            arrays, extra = shipped._initializers, 0
        else:
            state.update(model=self._model.skeleton, initializers=dict(initializers))
            arrays, extra = initializers, len(self._model.skeleton)
        nbytes = extra + sum(a.nbytes for a in arrays.values())
        if nbytes > opts.max_pickle_bytes:
            raise ResourceLimit(
                f"pickling the session of {self._model.source} would carry {nbytes:,} bytes of "
                f"model, over the limit of {opts.max_pickle_bytes:,} "
                "(SessionOptions.max_pickle_bytes).  Ship it by path instead: put the file where "
                "every receiver reads it under the same path and set the session config entry "
                f"{PICKLE_CONFIG_KEY}=path (or build the session in the receiver, as "
                "tinycnn.ray does from a path); or raise max_pickle_bytes")
        return _unpickle, (type(self), state)

    # -- onnxruntime API: description ------------------------------------------
    def get_inputs(self):
        return [_node_arg(v) for v in self._inputs]

    def get_outputs(self):
        return [_node_arg(v) for v in self._outputs]

    def get_overridable_initializers(self):
        """Initializers also listed as graph inputs (IR >= 4): run() may feed them."""
        return [_node_arg(v) for v in self._overridable.values()]

    def get_modelmeta(self):
        return ModelMetadata(self._model)

    def get_session_options(self):
        return self._sess_options

    # -- onnxruntime API: providers ------------------------------------------------
    def get_providers(self):
        return list(self._providers)

    def get_provider_options(self):
        return {name: {} for name in self._providers}

    def set_providers(self, providers=None, provider_options=None):
        """As onnxruntime's: an unknown provider raises; an unavailable one warns and the CPU
        stays.  Plans and packed weights are kept (every provider here is the CPU)."""
        self._set_providers(providers, provider_options, at_init=False)

    def disable_fallback(self):
        self._fallback = False

    def enable_fallback(self):
        self._fallback = True

    def _set_providers(self, providers, provider_options, at_init):
        try:
            self._providers = _providers.select(providers, provider_options)
        except ValueError as e:   # RuntimeInvalidArgument (an unknown provider) included
            if not (at_init and self._fallback):
                raise
            # onnxruntime prints this and retries with the CPU provider alone, once
            warnings.warn(f"EP Error {e} when using {providers}; falling back to "
                          f"['{_providers.CPU}'] and retrying.", stacklevel=3)
            self._providers = [_providers.CPU]
            self._fallback = False

    # -- onnxruntime API: profiling --------------------------------------------------
    def end_profiling(self):
        """Write the profile (onnxruntime's JSON trace format) and stop profiling; returns
        the file's path, or "" when profiling is not enabled (or already ended)."""
        profiler, self._profiler = self._profiler, None
        self._hot = None   # planned again: the next plan's short path, without a profiler
        return profiler.end() if profiler is not None else ""

    def get_profiling_start_time_ns(self):
        """When profiling started (time.time_ns() units, as onnxruntime); 0 without profiling."""
        return self._profiling_start_ns

    # -- onnxruntime API: running -----------------------------------------------------
    def run(self, output_names, input_feed, run_options=None):
        """Outputs (a list of numpy arrays) for the feeds {input name: array or list}.

        output_names: None or an empty list for every graph output (as onnxruntime), or a
        list of names; with graph_optimization_level=ORT_DISABLE_ALL any intermediate tensor
        may be named.  run_options: a RunOptions (terminate, log severity, run tag).
        """
        hot = self._hot
        if hot is not None and run_options is None:
            # The previous run's plan, for feeds of its names, shapes and types and the same
            # outputs (no fed initializer): checked and run from C (_kernels.RunPlan), as a
            # run's Python costs several times its warm time once the kernels have evicted
            # the caches.  Anything else takes the general path below.
            try:
                outputs = hot.run(input_feed, output_names)
            except TinyCNNError:
                raise
            except (ValueError, TypeError, LookupError, ArithmeticError) as e:
                raise _kernel_error(hot.plan, hot.failed_at, e) from e
            if outputs is not None:
                return outputs
        names = self._output_names(output_names)
        _check_run_options(run_options)
        plan, feeds = self._plan_for(input_feed, names, run_options)
        return self._execute(plan, feeds, run_options)

    def run_async(self, output_names, input_feed, callback, user_data, run_options=None):
        """Run on another thread, then call callback(outputs, user_data, error): outputs is
        [] and error the message when the run failed, else error is "".  As onnxruntime,
        missing inputs raise here, before the thread starts."""
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        self._check_feed_container(input_feed)

        def work():
            try:
                results, error = self.run(output_names, input_feed, run_options), ""
            except Exception as e:  # noqa: BLE001 - handed to the callback, as onnxruntime
                results, error = [], str(e)
            callback(results, user_data, error)
        threading.Thread(target=work, name="tinycnn-run-async", daemon=True).start()

    def run_profiled(self, input_feed, output_names=None):
        """(outputs, records): one record per kernel call, {"node", "op", "seconds", "flops"}."""
        names = self._output_names(output_names)
        plan, feeds = self._plan_for(input_feed, names, None)
        times = []
        outputs = self._execute(plan, feeds, None, times)
        records = [{"node": step.node.name, "op": step.label, "seconds": (t1 - t0) * 1e-9,
                    "flops": step.flops} for step, (t0, t1) in zip(plan.steps, times)]
        return outputs, records

    # -- internals --------------------------------------------------------------
    def _execute(self, plan, feeds, run_options, times=None):
        """Run a plan on checked feeds {name: array}.  Between steps: RunOptions.terminate is
        honoured, and with a profiler (or `times`, a list) each step is timed."""
        profiler = self._profiler
        if profiler is not None and times is None:
            times = []
        arena = plan.acquire()
        try:
            if run_options is None and times is None:
                return _run_arena(plan, arena, feeds)
            fresh = _fresh_outputs(plan, arena)
            calls = arena.calls_for(feeds, fresh)
            index = -1
            try:
                clock = time.perf_counter_ns
                start = clock()
                for index, call in enumerate(calls):
                    if run_options is not None and run_options.terminate:
                        self._log(3, _TERMINATED, run_options)
                        raise RunTerminated(_TERMINATED)
                    if times is None:
                        call()
                    else:
                        t0 = clock()
                        call()
                        times.append((t0, clock()))
            except TinyCNNError:
                raise
            except (ValueError, TypeError, LookupError, ArithmeticError) as e:
                # A kernel wrapper refused its arguments: report the node, never a bare error.
                raise _kernel_error(plan, index, e) from e
            if profiler is not None:
                profiler.run(plan, start, clock(), times)
            return _returned(plan, arena, fresh)
        finally:
            plan.release(arena)

    def _log(self, severity, message, run_options=None):
        level, tag = self._log_level, self._logid
        if run_options is not None:
            if run_options.log_severity_level >= 0:
                level = run_options.log_severity_level
            tag = run_options.logid or tag
        if severity >= level:
            log.log(_LOG_LEVELS[severity], f"[{tag}] {message}" if tag else message)

    def _output_names(self, output_names):
        if not output_names:  # None or empty: every graph output, as onnxruntime does
            return self._all_outputs
        if isinstance(output_names, str):
            raise TypeError(f"output_names must be a list of names or None, not the string "
                            f"{output_names!r} (write [{output_names!r}])")
        names = tuple(output_names)
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"output_names must be strings, got {name!r}")
        return names

    def _check_feed_container(self, input_feed):
        if not isinstance(input_feed, (dict, collections.abc.Mapping)):
            raise TypeError(f"input_feed must be a dict {{name: array}}, got "
                            f"{type(input_feed).__name__}")
        missing = [v.name for v in self._inputs if v.name not in input_feed]
        if missing:
            raise InvalidArgument(f"missing input(s) {missing}: the feed has {list(input_feed)}; "
                                  f"the model's inputs are {[v.name for v in self._inputs]}")

    def _check_feeds(self, input_feed):
        """({name: array} of the inputs in the model's order, {name: array} of the fed
        overridable initializers), converted and checked."""
        self._check_feed_container(input_feed)
        overrides = {}
        if len(input_feed) != len(self._inputs):
            unknown = [k for k in input_feed if k not in self._input_map
                       and k not in self._overridable]
            if unknown:
                extra = (f" (and the overridable initializers {list(self._overridable)})"
                         if self._overridable else "")
                raise InvalidArgument(f"unknown input name(s) {unknown}; the model's inputs are "
                                      f"{list(self._input_map)}{extra}")
            overrides = {k: _checked(self._overridable[k], input_feed[k])
                         for k in input_feed if k in self._overridable}
        return {v.name: _checked(v, input_feed[v.name]) for v in self._inputs}, overrides

    def _prepared_for(self, overrides):
        """The base graph, or the one prepared with these fed initializers {name: array}."""
        if not overrides:
            return self._base
        key = tuple(sorted((k, _value_key(a)) for k, a in overrides.items()))
        with self._variants_lock:
            prepared = self._variants.get(key)
            if prepared is not None:
                self._variants.move_to_end(key)
                return prepared
        model = dataclasses.replace(
            self._model, nodes=[_copy_node(n) for n in self._pristine_nodes],
            initializers={**self._model.initializers, **overrides})
        prepared = _Prepared(model, self._level, self._ctx, self._plan_options)
        with self._variants_lock:
            self._variants[key] = prepared
            if len(self._variants) > _VARIANT_CACHE_SIZE:
                self._variants.popitem(last=False)
        return prepared

    def _plan_for(self, input_feed, names, run_options):
        """(plan, {name: array} of the run-time feeds) for these feeds and output names."""
        arrays, overrides = self._check_feeds(input_feed)
        prepared = self._prepared_for(overrides)
        feeds, values = arrays, {}
        if prepared.plan_time:
            feeds = {k: a for k, a in arrays.items() if k not in prepared.plan_time}
            values = {k: a for k, a in arrays.items() if k in prepared.plan_time}
        key = (tuple((k, a.shape, a.dtype) for k, a in feeds.items()),
               tuple((k, _value_key(a)) for k, a in values.items()), names)
        last = prepared.last   # the plan of the previous run: no lock, no reordering
        if last is not None and last[0] == key:
            self._hot = _hot_entry(self, prepared, last[1], names, feeds, values)
            return last[1], feeds
        with prepared.lock:   # one plan at a time: they share the packed weights' cache
            plan = prepared.plans.get(key)
            if plan is not None:
                prepared.plans.move_to_end(key)
                _drop_older_arenas(prepared.plans)
                prepared.last = (key, plan)
                self._hot = _hot_entry(self, prepared, plan, names, feeds, values)
                return plan, feeds
            shapes = {k: (a.shape, carried_dtype(a.dtype)) for k, a in feeds.items()}
            graph = prepared.graph
            self._check_names(graph, names)
            plan = Planner(graph, self._ctx, prepared.options, prepared.cache).build(
                shapes, [graph.resolve(n) for n in names], values)
            declared = {v.name: v.np_dtype for v in self._outputs if v.elem_type}
            plan.returned_dtypes = [declared[n] if n in declared and carried_dtype(declared[n])
                                    != declared[n] else None for n in names]
            plan.plain_outputs = all(d is None for d in plan.returned_dtypes)
            prepared.plans[key] = plan
            if len(prepared.plans) > _PLAN_CACHE_SIZE:
                prepared.plans.popitem(last=False)
            _drop_older_arenas(prepared.plans)
            prepared.last = (key, plan)
            self._hot = _hot_entry(self, prepared, plan, names, feeds, values)
        self._log(1, f"planned {len(plan.steps)} kernel calls for inputs "
                     f"{ {k: s for k, (s, _) in shapes.items()} }"
                     + (f" and the values of {list(values)}" if values else "")
                     + f" ({4 * plan.arena_size:,} bytes of activations)", run_options)
        return plan, feeds

    @property
    def _graph(self):
        return self._base.graph

    @property
    def _options(self):
        return self._base.options

    @property
    def _plans(self):
        return self._base.plans

    def _check_names(self, graph, names):
        known = {v.name for v in self._outputs}
        for name in names:
            r = graph.resolve(name)
            if name in known:
                continue
            if r in graph.fused_away:
                raise InvalidArgument(
                    f"tensor {name!r} is fused away by graph optimizations; create the session with "
                    "SessionOptions.graph_optimization_level = ORT_DISABLE_ALL to read it")
            produced = ({o for n in graph.nodes for o in n.outputs}
                        | set(graph.initializers) | {v.name for v in self._inputs})
            if r not in produced:
                raise InvalidArgument(f"output {name!r} is not a tensor of this model; its outputs "
                                      f"are {sorted(known)}")

    def _validate_at_load(self):
        """Plan once at batch 1 (when only the batch is unknown) so errors surface at load.
        Not when inputs decide shapes: their values are only known at run time."""
        if not self._inputs or self._base.plan_time:
            return
        shapes = {}
        for v in self._inputs:
            if v.dims is None:
                return
            dims = []
            for i, d in enumerate(v.dims):
                if isinstance(d, int):
                    dims.append(d)
                elif i == 0:
                    dims.append(1)
                else:
                    return
            # A declared shape too big to ever feed is refused here, before np.zeros.
            self._plan_options.limits.tensor(f"input {v.name!r} (declared shape)", dims, v.np_dtype)
            shapes[v.name] = np.zeros(dims, v.np_dtype)
        self._plan_for(shapes, self._output_names(None), None)


def _drop_older_arenas(plans):
    """Only the plans of the last _ARENA_PLANS shapes keep their activation buffers between
    runs (alternating two sizes allocates nothing); older plans keep their steps and layout,
    not hundreds of MB each."""
    for old in list(plans.values())[:-_ARENA_PLANS]:
        old.drop_arenas()


_PICKLE_FORMAT = 1   # version of the state __reduce__ writes


def _unpickle(cls, state):
    """A session built again from the state InferenceSession.__reduce__ pickled."""
    if not isinstance(state, dict) or state.get("format") != _PICKLE_FORMAT:
        got = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise InvalidArgument(f"cannot unpickle a tinycnn session of format {got!r}: this "
                              f"tinycnn ({__package__}) reads format {_PICKLE_FORMAT}")
    sess = cls.__new__(cls)
    opts, providers, fallback = state["options"], state["providers"], state["fallback"]
    if "path" in state:
        path, size = state["path"], state["size"]
        try:
            now = os.path.getsize(path)
        except OSError as e:
            raise InvalidModel(f"cannot unpickle the session of {path}: the file cannot be read "
                               f"here ({e.strerror}); a session pickled by path needs the model "
                               "at the same path on every receiver") from None
        if now != size:
            raise InvalidModel(f"cannot unpickle the session of {path}: the file here has "
                               f"{now:,} bytes, the pickled session's had {size:,}: not the same "
                               "model")
        sess._build(path, opts, providers, None, state["base_dir"], fallback)
    else:
        sess._build(state["model"], opts, providers, None, None, fallback,
                    supplied=state["initializers"], source=state["source"])
    return sess


def _file_path(path_or_bytes):
    """Absolute path of a model given as a path, else None."""
    if not isinstance(path_or_bytes, (str, os.PathLike)):
        return None
    path = os.fspath(path_or_bytes)
    return os.path.abspath(os.fsdecode(path) if isinstance(path, bytes) else path)


def _kernel_error(plan, index, e):
    node = plan.steps[index].node if 0 <= index < len(plan.steps) else None
    where = node.describe() if node is not None else "a kernel"
    return InvalidModel(f"{where}: {type(e).__name__}: {e}")


def _fresh_outputs(plan, arena):
    """{output index: a new array} for the outputs computed where they are returned
    (Arena.direct), or None."""
    if not arena.direct:
        return None
    return {i: np.empty(arena.outputs[i].shape, arena.outputs[i].dtype)
            for i in arena.direct if plan.returned_dtypes[i] is None} or None


def _run_arena(plan, arena, feeds):
    """The outputs of a run of plan on checked feeds {name: array} in its arena: the
    kernels in one pass in C (without RunOptions or timing)."""
    fresh = _fresh_outputs(plan, arena)
    calls = arena.calls_for(feeds, fresh)
    try:
        # the outputs copied out of the arena by the calls when they can be
        copied = calls.run(fresh is None and plan.plain_outputs)
    except TinyCNNError:
        raise
    except (ValueError, TypeError, LookupError, ArithmeticError) as e:
        # A kernel wrapper refused its arguments: report the node, never a bare error.
        raise _kernel_error(plan, calls.failed_at, e) from e
    return copied if copied is not None else _returned(plan, arena, fresh)


def _returned(plan, arena, fresh):
    """The outputs of a run that has left them in the arena (or in `fresh`), copied in
    their declared types (float16 is carried as float32 inside)."""
    if fresh is None and plan.plain_outputs:
        return [o.copy() for o in arena.outputs]
    return [fresh[i] if fresh and i in fresh else np.array(o, copy=True) if d is None
            else o.astype(d) for i, (o, d) in enumerate(zip(arena.outputs,
                                                             plan.returned_dtypes))]


def _check_run_options(run_options):
    if run_options is not None and not isinstance(run_options, RunOptions):
        raise TypeError(f"run_options must be a tinycnn.RunOptions, got "
                        f"{type(run_options).__module__}.{type(run_options).__name__}")


def _checked(v, value):
    """The feed `value` of input (or overridable initializer) `v` as a numpy array of its
    type, rank and fixed dims."""
    arr = value if type(value) is np.ndarray else _as_tensor(v, value)
    if arr.dtype != v.np_dtype:
        raise InvalidArgument(f"input {v.name!r} has dtype {arr.dtype}; the model expects "
                              f"{_ELEM_NAMES.get(v.elem_type, v.np_dtype)}")
    if v.dims is not None:
        if arr.ndim != len(v.dims):
            raise InvalidArgument(f"input {v.name!r} has rank {arr.ndim} (shape {arr.shape}); "
                                  f"the model expects rank {len(v.dims)} {list(v.dims)}")
        for i, (got, d) in enumerate(zip(arr.shape, v.dims)):
            if got != d and isinstance(d, int):
                raise InvalidArgument(f"input {v.name!r} has shape {arr.shape}; dimension {i} "
                                      f"must be {d} (the model expects {list(v.dims)})")
    return arr


def _as_tensor(v, value):
    """A feed as a numpy array: arrays as given, lists converted to the input's type (as
    onnxruntime); anything else is refused as onnxruntime refuses it."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, list):
        try:
            return np.array(value, dtype=v.np_dtype)
        except (ValueError, TypeError, OverflowError) as e:
            raise RuntimeInvalidArgument(
                f"input {v.name!r}: cannot make a {_ELEM_NAMES.get(v.elem_type, v.np_dtype)} "
                f"tensor of the list given ({e})") from None
    hint = ""
    if isinstance(value, (int, float, bool, np.generic)):
        hint = (f" (a scalar: pass np.array({value!r}, dtype=np.{v.np_dtype.name}) for a "
                "rank-0 input)")
    raise RuntimeInvalidArgument(f"input {v.name!r} must be a numpy array or a list, got "
                                 f"{type(value).__name__}{hint}")


def _hot_entry(session, prepared, plan, names, feeds, values):
    """InferenceSession._hot after planning for these feeds: the _kernels.RunPlan that
    runs the plan on plain feeds of these shapes and types, for these outputs (run's short
    path), when a run may take it (no fed initializer, no plan-time input, no profiler);
    else None."""
    if (prepared is not session._base or values or len(feeds) != len(session._inputs)
            or session._profiler is not None):
        return None
    hot = session._hot
    spec = tuple((k, a.shape, a.dtype) for k, a in feeds.items())
    if (hot is not None and hot.plan is plan and hot.output_names == names
            and hot.names == tuple(k for k, _, _ in spec)):
        return hot     # keeps its arena's calls for the last feeds
    return _kernels.RunPlan(plan, spec, names, names == session._all_outputs, _run_arena)


def _value_key(arr):
    return (arr.dtype.str, arr.shape, np.ascontiguousarray(arr).tobytes())


def _copy_node(node):
    return dataclasses.replace(node, inputs=list(node.inputs), outputs=list(node.outputs))


def _node_arg(v):
    dims = None if v.dims is None else list(v.dims)
    return NodeArg(v.name, dims, _ELEM_NAMES.get(v.elem_type, "tensor(?)"))


def _dims_fixer(by_name, by_denotation):
    """ValueInfo -> ValueInfo with the free dimensions overridden (by name or denotation)."""
    def fix(v):
        if v.dims is None or not (by_name or by_denotation):
            return v
        dims = list(v.dims)
        for i, d in enumerate(dims):
            if isinstance(d, int):
                continue
            denotation = v.denotations[i] if i < len(v.denotations) else ""
            if isinstance(d, str) and d in by_name:
                dims[i] = by_name[d]
            elif denotation and denotation in by_denotation:
                dims[i] = by_denotation[denotation]
        return dataclasses.replace(v, dims=tuple(dims))
    return fix

"""Options of a session and of a run, as onnxruntime's: SessionOptions, RunOptions, their enums.

Both refuse attributes they do not have: a typo raises AttributeError naming the close
matches, where a plain Python object would silently grow a new attribute.  The options of
onnxruntime that change nothing in tinycnn are accepted; NO_EFFECT says why for each (the
README's "Moving from onnxruntime" lists them too).
"""
import enum
import numbers

from .errors import InvalidArgument, RuntimeInvalidArgument
from .limits import DEFAULT as DEFAULT_LIMITS

WINOGRAD_CONFIG_KEY = "session.tinycnn.winograd"
PICKLE_CONFIG_KEY = "session.tinycnn.pickle"   # what a pickled session carries: model or path
HUGE_PAGES_CONFIG_KEY = "session.tinycnn.huge_pages"   # weights and arenas on huge pages
PICKLE_MODES = ("model", "path")
MAX_PICKLE_BYTES = 1 << 30   # default of SessionOptions.max_pickle_bytes


class GraphOptimizationLevel(enum.IntEnum):
    """As onnxruntime's: BASIC folds constants, EXTENDED and above also fuse
    (batch norm into conv weights, residual Add and ReLU into the conv epilogue)."""
    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_LAYOUT = 3
    ORT_ENABLE_ALL = 99


class ExecutionMode(enum.IntEnum):
    """As onnxruntime's.  tinycnn runs the nodes of a graph one after the other and spreads
    each kernel over intra_op_num_threads: ORT_PARALLEL is accepted and runs sequentially."""
    ORT_SEQUENTIAL = 0
    ORT_PARALLEL = 1


class ExecutionOrder(enum.IntEnum):
    """As onnxruntime's; tinycnn keeps the graph's topological order (file order on ties)."""
    DEFAULT = 0
    PRIORITY_BASED = 1
    MEMORY_EFFICIENT = 2


# Accepted for compatibility with onnxruntime, and why they change nothing here.
NO_EFFECT = {
    "inter_op_num_threads": "nodes run one after the other (see ExecutionMode)",
    "execution_mode": "nodes run one after the other; each kernel uses intra_op_num_threads",
    "execution_order": "the graph's topological order is always used",
    "enable_cpu_mem_arena": "activations always live in one arena planned per input shape",
    "enable_mem_pattern": "the memory plan is always made once per input shape",
    "enable_mem_reuse": "buffers are always reused once their tensor is dead",
    "use_deterministic_compute": "tinycnn has no non-deterministic kernels to switch off",
    "use_per_session_threads": "each session always has its own threads",
    "log_verbosity_level": "tinycnn has no verbose-level logging",
    "optimized_model_filepath": "tinycnn does not write optimized models (a warning says so)",
    "only_execute_path_to_fetches": "every node of the plan runs",
}


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < low:
        raise InvalidArgument(f"{name}={value} must be >= {low}")
    return int(value)


def _check_bool(name, value):
    if not isinstance(value, (bool, numbers.Integral)) or value not in (0, 1):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _check_str(name, value):
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__} {value!r}")
    return value


def _check_enum(cls):
    def check(name, value):
        try:
            return cls(value)
        except ValueError:
            raise InvalidArgument(f"{name}={value!r}: expected one of "
                                  f"{', '.join(m.name for m in cls)}") from None
    return check


def _check_severity(name, value):
    value = _check_int(name, value, -1)
    if value > 4:
        raise InvalidArgument(f"{name}={value}: expected -1 (the default) or 0 (verbose) "
                              "to 4 (fatal)")
    return value


class _Options:
    """Attributes from a fixed table {name: (default, check)}; anything else is refused."""
    _FIELDS = {}

    def __init__(self):
        for name, (default, _) in self._FIELDS.items():
            object.__setattr__(self, name, default)

    def __setattr__(self, name, value):
        field = self._FIELDS.get(name)
        if field is None:
            if name.startswith("_") or isinstance(getattr(type(self), name, None), property):
                return object.__setattr__(self, name, value)
            import difflib   # only for this message: not worth its import time at start
            close = difflib.get_close_matches(name, list(self._FIELDS) + self._methods(), n=3)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise AttributeError(f"{type(self).__name__} has no option {name!r}{hint}")
        object.__setattr__(self, name, field[1](name, value))

    def _methods(self):
        return [m for m in dir(type(self)) if not m.startswith("_")]

    # string entries, onnxruntime's session and run "config entries"
    def _set_entry(self, what, key, value):
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"{what} entries are strings, got {key!r}: {value!r}")
        self._config[key] = value

    def _entry(self, what, key):
        if key not in self._config:
            raise RuntimeInvalidArgument(f"{what} entry {key!r} is not set "
                                         f"(set: {sorted(self._config)})")
        return self._config[key]

    def __repr__(self):
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._FIELDS)
        return f"{type(self).__name__}({fields})"


class SessionOptions(_Options):
    """Options of an InferenceSession, onnxruntime's names and defaults.

    Honoured: intra_op_num_threads (0: the TINYCNN_NUM_THREADS environment variable if set,
    else in a Ray task or actor the CPUs Ray reserved for it, else the cores this process may
    use), graph_optimization_level, enable_profiling and
    profile_file_prefix, log_severity_level and logid (messages on the "tinycnn" logger),
    session config entries, free dimension overrides, initializers supplied from memory.
    Accepted with no effect: see NO_EFFECT.  tinycnn's own: max_tensor_bytes,
    max_weight_bytes, max_nodes, max_arena_bytes (tinycnn.limits: sizes checked before
    allocating); max_pickle_bytes (the most model bytes a pickled session may carry, 1 GiB by
    default; see InferenceSession.__reduce__).
    """
    _FIELDS = {
        "intra_op_num_threads": (0, lambda n, v: _check_int(n, v, 0)),
        "inter_op_num_threads": (0, lambda n, v: _check_int(n, v, 0)),
        "graph_optimization_level": (GraphOptimizationLevel.ORT_ENABLE_ALL,
                                     _check_enum(GraphOptimizationLevel)),
        "execution_mode": (ExecutionMode.ORT_SEQUENTIAL, _check_enum(ExecutionMode)),
        "execution_order": (ExecutionOrder.DEFAULT, _check_enum(ExecutionOrder)),
        "enable_profiling": (False, _check_bool),
        "profile_file_prefix": ("tinycnn_profile_", _check_str),
        "log_severity_level": (-1, _check_severity),
        "log_verbosity_level": (0, lambda n, v: _check_int(n, v, 0)),
        "logid": ("", _check_str),
        "enable_cpu_mem_arena": (True, _check_bool),
        "enable_mem_pattern": (True, _check_bool),
        "enable_mem_reuse": (True, _check_bool),
        "use_deterministic_compute": (False, _check_bool),
        "use_per_session_threads": (True, _check_bool),
        "optimized_model_filepath": ("", _check_str),
        "max_tensor_bytes": (DEFAULT_LIMITS.max_tensor_bytes, lambda n, v: _check_int(n, v, 1)),
        "max_weight_bytes": (DEFAULT_LIMITS.max_weight_bytes, lambda n, v: _check_int(n, v, 1)),
        "max_nodes": (DEFAULT_LIMITS.max_nodes, lambda n, v: _check_int(n, v, 1)),
        "max_arena_bytes": (DEFAULT_LIMITS.max_arena_bytes, lambda n, v: _check_int(n, v, 1)),
        "max_pickle_bytes": (MAX_PICKLE_BYTES, lambda n, v: _check_int(n, v, 1)),
    }

    def __init__(self):
        super().__init__()
        self._config = {}
        self._dims_by_name = {}
        self._dims_by_denotation = {}
        self._initializers = {}

    def add_session_config_entry(self, key, value):
        """A string option, as onnxruntime's; any key is kept.  tinycnn reads
        "session.tinycnn.winograd" ("1", the default, or "0": never choose Winograd
        convolutions) and "session.tinycnn.pickle" ("model", the default: a pickled session
        carries the model; "path": only its path, for a file every receiver can read) and
        "session.tinycnn.huge_pages" ("1", the default: packed weights and arenas on huge
        pages where the OS gives them, see tinycnn.memory; "0": numpy's memory)."""
        allowed = {WINOGRAD_CONFIG_KEY: ("0", "1"), PICKLE_CONFIG_KEY: PICKLE_MODES,
                   HUGE_PAGES_CONFIG_KEY: ("0", "1")}.get(key)
        if allowed and isinstance(value, str) and value not in allowed:
            raise InvalidArgument(f"session config entry {key}={value!r}: expected "
                                  f"{' or '.join(repr(v) for v in allowed)}")
        self._set_entry("session config", key, value)

    def get_session_config_entry(self, key):
        return self._entry("session config", key)

    def add_free_dimension_override_by_name(self, dim_name, dim_value):
        """Fix the symbolic dimension `dim_name` (e.g. "batch") of the inputs to dim_value."""
        self._dims_by_name[_check_str("dim_name", dim_name)] = _check_int("dim_value", dim_value, 0)

    def add_free_dimension_override_by_denotation(self, dim_denotation, dim_value):
        """Fix every input dimension whose denotation is dim_denotation (e.g. "DATA_BATCH")."""
        self._dims_by_denotation[_check_str("dim_denotation", dim_denotation)] = \
            _check_int("dim_value", dim_value, 0)

    def add_external_initializers(self, names, values):
        """Supply initializers from memory (numpy arrays, or objects with .numpy() such as
        onnxruntime's OrtValue): they replace the model's initializers of the same names,
        whose external data files need not exist.  Shapes and types must match the model's."""
        names, values = list(names), list(values)
        if len(names) != len(values):
            raise RuntimeInvalidArgument(f"add_external_initializers: {len(names)} name(s) but "
                                         f"{len(values)} value(s)")
        for name, value in zip(names, values):
            self.add_initializer(name, value)

    def add_initializer(self, name, value):
        """Supply one initializer from memory (see add_external_initializers)."""
        _check_str("initializer name", name)
        if not hasattr(value, "__array__") and hasattr(value, "numpy"):
            value = value.numpy()  # OrtValue, torch tensors
        self._initializers[name] = value


class RunOptions(_Options):
    """Options of one run, as onnxruntime's.

    terminate: set it (from another thread) to stop a run between two nodes; the run raises
    RunTerminated.  log_severity_level (-1: the session's) and logid (the run tag, also
    readable as run_tag) apply to the run's messages on the "tinycnn" logger.
    """
    _FIELDS = {
        "log_severity_level": (-1, _check_severity),
        "log_verbosity_level": (0, lambda n, v: _check_int(n, v, 0)),
        "logid": ("", _check_str),
        "terminate": (False, _check_bool),
        "only_execute_path_to_fetches": (False, _check_bool),
    }

    def __init__(self):
        super().__init__()
        self._config = {}

    @property
    def run_tag(self):
        """The run's tag (onnxruntime's C API name for logid)."""
        return self.logid

    @run_tag.setter
    def run_tag(self, value):
        self.logid = value

    def add_run_config_entry(self, key, value):
        self._set_entry("run config", key, value)

    def get_run_config_entry(self, key):
        return self._entry("run config", key)

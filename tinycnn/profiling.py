"""Session profiles in onnxruntime's format: a JSON array of Chrome trace events.

Each event is {"cat", "pid", "tid", "dur", "ts", "ph": "X", "name", "args"}, ts and dur in
microseconds from the start of profiling, as onnxruntime writes them: chrome://tracing and
Perfetto load the file, and tools written for onnxruntime's profiles read it.  Events:
"model_loading_uri" / "model_loading_array" and "session_initialization" (cat "Session"),
one "model_run" per run, and per node that ran kernels "<node name>_kernel_time" (cat
"Node") with args op_name, provider, node_index, input_type_shape, output_type_shape,
activation_size, output_size and parameter_size (sizes in bytes, as strings).
onnxruntime's memory-arena and thread-pool statistics have no counterpart and are left out.
"""
import json
import os
import threading
import time

import numpy as np

PROVIDER = "CPUExecutionProvider"
_TYPE_NAMES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}


def _type_shape(values):
    return [{_TYPE_NAMES.get(v.dtype, v.dtype.name): list(v.shape)} for v in values if v is not None]


def _nbytes(values):
    return sum(v.size * v.dtype.itemsize for v in values if v is not None)


class Profiler:
    """Collects trace events from the moment it is created until end()."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.start_ns = time.time_ns()          # wall clock, as onnxruntime reports it
        self._t0 = time.perf_counter_ns()
        self._pid = os.getpid()
        self._events = []
        self._lock = threading.Lock()

    def now(self):
        """A timestamp (ns on the profiler's monotonic clock) for event()."""
        return time.perf_counter_ns()

    def event(self, cat, name, start, end, args=None):
        """Record one complete event from two now() timestamps.  Both ends are rounded down
        to whole microseconds on one clock, so an event inside another stays inside it (the
        duration rounded on its own could end a microsecond past its run)."""
        ts = (start - self._t0) // 1000
        ev = {"cat": cat, "pid": self._pid, "tid": threading.get_native_id(),
              "dur": (end - self._t0) // 1000 - ts, "ts": ts, "ph": "X",
              "name": name, "args": args or {}}
        with self._lock:
            self._events.append(ev)

    def run(self, plan, start, end, step_times):
        """The events of one run: model_run, then one per node that scheduled kernels.
        step_times: [(start, end)] of each step of the plan, in now() units."""
        self.event("Session", "model_run", start, end)
        for rec in plan.records:
            if rec.end_step == rec.first_step:
                continue   # a view or a plan-time constant: no kernel ran
            t0 = step_times[rec.first_step][0]
            t1 = step_times[rec.end_step - 1][1]
            consts = [v for v in rec.inputs if v is not None and v.const is not None]
            args = {"op_name": rec.node.label, "provider": PROVIDER,
                    "node_index": str(rec.node.index),
                    "input_type_shape": _type_shape(rec.inputs),
                    "output_type_shape": _type_shape(rec.outputs),
                    "activation_size": str(_nbytes(v for v in rec.inputs
                                                   if v is not None and v.const is None)),
                    "parameter_size": str(_nbytes(consts)),
                    "output_size": str(_nbytes(rec.outputs))}
            self.event("Node", f"{rec.node.name}_kernel_time", t0, t1, args)

    def end(self):
        """Write the trace; returns its path: <prefix>_<local date and time>_<ms>.json."""
        seconds, ns = divmod(self.start_ns, 1_000_000_000)
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S", time.localtime(seconds))
        path = f"{self.prefix}_{stamp}_{ns // 1_000_000:03d}.json"
        with self._lock:
            events = sorted(self._events, key=lambda e: e["ts"])
        with open(path, "w") as f:
            json.dump(events, f, separators=(",", ":"))
        return path

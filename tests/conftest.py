"""Shared fixtures: the kernels' ``ctx``, exports of the model zoo (``models/``) cached per test
session, and ``timed``.  Plain helper functions are in helpers.py; the layout of the suite and
its fast tier (``-m "not slow"``) are described in README.md beside this file."""
import contextlib
import inspect
import shutil
import sys
import time

import pytest

from helpers import REPO_ROOT

# models/ is not part of the installed package: it lives beside tests/ in the checkout.
# Appended, not prepended, so an installed tinycnn still wins over the source tree.
if str(REPO_ROOT) not in sys.path:
    sys.path.append(str(REPO_ROOT))

_TIMINGS = []  # (wall seconds, cpu seconds, what), shown in the terminal summary


def pytest_terminal_summary(terminalreporter):
    if not _TIMINGS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("model export / run timings (wall, process CPU)")
    for wall, cpu, what in _TIMINGS:
        write(f"{wall:8.2f}s {cpu:8.2f}s  {what}")
    for prefix in ("export", "onnxruntime", "tinycnn"):
        rows = [t for t in _TIMINGS if t[2].startswith(prefix)]
        write(f"{sum(t[0] for t in rows):8.2f}s {sum(t[1] for t in rows):8.2f}s  all {prefix}")


@contextlib.contextmanager
def _timed(what):
    # CPU time (all threads) next to wall time: on a busy shared machine the wall
    # clock says little, CPU seconds / cores estimates the time on an idle one.
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    _TIMINGS.append((time.perf_counter() - wall, time.process_time() - cpu, what))


@pytest.fixture(scope="session")
def timed():
    """``with timed("what"): ...`` adds a line to the timing summary."""
    return _timed


@pytest.fixture(scope="session")
def onnx_export(tmp_path_factory):
    """``onnx_export(name, **export_kwargs) -> Path``: ``models.export.export`` with a cache.

    The same export (arguments compared after filling in export()'s defaults, so that
    ``onnx_export("alexnet")`` and ``onnx_export("alexnet", opset=13)`` share one file) is
    made once per test session.  The files (hundreds of MB for VGG) are deleted at the end.
    """
    from models.export import export

    signature = inspect.signature(export)
    root = tmp_path_factory.mktemp("onnx_exports")
    cache = {}

    def get(name, **kwargs):
        bound = signature.bind(name, root / "unused.onnx", **kwargs)
        bound.apply_defaults()
        settings = {k: v for k, v in bound.arguments.items() if k not in ("name", "path")}
        key = (name, tuple(sorted(settings.items())))
        if key not in cache:
            changed = [f"{k}={v}" for k, v in key[1] if v != signature.parameters[k].default]
            file_name = "-".join([name] + changed) + ".onnx"
            with _timed(f"export {file_name}"):
                cache[key] = export(name, root / file_name, **kwargs)
        return cache[key]

    yield get
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def quantized_export(onnx_export, tmp_path_factory):
    """``quantized_export(name, fmt, reduce_range=False) -> Path``: the zoo's model quantized
    by onnxruntime's quantize_static (``models.quantize``: per-channel int8 weights, 7-bit with
    reduce_range, uint8 activations, calibrated on crops of photographs), in format "qdq" or
    "qoperator"; once per session."""
    from models.quantize import quantize

    root = tmp_path_factory.mktemp("quantized")
    cache = {}

    def get(name, fmt, reduce_range=False):
        key = (name, fmt, reduce_range)
        if key not in cache:
            src = onnx_export(name, opset=13)
            tag = "-rr" if reduce_range else ""
            with _timed(f"export {name} quantized ({fmt}{tag})"):
                cache[key] = quantize(src, root / f"{name}{tag}-{fmt}.onnx", fmt,
                                      reduce_range=reduce_range)
        return cache[key]

    yield get
    shutil.rmtree(root, ignore_errors=True)


# Both instruction-set paths at 1 and 2 threads: the kernel tests' `ctx` fixture.
KERNEL_CONTEXTS = [(1, "portable"), (2, "portable"), (1, "avx2"), (2, "avx2")]


@pytest.fixture(params=KERNEL_CONTEXTS, ids=lambda p: f"{p[1]}-{p[0]}t")
def ctx(request):
    """A kernel ``_kernels.Context`` for each ISA (AVX2 skipped on a CPU without it) at 1 and 2 threads."""
    from tinycnn import _kernels
    threads, isa = request.param
    if isa == "avx2" and _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    return _kernels.Context(threads, isa)


def pytest_collection_modifyitems(config, items):
    """ONNX's BackendTest marks every conformance case outside our include patterns as skipped.
    Those cases are not ours to run: deselect them instead of reporting thousands of skips, so
    that the skips left (the exclusions, each with its reason) stay visible."""
    outside = [item for item in items
               if getattr(getattr(item, "obj", None), "__unittest_skip_why__", "")
               == "no matched include pattern"]
    if outside:
        keep = set(map(id, outside))
        config.hook.pytest_deselected(items=outside)
        items[:] = [item for item in items if id(item) not in keep]

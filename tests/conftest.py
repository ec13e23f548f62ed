"""Shared fixtures: ONNX exports of the model zoo (``models/``), cached per test session."""
import contextlib
import pathlib
import shutil
import sys
import time

import pytest

# models/ is not part of the installed package: it lives beside tests/ in the checkout.
# Appended, not prepended, so an installed tinycnn still wins over the source tree.
REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.append(str(REPO_ROOT))

_TIMINGS = []  # (wall seconds, cpu seconds, what), shown in the terminal summary


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: large networks (VGG-16/19, ResNet-50/101); still run in CI")


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


def _export_file_name(name, kwargs):
    parts = [name] + [f"{k}={v}" for k, v in sorted(kwargs.items())]
    return "-".join(parts) + ".onnx"


@pytest.fixture(scope="session")
def onnx_export(tmp_path_factory):
    """``onnx_export(name, **export_kwargs) -> Path``: ``models.export.export`` with a cache.

    Same arguments give the same file, exported once per test session.  The files
    (hundreds of MB for VGG) are deleted when the session ends.
    """
    from models.export import export

    root = tmp_path_factory.mktemp("onnx_exports")
    cache = {}

    def get(name, **kwargs):
        key = (name, tuple(sorted(kwargs.items())))
        if key not in cache:
            file_name = _export_file_name(name, kwargs)
            with _timed(f"export {file_name}"):
                cache[key] = export(name, root / file_name, **kwargs)
        return cache[key]

    yield get
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def quantized_export(onnx_export, tmp_path_factory):
    """``quantized_export(name, fmt) -> Path``: the zoo's model quantized by onnxruntime's
    quantize_static (``models.quantize``: per-channel int8 weights, uint8 activations,
    calibrated on crops of photographs), in format "qdq" or "qoperator"; once per session."""
    from models.quantize import quantize

    root = tmp_path_factory.mktemp("quantized")
    cache = {}

    def get(name, fmt):
        if (name, fmt) not in cache:
            src = onnx_export(name, opset=13)
            with _timed(f"export {name} quantized ({fmt})"):
                cache[name, fmt] = quantize(src, root / f"{name}-{fmt}.onnx", fmt)
        return cache[name, fmt]

    yield get
    shutil.rmtree(root, ignore_errors=True)


# Both instruction-set paths at 1 and 2 threads: the kernel tests' `ctx` fixture.
KERNEL_CONTEXTS = [(1, "portable"), (2, "portable"), (1, "avx2"), (2, "avx2")]


@pytest.fixture(params=KERNEL_CONTEXTS, ids=lambda p: f"{p[1]}-{p[0]}t")
def ctx(request):
    from tinycnn import _kernels
    threads, isa = request.param
    if isa == "avx2" and _kernels.best_isa() != "avx2":
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

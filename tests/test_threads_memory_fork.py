"""Concurrency and resources (issue 6): one session shared by many threads, the GIL released
inside kernels, resident memory flat over many runs and failed loads, fork() safe."""
import os
import resource
import sys
import threading
import time

import numpy as np
import pytest

import tinycnn
from tinycnn import InvalidModel
from helpers import (conv_net, one_node, pool_net, residual_net, run_in_child, run_threads, session_options,
                     x_for)

RNG = np.random.default_rng(6)
# Under .ci/sanitize ASan keeps freed memory in quarantine: resident memory is not flat there.
not_sanitized = pytest.mark.skipif(bool(os.environ.get("TINYCNN_SANITIZED")),
                                   reason="RSS is meaningless under AddressSanitizer")


@pytest.mark.parametrize("net", ["pool", "conv", "residual"])
def test_one_session_shared_by_8_threads_matches_serial(net):
    """8 threads start together, each runs all 8 batch sizes (one plan each) in its own order."""
    model, hw = {"pool": (pool_net(hw=16), 16), "conv": (conv_net(), 8), "residual": (residual_net(), 8)}[net]
    sess = tinycnn.InferenceSession(model, session_options(intra_op_num_threads=2))
    feeds = [x_for(b, hw=hw, seed=b) for b in range(1, 9)]
    serial = [sess.run(None, {"x": x})[0] for x in feeds]
    results = [[None] * 8 for _ in range(8)]
    start = threading.Barrier(8)

    def worker(t):
        start.wait()
        for rep in range(8):
            i = (t + rep) % 8
            results[t][i] = sess.run(None, {"x": feeds[i]})[0]
    errors = run_threads(worker, 8)
    assert not errors, errors
    for t in range(8):
        for i in range(8):
            np.testing.assert_array_equal(results[t][i], serial[i], err_msg=f"{net} net: thread {t}, feed {i}")


def heavy_session():
    """A model whose single kernel runs long: a big 3x3 convolution."""
    w = RNG.normal(size=(64, 64, 3, 3)).astype(np.float32)
    model = one_node("Conv", ["x", "W"], {"pads": [1, 1, 1, 1]}, {"W": w}, x_shape=(1, 64, 112, 112))
    x = RNG.normal(size=(1, 64, 112, 112)).astype(np.float32)
    o = session_options(intra_op_num_threads=1)
    o.graph_optimization_level = tinycnn.GraphOptimizationLevel.ORT_DISABLE_ALL
    return tinycnn.InferenceSession(model, o), x


def test_gil_is_released_inside_kernels():
    """A Python thread counting in a loop keeps counting while the kernel runs."""
    sess, x = heavy_session()
    sess.run(None, {"x": x})
    during = {}
    stop = threading.Event()
    counter = [0]

    def count():
        while not stop.is_set():
            counter[0] += 1
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        t = threading.Thread(target=count)
        t.start()
        time.sleep(0.05)
        c0, t0 = counter[0], time.perf_counter()
        time.sleep(0.2)
        alone = (counter[0] - c0) / (time.perf_counter() - t0)
        runs = 0
        c0, t0 = counter[0], time.perf_counter()
        while time.perf_counter() - t0 < 0.5 or runs < 2:
            sess.run(None, {"x": x})
            runs += 1
        during = (counter[0] - c0) / (time.perf_counter() - t0)
    finally:
        stop.set()
        t.join()
        sys.setswitchinterval(old)
    # Holding the GIL through the kernel would starve the counter (well under 5%); with the
    # GIL released it runs on the other core (or shares one) at a good fraction of its speed.
    assert during > 0.1 * alone, f"counter ran at {during:.0f}/s during runs vs {alone:.0f}/s alone"


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


@not_sanitized
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
@pytest.mark.parametrize("net", ["pool", "conv"])
def test_resident_memory_is_flat_over_1000_runs(net):
    if net == "pool":
        sess = tinycnn.InferenceSession(pool_net(hw=16))
        feeds = [{"x": x_for(b, hw=16, seed=b)} for b in (1, 4)]
    else:
        sess = tinycnn.InferenceSession(conv_net())
        feeds = [{"x": x_for(b)} for b in (1, 3)]
    for i in range(100):  # warm up both plans and their arenas
        sess.run(None, feeds[i % 2])
    before = rss_bytes()
    for i in range(1000):
        sess.run(None, feeds[i % 2])
    grown = rss_bytes() - before
    assert grown < 4 << 20, f"{net} net: RSS grew by {grown / 2**20:.1f} MiB over 1,000 runs"


@not_sanitized
def test_failed_loads_do_not_leak():
    """Refused models (the common hostile case) leave nothing behind."""
    bad = pool_net().SerializeToString()[:-7]
    for _ in range(50):
        with pytest.raises(InvalidModel):
            tinycnn.InferenceSession(bad)
    before = rss_bytes()
    for _ in range(300):
        with pytest.raises(InvalidModel):
            tinycnn.InferenceSession(bad)
    assert rss_bytes() - before < 4 << 20


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork()")
@pytest.mark.parametrize("threads", [1, 2])
def test_fork_after_a_session_has_run_does_not_deadlock(threads):
    model = conv_net()
    sess = tinycnn.InferenceSession(model, session_options(intra_op_num_threads=threads))
    x = x_for(4, hw=8)
    ref = sess.run(None, {"x": x})[0]
    # Keep a run going in another thread at fork time, the hard case for a thread pool.
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            sess.run(None, {"x": x})
    t = threading.Thread(target=busy)
    t.start()
    try:
        def child():
            ok = np.array_equal(sess.run(None, {"x": x})[0], ref)
            fresh = tinycnn.InferenceSession(model, session_options(intra_op_num_threads=threads))
            return ok and np.array_equal(fresh.run(None, {"x": x})[0], ref)
        assert run_in_child(child) == 0
    finally:
        stop.set()
        t.join()
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], ref)  # the parent still works

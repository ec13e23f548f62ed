"""The thread pool: coverage of parallel_for, concurrent callers, fork."""
import os
import time

import numpy as np
import pytest

from tinycnn import _kernels
from helpers import requires_avx2, run_in_child, run_threads


@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("threads", [1, 2, 3, 4])
@pytest.mark.parametrize("n,grain", [(1, 1), (2, 1), (7, 1), (1000, 1), (1000, 300), (5, 10)])
def test_parallel_for_covers_every_index_once(threads, n, grain, dynamic):
    ctx = _kernels.Context(threads, "portable")
    for _ in range(20):
        counts, tids = _kernels._parallel_for_counts(ctx, n, grain, dynamic)
        assert counts.shape == (n,) and (counts == 1).all(), \
            f"parallel_for n={n} grain={grain} threads={threads}: counts {np.unique(counts)}"
        assert ((tids >= 0) & (tids < threads)).all(), f"tids {np.unique(tids)} with {threads} threads"


def _conv_problem():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 16, 20, 20), dtype=np.float32)
    w = rng.standard_normal((32, 16, 3, 3), dtype=np.float32)
    b = rng.standard_normal(32, dtype=np.float32)
    return x, w, b


@pytest.mark.parametrize("isa", ["portable", pytest.param("avx2", marks=requires_avx2)])
def test_concurrent_callers_share_one_context(isa):
    x, w, b = _conv_problem()
    serial = _kernels.Conv2d(_kernels.Context(1, isa), w, b, algo="gemm", pads=(1, 1, 1, 1),
                             relu=True)
    expected = np.empty(serial.output_shape(1, 20, 20), np.float32)
    serial.run(x, expected)

    ctx = _kernels.Context(2, isa)
    conv = _kernels.Conv2d(ctx, w, b, algo="gemm", pads=(1, 1, 1, 1), relu=True)
    failures = []

    def worker(seed):
        for i in range(30):
            y = np.full(expected.shape, np.nan, np.float32)
            conv.run(x, y)
            if not np.array_equal(y, expected):
                failures.append((seed, i, float(np.nanmax(np.abs(y - expected)))))
            counts, _ = _kernels._parallel_for_counts(ctx, 100 + seed, 1, seed % 2 == 1)
            if not (counts == 1).all():
                failures.append((seed, i, "parallel_for counts"))

    errors = run_threads(worker, 4)
    assert not errors, errors
    assert not failures, f"concurrent Conv2d.run on one Context(2) differs from serial: {failures[:5]}"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_runs_serially():
    x, w, b = _conv_problem()
    ctx = _kernels.Context(2, "portable")
    conv = _kernels.Conv2d(ctx, w, b, algo="gemm", pads=(1, 1, 1, 1))
    expected = np.empty(conv.output_shape(1, 20, 20), np.float32)
    conv.run(x, expected)

    def child():  # the parent's workers do not exist here
        nonlocal conv, ctx
        y = np.empty_like(expected)
        conv.run(x, y)
        ok = np.allclose(y, expected, rtol=1e-5, atol=1e-5)
        ok = ok and (_kernels._parallel_for_counts(ctx, 50)[0] == 1).all()
        del conv, ctx  # destroying the pool in the child must not touch the workers
        return ok
    assert run_in_child(child) == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_pool_made_in_a_forked_child_is_the_childs_and_not_its_childs():
    """The pool tells a forked process by a fork count (pthread_atfork), not a getpid() per
    job: a pool made in a child works there (its own workers), and in the child's child runs
    every job inline (executing thread 0) and is destroyed without touching the workers."""
    ctx = _kernels.Context(2, "portable")
    _kernels._parallel_for_counts(ctx, 8, 1, True)   # the parent's worker exists

    def child():
        counts, tids = _kernels._parallel_for_counts(ctx, 1000, 1, True)
        if not (counts == 1).all() or (tids != 0).any():   # the parent's pool: inline here
            return False
        pools = [_kernels.Context(2, "portable")]   # the child's own
        worked = len(os.sched_getaffinity(0)) < 2    # its worker runs chunks (given a CPU)
        deadline = time.monotonic() + 20
        while True:
            counts, tids = _kernels._parallel_for_counts(pools[0], 100000, 1, True)
            if not (counts == 1).all() or not ((tids >= 0) & (tids < 2)).all():
                return False
            worked = worked or bool((tids == 1).any())
            if worked or time.monotonic() > deadline:
                break
        if not worked:
            return False

        def grandchild():
            counts, tids = _kernels._parallel_for_counts(pools[0], 1000, 1, True)
            pools.clear()   # destroys the child's pool here: its workers must stay untouched
            return bool((counts == 1).all() and (tids == 0).all())
        if run_in_child(grandchild) != 0:
            return False
        counts, _ = _kernels._parallel_for_counts(pools[0], 1000, 1, True)   # the child's still
        return bool((counts == 1).all())
    assert run_in_child(child) == 0
    counts, _ = _kernels._parallel_for_counts(ctx, 1000, 1, True)
    assert (counts == 1).all()


def _affinity_possible():
    return (hasattr(os, "sched_setaffinity") and os.path.isdir("/proc/self/task")
            and len(os.sched_getaffinity(0)) >= 2)


def _with_pool_on_cpu(cpu, check):
    """check(ctx, worker_tid) on a new thread pinned to `cpu` that made a Context(2): the
    pool's worker starts with the same affinity (threads inherit their creator's)."""
    import threading
    out = {}

    def body():
        try:
            os.sched_setaffinity(0, {cpu})          # this thread only
            before = {int(t) for t in os.listdir("/proc/self/task")}
            ctx = _kernels.Context(2, "portable")
            _kernels._parallel_for_counts(ctx, 2, 1, True)      # the worker exists now
            new = {int(t) for t in os.listdir("/proc/self/task")} - before
            new.discard(threading.get_native_id())
            (worker,) = new
            out["value"] = check(ctx, worker)
        except BaseException as e:  # noqa: BLE001
            out["error"] = e
    t = threading.Thread(target=body)
    t.start()
    t.join(120)
    assert not t.is_alive(), "the pinned thread did not finish"
    if "error" in out:
        raise out["error"]
    return out["value"]


@pytest.mark.skipif(not _affinity_possible(), reason="needs Linux affinity and 2 CPUs")
def test_worker_on_its_callers_cpu_leaves_its_chunks_to_the_caller():
    # threadpool.c: a worker on its caller's CPU would only take turns with the caller.  It
    # stands aside, even while the caller sleeps in its own chunk (the old pool's worker ran
    # its chunk then), and every index still runs once.
    cpu = min(os.sched_getaffinity(0))

    def check(ctx, worker):
        for i in range(8):
            tids, cpus = _kernels._parallel_for_where(ctx, 2, sleep_us=3000 if i % 2 else 0)
            assert (tids == 0).all() and (cpus == cpu).all(), (i, tids, cpus)
            counts, _ = _kernels._parallel_for_counts(ctx, 50, 1, True)
            assert (counts == 1).all()
        return True
    assert _with_pool_on_cpu(cpu, check)


def _cpus_of_worker_chunks_after(mask):
    """A pool made on a thread pinned to the first allowed CPU: its worker stands aside there;
    then the worker's affinity is set to `mask` and the caller runs jobs (sleeping in its
    chunk) until the worker runs chunks.  Returns the CPUs it ran them on and its mask then."""
    cpu = min(os.sched_getaffinity(0))

    def check(ctx, worker):
        tids, _ = _kernels._parallel_for_where(ctx, 2, sleep_us=3000)
        assert (tids == 0).all(), tids                 # aside on the caller's CPU
        os.sched_setaffinity(worker, mask)
        ran = []
        for _ in range(40):                            # a loaded host may delay the worker
            tids, cpus = _kernels._parallel_for_where(ctx, 2, sleep_us=20000)
            ran += [int(c) for t, c in zip(tids, cpus) if t == 1]
            if ran:
                break
        return ran, os.sched_getaffinity(worker)
    return _with_pool_on_cpu(cpu, check)


@pytest.mark.skipif(not _affinity_possible(), reason="needs Linux affinity and 2 CPUs")
def test_worker_that_stood_aside_runs_chunks_again_elsewhere():
    # Once its CPU is not the caller's (here: moved by affinity), a worker that stood aside
    # is woken again (at most every TC_POOL_PROBE_NS) and runs chunks on its own CPU while
    # the caller sleeps in its chunk.
    other = sorted(os.sched_getaffinity(0))[1]
    ran, _ = _cpus_of_worker_chunks_after({other})
    assert ran and all(c == other for c in ran), f"the worker ran chunks on CPUs {ran}"


@pytest.mark.skipif(not _affinity_possible(), reason="needs Linux affinity and 2 CPUs")
def test_worker_on_its_callers_cpu_moves_off_it_where_it_may():
    # threadpool.c (move_off): a worker that finds itself on its caller's CPU while another CPU
    # is allowed moves there and runs chunks, where before it stood aside on the caller's CPU
    # for good (each wake-up put it back on the CPU it last ran on, here idle: the caller
    # sleeps in its chunk).  Widening the worker's mask while it sits on the caller's CPU does
    # not move it by itself; after its move the mask is the widened one again (not pinned).
    cpu, other = sorted(os.sched_getaffinity(0))[:2]
    ran, mask = _cpus_of_worker_chunks_after({cpu, other})
    assert ran and all(c == other for c in ran), f"the worker ran chunks on CPUs {ran}"
    assert mask == {cpu, other}

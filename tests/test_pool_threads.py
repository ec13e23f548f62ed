"""The thread pool: coverage of parallel_for, concurrent callers, fork."""
import os

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

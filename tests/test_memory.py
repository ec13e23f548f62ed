"""tinycnn.memory (issue 12): packed weights and arenas in 64-byte aligned blocks on huge
pages where the OS gives them; the same outputs, bit for bit, as on numpy's memory."""
import ctypes
import mmap
import os
import threading

import numpy as np
import pytest

import tinycnn
from tinycnn import _kernels, loader, memory
from tinycnn.options import HUGE_PAGES_CONFIG_KEY
from helpers import (conv_net, residual_net, run_in_child, run_threads, save, session_options,
                     x_for)

HUGE = memory.HUGE_PAGE


def disjoint(blocks):
    spans = sorted((b.ctypes.data, b.ctypes.data + b.nbytes) for b in blocks)
    return all(hi <= lo for (_, hi), (lo, _) in zip(spans, spans[1:]))


@pytest.mark.parametrize("nbytes", [0, 1, 63, 64, 4097, HUGE - 1, HUGE, HUGE + 4096, 3 * HUGE])
def test_huge_empty_is_aligned_and_writeable(nbytes):
    buf = memory.huge_empty(nbytes)
    assert buf.dtype == np.uint8 and buf.shape == (max(nbytes, 1),)
    assert buf.ctypes.data % memory.ALIGN == 0
    if nbytes >= HUGE and hasattr(mmap, "MAP_PRIVATE"):
        assert buf.ctypes.data % HUGE == 0
    buf[:] = np.arange(buf.size) % 251
    np.testing.assert_array_equal(buf, np.arange(buf.size) % 251)


def test_blocks_are_aligned_disjoint_and_keep_their_chunk_alive():
    blocks = memory.Blocks(chunk=HUGE, small=4096)
    sizes = [1, 100, 4096, 5000, 70000, HUGE // 3, HUGE, 3 * HUGE + 5, 64, 200000] * 3
    out = [blocks.empty(n) for n in sizes]
    for b, n in zip(out, sizes):
        assert b.dtype == np.uint8 and b.size >= n and b.ctypes.data % memory.ALIGN == 0
    assert disjoint(out)
    for i, b in enumerate(out):
        b[:] = i
    for i, b in enumerate(out):
        assert (b == i).all(), f"block {i} of {b.size} bytes was overwritten"
    assert blocks.used >= sum(sizes) and blocks.mapped >= blocks.used - 4096
    del blocks   # the blocks outlive their allocator
    for i, b in enumerate(out):
        assert (b == i).all()


def test_blocks_from_many_threads_are_disjoint():
    blocks = memory.Blocks(chunk=HUGE, small=0)
    got = [[] for _ in range(4)]

    def worker(t):
        for k in range(200):
            got[t].append(blocks.empty(1000 + 97 * k))
    assert not run_threads(worker, 4)
    everything = [b for g in got for b in g]
    assert disjoint(everything)
    assert all(b.ctypes.data % memory.ALIGN == 0 for b in everything)


def smaps_entry(address):
    """(start, end, {field: its words}) of the mapping of this process holding address."""
    found = None
    with open("/proc/self/smaps") as f:
        for line in f:
            head, *rest = line.split()
            if "-" in head and not head.endswith(":"):
                if found is not None:
                    break
                lo, hi = (int(a, 16) for a in head.split("-"))
                if lo <= address < hi:
                    found = (lo, hi, {})
            elif found is not None:
                found[2][head.rstrip(":")] = rest
    return found


linux_thp = pytest.mark.skipif(
    not (hasattr(mmap, "MADV_HUGEPAGE") and os.path.exists("/proc/self/smaps")),
    reason="needs Linux's MADV_HUGEPAGE and /proc")


@linux_thp
def test_blocks_of_two_huge_pages_and_more_are_advised():
    buf = memory.huge_empty(2 * HUGE + 4096)
    lo, hi, fields = smaps_entry(buf.ctypes.data)
    # the advised range is a mapping of its own: the whole huge pages, not the tail
    assert "hg" in fields["VmFlags"] and lo == buf.ctypes.data and hi == lo + 2 * HUGE, \
        (hex(lo), hex(hi), fields["VmFlags"])


@linux_thp
def test_without_transparent_huge_pages_the_same_bits(tmp_path):
    """As under THP mode `never`: a child with THP disabled (PR_SET_THP_DISABLE) builds and
    runs a session on the default settings; no huge page, the same outputs."""
    path = save(residual_net(), tmp_path / "m.onnx")
    x = x_for(2)
    _, off = sessions(path)
    ref = off.run(None, {"x": x})[0]

    def child():
        if ctypes.CDLL(None, use_errno=True).prctl(41, 1, 0, 0, 0) != 0:  # PR_SET_THP_DISABLE
            return False
        sess = tinycnn.InferenceSession(path)
        buf = memory.huge_empty(2 * HUGE)
        buf[:] = 1
        fields = smaps_entry(buf.ctypes.data)[2]
        return (np.array_equal(sess.run(None, {"x": x})[0], ref)
                and fields["AnonHugePages"][0] == "0" and fields["Rss"][0] == str(2 * HUGE // 1024))
    assert run_in_child(child) == 0


def test_context_weights_are_checked():
    class Bad:
        def empty(self, nbytes):
            return np.empty(nbytes + 65, np.uint8)[1:]   # not 64-byte aligned
    ctx = _kernels.Context(1)
    ctx.weights = Bad()
    w = np.ones((4, 3, 3, 3), np.float32)
    with pytest.raises(ValueError, match="64-byte aligned"):
        _kernels.Conv2d(ctx, w, None, algo="gemm", pads=(1, 1, 1, 1))


def test_a_layer_takes_its_packed_weights_from_context_weights():
    ctx = _kernels.Context(1)
    ctx.weights = memory.Blocks(small=0)
    rng = np.random.default_rng(0)
    w = rng.normal(size=(8, 3, 3, 3)).astype(np.float32)
    b = rng.normal(size=8).astype(np.float32)
    x = rng.normal(size=(1, 3, 9, 9)).astype(np.float32)
    conv = _kernels.Conv2d(ctx, w, b, algo="gemm", pads=(1, 1, 1, 1))
    assert ctx.weights.used > w.nbytes
    plain = _kernels.Conv2d(_kernels.Context(1), w, b, algo="gemm", pads=(1, 1, 1, 1))
    y, ref = (np.empty((1, 8, 9, 9), np.float32) for _ in range(2))
    conv.run(x, y)
    plain.run(x, ref)
    np.testing.assert_array_equal(y, ref)


def sessions(model, **settings):
    """The same model with and without huge pages."""
    on = tinycnn.InferenceSession(model, session_options(**settings))
    o = session_options(**settings)
    o.add_session_config_entry(HUGE_PAGES_CONFIG_KEY, "0")
    return on, tinycnn.InferenceSession(model, o)


@pytest.mark.parametrize("net", ["conv", "residual"])
@pytest.mark.parametrize("threads", [1, 2])
def test_small_nets_give_the_same_bits(net, threads, tmp_path):
    path = str(save({"conv": conv_net, "residual": residual_net}[net](), tmp_path / "m.onnx"))
    on, off = sessions(path, intra_op_num_threads=threads)
    for batch in (1, 3):
        x = x_for(batch)
        np.testing.assert_array_equal(on.run(None, {"x": x})[0], off.run(None, {"x": x})[0])
    assert on._ctx.weights.used > 0 and off._ctx.weights is None


def test_initializers_read_from_a_file_go_to_the_weights_allocator(tmp_path):
    path = save(residual_net(), tmp_path / "m.onnx")

    class Recorder(memory.Blocks):
        def empty(self, nbytes):
            b = super().empty(nbytes)
            self.given.append(b)
            return b
    weights = Recorder(small=0)
    weights.given = []
    _, arrays = loader.read_model_file(path, weights=weights)
    assert arrays and len(weights.given) == len(arrays)
    plain = loader.read_model_file(path)[1]
    for name, a in arrays.items():
        assert any(np.shares_memory(a, b) for b in weights.given), name
        assert a.ctypes.data % memory.ALIGN == 0
        np.testing.assert_array_equal(a, plain[name], err_msg=name)
        assert a.dtype == plain[name].dtype and a.shape == plain[name].shape


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mobilenet_v2", "mobilenet_v3_small", "resnet18"])
def test_networks_give_the_same_bits_and_use_huge_blocks(onnx_export, name):
    """Bit for bit with and without huge pages; the weights are packed into Blocks and a
    224x224 arena (megabytes) starts on a huge page."""
    on, off = sessions(str(onnx_export(name)), intra_op_num_threads=1)
    feed = on.get_inputs()[0].name
    x = np.random.default_rng(1).random((1, 3, 224, 224), dtype=np.float32)
    for _ in range(2):   # the second run reads the feed in place (Arena.calls_for)
        np.testing.assert_array_equal(on.run(None, {feed: x})[0], off.run(None, {feed: x})[0],
                                      err_msg=name)
    assert on._ctx.weights.mapped > 0 and off._ctx.weights is None
    plan = on._hot.plan
    arena = plan.acquire()
    try:
        assert arena.buffer.ctypes.data % memory.ALIGN == 0
        if arena.buffer.nbytes >= HUGE and hasattr(mmap, "MAP_PRIVATE"):
            assert arena.buffer.ctypes.data % HUGE == 0
    finally:
        plan.release(arena)


def test_a_forked_child_runs_on_its_own_copy():
    """Private mappings: the child's runs (and its writes into the arena) leave the
    parent's weights and outputs alone."""
    model = conv_net()
    sess = tinycnn.InferenceSession(model)
    x = x_for(2)
    ref = sess.run(None, {"x": x})[0]

    def child():
        a = sess.run(None, {"x": x * 2})[0]
        return np.array_equal(sess.run(None, {"x": x})[0], ref) and not np.array_equal(a, ref)
    assert run_in_child(child) == 0
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], ref)


def test_huge_pages_config_entry_is_checked():
    o = tinycnn.SessionOptions()
    with pytest.raises(tinycnn.InvalidArgument):
        o.add_session_config_entry(HUGE_PAGES_CONFIG_KEY, "yes")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork()")
@pytest.mark.parametrize("where", ["blocks", "plan", "planning"])
def test_a_fork_while_another_thread_holds_a_lock_leaves_the_child_usable(where):
    """Blocks', a plan's and the planner's locks are new in a forked child: the thread that
    held one at the fork does not exist there.  The child allocates, runs and plans (a new
    batch size) as the parent would."""
    sess = tinycnn.InferenceSession(conv_net())
    x = x_for(2)
    ref = sess.run(None, {"x": x})[0]
    ref3 = sess.run(None, {"x": x_for(3)})[0]
    blocks = memory.Blocks(chunk=HUGE, small=0)
    lock = {"blocks": blocks._lock, "plan": sess._hot.plan._lock,
            "planning": sess._base.lock}[where]
    held, done = threading.Event(), threading.Event()

    def hold():
        with lock:
            held.set()
            done.wait(60)
    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(60)

        def child():
            b = blocks.empty(5000)
            b[:] = 7
            plan = sess._hot.plan
            plan.release(plan.acquire())
            return ((b == 7).all() and np.array_equal(sess.run(None, {"x": x})[0], ref)
                    and np.array_equal(sess.run(None, {"x": x_for(3)})[0], ref3))
        assert run_in_child(child, timeout=30) == 0
    finally:
        done.set()
        holder.join()


def resident_bytes(address, nbytes):
    """Bytes of [address, address + nbytes) (page-aligned) resident now (mincore), or None
    where it cannot be asked."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        mincore = libc.mincore
    except (OSError, AttributeError):
        return None
    page = mmap.PAGESIZE
    vec = (ctypes.c_ubyte * (nbytes // page))()
    mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    if mincore(ctypes.c_void_p(address), ctypes.c_size_t(nbytes), vec) != 0:
        return None
    return sum(v & 1 for v in vec) * page


def test_a_chunk_left_behind_gives_back_its_unused_pages():
    """Blocks: when a block does not fit in the current chunk, the next chunk takes over
    and the last one's pages after its last block are given back, those of its last huge
    page included (resident with it under THP, the 2 MiB page touched as a whole)."""
    blocks = memory.Blocks(chunk=4 * HUGE, small=0)
    first = blocks.empty(3 * HUGE + 4096)
    first[:] = 1
    chunk = first.ctypes.data        # 2 MiB aligned: the chunk's start
    resident = resident_bytes(chunk, 4 * HUGE)
    if resident is None:
        pytest.skip("mincore() is not available here")
    second = blocks.empty(2 * HUGE)   # not in the 2 MiB - 4 kB left: a new chunk
    second[:] = 2
    assert second.ctypes.data - chunk not in range(0, 4 * HUGE)
    assert resident_bytes(chunk, 4 * HUGE) <= 3 * HUGE + 4096
    assert (first == 1).all() and (second == 2).all()
    own = blocks.empty(4 * HUGE - 4096)   # more than the room left, yet a chunk would be
    own[:] = 3                            # nearly all its: a chunk alone, whose last 4 kB
    assert resident_bytes(own.ctypes.data, 4 * HUGE) <= 4 * HUGE - 4096   # are given back
    assert (own == 3).all() and (second == 2).all()
    third = blocks.empty(HUGE)            # still in the second chunk
    assert third.ctypes.data - second.ctypes.data == 2 * HUGE

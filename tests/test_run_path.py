"""The run path: what a run does between the feed and the outputs.

- No BLAS: numpy's BLAS-backed functions (np.dot, np.matmul, ...) wake OpenBLAS's worker
  threads, which then spin for tens of milliseconds and steal the cores tinycnn's own
  threads compute on.  No step of a CNN's plan may call one: checked dynamically (the
  numpy functions patched to count calls during runs) and statically (the steps' code,
  closures and bound callables searched for them and for the @ operator).
- Outputs are fresh arrays: they never alias a buffer that the next run overwrites.
- Feeds are read, never written, whatever their layout, type or flags.
"""
import dis
import functools
import types

import numpy as np
import pytest
from onnx import TensorProto, helper

import tinycnn
from tinycnn import planner
from helpers import make_model, ort_run

# numpy's functions that call BLAS (or may: inner and vdot of float arrays do).
BLAS_NAMES = ("dot", "matmul", "einsum", "tensordot", "inner", "vdot", "outer", "kron")
BLAS_FUNCTIONS = {getattr(np, name) for name in BLAS_NAMES}


def blas_uses(obj, seen=None):
    """Where obj (a plan step's function, a partial, a bound call) may call numpy's BLAS:
    numpy's BLAS functions held by it, names of them used by its code, the @ operator."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    found = []
    if any(obj is f for f in BLAS_FUNCTIONS):
        return [f"holds np.{obj.__name__}"]
    if isinstance(obj, functools.partial):
        for part in (obj.func, *obj.args, *obj.keywords.values()):
            found += blas_uses(part, seen)
    elif isinstance(obj, types.MethodType):
        found += blas_uses(obj.__func__, seen)
    elif isinstance(obj, types.FunctionType):
        found += [f"{obj.__qualname__}: {use}" for use in _code_uses(obj.__code__)]
        for cell in obj.__closure__ or ():
            try:
                found += blas_uses(cell.cell_contents, seen)
            except ValueError:   # an empty cell
                pass
        if hasattr(obj, "bind"):
            found += blas_uses(obj.bind, seen)
    return found


def _code_uses(code):
    uses = [f"uses the name {name!r}" for name in code.co_names if name in BLAS_NAMES]
    uses += [f"applies {ins.argrepr}" for ins in dis.get_instructions(code)
             if ins.opname == "BINARY_OP" and ins.argrepr in ("@", "@=")]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            uses += _code_uses(const)
    return uses


@pytest.fixture
def blas_calls(monkeypatch):
    """A list that records every call of numpy's BLAS-backed functions while the test runs."""
    calls = []

    def counting(name, fn):
        def call(*args, **kwargs):
            calls.append(name)
            return fn(*args, **kwargs)
        return call
    for name in BLAS_NAMES:
        monkeypatch.setattr(np, name, counting(name, getattr(np, name)))
    return calls


@pytest.mark.parametrize("name", ["mobilenet_v2", "efficientnet_b0"])
def test_a_mobile_network_runs_without_numpy_blas(onnx_export, blas_calls, name):
    sess = tinycnn.InferenceSession(str(onnx_export(name)))
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
    sess.run(None, {"input": x})        # plans (building a plan may use numpy freely)
    blas_calls.clear()
    sess.run(None, {"input": x})
    assert blas_calls == [], f"{name}: a run called numpy's BLAS: {blas_calls}"
    (plan,) = sess._plans.values()
    found = {f"{s.label} ({s.node.name}): {use}" for s in plan.steps for use in blas_uses(s.fn)}
    assert not found, f"{name}: steps that may call numpy's BLAS:\n" + "\n".join(sorted(found))


def test_the_blas_search_finds_a_step_that_uses_numpy_matmul(blas_calls):
    """A float64 MatMul runs np.matmul at run time (no C kernel for float64): both the
    dynamic and the static checks above must see it, or they could not fail."""
    model = make_model([helper.make_node("MatMul", ["x", "a"], ["y"])], [], [], {"a": np.eye(4)})
    model.graph.input.append(helper.make_tensor_value_info("x", TensorProto.DOUBLE, [2, 4]))
    model.graph.output.append(helper.make_tensor_value_info("y", TensorProto.DOUBLE, [2, 4]))
    sess = tinycnn.InferenceSession(model.SerializeToString())
    x = np.arange(8, dtype=np.float64).reshape(2, 4)
    sess.run(None, {"x": x})
    blas_calls.clear()
    (y,) = sess.run(None, {"x": x})
    np.testing.assert_array_equal(y, x)
    assert blas_calls == ["matmul"]
    (plan,) = sess._plans.values()
    assert [use for s in plan.steps for use in blas_uses(s.fn)] == ["holds np.matmul"]
    assert [u.split(": ", 1)[1] for u in blas_uses(lambda p, q: p @ q)] == ["applies @"]
    assert [u.split(": ", 1)[1] for u in blas_uses(lambda p, q: p.dot(q))] == ["uses the name 'dot'"]


def _model(kind):
    """"readers": x -> two Convs 3x3 (+ bias), a feed read in place where the caller gave it;
    "relu": x -> Relu -> Conv, Relu also an output: a Relu may write its result over its input
    where that dies, so this feed is copied into the arena instead;
    "concat": x -> two Convs written in place into the slices of their Concat, y (y's
    storage is written by two steps, each into its part)."""
    rng = np.random.default_rng(3)
    inits = {k: rng.standard_normal(shape).astype(np.float32)
             for k, shape in (("w", (4, 3, 3, 3)), ("b", (4,)), ("w2", (2, 3, 1, 1)))}
    if kind == "readers":
        nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1]),
                 helper.make_node("Conv", ["x", "w2"], ["r"])]
        outputs = [("y", [1, 4, 8, 8]), ("r", [1, 2, 8, 8])]
    elif kind == "concat":
        nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
                 helper.make_node("Conv", ["x", "w2"], ["r"]),
                 helper.make_node("Concat", ["c", "r"], ["y"], axis=1)]
        outputs = [("y", [1, 6, 8, 8])]
    else:
        nodes = [helper.make_node("Relu", ["x"], ["r"]),
                 helper.make_node("Conv", ["r", "w", "b"], ["y"], pads=[1, 1, 1, 1])]
        outputs = [("y", [1, 4, 8, 8]), ("r", [1, 3, 8, 8])]
        del inits["w2"]
    return make_model(nodes, [("x", [1, 3, 8, 8])], outputs, inits)


@pytest.mark.parametrize("kind", ["readers", "relu", "concat"])
def test_outputs_do_not_alias_the_next_runs_buffers(kind):
    model = _model(kind)
    sess = tinycnn.InferenceSession(model.SerializeToString())
    rng = np.random.default_rng(4)
    x1, x2 = (rng.standard_normal((1, 3, 8, 8), dtype=np.float32) for _ in range(2))
    first = sess.run(None, {"x": x1})
    kept = [o.copy() for o in first]
    second = sess.run(None, {"x": x2})
    for k, (a, b, ref) in enumerate(zip(first, second, kept)):
        np.testing.assert_array_equal(a, ref, err_msg=f"output {k} changed by the next run")
        assert not np.shares_memory(a, b), f"output {k} of two runs share memory"
    for got, ref in zip(second, ort_run(model, {"x": x2})):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind, direct", [("readers", [0, 1]), ("relu", [0]),
                                          ("concat", [0])])
def test_outputs_are_computed_where_they_are_returned(kind, direct, monkeypatch):
    """Arena.direct: an output that fills its storage alone is written by its steps into the
    array the run returns (no copy out of the arena); the others are copied ("relu"'s r lives
    in the feed's storage).  Values as onnxruntime's at
    every run, also with an output asked for twice (two arrays, not one).  These outputs
    are small: the size from which outputs go direct is lowered to 0 here."""
    monkeypatch.setattr(planner, "_DIRECT_BYTES", 0)
    model = _model(kind)
    sess = tinycnn.InferenceSession(model.SerializeToString())
    rng = np.random.default_rng(7)
    for _ in range(3):
        x = rng.standard_normal((1, 3, 8, 8), dtype=np.float32)
        got = sess.run(None, {"x": x})
        for k, (g, r) in enumerate(zip(got, ort_run(model, {"x": x}))):
            np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5, err_msg=f"output {k}")
    (plan,) = sess._plans.values()
    arena = plan.acquire()
    plan.release(arena)
    assert sorted(arena.direct) == direct
    name = model.graph.output[direct[0]].name
    a, b = sess.run([name, name], {"x": x})
    assert not np.shares_memory(a, b)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, got[direct[0]], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["readers", "relu", "concat"])
def test_small_outputs_are_copied_and_same_feed_rebinds_nothing(kind):
    """Below planner._DIRECT_BYTES an output is copied out of the arena (no step bound per
    run); fed the same array again (changed in place between runs), a run takes the calls it
    bound last time, and reads the new values; outputs of two runs never share memory."""
    model = _model(kind)
    sess = tinycnn.InferenceSession(model.SerializeToString())
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 3, 8, 8), dtype=np.float32)
    results = []
    for _ in range(3):
        x[...] = rng.standard_normal((1, 3, 8, 8), dtype=np.float32)
        got = sess.run(None, {"x": x})
        for k, (g, r) in enumerate(zip(got, ort_run(model, {"x": x}))):
            np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5, err_msg=f"output {k}")
        results.append(got)
    for a, b in zip(results[1], results[2]):
        assert not np.shares_memory(a, b)
    (plan,) = sess._plans.values()
    arena = plan.acquire()
    plan.release(arena)
    assert arena.direct == {}
    if kind == "readers":   # x read in place: its calls kept with it, reused as they are
        assert arena._reused is not None and arena._reused[0][0] is x
        assert arena.calls_for({"x": x}) is arena._reused[1]
        other = x.copy()        # another array: bound anew, then kept in x's place
        calls = arena.calls_for({"x": other})
        assert arena._reused[0][0] is other and calls is arena._reused[1]


@pytest.mark.parametrize("kind", ["readers", "relu"])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided", "read-only",
                                    "unaligned"])
def test_a_feed_is_read_in_any_layout_and_never_written(layout, kind):
    model = _model(kind)
    sess = tinycnn.InferenceSession(model.SerializeToString())
    (plan,) = sess._plans.values()
    arena = plan.acquire()           # the load-time plan's: see that each path is taken
    plan.release(arena)
    ((_, _, readers),) = arena.feeds
    assert (readers is not None) == (kind == "readers")
    base = np.random.default_rng(5).standard_normal((1, 3, 8, 8), dtype=np.float32)
    if layout == "transposed":
        x = np.ascontiguousarray(base.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    elif layout == "strided":
        x = np.repeat(base, 2, axis=3)[..., ::2]
    elif layout == "read-only":
        x = base.copy()
        x.flags.writeable = False
    elif layout == "unaligned":
        raw = np.empty(base.nbytes + 4, np.uint8)[1:1 + base.nbytes]
        x = raw.view(np.float32).reshape(base.shape)
        x[...] = base
    else:
        x = base.copy()
    np.testing.assert_array_equal(x, base)
    ref = ort_run(model, {"x": base})
    for _ in range(2):       # the second run reuses the plan and its arena
        got = sess.run(None, {"x": x})
        np.testing.assert_array_equal(x, base, err_msg=f"{layout} feed written by the run")
        for g, r in zip(got, ref):
            np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5)
    x2 = base[:, :, ::-1].copy()
    got = sess.run(None, {"x": x2})   # the caller's next feed: results of the new values
    for g, r in zip(got, ort_run(model, {"x": x2})):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5)


def test_a_step_reading_two_feeds_in_place_reads_both():
    """Gemm of two fed matrices: one step bound with both feeds of the run."""
    node = helper.make_node("Gemm", ["A", "B"], ["y"], transB=1)
    model = make_model([node], [("A", [3, 5]), ("B", [4, 5])], [("y", [3, 4])])
    sess = tinycnn.InferenceSession(model.SerializeToString())
    rng = np.random.default_rng(6)
    for _ in range(2):
        feeds = {"A": rng.standard_normal((3, 5), dtype=np.float32),
                 "B": rng.standard_normal((4, 5), dtype=np.float32)}
        (y,) = sess.run(None, feeds)
        np.testing.assert_allclose(y, feeds["A"] @ feeds["B"].T, rtol=1e-5, atol=1e-5)
    (plan,) = sess._plans.values()
    arena = plan.acquire()
    plan.release(arena)
    assert [readers is not None for _, _, readers in arena.feeds] == [True, True]


def test_a_float16_feed_is_converted_and_left_untouched():
    """A float16 input is carried as float32 inside: the feed is converted, not read in place."""
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    model = make_model(nodes, [], [])
    model.graph.input.append(helper.make_tensor_value_info("x", TensorProto.FLOAT16, [2, 5]))
    model.graph.output.append(helper.make_tensor_value_info("y", TensorProto.FLOAT16, [2, 5]))
    sess = tinycnn.InferenceSession(model.SerializeToString())
    x = np.linspace(-2, 2, 10, dtype=np.float16).reshape(2, 5)
    kept = x.copy()
    (y,) = sess.run(None, {"x": x})
    np.testing.assert_array_equal(x, kept)
    assert y.dtype == np.float16
    np.testing.assert_array_equal(y, np.maximum(kept, 0))


def test_a_call_sequence_runs_bound_and_python_calls_in_order():
    """CallSequence: kernels (BoundCalls, run without the GIL back to back) and Python
    callables between them, in the given order; each reads what the one before wrote."""
    ctx = tinycnn._kernels.Context(1)
    x = np.linspace(-3, 3, 37, dtype=np.float32)
    y, z = np.empty_like(x), np.empty_like(x)
    order = []

    def double():
        order.append("double")
        y[...] *= 2
    calls = [tinycnn._kernels.bind_unary(ctx, "relu", x, y), double,
             tinycnn._kernels.bind_unary(ctx, "neg", y, z),
             tinycnn._kernels.bind_unary(ctx, "abs", z, z)]
    seq = tinycnn._kernels.CallSequence(calls)
    assert len(seq) == 4 and list(seq) == calls and seq[1] is double
    assert seq.run() is None                 # no sources: nothing copied
    np.testing.assert_array_equal(z, 2 * np.maximum(x, 0))
    assert order == ["double"] and seq.failed_at == -1


def test_a_call_sequence_reports_the_call_that_raised():
    ctx = tinycnn._kernels.Context(1)
    x = np.ones(8, np.float32)
    y = np.zeros(8, np.float32)

    def refuse():
        raise ValueError("no")
    seq = tinycnn._kernels.CallSequence([tinycnn._kernels.bind_unary(ctx, "neg", x, y), refuse,
                                         tinycnn._kernels.bind_unary(ctx, "abs", y, y)])
    with pytest.raises(ValueError, match="no"):
        seq.run()
    assert seq.failed_at == 1
    np.testing.assert_array_equal(y, -x)     # the call before ran, the one after did not
    with pytest.raises(TypeError, match="call 0"):
        tinycnn._kernels.CallSequence([42])


def test_a_call_sequence_copies_its_sources_into_new_arrays():
    """run(copy=True): new arrays of the sources' values (taken after the calls ran), shapes
    and types, never sharing memory with them or with the last run's copies."""
    ctx = tinycnn._kernels.Context(1)
    x = np.arange(-6, 6, dtype=np.float32).reshape(3, 4)
    y = np.empty_like(x)
    k = np.arange(5, dtype=np.int64)
    seq = tinycnn._kernels.CallSequence([tinycnn._kernels.bind_unary(ctx, "relu", x, y)], [y, k])
    first = seq.run()
    x *= -1
    second = seq.run(True)
    for got, ref in ((first, [np.maximum(-x, 0), k]), (second, [np.maximum(x, 0), k])):
        assert [a.dtype for a in got] == [np.float32, np.int64]
        for a, r in zip(got, ref):
            np.testing.assert_array_equal(a, r)
            assert a.flags.c_contiguous and a.flags.writeable
    for a, b, src in zip(first, second, (y, k)):
        assert not np.shares_memory(a, b) and not np.shares_memory(a, src)
    assert seq.run(False) is None
    with pytest.raises(ValueError, match="source 0 must be a C-contiguous"):
        tinycnn._kernels.CallSequence([], [y.T])


@pytest.mark.parametrize("kind", ["readers", "relu", "concat"])
def test_the_short_path_runs_the_last_plan_for_its_feeds_and_outputs(kind):
    """session._hot (a _kernels.RunPlan): after a run, a run of the same outputs (None, [],
    or the same names) on a dict of plain arrays of the same names, shapes and types takes
    it; its outputs are onnxruntime's, fresh arrays every run, for new arrays and for the
    same array changed in place."""
    model = _model(kind)
    names = [o.name for o in model.graph.output]
    sess = tinycnn.InferenceSession(model.SerializeToString())
    rng = np.random.default_rng(11)
    x = rng.standard_normal((1, 3, 8, 8), dtype=np.float32)
    last = None
    for asked in (None, [], names, tuple(names), names[:1], names[:1]):
        for fresh_array in (True, False, False):
            if fresh_array:
                x = rng.standard_normal((1, 3, 8, 8), dtype=np.float32)
            else:
                x[...] = rng.standard_normal((1, 3, 8, 8), dtype=np.float32)
            got = sess.run(asked, {"x": x})
            hot = sess._hot
            assert hot is not None and hot.matches({"x": x}, asked)
            refs = ort_run(model, {"x": x})
            want = names if not asked else list(asked)
            assert len(got) == len(want)
            for g, name in zip(got, want):
                np.testing.assert_allclose(g, refs[names.index(name)], rtol=1e-5, atol=1e-5,
                                           err_msg=f"{name} asked as {asked!r}")
                if last is not None:
                    assert not any(np.shares_memory(g, o) for o in last)
            last = got


def test_the_short_path_leaves_every_other_feed_to_the_checks():
    """What RunPlan does not take goes the general way: the same errors as a session's
    first run, the same values for feeds it converts."""
    model = _model("readers")
    sess = tinycnn.InferenceSession(model.SerializeToString())
    x = np.random.default_rng(12).standard_normal((1, 3, 8, 8), dtype=np.float32)
    ref = sess.run(None, {"x": x})
    hot = sess._hot
    for feed, names in (({"x": x.astype(np.float64)}, None), ({"x": x[None]}, None),
                        ({"x": x, "extra": x}, None), ({"y": x}, None), ([x], None),
                        ({"x": x.tolist()}, None), ({"x": x.view(type("Sub", (np.ndarray,), {}))}, None),
                        ({"x": x}, "y"), ({"x": x}, ["nope"]), ({"x": x}, np.array(["y"])),
                        ({"x": x}, ["y", "r", "y"])):
        assert not hot.matches(feed, names), (feed.keys() if isinstance(feed, dict) else feed,
                                              names)
    with pytest.raises(tinycnn.InvalidArgument, match="dtype float64"):
        sess.run(None, {"x": x.astype(np.float64)})
    with pytest.raises(tinycnn.InvalidArgument, match="rank 5"):
        sess.run(None, {"x": x[None]})
    with pytest.raises(tinycnn.InvalidArgument, match="unknown input name"):
        sess.run(None, {"x": x, "extra": x})
    with pytest.raises(tinycnn.InvalidArgument, match="missing input"):
        sess.run(None, {"y": x})
    with pytest.raises(TypeError, match="input_feed must be a dict"):
        sess.run(None, [x])
    with pytest.raises(TypeError, match="not the string"):
        sess.run("y", {"x": x})
    with pytest.raises(tinycnn.InvalidArgument, match="'nope'"):
        sess.run(["nope"], {"x": x})
    for a, b in zip(sess.run(None, {"x": x.tolist()}), ref):
        np.testing.assert_array_equal(a, b)
    a, b, c = sess.run(["y", "r", "y"], {"x": x})
    np.testing.assert_array_equal(a, ref[0])
    np.testing.assert_array_equal(b, ref[1])
    assert not np.shares_memory(a, c)


def test_the_short_path_names_the_node_whose_kernel_failed():
    """A kernel's failure on the short path is reported as on the general one: an
    InvalidModel naming the node."""
    model = _model("relu")    # its feed is copied into the arena: the calls stay as set
    sess = tinycnn.InferenceSession(model.SerializeToString())
    x = np.ones((1, 3, 8, 8), np.float32)
    sess.run(None, {"x": x})
    plan = sess._hot.plan
    arena = plan.acquire()
    calls = list(arena.calls)

    def refuse():
        raise ValueError("refused")
    calls[1] = refuse
    arena.calls = calls
    plan.release(arena)
    node = plan.steps[1].node.name
    with pytest.raises(tinycnn.InvalidModel, match=f"{node}.*refused"):
        sess.run(None, {"x": x.copy()})
    with pytest.raises(tinycnn.InvalidModel, match=f"{node}.*refused"):
        sess.run(None, {"x": x.copy()}, tinycnn.RunOptions())

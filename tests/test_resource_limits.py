"""Resource limits (issue 6): tensors, weights, nodes, feeds and the arena are checked against
the SessionOptions limits before anything is allocated, and the refusal names the culprit."""
import numpy as np
import pytest
from onnx import helper

import tinycnn
from tinycnn import ResourceLimit
from helpers import make_model, model_with_tensor, one_node, pool_net, raw_tensor, save, session_options, x_for


def test_limits_default_values():
    o = tinycnn.SessionOptions()
    assert o.max_tensor_bytes == 4 << 30 and o.max_weight_bytes == 16 << 30
    assert o.max_nodes == 100_000 and o.max_arena_bytes == 16 << 30


def test_tensor_limit_is_checked_from_the_dims_before_reading(tmp_path):
    """A weight declaring 1 TiB with 4 bytes of data: refused as too big, from its dims alone."""
    model = model_with_tensor(raw_tensor("w", [1 << 18, 1 << 20], b"\0" * 4))
    for src in (save(model, tmp_path / "t.onnx"), model):
        with pytest.raises(ResourceLimit, match="tensor 'w'.*over the limit of 4,294,967,296"):
            tinycnn.InferenceSession(src)


def test_weight_limits_are_configurable(tmp_path):
    ws = {f"w{i}": np.ones(1000, np.float32) for i in range(3)}
    nodes = [helper.make_node("Sum", list(ws), ["y"], name="sum")]
    model = make_model(nodes, [], [("y", None)], ws)
    path = save(model, tmp_path / "w.onnx")
    for src in (path, model):
        tinycnn.InferenceSession(src, session_options(max_weight_bytes=12000))
        with pytest.raises(ResourceLimit, match="weights take.*max_weight_bytes"):
            tinycnn.InferenceSession(src, session_options(max_weight_bytes=11999))
        with pytest.raises(ResourceLimit, match="tensor 'w0'.*over the limit of 3,999"):
            tinycnn.InferenceSession(src, session_options(max_tensor_bytes=3999))


def test_node_limit():
    nodes = [helper.make_node("Relu", ["x" if i == 0 else f"t{i}"], [f"t{i + 1}"], name=f"r{i}")
             for i in range(11)]
    model = make_model(nodes, [("x", [2])], [("t11", [2])])
    tinycnn.InferenceSession(model, session_options(max_nodes=11))
    with pytest.raises(ResourceLimit, match="11 nodes, over the limit of 10.*max_nodes"):
        tinycnn.InferenceSession(model, session_options(max_nodes=10))


def test_declared_input_shape_too_big_is_refused_before_allocating():
    model = one_node("Relu", ["x"], x_shape=(1 << 20, 1 << 20, 100))
    with pytest.raises(ResourceLimit, match="input 'x'.*declared shape.*over the limit"):
        tinycnn.InferenceSession(model)


def test_run_time_limits_constantofshape_and_expand():
    """Shapes that come from the feed: checked when the batch is known, before allocating."""
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("Concat", ["s", "wide"], ["s2"], axis=0, name="concat"),
             helper.make_node("ConstantOfShape", ["s2"], ["y"], name="cos")]
    model = make_model(nodes, [("x", ["N", 4])], [("y", None)], {"wide": np.array([256], np.int64)})
    sess = tinycnn.InferenceSession(model, session_options(max_tensor_bytes=100_000))
    assert sess.run(None, {"x": np.ones((8, 4), np.float32)})[0].shape == (8, 4, 256)
    with pytest.raises(ResourceLimit, match=r"node 'cos' \(ConstantOfShape\): .*\(30, 4, 256\).*100,000"):
        sess.run(None, {"x": np.ones((30, 4), np.float32)})
    nodes = [helper.make_node("Expand", ["x", "s"], ["y"], name="expand")]
    model = make_model(nodes, [("x", ["N", 1, 4])], [("y", None)], {"s": np.array([1, 256, 4], np.int64)})
    sess = tinycnn.InferenceSession(model, session_options(max_tensor_bytes=100_000))
    assert sess.run(None, {"x": np.ones((8, 1, 4), np.float32)})[0].shape == (8, 256, 4)
    with pytest.raises(ResourceLimit, match=r"node 'expand' \(Expand\): .*\(30, 256, 4\).*100,000"):
        sess.run(None, {"x": np.ones((30, 1, 4), np.float32)})


@pytest.mark.parametrize("op,inputs,inits", [
    ("ConstantOfShape", ["s"], {"s": np.array([1 << 20, 1 << 20], np.int64)}),
    ("Expand", ["x", "s"], {"s": np.array([1 << 30, 2, 8, 8], np.int64)}),
    ("Pad", ["c", "p"], {"c": np.ones(2, np.float32), "p": np.array([0, 10 ** 11], np.int64)}),
    ("Add", ["a", "b"], {"a": np.ones((1 << 17, 1), np.float32), "b": np.ones((1, 1 << 17), np.float32)}),
])
def test_load_time_limits_for_ops_that_make_big_tensors(op, inputs, inits):
    """Constant folding may not allocate a huge tensor either: refused naming the node."""
    with pytest.raises(ResourceLimit, match=f"node 'n0' \\({op}\\).*over the limit"):
        tinycnn.InferenceSession(one_node(op, inputs, inits=inits))


def test_large_feed_is_refused_naming_the_input():
    sess = tinycnn.InferenceSession(pool_net(), session_options(max_tensor_bytes=100_000))
    sess.run(None, {"x": x_for(2)})
    with pytest.raises(ResourceLimit, match="input 'x': shape \\(2000, 3, 8, 8\\).*100,000"):
        sess.run(None, {"x": np.zeros((2000, 3, 8, 8), np.float32)})


def test_huge_batch_is_refused_by_the_arena_limit():
    """Each tensor under max_tensor_bytes, but all of them together over max_arena_bytes."""
    sess = tinycnn.InferenceSession(pool_net(), session_options(max_arena_bytes=200_000))
    sess.run(None, {"x": x_for(8)})
    with pytest.raises(ResourceLimit, match="one run needs .* bytes.*max_arena_bytes"):
        sess.run(None, {"x": x_for(256)})


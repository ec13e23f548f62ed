"""Data movement planned away (issue 12, item 4): at batch 1 along channels the memory plan
gives each producer of a Concat its slice of the output (the Concat runs no step), and a Slice
that is one contiguous run of its input is a view of it; values against onnxruntime, including
the cases where sharing a buffer would be wrong."""
import numpy as np
import pytest
from onnx import helper

from tinycnn.analysis import analyze

from helpers import compare_with_ort, make_model


def _w(rng, k, c, kh=1, kw=1):
    return (rng.standard_normal((k, c, kh, kw)) / np.sqrt(c * kh * kw)).astype(np.float32)


def _steps(model, shape):
    """{node name: kernel calls per run} of the plan at this input shape."""
    return {layer.name: layer.steps for layer in analyze(model, {"x": list(shape)}).layers}


def inception(batch="N"):
    """Three branches (1x1, 3x3 + Relu, max pool + 1x1) concatenated on channels."""
    rng = np.random.default_rng(1)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="a"),
             helper.make_node("Conv", ["x", "w3"], ["b0"], name="b", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["b0"], ["b"], name="b_relu"),
             helper.make_node("MaxPool", ["x"], ["p"], name="pool", kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1], strides=[1, 1]),
             helper.make_node("Conv", ["p", "wp"], ["c"], name="c"),
             helper.make_node("Concat", ["a", "b", "c"], ["y"], name="cat", axis=1)]
    inits = {"w1": _w(rng, 4, 3), "w3": _w(rng, 5, 3, 3, 3), "wp": _w(rng, 2, 3)}
    return make_model(nodes, [("x", [batch, 3, 9, 9])], [("y", None)], inits)


def dense_block(layers=3):
    """DenseNet's pattern: layer i reads the concatenation of everything before it, and every
    Concat repeats the previous one's inputs plus one more (one buffer can hold them all)."""
    rng = np.random.default_rng(2)
    nodes = [helper.make_node("Conv", ["x", "w0"], ["f0"], name="stem")]
    inits = {"w0": _w(rng, 4, 3)}
    feats, c = ["f0"], 4
    for i in range(1, layers + 1):
        src = feats[0] if i == 1 else f"cat{i - 1}"
        nodes += [helper.make_node("Relu", [src], [f"r{i}"], name=f"relu{i}"),
                  helper.make_node("Conv", [f"r{i}", f"w{i}"], [f"f{i}"], name=f"conv{i}",
                                   pads=[1, 1, 1, 1])]
        inits[f"w{i}"] = _w(rng, 3, c, 3, 3)
        feats.append(f"f{i}")
        c += 3
        nodes.append(helper.make_node("Concat", list(feats), [f"cat{i}"], name=f"cat{i}", axis=1))
    nodes.append(helper.make_node("GlobalAveragePool", [f"cat{layers}"], ["y"], name="gap"))
    return make_model(nodes, [("x", ["N", 3, 6, 7])], [("y", None)], inits)


def x_of(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


@pytest.mark.parametrize("batch", [1, 2])
def test_inception_concat(batch):
    model = inception()
    compare_with_ort(model, {"x": x_of((batch, 3, 9, 9))}, 1e-5, what=f"inception batch {batch}")
    # Batch 1: every branch writes its slice, nothing is copied.  Batch 2: each input's
    # slices are strided, so the Concat copies (one step).
    assert _steps(model, (batch, 3, 9, 9))["cat"] == (0 if batch == 1 else 1)


def test_inception_concat_saves_the_copy_memory():
    """In place, the branches' outputs are the Concat's output: peak memory is x and y (plus the
    pool's output while the last branch computes), where copying also held a, b and c."""
    a = analyze(inception(), {"x": [1, 3, 9, 9]})
    x, y, p = 3 * 81, 11 * 81, 3 * 81
    assert a.peak_activation_bytes == 4 * (x + y + p)


@pytest.mark.parametrize("batch", [1, 2])
def test_dense_block_concats(batch):
    model = dense_block()
    compare_with_ort(model, {"x": x_of((batch, 3, 6, 7))}, 1e-5, what=f"dense block batch {batch}")
    steps = _steps(model, (batch, 3, 6, 7))
    assert [steps[f"cat{i}"] for i in (1, 2, 3)] == ([0, 0, 0] if batch == 1 else [1, 1, 1])


def test_a_concatenated_value_read_again_later_is_not_overwritten():
    """`a` is concatenated, then read by an Add whose result may not be written over `a`
    (nor a Relu over the Concat's output): the slices of the Concat's output are kept."""
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="a"),
             helper.make_node("Conv", ["x", "w2"], ["b"], name="b"),
             helper.make_node("Concat", ["a", "b"], ["cat"], name="cat", axis=1),
             helper.make_node("Relu", ["a"], ["ra"], name="relu_a"),       # a dies here
             helper.make_node("Add", ["ra", "b"], ["s"], name="add"),      # b dies here
             helper.make_node("Relu", ["cat"], ["y1"], name="relu_cat"),
             helper.make_node("Neg", ["s"], ["y2"], name="neg")]
    model = make_model(nodes, [("x", [1, 3, 5, 5])], [("y1", None), ("y2", None)],
                       {"w1": _w(rng, 4, 3), "w2": _w(rng, 4, 3)})
    compare_with_ort(model, {"x": x_of((1, 3, 5, 5))}, 1e-6, what="reused inputs")
    assert _steps(model, (1, 3, 5, 5))["cat"] == 0


def test_inputs_that_cannot_move_are_copied():
    """The graph input, a constant, and one value twice: copied into their slices (one step);
    the one value made by a kernel that appears first is written in place."""
    rng = np.random.default_rng(4)
    const = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"], name="a"),
             helper.make_node("Concat", ["a", "x", "k", "a"], ["y"], name="cat", axis=1)]
    model = make_model(nodes, [("x", [1, 3, 4, 4])], [("y", None)], {"w": _w(rng, 4, 3), "k": const})
    compare_with_ort(model, {"x": x_of((1, 3, 4, 4))}, 1e-6, what="copied inputs")
    assert _steps(model, (1, 3, 4, 4))["cat"] == 1


def test_a_value_in_two_unrelated_concats():
    """`b` goes to two Concats that do not share a prefix: the first takes its buffer, the
    second copies it."""
    rng = np.random.default_rng(5)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="a"),
             helper.make_node("Conv", ["x", "w2"], ["b"], name="b"),
             helper.make_node("Conv", ["x", "w3"], ["c"], name="c"),
             helper.make_node("Concat", ["a", "b"], ["ab"], name="cat_ab", axis=1),
             helper.make_node("Concat", ["b", "c"], ["bc"], name="cat_bc", axis=1),
             helper.make_node("Add", ["ab", "bc"], ["y"], name="add")]
    model = make_model(nodes, [("x", [1, 3, 4, 4])], [("y", None)],
                       {"w1": _w(rng, 2, 3), "w2": _w(rng, 2, 3), "w3": _w(rng, 2, 3)})
    compare_with_ort(model, {"x": x_of((1, 3, 4, 4))}, 1e-6, what="two concats")
    steps = _steps(model, (1, 3, 4, 4))
    assert (steps["cat_ab"], steps["cat_bc"]) == (0, 1)


def test_flattened_inputs_and_a_later_axis():
    """Views (Flatten) are placed like their buffers; axis 2 of a [1, 1, H, W] is contiguous."""
    rng = np.random.default_rng(6)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="a"),
             helper.make_node("Conv", ["x", "w2"], ["b"], name="b"),
             helper.make_node("Flatten", ["a"], ["fa"], name="fa"),
             helper.make_node("Flatten", ["b"], ["fb"], name="fb"),
             helper.make_node("Concat", ["fa", "fb"], ["y1"], name="cat_flat", axis=1),
             helper.make_node("Conv", ["x", "w3"], ["c"], name="c"),
             helper.make_node("Conv", ["x", "w3"], ["d"], name="d"),
             helper.make_node("Concat", ["c", "d"], ["y2"], name="cat_rows", axis=2)]
    model = make_model(nodes, [("x", [1, 3, 4, 5])], [("y1", None), ("y2", None)],
                       {"w1": _w(rng, 2, 3), "w2": _w(rng, 3, 3), "w3": _w(rng, 1, 3)})
    compare_with_ort(model, {"x": x_of((1, 3, 4, 5))}, 1e-6, what="views")
    steps = _steps(model, (1, 3, 4, 5))
    assert (steps["cat_flat"], steps["cat_rows"]) == (0, 0)


def _const(name, values):
    return helper.make_node("Constant", [], [name], name=name,
                            value=helper.make_tensor(name, 7, [len(values)], values))


def shuffle_units(units=2, c=8):
    """ShuffleNetV2's unit as exported: the two halves of the channels (Slice), a branch on the
    second, Concat with the first, channel shuffle (Reshape, Transpose, Reshape)."""
    rng = np.random.default_rng(7)
    h = c // 2
    nodes = [helper.make_node("Conv", ["x", "w0"], ["s0"], name="stem")]
    inits = {"w0": _w(rng, c, 3)}
    for u in range(units):
        s, t = f"s{u}", f"s{u + 1}"
        nodes += [_const(f"lo{u}", [0]), _const(f"mid{u}", [h]), _const(f"hi{u}", [c]),
                  _const(f"ax{u}", [1]), _const(f"g{u}", [0, 2, h, 5, 6]),
                  _const(f"f{u}", [0, c, 5, 6]),
                  helper.make_node("Slice", [s, f"lo{u}", f"mid{u}", f"ax{u}"], [f"x1_{u}"],
                                   name=f"slice1_{u}"),
                  helper.make_node("Slice", [s, f"mid{u}", f"hi{u}", f"ax{u}"], [f"x2_{u}"],
                                   name=f"slice2_{u}"),
                  helper.make_node("Conv", [f"x2_{u}", f"w{u + 1}"], [f"b0_{u}"], name=f"pw_{u}"),
                  helper.make_node("Relu", [f"b0_{u}"], [f"b_{u}"], name=f"relu_{u}"),
                  helper.make_node("Concat", [f"x1_{u}", f"b_{u}"], [f"cat{u}"], name=f"cat{u}",
                                   axis=1),
                  helper.make_node("Reshape", [f"cat{u}", f"g{u}"], [f"r{u}"], name=f"r{u}"),
                  helper.make_node("Transpose", [f"r{u}"], [f"tr{u}"], name=f"shuffle{u}",
                                   perm=[0, 2, 1, 3, 4]),
                  helper.make_node("Reshape", [f"tr{u}", f"f{u}"], [t], name=f"flat{u}")]
        inits[f"w{u + 1}"] = _w(rng, h, h)
    nodes.append(helper.make_node("Relu", [f"s{units}"], ["y"], name="out"))
    return make_model(nodes, [("x", [1, 3, 5, 6])], [("y", None)], inits)


def test_shuffle_units():
    model = shuffle_units()
    compare_with_ort(model, {"x": x_of((1, 3, 5, 6))}, 1e-6, what="shuffle units")
    steps = _steps(model, (1, 3, 5, 6))
    # The halves are views; the first is copied into the Concat's output (it lives in the
    # shuffled tensor), the branch writes its half in place; the shuffle is one copy.
    assert [steps[f"slice{k}_{u}"] for u in (0, 1) for k in (1, 2)] == [0, 0, 0, 0]
    assert [steps[f"cat{u}"] for u in (0, 1)] == [1, 1]
    assert [steps[f"shuffle{u}"] for u in (0, 1)] == [1, 1]


def test_a_slice_view_is_not_written_over():
    """A Relu on a slice view may not write over the sliced tensor in place, nor may an op
    write over the sliced tensor while the view is to be read; slices that are not one
    contiguous run (a strided one, a batch of 2's channels) are copied."""
    rng = np.random.default_rng(8)
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"], name="a"),
             _const("s0", [1]), _const("s1", [3]), _const("ax", [1]), _const("st", [2]),
             _const("e", [4]),
             helper.make_node("Slice", ["a", "s0", "s1", "ax"], ["v"], name="view"),
             helper.make_node("Relu", ["v"], ["rv"], name="relu_view"),
             helper.make_node("Slice", ["a", "s0", "e", "ax", "st"], ["w2"], name="strided"),
             helper.make_node("Relu", ["a"], ["ra"], name="relu_a"),     # a dies: in place?
             helper.make_node("Add", ["rv", "w2"], ["y1"], name="add"),
             helper.make_node("Neg", ["ra"], ["y2"], name="neg")]
    model = make_model(nodes, [("x", ["N", 3, 4, 4])], [("y1", None), ("y2", None)],
                       {"w": _w(rng, 5, 3)})
    for batch in (1, 2):
        compare_with_ort(model, {"x": x_of((batch, 3, 4, 4))}, 1e-6, what=f"views batch {batch}")
        steps = _steps(model, (batch, 3, 4, 4))
        assert (steps["view"], steps["strided"]) == ((0 if batch == 1 else 1), 1)

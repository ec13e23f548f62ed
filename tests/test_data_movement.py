"""Data movement planned away (issue 12, item 4): at batch 1 along channels the memory plan
gives each producer of a Concat its slice of the output (the Concat runs no step), and a Slice
that is one contiguous run of its input is a view of it; values against onnxruntime, including
the cases where sharing a buffer would be wrong."""
import numpy as np
import pytest
from onnx import helper

import tinycnn
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


def _shapes_from_shape_of(cat, u, groups):
    """The reshapes' shapes of unit u as a batch-dynamic export computes them: from
    Shape(cat) ([N, C, H, W] -> [N, groups, C / groups, H, W] and [N, -1, H, W])."""
    return [helper.make_node("Shape", [cat], [f"sh{u}"], name=f"shape{u}"),
            helper.make_node("Slice", [f"sh{u}", f"lo{u}", f"one{u}"], [f"n{u}"], name=f"n{u}"),
            helper.make_node("Slice", [f"sh{u}", f"one{u}", f"two{u}"], [f"c{u}"], name=f"c{u}"),
            helper.make_node("Slice", [f"sh{u}", f"two{u}", f"four{u}"], [f"hw{u}"],
                             name=f"hw{u}"),
            helper.make_node("Div", [f"c{u}", f"gr{u}"], [f"cg{u}"], name=f"cg{u}"),
            helper.make_node("Concat", [f"n{u}", f"gr{u}", f"cg{u}", f"hw{u}"], [f"g{u}"],
                             name=f"split_shape{u}", axis=0),
            helper.make_node("Concat", [f"n{u}", f"m1{u}", f"hw{u}"], [f"f{u}"],
                             name=f"merged_shape{u}", axis=0),
            _const(f"one{u}", [1]), _const(f"two{u}", [2]), _const(f"four{u}", [4]),
            _const(f"gr{u}", [groups]), _const(f"m1{u}", [-1])]


def shuffle_units(units=2, c=8, batch=1, hw=(5, 6), groups=2, branch_out=None,
                  extra_reader=None, down=False, shape_of=False):
    """ShuffleNetV2's unit as exported: the two halves of the channels (Slice), a branch on the
    second (1x1 Conv + Relu), Concat with the first, channel shuffle (Reshape, Transpose,
    Reshape).  batch "N": the reshapes keep the batch (0).  groups: of the shuffle (2 is
    ShuffleNet's).  extra_reader: "cat" or "branch", that tensor of unit 0 also read by
    another node (a second output).  down: unit 0 downsamples as ShuffleNet's first unit
    of a stage: both branches convolve the whole input (1x1 + Relu each), no Slice.
    shape_of: the reshapes' shapes computed from Shape(Concat) (_shapes_from_shape_of)."""
    rng = np.random.default_rng(7)
    h = c // 2
    b = 0 if batch == "N" else batch
    nodes = [helper.make_node("Conv", ["x", "w0"], ["s0"], name="stem")]
    inits = {"w0": _w(rng, c, 3)}
    outputs = []
    for u in range(units):
        s, t = f"s{u}", f"s{u + 1}"
        nodes += [_const(f"lo{u}", [0]), _const(f"mid{u}", [h]), _const(f"hi{u}", [c]),
                  _const(f"ax{u}", [1])]
        if shape_of:
            nodes += _shapes_from_shape_of(f"cat{u}", u, groups)
        else:
            nodes += [_const(f"g{u}", [b, groups, c // groups, *hw]), _const(f"f{u}", [b, c, *hw])]
        if down and u == 0:
            nodes += [helper.make_node("Conv", [s, "wd"], ["d0_0"], name="pw1_0"),
                      helper.make_node("Relu", ["d0_0"], ["x1_0"], name="relu1_0")]
            inits["wd"] = _w(rng, h, c)
            src2 = s
        else:
            nodes.append(helper.make_node("Slice", [s, f"lo{u}", f"mid{u}", f"ax{u}"],
                                          [f"x1_{u}"], name=f"slice1_{u}"))
            src2 = f"x2_{u}"
            nodes.append(helper.make_node("Slice", [s, f"mid{u}", f"hi{u}", f"ax{u}"], [src2],
                                          name=f"slice2_{u}"))
        nodes += [helper.make_node("Conv", [src2, f"w{u + 1}"], [f"b0_{u}"], name=f"pw_{u}"),
                  helper.make_node("Relu", [f"b0_{u}"], [f"b_{u}"], name=f"relu_{u}"),
                  helper.make_node("Concat", [f"x1_{u}", f"b_{u}"], [f"cat{u}"], name=f"cat{u}",
                                   axis=1),
                  helper.make_node("Reshape", [f"cat{u}", f"g{u}"], [f"r{u}"], name=f"r{u}"),
                  helper.make_node("Transpose", [f"r{u}"], [f"tr{u}"], name=f"shuffle{u}",
                                   perm=[0, 2, 1, 3, 4]),
                  helper.make_node("Reshape", [f"tr{u}", f"f{u}"], [t], name=f"flat{u}")]
        inits[f"w{u + 1}"] = _w(rng, branch_out or h, c if down and u == 0 else h)
    if extra_reader:
        name = {"cat": "cat0", "branch": "b_0"}[extra_reader]
        nodes.append(helper.make_node("Neg", [name], ["y2"], name="extra"))
        outputs.append(("y2", None))
    nodes.append(helper.make_node("Relu", [f"s{units}"], ["y"], name="out"))
    return make_model(nodes, [("x", [batch, 3, *hw])], [("y", None)] + outputs, inits)


def _unshuffled(model, feeds, monkeypatch):
    """The outputs with the shuffle left as Concat, Reshape, Transpose, Reshape."""
    import tinycnn.graph
    with monkeypatch.context() as m:
        m.setattr(tinycnn.graph, "_fuse_channel_shuffle", lambda g, keep: None)
        return tinycnn.InferenceSession(model).run(None, feeds)


def _fused_steps(model, shape):
    """{node name: kernel calls per run} of the plan with every graph fusion (a fused node
    under the name of the first node it absorbs)."""
    from tinycnn.analysis import _plan
    from tinycnn.limits import DEFAULT
    from tinycnn.loader import load_model
    _, plan = _plan(load_model(model, None, DEFAULT), {"x": list(shape)},
                    tinycnn.GraphOptimizationLevel.ORT_ENABLE_ALL)
    return {r.node.name: r.end_step - r.first_step for r in plan.records}


def _check_shuffle(model, shape, monkeypatch, what):
    """Against onnxruntime, and bit for bit against the plan without the fused shuffle."""
    feeds = {"x": x_of(shape)}
    got, _ = compare_with_ort(model, feeds, 1e-6, what=what)
    for g, r in zip(got, _unshuffled(model, feeds, monkeypatch)):
        np.testing.assert_array_equal(g, r, err_msg=f"{what}: fused shuffle != unfused")
    return _fused_steps(model, shape)


@pytest.mark.parametrize("batch", [1, 2])
def test_shuffle_units(batch, monkeypatch):
    model = shuffle_units(batch="N")
    steps = _check_shuffle(model, (batch, 3, 5, 6), monkeypatch, f"shuffle units batch {batch}")
    # Batch 1: the halves are views of the shuffled tensor; the branch's 1x1 Conv writes its
    # channels as the shuffle's odd planes, the first half is copied to the even ones (one
    # step); the Reshape, Transpose, Reshape run nothing.  Batch 2: the halves are copies.
    assert [steps[f"slice{k}_{u}"] for u in (0, 1) for k in (1, 2)] == [batch - 1] * 4
    assert [steps[f"cat{u}"] for u in (0, 1)] == [1, 1]
    assert not any(f"shuffle{u}" in steps or f"flat{u}" in steps for u in (0, 1))


@pytest.mark.parametrize("batch", [1, 2])
def test_shuffle_with_shapes_from_shape_of_the_concat(batch, monkeypatch):
    """A batch-dynamic export: the reshapes' shapes come from Shape(Concat).  Fused alike,
    the Shapes read the Concat's inputs' shapes, and the input stays a run-time feed."""
    from tinycnn.planner import plan_time_inputs
    model = shuffle_units(batch="N", shape_of=True)
    steps = _check_shuffle(model, (batch, 3, 5, 6), monkeypatch, f"Shape(cat) batch {batch}")
    assert [steps[f"cat{u}"] for u in (0, 1)] == [1, 1]
    assert not any(f"shuffle{u}" in steps for u in (0, 1))
    assert not plan_time_inputs(tinycnn.InferenceSession(model)._base.graph, ["x"])


@pytest.mark.parametrize("batch", [1, 2])
def test_shuffle_of_a_downsampling_unit_copies_nothing(batch, monkeypatch):
    """Both branches end in a 1x1 Conv: each writes its planes of the shuffle, no step."""
    model = shuffle_units(units=1, batch="N", down=True)
    steps = _check_shuffle(model, (batch, 3, 5, 6), monkeypatch, f"downsampling batch {batch}")
    assert steps["cat0"] == 0


@pytest.mark.parametrize("c, hw", [(6, (5, 7)), (10, (1, 1)), (2, (3, 3))])
def test_shuffle_with_odd_channel_counts_and_maps(c, hw, monkeypatch):
    """3, 5 and 1 channels per branch; a 1x1 map (each plane one element)."""
    model = shuffle_units(c=c, hw=hw, down=True)
    steps = _check_shuffle(model, (1, 3) + hw, monkeypatch, f"c={c} hw={hw}")
    assert (steps["cat0"], steps["cat1"]) == (0, 1)


def test_shuffled_tensor_read_by_other_than_a_split(monkeypatch):
    """The shuffle's output is a graph output (computed where it is returned, unless planes
    are written apart into it) and a Relu's input, no Slice."""
    model = shuffle_units(units=1, down=True)
    model.graph.output.append(helper.make_tensor_value_info("s1", 1, None))
    steps = _check_shuffle(model, (1, 3, 5, 6), monkeypatch, "shuffle as an output")
    assert steps["cat0"] == 0


def test_shuffle_pattern_refused_when_the_concat_is_read_elsewhere(monkeypatch):
    """The Concat's output also read by another node: no fusion, the four ops run."""
    model = shuffle_units(units=1, extra_reader="cat")
    steps = _check_shuffle(model, (1, 3, 5, 6), monkeypatch, "concat read elsewhere")
    assert "shuffle0" in steps


def test_a_branch_read_elsewhere_is_copied_into_the_shuffle(monkeypatch):
    """The branch's output also read by another node: it stays in a buffer of its own (its
    other reader reads it contiguous) and is copied with the first half (one step)."""
    model = shuffle_units(units=1, extra_reader="branch")
    steps = _check_shuffle(model, (1, 3, 5, 6), monkeypatch, "branch read elsewhere")
    assert steps["cat0"] == 1 and "shuffle0" not in steps


@pytest.mark.parametrize("groups", [1, 4])
def test_a_shuffle_with_other_groups_than_inputs_runs_as_its_ops(groups, monkeypatch):
    """A Concat of two inputs shuffled in 4 groups (or 1) is no interleaving of the inputs:
    the fused node runs the four ops (their values unchanged)."""
    model = shuffle_units(units=1, c=8, groups=groups)
    _check_shuffle(model, (1, 3, 5, 6), monkeypatch, f"groups={groups}")


def test_concat_of_unequal_inputs_is_not_interleaved(monkeypatch):
    """Inputs of 4 and 6 channels shuffled in 2 groups of 5: no interleaving of the inputs,
    the fused node runs the four ops."""
    rng = np.random.default_rng(9)
    nodes = [helper.make_node("Conv", ["x", "wa"], ["a"], name="a"),
             helper.make_node("Conv", ["x", "wb"], ["b"], name="b"),
             _const("g", [1, 2, 5, 4, 4]), _const("f", [1, 10, 4, 4]),
             helper.make_node("Concat", ["a", "b"], ["cat"], name="cat", axis=1),
             helper.make_node("Reshape", ["cat", "g"], ["r"], name="r"),
             helper.make_node("Transpose", ["r"], ["t"], name="t", perm=[0, 2, 1, 3, 4]),
             helper.make_node("Reshape", ["t", "f"], ["y"], name="flat")]
    model = make_model(nodes, [("x", [1, 3, 4, 4])], [("y", None)],
                       {"wa": _w(rng, 4, 3), "wb": _w(rng, 6, 3)})
    steps = _check_shuffle(model, (1, 3, 4, 4), monkeypatch, "unequal inputs")
    assert steps["cat"] == 1     # the Transpose (the Concat is written in place)


@pytest.mark.parametrize("algo", ["1x1", "1x1_chan"])
@pytest.mark.parametrize("batch", [1, 3])
def test_conv_writes_planes_apart(ctx, algo, batch):
    """Conv2d.bind with y a view of every other plane: the same bits as a dense y, and the
    planes between untouched (both ISAs, 1 and 2 threads)."""
    import tinycnn._kernels as K
    rng = np.random.default_rng(11)
    k, c, h, w = 37, 24, 12, 13      # several row and column tiles of the GEMM
    conv = K.Conv2d(ctx, _w(rng, k, c), rng.standard_normal(k).astype(np.float32),
                    algo=algo, activation="Relu")
    x = x_of((batch, c, h, w), 3)
    dense = np.empty((batch, k, h, w), np.float32)
    conv.bind(x, dense)()
    both = np.full((batch, k, 2, h, w), 7.0, np.float32)
    conv.bind(x, both[:, :, 1])()
    np.testing.assert_array_equal(both[:, :, 1], dense)
    assert (both[:, :, 0] == 7.0).all()


def test_conv_refuses_planes_apart_where_it_cannot():
    import tinycnn._kernels as K
    rng = np.random.default_rng(12)
    x = x_of((1, 4, 5, 5), 4)
    both = np.zeros((1, 6, 2, 5, 5), np.float32)
    three = K.Conv2d(K.Context(1), _w(rng, 6, 4, 3, 3), None, algo="gemm", pads=(1, 1, 1, 1))
    with pytest.raises(ValueError, match="planes apart"):
        three.bind(x, both[:, :, 0])
    one = K.Conv2d(K.Context(1), _w(rng, 6, 4), None, algo="1x1")
    with pytest.raises(ValueError, match="planes apart"):
        one.bind(x, both[:, :, 0], residual=np.zeros((1, 6, 5, 5), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):     # rows apart: refused
        one.bind(x, np.zeros((1, 6, 5, 10), np.float32)[..., ::2])


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


@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 31, 33, 3136, 20000])
def test_copy_planes_against_numpy(ctx, n):
    """The channel shuffle's strided plane copy: input g's planes into every G-th plane of
    the output from plane g on; 1 and 2 threads (ctx), planes of 1 float to wider than a
    task's grain; nothing else of y touched."""
    from tinycnn import _kernels
    rng = np.random.default_rng(n)
    for nb, c, groups, g in [(1, 3, 2, 1), (2, 5, 2, 0), (1, 58, 2, 0), (1, 4, 3, 2)]:
        x = rng.standard_normal((nb, c, n)).astype(np.float32)
        y = np.full((nb, c, groups, n), -7.0, np.float32)
        expect = y.copy()
        expect[:, :, g, :] = x
        _kernels.copy_planes(ctx, x, y, n, g * n, groups * n)
        np.testing.assert_array_equal(y, expect, err_msg=f"copy_planes x {x.shape} into group {g} of {groups}")


def test_copy_planes_refuses_bad_geometry():
    from tinycnn import _kernels
    ctx = _kernels.Context(1, "portable")
    x, y = np.ones((2, 3, 4), np.float32), np.zeros((2, 3, 2, 4), np.float32)
    for n, off, stride, what in [(5, 0, 8, "planes of n=5"), (4, 0, 3, "y_stride=3 >= n"),
                                 (4, 5, 8, "do not fit"), (4, -1, 8, "y_offset=-1 >= 0")]:
        with pytest.raises(ValueError, match=what):
            _kernels.copy_planes(ctx, x, y, n, off, stride)
    with pytest.raises(ValueError, match="must not overlap"):
        _kernels.copy_planes(ctx, y[0, 0], y, 8, 8, 16)

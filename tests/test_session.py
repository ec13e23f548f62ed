"""The executor and its onnxruntime-like API, on small graphs built here, against onnxruntime."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import tinycnn
from helpers import assert_close, make_model, ort_run, residual_net, session_options

RNG = np.random.default_rng(0)


def feed(batch=1):
    return {"x": RNG.normal(size=(batch, 3, 8, 8)).astype(np.float32)}


def test_loads_from_path_bytes_and_modelproto(tmp_path):
    model = residual_net()
    path = tmp_path / "net.onnx"
    onnx.save(model, path)
    x = feed(2)
    ref = ort_run(model, x)[0]
    for src in (str(path), path, model.SerializeToString(), model):
        (got,) = tinycnn.InferenceSession(src).run(None, x)
        assert_close(got, ref, what=f"loaded from {type(src).__name__}")


def test_inputs_and_outputs_describe_the_model():
    sess = tinycnn.InferenceSession(residual_net())
    (i,), (o,) = sess.get_inputs(), sess.get_outputs()
    assert (i.name, i.shape, i.type) == ("x", ["N", 3, 8, 8], "tensor(float)")
    assert (o.name, o.shape, o.type) == ("logits", ["N", 10], "tensor(float)")


@pytest.mark.parametrize("opset", [9, 11, 13, 17])
def test_dynamic_batch_runs_1_to_64_without_reloading(opset):
    model = residual_net(opset)
    sess = tinycnn.InferenceSession(model)
    for batch in (1, 3, 64, 1):
        x = feed(batch)
        assert_close(sess.run(None, x)[0], ort_run(model, x)[0], what=f"batch {batch}")


@pytest.mark.parametrize("level", list(tinycnn.GraphOptimizationLevel))
def test_every_optimization_level_gives_the_same_answer(level):
    model = residual_net()
    opts = session_options(graph_optimization_level=level)
    x = feed(2)
    assert_close(tinycnn.InferenceSession(model, opts).run(None, x)[0], ort_run(model, x)[0])


def test_fusion_really_happens_and_hides_fused_tensors():
    sess = tinycnn.InferenceSession(residual_net())
    labels = [getattr(n, "label", n.op_type) for n in sess._graph.nodes]
    assert "Conv+Relu" in labels and "Conv+Add+Relu" in labels, labels
    with pytest.raises(tinycnn.InvalidArgument, match="fused away"):
        sess.run(["c2"], feed())


@pytest.mark.parametrize("level,folded", [(tinycnn.GraphOptimizationLevel.ORT_DISABLE_ALL, False),
                                          (tinycnn.GraphOptimizationLevel.ORT_ENABLE_BASIC, True)])
def test_constant_folding_at_load_follows_the_optimization_level(level, folded):
    """BASIC and above fold nodes of constants at load; DISABLE_ALL keeps them (their values
    are still computed when a plan is built, and can be read by name)."""
    nodes = [helper.make_node("Constant", [], ["c"], value_floats=[0.5, -2.0], name="const"),
             helper.make_node("Add", ["c", "one"], ["s"], name="sum_of_constants"),
             helper.make_node("Mul", ["x", "s"], ["y"], name="mul")]
    model = make_model(nodes, [("x", ["N", 2])], [("y", ["N", 2])],
                       {"one": np.ones(2, np.float32)})
    sess = tinycnn.InferenceSession(model, session_options(graph_optimization_level=level))
    assert ([n.name for n in sess._graph.nodes] == ["mul"]) == folded
    x = {"x": RNG.normal(size=(3, 2)).astype(np.float32)}
    assert_close(sess.run(None, x)[0], ort_run(model, x)[0])
    if not folded:
        np.testing.assert_array_equal(sess.run(["s"], x)[0], [1.5, -1.0])


def test_winograd_can_be_turned_off_by_a_session_config_entry():
    opts = tinycnn.SessionOptions()
    opts.add_session_config_entry("session.tinycnn.winograd", "0")
    assert opts.get_session_config_entry("session.tinycnn.winograd") == "0"
    sess = tinycnn.InferenceSession(residual_net(), opts)
    assert sess._options.winograd is False
    with pytest.raises(tinycnn.InvalidArgument, match="session.tinycnn.winograd='yes'"):
        opts.add_session_config_entry("session.tinycnn.winograd", "yes")
    with pytest.raises(tinycnn.InvalidArgument, match="'session.other' is not set"):
        opts.get_session_config_entry("session.other")


def chain_net(blocks, residual):
    """`blocks` pairs of 3x3 convs, each pair closed by a residual Add when `residual`."""
    nodes, inits, x = [], {}, "x"
    for b in range(blocks):
        for j in range(2):
            inits[f"w{b}{j}"] = RNG.normal(0, 0.2, (4, 4, 3, 3)).astype(np.float32)
            nodes.append(helper.make_node("Conv", [x if j == 0 else f"c{b}0", f"w{b}{j}"],
                                          [f"c{b}{j}"], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Add" if residual else "Relu",
                                      [f"c{b}1", x] if residual else [f"c{b}1"], [f"o{b}"]))
        x = f"o{b}"
    return make_model(nodes, [("x", [1, 4, 6, 6])], [(x, [1, 4, 6, 6])], inits)


@pytest.mark.parametrize("level", [tinycnn.GraphOptimizationLevel.ORT_DISABLE_ALL,
                                   tinycnn.GraphOptimizationLevel.ORT_ENABLE_ALL])
@pytest.mark.parametrize("blocks,residual,chain", [(1, False, 2), (5, False, 10), (9, False, 18),
                                                   (1, True, 2), (9, True, 2)])
def test_conv_chain_restarts_at_residual_merges(blocks, residual, chain, level):
    """The Winograd tile choice reads this (ops/conv.py): VGG-like chains add up, ResNets don't."""
    from tinycnn.graph import conv_chain
    opts = session_options(graph_optimization_level=level)
    sess = tinycnn.InferenceSession(chain_net(blocks, residual), opts)
    assert conv_chain(sess._graph.nodes, sess._graph.initializers) == chain


def concat_net(layers, dense):
    """`layers` 3x3 convs of 4 channels.  dense: each conv reads the Concat of the input and
    all earlier convs' outputs (DenseNet); otherwise each stage is two parallel convs of
    the previous Concat, concatenated (Inception)."""
    nodes, inits, feats = [], {}, ["x"]
    for j in range(layers):
        nodes.append(helper.make_node("Concat", list(feats), [f"cat{j}"], axis=1))
        if dense:
            inits[f"w{j}"] = RNG.normal(0, 0.2, (4, 4 * len(feats), 3, 3)).astype(np.float32)
            nodes.append(helper.make_node("Conv", [f"cat{j}", f"w{j}"], [f"c{j}"], pads=[1] * 4))
            feats.append(f"c{j}")
        else:
            for b in "ab":
                inits[f"w{j}{b}"] = RNG.normal(0, 0.2, (4, 4 * len(feats), 3, 3)).astype(np.float32)
                nodes.append(helper.make_node("Conv", [f"cat{j}", f"w{j}{b}"], [f"c{j}{b}"],
                                              pads=[1] * 4))
            feats = [f"c{j}a", f"c{j}b"]
    nodes.append(helper.make_node("Concat", list(feats), ["y"], axis=1))
    return make_model(nodes, [("x", [1, 4, 6, 6])], [("y", [1, 4 * len(feats), 6, 6])], inits)


@pytest.mark.parametrize("layers,dense,chain", [(1, True, 1), (8, True, 1), (1, False, 1),
                                                (8, False, 8)])
def test_conv_chain_restarts_at_a_concat_with_a_shortcut(layers, dense, chain):
    """DenseNet's Concats carry the earlier features on unamplified, like a residual Add;
    a Concat of parallel branches (Inception, SqueezeNet) carries on the longest chain."""
    from tinycnn.graph import conv_chain
    model = concat_net(layers, dense)
    sess = tinycnn.InferenceSession(model)
    assert conv_chain(sess._graph.nodes, sess._graph.initializers) == chain
    x = {"x": RNG.normal(size=(1, 4, 6, 6)).astype(np.float32)}
    assert_close(sess.run(None, x)[0], ort_run(model, x)[0])


def test_conv_chain_counts_only_the_convolutions_winograd_can_take():
    """1x1, strided and grouped convolutions between the 3x3 layers do not add to the chain:
    their rounding is a direct convolution's (YOLOv8n's C2f blocks)."""
    from tinycnn.graph import conv_chain
    nodes, inits, x = [], {}, "x"
    kinds = [((1, 1), 1, 1), ((3, 3), 1, 1), ((3, 3), 2, 1), ((3, 3), 1, 4), ((5, 5), 1, 1),
             ((3, 3), 1, 1), ((1, 1), 1, 1)]  # (kernel, stride, group): 3 count
    for j, (ks, stride, group) in enumerate(kinds):
        inits[f"w{j}"] = RNG.normal(0, 0.2, (4, 4 // group) + ks).astype(np.float32)
        nodes.append(helper.make_node("Conv", [x, f"w{j}"], [f"c{j}"], group=group,
                                      strides=[stride, stride], pads=[ks[0] // 2] * 4))
        x = f"c{j}"
    model = make_model(nodes, [("x", [1, 4, 16, 16])], [(x, [1, 4, 8, 8])], inits)
    sess = tinycnn.InferenceSession(model)
    assert conv_chain(sess._graph.nodes, sess._graph.initializers) == 3


def test_intermediate_tensors_can_be_read_without_optimizations():
    model = residual_net()
    opts = session_options(graph_optimization_level=tinycnn.GraphOptimizationLevel.ORT_DISABLE_ALL)
    sess = tinycnn.InferenceSession(model, opts)
    x = feed(1)
    got = sess.run(["c2", "p", "logits"], x)
    model.graph.output.extend([helper.make_tensor_value_info(n, TensorProto.FLOAT, None)
                               for n in ("c2", "p")])
    ref = ort_run(model, x, ["c2", "p", "logits"])
    for g, r, name in zip(got, ref, ("c2", "p", "logits")):
        assert_close(g, r, what=name)


@pytest.mark.parametrize("opset", [7, 9])
def test_initializers_listed_as_graph_inputs(opset):
    """IR version 3 models (Caffe2's conversions among them) list every weight among the graph
    inputs: only the real input is a feed."""
    model = residual_net(opset=opset)
    for init in model.graph.initializer:
        model.graph.input.append(helper.make_tensor_value_info(
            init.name, init.data_type, list(init.dims)))
    model.ir_version = 3
    sess = tinycnn.InferenceSession(model)
    assert [i.name for i in sess.get_inputs()] == ["x"]
    x = feed(1)
    assert_close(sess.run(None, x)[0], ort_run(model, x)[0])


def test_identity_and_dropout_are_removed_at_load():
    nodes = [helper.make_node("Identity", ["x"], ["i"]),
             helper.make_node("Dropout", ["i"], ["d"], ratio=0.5),
             helper.make_node("Relu", ["d"], ["r"]),
             helper.make_node("Identity", ["r"], ["y"])]
    model = make_model(nodes, [("x", [2, 5])], [("y", [2, 5])], opset=11)
    sess = tinycnn.InferenceSession(model)
    assert [n.op_type for n in sess._graph.nodes] == ["Relu"]
    x = {"x": RNG.normal(size=(2, 5)).astype(np.float32)}
    assert_close(sess.run(None, x)[0], np.maximum(x["x"], 0))


def test_nodes_out_of_order_are_sorted():
    model = residual_net()
    shuffled = onnx.ModelProto()
    shuffled.CopyFrom(model)
    nodes = list(shuffled.graph.node)
    del shuffled.graph.node[:]
    shuffled.graph.node.extend(nodes[::-1])
    x = feed(1)
    assert_close(tinycnn.InferenceSession(shuffled).run(None, x)[0], ort_run(model, x)[0])


def test_run_profiled_reports_every_kernel_call():
    sess = tinycnn.InferenceSession(residual_net())
    outs, records = sess.run_profiled(feed(1))
    ops = [r["op"] for r in records]
    assert ops == ["Conv+Relu", "Conv+Add+Relu", "MaxPool", "Gemm"], ops
    assert all(r["seconds"] >= 0 for r in records)
    assert records[0]["flops"] == 2 * 8 * 3 * 9 * 8 * 8


def bn_net():
    """conv -> batchnorm -> relu -> global pool -> flatten -> gemm -> relu -> gemm: every fusion."""
    k = 6
    inits = {
        "w": RNG.normal(0, 0.3, (k, 3, 3, 3)).astype(np.float32),
        "scale": RNG.uniform(0.5, 1.5, k).astype(np.float32),
        "bias": RNG.normal(0, 0.2, k).astype(np.float32),
        "mean": RNG.normal(0, 0.2, k).astype(np.float32),
        "var": RNG.uniform(0.5, 2.0, k).astype(np.float32),
        "fc1": RNG.normal(0, 0.4, (k, 7)).astype(np.float32),
        "fc2": RNG.normal(0, 0.4, (5, 7)).astype(np.float32),
        "b2": RNG.normal(0, 0.1, 5).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], strides=[2, 2], name="conv"),
        helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["bn"],
                         epsilon=1e-3, name="bn"),
        helper.make_node("Relu", ["bn"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc1"], ["h"], alpha=0.5, name="fc1"),
        helper.make_node("Relu", ["h"], ["hr"], name="relu_fc"),
        helper.make_node("Gemm", ["hr", "fc2", "b2"], ["y"], transB=1, beta=2.0, name="fc2"),
    ]
    return make_model(nodes, [("x", ["N", 3, 9, 9])], [("y", ["N", 5])], inits)


def test_batchnorm_folding_and_gemm_relu_fusion_preserve_outputs():
    model = bn_net()
    x = {"x": RNG.normal(size=(3, 3, 9, 9)).astype(np.float32)}
    ref = ort_run(model, x)[0]
    fused = tinycnn.InferenceSession(model)
    assert [n.label for n in fused._graph.nodes] == [
        "Conv+Relu", "GlobalAveragePool", "Flatten", "Gemm+Relu", "Gemm"]
    opts = session_options(graph_optimization_level=tinycnn.GraphOptimizationLevel.ORT_DISABLE_ALL)
    plain = tinycnn.InferenceSession(model, opts)
    assert [n.op_type for n in plain._graph.nodes] == [
        "Conv", "BatchNormalization", "Relu", "GlobalAveragePool", "Flatten", "Gemm", "Relu", "Gemm"]
    assert_close(fused.run(None, x)[0], ref, what="fused")
    assert_close(plain.run(None, x)[0], ref, what="unfused")


@pytest.mark.parametrize("names", [None, [], ()])
def test_no_output_names_means_every_output_as_onnxruntime(names):
    """An empty list (or None) asks for every graph output, in graph order."""
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Neg", ["r"], ["n"])]
    model = make_model(nodes, [("x", ["N", 3])], [("n", ["N", 3]), ("r", ["N", 3])])
    x = {"x": RNG.normal(size=(2, 3)).astype(np.float32)}
    got = tinycnn.InferenceSession(model).run(names, x)
    ref = ort_run(model, x, names)
    assert len(got) == len(ref) == 2
    for g, r in zip(got, ref):
        np.testing.assert_array_equal(g, r)


@pytest.mark.parametrize("with_run_options", [False, True])
def test_a_kernel_refusing_its_arguments_is_reported_with_its_node(with_run_options):
    """Also when the run checks RunOptions.terminate between steps (a second loop)."""
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="first"),
             helper.make_node("Sigmoid", ["r"], ["y"], name="second")]
    sess = tinycnn.InferenceSession(make_model(nodes, [("x", [4])], [("y", [4])]))
    x = {"x": np.ones(4, np.float32)}
    sess.run(None, x)
    (plan,) = sess._plans.values()
    (arena,) = plan._free

    def refuse():
        raise ValueError("buffer has the wrong size")
    calls = list(arena.calls)
    calls[1] = refuse
    arena.calls = calls
    with pytest.raises(tinycnn.InvalidModel, match="node 'second' .Sigmoid.: ValueError: buffer"):
        sess.run(None, x, tinycnn.RunOptions() if with_run_options else None)

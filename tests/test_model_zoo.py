"""The ONNX Model Zoo generation of AlexNet, ZFNet-512, VGG-19 and ResNet-50.

The onnx wheel ships them as "light" models (onnx/backend/test/data/light): the
Caffe/Caffe2 conversions at opset 9, IR version 3, with every weight produced by
a ConstantOfShape node (filled with 0.02) instead of stored.  Two checks each:

* the shipped expected output: ONNX's own runner feeds the input
  arange(n).reshape(shape) / n (`BackendTest.generate_dummy_data`), and the
  expected softmax (a uniform 0.001, since all weights are equal) must come out;
* with the ConstantOfShape weights replaced by seeded random values of a sensible
  scale, the output must match onnxruntime (max|diff| / max|ref| <= 1e-4) with
  the same top-1 class.

Small graphs then pin the Caffe-era features one by one against onnxruntime.
"""
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinycnn
from helpers import assert_close, compare_with_ort, lrn_ref, make_model, ort_run, session_options

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
ZOO = [
    "bvlc_alexnet",
    "zfnet512",
    pytest.param("vgg19", marks=pytest.mark.slow),  # 20 GFLOP: the slowest (full suite only)
    "resnet50",
]


def load_light(name):
    path = os.path.join(LIGHT, f"light_{name}.onnx")
    if not os.path.exists(path):
        pytest.skip(f"{path} is not in this onnx wheel")
    return onnx.load(path)


def feed_inputs(model):
    """The graph's real inputs (IR 3 lists the initializers among them too)."""
    inits = {t.name for t in model.graph.initializer}
    return [vi for vi in model.graph.input if vi.name not in inits]


def dims(vi):
    return tuple(d.dim_value if d.HasField("dim_value") else 1 for d in vi.type.tensor_type.shape.dim)


def runner_input(vi):
    """The input ONNX's BackendTest feeds a light model (its expected output comes from it)."""
    shape = dims(vi)
    count = int(np.prod(shape))
    return (np.arange(count).reshape(shape) / count).astype(np.float32)


@pytest.mark.parametrize("name", ZOO)
def test_shipped_expected_output(name):
    model = load_light(name)
    (vi,) = feed_inputs(model)
    expected = numpy_helper.to_array(onnx.load_tensor(os.path.join(LIGHT, f"light_{name}_output_0.pb")))
    sess = tinycnn.InferenceSession(model)
    assert [i.name for i in sess.get_inputs()] == [vi.name], "initializers listed as inputs are not feeds"
    (got,) = sess.run(None, {vi.name: runner_input(vi)})
    assert_close(got, expected, what=f"{name} output vs light_{name}_output_0.pb")


# ---- random weights ------------------------------------------------------------------------

def with_random_weights(model, seed):
    """A copy of model whose ConstantOfShape weights are seeded random initializers.

    Scales keep activations O(1) through 50 layers: He-normal by fan-in for conv and
    Gemm weights, small biases, batch-norm parameters near (scale 1, bias 0, mean 0,
    var 1) with some spread.  The role of a tensor is read from the node that uses it.
    """
    rng = np.random.default_rng(seed)

    def normal(std, shape):
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(std)

    def uniform(lo, hi, shape):
        return rng.random(shape, dtype=np.float32) * np.float32(hi - lo) + np.float32(lo)

    g = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    uses = {}
    for node in g.node:
        for k, name in enumerate(node.input):
            uses.setdefault(name, (node, k))
    new_inits, dropped, kept = {}, set(), []
    for node in g.node:
        if node.op_type != "ConstantOfShape" or node.input[0] not in consts:
            kept.append(node)
            continue
        shape = tuple(int(d) for d in consts[node.input[0]])
        dropped.add(node.input[0])
        user, slot = uses.get(node.output[0], (None, -1))
        op = user.op_type if user is not None else ""
        if op == "Conv" and slot == 1:
            value = normal(np.sqrt(2.0 / np.prod(shape[1:])), shape)
        elif op == "Gemm" and slot == 1:
            trans_b = any(a.name == "transB" and a.i for a in user.attribute)
            value = normal(np.sqrt(2.0 / (shape[1] if trans_b else shape[0])), shape)
        elif op == "BatchNormalization":
            # A residual branch's last BN starts small, so that the Sums do not double the
            # signal's power block after block (16 blocks in ResNet-50).
            ends_branch = uses.get(user.output[0], (None,))[0] is not None and \
                uses[user.output[0]][0].op_type in ("Sum", "Add")
            scale = (0.3, 0.6) if ends_branch else (0.5, 1.5)
            value = {1: lambda: uniform(*scale, shape), 2: lambda: normal(0.1, shape),
                     3: lambda: normal(0.1, shape), 4: lambda: uniform(0.5, 2.0, shape)}[slot]()
        else:  # biases
            value = normal(0.01, shape)
        new_inits[node.output[0]] = value
    used = {i for n in kept for i in n.input} | {o.name for o in g.output}
    dropped = {name for name in dropped if name not in used}
    out = onnx.ModelProto()
    out.CopyFrom(model)
    del out.graph.node[:]
    out.graph.node.extend(kept)
    inits = [t for t in out.graph.initializer if t.name not in dropped]
    inputs = [vi for vi in out.graph.input if vi.name not in dropped]
    del out.graph.initializer[:], out.graph.input[:]
    out.graph.initializer.extend(inits + [numpy_helper.from_array(v, k) for k, v in new_inits.items()])
    # IR 3 declares every initializer as a graph input: keep the model in that style.
    out.graph.input.extend(inputs + [helper.make_tensor_value_info(k, TensorProto.FLOAT, v.shape)
                                     for k, v in new_inits.items()])
    return out


# ZFNet is AlexNet's twin at twice the cost: its run with random weights is left to the full suite.
@pytest.mark.parametrize("name", ["bvlc_alexnet", pytest.param("zfnet512", marks=pytest.mark.slow),
                                  pytest.param("vgg19", marks=pytest.mark.slow), "resnet50"])
def test_random_weights_match_onnxruntime(name):
    model = with_random_weights(load_light(name), seed=7)
    (vi,) = feed_inputs(model)
    x = np.random.default_rng(3).normal(0, 1, dims(vi)).astype(np.float32)
    (got,) = tinycnn.InferenceSession(model).run(None, {vi.name: x})
    (ref,) = ort_run(model, {vi.name: x})
    assert np.isfinite(ref).all(), f"{name}: onnxruntime output is not finite: weights badly scaled"
    top2 = np.sort(ref.reshape(-1))[-2:]
    assert top2[1] > 2.0 / ref.size, f"{name}: softmax nearly uniform ({top2[1]:.3g}): weights too small"
    assert top2[1] < 0.99, f"{name}: softmax saturated ({top2[1]:.3g}): activations exploded"
    assert top2[1] - top2[0] > 1e-3 * top2[1], f"{name}: top-1 is a near tie; pick another seed"
    assert_close(got, ref, what=f"{name} softmax output {ref.shape}")
    assert got.argmax() == ref.argmax(), f"{name}: top-1 {got.argmax()} != onnxruntime {ref.argmax()}"


# ---- the Caffe-era features, one small graph each --------------------------------------------

RNG = np.random.default_rng(11)


def test_sum_residual_and_unfolded_batchnorm_spatial():
    """ResNet's block as Caffe2 wrote it: Conv -> BN(spatial=1, opset 7) -> Sum(x, .) -> Relu."""
    c = 4
    x = RNG.normal(size=(2, c, 6, 6)).astype(np.float32)
    inits = {"w": RNG.normal(0, 0.3, (c, c, 3, 3)).astype(np.float32),
             "s": RNG.uniform(0.5, 1.5, c).astype(np.float32),
             "b": RNG.normal(0, 0.1, c).astype(np.float32),
             "m": RNG.normal(0, 0.1, c).astype(np.float32),
             "v": RNG.uniform(0.5, 2, c).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"], spatial=1,
                              epsilon=1e-5),
             helper.make_node("Sum", ["n", "x"], ["r"]),
             helper.make_node("Relu", ["r"], ["y"])]
    for level in (tinycnn.GraphOptimizationLevel.ORT_DISABLE_ALL,
                  tinycnn.GraphOptimizationLevel.ORT_ENABLE_ALL):
        model = make_model(nodes, [("x", list(x.shape))], [("y", None)], inits, opset=7)
        compare_with_ort(model, {"x": x}, options=session_options(graph_optimization_level=level),
                         what=f"residual block, level {int(level)}")


@pytest.mark.parametrize("size,alpha,beta,bias", [(5, 1e-4, 0.75, 1.0), (5, 5e-4, 0.75, 2.0),
                                                  (3, 1e-2, 0.5, 1.0), (4, 1e-3, 0.75, 1.0)])
def test_lrn_across_channels(size, alpha, beta, bias):
    """AlexNet's LRN (and ZFNet's bias=2); an even size splits the window unevenly."""
    x = RNG.normal(0, 10, (2, 7, 5, 5)).astype(np.float32)
    model = make_model([helper.make_node("LRN", ["x"], ["y"], size=size, alpha=alpha, beta=beta,
                                         bias=bias)], [("x", list(x.shape))], [("y", None)], opset=9)
    got = tinycnn.InferenceSession(model).run(None, {"x": x})[0]
    assert_close(got, lrn_ref(x, size, alpha, beta, bias), what=f"LRN size {size}")
    if size % 2:  # onnxruntime accepts odd sizes only
        compare_with_ort(model, {"x": x})


def test_constantofshape_weights_dropout_and_caffe_reshape():
    """AlexNet's classifier tail: weights from ConstantOfShape, Reshape by a [N, -1] shape
    initializer (OC2_DUMMY), Gemm transB, Dropout(ratio) in inference, Softmax (opset 9 axis 1)."""
    x = RNG.normal(size=(2, 4, 3, 3)).astype(np.float32)
    inits = {"w_shape": np.array([5, 36], np.int64), "b_shape": np.array([5], np.int64),
             "dummy": np.array([2, -1], np.int64)}
    nodes = [helper.make_node("ConstantOfShape", ["w_shape"], ["w"],
                              value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.02])),
             helper.make_node("ConstantOfShape", ["b_shape"], ["b"],
                              value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.5])),
             helper.make_node("Reshape", ["x", "dummy"], ["f"]),
             helper.make_node("Gemm", ["f", "w", "b"], ["g"], transB=1),
             helper.make_node("Dropout", ["g"], ["d"], ratio=0.5),
             helper.make_node("Softmax", ["d"], ["y"])]
    model = make_model(nodes, [("x", list(x.shape))], [("y", None)], inits, opset=9)
    compare_with_ort(model, {"x": x})

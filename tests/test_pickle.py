"""Sessions that pickle (issue 10): the pickle carries the model (graph and initializers,
external data included) and the options, never plans or packed weights; unpickling builds the
session again, with bit-identical outputs; a stated size limit, and shipping by path."""
import copy
import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import tinycnn
from tinycnn import InvalidArgument, InvalidModel, ResourceLimit
from tinycnn.options import MAX_PICKLE_BYTES, PICKLE_CONFIG_KEY
from helpers import make_model, residual_net

RNG = np.random.default_rng(10)
DIGITS = os.path.join(os.path.dirname(tinycnn.__file__), "data", "digits.onnx")


def const_net():
    """y = x + a Constant node's value: a tensor attribute, which external data may hold."""
    c = RNG.normal(size=(1, 3, 8, 8)).astype(np.float32)
    nodes = [helper.make_node("Constant", [], ["c"], name="const",
                              value=numpy_helper.from_array(c, "c")),
             helper.make_node("Add", ["x", "c"], ["y"], name="add")]
    return make_model(nodes, [("x", ["N", 3, 8, 8])], [("y", ["N", 3, 8, 8])])


def x_for(batch=3):
    return RNG.normal(size=(batch, 3, 8, 8)).astype(np.float32)


def round_trip(sess):
    return pickle.loads(pickle.dumps(sess, protocol=pickle.HIGHEST_PROTOCOL))


def assert_same_outputs(a, b, feeds):
    for got, ref, name in zip(b.run(None, feeds), a.run(None, feeds), [o.name for o in a.get_outputs()]):
        assert got.dtype == ref.dtype and got.shape == ref.shape, name
        assert np.array_equal(got, ref), f"{name}: not bit-identical after pickling"


def weight_bytes(model):
    return sum(numpy_helper.to_array(t).nbytes for t in model.graph.initializer)


@pytest.mark.parametrize("source", ["path", "bytes", "proto"])
def test_round_trip_is_bit_identical_and_carries_no_plans(tmp_path, source):
    model = residual_net()
    path = tmp_path / "net.onnx"
    onnx.save(model, path)
    given = {"path": str(path), "bytes": model.SerializeToString(), "proto": model}[source]
    sess = tinycnn.InferenceSession(given)
    x = {"x": x_for(5)}
    sess.run(None, x)   # a plan and packed weights exist: they must not travel
    data = pickle.dumps(sess, protocol=pickle.HIGHEST_PROTOCOL)
    # the weights once (packed copies would double them) and a small graph
    assert weight_bytes(model) < len(data) < weight_bytes(model) + 8192
    back = pickle.loads(data)
    assert type(back) is tinycnn.InferenceSession
    assert_same_outputs(sess, back, x)
    assert_same_outputs(sess, back, {"x": x_for(1)})
    assert [(v.name, v.shape, v.type) for v in back.get_inputs()] == \
        [(v.name, v.shape, v.type) for v in sess.get_inputs()]
    assert back.get_modelmeta().producer_name == sess.get_modelmeta().producer_name


def test_bundled_digits_model_round_trips_and_deepcopies():
    sess = tinycnn.InferenceSession(DIGITS)
    (inp,) = sess.get_inputs()
    x = {inp.name: RNG.normal(size=[4] + inp.shape[1:]).astype(np.float32)}
    assert_same_outputs(sess, round_trip(sess), x)
    assert_same_outputs(sess, copy.deepcopy(sess), x)


def test_unpickled_in_another_process_gives_the_same_outputs(tmp_path):
    sess = tinycnn.InferenceSession(residual_net())
    x = x_for(4)
    (tmp_path / "sess.pkl").write_bytes(pickle.dumps(sess))
    np.save(tmp_path / "x.npy", x)
    code = ("import pickle, sys, numpy as np; d = sys.argv[1]; "
            "s = pickle.load(open(d + '/sess.pkl', 'rb')); "
            "np.save(d + '/y.npy', s.run(None, {'x': np.load(d + '/x.npy')})[0])")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=300)
    assert np.array_equal(np.load(tmp_path / "y.npy"), sess.run(None, {"x": x})[0])


def test_options_and_providers_travel():
    opts = tinycnn.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.graph_optimization_level = tinycnn.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.add_session_config_entry("session.tinycnn.winograd", "0")
    opts.add_free_dimension_override_by_name("N", 2)
    opts.logid = "shipped"
    sess = tinycnn.InferenceSession(residual_net(), opts, providers=["CPUExecutionProvider"])
    back = round_trip(sess)
    got = back.get_session_options()
    assert got.intra_op_num_threads == 1 and back._num_threads == 1
    assert got.graph_optimization_level == tinycnn.GraphOptimizationLevel.ORT_DISABLE_ALL
    assert got.get_session_config_entry("session.tinycnn.winograd") == "0"
    assert got.logid == "shipped"
    assert back.get_inputs()[0].shape == [2, 3, 8, 8]          # the override holds
    assert back.get_providers() == ["CPUExecutionProvider"]
    # with optimizations off an intermediate tensor can be read, as before pickling
    x = {"x": x_for(2)}
    assert np.array_equal(back.run(["r1"], x)[0], sess.run(["r1"], x)[0])


def save_external(model, folder, **kw):
    folder.mkdir(exist_ok=True)
    model = copy.deepcopy(model)  # save_model turns the initializers into external references
    onnx.save_model(model, folder / "net.onnx", save_as_external_data=True,
                    all_tensors_to_one_file=True, location="net.onnx.data", size_threshold=0, **kw)
    assert (folder / "net.onnx.data").exists()
    return folder / "net.onnx"


@pytest.mark.parametrize("net", [residual_net, const_net])
def test_external_data_travels_and_the_folder_is_not_needed_after(tmp_path, net):
    """Initializers, or a Constant node's value, in external data: the pickle holds their
    values, so it loads with the model's folder gone."""
    convert_attribute = net is const_net
    path = save_external(net(), tmp_path / "model", convert_attribute=convert_attribute)
    if convert_attribute:
        const = next(n for n in onnx.load(path, load_external_data=False).graph.node
                     if n.op_type == "Constant")
        assert const.attribute[0].t.data_location == onnx.TensorProto.EXTERNAL
    sess = tinycnn.InferenceSession(str(path))
    x = {"x": x_for(3)}
    expected = sess.run(None, x)[0]
    data = pickle.dumps(sess)
    shutil.rmtree(tmp_path / "model")
    back = pickle.loads(data)
    assert np.array_equal(back.run(None, x)[0], expected)


def test_bytes_with_base_dir_travel(tmp_path):
    path = save_external(residual_net(), tmp_path / "model")
    skeleton = path.read_bytes()
    sess = tinycnn.InferenceSession(skeleton, base_dir=str(tmp_path / "model"))
    x = {"x": x_for(2)}
    expected = sess.run(None, x)[0]
    data = pickle.dumps(sess)
    shutil.rmtree(tmp_path / "model")
    assert np.array_equal(pickle.loads(data).run(None, x)[0], expected)


def test_initializers_supplied_from_memory_travel(tmp_path):
    """add_external_initializers: the supplied values (not the file's) are what is shipped."""
    model = residual_net()
    path = save_external(model, tmp_path / "model")
    fc = RNG.normal(0, 0.2, (10, 128)).astype(np.float32)
    opts = tinycnn.SessionOptions()
    opts.add_external_initializers(["fc"], [fc])
    sess = tinycnn.InferenceSession(str(path), opts)
    x = {"x": x_for(2)}
    expected = sess.run(None, x)[0]
    assert not np.array_equal(expected, tinycnn.InferenceSession(str(path)).run(None, x)[0])
    data = pickle.dumps(sess)
    assert len(data) < weight_bytes(model) + 8192  # fc is shipped once, not twice
    shutil.rmtree(tmp_path / "model")
    back = pickle.loads(data)
    assert np.array_equal(back.run(None, x)[0], expected)
    assert np.array_equal(back.get_session_options()._initializers["fc"], fc)


def test_over_the_limit_pickling_raises_and_says_how_to_ship_by_path():
    assert tinycnn.SessionOptions().max_pickle_bytes == MAX_PICKLE_BYTES == 1 << 30
    model = residual_net()
    opts = tinycnn.SessionOptions()
    opts.max_pickle_bytes = 4096
    sess = tinycnn.InferenceSession(model, opts)
    with pytest.raises(ResourceLimit) as e:
        pickle.dumps(sess)
    message = str(e.value)
    size = weight_bytes(model) + len(sess._model.skeleton)
    assert f"would carry {size:,} bytes of model, over the limit of 4,096" in message
    assert "SessionOptions.max_pickle_bytes" in message
    assert f"{PICKLE_CONFIG_KEY}=path" in message


def test_shipping_by_path_carries_the_path_only(tmp_path):
    model = residual_net()
    path = tmp_path / "net.onnx"
    onnx.save(model, path)
    opts = tinycnn.SessionOptions()
    opts.max_pickle_bytes = 4096        # the limit counts what is shipped: not the weights
    opts.add_session_config_entry(PICKLE_CONFIG_KEY, "path")
    sess = tinycnn.InferenceSession(str(path), opts)
    data = pickle.dumps(sess)
    assert len(data) < 4096 < weight_bytes(model)
    x = {"x": x_for(2)}
    back = pickle.loads(data)
    assert np.array_equal(back.run(None, x)[0], sess.run(None, x)[0])
    assert back._path == str(path)
    # a different file at that path (another size) is refused, naming it
    onnx.save(residual_net(batch=2), path)
    with pytest.raises(InvalidModel, match=r"net.onnx: the file here has .* bytes, the pickled "
                                           r"session's had .*: not the same model"):
        pickle.loads(data)
    os.remove(path)
    with pytest.raises(InvalidModel, match="needs the model at the same path on every receiver"):
        pickle.loads(data)


def test_shipping_by_path_needs_a_path():
    opts = tinycnn.SessionOptions()
    opts.add_session_config_entry(PICKLE_CONFIG_KEY, "path")
    sess = tinycnn.InferenceSession(residual_net().SerializeToString(), opts)
    with pytest.raises(InvalidArgument, match="built from bytes or a ModelProto"):
        pickle.dumps(sess)
    with pytest.raises(InvalidArgument, match="expected 'model' or 'path'"):
        opts.add_session_config_entry(PICKLE_CONFIG_KEY, "file")


def test_a_pickle_of_another_format_is_refused_clearly():
    func, (cls, state) = tinycnn.InferenceSession(residual_net()).__reduce__()
    state["format"] = 99
    with pytest.raises(InvalidArgument, match="format 99.*reads format 1"):
        func(cls, state)

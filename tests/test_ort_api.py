"""onnxruntime's Python API on tinycnn: each call made on both, same outputs, same kind of error.

What is compared: results (outputs, shapes, metadata), the built-in class of each exception
(onnxruntime's own InvalidArgument/Fail classes are matched by tinycnn.InvalidArgument and
tinycnn errors of the same meaning), and warnings.  Deliberate differences are tested as
such and listed in the README's "Moving from onnxruntime".
"""
import json
import threading
import time
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinycnn
from helpers import make_model, ort_run

RNG = np.random.default_rng(14)
ENGINES = {"onnxruntime": ort, "tinycnn": tinycnn}


def relu_neg(batch="N", ir_version=None):
    """x -> relu -> r -> neg -> y; outputs y and r."""
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Neg", ["r"], ["y"], name="neg")]
    return make_model(nodes, [("x", [batch, 3])], [("y", [batch, 3]), ("r", [batch, 3])],
                      ir_version=ir_version)


def session(engine, model, opts=None, **kwargs):
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    return ENGINES[engine].InferenceSession(data, opts, **kwargs)


def both(model, opts=None, **kwargs):
    """(onnxruntime session, tinycnn session) of one model; opts: engine -> SessionOptions."""
    opts = opts or {}
    return (session("onnxruntime", model, opts.get("onnxruntime"), **kwargs),
            session("tinycnn", model, opts.get("tinycnn"), **kwargs))


def raised(fn):
    """The exception fn() raises (None if none), with the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            return e, caught
    return None, caught


X = np.array([[1.0, -2.0, 3.0], [-0.5, 0.25, 0.0]], np.float32)


# ---- providers and module functions -----------------------------------------------------------

@pytest.mark.parametrize("providers", [None, [], ["CPUExecutionProvider"],
                                       [("CPUExecutionProvider", {})],
                                       ["CUDAExecutionProvider", "CPUExecutionProvider"],
                                       ["TensorrtExecutionProvider", "CUDAExecutionProvider"]])
def test_providers_resolve_to_the_cpu_with_the_same_warnings(providers):
    got = {}
    for engine in ENGINES:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sess = session(engine, relu_neg(), providers=providers)
        got[engine] = (sess.get_providers(),
                       sorted(str(w.message).split("'")[1] for w in caught
                              if "not in available provider names" in str(w.message)))
        np.testing.assert_array_equal(sess.run(["y"], {"x": X})[0], -np.maximum(X, 0))
    assert got["tinycnn"] == got["onnxruntime"]


def test_an_unknown_provider_falls_back_at_creation_and_is_refused_otherwise(capsys):
    for engine in ENGINES:
        e, caught = raised(lambda: session(engine, relu_neg(), providers=["FooExecutionProvider"]))
        assert e is None, engine          # both fall back to the CPU, saying so
        assert any("FooExecutionProvider" in str(w.message) for w in caught), engine
        e, _ = raised(lambda: session(engine, relu_neg(), providers=["FooExecutionProvider"],
                                      enable_fallback=0))
        assert isinstance(e, RuntimeError) and "Unknown Provider Type: FooExecutionProvider" in str(e)
        sess = session(engine, relu_neg())
        e, _ = raised(lambda: sess.set_providers(["FooExecutionProvider"]))
        assert isinstance(e, RuntimeError) and "Unknown Provider Type" in str(e), engine
    capsys.readouterr()   # onnxruntime prints its fallback


def test_set_providers_keeps_the_session_running():
    for engine in ENGINES:
        sess = session(engine, relu_neg())
        with pytest.warns(UserWarning, match="CUDAExecutionProvider"):
            sess.set_providers(["CUDAExecutionProvider"])
        assert sess.get_providers() == ["CPUExecutionProvider"]
        sess.set_providers(["CPUExecutionProvider"])
        sess.set_providers()
        np.testing.assert_array_equal(sess.run(["r"], {"x": X})[0], np.maximum(X, 0))


def test_module_functions_answer_as_onnxruntime():
    assert tinycnn.get_available_providers() == ["CPUExecutionProvider"]
    assert "CPUExecutionProvider" in ort.get_available_providers()
    assert set(ort.get_all_providers()) <= set(tinycnn.get_all_providers())
    assert tinycnn.get_device() == ort.get_device() == "CPU"
    assert tinycnn.get_version_string() == tinycnn.__version__
    assert isinstance(ort.get_version_string(), str)


def test_malformed_providers_arguments():
    bad = [dict(providers=["CPUExecutionProvider"], provider_options=[{}, {}]),
           dict(providers=[("CPUExecutionProvider", "not a dict")])]
    for kwargs in bad:
        for engine in ENGINES:   # both warn and fall back at creation...
            e, _ = raised(lambda: session(engine, relu_neg(), **kwargs))
            assert e is None, (engine, kwargs)
            sess = session(engine, relu_neg())   # ...and refuse it in set_providers
            e, _ = raised(lambda: sess.set_providers(**kwargs))
            assert isinstance(e, ValueError), (engine, kwargs, e)


# ---- run: output names, feeds ------------------------------------------------------------------

def test_output_names_as_a_string_is_a_type_error():
    for sess in both(relu_neg()):
        with pytest.raises(TypeError):
            sess.run("y", {"x": X})


def test_missing_inputs_are_named_with_the_feeds_keys():
    model = make_model([helper.make_node("Add", ["a", "b"], ["y"])], [("a", [2]), ("b", [2])],
                       [("y", [2])])
    for engine, sess in zip(ENGINES, both(model)):
        with pytest.raises(ValueError) as e:
            sess.run(None, {"a": np.ones(2, np.float32), "q": np.ones(2, np.float32)})
        assert "['b']" in str(e.value) and "['a', 'q']" in str(e.value), (engine, str(e.value))


@pytest.mark.parametrize("elem,value", [
    (TensorProto.FLOAT, [[1, -2, 3]]), (TensorProto.FLOAT, [[1.5, -2.0, True]]),
    (TensorProto.FLOAT, [np.float32(1), 2.0, -3]), (TensorProto.INT64, [[1.7, -2, 3]]),
    (TensorProto.INT32, [[7, 8, 9]]), (TensorProto.BOOL, [[1, 0, 2]]),
    (TensorProto.FLOAT16, [[0.5, 7000, -1]]), (TensorProto.UINT8, [[255, 0, 1]]),
])
def test_lists_are_fed_as_tensors_of_the_inputs_type(elem, value):
    shape = list(np.shape(value))
    nodes = [helper.make_node("Identity", ["x"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", elem, shape)],
                              [helper.make_tensor_value_info("y", elem, shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    ref, got = (s.run(None, {"x": value})[0] for s in both(model))
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("value", [1.5, 2, True, np.float32(2.5), None, (1.0, 2.0, 3.0),
                                   [[1.0], [1.0, 2.0]], [["a", 1.0, 2.0]], "abc"])
def test_what_onnxruntime_cannot_make_a_tensor_of_is_refused_as_it_refuses_it(value):
    for engine, sess in zip(ENGINES, both(relu_neg())):
        e, _ = raised(lambda: sess.run(None, {"x": value}))
        if engine == "tinycnn":
            assert isinstance(e, RuntimeError) and "'x'" in str(e), (value, e)
        elif value is not None:   # onnxruntime fails later, in the first node, for None
            assert isinstance(e, RuntimeError), (engine, value, e)


def test_a_rank_0_array_is_a_scalar_feed():
    model = make_model([helper.make_node("Mul", ["x", "x"], ["y"])], [("x", [])], [("y", [])])
    for sess in both(model):
        np.testing.assert_array_equal(sess.run(None, {"x": np.array(3.0, np.float32)})[0], 9.0)


def test_wrong_dtype_rank_and_dims_are_invalid_arguments_in_both():
    ref, got = both(relu_neg(batch=2))
    for feed in ({"x": X.astype(np.float64)}, {"x": X[0]}, {"x": np.ones((2, 4), np.float32)},
                 {"x": X, "nope": X}):
        e_ref, _ = raised(lambda: ref.run(None, feed))
        e_got, _ = raised(lambda: got.run(None, feed))
        assert type(e_ref).__name__ == "InvalidArgument", e_ref
        assert isinstance(e_got, tinycnn.InvalidArgument), e_got


@pytest.mark.parametrize("dims", [[-1, 3], [-1, -1], [2, -1]])
def test_negative_declared_dims_are_dynamic(dims):
    """Paddle2ONNX writes dim_value: -1 for a dynamic dimension."""
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    model = make_model(nodes, [("x", dims)], [("y", dims)])
    ref, got = both(model)
    assert got.get_inputs()[0].shape == ref.get_inputs()[0].shape
    for batch in (1, 2, 5):
        if dims[0] == 2 and batch != 2:
            continue
        x = RNG.normal(size=(batch, 3)).astype(np.float32)
        np.testing.assert_array_equal(got.run(None, {"x": x})[0], ref.run(None, {"x": x})[0])


# ---- RunOptions, run_async, enums -------------------------------------------------------------

def test_run_options_defaults_and_typos():
    ours, theirs = tinycnn.RunOptions(), ort.RunOptions()
    for name in ("log_severity_level", "log_verbosity_level", "logid", "terminate",
                 "only_execute_path_to_fetches"):
        assert getattr(ours, name) == getattr(theirs, name), name
    for ro in (ours, theirs):
        with pytest.raises(AttributeError):
            ro.terminat = True
        with pytest.raises(TypeError):
            ro.log_severity_level = "high"
        ro.add_run_config_entry("k", "v")
        assert ro.get_run_config_entry("k") == "v"
        with pytest.raises(RuntimeError):
            ro.get_run_config_entry("nope")
    with pytest.raises(AttributeError, match="did you mean 'terminate'"):
        ours.terminat = True
    ours.run_tag = "tag"
    assert ours.logid == "tag"


def test_terminate_set_before_a_run_stops_it_in_both():
    for engine, sess in zip(ENGINES, both(relu_neg())):
        ro = ENGINES[engine].RunOptions()
        ro.terminate = True
        with pytest.raises(Exception, match="terminate flag") as e:
            sess.run(None, {"x": X}, ro)
        if engine == "tinycnn":
            assert isinstance(e.value, tinycnn.RunTerminated)
        ro.terminate = False
        np.testing.assert_array_equal(sess.run(["y"], {"x": X}, ro)[0], -np.maximum(X, 0))


def test_terminate_is_honoured_between_nodes():
    """A flag set while node 2 runs stops the run before node 3."""
    nodes = [helper.make_node("Relu" if i % 2 else "Neg", [f"t{i}"], [f"t{i + 1}"], name=f"n{i}")
             for i in range(6)]
    model = make_model(nodes, [("t0", [4])], [("t6", [4])])
    opts = tinycnn.SessionOptions()
    opts.graph_optimization_level = tinycnn.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = tinycnn.InferenceSession(model, opts)
    x = {"t0": np.arange(4, dtype=np.float32)}
    sess.run(None, x)
    (plan,) = sess._plans.values()
    (arena,) = plan._free
    ro, ran = tinycnn.RunOptions(), []

    def spy(k, step):
        def call():
            ran.append(k)
            if k == 2:
                ro.terminate = True
            return step()
        return call
    arena.calls = [spy(k, step) for k, step in enumerate(arena.calls)]
    with pytest.raises(tinycnn.RunTerminated):
        sess.run(None, x, ro)
    assert ran == [0, 1, 2]


def test_run_log_severity_and_tag_apply_to_the_runs_messages(caplog):
    sess = tinycnn.InferenceSession(relu_neg())
    ro = tinycnn.RunOptions()
    with caplog.at_level("DEBUG", logger="tinycnn"):
        sess.run(None, {"x": X[:1]}, ro)            # default severity: warnings only
        assert not caplog.records
        ro.log_severity_level, ro.logid = 0, "request-17"
        sess.run(None, {"x": X}, ro)                 # a new shape: a plan is built
    (record,) = caplog.records
    assert record.getMessage().startswith("[request-17] planned 2 kernel calls for inputs")


def test_run_async_calls_back_with_outputs_or_the_error():
    for engine, sess in zip(ENGINES, both(relu_neg())):
        done, got = threading.Event(), {}

        def callback(results, user_data, error):
            got.update(results=results, user_data=user_data, error=error)
            done.set()
        sess.run_async(None, {"x": X}, callback, "mine")
        assert done.wait(30), engine
        assert got["user_data"] == "mine" and got["error"] == "", (engine, got["error"])
        np.testing.assert_array_equal(got["results"][0], -np.maximum(X, 0))
        done.clear()
        sess.run_async(None, {"x": X.astype(np.float64)}, callback, None)
        assert done.wait(30), engine
        assert got["results"] == [] and ("double" in got["error"] or "float64" in got["error"]), \
            (engine, got)
        with pytest.raises(ValueError):           # missing inputs raise before the thread
            sess.run_async(None, {}, callback, None)


def test_enums_match_onnxruntime():
    for name in ("GraphOptimizationLevel", "ExecutionMode"):
        theirs = {k: int(v) for k, v in getattr(ort, name).__members__.items()}
        ours = {k: int(v) for k, v in getattr(tinycnn, name).__members__.items()}
        assert ours == theirs, name


# ---- SessionOptions ------------------------------------------------------------------------------

# onnxruntime SessionOptions members tinycnn does not have (the README lists them as absent).
ABSENT = {"add_provider", "add_provider_for_devices", "has_providers", "register_custom_ops_library",
          "set_provider_selection_policy", "set_provider_selection_policy_delegate",
          "set_load_cancellation_flag", "add_external_initializers_from_files_in_memory",
          "set_ep_context_data_read_func", "clear_ep_context_data_read_func"}


def test_session_options_have_onnxruntimes_members_and_defaults():
    ours, theirs = tinycnn.SessionOptions(), ort.SessionOptions()
    names = {n for n in dir(theirs) if not n.startswith("_")}
    assert names - set(dir(ours)) <= ABSENT, names - set(dir(ours)) - ABSENT
    for name in names - ABSENT:
        value = getattr(theirs, name)
        if callable(value) or name == "profile_file_prefix":
            continue
        mine = getattr(ours, name)
        assert mine == (int(value) if hasattr(value, "value") else value), name


def test_session_options_refuse_typos_and_wrong_types():
    for module in ENGINES.values():
        so = module.SessionOptions()
        with pytest.raises(AttributeError):
            so.intra_op_num_thread = 2
        with pytest.raises(TypeError):
            so.intra_op_num_threads = "2"
        with pytest.raises(TypeError):
            so.add_session_config_entry("key", 1)
        with pytest.raises(RuntimeError):
            so.get_session_config_entry("never.set")
    with pytest.raises(AttributeError, match="did you mean 'intra_op_num_threads'"):
        tinycnn.SessionOptions().intra_op_num_thread = 2
    with pytest.raises(AttributeError, match="did you mean 'enable_mem_pattern'"):
        tinycnn.SessionOptions().enable_memory_pattern = False


def test_options_that_do_not_apply_are_accepted_and_change_nothing():
    from tinycnn.options import NO_EFFECT
    model = relu_neg()
    plain = tinycnn.InferenceSession(model).run(None, {"x": X})
    opts = {}
    for engine, module in ENGINES.items():
        so = module.SessionOptions()
        so.enable_cpu_mem_arena = False
        so.enable_mem_pattern = False
        so.enable_mem_reuse = False
        so.execution_mode = module.ExecutionMode.ORT_PARALLEL
        so.inter_op_num_threads = 3
        so.use_deterministic_compute = True
        so.log_verbosity_level = 1
        opts[engine] = so
    ref, got = both(model, opts)
    for r, g, p in zip(ref.run(None, {"x": X}), got.run(None, {"x": X}), plain):
        np.testing.assert_array_equal(g, r)
        np.testing.assert_array_equal(g, p)
    assert {"enable_cpu_mem_arena", "enable_mem_pattern", "execution_mode"} <= set(NO_EFFECT)


def test_optimized_model_filepath_warns_that_nothing_is_written(tmp_path):
    so = tinycnn.SessionOptions()
    so.optimized_model_filepath = str(tmp_path / "opt.onnx")
    with pytest.warns(UserWarning, match="does not write optimized models"):
        tinycnn.InferenceSession(relu_neg(), so)
    assert not (tmp_path / "opt.onnx").exists()


def batch_model():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
    x.type.tensor_type.shape.dim[0].denotation = "DATA_BATCH"
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


@pytest.mark.parametrize("how,key", [("name", "batch"), ("denotation", "DATA_BATCH"),
                                     ("name", "other")])
def test_free_dimension_overrides(how, key):
    opts = {}
    for engine, module in ENGINES.items():
        so = module.SessionOptions()
        getattr(so, f"add_free_dimension_override_by_{how}")(key, 4)
        opts[engine] = so
    ref, got = both(batch_model(), opts)
    assert [i.shape for i in got.get_inputs()] == [i.shape for i in ref.get_inputs()]
    x4 = RNG.normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_array_equal(got.run(None, {"x": x4})[0], ref.run(None, {"x": x4})[0])
    x2 = x4[:2]
    e_ref, _ = raised(lambda: ref.run(None, {"x": x2}))
    e_got, _ = raised(lambda: got.run(None, {"x": x2}))
    assert (e_ref is None) == (e_got is None) == (key == "other")
    if e_got is not None:
        assert isinstance(e_got, tinycnn.InvalidArgument) and "dimension 0 must be 4" in str(e_got)


def test_negative_free_dimension_override_is_refused():
    with pytest.raises(tinycnn.InvalidArgument, match="dim_value=-1 must be >= 0"):
        tinycnn.SessionOptions().add_free_dimension_override_by_name("batch", -1)


def external_model(tmp_path):
    """A model whose weight w lives in an external file that is then deleted."""
    nodes = [helper.make_node("Mul", ["x", "w"], ["y"], name="mul")]
    model = make_model(nodes, [("x", ["N", 3])], [("y", ["N", 3])],
                       {"w": np.array([1.0, 2.0, 3.0], np.float32)})
    path = tmp_path / "m.onnx"
    onnx.save_model(model, path, save_as_external_data=True, location="m.data", size_threshold=0)
    (tmp_path / "m.data").unlink()
    return str(path)


def test_external_initializers_supplied_from_memory(tmp_path):
    path = external_model(tmp_path)
    w = np.array([-1.0, 0.5, 4.0], np.float32)
    for engine in ENGINES:
        with pytest.raises(Exception, match="m.data"):   # the file is gone
            session(engine, path)
    so_ref, so_got, so_ortvalue = ort.SessionOptions(), tinycnn.SessionOptions(), tinycnn.SessionOptions()
    so_ref.add_external_initializers(["w"], [ort.OrtValue.ortvalue_from_numpy(w)])
    so_got.add_external_initializers(["w"], [w])
    so_ortvalue.add_external_initializers(["w"], [ort.OrtValue.ortvalue_from_numpy(w)])
    ref = ort.InferenceSession(path, so_ref).run(None, {"x": X})[0]
    np.testing.assert_array_equal(tinycnn.InferenceSession(path, so_got).run(None, {"x": X})[0], ref)
    np.testing.assert_array_equal(
        tinycnn.InferenceSession(path, so_ortvalue).run(None, {"x": X})[0], ref)
    np.testing.assert_array_equal(ref, X * w)


@pytest.mark.parametrize("name,value", [("w", np.ones(4, np.float32)), ("w", np.ones(3, np.int64)),
                                        ("zz", np.ones(3, np.float32))])
def test_supplied_initializers_of_the_wrong_shape_type_or_name_are_refused(tmp_path, name, value):
    path = external_model(tmp_path)
    so_ref, so_got = ort.SessionOptions(), tinycnn.SessionOptions()
    so_ref.add_external_initializers([name], [ort.OrtValue.ortvalue_from_numpy(value)])
    so_got.add_external_initializers([name], [value])
    with pytest.raises(Exception):
        ort.InferenceSession(path, so_ref)
    with pytest.raises(tinycnn.InvalidArgument, match=f"'{name}'"):
        tinycnn.InferenceSession(path, so_got)
    with pytest.raises(RuntimeError):
        so_got.add_external_initializers(["w", "v"], [value])


# ---- profiling ----------------------------------------------------------------------------------

def conv_model():
    w = RNG.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["f"], name="flatten"),
             helper.make_node("Sigmoid", ["f"], ["y"], name="sigmoid")]
    return make_model(nodes, [("x", ["N", 3, 5, 5])], [("y", ["N", 100])], {"w": w})


def test_profile_is_onnxruntimes_trace_format(tmp_path):
    files, starts = {}, {}
    for engine, module in ENGINES.items():
        so = module.SessionOptions()
        so.enable_profiling = True
        so.profile_file_prefix = str(tmp_path / engine)
        before = time.time_ns()
        sess = session(engine, conv_model(), so)
        starts[engine] = sess.get_profiling_start_time_ns()
        assert before - 10**9 <= starts[engine] <= time.time_ns(), engine
        x = RNG.normal(size=(2, 3, 5, 5)).astype(np.float32)
        for _ in range(3):
            sess.run(None, {"x": x})
        files[engine] = sess.end_profiling()
        assert files[engine].startswith(str(tmp_path / engine) + "_")
        assert files[engine].endswith(".json")
        assert sess.end_profiling() == ""               # ended: nothing more to write
    with open(files["onnxruntime"]) as f:
        theirs = json.load(f)
    with open(files["tinycnn"]) as f:
        ours = json.load(f)
    assert isinstance(ours, list) and ours

    def schema(events):
        return {(e["cat"], k, type(v).__name__) for e in events for k, v in e.items() if k != "args"}
    assert schema(ours) == schema(theirs)
    assert all(e["ph"] == "X" for e in ours)
    assert sum(e["name"] == "model_run" for e in ours) == 3
    assert {e["name"] for e in ours if e["cat"] == "Session"} <= {e["name"] for e in theirs}
    node_args = {k: type(v).__name__ for e in theirs if e["cat"] == "Node" for k, v in e["args"].items()}
    ours_nodes = [e for e in ours if e["cat"] == "Node"]
    assert {e["name"] for e in ours_nodes} == {"conv_kernel_time", "sigmoid_kernel_time"}
    for e in ours_nodes:
        for k, v in e["args"].items():
            assert node_args.get(k) == type(v).__name__, k
    conv = next(e for e in ours_nodes if e["name"] == "conv_kernel_time")
    assert conv["args"]["input_type_shape"] == [{"float": [2, 3, 5, 5]}, {"float": [4, 3, 3, 3]}]
    assert conv["args"]["output_type_shape"] == [{"float": [2, 4, 5, 5]}]
    assert conv["args"]["op_name"] == "Conv+Relu"
    assert conv["args"]["parameter_size"] == str(4 * 3 * 3 * 3 * 4)
    assert conv["args"]["activation_size"] == str(4 * 2 * 3 * 5 * 5)
    runs = [e for e in ours if e["name"] == "model_run"]
    for e in ours_nodes:   # every node event lies inside a run
        assert any(r["ts"] <= e["ts"] and e["ts"] + e["dur"] <= r["ts"] + r["dur"] for r in runs)


def test_no_profiling_no_file():
    for sess in both(relu_neg()):
        sess.run(None, {"x": X})
        assert sess.end_profiling() == ""
        assert sess.get_profiling_start_time_ns() == 0


# ---- model metadata, overridable initializers -------------------------------------------------

def test_modelmeta_as_onnxruntime():
    model = relu_neg()
    model.producer_name, model.producer_version, model.domain = "maker", "2.1", "org.example"
    model.model_version, model.doc_string = 7, "the model"
    model.graph.name, model.graph.doc_string = "graph-name", "the graph"
    helper.set_model_props(model, {"labels": "cat,dog", "author": "me"})
    ref, got = (s.get_modelmeta() for s in both(model))
    for name in ("producer_name", "graph_name", "domain", "description", "graph_description",
                 "version", "custom_metadata_map"):
        assert getattr(got, name) == getattr(ref, name), name
    assert got["producer_name"] == "maker" and got["opsets"] == {"": 13}


@pytest.mark.parametrize("ir_version", [3, 8])
def test_overridable_initializers(ir_version):
    """From IR 4 on, an initializer that is also a graph input is a default a feed may replace."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Add", ["c", "b"], ["y"], name="add")]
    w = RNG.normal(size=(2, 1, 1, 1)).astype(np.float32)
    model = make_model(nodes, [("x", [1, 1, 2, 2])], [("y", [1, 2, 2, 2])],
                       {"w": w, "b": np.ones((1, 2, 1, 1), np.float32)}, opset=9 if ir_version == 3 else 13,
                       ir_version=ir_version)
    model.graph.input.extend([helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 2, 1, 1]),
                              helper.make_tensor_value_info("w", TensorProto.FLOAT, [2, 1, 1, 1])])
    ref, got = both(model)
    listed = [(i.name, i.shape, i.type) for i in got.get_overridable_initializers()]
    assert listed == [(i.name, i.shape, i.type) for i in ref.get_overridable_initializers()]
    assert [i.name for i in got.get_inputs()] == ["x"]
    x = RNG.normal(size=(1, 1, 2, 2)).astype(np.float32)
    np.testing.assert_array_equal(got.run(None, {"x": x})[0], ref.run(None, {"x": x})[0])
    for feed in ({"b": np.full((1, 2, 1, 1), 5, np.float32)}, {"w": -w},
                 {"b": np.zeros((1, 2, 1, 1), np.float32), "w": 2 * w}, {}):
        e_ref, _ = raised(lambda: ref.run(None, {"x": x, **feed}))
        e_got, _ = raised(lambda: got.run(None, {"x": x, **feed}))
        assert (e_ref is None) == (e_got is None) == (ir_version >= 4 or not feed), (feed, e_got)
        if e_got is None:
            np.testing.assert_allclose(got.run(None, {"x": x, **feed})[0],
                                       ref.run(None, {"x": x, **feed})[0], rtol=1e-6)
        else:
            assert isinstance(e_got, tinycnn.InvalidArgument) and "unknown input" in str(e_got)
    if ir_version >= 4:
        for sess in (ref, got):
            with pytest.raises(Exception, match="b"):
                sess.run(None, {"x": x, "b": np.ones(3, np.float32)})


# ---- inputs that decide shapes -----------------------------------------------------------------

def int_input(name, dims, elem=TensorProto.INT64):
    return helper.make_tensor_value_info(name, elem, dims)


SHAPE_CASES = {
    "Reshape": ([helper.make_node("Reshape", ["x", "s"], ["y"])], [int_input("s", [2])],
                [{"s": [6, 4]}, {"s": [4, -1]}, {"s": [2, 12]}]),
    "Slice": ([helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"])],
              [int_input("starts", [1]), int_input("ends", [1]), int_input("axes", [1])],
              [{"starts": [1], "ends": [3], "axes": [1]}, {"starts": [0], "ends": [-1], "axes": [0]}]),
    "Pad": ([helper.make_node("Pad", ["x", "pads"], ["y"], mode="constant")], [int_input("pads", [4])],
            [{"pads": [0, 1, 2, 0]}, {"pads": [1, 0, 0, 3]}]),
    "Unsqueeze": ([helper.make_node("Unsqueeze", ["x", "axes"], ["y"])], [int_input("axes", [1])],
                  [{"axes": [0]}, {"axes": [2]}, {"axes": [-1]}]),
    "ReduceSum": ([helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=0)],
                  [int_input("axes", [1])], [{"axes": [0]}, {"axes": [1]}]),
    "Expand": ([helper.make_node("Expand", ["x", "s"], ["y"])], [int_input("s", [3])],
               [{"s": [2, 4, 6]}, {"s": [1, 1, 6]}]),
    "ConstantOfShape+Add": ([helper.make_node("ConstantOfShape", ["s"], ["c"],
                                              value=numpy_helper.from_array(np.array([2.0], np.float32))),
                             helper.make_node("Add", ["x", "c"], ["y"])],
                            [int_input("s", [2])], [{"s": [4, 6]}, {"s": [1, 6]}]),
    # the shape reaches Reshape through Concat: it must be known to plan as well
    "Concat->Reshape": ([helper.make_node("Concat", ["a", "b"], ["s"], axis=0),
                         helper.make_node("Reshape", ["x", "s"], ["y"])],
                        [int_input("a", [1]), int_input("b", [1])],
                        [{"a": [3], "b": [8]}, {"a": [-1], "b": [2]}]),
}


@pytest.mark.parametrize("case", list(SHAPE_CASES))
def test_inputs_that_decide_shapes_are_fed_at_run_time(case):
    nodes, extra, feeds = SHAPE_CASES[case]
    x = RNG.normal(size=(4, 6)).astype(np.float32)
    model = make_model(nodes, [("x", [4, 6])], [("y", None)], opset=18)
    model.graph.input.extend(extra)
    ref, got = both(model)
    for k, feed in enumerate(feeds * 2):
        feed = {"x": x, **{name: np.array(v, np.int64) for name, v in feed.items()}}
        np.testing.assert_allclose(got.run(None, feed)[0], ref.run(None, feed)[0], rtol=1e-6,
                                   atol=1e-6, err_msg=f"{case} {feed}")
    assert len(got._plans) == len(feeds)        # one plan per set of values, reused
    assert got._base.plan_time == {i.name for i in extra}


def test_shape_values_do_not_repack_weights_and_data_inputs_stay_run_time():
    """Conv (packed weights) -> Reshape(shape fed) -> Gather(indices fed)."""
    w = RNG.normal(size=(4, 2, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Reshape", ["c", "shape"], ["r"], name="reshape"),
             helper.make_node("Gather", ["r", "idx"], ["y"], axis=0, name="gather")]
    model = make_model(nodes, [("x", [1, 2, 4, 4])], [("y", None)], {"w": w})
    model.graph.input.extend([int_input("shape", [2]), int_input("idx", [1])])
    ref, got = both(model)
    x = RNG.normal(size=(1, 2, 4, 4)).astype(np.float32)
    for shape, idx in (([16, 4], [5]), ([4, 16], [0]), ([16, 4], [-1]), ([8, 8], [3])):
        feed = {"x": x, "shape": np.array(shape, np.int64), "idx": np.array(idx, np.int64)}
        np.testing.assert_allclose(got.run(None, feed)[0], ref.run(None, feed)[0], rtol=1e-5,
                                   atol=1e-6, err_msg=f"shape {shape}, idx {idx}")
    assert got._base.plan_time == {"shape"}
    assert len(got._plans) == 3
    assert len(got._base.cache["conv"]) == 1    # packed once, for every shape value


def test_conv_weights_computed_from_a_fed_shape_are_packed_per_value():
    """The weight is a Reshape of an initializer by a fed shape: each value its own packing."""
    nodes = [helper.make_node("Reshape", ["wflat", "wshape"], ["w"], name="wreshape"),
             helper.make_node("Conv", ["x", "w"], ["y"], name="conv")]
    wflat = RNG.normal(size=(8,)).astype(np.float32)
    model = make_model(nodes, [("x", [1, 2, 3, 3])], [("y", None)], {"wflat": wflat})
    model.graph.input.append(int_input("wshape", [4]))
    ref, got = both(model)
    x = RNG.normal(size=(1, 2, 3, 3)).astype(np.float32)
    for shape in ([4, 2, 1, 1], [2, 2, 1, 2], [4, 2, 1, 1], [1, 2, 2, 2]):
        feed = {"x": x, "wshape": np.array(shape, np.int64)}
        np.testing.assert_allclose(got.run(None, feed)[0], ref.run(None, feed)[0], rtol=1e-5,
                                   atol=1e-6, err_msg=str(shape))


def test_backend_is_the_session():
    import tinycnn.backend
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"])]
    model = make_model(nodes, [("x", [2, 3])], [("y", ["a", "b"])])
    model.graph.input.append(int_input("shape", [2]))
    rep = tinycnn.backend.prepare(model)
    assert isinstance(rep.session, tinycnn.InferenceSession)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (y,) = rep.run([x, np.array([3, 2], np.int64)])
    np.testing.assert_array_equal(y, ort_run(model, {"x": x, "shape": np.array([3, 2])})[0])
    with pytest.raises(AttributeError, match="did you mean 'intra_op_num_threads'"):
        tinycnn.backend.prepare(model, intra_op_num_thread=1)


def test_profile_events_inside_a_run_stay_inside_after_rounding(tmp_path):
    """Microsecond rounding of both ends on one clock: a node that ends within the same
    microsecond as its run (and starts a fraction later) must not end past the run."""
    from tinycnn.profiling import Profiler
    prof = Profiler(str(tmp_path / "p"))
    t0 = prof._t0
    prof.event("Session", "model_run", t0 + 999, t0 + 3998)
    prof.event("Node", "n_kernel_time", t0 + 1000, t0 + 3000)
    with open(prof.end()) as f:
        run, node = sorted(json.load(f), key=lambda e: e["cat"] != "Session")
    assert (run["ts"], run["dur"], node["ts"], node["dur"]) == (0, 3, 1, 2)
    assert run["ts"] <= node["ts"] and node["ts"] + node["dur"] <= run["ts"] + run["dur"]

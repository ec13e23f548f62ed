"""Small helpers shared by the tests: building ONNX graphs and comparing with onnxruntime."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def make_model(nodes, inputs, outputs, initializers=(), opset=13, ir_version=None, name="test"):
    """inputs/outputs: [(name, shape)] float32 (shape entries may be strings); initializers: {name: array}."""
    def vi(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in dict(initializers).items()]
    graph = helper.make_graph(nodes, name, [vi(*i) for i in inputs], [vi(*o) for o in outputs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version or min(model.ir_version, 8)
    return model


def tinycnn_session(model, **options):
    """A tinycnn.InferenceSession of model with SessionOptions attributes set from options."""
    import tinycnn
    opts = tinycnn.SessionOptions()
    for key, value in options.items():
        setattr(opts, key, value)
    return tinycnn.InferenceSession(model.SerializeToString(), opts)


def ort_run(model, feeds, outputs=None):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString() if isinstance(model, onnx.ModelProto) else model,
                                opts, providers=["CPUExecutionProvider"])
    return sess.run(outputs, feeds)


def rel_diff(got, ref):
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    scale = max(np.abs(ref).max(initial=0.0), 1e-30)
    return float(np.abs(got - ref).max(initial=0.0) / scale)


def assert_close(got, ref, rtol=1e-4, what="output"):
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != reference {ref.shape}"
    d = rel_diff(got, ref)
    assert d <= rtol, f"{what}: max|diff|/max|ref| = {d:.3g} > {rtol} (shape {ref.shape})"

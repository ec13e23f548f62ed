"""tinycnn as an ONNX backend (`onnx.backend.base.Backend`), so that ONNX's own
conformance runner, `onnx.backend.test.BackendTest`, can run against it.

    import tinycnn.backend as backend
    rep = backend.prepare(model, "CPU")
    outputs = rep.run([x])            # a namedtuple, in graph output order

A thin layer over `tinycnn.InferenceSession`: inputs are matched to the graph's
real inputs (initializers listed among the graph inputs, as IR 3 models do, are
not inputs) in the graph's order.

tinycnn plans a graph for given input *shapes*, so shape data (Reshape's shape,
Slice's starts, Squeeze's axes...) must be known at plan time.  ONNX's
conformance tests feed such tensors as graph inputs; the backend therefore
specialises the model on the values of integer inputs that feed only
shape-data slots (the op table's `shape_inputs`): they become initializers, one session per
distinct set of values.  Every other input stays a run-time tensor.
"""
import numpy as np
import onnx
from onnx import helper
from onnx.backend.base import Backend, BackendRep, Device, DeviceType, namedtupledict

from .ops import MAX_OPSET, shape_inputs
from .session import InferenceSession, SessionOptions


def shape_data_inputs(model):
    """Names of the numeric graph inputs that only feed shape-data slots (the op
    table's `shape_inputs` of each consuming op at the model's opset)."""
    inits = {t.name for t in model.graph.initializer}
    # any numeric type: Range's start, limit and delta may be float
    ints = {vi.name for vi in model.graph.input if vi.name not in inits
            and vi.type.tensor_type.elem_type in (
                onnx.TensorProto.INT64, onnx.TensorProto.INT32, onnx.TensorProto.INT16,
                onnx.TensorProto.BOOL, onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE,
                onnx.TensorProto.FLOAT16)}
    opsets = {("" if o.domain == "ai.onnx" else o.domain): o.version for o in model.opset_import}
    ok = set(ints)
    for node in model.graph.node:
        domain = "" if node.domain == "ai.onnx" else node.domain
        slots = shape_inputs(domain, node.op_type, opsets.get(domain, 1))
        for k, name in enumerate(node.input):
            if name in ints and k not in slots:
                ok.discard(name)
    return [vi.name for vi in model.graph.input if vi.name in ok]


def _specialise(model, values):
    """A copy of model where the inputs in `values` ({name: array}) are initializers."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    kept = [vi for vi in m.graph.input if vi.name not in values]
    del m.graph.input[:]
    m.graph.input.extend(kept)
    m.graph.initializer.extend(onnx.numpy_helper.from_array(np.asarray(v), k)
                               for k, v in values.items())
    return m


class TinyCNNRep(BackendRep):
    """A prepared model: run(inputs) -> outputs, in graph output order."""

    def __init__(self, model, options):
        self.model = model
        self.options = options
        inits = {t.name for t in model.graph.initializer}
        self.input_names = [vi.name for vi in model.graph.input if vi.name not in inits]
        self.output_names = [vi.name for vi in model.graph.output]
        self.shape_inputs = shape_data_inputs(model)
        self._sessions = {}
        # Without shape-data inputs the session is built now, so errors surface at prepare().
        self.session = None if self.shape_inputs else InferenceSession(model, options)

    def _session_for(self, feeds):
        if not self.shape_inputs:
            return self.session, feeds
        values = {k: np.asarray(feeds.pop(k)) for k in self.shape_inputs}
        key = tuple((k, v.dtype.str, v.shape, v.tobytes()) for k, v in values.items())
        session = self._sessions.get(key)
        if session is None:
            session = InferenceSession(_specialise(self.model, values), self.options)
            self._sessions[key] = session
        return session, feeds

    def run(self, inputs, **kwargs):
        """inputs: a list (graph input order), a dict {name: array}, or one array."""
        if isinstance(inputs, dict):
            feeds = dict(inputs)
        else:
            if isinstance(inputs, np.ndarray):
                inputs = [inputs]
            inputs = list(inputs)
            if len(inputs) != len(self.input_names):
                raise ValueError(f"got {len(inputs)} input(s); the model's inputs are "
                                 f"{self.input_names}")
            feeds = dict(zip(self.input_names, inputs))
        session, feeds = self._session_for({k: np.asarray(v) for k, v in feeds.items()})
        outputs = session.run(self.output_names, feeds)
        return namedtupledict("Outputs", self.output_names)(*outputs)


class TinyCNNBackend(Backend):
    """CPU only; float32 at run time (shape arithmetic on other types happens at load)."""

    @classmethod
    def prepare(cls, model, device="CPU", **kwargs):
        """Check the model with onnx.checker, then build an InferenceSession.

        kwargs: `sess_options` (a tinycnn.SessionOptions), or any SessionOptions
        attribute (e.g. graph_optimization_level=0, intra_op_num_threads=1).
        """
        if not cls.supports_device(device):
            raise ValueError(f"tinycnn runs on the CPU only, not on {device!r}")
        if not isinstance(model, onnx.ModelProto):
            model = onnx.load_model_from_string(model) if isinstance(model, bytes) else onnx.load(model)
        super().prepare(model, device, **kwargs)
        return TinyCNNRep(model, _options(kwargs))

    @classmethod
    def run_model(cls, model, inputs, device="CPU", **kwargs):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node, inputs, device="CPU", outputs_info=None, **kwargs):
        """Run one node: it is wrapped in a one-node model (ai.onnx opset
        `opset_version`, default the newest tinycnn implements)."""
        super().run_node(node, inputs, device, outputs_info, **kwargs)
        opset = int(kwargs.pop("opset_version", None) or min(MAX_OPSET, onnx.defs.onnx_opset_version()))
        if isinstance(inputs, dict):
            feeds = {k: np.asarray(v) for k, v in inputs.items()}
        else:
            names = [i for i in node.input if i]
            feeds = {name: np.asarray(v) for name, v in zip(names, inputs)}
        graph_inputs = [helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for name, a in feeds.items()]
        graph_outputs = []
        for k, name in enumerate(o for o in node.output if o):
            if outputs_info and k < len(outputs_info):
                dtype, shape = outputs_info[k]
                graph_outputs.append(helper.make_tensor_value_info(
                    name, helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), shape))
            else:  # type and shape unknown: the model is not checker-valid, so skip prepare()
                graph_outputs.append(helper.make_tensor_value_info(name, onnx.TensorProto.UNDEFINED, None))
        graph = helper.make_graph([node], f"run_node_{node.op_type}", graph_inputs, graph_outputs)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        if not cls.supports_device(device):
            raise ValueError(f"tinycnn runs on the CPU only, not on {device!r}")
        return TinyCNNRep(model, _options(kwargs)).run(feeds)

    @classmethod
    def supports_device(cls, device):
        return Device(device).type == DeviceType.CPU


def _options(kwargs):
    opts = kwargs.pop("sess_options", None) or SessionOptions()
    for key, value in kwargs.items():
        if hasattr(opts, key):
            setattr(opts, key, value)
    return opts


prepare = TinyCNNBackend.prepare
run_model = TinyCNNBackend.run_model
run_node = TinyCNNBackend.run_node
supports_device = TinyCNNBackend.supports_device
is_compatible = TinyCNNBackend.is_compatible

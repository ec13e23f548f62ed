"""tinycnn as an ONNX backend (`onnx.backend.base.Backend`), so that ONNX's own
conformance runner, `onnx.backend.test.BackendTest`, can run against it.

    import tinycnn.backend as backend
    rep = backend.prepare(model, "CPU")
    outputs = rep.run([x])            # a namedtuple, in graph output order

A thin layer over `tinycnn.InferenceSession`: inputs are matched to the graph's
real inputs (initializers listed among the graph inputs, as IR 3 models do, are
not inputs) in the graph's order.  ONNX's conformance tests feed shape data
(Reshape's shape, Slice's starts...) as graph inputs: the session itself plans
per value of such inputs.
"""
import numpy as np
import onnx
from onnx import helper
from onnx.backend.base import Backend, BackendRep, Device, DeviceType, namedtupledict

from .ops import MAX_OPSET
from .session import InferenceSession, SessionOptions


class TinyCNNRep(BackendRep):
    """A prepared model: run(inputs) -> outputs, in graph output order."""

    def __init__(self, model, options):
        self.session = InferenceSession(model, options)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

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
        outputs = self.session.run(self.output_names, {k: np.asarray(v) for k, v in feeds.items()})
        return namedtupledict("Outputs", self.output_names)(*outputs)


class TinyCNNBackend(Backend):
    """CPU only."""

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
    """A SessionOptions from `sess_options` and any SessionOptions attribute given by name
    (an unknown name raises AttributeError naming the close matches)."""
    opts = kwargs.pop("sess_options", None) or SessionOptions()
    for key, value in kwargs.items():
        setattr(opts, key, value)
    return opts


prepare = TinyCNNBackend.prepare
run_model = TinyCNNBackend.run_model
run_node = TinyCNNBackend.run_node
supports_device = TinyCNNBackend.supports_device
is_compatible = TinyCNNBackend.is_compatible

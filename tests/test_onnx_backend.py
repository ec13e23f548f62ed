"""ONNX's own conformance tests (onnx.backend.test) for the ops tinycnn implements.

Every node test case (and every small PyTorch-exported model of onnx's test data) whose ops are
all in tinycnn's op table at the case's opset runs against tinycnn.backend, a thin wrapper of
tinycnn.InferenceSession (shape data fed as inputs included): the list follows the op table,
so a new op brings its conformance cases with it.  A case that cannot pass is
excluded below with a one-line reason: each exclusion is a debt.
Run: pytest tests/test_onnx_backend.py  (-k maxpool to select an op).
"""
import os
import re

import onnx
import onnx.backend.test

import tinycnn.backend
from tinycnn.ops import lookup


class _Cases(onnx.backend.test.BackendTest):
    """BackendTest that remembers every test case it generates, to select them by their ops."""

    def __init__(self, backend, parent_module):
        self.cases = {}
        super().__init__(backend, parent_module)

    def _add_model_test(self, model_test, kind):
        self.cases[model_test.name] = model_test
        super()._add_model_test(model_test, kind)


def _case_model(case):
    if case.model is not None:
        return case.model
    if case.model_dir and os.path.exists(os.path.join(case.model_dir, "model.onnx")):
        return onnx.load(os.path.join(case.model_dir, "model.onnx"), load_external_data=False)
    return None  # downloaded on demand (the "real" models): not ours to run


def runs_on_tinycnn(model):
    """Whether every node of the model's graph is in tinycnn's op table at its opset."""
    opsets = {("" if o.domain == "ai.onnx" else o.domain): o.version for o in model.opset_import}
    return all(lookup("" if n.domain == "ai.onnx" else n.domain, n.op_type,
                      opsets.get("" if n.domain == "ai.onnx" else n.domain, 1)) is not None
               for n in model.graph.node)


backend_test = _Cases(tinycnn.backend, __name__)
for _name, _case in backend_test.cases.items():
    _model = _case_model(_case)
    if _model is not None and runs_on_tinycnn(_model):
        backend_test.include(rf"^{re.escape(_name)}_cpu$")

# -- not the op (a longer op name shares the prefix) --
backend_test.exclude(r"^test_gather_elements_")  # GatherElements, another op (not in issue 3)

# -- element types tinycnn does not run --
backend_test.exclude(r"^test_(de)?quantizelinear_(e4m3fn|e5m2|float4e2m1|u?int2|u?int4|u?int16)")  # 8-bit quantization only (float8, 2-, 4- and 16-bit types)
backend_test.exclude(r"^test_(de)?quantizelinear_blocked")  # blocked quantization (block_size)
backend_test.exclude(r"^test_cast(like)?_(no_saturate_|e8m0_)?\w*(FLOAT8|FLOAT4|INT4|UINT4|INT2|UINT2|E8M0|BFLOAT16)")  # element types numpy has no dtype for
backend_test.exclude(r"^test_\w*bfloat16")  # bfloat16: no numpy dtype
backend_test.exclude(r"^test_identity_opt_")  # optional type, not a tensor
backend_test.exclude(r"^test_identity_sequence_")  # sequence type, not a tensor

# -- PyTorch-exported models whose other ops are outside issue 3 --
backend_test.exclude(r"^test_Conv3d")  # 3-D convolution: the C kernels are 1-D/2-D (issue 3 lists it as optional)

# -- training mode --
backend_test.exclude(r"^test_training_dropout(?!_zero_ratio)")  # random mask (training mode)

globals().update(backend_test.test_cases)


# ---- the backend API itself ------------------------------------------------------------------

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from onnx import helper  # noqa: E402

from helpers import make_model  # noqa: E402


def test_prepare_run_outputs_in_graph_order_list_or_dict():
    x = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Neg", ["x"], ["n"])]
    model = make_model(nodes, [("x", [2, 3])], [("n", [2, 3]), ("r", [2, 3])])
    rep = tinycnn.backend.prepare(model, "CPU")
    for out in (rep.run([x]), rep.run({"x": x}), rep.run(x)):
        assert out._fields == ("n", "r")
        np.testing.assert_array_equal(out.n, -x)
        np.testing.assert_array_equal(out[1], np.maximum(x, 0))
    with pytest.raises(ValueError, match="got 2 input"):
        rep.run([x, x])


def test_run_node_and_run_model():
    x = np.array([[-1.0, 2.0]], np.float32)
    (y,) = tinycnn.backend.run_node(helper.make_node("LeakyRelu", ["x"], ["y"], alpha=0.5), [x])
    np.testing.assert_array_equal(y, [[-0.5, 2.0]])
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", [1, 2])], [("y", [1, 2])])
    np.testing.assert_array_equal(tinycnn.backend.run_model(model, [x])[0], [[0.0, 2.0]])


def test_cpu_only():
    assert tinycnn.backend.supports_device("CPU")
    assert not tinycnn.backend.supports_device("CUDA")
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", [1])], [("y", [1])])
    with pytest.raises(ValueError, match="CPU only"):
        tinycnn.backend.prepare(model, "CUDA")

"""tinycnn: a small, fast CPU inference engine for convolutional networks stored as ONNX.

    import tinycnn
    sess = tinycnn.InferenceSession("resnet18.onnx")
    (logits,) = sess.run(None, {sess.get_inputs()[0].name: image})

The API is onnxruntime's (its CPU provider): code written for onnxruntime runs with
`import tinycnn as ort`; the README's "Moving from onnxruntime" lists the differences.
"""
import os as _os

try:
    from . import _kernels  # noqa: F401  (the compiled C kernels; everything else needs them)
except ImportError as _e:
    raise ImportError(
        f"tinycnn's compiled kernels (tinycnn._kernels) cannot be imported from "
        f"{_os.path.dirname(__file__)} ({_e}). In a source checkout, build them in place: "
        "pip install -e . (or python setup.py build_ext --inplace)") from _e

from .errors import (InvalidArgument, InvalidModel, ResourceLimit, RunTerminated,
                     RuntimeInvalidArgument, TinyCNNError, UnsupportedOperator)
from .ops import supported_ops
from .options import (ExecutionMode, ExecutionOrder, GraphOptimizationLevel, RunOptions,
                      SessionOptions)
from .providers import get_all_providers, get_available_providers, get_device
from .session import InferenceSession, ModelMetadata, NodeArg

__version__ = "0.1.0"


def get_version_string():
    """tinycnn's version (onnxruntime's function of that name returns onnxruntime's)."""
    return __version__


__all__ = ["InferenceSession", "SessionOptions", "RunOptions", "GraphOptimizationLevel",
           "ExecutionMode", "ExecutionOrder", "NodeArg", "ModelMetadata",
           "get_available_providers", "get_all_providers", "get_device", "get_version_string",
           "supported_ops", "TinyCNNError", "InvalidModel", "InvalidArgument",
           "RuntimeInvalidArgument", "UnsupportedOperator", "ResourceLimit", "RunTerminated",
           "__version__"]

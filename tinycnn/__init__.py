"""tinycnn: a small, fast CPU inference engine for convolutional networks stored as ONNX.

    import tinycnn
    sess = tinycnn.InferenceSession("resnet18.onnx")
    (logits,) = sess.run(None, {sess.get_inputs()[0].name: image})
"""
import os as _os

try:
    from . import _kernels  # noqa: F401  (the compiled C kernels; everything else needs them)
except ImportError as _e:
    raise ImportError(
        f"tinycnn's compiled kernels (tinycnn._kernels) cannot be imported from "
        f"{_os.path.dirname(__file__)} ({_e}). In a source checkout, build them in place: "
        "pip install -e . (or python setup.py build_ext --inplace)") from _e

from .errors import InvalidArgument, InvalidModel, ResourceLimit, TinyCNNError, UnsupportedOperator
from .ops import supported_ops
from .session import (GraphOptimizationLevel, InferenceSession, NodeArg, SessionOptions)

__version__ = "0.1.0"

__all__ = ["InferenceSession", "SessionOptions", "GraphOptimizationLevel", "NodeArg",
           "supported_ops", "TinyCNNError", "InvalidModel", "InvalidArgument",
           "UnsupportedOperator", "ResourceLimit", "__version__"]

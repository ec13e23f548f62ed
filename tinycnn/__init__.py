"""tinycnn: a small, fast CPU inference engine for convolutional networks stored as ONNX.

    import tinycnn
    sess = tinycnn.InferenceSession("resnet18.onnx")
    (logits,) = sess.run(None, {sess.get_inputs()[0].name: image})
"""
from .errors import InvalidArgument, InvalidModel, ResourceLimit, TinyCNNError, UnsupportedOperator
from .ops import supported_ops
from .session import (GraphOptimizationLevel, InferenceSession, NodeArg, SessionOptions)

__version__ = "0.1.0"

__all__ = ["InferenceSession", "SessionOptions", "GraphOptimizationLevel", "NodeArg",
           "supported_ops", "TinyCNNError", "InvalidModel", "InvalidArgument",
           "UnsupportedOperator", "ResourceLimit", "__version__"]

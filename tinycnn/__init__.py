"""tinycnn: a small, fast CPU inference engine for convolutional networks stored as ONNX."""
__version__ = "0.1.0"

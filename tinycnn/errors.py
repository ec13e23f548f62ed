"""Exceptions raised by tinycnn.

Each subclasses the matching built-in, so code written for onnxruntime-style
`except ValueError` keeps working, while `except tinycnn.TinyCNNError` catches
everything tinycnn raises on purpose.  Messages name the culprit: the file,
the node and its op type, the input, the shapes.
"""


class TinyCNNError(Exception):
    """Base class of every error tinycnn raises on purpose."""


class InvalidModel(TinyCNNError, ValueError):
    """The model file or graph is malformed or inconsistent."""


class InvalidArgument(TinyCNNError, ValueError):
    """A bad argument to the API: feeds, output names, options."""


class UnsupportedOperator(TinyCNNError, NotImplementedError):
    """The model uses operators (or attributes) tinycnn does not implement."""


class ResourceLimit(TinyCNNError, ValueError):
    """A tensor or model exceeds a configured limit; refused before allocating."""


class RuntimeInvalidArgument(InvalidArgument, RuntimeError):
    """An invalid argument that onnxruntime reports as a RuntimeError (an unknown execution
    provider, a feed that is not a tensor, a config entry never set): `except ValueError`
    and `except RuntimeError` both catch it."""


class RunTerminated(TinyCNNError, RuntimeError):
    """RunOptions.terminate was set: the run stopped between two nodes."""

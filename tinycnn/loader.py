"""Reading ONNX models: protobuf parsing, initializers, external data.

This module knows the ONNX file format and nothing about execution: it turns a
path, bytes or an onnx.ModelProto into a `Model` (nodes with Python-valued
attributes, numpy initializers, declared inputs and outputs).
"""
import os
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper
from google.protobuf.message import DecodeError

from .errors import InvalidModel

# Shape of an input/output as declared in the model: ints for fixed dims,
# strings for symbolic ones, None where the model says nothing.
Dims = tuple


@dataclass
class ValueInfo:
    name: str
    dims: Dims            # None when the model declares no shape
    elem_type: int        # onnx.TensorProto.FLOAT, ...

    @property
    def np_dtype(self):
        return onnx_to_np_dtype(self.elem_type, self.name)


@dataclass
class Node:
    name: str
    op_type: str
    domain: str
    inputs: list          # '' marks an omitted optional input
    outputs: list
    attrs: dict
    index: int = 0        # position in the file, for messages
    label: str = ""       # what profiles call it: the op type, or "Conv+Add+Relu" once fused

    def __post_init__(self):
        self.label = self.label or self.op_type

    def describe(self):
        return f"node {self.name!r} ({self.op_type})"


@dataclass
class Model:
    nodes: list
    inputs: list              # ValueInfo of the real inputs (initializers excluded)
    outputs: list             # ValueInfo
    initializers: dict        # name -> np.ndarray
    opsets: dict              # domain ('' for ai.onnx) -> version
    value_info: dict = field(default_factory=dict)  # declared intermediate shapes
    ir_version: int = 0
    producer: str = ""
    source: str = "<bytes>"   # file name for messages

    @property
    def opset(self):
        return self.opsets.get("", self.opsets.get("ai.onnx", 1))


def onnx_to_np_dtype(elem_type, what="tensor"):
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:
        raise InvalidModel(f"{what}: unknown ONNX element type {elem_type}") from None


def read_model_proto(model, base_dir=None):
    """(ModelProto, base folder for external data, name for messages) from a path, bytes or ModelProto."""
    if isinstance(model, onnx.ModelProto):
        return model, base_dir, "<ModelProto>"
    if isinstance(model, (bytes, bytearray, memoryview)):
        data = bytes(model)
        source = "<bytes>"
    elif isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.exists(path):
            raise InvalidModel(f"{path}: no such file")
        if os.path.isdir(path):
            raise InvalidModel(f"{path}: is a directory, not an ONNX file")
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise InvalidModel(f"{path}: cannot read ({e.strerror})") from None
        source = path
        if base_dir is None:
            base_dir = os.path.dirname(os.path.abspath(path))
    else:
        raise TypeError(
            f"model must be a path, bytes or onnx.ModelProto, got {type(model).__name__}")
    if not data:
        raise InvalidModel(f"{source}: empty file, not an ONNX model")
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise InvalidModel(f"{source}: not a valid ONNX model ({e})") from None
    if not proto.HasField("graph"):
        raise InvalidModel(f"{source}: not a valid ONNX model (no graph)")
    return proto, base_dir, source


def _external_path(base_dir, location, tensor_name, source):
    if base_dir is None:
        raise InvalidModel(
            f"{source}: initializer {tensor_name!r} uses external data {location!r}, but the model "
            "was given as bytes/ModelProto without a base folder")
    if not location or os.path.isabs(location) or location.startswith(("/", "\\")):
        raise InvalidModel(
            f"{source}: initializer {tensor_name!r}: external data location {location!r} must be a "
            "relative path inside the model's folder")
    base = os.path.realpath(base_dir)
    path = os.path.realpath(os.path.join(base, location))
    if os.path.commonpath([base, path]) != base:
        raise InvalidModel(
            f"{source}: initializer {tensor_name!r}: external data location {location!r} resolves "
            f"outside the model's folder ({path})")
    if not os.path.isfile(path):
        raise InvalidModel(
            f"{source}: initializer {tensor_name!r}: external data file {location!r} not found")
    return path


def tensor_to_array(t, base_dir=None, source="<model>"):
    """numpy array of a TensorProto (raw_data, typed fields or external data)."""
    name = t.name or "<unnamed>"
    dtype = onnx_to_np_dtype(t.data_type, f"{source}: tensor {name!r}")
    dims = tuple(int(d) for d in t.dims)
    if any(d < 0 for d in dims):
        raise InvalidModel(f"{source}: tensor {name!r} has negative dims {dims}")
    count = 1
    for d in dims:
        count *= d
    if t.data_location == onnx.TensorProto.EXTERNAL:
        info = {}
        for kv in t.external_data:
            if kv.key not in ("location", "offset", "length", "checksum"):
                raise InvalidModel(
                    f"{source}: tensor {name!r}: unknown external data key {kv.key!r}")
            info[kv.key] = kv.value
        path = _external_path(base_dir, info.get("location", ""), name, source)
        try:
            offset = int(info.get("offset", 0))
            length = int(info["length"]) if "length" in info else count * dtype.itemsize
        except ValueError:
            raise InvalidModel(f"{source}: tensor {name!r}: bad external data offset/length") from None
        size = os.path.getsize(path)
        if offset < 0 or length < 0 or offset + length > size:
            raise InvalidModel(
                f"{source}: tensor {name!r}: external data [{offset}, {offset + length}) lies outside "
                f"{info['location']!r} ({size} bytes)")
        if length != count * dtype.itemsize:
            raise InvalidModel(
                f"{source}: tensor {name!r}: external data length {length} != {count} elements x "
                f"{dtype.itemsize} bytes for dims {dims}")
        if count == 0:
            return np.zeros(dims, dtype)
        # Memory-mapped, read-only: weights are read once, by the packing at plan time.
        return np.memmap(path, dtype=dtype.newbyteorder("<"), mode="r", offset=offset, shape=dims)
    if t.HasField("raw_data") and len(t.raw_data) != count * dtype.itemsize:
        raise InvalidModel(
            f"{source}: tensor {name!r}: raw_data has {len(t.raw_data)} bytes, dims {dims} of "
            f"{dtype} need {count * dtype.itemsize}")
    try:
        arr = numpy_helper.to_array(t)
    except Exception as e:
        raise InvalidModel(f"{source}: tensor {name!r}: cannot decode ({e})") from None
    if arr.shape != dims:
        raise InvalidModel(f"{source}: tensor {name!r}: has {arr.size} values, dims {dims} need {count}")
    return arr


def _value_info(vi):
    t = vi.type
    if not t.HasField("tensor_type"):
        return ValueInfo(vi.name, None, 0)
    tt = t.tensor_type
    if not tt.HasField("shape"):
        return ValueInfo(vi.name, None, tt.elem_type)
    dims = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return ValueInfo(vi.name, tuple(dims), tt.elem_type)


def _attr_value(a, base_dir, source, where):
    v = onnx.helper.get_attribute_value(a)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, onnx.TensorProto):
        return tensor_to_array(v, base_dir, f"{source}: {where}")
    if isinstance(v, list):
        return [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in v]
    if isinstance(v, onnx.GraphProto):
        return v  # subgraphs are reported as unsupported by the op table
    return v


def load_model(model, base_dir=None):
    """Parse a path, bytes or ModelProto into a `Model`."""
    proto, base_dir, source = read_model_proto(model, base_dir)
    g = proto.graph
    initializers = {}
    for t in g.initializer:
        if not t.name:
            raise InvalidModel(f"{source}: an initializer has no name")
        initializers[t.name] = tensor_to_array(t, base_dir, source)
    nodes = []
    for i, n in enumerate(g.node):
        name = n.name or f"{n.op_type}_{i}"
        attrs = {a.name: _attr_value(a, base_dir, source, f"node {name!r} attribute {a.name!r}")
                 for a in n.attribute}
        nodes.append(Node(name, n.op_type, n.domain if n.domain != "ai.onnx" else "",
                          list(n.input), list(n.output), attrs, i))
    # Old IR versions list initializers among the graph inputs: those are not feeds.
    inputs = [_value_info(vi) for vi in g.input if vi.name not in initializers]
    outputs = [_value_info(vi) for vi in g.output]
    opsets = {}
    for o in proto.opset_import:
        opsets["" if o.domain in ("", "ai.onnx") else o.domain] = int(o.version)
    if "" not in opsets:
        opsets[""] = 1
    return Model(nodes=nodes, inputs=inputs, outputs=outputs, initializers=initializers,
                 opsets=opsets, value_info={vi.name: _value_info(vi) for vi in g.value_info},
                 ir_version=proto.ir_version, producer=proto.producer_name, source=source)

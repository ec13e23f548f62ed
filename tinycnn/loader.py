"""Reading ONNX models: protobuf parsing, initializers, external data.

This module knows the ONNX file format and nothing about execution: it turns a
path, bytes or an onnx.ModelProto into a `Model` (nodes with Python-valued
attributes, numpy initializers, declared inputs and outputs).
"""
import dataclasses
import functools
import os
import stat
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper
from google.protobuf.message import DecodeError

from .errors import InvalidArgument, InvalidModel, ResourceLimit, TinyCNNError
from .limits import DEFAULT as DEFAULT_LIMITS, check_dims

# Shape of an input/output as declared in the model: ints for fixed dims,
# strings for symbolic ones, None where the model says nothing (or writes a negative
# dim_value, as Paddle2ONNX does for dynamic dims: onnxruntime reads it as unknown too).
Dims = tuple


@dataclass
class ValueInfo:
    name: str
    dims: Dims            # None when the model declares no shape
    elem_type: int        # onnx.TensorProto.FLOAT, ...
    denotations: tuple = ()   # per dim: its denotation ("DATA_BATCH"...) or ""

    @functools.cached_property
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
    value_info: dict = dataclasses.field(default_factory=dict)  # declared intermediate shapes
    ir_version: int = 0
    producer: str = ""
    producer_version: str = ""
    metadata: dict = dataclasses.field(default_factory=dict)  # metadata_props: key -> value
    source: str = "<bytes>"   # file name for messages
    overridable: list = dataclasses.field(default_factory=list)  # ValueInfo of initializers
                              # also listed as graph inputs (IR >= 4): a feed may replace them
    graph_name: str = ""
    domain: str = ""
    model_version: int = 0
    doc_string: str = ""
    graph_doc_string: str = ""
    skeleton: bytes = None    # the model without its initializers' data (load_model(skeleton=True))

    @property
    def opset(self):
        return self.opsets.get("", self.opsets.get("ai.onnx", 1))


def carried_dtype(dtype):
    """The dtype tinycnn keeps a tensor of this dtype in.  Float16 is carried as float32:
    weights are converted once at load, float16 feeds at the session's boundary, outputs
    declared float16 converted back, so every kernel computes in float32."""
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def carried(array):
    """array in its carried dtype (see carried_dtype)."""
    return array.astype(np.float32) if array.dtype == np.float16 else array


def onnx_to_np_dtype(elem_type, what="tensor"):
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:
        raise InvalidModel(f"{what}: unknown ONNX element type {elem_type}") from None


def read_model_proto(model, base_dir=None, limits=DEFAULT_LIMITS, weights=None):
    """(ModelProto, base folder for external data, name for messages, {name: array} of the
    initializers already read) from a path, bytes or ModelProto.  weights: see read_model_file."""
    if isinstance(model, onnx.ModelProto):
        return model, base_dir, "<ModelProto>", {}
    if isinstance(model, (bytes, bytearray, memoryview)):
        data = bytes(model)
        source = "<bytes>"
    elif isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        try:
            mode = os.stat(path).st_mode
        except (OSError, ValueError):  # ValueError: an embedded NUL
            raise InvalidModel(f"{path!r}: no such file") from None
        if stat.S_ISDIR(mode):
            raise InvalidModel(f"{path}: is a directory, not an ONNX file")
        if not stat.S_ISREG(mode):
            # A FIFO or a device would block or never end.
            raise InvalidModel(f"{path}: not a regular file")
        if base_dir is None:
            base_dir = os.path.dirname(os.path.abspath(path))
        try:
            proto, arrays = read_model_file(path, limits, weights)
        except OSError as e:
            raise InvalidModel(f"{path}: cannot read ({e.strerror})") from None
        return proto, base_dir, path, arrays
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
    return proto, base_dir, source, {}


def _external_path(base_dir, location, tensor_name, source):
    if base_dir is None:
        raise InvalidModel(
            f"{source}: initializer {tensor_name!r} uses external data {location!r}, but the model "
            "was given as bytes/ModelProto without a base folder")
    if (not location or "\0" in location or os.path.isabs(location)
            or location.startswith(("/", "\\"))):
        raise InvalidModel(
            f"{source}: initializer {tensor_name!r}: external data location {location!r} must be a "
            "relative path inside the model's folder")
    base = os.path.realpath(base_dir)
    path = os.path.realpath(os.path.join(base, location))
    if os.path.commonpath([base, path]) != base:
        raise InvalidModel(
            f"{source}: initializer {tensor_name!r}: external data location {location!r} resolves "
            f"outside the model's folder ({path})")
    if not os.path.isfile(path):  # also refuses FIFOs and devices
        raise InvalidModel(
            f"{source}: initializer {tensor_name!r}: external data file {location!r} not found")
    return path


def tensor_to_array(t, base_dir=None, source="<model>", limits=DEFAULT_LIMITS):
    """numpy array of a TensorProto (raw_data, typed fields or external data)."""
    name = t.name or "<unnamed>"
    dtype = onnx_to_np_dtype(t.data_type, f"{source}: tensor {name!r}")
    dims = tuple(int(d) for d in t.dims)
    count = check_dims(f"{source}: tensor {name!r}", dims, dtype, limits)
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
        # One read into an aligned array: no copy of the file kept mapped in memory.
        return _read_array(path, offset, dtype, dims, count)
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


def _read_array(path, offset, dtype, dims, count):
    arr = np.empty(count, dtype.newbyteorder("<"))
    if count:
        with open(path, "rb") as f:
            f.seek(offset)
            got = f.readinto(memoryview(arr).cast("B"))
        if got != arr.nbytes:
            raise InvalidModel(f"{path}: short read at offset {offset}")
    return arr.reshape(dims).astype(dtype, copy=False)


# ---- reading a model file without copying its weights through protobuf ----------
#
# A 550 MB VGG file parsed by protobuf costs two extra copies of every weight
# (the bytes read, then the parsed message) before numpy sees them.  Instead the
# file's wire format is walked: initializers that carry raw_data are located
# and read straight into numpy arrays; the rest of the model (small) is parsed
# by onnx as usual.

_MODEL_GRAPH = 7          # ModelProto.graph
_GRAPH_INITIALIZER = 5    # GraphProto.initializer
_TENSOR_DIMS, _TENSOR_TYPE, _TENSOR_NAME, _TENSOR_RAW = 1, 2, 8, 9
_TENSOR_EXTERNAL, _TENSOR_LOCATION = 13, 14
_TENSOR_SEGMENT = 3
# The wire type each field we read must have (dims may also be unpacked: 0).
_WIRE_TYPES = {_TENSOR_DIMS: 2, _TENSOR_TYPE: 0, _TENSOR_NAME: 2, _TENSOR_RAW: 2}


class _Truncated(Exception):
    pass


def _varint(buf, pos, end):
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Truncated()
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _fields(buf, start, end):
    """(field number, wire type, field start, value start, value end) of each field."""
    pos = start
    while pos < end:
        first = pos
        key, pos = _varint(buf, pos, end)
        wt = key & 7
        if wt == 0:
            _, stop = _varint(buf, pos, end)
        elif wt == 1:
            stop = pos + 8
        elif wt == 2:
            length, pos = _varint(buf, pos, end)
            stop = pos + length
        elif wt == 5:
            stop = pos + 4
        else:
            raise _Truncated()
        if stop > end:
            raise _Truncated()
        yield key >> 3, wt, first, pos, stop
        pos = stop


def _encode_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _raw_initializer(buf, start, end, fileobj, source, limits, weight_bytes, weights):
    """numpy array of a TensorProto slice holding raw_data, or None to let onnx parse it."""
    dims, dtype_code, name, raw = [], 1, "", None
    for field, wt, _, v0, v1 in _fields(buf, start, end):
        if wt != _WIRE_TYPES.get(field, wt) and not (field == _TENSOR_DIMS and wt == 0):
            return None  # a field with an unexpected wire type: let protobuf judge it
        if field == _TENSOR_DIMS:
            if wt == 0:
                dims.append(_varint(buf, v0, v1)[0])
            else:
                p = v0
                while p < v1:
                    d, p = _varint(buf, p, v1)
                    dims.append(d)
        elif field == _TENSOR_TYPE:
            dtype_code = _varint(buf, v0, v1)[0]
        elif field == _TENSOR_NAME:
            name = bytes(buf[v0:v1]).decode("utf-8", "replace")
        elif field == _TENSOR_RAW:
            raw = (v0, v1)
        elif field in (_TENSOR_EXTERNAL, _TENSOR_LOCATION, _TENSOR_SEGMENT):
            return None
        elif field not in (12, 16):  # doc_string, metadata: ignored; typed data: onnx parses
            return None
    if raw is None:
        return None
    dims = tuple(d - (1 << 64) if d >= 1 << 63 else d for d in dims)
    dtype = onnx_to_np_dtype(dtype_code, f"{source}: tensor {name!r}")
    count = check_dims(f"{source}: tensor {name!r}", dims, dtype, limits)
    if raw[1] - raw[0] != count * dtype.itemsize:
        raise InvalidModel(f"{source}: tensor {name!r}: raw_data has {raw[1] - raw[0]} bytes, "
                           f"dims {dims} of {dtype} need {count * dtype.itemsize}")
    if dtype.kind not in "fiub" or dtype.itemsize == 0:
        return None
    if weight_bytes + count * dtype.itemsize > limits.max_weight_bytes:
        raise ResourceLimit(f"{source}: the weights take more than {limits.max_weight_bytes:,} "
                            "bytes (SessionOptions.max_weight_bytes)")
    if weights is None:
        arr = np.empty(count, dtype.newbyteorder("<"))
    else:
        arr = weights.empty(count * dtype.itemsize)[:count * dtype.itemsize].view(
            dtype.newbyteorder("<"))
    fileobj.seek(raw[0])
    if fileobj.readinto(memoryview(arr).cast("B")) != arr.nbytes:
        raise InvalidModel(f"{source}: truncated file in tensor {name!r}")
    return name, arr.reshape(dims).astype(dtype, copy=False)


def read_model_file(path, limits=DEFAULT_LIMITS, weights=None):
    """(ModelProto without raw initializers, {name: array}) for an ONNX file on disk.
    weights: None, or where the arrays of raw initializers go (.empty(nbytes) -> a uint8
    array, as a session's memory.Blocks: the weights a layer reads in place, such as a
    classifier's GEMV, then sit on huge pages)."""
    import mmap
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise InvalidModel(f"{path}: empty file, not an ONNX model")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            try:
                top = list(_fields(buf, 0, size))
                parts, arrays, weight_bytes = [], {}, 0
                for field, wt, f0, v0, v1 in top:
                    if field != _MODEL_GRAPH or wt != 2:
                        parts.append(buf[f0:v1])
                        continue
                    graph = []
                    for gfield, gwt, g0, w0, w1 in _fields(buf, v0, v1):
                        if gfield == _GRAPH_INITIALIZER and gwt == 2:
                            got = _raw_initializer(buf, w0, w1, f, path, limits, weight_bytes,
                                                   weights)
                            if got is not None:
                                if got[0] in arrays:
                                    raise InvalidModel(f"{path}: initializer {got[0]!r} is defined twice")
                                arrays[got[0]] = got[1]
                                weight_bytes += got[1].nbytes
                                continue
                        graph.append(buf[g0:w1])
                    body = b"".join(graph)
                    parts.append(_encode_varint((_MODEL_GRAPH << 3) | 2) + _encode_varint(len(body)) + body)
            except _Truncated:
                raise InvalidModel(f"{path}: not a valid ONNX model (truncated or corrupt protobuf)") from None
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(b"".join(parts))
    except (DecodeError, RuntimeError, ValueError) as e:
        raise InvalidModel(f"{path}: not a valid ONNX model ({e})") from None
    if not proto.HasField("graph"):
        raise InvalidModel(f"{path}: not a valid ONNX model (no graph)")
    return proto, arrays


def _value_info(vi):
    t = vi.type
    if not t.HasField("tensor_type"):
        return ValueInfo(vi.name, None, 0)
    tt = t.tensor_type
    if not tt.HasField("shape"):
        return ValueInfo(vi.name, None, tt.elem_type)
    dims = []
    for d in tt.shape.dim:
        if d.HasField("dim_value") and d.dim_value >= 0:
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return ValueInfo(vi.name, tuple(dims), tt.elem_type,
                     tuple(d.denotation for d in tt.shape.dim))


def _attr_value(a, base_dir, source, where, limits):
    v = onnx.helper.get_attribute_value(a)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, onnx.TensorProto):
        return carried(tensor_to_array(v, base_dir, f"{source}: {where}", limits))
    if isinstance(v, list):
        return [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in v]
    if isinstance(v, onnx.GraphProto):
        return v  # subgraphs are reported as unsupported by the op table
    return v


def _check_weight_total(arrays, source, limits, extra=0):
    total = sum(a.nbytes for a in arrays.values()) + extra
    if total > limits.max_weight_bytes:
        raise ResourceLimit(f"{source}: the weights take {total:,} bytes, over the limit of "
                            f"{limits.max_weight_bytes:,} (SessionOptions.max_weight_bytes)")


def load_model(model, base_dir=None, limits=DEFAULT_LIMITS, supplied=None, skeleton=False,
               source=None, weights=None):
    """Parse a path, bytes or ModelProto into a `Model`, within `limits`.

    supplied: {name: array} replacing the model's initializers of those names (onnxruntime's
    add_external_initializers); their external data is not read.  skeleton: also keep
    Model.skeleton (see model_skeleton).  source: the model's name in messages (default: its
    path, or "<bytes>").  weights: where the initializers read from a file go (read_model_file).
    """
    proto, base_dir, read_as, initializers = read_model_proto(model, base_dir, limits, weights)
    source = source or read_as
    try:
        loaded = _convert(proto, base_dir, source, initializers, limits, supplied or {})
        if skeleton:
            loaded.skeleton = model_skeleton(proto, loaded.initializers, base_dir, source, limits)
        return loaded
    except TinyCNNError:
        raise
    except (ValueError, TypeError, LookupError, ArithmeticError, UnicodeError, AttributeError) as e:
        # Whatever a corrupt field makes onnx/protobuf/numpy raise is a bad model, not a crash.
        raise InvalidModel(f"{source}: not a valid ONNX model ({type(e).__name__}: {e})") from e


def _node_names(g):
    """Node names, unique: a repeated explicit name is refused (as onnxruntime does, and
    per-node caches rely on it); unnamed nodes get 'OpType_index', never a taken name."""
    explicit = set()
    for n in g.node:
        if n.name:
            if n.name in explicit:
                raise InvalidModel(f"two nodes are named {n.name!r}")
            explicit.add(n.name)
    names = []
    for i, n in enumerate(g.node):
        name = n.name
        if not name:
            name = f"{n.op_type}_{i}"
            while name in explicit:
                name += "_"
            explicit.add(name)
        names.append(name)
    return names


def _supplied_array(name, value, dims, dtype, source):
    """The array given for initializer `name` from memory, checked against the model's."""
    arr = np.asarray(value)
    if arr.dtype != dtype or arr.shape != tuple(dims):
        raise InvalidArgument(
            f"{source}: initializer {name!r} supplied from memory is {arr.dtype} {arr.shape}; "
            f"the model's is {dtype} {tuple(dims)}")
    return arr


def _convert(proto, base_dir, source, initializers, limits, supplied):
    g = proto.graph
    if len(g.sparse_initializer):
        raise InvalidModel(f"{source}: sparse initializers are not supported")
    unknown = sorted(supplied.keys() - initializers.keys() - {t.name for t in g.initializer})
    if unknown:
        raise InvalidArgument(f"{source}: initializer(s) {unknown} supplied from memory are not "
                              f"initializers of the model")
    for name in supplied.keys() & initializers.keys():   # read from the file's raw data
        initializers[name] = _supplied_array(name, supplied[name], initializers[name].shape,
                                             initializers[name].dtype, source)
    for t in g.initializer:
        if not t.name:
            raise InvalidModel(f"{source}: an initializer has no name")
        if t.name in initializers:
            raise InvalidModel(f"{source}: initializer {t.name!r} is defined twice")
        if t.name in supplied:
            initializers[t.name] = _supplied_array(
                t.name, supplied[t.name], t.dims, onnx_to_np_dtype(t.data_type, t.name), source)
        else:
            initializers[t.name] = tensor_to_array(t, base_dir, source, limits)
        _check_weight_total(initializers, source, limits)
    if any(a.dtype == np.float16 for a in initializers.values()):
        initializers = {k: carried(a) for k, a in initializers.items()}
        _check_weight_total(initializers, source, limits)
    if len(g.node) > limits.max_nodes:
        raise ResourceLimit(f"{source}: {len(g.node):,} nodes, over the limit of "
                            f"{limits.max_nodes:,} (SessionOptions.max_nodes)")
    nodes = []
    try:
        names = _node_names(g)
    except InvalidModel as e:
        raise InvalidModel(f"{source}: {e}") from None
    for i, n in enumerate(g.node):
        name = names[i]
        attrs = {a.name: _attr_value(a, base_dir, source, f"node {name!r} attribute {a.name!r}", limits)
                 for a in n.attribute}
        nodes.append(Node(name, n.op_type, n.domain if n.domain != "ai.onnx" else "",
                          list(n.input), list(n.output), attrs, i))
    # Old IR versions list initializers among the graph inputs: those are not feeds.  From
    # IR 4 on, an initializer listed there is a default that a feed may override.
    inputs = [_value_info(vi) for vi in g.input if vi.name not in initializers]
    overridable = [_value_info(vi) for vi in g.input
                   if vi.name in initializers and proto.ir_version >= 4]
    outputs = [_value_info(vi) for vi in g.output]
    opsets = {}
    for o in proto.opset_import:
        opsets["" if o.domain in ("", "ai.onnx") else o.domain] = int(o.version)
    if "" not in opsets:
        opsets[""] = 1
    return Model(nodes=nodes, inputs=inputs, outputs=outputs, initializers=initializers,
                 opsets=opsets, value_info={vi.name: _value_info(vi) for vi in g.value_info},
                 ir_version=proto.ir_version, producer=proto.producer_name,
                 producer_version=proto.producer_version,
                 metadata={p.key: p.value for p in proto.metadata_props}, source=source,
                 overridable=overridable, graph_name=g.name, domain=proto.domain,
                 model_version=int(proto.model_version), doc_string=proto.doc_string,
                 graph_doc_string=g.doc_string)


# ---- the model without its weights, to ship them beside it -------------------------
#
# A session that pickles carries its initializers as numpy arrays (pickled without a copy
# into protobuf, out of band with pickle protocol 5) next to this skeleton: the ModelProto
# with each initializer reduced to its name, dims and type, marked as external data at
# SKELETON_LOCATION.  Loading the skeleton with every initializer supplied from memory
# (load_model's `supplied`) gives back the same Model; external data never reaches it.

SKELETON_LOCATION = "tinycnn:supplied-from-memory"


def model_skeleton(proto, initializers, base_dir, source, limits=DEFAULT_LIMITS):
    """Serialized ModelProto: `proto` with its initializers replaced by stubs for
    `initializers` ({name: array}, in that order) and the external data of node attributes
    (a Constant's value) read in, so that it loads with no file beside it."""
    skel = onnx.ModelProto()
    for field, value in proto.ListFields():
        if field.name != "graph":
            _copy_field(skel, field, value)
    graph = skel.graph
    for field, value in proto.graph.ListFields():
        if field.name != "initializer":
            _copy_field(graph, field, value)
    types = {t.name: t.data_type for t in proto.graph.initializer}
    for name, arr in initializers.items():
        stub = graph.initializer.add()
        stub.name = name
        stub.dims.extend(arr.shape)
        stub.data_type = types.get(name) or onnx.helper.np_dtype_to_tensor_dtype(arr.dtype)
        stub.data_location = onnx.TensorProto.EXTERNAL
        entry = stub.external_data.add()
        entry.key, entry.value = "location", SKELETON_LOCATION
    for node in graph.node:
        for a in node.attribute:
            tensors = [a.t] if a.HasField("t") else list(a.tensors)
            for t in tensors:
                if t.data_location == onnx.TensorProto.EXTERNAL:
                    arr = tensor_to_array(t, base_dir, f"{source}: node {node.name!r}", limits)
                    t.CopyFrom(numpy_helper.from_array(arr, t.name))
    return skel.SerializeToString()


def _copy_field(dst, field, value):
    repeated = getattr(field, "is_repeated", None)   # protobuf >= 6; `label` before
    if repeated if repeated is not None else field.label == field.LABEL_REPEATED:
        getattr(dst, field.name).extend(value)
    elif field.message_type is not None:
        getattr(dst, field.name).CopyFrom(value)
    else:
        setattr(dst, field.name, value)

"""Shape and data-movement ops: constants, shape arithmetic, views and copies.

Most of these are evaluated at plan time (their inputs are constants or shapes);
Flatten, Reshape, Squeeze and Unsqueeze are views of their input; Concat,
Transpose, Slice, Pad, Gather and Expand copy into a planned buffer at run time.
tinycnn::ChannelShuffle (ShuffleNet's Concat, Reshape, Transpose, Reshape) has its inputs'
producers write their planes where the shuffle puts them.
"""
import functools

import numpy as np

from .. import _kernels as K
from . import FUSED_DOMAIN, op
from .common import (UnsupportedOperator, axis_index, bound_step, broadcast_shape, numpy_step,
                     prod, require_const)
from ..loader import carried_dtype, onnx_to_np_dtype


def _copy(n, inputs, shape, dtype, fill):
    """Schedule fill(*input_arrays, y) writing a (shape, dtype) output."""
    return n.emit(fill, inputs, [(shape, dtype)])


# ---- constants ------------------------------------------------------------------

@op("Constant")
def Constant(n, *, value=None, value_float=None, value_floats=None, value_int=None,
             value_ints=None, value_string=None, value_strings=None, sparse_value=None):
    """value, value_float(s), value_int(s); folded at load."""
    if value is not None:
        return [np.asarray(value)]
    if value_float is not None:
        return [np.array(value_float, np.float32)]
    if value_floats is not None:
        return [np.array(value_floats, np.float32)]
    if value_int is not None:
        return [np.array(value_int, np.int64)]
    if value_ints is not None:
        return [np.array(value_ints, np.int64)]
    raise n.error("only tensor, float(s) and int(s) constants are supported", UnsupportedOperator)


@op("ConstantOfShape", since=9, shape_inputs=(0,))
def ConstantOfShape(n, input, *, value=None):
    """Folded at load (the Model Zoo's weights)."""
    shape = require_const(n, input, "the shape input")
    shape = [int(d) for d in np.asarray(shape).reshape(-1)]
    if any(d < 0 for d in shape):
        raise n.error(f"negative dimension in shape {shape}")
    fill = np.zeros(1, np.float32) if value is None else np.asarray(value).reshape(-1)
    if fill.size != 1:
        raise n.error(f"attribute value must hold one element, got shape {np.shape(value)}")
    n.check_size(shape, fill.dtype)
    return [np.full(shape, fill[0], fill.dtype)]


@op("Shape", until=14)
def Shape_1(n, data):
    """Known at plan time."""
    return [np.array(data.shape, np.int64)]


@op("Shape", since=15)
def Shape_15(n, data, *, start=0, end=None):
    """With start/end (opset 15), clamped like Python slices."""
    return [np.array(data.shape[start:end], np.int64)]


@op("Size")
def Size(n, data):
    """Known at plan time."""
    return [np.array(prod(data.shape), np.int64)]


def cast_array(x, dtype):
    """x.astype(dtype) as onnxruntime casts (float to integer truncates toward zero).
    float16 is carried as float32 (tinycnn.loader.carried_dtype): the values are rounded
    to float16, the array stays float32."""
    with np.errstate(all="ignore"):
        if dtype == np.float16:
            return x.astype(np.float16).astype(np.float32)
        return x.astype(dtype)


def _cast(n, input, dtype):
    if dtype.kind not in "fiub":
        raise n.error(f"casting to {dtype} is not supported (tinycnn runs numeric and bool "
                      "tensors)", UnsupportedOperator)
    if input.const is None and carried_dtype(dtype) == input.dtype and dtype != np.float16:
        return [n.view(input, input.shape)]
    return numpy_step(n, lambda x: cast_array(x, dtype), [input],
                      [(input.shape, carried_dtype(dtype))])


@op("Cast", since=6)
def Cast(n, input, *, to, saturate=1, round_mode="up"):
    """Numeric and bool types, numpy at run time; to float16: rounded, carried as float32."""
    return _cast(n, input, onnx_to_np_dtype(to, f"{n.node.describe()}: attribute to"))


@op("CastLike", since=15)
def CastLike(n, input, target_type, *, saturate=1, round_mode="up"):
    """To the element type of target_type (a float16 target is carried as float32)."""
    return _cast(n, input, target_type.dtype)


# ---- views ----------------------------------------------------------------------------

@op("Flatten", until=10)
def Flatten_1(n, input, *, axis=1):
    """Axis in [0, rank] (negative axes come with opset 11)."""
    if not 0 <= axis <= input.ndim:
        raise n.error(f"axis={axis} is out of range for input of shape {input.shape}")
    return [n.view(input, (prod(input.shape[:axis]), prod(input.shape[axis:])))]


@op("Flatten", since=11)
def Flatten_11(n, input, *, axis=1):
    """Axis in [-rank, rank]."""
    r = input.ndim
    if not -r <= axis <= r:
        raise n.error(f"axis={axis} is out of range for input of shape {input.shape}")
    axis = axis % r if axis < 0 else axis
    return [n.view(input, (prod(input.shape[:axis]), prod(input.shape[axis:])))]


def _reshape_target(n, in_shape, shape, allowzero):
    shape = [int(d) for d in np.asarray(shape).reshape(-1)]
    out = []
    unknown = None
    for i, d in enumerate(shape):
        if d == 0 and not allowzero:
            if i >= len(in_shape):
                raise n.error(f"shape {shape}: 0 at position {i} but the input {tuple(in_shape)} "
                              f"has rank {len(in_shape)}")
            d = in_shape[i]
        elif d == -1:
            if unknown is not None:
                raise n.error(f"shape {shape} has more than one -1")
            unknown = i
        elif d < -1:
            raise n.error(f"shape {shape} has a negative dimension")
        out.append(d)
    total = prod(in_shape)
    if unknown is not None:
        rest = prod(d for i, d in enumerate(out) if i != unknown)
        if rest == 0 or total % rest:
            raise n.error(f"cannot reshape {tuple(in_shape)} ({total} elements) to {shape}")
        out[unknown] = total // rest
    if prod(out) != total:
        raise n.error(f"cannot reshape {tuple(in_shape)} ({total} elements) to {tuple(out)}")
    return tuple(out)


@op("Reshape", until=4)
def Reshape_1(n, data, *, shape):
    """The shape as an attribute (before opset 5)."""
    return [n.view(data, _reshape_target(n, data.shape, shape, 0))]


@op("Reshape", since=5, shape_inputs=(1,))
def Reshape(n, data, shape, *, allowzero=0):
    """-1 infers a dimension; 0 copies the input's (unless allowzero=1)."""
    target = require_const(n, shape, "the shape input")
    if shape.dtype != np.int64:
        raise n.error(f"the shape input has dtype {shape.dtype}; it must be int64")
    return [n.view(data, _reshape_target(n, data.shape, target, allowzero))]


def _axes(n, axes_attr, axes_input, what):
    if axes_input is not None:
        return [int(a) for a in np.asarray(require_const(n, axes_input, f"{what}'s axes")).reshape(-1)]
    return None if axes_attr is None else [int(a) for a in axes_attr]


def _squeeze(n, data, axes):
    r = data.ndim
    if axes is None:
        axes = [i for i, d in enumerate(data.shape) if d == 1]
    axes = {axis_index(n, a, r, "axes") for a in axes}
    for a in axes:
        if data.shape[a] != 1:
            raise n.error(f"cannot squeeze axis {a} of shape {data.shape}: it is not 1")
    return [n.view(data, tuple(d for i, d in enumerate(data.shape) if i not in axes))]


def _unsqueeze(n, data, axes):
    if axes is None:
        raise n.error("axes are required")
    r = data.ndim + len(axes)
    axes = sorted(axis_index(n, a, r, "axes") for a in axes)
    if len(set(axes)) != len(axes):
        raise n.error(f"repeated axes {axes}")
    shape = list(data.shape)
    for a in axes:
        shape.insert(a, 1)
    return [n.view(data, tuple(shape))]


@op("Squeeze", until=12)
def Squeeze_1(n, data, *, axes=None):
    """Axes as an attribute (before opset 13)."""
    return _squeeze(n, data, axes)


@op("Squeeze", since=13, shape_inputs=(1,))
def Squeeze_13(n, data, axes=None):
    """Axes as an optional input (opset 13 on)."""
    return _squeeze(n, data, _axes(n, None, axes, "Squeeze"))


@op("Unsqueeze", until=12)
def Unsqueeze_1(n, data, *, axes=None):
    """Axes as an attribute (before opset 13)."""
    return _unsqueeze(n, data, axes)


@op("Unsqueeze", since=13, shape_inputs=(1,))
def Unsqueeze_13(n, data, axes):
    """Axes as an input (opset 13 on)."""
    return _unsqueeze(n, data, _axes(n, None, axes, "Unsqueeze"))


@op("Identity")
def Identity(n, input):
    """Removed at load (an alias)."""
    return [n.view(input, input.shape)]


@op("Dropout", shape_inputs=(2,))
def Dropout(n, data, ratio=None, training_mode=None, *, seed=None, is_test=None, **legacy):
    """Inference: the input unchanged, and an all-true mask (training mode only with ratio 0)."""
    training = training_mode is not None and (
        training_mode.const is None or bool(np.asarray(training_mode.const).reshape(-1)[0]))
    mask = len(n.node.outputs) > 1 and n.node.outputs[1]
    if training and ratio is not None and ratio.const is None:
        # Only ratio 0 is deterministic: checked at every run.
        def dropout_ratio_zero(x, r, y, *m):
            if float(r.reshape(-1)[0]) != 0.0:
                raise UnsupportedOperator(f"{n.node.describe()}: training-mode Dropout with "
                                          f"ratio {float(r.reshape(-1)[0])} (a random mask)")
            np.copyto(y, x)
            if m:
                m[0][...] = True
        outs = [(data.shape, data.dtype)] + ([(data.shape, np.bool_)] if mask else [])
        return n.emit(dropout_ratio_zero, [data, ratio], outs)
    if training and float(np.asarray(0.5 if ratio is None else ratio.const).reshape(-1)[0]) != 0:
        raise n.error("training-mode Dropout (a random mask) is not supported", UnsupportedOperator)
    outs = [n.view(data, data.shape)]
    if mask:
        outs.append(np.ones(data.shape, bool))
    return outs


# ---- copies ------------------------------------------------------------------------------

@op("Concat", until=3)
def Concat_1(n, *inputs, axis=1):
    """Axis defaults to 1 (before opset 4)."""
    return Concat(n, *inputs, axis=axis)


@op("Concat", since=4)
def Concat(n, *inputs, axis):
    """Along axis (required from opset 4)."""
    inputs, a, shape = _concat_shape(n, inputs, axis)
    if all(v.const is not None for v in inputs):
        return [np.concatenate([v.const for v in inputs], axis=a)]
    dtype = np.result_type(*[v.dtype for v in inputs])
    if dtype == np.float32 and prod(shape[:a]) == 1 and not n.folding:
        return _concat_in_place(n, inputs, shape, dtype)

    def fill(*arrays):
        np.concatenate(arrays[:-1], axis=a, out=arrays[-1])
    return _copy(n, inputs, shape, dtype, fill)


def _concat_shape(n, inputs, axis):
    """(the inputs given, the axis, the output shape) of a Concat; errors name the shapes."""
    inputs = [v for v in inputs if v is not None]
    if not inputs:
        raise n.error("needs at least one input")
    r = inputs[0].ndim
    a = axis_index(n, axis, r)
    for v in inputs:
        if v.ndim != r or any(v.shape[i] != inputs[0].shape[i] for i in range(r) if i != a):
            raise n.error("inputs must agree except on axis "
                          f"{a}: shapes {[v.shape for v in inputs]}")
    shape = list(inputs[0].shape)
    shape[a] = sum(v.shape[a] for v in inputs)
    return inputs, a, tuple(shape)


@op("ConcatShape", domain=FUSED_DOMAIN)
def ConcatShape(n, *inputs, axis, start=0, end=None):
    """Shape(Concat(inputs, axis))[start:end], known at plan time: the Shape of a Concat
    that graph._fuse_channel_shuffle fused away (the Concat's output is never made)."""
    return [np.array(_concat_shape(n, inputs, axis)[2][start:end], np.int64)]


def _concat_in_place(n, inputs, shape, dtype):
    """Every axis before the concatenated one is 1 (a batch of 1 along channels): each input
    is a contiguous slice of the output, and the memory plan gives its producer that slice
    (NodeContext.concat_in_place).  Inputs that cannot be placed (constants, feeds, values
    already inside another Concat's output) are copied by one step."""
    out, placed = n.concat_in_place(inputs, shape, dtype)
    offsets = np.cumsum([0] + [v.size for v in inputs]).tolist()
    copies = [(v, offsets[i]) for i, v in enumerate(inputs) if not placed[i]]
    if not copies:
        return [out]
    spans = [(lo, lo + v.size) for v, lo in copies]
    runtime = [v for v, _ in copies if v.const is None]
    consts = [(np.asarray(v.const, np.float32).reshape(-1), lo, hi)
              for (v, _), (lo, hi) in zip(copies, spans) if v.const is not None]
    slots = [span for (v, _), span in zip(copies, spans) if v.const is None]

    def concat_rest(*arrays):
        y = arrays[-1].reshape(-1)
        for x, (lo, hi) in zip(arrays[:-1], slots):
            y[lo:hi] = x.reshape(-1)
        for c, lo, hi in consts:
            y[lo:hi] = c
    return n.emit(concat_rest, runtime, [out])


@op("ChannelShuffle", domain=FUSED_DOMAIN, shape_inputs=(0, 1))
def ChannelShuffle(n, split_shape, merged_shape, *inputs, axis, perm, split_allowzero=0,
                   merged_allowzero=0):
    """Concat(inputs, axis) -> Reshape(split_shape) -> Transpose(perm) -> Reshape(merged_shape),
    as graph._fuse_channel_shuffle found them (ShuffleNet's channel shuffle of its branches);
    the shapes known at plan time, as Reshape's.
    When the G inputs are float32 [N, c, ...] alike and the reshapes split the channels into
    (G, c) and merge them back after swapping the two, output channel G * i + g is channel i
    of input g: each input's producer writes its planes there where it can
    (NodeContext.shuffle_in_place), one step copies the others; anything else runs as the
    four ops."""
    for v, what in ((split_shape, "the split shape"), (merged_shape, "the merged shape")):
        require_const(n, v, what)
        if v.dtype != np.int64:
            raise n.error(f"{what} has dtype {v.dtype}; it must be int64")
    split_shape, merged_shape = split_shape.const, merged_shape.const
    shuffled = _shuffle_shape(n, inputs, axis, split_shape, perm, merged_shape,
                              split_allowzero, merged_allowzero)
    if shuffled is None:
        (y,) = Concat(n, *inputs, axis=axis)
        y = y if not isinstance(y, np.ndarray) else n.constant(y)
        y = n.view(y, _reshape_target(n, y.shape, split_shape, split_allowzero))
        (y,) = Transpose(n, y, perm=perm)
        y = y if not isinstance(y, np.ndarray) else n.constant(y)
        return [n.view(y, _reshape_target(n, y.shape, merged_shape, merged_allowzero))]
    shape, plane = shuffled
    out, placed = n.shuffle_in_place(inputs, shape, np.float32, plane)
    groups = len(inputs)
    copies = [g for g in range(groups) if not placed[g]]
    if not copies:
        return [out]
    ctx = n.ctx

    def bind(*arrays):
        # input g's planes into every G-th plane of the output from plane g on (threaded)
        y = arrays[-1]
        calls = [K.bind_copy_planes(ctx, x, y, plane, g * plane, groups * plane)
                 for g, x in zip(copies, arrays)]
        return calls[0] if len(calls) == 1 else functools.partial(_run_all, calls)
    return n.emit(bound_step(bind), [inputs[g] for g in copies], [out])


def _run_all(calls):
    for call in calls:
        call()


def _shuffle_shape(n, inputs, axis, split_shape, perm, merged_shape, split_allowzero,
                   merged_allowzero):
    """(output shape, elements per channel plane) when ChannelShuffle's four ops are a shuffle
    of G float32 inputs [N, c, ...] alike, computed at run time; else None."""
    groups = len(inputs)
    if (groups < 2 or n.folding or any(v is None or v.dtype != np.float32 or v.ndim < 3
                                       or v.shape != inputs[0].shape for v in inputs)):
        return None
    x = inputs[0]
    r = x.ndim
    if not -r <= int(axis) < r or int(axis) % r != 1:
        return None
    nb, c, spatial = x.shape[0], x.shape[1], x.shape[2:]
    joined = (nb, groups * c) + spatial
    split = (nb, groups, c) + spatial
    if (list(perm) != [0, 2, 1] + list(range(3, r + 1))
            or _reshape_target(n, joined, split_shape, split_allowzero) != split
            or _reshape_target(n, (nb, c, groups) + spatial, merged_shape,
                               merged_allowzero) != joined):
        return None
    return joined, prod(spatial)


@op("Transpose")
def Transpose(n, data, *, perm=None):
    """Any permutation (a copy)."""
    r = data.ndim
    perm = list(range(r))[::-1] if perm is None else [int(p) for p in perm]
    if sorted(perm) != list(range(r)):
        raise n.error(f"perm={perm} is not a permutation of the {r} axes of {data.shape}")
    if data.const is not None:
        return [np.ascontiguousarray(np.transpose(data.const, perm))]
    shape = tuple(data.shape[p] for p in perm)

    def fill(x, y):
        np.copyto(y, x.transpose(perm))
    return _copy(n, [data], shape, data.dtype, fill)


def _slices(n, shape, starts, ends, axes, steps):
    r = len(shape)
    axes = list(range(len(starts))) if axes is None else [axis_index(n, a, r, "axes") for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    if not (len(starts) == len(ends) == len(axes) == len(steps)):
        raise n.error(f"starts {starts}, ends {ends}, axes {axes}, steps {steps} differ in length")
    index = [slice(None)] * r
    for s, e, a, st in zip(starts, ends, axes, steps):
        if st == 0:
            raise n.error("a slice step of 0 is not allowed")
        index[a] = _onnx_slice(int(s), int(e), int(st), shape[a])
    return tuple(index)


def _onnx_slice(start, end, step, dim):
    """ONNX clamping: negative indices count from the end; with a negative step
    the end may be -1, meaning "through index 0" (None in Python terms)."""
    start = start + dim if start < 0 else start
    end = end + dim if end < 0 else end
    if step > 0:
        start, end = min(max(start, 0), dim), min(max(end, 0), dim)
    else:
        start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
    return slice(start, None if end < 0 else end, step)


def _contiguous_start(shape, index):
    """The flat offset of x[index] in x when that slice is one contiguous run of x's elements
    (ShuffleNet's halves of a batch of 1 along channels), else None."""
    ranges = [range(*s.indices(d)) for s, d in zip(index, shape)]
    if any(len(r) == 0 for r in ranges):
        return None
    k = len(shape) - 1
    while k >= 0 and len(ranges[k]) == shape[k]:   # whole trailing axes (step 1 or dim 1)
        if shape[k] > 1 and ranges[k].step != 1:
            return None
        k -= 1
    if k >= 0 and len(ranges[k]) > 1 and ranges[k].step != 1:
        return None
    if any(len(r) != 1 for r in ranges[:max(k, 0)]):
        return None
    strides = np.cumprod((list(shape[1:]) + [1])[::-1])[::-1]
    return int(sum(r.start * int(st) for r, st in zip(ranges, strides)))


def _slice(n, data, index):
    if data.const is not None:
        return [np.ascontiguousarray(data.const[index])]
    shape = np.empty(data.shape, np.bool_)[index].shape
    start = _contiguous_start(data.shape, index)
    if start is not None and not n.folding:
        return [n.slice_view(data, start, shape)]

    def fill(x, y):
        np.copyto(y, x[index])
    return _copy(n, [data], shape, data.dtype, fill)


@op("Slice", until=9)
def Slice_1(n, data, *, starts, ends, axes=None):
    """Starts/ends/axes as attributes (before opset 10)."""
    return _slice(n, data, _slices(n, data.shape, starts, ends, axes, None))


@op("Slice", since=10, shape_inputs=(1, 2, 3, 4))
def Slice_10(n, data, starts, ends, axes=None, steps=None):
    """Starts/ends/axes/steps as inputs (opset 10 on)."""
    vals = [None if v is None else [int(x) for x in np.asarray(require_const(n, v, w)).reshape(-1)]
            for v, w in ((starts, "starts"), (ends, "ends"), (axes, "axes"), (steps, "steps"))]
    return _slice(n, data, _slices(n, data.shape, *vals))


@op("Gather")
def Gather(n, data, indices, *, axis=0):
    """Constant indices are checked at load; run-time indices at every run."""
    r = data.ndim
    a = axis_index(n, axis, r)
    if indices.dtype not in (np.int32, np.int64):
        raise n.error(f"indices have dtype {indices.dtype}; they must be int32 or int64")
    size = data.shape[a]
    shape = data.shape[:a] + indices.shape + data.shape[a + 1:]
    if indices.const is None:
        def gather_dynamic(x, i, y):
            if i.size and (i.min() < -size or i.max() >= size):
                raise IndexError(f"{n.node.describe()}: indices out of range for axis {a} of "
                                 f"size {size}")
            np.take(x, np.where(i < 0, i + size, i), axis=a, out=y)
        return _copy(n, [data, indices], shape, data.dtype, gather_dynamic)
    idx = np.asarray(indices.const).astype(np.int64)
    if idx.size and (idx.min() < -size or idx.max() >= size):
        raise n.error(f"indices {idx.reshape(-1)[:8].tolist()} out of range for axis {a} of "
                      f"size {size} (data shape {data.shape})")
    idx = np.where(idx < 0, idx + size, idx)
    if data.const is not None:
        return [np.take(data.const, idx, axis=a)]

    def fill(x, y):
        np.take(x, idx, axis=a, out=y)
    return _copy(n, [data], shape, data.dtype, fill)


@op("Expand", since=8, shape_inputs=(1,))
def Expand(n, input, shape):
    """Constant shape; numpy broadcasting."""
    target = [int(d) for d in np.asarray(require_const(n, shape, "the shape input")).reshape(-1)]
    out = broadcast_shape(n, input.shape, target)
    n.check_size(out, input.dtype)
    if input.const is not None:
        return [np.ascontiguousarray(np.broadcast_to(input.const, out))]

    def fill(x, y):
        np.copyto(y, np.broadcast_to(x, out))
    return _copy(n, [input], out, input.dtype, fill)


def _pad(n, data, pads, mode, value, axes=None, modes=("constant", "edge", "reflect")):
    """value: a number, or a Value computed at run time (constant mode)."""
    r = data.ndim
    axes = list(range(r)) if axes is None else [axis_index(n, a, r, "axes") for a in axes]
    pads = [int(p) for p in pads]
    if len(pads) != 2 * len(axes):
        raise n.error(f"pads {pads} must have 2 x {len(axes)} values")
    if mode not in modes:
        raise n.error(f"pad mode {mode!r} is not supported at opset {n.opset} (only {modes})",
                      UnsupportedOperator)
    width = [(0, 0)] * r
    for i, a in enumerate(axes):
        width[a] = (pads[i], pads[i + len(axes)])
    crop = tuple(slice(max(0, -b), data.shape[a] - max(0, -e)) for a, (b, e) in enumerate(width))
    grow = [(max(0, b), max(0, e)) for b, e in width]
    shape = tuple(data.shape[a] + b + e for a, (b, e) in enumerate(width))
    if any(d < 0 for d in shape):
        raise n.error(f"pads {pads} remove more than the input {data.shape} has")
    if mode != "constant" and any(c.stop - c.start <= 0 for c in crop):
        # as onnxruntime: nothing left to reflect or repeat
        raise n.error(f"mode {mode!r}: pads {pads} leave an empty axis of {data.shape}")
    n.check_size(shape, data.dtype)
    if mode == "reflect":
        for a, (b, e) in enumerate(grow):
            if (b or e) and crop[a].stop - crop[a].start - 1 < max(b, e):  # after slicing
                raise n.error(f"reflect padding {b, e} needs axis {a} longer than {max(b, e)}")
    dynamic_value = mode == "constant" and value is not None and not np.isscalar(value)
    if not dynamic_value:
        kw = {"constant_values": value} if mode == "constant" else {}
        if data.const is not None:
            return [np.pad(data.const[crop], grow, mode=mode, **kw)]

        def fill(x, y):
            np.copyto(y, np.pad(x[crop], grow, mode=mode, **kw))
        return _copy(n, [data], shape, data.dtype, fill)

    def fill_dynamic(x, v, y):
        np.copyto(y, np.pad(x[crop], grow, mode="constant", constant_values=v.reshape(-1)[0]))
    return _copy(n, [data, value], shape, data.dtype, fill_dynamic)


@op("Pad", until=1)
def Pad_1(n, data, *, paddings, mode="constant", value=0.0):
    """`paddings` as an attribute (opset 1)."""
    return _pad(n, data, paddings, mode, value)


@op("Pad", since=2, until=10)
def Pad_2(n, data, *, pads, mode="constant", value=0.0):
    """Pads and value as attributes (before opset 11)."""
    return _pad(n, data, pads, mode, value)


@op("Pad", since=11, shape_inputs=(1, 3))
def Pad_11(n, data, pads, constant_value=None, axes=None, *, mode="constant"):
    """Pads, constant_value (and, from 18, axes) as inputs; mode "wrap" from opset 19."""
    p = np.asarray(require_const(n, pads, "the pads input")).reshape(-1)
    if constant_value is None:
        v = 0.0
    elif constant_value.const is not None:
        v = np.asarray(constant_value.const).reshape(-1)[0].item()
    else:
        v = constant_value
    ax = None if axes is None else [int(a) for a in np.asarray(
        require_const(n, axes, "the axes input")).reshape(-1)]
    modes = ("constant", "edge", "reflect", "wrap") if n.opset >= 19 else ("constant", "edge", "reflect")
    return _pad(n, data, p, mode, v, ax, modes)


# ---- split, tile, range, depth/space ------------------------------------------------

def _split(n, X, axis, sizes, num_outputs=None):
    a = axis_index(n, axis, X.ndim)
    dim = X.shape[a]
    count = len(n.node.outputs)
    if sizes is not None:
        sizes = [int(s) for s in np.asarray(sizes).reshape(-1)]
        if len(sizes) != count or any(s < 0 for s in sizes) or sum(sizes) != dim:
            raise n.error(f"split sizes {sizes} must be {count} values >= 0 adding up to "
                          f"{dim} (axis {a} of input {X.shape})")
    elif num_outputs is not None:
        num_outputs = int(num_outputs)
        if num_outputs != count or num_outputs < 1:
            raise n.error(f"num_outputs={num_outputs} but the node has {count} outputs")
        chunk = -(-dim // num_outputs)  # the last chunk is smaller when dim does not divide
        sizes = [min(chunk, max(dim - i * chunk, 0)) for i in range(num_outputs)]
        if sum(sizes) != dim or (dim and sizes[-1] == 0):
            raise n.error(f"axis {a} of input {X.shape} cannot be split in {num_outputs} "
                          f"chunks of {chunk}")
    else:
        if dim % count:
            raise n.error(f"axis {a} of input {X.shape} ({dim}) does not split into {count} "
                          "equal parts")
        sizes = [dim // count] * count
    bounds = np.cumsum([0] + sizes)
    index = [(slice(None),) * a + (slice(int(lo), int(hi)),) for lo, hi in zip(bounds, bounds[1:])]
    outs = [(X.shape[:a] + (size,) + X.shape[a + 1:], X.dtype) for size in sizes]

    def split(x, *ys):
        for y, ix in zip(ys, index):
            np.copyto(y, x[ix])
    return n.emit(split, [X], outs)


@op("Split", until=1, shape_inputs=(1,))
def Split_1(n, input, split=None, *, axis=0, **attrs):
    """Sizes as the attribute `split` or a second input (opset 1)."""
    sizes = attrs.get("split") if split is None else require_const(n, split, "the split input")
    return _split(n, input, axis, sizes)


@op("Split", since=2, until=12)
def Split_2(n, input, *, axis=0, split=None):
    """Sizes as the attribute `split` (opsets 2-12); equal parts without it."""
    return _split(n, input, axis, split)


@op("Split", since=13, until=17, shape_inputs=(1,))
def Split_13(n, input, split=None, *, axis=0):
    """Sizes as an optional input (opset 13); equal parts without it."""
    return _split(n, input, axis, None if split is None else require_const(n, split, "the split input"))


@op("Split", since=18, shape_inputs=(1,))
def Split_18(n, input, split=None, *, axis=0, num_outputs=None):
    """Sizes as an input, or num_outputs chunks, the last one smaller (opset 18)."""
    if split is not None and num_outputs is not None:
        raise n.error("give either the split input or the num_outputs attribute, not both")
    sizes = None if split is None else require_const(n, split, "the split input")
    return _split(n, input, axis, sizes, num_outputs)


def _tile(n, X, repeats):
    repeats = [int(r) for r in np.asarray(repeats).reshape(-1)]
    if len(repeats) != X.ndim or any(r < 0 for r in repeats):
        raise n.error(f"repeats {repeats} must be {X.ndim} values >= 0 (input {X.shape})")
    shape = tuple(d * r for d, r in zip(X.shape, repeats))
    n.check_size(shape, X.dtype)

    def tile(x, y):
        np.copyto(y, np.tile(x, repeats))
    return n.emit(tile, [X], [(shape, X.dtype)])


@op("Tile", since=6, shape_inputs=(1,))
def Tile(n, input, repeats):
    """Repeats as an input; a copy (numpy)."""
    return _tile(n, input, require_const(n, repeats, "the repeats input"))


@op("Range", since=11, shape_inputs=(0, 1, 2))
def Range(n, start, limit, delta, *, stash_type=1):
    """Folded at plan time (scalar inputs known then); the length is checked first."""
    vals = []
    for v, what in ((start, "start"), (limit, "limit"), (delta, "delta")):
        c = np.asarray(require_const(n, v, f"the {what} input"))
        if c.size != 1:
            raise n.error(f"{what} must be a scalar, got shape {c.shape}")
        vals.append(c.reshape(()))
    s, l, d = vals
    dtype = s.dtype
    if d == 0:
        raise n.error("delta must not be 0")
    if dtype.kind in "iu":
        s, l, d = int(s), int(l), int(d)
        count = max(0, -(-(l - s) // d))
    else:
        if not all(np.isfinite(v) for v in (s, l, d)):
            raise n.error(f"start {s}, limit {l} and delta {d} must be finite")
        count = max(0, int(np.ceil(float(l.astype(dtype) - s.astype(dtype)) / float(d))))
    n.check_size((count,), dtype)
    if dtype.kind in "iu":
        return [(s + np.arange(count, dtype=np.int64) * d).astype(dtype)]
    return [(s + np.arange(count, dtype=dtype) * d).astype(dtype)]  # start + i * delta


def _block(n, X, blocksize):
    b = int(blocksize)
    if X.ndim != 4:
        raise n.error(f"input must be [N, C, H, W], got shape {X.shape}")
    if b < 1:
        raise n.error(f"blocksize={b} must be >= 1")
    return b


@op("DepthToSpace")
def DepthToSpace(n, input, *, blocksize, mode="DCR"):
    """DCR (depth-column-row) or CRD mode (opset 11); a copy (numpy)."""
    b = _block(n, input, blocksize)
    nb, c, h, w = input.shape
    if c % (b * b):
        raise n.error(f"channels of input {input.shape} must be a multiple of blocksize^2 = {b * b}")
    if mode == "DCR":
        split, perm = (nb, b, b, c // (b * b), h, w), (0, 3, 4, 1, 5, 2)
    elif mode == "CRD":
        split, perm = (nb, c // (b * b), b, b, h, w), (0, 1, 4, 2, 5, 3)
    else:
        raise n.error(f"unknown mode {mode!r} (expected 'DCR' or 'CRD')")
    shape = (nb, c // (b * b), h * b, w * b)

    def depth_to_space(x, y):
        np.copyto(y.reshape(np.array(split)[list(perm)]), x.reshape(split).transpose(perm))
    return n.emit(depth_to_space, [input], [(shape, input.dtype)])


def _space_to_depth(n, input, blocksize, mode):
    b = _block(n, input, blocksize)
    nb, c, h, w = input.shape
    if h % b or w % b:
        raise n.error(f"height and width of input {input.shape} must be multiples of blocksize {b}")
    perms = {"DCR": (0, 3, 5, 1, 2, 4), "CRD": (0, 1, 3, 5, 2, 4)}
    if mode not in perms:
        raise n.error(f"unknown mode {mode!r} (expected 'DCR' or 'CRD')")
    split, perm = (nb, c, h // b, b, w // b, b), perms[mode]
    shape = (nb, c * b * b, h // b, w // b)

    def space_to_depth(x, y):
        np.copyto(y.reshape(np.array(split)[list(perm)]), x.reshape(split).transpose(perm))
    return n.emit(space_to_depth, [input], [(shape, input.dtype)])


@op("SpaceToDepth", until=27)
def SpaceToDepth_1(n, input, *, blocksize):
    """Blocks of blocksize x blocksize pixels into channels (DCR order); a copy (numpy)."""
    return _space_to_depth(n, input, blocksize, "DCR")


@op("SpaceToDepth", since=28)
def SpaceToDepth_28(n, input, *, blocksize, mode="DCR"):
    """DCR or CRD order (opset 28); a copy (numpy)."""
    return _space_to_depth(n, input, blocksize, mode)

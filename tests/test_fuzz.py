"""Property-based fuzzing (issue 6): single-node graphs with random shapes and attributes
against onnxruntime, and the loader with mutated model bytes.

Properties:
  * single node: onnxruntime and tinycnn both refuse (tinycnn with one of its own
    exceptions), or both run and agree to 1e-4 (max |diff| / max |ref|);
  * mutated model (bit flips, truncations, inserted/deleted bytes, random edits of
    any protobuf field): loading and running raise only tinycnn exceptions, never
    another exception type, a crash or a hang.

Bounded for CI: hypothesis runs a fixed (derandomized) number of examples per test,
about a minute in total.  TINYCNN_FUZZ_SCALE=10 runs ten times as many (and is
random, not derandomized) for a longer local hunt.
"""
import os

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from onnx import TensorProto, helper

import tinycnn
from tinycnn import _kernels as K
from helpers import make_model, ort_run, rel_diff, session_options

HAVE_CONV = hasattr(K, "Conv2d") and hasattr(K, "Dense") and hasattr(K, "gemm")
needs_conv = pytest.mark.skipif(not HAVE_CONV, reason="convolution/GEMM kernels not built yet")

SCALE = float(os.environ.get("TINYCNN_FUZZ_SCALE", "1"))


def fuzz_settings(examples):
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None,
                    derandomize=SCALE == 1, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def small_limits():
    """Bounded memory while fuzzing: a mutated dim must hit a limit, not the machine."""
    return session_options(intra_op_num_threads=1, max_tensor_bytes=64 << 20, max_weight_bytes=128 << 20,
                           max_arena_bytes=256 << 20, max_nodes=1000)


# ---- single node against onnxruntime -----------------------------------------------------

def ort_outcome(model, feeds):
    """('ok', outputs) or ('error', message) from onnxruntime."""
    try:
        return "ok", ort_run(model, feeds)
    except Exception as e:  # noqa: BLE001 - any refusal of onnxruntime's
        return "error", str(e).splitlines()[0][:300]


def tc_outcome(model, feeds):
    try:
        sess = tinycnn.InferenceSession(model, small_limits())
        return "ok", sess.run(None, feeds)
    except tinycnn.TinyCNNError as e:
        return "error", f"{type(e).__name__}: {e}"


def check_against_ort(model, feeds, rtol=1e-4):
    ref_kind, ref = ort_outcome(model, feeds)
    got_kind, got = tc_outcome(model, feeds)   # any non-tinycnn exception fails the test here
    if ref_kind == "error":
        assert got_kind == "error", f"onnxruntime refuses ({ref}) but tinycnn runs"
        return "both refuse"
    assert got_kind == "ok", f"onnxruntime runs but tinycnn refuses: {got}"
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        assert g.shape == r.shape, f"shape {g.shape} != onnxruntime's {r.shape}"
        assert g.dtype == r.dtype, f"dtype {g.dtype} != onnxruntime's {r.dtype}"
        assert np.array_equal(np.isnan(g), np.isnan(r)), "NaN positions differ"
        d = rel_diff(np.nan_to_num(g), np.nan_to_num(r))
        assert d <= rtol, f"max|diff|/max|ref| = {d:.3g} > {rtol} for shape {r.shape}"
    return "agree"


def data(shape, seed):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def x_shape(draw, rank, max_size=10):
    n = draw(st.integers(1, 2))
    c = draw(st.integers(1, 4))
    return [n, c] + [draw(st.integers(1, max_size)) for _ in range(rank)]


def window_attrs(draw, rank, opset, dilations=True):
    attrs = {"kernel_shape": [draw(st.integers(1, 5)) for _ in range(rank)]}
    if draw(st.booleans()):
        attrs["strides"] = [draw(st.integers(1, 3)) for _ in range(rank)]
    if dilations and draw(st.booleans()):
        attrs["dilations"] = [draw(st.integers(1, 3)) for _ in range(rank)]
    auto_pad = draw(st.sampled_from(["NOTSET", "NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    if auto_pad != "NOTSET":
        attrs["auto_pad"] = auto_pad
    elif draw(st.booleans()):
        attrs["pads"] = [draw(st.integers(0, 3)) for _ in range(2 * rank)]
    return attrs


@st.composite
def pool_case(draw):
    op = draw(st.sampled_from(["MaxPool", "AveragePool"]))
    rank = draw(st.sampled_from([1, 2, 2, 2]))
    opset = draw(st.sampled_from([11, 13, 19] if op == "AveragePool" else [11, 12, 13]))
    shape = x_shape(draw, rank)
    attrs = window_attrs(draw, rank, opset, dilations=op == "MaxPool" or opset >= 19)
    if attrs.get("auto_pad", "NOTSET").startswith("SAME"):
        # Known, documented divergence: onnxruntime pads a dilated SAME pool as if it were
        # undilated (not the spec's output size); tinycnn refuses it with UnsupportedOperator.
        attrs.pop("dilations", None)
    if draw(st.booleans()):
        attrs["ceil_mode"] = 1
    if op == "AveragePool" and draw(st.booleans()):
        attrs["count_include_pad"] = 1
    return op, shape, attrs, opset


@given(pool_case(), st.integers(0, 2 ** 16))
@fuzz_settings(250)
def test_fuzz_pool(case, seed):
    op, shape, attrs, opset = case
    node = helper.make_node(op, ["x"], ["y"], name="pool", **attrs)
    model = make_model([node], [("x", shape)], [("y", None)], opset=opset)
    check_against_ort(model, {"x": data(shape, seed)})


@st.composite
def conv_case(draw):
    rank = draw(st.sampled_from([1, 2, 2, 2]))
    n = draw(st.integers(1, 2))
    group = draw(st.sampled_from([1, 1, 1, 2, 3]))
    cg = draw(st.integers(1, 3))
    c = group * cg
    k = group * draw(st.integers(1, 3))
    if draw(st.integers(0, 9)) == 0:  # sometimes inconsistent channels: both must refuse
        c += 1
    spatial = [draw(st.integers(1, 12)) for _ in range(rank)]
    attrs = window_attrs(draw, rank, 13)
    kernel = attrs["kernel_shape"]
    if draw(st.booleans()):
        del attrs["kernel_shape"]
    if group > 1:
        attrs["group"] = group
    bias = draw(st.booleans())
    return [n, c] + spatial, [k, cg] + kernel, attrs, bias


@needs_conv
@given(conv_case(), st.integers(0, 2 ** 16))
@fuzz_settings(250)
def test_fuzz_conv(case, seed):
    shape, wshape, attrs, bias = case
    inits = {"W": data(wshape, seed + 1)}
    ins = ["x", "W"]
    if bias:
        inits["B"] = data([wshape[0]], seed + 2)
        ins.append("B")
    node = helper.make_node("Conv", ins, ["y"], name="conv", **attrs)
    model = make_model([node], [("x", shape)], [("y", None)], inits)
    check_against_ort(model, {"x": data(shape, seed)})


@st.composite
def gemm_case(draw):
    m, k, n = (draw(st.integers(1, 24)) for _ in range(3))
    ta, tb = draw(st.booleans()), draw(st.booleans())
    a = [k, m] if ta else [m, k]
    b = [n, k] if tb else [k, n]
    if draw(st.integers(0, 9)) == 0:
        b[0 if not tb else 1] += 1     # mismatched inner dimension
    c = draw(st.sampled_from([None, [n], [1, n], [m, n], [m, 1], [], [1, 1], [m + 1, n]]))
    attrs = {}
    if ta:
        attrs["transA"] = 1
    if tb:
        attrs["transB"] = 1
    if draw(st.booleans()):
        attrs["alpha"] = draw(st.sampled_from([0.5, -1.0, 2.0, 0.0]))
    if draw(st.booleans()):
        attrs["beta"] = draw(st.sampled_from([0.5, -1.0, 2.0, 0.0]))
    b_const = draw(st.booleans())
    c_const = draw(st.booleans())
    return a, b, c, attrs, b_const, c_const


@needs_conv
@given(gemm_case(), st.integers(0, 2 ** 16))
@fuzz_settings(200)
def test_fuzz_gemm(case, seed):
    a, b, c, attrs, b_const, c_const = case
    inputs, inits, feeds = [("A", a)], {}, {"A": data(a, seed)}
    for name, shape, const in (("B", b, b_const), ("C", c, c_const)):
        if shape is None:
            continue
        if const:
            inits[name] = data(shape, seed + len(name))
        else:
            inputs.append((name, shape))
            feeds[name] = data(shape, seed + len(name))
    node = helper.make_node("Gemm", ["A", "B"] + (["C"] if c is not None else []), ["y"], name="gemm",
                            **attrs)
    model = make_model([node], inputs, [("y", None)], inits)
    check_against_ort(model, feeds)


@st.composite
def broadcast_shapes(draw):
    rank_a, rank_b = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    full = [draw(st.integers(1, 5)) for _ in range(max(rank_a, rank_b))]

    def pick(rank):
        dims = []
        for d in full[len(full) - rank:]:
            r = draw(st.integers(0, 9))
            dims.append(1 if r < 3 else (d + 1 if r == 9 else d))  # r == 9: may not broadcast
        return dims
    return pick(rank_a), pick(rank_b)


@given(broadcast_shapes(), st.sampled_from(["Add", "Sub", "Mul", "Div", "Max", "Min", "Sum"]),
       st.sampled_from(["inputs", "a const", "b const"]), st.integers(0, 2 ** 16))
@fuzz_settings(250)
def test_fuzz_broadcasting_binary(shapes, op, consts, seed):
    a, b = shapes
    inputs, inits, feeds = [], {}, {}
    for name, shape, const in (("a", a, consts == "a const"), ("b", b, consts == "b const")):
        v = data(shape, seed + len(inputs) + len(inits)) + (3.0 if op == "Div" and name == "b" else 0)
        if const:
            inits[name] = v
        else:
            inputs.append((name, shape))
            feeds[name] = v
    node = helper.make_node(op, ["a", "b"], ["y"], name="binary")
    model = make_model([node], inputs, [("y", None)], inits)
    check_against_ort(model, feeds)


@st.composite
def reshape_case(draw):
    shape = [draw(st.integers(1, 6)) for _ in range(draw(st.integers(1, 4)))]
    total = int(np.prod(shape))
    target = []
    rest = total
    for _ in range(draw(st.integers(1, 4))):
        divisors = [d for d in range(1, rest + 1) if rest % d == 0]
        d = draw(st.sampled_from(divisors))
        target.append(d)
        rest //= d
    if rest > 1:
        target.append(rest)
    edit = draw(st.integers(0, 9))
    if edit == 0:
        target[draw(st.integers(0, len(target) - 1))] = -1
    elif edit == 1 and len(target) <= len(shape):
        i = draw(st.integers(0, len(target) - 1))
        target[i] = 0 if target[i] == shape[i] else target[i]
    elif edit == 2:
        target[draw(st.integers(0, len(target) - 1))] += 1     # wrong element count
    elif edit == 3:
        target = [-1, -1] + target                              # two -1: invalid
    elif edit == 4:
        target[draw(st.integers(0, len(target) - 1))] = draw(st.sampled_from([-2, 0]))
    return shape, target


@given(reshape_case(), st.booleans(), st.integers(0, 2 ** 16))
@fuzz_settings(200)
def test_fuzz_reshape(case, relu_after, seed):
    shape, target = case
    nodes = [helper.make_node("Reshape", ["x", "s"], ["r" if relu_after else "y"], name="reshape")]
    if relu_after:
        nodes.append(helper.make_node("Relu", ["r"], ["y"], name="relu"))
    model = make_model(nodes, [("x", shape)], [("y", None)], {"s": np.array(target, np.int64)})
    check_against_ort(model, {"x": data(shape, seed)})


@st.composite
def shape_op_case(draw):
    rank = draw(st.integers(1, 4))
    shape = [draw(st.integers(1, 5)) for _ in range(rank)]
    op = draw(st.sampled_from(["Softmax", "Transpose", "Flatten", "Concat", "Slice",
                               "GlobalAveragePool", "GlobalMaxPool", "Pad", "ReduceMean"]))
    attrs, inits, extra = {}, {}, []
    if op in ("Softmax", "Flatten", "Concat"):
        attrs["axis"] = draw(st.integers(-rank - 1, rank))
    if op == "Transpose" and draw(st.booleans()):
        perm = draw(st.permutations(list(range(rank))))
        if draw(st.integers(0, 9)) == 0:
            perm = perm[:-1] + [perm[0]] if rank > 1 else [1]
        attrs["perm"] = list(perm)
    if op == "Concat":
        other = list(shape)
        a = attrs["axis"] % rank if -rank <= attrs["axis"] < rank else 0
        other[a] = draw(st.integers(1, 4))
        if draw(st.integers(0, 9)) == 0:
            other[(a + 1) % rank] += 1
        inits["c"] = data(other, 7)
        extra = ["c"]
    if op == "Slice":
        n = draw(st.integers(1, rank))
        axes = draw(st.permutations(list(range(rank))))[:n]
        inits["starts"] = np.array([draw(st.integers(-7, 7)) for _ in axes], np.int64)
        inits["ends"] = np.array([draw(st.integers(-7, 7)) for _ in axes], np.int64)
        inits["axes"] = np.array(axes, np.int64)
        inits["steps"] = np.array([draw(st.sampled_from([1, 1, 2, -1, -2, 3])) for _ in axes], np.int64)
        extra = ["starts", "ends", "axes", "steps"]
    if op == "Pad":
        inits["pads"] = np.array([draw(st.integers(-1, 3)) for _ in range(2 * rank)], np.int64)
        attrs["mode"] = draw(st.sampled_from(["constant", "reflect", "edge"]))
        extra = ["pads"]
    if op == "ReduceMean":
        attrs["axes"] = sorted(set(draw(st.lists(st.integers(-rank, rank - 1), min_size=1, max_size=rank))))
        attrs["keepdims"] = draw(st.integers(0, 1))
    return op, shape, attrs, inits, extra


@given(shape_op_case(), st.integers(0, 2 ** 16))
@fuzz_settings(250)
def test_fuzz_shape_ops(case, seed):
    op, shape, attrs, inits, extra = case
    if op.startswith("Global"):
        assume(len(shape) >= 3)
    node = helper.make_node(op, ["x"] + extra, ["y"], name="node", **attrs)
    model = make_model([node], [("x", shape)], [("y", None)], inits, opset=13)
    check_against_ort(model, {"x": data(shape, seed)})


# ---- the loader with mutated model bytes --------------------------------------------------

def base_model():
    """A small valid model touching many loader paths: raw and typed initializers, int64
    shapes, attributes of several types, an unnamed node, symbolic and fixed dims."""
    rng = np.random.default_rng(0)
    inits = {"w": rng.normal(size=(1, 3, 1, 1)).astype(np.float32),
             "shape": np.array([0, -1], np.int64),
             "idx": np.array([0, 2], np.int64)}
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2],
                              pads=[0, 0, 1, 1], name="pool"),
             helper.make_node("Add", ["p", "w"], ["a"]),
             helper.make_node("Reshape", ["a", "shape"], ["f"], name="flat"),
             helper.make_node("Gather", ["f", "idx"], ["g"], axis=1, name="gather"),
             helper.make_node("Softmax", ["g"], ["y"], axis=-1, name="softmax")]
    if HAVE_CONV:
        inits["cw"] = rng.normal(size=(3, 3, 3, 3)).astype(np.float32)
        inits["fc"] = rng.normal(size=(4, 2)).astype(np.float32)
        nodes[0:1] = [helper.make_node("Conv", ["x", "cw"], ["c"], pads=[1, 1, 1, 1], name="conv"),
                      helper.make_node("Relu", ["c"], ["r"], name="relu")]
        nodes.append(helper.make_node("Gemm", ["y", "fc"], ["z"], transB=1, name="gemm"))
        out = "z"
    else:
        out = "y"
    model = make_model(nodes, [("x", ["N", 3, 4, 4])], [(out, None)], inits)
    # a typed-data initializer and a Constant with a tensor attribute
    model.graph.initializer.append(helper.make_tensor("unused", TensorProto.FLOAT, [2], [1.0, 2.0]))
    return model


BASE = base_model()
BASE_BYTES = BASE.SerializeToString()


def feeds_for(sess):
    feeds = {}
    for arg in sess.get_inputs():
        dims = [d if isinstance(d, int) and d >= 0 else 2 for d in (arg.shape or [2])]
        if int(np.prod(dims, dtype=np.float64)) > 1 << 16:
            return None
        dtype = {"tensor(float)": np.float32, "tensor(int64)": np.int64}.get(arg.type, np.float32)
        feeds[arg.name] = np.ones(dims, dtype)
    return feeds


def load_and_run(src, base_dir=None):
    """Only tinycnn exceptions may escape; anything else fails the test."""
    try:
        sess = tinycnn.InferenceSession(src, small_limits(), base_dir=base_dir)
    except tinycnn.TinyCNNError as e:
        assert str(e), "empty message"
        return "refused"
    feeds = feeds_for(sess)
    if feeds is None:
        return "loaded"
    try:
        sess.run(None, feeds)
    except tinycnn.TinyCNNError:
        return "run refused"
    return "ran"


def check_mutant(data, tmp_path):
    path = tmp_path / "mutant.onnx"
    path.write_bytes(data)
    load_and_run(str(path))    # the file reader walks the wire format itself
    load_and_run(bytes(data), base_dir=str(tmp_path))  # protobuf's parser


@pytest.mark.parametrize("drop", ["input", "output"])
def test_max_pool_without_its_input_or_output_is_refused_cleanly(drop, tmp_path):
    """The base model's MaxPool with no inputs (or no outputs), as the field-edit fuzzer once
    made one: the planner's passes that look for pools (qdq._pair_shared_channels) skip it and
    the load refuses the model with tinycnn's error, not an IndexError."""
    model = onnx.ModelProto()
    model.CopyFrom(BASE)
    pool = next(n for n in model.graph.node if n.op_type == "MaxPool")
    del getattr(pool, drop)[:]
    assert load_and_run(model.SerializeToString()) == "refused"
    assert check_mutant(model.SerializeToString(), tmp_path) is None


def test_base_model_is_valid_and_runs(tmp_path):
    assert check_mutant(BASE_BYTES, tmp_path) is None
    assert load_and_run(BASE_BYTES) == "ran"


@st.composite
def byte_mutation(draw):
    data = bytearray(BASE_BYTES)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "flip", "byte", "truncate", "insert", "delete", "dup"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte":
            data[i] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, draw(st.integers(0, 255))]))
        elif kind == "truncate":
            del data[i:]
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=12))
        elif kind == "delete":
            del data[i:i + draw(st.integers(1, 16))]
        else:
            j = draw(st.integers(i, min(len(data), i + 64)))
            data[j:j] = data[i:j]
    return bytes(data)


@given(data=byte_mutation())
@fuzz_settings(400)
def test_fuzz_loader_with_mutated_bytes(data, tmp_path_factory):
    check_mutant(data, tmp_path_factory.mktemp("m"))


def _repeated(fd):
    rep = getattr(fd, "is_repeated", None)
    return rep if rep is not None else fd.label == fd.LABEL_REPEATED


def _leaves(msg, out, path=()):
    """Every (message, field, index) of scalar fields, and every repeated field, in msg."""
    for fd, value in msg.ListFields():
        if fd.type == fd.TYPE_MESSAGE:
            items = value if _repeated(fd) else [value]
            for k, sub in enumerate(items):
                _leaves(sub, out, path + ((fd.name, k),))
            if _repeated(fd):
                out.append((msg, fd, None))
        elif _repeated(fd):
            for k in range(len(value)):
                out.append((msg, fd, k))
            out.append((msg, fd, None))
        else:
            out.append((msg, fd, -1))
    return out


INTS = [0, 1, -1, 2, 3, 7, 255, 1 << 31, (1 << 31) - 1, (1 << 62), (1 << 63) - 1, -(1 << 63), 10 ** 6]
STRINGS = ["", "x", "y", "r", "p", "w", "shape", "a", "../etc/passwd", "/etc/passwd", "Relu",
           "Conv", "MaxPool", "Loop", "com.example", "ai.onnx", "\0", "\udcff".encode("utf-8", "surrogatepass").decode("latin-1"),
           "NOTSET", "SAME_UPPER", "location", "EXTERNAL"]


@st.composite
def field_edit(draw):
    model = onnx.ModelProto()
    model.CopyFrom(BASE)
    for _ in range(draw(st.integers(1, 3))):
        leaves = _leaves(model, [])
        msg, fd, k = draw(st.sampled_from(leaves))
        if k is None:   # a repeated field: drop, duplicate or reverse its elements
            items = getattr(msg, fd.name)
            action = draw(st.sampled_from(["pop", "dup", "reverse", "clear"]))
            if fd.type == fd.TYPE_MESSAGE:
                kept = [type(items[0])() for _ in items] if len(items) else []
                for a, b in zip(kept, items):
                    a.CopyFrom(b)
            else:
                kept = list(items)
            if action == "pop" and kept:
                kept.pop(draw(st.integers(0, len(kept) - 1)))
            elif action == "dup" and kept:
                kept.append(kept[draw(st.integers(0, len(kept) - 1))])
            elif action == "reverse":
                kept.reverse()
            else:
                kept = []
            del items[:]
            if fd.type == fd.TYPE_MESSAGE:
                for item in kept:
                    items.add().CopyFrom(item)
            else:
                items.extend(kept)
            continue
        if fd.type in (fd.TYPE_INT64, fd.TYPE_INT32, fd.TYPE_UINT64, fd.TYPE_ENUM):
            v = draw(st.sampled_from(INTS) | st.integers(-3, 40))
            if fd.type == fd.TYPE_INT32 or fd.type == fd.TYPE_ENUM:
                v = max(-(1 << 31), min(v, (1 << 31) - 1))
            if fd.type == fd.TYPE_UINT64:
                v = abs(v)
        elif fd.type in (fd.TYPE_FLOAT, fd.TYPE_DOUBLE):
            v = draw(st.sampled_from([0.0, -1.0, float("nan"), float("inf"), 1e30]))
        elif fd.type == fd.TYPE_STRING:
            v = draw(st.sampled_from(STRINGS))
        elif fd.type == fd.TYPE_BYTES:
            v = draw(st.binary(max_size=40)) if draw(st.booleans()) else b"\0" * draw(st.integers(0, 64))
        else:
            continue
        try:
            if k == -1:
                setattr(msg, fd.name, v)
            else:
                getattr(msg, fd.name)[k] = v
        except (ValueError, TypeError):
            pass  # e.g. an enum value protobuf refuses to set: keep the old one
    return model


@given(model=field_edit())
@fuzz_settings(400)
def test_fuzz_loader_with_random_field_edits(model, tmp_path_factory):
    try:
        data = model.SerializeToString()
    except Exception:  # noqa: BLE001 - protobuf may refuse to serialize some edits
        return
    check_mutant(data, tmp_path_factory.mktemp("e"))
    load_and_run(model, base_dir=None)   # the ModelProto route

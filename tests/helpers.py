"""Plain functions shared by the tests (the fixtures are in conftest.py).

- this machine: ``ISAS``, ``requires_avx2``, ``kernel_context``;
- small ONNX models: ``make_model``, ``one_node``, ``pool_net``, ``conv_net``, ``residual_net``, ``x_for``,
  ``model_with_tensor``, ``raw_tensor``, ``save``, ``session_options``;
- the references: onnxruntime (``ort_run``, ``ort_node``, ``compare_with_ort``), ``lrn_ref``;
- comparisons that name the tensor: ``rel_diff``, ``assert_close``, ``assert_same_nan_inf``;
- the CLI, threads and processes: ``run_cli``, ``run_threads``, ``run_in_child``, ``REPO_ROOT``,
  ``DIGIT_SAMPLES``.
"""
import os
import pathlib
import threading
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinycnn
from tinycnn import _kernels

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DIGIT_SAMPLES = REPO_ROOT / "models" / "digits" / "samples"

# ---- this machine ----------------------------------------------------------------------------

HAVE_AVX2 = _kernels.best_isa() in ("avx2", "avx512")
HAVE_AVX512 = _kernels.best_isa() == "avx512"
ISAS = ["portable"] + (["avx2"] if HAVE_AVX2 else [])
requires_avx2 = pytest.mark.skipif(not HAVE_AVX2, reason="CPU lacks AVX2/FMA")


def kernel_context(threads, isa):
    """_kernels.Context(threads, isa) for a kernel test's ctx fixture, the test skipped on a CPU
    without the instruction set."""
    if isa == "avx2" and not HAVE_AVX2:
        pytest.skip("CPU lacks AVX2/FMA")
    if isa == "avx512" and not HAVE_AVX512:
        pytest.skip("CPU lacks AVX-512F")
    return _kernels.Context(threads, isa)


# ---- small models -----------------------------------------------------------------------------

def make_model(nodes, inputs, outputs, initializers=(), opset=13, ir_version=None, name="test"):
    """inputs/outputs: [(name, shape)] float32 (shape entries may be strings); initializers: {name: array}."""
    def vi(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in dict(initializers).items()]
    graph = helper.make_graph(nodes, name, [vi(*i) for i in inputs], [vi(*o) for o in outputs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version or min(model.ir_version, 8)
    return model


def tinycnn_session(model, **options):
    """A tinycnn.InferenceSession of a ModelProto, with SessionOptions attributes from options."""
    return tinycnn.InferenceSession(model.SerializeToString(), session_options(**options))


def one_node(op, inputs, attrs=None, inits=None, x_shape=(1, 2, 8, 8), opset=13, name="n0",
             outputs=("y",)):
    """A model of one node named ``name``; "x" among ``inputs`` is the graph input, of x_shape."""
    node = helper.make_node(op, list(inputs), list(outputs), name=name, **(attrs or {}))
    ins = [("x", list(x_shape))] if "x" in inputs else []
    return make_model([node], ins, [(o, None) for o in outputs], inits or {}, opset=opset)


def pool_net(batch="N", c=3, hw=8, seed=6):
    """relu -> maxpool -> add(weight) -> global average pool: no convolution needed."""
    w = np.random.default_rng(seed).normal(size=(1, c, 1, 1)).astype(np.float32)
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
             helper.make_node("Add", ["p", "w"], ["a"], name="add"),
             helper.make_node("GlobalAveragePool", ["a"], ["y"], name="gap")]
    return make_model(nodes, [("x", [batch, c, hw, hw])], [("y", [batch, c, 1, 1])], {"w": w})


def conv_net(batch="N", seed=6):
    """conv -> relu -> maxpool -> flatten -> gemm, on x[batch, 3, 8, 8]."""
    rng = np.random.default_rng(seed)
    inits = {"w": rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32),
             "b": rng.normal(0, 0.1, 4).astype(np.float32),
             "fc": rng.normal(0, 0.2, (5, 4 * 3 * 3)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
             helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "fc"], ["y"], transB=1, name="fc")]
    return make_model(nodes, [("x", [batch, 3, 8, 8])], [("y", [batch, 5])], inits)


def residual_net(opset=13, batch="N", seed=0):
    """conv-relu-conv(+residual)-relu-maxpool-flatten(view)-gemm on x[batch, 3, 8, 8], the batch
    dynamic (read by Shape-Gather-Unsqueeze-Concat-Reshape): fused as Conv+Relu, Conv+Add+Relu."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32)
    w2 = rng.normal(0, 0.2, (8, 8, 3, 3)).astype(np.float32)
    fc = rng.normal(0, 0.2, (10, 8 * 4 * 4)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("Add", ["c2", "r1"], ["a2"], name="add2"),
        helper.make_node("Relu", ["a2"], ["r2"], name="relu2"),
        helper.make_node("MaxPool", ["r2"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
        helper.make_node("Shape", ["p"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0, name="gather"),
        helper.make_node("Unsqueeze", ["n", "axes0"] if opset >= 13 else ["n"], ["n1"], name="unsq",
                         **({} if opset >= 13 else {"axes": [0]})),
        helper.make_node("Concat", ["n1", "minus1"], ["shp"], axis=0, name="concat"),
        helper.make_node("Reshape", ["p", "shp"], ["flat"], name="reshape"),
        helper.make_node("Gemm", ["flat", "fc", "fcb"], ["logits"], transB=1, name="fc"),
    ]
    inits = {"w1": w1, "b1": rng.normal(0, 0.1, 8).astype(np.float32), "w2": w2, "fc": fc,
             "fcb": rng.normal(0, 0.1, 10).astype(np.float32), "zero": np.array(0, np.int64),
             "minus1": np.array([-1], np.int64)}
    if opset >= 13:
        inits["axes0"] = np.array([0], np.int64)
    return make_model(nodes, [("x", [batch, 3, 8, 8])], [("logits", [batch, 10])], inits, opset=opset)


def model_with_tensor(t, consumer="Relu"):
    """A model whose one node (``consumer``, named "use") reads the initializer ``t``."""
    node = helper.make_node(consumer, [t.name], ["y"], name="use")
    model = make_model([node], [], [("y", None)])
    model.graph.initializer.append(t)
    return model


def raw_tensor(name, dims, raw, data_type=TensorProto.FLOAT):
    """A TensorProto with these dims and raw_data bytes, consistent or not."""
    t = TensorProto()
    t.name, t.data_type = name, data_type
    t.dims.extend(dims)
    t.raw_data = raw
    return t


def save(model, path):
    """onnx.save the model; its path as a str."""
    onnx.save(model, str(path))
    return str(path)


def x_for(batch=2, c=3, hw=8, seed=0):
    """An N(0, 1) float32 input [batch, c, hw, hw] (the feed of pool_net and conv_net)."""
    return np.random.default_rng(seed).normal(size=(batch, c, hw, hw)).astype(np.float32)


def session_options(**settings):
    """tinycnn.SessionOptions with the given attributes set (limits, threads, optimization level)."""
    o = tinycnn.SessionOptions()
    for k, v in settings.items():
        setattr(o, k, v)
    return o


# ---- onnxruntime, the reference -----------------------------------------------------------------

# The int8 weight operand of each integer product: op -> (weight input, its zero point input)
_INT8_WEIGHTS = {"QLinearConv": (3, 5), "QLinearMatMul": (3, 5), "QGemm": (3, 5),
                 "ConvInteger": (1, 3), "MatMulInteger": (1, 3), "DequantizeLinear": (0, 2)}


def exact_int8_for_ort(model):
    """``model`` with every int8 weight initializer of an integer product (and every int8
    initializer a DequantizeLinear reads, the QDQ weights) stored as uint8 + 128 with its zero
    point + 128: the same values after the zero point is taken off, so the same exact results.
    onnxruntime's u8 x s8 kernel on AVX2 without VNNI sums byte pairs with `vpmaddubsw`, which
    saturates at 16 bits (255 x 127 x 2 > 32767): on such a CPU its answer is not the exact one
    (ResNet-18 int8 logits off by up to 0.9), while its u8 x u8 kernel widens to 16 bits and is
    exact. tinycnn is exact on every tier, so this is the reference it is held to."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    made = {}

    def shifted(name, like_scale=None):
        """the uint8 twin of int8 initializer ``name``, or of an absent zero point (0) shaped
        as ``like_scale`` (None: a scalar)"""
        key = (name, like_scale)
        if key not in made:
            if name:
                a = numpy_helper.to_array(inits[name]).astype(np.int16) + 128
            else:
                shape = numpy_helper.to_array(inits[like_scale]).shape if like_scale else ()
                a = np.full(shape, 128, np.int16)
            new = f"{name or like_scale or 'zero_point'}__u8"
            g.initializer.append(numpy_helper.from_array(a.astype(np.uint8), new))
            made[key] = new
        return made[key]

    elem = {v.name: v.type.tensor_type.elem_type for v in list(g.input) + list(g.value_info)}
    elem.update((i.name, i.data_type) for i in g.initializer)
    # QDQ: the activations' type, from the QuantizeLinear zero points (absent: uint8)
    acts_u8 = all(len(n.input) < 3 or not n.input[2] or elem.get(n.input[2]) == TensorProto.UINT8
                  for n in g.node if n.op_type == "QuantizeLinear")
    for n in g.node:
        if n.op_type not in _INT8_WEIGHTS or n.domain not in ("", "ai.onnx", "com.microsoft") \
                or len(n.input) < {"DequantizeLinear": 1, "ConvInteger": 2,
                                   "MatMulInteger": 2}.get(n.op_type, 3):
            continue   # (a malformed node is left for onnxruntime to refuse)
        # onnxruntime has u8 x u8 but no s8 x u8: int8 activations keep int8 weights
        if n.op_type == "DequantizeLinear":
            if not acts_u8:
                continue
        elif n.op_type in ("ConvInteger", "MatMulInteger"):
            if elem.get(n.input[0]) != TensorProto.UINT8 and not (
                    len(n.input) > 2 and elem.get(n.input[2]) == TensorProto.UINT8):
                continue
        elif elem.get(n.input[2]) != TensorProto.UINT8:
            continue
        wi, zi = _INT8_WEIGHTS[n.op_type]
        if len(n.input) <= wi or n.input[wi] not in inits \
                or inits[n.input[wi]].data_type != TensorProto.INT8:
            continue
        zp = n.input[zi] if len(n.input) > zi else ""
        if zp and (zp not in inits or inits[zp].data_type != TensorProto.INT8):
            continue
        scale = n.input[1] if n.op_type == "DequantizeLinear" else \
            n.input[wi + 1] if n.op_type in ("QLinearConv", "QLinearMatMul", "QGemm") else None
        # (no weight zero point: ConvInteger / MatMulInteger's scalar, the others' per scale)
        zp_new = shifted(zp, None if zp else scale)
        n.input[wi] = shifted(n.input[wi])
        while len(n.input) <= zi:
            n.input.append("")
        n.input[zi] = zp_new
    return m


def ort_session(model, exact_int8=True, threads=1):
    """onnxruntime's session (CPU, ``threads`` threads) on a ModelProto, serialized bytes or a
    path; with ``exact_int8``, its int8 weights given to it as uint8 (exact_int8_for_ort)."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3  # errors only: a refusal is an exception, the fuzzers expect many
    if exact_int8:
        if not isinstance(model, onnx.ModelProto):
            model = onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(str(model))
        model = exact_int8_for_ort(model)
    return ort.InferenceSession(model.SerializeToString() if isinstance(model, onnx.ModelProto) else model,
                                opts, providers=["CPUExecutionProvider"])


def ort_run(model, feeds, outputs=None, exact_int8=True):
    """onnxruntime (CPU, one thread) on a ModelProto, serialized bytes or a path (ort_session)."""
    return ort_session(model, exact_int8).run(outputs, feeds)


def ort_node(op, arrays, opset=17, **attrs):
    """onnxruntime's answer for one ``op`` node fed with ``arrays`` (inputs x0, x1, ...): its output."""
    names = [f"x{k}" for k in range(len(arrays))]
    model = make_model([helper.make_node(op, names, ["y"], **attrs)],
                       [(n, list(a.shape)) for n, a in zip(names, arrays)], [("y", None)], opset=opset)
    return ort_run(model, dict(zip(names, arrays)))[0]


def compare_with_ort(model, feeds, rtol=1e-4, options=None, what=""):
    """Run ``model`` in tinycnn and onnxruntime; every output must agree (assert_close, named).
    Returns (tinycnn outputs, onnxruntime outputs)."""
    got = tinycnn.InferenceSession(model, options).run(None, feeds)
    ref = ort_run(model, feeds)
    assert len(got) == len(ref), f"{what}: {len(got)} outputs, onnxruntime {len(ref)}"
    for out, g, r in zip(model.graph.output, got, ref):
        assert_close(g, r, rtol, what=f"{what} output {out.name}".strip())
    return got, ref


# ---- numpy references -----------------------------------------------------------------------------

def lrn_ref(x, size, alpha, beta, bias):
    """LRN as the spec says, in float64: the sum of squares over the channels
    [c - floor((size-1)/2), c + ceil((size-1)/2)] (axis 1), clipped at the ends."""
    sq = x.astype(np.float64) ** 2
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    total = np.zeros_like(sq)
    for c in range(x.shape[1]):
        total[:, c] = sq[:, max(0, c - lo):c + hi + 1].sum(axis=1)
    return x / (bias + alpha / size * total) ** beta


# ---- comparisons --------------------------------------------------------------------------------

def rel_diff(got, ref):
    """max|got - ref| / max|ref| in float64 (NaN if either holds a NaN)."""
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    scale = max(np.abs(ref).max(initial=0.0), 1e-30)
    return float(np.abs(got - ref).max(initial=0.0) / scale)


def assert_close(got, ref, rtol=1e-4, what="output"):
    """Same shape and max|got - ref| / max|ref| <= rtol; the failure names ``what``."""
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != reference {ref.shape}"
    d = rel_diff(got, ref)
    assert d <= rtol, f"{what}: max|diff|/max|ref| = {d:.3g} > {rtol} (shape {ref.shape})"


def assert_same_nan_inf(got, ref, what="output"):
    """NaN at the same places; +-Inf at the same places, with the same signs."""
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg=f"NaN positions of {what}")
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref), err_msg=f"Inf positions of {what}")
    inf = np.isinf(ref)
    np.testing.assert_array_equal(np.sign(got[inf]), np.sign(ref[inf]), err_msg=f"Inf signs of {what}")


# ---- the CLI, threads and child processes ------------------------------------------------------------------

def run_cli(capsys, *argv):
    """``tinycnn <argv>`` in this process: (exit code, stdout, stderr)."""
    from tinycnn import cli
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_threads(worker, count):
    """Run worker(0) ... worker(count - 1) in ``count`` threads at once; the exceptions they
    raised (a thread's exception would otherwise only be printed)."""
    errors = []

    def guarded(t):
        try:
            worker(t)
        except BaseException as e:  # noqa: BLE001 - returned to the test
            errors.append(e)
    threads = [threading.Thread(target=guarded, args=(t,)) for t in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def run_in_child(fn, timeout=60):
    """Run fn() in a fork()ed child; its exit code (0 = fn returned true), or 'timeout' after killing it."""
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 1
        try:
            code = 0 if fn() else 2
        except BaseException:  # noqa: BLE001
            import traceback
            traceback.print_exc()
            code = 3
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return "timeout"


def run_conv_variant(conv, x, shape, variant, residual):
    """Run a _kernels.Conv2d on x as a kernel test's variant asks: "residual-is-y" adds
    into y in place; otherwise into a NaN-filled output with a NaN-filled workspace, so
    that every output must be written and the workspace never read.  Returns y."""
    if variant == "residual-is-y":
        y = residual.copy()
        conv.run(x, y, residual=y)
        return y
    n, _, h, w = x.shape
    y = np.full(shape, np.nan, dtype=np.float32)
    ws = np.full(conv.workspace_size(n, h, w), np.nan, dtype=np.float32)
    conv.run(x, y, residual=residual, workspace=ws)
    return y

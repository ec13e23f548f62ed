"""Fully convolutional models take any spatial size without reloading: plans are cached per
input shape (an LRU), weights are packed once per node whatever the size."""
import numpy as np
from onnx import TensorProto, helper, numpy_helper

import tinycnn
from tinycnn import _kernels as K
from tinycnn import planner
from tinycnn import session as session_module
from helpers import ort_run, rel_diff

RNG = np.random.default_rng(19)


def segmentation_like():
    """Conv /2 -> ReLU -> ConvTranspose 2x2/2 -> Conv 1x1 -> bilinear Resize to the input's size
    (sizes from Shape, as torchvision's segmentation heads export), symbolic H and W."""
    inits = {"w1": RNG.normal(size=(8, 3, 3, 3)) * 0.3, "b1": RNG.normal(size=8),
             "wt": RNG.normal(size=(8, 8, 2, 2)) * 0.3, "w2": RNG.normal(size=(5, 8, 1, 1)) * 0.3,
             "s0": [2], "s1": [4], "z": [0]}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("ConvTranspose", ["r1", "wt"], ["t"], strides=[2, 2]),
             helper.make_node("Conv", ["t", "w2"], ["c2"]),
             helper.make_node("Shape", ["x"], ["xs"]),
             helper.make_node("Slice", ["xs", "s0", "s1", "z"], ["hw"]),
             helper.make_node("Shape", ["c2"], ["cs"]),
             helper.make_node("Slice", ["cs", "z", "s0", "z"], ["nc"]),
             helper.make_node("Concat", ["nc", "hw"], ["sizes"], axis=0),
             helper.make_node("Resize", ["c2", "", "", "sizes"], ["y"], mode="linear")]
    arrays = [numpy_helper.from_array(np.asarray(v, np.float32 if k[0] in "wb" else np.int64), k)
              for k, v in inits.items()]
    graph = helper.make_graph(nodes, "seg", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 5, "h", "w"])], arrays)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def test_any_spatial_size_without_reloading_nor_repacking(monkeypatch):
    model = segmentation_like()
    session = tinycnn.InferenceSession(model.SerializeToString())
    builds, packed = [], []
    real_build = planner.Planner.build
    monkeypatch.setattr(planner.Planner, "build", lambda self, shapes, *args, **kwargs:
                        builds.append(shapes) or real_build(self, shapes, *args, **kwargs))
    for name in ("Conv2d", "ConvTranspose"):  # every weight packing (Conv2d: every algorithm)
        real = getattr(K, name)
        monkeypatch.setattr(K, name, lambda *a, real=real, name=name, **kw: packed.append(
            (name, a[1].shape, kw.get("algo"))) or real(*a, **kw))
    sizes = [(64, 64), (48, 80), (33, 17), (64, 64), (48, 80), (2, 3)] * 3
    for n, (h, w) in enumerate(sizes):
        x = RNG.normal(size=(1 + n % 2, 3, h, w)).astype(np.float32)
        (got,) = session.run(None, {"x": x})
        (ref,) = ort_run(model, {"x": x})
        assert got.shape == ref.shape == (x.shape[0], 5, h, w)
        assert rel_diff(got, ref) <= 1e-5, (h, w, rel_diff(got, ref))
    # each layer's weights packed at the first size, and never again for an algorithm it
    # already has (a size may switch a layer's algorithm: on AVX2 the 1x1 takes the
    # channel-lane tiles on the 2x3 map, a packing of its own, kept beside the first)
    assert len(packed) == len(set(packed)), packed
    assert packed[:3] == [("Conv2d", (8, 3, 3, 3), packed[0][2]), ("ConvTranspose", (8, 8, 2, 2), None),
                          ("Conv2d", (5, 8, 1, 1), packed[2][2])], packed
    assert all(shape == (5, 8, 1, 1) for _, shape, _ in packed[3:]), packed
    distinct = {(1 + n % 2, h, w) for n, (h, w) in enumerate(sizes)}
    # every distinct (batch, size) planned once: the cache holds them all, alternating costs nothing
    assert len(builds) == len(distinct) <= session_module._PLAN_CACHE_SIZE
    # only the plans of the last two shapes keep activation buffers between runs
    idle = [len(plan._free) for plan in session._plans.values()]
    assert idle[-2:] == [1, 1] and not any(idle[:-2]), idle

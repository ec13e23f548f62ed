"""run()'s arguments (issue 6): bad feeds, output names and containers are refused naming the
input; any memory layout of a feed gives the same answer and is left untouched."""
import numpy as np
import pytest

import tinycnn
from tinycnn import InvalidArgument, TinyCNNError
from helpers import conv_net, pool_net, x_for


@pytest.fixture(scope="module")
def pool_session():
    return tinycnn.InferenceSession(pool_net())


@pytest.mark.parametrize("feed,message", [
    ({}, r"missing input\(s\) \['x'\]"),
    ({"x": None, "extra": None}, r"unknown input name\(s\) \['extra'\]; the model's inputs are \['x'\]"),
    ({"x": x_for().astype(np.float64)}, "input 'x' has dtype float64; the model expects tensor\\(float\\)"),
    ({"x": x_for().astype(np.float16)}, "input 'x' has dtype float16"),
    ({"x": x_for()[0]}, r"input 'x' has rank 3 \(shape \(3, 8, 8\)\); the model expects rank 4"),
    ({"x": x_for()[None]}, "input 'x' has rank 5"),
    ({"x": np.zeros((1, 4, 8, 8), np.float32)}, r"dimension 1 must be 3 \(the model expects \['N', 3, 8, 8\]\)"),
    ({"x": np.zeros((1, 3, 8, 9), np.float32)}, "dimension 3 must be 8"),
    ({"x": [[1.0]]}, r"input 'x' has rank 2 \(shape \(1, 1\)\)"),  # a list, made a tensor
    ({"x": 3.0}, "input 'x' must be a numpy array or a list, got float"),
    ({"x": [[1.0], [2.0, 3.0]]}, "input 'x': cannot make a tensor.float. tensor of the list"),
])
def test_bad_feeds_name_the_input(pool_session, feed, message):
    with pytest.raises(InvalidArgument, match=message):
        pool_session.run(None, feed)


def test_bad_output_names_and_feed_container(pool_session):
    x = x_for()
    with pytest.raises(InvalidArgument, match="output 'nope' is not a tensor of this model"):
        pool_session.run(["nope"], {"x": x})
    with pytest.raises(TypeError, match="output_names must be a list"):
        pool_session.run("y", {"x": x})
    with pytest.raises(TypeError, match="input_feed must be a dict"):
        pool_session.run(None, [("x", x)])


def test_zero_batch_is_refused_or_empty(pool_session):
    try:
        (y,) = pool_session.run(None, {"x": np.zeros((0, 3, 8, 8), np.float32)})
    except TinyCNNError as e:
        assert "x" in str(e) or "node" in str(e)
    else:
        assert y.shape == (0, 3, 1, 1)


@pytest.mark.parametrize("layout", ["fortran", "strided", "negative", "transposed", "readonly",
                                    "unaligned", "big-endian"])
def test_any_memory_layout_gives_the_same_answer(pool_session, layout):
    x = x_for(3)
    ref = pool_session.run(None, {"x": x})[0]
    if layout == "fortran":
        v = np.asfortranarray(x)
    elif layout == "strided":
        v = np.repeat(x, 2, axis=3)[..., ::2]
    elif layout == "negative":
        v = x[..., ::-1].copy()[..., ::-1]
    elif layout == "transposed":
        v = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    elif layout == "readonly":
        v = x.copy()
        v.flags.writeable = False
    elif layout == "unaligned":
        buf = np.zeros(x.size * 4 + 1, np.uint8)
        v = np.frombuffer(buf[1:].data, np.float32).reshape(x.shape)
        v[...] = x
    else:
        v = x.astype(">f4")
    if layout == "big-endian":
        # onnxruntime refuses non-native byte order as a different type; so may we, cleanly.
        try:
            got = pool_session.run(None, {"x": v})[0]
        except InvalidArgument as e:
            assert "'x'" in str(e)
            return
    else:
        got = pool_session.run(None, {"x": v})[0]
    np.testing.assert_array_equal(got, ref, err_msg=f"layout {layout}")
    np.testing.assert_array_equal(v, x)  # the feed was not modified


def test_non_contiguous_feeds_on_a_conv_net():
    sess = tinycnn.InferenceSession(conv_net())
    x = x_for(2)
    ref = sess.run(None, {"x": x})[0]
    for v in (np.asfortranarray(x), np.repeat(x, 2, axis=2)[:, :, ::2], np.repeat(x, 2, axis=3)[..., ::2]):
        np.testing.assert_array_equal(sess.run(None, {"x": v})[0], ref)

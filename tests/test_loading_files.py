"""Loading a model safely (issue 6): every bad path, file, external-data entry or tensor record
gets an InvalidModel/ResourceLimit that names the culprit, and nothing is read outside the
model's folder.  Every bad model is built here, by the test, and every message is checked.
"""
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto

import tinycnn
from tinycnn import InvalidArgument, InvalidModel, ResourceLimit, TinyCNNError, UnsupportedOperator
from helpers import assert_close, conv_net, model_with_tensor, ort_run, pool_net, raw_tensor, save, x_for


# ---- the exception hierarchy ---------------------------------------------------------------

def test_exception_hierarchy_subclasses_the_builtins():
    assert issubclass(InvalidModel, ValueError) and issubclass(InvalidModel, TinyCNNError)
    assert issubclass(InvalidArgument, ValueError) and issubclass(InvalidArgument, TinyCNNError)
    assert issubclass(ResourceLimit, ValueError) and issubclass(ResourceLimit, TinyCNNError)
    assert issubclass(UnsupportedOperator, NotImplementedError)
    assert issubclass(UnsupportedOperator, TinyCNNError)
    for cls in (InvalidModel, InvalidArgument, ResourceLimit, UnsupportedOperator):
        assert getattr(tinycnn, cls.__name__) is cls


# ---- paths and files -------------------------------------------------------------------------

def test_missing_path_is_refused_with_the_path(tmp_path):
    path = tmp_path / "nope.onnx"
    with pytest.raises(InvalidModel, match="nope.onnx.*no such file"):
        tinycnn.InferenceSession(str(path))
    with pytest.raises(InvalidModel, match="no such file"):
        tinycnn.InferenceSession(str(tmp_path / "a\0b.onnx"))


def test_directory_is_refused(tmp_path):
    with pytest.raises(InvalidModel, match=f"{tmp_path.name}.*is a directory"):
        tinycnn.InferenceSession(str(tmp_path))


def test_empty_file_and_empty_bytes_are_refused(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(InvalidModel, match="empty.onnx: empty file"):
        tinycnn.InferenceSession(str(path))
    with pytest.raises(InvalidModel, match="empty"):
        tinycnn.InferenceSession(b"")


@pytest.mark.parametrize("content", [b"this is not an onnx model\n", bytes(range(256)) * 4,
                                     b"\x08" * 1000, b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"])
def test_not_an_onnx_file_is_refused(tmp_path, content):
    path = tmp_path / "junk.onnx"
    path.write_bytes(content)
    with pytest.raises(InvalidModel, match="junk.onnx"):
        tinycnn.InferenceSession(str(path))
    with pytest.raises(InvalidModel, match="<bytes>"):
        tinycnn.InferenceSession(content)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_or_device_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)  # opening it would block forever waiting for a writer
    with pytest.raises(InvalidModel, match="not a regular file"):
        tinycnn.InferenceSession(str(fifo))
    if os.path.exists("/dev/zero"):
        with pytest.raises(InvalidModel, match="/dev/zero: not a regular file"):
            tinycnn.InferenceSession("/dev/zero")


def test_truncated_files_are_refused_at_every_cut(tmp_path):
    """Cut a valid model with raw initializers at ~120 points: always InvalidModel, never a crash."""
    data = pool_net().SerializeToString()
    cuts = sorted(set(list(range(1, 40)) + list(np.linspace(40, len(data) - 1, 80).astype(int))))
    path = tmp_path / "cut.onnx"
    for cut in cuts:
        path.write_bytes(data[:cut])
        for src in (str(path), data[:cut]):
            try:
                tinycnn.InferenceSession(src)
            except (InvalidModel, UnsupportedOperator) as e:
                assert "cut.onnx" in str(e) or "<bytes>" in str(e) or "node" in str(e), str(e)
            # A cut that happens to leave a well-formed smaller model may load: that is fine.


def test_unreadable_file_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "secret.onnx"
    save(pool_net(), path)
    real_open = open

    def deny(file, *a, **k):  # permission bits do not stop root (CI), so the OS refusal is simulated
        if os.fspath(file) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(file, *a, **k)
    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(InvalidModel, match="secret.onnx: cannot read"):
        tinycnn.InferenceSession(str(path))


def test_model_argument_of_the_wrong_type():
    with pytest.raises(TypeError, match="path, bytes or onnx.ModelProto"):
        tinycnn.InferenceSession(12345)


# ---- external data ---------------------------------------------------------------------------

def external_model(tmp_path, name="net.onnx", data="net.onnx.data"):
    """pool_net saved with its weight in external data; returns (folder, path, ModelProto)."""
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    model = pool_net()
    onnx.save_model(model, folder / name, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data, size_threshold=0)
    return folder, folder / name, onnx.load(folder / name, load_external_data=False)


def set_external(model, **kv):
    """Edit every external-data entry of the model's initializers (None removes a key)."""
    for t in model.graph.initializer:
        entries = {e.key: e.value for e in t.external_data}
        entries.update({k: v for k, v in kv.items() if v is not None})
        for k, v in kv.items():
            if v is None:
                entries.pop(k, None)
        del t.external_data[:]
        for k, v in entries.items():
            e = t.external_data.add()
            e.key, e.value = k, str(v)
    return model


def test_external_data_inside_the_folder_loads(tmp_path):
    """Three initializers in one data file (each at its own offset), as onnx.save writes them."""
    model = conv_net()
    x = x_for()
    ref = ort_run(model, {"x": x})[0]
    in_memory = tinycnn.InferenceSession(model).run(None, {"x": x})[0]
    path = tmp_path / "net.onnx"
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="net.onnx.data", size_threshold=0)
    stored = onnx.load(str(path), load_external_data=False)
    assert all(t.data_location == TensorProto.EXTERNAL for t in stored.graph.initializer)
    assert (tmp_path / "net.onnx.data").stat().st_size == 4 * (4 * 3 * 3 * 3 + 4 + 5 * 4 * 3 * 3)
    got = tinycnn.InferenceSession(str(path)).run(None, {"x": x})[0]
    assert_close(got, ref, rtol=1e-5, what="y of the model with external data")
    np.testing.assert_array_equal(got, in_memory)


@pytest.mark.parametrize("location,message", [
    ("/etc/passwd", "relative path"),
    ("../outside.data", "outside the model's folder"),
    ("sub/../../outside.data", "outside the model's folder"),
    ("link.data", "outside the model's folder"),
    ("linkdir/outside.data", "outside the model's folder"),
    ("", "relative path"),
    ("net\0.data", "relative path"),
    ("missing.data", "not found"),
    ("subdir", "not found"),
])
def test_external_data_location_must_stay_inside_the_folder(tmp_path, location, message):
    folder, path, model = external_model(tmp_path)
    outside = tmp_path / "outside.data"
    os.replace(folder / "net.onnx.data", outside)
    (folder / "link.data").symlink_to(outside)
    (folder / "linkdir").symlink_to(tmp_path)
    (folder / "subdir").mkdir()
    (folder / "sub").mkdir()
    save(set_external(model, location=location), path)
    with pytest.raises(InvalidModel, match=f"initializer 'w'.*{message}"):
        tinycnn.InferenceSession(str(path))


def test_external_data_symlink_inside_the_folder_is_allowed(tmp_path):
    folder, path, model = external_model(tmp_path)
    (folder / "alias.data").symlink_to(folder / "net.onnx.data")
    save(set_external(model, location="alias.data"), path)
    tinycnn.InferenceSession(str(path))


@pytest.mark.parametrize("edit,message", [
    ({"offset": "4"}, r"lies outside 'net.onnx.data' \(12 bytes\)"),
    ({"offset": "100", "length": "12"}, "lies outside"),
    ({"offset": "-4"}, "lies outside"),
    ({"length": "8"}, r"length 8 != 3 elements x 4 bytes"),
    ({"length": "16"}, "lies outside"),
    ({"offset": "four"}, "bad external data offset/length"),
    ({"length": "1e3"}, "bad external data offset/length"),
    ({"basepath": "/etc"}, "unknown external data key 'basepath'"),
    ({"location": None}, "relative path"),
])
def test_external_data_offset_length_and_keys_are_checked(tmp_path, edit, message):
    folder, path, model = external_model(tmp_path)
    assert os.path.getsize(folder / "net.onnx.data") == 12  # w: 1x3x1x1 float32
    save(set_external(model, **edit), path)
    with pytest.raises(InvalidModel, match=message):
        tinycnn.InferenceSession(str(path))


def test_external_data_checksum_key_is_accepted(tmp_path):
    folder, path, model = external_model(tmp_path)
    save(set_external(model, checksum="0123abcd"), path)
    tinycnn.InferenceSession(str(path))


def test_bytes_or_modelproto_with_external_data_need_base_dir(tmp_path):
    folder, path, model = external_model(tmp_path)
    x = x_for()
    ref = tinycnn.InferenceSession(str(path)).run(None, {"x": x})[0]
    for src in (model, model.SerializeToString()):
        with pytest.raises(InvalidModel, match="initializer 'w' uses external data.*base folder"):
            tinycnn.InferenceSession(src)
        got = tinycnn.InferenceSession(src, base_dir=str(folder)).run(None, {"x": x})[0]
        np.testing.assert_array_equal(got, ref)
    # base_dir does not open the door to other folders
    save(set_external(model, location="../outside.data"), path)
    (tmp_path / "outside.data").write_bytes(b"\0" * 12)
    with pytest.raises(InvalidModel, match="outside the model's folder"):
        tinycnn.InferenceSession(onnx.load(str(path), load_external_data=False),
                                 base_dir=str(folder))


# ---- tensor records ----------------------------------------------------------------------------

@pytest.mark.parametrize("dims,raw,message", [
    ([2, 3], b"\0" * 20, "raw_data has 20 bytes, dims .2, 3. of float32 need 24"),
    ([2, 3], b"\0" * 28, "raw_data has 28 bytes"),
    ([-1, 3], b"\0" * 12, r"negative dims \(-1, 3\)"),
    ([0, 1 << 62, 1 << 62], b"", "overflow a 64-bit size"),
    ([1 << 20, 1 << 20], b"\0" * 4, "over the limit"),
    ([1 << 40, 1 << 40], b"\0" * 4, "overflow a 64-bit size"),
])
def test_tensor_dims_and_raw_data_length_are_checked(tmp_path, dims, raw, message):
    model = model_with_tensor(raw_tensor("w", dims, raw))
    path = save(model, tmp_path / "t.onnx")
    for src, where in ((path, "t.onnx"), (model, "<ModelProto>"), (model.SerializeToString(), "<bytes>")):
        with pytest.raises((InvalidModel, ResourceLimit), match=f"{where}.*tensor 'w'.*{message}"):
            tinycnn.InferenceSession(src)


def test_unknown_element_type_is_refused(tmp_path):
    model = model_with_tensor(raw_tensor("w", [2], b"\0" * 8, data_type=77))
    for src in (save(model, tmp_path / "t.onnx"), model):
        with pytest.raises(InvalidModel, match="tensor 'w'.*unknown ONNX element type 77"):
            tinycnn.InferenceSession(src)


def test_typed_data_count_must_match_dims():
    t = TensorProto()
    t.name, t.data_type = "w", TensorProto.FLOAT
    t.dims.extend([2, 3])
    t.float_data.extend([1.0] * 5)
    with pytest.raises(InvalidModel, match="tensor 'w'"):
        tinycnn.InferenceSession(model_with_tensor(t))


def test_duplicate_initializers_are_refused(tmp_path):
    model = model_with_tensor(raw_tensor("w", [2], b"\0" * 8))
    model.graph.initializer.append(raw_tensor("w", [2], b"\0" * 8))
    for src in (save(model, tmp_path / "t.onnx"), model):
        with pytest.raises(InvalidModel, match="initializer 'w' is defined twice"):
            tinycnn.InferenceSession(src)


def test_raw_data_with_a_wrong_wire_type_is_not_misread(tmp_path):
    """A raw_data field encoded as a varint: protobuf's reading decides, not the fast walker."""
    model = model_with_tensor(raw_tensor("w", [2], b"\0" * 8))
    data = model.SerializeToString()
    good = bytes([(9 << 3) | 2, 8]) + b"\0" * 8
    bad = bytes([(9 << 3) | 0, 5])  # field 9 (raw_data) as a varint
    assert data.count(good) == 1
    path = tmp_path / "w.onnx"
    path.write_bytes(data.replace(good, bad))
    with pytest.raises(TinyCNNError):
        tinycnn.InferenceSession(str(path))


"""`tinycnn infer` end to end on the bundled digits model, and the CLI's error handling."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from PIL import Image  # noqa: E402

import tinycnn  # noqa: E402
from tinycnn import classify, cli  # noqa: E402
from tinycnn.cli.models import DIGITS_MODEL  # noqa: E402
from tinycnn.loader import load_model  # noqa: E402
from helpers import DIGIT_SAMPLES, run_cli


def run_module(cwd, *argv):
    """`python -m tinycnn ...` in a subprocess that imports the tinycnn these tests import
    (installed or built in place), not whatever a working directory would shadow it with."""
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(tinycnn.__file__))))
    return subprocess.run([sys.executable, "-m", "tinycnn", *map(str, argv)], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=120)


def sample(d):
    return str(DIGIT_SAMPLES / f"digit_{d}.png")


def _one_error_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert lines[0].startswith("tinycnn: error: "), lines[0]
    return lines[0]


def test_bundled_files_exist():
    assert os.path.getsize(DIGITS_MODEL) < 1_000_000
    with open(os.path.join(classify.DATA_DIR, "digits_labels.txt")) as f:
        assert f.read().split() == [str(d) for d in range(10)]
    names = classify.read_labels(classify.IMAGENET_LABELS)
    assert len(names) == 1000 and names[0] == "tench" and names[999] == "toilet paper"
    for d in range(10):
        assert os.path.exists(sample(d)), sample(d)


@pytest.mark.parametrize("d", range(10))
def test_infer_samples_default_model(capsys, d):
    code, out, err = run_cli(capsys, "infer", sample(d), "--top", 3)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == sample(d)
    assert len(lines) == 4, out
    pct, label = lines[1].split()[:2]
    assert label == str(d), f"digit_{d}.png classified as {label}:\n{out}"
    assert float(pct.rstrip("%")) > 50.0, out


def test_infer_json_with_explicit_model_and_many_images(capsys):
    paths = [sample(d) for d in range(10)]
    code, out, err = run_cli(capsys, "infer", DIGITS_MODEL, *paths, "--json", "--batch", 4, "--top", 10)
    assert code == 0, err
    objs = [json.loads(line) for line in out.splitlines()]
    assert [o["image"] for o in objs] == paths
    for d, o in enumerate(objs):
        top = o["top"]
        assert len(top) == 10
        assert top[0]["label"] == str(d) and top[0]["index"] == d, o
        probs = [t["probability"] for t in top]
        assert probs == sorted(probs, reverse=True)
        assert abs(sum(probs) - 1.0) < 1e-5, f"10 of 10 classes should sum to 1, got {sum(probs)}"
    assert "infer" in err  # more than a handful of images: tqdm progress bar on stderr


def test_infer_folder_labels_and_python_m(tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for d in (7, 2):
        Image.open(sample(d)).convert("RGB").save(folder / f"x{d}.jpg", quality=95)  # JPEG, color
    labels = tmp_path / "names.txt"
    labels.write_text("\n".join(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]))
    code, out, err = run_cli(capsys, "infer", str(folder), "--labels", str(labels), "--json", "--top", 1)
    assert code == 0, err
    got = {os.path.basename(json.loads(line)["image"]): json.loads(line)["top"][0]["label"] for line in out.splitlines()}
    assert got == {"x2.jpg": "two", "x7.jpg": "seven"}
    proc = run_module(tmp_path, "infer", sample(4), "--top", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1].split()[1] == "4", proc.stdout


def test_softmax_only_when_needed():
    logits = np.array([[1.0, 2.0, 3.0]])
    p, applied = classify.to_probabilities(logits)
    assert applied and np.allclose(p, np.exp(logits) / np.exp(logits).sum())
    dist = np.array([[0.2, 0.5, 0.3]])
    p, applied = classify.to_probabilities(dist)
    assert not applied and np.allclose(p, dist)


def test_top_k_and_labels(tmp_path):
    p = np.array([0.1, 0.4, 0.1, 0.4])
    assert classify.top_k(p, 3, ["a", "b"]) == [
        {"index": 1, "label": "b", "probability": 0.4}, {"index": 3, "label": "3", "probability": 0.4},
        {"index": 0, "label": "a", "probability": 0.1}]
    assert len(classify.top_k(p, 10)) == 4
    imagenet = classify.read_labels(classify.IMAGENET_LABELS)
    assert classify.labels_for(1001, {}) == ["background"] + imagenet
    assert classify.labels_for(10, {"tinycnn.labels": "digits_labels.txt"}) == [str(d) for d in range(10)]
    assert classify.labels_for(7, {}) is None
    short = tmp_path / "short.txt"
    short.write_text("cat\ndog\n\n")
    with pytest.raises(classify.LabelError, match="short.txt: 2 labels for a model with 3 classes"):
        classify.labels_for(3, {}, str(short))


def test_preprocessing_from_model_metadata():
    from tinycnn.cli.images import preprocessing_for

    meta = load_model(DIGITS_MODEL).metadata
    ns = cli.build_parser().parse_args(["infer", "x.png"])
    spec = preprocessing_for(ns, meta)
    assert spec.name == "none" and spec.polarity == "light-on-dark" and spec.crop_ratio == 1.0
    ns = cli.build_parser().parse_args(["infer", "x.png", "--preset", "caffe", "--mean", "1", "2", "3"])
    spec = preprocessing_for(ns, meta)
    assert spec.bgr and spec.mean == (1.0, 2.0, 3.0) and spec.polarity is None


# ---- errors: one line on stderr, exit code 2, the culprit named ----

def test_missing_image(capsys, tmp_path):
    code, out, err = run_cli(capsys, "infer", tmp_path / "nothere.png")
    assert code == 2
    assert "nothere.png" in _one_error_line(err)


def test_not_onnx_model(capsys, tmp_path):
    fake = tmp_path / "model.onnx"
    fake.write_text("definitely not protobuf\n" * 20)
    code, out, err = run_cli(capsys, "infer", fake, sample(1))
    assert code == 2
    line = _one_error_line(err)
    assert "model.onnx" in line and "not a valid ONNX model" in line
    code, out, err = run_cli(capsys, "summary", tmp_path / "absent.onnx")
    assert code == 2 and "absent.onnx" in _one_error_line(err)


@pytest.mark.parametrize("command", ["infer", "verify", "summary", "bench", "profile"])
def test_model_file_errors_are_the_librarys(capsys, tmp_path, command):
    """A missing file, a folder, a FIFO (never opened: it would block) and a file that is not
    ONNX: one line, the loader's own message."""
    from tinycnn.errors import InvalidModel

    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08" * 100)
    folder = tmp_path / "folder.onnx"
    folder.mkdir()
    for path in (tmp_path / "absent.onnx", folder, fifo, garbage):
        with pytest.raises(InvalidModel) as want:
            load_model(str(path))
        argv = [command, path] + ([sample(1)] if command == "infer" else [])
        code, out, err = run_cli(capsys, *argv)
        assert code == 2 and _one_error_line(err) == f"tinycnn: error: {want.value}", (command, path)


def test_unsupported_op(capsys, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Einsum", ["x", "x"], ["y"], name="the_einsum", equation="nchw,nchw->nchw")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])])
    path = tmp_path / "einsum.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    for argv in (["infer", path, sample(1)], ["summary", path]):
        code, out, err = run_cli(capsys, *argv)
        assert code == 2
        line = _one_error_line(err)
        assert "einsum.onnx: tinycnn cannot run this model" in line and "Einsum" in line, line


def test_usage_errors_are_one_line(capsys):
    code, out, err = run_cli(capsys, "infer", sample(1), "--top", "0")
    assert code == 2 and "--top" in _one_error_line(err)
    code, out, err = run_cli(capsys, "frobnicate")
    assert code == 2 and "frobnicate" in _one_error_line(err)


def test_debug_shows_traceback(tmp_path):
    proc = run_module(tmp_path, "--debug", "summary", str(tmp_path / "x.onnx"))
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "x.onnx" in proc.stderr


def _gap_classifier(path, classes, winner, batch="N", spatial=("H", "W"), channel_weights=(1.0, 1.0, 1.0)):
    """x[batch, 3, H, W] -> GlobalAveragePool -> Flatten -> Gemm: class `winner` scores the weighted
    channel means, every other class scores 0."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.zeros((classes, 3), np.float32)
    w[winner] = channel_weights
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w", "b"], ["y"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "gap", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, *spatial])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, classes])],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.zeros(classes, np.float32), "b")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return str(path)


def test_imagenet_names_for_1000_classes(tmp_path, capsys):
    model = _gap_classifier(tmp_path / "cat.onnx", 1000, 281)
    white = tmp_path / "white.png"
    Image.new("RGB", (300, 200), (255, 255, 255)).save(white)
    code, out, err = run_cli(capsys, "infer", model, white, "--top", 2)
    assert code == 0, err
    assert out.splitlines()[1].endswith("tabby cat (281)"), out


def test_fixed_batch_model_pads_the_last_batch(tmp_path, capsys):
    import onnx

    model = onnx.load(DIGITS_MODEL)
    for vi in (model.graph.input[0], model.graph.output[0]):
        vi.type.tensor_type.shape.dim[0].dim_value = 2  # batch fixed at 2
    path = tmp_path / "digits_b2.onnx"
    onnx.save(model, path)
    code, out, err = run_cli(capsys, "infer", path, sample(6), sample(0), sample(9), "--json", "--top", 1)
    assert code == 0, err
    assert [json.loads(line)["top"][0]["label"] for line in out.splitlines()] == ["6", "0", "9"]
    code, out, err = run_cli(capsys, "bench", path, "--batch", 3)
    assert code == 2 and "fixed batch of 2" in _one_error_line(err)


def test_model_with_external_data(tmp_path, capsys):
    import onnx

    model = onnx.load(DIGITS_MODEL)
    path = tmp_path / "ext.onnx"
    onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location="ext.onnx.data",
              size_threshold=0)
    assert os.path.exists(tmp_path / "ext.onnx.data")
    code, out, err = run_cli(capsys, "infer", path, sample(8), "--top", 1)
    assert code == 0 and out.splitlines()[1].split()[1] == "8", out + err
    code, out, err = run_cli(capsys, "summary", path)
    assert code == 0 and "parameters   " in out and "MACs         533,824" in out, out + err
    code, out, err = run_cli(capsys, "verify", path, "--all-layers")
    assert code == 0, out + err


def test_without_pillow(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    code, out, err = run_cli(capsys, "infer", sample(2))
    assert code == 2
    assert _one_error_line(err) == "tinycnn: error: infer needs Pillow to read images: pip install tinycnn[cli]"


@pytest.mark.parametrize("preset,first_channel", [
    ("imagenet", (200 / 255 - 0.485) / 0.229),  # R first, torchvision statistics
    ("caffe", 50 - 103.939),                    # B first, 0..255 minus the BGR mean
    ("none", 200 / 255),
])
def test_presets_end_to_end(tmp_path, capsys, preset, first_channel):
    """Two classes: logit 0 = mean of the first input channel, logit 1 = 0; so p0 = sigmoid(channel 0)."""
    model = _gap_classifier(tmp_path / "two.onnx", 2, 0, spatial=(16, 16), channel_weights=(1.0, 0.0, 0.0))
    img = tmp_path / "solid.png"
    Image.new("RGB", (40, 30), (200, 100, 50)).save(img)
    code, out, err = run_cli(capsys, "infer", model, img, "--preset", preset, "--json")
    assert code == 0, err
    top = {t["index"]: t["probability"] for t in json.loads(out)["top"]}
    want = 1.0 / (1.0 + np.exp(-first_channel))
    assert top[0] == pytest.approx(want, rel=1e-4), (preset, top, want)

"""The bundled digits model: at least 95% on scikit-learn's held-out digits, through tinycnn, both
from arrays and from PNG files through `tinycnn infer`'s preprocessing."""
import importlib.util
import json
import os

import numpy as np
import pytest

import sklearn  # noqa: F401  (a test extra: missing means a broken install)
import PIL  # noqa: F401  (a test extra: missing means a broken install)

import tinycnn  # noqa: E402
from tinycnn import cli  # noqa: E402
from tinycnn.cli.models import DIGITS_MODEL  # noqa: E402
from tinycnn.images import preprocessing_for  # noqa: E402
from tinycnn.loader import load_model  # noqa: E402
from helpers import REPO_ROOT

MIN_ACCURACY = 0.95


def _train_digits():
    spec = importlib.util.spec_from_file_location("train_digits", REPO_ROOT / "models" / "train_digits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


td = _train_digits()


@pytest.fixture(scope="module")
def held_out():
    _, X_test, _, y_test = td.split()  # the same seeded, stratified split as training
    assert len(X_test) == 450
    return X_test, y_test


def test_metadata_and_size():
    model = load_model(DIGITS_MODEL)
    assert os.path.getsize(DIGITS_MODEL) < 200_000
    meta = model.metadata
    assert meta["tinycnn.preset"] == "none" and meta["tinycnn.polarity"] == "light-on-dark"
    assert "tinycnn.invert" not in meta
    assert model.opsets[""] == 13
    assert model.inputs[0].dims[1:] == (1, 8, 8)
    assert isinstance(model.inputs[0].dims[0], str), "batch axis should be dynamic"


def test_accuracy_from_arrays(held_out):
    X, y = held_out
    sess = tinycnn.InferenceSession(DIGITS_MODEL)
    logits = sess.run(None, {sess.get_inputs()[0].name: td.to_array(X)})[0]
    assert logits.shape == (len(X), 10)
    accuracy = float((logits.argmax(1) == y).mean())
    assert accuracy >= MIN_ACCURACY, f"held-out accuracy from arrays {accuracy:.4f}"


def _write_pngs(folder, X, y, light_on_dark):
    """The held-out digits as PNG files, as stored (8x8) and drawn larger (smoothly) as a user's
    picture would be; the true digit is in the name."""
    folder.mkdir()
    sizes = [8, 28, 64, 128]
    for i, img in enumerate(X):
        td.to_picture(img, sizes[i % len(sizes)], light_on_dark=light_on_dark).save(folder / f"{i:03d}_{y[i]}.png")
    return folder


def _infer_accuracy(capsys, folder, *options):
    code = cli.main(["infer", str(folder), "--json", "--top", "1", "--batch", "64", "--no-progress", *options])
    out, err = capsys.readouterr()
    assert code == 0, err
    results = [json.loads(line) for line in out.splitlines()]
    truth = np.array([int(os.path.basename(r["image"]).split("_")[1].split(".")[0]) for r in results])
    predicted = np.array([int(r["top"][0]["label"]) for r in results])
    return len(results), float((predicted == truth).mean())


@pytest.mark.parametrize("light_on_dark", [False, True], ids=["dark-on-light", "light-on-dark"])
def test_accuracy_from_png_files_through_infer(held_out, tmp_path, capsys, light_on_dark):
    """Both polarities: the polarity of each picture is read from its border."""
    X, y = held_out
    folder = _write_pngs(tmp_path / "digits", X, y, light_on_dark)
    n, accuracy = _infer_accuracy(capsys, folder)
    assert n == len(X)
    assert accuracy >= MIN_ACCURACY, f"held-out accuracy from PNG files, {folder.name}: {accuracy:.4f}"


def test_polarity_flag_forces_it(held_out, tmp_path, capsys):
    X, y = held_out
    X, y = X[:120], y[:120]
    light = _write_pngs(tmp_path / "light", X, y, light_on_dark=True)
    dark = _write_pngs(tmp_path / "dark", X, y, light_on_dark=False)
    assert _infer_accuracy(capsys, light, "--polarity", "light-on-dark")[1] >= MIN_ACCURACY
    assert _infer_accuracy(capsys, dark, "--polarity", "dark-on-light")[1] >= MIN_ACCURACY
    # Forced wrong, every picture is inverted the wrong way: what infer did before it read borders.
    wrong = _infer_accuracy(capsys, light, "--polarity", "dark-on-light")[1]
    assert wrong < 0.5, f"forcing the wrong polarity should break the model, got {wrong:.3f}"


def test_pictures_and_arrays_agree(held_out):
    """The preprocessing of an 8x8 PNG reproduces the array input exactly (up to 8-bit rounding)."""
    from tinycnn.images import preprocess

    X, _ = held_out
    spec = preprocessing_for(load_model(DIGITS_MODEL).metadata)
    for img in X[:20]:
        x = preprocess(td.to_picture(img, 8), (8, 8), 1, spec)
        np.testing.assert_allclose(x[0], img / 16.0, atol=1.0 / 255.0, err_msg="8x8 PNG vs array")

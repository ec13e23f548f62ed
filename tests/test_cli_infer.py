"""`tinycnn infer` at scale and beyond classifiers: pictures that cannot be read, --output as JSON
lines or Parquet, --task raw, --save-outputs; and tinycnn.pipeline, the library under it."""
import json
import sys

import numpy as np
import onnx
import pytest
from onnx import helper

from PIL import Image

from helpers import DIGIT_SAMPLES, make_model, ort_run, run_cli
from tinycnn.cli.models import DIGITS_MODEL
from tinycnn.images import load_and_preprocess, preprocessing_for
from tinycnn.loader import load_model
from tinycnn.pipeline import (ImagePipeline, flat_result, output_statistics, result_from_flat,
                              task_for)





def sample(d):
    return str(DIGIT_SAMPLES / f"digit_{d}.png")


def _digits_input(path):
    spec = preprocessing_for(load_model(DIGITS_MODEL).metadata)
    return load_and_preprocess(path, (8, 8), 1, spec)


@pytest.fixture
def mixed_folder(tmp_path):
    """Six good digit pictures and four bad files, interleaved in name order: a truncated PNG, an
    empty JPEG, text named .png, and a folder named like a picture."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = {}
    for k, d in enumerate([3, 1, 4, 5, 9, 2]):
        name = f"{2 * k:02d}_digit{d}.png"
        Image.open(sample(d)).save(folder / name)
        good[str(folder / name)] = str(d)
    (folder / "01_truncated.png").write_bytes(open(sample(7), "rb").read()[:60])
    (folder / "03_empty.jpg").write_bytes(b"")
    (folder / "05_text.png").write_text("not a picture\n")
    (folder / "07_folder.png").mkdir()
    bad = [str(folder / n) for n in ("01_truncated.png", "03_empty.jpg", "05_text.png", "07_folder.png")]
    return folder, good, bad


# ---- pictures that cannot be read ----

def test_bad_images_do_not_end_the_job_text(capsys, mixed_folder):
    folder, good, bad = mixed_folder
    code, out, err = run_cli(capsys, "infer", folder, "--batch", 4, "--top", 1, "--no-progress")
    assert code == 3, err
    got = {}
    for line in out.splitlines():
        if not line.startswith(" "):
            path = line
        else:
            got[path] = line.split()[1]
    assert got == good, out  # every good picture, batched with the bad ones, has its answer
    lines = err.strip().splitlines()
    assert len(lines) == len(bad) + 1, err
    for path, line in zip(bad, lines):
        assert line.startswith(f"tinycnn: error: {path}: "), line
    assert lines[-1] == f"tinycnn: {len(bad)} of {len(good) + len(bad)} images could not be read"


def test_bad_images_json_error_field(capsys, mixed_folder):
    folder, good, bad = mixed_folder
    code, out, err = run_cli(capsys, "infer", folder, "--batch", 3, "--top", 2, "--json", "--no-progress")
    assert code == 3
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["image"] for r in rows] == sorted(good.keys() | set(bad))  # one row per file, in order
    errors = {r["image"]: r["error"] for r in rows if "error" in r}
    assert set(errors) == set(bad)
    assert errors[bad[0]] == f"{bad[0]}: cannot decode image (image file is truncated)"
    assert errors[bad[1]] == f"{bad[1]}: not an image Pillow can read"
    assert errors[bad[3]] == f"{bad[3]}: is a folder, not an image"
    assert all("\n" not in e and e.startswith(path + ": ") for path, e in errors.items())
    assert {r["image"]: r["top"][0]["label"] for r in rows if "top" in r} == good
    assert err.strip() == f"tinycnn: {len(bad)} of {len(rows)} images could not be read"


def test_one_corrupt_image_alone(capsys, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(open(sample(3), "rb").read()[:60])
    code, out, err = run_cli(capsys, "infer", bad)
    assert code == 3 and out == ""
    assert err.strip().splitlines() == [f"tinycnn: error: {bad}: cannot decode image (image file is truncated)"]


# ---- --output ----

def test_output_json_lines_equals_json(capsys, mixed_folder, tmp_path):
    folder, good, bad = mixed_folder
    code, printed, _ = run_cli(capsys, "infer", folder, "--json", "--no-progress")
    path = tmp_path / "results.jsonl"
    code2, out, err = run_cli(capsys, "infer", folder, "--output", path)
    assert (code, code2) == (3, 3)
    assert out == "", "with --output nothing goes to stdout"
    assert path.read_text() == printed
    assert "infer" in err and "10/10" in err, "a progress bar of images done on stderr"


def test_output_parquet(capsys, mixed_folder, tmp_path):
    import pyarrow.parquet as pq

    folder, good, bad = mixed_folder
    code, printed, _ = run_cli(capsys, "infer", folder, "--json", "--top", 3, "--no-progress")
    path = tmp_path / "results.parquet"
    code, out, err = run_cli(capsys, "infer", folder, "--top", 3, "--output", path, "--no-progress")
    assert code == 3 and out == ""
    table = pq.read_table(path)
    assert table.column_names == ["image", "error", "top_index", "top_label", "top_probability", "top_k"]
    rows = table.to_pylist()
    for row, want in zip(rows, (json.loads(line) for line in printed.splitlines())):
        assert row["image"] == want["image"]
        if "error" in want:
            assert row["error"] == want["error"] and row["top_k"] is None and row["top_index"] is None
        else:
            assert row["error"] is None and row["top_k"] == want["top"]
            best = want["top"][0]
            assert (row["top_index"], row["top_label"], row["top_probability"]) == (
                best["index"], best["label"], best["probability"])
    assert len(rows) == len(good) + len(bad)


def test_output_parquet_without_pyarrow(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    path = tmp_path / "r.parquet"
    code, out, err = run_cli(capsys, "infer", sample(1), "--output", path)
    assert code == 2 and not path.exists()
    assert err.strip() == (f"tinycnn: error: --output {path}: Parquet needs pyarrow: pip install pyarrow "
                           "(or write JSON lines: --output FILE.jsonl)")


@pytest.mark.parametrize("name,message", [("r.csv", "unknown extension; use .jsonl (JSON lines) or .parquet"),
                                          ("nodir/r.jsonl", "cannot write (No such file or directory)")])
def test_output_refused_before_any_work(capsys, tmp_path, name, message):
    code, out, err = run_cli(capsys, "infer", sample(1), "--output", tmp_path / name)
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1


# ---- --save-outputs ----

def test_save_outputs_of_a_classifier(capsys, mixed_folder, tmp_path):
    folder, good, bad = mixed_folder
    path = tmp_path / "out.npz"
    code, out, err = run_cli(capsys, "infer", folder, "--save-outputs", path, "--batch", 4, "--no-progress")
    assert code == 3
    saved = np.load(path)
    assert sorted(saved.files) == ["__images__", "logits"]
    names = list(saved["__images__"])
    assert names == sorted(good)  # the pictures that ran, in order; the bad ones are not there
    x = np.stack([_digits_input(p) for p in names])
    (ref,) = ort_run(DIGITS_MODEL, {"image": x})
    assert saved["logits"].shape == (len(good), 10)
    np.testing.assert_allclose(saved["logits"], ref, rtol=1e-4, atol=1e-4)


def test_save_outputs_refuses_other_extensions(capsys, tmp_path):
    code, out, err = run_cli(capsys, "infer", sample(1), "--save-outputs", tmp_path / "out.npy")
    assert code == 2 and "--save-outputs" in err and "must end in .npz" in err


# ---- not a classifier: --task ----

def _feature_model(path, spatial=(16, 16)):
    """x[N, 3, H, W] -> Conv 3x3 (4 channels) -> Relu -> y[N, 4, H, W] and a global mean z[N, 4]
    ... as two outputs: not a classifier."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"]),
             helper.make_node("GlobalAveragePool", ["y"], ["g"]),
             helper.make_node("Flatten", ["g"], ["z"])]
    model = make_model(nodes, [("x", ["N", 3, *spatial])], [("y", ["N", 4, *spatial]), ("z", ["N", 4])], {"w": w})
    onnx.save(model, path)
    return str(path)


def _pictures(tmp_path, n=3):
    rng = np.random.default_rng(1)
    paths = []
    for k in range(n):
        p = tmp_path / f"pic{k}.png"
        Image.fromarray(rng.integers(0, 256, (20 + 3 * k, 24, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    return paths


def test_task_for_shapes():
    assert task_for([["N", 1000]]) == "classify"
    assert task_for([[1, 10, 1, 1]]) == "classify"
    assert task_for([["N", "classes"]]) == "classify"
    assert task_for([["N", 1]]) == "raw"              # one score: nothing to rank
    assert task_for([["N", 21, 64, 64]]) == "raw"     # segmentation
    assert task_for([["N", 84, 8400]]) == "raw"       # detection head
    assert task_for([["N", 10], ["N", 10]]) == "raw"  # two outputs
    assert task_for([None]) == "raw"


def test_raw_task_for_a_feature_model(capsys, tmp_path):
    model = _feature_model(tmp_path / "feat.onnx")
    paths = _pictures(tmp_path)
    code, out, err = run_cli(capsys, "infer", model, *paths, "--json", "--preset", "none", "--batch", 2)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    spec = preprocessing_for({}, "none")
    x = np.stack([load_and_preprocess(p, (16, 16), 3, spec) for p in paths])
    y, z = ort_run(model, {"x": x})
    for k, row in enumerate(rows):
        assert "top" not in row and set(row["outputs"]) == {"y", "z"}
        for name, ref in (("y", y[k]), ("z", z[k])):
            got = row["outputs"][name]
            assert got["shape"] == list(ref.shape)
            for stat, value in (("min", ref.min()), ("max", ref.max()), ("mean", ref.mean()), ("std", ref.std())):
                assert got[stat] == pytest.approx(float(value), rel=1e-4, abs=1e-5), (name, stat)
    code, out, err = run_cli(capsys, "infer", model, paths[0], "--preset", "none")
    assert code == 0 and out.splitlines()[1].startswith("  y  4x16x16  min 0  max "), out
    code, out, err = run_cli(capsys, "infer", model, paths[0], "--task", "classify")
    assert code == 2 and "--task: classify" in err and "[N, classes]" in err, err


def test_raw_task_save_outputs_and_parquet(capsys, tmp_path):
    import pyarrow.parquet as pq

    model = _feature_model(tmp_path / "feat.onnx", spatial=("H", "W"))
    paths = _pictures(tmp_path, 2)
    npz, pq_path = tmp_path / "o.npz", tmp_path / "o.parquet"
    code, out, err = run_cli(capsys, "infer", model, *paths, "--size", 12, 10, "--save-outputs", npz,
                             "--output", pq_path, "--preset", "none")
    assert code == 0, err
    saved = np.load(npz)
    spec = preprocessing_for({}, "none")
    x = np.stack([load_and_preprocess(p, (12, 10), 3, spec) for p in paths])
    y, z = ort_run(model, {"x": x})
    np.testing.assert_allclose(saved["y"], y, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(saved["z"], z, rtol=1e-4, atol=1e-5)
    rows = pq.read_table(pq_path).to_pylist()
    assert [r["image"] for r in rows] == paths
    assert rows[1]["outputs"]["y"]["shape"] == [4, 12, 10]
    assert rows[1]["outputs"]["z"]["mean"] == pytest.approx(float(z[1].mean()), rel=1e-4)


def test_raw_task_forced_on_a_classifier(capsys):
    code, out, err = run_cli(capsys, "infer", sample(4), "--task", "raw", "--json")
    assert code == 0, err
    stats = json.loads(out)["outputs"]["logits"]
    (ref,) = ort_run(DIGITS_MODEL, {"image": _digits_input(sample(4))[None]})
    assert stats["shape"] == [10] and stats["max"] == pytest.approx(float(ref.max()), rel=1e-4)


def test_output_statistics_leave_out_nan():
    s = output_statistics(np.array([1.0, np.nan, 3.0, np.inf], np.float32))
    assert s == {"shape": [4], "min": 1.0, "max": 3.0, "mean": 2.0, "std": 1.0, "nonfinite": 2}
    assert json.dumps(output_statistics(np.full(3, np.nan)))  # valid JSON: no NaN


def test_polarity_needs_a_model_that_states_one(capsys, tmp_path):
    model = _feature_model(tmp_path / "feat.onnx")
    code, out, err = run_cli(capsys, "infer", model, sample(1), "--polarity", "light-on-dark")
    assert code == 2
    assert "--polarity: light-on-dark:" in err and "does not state the polarity it wants" in err, err


# ---- the library: what a Ray worker would call ----

def test_pipeline_items_in_memory_equal_files():
    pipe = ImagePipeline.from_model(DIGITS_MODEL, top=2, batch=3)
    assert (pipe.task, pipe.size, pipe.channels, pipe.labels[3]) == ("classify", (8, 8), 1, "3")
    paths = [sample(d) for d in (0, 6, 8, 3)]
    by_path = pipe.process(paths)
    gray = np.asarray(Image.open(paths[0]).convert("L"))
    items = [gray, np.asarray(Image.open(paths[1]).convert("RGB")),
             np.asarray(Image.open(paths[2]).convert("RGBA")), Image.open(paths[3]),
             np.zeros((4, 4, 5), np.uint8)]
    in_memory = pipe.process(items, names=["a", "b", "c", "d", "e"])
    assert [r["top"] for r in in_memory.results[:4]] == [r["top"] for r in by_path.results]
    assert in_memory.results[4] == {"image": "e", "error": "array picture of shape [4, 4, 5]: expected "
                                                           "H x W or H x W x C with C 1, 2, 3 or 4"}
    assert in_memory.ran == [0, 1, 2, 3] and in_memory.failed == 1
    np.testing.assert_array_equal(in_memory.outputs["logits"], by_path.outputs["logits"])
    assert [r["top"][0]["label"] for r in by_path.results] == ["0", "6", "8", "3"]


def test_pipeline_of_a_session_reads_bytes_and_flattens_its_results():
    """A pipeline made from an InferenceSession (what a Ray worker gets) equals one made from
    the path; files given as bytes equal the files; results survive flat columns."""
    import tinycnn
    by_path = ImagePipeline.from_model(DIGITS_MODEL, top=3)
    sess = tinycnn.InferenceSession(DIGITS_MODEL)
    pipe = ImagePipeline.from_model(sess, top=3)
    assert pipe.session is sess and (pipe.size, pipe.labels) == (by_path.size, by_path.labels)
    paths = [sample(d) for d in (2, 5)]
    want = by_path.process(paths).results
    got = pipe.process([open(p, "rb").read() for p in paths] + [b"GIF89a broken"],
                       names=paths + ["x.gif"]).results
    assert got[:2] == want
    assert set(got[2]) == {"image", "error"} and got[2]["error"].startswith("x.gif: "), got[2]
    for r in got:
        row = flat_result(r)
        assert result_from_flat(row) == r
    assert flat_result(want[0])["top_index"] == want[0]["top"][0]["index"]
    assert set(flat_result(got[2])) == {"image", "error"}

"""tinycnn on Ray (issue 10): ImageClassifier and Predictor in Ray Data, `tinycnn infer --ray`,
sessions following Ray's CPU reservation.  Ray runs locally (no cluster needed); the tests that
need it are skipped, with the reason, only when ray is not installed."""
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import helper

import tinycnn
from tinycnn.pipeline import PipelineError
from tinycnn.ray import ImageClassifier, Predictor
from helpers import REPO_ROOT, make_model, run_cli

PIL = pytest.importorskip("PIL.Image", reason="Pillow is not installed (pip install tinycnn[cli])")
RNG = np.random.default_rng(100)
CLASSES = 10
# Pillow modes whose pixels read_images hands over as they are: the ones it gets right.
ARRAY_MODES = ("RGB", "L", "RGBA", "LA")
# Every mode infer reads, for pictures read by tinycnn itself (paths, bytes).
ALL_MODES = ARRAY_MODES + ("P", "I;16", "1", "CMYK")


@pytest.fixture(scope="module")
def ray():
    """Ray, started locally once for the module: 4 logical CPUs, so that 2 workers of 1 CPU
    leave Ray Data room for its own tasks on a 2-core machine."""
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install tinycnn[ray])")
    pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install 'ray[data]')")
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()


def classifier(path):
    """conv-relu-pool-gemm on 3 x 32 x 32 pictures: 10 classes, scores spread enough that the
    top 3 are well apart."""
    w = RNG.normal(0, 0.5, (8, 3, 3, 3)).astype(np.float32)
    fc = RNG.normal(0, 2.0, (CLASSES, 8)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
             helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "fc"], ["logits"], transB=1, name="fc")]
    model = make_model(nodes, [("x", ["N", 3, 32, 32])], [("logits", ["N", CLASSES])],
                       {"w": w, "fc": fc})
    onnx.save(model, path)
    return str(path)


def picture(mode, rng):
    """A picture of `mode`, 12 to 90 pixels a side: smooth shapes plus noise."""
    h, w = (int(v) for v in rng.integers(12, 90, 2))
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([np.sin(xx / rng.uniform(3, 12) + k) * np.cos(yy / rng.uniform(3, 12))
                     for k in range(3)], axis=2)
    rgb = np.clip((base + 1) * 110 + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
    img = PIL.fromarray(rgb)
    if mode == "I;16":
        return PIL.fromarray(rgb[:, :, 0].astype(np.uint16) * 250)
    if mode in ("RGBA", "LA"):
        img = img.convert(mode)
        img.putalpha(PIL.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)))
        return img
    if mode == "P":
        return img.convert("P", palette=PIL.Palette.ADAPTIVE, colors=32)
    return img.convert(mode)


def pictures(folder, count, modes, seed=0, corrupt=False):
    """`count` pictures of the modes in turn, as PNG (CMYK as TIFF), and one corrupt file."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    for k in range(count):
        mode = modes[k % len(modes)]
        ext = "tif" if mode == "CMYK" else "png"
        picture(mode, rng).save(folder / f"{k:04d}_{mode.replace(';', '')}.{ext}")
    if corrupt:
        (folder / "0000_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n but nothing after")
    return folder


def infer_json(capsys, model, folder, top=3):
    """`tinycnn infer MODEL FOLDER --json --top K` in this process: (exit code, {path: result})."""
    code, out, _ = run_cli(capsys, "infer", model, folder, "--json", "--top", top, "--no-progress")
    return code, {r["image"]: r for r in map(json.loads, out.splitlines())}


def assert_same_top(got, want, what):
    """Same top-K indices, probabilities within 1e-6: a result of --ray or of Ray Data against
    the one of `tinycnn infer`."""
    assert [t["index"] for t in got] == [t["index"] for t in want], what
    np.testing.assert_allclose([t["probability"] for t in got], [t["probability"] for t in want],
                               rtol=0, atol=1e-6, err_msg=what)
    assert [t["label"] for t in got] == [t["label"] for t in want], what


def check_rows(rows, expected, column="path"):
    """Rows of ImageClassifier against infer's results, by path."""
    assert sorted(str(r[column]) for r in rows) == sorted(expected)
    for r in rows:
        want = expected[str(r[column])]
        if "error" in want:
            assert r["error"] == want["error"] and r["top_k"] is None and r["top_index"] is None
            continue
        assert r["error"] is None, r["error"]
        assert_same_top(list(r["top_k"]), want["top"], r[column])
        assert (r["top_index"], r["top_label"]) == (want["top"][0]["index"], want["top"][0]["label"])
        assert abs(r["top_probability"] - want["top"][0]["probability"]) <= 1e-6


# ---- without Ray: what the classes do with a batch -------------------------------------

def test_importing_tinycnn_never_imports_ray():
    code = ("import sys, tinycnn, tinycnn.cli, tinycnn.pipeline, tinycnn.ray; "
            "from tinycnn.cli import main; "
            "assert 'ray' not in sys.modules, 'ray was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_image_classifier_on_a_batch_without_ray(tmp_path):
    model = classifier(tmp_path / "m.onnx")
    folder = pictures(tmp_path / "pics", 4, ("RGB", "P"), corrupt=True)
    bad = str(folder / "0000_corrupt.png")
    paths = [bad] + sorted(str(p) for p in folder.iterdir() if str(p) != bad)
    clf = ImageClassifier(model, top=2, threads=1)
    assert clf.pipeline.session._num_threads == 1
    out = clf({"path": np.array(paths, dtype=object), "id": np.arange(len(paths))})
    assert list(out) == ["path", "id", "top_index", "top_label", "top_probability", "top_k", "error"]
    assert out["error"][0] == f"{bad}: not an image Pillow can read"
    assert out["top_index"][0] is None and out["top_k"][0] is None
    assert [len(t) for t in out["top_k"][1:]] == [2, 2, 2, 2]
    assert list(out["error"][1:]) == [None] * 4
    as_bytes = clf({"bytes": np.array([open(p, "rb").read() for p in paths], dtype=object)})
    assert list(as_bytes["top_k"][1:]) == list(out["top_k"][1:])
    assert as_bytes["error"][0] == "<bytes>: not an image Pillow can read"
    with pytest.raises(PipelineError, match=r"has columns \['x'\]; it needs one of image, bytes, path"):
        clf({"x": np.zeros(2)})


def test_image_classifier_refuses_a_model_that_is_not_a_classifier(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    path = tmp_path / "relu.onnx"
    onnx.save(make_model(nodes, [("x", ["N", 3, 8, 8])], [("y", ["N", 3, 8, 8])]), path)
    with pytest.raises(PipelineError, match="classify needs one output of class scores"):
        ImageClassifier(str(path))


def test_predictor_on_a_batch_without_ray(tmp_path):
    model = make_model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                       [("x", ["N", 4])], [("y", ["N", 4])])
    pred = Predictor(model.SerializeToString(), threads=1)
    x = RNG.normal(size=(5, 4)).astype(np.float32)
    out = pred({"x": x, "id": np.arange(5)})
    np.testing.assert_array_equal(out["y"], np.maximum(x, 0))
    assert list(out) == ["x", "id", "y"]
    ragged = np.empty(2, dtype=object)
    ragged[:] = [np.zeros(4, np.float32), np.zeros(4, np.float32)]
    np.testing.assert_array_equal(pred({"x": ragged})["y"], np.zeros((2, 4), np.float32))
    with pytest.raises(PipelineError, match=r"no column for input\(s\) \['x'\]; its columns are \['z'\]"):
        pred({"z": x})
    with pytest.raises(PipelineError, match=r"output\(s\) \['y'\] would replace the batch's columns"):
        pred({"x": x, "y": x})


# ---- in Ray Data -------------------------------------------------------------------------

def test_image_classifier_through_read_images_equals_infer(ray, tmp_path, capsys):
    """A few hundred pictures of mixed sizes and modes, decoded by Ray's read_images, classified
    by 2 workers: the same top 3 as `tinycnn infer` on the same files."""
    model = classifier(tmp_path / "m.onnx")
    folder = pictures(tmp_path / "pics", 240, ARRAY_MODES)
    code, expected = infer_json(capsys, model, folder)
    assert code == 0 and len(expected) == 240
    ds = ray.data.read_images(str(folder), include_paths=True)
    ds = ds.map_batches(ImageClassifier, fn_constructor_kwargs={"model": model, "top": 3},
                        compute=ray.data.ActorPoolStrategy(size=2), num_cpus=1, batch_size=32)
    rows = ds.take_all()
    check_rows(rows, expected)


def test_image_classifier_reads_paths_and_bytes_on_the_workers(ray, tmp_path, capsys):
    """Every mode infer reads (palette, 16-bit, 1-bit, CMYK...) and a corrupt file, read by the
    workers from paths and from bytes (read_binary_files): infer's results and its error."""
    model = classifier(tmp_path / "m.onnx")
    folder = pictures(tmp_path / "pics", 64, ALL_MODES, seed=1, corrupt=True)
    code, expected = infer_json(capsys, model, folder)
    assert code == 3 and "not an image Pillow can read" in expected[str(folder / "0000_corrupt.png")]["error"]
    kwargs = {"fn_constructor_kwargs": {"model": model, "top": 3},
              "compute": ray.data.ActorPoolStrategy(size=2), "num_cpus": 1, "batch_size": 16}
    paths = ray.data.from_items([{"path": p} for p in sorted(expected)])
    check_rows(paths.map_batches(ImageClassifier, **kwargs).take_all(), expected)
    files = ray.data.read_binary_files(str(folder), include_paths=True)
    check_rows(files.map_batches(ImageClassifier, **kwargs).take_all(), expected)


def test_predictor_and_a_pickled_session_in_ray_data(ray, tmp_path):
    """Predictor on tensors; the model given as an InferenceSession travels pickled and gives
    the same outputs bit for bit."""
    model = classifier(tmp_path / "m.onnx")
    sess = tinycnn.InferenceSession(model)
    x = RNG.normal(size=(40, 3, 32, 32)).astype(np.float32)
    ds = ray.data.from_numpy(x).rename_columns({"data": "x"})
    out = ds.map_batches(Predictor, fn_constructor_kwargs={"model": sess},
                         compute=ray.data.ActorPoolStrategy(size=1), num_cpus=1,
                         batch_size=8).take_all()
    got = np.stack([r["logits"] for r in out])
    want = np.concatenate([sess.run(None, {"x": x[k:k + 8]})[0] for k in range(0, 40, 8)])
    assert np.array_equal(got, want)


def test_sessions_use_the_cpus_ray_reserved(ray, tmp_path):
    """Ray sets OMP_NUM_THREADS in its workers; a session follows num_cpus instead (and an
    explicit intra_op_num_threads still wins)."""
    model = classifier(tmp_path / "m.onnx")

    @ray.remote
    def threads(explicit=0):
        opts = tinycnn.SessionOptions()
        opts.intra_op_num_threads = explicit
        sess = tinycnn.InferenceSession(model, opts)
        return sess._num_threads, ImageClassifier(model).pipeline.session._num_threads

    assert ray.get(threads.options(num_cpus=1).remote()) == (1, 1)
    assert ray.get(threads.options(num_cpus=2).remote()) == (2, 2)
    assert ray.get(threads.options(num_cpus=0.5).remote()) == (1, 1)
    assert ray.get(threads.options(num_cpus=1).remote(3))[0] == 3
    assert tinycnn.session.ray_reserved_cpus() is None   # the driver reserves nothing


# ---- the command line --------------------------------------------------------------------

def cli(*argv, env=None):
    """`python -m tinycnn ARGV` in a new process (a Ray driver of its own)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO_ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    return subprocess.run([sys.executable, "-m", "tinycnn", *map(str, argv)], capture_output=True,
                          text=True, timeout=900, env=env)


def read_jsonl(path):
    return {r["image"]: r for r in map(json.loads, open(path).read().splitlines())}


def test_cli_with_ray_equals_cli_without(ray, tmp_path):
    """infer --ray ADDRESS (the cluster these tests started) with 2 workers, results to
    Parquet, against infer without --ray to JSON lines: the same results, the corrupt file's
    error included, and exit code 3 both ways."""
    pytest.importorskip("pyarrow.parquet", reason="pyarrow is not installed")
    import pyarrow.parquet as pq

    model = classifier(tmp_path / "m.onnx")
    folder = pictures(tmp_path / "pics", 40, ALL_MODES, seed=2, corrupt=True)
    local = cli("infer", model, folder, "--output", tmp_path / "local.jsonl", "--top", 4)
    address = ray.get_runtime_context().gcs_address
    on_ray = cli("infer", model, folder, "--output", tmp_path / "ray.parquet", "--top", 4,
                 "--ray", address, "--workers", 2, "--threads-per-worker", 1)
    for run in (local, on_ray):
        assert run.returncode == 3, run.stderr
        assert "tinycnn: 1 of 41 images could not be read" in run.stderr
    want = read_jsonl(tmp_path / "local.jsonl")
    rows = pq.read_table(tmp_path / "ray.parquet").to_pylist()
    assert [r["image"] for r in rows] == sorted(want)   # in the order of the files, as without
    check_rows(rows, want, column="image")


def test_cli_ray_option_errors(tmp_path):
    model = classifier(tmp_path / "m.onnx")
    folder = pictures(tmp_path / "pics", 2, ("RGB",))
    for argv, message in [(["--workers", "2"], "--workers needs --ray"),
                          (["--ray", "--threads", "2"], "with --ray, each worker's threads are "
                                                        "--threads-per-worker"),
                          (["--ray", "--save-outputs", tmp_path / "o.npz"],
                           "--save-outputs is not available with --ray")]:
        run = cli("infer", model, folder, *argv)
        assert run.returncode == 2 and message in run.stderr, run.stderr
    run = cli("infer", "--ray", model, folder)
    assert run.returncode == 2 and "--ray took" in run.stderr and "--ray=ADDRESS" in run.stderr


@pytest.mark.slow
def test_cli_with_a_local_ray_started_for_the_run(tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (pip install tinycnn[ray])")
    model = classifier(tmp_path / "m.onnx")
    folder = pictures(tmp_path / "pics", 24, ALL_MODES, seed=3, corrupt=True)
    local = cli("infer", model, folder, "--json")
    on_ray = cli("infer", model, folder, "--json", "--ray", "--workers", "2")
    assert local.returncode == on_ray.returncode == 3, on_ray.stderr
    assert on_ray.stdout == local.stdout

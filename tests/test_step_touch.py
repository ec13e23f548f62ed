"""benchmarks/trickle_net.py's step_weights (each step's weights: what step_touch.py --touch w
reads and trickle_net.py prefetches) on a small float model, step_touch.py end to end with
several kinds, and trickle_net.py refusing a build without trickle.patch's hooks."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from onnx import helper

from helpers import make_model, save

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import trickle_net  # noqa: E402
from cold_steps import one_thread_session  # noqa: E402


def wide_net(tmp_path):
    """x[1, 32, 8, 8] -> 1x1 Conv 32 -> 64 (8 KB of weights) -> Relu -> GlobalAveragePool ->
    Flatten -> Gemm 64 -> 100 (25.6 KB)"""
    rng = np.random.default_rng(3)
    inits = {"w": rng.normal(0, 0.2, (64, 32, 1, 1)).astype(np.float32),
             "b": rng.normal(0, 0.1, 64).astype(np.float32),
             "fc": rng.normal(0, 0.2, (100, 64)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "fc"], ["y"], transB=1, name="fc")]
    return save(make_model(nodes, [("x", [1, 32, 8, 8])], [("y", [1, 100])], inits),
                tmp_path / "wide.onnx")


def test_weight_arrays_finds_each_steps_weights_outside_the_arena(tmp_path):
    sess, feed = one_thread_session(wide_net(tmp_path))
    plan, arena, calls = trickle_net.plan_arena_calls(sess, feed)
    lo = arena.buffer.ctypes.data
    hi = lo + arena.buffer.nbytes
    found = trickle_net.step_weights(arena, calls)
    labels = [str(st.label) for st in plan.steps]
    conv = next(i for i, lab in enumerate(labels) if lab.startswith("Conv"))
    gemm = next(i for i, lab in enumerate(labels) if "Gemm" in lab)
    # the conv's weights (8 KB, packed or not) and the classifier's (25.6 KB) in their steps
    assert sum(a.nbytes for a in found[conv]) >= 64 * 32 * 4, (labels, found)
    assert any(a.nbytes >= 100 * 64 * 4 for a in found[gemm]), (labels, found)
    for arrays in found:
        addrs = [a.ctypes.data for a in arrays]
        assert addrs == sorted(addrs)
        for a in arrays:
            assert not lo <= a.ctypes.data < hi          # never the arena's lines
            assert 4096 <= a.nbytes <= 16 << 20
    # each array once, in the first step that reaches it
    flat = [a.ctypes.data for arrays in found for a in arrays]
    assert len(flat) == len(set(flat))
    # alone (nothing seen before) a step's arrays are the same
    assert [a.ctypes.data for a in trickle_net.weight_arrays(calls[gemm], lo, hi, set())] == [
        a.ctypes.data for a in found[gemm]]


def _run(script, *args):
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_step_touch_with_workspace_and_weights(tmp_path):
    out = _run("step_touch.py", wide_net(tmp_path), "--rounds", "2", "--touch", "ws,w")
    assert out.returncode == 0, out.stderr
    assert "--touch ws,w" in out.stdout
    assert any(line.startswith("sum plain ") for line in out.stdout.splitlines()), out.stdout


def test_trickle_net_needs_the_patch(tmp_path):
    out = _run("trickle_net.py", wide_net(tmp_path), "--rounds", "1")
    assert out.returncode != 0
    assert "trickle.patch" in out.stderr


def test_arena_inputs_are_the_views_of_the_step_before_s_outputs(tmp_path):
    """h49-mv2: step_touch.arena_outputs(.., "inputs") (step_suspects.py --touch in) gives a
    step the arena lines the step before it wrote (the fc's input is the pool's output), all in
    the arena's part before the workspace"""
    import step_touch
    sess, feed = one_thread_session(wide_net(tmp_path))
    plan, arena, calls = trickle_net.plan_arena_calls(sess, feed)
    ins, outs = (step_touch.arena_outputs(plan, arena, side) for side in ("inputs", "outputs"))
    labels = [str(st.label) for st in plan.steps]
    gemm = next(i for i, lab in enumerate(labels) if "Gemm" in lab)
    assert ins[gemm] and outs[gemm - 1], labels
    assert [(v.ctypes.data, v.nbytes) for v in ins[gemm]] == [
        (v.ctypes.data, v.nbytes) for v in outs[gemm - 1]]
    lo = arena.buffer.ctypes.data
    for v in (v for views in ins for v in views):
        assert lo <= v.ctypes.data and v.ctypes.data + v.nbytes <= lo + 4 * plan.arena_size


def test_step_suspects_with_every_kind(tmp_path):
    out = _run("step_suspects.py", wide_net(tmp_path), "--rounds", "2",
               "--touch", "in,out,ws,w,code,code2,code3,idle", "--idle-us", "5")
    assert out.returncode == 0, out.stderr
    assert "--touch in,out,ws,w,code,code2,code3,idle" in out.stdout
    assert any(line.startswith("sum plain ") for line in out.stdout.splitlines()), out.stdout

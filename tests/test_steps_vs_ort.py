"""benchmarks/steps_vs_ort.py: per block at 1 thread, tinycnn against onnxruntime's profiled
nodes; --split's fast-quarter / slow-half medians (split_modes) on known runs, and the script
end to end on a small float model."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from helpers import conv_net, save

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import steps_vs_ort  # noqa: E402


def test_split_modes_ranks_runs_by_their_total():
    # 8 runs, totals 10..17 except runs 5 and 6 swapped: ranked by total, not by order
    tot = np.array([10.0, 11, 12, 13, 14, 16, 15, 17])
    a = np.array([4.0, 4.1, 4.2, 4.3, 4.4, 6.6, 6.5, 6.7])
    b = tot - a
    runs = {"/blk.0/a/Conv": list(a), "/blk.1/b/Conv": list(b)}
    modes, total = steps_vs_ort.split_modes(runs, 1)
    fast, slow = [0, 1], [4, 5, 6, 7]  # the fastest quarter; the slow half (totals 14-17)
    assert set(modes) == {"blk.0", "blk.1"}
    assert modes["blk.0"] == (np.median(a[fast]), np.median(a[slow]))
    assert modes["blk.1"] == (np.median(b[fast]), np.median(b[slow]))
    assert total == (10.5, 15.5)
    # fewer than 4 runs: the fastest run is the fast quarter
    m1, t1 = steps_vs_ort.split_modes({"/x/y/Conv": [3.0, 1.0, 2.0]}, 1)
    assert m1["x"] == (1.0, 2.5) and t1 == (1.0, 2.5)


def test_script_prints_both_tables(tmp_path):
    path = save(conv_net(batch=1), tmp_path / "conv.onnx")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "steps_vs_ort.py"), path,
                          "--rounds", "2", "--burst", "2", "--depth", "1", "--split"],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(line.startswith("sum ") for line in lines), out.stdout
    split = [i for i, line in enumerate(lines) if line.startswith("fast quarter / slow half")]
    assert split, out.stdout
    total = [line for line in lines[split[0]:] if line.startswith("total (runs ranked)")]
    assert total, out.stdout
    f = total[0].split()
    tc_fast, tc_slow, ort_fast, ort_slow = map(float, f[3:7])
    assert 0 < tc_fast <= tc_slow and 0 < ort_fast <= ort_slow


def test_group_sums_joins_groups_in_each_run():
    # onnxruntime names a fused Conv + Relu after its Relu, tinycnn a fused step after its first
    # node: --join sums such groups as one, named after the first, run by run
    runs = {"/stem/c1/Conv": [1.0, 2.0], "/stem/r2/Relu": [0.5, 0.25], "/blk/b/Conv": [3.0, 4.0],
            "/tail/c/Conv": [7.0, 8.0]}
    sums = steps_vs_ort.group_sums(runs, 2, joins=[["stem/c1", "stem/r2", "absent"]])
    assert set(sums) == {"stem/c1", "blk/b", "tail/c"}
    assert list(sums["stem/c1"]) == [1.5, 2.25]
    assert list(sums["blk/b"]) == [3.0, 4.0]
    # the mask keeps whole runs after the join
    g = steps_vs_ort.grouped(runs, 2, np.array([False, True]), [["stem/c1", "stem/r2"]])
    assert g["stem/c1"] == (2.25, 2.25)


def test_script_at_two_threads_with_a_join(tmp_path):
    path = save(conv_net(batch=1), tmp_path / "conv.onnx")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "steps_vs_ort.py"), path,
                          "--rounds", "2", "--burst", "2", "--depth", "1", "--threads", "2",
                          "--pause-ms", "1", "--places", "0:1,1:2",
                          "--join", "nothing,also_nothing"],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert sum(line.startswith("sum ") for line in lines) == 2, out.stdout

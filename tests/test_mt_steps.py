"""benchmarks/mt_steps.py: the per-step table of both engines at 1 and 2 threads, end to end on a
small float model, with --stat both (medians then minima, each engine's loss against half its
1-thread time, tinycnn's excess over the target) and --join (groups summed as one)."""
import os
import subprocess
import sys
from pathlib import Path

from helpers import conv_net, save

ROOT = Path(__file__).resolve().parents[1]


def test_both_tables_with_joined_groups(tmp_path):
    path = save(conv_net(batch=1), tmp_path / "conv.onnx")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "mt_steps.py"), path,
                          "--rounds", "2", "--burst", "2", "--depth", "1", "--stat", "both",
                          "--join", "conv,relu,pool"],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    heads = [i for i, line in enumerate(lines) if line.startswith("-- ")]
    assert [lines[i].split()[1] for i in heads] == ["medians", "minima"], out.stdout
    for start in heads:
        table = lines[start + 2:]
        names = [line.split()[0] for line in table[:table.index(next(
            line for line in table if line.startswith("sum ")))]]
        # the joined groups are one row named after the first; the others are their own
        assert "conv" in names and "relu" not in names and "pool" not in names, out.stdout
        total = next(line for line in table if line.startswith("sum ")).split()
        tc1, tc2, _, ort1, ort2, _, ratio, tc_loss, ort_loss, excess = map(float, total[1:])
        assert tc1 > 0 and tc2 > 0 and ort1 > 0 and ort2 > 0
        # printed to 3 decimals (ms) and the ratio to 2: within those roundings
        assert abs(ratio * ort2 - tc2) <= 0.005 * ort2 + 0.0005 * (1 + ratio) + 1e-9
        assert abs(tc_loss - (tc2 - tc1 / 2)) < 2e-3 and abs(ort_loss - (ort2 - ort1 / 2)) < 2e-3
        assert abs(excess - (tc2 - 0.8 * ort2)) < 2e-3

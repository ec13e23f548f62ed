"""benchmarks/proc_modes.py: tinycnn processes of one checkout (a plain one and one with a session
config entry), bursts in turn, a new session halfway: the per-process lines, the marks of the
reload, the huge-page column of the mappings, every burst in --dump; smt_probe.c builds and
prints its rates."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import conv_net, save

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "benchmarks" / "proc_modes.py")


@pytest.mark.slow   # two interpreters with a session each: ~5 s
def test_processes_variants_reload_and_dump(tmp_path):
    model = save(conv_net(batch=1), tmp_path / "conv.onnx")
    dump = tmp_path / "sets.jsonl"
    env = dict(os.environ, TINYCNN_ISA=os.environ.get("TINYCNN_ISA", "portable"))
    out = subprocess.run([sys.executable, SCRIPT, model, "--variants", str(ROOT),
                          f"{ROOT}:session.tinycnn.huge_pages=0", "--sets", "1", "--rounds", "4",
                          "--burst", "2", "--warmup", "1", "--gap", "0.001", "--reload",
                          "--dump", str(dump)],
                         capture_output=True, text=True, check=True, env=env).stdout
    lines = [line for line in out.splitlines() if ": med " in line]
    assert len(lines) == 2 and "huge_pages=0" in lines[1], out
    assert all(line.count("|") == 2 for line in lines), out   # the values, then the reload
    assert out.count("maps (MB size/rss/thp)") == 2, out
    rec = json.loads(dump.read_text().splitlines()[-1])
    (s,) = rec["sets"]
    assert len(s["meds"]) == 2
    for meds in s["meds"]:
        vals = [m for m in meds if m != "|"]
        assert meds[2] == "|" and len(vals) == 4
        assert all(len(m) == 4 and m[0] > 0 and m[1] >= 0 for m in vals)
    for info in s["info"]:
        assert info["pid"] > 0 and info["cpus"]


def test_smt_probe_builds_and_reports(tmp_path):
    exe = tmp_path / "smt_probe"
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    r = subprocess.run(["gcc", "-O2", "-mavx2", "-mfma", "-pthread",
                        str(ROOT / "benchmarks" / "smt_probe.c"), "-o", str(exe)],
                       capture_output=True, text=True, env=env)
    if r.returncode:
        pytest.skip(f"no gcc with AVX2 flags here: {r.stderr[-200:]}")
    try:
        avx2 = " avx2 " in Path("/proc/cpuinfo").read_text().replace("\n", " ")
    except OSError:
        avx2 = False
    if not avx2:
        pytest.skip("smt_probe runs AVX2 / FMA code")
    if os.cpu_count() < 2:
        pytest.skip("smt_probe pins threads to CPUs 0 and 1")
    out = subprocess.run([str(exe), "1", "2", "64"], capture_output=True, text=True,
                         check=True, env=env).stdout.split("\n")
    rows = [line.split() for line in out if line]
    assert len(rows) == 2
    for f in rows:
        assert f[0] == "fma" and f[2] == "l2" and "cpu0/cpu1" in f
        rates = [float(f[i]) for i in (1, 3, 6, 9, 14, 15, 17)] + [float(f[18].rstrip(")"))]
        assert all(v > 0 for v in rates)

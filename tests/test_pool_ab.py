"""benchmarks/pool_ab.py: two builds (here the same checkout twice) at 2 threads in processes
of their own, bursts alternating: the ratio line, bit-equality, the per-thread /proc numbers
of --stats, every burst in --dump, the rounds spread over --procs sets of processes (also the
worker protocol it shares with bench.py), and the SCHED_FIFO switch of both tools' --fifo."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import conv_net, save

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "benchmarks" / "pool_ab.py")


@pytest.mark.slow   # two interpreters with a session each: ~5 s
def test_two_builds_ratio_stats_and_dump(tmp_path):
    model = save(conv_net(batch=1), tmp_path / "conv.onnx")
    dump = tmp_path / "bursts.jsonl"
    env = dict(os.environ, TINYCNN_ISA=os.environ.get("TINYCNN_ISA", "portable"))
    out = subprocess.run([sys.executable, SCRIPT, model, "--builds", str(ROOT), str(ROOT),
                          "--rounds", "3", "--procs", "2", "--burst", "2", "--warmup", "1",
                          "--gap", "0.001", "--stats", "--dump", str(dump)],
                         capture_output=True, text=True, check=True, env=env).stdout
    assert "bit-identical=True" in out, out
    runs = [line for line in out.splitlines() if ": run " in line]
    assert len(runs) == 2 and "/" + ROOT.name in runs[1], out
    assert out.count("caller per run: cpu") == 2 and out.count("workers per run: cpu") == 2, out
    rec = json.loads(dump.read_text().splitlines()[-1])
    assert rec["threads"] == 2 and len(rec["per"]) == 2
    for per in rec["per"]:
        assert len(per["med"]) == 3 and len(per["ms"]) == 6 and all(ms > 0 for ms in per["ms"])
        assert all(len(c) == 5 and c[0] >= 0 for c in per["caller"])   # run ns, wait, cs, mig


_FIFO_PROBE = r"""
import json, os, sys, threading
sys.path.insert(0, sys.argv[1])
import bench
stop = threading.Event()
t = threading.Thread(target=stop.wait)   # a second thread, as an engine's pool would be
t.start()
tids = sorted(int(x) for x in os.listdir("/proc/self/task"))
def policies():
    return [os.sched_getscheduler(tid) for tid in tids]
try:
    bench.set_fifo(True)
except PermissionError:
    out = {"refused": True}
else:
    during = policies()
    bench.set_fifo(False)
    out = {"during": during, "after": policies(), "fifo": os.SCHED_FIFO, "other": os.SCHED_OTHER}
stop.set()
t.join()
print(json.dumps(out))
"""


def test_fifo_switches_every_thread_and_back():
    """bench.set_fifo (bench.py --fifo's bursts, pool_ab.py --fifo): every thread of the process
    under SCHED_FIFO, then all back to SCHED_OTHER; without the right, bench.py --fifo stops
    before measuring with a message naming the option."""
    out = json.loads(subprocess.run([sys.executable, "-c", _FIFO_PROBE, str(ROOT / "benchmarks")],
                                    capture_output=True, text=True, check=True).stdout)
    if out.get("refused"):
        r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--fifo",
                            "--models", "resnet18", "--threads", "2"],
                           capture_output=True, text=True)
        assert r.returncode != 0 and "--fifo needs the right to set SCHED_FIFO" in r.stderr, r.stderr
    else:
        assert len(out["during"]) >= 2
        assert out["during"] == [out["fifo"]] * len(out["during"])
        assert out["after"] == [out["other"]] * len(out["after"])

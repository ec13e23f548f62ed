"""benchmarks/pool_trace.py report --first: per split job and thread, when its first chunk
started, that chunk's time, its later chunks' median, its chunk count and its last end (medians
over the runs), from records as load() reads them (chunk: index, thread, start, end ns)."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import pool_trace  # noqa: E402


def rec(chunks):
    return {"chunks": chunks}


def fields(line):
    return [float(v) for v in line.replace(",", " ").replace("(", " ").split()
            if v.replace(".", "", 1).isdigit()]


def test_first_chunks_per_thread(capsys):
    # run 1: the caller runs chunks 0, 1, 3, the worker 2; run 2 the same, slower firsts
    rs = [rec([(0, 0, 100, 10100), (1, 0, 10200, 14200), (2, 1, 300, 20300),
               (3, 0, 14300, 20300)]),
          rec([(0, 0, 200, 12200), (1, 0, 12300, 16300), (2, 1, 500, 24500),
               (3, 0, 16400, 22300)])]
    pool_trace.print_first(rs)
    caller, worker = capsys.readouterr().out.strip().splitlines()
    assert caller.split(":")[0].strip() == "caller" and worker.split(":")[0].strip() == "worker"
    # starts 0.15 us, first chunk 11.0, later chunks 4.0 and 6.0 | 4.0 and 5.9 (run medians 5.0,
    # 4.95: 4.975), 3 chunks, last end 20.3 | 22.3 (printed to 0.1 us)
    assert fields(caller) == [0.15, 11.0, 5.0, 3, 21.3]
    # one chunk a run: no later chunks (nan)
    assert "nan" in worker and fields(worker) == [0.4, 22.0, 1, 22.4]


def test_a_thread_without_chunks_prints_nothing(capsys):
    pool_trace.print_first([rec([(0, 0, 0, 1000), (1, 0, 1000, 3000)])])
    (line,) = capsys.readouterr().out.strip().splitlines()
    assert line.strip().startswith("caller") and fields(line) == [0.0, 1.0, 2.0, 2, 3.0]

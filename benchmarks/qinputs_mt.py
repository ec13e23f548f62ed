"""tinycnn alone, one process, sessions of 1 and 2 threads: each input's whole-run time
(bench.input_feed's normal and photo), the per-round ratio photo / normal at 1 thread
against that at 2 threads: whether an input costs more at 2 threads than at 1 (U7S8's split
of a row block is redone by each thread that takes one of its column chunks, and a photograph
has more bytes to split than noise).  Per round, per thread count, per input: a warm run, then
the minimum of 3 runs; orders alternate round by round.  Under chrt -f 10 both threads get
their core.  As on an AVX2-only CPU:
  LD_PRELOAD=.../libcpuid_avx2.so TINYCNN_ISA=avx2 chrt -f 10 \\
  python benchmarks/qinputs_mt.py MODEL-int8-qdq.onnx [ROUNDS]"""
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import tinycnn  # noqa: E402
from bench import input_feed  # noqa: E402


def main():
    model = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    s = {}
    for t in (1, 2):
        o = tinycnn.SessionOptions()
        o.intra_op_num_threads = t
        s[t] = tinycnn.InferenceSession(model, o)
    i = s[1].get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in i.shape]
    feeds = {k: {i.name: input_feed(k, shape)} for k in ("normal", "photo")}
    res = {(t, k): [] for t in (1, 2) for k in feeds}
    q = {t: [] for t in (1, 2)}
    for r in range(rounds):
        for t in ((1, 2) if r % 2 == 0 else (2, 1)):
            m = {}
            for k in (("normal", "photo") if r % 2 == 0 else ("photo", "normal")):
                s[t].run(None, feeds[k])
                ts = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    s[t].run(None, feeds[k])
                    ts.append((time.perf_counter() - t0) * 1e3)
                res[(t, k)].append(min(ts))
                m[k] = min(ts)
            q[t].append(m["photo"] / m["normal"])
    med = statistics.median
    for (t, k), v in res.items():
        print(f"{t}t {k:6s} min {min(v):7.2f} median {med(v):7.2f}")
    for t in (1, 2):
        print(f"{t}t photo / normal per round: median {med(q[t]):.3f} "
              f"[{min(q[t]):.3f}-{max(q[t]):.3f}]")


if __name__ == "__main__":
    main()

"""tinycnn against onnxruntime on whole runs with a warm cache and with the last-level cache
evicted before each run (--flush-mb of a buffer written between runs), in one process,
the engines and conditions alternating run by run (both orders): how much each engine
loses when its weights come from memory rather than L3.  On a shared host other tenants
evict the L3 between runs now and then: an engine that loses more there reads worse in
those spells.  Printed: per engine and condition the minimum and median of the runs, and the
per-round ratios tinycnn / onnxruntime (medians over rounds, ranges).
As on an AVX2-only CPU:
  LD_PRELOAD=.../libcpuid_avx2.so TINYCNN_ISA=avx2 python benchmarks/qcold.py MODEL.onnx \
      [--threads 1] [--input photo] [--rounds 20] [--flush-mb 512] [--against CHECKOUT]
--against CHECKOUT: a second tinycnn (that checkout's build) as a third engine."""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import tinycnn  # noqa: E402
from bench import INPUTS, input_feed  # noqa: E402
from subgraph_shapes import other_build  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--input", choices=INPUTS, default="photo")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--flush-mb", type=int, default=512)
    ap.add_argument("--against", metavar="CHECKOUT")
    a = ap.parse_args()
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    sess = {"ort": ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])}
    for k, pkg in [("tc", tinycnn)] + ([("against", other_build(a.against))] if a.against else []):
        o = pkg.SessionOptions()
        o.intra_op_num_threads = a.threads
        sess[k] = pkg.InferenceSession(a.model, o)
    i = sess["ort"].get_inputs()[0]
    feed = {i.name: input_feed(a.input, [d if isinstance(d, int) else 1 for d in i.shape])}
    buf = np.ones(a.flush_mb << 17, np.float64)   # flush_mb MiB
    for s in sess.values():
        for _ in range(3):
            s.run(None, feed)
    t = {(e, c): [] for e in sess for c in ("warm", "cold")}
    names = list(sess)
    for r in range(a.rounds):
        order = names if r % 2 == 0 else names[::-1]
        for c in (("warm", "cold") if r % 2 == 0 else ("cold", "warm")):
            for e in order:
                if c == "cold":
                    buf += 1.0   # read and write every line: the weights leave the L3
                else:
                    sess[e].run(None, feed)  # the run before: this engine's own data cached
                t0 = time.perf_counter()
                sess[e].run(None, feed)
                t[(e, c)].append((time.perf_counter() - t0) * 1e3)
    med = statistics.median
    print(f"{a.model}: {a.threads} thread(s), input {a.input}, {a.rounds} rounds, "
          f"{a.flush_mb} MiB written before each cold run")
    for (e, c), v in t.items():
        print(f"{e:8s} {c}: min {min(v):8.3f} median {med(v):8.3f} ms")
    for e in names:
        if e == "ort":
            continue
        for c in ("warm", "cold"):
            q = [x / y for x, y in zip(t[(e, c)], t[("ort", c)])]
            print(f"{e} / ort {c}: median {med(q):.3f} [{min(q):.3f}-{max(q):.3f}], "
                  f"minima {min(t[(e, c)]) / min(t[('ort', c)]):.3f}")
    for e in names:
        print(f"{e}: cold / warm (medians) {med(t[(e, 'cold')]) / med(t[(e, 'warm')]):.3f}, "
              f"cold - warm {med(t[(e, 'cold')]) - med(t[(e, 'warm')]):.2f} ms")


if __name__ == "__main__":
    main()

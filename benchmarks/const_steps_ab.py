"""Planning constants A/B per block inside the whole network (h53-mv): const_ab.py's variants
(`base` or MODULE.NAME=VALUE,..., ';'-separated) as sessions of this checkout's build in one
process, all profiled, run in alternating bursts (the order reversed every other round), and
per node group (steps_ab.py's table) the median of the per-round ratios of each variant's round
median to the first variant's, with their 25-75% range; the whole run as `(run)`
(the profiler's model_run span, which here read 2-3x the steps' sum on a loaded host: compare
the steps).  --only: the groups whose last name part is one of these.
  python benchmarks/const_steps_ab.py M.onnx 'base;tinycnn.ops.fused_ir.IR_BAND_BYTES=655360'
      [--rounds 30] [--burst 5] [--depth 2] [--threads 1] [--only features.3,features.4]
"""
import argparse
import collections
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tinycnn  # noqa: E402
from const_ab import planned_sessions  # noqa: E402
from mt_steps import group_of  # noqa: E402
from steps_ab import q, trace  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("variants")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--burst", type=int, default=5)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", default="", help="comma-separated: show only the groups whose last name part is one of these")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    only = [o for o in a.only.split(",") if o]

    def only_match(key):
        return not only or any(o == key.split("/")[-1] for o in only)

    def profiled(so, k):
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, f"v{k}")
    sess, feed = planned_sessions(a.model, a.variants.split(";"), a.threads, profiled)
    for s in sess:
        s.run(None, feed)
    for r in range(a.rounds):
        for k in (range(len(sess)) if r % 2 == 0 else reversed(range(len(sess)))):
            if a.threads > 1:
                time.sleep(0.002)
            for _ in range(a.burst):
                sess[k].run(None, feed)
    skip = 2
    per = []
    for s in sess:
        rows = []
        for total, nodes in trace(s.end_profiling())[skip:]:
            g = collections.defaultdict(float)
            for n, d in nodes.items():
                g[group_of(n, a.depth)] += d
            g["(run)"] = total
            rows.append(g)
        per.append(rows)
    keys = [k for k in per[0][0] if k != "(run)"] + ["(run)"]
    nr = min(len(p) for p in per) // a.burst * a.burst
    print(f"{a.rounds} rounds of {a.burst} runs, {a.threads} thread(s); per variant: median ms, "
          f"ratio to the first [25-75%] of round medians")
    for key in keys:
        if key[0] != "(" and not only_match(key):
            continue
        v = [np.array([row.get(key, 0.0) for row in p[:nr]]).reshape(-1, a.burst) for p in per]
        cells = [f"{np.median(v[0]):7.3f}"]
        for k in range(1, len(v)):
            rr = [float(np.median(n)) / float(np.median(o)) if np.median(o) else 0.0
                  for n, o in zip(v[k], v[0])]
            cells.append(f"{np.median(v[k]):7.3f} {statistics.median(rr):6.3f} "
                         f"[{q(rr, 0.25):.3f}-{q(rr, 0.75):.3f}]")
        print(f"{key[-30:]:30s} " + " | ".join(cells))


if __name__ == "__main__":
    main()

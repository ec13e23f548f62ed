"""`tinycnn bench MODEL`: latency, throughput and GFLOP/s, optionally against onnxruntime."""
import json
import time
from typing import Sequence

import numpy as np

from . import models, tables
from .args import EPILOG, EXIT_OK, CLIError, add_input_shape, positive_float, positive_int


def register(sub, parents):
    p = sub.add_parser("bench", parents=parents, help="latency and throughput",
                       description="Warm up, then time runs for --seconds: median and p90 latency, "
                                   "throughput, GFLOP/s (2 x MACs of `tinycnn summary`).", epilog=EPILOG)
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--threads", type=positive_int, metavar="N")
    p.add_argument("--batch", type=positive_int, default=1, metavar="N")
    p.add_argument("--seconds", type=positive_float, default=3.0, metavar="S", help="timing per engine (default 3)")
    p.add_argument("--warmup", type=positive_int, default=3, metavar="N", help="untimed runs first (default 3)")
    p.add_argument("--vs", metavar="onnxruntime", help="also time onnxruntime, alternating runs")
    add_input_shape(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def stats(times: Sequence[float], batch: int, macs: int) -> dict:
    """Median, p90 and min latency of runs of `batch` images, images/s and GFLOP/s (2 x MACs
    per image)."""
    t = np.asarray(times)
    median = float(np.median(t))
    return {"runs": int(t.size), "median_ms": 1e3 * median, "p90_ms": 1e3 * float(np.percentile(t, 90)),
            "min_ms": 1e3 * float(t.min()), "images_per_s": batch / median,
            "gflops": 2.0 * macs * batch / median / 1e9}


def run(args) -> int:
    if args.vs and args.vs != "onnxruntime":
        raise CLIError(f"--vs {args.vs}: only onnxruntime is supported")
    model = models.load(args.model)
    shapes = models.input_shapes(model, args.batch, args.input_shape or ())
    feeds = models.random_feeds(model, shapes, seed=0)
    batch = next(iter(shapes.values()))[0] if shapes else 1
    macs = models.analyze(model, shapes).macs // batch  # per image
    del model
    sess = models.tinycnn_session(args.model, args.threads)
    engines = {"tinycnn": lambda: models.run_tinycnn(sess, None, feeds, args.model)}
    if args.vs:
        ort_sess = models.onnxruntime_session(args.model, args.threads)
        engines["onnxruntime"] = lambda: ort_sess.run(None, feeds)
    engines["tinycnn"]()

    times = {name: [] for name in engines}
    for name, once in engines.items():  # warm-up
        for _ in range(args.warmup):
            once()
    # Alternate engines in rounds so both see the same machine state (other load, clocks).
    deadline = time.perf_counter() + args.seconds * len(engines)
    while min(len(t) for t in times.values()) < 5 or time.perf_counter() < deadline:
        for name, once in engines.items():
            t0 = time.perf_counter()
            once()
            times[name].append(time.perf_counter() - t0)
    results = {name: stats(t, batch, macs) for name, t in times.items()}

    if args.json:
        print(json.dumps({"model": args.model, "batch": batch, "threads": args.threads,
                          "macs_per_image": macs, "engines": results}))
        return EXIT_OK
    print(f"model    {args.model}  ({tables.scaled(macs, 'MACs')} per image)")
    print(f"input    {tables.shapes(shapes)}  threads {args.threads or 'default'}  warm-up {args.warmup} runs")
    rows = [[name, tables.num(s["median_ms"]), tables.num(s["p90_ms"]), tables.num(s["images_per_s"]),
             tables.num(s["gflops"]), str(s["runs"])] for name, s in results.items()]
    print(tables.table(["engine", "median ms", "p90 ms", "images/s", "GFLOP/s", "runs"], rows,
                       right={1, 2, 3, 4, 5}))
    if "onnxruntime" in results:
        ratio = results["tinycnn"]["median_ms"] / results["onnxruntime"]["median_ms"]
        faster = "tinycnn faster" if ratio < 1 else "onnxruntime faster"
        print(f"ratio    tinycnn / onnxruntime median time = {ratio:.2f}  ({faster})")
    return EXIT_OK

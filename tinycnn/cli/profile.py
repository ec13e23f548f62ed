"""`tinycnn profile MODEL`: time per node, sorted, with its share and GFLOP/s."""
import json
from typing import Dict, List

from . import models, tables
from .args import EPILOG, EXIT_OK, CLIError, add_input_shape, positive_int

# Layout conversions a node schedules before its own kernel (planner.convert_layout)
_CONVERSIONS = ("ToChannelsLast", "ToChannelsFirst")


def register(sub, parents):
    p = sub.add_parser("profile", parents=parents, help="time per node",
                       description="Time every node (fused nodes are named after their first ONNX node), "
                                   "sorted, with share of the total and GFLOP/s of each convolution.",
                       epilog=EPILOG)
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--threads", type=positive_int, metavar="N")
    p.add_argument("--batch", type=positive_int, default=1, metavar="N")
    p.add_argument("--runs", type=positive_int, default=10, metavar="N", help="timed runs to average (default 10)")
    p.add_argument("--warmup", type=positive_int, default=2, metavar="N")
    p.add_argument("--limit", type=positive_int, default=30, metavar="N", help="rows to show (default 30)")
    p.add_argument("--all", action="store_true", help="show every node")
    add_input_shape(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    model = models.load(args.model)
    shapes = models.input_shapes(model, args.batch, args.input_shape or ())
    feeds = models.random_feeds(model, shapes, seed=0)
    # A fused node is named after its first ONNX node, the one that holds its MACs.
    macs = models.analyze(model, shapes).macs_by_node()
    del model
    sess = models.tinycnn_session(args.model, args.threads)

    def once():
        try:
            return sess.run_profiled(feeds)[1]
        except models.ENGINE_ERRORS as e:
            raise CLIError(f"{args.model}: tinycnn failed: "
                                  f"{models.engine_message(e, args.model)}") from None

    for _ in range(args.warmup):
        once()
    totals: Dict[str, list] = {}  # node -> [op, seconds over all runs]
    for _ in range(args.runs):
        for rec in once():
            t = totals.setdefault(rec["node"], [rec["op"], 0.0, 0.0])
            if t[0] in _CONVERSIONS:  # a node's input converted first: name it by its op
                t[0] = rec["op"]
            t[1] += rec["seconds"]
            t[2] += rec.get("flops") or 0.0
    per_run = {k: v[1] / args.runs for k, v in totals.items()}
    total = sum(per_run.values()) or 1e-30
    rows = []
    for k in sorted(totals, key=lambda k: -per_run[k]):
        # a node fused from several (tinycnn::InvertedResidual) carries all their MACs itself
        sec, m = per_run[k], max(macs.get(k, 0), totals[k][2] / args.runs / 2)
        rows.append({"node": k, "op": totals[k][0], "ms": 1e3 * sec, "share": sec / total,
                     "gflops": 2.0 * m / sec / 1e9 if m and sec > 0 else None})
    if args.json:
        print(json.dumps({"model": args.model, "runs": args.runs, "total_ms": 1e3 * total, "nodes": rows}))
        return EXIT_OK
    shown = rows if args.all or len(rows) <= args.limit else rows[:args.limit]
    table = [[r["node"], r["op"], f"{r['ms']:.3f}", f"{100 * r['share']:.1f}%",
              "" if r["gflops"] is None else tables.num(r["gflops"], 3)] for r in shown]
    print(tables.table(["node", "op", "ms", "share", "GFLOP/s"], table, right={2, 3, 4}))
    if len(shown) < len(rows):
        rest = rows[len(shown):]
        print(f"... {len(rest)} more nodes, {sum(r['ms'] for r in rest):.3f} ms (--all shows them)")
    total_macs = sum(macs.values())
    print()
    print(f"model    {args.model}  input {tables.shapes(shapes)}  threads {args.threads or 'default'}")
    print(f"total    {1e3 * total:.3f} ms per run (mean of {args.runs} runs after {args.warmup} warm-up), "
          f"{2.0 * total_macs / total / 1e9:.1f} GFLOP/s overall")
    return EXIT_OK

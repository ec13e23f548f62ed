"""What a network's activations and squeeze-and-excitation blocks cost each engine: the model as
exported and variants of it with one kind of node made (nearly) free, timed in tinycnn and in
onnxruntime alternately in one process, 1 thread, each run on the calling thread's CPU clock.
Variants (each applied to every occurrence; a variant with nothing to change is skipped):
  silu   x * Sigmoid(x) (EfficientNet's SiLU) as Relu(x)
  hswish HardSwish as Relu
  se     a squeeze-and-excitation (GlobalAveragePool .. HardSigmoid / Sigmoid -> Mul with the
         pool's input) dropped: the Mul's output is its input, the dead nodes removed
Per variant and engine the median time and the per-round ratio to the model as exported, median
[25-75%]: 1 - ratio is the share of the engine's run the variant's nodes take (their own time
plus what they cost the nodes around them), an upper bound on what making them faster can gain.
The variants change the numbers; nothing is compared.  With the AVX2 emulation env:
  LD_PRELOAD=.../libcpuid_avx2.so TINYCNN_ISA=avx2 PYTHONPATH=<checkout> \
  python benchmarks/act_cost.py MODEL.onnx [--variants silu,hswish,se] [--rounds 15] [--runs 10]
"""
import argparse
import os
import statistics
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinycnn  # noqa: E402
from subgraph_shapes import spread, timed  # noqa: E402


def producers(g):
    return {o: n for n in g.node for o in n.output}


def prune(g):
    """Drop the nodes no graph output depends on."""
    prod = producers(g)
    live, todo = set(), [o.name for o in g.output]
    while todo:
        n = prod.get(todo.pop())
        if n is not None and id(n) not in live:
            live.add(id(n))
            todo.extend(n.input)
    keep = [n for n in g.node if id(n) in live]
    del g.node[:]
    g.node.extend(keep)
    used = {i for n in keep for i in n.input}
    inits = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(inits)


def rename_input(g, old, new):
    for n in g.node:
        for i, x in enumerate(n.input):
            if x == old:
                n.input[i] = new
    for o in g.output:
        if o.name == old:
            raise SystemExit(f"{old} is a graph output")


def silu(m):
    g, prod, hits = m.graph, producers(m.graph), 0
    for n in list(g.node):
        if n.op_type != "Mul":
            continue
        for a, b in (tuple(n.input), tuple(n.input)[::-1]):
            s = prod.get(b)
            if s is not None and s.op_type == "Sigmoid" and s.input[0] == a:
                g.node.insert(list(g.node).index(n),
                              helper.make_node("Relu", [a], [n.output[0]], name=n.name + "_relu"))
                g.node.remove(n)
                hits += 1
                break
    prune(g)
    return hits


def hswish(m):
    hits = 0
    for n in m.graph.node:
        if n.op_type == "HardSwish":
            n.op_type, hits = "Relu", hits + 1
    return hits


def se(m):
    """Mul(x, gate) where gate's producers lead back to GlobalAveragePool(x): y := x."""
    g, prod, hits = m.graph, producers(m.graph), 0

    def pools(t, x, depth=0):
        n = prod.get(t)
        if n is None or depth > 6:
            return False
        if n.op_type == "GlobalAveragePool":
            return n.input[0] == x
        return any(pools(i, x, depth + 1) for i in n.input[:1])
    for n in list(g.node):
        if n.op_type != "Mul" or len(n.input) != 2:
            continue
        for x, gate in (tuple(n.input), tuple(n.input)[::-1]):
            gp = prod.get(gate)
            if gp is not None and gp.op_type in ("HardSigmoid", "Sigmoid") and pools(gate, x):
                g.node.remove(n)
                rename_input(g, n.output[0], x)
                hits += 1
                break
    prune(g)
    return hits


VARIANTS = {"silu": silu, "hswish": hswish, "se": se}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--variants", default="silu,hswish,se")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()
    paths = {"base": a.model}
    tmp = tempfile.mkdtemp()
    for v in a.variants.split(","):
        m = onnx.load(a.model)
        hits = VARIANTS[v](m)
        if not hits:
            print(f"{v}: nothing to change")
            continue
        paths[v] = os.path.join(tmp, v + ".onnx")
        onnx.save(m, paths[v])
        print(f"{v}: {hits} changed")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    ts = tinycnn.SessionOptions()
    ts.intra_op_num_threads = 1
    eng = {}
    for k, p in paths.items():
        eng[("ort", k)] = ort.InferenceSession(p, so, providers=["CPUExecutionProvider"])
        eng[("tc", k)] = tinycnn.InferenceSession(p, ts)
    i = eng[("ort", "base")].get_inputs()[0]
    x = np.random.default_rng(0).standard_normal(
        [d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32)
    times = {k: [] for k in eng}
    order = list(eng)
    for r in range(a.rounds):
        for k in order if r % 2 == 0 else order[::-1]:
            times[k].append(timed(lambda: eng[k].run(None, {i.name: x}), a.runs))
    print(f"{os.path.basename(a.model)}: {a.rounds} rounds x the median of {a.runs} runs, "
          f"thread CPU time; ratio to the exported model, median [25-75%]")
    for k in paths:
        line = f"  {k:7s}"
        for e in ("tc", "ort"):
            line += f"  {e} {statistics.median(times[(e, k)]) * 1e3:7.3f} ms"
            if k != "base":
                line += f" {spread(times[(e, k)], times[(e, 'base')])}"
        line += f"  tc/ort {spread(times[('tc', k)], times[('ort', k)])}"
        print(line, flush=True)


if __name__ == "__main__":
    main()

"""Per network: how far issue 12's target (tinycnn / onnxruntime <= 0.80) is from what this host
can physically do, by step class.

In one process, per model: onnxruntime and tinycnn (fused, as shipped) timed unprofiled for the
totals (thread CPU time at 1 thread, wall clock at more, a 0.1 s pause before each burst so
that onnxruntime's spinning pool is quiet), both profiled for the split by class,
and tinycnn at ORT_ENABLE_BASIC (nothing fused: one step per ONNX node) profiled to split a fused
step's time among the ONNX nodes it covers; sessions alternate in bursts.  The profiles give
shares only (each step's lower quartile over the runs: preemption on a loaded host lands in
some runs' steps); each engine's classes are scaled to its unprofiled total.  Every step of either
engine is mapped onto the ONNX nodes it computes (onnxruntime's NCHWc nodes are named after the
ONNX tensor they produce; tinycnn's fused nodes keep their last node's outputs): walking back
from what the step produces to what other steps produce.  A step covering several ONNX nodes is
split in proportion to those nodes' unfused tinycnn times (element-wise nodes in a step with a
convolution weigh nothing: its epilogue).  An engine node producing no ONNX tensor goes to the
node it is named after (onnxruntime's QuickGeluFusion: a SiLU), else to "layout".  Each ONNX
node has a class:

  stem (dense conv on <= 4 channels), 1x1, conv (dense k x k), grouped, depthwise  -- convolutions
  se (pool .. gate .. the Mul applying it), pool (MaxPool / AveragePool at full resolution),
  eltwise (activations, Add, Mul, Concat, Split, ... at full resolution), head (from the last
  pool to the classifier: everything whose output is no image)
  layout: onnxruntime's NCHWc reorders, tinycnn's unnamed steps (no ONNX node)

GEMM classes: stem, 1x1, conv, grouped.  The FMA peak is benchmarks/fma_peak.c's (CPU time per
thread, run before and after, the larger taken); the bandwidth is numpy's copy (read + write)
of a buffer of each node's size.  Per class: both engines' ms (scaled so that each engine's
classes sum to its unprofiled total), FLOPs, bytes, the FLOPs at peak and the roofline (per node
max(FLOPs at peak, bytes at bandwidth)).  Per network:

  target      = 0.80 x onnxruntime's total
  ideal       = per class, the lesser of its roofline and tinycnn's time (Winograd beats direct
                FLOPs at peak; an activation fused into a convolution moves no bytes of its own)
  gemm@peak   = the GEMM classes' ideal (their FLOPs at the FMA peak but for Winograd)
  headroom    = target - gemm@peak: what everything else may take if the GEMMs ran at peak
  margin      = headroom - tinycnn's non-GEMM time now (negative: the target needs the non-GEMM
                steps faster even with GEMMs at peak); also with the GEMMs at --ceiling of peak
  need        = the GEMM efficiency (% of gemm@peak) the target needs with today's non-GEMM time
  floor       = the sum of every class's ideal; "weights cold": the same with each node's
                weights at the bandwidth for the size of all the network's weights (read once
                a run from L3 or memory, as cold_steps.py found), its activations as before

Verdicts: "met" (today's ratio <= target); "GEMM" (reachable by faster GEMMs alone: need <=
--ceiling, default 90% of the FMA peak); "GEMM+rest" (the GEMMs would need more than the
ceiling: the non-GEMM steps must shrink too; the floor still allows the target);
"impossible" (the floor itself exceeds the target on this host).

As on an AVX2-only CPU (see benchmarks/README.md):
  LD_PRELOAD=exports/libcpuid_avx2.so CPUID_AVX2_SITES=exports/ort_avx2/cpuid_sites.txt \
  TINYCNN_ISA=avx2 PYTHONPATH=<checkout>:<patched onnxruntime> \
  python benchmarks/budget.py M1.onnx [M2.onnx ...] [--rounds 15] [--threads 1] [--classes]
"""
import argparse
import collections
import json
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

GEMM = ("stem", "1x1", "conv", "grouped")
CONVS = GEMM + ("depthwise",)
CLASSES = GEMM + ("depthwise", "se", "pool", "eltwise", "head", "layout")
TARGET = 0.80


# ---- the ONNX graph: classes, FLOPs, bytes --------------------------------------------------

def _spatial(t):
    """a 4-D tensor with more than one pixel (an image, not a per-channel vector)"""
    return t is not None and len(t.shape) == 4 and t.shape[2] * t.shape[3] > 1


def classify(layers):
    """{node name: class} of analysis Layers (tinycnn.analysis.analyze's, every ONNX node)."""
    producer = {o.name: L for L in layers for o in L.outputs if o is not None}
    cls = {}
    # squeeze-and-excitation: a Mul of an image by a per-channel vector, and what computes it
    for L in layers:
        if L.op != "Mul" or not _spatial(L.outputs[0]):
            continue
        vec = [t for t in L.inputs if t is not None and len(t.shape) == 4 and not _spatial(t)
               and t.name in producer]
        if not vec:
            continue
        cls[L.name] = "se"
        todo = [t.name for t in vec]
        while todo:
            p = producer.get(todo.pop())
            if p is None or p.name in cls:
                continue
            cls[p.name] = "se"
            todo.extend(t.name for t in p.inputs
                        if t is not None and t.name in producer and not _spatial(t))
    for L in layers:
        if L.name in cls:
            continue
        out = L.outputs[0] if L.outputs else None
        if L.op == "Conv" and _spatial(out):
            w = L.inputs[1].shape
            cin, group = L.inputs[0].shape[1], int(L.attrs.get("group", 1))
            k = int(np.prod(w[2:]))
            if group == 1:
                cls[L.name] = "1x1" if k == 1 else ("stem" if cin <= 4 else "conv")
            elif group == cin and w[1] == 1:
                cls[L.name] = "depthwise"
            else:
                cls[L.name] = "grouped"
        elif not _spatial(out):
            cls[L.name] = "head"
        elif L.op in ("MaxPool", "AveragePool"):
            cls[L.name] = "pool"
        else:
            cls[L.name] = "eltwise"
    return cls


def _nbytes(t):
    return int(np.prod(t.shape)) * np.dtype(t.dtype).itemsize


def node_bytes(L, weights=None):
    """bytes a node reads and writes once: its inputs (weights too) and outputs; with
    `weights` (the names of the initializers) (activation bytes, weight bytes)"""
    ts = [t for t in list(L.inputs) + list(L.outputs) if t is not None]
    if weights is None:
        return sum(_nbytes(t) for t in ts)
    w = sum(_nbytes(t) for t in L.inputs if t is not None and t.name in weights)
    return sum(_nbytes(t) for t in ts) - w, w


def roofline(nodes, peak, bw, cold=False):
    """{class: ms} of nodes [(class, FLOPs, activation bytes, weight bytes)]: per node the larger
    of its FLOPs at peak and its bytes at the bandwidth for their size; cold: the weights at the
    bandwidth for all the network's weights (read once a run, they do not stay in L2)"""
    wsize = sum(n[3] for n in nodes)
    out = collections.Counter()
    for c, f, a, w in nodes:
        if cold:
            mem = a / bandwidth_for(bw, a) + w / bandwidth_for(bw, wsize)
        else:
            mem = (a + w) / bandwidth_for(bw, a + w)
        out[c] += max(f / peak, mem) / 1e6   # ns -> ms
    return out


def cover(claims, layers):
    """{engine node: [ONNX node names]}: each engine node (claims: {name: tensors it produces})
    gets the ONNX nodes from its tensors back to the tensors other engine nodes produce."""
    producer = {o.name: L for L in layers for o in L.outputs if o is not None}
    stops = set().union(*claims.values()) if claims else set()
    taken, out = set(), {}
    for name, tensors in claims.items():
        got, todo = [], list(tensors)
        while todo:
            p = producer.get(todo.pop())
            if p is None or p.name in taken:
                continue
            taken.add(p.name)
            got.append(p.name)
            todo.extend(t.name for t in p.inputs
                        if t is not None and t.name in producer and t.name not in stops)
        out[name] = got
    return out


def named_after(name, layers):
    """[the ONNX node whose name is the longest prefix of an engine node's name] or []: an
    engine node producing no ONNX tensor of its own (onnxruntime's ".../Mul/QuickGeluFusion/",
    a SiLU; tinycnn's squeeze-and-excitation pool summed by the depthwise before it)"""
    best = max((L.name for L in layers if name.startswith(L.name)), key=len, default=None)
    return [best] if best else []


def split(times, covered, weight, flops, cls):
    """{ONNX node or None: ms}: each engine node's time shared among the ONNX nodes it covers
    in proportion to `weight` (their unfused times), else their FLOPs, else equally; engine
    nodes covering none (reorders) under None.  In a step with a convolution, the element-wise
    nodes weigh nothing: they are its epilogue, computed on the accumulators (sharing by
    unfused times charged MobileNetV2's fused Clips 0.3 ms that no fused step spends)."""
    out = collections.Counter()
    for name, ms in times.items():
        nodes = covered.get(name) or []
        if not nodes:
            out[None] += ms
            continue
        conv = any(cls.get(n) in CONVS for n in nodes)
        for w in ([0.0 if conv and cls.get(n) == "eltwise" else weight.get(n, 0.0) for n in nodes],
                  [flops.get(n, 0) for n in nodes],
                  [1.0] * len(nodes)):
            if sum(w) > 0:
                break
        for n, x in zip(nodes, w):
            out[n] += ms * x / sum(w)
    return out


def levers(classes, roof, target=TARGET):
    """((class, ms) of the largest excess over target x onnxruntime's time of that class,
    (class, ms) of the non-GEMM class furthest above its ideal); classes {class: {"tc", "ort"}}"""
    over = max(((c, v.get("tc", 0.0) - target * v.get("ort", 0.0)) for c, v in classes.items()),
               key=lambda x: x[1], default=("-", 0.0))
    above = max(((c, v.get("tc", 0.0) - min(v.get("tc", 0.0), roof.get(c, 0.0)))
                 for c, v in classes.items() if c not in GEMM), key=lambda x: x[1],
                default=("-", 0.0))
    return over, above


def by_class(per_node, cls):
    out = collections.Counter()
    for n, ms in per_node.items():
        out["layout" if n is None else cls.get(n, "eltwise")] += ms
    return out


def summarize(classes, roof, ort_total, tc_total, target=TARGET, ceiling=0.9, ratio=None):
    """The per-network arithmetic (ms): classes {class: tinycnn ms, scaled to its total}, roof
    {class: roofline ms}; ceiling: the GEMM efficiency taken as reachable.  A class's ideal is
    the lesser of its roofline and tinycnn's time (Winograd beats direct FLOPs at peak; an
    activation fused into a convolution moves no bytes of its own).  ratio: the measured
    tinycnn / onnxruntime (median of rounds) that decides "met"; else tc_total / ort_total."""
    tgt = target * ort_total
    ideal = {c: min(classes.get(c, 0.0), roof.get(c, 0.0)) for c in CLASSES}
    gemm_ideal = sum(ideal[c] for c in GEMM)
    tc_gemm = sum(classes.get(c, 0.0) for c in GEMM)
    tc_rest = tc_total - tc_gemm
    floor_ms = sum(ideal.values())
    need = gemm_ideal / (tgt - tc_rest) if tgt > tc_rest else float("inf")
    if (tc_total / ort_total if ratio is None else ratio) <= target:
        verdict = "met"
    elif floor_ms > tgt:
        verdict = "impossible"
    elif need <= ceiling:
        verdict = "GEMM"
    else:
        verdict = "GEMM+rest"
    return {"target_ms": tgt, "gemm_peak_ms": gemm_ideal, "tc_gemm_ms": tc_gemm,
            "tc_gemm_eff": gemm_ideal / tc_gemm if tc_gemm else 0.0, "tc_rest_ms": tc_rest,
            "headroom_ms": tgt - gemm_ideal, "margin_ms": tgt - gemm_ideal - tc_rest,
            "margin_ceiling_ms": tgt - gemm_ideal / ceiling - tc_rest, "need_eff": need,
            "floor_ms": floor_ms, "verdict": verdict}


# ---- the machine ------------------------------------------------------------------------------

def fma_peak(threads):
    """GFLOP/s per CPU second of fma_peak.c on `threads` threads (bench.py's probe, best of 3
    trials of 0.3 s), compiled and run without the CPUID preload"""
    import bench
    saved = {k: os.environ.pop(k) for k in ("LD_PRELOAD", "CPUID_AVX2_SITES") if k in os.environ}
    try:
        return bench.fma_peak(0.3, 3, [threads])[threads]["cpu_gflops"]
    finally:
        os.environ.update(saved)


BW_SIZES = [1 << k for k in range(14, 27, 2)]   # 16 KiB .. 64 MiB


def copy_bandwidth():
    """{bytes: GB/s} of np.copyto (read + write counted) per buffer size, best of 7 trials"""
    bw = {}
    for size in BW_SIZES:
        src = np.ones(size // 8, np.float32)
        dst = np.empty_like(src)
        reps = max(1, (1 << 24) // size)
        np.copyto(dst, src)   # dst's pages faulted in before timing (16 and 64 MiB measured
        ts = []               # 45 and 4 GB/s with the faults in their single copy)
        for _ in range(7):
            t0 = time.perf_counter()
            for _ in range(reps):
                np.copyto(dst, src)
            ts.append((time.perf_counter() - t0) / reps)
        bw[size] = size / min(ts) / 1e9
    return bw


def bandwidth_for(bw, nbytes):
    """GB/s for nbytes: the best measured at a size holding them (a smaller buffer is no slower
    than a larger one in the same cache; numpy's call overhead lowers the smallest sizes' own
    numbers: 16 KiB measured 33-42 GB/s where 256 KiB did 79-97)"""
    fits = [v for size, v in bw.items() if size >= nbytes]
    return max(fits) if fits else bw[max(bw)]


# ---- timing ----------------------------------------------------------------------------------

def measure(path, rounds, burst, threads):
    import onnx
    import onnxruntime as ort
    import tinycnn
    from tinycnn.analysis import analyze
    from mt_steps import node_runs

    tmp = tempfile.mkdtemp()
    an = analyze(path)
    layers = an.layers

    def ort_session(profile):
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        if profile:
            so.enable_profiling = True
            so.profile_file_prefix = os.path.join(tmp, "ort")
            so.optimized_model_filepath = os.path.join(tmp, "ort_opt.onnx")
            so.log_severity_level = 3
        return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])

    def tc_session(profile, fused=True):
        so = tinycnn.SessionOptions()
        so.intra_op_num_threads = threads
        if not fused:
            so.graph_optimization_level = tinycnn.GraphOptimizationLevel.ORT_ENABLE_BASIC
        if profile:
            so.enable_profiling = True
            so.profile_file_prefix = os.path.join(tmp, "tc" if fused else "tcu")
        return tinycnn.InferenceSession(path, so)

    s = {"ort": ort_session(False), "tc": tc_session(False), "ort_p": ort_session(True),
         "tc_p": tc_session(True), "tc_u": tc_session(True, fused=False)}
    rng = np.random.default_rng(0)
    feed = {i.name: rng.standard_normal([d if isinstance(d, int) else 1 for d in i.shape])
            .astype(np.float32) for i in s["tc"].get_inputs()}
    clock = time.thread_time if threads == 1 else time.perf_counter
    for x in s.values():
        for _ in range(3):
            x.run(None, feed)
    per = {"ort": [], "tc": []}
    for _ in range(rounds):
        for k, x in s.items():
            if threads > 1:
                time.sleep(0.1)   # onnxruntime's pool spins ~60 ms after a run (bench.py)
            for _ in range(burst):
                t0 = clock()
                x.run(None, feed)
                if k in per:
                    per[k].append((clock() - t0) * 1e3)
    runs = {k: node_runs(s[k].end_profiling(), 3) for k in ("ort_p", "tc_p", "tc_u")}
    # the lower quartile of each step's wall time over the runs: a share only (the totals are
    # the unprofiled sessions'), and on a loaded host preemption lands in some runs' steps
    med = {k: {n: float(np.percentile(v, 25)) for n, v in r.items() if v} for k, r in runs.items()}

    flops = {L.name: 2 * L.macs for L in layers}
    # what each engine node produces (ONNX tensor names)
    opt = onnx.load(os.path.join(tmp, "ort_opt.onnx"), load_external_data=False)
    onames = {o.name for L in layers for o in L.outputs if o is not None}
    ort_claims = {}
    for n in opt.graph.node:
        if n.name.endswith("_nchwc") and n.name[:-6] in onames:
            ort_claims[n.name] = {n.name[:-6]}
        elif not n.op_type.startswith("Reorder"):
            ort_claims[n.name] = {o for o in n.output if o in onames}
    tc_claims = {n.name: {o for o in n.outputs if o in onames}
                 for n in s["tc_p"]._base.graph.nodes}
    cov = {"ort_p": cover({n: ort_claims.get(n, set()) for n in med["ort_p"]}, layers),
           "tc_p": cover({n: tc_claims.get(n, set()) for n in med["tc_p"]}, layers)}
    for c in cov.values():
        for n, got in c.items():
            if not got:   # nothing of its own: the ONNX node it is named after, if any
                c[n] = named_after(n, layers)
    unfused = med["tc_u"]
    cls = classify(layers)
    res = {"model": os.path.basename(path), "threads": threads, "classes": {},
           "ort_runs": per["ort"], "tc_runs": per["tc"]}
    nr = len(per["ort"]) // burst
    ratios = [np.median(per["tc"][i * burst:(i + 1) * burst]) /
              np.median(per["ort"][i * burst:(i + 1) * burst]) for i in range(nr)]
    res["ratio"] = [float(np.percentile(ratios, q)) for q in (50, 25, 75)]
    res["ort_ms"] = float(np.median(per["ort"]))
    res["tc_ms"] = float(np.median(per["tc"]))
    res["unmatched"] = {eng: sorted(((med[key][n], n) for n, c in cov[key].items() if not c),
                                    reverse=True) for eng, key in (("ort", "ort_p"), ("tc", "tc_p"))}
    res["profiled_ms"] = {eng: sum(med[key].values()) for eng, key in (("ort", "ort_p"), ("tc", "tc_p"))}
    res["per_node"] = {}
    for eng, key in (("ort", "ort_p"), ("tc", "tc_p")):
        per_node = split(med[key], cov[key], unfused, flops, cls)
        c = by_class(per_node, cls)
        scale = res[eng + "_ms"] / sum(c.values())
        res[eng + "_scale"] = scale
        res["per_node"][eng] = {n: v * scale for n, v in per_node.items() if n is not None}
        for k, v in c.items():
            res["classes"].setdefault(k, {})[eng] = v * scale
    per_cls = collections.defaultdict(lambda: collections.Counter())
    for L in layers:
        if L.steps == 0 and not L.macs:
            continue
        c = per_cls[cls[L.name]]
        c["nodes"] += 1
        c["flops"] += flops[L.name]
        c["bytes"] += node_bytes(L)
    made = {o.name for L in layers for o in L.outputs if o is not None}
    weights = {t.name for L in layers for t in L.inputs
               if t is not None and t.name not in made and t.name not in an.input_shapes}
    res["nodes"] = [(cls[L.name], flops[L.name]) + node_bytes(L, weights) for L in layers
                    if L.steps or L.macs]
    res["node_names"] = [L.name for L in layers if L.steps or L.macs]
    for k, c in per_cls.items():
        res["classes"].setdefault(k, {}).update(nodes=c["nodes"], flops=c["flops"],
                                                bytes=c["bytes"])
    return res


def report(res, peak, bw, show_classes=True, ceiling=0.9):
    """prints the class table; returns the summary dict"""
    roof = roofline(res["nodes"], peak, bw)
    cold = roofline(res["nodes"], peak, bw, cold=True)
    tc_cls = {k: v.get("tc", 0.0) for k, v in res["classes"].items()}
    gemm_flops = sum(res["classes"].get(c, {}).get("flops", 0) for c in GEMM)
    s = summarize(tc_cls, roof, res["ort_ms"], res["tc_ms"], ceiling=ceiling, ratio=res["ratio"][0])
    s.update(model=res["model"], ort_ms=res["ort_ms"], tc_ms=res["tc_ms"], ratio=res["ratio"],
             gemm_gflop=gemm_flops / 1e9)
    s["over"], s["above"] = levers(res["classes"], roof)
    s["floor_cold_ms"] = summarize(tc_cls, cold, res["ort_ms"], res["tc_ms"])["floor_ms"]
    if show_classes:
        print(f"\n{res['model']}, {res['threads']} thread(s): onnxruntime {res['ort_ms']:.2f} ms, "
              f"tinycnn {res['tc_ms']:.2f} ms, ratio {res['ratio'][0]:.3f} "
              f"[{res['ratio'][1]:.3f}-{res['ratio'][2]:.3f}] (profiled sums scaled by "
              f"{res['ort_scale']:.3f} / {res['tc_scale']:.3f} to the totals)")
        print(f"{'class':10s} {'nodes':>5s} {'GFLOP':>7s} {'MB':>7s} {'ort ms':>7s} {'tc ms':>7s} "
              f"{'tc/ort':>6s} {'@peak':>7s} {'roof':>7s} {'tc/roof':>7s}")
        for k in CLASSES:
            v = res["classes"].get(k)
            if not v:
                continue
            o, t, f = v.get("ort", 0.0), v.get("tc", 0.0), v.get("flops", 0)
            pk = f / peak / 1e6
            print(f"{k:10s} {v.get('nodes', 0):5d} {f / 1e9:7.3f} {v.get('bytes', 0) / 1e6:7.2f} "
                  f"{o:7.3f} {t:7.3f} {t / o if o else 0:6.2f} {pk:7.3f} {roof[k]:7.3f} "
                  f"{t / roof[k] if roof[k] else 0:7.2f}")
        for eng in ("ort", "tc"):
            um = res["unmatched"][eng]
            if um:
                print(f"layout, {eng}: {len(um)} steps of no ONNX node (profiled ms), largest "
                      + ", ".join(f"{n[-40:]} {ms:.3f}" for ms, n in um[:3]))
        print(f"target {s['target_ms']:.2f} ms; GEMM classes {s['gemm_gflop']:.3f} GFLOP, at peak "
              f"(or tinycnn's where less) {s['gemm_peak_ms']:.2f} ms (tinycnn's {s['tc_gemm_ms']:.2f} ms = "
              f"{100 * s['tc_gemm_eff']:.0f}% of peak); headroom for the rest "
              f"{s['headroom_ms']:.2f} ms, tinycnn's rest {s['tc_rest_ms']:.2f} ms, margin "
              f"{s['margin_ms']:+.2f} ms ({s['margin_ceiling_ms']:+.2f} at {100 * ceiling:.0f}% of peak); GEMMs needed at {100 * s['need_eff']:.0f}% of peak; "
              f"floor {s['floor_ms']:.2f} ms ({s['floor_ms'] / res['ort_ms']:.2f} of onnxruntime; "
              f"{s['floor_cold_ms']:.2f} with the weights at the bandwidth of their total): "
              f"{s['verdict']}")
    return s


def print_nodes(res, which, peak):
    """each ONNX node of class `which`: both engines' share (ms, scaled), its FLOPs at peak"""
    print(f"\n{res['model']}, {which} nodes: {'tc ms':>7s} {'ort ms':>7s} {'tc/ort':>6s} "
          f"{'@peak':>7s} {'tc/peak':>7s}")
    for name, (c, f, *_) in zip(res["node_names"], res["nodes"]):
        if c != which:
            continue
        t, o = res["per_node"]["tc"].get(name, 0.0), res["per_node"]["ort"].get(name, 0.0)
        pk = f / peak / 1e6
        print(f"{name[-56:]:56s} {t:7.3f} {o:7.3f} {t / o if o else 0:6.2f} {pk:7.3f} "
              f"{t / pk if pk else 0:7.2f}")


def print_summary(rows, peak, threads, ceiling):
    print(f"\nPer network, {threads} thread(s), FMA peak {peak:.1f} GFLOP/s; ms; ratio median "
          "[25-75%]; eff = GEMM classes' FLOPs at peak / tinycnn's GEMM-class time")
    print("| network | onnxruntime | tinycnn | ratio | target (0.80) | GEMM at peak | tinycnn GEMM "
          f"(eff) | tinycnn rest | headroom | margin at peak / {100 * ceiling:.0f}% | GEMM eff "
          "needed | floor (/ort) | floor, weights cold | verdict | most over 0.80 x ort | rest most "
          "above its floor |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|")
    for s in rows:
        r = s["ratio"]
        need = f"{100 * s['need_eff']:.0f}%" if np.isfinite(s["need_eff"]) else "inf"
        print(f"| {s['model'].split('-opset')[0]} | {s['ort_ms']:.2f} | {s['tc_ms']:.2f} | "
              f"{r[0]:.3f} [{r[1]:.3f}-{r[2]:.3f}] | {s['target_ms']:.2f} | {s['gemm_peak_ms']:.2f} | "
              f"{s['tc_gemm_ms']:.2f} ({100 * s['tc_gemm_eff']:.0f}%) | {s['tc_rest_ms']:.2f} | "
              f"{s['headroom_ms']:.2f} | {s['margin_ms']:+.2f} / {s['margin_ceiling_ms']:+.2f} | {need} | {s['floor_ms']:.2f} "
              f"({s['floor_ms'] / s['ort_ms']:.2f}) | {s['floor_cold_ms']:.2f} | {s['verdict']} | {s['over'][0]} "
              f"{s['over'][1]:+.2f} | {s['above'][0]} {s['above'][1]:+.2f} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--burst", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--classes", action="store_true", help="also each network's class table")
    ap.add_argument("--json", help="write the raw measurements here")
    ap.add_argument("--ceiling", type=float, default=0.9,
                    help="the GEMM efficiency (fraction of the FMA peak) taken as reachable")
    ap.add_argument("--nodes", metavar="CLASS",
                    help="also each node of that class: both engines' ms (scaled), FLOPs at peak")
    ap.add_argument("--render", action="store_true",
                    help="MODELS are --json files: print their tables again (no measuring)")
    a = ap.parse_args()
    if a.render:
        for path in a.models:
            with open(path) as f:
                d = json.load(f)
            bw = {int(k): v for k, v in d["bandwidth"].items()}
            peak = max(d["peak"])
            rows = [report(r, peak, bw, a.classes, a.ceiling) for r in d["results"]]
            for r in d["results"] if a.nodes else ():
                print_nodes(r, a.nodes, peak)
            print_summary(rows, peak, d["results"][0]["threads"], a.ceiling)
        return
    peaks = [fma_peak(a.threads)]
    bw = copy_bandwidth()
    print("copy bandwidth GB/s (read + write) by buffer size: " +
          ", ".join(f"{k >> 10} KiB {v:.1f}" for k, v in bw.items()))
    results = []
    for m in a.models:
        results.append(measure(m, a.rounds, a.burst, a.threads))
        print(f"{os.path.basename(m)} measured", file=sys.stderr)
    peaks.append(fma_peak(a.threads))
    peak = max(peaks)
    print(f"FMA peak (fma_peak.c, CPU time) before / after: {peaks[0]:.1f} / {peaks[1]:.1f} GFLOP/s "
          f"({a.threads} thread(s)); {a.rounds} rounds of {a.burst} runs per session")
    rows = [report(r, peak, bw, a.classes, a.ceiling) for r in results]
    for r in results if a.nodes else ():
        print_nodes(r, a.nodes, peak)
    print_summary(rows, peak, a.threads, a.ceiling)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"peak": peaks, "bandwidth": bw, "results": results, "summary": rows}, f)


if __name__ == "__main__":
    main()

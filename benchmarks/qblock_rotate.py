"""A piece of an int8 QDQ network cut between two tensors (an inverted-residual block: its
expansion, depthwise and projection, so that qdq._pair_channels orders the projection's
channels as in the network, which a single convolution cut alone does not), fed the network's
own activations (onnxruntime, bench.input_feed), tinycnn only, 1 thread (--threads: wall): the time of the
steps whose node contains --step (thread CPU clock, profiled runs) with the same feed every
run and with feeds changing run by run (the activations' pixels rolled by (3 j, 5 j), j = 1 ..
--feeds - 1), as benchmarks/qconv_rotate.py; with --against, the other build's session too,
the four (build, feed) modes alternating in each round, and the per-round ratios of the
medians (this build / the other).  With the AVX2 emulation env:
  LD_PRELOAD=.../libcpuid_avx2.so TINYCNN_ISA=avx2 \\
  python benchmarks/qblock_rotate.py MODEL-int8-qdq.onnx --block 12 [--against CHECKOUT]
(--block N: MobileNetV2's torchvision names, features.N's input to its projection's output;
or --from / --to tensor names.)"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinycnn  # noqa: E402
from bench import INPUTS, input_feed  # noqa: E402
from qconv_rotate import conv_us  # noqa: E402
from subgraph_shapes import other_build, spread  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--block", type=int, help="MobileNetV2's features.N")
    ap.add_argument("--from", dest="src", help="the cut's input tensor")
    ap.add_argument("--to", help="the cut's output tensor")
    ap.add_argument("--step", default="conv.2", help="time the nodes containing this")
    ap.add_argument("--input", choices=INPUTS, default="photo")
    ap.add_argument("--against", metavar="CHECKOUT")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--runs", type=int, default=16)
    ap.add_argument("--feeds", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1, help="(past 1: wall clock)")
    a = ap.parse_args()
    src, dst = a.src, a.to
    full = onnx.load(a.model)
    if a.block is not None:   # the previous block's output: its residual sum, else projection
        made = {o for n in full.graph.node for o in n.output}
        prev = f"/features/features.{a.block - 1}/"
        src = src or next(t for t in (prev + "Add_output_0_QuantizeLinear_Output",
                                      prev + "conv/conv.2/Conv_output_0_QuantizeLinear_Output",
                                      prev + "conv/conv.1/Conv_output_0_QuantizeLinear_Output")
                          if t in made)
        dst = dst or f"/features/features.{a.block}/conv/conv.2/Conv_output_0_QuantizeLinear_Output"
    if not src or not dst:
        raise SystemExit("give --block or both --from and --to")
    if src not in {o.name for o in full.graph.output}:
        full.graph.output.append(onnx.ValueInfoProto(name=src))
    s = ort.InferenceSession(full.SerializeToString(), providers=["CPUExecutionProvider"])
    i = s.get_inputs()[0]
    x = input_feed(a.input, [d if isinstance(d, int) else 1 for d in i.shape])
    v = s.run([src], {i.name: x})[0]
    sub = os.path.join(tempfile.mkdtemp(), "sub.onnx")
    onnx.utils.extract_model(a.model, sub, [src], [dst])
    pkgs = [("this", tinycnn)] + ([("against", other_build(a.against))] if a.against else [])
    sess = {}
    for k, pkg in pkgs:
        o = pkg.SessionOptions()
        o.intra_op_num_threads = a.threads
        sess[k] = pkg.InferenceSession(sub, o)
    outs = [sess[k].run(None, {src: v})[0] for k in sess]
    same_bits = all(np.array_equal(outs[0], y) for y in outs[1:])
    feeds = [v] + [np.ascontiguousarray(np.roll(v, (3 * j, 5 * j), axis=(2, 3)))
                   for j in range(1, a.feeds)]
    modes = [(k, f) for k in sess for f in ("same", "rotated")]
    clock = time.thread_time_ns if a.threads == 1 else time.perf_counter_ns
    med = {m: [] for m in modes}
    for r in range(a.rounds):
        for m in (modes if r % 2 == 0 else modes[::-1]):
            ts = [conv_us(sess[m[0]], {src: feeds[0] if m[1] == "same" else feeds[j % a.feeds]},
                          a.step, clock) for j in range(a.runs)]
            med[m].append(statistics.median(ts))
    for m in modes:
        print(f"{m[0]:8s} {m[1]:8s} median of round medians {statistics.median(med[m]):8.1f} us "
              f"(min {min(med[m]):.1f})")
    if a.against:
        for f in ("same", "rotated"):
            print(f"this / against, {f:8s} {spread(med[('this', f)], med[('against', f)])}")
        print(f"outputs bit-identical: {same_bits}")


if __name__ == "__main__":
    main()

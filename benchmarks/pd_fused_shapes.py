"""1x1 -> depthwise pairs alone (EfficientNet-B0's blocks, whose depthwise output a
squeeze-and-excitation reads): the two layers run in turn vs the banded PGFused (csrc/pg_fused.c,
ir_fused.c without projection) at several band heights; thread CPU time, min / median.
  LD_PRELOAD=exports/libcpuid_avx2.so TINYCNN_ISA=avx2 python benchmarks/pd_fused_shapes.py
      SiLU 16,96,112,3,2 2,4,8 [flush]   (activation, c0,e,h,kernel,stride, bands)"""
import os, sys, time
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tinycnn import _kernels
from tinycnn.ops.conv_algo import ConvGeometry, choose_conv_algo
act = sys.argv[1]; c0, e, h, ks, s = [int(v) for v in sys.argv[2].split(",")]
bands = [int(b) for b in sys.argv[3].split(",")]
ctx = _kernels.Context(1, "avx2")
rng = np.random.default_rng(0)
oh = (h + 2 * (ks // 2) - ks) // s + 1
a1 = choose_conv_algo(ConvGeometry(1, c0, e, h, h, (1, 1)), isa=ctx.isa)
p = ks // 2
ex = _kernels.Conv2d(ctx, rng.standard_normal((e, c0, 1, 1), dtype=np.float32), None, algo=a1, activation=act)
dw = _kernels.Conv2d(ctx, rng.standard_normal((e, 1, ks, ks), dtype=np.float32), None, algo="depthwise", strides=(s, s), pads=(p,)*4, group=e, activation=act)
x = np.random.default_rng(1).standard_normal((1, c0, h, h), dtype=np.float32)
y = np.empty((1, e, oh, oh), np.float32); m = np.empty((1, e), np.float32)
t1 = np.empty((1, e, h, h), np.float32)
wx = np.empty(ex.workspace_size(1, h, h), np.float32); wd = np.empty(dw.workspace_size(1, h, h), np.float32)
big = np.ones(6 << 20, np.float32)
def unf():
    ex.run(x, t1, None, wx); dw.run(t1, y, None, wd, means=m)
runs = {"unf": unf}
for b in bands:
    f = _kernels.PGFused(ex, dw, b)
    ws = np.empty(f.workspace_size(h, h), np.float32)
    runs[f"b{b}"] = (lambda f=f, ws=ws: f.run(x, y, m, ws))
flush = len(sys.argv) > 4
ts = {k: [] for k in runs}
for r in range(40):
    for k, f in runs.items():
        for _ in range(3):
            if flush: big[::16] += 1.0
            t = time.thread_time_ns(); f(); ts[k].append(time.thread_time_ns() - t)
print(act, sys.argv[2], "flush" if flush else "hot", " ".join(f"{k}: {np.min(v)/1e6:.3f}/{np.median(v)/1e6:.3f}" for k, v in ts.items()))

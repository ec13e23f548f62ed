"""A variant of a checkout's built extension in seconds, not a full rebuild (h50-pf): the named
csrc files recompiled with extra flags (the rest: the checkout's own objects under build/), linked
into OUT/tinycnn with the checkout's tinycnn/*.py and benchmarks/ copied beside, so that OUT is a
checkout for --against, PYTHONPATH or its own benchmarks/ scripts.  Needs the compile and link
commands of a verbose build of the checkout (the objects it names must still be there):
  python setup.py build_ext --inplace -j 2 -v > build.log 2>&1
  python benchmarks/relink_variant.py build.log OUT csrc/pw_sparse_avx2.c="-include benchmarks/no_prefetch.h" \\
      csrc/ir_fused.c=-DTC_CHAN8_PF_PROJECT=0
FILE ALL: every csrc file (the header above breaks threadpool.c's POSIX clock: leave that one
out).  A variant's objects are kept in OUT/obj and reused (delete OUT to recompile)."""
import argparse
import os
import shlex
import shutil
import subprocess


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log", help="a verbose build's output (setup.py build_ext -v)")
    ap.add_argument("out")
    ap.add_argument("specs", nargs="*", metavar="FILE=FLAGS")
    ap.add_argument("--checkout", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    a = ap.parse_args()
    comp, link = {}, None
    for line in open(a.log):
        if not line.startswith(("gcc", "cc ", "x86_64-linux-gnu-gcc")):
            continue
        args = shlex.split(line)
        if "-c" in args:
            comp[args[args.index("-c") + 1]] = args
        elif "-shared" in args:
            link = args
    spec = {}
    for s in a.specs:
        f, flags = s.split("=", 1)
        for src in ([k for k in comp if k.startswith("csrc/")] if f == "ALL" else [f]):
            if src not in comp:
                raise SystemExit(f"{src}: not compiled in {a.log}")
            spec.setdefault(src, []).extend(shlex.split(flags))
    out = os.path.abspath(a.out)
    skip = {"tinycnn": ("__pycache__", "*.so", "*.c"), "benchmarks": ("__pycache__",)}
    for d, patterns in skip.items():
        shutil.rmtree(os.path.join(out, d), ignore_errors=True)
        shutil.copytree(os.path.join(a.checkout, d), os.path.join(out, d),
                        ignore=shutil.ignore_patterns(*patterns))
    os.makedirs(os.path.join(out, "obj"), exist_ok=True)
    objs = {}
    for src, flags in spec.items():
        args = list(comp[src])
        obj = os.path.join(out, "obj", os.path.basename(args[args.index("-o") + 1]))
        objs[args[args.index("-o") + 1]] = obj
        args[args.index("-o") + 1] = obj
        if not os.path.exists(obj):
            subprocess.run(args + flags, cwd=a.checkout, check=True)
    args = [objs.get(x, x) for x in link]
    so = os.path.basename(args[args.index("-o") + 1])
    args[args.index("-o") + 1] = os.path.join(out, "tinycnn", so)
    subprocess.run(args, cwd=a.checkout, check=True)
    print(f"{out}: {so} with {sorted(spec) or 'no file'} recompiled")


if __name__ == "__main__":
    main()

#!/bin/bash
# ab_so.sh CHECKOUT OUT.so: the files of CHECKOUT/csrc compiled as setup.py compiles them (plus
# -fPIC) and linked as one shared library, for the two-build harnesses (pointwise_ab.c, qpw_ab.c,
# ir_ab.c).  Objects are kept per checkout under ${AB_SO_CACHE:-/tmp/ab_so}: a later call
# recompiles only the .c files newer than their object (every file when a header is newer), so
# a change to one kernel file rebuilds in seconds where the extension takes minutes.
# EXTRA_CFLAGS: added to every file (a -D variant: give it its own AB_SO_CACHE).
# -fwrapv and -DNDEBUG as setup.py's compiles get them from Python's CFLAGS: without -fwrapv gcc
# made gemm.c's per-row memcpy of the 7x7 layers' aligned B copy (gemm_copy_ldb) an inline rep
# movsq, where the extension calls libc's memcpy, and pointwise_ab.c read those layers 5-9% slower
# than the extension runs them (1152 -> 192 at 7x7 229 against 210 us; h36-gemm, 2026-12-05);
# the cache's directories are named anew for it.
set -e
src=$(cd "$1" && pwd); out=$2
obj=${AB_SO_CACHE:-/tmp/ab_so}/$(echo "$src" | tr / _)_fwrapv  # not the objects of older flags
mkdir -p "$obj"
for f in "$src"/csrc/*.c; do
    o=$obj/$(basename "$f" .c).o
    case $f in
        *_avx2.c) isa="-mavx2 -mfma" ;;
        *_avx512.c) isa="-mavx2 -mfma -mavx512f" ;;
        *_avxvnni.c) isa="-mavx2 -mfma -mavxvnni" ;;
        *_avx512vnni.c) isa="-mavx2 -mfma -mavx512f -mavx512bw -mavx512vl -mavx512vnni" ;;
        *) isa="" ;;
    esac
    if [ ! -f "$o" ] || [ "$f" -nt "$o" ] || [ -n "$(find "$src/csrc" -name '*.h' -newer "$o")" ]; then
        gcc -O3 -std=c99 -fno-strict-aliasing -fwrapv -DNDEBUG -fPIC -DTC_HAVE_AVX2_SOURCES=1 -pthread $isa \
            $EXTRA_CFLAGS -I"$src/csrc" -c "$f" -o "$o" &
    fi
done
wait
gcc -shared -pthread -o "$out" "$obj"/*.o -lm

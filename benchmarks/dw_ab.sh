#!/bin/sh
# benchmarks/dw_ab.sh CHECKOUT_A CHECKOUT_B [OUT]: builds OUT (default ./dw_ab), dw_ab.c timing
# one depthwise layer with A's and B's AVX2 depthwise kernels (their csrc/depthwise_body.h and
# depthwise_vec_avx2.h; the rest of csrc from B) alternating in one process, e.g.
#   benchmarks/dw_ab.sh /path/to/main . && ./dw_ab 576 14 3 1 2 100
set -e
A=$1 B=$2 OUT=${3:-./dw_ab}
D=$(dirname "$0")
T=$(mktemp -d)
F="-O3 -std=gnu11 -fno-strict-aliasing -mavx2 -mfma -Wno-unused-function"
mkdir -p "$T/a" "$T/b"
cp "$A/csrc/depthwise_body.h" "$A/csrc/depthwise_vec_avx2.h" "$T/a/"
cp "$B/csrc/depthwise_body.h" "$B/csrc/depthwise_vec_avx2.h" "$T/b/"
gcc $F -I"$T/a" -I"$B/csrc" -DTC_DW_FN=dw_a -DPICK=pick_a -DPICKP=pickp_a -DPICKS=picks_a -c "$D/dw_ab_kernel.c" -o "$T/a.o"
gcc $F -I"$T/b" -I"$B/csrc" -DTC_DW_FN=dw_b -DPICK=pick_b -DPICKP=pickp_b -DPICKS=picks_b -c "$D/dw_ab_kernel.c" -o "$T/b.o"
gcc $F -I"$B/csrc" "$D/dw_ab.c" "$T/a.o" "$T/b.o" -o "$OUT" -lm
rm -rf "$T"

#!/bin/sh
# benchmarks/chan8_ab.sh CHECKOUT_A CHECKOUT_B [OUT]: builds OUT (default ./chan8_ab), chan8_ab.c
# timing the NHWC8 block's strips (csrc/ir_chan8_avx2.c: expansion + depthwise of every 16-channel
# strip of one band, tc_ir_chan8_strips_avx2) with A's and B's ir_chan8_avx2.c alternating in one
# process (headers from B), e.g.
#   benchmarks/chan8_ab.sh /path/to/main . && ./chan8_ab 480 80 14 5 1 1 50
set -e
A=$1 B=$2 OUT=${3:-./chan8_ab}
D=$(dirname "$0")
T=$(mktemp -d)
F="-O3 -std=gnu11 -fno-strict-aliasing -mavx2 -mfma -Wno-unused-function -DTC_HAVE_AVX2_SOURCES"
mkdir -p "$T/a" "$T/b"
cp "$A/csrc/ir_chan8_avx2.c" "$T/a/"
cp "$B/csrc/ir_chan8_avx2.c" "$T/b/"
gcc $F -I"$T/a" -I"$B/csrc" -DSTRIPS_FN=strips_a -DROWS_FN=rows_a -c "$D/chan8_ab_kernel.c" -o "$T/a.o"
gcc $F -I"$T/b" -I"$B/csrc" -DSTRIPS_FN=strips_b -DROWS_FN=rows_b -c "$D/chan8_ab_kernel.c" -o "$T/b.o"
gcc $F -I"$B/csrc" -I"$D" "$D/chan8_ab.c" "$T/a.o" "$T/b.o" -o "$OUT" -lm
rm -rf "$T"

#!/bin/sh
# benchmarks/qdw_ab.sh CHECKOUT_A CHECKOUT_B [OUT]: builds OUT (default ./qdw_ab), qdw_ab.c timing
# A's and B's csrc/qdw_avx2.c (the rest of the headers from B) alternating in one process, e.g.
#   benchmarks/qdw_ab.sh /path/to/base . && ./qdw_ab 144 56 1 21 20
# Two copies of one checkout read within 2-3% (median ratio) on the loaded Zen 3 host.
set -e
A=$1 B=$2 OUT=${3:-./qdw_ab}
D=$(dirname "$0")
T=$(mktemp -d)
F="-O3 -std=gnu11 -fno-strict-aliasing -fwrapv -mavx2 -mfma -Wno-unused-function -DTC_HAVE_AVX2_SOURCES=1"
gcc $F -I"$A/csrc" -Dtc_qdw_out_row_avx2=out_a -Dtc_qdw_pair_row_avx2=pair_a -c "$A/csrc/qdw_avx2.c" -o "$T/a.o"
gcc $F -I"$B/csrc" -Dtc_qdw_out_row_avx2=out_b -Dtc_qdw_pair_row_avx2=pair_b -c "$B/csrc/qdw_avx2.c" -o "$T/b.o"
gcc $F -I"$B/csrc" "$D/qdw_ab.c" "$T/a.o" "$T/b.o" -o "$OUT"
rm -rf "$T"

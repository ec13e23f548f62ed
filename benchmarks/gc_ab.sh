#!/bin/sh
# benchmarks/gc_ab.sh CHECKOUT_A CHECKOUT_B [OUT]: builds OUT (default ./gc_ab), gc_ab.c timing
# one RegNet grouped layer with A's and B's AVX2 grouped kernels (their csrc/grouped_body.h, and
# grouped8_avx2.h where it exists; the other headers from each checkout) alternating in one
# process, e.g.
#   benchmarks/gc_ab.sh /path/to/main . && ./gc_ab 208 14 1 30 15
#   GC_AB_GC8=b ./gc_ab 208 14 1 30 15   # B's channels-in-lanes kernel (gc8) against A's blocks
#   GC_AB_GC8=ab ./gc_ab 208 14 1 30 15  # A's gc8 against B's
#   (GC_AB_NO_WINO=1: stride 1 by the direct gc8 even where a checkout has its Winograd)
# CFLAGS_EXTRA is added to every compile (e.g. -DGC8_ROW_Q=8 for gc8_row_reuse.patch).
set -e
A=$1 B=$2 OUT=${3:-./gc_ab}
D=$(dirname "$0")
T=$(mktemp -d)
F="$CFLAGS_EXTRA -O3 -std=gnu11 -fno-strict-aliasing -mavx2 -mfma -Wno-unused-function"
gcc $F -I"$A/csrc" -DTC_GC_FN=gc_a -DTC_GC_COPY_FN=gc_copy_a -DTC_GC_SPLIT_FN=gc_split_a \
    -Dtc_gc8_avx2=gc8_a -Dtc_gc8_copy_avx2=gc8_copy_a -Dtc_gc8_direct_avx2=gc8_direct_a -Dtc_gc8_wino_avx2=gc8_wino_a \
    -DPICK=pick_a -c "$D/gc_ab_kernel.c" -o "$T/a.o"
gcc $F -I"$B/csrc" -DTC_GC_FN=gc_b -DTC_GC_COPY_FN=gc_copy_b -DTC_GC_SPLIT_FN=gc_split_b \
    -Dtc_gc8_avx2=gc8_b -Dtc_gc8_copy_avx2=gc8_copy_b -Dtc_gc8_direct_avx2=gc8_direct_b -Dtc_gc8_wino_avx2=gc8_wino_b \
    -DPICK=pick_b -c "$D/gc_ab_kernel.c" -o "$T/b.o"
gcc $F -I"$B/csrc" "$D/gc_ab.c" "$T/a.o" "$T/b.o" -o "$OUT" -lm
rm -rf "$T"

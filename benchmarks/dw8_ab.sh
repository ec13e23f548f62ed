#!/bin/sh
# benchmarks/dw8_ab.sh CHECKOUT_A CHECKOUT_B [OUT]: builds OUT (default ./dw8_ab), dw8_ab.c timing
# the chan8 block's depthwise alone (csrc/ir_chan8_avx2.c dw8) with A's and B's ir_chan8_avx2.c
# alternating in one process (headers from B), e.g.
#   benchmarks/dw8_ab.sh /path/to/main . && ./dw8_ab 112 3 2 12 48 20 41
set -e
A=$1 B=$2 OUT=${3:-./dw8_ab}
D=$(dirname "$0")
T=$(mktemp -d)
F="-O3 -std=gnu11 -fno-strict-aliasing -mavx2 -mfma -Wno-unused-function -DTC_HAVE_AVX2_SOURCES"
for v in a b; do
    if [ $v = a ]; then S=$A; else S=$B; fi
    mkdir -p "$T/$v"
    cp "$S/csrc/ir_chan8_avx2.c" "$T/$v/"
    gcc $F -I"$T/$v" -I"$B/csrc" -DDW8_FN=dw8_$v -DSETUP_FN=setup_$v \
        -Dtc_ir_chan8_strips_ld_avx2=strips_ld_$v -Dtc_ir_chan8_strips_avx2=strips_$v \
        -Dtc_ir_chan8_rows_avx2=rows_$v -Dtc_ir_chan8_pair_rows_avx2=pair_rows_$v \
        -c "$D/dw8_ab_kernel.c" -o "$T/$v.o"
done
gcc $F -I"$B/csrc" -I"$D" "$D/dw8_ab.c" "$T/a.o" "$T/b.o" -o "$OUT" -lm
rm -rf "$T"

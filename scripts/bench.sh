#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: dma_map_benchmark on QEMU's edu device through a DMA domain,
# the Rust and the C driver booting the same Image in alternation
# (BENCH_ROUNDS boots each, BENCH_SECS seconds of mapping per boot, one
# thread, 4K granule). Prints the median map and unmap latencies of each
# driver and the Rust/C ratios; the timings are noisy, the ratio of medians
# of alternating boots is what to compare.
set -uo pipefail
. "$(dirname "$0")/env.sh"
RUN=$REPO/tools/testing/arm-smmu-v3-rs/qemu-run.sh
rounds=${BENCH_ROUNDS:-5} secs=${BENCH_SECS:-3}
[ -x "$BUILD/dma_map_benchmark" ] || die "no $BUILD/dma_map_benchmark: run make first"
res=$BUILD/bench.txt
: >"$res"
for i in $(seq "$rounds"); do
	for d in rs c; do
		"$RUN" --driver "$d" --name "bench-$d" --qemu -device --qemu edu \
			--file "$BUILD/dma_map_benchmark" --append "bench_secs=$secs" bench >/dev/null
		line=$(tr -d '\r' <"$BUILD/qemu-bench-$d.log" | sed -n 's/^SMMUTEST BENCH //p')
		[ -n "$line" ] || die "bench: round $i, driver $d produced no result (log: $BUILD/qemu-bench-$d.log)"
		echo "$d $line" | tee -a "$res"
	done
done
# median DRIVER FIELD (2: map, 4: unmap)
median() {
	awk -v d="$1" -v f="$2" '$1 == d { print $(f + 1) }' "$res" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
rm=$(median rs 2) cm=$(median c 2) ru=$(median rs 4) cu=$(median c 4)
echo "bench: median over $rounds boots each: map Rust ${rm}us C ${cm}us, unmap Rust ${ru}us C ${cu}us"
echo "bench: ratio Rust/C: map $(echo "scale=2; $rm / $cm" | bc) unmap $(echo "scale=2; $ru / $cu" | bc)"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: dma_map_benchmark on QEMU's edu device through a DMA domain,
# the Rust and the C driver booting the same Image in alternation
# (BENCH_ROUNDS boots each, BENCH_SECS seconds of mapping per boot, in
# four rows: strict and lazy invalidation, 1 thread on 2 CPUs and 4 threads
# on 4 CPUs; BENCH_ROWS=regex picks some; 4K granule). Prints, per row, the
# median map and unmap latencies of each
# driver and the Rust/C ratios; the timings are noisy, the ratio of medians
# of alternating boots is what to compare.
#
# BENCH_ICOUNT=1 runs QEMU with `-icount shift=0,sleep=off`: the guest's
# clock then advances one nanosecond per instruction executed, so a
# "latency" is the number of guest instructions (in thousands: 2.7 means
# 2,700), the same from run to run and free of this machine's host steal.
# It counts the drivers' code paths, not the cost of QEMU emulating an
# MMIO access (both drivers make the same accesses per unmap).
set -uo pipefail
. "$(dirname "$0")/env.sh"
RUN=$REPO/tools/testing/arm-smmu-v3-rs/qemu-run.sh
rounds=${BENCH_ROUNDS:-5} secs=${BENCH_SECS:-3}
icount=() unit=us
if [ "${BENCH_ICOUNT:-0}" = 1 ]; then
	icount=(--qemu -icount --qemu shift=0,sleep=off --timeout 300)
	unit=" kinsn"
fi
[ -x "$BUILD/dma_map_benchmark" ] || die "no $BUILD/dma_map_benchmark: run make first"
res=$BUILD/bench.txt
: >"$res"
# ROW NAME SMP THREADS KERNEL-ARGS...: the rows, strict and lazy
# invalidation (DMA and DMA-FQ domains), 1 thread on 2 CPUs and 4 threads
# on 4 CPUs.
ROWS=("strict-t1 2 1 domain=DMA" "strict-t4 4 4 domain=DMA"
      "lazy-t1 2 1 domain=DMA-FQ iommu.strict=0" "lazy-t4 4 4 domain=DMA-FQ iommu.strict=0")
for row in "${ROWS[@]}"; do
	read -r name smp threads args <<<"$row"
	[ -z "${BENCH_ROWS:-}" ] || [[ $name =~ ^(${BENCH_ROWS})$ ]] || continue
	app=()
	for a in $args; do app+=(--append "$a"); done
	for i in $(seq "$rounds"); do
		for d in rs c; do
			"$RUN" --driver "$d" --name "bench-$d" --smp "$smp" --qemu -device --qemu edu \
				--file "$BUILD/dma_map_benchmark" --append "bench_secs=$secs" \
				--append "bench_threads=$threads" "${icount[@]}" "${app[@]}" bench >/dev/null
			line=$(tr -d '\r' <"$BUILD/qemu-bench-$d.log" | sed -n 's/^SMMUTEST BENCH //p')
			[ -n "$line" ] || die "bench: $name round $i, driver $d produced no result (log: $BUILD/qemu-bench-$d.log)"
			echo "$name $d $line" | tee -a "$res"
		done
	done
done
# median ROW DRIVER FIELD (map, unmap)
median() {
	awk -v r="$1" -v d="$2" -v f="$3" '$1 == r && $2 == d { for (i = 3; i < NF; i++) if ($i == f) print $(i + 1) }' "$res" |
		sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# range ROW DRIVER FIELD: "min-max"
range() {
	awk -v r="$1" -v d="$2" -v f="$3" '$1 == r && $2 == d { for (i = 3; i < NF; i++) if ($i == f) print $(i + 1) }' "$res" |
		sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'
}
for row in "${ROWS[@]}"; do
	read -r name _ <<<"$row"
	grep -q "^$name " "$res" || continue
	rm=$(median "$name" rs map) cm=$(median "$name" c map) ru=$(median "$name" rs unmap) cu=$(median "$name" c unmap)
	rs_sum=$(echo "$rm + $ru" | bc) c_sum=$(echo "$cm + $cu" | bc)
	echo "bench $name: median of $rounds alternating boots: map Rust ${rm}$unit C ${cm}$unit, unmap Rust ${ru}$unit ($(range "$name" rs unmap)) C ${cu}$unit ($(range "$name" c unmap)); map+unmap Rust/C $(echo "scale=2; $rs_sum / $c_sum" | bc)"
done

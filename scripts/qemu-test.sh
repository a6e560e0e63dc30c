#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The QEMU integration runs, one line each. Prints PASS/FAIL lines and, last,
# "qemu: N passed, M failed". Needs `make` first.
set -uo pipefail
. "$(dirname "$0")/env.sh"
RUN=$REPO/tools/testing/arm-smmu-v3-rs/qemu-run.sh
out=$(mktemp)
trap 'rm -f "$out"' EXIT

run() { "$RUN" "$@" | tee -a "$out"; }

# The features part of a run's probe summary: "oas 44-bit (features 0x...)".
features() {
	tr -d '\r' <"$BUILD/qemu-$1.log" | sed -n 's/.*arm[-_]smmu[-_]v3[-_a-z]* [^ ]*: \(oas [0-9]*-bit (features 0x[0-9a-f]*)\).*/\1/p' | head -1
}

# same_summary NAME RUN_C RUN_RS: both drivers decoded the same SMMU alike.
same_summary() {
	c=$(features "$2") rs=$(features "$3")
	if [ -n "$c" ] && [ "$c" = "$rs" ]; then
		echo "PASS $1 C and Rust: $c" | tee -a "$out"
	else
		echo "FAIL $1 C '$c' vs Rust '$rs'" | tee -a "$out"
	fi
}

# QEMU 10's `virt` forces stage=nested (both stages); older machine types
# honour -global arm-smmuv3.stage.
S1=(--machine virt-9.0 --qemu -global --qemu arm-smmuv3.stage=1)
S2=(--machine virt-9.0 --qemu -global --qemu arm-smmuv3.stage=2)

run --driver c --name c-dma c-dma
run --driver rs --name rs-decline rs-decline
same_summary summary-match/nested c-dma rs-decline
run --driver c --name c-summary-s1 "${S1[@]}" summary
run --driver rs --name rs-summary-s1 "${S1[@]}" summary
same_summary summary-match/stage1 c-summary-s1 rs-summary-s1
run --driver c --name c-summary-s2 "${S2[@]}" summary
run --driver rs --name rs-summary-s2 "${S2[@]}" summary
same_summary summary-match/stage2 c-summary-s2 rs-summary-s2

p=$(grep -c '^PASS ' "$out") f=$(grep -c '^FAIL ' "$out")
echo "qemu: $p passed, $f failed"
[ "$f" -eq 0 ]

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make test`: every test layer — host unit tests of the hardware model,
# KUnit under QEMU, QEMU integration runs. Last line:
# "tests: N passed, M failed"; exits non-zero if anything failed.
set -uo pipefail
. "$(dirname "$0")/env.sh"
passed=0 failed=0

# add LAYER OUTPUT_FILE: adds the layer's "N passed, M failed" counts.
add() {
	local line
	line=$(grep -E '^[a-z]+: [0-9]+ passed, [0-9]+ failed' "$2" | tail -1)
	if [ -z "$line" ]; then
		echo "FAIL $1 produced no counts"
		failed=$((failed + 1))
		return
	fi
	set -- $line
	passed=$((passed + $2))
	failed=$((failed + $4))
}

t0=$(date +%s)
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

bash "$REPO/scripts/setup.sh" || { echo "tests: 0 passed, 1 failed"; exit 1; }

echo "== host tests (cargo test)"
(cd "$REPO/tools/testing/arm-smmu-v3-rs/host" && cargo test --quiet 2>&1) | tee "$log/host"
awk '/^test result:/ { gsub(";", ""); p += $4; f += $6 } END { printf "host: %d passed, %d failed\n", p, f }' \
	"$log/host" | tee "$log/host.count"
add host "$log/host.count"

echo "== patch series"
if bash "$REPO/scripts/patches.sh" >"$log/patches.out" 2>&1; then
	echo "PASS patches $(tail -1 "$log/patches.out")"
	passed=$((passed + 1))
else
	echo "FAIL patches"; cat "$log/patches.out"
	failed=$((failed + 1))
fi

echo "== build"
if bash "$REPO/scripts/build.sh"; then
	echo "== KUnit"
	bash "$REPO/scripts/kunit.sh" | tee "$log/kunit"
	add kunit "$log/kunit"
	echo "== QEMU"
	bash "$REPO/scripts/qemu-test.sh" | tee "$log/qemu"
	add qemu "$log/qemu"
else
	echo "FAIL build"
	failed=$((failed + 1))
fi
echo "($(($(date +%s) - t0)) s)"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

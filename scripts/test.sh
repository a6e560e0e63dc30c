#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make test`: every test layer — the harness self-test, host unit tests of
# the hardware model, the patch series, KUnit under QEMU, QEMU integration
# runs. Each prints PASS/FAIL lines and its own count line; the last line
# is "tests: N passed, M failed", and the exit status is non-zero if
# anything failed (scripts/lib-test.sh says how layers add up).
set -uo pipefail
. "$(dirname "$0")/env.sh"
. "$REPO/scripts/lib-test.sh"

t0=$(date +%s)
if ! bash "$REPO/scripts/setup.sh"; then
	echo "FAIL setup"
	echo "tests: 0 passed, 1 failed"
	exit 1
fi

echo "== harness self-test"
layer harness bash "$REPO/scripts/test-harness.sh"

echo "== host tests (cargo test)"
layer host bash "$REPO/scripts/host-test.sh"

echo "== patch series"
layer patches one_check patches patches bash "$REPO/scripts/patches.sh"

echo "== build"
if bash "$REPO/scripts/build.sh"; then
	echo "== KUnit"
	layer kunit bash "$REPO/scripts/kunit.sh"
	echo "== the module for Debian's stock kernel"
	# The distro-* QEMU runs fail too if this does.
	layer distro one_check distro distro/build bash "$REPO/scripts/distro.sh"
	echo "== QEMU"
	layer qemu bash "$REPO/scripts/qemu-test.sh"
else
	echo "FAIL build (KUnit and QEMU runs skipped)"
	failed=$((failed + 1))
fi
echo "($(($(date +%s) - t0)) s)"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

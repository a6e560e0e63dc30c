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
if bash "$REPO/scripts/build.sh" test; then
	# The debug and server kernels and the module for Debian's stock
	# kernel build in the background, in the order the QEMU runs need
	# them, while KUnit and the test kernel's runs go on (those leave
	# about one of the two CPUs idle). qemu-test.sh runs the other
	# kernels' boots last, each waiting for its build (bg_ready).
	export BG_JOBS=$BUILD/bg
	rm -rf "$BG_JOBS"
	mkdir -p "$BG_JOBS"
	echo "build: the debug and server kernels and the distribution module in the background ($BG_JOBS)"
	(
		bg_run debug one_check debug-kernel build/debug-kernel bash "$REPO/scripts/build.sh" debug
		bg_run server one_check server-kernel build/server-kernel bash "$REPO/scripts/build.sh" server
		# The distro-* QEMU runs fail too if this does.
		bg_run distro one_check distro distro/build bash "$REPO/scripts/distro.sh"
	) &
	jobs_pid=$!
	echo "$jobs_pid" >"$BG_JOBS/pid"
	echo "== KUnit"
	layer kunit bash "$REPO/scripts/kunit.sh"
	echo "== QEMU"
	layer qemu bash "$REPO/scripts/qemu-test.sh"
	wait "$jobs_pid"
	echo "== built in the background: the debug and server kernels, the module for Debian's stock kernel"
	bg_layer debug-kernel debug
	bg_layer server-kernel server
	bg_layer distro distro
else
	echo "FAIL build (KUnit and QEMU runs skipped)"
	failed=$((failed + 1))
fi
echo "($(($(date +%s) - t0)) s)"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

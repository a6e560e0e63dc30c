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
	# The server and debug kernels build in the background: the test
	# kernel's runs leave about one of two CPUs idle. qemu-test.sh runs
	# those kernels' boots last, once this status file says how the
	# build ended (KERNELS_PENDING).
	export KERNELS_PENDING=$BUILD/build-extra.status
	rm -f "$KERNELS_PENDING"
	echo "build: the server and debug kernels in the background (log: $BUILD/build-extra.log)"
	(
		bash "$REPO/scripts/build.sh" extra >"$BUILD/build-extra.log" 2>&1
		echo $? >"$KERNELS_PENDING.tmp"
		mv "$KERNELS_PENDING.tmp" "$KERNELS_PENDING"
	) &
	extra=$!
	echo "== KUnit"
	layer kunit bash "$REPO/scripts/kunit.sh"
	echo "== the module for Debian's stock kernel"
	# The distro-* QEMU runs fail too if this does.
	layer distro one_check distro distro/build bash "$REPO/scripts/distro.sh"
	echo "== QEMU"
	layer qemu bash "$REPO/scripts/qemu-test.sh"
	wait "$extra"
	echo "== the server and debug kernels"
	if [ "$(cat "$KERNELS_PENDING" 2>/dev/null)" = 0 ]; then
		echo "PASS build/extra $(tail -1 "$BUILD/build-extra.log")"
		passed=$((passed + 1))
	else
		echo "FAIL build/extra the server or debug kernel did not build (log: $BUILD/build-extra.log)"
		tail -20 "$BUILD/build-extra.log"
		failed=$((failed + 1))
	fi
else
	echo "FAIL build (KUnit and QEMU runs skipped)"
	failed=$((failed + 1))
fi
echo "($(($(date +%s) - t0)) s)"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Host tests of the pure hardware model (`cargo test` in the host crate):
# one PASS/FAIL line per test, then "host: N passed, M failed". Exits
# non-zero if a test failed, the crate did not build, or no test ran.
#
# HOST_CRATE overrides the crate directory (the harness self-test points it
# at a deliberately broken copy).
set -uo pipefail
. "$(dirname "$0")/env.sh"
crate=${HOST_CRATE:-$REPO/tools/testing/arm-smmu-v3-rs/host}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

(cd "$crate" && cargo test --no-fail-fast 2>&1) >"$out"
rc=$?
# "test writer::tests::foo ... ok" -> "PASS host/writer::tests::foo"
sed -n -e 's/^test \([^ ]*\) \.\.\. ok$/PASS host\/\1/p' \
	-e 's/^test \([^ ]*\) \.\.\. FAILED$/FAIL host\/\1/p' "$out"
passed=$(grep -c '^test [^ ]* \.\.\. ok$' "$out")
failed=$(grep -c '^test [^ ]* \.\.\. FAILED$' "$out")
if [ "$failed" -gt 0 ]; then
	# The panics of the failing tests.
	sed -n '/^failures:$/,/^test result:/p' "$out" | grep -v '^test result:' | head -60 | sed 's/^/    /'
fi
if [ $rc -ne 0 ] && [ "$failed" -eq 0 ]; then
	# Did not compile, or cargo failed before running anything.
	echo "FAIL host/build cargo test exited $rc with no failing test:"
	grep -E -A8 '^error' "$out" | head -40 | sed 's/^/    /'
	failed=$((failed + 1))
elif [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
	echo "FAIL host/run no test ran"
	failed=1
fi
echo "host: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make test-harness`: the test harness's self-test. Feeds each layer of
# `make test` a deliberate breakage and checks that the layer says FAIL
# and exits non-zero — and, as a control, that the same layer passes the
# same input unbroken, so a layer that always fails cannot pass here.
# Takes seconds: no kernel is built or booted (QEMU and kunit.py are
# replaced by fakes). Last line: "harness: N passed, M failed".
set -uo pipefail
. "$(dirname "$0")/env.sh"
. "$REPO/scripts/lib-test.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
hp=0 hf=0

# expect_red CASE WHY COMMAND...: COMMAND must exit non-zero and print a
# FAIL line matching the extended regex WHY (the breakage, not another).
expect_red() {
	local case=$1 why=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && grep -qE "^FAIL .*$why" <<<"$out"; then
		echo "PASS harness/$case red: $(grep -m1 -E "^FAIL .*$why" <<<"$out")"
		hp=$((hp + 1))
	else
		echo "FAIL harness/$case not reported as /$why/: exit $rc"
		sed 's/^/    /' <<<"$out" | tail -15
		hf=$((hf + 1))
	fi
}

# expect_green CASE COMMAND...: the control: no FAIL line, exit 0.
expect_green() {
	local case=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && ! grep -q '^FAIL ' <<<"$out" && grep -q '^PASS ' <<<"$out"; then
		echo "PASS harness/$case green: $(grep -c '^PASS ' <<<"$out") PASS lines"
		hp=$((hp + 1))
	else
		echo "FAIL harness/$case control did not pass: exit $rc"
		sed 's/^/    /' <<<"$out" | tail -15
		hf=$((hf + 1))
	fi
}

# 1. Host tests: a test file that does not compile. The copy keeps the
# crate's relative paths to hw/; the real target directory keeps the
# dependencies built.
host=$tmp/repo/tools/testing/arm-smmu-v3-rs/host
mkdir -p "$host" "$tmp/repo/drivers/iommu/arm"
cp -r "$REPO/drivers/iommu/arm/arm-smmu-v3-rs" "$tmp/repo/drivers/iommu/arm/"
(cd "$REPO/tools/testing/arm-smmu-v3-rs/host" && cp -r Cargo.toml Cargo.lock src tests "$host/")
echo 'fn this_does_not_compile() -> u32 { "a string" }' >>"$host/tests/sync_table.rs"
export CARGO_TARGET_DIR=$REPO/tools/testing/arm-smmu-v3-rs/host/target
expect_red host.no-compile "host/build" env HOST_CRATE="$host" bash "$REPO/scripts/host-test.sh"
# A failing test (not a build error) is red too.
cp "$REPO/tools/testing/arm-smmu-v3-rs/host/tests/sync_table.rs" "$host/tests/"
echo '#[test] fn harness_fails() { assert_eq!(1 + 1, 3); }' >>"$host/tests/sync_table.rs"
expect_red host.test-fails "host/harness_fails" env HOST_CRATE="$host" bash "$REPO/scripts/host-test.sh"
unset CARGO_TARGET_DIR

# 2. KUnit: kunit.py replaced by a fake that writes JSON results (or not).
# A stale, passing kunit.json sits in the build directory each time: it
# must never be graded.
suites=$REPO/tools/testing/arm-smmu-v3-rs/kunit-suites
mkdir -p "$tmp/build"
cat >"$tmp/fake_kunit.py" <<'PY'
import json, os, sys
mode = os.environ["FAKE_MODE"]
out = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--json=")][0]
names = [l.split("#")[0].split()[0] for l in open(os.environ["FAKE_SUITES"]) if l.split("#")[0].split()]
if mode == "exit1":
    sys.exit(1)
# A doctest suite needs a case of this repo's rust/ files.
case = lambda n: "rust_doctest_kernel_iommu_pages_rs_0" if "doctests" in n else n + "_case"
suite = lambda n: {"name": n, "sub_groups": [], "misc": {"crashed": 0, "errors": 0},
                   "test_cases": [{"name": case(n), "status": "PASS"}]}
groups = [suite(n) for n in names]
cases = []
if mode == "missing":
    groups = groups[1:]
elif mode == "crash":
    # The kernel died in the first suite: it shows up as a bare ERROR case.
    cases = [{"name": groups[0]["name"], "status": "ERROR"}]
    groups = groups[1:]
elif mode == "casefail":
    groups[0]["test_cases"][0]["status"] = "FAIL"
json.dump({"name": "KUnit Test Group", "sub_groups": groups, "test_cases": cases,
           "misc": {"crashed": 0, "errors": 0}}, open(out, "w"))
PY
kunit() { # MODE
	# The stale results: every suite passed.
	FAKE_MODE=ok FAKE_SUITES=$suites python3 "$tmp/fake_kunit.py" --json="$tmp/build/kunit.json"
	FAKE_MODE=$1 FAKE_SUITES=$suites BUILD=$tmp/build KUNIT_PY=$tmp/fake_kunit.py \
		bash "$REPO/scripts/kunit.sh"
}
expect_green kunit.control kunit ok
expect_red kunit.exit-nonzero "kunit.py exited 1" kunit exit1
expect_red kunit.missing-suite "arm_smmu_v3_rs_hw expected suite did not run" kunit missing
expect_red kunit.crash-between-suites "arm_smmu_v3_rs_hw ran no case: ERROR" kunit crash
expect_red kunit.case-fails "arm_smmu_v3_rs_hw 0/1 failed" kunit casefail

# 3. QEMU runs: the QEMU binary replaced. qemu-run.sh needs an Image file
# and busybox (from the cache); the serial log of an earlier passing run
# sits where the new one goes.
mkdir -p "$tmp/qbuild"
: >"$tmp/qbuild/Image"
good=$tmp/good.serial
{
	echo "SMMUTEST BEGIN summary"
	echo "SMMUTEST RESULT PASS summary arm_smmu_v3_rs 9050000.smmuv3: oas 44-bit (features 0x0)"
	echo "SMMUTEST END summary"
	echo "[    9.000000] reboot: Power down"
} >"$good"
cat >"$tmp/fake-qemu" <<'EOF2'
#!/usr/bin/env bash
# Writes $FAKE_SERIAL to the serial log QEMU was given.
while [ $# -gt 0 ]; do
	case "$1" in -serial) log=${2#file:}; shift 2 ;; *) shift ;; esac
done
cat "$FAKE_SERIAL" >"$log"
EOF2
chmod +x "$tmp/fake-qemu"
qrun() { # SERIAL QEMU [OPTION...]: one qemu-run.sh boot of scenario "summary"
	cp "$good" "$tmp/qbuild/qemu-harness.log"
	FAKE_SERIAL=$1 QEMU=$2 BUILD=$tmp/qbuild \
		bash "$REPO/tools/testing/arm-smmu-v3-rs/qemu-run.sh" --name harness --timeout 20 "${@:3}" summary
}
expect_green qemu.control qrun "$good" "$tmp/fake-qemu"
expect_red qemu.no-start "harness/boot .*no serial log" qrun "$good" "$tmp/no-such-qemu"
grep -v '^SMMUTEST END' "$good" >"$tmp/no-end.serial"
expect_red qemu.no-end-marker "harness/boot no end marker" qrun "$tmp/no-end.serial" "$tmp/fake-qemu"
{
	head -3 "$good"
	echo "[    9.000000] Unable to handle kernel NULL pointer dereference at virtual address 0"
	echo "[    9.000000] Internal error: Oops: 0000000096000004 [#1]  SMP"
	echo "[    9.000000] Kernel panic - not syncing: Oops: Fatal exception"
} >"$tmp/shutdown-crash.serial"
expect_red qemu.crash-at-shutdown "harness/boot splat" qrun "$tmp/shutdown-crash.serial" "$tmp/fake-qemu"
# A splat before the end marker that the guest did not see (a kexec's
# first kernel shutting down) is red too ...
{
	head -2 "$good"
	echo "[    5.000000] WARNING: CPU: 1 PID: 1 at drivers/iommu/arm/arm-smmu-v3-rs/smmu.rs:1"
	tail -2 "$good"
} >"$tmp/early-splat.serial"
expect_red qemu.splat-before-end "harness/boot splat" qrun "$tmp/early-splat.serial" "$tmp/fake-qemu"
# ... but a scenario's deliberate crash (kdump) is not, up to the next
# kernel's boot, and only when the run says so.
{
	head -2 "$good"
	echo "SMMUTEST CRASH"
	echo "[    5.000000] Kernel panic - not syncing: sysrq triggered crash"
	echo "[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x000f0510]"
	tail -2 "$good"
} >"$tmp/crash.serial"
expect_green qemu.crash-ok qrun "$tmp/crash.serial" "$tmp/fake-qemu" --crash-ok
expect_red qemu.crash-not-ok "harness/boot splat" qrun "$tmp/crash.serial" "$tmp/fake-qemu"
head -3 "$good" >"$tmp/no-poweroff.serial"
expect_red qemu.no-power-off "harness/boot no clean power-off" qrun "$tmp/no-poweroff.serial" "$tmp/fake-qemu"
# Kernel lines that landed inside the guest's lines (the kernel's console
# writes are synchronous, the guest's drain by interrupt) do not hide its
# end marker or its results ...
{
	echo "SMMUTEST BEGIN summary"
	echo "SMMUTEST RESULT PASS summary arm_smmu_v3_rs[    4.692163] m: loading out-of-tree module taints kernel."
	echo " 9050000.smmuv3: oas 44-bit (features 0x0)"
	echo "SMMUTEST END summ[    5.000000] random: crng init done"
	echo "[    5.100000] virtio_blk virtio1: [vda] 2048 512-byte logical blocks"
	echo "ary"
	tail -1 "$good"
} >"$tmp/interleaved.serial"
expect_green qemu.interleaved qrun "$tmp/interleaved.serial" "$tmp/fake-qemu"
# ... nor turn a failure into a pass.
{
	echo "SMMUTEST BEGIN summary"
	echo "SMMUTEST RESULT FA[    4.692163] m: loading out-of-tree module taints kernel."
	echo "IL summary expected 1 got 2"
	tail -2 "$good"
} >"$tmp/interleaved-fails.serial"
expect_red qemu.interleaved-fails "harness/summary expected 1 got 2" \
	qrun "$tmp/interleaved-fails.serial" "$tmp/fake-qemu"
# A guest that stops printing is stopped at the timeout, and red.
cat >"$tmp/hung-qemu" <<'EOF2'
#!/usr/bin/env bash
while [ $# -gt 0 ]; do
	case "$1" in -serial) log=${2#file:}; shift 2 ;; *) shift ;; esac
done
head -2 "$FAKE_SERIAL" >"$log"
exec sleep 60
EOF2
chmod +x "$tmp/hung-qemu"
expect_red qemu.hang "harness/boot timed out after 2s" qrun "$good" "$tmp/hung-qemu" --timeout 2
sed 's/RESULT PASS/RESULT FAIL/' "$good" >"$tmp/check-fails.serial"
expect_red qemu.check-fails "harness/summary" qrun "$tmp/check-fails.serial" "$tmp/fake-qemu"
# The layer: a run whose QEMU does not start, and a run qemu-run.sh dies
# in (no Image), each shows as a FAIL of qemu-test.sh, which exits non-zero.
qlayer() { # QEMU BUILD
	QEMU=$1 BUILD=$2 QEMU_ONLY=rs-unbind bash "$REPO/scripts/qemu-test.sh"
}
expect_red qemu-layer.no-start "rs-unbind/boot .*no serial log" qlayer "$tmp/no-such-qemu" "$tmp/qbuild"
mkdir -p "$tmp/empty-build"
expect_red qemu-layer.run-dies "rs-unbind/run .*without a verdict" qlayer "$tmp/fake-qemu" "$tmp/empty-build"

# The distribution runs' taint check reads kernel lines wherever they
# start: one that landed after a guest line's first half (as in CI) is
# read, and an unwanted taint in the same place is still caught.
. "$REPO/scripts/lib-log.sh"
want='m: loading out-of-tree module taints kernel.'
printf '%s\n' "SMMUTEST BEGIN dma[    4.692163] $want" "[    4.7] ok" >"$tmp/taint-ok.serial"
expect_green taint.interleaved taint_check harness/taint "$tmp/taint-ok.serial" "$want"
printf '%s\n' "[    4.692163] $want" "SMMUTEST RESULT PASS a b[    5.0] x: loading out-of-tree module taints kernel." \
	>"$tmp/taint-extra.serial"
expect_red taint.extra "harness/taint .*x: loading" taint_check harness/taint "$tmp/taint-extra.serial" "$want"

# 4. make test's sum: a layer that exits non-zero but counts no failure,
# and one that prints no counts, are failures; a clean one is not.
sum() { # EXIT COUNTS-LINE: failures `layer` adds for such a layer
	passed=0 failed=0
	layer fake bash -c "echo 'PASS fake/x'; [ -n '$2' ] && echo '$2'; exit $1" >/dev/null
	echo "$failed"
}
check_sum() { # CASE WANT EXIT COUNTS-LINE
	local got
	got=$(sum "$3" "$4")
	if [ "$got" = "$2" ]; then
		echo "PASS harness/$1 $got failure(s) counted"
		hp=$((hp + 1))
	else
		echo "FAIL harness/$1 counted $got failure(s), want $2"
		hf=$((hf + 1))
	fi
}
check_sum sum.control 0 0 "fake: 1 passed, 0 failed"
check_sum sum.exit-nonzero 1 1 "fake: 1 passed, 0 failed"
check_sum sum.no-counts 1 0 ""

echo "harness: $hp passed, $hf failed"
[ "$hf" -eq 0 ]

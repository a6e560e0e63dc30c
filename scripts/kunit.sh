#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the KUnit suites of the built test kernel under QEMU (virt with
# SMMUv3) through the kernel's kunit.py and grades them against the list
# of expected suites (tools/testing/arm-smmu-v3-rs/kunit-suites):
#
# - the project's suites (and the doctests of this repo's rust/ files):
#   one PASS/FAIL line per suite, their cases counted in the totals;
# - stock suites (the C driver's, the kernel crate's): reported apart as
#   INFO lines, not counted, but a crash or a failure there is still a
#   FAIL (the kernel did not run our suites in a sane state);
# - a suite that is expected and missing, a suite that is not in the list,
#   a crash, a parse error or kunit.py exiting non-zero: FAIL.
#
# Last line: "kunit: N passed, M failed"; exits non-zero if anything
# failed. Needs `make` (scripts/build.sh) first. KUNIT_PY and KUNIT_SUITES
# override kunit.py and the list (for the harness self-test).
set -uo pipefail
. "$(dirname "$0")/env.sh"

json=$BUILD/kunit.json
log=$BUILD/kunit.log
suites=${KUNIT_SUITES:-$REPO/tools/testing/arm-smmu-v3-rs/kunit-suites}
kunit_py=${KUNIT_PY:-$WORKTREE/tools/testing/kunit/kunit.py}
mkdir -p "$BUILD"
# Never grade an earlier run's results.
rm -f "$json" "$log"
python3 "$kunit_py" exec --build_dir "$KBUILD" \
	--qemu_config "$REPO/tools/testing/arm-smmu-v3-rs/qemu_smmuv3.py" \
	--timeout 300 --json="$json" >"$log" 2>&1
rc=$?
# This repo's rust/ files, and the kernel's io-pgtable abstraction, which
# its overlay rewrites (scripts/overlay/0006-*).
ours=$(cd "$REPO" && { find rust/kernel -name '*.rs'; echo rust/kernel/iommu/pgtable.rs; } |
	sed 's|^rust/kernel/||; s|[/.]|_|g' | paste -sd' ')
python3 - "$json" "$log" "$rc" "$suites" "$ours" <<'PY'
import json, re, sys
path, log, rc, listing, ours = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5].split()
passed = failed = 0
def fail(msg):
    global failed
    failed += 1
    print(f"FAIL {msg}")

expected = {}
for line in open(listing):
    line = line.split("#", 1)[0].split()
    if line:
        expected[line[0]] = line[1]
if rc != 0:
    fail(f"kunit/run kunit.py exited {rc}; log: {log}")
try:
    data = json.load(open(path))
except Exception as e:
    fail(f"kunit/run no results ({e}); log: {log}")
    print(f"kunit: {passed} passed, {failed} failed")
    sys.exit(1)

def leaves(group):
    for c in group.get("test_cases", []):
        yield c
    for g in group.get("sub_groups", []):
        yield from leaves(g)

def broken(group):
    m = group.get("misc", {})
    return m.get("crashed", 0) + m.get("errors", 0)

# A doctest case of one of this repo's rust/ files.
doctest_ours = re.compile(r"rust_doctest_kernel_(%s)_\d+$" % "|".join(map(re.escape, ours)))
seen = set()
# Suites with cases are sub-groups; a suite that crashed before any case
# (or a suite with none) is a bare top-level case.
for suite in data.get("sub_groups", []):
    name = suite["name"]
    seen.add(name)
    kind = expected.get(name)
    cases = list(leaves(suite))
    bad = [c["name"] for c in cases if c["status"] not in ("PASS", "SKIP")]
    if kind == "doctests":
        mine = [c for c in cases if doctest_ours.match(c["name"])]
        stock = [c for c in cases if not doctest_ours.match(c["name"])]
        split = [(f"kunit/{name} (this repo's rust/)", mine, True),
                 (f"kunit/{name} (stock)", stock, False)]
    else:
        split = [(f"kunit/{name}", cases, kind == "ours")]
    for label, cs, counted in split:
        ok = sum(1 for c in cs if c["status"] == "PASS")
        sk = sum(1 for c in cs if c["status"] == "SKIP")
        nok = [c["name"] for c in cs if c["status"] not in ("PASS", "SKIP")]
        detail = f"{ok}/{len(cs)}" + (f" ({sk} skipped)" if sk else "") + \
            (f" failed: {' '.join(nok)}" if nok else "")
        if counted:
            passed += ok
            if nok or not cs:
                failed += max(len(nok), 1)
                print(f"FAIL {label} {detail or 'no cases'}")
            else:
                print(f"PASS {label} {detail}")
        elif nok:
            fail(f"{label} (stock) {detail}")
        else:
            print(f"INFO stock {label} {detail}")
    if broken(suite):
        fail(f"kunit/{name} crashed or lost cases ({suite.get('misc')}); log: {log}")
    if kind is None:
        fail(f"kunit/{name} is not in {listing}: add it (ours or stock)")
for case in data.get("test_cases", []):
    name = case["name"]
    seen.add(name)
    fail(f"kunit/{name} ran no case: {case['status']}; log: {log}")
if broken(data) and not any(broken(s) for s in data.get("sub_groups", [])):
    fail(f"kunit/run the kernel's output was incomplete ({data.get('misc')}); log: {log}")
for name in expected:
    if name not in seen:
        fail(f"kunit/{name} expected suite did not run; log: {log}")
print(f"kunit: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY

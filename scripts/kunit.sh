#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the KUnit suites of the built test kernel under QEMU (virt with
# SMMUv3) through the kernel's kunit.py, and prints, per suite, how many
# cases passed. Last line: "kunit: N passed, M failed".
# Needs `make` (scripts/build.sh) first.
set -uo pipefail
. "$(dirname "$0")/env.sh"

json=$BUILD/kunit.json
log=$BUILD/kunit.log
python3 "$WORKTREE/tools/testing/kunit/kunit.py" exec --build_dir "$KBUILD" \
	--qemu_config "$REPO/tools/testing/arm-smmu-v3-rs/qemu_smmuv3.py" \
	--timeout 300 --json="$json" >"$log" 2>&1
rc=$?
python3 - "$json" "$log" "$rc" <<'PY'
import json, sys
path, log, rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    data = json.load(open(path))
except Exception as e:
    print(f"FAIL kunit/run no results ({e}); log: {log}")
    print("kunit: 0 passed, 1 failed")
    sys.exit(1)
def leaves(group):
    for c in group.get("test_cases", []):
        yield c
    for g in group.get("sub_groups", []):
        yield from leaves(g)

passed = failed = 0
for suite in data.get("sub_groups", []):
    cases = list(leaves(suite))
    sp = sum(1 for c in cases if c["status"] == "PASS")
    sf = [c["name"] for c in cases if c["status"] not in ("PASS", "SKIP")]
    passed += sp
    failed += len(sf)
    print(f"{'PASS' if not sf else 'FAIL'} kunit/{suite['name']} {sp}/{len(cases)}"
          + (f" failed: {' '.join(sf)}" if sf else ""))
if not data.get("sub_groups"):
    print(f"FAIL kunit/run no suites ran; log: {log}")
    failed += 1
print(f"kunit: {passed} passed, {failed} failed")
sys.exit(1 if failed or rc else 0)
PY

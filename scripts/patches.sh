#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make patches`: exports the overlay as a `git format-patch`-style series
# against the pristine kernel, in build/patches/: the edits to existing files
# (scripts/overlay/*.patch), then one patch adding the new files. Checks that
# the series applies, in order, to the pristine tree, and that every patch
# passes the kernel's scripts/checkpatch.pl --strict.
set -euo pipefail
. "$(dirname "$0")/env.sh"
out=$BUILD/patches
rm -rf "$out"; mkdir -p "$out"
n=0
mbox() { # FILE SUBJECT-FILE: prefixes an mbox header
	echo "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001"
	echo "From: arm-smmu-v3-rs developers <arm-smmu-v3-rs@example.org>"
	cat "$1"
}
for p in "$REPO"/scripts/overlay/*.patch; do
	n=$((n + 1))
	mbox "$p" >"$out/$(printf %04d $n)-${p##*/[0-9][0-9][0-9][0-9]-}"
done
n=$((n + 1))
new=$out/$(printf %04d $n)-iommu-arm-smmu-v3-rs-add-the-Rust-SMMUv3-driver.patch
{
	cat <<EOT
Subject: [PATCH] iommu/arm-smmu-v3-rs: add the Rust SMMUv3 driver

Add the driver crate (drivers/iommu/arm/arm-smmu-v3-rs/) with its pure
hardware model (hw/), the kernel-crate additions it uses (rust/), its
administrator's guide and its MAINTAINERS entry.

Signed-off-by: arm-smmu-v3-rs developers <arm-smmu-v3-rs@example.org>
---
EOT
	cd "$REPO"
	# Its MAINTAINERS entry, in the patch that adds what the entry covers
	# (not applied by overlay.sh: no build reads it).
	cat scripts/overlay/MAINTAINERS.diff
	# distro/ is the out-of-tree build for stock kernels (make distro), not
	# part of the in-tree series.
	for f in $(find Documentation drivers rust -type f -not -path '*/arm-smmu-v3-rs/distro/*' | sort); do
		git diff --no-index --no-prefix /dev/null "$f" |
			sed -e "s|^+++ $f|+++ b/$f|" -e "s|^--- /dev/null|--- /dev/null|" \
			    -e "s|^diff --git /dev/null $f|diff --git a/$f b/$f|" || true
	done
} >"$new.tmp"
# A diffstat after the "---", as git format-patch writes one (checkpatch
# looks for MAINTAINERS in it), counting changed lines per file.
awk '/^\+\+\+ b\// { f = substr($0, 7); order[++n] = f; next }
	/^--- / { next }
	f != "" && /^\+/ { add[f]++ } f != "" && /^-/ { del[f]++ }
	END { for (i = 1; i <= n; i++) { f = order[i]; a += add[f]; d += del[f]
		printf " %s | %d\n", f, add[f] + del[f] }
		printf " %d files changed, %d insertions(+), %d deletions(-)\n\n", n, a, d }' \
	"$new.tmp" >"$new.stat"
sed -i "0,/^---\$/{/^---\$/r $new.stat
}" "$new.tmp"
mbox "$new.tmp" >"$new"; rm "$new.tmp" "$new.stat"
# Apply the whole series, in order, to copies of the files it touches.
check=$(mktemp -d)
trap 'rm -rf "$check"' EXIT
for f in $(sed -n 's|^+++ b/||p' "$out"/*.patch | sort -u); do
	if [ -e "$PRISTINE/$f" ]; then
		mkdir -p "$check/$(dirname "$f")"
		cp "$PRISTINE/$f" "$check/$f"
		chmod u+w "$check/$f"
	fi
done
for p in "$out"/*.patch; do
	patch -s -p1 --no-backup-if-mismatch -d "$check" <"$p" >/dev/null ||
		die "$(basename "$p") does not apply to the pristine tree after the patches before it"
done
ls "$out"
# The kernel's style checker, as a maintainer runs it on a submission: every
# patch clean under --strict.
e=0 w=0 c=0
for p in "$out"/*.patch; do
	# checkpatch.pl exits non-zero when it finds something: counted below.
	t=$(cd "$PRISTINE" && { perl scripts/checkpatch.pl --strict --no-tree "$p" 2>&1 || true; } |
		grep '^total:' || true)
	[ -n "$t" ] || die "checkpatch.pl printed no total for $(basename "$p")"
	read -r _ pe _ pw _ pc _ <<<"$t"
	if [ $((pe + pw + pc)) -ne 0 ]; then
		(cd "$PRISTINE" && perl scripts/checkpatch.pl --strict --no-tree -q "$p") || true
	fi
	e=$((e + pe)) w=$((w + pw)) c=$((c + pc))
done
[ $((e + w + c)) -eq 0 ] || die "checkpatch --strict: $e errors, $w warnings, $c checks"
echo "patches: $(ls "$out" | wc -l) patches in $out, checkpatch --strict: 0 errors, 0 warnings, 0 checks; apply with 'git am' or 'patch -p1' on $KERNEL_PKG"

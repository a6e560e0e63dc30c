#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make patches`: exports the overlay as a `git format-patch`-style series
# against the pristine kernel, in build/patches/: the edits to existing files
# (scripts/overlay/*.patch), then one patch adding the new files. Checks that
# the series applies, in order, to the pristine tree.
set -euo pipefail
. "$(dirname "$0")/env.sh"
out=$BUILD/patches
rm -rf "$out"; mkdir -p "$out"
n=0
mbox() { # FILE SUBJECT-FILE: prefixes an mbox header
	echo "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001"
	echo "From: arm-smmu-v3-rs developers <arm-smmu-v3-rs@invalid>"
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
hardware model (hw/) and the kernel-crate additions it uses (rust/).

Signed-off-by: arm-smmu-v3-rs developers
---
EOT
	cd "$REPO"
	# distro/ is the out-of-tree build for stock kernels (make distro), not
	# part of the in-tree series.
	for f in $(find Documentation drivers rust -type f -not -path '*/arm-smmu-v3-rs/distro/*' | sort); do
		git diff --no-index --no-prefix /dev/null "$f" |
			sed -e "s|^+++ $f|+++ b/$f|" -e "s|^--- /dev/null|--- /dev/null|" \
			    -e "s|^diff --git /dev/null $f|diff --git a/$f b/$f|" || true
	done
} >"$new.tmp"
mbox "$new.tmp" >"$new"; rm "$new.tmp"
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
echo "patches: $(ls "$out" | wc -l) patches in $out, apply with 'git am' or 'patch -p1' on $KERNEL_PKG"

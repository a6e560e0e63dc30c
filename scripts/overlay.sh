#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Makes (or refreshes) the kernel work tree: hard links of the pristine tree,
# symlinks to this repo's drivers/ and rust/ files, and the patch files of
# scripts/overlay/ applied to copies of the files they edit. The pristine
# tree is never written. Re-running only touches what changed, so the next
# `make` rebuilds only that.
set -euo pipefail
. "$(dirname "$0")/env.sh"

[ -f "$PRISTINE/.complete" ] || die "no kernel source in $PRISTINE: run scripts/setup.sh"

if [ ! -f "$WORKTREE/.overlay-base" ]; then
	echo "overlay: creating $WORKTREE from $PRISTINE (hard links)"
	rm -rf "$WORKTREE" "$WORKTREE.tmp"
	cp -al "$PRISTINE" "$WORKTREE.tmp"
	find "$WORKTREE.tmp" -type d -exec chmod u+w {} +
	mv "$WORKTREE.tmp" "$WORKTREE"
	: >"$WORKTREE/.overlay-links"
	: >"$WORKTREE/.overlay-patched"
	echo "$PRISTINE" >"$WORKTREE/.overlay-base"
fi

# Restores a work-tree file to its pristine content as a file of its own
# (never a hard link: it is about to be edited or was edited).
restore() {
	rm -f "$WORKTREE/$1"
	if [ -e "$PRISTINE/$1" ]; then
		cp -p "$PRISTINE/$1" "$WORKTREE/$1"
		chmod u+w "$WORKTREE/$1"
	fi
}

# 1. Symlinks to the repo's files. make compares the times of the files
# they point at: when the work tree last served another checkout (a CI
# clone), that checkout's objects may be newer than this one's sources, so
# its files are touched once to rebuild what they feed (also the external
# and test modules, built from the checkout itself).
if [ "$(cat "$WORKTREE/.overlay-repo" 2>/dev/null)" != "$REPO" ]; then
	(cd "$REPO" && find drivers rust tools/testing/arm-smmu-v3-rs/edu -type f -exec touch {} +)
	echo "$REPO" >"$WORKTREE/.overlay-repo"
fi
new_links=$(cd "$REPO" && find Documentation drivers rust -type f ! -name '*~' | sort)
while read -r f; do
	[ -n "$f" ] || continue
	if ! grep -qxF "$f" <<<"$new_links"; then
		rm -f "$WORKTREE/$f"
		restore "$f"
	fi
done <"$WORKTREE/.overlay-links"
while read -r f; do
	if [ -e "$PRISTINE/$f" ]; then
		die "overlay: $f exists in the kernel; change it with a patch in scripts/overlay/"
	fi
	mkdir -p "$WORKTREE/$(dirname "$f")"
	if [ "$(readlink "$WORKTREE/$f" 2>/dev/null)" != "$REPO/$f" ]; then
		ln -sfn "$REPO/$f" "$WORKTREE/$f"
	fi
done <<<"$new_links"
echo "$new_links" >"$WORKTREE/.overlay-links"

# 2. Patches, re-applied only when they changed.
stamp=$(cat "$REPO"/scripts/overlay/*.patch | sha256sum | cut -d' ' -f1)
if [ "$(cat "$WORKTREE/.overlay-stamp" 2>/dev/null)" != "$stamp" ]; then
	while read -r f; do
		[ -n "$f" ] && restore "$f"
	done <"$WORKTREE/.overlay-patched"
	: >"$WORKTREE/.overlay-patched"
	for f in $(sed -n 's|^+++ b/||p' "$REPO"/scripts/overlay/*.patch | sort -u); do
		restore "$f"
		echo "$f" >>"$WORKTREE/.overlay-patched"
	done
	for p in "$REPO"/scripts/overlay/*.patch; do
		patch -s -p1 --no-backup-if-mismatch -d "$WORKTREE" <"$p" ||
			die "overlay: $(basename "$p") does not apply to $KERNEL_PKG"
		echo "overlay: applied $(basename "$p")"
	done
	echo "$stamp" >"$WORKTREE/.overlay-stamp"
fi

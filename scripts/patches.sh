#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make patches`: exports the overlay as a `git format-patch`-style series
# against the pristine kernel, in build/patches/, in the order and the
# steps scripts/series/series.sh gives: the Rust abstractions (the patches
# of scripts/overlay/ with the new rust/ files they need), then the driver
# in steps that each build (`make patches-check` builds them), then its
# documentation and MAINTAINERS entry. Each patch is the difference between
# two states of the files: intermediate states of the driver's crate root,
# hw/mod.rs and hw/selftest.rs are made from the final files (only the
# modules present so far). Checks that the series applies, in order, to the
# pristine tree and gives exactly the overlay's files, and that every patch
# passes the kernel's scripts/checkpatch.pl --strict.
set -euo pipefail
. "$(dirname "$0")/env.sh"
export LC_ALL=C
out=$BUILD/patches
series=$REPO/scripts/series
drv=drivers/iommu/arm/arm-smmu-v3-rs
rm -rf "$out"; mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/b prev=$work/a expect=$work/expect check=$work/check
mkdir -p "$stage" "$expect" "$check"

# The new files of the series: everything the overlay adds but distro/ (the
# out-of-tree build for stock kernels, `make distro`).
new_files=$(cd "$REPO" && find Documentation drivers rust -type f ! -name '*~' \
	-not -path "$drv/distro/*" | sort)
# The existing kernel files the overlay edits.
edited=$(sed -n 's|^+++ b/||p' "$REPO"/scripts/overlay/*.patch "$REPO"/scripts/overlay/MAINTAINERS.diff | sort -u)

# copy_pristine DIR: the edited files as they are in the pristine tree.
copy_pristine() {
	local f
	for f in $edited; do
		[ -e "$PRISTINE/$f" ] || die "$f: edited by scripts/overlay/ but not in the pristine tree"
		mkdir -p "$1/$(dirname "$f")"
		cp "$PRISTINE/$f" "$1/$f"
		chmod u+w "$1/$f"
	done
}
# put FILE [CONTENT-FILE]: FILE of the repo (or CONTENT-FILE) into the stage.
put() {
	mkdir -p "$stage/$(dirname "$1")"
	cp "${2:-$REPO/$1}" "$stage/$1"
}
apply() { # PATCH-FILE DIR
	patch -s -p1 --no-backup-if-mismatch -d "$2" <"$1" >/dev/null ||
		die "${1##*/} does not apply after the patches before it"
}

# What the whole series must give: pristine + scripts/overlay/ in its own
# order + the new files.
copy_pristine "$expect"
for p in "$REPO"/scripts/overlay/*.patch "$REPO"/scripts/overlay/MAINTAINERS.diff; do
	apply "$p" "$expect"
done
for f in $new_files; do
	mkdir -p "$expect/$(dirname "$f")"
	cp "$REPO/$f" "$expect/$f"
done

copy_pristine "$stage"
copy_pristine "$check"
n=0
used_overlay=()
hw_mods=() glue_mods=() root=

# overlay_files PATCH: the new rust/ files its `pub mod x;` lines (in
# rust/kernel/d.rs or rust/kernel/d/mod.rs: rust/kernel/d/x.rs or
# rust/kernel/d/x/mod.rs; in rust/kernel/lib.rs: rust/kernel/x.rs) and its
# `#include "x.c"` lines in rust/helpers/helpers.c need.
overlay_files() {
	awk '/^\+\+\+ b\// { f = substr($0, 7); next }
	f ~ /^rust\/kernel\/.*\.rs$/ && /^\+ *(pub(\(crate\))? )?mod [a-z_0-9]+;/ {
		m = $0; sub(/;.*/, "", m); sub(/.* /, "", m)
		d = f; sub(/\/(lib|mod)\.rs$/, "/", d); sub(/\.rs$/, "/", d)
		print d m ".rs"; print d m "/mod.rs" }
	f == "rust/helpers/helpers.c" && /^\+#include "[a-z_0-9]+\.c"/ {
		m = $0; sub(/^\+#include "/, "", m); sub(/".*/, "", m); print "rust/helpers/" m }' "$1" |
	while read -r f; do [ -e "$REPO/$f" ] && echo "$f"; done
	return 0
}

# keep_mods FILE MODULE...: FILE with only the `mod x;` lines (and the
# attribute lines just above them) of the given modules; with ONLY=1, only
# those lines.
keep_mods() {
	local f=$1; shift
	awk -v keep=" $* " -v only="${ONLY:-}" '
	/^#\[/ { attr = attr $0 "\n"; next }
	/^(pub )?mod [a-z_0-9]+;$/ { m = $0; sub(/^(pub )?mod /, "", m); sub(/;$/, "", m)
		if (index(keep, " " m " ")) printf "%s%s\n", attr, $0; attr = ""; next }
	{ if (!only) printf "%s%s\n", attr, $0; attr = "" }' "$f"
}

# The driver's files in their state after the current step.
driver_state() {
	local m tmp=$work/tmp
	if [ ${#hw_mods[@]} -gt 0 ]; then
		keep_mods "$REPO/$drv/hw/mod.rs" "${hw_mods[@]}" >"$tmp"; put "$drv/hw/mod.rs" "$tmp"
		for m in "${hw_mods[@]}"; do put "$drv/hw/$m.rs"; done
		# The KUnit/host case list, cases of the modules present only.
		awk -v keep=" ${hw_mods[*]} " '
		/^ +[a-z_0-9]+::[a-z_0-9]+,$/ { m = $1; sub(/::.*/, "", m); if (!index(keep, " " m " ")) next }
		{ print }' "$REPO/$drv/hw/selftest.rs" >"$tmp"
		put "$drv/hw/selftest.rs" "$tmp"
	fi
	for m in "${glue_mods[@]}"; do put "$drv/$m.rs"; done
	if [ "$root" = final ]; then
		put "$drv/arm_smmu_v3_rs.rs"
	elif [ ${#hw_mods[@]} -gt 0 ]; then
		# The stub root: the final root's `mod` lines of the modules
		# present; until the probe uses the glue modules, their items
		# are unused.
		ONLY=1 keep_mods "$REPO/$drv/arm_smmu_v3_rs.rs" hw hw_kunit "${glue_mods[@]}" >"$work/mods"
		local allow=
		[ ${#glue_mods[@]} -eq 0 ] ||
			allow='#![allow(dead_code, reason = "used by the probe, added by a later patch")]'
		awk -v allow="$allow" -v mods="$work/mods" '
		/^@ALLOW@$/ { if (allow != "") { print allow; print "" } next }
		/^@MODS@$/ { while ((getline l <mods) > 0) print l; next }
		{ print }' "$series/stub-root.rs" >"$tmp"
		put "$drv/arm_smmu_v3_rs.rs" "$tmp"
	fi
}

# emit SUBJECT-AND-BODY-FILE: the patch from the previous state to this one.
emit() {
	n=$((n + 1))
	local msg=$1 name=${2:-} subject p diff=$work/diff f
	subject=$(head -1 "$msg")
	subject=${subject#"Subject: [PATCH] "}
	# git format-patch's file name, unless given.
	[ -n "$name" ] || name=$(sed -e 's/[^A-Za-z0-9._]\+/-/g' -e 's/^-//' <<<"$subject" |
		cut -c1-64 | sed 's/[-.]*$//').patch
	p=$out/$(printf %04d $n)-$name
	: >"$diff"
	# The files that changed, in path order, as git diff writes them.
	for f in $(cd "$work" && { (cd a && find . -type f); (cd b && find . -type f); } |
			sed 's|^\./||' | sort -u); do
		if [ -e "$prev/$f" ] && cmp -s "$prev/$f" "$stage/$f"; then continue; fi
		local from=a/$f to=b/$f
		[ -e "$prev/$f" ] || from=/dev/null
		[ -e "$stage/$f" ] || to=/dev/null
		# Run in $work, whose a/ and b/ are the two states: the paths
		# come out as git format-patch writes them.
		(cd "$work" && git -c core.quotepath=off --no-pager diff --no-index --no-prefix \
			--no-color --no-ext-diff "$from" "$to" || true) |
			sed -e "1s|^diff --git .*|diff --git a/$f b/$f|" >>"$diff"
	done
	[ -s "$diff" ] || die "patch $n ($subject) changes nothing"
	{
		echo "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001"
		echo "From: arm-smmu-v3-rs developers <arm-smmu-v3-rs@example.org>"
		echo "Subject: [PATCH] $subject"
		sed '1d' "$msg"
		echo "---"
		# A diffstat, as git format-patch writes one (checkpatch looks
		# for MAINTAINERS in it), counting changed lines per file.
		awk '/^diff --git / { f = $3; sub(/^a\//, "", f); order[++n] = f; h = 1; next }
			h && /^@@/ { h = 0 } h { next }
			/^\+/ { add[f]++ } /^-/ { del[f]++ }
			END { for (i = 1; i <= n; i++) { f = order[i]; a += add[f]; d += del[f]
				printf " %s | %d\n", f, add[f] + del[f] }
				printf " %d file%s changed, %d insertions(+), %d deletions(-)\n\n",
					n, n == 1 ? "" : "s", a, d }' "$diff"
		cat "$diff"
	} >"$p"
	rm -rf "$prev"; cp -a "$stage" "$prev"
}

# The message of an overlay patch: its subject line, body and sign-off.
overlay_msg() { sed -n '/^---$/q; p' "$1"; }

# take_overlay NAME: scripts/overlay/NAME applied to the stage, with the
# new rust/ files it needs.
take_overlay() {
	local p=$REPO/scripts/overlay/$1 f
	[ -f "$p" ] || die "series: no $p"
	apply "$p" "$stage"
	for f in $(overlay_files "$p"); do put "$f"; done
	used_overlay+=("$1")
}

overlay() {
	take_overlay "$1"
	overlay_msg "$REPO/scripts/overlay/$1" >"$work/msg"
	emit "$work/msg" "${1#[0-9][0-9][0-9][0-9]-}"
}

step() {
	local a k v p f files=
	for a in "$@"; do
		k=${a%%=*} v=${a#*=}
		case $k in
		hw+) read -ra a <<<"$v"; hw_mods+=("${a[@]}") ;;
		glue+) read -ra a <<<"$v"; glue_mods+=("${a[@]}") ;;
		root) root=$v ;;
		files) files=$v ;;
		overlay) for p in $v; do take_overlay "$p"; done ;;
		*) die "series: unknown key $k" ;;
		esac
	done
	for f in $files; do put "$f"; done
	driver_state
	{ cat; echo; echo "Signed-off-by: arm-smmu-v3-rs developers <arm-smmu-v3-rs@example.org>"; } >"$work/msg"
	emit "$work/msg"
}

rm -rf "$prev"; cp -a "$stage" "$prev"
# shellcheck source=series/series.sh
. "$series/series.sh"

# Every overlay patch used once; the series ends at the overlay's files.
for p in "$REPO"/scripts/overlay/*.patch "$REPO"/scripts/overlay/MAINTAINERS.diff; do
	[ "$(printf '%s\n' "${used_overlay[@]}" | grep -cxF "${p##*/}")" = 1 ] ||
		die "series: ${p##*/} is not used exactly once by scripts/series/series.sh"
done
# Apply the series, in order, to copies of the pristine files it edits.
for p in "$out"/*.patch; do
	apply "$p" "$check"
done
diff -r "$expect" "$check" >"$work/final.diff" ||
	{ head -40 "$work/final.diff"; die "the series does not end at the overlay's files"; }
ls "$out"
# The kernel's style checker, as a maintainer runs it on a submission: every
# patch clean under --strict, but for its question "added, moved or deleted
# file(s), does MAINTAINERS need updating?" (FILE_PATH_CHANGES), which it
# asks of every patch that adds a file without touching MAINTAINERS. Those
# are counted and answered here: each added file must be covered by an F:
# pattern of MAINTAINERS at the end of the series (the series adds the
# driver's entry with its documentation).
pats=$(sed -n 's/^F:[[:space:]]*//p' "$expect/MAINTAINERS")
covered() {
	local pat
	while read -r pat; do
		# shellcheck disable=SC2053
		case $pat in */) [[ $1 == "$pat"* ]] && return 0 ;; *) [[ $1 == $pat ]] && return 0 ;; esac
	done <<<"$pats"
	return 1
}
for f in $new_files; do covered "$f" || die "$f is covered by no F: line of MAINTAINERS"; done
# One checkpatch per patch, on every core.
export PRISTINE work
# shellcheck disable=SC2016
printf '%s\0' "$out"/*.patch | xargs -0 -n1 -P "$(nproc)" sh -c \
	'cd "$PRISTINE" && { perl scripts/checkpatch.pl --strict --no-tree --show-types "$1" \
		>"$work/cp.${1##*/}" 2>&1 || true; }' sh
e=0 w=0 c=0 fpc=0
for p in "$out"/*.patch; do
	# checkpatch.pl exits non-zero when it finds something: counted here.
	t=$(grep '^total:' "$work/cp.${p##*/}" || true)
	[ -n "$t" ] || die "checkpatch.pl printed no total for $(basename "$p")"
	read -r _ pe _ pw _ pc _ <<<"$t"
	f=$(grep -c '^WARNING:FILE_PATH_CHANGES:' "$work/cp.${p##*/}" || true)
	pw=$((pw - f))
	[ $((pe + pw + pc)) -eq 0 ] || grep -v '^total:' "$work/cp.${p##*/}"
	e=$((e + pe)) w=$((w + pw)) c=$((c + pc)) fpc=$((fpc + f))
done
[ $((e + w + c)) -eq 0 ] || die "checkpatch --strict: $e errors, $w warnings, $c checks"
echo "patches: $(ls "$out" | wc -l) patches in $out, checkpatch --strict: 0 errors, 0 warnings, 0 checks, but for $fpc 'does MAINTAINERS need updating?' (FILE_PATH_CHANGES) on patches adding files, every one of which the series' MAINTAINERS entry covers; apply with 'git am' or 'patch -p1' on $KERNEL_PKG"

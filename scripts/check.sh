#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: rustfmt, clippy (the kernel's CLIPPY=1) and rustdoc warnings
# for this repo's Rust code. Prints what is wrong; exits non-zero if anything is.
set -uo pipefail
. "$(dirname "$0")/env.sh"
bad=0

echo "check: rustfmt"
# rustfmt follows `mod` lines, and the distribution crate's lead to the
# kernel's io-pgtable abstraction as the overlay changes it: format a copy
# of the files with that one next to them (which checks it too).
fmt=$(mktemp -d); trap 'rm -rf "$fmt"' EXIT
mapfile -t files < <(cd "$REPO" && find drivers rust tools/testing -name '*.rs' -not -path '*/target/*')
(cd "$REPO" && cp --parents "${files[@]}" "$fmt/")
cp "$WORKTREE/rust/kernel/iommu/pgtable.rs" "$fmt/rust/kernel/iommu/pgtable.rs"
(cd "$fmt" && rustfmt --edition 2021 --config-path "$WORKTREE/.rustfmt.toml" --check "${files[@]}") || bad=1

echo "check: clippy (CLIPPY=1, driver built as an external module)"
rm -rf "$CACHE/extmod-clippy"; mkdir -p "$CACHE/extmod-clippy"
make -s -C "$KBUILD" "${KMAKE_VARS[@]}" M="$REPO" MO="$CACHE/extmod-clippy" CLIPPY=1 modules \
	>"$BUILD/clippy.log" 2>&1 || bad=1
if grep -E '^(warning|error)' "$BUILD/clippy.log"; then
	cat "$BUILD/clippy.log"; bad=1
fi

echo "check: clippy on the kernel crate with this repo's rust/ additions (own build dir)"
# A separate build directory, so the main build's objects keep their
# non-clippy command lines and stay up to date.
CLIPPY_BUILD=$CACHE/kbuild-clippy
mkdir -p "$CLIPPY_BUILD"
cmp -s "$KBUILD/.config" "$CLIPPY_BUILD/.config" || cp "$KBUILD/.config" "$CLIPPY_BUILD/.config"
make -s -C "$WORKTREE" O="$CLIPPY_BUILD" "${KMAKE_VARS[@]}" olddefconfig >/dev/null 2>&1
make -s -C "$WORKTREE" O="$CLIPPY_BUILD" "${KMAKE_VARS[@]}" CLIPPY=1 -j"$(nproc)" rust/ \
	>"$BUILD/clippy-rust.log" 2>&1 || { tail -30 "$BUILD/clippy-rust.log"; bad=1; }
mine=$(cd "$REPO" && find rust -name '*.rs' | sed 's|.*/||' | paste -sd'|')
if grep -E -A6 '^(warning|error)' "$BUILD/clippy-rust.log" | grep -E -B3 "rust/.*($mine)" ; then
	bad=1
fi

echo "check: clippy and rustdoc on the host build of hw/"
(cd "$REPO/tools/testing/arm-smmu-v3-rs/host" &&
	cargo clippy --quiet --all-targets -- -D warnings &&
	RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps) || bad=1

echo "check: rustdoc of the kernel crate with this repo's rust/ additions"
make -s -C "$KBUILD" "${KMAKE_VARS[@]}" rustdoc >"$BUILD/rustdoc.log" 2>&1 || bad=1
if grep -E -A5 '^(warning|error)' "$BUILD/rustdoc.log"; then bad=1; fi

if [ $bad -eq 0 ]; then echo "check: clean"; else echo "check: FAILED"; fi
exit $bad

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make patches-check`: every patch of `make patches` builds. Applies the
# series one patch at a time to a private copy of the pristine kernel
# ($CACHE/patches-check/src, hard links: GNU patch replaces the files it
# edits, so the pristine tree is never written) and after each builds, in a
# private output directory ($CACHE/patches-check/obj, the main build's
# .config), what a patch can affect: the kernel crate (rust/, built by
# `make prepare`) and the driver's directory when its options are set as in
# the main build's .config. A patch fails on an error or on any warning.
# One line per patch, PASS or FAIL, and a summary.
#
# Incremental: the patches applied and built before stay applied; a run
# reverts only those from the first that changed, and builds from there
# (make then rebuilds only what the changed files feed). A change of the
# main build's .config or of rustc starts over from the first patch.
set -euo pipefail
. "$(dirname "$0")/env.sh"

[ -f "$PRISTINE/.complete" ] || die "no kernel source in $PRISTINE: run scripts/setup.sh"
[ -f "$KBUILD/.config" ] || die "no $KBUILD/.config: run 'make build' once"
start=$SECONDS
bash "$REPO/scripts/patches.sh" | tail -1
series=$BUILD/patches
top=$CACHE/patches-check
src=$top/src obj=$top/obj applied=$top/applied logs=$top/logs
drv=drivers/iommu/arm/arm-smmu-v3-rs

if [ "$(cat "$top/.base" 2>/dev/null)" != "$PRISTINE" ] || [ ! -d "$src" ]; then
	echo "patches-check: creating $src from $PRISTINE (hard links)"
	rm -rf "$src" "$src.tmp" "$applied"
	mkdir -p "$top"
	cp -al "$PRISTINE" "$src.tmp"
	find "$src.tmp" -type d -exec chmod u+w {} +
	mv "$src.tmp" "$src"
	echo "$PRISTINE" >"$top/.base"
fi
mkdir -p "$applied" "$obj" "$logs"
stamp=$( { cat "$KBUILD/.config"; /usr/bin/rustc --version; } | sha256sum | cut -d' ' -f1)
[ "$(cat "$top/.stamp" 2>/dev/null)" = "$stamp" ] || rm -f "$applied"/*.pass

mapfile -t new < <(cd "$series" && ls -- *.patch)
mapfile -t old < <(cd "$applied" && ls -- *.patch 2>/dev/null || true)
# The patches applied and built before that the series still starts with.
k=0
while [ $k -lt ${#old[@]} ] && [ $k -lt ${#new[@]} ] && [ "${old[k]}" = "${new[k]}" ] &&
	[ -f "$applied/${old[k]}.pass" ] && cmp -s "$applied/${old[k]}" "$series/${new[k]}"; do
	k=$((k + 1))
done
# Revert the others, last first.
for ((i = ${#old[@]} - 1; i >= k; i--)); do
	patch -R -s -p1 --no-backup-if-mismatch -d "$src" <"$applied/${old[i]}" >/dev/null ||
		die "cannot revert ${old[i]} from $src: remove $top and run again"
	rm -f "$applied/${old[i]}" "$applied/${old[i]}.pass"
done
echo "$stamp" >"$top/.stamp"
# The logs of patches no longer in the series.
for f in "$logs"/*.log; do
	[ -e "$f" ] || continue
	[ -e "$series/$(basename "$f" .log).patch" ] || rm -f "$f"
done

kmake() { nice -n 10 make -s -C "$src" O="$obj" "${KMAKE_VARS[@]}" -j"$(nproc)" "$@"; }

# build PATCH: configures (the main build's .config, again after a patch
# that edits a Kconfig file, which may add its options) and builds.
configured=
build() {
	if [ -z "$configured" ] || grep -q '^+++ b/.*Kconfig' "$1"; then
		cp "$KBUILD/.config" "$obj/.config"
		kmake olddefconfig || return 1
		configured=1
	fi
	kmake prepare || return 1
	if [ -f "$src/$drv/Kconfig" ]; then
		local o
		for o in CONFIG_ARM_SMMU_V3_RS CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST; do
			[ "$(grep "^$o=" "$obj/.config")" = "$(grep "^$o=" "$KBUILD/.config")" ] ||
				{ echo "$o is not set as in $KBUILD/.config"; return 1; }
		done
		kmake "$drv/" || return 1
	fi
}

pass=0 fail=0
for ((i = 0; i < ${#new[@]}; i++)); do
	p=${new[i]}
	if [ $i -lt $k ]; then
		echo "PASS ${p%.patch} (unchanged)"
		pass=$((pass + 1))
		continue
	fi
	if ! patch --dry-run -s -p1 -d "$src" <"$series/$p" >/dev/null; then
		echo "FAIL ${p%.patch}: does not apply"
		fail=$((fail + 1))
		break
	fi
	patch -s -p1 --no-backup-if-mismatch -d "$src" <"$series/$p" >/dev/null
	cp "$series/$p" "$applied/$p"
	t=$SECONDS
	log=$logs/${p%.patch}.log
	if build "$series/$p" >"$log" 2>&1 && ! grep -qiE 'warning|error' "$log"; then
		touch "$applied/$p.pass"
		# C files outside rust/ are built only where the main build's
		# configuration builds them: say which were not.
		off=
		for c in $(sed -n 's|^+++ b/\(.*\.c\)$|\1|p' "$series/$p" | grep -v '^rust/' || true); do
			[ -f "$obj/${c%.c}.o" ] || off+=" $c"
		done
		echo "PASS ${p%.patch} ($((SECONDS - t)) s${off:+; not in this configuration, not built:$off})"
		pass=$((pass + 1))
	else
		echo "FAIL ${p%.patch} (log: $log)"
		grep -iE -A5 'warning|error' "$log" | head -40
		fail=$((fail + 1))
		break
	fi
done
rest=$((${#new[@]} - pass - fail))
echo "patches-check: $pass of ${#new[@]} patches build (rust/ and $drv/), $fail failed, $rest not checked; $((SECONDS - start)) s"
[ $fail -eq 0 ]

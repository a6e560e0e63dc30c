#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# usage: build-kernel.sh NAME FRAGMENT...
#
# Builds a test kernel other than the KUnit one from the overlay work tree,
# configured by olddefconfig over the concatenated config FRAGMENTs, in its
# own object directory ($CACHE/kbuild-NAME), incrementally. Every option a
# fragment sets (or says is not set) must come out so, or the build fails:
# a dependency that silently dropped an option would otherwise test another
# kernel than the one described.
#
# Outputs: build/NAME/Image and, when it has modules, build/NAME/modules/
# (a `make modules_install` tree with modules.dep).
set -euo pipefail
. "$(dirname "$0")/env.sh"

name=$1
shift
obj=$CACHE/kbuild-$name
out=$BUILD/$name
mkdir -p "$obj" "$out"
frag=$(mktemp)
trap 'rm -f "$frag"' EXIT
cat "$@" >"$frag"
kmake() { make -s -C "$WORKTREE" O="$obj" "${KMAKE_VARS[@]}" "$@"; }

# A changed fragment starts the configuration afresh; an unchanged one only
# gains defaults for options new to the tree (no rebuild if none).
if ! cmp -s "$frag" "$obj/.fragment" || [ ! -f "$obj/.config" ]; then
	cp "$frag" "$obj/.config"
	rm -f "$obj/.fragment"
fi
kmake olddefconfig >"$out/config.log" 2>&1 ||
	{ cat "$out/config.log"; die "$name: olddefconfig failed"; }
cp "$frag" "$obj/.fragment"
bad=0
while read -r line; do
	case "$line" in
	CONFIG_*=n) want="# ${line%=n} is not set" ;;
	CONFIG_*=*) want=$line ;;
	"# CONFIG_"*" is not set") want=$line ;;
	*) continue ;;
	esac
	if ! grep -qxF "$want" "$obj/.config"; then
		sym=${want#\# }
		sym=${sym%%[= ]*}
		echo "$name: wanted '$want', got '$(grep -E "^(# )?$sym[= ]" "$obj/.config" || echo "$sym absent")'" >&2
		bad=1
	fi
done <"$frag"
[ $bad -eq 0 ] || die "$name: the configuration differs from its fragments (a dependency is missing?)"

echo "build: building the $name kernel in $obj"
kmake -j"$(nproc)" Image modules >"$out/build.log" 2>&1 ||
	{ grep -E 'error|Error' "$out/build.log" | head -40; die "$name kernel build failed (log: $out/build.log)"; }
cp "$obj/arch/arm64/boot/Image" "$out/Image"
cp "$obj/System.map" "$out/System.map"
rm -rf "$out/modules"
if grep -q '^CONFIG_MODULES=y' "$obj/.config"; then
	kmake INSTALL_MOD_PATH="$out/modules" INSTALL_MOD_STRIP=1 modules_install \
		>"$out/modules.log" 2>&1 ||
		{ cat "$out/modules.log"; die "$name: modules_install failed"; }
fi
echo "build: $out/Image$([ -d "$out/modules" ] && echo ", $out/modules")"

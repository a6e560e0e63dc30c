#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Installs everything the project needs on a Debian bookworm x86_64 machine.
# Idempotent: a second run with everything present only checks and returns.
set -euo pipefail
. "$(dirname "$0")/env.sh"

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo

step() { echo "setup: $*"; }
fail() { echo "setup: FAILED: $1" >&2; echo "setup: what to do: $2" >&2; exit 1; }

PKGS=(clang-19 lld-19 llvm-19 libclang-19-dev rustc-web rust-web-src
      qemu-system-arm bc flex bison libelf-dev libssl-dev cpio kmod
      device-tree-compiler make python3 dpkg-dev rust-web-clippy rustfmt-web
      file gzip gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-efi-aarch64 patchelf)

. "$REPO/scripts/apt-private.sh"

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
# QEMU must be 10.x (bookworm's 7.2 lacks SMMUv3 stage 2).
if dpkg-query -W -f='${Version}' qemu-system-arm 2>/dev/null | grep -qv '^1:10'; then
	missing+=(qemu-system-arm)
fi
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	step "adding the arm64 architecture (for busybox-static:arm64)"
	$SUDO dpkg --add-architecture arm64 || fail "dpkg --add-architecture arm64" "run it by hand as root"
	need_update=1
fi

if [ ${#missing[@]} -gt 0 ]; then
	src=/etc/apt/sources.list.d/arm-smmu-v3-rs-backports.sources
	if [ ! -f $src ]; then
		step "adding bookworm-backports to apt sources (QEMU 10)"
		$SUDO tee $src >/dev/null <<EOS || fail "writing $src" "check you can write /etc/apt"
Types: deb
URIs: $MIRROR
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
	fi
	step "apt-get update"
	$SUDO apt-get update -qq || fail "apt-get update" "check network access to the Debian mirror"
	step "installing ${missing[*]}"
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		-t bookworm-backports qemu-system-arm >/dev/null ||
		fail "installing qemu-system-arm from bookworm-backports" "apt-get install -t bookworm-backports qemu-system-arm"
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
		fail "apt-get install ${missing[*]}" "run the apt-get install by hand and read its error"
	need_update=
elif [ -n "${need_update:-}" ]; then
	$SUDO apt-get update -qq || fail "apt-get update" "check network access to the Debian mirror"
fi
/usr/bin/rustc --version | grep -q ' 1\.9[0-9]' || fail "rustc-web version" "/usr/bin/rustc must be rustc-web >= 1.90"

# busybox for the guests
BB=$CACHE/busybox/bin/busybox
if [ ! -x "$BB" ]; then
	step "fetching busybox-static:arm64"
	tmp=$(mktemp -d)
	(cd "$tmp" && apt_dl bookworm arm64 busybox-static:arm64) ||
		fail "downloading busybox-static:arm64" "check access to the Debian mirror"
	rm -rf "$CACHE/busybox"; mkdir -p "$CACHE/busybox/bin"
	dpkg-deb -x "$tmp"/busybox-static_*_arm64.deb "$tmp/x"
	cp "$tmp/x/bin/busybox" "$BB"
	rm -rf "$tmp"
fi
file "$BB" 2>/dev/null | grep -q 'ARM aarch64' || [ ! -x /usr/bin/file ] || fail "busybox is not arm64" "rm -rf $CACHE/busybox and rerun"

# bindgen
if [ ! -x "$BINDGEN" ]; then
	step "cargo install bindgen-cli 0.72 into $BINDGEN_ROOT (about a minute)"
	cargo install --locked --quiet bindgen-cli --version '^0.72' --root "$BINDGEN_ROOT" ||
		fail "cargo install bindgen-cli" "check access to crates.io; needs cargo on PATH"
fi

# kernel source
if [ ! -f "$PRISTINE/.complete" ]; then
	step "fetching $KERNEL_PKG from $KERNEL_SUITE"
	tmp=$(mktemp -d)
	(cd "$tmp" && apt_dl "$KERNEL_SUITE" amd64 "$KERNEL_PKG") ||
		fail "apt-get download $KERNEL_PKG" "check access to the Debian mirror; the package name is pinned in scripts/kernel-version.mk"
	deb=$(ls "$tmp"/"$KERNEL_PKG"_*.deb)
	seen=$(dpkg-deb -f "$deb" Version)
	echo "setup: $KERNEL_PKG $seen"
	[ "$seen" = "$KERNEL_SEEN" ] ||
		echo "setup: note: tested with $KERNEL_SEEN, got $seen (scripts/kernel-version.mk)"
	echo "$seen" >"$tmp/version"
	dpkg-deb -x "$deb" "$tmp/x"
	tarball=$(ls "$tmp"/x/usr/src/linux-source-*.tar.*)
	rm -rf "$PRISTINE"; mkdir -p "$PRISTINE"
	step "unpacking $(basename "$tarball")"
	tar -xf "$tarball" -C "$PRISTINE" --strip-components=1
	cp "$tmp/version" "$PRISTINE/.package-version"
	rm -rf "$tmp"
	v=$(sed -n 's/^VERSION = //p' "$PRISTINE/Makefile").$(sed -n 's/^PATCHLEVEL = //p' "$PRISTINE/Makefile")
	[ "$v" = "$KERNEL_VERSION" ] || fail "kernel version is $v, expected $KERNEL_VERSION" "update scripts/kernel-version.mk"
	chmod -R a-w "$PRISTINE"
	touch "$PRISTINE/.complete" 2>/dev/null || { chmod u+w "$PRISTINE"; touch "$PRISTINE/.complete"; chmod u-w "$PRISTINE"; }
fi
step "ok (cache: $CACHE)"

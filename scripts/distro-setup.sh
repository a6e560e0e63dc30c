#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Prepares `make distro`: an out-of-tree build for Debian's own arm64 kernel
# (DISTRO_ABI in kernel-version.mk), without rebuilding that kernel.
#
#  1. The toolchain that kernel was built with (rustc, rust-src, bindgen,
#     gcc, pahole, from the suites in DISTRO_SUITES), unpacked into
#     $DISTRO_PREFIX and never installed system-wide. Those packages need a
#     newer glibc than this machine's, so every executable is pointed at the
#     prefix's own dynamic loader and libraries (patchelf).
#  2. Debian's kernel packages at DISTRO_PKGVER: the image, the modules and
#     the headers (.config, Module.symvers, vmlinux for module BTF).
#  3. The Rust metadata the headers package does not ship (rust/*.rmeta,
#     libmacros.so), regenerated from the same source with that toolchain,
#     then checked: the configuration must equal Debian's but for options
#     that do not reach a module, and the regenerated objects must define
#     every Rust symbol Debian's Module.symvers exports (same crate hashes).
#
# Idempotent; each part is redone only when its pin changes.
set -euo pipefail
. "$(dirname "$0")/env.sh"

step() { echo "distro-setup: $*"; }
fail() { echo "distro-setup: FAILED: $1" >&2; echo "distro-setup: what to do: $2" >&2; exit 1; }

bash "$REPO/scripts/setup.sh" >/dev/null
command -v patchelf >/dev/null || fail "patchelf is missing" "run scripts/setup.sh"
have=$(cat "$PRISTINE/.package-version")
[ "$have" = "$DISTRO_PKGVER" ] ||
	fail "the kernel source is $KERNEL_PKG $have, but the distribution kernel is pinned at $DISTRO_PKGVER" \
	     "the module must be built from the exact source of the kernel it loads into: update DISTRO_ABI/DISTRO_PKGVER in scripts/kernel-version.mk together with KERNEL_SEEN"
. "$REPO/scripts/apt-private.sh"

pin="$DISTRO_PKGVER rustc-$DISTRO_RUSTC bindgen-$DISTRO_BINDGEN gcc-$DISTRO_GCC"
TOOLS=(rustc libstd-rust-dev rust-src bindgen "libclang1-19" "gcc-$DISTRO_GCC-aarch64-linux-gnu" dwarves)
KPKGS=("linux-binary-$DISTRO_ABI:arm64=$DISTRO_PKGVER" "linux-modules-$DISTRO_ABI:arm64=$DISTRO_PKGVER"
       "linux-headers-$DISTRO_ABI:arm64=$DISTRO_PKGVER")

if [ "$(cat "$DISTRO/.complete" 2>/dev/null)" != "$pin" ]; then
	step "fetching the toolchain of $DISTRO_ABI from $DISTRO_SUITES (about 300 MB)"
	apt_private distro "$DISTRO_SUITES" "amd64 arm64" ||
		fail "apt-get update for $DISTRO_SUITES" "check access to the Debian mirror"
	arch=$APTDL/cache-distro/archives
	rm -f "$arch"/*.deb
	apt-get "${APT_OPTS[@]}" install --download-only -y -qq "${TOOLS[@]}" >/dev/null ||
		fail "downloading ${TOOLS[*]}" "run: apt-get ${APT_OPTS[*]} install --download-only ${TOOLS[*]}"
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get "${APT_OPTS[@]}" download "${KPKGS[@]}" >/dev/null) ||
		fail "downloading Debian's kernel $DISTRO_PKGVER" \
		     "the archive may have moved on: apt-cache policy linux-binary-$DISTRO_ABI:arm64, then update scripts/kernel-version.mk"
	rm -rf "$DISTRO"; mkdir -p "$DISTRO_PREFIX" "$DISTRO_DEB" "$DISTRO_BIN"
	step "unpacking $(ls "$arch"/*.deb | wc -l) packages into $DISTRO_PREFIX"
	for d in "$arch"/*.deb; do dpkg-deb -x "$d" "$DISTRO_PREFIX"; done
	for d in "$tmp"/*.deb; do dpkg-deb -x "$d" "$DISTRO_DEB"; done
	rm -rf "$tmp" "$arch"/*.deb

	# Point every executable at the prefix's loader; DT_RPATH (not
	# RUNPATH) so that the libraries' own dependencies resolve there too.
	ld=$DISTRO_PREFIX/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
	rp=$DISTRO_PREFIX/usr/lib/x86_64-linux-gnu:$DISTRO_PREFIX/usr/lib/rustlib/x86_64-unknown-linux-gnu/lib:$DISTRO_PREFIX/usr/lib/llvm-19/lib
	find "$DISTRO_PREFIX/usr/bin" "$DISTRO_PREFIX/usr/libexec" "$DISTRO_PREFIX/usr/lib/gcc-cross" \
	     -type f -perm -u+x 2>/dev/null | while IFS= read -r f; do
		patchelf --print-interpreter "$f" >/dev/null 2>&1 || continue
		patchelf --set-interpreter "$ld" --force-rpath --set-rpath "$rp" "$f" ||
			fail "patchelf $f" "check that $f is an ELF executable"
	done
	# The names the kernel's Makefiles call.
	for t in gcc cpp; do ln -s "$DISTRO_PREFIX/usr/bin/aarch64-linux-gnu-$t-$DISTRO_GCC" "$DISTRO_BIN/"; done
	for t in ld ld.bfd as ar nm objcopy objdump readelf strip ranlib; do
		ln -s "$DISTRO_PREFIX/usr/bin/aarch64-linux-gnu-$t" "$DISTRO_BIN/"
	done
	ln -s "$DISTRO_PREFIX/usr/bin/pahole" "$DISTRO_BIN/"
	echo "$pin" >"$DISTRO/.complete"
fi

distro_env
H=$DISTRO_DEB/usr/src/linux-headers-$DISTRO_ABI
v=$("$DISTRO_PREFIX/usr/bin/rustc" --version) || fail "running the prefix's rustc" "rm -rf $DISTRO and rerun"
want=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"/\1/p' "$H/.config")
[ "$v" = "$want" ] || fail "rustc is '$v', Debian's kernel was built with '$want'" \
	"only that rustc reproduces the kernel crate's symbol hashes; update DISTRO_RUSTC"
v=$("$DISTRO_PREFIX/usr/bin/bindgen" --version)
want=$(sed -n 's/^CONFIG_BINDGEN_VERSION_TEXT="\(.*\)"/\1/p' "$H/.config")
[ "$v" = "$want" ] || fail "bindgen is '$v', Debian's kernel was built with '$want'" "update DISTRO_BINDGEN"
v=$(aarch64-linux-gnu-gcc-$DISTRO_GCC --version | head -1)
want=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\(.*\)"/\1/p' "$H/.config")
[ "$v" = "$want" ] || fail "gcc is '$v', Debian's kernel was built with '$want'" "update DISTRO_GCC"

# The Rust metadata, regenerated in $DISTRO_KBUILD.
if [ "$(cat "$DISTRO_KBUILD/.complete" 2>/dev/null)" != "$pin" ]; then
	step "regenerating the kernel's Rust metadata for $DISTRO_ABI (about 2 minutes)"
	rm -rf "$DISTRO_KBUILD"; mkdir -p "$DISTRO_KBUILD"
	cp "$H/.config" "$DISTRO_KBUILD/.config"
	make -s -C "$PRISTINE" O="$DISTRO_KBUILD" "${DISTRO_KMAKE_VARS[@]}" -j"$(nproc)" \
		olddefconfig prepare modules_prepare >"$DISTRO/prepare.log" 2>&1 ||
		{ tail -30 "$DISTRO/prepare.log"; fail "make prepare for $DISTRO_ABI" "read $DISTRO/prepare.log"; }
	# Options that depend on tools of this machine rather than on the
	# toolchain above, and that reach neither the kernel's types nor a
	# module: the 32-bit compat vDSO (needs an arm-linux-gnueabihf compiler),
	# linking user programs, and host OpenSSL's ML-DSA for sign-file.
	ok='^CONFIG_(CC_CAN_LINK|COMPAT_VDSO|THUMB2_COMPAT_VDSO|OPENSSL_SUPPORTS_ML_DSA)='
	d=$(diff <(grep '^CONFIG_' "$H/.config" | grep -Ev "$ok" | sort) \
		 <(grep '^CONFIG_' "$DISTRO_KBUILD/.config" | grep -Ev "$ok" | sort)) ||
		fail "the regenerated configuration differs from Debian's:"$'\n'"$d" "the toolchain does not match the kernel's"
	cp "$H/Module.symvers" "$DISTRO_KBUILD/Module.symvers"
	ln -sf "$H/vmlinux" "$DISTRO_KBUILD/vmlinux"
	want=$(awk '$2 ~ /^_R/ {print $2}' "$H/Module.symvers" | sort -u)
	have=$(for o in "$DISTRO_KBUILD"/rust/*.o; do aarch64-linux-gnu-nm --defined-only "$o"; done |
		awk '$3 ~ /^_R/ {print $3}' | sort -u)
	missing=$(comm -23 <(echo "$want") <(echo "$have") | wc -l)
	[ "$missing" = 0 ] || fail "$missing of Debian's $(echo "$want" | wc -l) Rust exports are not defined by the regenerated crates" \
		"the crate hashes differ: the rustc or the configuration is not the kernel's"
	step "rust metadata ok: all $(echo "$want" | wc -l) Rust exports of Module.symvers match"
	echo "$pin" >"$DISTRO_KBUILD/.complete"
fi
step "ok ($DISTRO)"

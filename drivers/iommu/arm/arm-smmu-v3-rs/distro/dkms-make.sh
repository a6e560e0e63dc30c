#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds arm_smmu_v3_rs.ko for a stock distribution kernel that has
# CONFIG_RUST but ships no Rust metadata in its headers (Debian's 7.3).
# Run from the root of the source tree `make distro` lays out (the DKMS
# tree: Kbuild, drivers/, rust/); dkms.conf calls it as MAKE.
#
#   dkms-make.sh KERNELVER
#
# 1. Regenerates the kernel crate's metadata (rust/*.rmeta, libmacros.so)
#    from the kernel's own source with the headers' .config, then checks
#    it: the configuration must come out equal (but for options that
#    reach no module), and the regenerated crates must define every Rust
#    symbol of the headers' Module.symvers (same rustc, same hashes).
# 2. Generates the declarations the stock bindings lack, with the stock
#    bindings' own bindgen command line.
# 3. Builds the module against that tree and the headers' Module.symvers.
#
# Environment (defaults are a trixie arm64 machine's packages):
#   LINUX_SOURCE  kernel source: a directory, or the linux-source tarball
#                 (default /usr/src/linux-source-<major.minor>.tar.xz)
#   HEADERS       the kernel's headers (default /usr/src/linux-headers-KERNELVER)
#   KBUILD_DIR    where the regenerated tree goes (default
#                 /var/cache/arm-smmu-v3-rs/KERNELVER)
#   OUT           the module build's output directory (default ./build)
#   MAKE_VARS     extra make variables, e.g. the toolchain (default
#                 "CC=gcc-14"; BINDGEN=, RUSTC= as the kernel's Makefile)
set -euo pipefail
kver=${1:?usage: dkms-make.sh KERNELVER}
die() { echo "arm_smmu_v3_rs: $*" >&2; exit 1; }
src=$(pwd)
drv=drivers/iommu/arm/arm-smmu-v3-rs
[ -f "$src/$drv/distro/kernel_ext.rs" ] || die "run me from the root of the module's source tree"
HEADERS=${HEADERS:-/usr/src/linux-headers-$kver}
KBUILD_DIR=${KBUILD_DIR:-/var/cache/arm-smmu-v3-rs/$kver}
OUT=${OUT:-$src/build}
read -r -a mvars <<<"${MAKE_VARS:-CC=gcc-14}"
mvars+=(ARCH=arm64 "KERNELRELEASE=$kver")
bindgen=BINDGEN
for v in "${mvars[@]}"; do case $v in BINDGEN=*) bindgen=${v#BINDGEN=} ;; esac; done
[ "$bindgen" != BINDGEN ] || bindgen=bindgen
[ -f "$HEADERS/.config" ] || die "no $HEADERS/.config: install the headers of $kver"
grep -q '^CONFIG_RUST=y' "$HEADERS/.config" || die "kernel $kver is built without CONFIG_RUST"

# 1. The Rust metadata.
stamp="$kver $(md5sum "$HEADERS/Module.symvers" | cut -d' ' -f1)"
if [ "$(cat "$KBUILD_DIR/.complete" 2>/dev/null)" != "$stamp" ]; then
	ver=$(sed -n 's/^# Linux\/arm64 \([0-9]*\.[0-9]*\).*/\1/p' "$HEADERS/.config" | head -1)
	LINUX_SOURCE=${LINUX_SOURCE:-/usr/src/linux-source-$ver.tar.xz}
	rm -rf "$KBUILD_DIR"; mkdir -p "$KBUILD_DIR"
	if [ -f "$LINUX_SOURCE" ]; then
		echo "arm_smmu_v3_rs: unpacking $LINUX_SOURCE"
		mkdir -p "$KBUILD_DIR/source"
		tar -xf "$LINUX_SOURCE" -C "$KBUILD_DIR/source" --strip-components=1
		ksrc=$KBUILD_DIR/source
	elif [ -f "$LINUX_SOURCE/Makefile" ]; then
		ksrc=$LINUX_SOURCE
	else
		die "no kernel source at $LINUX_SOURCE: install linux-source-$ver (same version as $kver)"
	fi
	full=$(sed -n 's/^# Linux\/arm64 \([0-9.]*\) Kernel Configuration/\1/p' "$HEADERS/.config" | head -1)
	have=$(make -s -C "$ksrc" kernelversion 2>/dev/null)
	[ "$have" = "$full" ] ||
		die "the kernel source at $LINUX_SOURCE is $have, the kernel $kver is $full: install linux-source-$ver at the kernel's version"
	echo "arm_smmu_v3_rs: regenerating the Rust metadata of $kver (about 2 minutes on 2 cores)"
	mkdir -p "$KBUILD_DIR/obj"
	cp "$HEADERS/.config" "$KBUILD_DIR/obj/.config"
	make -s -C "$ksrc" O="$KBUILD_DIR/obj" "${mvars[@]}" -j"$(nproc)" \
		olddefconfig prepare modules_prepare >"$KBUILD_DIR/prepare.log" 2>&1 ||
		{ tail -30 "$KBUILD_DIR/prepare.log"; die "make prepare failed (log: $KBUILD_DIR/prepare.log)"; }
	# Options that depend on host tools, not on the kernel's toolchain,
	# and reach neither the kernel's types nor a module: the 32-bit compat
	# vDSO, linking user programs, host OpenSSL's ML-DSA for sign-file.
	# And the compiler's banner, which names the command: Debian's kernel
	# was built by aarch64-linux-gnu-gcc-14, a trixie arm64 machine's is
	# gcc-14 (the version itself is CONFIG_GCC_VERSION, compared).
	ok='^CONFIG_(CC_CAN_LINK|COMPAT_VDSO|THUMB2_COMPAT_VDSO|OPENSSL_SUPPORTS_ML_DSA|CC_VERSION_TEXT)='
	d=$(diff <(grep '^CONFIG_' "$HEADERS/.config" | grep -Ev "$ok" | sort) \
		 <(grep '^CONFIG_' "$KBUILD_DIR/obj/.config" | grep -Ev "$ok" | sort)) ||
		die "the regenerated configuration differs from the kernel's (the toolchain is not the kernel's):"$'\n'"$d"
	cp "$HEADERS/Module.symvers" "$KBUILD_DIR/obj/Module.symvers"
	[ -f "$HEADERS/vmlinux" ] && ln -sf "$HEADERS/vmlinux" "$KBUILD_DIR/obj/vmlinux"
	want=$(awk '$2 ~ /^_R/ {print $2}' "$HEADERS/Module.symvers" | sort -u)
	nm=nm
	for v in "${mvars[@]}"; do case $v in CROSS_COMPILE=*) nm=${v#CROSS_COMPILE=}nm ;; esac; done
	have=$(for o in "$KBUILD_DIR"/obj/rust/*.o; do "$nm" --defined-only "$o"; done |
		awk '$3 ~ /^_R/ {print $3}' | sort -u)
	missing=$(comm -23 <(echo "$want") <(echo "$have") | wc -l)
	[ "$missing" = 0 ] || die "$missing of the kernel's $(echo "$want" | wc -l) Rust exports are not defined by the regenerated crates: the rustc is not the kernel's ($(grep RUSTC_VERSION_TEXT "$HEADERS/.config"))"
	echo "arm_smmu_v3_rs: Rust metadata ok: all $(echo "$want" | wc -l) Rust exports of Module.symvers match"
	echo "$stamp" >"$KBUILD_DIR/.complete"
fi
kb=$KBUILD_DIR/obj

# 2. Declarations. Names the abstractions use that the stock bindings do
# not define, plus the types those need: msi_desc and msi_msg are opaque
# in the stock bindings (no linux/msi.h); the full definitions shadow them
# for the code that reads their fields.
mkdir -p "$OUT"
stock=$kb/rust/bindings/bindings_generated.rs
# The clang flags of the stock bindgen command (after "--", before the
# "; sed" that follows it), split as the shell that ran it did.
cflags=$(sed -n 's/^savedcmd_[^ ]* := .* -- //p' "$kb/rust/bindings/.bindings_generated.rs.cmd" |
	sed -e 's/-Wp,-MMD,[^ ]*//' -e 's/;.*//')
eval "cf=($cflags)"
missing=()
for n in $(grep -rhoE 'bindings::[A-Za-z_][A-Za-z0-9_]*' rust "$drv" --include='*.rs' |
	   sed 's/bindings:://' | sort -u); do
	grep -qE "(fn|const|struct|type|static|union|enum) $n\b" "$stock" \
		"$kb/rust/bindings/bindings_helpers_generated.rs" || missing+=("$n")
done
missing+=(irq_write_msi_msg_t msi_desc msi_msg pci_msi_desc msi_desc_data
	  arch_msi_msg_data_t arch_msi_msg_addr_lo_t arch_msi_msg_addr_hi_t arch_msi_msg_data
	  arch_msi_msg_addr_lo arch_msi_msg_addr_hi msi_domain_cookie 'msi_msg__.*' 'msi_desc__.*'
	  u32_ __u32)
allow=()
for n in "${missing[@]}"; do allow+=(--allowlist-item "$n" --allowlist-item "RUST_CONST_HELPER_$n"); done
common=(--rust-target 1.85 --use-core --with-derive-default --ctypes-prefix ffi --no-layout-tests
	--no-debug '.*' --enable-function-attribute-detection)
gen=$src/$drv/distro/bindings_generated.rs
(cd "$kb" && "$bindgen" "$src/$drv/distro/bindings.h" --no-recursive-allowlist "${allow[@]}" \
	"${common[@]}" -o "$OUT/decls.rs" -- "${cf[@]}" -DMODULE) >"$OUT/bindgen.log" 2>&1 ||
	{ cat "$OUT/bindgen.log"; die "bindgen of distro/bindings.h failed"; }
sed -Ei 's/pub const RUST_CONST_HELPER_([a-zA-Z0-9_]*)/pub const \1/g' "$OUT/decls.rs"
# Helpers of functions the stock kernel has for real (its configuration
# enables them) would duplicate their declarations.
block=()
for f in $(grep -ho 'rust_helper_[a-z0-9_]*' rust/helpers/*.c | sed 's/rust_helper_//' | sort -u); do
	grep -qE "pub fn $f\(" "$stock" "$OUT/decls.rs" && block+=(--blocklist-function "rust_helper_$f")
done
(cd "$kb" && "$bindgen" "$src/$drv/distro/helpers.c" "${block[@]}" --blocklist-type '.*' \
	--allowlist-var '' --allowlist-function 'rust_helper_.*' "${common[@]}" -o "$OUT/helpers.rs" \
	-- "${cf[@]}" -DMODULE -Wno-missing-prototypes -Wno-missing-declarations) >>"$OUT/bindgen.log" 2>&1 ||
	{ cat "$OUT/bindgen.log"; die "bindgen of distro/helpers.c failed"; }
sed -Ei 's/pub fn rust_helper_([a-zA-Z0-9_]*)/#[link_name="rust_helper_\1"]\n    pub fn \1/g' "$OUT/helpers.rs"
# Kept in $OUT and replaced only when changed, so that an unchanged tree
# is not rebuilt.
cat "$OUT/decls.rs" "$OUT/helpers.rs" >"$OUT/bindings.new"
cmp -s "$OUT/bindings.new" "$OUT/bindings.rs" || cp "$OUT/bindings.new" "$OUT/bindings.rs"
cp -p "$OUT/bindings.rs" "$gen"

# 3. The module; the crate root under another name, as a composite
# module's name may not be one of its parts'.
ln -sf arm_smmu_v3_rs.rs "$drv/smmu_main.rs"
echo "arm_smmu_v3_rs: building the module for $kver"
make -s -C "$kb" "${mvars[@]}" M="$src" MO="$OUT" modules >"$OUT/build.log" 2>&1 ||
	{ grep -E -A8 '^(error|ERROR)' "$OUT/build.log" | head -150; die "the module build failed (log: $OUT/build.log)"; }
echo "arm_smmu_v3_rs: $OUT/$drv/arm_smmu_v3_rs.ko"

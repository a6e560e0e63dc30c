#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make distro`: the driver as an out-of-tree module for Debian's stock arm64
# kernel (DISTRO_ABI), built with that kernel's toolchain against its
# Module.symvers (scripts/distro-setup.sh). Output: build/distro/arm_smmu_v3_rs.ko.
#
# The module is one source with the in-tree driver. It links three objects:
#  - smmu_main.o: the driver crate (the crate root under another name, since a
#    composite module's name may not be one of its parts');
#  - distro/kernel_ext.o: a crate that re-exports the stock `kernel` crate and
#    compiles this repo's rust/ abstractions as its modules; the driver is
#    given it as `kernel`;
#  - distro/helpers.o: the abstractions' C helpers.
# It is built by distro/dkms-make.sh, the script dkms.conf runs on a user's
# machine, from the DKMS source tree laid out here.
set -euo pipefail
. "$(dirname "$0")/env.sh"

bash "$REPO/scripts/distro-setup.sh"
distro_env
DRV=drivers/iommu/arm/arm-smmu-v3-rs
H=$DISTRO_DEB/usr/src/linux-headers-$DISTRO_ABI
VER=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
# The source tree a DKMS package ships (dkms.conf at its root): the driver,
# rust/, and the two private iommu headers of the same kernel source.
SRC=$BUILD/distro/arm-smmu-v3-rs
OUT=$DISTRO/obj
rm -rf "$SRC"; mkdir -p "$SRC/$DRV" "$SRC/drivers/iommu" "$OUT"
cp -a "$REPO/$DRV/." "$SRC/$DRV/"
cp -a "$REPO/rust" "$SRC/rust"
cp "$PRISTINE/drivers/iommu/iommu-pages.h" "$PRISTINE/drivers/iommu/dma-iommu.h" "$SRC/drivers/iommu/"
# The overlay changes one file of the kernel crate itself, the io-pgtable
# abstraction (its TLB parameter): the tree ships that file, changed by the
# overlay's hunk, in place of the stock crate's module.
pg=rust/kernel/iommu/pgtable.rs
cp "$PRISTINE/$pg" "$SRC/$pg"
awk -v f="$pg" 'FNR == 1 { on = 0 } /^--- a\// { on = ($0 == "--- a/" f) } on' "$REPO"/scripts/overlay/*.patch |
	patch -s -p1 --no-backup-if-mismatch -d "$SRC" || die "distro: the overlay's $pg does not apply"
sed "s/@VERSION@/$VER/" "$REPO/$DRV/distro/dkms.conf" >"$SRC/dkms.conf"
cp "$REPO/$DRV/distro/Kbuild" "$SRC/$DRV/Kbuild"
cat >"$SRC/Kbuild" <<'EOK'
# SPDX-License-Identifier: GPL-2.0
obj-m += drivers/iommu/arm/arm-smmu-v3-rs/
EOK
# The build dkms.conf runs, here with the pinned toolchain of the cache and
# Debian's packages in place of a trixie machine's.
(cd "$SRC" && LINUX_SOURCE=$PRISTINE HEADERS=$H KBUILD_DIR=$DISTRO_KBUILD OUT=$OUT \
	MAKE_VARS="${DISTRO_KMAKE_VARS[*]}" bash "$DRV/distro/dkms-make.sh" "$DISTRO_ABI") ||
	die "the distro module build failed"
cp "$OUT/$DRV/arm_smmu_v3_rs.ko" "$BUILD/distro/"
echo "distro: $BUILD/distro/arm_smmu_v3_rs.ko (DKMS source tree: $SRC)"

# The modules the acceptance runs load (scripts/qemu-test.sh, distro-*): the
# disks' drivers from Debian's own tree with their dependencies,
# decompressed (busybox hands the file to init_module, which does not
# decompress), and ours, indexed by depmod as a package install would be.
MODS=$BUILD/distro/modules
rm -rf "$MODS"
kmods=$DISTRO_DEB/usr/lib/modules/$DISTRO_ABI
dst=$MODS/lib/modules/$DISTRO_ABI
todo=(virtio_blk nvme) seen=" "
while [ ${#todo[@]} -gt 0 ]; do
	m=${todo[0]}; todo=("${todo[@]:1}")
	case "$seen" in *" $m "*) continue ;; esac
	seen+="$m "
	f=$(find "$kmods/kernel" -name "$m.ko.xz" -o -name "${m//_/-}.ko.xz" | head -1)
	[ -n "$f" ] || die "Debian's $DISTRO_ABI has no module $m"
	rel=${f#"$kmods/"}
	mkdir -p "$dst/$(dirname "$rel")"
	xz -dc "$f" >"$dst/${rel%.xz}"
	for d in $(modinfo -F depends "$dst/${rel%.xz}" | tr , ' '); do todo+=("$d"); done
done
mkdir -p "$dst/extra"
cp "$BUILD/distro/arm_smmu_v3_rs.ko" "$dst/extra/"
# Debian ships no modules.builtin*; nothing here is built in.
touch "$dst/modules.builtin" "$dst/modules.builtin.modinfo" "$dst/modules.order"
depmod -b "$MODS" "$DISTRO_ABI" || die "depmod of $MODS failed"
echo "distro: $MODS ($(echo "$seen" | wc -w) Debian modules and ours)"

# SPDX-License-Identifier: GPL-2.0
#
# PCIe ATS of a virtio-blk disk behind a PCIe root port (`ats=on`), with a
# device tree whose PCIe host says `ats-supported` and the SMMU treated as
# ATS-capable (arm_smmu_v3_rs.ats_test_force=1: QEMU's SMMU has no ATS and
# takes ATC invalidations as no-ops, so this shows the PCI side and the
# commands, not an ATC). The ATS Enable bit is read from the device's
# configuration space:
#   DMA domain: on; reads give the image's sha256
#   identity domain: off (a bypass STE refuses ATS); back to DMA: on;
#   DMA-FQ, then DMA (a new paging domain, ATS stays on): on
#   removed and found again by a rescan: on, reads good
# With `ats_expect=broken` (arm_smmu_v3_rs.ats_test_timeout_sid= the
# disk's StreamID), the disk's ATC invalidations "time out" after a while:
# ATS must end off, with one log line, reads still good, and ATS stays off
# through identity and back to DMA.
disk=vda
expect=$(arg ats_expect || echo on)

# ats_ctrl PCIDIR: the ATS Control register (decimal), or "none".
ats_ctrl() {
	off=256
	while [ "$off" -ne 0 ]; do
		hdr=$(od -An -tu4 -j "$off" -N4 "$1/config" | tr -d ' ')
		[ -n "$hdr" ] && [ "$hdr" -ne 0 ] || break
		if [ $((hdr & 0xffff)) -eq 15 ]; then
			od -An -tu2 -j $((off + 6)) -N2 "$1/config" | tr -d ' '
			return
		fi
		off=$(((hdr >> 20) & 0xffc))
	done
	echo none
}

# ats_state PCIDIR: on, off, or none (no ATS capability).
ats_state() {
	c=$(ats_ctrl "$1")
	case "$c" in
	none) echo none ;;
	*) if [ $((c & 0x8000)) -ne 0 ]; then echo on; else echo off; fi ;;
	esac
}

find_pci() {
	pci=$(readlink -f /sys/block/$disk/device)
	while [ -n "$pci" ] && [ ! -e "$pci/iommu_group" ]; do pci=${pci%/*}; done
}

# ats_switch ON: identity, back to DMA, DMA-FQ (the same domain, its
# flush queue on), DMA (a new paging domain: a re-attach with ATS on); ATS
# off in identity and ON in the others; with ON=on also removed and found
# again (probed again: ATS on).
ats_switch() {
	n=0
	for t in identity DMA DMA-FQ DMA; do
		n=$((n + 1))
		group_type_set "ats$n.$t" "$pci" "$drv" "$t"
		case "$t" in identity) want=off ;; *) want=$1 ;; esac
		expect_eq "ats$n.$t.config" "$want" "$(ats_state "$pci")"
		rebind_read "ats$n.$t" "$pci" "$drv" "$disk"
	done
	[ "$1" = on ] || return 0
	bdf=${pci##*/}
	echo 1 >"$pci/remove"
	expect_eq ats.removed "" "$(ls /sys/bus/pci/devices | grep -x "$bdf")"
	echo 1 >/sys/bus/pci/rescan
	if wait_for /dev/$disk 20; then
		find_pci
		expect_eq ats.rescan.config on "$(ats_state "$pci")"
		disk_read_sha /dev/$disk ats.rescan.read_sha256
	else
		fail ats.rescan "no /dev/$disk after the rescan"
	fi
}

summary=$(smmu_summary)
if [ -n "$summary" ]; then pass probe "$summary"; else fail probe "no probe summary"; fi
wait_for /dev/$disk 20 || fail ats.disk "no /dev/$disk"
find_pci
drv=$(readlink -f "$pci/driver")
pass ats.device "${pci##*/}"
expect_eq ats.start.type DMA "$(cat "$pci/iommu_group/type" 2>/dev/null)"
disk_read_sha /dev/$disk ats.dma.read_sha256

if [ "$expect" = broken ]; then
	expect_eq ats.broken.config off "$(ats_state "$pci")"
	expect_eq ats.broken.logged 1 "$(dmesg | grep -c 'ATC invalidation timed out: ATS disabled')"
	drop_caches
	disk_read_sha /dev/$disk ats.broken.read_sha256
	expect_eq ats.broken.config_after off "$(ats_state "$pci")"
	# It stays off until the device is probed again.
	ats_switch off
else
	expect_eq ats.dma.config on "$(ats_state "$pci")"
	ats_switch on
fi
no_kernel_splat log

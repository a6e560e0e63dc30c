# SPDX-License-Identifier: GPL-2.0
#
# Both SMMUv3 drivers as modules: the one `driver=` names was loaded at
# boot (coldplug). Unloading it while devices use it, unloading it once
# every PCI device is gone, then loading the other driver and finding the
# devices again. Each step prints "SMMUTEST MODLIFE step outcome" for the
# host to compare between the drivers, and the disk must read through
# the other driver at the end.
case "$(arg driver)" in
c) mine=arm_smmu_v3 other=arm_smmu_v3_rs other_drv=arm_smmu_v3_rs ;;
*) mine=arm_smmu_v3_rs other=arm_smmu_v3 other_drv=arm-smmu-v3 ;;
esac
smmu=$(ls -d /sys/bus/platform/devices/*smmu* | head -1)
expect_eq loaded "$mine" "$(cut -d' ' -f1 /proc/modules | grep -x "$mine")"
wait_for /dev/vda 20 && pass vda.present /dev/vda || fail vda.present "no /dev/vda"
disk_read_sha /dev/vda vda.read_sha256

# outcome CMD...: "unloaded"/"loaded" or "refused: <errno text>".
outcome() {
	if "$@" 2>/tmp/err; then echo ok; else echo "refused: $(sed 's/.*: //' /tmp/err)"; fi
}
busy=$(outcome rmmod "$mine")
echo "SMMUTEST MODLIFE rmmod-with-devices $busy"
pass rmmod-with-devices "$busy"
if [ "$busy" = ok ]; then
	fail rmmod-with-devices.still-bound "the module went while devices used it"
fi

# Every PCI device released: nothing holds the module any more.
for d in /sys/bus/pci/devices/*; do echo 1 >"$d/remove" 2>/dev/null; done
expect_eq pci.removed 0 "$(ls /sys/bus/pci/devices | wc -l)"
# The Rust module's debugfs root is the module's, not an SMMU's: there
# while the module is, with one directory per SMMU, and gone with it.
dbg=/sys/kernel/debug/arm_smmu_v3_rs
debugfs_dirs() { ls "$dbg" 2>/dev/null | paste -sd' '; }
[ "$mine" = arm_smmu_v3_rs ] && expect_eq debugfs.loaded "${smmu##*/}" "$(debugfs_dirs)"
idle=$(outcome rmmod "$mine")
echo "SMMUTEST MODLIFE rmmod-idle $idle"
expect_eq rmmod-idle ok "$idle"
expect_eq unbound "" "$(readlink "$smmu/driver")"
[ "$mine" = arm_smmu_v3_rs ] && expect_eq debugfs.unloaded no "$([ -e "$dbg" ] && echo yes || echo no)"

# The other driver takes the SMMU over and the devices come back.
load=$(outcome modprobe "$other")
echo "SMMUTEST MODLIFE modprobe-other $load"
expect_eq modprobe-other ok "$load"
expect_eq other.bound "$other_drv" "$(basename "$(readlink "$smmu/driver")")"
[ "$other" = arm_smmu_v3_rs ] && expect_eq other.debugfs "${smmu##*/}" "$(debugfs_dirs)"
echo 1 >/sys/bus/pci/rescan
if wait_for /dev/vda 20; then
	pci=$(readlink -f /sys/block/vda/device)
	while [ -n "$pci" ] && [ ! -e "$pci/iommu_group" ]; do pci=${pci%/*}; done
	expect_eq other.vda.domain DMA "$(cat "$pci/iommu_group/type" 2>/dev/null)"
	disk_read_sha /dev/vda other.vda.read_sha256
else
	fail other.vda.present "no /dev/vda after the rescan"
fi
no_kernel_splat log

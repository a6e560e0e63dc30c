# SPDX-License-Identifier: GPL-2.0
#
# Moves the virtio-blk disk between domain types at run time: unbound from
# its driver, its group's type is written in sysfs (which re-attaches the
# device), then it is bound again and read through the new domain:
# DMA -> identity -> DMA-FQ -> DMA. Exercises detach/attach between paging
# and identity domains and between two paging domains. Then the device is
# removed (released through the blocked domain) and found again by a rescan.
# The disk to move (`switch_disk=`, default vda).
disk=$(arg switch_disk || echo vda)
summary=$(smmu_summary)
if [ -n "$summary" ]; then pass probe "$summary"; else fail probe "no probe summary"; fi
wait_for /dev/$disk 20 || fail switch.disk "no /dev/$disk"
pci=$(readlink -f /sys/block/$disk/device)
while [ -n "$pci" ] && [ ! -e "$pci/iommu_group" ]; do pci=${pci%/*}; done
drv=$(readlink -f "$pci/driver")
expect_eq switch.start DMA "$(cat "$pci/iommu_group/type" 2>/dev/null)"
n=0
for t in identity DMA-FQ DMA; do
	n=$((n + 1))
	group_type_set "switch$n" "$pci" "$drv" "$t"
	rebind_read "switch$n.$t" "$pci" "$drv" "$disk"
done
bdf=${pci##*/}
echo 1 >"$pci/remove"
expect_eq switch.removed "" "$(ls /sys/bus/pci/devices | grep -x "$bdf")"
echo 1 >/sys/bus/pci/rescan
if wait_for /dev/$disk 20; then
	pci=$(readlink -f /sys/block/$disk/device)
	while [ -n "$pci" ] && [ ! -e "$pci/iommu_group" ]; do pci=${pci%/*}; done
	expect_eq switch.rescan.type DMA "$(cat "$pci/iommu_group/type")"
	disk_read_sha /dev/$disk switch.rescan.read_sha256
else
	fail switch.rescan "no /dev/$disk after the rescan"
fi
no_kernel_splat log

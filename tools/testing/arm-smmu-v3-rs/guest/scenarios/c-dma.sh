# SPDX-License-Identifier: GPL-2.0
#
# C driver bound: virtio-blk DMA through the SMMU's DMA domains.
summary=$(smmu_summary)
case "$summary" in
arm-smmu-v3\ *) pass c.probe "$summary" ;;
*) fail c.probe "no C driver summary line" ;;
esac
echo "SMMUTEST SUMMARY $summary"
if wait_for /dev/vda 20; then
	pass c.vda.present /dev/vda
else
	fail c.vda.present "no /dev/vda"
fi
grp=$(readlink /sys/block/vda/device/../iommu_group 2>/dev/null)
type=$(cat /sys/block/vda/device/../iommu_group/type 2>/dev/null)
case "$type" in
DMA | DMA-FQ) pass c.vda.domain "${grp##*/} $type" ;;
*) fail c.vda.domain "group '${grp##*/}' type '$type'" ;;
esac
disk_read_sha /dev/vda c.vda.read_sha256
disk_write_readback /dev/vda c.vda.write_readback
no_kernel_splat c.log

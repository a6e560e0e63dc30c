# SPDX-License-Identifier: GPL-2.0
#
# Malformed firmware (a DT variant): whatever the driver decides, the
# kernel boots on, the disk reads its bytes (translated, or untranslated
# after the deferred-probe timeout) and the log has no splat. The outcome
# (probed or not, the disk's domain, the SMMU's interrupts, the driver's
# errors) is printed for the host to compare with the C driver's.
# `noread=1`: the firmware leaves the disk's DMA aborted for any driver
# (no StreamID for it): its blocks are not read, it would hang.
summary=$(smmu_summary)
probe=no
[ -n "$summary" ] && probe=yes
if wait_for /dev/vda 40; then pass vda.present /dev/vda; else fail vda.present "no /dev/vda"; fi
pci=$(readlink -f /sys/block/vda/device)
while [ -n "$pci" ] && [ ! -e "$pci/iommu_group" ] && [ "$pci" != /sys/devices ]; do pci=${pci%/*}; done
type=$(cat "$pci/iommu_group/type" 2>/dev/null || echo none)
irqs=$(grep -cE 'arm-smmu-v3' /proc/interrupts)
echo "SMMUTEST OUTCOME probe=$probe vda=$type"
echo "SMMUTEST IRQS $irqs"
dmesg | grep -E 'arm[-_]smmu[-_]v3[-_a-z]* ' | grep -viE ' oas |SMMU enabled|option mask' |
	sed 's/^\[[^]]*\] /SMMUTEST SAID /' | head -8
if [ "$(arg noread)" = 1 ]; then
	ev=$(dmesg | grep -cE 'arm[-_]smmu[-_]v3.*(C_BAD_STREAMID|event 0x02)')
	if [ "$ev" -gt 0 ]; then pass vda.aborted "$ev C_BAD_STREAMID events"; else fail vda.aborted "no C_BAD_STREAMID event"; fi
else
	disk_read_sha /dev/vda vda.read_sha256
fi
no_kernel_splat log

# SPDX-License-Identifier: GPL-2.0
#
# A device tree the SMMU driver must refuse, as the C driver does, with a
# clear message and no splat (`badfw=` says which):
#   cells  `#iommu-cells = <2>`: the SMMU is not probed; the disk comes up
#          untranslated after the deferred-probe timeout
#   alias  RID 0 and RID 0x18 (the edu device) share StreamID 0x18: the
#          edu device is refused, the disk is translated
case "$(arg badfw)" in
cells)
	msg=$(dmesg | grep -m1 'arm[-_]smmu[-_]v3.*: invalid #iommu-cells value (2)')
	if [ -n "$msg" ]; then pass badfw.error "${msg#*] }"; else fail badfw.error "no #iommu-cells error"; fi
	expect_eq badfw.no_probe "" "$(smmu_summary)"
	want_type=none
	;;
alias)
	msg=$(dmesg | grep -m1 'Aliasing StreamID 0x18 (from 0000:00:00.0) unsupported')
	if [ -n "$msg" ]; then pass badfw.error "${msg#*] }"; else fail badfw.error "no aliasing warning"; fi
	summary=$(smmu_summary)
	if [ -n "$summary" ]; then pass probe "$summary"; else fail probe "no probe summary"; fi
	edu=$(grep -l 0x11e8 /sys/bus/pci/devices/*/device | head -1)
	edu=${edu%/device}
	expect_eq badfw.edu_ungrouped no "$([ -e "$edu/iommu_group" ] && echo yes || echo no)"
	want_type=DMA
	;;
*)
	fail badfw "badfw= must be cells or alias"
	;;
esac
if wait_for /dev/vda 40; then pass vda.present /dev/vda; else fail vda.present "no /dev/vda"; fi
pci=$(readlink -f /sys/block/vda/device)
while [ -n "$pci" ] && [ ! -e "$pci/iommu_group" ] && [ "$pci" != /sys/devices ]; do pci=${pci%/*}; done
expect_eq vda.domain "$want_type" "$(cat "$pci/iommu_group/type" 2>/dev/null || echo none)"
disk_read_sha /dev/vda vda.read_sha256
no_kernel_splat log

# SPDX-License-Identifier: GPL-2.0
#
# Whichever driver is bound (the kernel command line picks it): every disk
# behind the SMMU is in an identity domain, reads the host's bytes and
# writes back through DMA; the IOMMU groups are printed for the host to
# compare between drivers.
summary=$(smmu_summary)
if [ -n "$summary" ]; then pass probe "$summary"; else fail probe "no probe summary"; fi
for d in $(arg disks | tr , ' '); do
	dev=/dev/$d
	if ! wait_for "$dev" 20; then
		fail "$d.present" "no $dev"
		continue
	fi
	pass "$d.present" "$dev"
	pci=$(readlink -f "/sys/block/$d/device")
	while [ -n "$pci" ] && [ ! -e "$pci/iommu_group" ]; do pci=${pci%/*}; done
	type=$(cat "$pci/iommu_group/type" 2>/dev/null)
	expect_eq "$d.domain" "$(arg domain || true)" "$type"
	disk_read_sha "$dev" "$d.read_sha256"
	disk_write_readback "$dev" "$d.write_readback"
done
# One line: "group:device ..." sorted, for the host to compare.
groups=$(for g in /sys/kernel/iommu_groups/*; do
	for dev in "$g"/devices/*; do echo "${g##*/}:${dev##*/}"; done
done | sort | tr '\n' ' ')
echo "SMMUTEST GROUPS $groups"
n=$(ls /sys/bus/pci/devices | wc -l)
expect_eq groups.all_pci "$n" "$(echo $groups | wc -w)"
# smmu_irqs=requested|none: the Rust driver's interrupt lines as expected.
case "$(arg smmu_irqs)" in
requested)
	irqs=$(grep -oE 'arm-smmu-v3-rs-(evtq|gerror)' /proc/interrupts | sort | paste -sd' ')
	expect_eq irqs "arm-smmu-v3-rs-evtq arm-smmu-v3-rs-gerror" "$irqs"
	;;
none)
	warns=$(dmesg | grep -c 'events and global errors will not be reported')
	expect_eq irqs.warned_once 1 "$warns"
	expect_eq irqs.none "" "$(grep -oE 'arm-smmu-v3-rs-[a-z]+' /proc/interrupts)"
	;;
esac
no_kernel_splat log

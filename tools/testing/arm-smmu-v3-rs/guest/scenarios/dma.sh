# SPDX-License-Identifier: GPL-2.0
#
# Whichever driver is bound (the kernel command line picks it): every disk
# behind the SMMU reads the host's bytes and writes back through DMA, in
# the domain type `domain=` names (identity, DMA or DMA-FQ); with
# `parallel=1` all disks at once. The IOMMU groups and their types are
# printed for the host to compare between drivers.
summary=$(smmu_summary)
if [ -n "$summary" ]; then pass probe "$summary"; else fail probe "no probe summary"; fi
# Ours says which device it enabled; read from dmesg, since on the serial
# console a user-space write can split the line.
if [ "$(arg driver)" = rs ]; then
	enabled=$(dmesg | sed -n 's/^\[[^]]*\] \(arm_smmu_v3_rs .*: SMMU enabled\):.*/\1/p' | head -1)
	if [ -n "$enabled" ]; then pass enabled "$enabled"; else fail enabled "no SMMU enabled line"; fi
fi
check_bound_driver
want_type=$(arg domain || echo identity)

# check_disk NAME: the checks of one disk.
check_disk() {
	dev=/dev/$1
	if ! wait_for "$dev" 20; then
		fail "$1.present" "no $dev"
		return
	fi
	pass "$1.present" "$dev"
	pci=$(readlink -f "/sys/block/$1/device")
	# NVMe multipath (a distribution kernel's NVME_MULTIPATH): the disk
	# hangs off its subsystem; take its first controller.
	case "$pci" in */nvme-subsys*)
		for c in "$pci"/nvme[0-9]*; do pci=$(readlink -f "$c"); break; done ;;
	esac
	while [ -n "$pci" ] && [ ! -e "$pci/iommu_group" ]; do pci=${pci%/*}; done
	expect_eq "$1.domain" "$want_type" "$(cat "$pci/iommu_group/type" 2>/dev/null)"
	disk_read_sha "$dev" "$1.read_sha256"
	disk_write_readback "$dev" "$1.write_readback"
}

disks=$(arg disks | tr , ' ')
# count_cmos=1: count the page-table cache maintenance of the I/O below.
smmu_dev=$(ls /sys/bus/platform/devices | grep -m1 smmu)
[ "$(arg count_cmos)" = 1 ] && cmo_trace_start "$smmu_dev"
if [ "$(arg parallel)" = 1 ]; then
	for d in $disks; do check_disk "$d" >"/tmp/check.$d" 2>&1 & done
	wait
	for d in $disks; do cat "/tmp/check.$d"; done
	what="$(echo $disks | wc -w) disks at once on $(grep -c ^processor /proc/cpuinfo) CPUs"
	# Each disk's four checks ran and passed.
	if [ "$(cat /tmp/check.* | grep -c '^SMMUTEST RESULT PASS ')" -eq $(($(echo $disks | wc -w) * 4)) ]; then
		pass parallel "$what"
	else
		fail parallel "$what: $(cat /tmp/check.* | grep -v '^SMMUTEST RESULT PASS ' | head -1)"
	fi
else
	for d in $disks; do check_disk "$d"; done
fi
if [ "$(arg count_cmos)" = 1 ]; then
	n=$(cmo_trace_count)
	echo "SMMUTEST PGTABLE_CMOS $n"
	if [ "$n" -gt 0 ]; then pass pgtable_cmos "$n DMA API syncs of page tables"
	else fail pgtable_cmos "no page-table cache maintenance traced"; fi
fi
# One line: "group:device:type ..." sorted, for the host to compare.
groups=$(for g in /sys/kernel/iommu_groups/*; do
	for dev in "$g"/devices/*; do echo "${g##*/}:${dev##*/}:$(cat "$g/type")"; done
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

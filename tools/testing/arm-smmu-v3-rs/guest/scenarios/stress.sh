# SPDX-License-Identifier: GPL-2.0
#
# Command-queue stress: every disk read in a loop on every CPU while the
# edu device's group switches DMA -> identity -> DMA-FQ in a loop (each
# switch an attach with its STE/CD updates and TLB flushes), for
# `stress_secs` seconds, with the command queue made small by the
# test-only parameter arm_smmu_v3_rs.cmdq_shift_max. Every read must
# return the disk's bytes; no wait may time out.
secs=$(arg stress_secs || echo 20)
edu=$(grep -l 0x11e8 /sys/bus/pci/devices/*/device | head -1)
edu=${edu%/device}
rm -f /tmp/stop
(
	n=0
	while [ ! -e /tmp/stop ]; do
		for t in identity DMA-FQ DMA; do
			echo $t >"$edu/iommu_group/type" 2>/dev/null && n=$((n + 1))
		done
	done
	echo $n >/tmp/switches
) &
cpus=$(grep -c ^processor /proc/cpuinfo)
for d in $(arg disks | tr , ' '); do
	wait_for "/dev/$d" 20 || fail "stress.$d" "no /dev/$d"
	want=$(disk_sha "/dev/$d")
	c=0
	while [ $c -lt "$cpus" ]; do
		c=$((c + 1))
		(
			good=0 bad=0
			while [ ! -e /tmp/stop ]; do
				got=$(dd if="/dev/$d" bs=1M iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
				if [ "$got" = "$want" ]; then good=$((good + 1)); else bad=$((bad + 1)); fi
			done
			echo "$good $bad" >"/tmp/reads.$d.$c"
		) &
	done
done
sleep "$secs"
touch /tmp/stop
wait
switches=$(cat /tmp/switches)
good=$(cat /tmp/reads.* | awk '{ g += $1 } END { print g + 0 }')
bad=$(cat /tmp/reads.* | awk '{ b += $2 } END { print b + 0 }')
what="$good whole-disk reads correct, $bad wrong, $switches domain switches in ${secs}s on $cpus CPUs"
if [ "$bad" -eq 0 ] && [ "$good" -gt 0 ] && [ "${switches:-0}" -gt 0 ]; then pass stress "$what"; else fail stress "$what"; fi
expect_eq stress.no_timeouts 0 "$(dmesg | grep -ciE 'arm[-_]smmu[-_]v3.*(timeout|timed out)')"
no_kernel_splat log

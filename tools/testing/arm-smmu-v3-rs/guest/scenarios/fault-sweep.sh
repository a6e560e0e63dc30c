# SPDX-License-Identifier: GPL-2.0
#
# Systematic fault injection over the attach path (debug kernel): the disk
# is unbound from its driver and its group's type switched DMA <-> identity
# through sysfs, with the N-th allocation of that write failing (fail-nth),
# for N = 1, 2, ... until a write needs no more allocations than N. After
# a failed write the group keeps its type; after a successful one it has
# the new one. Then the disk is bound again and must read correctly.
# The disk to move (`switch_disk=`, default vda).
disk=$(arg switch_disk || echo vda)
dbg=/sys/kernel/debug
for f in failslab fail_page_alloc; do
	echo N >$dbg/$f/ignore-gfp-wait
	echo 0 >$dbg/$f/verbose
done
echo 0 >$dbg/fail_page_alloc/min-order
wait_for /dev/$disk 20 || fail sweep.disk "no /dev/$disk"
pci=$(readlink -f /sys/block/$disk/device)
while [ -n "$pci" ] && [ ! -e "$pci/iommu_group" ]; do pci=${pci%/*}; done
drv=$(readlink -f "$pci/driver")
echo "${pci##*/}" >"$drv/unbind"
g=$pci/iommu_group
cur=$(cat "$g/type") i=0 refused=0 absorbed=0 bad=0 done=
while [ $i -lt 400 ]; do
	i=$((i + 1))
	if [ "$cur" = DMA ]; then want=identity; else want=DMA; fi
	# Only the write to the type file runs with the fault armed.
	set -- $(/extra/fail_nth_write $i "$g/type" $want)
	now=$(cat "$g/type")
	if [ "$2" = not-injected ]; then
		# The write needed fewer than $i: every point was failed once.
		done=1
		[ "$1" = ok ] && [ "$now" = "$want" ] || bad=$((bad + 1))
		break
	fi
	if [ "$1" != ok ]; then
		refused=$((refused + 1))
		[ "$now" = "$cur" ] || { bad=$((bad + 1)); echo "SMMUTEST SWEEP $i $1 but type $now"; }
	else
		absorbed=$((absorbed + 1))
		[ "$now" = "$want" ] || { bad=$((bad + 1)); echo "SMMUTEST SWEEP $i ok but type $now"; }
		cur=$want
	fi
	echo "SMMUTEST SWEEP $i $1"
done
what="$((i - 1)) allocation points: $refused writes refused, $absorbed absorbed (fallbacks), $bad inconsistent"
if [ -n "$done" ] && [ $bad -eq 0 ] && [ $refused -gt 0 ]; then pass sweep "$what"; else fail sweep "$what${done:- (not finished)}"; fi
[ "$(cat "$g/type")" = DMA ] || echo DMA >"$g/type"
echo "${pci##*/}" >"$drv/bind"
if wait_for /dev/$disk 20; then
	expect_eq sweep.disk.domain DMA "$(cat "$g/type")"
	disk_read_sha /dev/$disk sweep.disk.read_sha256
else
	fail sweep.disk.present "no /dev/$disk after rebinding"
fi
no_kernel_splat log

# SPDX-License-Identifier: GPL-2.0
#
# Crash into a kdump kernel: stage 1 loads the same kernel as the crash
# kernel (KEXEC_FILE_ON_CRASH, memory from crashkernel=) and panics
# through sysrq; stage 2, the crash kernel, probes the SMMU (which the
# crashed kernel left enabled) and reads a disk. The host checks from
# QEMU's trace that the crash kernel enabled the SMMU without the event
# and PRI queues.
stage=$(arg kdump_stage || echo 1)
summary=$(smmu_summary)
if [ -n "$summary" ]; then pass "stage$stage.probe" "$summary"; else fail "stage$stage.probe" "no probe summary"; fi
d=$(arg disks | cut -d, -f1)
if wait_for "/dev/$d" 20; then
	disk_read_sha "/dev/$d" "stage$stage.$d.read_sha256"
else
	fail "stage$stage.$d.present" "no /dev/$d"
fi
if [ "$stage" = 1 ]; then
	no_kernel_splat stage1.log
	cmdline=$(sed 's/crashkernel=[^ ]*//' /proc/cmdline)
	if /extra/kexec_file -p /extra/Image /extra/initramfs.cpio.gz "$cmdline kdump_stage=2"; then
		pass kdump.loaded "crash kernel loaded"
		echo "SMMUTEST CRASH"
		echo c >/proc/sysrq-trigger
	fi
	fail kdump "no crash kernel ran"
else
	expect_eq stage2.is_kdump yes "$([ -e /proc/vmcore ] && echo yes)"
	# A crash runs no shutdown hook: the SMMU was still enabled.
	msg=$(dmesg | grep -m1 'SMMU currently enabled! Resetting')
	if [ -n "$msg" ]; then pass stage2.found_enabled "${msg#*] }"; else fail stage2.found_enabled "no reset of an enabled SMMU"; fi
	# The crashed kernel's panic is not this kernel's.
	no_kernel_splat stage2.log
fi

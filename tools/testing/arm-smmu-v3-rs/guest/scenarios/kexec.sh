# SPDX-License-Identifier: GPL-2.0
#
# Kexec into the same kernel (the guest's /extra/Image, with the same
# initramfs): stage 1 checks the disks and kexecs with kexec_stage=2
# added; stage 2 probes the SMMU again and checks the disks. The host
# checks from QEMU's trace that the SMMU was disabled (CR0 = 0) at the
# first kernel's shutdown.
stage=$(arg kexec_stage || echo 1)
summary=$(smmu_summary)
if [ -n "$summary" ]; then pass "stage$stage.probe" "$summary"; else fail "stage$stage.probe" "no probe summary"; fi
for d in $(arg disks | tr , ' '); do
	if wait_for "/dev/$d" 20; then
		disk_read_sha "/dev/$d" "stage$stage.$d.read_sha256"
	else
		fail "stage$stage.$d.present" "no /dev/$d"
	fi
done
if [ "$stage" = 2 ]; then
	# Disabled at the first kernel's shutdown: this probe found it off.
	expect_eq stage2.found_disabled "" "$(dmesg | grep -m1 'SMMU currently enabled')"
fi
no_kernel_splat "stage$stage.log"
if [ "$stage" = 1 ]; then
	echo "SMMUTEST KEXEC"
	/extra/kexec_file /extra/Image /extra/initramfs.cpio.gz "$(cat /proc/cmdline) kexec_stage=2"
	fail kexec "kexec_file returned: the kexec did not happen"
fi

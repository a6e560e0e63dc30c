# SPDX-License-Identifier: GPL-2.0
#
# Live update: QEMU's edu device keeps DMAing through its IOMMU mapping
# across a kexec into the same kernel (both with kho=on).
#
# Stage 1: /extra/smmu_lu_edu.ko attaches edu to a paging domain, maps IOVA
# X to a page holding a pattern and Y to a second page, checks a copy, and
# preserves both pages; with our driver the guest then writes edu's name to
# the SMMU's debugfs `preserve`. The disks read their sha256, then kexec.
# Stage 2: the module restores the pages and makes edu copy X to Y without
# the DMA API: with our driver the copy works through the preserved tables,
# with C's (which disables the SMMU at shutdown) it must not. With
# lu_release=1 the module then attaches a new domain, and our driver frees
# the preserved tables. The disks, not preserved, read their sha256 again.
stage=$(arg lu_stage || echo 1)
drv=$(arg lu_driver || echo rs)
summary=$(smmu_summary)
if [ -n "$summary" ]; then pass "stage$stage.probe" "$summary"; else fail "stage$stage.probe" "no probe summary"; fi
for d in $(arg disks | tr , ' '); do
	if wait_for "/dev/$d" 20; then
		disk_read_sha "/dev/$d" "stage$stage.$d.read_sha256"
	else
		fail "stage$stage.$d.present" "no /dev/$d"
	fi
done
edu_results() { # PREFIX: the module's RESULT lines, as checks
	dmesg | sed -n 's/.*smmu_lu_edu: RESULT \([^ ]*\) \([A-Z]*\) \(.*\)/\2 \1 \3/p' >/tmp/lu
	[ -s /tmp/lu ] || fail "stage$stage.edu.results" "no results from the module"
}
if [ "$stage" = 1 ]; then
	if insmod /extra/smmu_lu_edu.ko; then pass stage1.insmod edu; else fail stage1.insmod "insmod failed"; fi
	edu_results
	while read -r verdict check detail; do result "$verdict" "stage1.$check" "$detail"; done </tmp/lu
	if [ "$drv" = rs ]; then
		f=$(ls /sys/kernel/debug/arm_smmu_v3_rs/*/preserve 2>/dev/null | head -1)
		edu=$(grep -l 0x11e8 /sys/bus/pci/devices/*/device | head -1)
		edu=$(basename "$(dirname "$edu")")
		if [ -n "$f" ] && echo "$edu" >"$f"; then
			pass stage1.preserve "$(dmesg | grep -m1 'will keep translating' | sed 's/.*] //')"
		else
			fail stage1.preserve "writing edu's name to ${f:-the preserve file} failed"
		fi
	fi
	no_kernel_splat stage1.log
	echo "SMMUTEST KEXEC"
	/extra/kexec_file /extra/Image /extra/initramfs.cpio.gz "$(cat /proc/cmdline) lu_stage=2"
	fail kexec "kexec_file returned: the kexec did not happen"
fi

# Stage 2.
rel=$(arg lu_release || echo 0)
# With lu_expect=refused the first kernel handed over a record this one
# must refuse (arm_smmu_v3_rs.lu_test_bad_record): it warns and resets the
# SMMU as usual, so the mapping is gone like with C.
[ "$(arg lu_expect)" = refused ] && drv=refused
if insmod /extra/smmu_lu_edu.ko release="$rel"; then pass stage2.insmod edu; else fail stage2.insmod "insmod failed"; fi
edu_results
while read -r verdict check detail; do
	if [ "$drv" != rs ] && [ "$check" = b.dma_preserved ]; then
		# The negative control: C disabled the SMMU at shutdown, so the
		# preserved mapping is gone and edu's copy must not arrive.
		if [ "$verdict" = FAIL ]; then pass "stage2.$drv.mapping_gone" "$detail: data did not arrive"
		else fail "stage2.$drv.mapping_gone" "the copy worked without the preserved tables"; fi
		continue
	fi
	result "$verdict" "stage2.$check" "$detail"
done </tmp/lu
if [ "$drv" = rs ]; then
	a=$(dmesg | grep -m1 'live update: adopted' | sed 's/.*] //')
	if [ -n "$a" ]; then pass stage2.adopted "$a"; else fail stage2.adopted "no adoption"; fi
	expect_eq stage2.never_reset "" "$(dmesg | grep -m1 -E 'SMMU currently enabled|not adopting')"
	if [ "$rel" = 1 ]; then
		r=$(dmesg | sed -n 's/.*live update: released \([0-9]*\) preserved pages.*/\1/p' | head -1)
		# The host compares this with what the first kernel preserved.
		if [ -n "$r" ] && [ "$r" -gt 0 ]; then pass stage2.released "$r pages"; else fail stage2.released "no preserved pages released"; fi
	fi
fi
[ "$(arg kmemleak)" = 1 ] && kmemleak_check stage2.kmemleak
if [ "$drv" = refused ]; then
	w=$(dmesg | grep -m1 'not adopting the previous kernel' | sed 's/.*] //')
	if [ -n "$w" ]; then pass stage2.refused "$w"; else fail stage2.refused "no refusal warning"; fi
fi
no_kernel_splat stage2.log

# SPDX-License-Identifier: GPL-2.0
#
# The KUnit suites ran at boot (`kunit.enable=1`, e.g. on the debug kernel,
# under lockdep and KASAN): this driver's suites each report "ok", none
# "not ok", and the log has no splat.
for s in arm_smmu_v3_rs_hw arm_smmu_v3_rs_strtab arm_smmu_v3_rs_cdtab arm_smmu_v3_rs_cmdq \
	rust_kernel_iommu_ops rust_kernel_iommu_pages rust_kernel_iommu_pgtable rust_kernel_rcu_box; do
	line=$(dmesg | grep -E "^\[[ 0-9.]*\] (not )?ok [0-9]+ $s$" | head -1)
	case "$line" in
	*"] ok "*) pass "kunit.$s" "${line#*] }" ;;
	"") fail "kunit.$s" "the suite did not run" ;;
	*) fail "kunit.$s" "${line#*] }; $(dmesg | grep -m1 -B2 'not ok' | tr '\n' ' ')" ;;
	esac
done
no_kernel_splat log

# SPDX-License-Identifier: GPL-2.0
#
# Rust driver bound (C driver kept out): probe summary, clean decline, and the
# devices behind the SMMU come up untranslated after the deferred-probe
# timeout.
summary=$(smmu_summary)
case "$summary" in
arm_smmu_v3_rs\ *) pass rs.probe "$summary" ;;
*) fail rs.probe "no Rust driver summary line" ;;
esac
echo "SMMUTEST SUMMARY $summary"
reset=$(dmesg | sed -n 's/.*arm_smmu_v3_rs [^ ]*: \(SMMU enabled: .*\)/\1/p')
case "$reset" in
*"2 commands and 2 CMD_SYNCs completed") pass rs.reset "$reset" ;;
*) fail rs.reset "no completed reset: '$reset'" ;;
esac
if dmesg | grep -q 'arm_smmu_v3_rs .*declining the SMMU'; then
	pass rs.declined "probe returned -ENODEV"
else
	fail rs.declined "no decline message"
fi
if wait_for /dev/vda 40; then
	pass rs.vda.present "after $(cut -d' ' -f1 /proc/uptime)s"
else
	fail rs.vda.present "no /dev/vda after 40s"
fi
if [ -e /sys/block/vda/device/../iommu_group ]; then
	fail rs.vda.untranslated "vda has an IOMMU group"
else
	pass rs.vda.untranslated "no IOMMU group"
fi
disk_read_sha /dev/vda rs.vda.read_sha256
disk_write_readback /dev/vda rs.vda.write_readback
no_kernel_splat rs.log

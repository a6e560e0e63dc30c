# SPDX-License-Identifier: GPL-2.0
#
# Rust driver, SMMU `reg` too small in the DT: probe fails with a clear error,
# the kernel boots on, and the devices behind the SMMU come up untranslated
# after the deferred-probe timeout.
msg=$(dmesg | grep 'arm_smmu_v3_rs .*MMIO region too small' | head -1)
if [ -n "$msg" ]; then pass rs.badreg.error "${msg#*] }"; else fail rs.badreg.error "no error message"; fi
if [ -z "$(smmu_summary)" ]; then
	pass rs.badreg.no_probe "no summary line"
else
	fail rs.badreg.no_probe "probe went on: $(smmu_summary)"
fi
if wait_for /dev/vda 40; then pass rs.badreg.vda.present /dev/vda; else fail rs.badreg.vda.present "no /dev/vda"; fi
disk_read_sha /dev/vda rs.badreg.vda.read_sha256
no_kernel_splat rs.badreg.log

# SPDX-License-Identifier: GPL-2.0
#
# Rust driver: like the C driver, it cannot be unbound through sysfs while
# devices behind the SMMU use it (suppress_bind_attrs).
summary=$(smmu_summary)
if [ -n "$summary" ]; then pass probe "$summary"; else fail probe "no probe summary"; fi
wait_for /dev/vda 20 && pass vda.present /dev/vda || fail vda.present "no /dev/vda"
drv=/sys/bus/platform/drivers/arm_smmu_v3_rs
if [ ! -d "$drv" ]; then
	fail unbind.suppressed "no $drv: the driver is not registered"
elif [ "$(ls "$drv" | grep -c smmuv3)" -ne 1 ]; then
	fail unbind.suppressed "the driver is not bound to the SMMU: $(ls "$drv" | paste -sd' ')"
elif [ -e "$drv/unbind" ] || [ -e "$drv/bind" ]; then
	fail unbind.suppressed "$drv has bind/unbind files"
else
	pass unbind.suppressed "no bind/unbind files in $drv"
fi
expect_eq iommu.registered 1 "$(ls /sys/class/iommu | wc -l)"
disk_read_sha /dev/vda vda.read_sha256
no_kernel_splat log

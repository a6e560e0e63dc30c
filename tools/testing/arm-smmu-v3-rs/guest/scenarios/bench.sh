# SPDX-License-Identifier: GPL-2.0
#
# dma_map_benchmark on QEMU's edu device, bound to the kernel's
# dma_map_benchmark driver: map and unmap latency through the DMA domain.
# Prints "SMMUTEST BENCH map <us> unmap <us>" for the host.
summary=$(smmu_summary)
if [ -n "$summary" ]; then pass probe "$summary"; else fail probe "no probe summary"; fi
edu=$(grep -l 0x11e8 /sys/bus/pci/devices/*/device | head -1)
edu=${edu%/device}
if [ -z "$edu" ]; then
	fail bench.edu "no edu device"
else
	echo dma_map_benchmark >"$edu/driver_override"
	echo "${edu##*/}" >/sys/bus/pci/drivers_probe
	expect_eq bench.bound dma_map_benchmark "$(basename "$(readlink "$edu/driver")")"
	expect_eq bench.domain "$(arg domain || echo DMA)" "$(cat "$edu/iommu_group/type")"
	/extra/dma_map_benchmark -t "$(arg bench_threads || echo 1)" -s "$(arg bench_secs || echo 5)" \
		-g 1 >/tmp/bench 2>&1
	cat /tmp/bench
	map=$(sed -n 's/^average map latency(us):\([0-9.]*\).*/\1/p' /tmp/bench)
	unmap=$(sed -n 's/^average unmap latency(us):\([0-9.]*\).*/\1/p' /tmp/bench)
	if [ -n "$map" ] && [ -n "$unmap" ]; then
		echo "SMMUTEST BENCH map $map unmap $unmap"
		pass bench.ran "map ${map}us unmap ${unmap}us"
	else
		fail bench.ran "$(head -c 200 /tmp/bench)"
	fi
fi
no_kernel_splat log

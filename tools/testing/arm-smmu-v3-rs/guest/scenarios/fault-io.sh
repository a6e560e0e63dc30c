# SPDX-License-Identifier: GPL-2.0
#
# Allocation failures during DMA (debug kernel): O_DIRECT reads of every
# disk by tasks whose slab and page allocations fail with a probability
# (failslab, fail_page_alloc: make-it-fail), so DMA mapping and its page
# tables fail now and then. Errors may reach the reader; nothing may
# crash or leak, and with injection off every disk reads correctly.
dbg=/sys/kernel/debug
for f in failslab fail_page_alloc; do
	echo Y >$dbg/$f/task-filter
	echo N >$dbg/$f/ignore-gfp-wait
	echo 1 >$dbg/$f/probability
	echo 1 >$dbg/$f/interval
	echo -1 >$dbg/$f/times
	echo 0 >$dbg/$f/verbose
done
echo 0 >$dbg/fail_page_alloc/min-order
ok=0 errs=0
for round in 1 2 3 4 5 6 7 8; do
	for d in $(arg disks | tr , ' '); do
		wait_for "/dev/$d" 20 || continue
		if sh -c "echo 1 >/proc/self/make-it-fail; exec dd if=/dev/$d of=/dev/null bs=64k count=64 skip=$((round * 64)) iflag=direct" 2>/dev/null; then
			ok=$((ok + 1))
		else
			errs=$((errs + 1))
		fi
	done
done
for f in failslab fail_page_alloc; do echo 0 >$dbg/$f/probability; done
if [ $ok -gt 0 ] && [ $errs -gt 0 ]; then
	pass fault-io.reads "$ok 4 MiB reads completed, $errs failed with injected allocation failures"
else
	fail fault-io.reads "$ok 4 MiB reads completed, $errs failed: the injection did not bite, or always did"
fi
for d in $(arg disks | tr , ' '); do
	disk_read_sha "/dev/$d" "fault-io.$d.read_sha256"
	disk_write_readback "/dev/$d" "fault-io.$d.write_readback"
done
no_kernel_splat log

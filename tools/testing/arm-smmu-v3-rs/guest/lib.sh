# SPDX-License-Identifier: GPL-2.0
#
# Helpers for guest scenarios. Every check prints exactly one line
#   SMMUTEST RESULT <PASS|FAIL> <check> <detail>
# which the host runner counts.

# The value of `name=value` on the kernel command line.
arg() {
	for kv in $(cat /proc/cmdline); do
		case "$kv" in "$1="*) echo "${kv#*=}"; return 0 ;; esac
	done
	return 1
}

# RESULT_PREFIX names the part of a combined scenario (scenarios/multi.sh).
result() { echo "SMMUTEST RESULT $1 ${RESULT_PREFIX:-}$2 $3"; }
pass() { result PASS "$1" "$2"; }
fail() { result FAIL "$1" "$2"; }

# expect_eq CHECK EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then pass "$1" "$3"; else fail "$1" "expected '$2' got '$3'"; fi
}

# Waits up to $2 seconds for path $1 to exist.
wait_for() {
	i=0
	while [ ! -e "$1" ] && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	[ -e "$1" ]
}

# The log line of the bound SMMU driver's probe summary, if any.
smmu_summary() {
	dmesg | sed -n 's/.*\(arm[-_]smmu[-_]v3[-_a-z]* [^ ]*: oas [0-9]*-bit (features 0x[0-9a-f]*)\).*/\1/p' | head -1
}

# Drops every cached page so the next read goes to the device.
drop_caches() {
	sync
	for d in /dev/vd? /dev/nvme?n1; do [ -b "$d" ] && blockdev --flushbufs "$d"; done
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
}

# disk_read_sha DEV CHECK: the whole-disk sha256 equals the host's
# (`sha_<devname>=` on the command line).
disk_read_sha() {
	expect_eq "$2" "$(disk_sha "$1")" "$(sha256sum <"$1" | cut -d' ' -f1)"
}

# group_type_set CHECK PCIDIR DRVDIR TYPE: unbinds the device from its
# driver and writes its group's type (check CHECK.type); the device stays
# unbound.
group_type_set() {
	echo "${2##*/}" >"$3/unbind"
	if echo "$4" >"$2/iommu_group/type" 2>/tmp/err; then
		expect_eq "$1.type" "$4" "$(cat "$2/iommu_group/type")"
	else
		fail "$1.type" "writing $4: $(cat /tmp/err)"
	fi
}

# rebind_read CHECK PCIDIR DRVDIR DISK: binds the device again and reads
# DISK whole (check CHECK.read_sha256).
rebind_read() {
	echo "${2##*/}" >"$3/bind"
	if wait_for "/dev/$4" 20; then
		disk_read_sha "/dev/$4" "$1.read_sha256"
	else
		fail "$1.present" "no /dev/$4 after rebinding"
	fi
}

# disk_sha DEV: the host's sha256 of DEV's image (an NVMe disk's by the
# serial of its controller, as controllers may be named in any order).
disk_sha() {
	name=${1##*/}
	case "$name" in
	nvme*) serial=$(tr -d ' ' <"/sys/block/$name/device/serial" 2>/dev/null)
		[ -n "$serial" ] && arg "sha_$serial" && return ;;
	esac
	arg "sha_$name"
}

# disk_write_readback DEV CHECK: writes 8 MiB of random data at offset 16 MiB
# with O_DIRECT, drops caches, reads it back and compares (one pattern file
# per disk, so disks can be checked in parallel).
disk_write_readback() {
	pattern=/tmp/pattern.${1##*/}
	head -c 8388608 /dev/urandom >"$pattern"
	want=$(sha256sum <"$pattern" | cut -d' ' -f1)
	dd if="$pattern" of="$1" bs=1M seek=16 oflag=direct conv=fsync 2>/dev/null ||
		{ fail "$2" "write to $1 failed"; return; }
	drop_caches
	got=$(dd if="$1" bs=1M skip=16 count=8 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
	expect_eq "$2" "$want" "$got"
	rm -f "$pattern"
}

# The kernel log has no oops, BUG, WARNING or panic.
no_kernel_splat() {
	# Without its timestamp: a timestamp inside a guest line marks where a
	# kernel line cut it (scripts/lib-log.sh).
	bad=$(dmesg | grep -E 'Oops|BUG:|WARNING:|Kernel panic|Call trace' | head -1 |
		sed 's/^\[[^]]*\] //')
	if [ -z "$bad" ]; then pass "$1" "clean log"; else fail "$1" "$bad"; fi
}

# cmo_trace_start DEVNAME: records the DMA API cache maintenance io-pgtable
# does for DEVNAME's (a non-coherent SMMU's) page tables: dma_map_phys of new
# table pages and dma_sync_single_for_device of updated entries.
cmo_trace_start() {
	t=/sys/kernel/tracing
	mount -t tracefs tracefs $t 2>/dev/null
	echo 0 >$t/tracing_on
	echo >$t/trace
	for e in dma_map_phys dma_sync_single_for_device; do
		echo "device == \"$1\"" >$t/events/dma/$e/filter
		echo 1 >$t/events/dma/$e/enable
	done
	echo 1 >$t/tracing_on
}

# cmo_trace_count: how many such operations happened since cmo_trace_start
# (entries plus overruns, so a full buffer does not hide any).
cmo_trace_count() {
	cat /sys/kernel/tracing/per_cpu/cpu*/stats 2>/dev/null |
		awk '/^entries:/ { n += $2 } /^overrun:/ { n += $2 } END { print n + 0 }'
}

# coldplug: loads the module of every device's modalias, as udev does at
# boot, honouring the command line's modprobe.blacklist= as kmod does
# (busybox's modprobe only reads /etc/modprobe.d); logs what it loaded.
# Again while that changes anything, as udev does for the devices that
# appear: an IOMMU driver's module, once bound, lets the PCI devices that
# waited for it probe, and theirs (virtio) then appear.
coldplug() {
	local a round prev= now
	mkdir -p /etc/modprobe.d
	for m in $(arg modprobe.blacklist | tr , ' '); do
		echo "blacklist $m"
	done >/etc/modprobe.d/cmdline.conf
	for round in 1 2 3 4 5; do
		for a in $(cat /sys/bus/*/devices/*/modalias 2>/dev/null | sort -u); do
			modprobe -b "$a" 2>/dev/null
		done
		now=$(cut -d' ' -f1 /proc/modules | sort | paste -sd' ' -)
		[ "$now" = "$prev" ] && break
		prev=$now
		sleep 1
	done
	echo "SMMUTEST MODULES $(cut -d' ' -f1 /proc/modules | sort | paste -sd' ' -)"
}

# check_bound_driver: the SMMU's platform device (DT "9050000.smmuv3" or
# IORT "arm-smmu-v3.0.auto") is bound to the driver `driver=` names.
check_bound_driver() {
	case "$(arg driver)" in
	c) want=arm-smmu-v3 ;;
	rs) want=arm_smmu_v3_rs ;;
	*) return ;;
	esac
	smmu=$(ls -d /sys/bus/platform/devices/*smmu* 2>/dev/null | head -1)
	expect_eq smmu.driver "$want" "$(basename "$(readlink "$smmu/driver" 2>/dev/null)" 2>/dev/null)"
}

# kmemleak_check CHECK: with a kmemleak kernel, scans memory once (an
# object unreferenced and older than 5 s is reported by one scan) and fails
# if a leak's backtrace or symbol names this driver or the kernel crate's
# IOMMU code. Other leaks are reported as information.
kmemleak_check() {
	k=/sys/kernel/debug/kmemleak
	if [ ! -e $k ]; then
		fail "$1" "no $k: not a kmemleak kernel"
		return
	fi
	sleep 5
	echo scan >$k
	cat $k >/tmp/kmemleak
	n=$(grep -c '^unreferenced object' /tmp/kmemleak)
	ours=$(grep -cE 'arm_smmu_v3_rs|kernel5iommu|rcu_box|RcuBox' /tmp/kmemleak)
	if [ "$ours" -eq 0 ]; then
		pass "$1" "$n leaks reported, none from this driver or rust/"
	else
		fail "$1" "$(grep -m1 -E 'arm_smmu_v3_rs|kernel5iommu|rcu_box|RcuBox' /tmp/kmemleak)"
	fi
	[ "$n" -gt 0 ] && sed 's/^/SMMUTEST KMEMLEAK /' /tmp/kmemleak | head -40
}

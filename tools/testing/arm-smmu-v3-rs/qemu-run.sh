#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boots the test Image in QEMU (virt, SMMUv3, 2 CPUs by default) with a busybox
# initramfs that runs one guest scenario, and reports its checks.
#
# usage: qemu-run.sh [options] SCENARIO
#   --driver c|rs|none   which SMMUv3 driver binds (default c):
#                        c: arm_smmu_v3_rs.disable=1; rs: initcall_blacklist=
#                        arm_smmu_driver_init; none: both kept out. With
#                        --modules, as an administrator does it:
#                        modprobe.blacklist= of the other driver's module
#   --kernel FILE        the kernel Image (default build/Image)
#   --uefi               boot through UEFI firmware (QEMU_EFI.fd): ACPI
#   --modules DIR        a modules_install tree to put in the initramfs; the
#                        guest loads the modules its devices need, as udev
#   --mem SIZE           guest RAM (default 1G)
#   --root-port          put virtio disks behind PCIe root ports
#   --ats                with --root-port: the virtio disks have an ATS
#                        capability and their DMA goes through the SMMU
#                        (virtio-blk-pci,ats=on,iommu_platform=on; without
#                        iommu_platform QEMU's virtio DMA bypasses it)
#   --kexec              put the kernel Image and a copy of the initramfs in
#                        the guest's /extra, for scenarios that kexec
#   --crash-ok           the scenario panics on purpose after printing
#                        "SMMUTEST CRASH": what the log shows from there to
#                        the next kernel's boot is not a splat
#   --machine TYPE       QEMU machine type (default virt; QEMU 10's virt forces
#                        stage=nested, so -global arm-smmuv3.stage=... needs
#                        an older type such as virt-9.0)
#   --name NAME          prefix of the check names (default: SCENARIO)
#   --qemu ARG           extra QEMU argument (repeatable)
#   --append ARG         extra kernel argument (repeatable)
#   --dtb FILE           boot with this device tree instead of QEMU's
#   --disk NAME=MiB      a random raw disk: virtio-blk (vd*) or nvme (nvme*)
#                        (default: one 64 MiB virtio-blk disk)
#   --smp N              CPUs (default 2)
#   --file FILE          copy FILE into the guest's /extra (repeatable)
#   --trace EVENT        record QEMU trace EVENT (repeatable, e.g.
#                        smmuv3_cmdq_opcode) in build/qemu-NAME.trace
#   --timeout SECONDS    kill QEMU after this long (default 120); first
#                        print where each vCPU is (qemu_cpus.py: PC, IRQ
#                        mask, frame-pointer backtrace) as INFO lines
#   --log FILE           where the serial log goes
#
# Prints the guest's "SMMUTEST RESULT" lines as "PASS name detail" /
# "FAIL name detail", then one "PASS name/boot" or "FAIL name/boot" line: a
# boot passes only if the guest printed its end marker, the kernel then
# powered off cleanly ("reboot: Power down", printed after every driver's
# shutdown hook ran), and the serial log (every kernel the run booted, and
# their shutdowns) shows no splat. Exits non-zero if
# anything failed. QEMU (environment) overrides qemu-system-aarch64.
set -uo pipefail
. "$(dirname "$0")/../../../scripts/env.sh"
. "$REPO/scripts/lib-log.sh"

driver=c name= timeout=120 dtb= log= machine=virt smp=2 kernel=$BUILD/Image
uefi= modules= mem=1G root_port= ats= kexec= crash_ok=
qemu_extra=() append_extra=() disks=() traces=() files=()
while [ $# -gt 0 ]; do
	case "$1" in
	--driver) driver=$2; shift 2 ;;
	--name) name=$2; shift 2 ;;
	--machine) machine=$2; shift 2 ;;
	--qemu) qemu_extra+=("$2"); shift 2 ;;
	--append) append_extra+=("$2"); shift 2 ;;
	--dtb) dtb=$2; shift 2 ;;
	--disk) disks+=("$2"); shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--file) files+=("$2"); shift 2 ;;
	--trace) traces+=("$2"); shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--kernel) kernel=$2; shift 2 ;;
	--uefi) uefi=1; shift ;;
	--modules) modules=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--root-port) root_port=1; shift ;;
	--ats) ats=,ats=on,iommu_platform=on; shift ;;
	--kexec) kexec=1; shift ;;
	--crash-ok) crash_ok=1; shift ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || die "usage: $0 [options] SCENARIO"
scenario=$1
name=${name:-$scenario}
[ ${#disks[@]} -gt 0 ] || disks=(vda=64)
[ -f "$kernel" ] || die "no $kernel: run make first"

work=$CACHE/qemu/$name
rm -rf "$work"; mkdir -p "$work"
log=${log:-$BUILD/qemu-$name.log}
# A QEMU that never starts must not be graded on an earlier run's log.
rm -f "$log"

# Initramfs: busybox, init, helpers, scenarios.
root=$work/root
mkdir -p "$root/bin" "$root/scenarios"
cp "$CACHE/busybox/bin/busybox" "$root/bin/"
guest=$REPO/tools/testing/arm-smmu-v3-rs/guest
cp "$guest/init" "$guest/lib.sh" "$root/"
cp "$guest"/scenarios/*.sh "$root/scenarios/"
mkdir -p "$root/extra"
for f in "${files[@]}"; do
	cp "$f" "$root/extra/" || die "cannot add $f to the guest"
done
if [ -n "$modules" ]; then
	[ -d "$modules/lib/modules" ] || die "no $modules/lib/modules"
	mkdir -p "$root/lib"
	cp -r "$modules/lib/modules" "$root/lib/"
fi
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.cpio.gz"
if [ -n "$kexec" ]; then
	# The next kernel boots the same initramfs (without these two).
	mv "$work/initramfs.cpio.gz" "$root/extra/initramfs.cpio.gz"
	cp "$kernel" "$root/extra/Image"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.cpio.gz"
fi

cmdline="console=ttyAMA0 panic=-1 scenario=$scenario"
case "$driver:${modules:+modules}" in
c:) cmdline+=" arm_smmu_v3_rs.disable=1" ;;
rs:) cmdline+=" initcall_blacklist=arm_smmu_driver_init" ;;
none:) cmdline+=" initcall_blacklist=arm_smmu_driver_init arm_smmu_v3_rs.disable=1" ;;
c:modules) cmdline+=" modprobe.blacklist=arm_smmu_v3_rs" ;;
rs:modules) cmdline+=" modprobe.blacklist=arm_smmu_v3" ;;
none:modules) cmdline+=" modprobe.blacklist=arm_smmu_v3,arm_smmu_v3_rs" ;;
*) die "--driver must be c, rs or none" ;;
esac
cmdline+=" driver=$driver"

qemu=("${QEMU:-qemu-system-aarch64}" -machine "$machine,iommu=smmuv3" -cpu max -smp "$smp" -m "$mem"
      -display none -serial "file:$log" -no-reboot
      -kernel "$kernel" -initrd "$work/initramfs.cpio.gz")
[ -n "$uefi" ] && qemu+=(-bios /usr/share/qemu-efi-aarch64/QEMU_EFI.fd)
[ -n "$dtb" ] && qemu+=(-dtb "$dtb")
if [ ${#traces[@]} -gt 0 ]; then
	rm -f "$BUILD/qemu-$name.trace"
	for t in "${traces[@]}"; do qemu+=(-trace "$t"); done
	qemu+=(-D "$BUILD/qemu-$name.trace")
fi
n=0 disk_list=
for d in "${disks[@]}"; do
	dname=${d%%=*} mib=${d#*=}
	img=$work/$dname.img
	head -c $((mib << 20)) /dev/urandom >"$img"
	qemu+=(-drive "if=none,id=d$n,file=$img,format=raw,cache=unsafe")
	case "$dname" in
	vd*)
		if [ -n "$root_port" ]; then
			qemu+=(-device "pcie-root-port,id=rp$n,chassis=$((n + 1)),slot=$((n + 1))"
			      -device "virtio-blk-pci,drive=d$n,bus=rp$n${ats:-}")
		else
			qemu+=(-device "virtio-blk-pci,drive=d$n")
		fi ;;
	nvme*) qemu+=(-device "nvme,drive=d$n,serial=smmu$n") ;;
	*) die "disk names start with vd or nvme" ;;
	esac
	n=$((n + 1))
	case "$dname" in nvme*) blk=${dname}n1 ;; *) blk=$dname ;; esac
	sha=$(sha256sum "$img" | cut -d' ' -f1)
	cmdline+=" sha_$blk=$sha"
	# NVMe controllers probe in any order: their names may swap, their
	# serials do not.
	case "$dname" in nvme*) cmdline+=" sha_smmu$((n - 1))=$sha" ;; esac
	disk_list+=${disk_list:+,}$blk
done
cmdline+=" disks=$disk_list"
cmdline+=" ${append_extra[*]}"

# CPU time this machine's own hypervisor took from it (/proc/stat's
# steal), reported with the verdicts: a vCPU thread preempted for seconds
# is the likeliest cause of a timing failure that the same Image does not
# repeat on an idle machine.
host_steal() { awk '/^cpu /{ print $9 }' /proc/stat; }
steal0=$(host_steal)
start=$(date +%s.%N)
# A monitor for the watchdog, unless the caller brought its own.
mon=
if [[ " ${qemu_extra[*]} " == *" -monitor "* ]]; then
	qemu+=(-monitor none)
else
	mon=$work/monitor.sock
	qemu+=(-monitor "unix:$mon,server=on,wait=off")
fi
"${qemu[@]}" "${qemu_extra[@]}" -append "$cmdline" </dev/null &
qpid=$!
# The watchdog: at the timeout, where each vCPU is (a guest whose CPUs all
# spin with interrupts off prints nothing), then QEMU is stopped.
sysmap=$(dirname "$kernel")/System.map
(
	trap 'kill $s 2>/dev/null; exit 0' TERM
	sleep "$timeout" & s=$!
	wait $s
	touch "$work/timed-out"
	[ -n "$mon" ] && timeout 60 python3 "$REPO/tools/testing/arm-smmu-v3-rs/qemu_cpus.py" \
		"$mon" "$sysmap" >"$work/cpus" 2>&1
	kill "$qpid" 2>/dev/null
	sleep 5
	kill -9 "$qpid" 2>/dev/null
) &
wd=$!
wait "$qpid"
rc=$?
kill "$wd" 2>/dev/null
wait "$wd" 2>/dev/null
[ -e "$work/timed-out" ] && rc=124
secs=$(echo "$(date +%s.%N) - $start" | bc)
stolen=$(echo "scale=1; ($(host_steal) - $steal0) / $(getconf CLK_TCK)" | bc)

failed=0
if [ ! -s "$log" ]; then
	echo "FAIL $name/boot QEMU exited $rc and wrote no serial log ($log)"
	rm -rf "$work"
	exit 1
fi
# Every check, here and in qemu-test.sh, reads whole guest lines: put
# back together those a kernel line cut (lib-log.sh), in the log too.
deinterleave <"$log" >"$work/serial"
cp "$work/serial" "$log"
while read -r _ _ verdict check detail; do
	echo "$verdict $name/$check $detail"
	[ "$verdict" = PASS ] || failed=1
done < <(grep '^SMMUTEST RESULT ' "$work/serial")
# What the kernel printed after the guest's end marker: its shutdown.
after=$(sed -n "/^SMMUTEST END $scenario/,\$p" "$work/serial" | tail -n +2)
# Splats anywhere, but for a deliberate crash up to the next kernel's boot.
if [ -n "$crash_ok" ]; then
	scan=$(sed '/^SMMUTEST CRASH/,/Booting Linux on physical CPU/d' "$work/serial")
else
	scan=$(cat "$work/serial")
fi
splat=$(grep -m1 -E 'Oops|BUG:|WARNING:|Kernel panic|Call trace|Internal error' <<<"$scan")
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "FAIL $name/boot timed out after ${timeout}s (log: $log)"; failed=1
	[ -s "$work/cpus" ] && sed "s|^|INFO $name/vcpu |" "$work/cpus"
elif ! grep -q "^SMMUTEST END $scenario" "$work/serial"; then
	echo "FAIL $name/boot no end marker: crash or panic? (log: $log)"; failed=1
	grep -m3 -E 'Kernel panic|Oops|BUG:' "$work/serial" | sed 's/^/    /'
elif ! grep -q '^SMMUTEST RESULT ' "$work/serial"; then
	echo "FAIL $name/boot the scenario reported no check (log: $log)"; failed=1
elif [ -n "$splat" ]; then
	echo "FAIL $name/boot splat: $splat (log: $log)"; failed=1
elif ! grep -q 'reboot: Power down' <<<"$after"; then
	echo "FAIL $name/boot no clean power-off after the end marker (QEMU exit $rc; log: $log)"; failed=1
else
	printf 'PASS %s/boot %.1fs\n' "$name" "$secs"
fi
if [ "$(echo "$stolen >= 1" | bc)" = 1 ]; then
	echo "INFO $name/host-steal ${stolen}s of this machine's CPU time taken by its hypervisor during the run"
fi
rm -rf "$work"
exit $failed

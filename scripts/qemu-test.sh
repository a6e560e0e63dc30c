#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The QEMU integration runs, one line each. Prints PASS/FAIL lines and, last,
# "qemu: N passed, M failed". Needs `make` first.
set -uo pipefail
. "$(dirname "$0")/env.sh"
. "$REPO/scripts/lib-log.sh"
. "$REPO/scripts/lib-test.sh"
RUN=$REPO/tools/testing/arm-smmu-v3-rs/qemu-run.sh
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# QEMU_ONLY (an extended regex) limits the runs to the names it matches
# whole; checks that compare runs happen only when all of them ran.
selected() {
	local n
	for n in "$@"; do
		[ -z "${QEMU_ONLY:-}" ] || [[ $n =~ ^(${QEMU_ONLY})$ ]] || return 1
	done
}

# once ARGS...: one boot; its lines, plus a FAIL if qemu-run.sh exited
# non-zero or died without its boot verdict.
once() {
	local name= a prev= res rc
	for a in "$@"; do [ "$prev" = --name ] && name=$a; prev=$a; done
	res=$("$RUN" "$@" 2>&1)
	rc=$?
	printf '%s\n' "$res" | grep -E '^(PASS|FAIL|INFO) '
	if ! grep -qE "^(PASS|FAIL) $name/boot" <<<"$res"; then
		echo "FAIL $name/run qemu-run.sh exited $rc without a verdict: $(tail -1 <<<"$res")"
	elif [ $rc -ne 0 ] && ! grep -q '^FAIL ' <<<"$res"; then
		echo "FAIL $name/run qemu-run.sh exited $rc but reported no failure"
	fi
}

# run ARGS...: one boot, its lines into the results. A run of the C driver
# (the reference, not under test) that fails is tried once more, and the
# first failure is reported as INFO: QEMU's TCG has rare hangs (an NVMe
# admin command timing out in probe, once in about a hundred boots) that
# say nothing about the driver under test. Rust runs are never retried.
run() {
	local name= a prev= first job
	for a in "$@"; do [ "$prev" = --name ] && name=$a; prev=$a; done
	selected "$name" || return 0
	# Under make test, the other kernels and the distribution module
	# build in the background (lib-test.sh): wait for what this run uses.
	for job in server debug distro; do
		[[ " $* " == *" $BUILD/$job/"* ]] || continue
		if ! bg_ready "$job"; then
			echo "FAIL $name/run needs the $job build, which failed (log: $BG_JOBS/$job.log)" | tee -a "$out"
			return
		fi
	done
	if [ "$2" = c ]; then
		first=$(once "$@")
		if ! grep -q '^FAIL' <<<"$first"; then
			echo "$first" | tee -a "$out"
			return
		fi
		echo "INFO retry: C reference run failed once: $(grep -m1 '^FAIL' <<<"$first")"
	fi
	once "$@" | tee -a "$out"
}

# The bound driver and the features part of a run's probe summary:
# "arm_smmu_v3_rs: oas 44-bit (features 0x...)".
summary() {
	tr -d '\r' 2>/dev/null <"$BUILD/qemu-$1.log" |
		sed -n 's/.*\(arm[-_]smmu[-_]v3[-_a-z]*\) [^ ]*: \(oas [0-9]*-bit (features 0x[0-9a-f]*)\).*/\1: \2/p' | head -1
}

# same FN CHECK RUN_C RUN_RS: FN (groups, ...) gives the same non-empty
# answer for the C and the Rust run.
same() {
	selected "$3" "$4" || return 0
	c=$("$1" "$3") rs=$("$1" "$4")
	if [ -n "$rs" ] && [ "$c" = "$rs" ]; then
		echo "PASS $2 C and Rust: $rs" | tee -a "$out"
	else
		echo "FAIL $2 C '$c' vs Rust '$rs'" | tee -a "$out"
	fi
}
# same_summary CHECK RUN_C RUN_RS: the C driver bound in RUN_C, ours in
# RUN_RS, and both decoded the SMMU alike.
same_summary() {
	selected "$2" "$3" || return 0
	local c rs
	c=$(summary "$2") rs=$(summary "$3")
	if [[ $c == "arm-smmu-v3: "* ]] && [[ $rs == "arm_smmu_v3_rs: "* ]] &&
		[ "${c#*: }" = "${rs#*: }" ]; then
		echo "PASS $1 C ($c) and Rust ($rs)" | tee -a "$out"
	else
		echo "FAIL $1 want C 'arm-smmu-v3: X' and Rust 'arm_smmu_v3_rs: X', got C '$c' Rust '$rs'" |
			tee -a "$out"
	fi
}

# QEMU 10's `virt` forces stage=nested (both stages); older machine types
# honour -global arm-smmuv3.stage.
S1=(--machine virt-9.0 --qemu -global --qemu arm-smmuv3.stage=1)
S2=(--machine virt-9.0 --qemu -global --qemu arm-smmuv3.stage=2)

# opcodes NAME: the commands the SMMU saw in run NAME, one per line.
opcodes() {
	sed -n 's/.*smmuv3_cmdq_opcode <--- SMMU_CMD_//p' "$BUILD/qemu-$1.trace" 2>/dev/null
}

DISKS=(--disk vda=64 --disk nvme0=64)
EDU=(--qemu -device --qemu edu)

# groups NAME: the "group:device:type" line a dma run printed.
groups() { tr -d '\r' 2>/dev/null <"$BUILD/qemu-$1.log" | sed -n 's/^SMMUTEST GROUPS //p'; }
# same_groups CHECK RUN_C RUN_RS: both drivers made the same groups and types.
same_groups() { same groups "$@"; }
# counts NAME: "OPCODE=N ..." of the commands the SMMU saw in run NAME.
counts() { opcodes "$1" | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}'; }
# expect CHECK COND DETAIL [RUN...]: PASS if the shell condition holds;
# skipped unless every RUN ran.
expect() {
	selected "${@:4}" || return 0
	if eval "$2"; then echo "PASS $1 $3" | tee -a "$out"; else echo "FAIL $1 $3" | tee -a "$out"; fi
}

# 1. DMA domains, strict invalidation (the default), both drivers.
run --driver c --name c-dma --trace smmuv3_cmdq_opcode "${DISKS[@]}" --append domain=DMA dma
run --driver rs --name rs-dma --trace smmuv3_cmdq_opcode "${DISKS[@]}" \
	--append domain=DMA --append smmu_irqs=requested dma
same_summary summary-match/nested c-dma rs-dma
same_groups groups-match/dma c-dma rs-dma
for r in c-dma rs-dma; do selected $r && echo "INFO commands $r: $(counts "$r")"; done
# The Rust driver's reset issues what the C driver's does, seen from QEMU.
want="CFGI_STE_RANGE SYNC TLBI_NSNH_ALL SYNC"
c_reset=$(opcodes c-dma | head -4 | paste -sd' ') rs_reset=$(opcodes rs-dma | head -4 | paste -sd' ')
expect reset-commands '[ "$c_reset" = "$want" ] && [ "$rs_reset" = "$want" ]' \
	"C '$c_reset' Rust '$rs_reset' (want '$want')" c-dma rs-dma
# Same invalidations as C: every TLBI and CMD_SYNC (C also prefetches STEs).
c_inv=$(opcodes c-dma | grep -vx PREFETCH_CONFIG | sort | uniq -c | paste -sd' ')
rs_inv=$(opcodes rs-dma | sort | uniq -c | paste -sd' ')
expect commands-match/dma '[ -n "$rs_inv" ] && [ "$c_inv" = "$rs_inv" ]' "C '$c_inv' Rust '$rs_inv'" \
	c-dma rs-dma

# 2. Lazy invalidation (flush queue).
run --driver c --name c-dma-lazy "${DISKS[@]}" --append domain=DMA-FQ --append iommu.strict=0 dma
run --driver rs --name rs-dma-lazy "${DISKS[@]}" --append domain=DMA-FQ --append iommu.strict=0 dma
same_groups groups-match/lazy c-dma-lazy rs-dma-lazy

# 3. Stage 2: an SMMU with stage 2 only, and disable_s1 on the default one.
run --driver c --name c-dma-s2 "${S2[@]}" "${DISKS[@]}" --append domain=DMA dma
run --driver rs --name rs-dma-s2 "${S2[@]}" "${DISKS[@]}" --append domain=DMA dma
same_summary summary-match/stage2 c-dma-s2 rs-dma-s2
same_groups groups-match/stage2 c-dma-s2 rs-dma-s2
run --driver rs --name rs-dma-nos1 --trace smmuv3_cmdq_opcode "${DISKS[@]}" \
	--append domain=DMA --append arm_smmu_v3_rs.disable_s1=1 dma
nos1=$(counts rs-dma-nos1)
expect disable_s1-is-stage2 'echo "$nos1" | grep -q TLBI_S2_IPA= && ! echo "$nos1" | grep -qE "CFGI_CD|TLBI_NH_VA"' \
	"$nos1" rs-dma-nos1
# The debugfs decoder: a stage-1 and a stage-2 (disable_s1) DMA domain,
# identity, and a released device.
run --driver rs --name rs-debugfs "${DISKS[@]}" debugfs
run --driver rs --name rs-debugfs-s2 "${DISKS[@]}" --append arm_smmu_v3_rs.disable_s1=1 \
	--append stage=2 debugfs
run --driver c --name c-summary-s1 "${S1[@]}" summary
run --driver rs --name rs-dma-s1 "${S1[@]}" "${DISKS[@]}" --append domain=DMA dma
same_summary summary-match/stage1 c-summary-s1 rs-dma-s1

# 4. Firmware variants of QEMU's device tree.
dtbs=$CACHE/dtb
mkdir -p "$dtbs"
for v in noncoherent small-reg no-irqs; do
	"$REPO/tools/testing/arm-smmu-v3-rs/make-dtb.sh" "$v" "$dtbs/$v.dtb" ||
		echo "FAIL dtb/$v cannot make the device tree" | tee -a "$out"
done
"$REPO/tools/testing/arm-smmu-v3-rs/make-dtb.sh" noncoherent "$dtbs/noncoherent-s2.dtb" virt-9.0 ||
	echo "FAIL dtb/noncoherent-s2 cannot make the device tree" | tee -a "$out"
# A non-coherent SMMU: STEs, CDs and page tables reach it through CMOs.
for d in c rs; do
	run --driver "$d" --name "$d-dma-noncoherent" --dtb "$dtbs/noncoherent.dtb" "${DISKS[@]}" \
		--append domain=DMA --append count_cmos=1 dma
done
same_summary summary-match/noncoherent c-dma-noncoherent rs-dma-noncoherent
same_groups groups-match/noncoherent c-dma-noncoherent rs-dma-noncoherent
# Every STE and CD update step after the stream table's setup was cleaned
# before its CFGI: at least one STE step per PCI device (each left abort
# for its DMA domain) and one CD step (stage 1), all of them cleaned.
read -r ste ste_cl cd cd_cl < <(tr -d '\r' 2>/dev/null <"$BUILD/qemu-rs-dma-noncoherent.log" |
	sed -n 's/.*non-coherent SMMU: .*STE updates \([0-9]*\) (\([0-9]*\) cleaned), CD updates \([0-9]*\) (\([0-9]*\) cleaned).*/\1 \2 \3 \4/p')
ndev=$(groups rs-dma-noncoherent | wc -w)
expect noncoherent-cmos '[ "${ste:-0}" -ge "$ndev" ] && [ "$ndev" -gt 0 ] && [ "${cd:-0}" -gt 0 ] &&
	[ "$ste" = "$ste_cl" ] && [ "$cd" = "$cd_cl" ]' \
	"STE steps ${ste:-?} (${ste_cl:-?} cleaned) for $ndev devices, CD steps ${cd:-?} (${cd_cl:-?} cleaned)" \
	rs-dma-noncoherent
for d in c rs; do
	selected $d-dma-noncoherent &&
		echo "INFO page-table CMOs $d: $(tr -d '\r' <"$BUILD/qemu-$d-dma-noncoherent.log" | sed -n 's/^SMMUTEST PGTABLE_CMOS //p')"
done
run --driver rs --name rs-badreg --dtb "$dtbs/small-reg.dtb" rs-badreg
# The IOMMU cannot be unbound by hand under its devices (as C).
run --driver rs --name rs-unbind rs-unbind
# No interrupts in the DT: the driver works and says once what is lost.
run --driver rs --name rs-noirqs --dtb "$dtbs/no-irqs.dtb" "${DISKS[@]}" \
	--append domain=DMA --append smmu_irqs=none dma

# 5. A DMA to an unmapped IOVA is reported as a translation fault; DMA
# keeps working.
for d in c rs; do
	run --driver "$d" --name "$d-edu-fault" "${EDU[@]}" --file "$BUILD/smmu_edu_fault.ko" \
		--append expect_iova=1 edu-fault
done

# 6. Groups and types with 2 and 4 CPUs and parallel I/O on every disk;
# identity domains with iommu.passthrough=1.
for n in 2 4; do
	for d in c rs; do
		run --driver "$d" --name "$d-par$n" --smp "$n" "${EDU[@]}" "${DISKS[@]}" \
			--append domain=DMA --append parallel=1 dma
	done
	same_groups "groups-match/smp$n" "c-par$n" "rs-par$n"
done
# Command-queue stress on the test kernel, fast enough to make many
# thousands of insertions: 4 CPUs reading both NVMe disks (whose
# completion interrupts unmap, and so invalidate) while the edu device's
# group switches domains, into an 8-entry queue. When a CMD_SYNC's waiter
# had interrupts on, a completion interrupt on its CPU that found the
# queue full waited for the waiter's shared lock for ever: this run hung
# within seconds, all 4 vCPUs spinning in Cmdq::insert under nvme_irq.
run --driver rs --name rs-stress --smp 4 "${EDU[@]}" --disk nvme0=32 --disk nvme1=32 \
	--append arm_smmu_v3_rs.cmdq_shift_max=3 --append stress_secs=20 --append parts=stress multi
for d in c rs; do
	run --driver "$d" --name "$d-identity" "${DISKS[@]}" --append domain=identity \
		--append iommu.passthrough=1 dma
done
same_groups groups-match/identity c-identity rs-identity

# Moving a device between domain types at run time, both drivers.
for d in c rs; do
	run --driver "$d" --name "$d-switch" --trace smmuv3_cmdq_opcode --disk vda=64 switch
	run --driver "$d" --name "$d-switch-s2" "${S2[@]}" --trace smmuv3_cmdq_opcode --disk vda=64 switch
done
# The configuration commands of those moves equal C's: same STE and CD
# updates, same tag flushes, and as many CMD_SYNCs in all.
cfg() { opcodes "$1" | grep -E '^(CFGI|TLBI_NH_ASID|TLBI_S12|SYNC)' | sort | uniq -c | paste -sd' '; }
c_cfg=$(cfg c-switch) rs_cfg=$(cfg rs-switch)
expect commands-match/switch '[ -n "$rs_cfg" ] && [ "$c_cfg" = "$rs_cfg" ]' "C '$c_cfg' Rust '$rs_cfg'" \
	c-switch rs-switch
c_cfg=$(cfg c-switch-s2) rs_cfg=$(cfg rs-switch-s2)
expect commands-match/switch-s2 '[ -n "$rs_cfg" ] && [ "$c_cfg" = "$rs_cfg" ]' "C '$c_cfg' Rust '$rs_cfg'" \
	c-switch-s2 rs-switch-s2

# 7. dma_map_benchmark runs on both drivers (the timing is `make bench`).
for d in c rs; do
	run --driver "$d" --name "$d-bench" "${EDU[@]}" --file "$BUILD/dma_map_benchmark" \
		--append bench_secs=1 bench
done

# 8. Memory above 4 GiB (6G of RAM; the DT test kernel): the stream table
# (and the queues) land above 4 GiB, translated DMA works, coherent or not.
"$REPO/tools/testing/arm-smmu-v3-rs/make-dtb.sh" noncoherent "$dtbs/noncoherent-6g.dtb" virt 6G ||
	echo "FAIL dtb/noncoherent-6g cannot make the device tree" | tee -a "$out"
# reg64 NAME OFF: the 64-bit values written to SMMU register OFF.
reg64() {
	sed -n "s/.*smmuv3_write_mmio addr: $2 val:\(0x[0-9a-f]*\) size: 0x8.*/\1/p" "$BUILD/qemu-$1.trace" 2>/dev/null
}
for d in c rs; do
	for v in "" -noncoherent; do
		dtb=()
		[ -n "$v" ] && dtb=(--dtb "$dtbs/noncoherent-6g.dtb")
		run --driver "$d" --name "$d-highmem$v" --mem 6G "${dtb[@]}" --trace smmuv3_write_mmio \
			"${DISKS[@]}" --append domain=DMA dma
		strtab=$(reg64 "$d-highmem$v" 0x80 | tail -1)
		expect "highmem/$d$v-strtab-above-4g" '[ -n "$strtab" ] && [ $(( (strtab & 0xffffffffffc0) >> 32 )) -gt 0 ]' \
			"STRTAB_BASE ${strtab:-none}, CMDQ_BASE $(reg64 "$d-highmem$v" 0x90 | tail -1)" "$d-highmem$v"
	done
done

# 9. Shutdown, kexec and kdump (the DT test kernel into itself).
# cr0 NAME: the values written to CR0, in order.
cr0() { sed -n 's/.*smmuv3_write_mmio addr: 0x20 val:\(0x[0-9a-f]*\) .*/\1/p' "$BUILD/qemu-$1.trace" 2>/dev/null | paste -sd' '; }
# last_enable CR0S: the last value written with SMMUEN set.
last_enable() {
	local v l=
	for v in $1; do [ $((v & 1)) -eq 1 ] && l=$v; done
	echo "$l"
}
for d in c rs; do
	# lu-plain: KHO on, nothing preserved: the SMMU is disabled as usual.
	run --driver "$d" --name "$d-kexec" --kexec --file "$BUILD/kexec_file" --trace smmuv3_write_mmio \
		"${DISKS[@]}" --append domain=DMA --append kho=on --timeout 180 kexec
	# Whether the first kernel's shutdown disabled the SMMU is checked by
	# the second kernel: its probe did not find it enabled.
	selected "$d-kexec" && echo "INFO kexec $d CR0 writes: $(cr0 "$d-kexec")"
	run --driver "$d" --name "$d-kdump" --kexec --crash-ok --file "$BUILD/kexec_file" \
		--trace smmuv3_write_mmio --disk vda=64 --append crashkernel=256M --timeout 180 kdump
	# The crash kernel's SMMUEN write has EVTQEN (bit 2) and PRIQEN (bit 1) clear.
	w=$(cr0 "$d-kdump")
	last=$(last_enable "$w")
	expect "kdump/$d-queues-off" '[ -n "$last" ] && [ $((last & 6)) -eq 0 ]' \
		"crash kernel's enable: CR0 ${last:-none} (all writes: $w)" "$d-kdump"
done

# 9b. Live update (KHO, kho=on in both kernels): edu keeps DMAing through
# its mapping across a kexec into the same kernel (guest scenario lu.sh),
# at stage 1 and stage 2, then gets a new domain (the preserved tables are
# freed); C is the negative control. The disk is not preserved.
LU=(--kexec --file "$BUILD/kexec_file" --file "$BUILD/smmu_lu_edu.ko" --trace smmuv3_write_mmio
	"${EDU[@]}" --disk vda=64 --append kho=on --append disks=vda --timeout 180)
run --driver rs --name rs-lu-edu "${LU[@]}" --append lu_driver=rs --append lu_release=1 lu
run --driver rs --name rs-lu-edu-s2 "${S2[@]}" "${LU[@]}" --append lu_driver=rs --append lu_release=1 lu
run --driver c --name c-lu-edu "${LU[@]}" --append lu_driver=c lu
# A record the second kernel must refuse (of an unknown version): a
# warning, the normal reset, the mapping gone, the disk translated.
run --driver rs --name rs-lu-refused "${LU[@]}" --append lu_driver=rs \
	--append arm_smmu_v3_rs.lu_test_bad_record=1 --append lu_expect=refused lu
# mmio NAME OFF: the values written to register OFF, in order.
mmio() { sed -n "s/.*smmuv3_write_mmio addr: $2 val:\(0x[0-9a-f]*\) .*/\1/p" "$BUILD/qemu-$1.trace" 2>/dev/null | paste -sd' '; }
# after_enable CR0S: the writes after the first with SMMUEN set.
after_enable() {
	local v on=
	for v in $1; do
		[ -n "$on" ] && echo "$v"
		[ $((v & 1)) -eq 1 ] && on=1
	done | paste -sd' '
}
# ts RUN PATTERN: the kernel timestamp of the first log line matching.
ts() { grep -m1 "$2" "$BUILD/qemu-$1.log" | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p'; }
# lu_checks RUN: what the trace and the log of a live-update run show.
lu_checks() {
	local r=$1 w live off st gb ev ab kept rel want t1 t2 t3
	selected "$r" || return 0
	# Up to the new kernel's own power-off (the last write, CR0 = 0).
	w=$(cr0 "$r")
	live=$(after_enable "${w% *}")
	off=$(for v in $live; do [ $((v & 1)) -eq 0 ] && echo "$v"; done | paste -sd' ')
	expect "lu/$r.smmuen_never_cleared" '[ -n "$live" ] && [ -z "$off" ]' "CR0 writes: $w" "$r"
	st=$(mmio "$r" 0x80)
	expect "lu/$r.strtab_base_once" '[ "$(wc -w <<<"$st")" -eq 1 ]' "STRTAB_BASE writes: $st" "$r"
	gb=$(for v in $(mmio "$r" 0x44); do [ $((v & 0x100000)) -ne 0 ] && echo "$v"; done | paste -sd' ')
	expect "lu/$r.gbpa_never_abort" '[ -z "$gb" ]' "GBPA writes: $(mmio "$r" 0x44)" "$r"
	ev=$(grep -m1 -E 'event 0x[0-9a-f]+ ' "$BUILD/qemu-$r.log")
	expect "lu/$r.no_fault" '[ -z "$ev" ]' "${ev:-no SMMU event in either kernel}" "$r"
	# The disk's StreamID was set to abort across the kexec.
	ab=$(sed -n 's/.*live update: .* \([0-9]*\) StreamIDs set to abort.*/\1/p' "$BUILD/qemu-$r.log" | head -1)
	expect "lu/$r.others_abort" '[ -n "$ab" ] && [ "$ab" -ge 1 ]' "${ab:-no} StreamIDs set to abort" "$r"
	# lu-release: the new kernel frees every preserved page but the
	# stream table's, which it keeps using.
	kept=$(sed -n 's/.*live update: .* \([0-9]*\) pages preserved, \([0-9]*\) of the stream table.*/\1 \2/p' "$BUILD/qemu-$r.log" | head -1)
	rel=$(sed -n 's/.*live update: released \([0-9]*\) preserved pages.*/\1/p' "$BUILD/qemu-$r.log" | head -1)
	want=$([ -n "$kept" ] && echo $(( ${kept% *} - ${kept#* } )))
	expect "lu/$r.released_all" '[ -n "$rel" ] && [ "$rel" = "$want" ]' \
		"released ${rel:-none} of ${kept% *} preserved pages (${kept#* } are the stream table's)" "$r"
	# From reboot(KEXEC) to the first translated DMA in the new kernel:
	# the old kernel's shutdown (its clock) plus the new one's boot (its
	# clock restarts at zero).
	t1=$(ts "$r" 'kexec_file: reboot'); t2=$(ts "$r" 'Starting new kernel'); t3=$(ts "$r" 'first DMA after kexec')
	[ -n "$t1" ] && [ -n "$t2" ] && [ -n "$t3" ] &&
		echo "INFO lu $r: reboot(KEXEC) to first translated DMA $(awk "BEGIN { print $t2 - $t1 + $t3 }") s (shutdown $(awk "BEGIN { print $t2 - $t1 }") s, new kernel $t3 s)"
}
lu_checks rs-lu-edu
lu_checks rs-lu-edu-s2
if selected c-lu-edu; then
	w=$(cr0 c-lu-edu)
	echo "INFO lu c-lu-edu: CR0 writes $w; STRTAB_BASE writes $(mmio c-lu-edu 0x80)"
fi

# 10. Firmware the drivers refuse, as C does.
for v in iommu-cells-2 sid-alias; do
	"$REPO/tools/testing/arm-smmu-v3-rs/make-dtb.sh" "$v" "$dtbs/$v.dtb" ||
		echo "FAIL dtb/$v cannot make the device tree" | tee -a "$out"
done
for d in c rs; do
	run --driver "$d" --name "$d-badfw-cells" --dtb "$dtbs/iommu-cells-2.dtb" --disk vda=64 \
		--append badfw=cells bad-firmware
	run --driver "$d" --name "$d-badfw-alias" --dtb "$dtbs/sid-alias.dtb" --disk vda=64 "${EDU[@]}" \
		--append badfw=alias bad-firmware
done

# Further malformed device trees, each measured with the C driver first:
# whatever each driver decides, the disk reads its bytes and the log is
# clean; the outcome (probed, the disk's domain, the SMMU's interrupts)
# must be C's. (Two more variants are fatal to either driver and are not
# run: see the README.)
fwout() {
	tr -d '\r' 2>/dev/null <"$BUILD/qemu-$1.log" | sed -n 's/^SMMUTEST \(OUTCOME\|IRQS\) //p' | paste -sd' '
}
for v in irq-names-wrong irq-names-partial irq-bad-spec sid-beyond pcie-coherent-only dup-smmu; do
	"$REPO/tools/testing/arm-smmu-v3-rs/make-dtb.sh" "$v" "$dtbs/$v.dtb" ||
		echo "FAIL dtb/$v cannot make the device tree" | tee -a "$out"
	for d in c rs; do
		run --driver "$d" --name "$d-fw-$v" --dtb "$dtbs/$v.dtb" --disk vda=64 --timeout 150 firmware
	done
	same fwout "firmware-match/$v" "c-fw-$v" "rs-fw-$v"
done

# 11. PCIe ATS. QEMU's SMMU has no ATS (IDR0.ATS=0, ATC invalidations are
# unhandled no-ops) and its PCIe host does not say it forwards ATS: the runs
# use a device tree with `ats-supported`, a virtio disk with an ATS
# capability behind a root port, and the test-only ats_test_force. They
# show the PCI side (ATS Enable in config space) and the commands; the ATC
# itself is only simulated in KUnit. No NIC: the disk is the only device
# whose unmaps invalidate.
"$REPO/tools/testing/arm-smmu-v3-rs/make-dtb.sh" ats-supported "$dtbs/ats-supported.dtb" ||
	echo "FAIL dtb/ats-supported cannot make the device tree" | tee -a "$out"
ATS=(--root-port --ats --qemu -nic --qemu none --disk vda=64
	--append arm_smmu_v3_rs.ats_test_force=1 --trace smmuv3_cmdq_opcode)
run --driver rs --name rs-ats-pci --dtb "$dtbs/ats-supported.dtb" "${ATS[@]}" ats
# The same on a stage-2-only SMMU (the device tree of its machine type).
"$REPO/tools/testing/arm-smmu-v3-rs/make-dtb.sh" ats-supported "$dtbs/ats-supported-s2.dtb" virt-9.0 ||
	echo "FAIL dtb/ats-supported-s2 cannot make the device tree" | tee -a "$out"
run --driver rs --name rs-ats-s2 --dtb "$dtbs/ats-supported-s2.dtb" "${S2[@]}" "${ATS[@]}" ats
# The disk is 01:00.0 behind the root port: StreamID 0x100. From its 101st
# ATC invalidation on it "times out": an unmap's invalidation finds it.
run --driver rs --name rs-ats-broken --dtb "$dtbs/ats-supported.dtb" "${ATS[@]}" \
	--append arm_smmu_v3_rs.ats_test_timeout_sid=0x100 \
	--append arm_smmu_v3_rs.ats_test_timeout_after=100 \
	--append ats_expect=broken ats
# batches NAME: "TLBI ATC PAIRED TAIL" -- CMD_SYNC-ended batches of only
# TLBI_NH_VA (or, at stage 2, TLBI_S2_IPA), of only ATC_INV, ATC batches
# right after a TLBI batch, and TLBI batches after the last ATC batch.
batches() {
	opcodes "$1" | awk '
		$0 == "SYNC" { k = (n && n == t) ? "T" : (n && n == a) ? "A" : "";
			if (k == "T") { tl++; tail++ }
			if (k == "A") { at++; tail = 0; if (last == "T") pr++ }
			last = k; n = t = a = 0; next }
		{ n++ } /^TLBI_(NH_VA|S2_IPA)$/ { t++ } /^ATC_INV$/ { a++ }
		END { printf "%d %d %d %d", tl, at, pr, tail }'
}
for r in rs-ats-pci rs-ats-s2 rs-ats-broken; do selected $r && echo "INFO commands $r: $(counts "$r")"; done
for r in rs-ats-pci rs-ats-s2; do
	read -r tl at pr tail <<<"$(batches $r)"
	expect ats/unmap-invalidates-atc/$r '[ "${tl:-0}" -gt 0 ] && [ "$pr" = "$tl" ]' \
		"each of the $tl TLBI batches is followed by an ATC_INV batch and its CMD_SYNC ($pr)" $r
done
# The commands of every attach and detach of a run, the invalidations of
# unmaps and flush-queue flushes taken out: reset; the host bridge's and
# the root port's DMA domains (stage 1: CD 0, then the STE, each in the
# writer's two synced steps; stage 2: the STE); the disk's, with ATS
# turned on (the same, then the whole-ATC invalidation before
# pci_enable_ats(), as C's arm_smmu_enable_ats()); to identity with ATS
# turned off (pci_disable_ats() first, the STE, CD 0 cleared, the whole
# ATC invalidated as C's commit does, the tag's last user gone); back to
# DMA; DMA-FQ (no attach: the same domain gets a flush queue); DMA again,
# a new domain with ATS on both sides (the new tag in CD 0 or the STE,
# three writer steps, the ATC, the old tag flushed); removed (to blocked);
# found again by a rescan.
# Flushes of other CPUs interleave with each other ("TLBI_NH_ASID SYNC
# TLBI_NH_ASID SYNC ATC_INV SYNC ATC_INV SYNC"): each TLBI batch is taken
# out with the ATC_INV batch that follows it, innermost first, until none
# is left, then the TLBI batches of devices without ATS.
# (One global pass takes the many adjacent pairs, then the loop the few
# that interleaving left.)
attach_cmds() {
	local pair='(TLBI_NH_ASID SYNC|TLBI_S12_VMALL SYNC|(TLBI_(NH_VA|S2_IPA) )+SYNC) ATC_INV SYNC ?'
	opcodes "$1" | paste -sd' ' |
		sed -E "s/$pair//g; :a; s/$pair//; ta; s/(TLBI_(NH_VA|S2_IPA) )+SYNC ?//g; s/ \$//"
}
RESET="CFGI_STE_RANGE SYNC TLBI_NSNH_ALL SYNC"
# attach_check RUN ON OFF REATTACH: the run's commands are RESET, two
# devices without ATS, then ON OFF ON REATTACH OFF ON.
attach_check() {
	local plain=${2% ATC_INV SYNC} got want detail
	want="$RESET $plain $plain $2 $3 $2 $4 $3 $2"
	got=$(attach_cmds "$1")
	detail="every attach as expected; CMD_SYNCs: ATS on $(grep -o SYNC <<<"$2" | wc -l), off $(grep -o SYNC <<<"$3" | wc -l), re-attach $(grep -o SYNC <<<"$4" | wc -l)"
	[ "$got" = "$want" ] || detail="got '$got' want '$want'"
	expect "ats/attach-commands/$1" '[ "$got" = "$want" ]' "$detail" "$1"
}
CD2="CFGI_CD SYNC CFGI_CD SYNC" STE2="CFGI_STE SYNC CFGI_STE SYNC"
attach_check rs-ats-pci "$CD2 $STE2 ATC_INV SYNC" "$STE2 $CD2 ATC_INV SYNC TLBI_NH_ASID SYNC" \
	"$CD2 CFGI_CD SYNC ATC_INV SYNC TLBI_NH_ASID SYNC"
attach_check rs-ats-s2 "$STE2 ATC_INV SYNC" "$STE2 ATC_INV SYNC TLBI_S12_VMALL SYNC" \
	"$STE2 CFGI_STE SYNC ATC_INV SYNC TLBI_S12_VMALL SYNC"
# Once the device is found broken, unmaps send it no ATC invalidation: the
# ATC batches are the ones issued until the work item marked it broken.
read -r tl at pr tail <<<"$(batches rs-ats-broken)"
expect ats/broken-stops-atc '[ "${at:-0}" -gt 100 ] && [ "${tail:-0}" -ge 100 ]' \
	"$at ATC_INV batches (100 answered, then timed out until marked broken), then none in the last $tail of $tl TLBI batches" \
	rs-ats-broken

# 12. The debug kernel (lockdep, KASAN, kmemleak, DMA-API debugging, fault
# injection): every driver path under the kernel's checkers, both drivers,
# a kmemleak scan at the end of each boot. 7.3.4 has a lockdep cycle of its
# own between cpu_hotplug_lock, the IOMMU group mutex and the MSI domain
# mutexes, reached by virtio-pci devices behind an IOMMU with either driver
# (lockdep then turns itself off): these boots have NVMe disks and no NIC.
# RCU's stall warning waits 60 s, not 21: KASAN under TCG is some fifty
# times slower than hardware, and a vCPU thread this machine's hypervisor
# preempts for seconds (CI has seen 6.5 s) leaves a kmemleak scan, say,
# looking stalled. A CPU stuck for good is still reported.
DBG=(--kernel "$BUILD/debug/Image" --mem 512M --timeout 600 --qemu -nic --qemu none --append kmemleak=1
	--append rcupdate.rcu_cpu_stall_timeout=60)
# 32 MiB disks: KASAN and DMA-API debugging make every I/O costly.
DBG_DISKS=(--disk nvme0=32 --disk nvme1=32)
for d in c rs; do
	# DMA domains with parallel I/O on 4 CPUs, a fault, and moves through
	# identity and DMA-FQ domains.
	run --driver "$d" --name "$d-debug-dma" "${DBG[@]}" --smp 4 "${EDU[@]}" \
		--file "$BUILD/debug/smmu_edu_fault.ko" "${DBG_DISKS[@]}" --append domain=DMA \
		--append parallel=1 --append expect_iova=1 --append switch_disk=nvme0n1 \
		--append parts=switch,edu-fault,dma multi
done
# Ours only (the C reference above already showed no finding of C's own,
# and these boots are the slowest): a stage-2-only SMMU that does not snoop
# caches, one disk (every page-table update is a checked DMA API sync);
# the KUnit suites under the checkers, then fault injection over the
# attach path and during DMA; command-queue stress with 8 entries.
# Live update on the debug kernel: adoption and release under lockdep and
# KASAN, and kmemleak once the preserved tables are freed.
# KASAN's shadow is allocated early, from KHO's scratch: sized here.
run --driver rs --name rs-debug-lu "${DBG[@]}" --mem 1G --append kho_scratch=384M,0,64M --kexec --file "$BUILD/kexec_file" \
	--file "$BUILD/debug/smmu_lu_edu.ko" "${EDU[@]}" --disk nvme0=32 --append kho=on \
	--append disks=nvme0n1 --append lu_driver=rs --append lu_release=1 --append kmemleak=1 \
	--trace smmuv3_write_mmio lu
lu_checks rs-debug-lu
run --driver rs --name rs-debug-s2-noncoherent "${DBG[@]}" "${S2[@]}" \
	--dtb "$dtbs/noncoherent-s2.dtb" --disk nvme0=32 --append domain=DMA --append parts=dma multi
run --driver rs --name rs-debug-faults "${DBG[@]}" --file "$BUILD/fail_nth_write" "${DBG_DISKS[@]}" \
	--append kunit.enable=1 --append switch_disk=nvme0n1 --append parts=kunit,fault-sweep,fault-io multi
run --driver rs --name rs-debug-stress "${DBG[@]}" --smp 4 "${EDU[@]}" "${DBG_DISKS[@]}" \
	--append arm_smmu_v3_rs.cmdq_shift_max=3 --append stress_secs=15 --append parts=stress multi

# 13. Arm64 servers: UEFI + ACPI (the IORT-created "arm-smmu-v3" device),
# the 64K-page server kernel, both drivers as modules picked with
# modprobe.blacklist=, a virtio disk behind a PCIe root port.
SRV=(--kernel "$BUILD/server/Image" --uefi --modules "$BUILD/server/modules" --root-port)
for d in c rs; do
	run --driver "$d" --name "$d-acpi-dma" "${SRV[@]}" --trace smmuv3_cmdq_opcode \
		--trace smmuv3_range_inval "${DISKS[@]}" --append domain=DMA dma
	run --driver "$d" --name "$d-acpi-identity" "${SRV[@]}" "${DISKS[@]}" \
		--append domain=identity --append iommu.passthrough=1 dma
	run --driver "$d" --name "$d-acpi-lazy" "${SRV[@]}" "${DISKS[@]}" \
		--append domain=DMA-FQ --append iommu.strict=0 dma
done
same_summary summary-match/acpi c-acpi-dma rs-acpi-dma
for k in dma identity lazy; do same_groups "groups-match/acpi-$k" "c-acpi-$k" "rs-acpi-$k"; done
# server-64k: 64K pages, so range invalidations are in 64K units (TG=3)
# for both drivers, and the same commands as C.
tgs() {
	sed -n 's/.*smmuv3_range_inval .*tg=\([0-9]*\).*/\1/p' "$BUILD/qemu-$1.trace" 2>/dev/null |
		sort | uniq -c | awk '{printf "tg%s=%s ", $2, $1}'
}
c_tg=$(tgs c-acpi-dma) rs_tg=$(tgs rs-acpi-dma)
expect server-64k/tlbi-granule '[[ $rs_tg == tg3=* ]] && ! grep -q "tg[0-2]=" <<<"$rs_tg" && [ "$c_tg" = "$rs_tg" ]' \
	"range TLBIs by TG (3: 64K): C '$c_tg' Rust '$rs_tg'" c-acpi-dma rs-acpi-dma
c_inv=$(opcodes c-acpi-dma | grep -vx PREFETCH_CONFIG | sort | uniq -c | paste -sd' ')
rs_inv=$(opcodes rs-acpi-dma | sort | uniq -c | paste -sd' ')
expect server-64k/commands-match '[ -n "$rs_inv" ] && [ "$c_inv" = "$rs_inv" ]' "C '$c_inv' Rust '$rs_inv'" \
	c-acpi-dma rs-acpi-dma
# The edu device faults at the IOVA it unmapped: a 64K page.
for d in c rs; do
	run --driver "$d" --name "$d-server-edu-fault" "${SRV[@]}" "${EDU[@]}" \
		--file "$BUILD/server/smmu_edu_fault.ko" --append expect_iova=1 edu-fault
	iova=$(tr -d '\r' 2>/dev/null <"$BUILD/qemu-$d-server-edu-fault.log" |
		sed -n 's/.*smmu_edu_fault: DMA to unmapped iova \(0x[0-9a-f]*\).*/\1/p' | head -1)
	expect "server-64k/$d-fault-page" '[ -n "$iova" ] && [ $((iova & 0xffff)) -eq 0 ]' \
		"faulting IOVA ${iova:-none} is 64K-aligned" "$d-server-edu-fault"
done
# Module life: unload while in use, unload once idle, load the other
# driver; ours behaves as C.
for d in c rs; do
	run --driver "$d" --name "$d-module-life" "${SRV[@]}" --disk vda=64 module-life
done
modlife() { tr -d '\r' 2>/dev/null <"$BUILD/qemu-$1.log" | sed -n 's/^SMMUTEST MODLIFE //p' | paste -sd';'; }
same modlife module-life-match c-module-life rs-module-life

# 14. Debian's own arm64 kernel (scripts/distro.sh): its vmlinuz booted by
# UEFI, unmodified, with its C driver built in; ours is the out-of-tree
# module of `make distro`, loaded from the initramfs with Debian's virtio_blk
# and nvme modules. The reference is the same kernel with its C driver.
DEB=(--kernel "$DISTRO_DEB/usr/lib/modules/$DISTRO_ABI/vmlinuz" --modules "$BUILD/distro/modules"
     --timeout 240 "${DISKS[@]}")
KEEP_C=(--append initcall_blacklist=arm_smmu_driver_init)
run --driver c --name c-distro-acpi "${DEB[@]}" --uefi --append domain=DMA dma
run --driver rs --name distro-acpi "${DEB[@]}" --uefi "${KEEP_C[@]}" --append domain=DMA dma
run --driver rs --name distro-identity "${DEB[@]}" --uefi "${KEEP_C[@]}" --append iommu.passthrough=1 dma
# The device-tree path of the same kernel: booted directly, without UEFI
# (booted by UEFI with acpi=off, it printed nothing on ttyAMA0 in 240 s
# here), and acpi=off besides.
run --driver rs --name distro-dt "${DEB[@]}" "${KEEP_C[@]}" --append acpi=off --append domain=DMA dma
same_summary summary-match/distro-acpi c-distro-acpi distro-acpi
same_groups groups-match/distro-acpi c-distro-acpi distro-acpi
# bound LOG DEVICE: ours enabled the SMMU at DEVICE, in the Debian kernel.
# The log is read whole first: `tr | grep -q` under pipefail fails when grep
# stops reading early and tr gets SIGPIPE (it did, in CI).
bound() {
	local log
	log=$(tr -d '\r\000' 2>/dev/null <"$BUILD/qemu-$1.log")
	grep -qx "SMMUTEST RESULT PASS enabled arm_smmu_v3_rs $2: SMMU enabled" <<<"$log" &&
		grep -q "Linux version $DISTRO_ABI" <<<"$log"
}
expect distro-acpi/iort-device 'bound distro-acpi arm-smmu-v3.0.auto' \
	"ours bound the IORT-created arm-smmu-v3.0.auto on Debian's $DISTRO_ABI" distro-acpi
expect distro-dt/dt-device 'bound distro-dt 9050000.smmuv3' \
	"ours bound the device tree's 9050000.smmuv3 on Debian's $DISTRO_ABI" distro-dt
# The only taint is that of an out-of-tree, unsigned module.
want_taint='arm_smmu_v3_rs: loading out-of-tree module taints kernel.|arm_smmu_v3_rs: module verification failed: signature and/or required key missing - tainting kernel'
for r in distro-acpi distro-identity distro-dt; do
	selected $r && taint_check "$r/taint" "$BUILD/qemu-$r.log" "$want_taint" | tee -a "$out"
done

p=$(grep -c '^PASS ' "$out") f=$(grep -c '^FAIL ' "$out")
echo "qemu: $p passed, $f failed"
[ "$f" -eq 0 ]

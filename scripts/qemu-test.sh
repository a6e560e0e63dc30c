#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The QEMU integration runs, one line each. Prints PASS/FAIL lines and, last,
# "qemu: N passed, M failed". Needs `make` first.
set -uo pipefail
. "$(dirname "$0")/env.sh"
RUN=$REPO/tools/testing/arm-smmu-v3-rs/qemu-run.sh
out=$(mktemp)
trap 'rm -f "$out"' EXIT

run() { "$RUN" "$@" | tee -a "$out"; }

# The features part of a run's probe summary: "oas 44-bit (features 0x...)".
features() {
	tr -d '\r' <"$BUILD/qemu-$1.log" | sed -n 's/.*arm[-_]smmu[-_]v3[-_a-z]* [^ ]*: \(oas [0-9]*-bit (features 0x[0-9a-f]*)\).*/\1/p' | head -1
}

# same_summary NAME RUN_C RUN_RS: both drivers decoded the same SMMU alike.
same_summary() {
	c=$(features "$2") rs=$(features "$3")
	if [ -n "$c" ] && [ "$c" = "$rs" ]; then
		echo "PASS $1 C and Rust: $c" | tee -a "$out"
	else
		echo "FAIL $1 C '$c' vs Rust '$rs'" | tee -a "$out"
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

run --driver c --name c-dma --trace smmuv3_cmdq_opcode c-dma
# Identity domains: ours, and C's with iommu.passthrough=1 as the reference.
run --driver rs --name rs-identity --trace smmuv3_cmdq_opcode "${DISKS[@]}" \
	--append smmu_irqs=requested identity
run --driver c --name c-identity --trace smmuv3_cmdq_opcode "${DISKS[@]}" \
	--append iommu.passthrough=1 identity
same_summary summary-match/nested c-identity rs-identity
c_groups=$(sed -n 's/^SMMUTEST GROUPS //p' "$BUILD/qemu-c-identity.log" | tr -d '\r')
rs_groups=$(sed -n 's/^SMMUTEST GROUPS //p' "$BUILD/qemu-rs-identity.log" | tr -d '\r')
if [ -n "$rs_groups" ] && [ "$c_groups" = "$rs_groups" ]; then
	echo "PASS groups-match C and Rust: $rs_groups" | tee -a "$out"
else
	echo "FAIL groups-match C '$c_groups' vs Rust '$rs_groups'" | tee -a "$out"
fi
# The Rust driver's reset issues what the C driver's does, seen from QEMU.
want="CFGI_STE_RANGE SYNC TLBI_NSNH_ALL SYNC"
c_reset=$(opcodes c-identity | head -4 | paste -sd' ') rs_reset=$(opcodes rs-identity | head -4 | paste -sd' ')
if [ "$c_reset" = "$want" ] && [ "$rs_reset" = "$want" ]; then
	echo "PASS reset-commands C and Rust: $want" | tee -a "$out"
else
	echo "FAIL reset-commands C '$c_reset' vs Rust '$rs_reset' (want '$want')" | tee -a "$out"
fi
for r in c-identity rs-identity; do
	echo "INFO commands $r: $(opcodes "$r" | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}')"
done
run --driver c --name c-summary-s1 "${S1[@]}" summary
run --driver rs --name rs-summary-s1 "${S1[@]}" summary
same_summary summary-match/stage1 c-summary-s1 rs-summary-s1
run --driver c --name c-summary-s2 "${S2[@]}" summary
run --driver rs --name rs-identity-s2 "${S2[@]}" "${DISKS[@]}" identity
same_summary summary-match/stage2 c-summary-s2 rs-identity-s2

# Firmware variants of QEMU's device tree.
dtbs=$CACHE/dtb
mkdir -p "$dtbs"
for v in noncoherent small-reg no-irqs; do
	"$REPO/tools/testing/arm-smmu-v3-rs/make-dtb.sh" "$v" "$dtbs/$v.dtb" ||
		echo "FAIL dtb/$v cannot make the device tree" | tee -a "$out"
done
run --driver c --name c-noncoherent --dtb "$dtbs/noncoherent.dtb" summary
# Identity DMA on a non-coherent SMMU: STEs reach it through CMOs.
run --driver rs --name rs-noncoherent --dtb "$dtbs/noncoherent.dtb" "${DISKS[@]}" identity
same_summary summary-match/noncoherent c-noncoherent rs-noncoherent
cmos=$(tr -d '\r' <"$BUILD/qemu-rs-noncoherent.log" |
	sed -n 's/.*non-coherent SMMU: \([0-9]*\) cache maintenance.*/\1/p')
if [ "${cmos:-0}" -gt 0 ]; then
	echo "PASS noncoherent-cmos $cmos CMOs on tables" | tee -a "$out"
else
	echo "FAIL noncoherent-cmos no CMOs counted" | tee -a "$out"
fi
run --driver rs --name rs-badreg --dtb "$dtbs/small-reg.dtb" rs-badreg
# The IOMMU cannot be unbound by hand under its devices (as C).
run --driver rs --name rs-unbind rs-unbind
# No interrupts in the DT: the driver works and says once what is lost.
run --driver rs --name rs-noirqs --dtb "$dtbs/no-irqs.dtb" "${DISKS[@]}" \
	--append smmu_irqs=none identity

p=$(grep -c '^PASS ' "$out") f=$(grep -c '^FAIL ' "$out")
echo "qemu: $p passed, $f failed"
[ "$f" -eq 0 ]

# SPDX-License-Identifier: GPL-2.0
#
# QEMU's edu device DMAs through its DMA domain with the test module
# /extra/smmu_edu_fault.ko: to a mapped buffer, to the same IOVA once
# unmapped, and to a new buffer. The unmapped access must be reported by the
# bound SMMU driver as a translation fault event naming the IOVA, and the
# system (and DMA) must keep working.
summary=$(smmu_summary)
if [ -n "$summary" ]; then pass probe "$summary"; else fail probe "no probe summary"; fi
if insmod /extra/smmu_edu_fault.ko; then pass insmod edu; else fail insmod "insmod failed"; fi
dmesg | sed -n 's/.*smmu_edu_fault: RESULT \([^ ]*\) \([A-Z]*\) \(.*\)/\2 \1 \3/p' >/tmp/edu
[ -s /tmp/edu ] || fail edu.results "no results from the module"
while read -r verdict check detail; do result "$verdict" "$check" "$detail"; done </tmp/edu
iova=$(dmesg | sed -n 's/.*smmu_edu_fault: DMA to unmapped iova \(0x[0-9a-f]*\).*/\1/p' | head -1)
# Give the event thread a moment, then look for the fault.
sleep 1
ev=$(dmesg | grep -E 'arm[-_]smmu[-_]v3.*F_TRANSLATION' | head -1)
if [ -n "$ev" ]; then pass fault.reported "${ev#*] }"; else fail fault.reported "no translation fault event"; fi
# The C driver prints the event's raw qwords on separate lines; ours prints
# the decoded IOVA on the event line.
case "$(arg expect_iova)" in
1)
	if [ -z "$iova" ]; then fail fault.iova "the module did not say which IOVA it used"
	elif echo "$ev" | grep -qE "iova: $iova( |,|$)"; then pass fault.iova "$iova"
	else fail fault.iova "event does not name $iova: $ev"; fi
	;;
esac
no_kernel_splat log

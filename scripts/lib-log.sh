# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Reading a guest's serial log. Sourced by scripts/qemu-test.sh and by the
# harness self-test (scripts/test-harness.sh), never run.
#
# The kernel writes its console lines synchronously, while the guest's own
# output drains from the TTY buffer by interrupt: a kernel line can land in
# the middle of one of the guest's lines, as in
#   SMMUTEST BEGIN dma[    4.692163] arm_smmu_v3_rs: loading out-of-tree ...
# (it did, in CI). A kernel line is therefore read from its timestamp,
# wherever it starts.

# kernel_lines LOG: the kernel's console lines of LOG, without their
# timestamps, whatever guest output came before them on the same line.
kernel_lines() {
	tr -d '\r' <"$1" 2>/dev/null | sed -n -E 's/^.*\[ *[0-9]+\.[0-9]+\] //p'
}

# taint_check CHECK LOG WANT: PASS if the kernel's lines of LOG that
# mention a taint, sorted and joined by '|', are exactly WANT; else FAIL
# and a non-zero exit.
taint_check() {
	local t
	t=$(kernel_lines "$2" | grep -E 'taint' | sort -u | paste -sd'|')
	if [ "$t" = "$3" ]; then
		echo "PASS $1 taint lines: '$t'"
	else
		echo "FAIL $1 taint lines: '$t', want '$3'"
		return 1
	fi
}

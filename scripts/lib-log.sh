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

# deinterleave: the serial log on stdin with every guest "SMMUTEST" line
# that kernel lines cut in two put back together, and those kernel lines
# after it. The guest never prints a timestamp inside its own lines (it
# strips them from what it quotes of dmesg), so a "[ 1.23] " after the
# start of a SMMUTEST line is where a kernel line began; the rest of the
# guest's line is the first line after it with no timestamp, unless
# that is a SMMUTEST line of its own (then the line was whole, as
# printed). A guest line whose rest never comes (the kernel panicked) is
# given up after 50 kernel lines and printed as it is, still before them.
deinterleave() {
	tr -d '\r' | awk '
		function kernel_out(i) { for (i = 1; i <= n; i++) print held[i]; n = 0 }
		cut != "" && /^\[ *[0-9]+\.[0-9]+\] / {
			held[++n] = $0
			if (n >= 50) { print cut; cut = ""; kernel_out() }
			next
		}
		cut != "" && /^SMMUTEST/ { held[1] = cut held[1]; cut = ""; kernel_out() }
		cut != "" { $0 = cut $0; cut = "" }
		/^SMMUTEST/ && match($0, /\[ *[0-9]+\.[0-9]+\] /) {
			held[++n] = substr($0, RSTART)
			cut = substr($0, 1, RSTART - 1)
			next
		}
		{ print; kernel_out() }
		END { if (cut != "") print cut; kernel_out() }'
}

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

# SPDX-License-Identifier: GPL-2.0
#
# Rust driver: the debugfs decoder (/sys/kernel/debug/arm_smmu_v3_rs/<smmu>/).
# The virtio disk's StreamID shows the STE of its DMA domain: stage 1 with
# CD 0 and the domain's ASID, or, with `stage=2` (disable_s1), stage 2 with
# its VMID; the domain's invalidation array holds that tag. The NVMe
# controller's group turned identity shows bypass. Once the virtio disk is
# removed (released), `ste` shows its StreamID abort. The counters count
# commands and syncs, and no error.
summary=$(smmu_summary)
if [ -n "$summary" ]; then pass probe "$summary"; else fail probe "no probe summary"; fi
dir=$(ls -d /sys/kernel/debug/arm_smmu_v3_rs/*/ 2>/dev/null | head -1)
if [ -z "$dir" ] || [ ! -r "$dir/streams" ]; then
	fail debugfs.files "no /sys/kernel/debug/arm_smmu_v3_rs/*/streams"
	no_kernel_splat log
	return 0 2>/dev/null || exit 0
fi
pass debugfs.files "$(ls "$dir" | paste -sd' ')"

# pci_of DISK: the PCI device of a disk.
pci_of() {
	p=$(readlink -f "/sys/block/$1/device")
	while [ -n "$p" ] && [ ! -e "$p/iommu_group" ]; do p=${p%/*}; done
	echo "$p"
}
# block DEVNAME: the lines of `streams` about DEVNAME's StreamID.
block() { awk -v d="$1" '/^sid / { p = ($3 == d) } p' "$dir/streams"; }
# item KEY TEXT: the value of the first KEY=value in TEXT.
item() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }

wait_for /dev/vda 20 || fail vda.present "no /dev/vda"
wait_for /dev/nvme0n1 20 || fail nvme0n1.present "no /dev/nvme0n1"
vda=$(pci_of vda) nvme=$(pci_of nvme0n1)
disk_read_sha /dev/vda vda.read_sha256
b=$(block "${vda##*/}")
sid=$(echo "$b" | sed -n 's/^sid \(0x[0-9a-f]*\): .*/\1/p')
ste=$(echo "$b" | sed -n 's/^  ste: //p')
echo "SMMUTEST STREAM ${vda##*/} $sid $ste"
if [ "$(arg stage)" = 2 ]; then
	expect_eq vda.ste.config s2-trans "$(item Config "$ste")"
	vmid=$(item S2VMID "$ste")
	expect_eq vda.ste.ttb_set yes "$([ -n "$(item S2TTB "$ste")" ] && [ "$(item S2TTB "$ste")" != 0x0 ] && echo yes)"
	expect_eq vda.domain "domain: stage 2, vmid=$(printf '%#x' "$vmid")" "$(echo "$b" | sed -n 's/^  \(domain: .*\)/\1/p')"
	expect_eq vda.invs "s2-vmid=$(printf '%#x' "$vmid")" "$(echo "$b" | grep -o 's2-vmid=0x[0-9a-f]*' | head -1)"
	expect_eq vda.no_cd "" "$(echo "$b" | grep '^  cd ')"
else
	expect_eq vda.ste.config s1-trans "$(item Config "$ste")"
	expect_eq vda.ste.s1dss ssid0 "$(item S1DSS "$ste")"
	cd0=$(echo "$b" | sed -n 's/^  cd 0x0: //p')
	echo "SMMUTEST CD ${vda##*/} $cd0"
	asid=$(item ASID "$cd0")
	expect_eq vda.cd.valid 1 "$(item V "$cd0")"
	expect_eq vda.cd.asid_nonzero yes "$([ -n "$asid" ] && [ "$asid" != 0 ] && echo yes)"
	expect_eq vda.domain "domain: stage 1, asid=$(printf '%#x' "$asid")" "$(echo "$b" | sed -n 's/^  \(domain: .*\)/\1/p')"
	expect_eq vda.invs "s1-asid=$(printf '%#x' "$asid")" "$(echo "$b" | grep -o 's1-asid=0x[0-9a-f]*' | head -1)"
fi

# Identity: the NVMe controller's group, its driver unbound first.
group_type_set nvme "$nvme" "$(readlink -f "$nvme/driver")" identity
b=$(block "${nvme##*/}")
expect_eq nvme.ste.config bypass "$(item Config "$(echo "$b" | sed -n 's/^  ste: //p')")"
expect_eq nvme.no_domain "" "$(echo "$b" | grep '^  domain')"

# Released: the virtio disk's PCI device removed.
echo 1 >"$vda/remove"
expect_eq vda.released.gone "" "$(block "${vda##*/}")"
echo "$sid" >"$dir/ste"
expect_eq vda.released.ste "sid $sid: V=1 Config=abort" "$(cat "$dir/ste")"
echo 0xffffffff >"$dir/ste"
expect_eq ste.beyond "sid 0xffffffff: beyond the SMMU's StreamIDs" "$(cat "$dir/ste")"
if echo nonsense >"$dir/ste" 2>/dev/null; then fail ste.bad_input "accepted 'nonsense'"
else pass ste.bad_input "rejected 'nonsense'"; fi

c=$(cat "$dir/counters" | paste -sd' ')
echo "SMMUTEST COUNTERS $c"
n() { echo "$c" | tr ' ' '\n' | grep -A1 -x "$1:" | tail -1; }
expect_eq counters.commands yes "$([ "$(n commands)" -gt 0 ] && echo yes)"
expect_eq counters.syncs yes "$([ "$(n syncs)" -gt 0 ] && echo yes)"
expect_eq counters.errors "0 0 0" "$(n command_errors) $(n events) $(n global_errors)"
no_kernel_splat log

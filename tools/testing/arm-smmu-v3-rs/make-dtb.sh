#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Writes a variant of QEMU's virt device tree (the machine qemu-run.sh boots)
# with the SMMUv3 node edited, for firmware-input tests.
#
# usage: make-dtb.sh VARIANT OUT.dtb [MACHINE [MEM]]
#   noncoherent   the SMMU node says `dma-noncoherent` (QEMU's root node
#                 is `dma-coherent`, which the SMMU would inherit)
#   small-reg     the SMMU's `reg` covers only 64K (page 0)
#   no-irqs       the SMMU node loses `interrupts` and `interrupt-names`
#   iommu-cells-2 the SMMU node says `#iommu-cells = <2>`
#   irq-names-wrong   `interrupt-names` name none of the SMMU's interrupts
#   irq-names-partial `interrupt-names` has only "eventq" (of 4 interrupts)
#   irq-bad-spec  the SMMU's interrupt specifiers name SPIs the GIC does
#                 not have
#   sid-beyond    `iommu-map` gives StreamIDs from 0x10000, beyond QEMU's
#                 16-bit SIDSIZE
#   map-len0      `iommu-map` has one entry of length 0
#   pcie-coherent-only  `dma-coherent` on the PCIe host only (not on the
#                 root node, so not on the SMMU)
#   second-smmu   a second `arm,smmu-v3` node at 0x09070000, where QEMU has
#                 no device (QEMU faults accesses there: either driver's
#                 first register read takes a synchronous external abort)
#   dup-smmu      a second `arm,smmu-v3` node at the first one's address
#   ats-supported the PCIe host says `ats-supported` (its root complex
#                 forwards ATS; QEMU's does not say so)
#   sid-alias     the PCIe host's `iommu-map` gives RID 0 (the host
#                 bridge) StreamID 0x18, which RID 0x18 (00:03.0, after
#                 the default NIC and one disk) also gets
set -euo pipefail
. "$(dirname "$0")/../../../scripts/env.sh"
variant=$1 out=$2 machine=${3:-virt} mem=${4:-1G}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
qemu-system-aarch64 -machine "$machine,iommu=smmuv3,dumpdtb=$tmp/virt.dtb" -cpu max -smp 2 -m "$mem" \
	-display none >/dev/null 2>&1
dtc -q -I dtb -O dts "$tmp/virt.dtb" -o "$tmp/virt.dts"
python3 - "$variant" "$tmp/virt.dts" <<'PY'
import re, sys
variant, path = sys.argv[1], sys.argv[2]
s = open(path).read()
m = re.search(r'\n(\t+)smmuv3@[0-9a-f]+ \{\n(.*?)\n\1\};', s, re.S)
if not m:
    sys.exit("no smmuv3 node in QEMU's device tree")
body = m.group(2)
if variant == "noncoherent":
    new = re.sub(r'(\n\t+)dma-coherent;', r'\1dma-noncoherent;', '\n' + body)[1:]
elif variant == "small-reg":
    new = re.sub(r'(reg = <0x00 0x[0-9a-f]+ 0x00 )0x20000>', r'\g<1>0x10000>', body)
elif variant == "no-irqs":
    new = re.sub(r'\n\t+interrupt(s|-names) = [^;]*;', '', '\n' + body)[1:]
elif variant == "irq-names-wrong":
    new = re.sub(r'interrupt-names = "[^;]*;', r'interrupt-names = "foo\\0bar\\0baz\\0qux";', body)
elif variant == "irq-names-partial":
    new = re.sub(r'interrupt-names = "[^;]*;', r'interrupt-names = "eventq";', body)
elif variant == "irq-bad-spec":
    # SPIs 2000..2003: beyond the GIC's lines.
    new = re.sub(r'interrupts = <[^>]*>;',
                 'interrupts = <0x00 0x7d0 0x01 0x00 0x7d1 0x01 0x00 0x7d2 0x01 0x00 0x7d3 0x01>;', body)
elif variant == "iommu-cells-2":
    new = body.replace('#iommu-cells = <0x01>;', '#iommu-cells = <0x02>;')
elif variant in ("sid-beyond", "map-len0", "pcie-coherent-only", "second-smmu", "dup-smmu"):
    new = body
    if variant == "sid-beyond":
        s, n = re.subn(r'iommu-map = <0x00 (0x[0-9a-f]+) 0x00 0x10000>;',
                       r'iommu-map = <0x00 \1 0x10000 0x10000>;', s)
    elif variant == "map-len0":
        s, n = re.subn(r'iommu-map = <0x00 (0x[0-9a-f]+) 0x00 0x10000>;',
                       r'iommu-map = <0x00 \1 0x00 0x00>;', s)
    elif variant == "pcie-coherent-only":
        # The root's and the SMMU's go; the PCIe host keeps (or gets) its own.
        # The root node's properties are indented by one tab.
        s, n = re.subn(r'\n\tdma-coherent;\n', '\n', s, count=1)
        s = re.sub(r'(\n\t+smmuv3@[0-9a-f]+ \{\n(?:[^}]*?\n)?)\t+dma-coherent;\n', r'\1', s, count=1)
        if not re.search(r'pcie@10000000 \{[^}]*dma-coherent;', s, re.S):
            s = s.replace('pcie@10000000 {\n', 'pcie@10000000 {\n\t\tdma-coherent;\n', 1)
    else:
        # No interrupts (they would clash with the real SMMU's) and no
        # phandle; nothing refers to it.
        node = re.sub(r'\n\t+(phandle|interrupt-names|interrupts) = [^;]*;', '', '\n' + body)[1:]
        if variant == "second-smmu":
            node = node.replace('reg = <0x00 0x9050000 0x00 0x20000>;', 'reg = <0x00 0x9070000 0x00 0x20000>;')
            name = 'smmuv3@9070000'
        else:
            name = 'smmuv3-dup@9050000'
        s = s[:m.end()] + '\n\t\t' + name + ' {\n' + node + '\n\t\t};' + s[m.end():]
        n = 1
    if n != 1:
        sys.exit(f"variant {variant}: QEMU's device tree is not as expected")
    open(path, 'w').write(s)
    sys.exit(0)
elif variant == "ats-supported":
    new = body
    s, n = re.subn(r'(\n\t+pcie@10000000 \{\n)', r'\1\t\t\tats-supported;\n', s)
    if n != 1:
        sys.exit("no pcie@10000000 node in QEMU's device tree")
elif variant == "sid-alias":
    new = body
    # RID 0 -> SID 0x18, RIDs 1.. -> themselves (so RID 0x18 -> 0x18).
    s, n = re.subn(r'iommu-map = <0x00 (0x[0-9a-f]+) 0x00 0x10000>;',
                   r'iommu-map = <0x00 \1 0x18 0x01 0x01 \1 0x01 0xffff>;', s)
    if n != 1:
        sys.exit("no identity iommu-map in QEMU's device tree")
else:
    sys.exit(f"unknown variant {variant}")
if new == body and variant not in ("sid-alias", "ats-supported"):
    sys.exit(f"variant {variant} changed nothing")
open(path, 'w').write(s[:m.start(2)] + new + s[m.end(2):])
PY
dtc -q -I dts -O dtb "$tmp/virt.dts" -o "$out"

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
elif variant == "iommu-cells-2":
    new = body.replace('#iommu-cells = <0x01>;', '#iommu-cells = <0x02>;')
elif variant == "sid-alias":
    new = body
    # RID 0 -> SID 0x18, RIDs 1.. -> themselves (so RID 0x18 -> 0x18).
    s, n = re.subn(r'iommu-map = <0x00 (0x[0-9a-f]+) 0x00 0x10000>;',
                   r'iommu-map = <0x00 \1 0x18 0x01 0x01 \1 0x01 0xffff>;', s)
    if n != 1:
        sys.exit("no identity iommu-map in QEMU's device tree")
else:
    sys.exit(f"unknown variant {variant}")
if new == body and variant != "sid-alias":
    sys.exit(f"variant {variant} changed nothing")
open(path, 'w').write(s[:m.start(2)] + new + s[m.end(2):])
PY
dtc -q -I dts -O dtb "$tmp/virt.dts" -o "$out"

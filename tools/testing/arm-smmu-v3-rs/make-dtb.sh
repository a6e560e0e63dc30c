#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Writes a variant of QEMU's virt device tree (the machine qemu-run.sh boots)
# with the SMMUv3 node edited, for firmware-input tests.
#
# usage: make-dtb.sh VARIANT OUT.dtb [MACHINE]
#   noncoherent   the SMMU node says `dma-noncoherent` (QEMU's root node
#                 is `dma-coherent`, which the SMMU would inherit)
#   small-reg     the SMMU's `reg` covers only 64K (page 0)
#   no-irqs       the SMMU node loses `interrupts` and `interrupt-names`
set -euo pipefail
. "$(dirname "$0")/../../../scripts/env.sh"
variant=$1 out=$2 machine=${3:-virt}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
qemu-system-aarch64 -machine "$machine,iommu=smmuv3,dumpdtb=$tmp/virt.dtb" -cpu max -smp 2 -m 1G \
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
else:
    sys.exit(f"unknown variant {variant}")
if new == body:
    sys.exit(f"variant {variant} changed nothing")
open(path, 'w').write(s[:m.start(2)] + new + s[m.end(2):])
PY
dtc -q -I dts -O dtb "$tmp/virt.dts" -o "$out"

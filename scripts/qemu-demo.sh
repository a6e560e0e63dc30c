#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make qemu`: one boot with the chosen driver (rs or c) and a 64 MiB random
# virtio-blk disk behind the SMMU; shows the probe summary, where the disk's
# DMA went and whether its sha256 read in the guest equals the host's.
set -uo pipefail
. "$(dirname "$0")/env.sh"
driver=${1:-rs}
case "$driver" in
rs) scenario=rs-decline ;;
c) scenario=c-dma ;;
*) die "DRIVER must be rs or c" ;;
esac
log=$BUILD/qemu-demo.log
echo "qemu: booting with the $driver driver (serial log: $log)"
"$REPO/tools/testing/arm-smmu-v3-rs/qemu-run.sh" --driver "$driver" --name demo --log "$log" "$scenario"
rc=$?
echo "--- from the kernel log:"
tr -d '\r' <"$log" | grep -E 'arm[-_]smmu[-_]v3|iommu|deferred probe|virtio_blk' | grep -v SMMUTEST | head -20
exit $rc

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
rs) scenario=identity extra=() ;;
c) scenario=c-dma extra=() ;;
*) die "DRIVER must be rs or c" ;;
esac
[ "$driver" = rs ] && extra=(--disk vda=64 --disk nvme0=64)
log=$BUILD/qemu-demo.log
echo "qemu: booting with the $driver driver (serial log: $log)"
"$REPO/tools/testing/arm-smmu-v3-rs/qemu-run.sh" --driver "$driver" --name demo --log "$log" "${extra[@]}" "$scenario"
rc=$?
echo "--- from the kernel log:"
tr -d '\r' <"$log" | grep -E 'arm[-_]smmu[-_]v3|iommu|deferred probe|virtio_blk|nvme' | grep -v 'command line' | grep -v SMMUTEST | head -20
exit $rc

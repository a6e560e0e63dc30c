#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make qemu`: one boot with the chosen driver (rs or c) on the chosen
# machine (dt: the DT test kernel; server: UEFI + ACPI, the 64K-page server
# kernel, the driver loaded by modprobe) and a 64 MiB random
# virtio-blk and NVMe disk behind the SMMU in DMA domains; shows the probe
# summary, each disk's domain, whether its sha256 read in the guest equals
# the host's and whether a write reads back.
set -uo pipefail
. "$(dirname "$0")/env.sh"
driver=${1:-rs} machine=${2:-dt}
case "$driver" in
rs | c) ;;
*) die "DRIVER must be rs or c" ;;
esac
extra=(--disk vda=64 --disk nvme0=64 --append domain=DMA)
case "$machine" in
dt) ;;
# UEFI + ACPI, the 64K-page server kernel, the driver loaded by modprobe.
server) extra+=(--kernel "$BUILD/server/Image" --uefi --modules "$BUILD/server/modules" --root-port) ;;
*) die "MACHINE must be dt or server" ;;
esac
scenario=dma
log=$BUILD/qemu-demo.log
echo "qemu: booting the $machine machine with the $driver driver (serial log: $log)"
"$REPO/tools/testing/arm-smmu-v3-rs/qemu-run.sh" --driver "$driver" --name demo --log "$log" "${extra[@]}" "$scenario"
rc=$?
echo "--- from the kernel log:"
tr -d '\r' <"$log" | grep -E 'arm[-_]smmu[-_]v3|iommu|deferred probe|virtio_blk|nvme' | grep -v 'command line' | grep -v SMMUTEST | head -20
exit $rc

# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The patch series `make patches` (scripts/patches.sh) writes, in order.
# Sourced by patches.sh, which defines the two commands used here:
#
#   overlay NNNN-x.patch   one patch of scripts/overlay/, with the new rust/
#                          files its `mod` lines and `#include "x.c"` lines
#                          need (found by patches.sh, not listed here).
#   step KEY=VALUE... <<EOT
#   Subject line
#
#   Body (why).
#   EOT                    any other patch: hw+="..." adds modules of the
#                          driver's hw/ (hw/mod.rs and the KUnit case list of
#                          hw/selftest.rs keep only the modules added so far),
#                          glue+="..." modules of the crate root (a stub root
#                          from stub-root.rs lists those added so far),
#                          root=final the real crate root, files="..." repo
#                          files as they are, overlay="..." patches of
#                          scripts/overlay/ folded in, with their new rust/
#                          files (MAINTAINERS.diff too).
#
# Every patch builds (make patches-check); patches.sh checks that the whole
# series gives exactly the overlay's files.

overlay 0001-rust-add-arm64-kernel_in_hyp_mode.patch
overlay 0003-rust-iommu-add-an-iommu-pages-abstraction.patch
overlay 0005-rust-platform-let-drivers-suppress-their-bind-attributes.patch
# One patch: the domains of 0004 use the gathers of 0006, its ops the
# reserved regions of 0010.
step overlay="0004-rust-iommu-add-driver-abstractions.patch
	0006-rust-iommu-add-io-pgtables-with-driver-TLB-callbacks.patch
	0010-rust-iommu-firmware-reserved-regions-and-the-IORT-node.patch" <<'EOT'
rust: iommu: add IOMMU driver abstractions, io-pgtables and the IORT node

Add what an IOMMU driver written in Rust needs to take over its hardware:
registration of an IOMMU instance (iommu_device_sysfs_add() +
iommu_device_register(), undone on drop), a #[vtable] trait turned into a
static struct iommu_ops with static identity and blocked domains, domains
embedding struct iommu_domain, and access to the fwspec (stream IDs).

An IOMMU driver such as the SMMUv3 must invalidate its TLBs and walk caches
when io-pgtable frees a table, and gather leaf invalidations while it
unmaps; IoPageTable gives io-pgtable no-op callbacks, which is right only
for a GPU whose firmware invalidates by range. Give IoPageTable a second
type parameter, its TLB operations (FlushOps, NoFlush by default, so that
IoPageTable::new and its users are unchanged): with_flush_ops() pins a
driver object in the table and hands it to io-pgtable as the cookie of
iommu_flush_ops that call it. Add kernel::iommu::gather, a wrapper of
struct iommu_iotlb_gather, used with it by the paging domain ops of
kernel::iommu::domain. Expose the IO_PGTABLE_QUIRK_* constants to Rust,
and let the kernel crate wrap raw GFP flags received from C.

On ACPI systems the IORT creates a platform device for each SMMU and
hands its driver the IORT node as platform data: the C SMMUv3 driver
reads coherency, the HTTU override and the implementation model from
it. Give Rust IOMMU drivers the node's bytes, after checking that the
device is one the IORT created (its name and its static ACPI fwnode),
so the node can be decoded without raw pointers in the driver.

Firmware also reserves memory for devices that were left doing DMA: the
IORT's RMR nodes (whose StreamIDs must bypass translation from the
moment the SMMU is enabled) and DT reserved-memory. Expose the RMR
StreamIDs (iort_get_rmr_sids()) and iommu_dma_get_resv_regions() for
get_resv_regions().
EOT
overlay 0007-rust-sync-add-RcuBox.patch
overlay 0008-rust-platform-add-platform-ID-tables-and-a-shutdown-callback.patch
overlay 0011-rust-add-crash_dump-is_kdump_kernel.patch
overlay 0012-rust-io-claim-regions-in-the-tree-Region-drop-releases-them-from.patch
overlay 0013-rust-platform-add-MSIs-of-platform-devices.patch
overlay 0014-rust-add-Kexec-HandOver-KHO.patch
overlay 0015-rust-pci-let-IOMMU-drivers-control-ATS.patch
overlay 0017-rust-add-ratelimit.patch

d=drivers/iommu/arm/arm-smmu-v3-rs
step overlay=0002-iommu-arm-hook-up-arm-smmu-v3-rs.patch \
	files="$d/Kconfig $d/Makefile $d/hw_kunit.rs" hw+="bits regs iort selftest" <<'EOT'
iommu/arm-smmu-v3-rs: add the driver's register model and ID decoding

Start the Rust SMMUv3 driver with the pure model of its hardware
interface (hw/): plain core Rust, no kernel crate and no unsafe code, so
that the same files build into the module and into a host test crate.
This first part holds the register fields, the decoding of the ID
registers into the SMMU's features (as the C driver's probe does), and
the decoding of the IORT SMMUv3 node's model and flags.

The module registers nothing yet; KUnit runs the model's cases
(CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST). Hook the directory into the
drivers/iommu/arm Kconfig and Makefile.
EOT

step hw+="ste cd writer strtab" <<'EOT'
iommu/arm-smmu-v3-rs: model stream table and context descriptor entries

Add the encodings of stream table entries and context descriptors, the
geometry of linear and two-level stream tables, and the writer that
updates a live entry without a transient state the SMMU must not see:
hitless when the used bits allow it, through a V=0 entry otherwise, as
the C driver's arm_smmu_write_entry() does. The KUnit cases are the C
driver's entry-writer test cases.
EOT

step hw+="cmd queue event pri reset" <<'EOT'
iommu/arm-smmu-v3-rs: model commands, queues, events and the reset

Add the command encodings, the queue index arithmetic with its wrap
flag, the event, GERROR and page request records, and the reset
sequence of the SMMU as a list of steps the driver carries out, so that
the order of register writes is testable without a device.
EOT

step hw+="invs decode ats" <<'EOT'
iommu/arm-smmu-v3-rs: model invalidation arrays, ATS attach and decoders

Add the per-domain invalidation arrays (the TLBI tags and ATC
invalidations a domain needs on each SMMU, sorted and merged as the C
driver's struct arm_smmu_invs), the order of the steps of an attach that
turns PCIe ATS on or off with a model of the races that order prevents,
and the text decoders of STEs, CDs and invalidation-array entries the
debugfs files print.
EOT

step hw+="lu" <<'EOT'
iommu/arm-smmu-v3-rs: model the live update record and its checks

Add the record one kernel leaves the next, through KHO, about an SMMU it
kept translating across kexec, and the checks that decide whether the
next kernel adopts the SMMU and its tables or resets it.
EOT

step glue+="table cdtab" <<'EOT'
iommu/arm-smmu-v3-rs: add the table memory and context descriptor tables

Add the memory of the tables the SMMU walks, from iommu-pages with cache
maintenance when the SMMU is not coherent, the writing of one entry
through the model's plan, and the context descriptor tables of stage-1
masters, linear or two-level.
EOT

step glue+="mmio cmdq reset firmware" <<'EOT'
iommu/arm-smmu-v3-rs: add register access, the command queue and the reset

Add the mapping of the SMMU's register pages, the command queue (batches
of commands and their CMD_SYNC, error recovery on CMDQ_ERR), the reset
sequence carried out on the registers, and the firmware description of
an SMMU (DT or IORT).
EOT

overlay 0009-ACPI-IORT-let-masters-wait-for-the-Rust-SMMUv3-driver-too.patch

step glue+="strtab smmu lu domain iommu ats events dump" root=final <<'EOT'
iommu/arm-smmu-v3-rs: probe the SMMU and register it as an IOMMU

Add the rest of the driver in one patch: its modules depend on each
other (the SMMU holds the stream table, the ATS masters and the live
update state, which in turn use the SMMU and the domains), so they
cannot build apart. The probe decodes the ID registers, allocates the
queues and the stream table, resets and enables the SMMU, requests its
interrupts and registers it as the IOMMU of the devices behind it, with
paging (stage 1 or stage 2), identity and blocked domains, ATS, live
update across kexec and a debugfs interface.
EOT

step overlay="0016-Documentation-admin-guide-arm-smmu-v3-rs.patch MAINTAINERS.diff" \
	files="Documentation/admin-guide/arm-smmu-v3-rs.rst" <<'EOT'
Documentation: admin-guide: arm-smmu-v3-rs; MAINTAINERS entry

Add the administrator's guide of the Rust SMMUv3 driver (choosing the
driver, its parameters, its debugfs files and live update) and the
MAINTAINERS entry of the driver and of the Rust IOMMU abstractions it
added.
EOT

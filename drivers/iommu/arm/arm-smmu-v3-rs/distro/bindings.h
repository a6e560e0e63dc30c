/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the rust/ abstractions need from C beyond a stock kernel's bindings
 * (rust/bindings/bindings_helper.h of this repo's overlay, less what stock
 * already has). Input of bindgen in scripts/distro.sh.
 */
#include <linux/acpi_iort.h>
#include <linux/crash_dump.h>
#include <linux/iommu.h>
#include <linux/io-pgtable.h>
#include <linux/kexec_handover.h>
#include <linux/msi.h>
#include <linux/pci-ats.h>
#include <linux/ratelimit.h>
#include "../../../../../drivers/iommu/iommu-pages.h"
#include "../../../../../drivers/iommu/dma-iommu.h"

const unsigned long RUST_CONST_HELPER_IO_PGTABLE_QUIRK_ARM_NS = IO_PGTABLE_QUIRK_ARM_NS;
const unsigned long RUST_CONST_HELPER_IO_PGTABLE_QUIRK_NO_PERMS = IO_PGTABLE_QUIRK_NO_PERMS;
const unsigned long RUST_CONST_HELPER_IO_PGTABLE_QUIRK_ARM_TTBR1 = IO_PGTABLE_QUIRK_ARM_TTBR1;
const unsigned long RUST_CONST_HELPER_IO_PGTABLE_QUIRK_ARM_OUTER_WBWA =
	IO_PGTABLE_QUIRK_ARM_OUTER_WBWA;
const unsigned long RUST_CONST_HELPER_IO_PGTABLE_QUIRK_ARM_HD = IO_PGTABLE_QUIRK_ARM_HD;
const unsigned long RUST_CONST_HELPER_IO_PGTABLE_QUIRK_ARM_S2FWB = IO_PGTABLE_QUIRK_ARM_S2FWB;
const unsigned long RUST_CONST_HELPER_IO_PGTABLE_QUIRK_NO_WARN = IO_PGTABLE_QUIRK_NO_WARN;

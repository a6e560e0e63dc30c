// SPDX-License-Identifier: GPL-2.0
/*
 * The C helpers of this repo's rust/ abstractions, compiled into the module
 * for a stock kernel (make distro), whose kernel image does not have them.
 */

#include <linux/acpi.h>
#include <linux/compiler_types.h>
#include <linux/kexec.h>
#include <linux/string.h>

#ifndef __rust_helper
#define __rust_helper
#endif

/*
 * Two things the helpers read are not exported to modules; these stand in
 * for them, here only.
 *
 * kexec_in_progress: a stock kernel without KEXEC_HANDOVER (Debian's) hands
 * nothing over anyway, so the shutdown of a kexec is that of a reboot.
 */
#define kexec_in_progress false

/*
 * is_acpi_static_node() compares the node's operations with
 * acpi_static_fwnode_ops, an all-NULL table. Test for that: of the tables a
 * platform device's fwnode can have (OF, ACPI device or data, software
 * node, static), only the static one is empty. The caller also checks the
 * device's name and platform data.
 */
static bool distro_is_acpi_static_node(const struct fwnode_handle *fwnode)
{
	static const struct fwnode_operations empty;

	return !IS_ERR_OR_NULL(fwnode) && fwnode->ops &&
	       !memcmp(fwnode->ops, &empty, sizeof(empty));
}
#define is_acpi_static_node distro_is_acpi_static_node

#include "../../../../../rust/helpers/arm64.c"
#include "../../../../../rust/helpers/crash_dump.c"
#include "../../../../../rust/helpers/iommu.c"
#include "../../../../../rust/helpers/kho.c"
#include "../../../../../rust/helpers/pci_ats.c"
#include "../../../../../rust/helpers/ratelimit.c"

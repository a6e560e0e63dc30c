// SPDX-License-Identifier: GPL-2.0

//! Crash dump kernels (kdump).
//!
//! C header: [`include/linux/crash_dump.h`](srctree/include/linux/crash_dump.h)

/// Whether this kernel was started by kexec when the previous one crashed,
/// to save its memory: a kdump kernel.
///
/// Devices may still be doing DMA set up by the crashed kernel. Drivers of
/// system devices such as IOMMUs then take more care: the SMMUv3 drivers,
/// for one, leave the event and PRI queues off, since a flood of faults
/// from those devices could otherwise keep the kdump kernel busy.
///
/// # Examples
///
/// ```
/// if kernel::crash_dump::is_kdump_kernel() {
///     pr_info!("capturing the crashed kernel\n");
/// }
/// ```
pub fn is_kdump_kernel() -> bool {
    // SAFETY: `is_kdump_kernel()` only reads `elfcorehdr_addr`, set at boot; it has no
    // preconditions and may be called from any context.
    unsafe { crate::bindings::is_kdump_kernel() }
}

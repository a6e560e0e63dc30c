// SPDX-License-Identifier: GPL-2.0

//! arm64 CPU state that drivers of arm64 system devices need.
//!
//! C header: [`arch/arm64/include/asm/virt.h`](srctree/arch/arm64/include/asm/virt.h)

/// Whether the kernel runs at EL2 with the Virtualization Host Extensions.
///
/// On arm64 the kernel only runs at EL2 when VHE is in use, so this is the
/// same as the CPU capability `ARM64_HAS_VIRT_HOST_EXTN`. An SMMU with
/// IDR0.HYP must then be told to use the EL2&0 translation regime (E2H).
///
/// # Examples
///
/// ```
/// let el = if kernel::arm64::kernel_in_hyp_mode() { 2 } else { 1 };
/// pr_info!("kernel runs at EL{el}\n");
/// ```
pub fn kernel_in_hyp_mode() -> bool {
    // SAFETY: `is_kernel_in_hyp_mode()` only reads `CurrentEL`; it has no
    // preconditions and may be called from any context.
    unsafe { crate::bindings::is_kernel_in_hyp_mode() }
}

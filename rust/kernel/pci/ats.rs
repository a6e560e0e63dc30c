// SPDX-License-Identifier: GPL-2.0

//! PCIe Address Translation Services (ATS) of a device, for the IOMMU
//! driver translating its DMA.
//!
//! With ATS enabled a device asks the IOMMU for translations and caches them
//! in its own Address Translation Cache (ATC); the IOMMU driver must then
//! send it ATC invalidations whenever a translation changes. Only the IOMMU
//! driver of the device enables or disables it, with the device's IOMMU
//! group serialising the calls (`pci_enable_ats()` is called under the
//! IOMMU core's group mutex by every IOMMU driver).
//!
//! C header: [`include/linux/pci-ats.h`](srctree/include/linux/pci-ats.h)

use super::Device;
use crate::{bindings, device, error::to_result, prelude::*};

/// Offset of the ATS Control register in the ATS capability
/// (`PCI_ATS_CTRL`).
const ATS_CTRL: i32 = bindings::PCI_ATS_CTRL as i32;

/// ATS control of a PCI device, for the IOMMU driver translating its DMA.
///
/// A trait, as [`crate::dma::Device`] is, so that only the IOMMU driver that
/// needs it brings the methods into scope.
pub trait Ats {
    /// Whether the device has an ATS capability the kernel may enable
    /// (`pci_ats_supported()`): present, and not marked untrusted or broken.
    /// Always `false` without `CONFIG_PCI_ATS`.
    fn ats_supported(&self) -> bool;

    /// Enables ATS with a Smallest Translation Unit of `1 << stu` bytes
    /// (`pci_enable_ats()`). Fails with `EINVAL` if the device cannot do
    /// ATS or it is already enabled, and without `CONFIG_PCI_ATS` with
    /// `ENODEV`.
    ///
    /// The caller is the IOMMU driver translating the device's DMA, has set
    /// up translation for ATS requests first (its ATC is empty and the
    /// IOMMU answers translation requests), and holds the device's IOMMU
    /// group: nothing else enables or disables ATS of this device
    /// meanwhile.
    fn enable_ats(&self, stu: u32) -> Result;

    /// Disables ATS (`pci_disable_ats()`), then reads the ATS Control
    /// register back so the configuration write has completed when this
    /// returns: the device sends no translation request and uses no ATC
    /// entry after that. Does nothing if ATS is not enabled.
    ///
    /// The caller is as for [`Ats::enable_ats`].
    fn disable_ats(&self);
}

impl<Ctx: device::DeviceContext> Ats for Device<Ctx> {
    fn ats_supported(&self) -> bool {
        // SAFETY: `self.as_raw()` is a valid `struct pci_dev` (type
        // invariant); the function only reads it.
        unsafe { bindings::pci_ats_supported(self.as_raw()) }
    }

    fn enable_ats(&self, stu: u32) -> Result {
        let ps = i32::try_from(stu).map_err(|_| EINVAL)?;
        // SAFETY: `self.as_raw()` is a valid `struct pci_dev`; the callers of
        // pci_enable_ats() are serialised as documented above.
        to_result(unsafe { bindings::pci_enable_ats(self.as_raw(), ps) })
    }

    fn disable_ats(&self) {
        // SAFETY: As for `enable_ats`; pci_disable_ats() warns and returns
        // if ATS is not enabled.
        unsafe { bindings::pci_disable_ats(self.as_raw()) };
        let _ = ats_control(self);
    }
}

/// The ATS Control register, read from configuration space; `None` if
/// the device has no ATS capability.
fn ats_control<Ctx: device::DeviceContext>(dev: &Device<Ctx>) -> Option<u16> {
    // SAFETY: `dev.as_raw()` is a valid `struct pci_dev`.
    let pos = unsafe {
        bindings::pci_find_ext_capability(dev.as_raw(), bindings::PCI_EXT_CAP_ID_ATS as i32)
    };
    if pos == 0 {
        return None;
    }
    let mut val = 0u16;
    // SAFETY: `dev.as_raw()` is a valid `struct pci_dev` and `val` a
    // valid place for the read's result.
    let r = unsafe {
        bindings::pci_read_config_word(dev.as_raw(), i32::from(pos) + ATS_CTRL, &mut val)
    };
    (r == 0).then_some(val)
}

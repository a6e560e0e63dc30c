// SPDX-License-Identifier: GPL-2.0

//! The ACPI IORT's description of an IOMMU, for the platform devices the
//! IORT creates for the IOMMUs it lists.
//!
//! C header: [`include/linux/acpi_iort.h`](srctree/include/linux/acpi_iort.h)

use crate::{platform, prelude::*};

/// The IORT node that the IORT created `pdev` for, as the bytes firmware
/// laid out (`struct acpi_iort_node` and its node data, `node->length`
/// bytes, little-endian), if `pdev` is such a device: a platform device
/// named `name` (`"arm-smmu-v3"` for an SMMUv3) with a static ACPI fwnode.
///
/// `iort_add_platform_device()` is what creates those: it names the device
/// after the node type, gives it a static fwnode, and stores a pointer to
/// the node, which lives in the IORT table the kernel keeps mapped, as the
/// platform data. Any other platform device gives `None`, as does a kernel
/// without IORT support.
///
/// # Examples
///
/// ```
/// use kernel::{iommu::iort, platform};
///
/// fn describe(pdev: &platform::Device) {
///     match iort::node(pdev, c"arm-smmu-v3") {
///         Some(node) => pr_info!("IORT node type {}, {} bytes\n", node[0], node.len()),
///         None => pr_info!("not an IORT SMMUv3\n"),
///     }
/// }
/// ```
pub fn node<Ctx: crate::device::DeviceContext>(
    pdev: &platform::Device<Ctx>,
    name: &CStr,
) -> Option<&'static [u8]> {
    #[cfg(CONFIG_ACPI_IORT)]
    {
        use crate::bindings;
        let dev: &crate::device::Device<Ctx> = pdev.as_ref();
        let fwnode = dev.fwnode()?;
        // SAFETY: `fwnode.as_raw()` is a valid fwnode for the duration of the call.
        if !unsafe { bindings::is_acpi_static_node(fwnode.as_raw()) } {
            return None;
        }
        let raw = dev.as_raw();
        // SAFETY: `pdev` is a platform device, so its `struct device` is the `dev` field of a
        // `struct platform_device`, valid while `pdev` is.
        let pdev_raw = unsafe { crate::container_of!(raw, bindings::platform_device, dev) };
        // SAFETY: `pdev_raw` is valid (above); a platform device's name is a NUL-terminated
        // string that lives as long as the device.
        let pname = unsafe { <CStr as crate::str::CStrExt>::from_char_ptr((*pdev_raw).name) };
        if pname != name {
            return None;
        }
        // SAFETY: `raw` is a valid device; `platform_data` is set before the device is added
        // and not changed afterwards.
        let pdata = unsafe { (*raw).platform_data }.cast::<*const u8>();
        if pdata.is_null() {
            return None;
        }
        // SAFETY: A platform device with a static ACPI fwnode and the name of an IORT IOMMU
        // node was created by `iort_add_platform_device()`, whose platform data is a copy of a
        // `struct acpi_iort_node *`, so `pdata` points to that pointer.
        let node = unsafe { pdata.read_unaligned() };
        if node.is_null() {
            return None;
        }
        // SAFETY: `node` points to an IORT node in the IORT table, which stays mapped for the
        // kernel's lifetime; its `u16` length field is at byte 1 (ACPI tables are packed).
        let len = u16::from_le(unsafe { node.add(1).cast::<u16>().read_unaligned() });
        // SAFETY: As above; firmware gives the node's length, which the IORT code walks the
        // table by, so the node's `len` bytes are mapped and never written.
        Some(unsafe { core::slice::from_raw_parts(node, usize::from(len)) })
    }
    #[cfg(not(CONFIG_ACPI_IORT))]
    {
        let _ = (pdev, name);
        None
    }
}

/// Calls `f` with every StreamID that an IORT RMR (reserved memory range)
/// node ties to the IOMMU whose firmware node is `fwnode`: devices firmware
/// left doing DMA to those ranges, whose streams must bypass translation
/// from the moment the IOMMU is enabled (`iort_get_rmr_sids()`). Does
/// nothing without IORT support.
///
/// # Examples
///
/// ```
/// use kernel::{device::Device, iommu::iort};
///
/// fn count_rmr_streams(dev: &Device) -> usize {
///     let mut n = 0;
///     if let Some(fwnode) = dev.fwnode() {
///         iort::for_each_rmr_sid(fwnode, |_sid| n += 1);
///     }
///     n
/// }
/// ```
pub fn for_each_rmr_sid(fwnode: &crate::device::property::FwNode, f: impl FnMut(u32)) {
    #[cfg(CONFIG_ACPI_IORT)]
    {
        use crate::bindings;
        let mut f = f;
        let mut head = core::mem::MaybeUninit::<bindings::list_head>::uninit();
        let head = head.as_mut_ptr();
        // SAFETY: `head` is a local that does not move until the end of this block; an empty
        // list points at itself (`INIT_LIST_HEAD()`).
        unsafe {
            (*head).next = head;
            (*head).prev = head;
            bindings::iort_get_rmr_sids(fwnode.as_raw(), head);
        }
        // SAFETY: `iort_get_rmr_sids()` linked `struct iommu_iort_rmr_data`s into `head` by
        // their `rr.list`; each `sids` array has `num_sids` entries; nothing else touches the
        // list until `iort_put_rmr_sids()`.
        unsafe {
            let mut pos = (*head).next;
            while pos != head {
                let rr = crate::container_of!(pos, bindings::iommu_resv_region, list);
                let rmr = crate::container_of!(rr, bindings::iommu_iort_rmr_data, rr);
                for i in 0..(*rmr).num_sids as usize {
                    f((*rmr).sids.add(i).read());
                }
                pos = (*pos).next;
            }
            bindings::iort_put_rmr_sids(fwnode.as_raw(), head);
        }
    }
    #[cfg(not(CONFIG_ACPI_IORT))]
    {
        let _ = (fwnode, f);
    }
}

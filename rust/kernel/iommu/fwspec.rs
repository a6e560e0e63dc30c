// SPDX-License-Identifier: GPL-2.0

//! Firmware description of how a device reaches its IOMMU (`struct iommu_fwspec`).
//!
//! Firmware (DT `iommus`/`iommu-map`, ACPI IORT) tells the IOMMU core which
//! IOMMU instance a device sits behind (its `iommu_fwnode`) and which IDs
//! (stream IDs on an Arm SMMU) the device emits. The IDs are collected by the
//! driver's `of_xlate` callback with [`OfXlate::add_ids`] and read back in
//! `probe_device` with [`Fwspec::ids`].
//!
//! A fwspec is owned by `dev->iommu` and is reallocated when IDs are added, so
//! this module never hands out a [`Fwspec`] that outlives the callback it was
//! given to: references are only created by the IOMMU ops adapter
//! ([`crate::iommu::ops`]) for the duration of one callback, during which the
//! IOMMU core does not add IDs to that device (IDs are only added by
//! `of_xlate`/IORT before the device is probed, under
//! `iommu_probe_device_lock`).
//!
//! C header: [`include/linux/iommu.h`](srctree/include/linux/iommu.h)

use crate::{
    bindings,
    device::{property::FwNode, Device},
    error::{to_result, Result},
    prelude::*,
    types::Opaque,
};

/// A borrowed `struct iommu_fwspec`.
///
/// # Invariants
///
/// `self.0` is a valid `struct iommu_fwspec` whose `ids[]` holds `num_ids`
/// initialised entries, and neither changes nor is freed for as long as the
/// reference to `Fwspec` exists.
///
/// # Examples
///
/// ```
/// use kernel::iommu::fwspec::Fwspec;
///
/// // In `probe_device`: copy the stream IDs into the per-device data.
/// fn stream_ids(fwspec: &Fwspec) -> Result<KVec<u32>> {
///     let mut v = KVec::with_capacity(fwspec.ids().len(), GFP_KERNEL)?;
///     v.extend_from_slice(fwspec.ids(), GFP_KERNEL)?;
///     Ok(v)
/// }
/// ```
#[repr(transparent)]
pub struct Fwspec(Opaque<bindings::iommu_fwspec>);

/// ATS is supported by the root complex (`IOMMU_FWSPEC_PCI_RC_ATS`).
pub const FWSPEC_PCI_RC_ATS: u32 = bindings::IOMMU_FWSPEC_PCI_RC_ATS;
/// CANWBS is supported by the root complex (`IOMMU_FWSPEC_PCI_RC_CANWBS`).
pub const FWSPEC_PCI_RC_CANWBS: u32 = bindings::IOMMU_FWSPEC_PCI_RC_CANWBS;

impl Fwspec {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` is a valid `struct iommu_fwspec` that is neither freed, reallocated
    /// nor has IDs added to it for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::iommu_fwspec) -> &'a Self {
        // SAFETY: `Fwspec` is a transparent wrapper of `iommu_fwspec` and the
        // caller guarantees validity for `'a`.
        unsafe { &*ptr.cast() }
    }

    /// Returns the fwspec of `dev`, if it has one.
    ///
    /// # Safety
    ///
    /// No ID may be added to `dev`'s fwspec (no `of_xlate` may run for it) and
    /// `dev->iommu` may not be freed for `'a`; this holds inside the IOMMU ops
    /// callbacks for `dev` once it is probed, and in `probe_device`.
    pub(crate) unsafe fn of_device<'a>(dev: &'a Device) -> Option<&'a Self> {
        // SAFETY: `dev.as_raw()` is a valid device.
        let ptr = unsafe { bindings::dev_iommu_fwspec_get(dev.as_raw()) };
        if ptr.is_null() {
            None
        } else {
            // SAFETY: non-null fwspec of `dev`, stable for `'a` by the
            // caller's guarantee.
            Some(unsafe { Self::from_raw(ptr) })
        }
    }

    fn as_raw(&self) -> *mut bindings::iommu_fwspec {
        self.0.get()
    }

    /// The IDs (e.g. SMMU stream IDs) the device emits, in firmware order.
    pub fn ids(&self) -> &[u32] {
        let raw = self.as_raw();
        // SAFETY: By the type invariant `raw` is valid and `num_ids` entries
        // of the flexible array `ids` are initialised and stay unchanged for
        // the lifetime of `&self`.
        unsafe {
            let n = (*raw).num_ids as usize;
            if n == 0 {
                return &[];
            }
            core::slice::from_raw_parts((*raw).ids.as_ptr(), n)
        }
    }

    /// The `IOMMU_FWSPEC_*` flags, e.g. [`FWSPEC_PCI_RC_ATS`].
    pub fn flags(&self) -> u32 {
        // SAFETY: By the type invariant `self.as_raw()` is valid.
        unsafe { (*self.as_raw()).flags }
    }

    /// The firmware node of the IOMMU instance the device is behind.
    pub fn iommu_fwnode(&self) -> Option<&FwNode> {
        // SAFETY: By the type invariant `self.as_raw()` is valid.
        let fwnode = unsafe { (*self.as_raw()).iommu_fwnode };
        if fwnode.is_null() {
            None
        } else {
            // SAFETY: The fwspec holds a reference to its `iommu_fwnode`
            // (taken by `iommu_fwspec_init()`) for as long as it exists, so
            // it outlives `&self`. `FwNode` is a transparent wrapper.
            Some(unsafe { &*fwnode.cast::<FwNode>() })
        }
    }

    pub(crate) fn iommu_fwnode_raw(&self) -> *mut bindings::fwnode_handle {
        // SAFETY: By the type invariant `self.as_raw()` is valid.
        unsafe { (*self.as_raw()).iommu_fwnode }
    }
}

/// The context of one `of_xlate` call: a device and the `iommus`/`iommu-map`
/// specifier arguments firmware gave for it.
///
/// # Invariants
///
/// `dev` is the device `of_xlate` was called for and `args` the specifier;
/// both are valid for `'a`, and `dev` has a fwspec (the core initialises it
/// before calling `of_xlate`).
///
/// # Examples
///
/// ```
/// use kernel::iommu::fwspec::OfXlate;
///
/// // One cell per specifier: the stream ID.
/// fn of_xlate(xlate: &OfXlate<'_>) -> Result {
///     let sid = *xlate.args().first().ok_or(EINVAL)?;
///     xlate.add_ids(&[sid])
/// }
/// ```
pub struct OfXlate<'a> {
    dev: &'a Device,
    args: &'a [u32],
}

impl<'a> OfXlate<'a> {
    /// # Safety
    ///
    /// `args` points to a valid `struct of_phandle_args` for `'a`, and `dev`
    /// is being configured by `of_xlate`.
    pub(crate) unsafe fn new(dev: &'a Device, args: *const bindings::of_phandle_args) -> Self {
        // SAFETY: `args` is valid for `'a` (caller); `args_count` entries of
        // `args` are initialised and at most `MAX_PHANDLE_ARGS`.
        let args = unsafe {
            let n = ((*args).args_count.max(0) as usize).min((*args).args.len());
            core::slice::from_raw_parts((*args).args.as_ptr(), n)
        };
        Self { dev, args }
    }

    /// The device being configured.
    pub fn device(&self) -> &'a Device {
        self.dev
    }

    /// The specifier cells after the IOMMU phandle.
    pub fn args(&self) -> &'a [u32] {
        self.args
    }

    /// Appends `ids` to the device's fwspec (`iommu_fwspec_add_ids()`).
    pub fn add_ids(&self, ids: &[u32]) -> Result {
        let n = i32::try_from(ids.len()).map_err(|_| EINVAL)?;
        // SAFETY: `self.dev` is valid and has a fwspec (type invariant); `ids`
        // is valid for reads of `n` entries. No `&Fwspec` of this device can
        // exist during `of_xlate`, so reallocating the fwspec is fine.
        to_result(unsafe { bindings::iommu_fwspec_add_ids(self.dev.as_raw(), ids.as_ptr(), n) })
    }
}

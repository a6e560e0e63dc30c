// SPDX-License-Identifier: GPL-2.0

//! Registration of an IOMMU hardware instance (`struct iommu_device`).
//!
//! A [`Registration`] embeds the `struct iommu_device` next to the driver's
//! per-instance data `T` (the type implementing [`IommuOps`]). Creating it adds
//! the instance to sysfs (`iommu_device_sysfs_add()`) and registers it with the
//! IOMMU core (`iommu_device_register()`), which immediately probes the devices
//! behind it; dropping it undoes both in reverse order, which releases every
//! device that was probed (`release_device`), so nothing of the instance is
//! left behind once the drop returns.
//!
//! The registration borrows the parent device for `'a` (its bound lifetime), so
//! it lives in the driver's bus device private data and is dropped on unbind.
//!
//! C header: [`include/linux/iommu.h`](srctree/include/linux/iommu.h)

use crate::{
    bindings,
    device::{Bound, Device},
    error::to_result,
    iommu::ops::{IommuOps, Statics},
    prelude::*,
    str::{CStr, CString},
    types::Opaque,
};
use core::marker::PhantomPinned;

/// A registered IOMMU instance with driver data `T`.
///
/// # Invariants
///
/// - `iommu` was added to sysfs and registered with the IOMMU core with an
///   ops table of `T` (a [`Statics<T>`]) and stays so until drop.
/// - Every `struct iommu_device` registered with an ops table of `T` is the
///   `iommu` field of a live, pinned `Registration<'_, T>`: only
///   [`Registration::new`] registers one, and its callbacks are `T`'s.
///
/// # Examples
///
/// ```
/// use kernel::{
///     device::{Bound, Device},
///     iommu::{
///         device::Registration,
///         fwspec::Fwspec,
///         ops::{IommuOps, Statics},
///     },
///     prelude::*,
/// };
///
/// struct MySmmu;
/// struct MyMaster {
///     sid: u32,
/// }
///
/// #[vtable]
/// impl IommuOps for MySmmu {
///     type Master = MyMaster;
///
///     fn probe_device<'a>(
///         &'a self,
///         _p: &'a Device<Bound>,
///         _dev: &'a Device,
///         fwspec: &'a Fwspec,
///     ) -> impl PinInit<MyMaster, Error> + 'a {
///         let sid = fwspec.ids().first().copied().ok_or(ENODEV);
///         sid.map(|sid| MyMaster { sid })
///     }
/// }
///
/// static STATICS: Statics<MySmmu> = Statics::new(&STATICS);
///
/// fn register<'a>(
///     parent: &'a Device<Bound>,
/// ) -> impl PinInit<Registration<'a, MySmmu>, Error> + 'a {
///     // SAFETY: The registration is stored in the driver's device data and
///     // dropped on unbind, never leaked.
///     unsafe { Registration::new(parent, c"smmu3.0", &STATICS, Ok::<_, Error>(MySmmu)) }
/// }
/// ```
#[pin_data(PinnedDrop)]
pub struct Registration<'a, T: IommuOps> {
    #[pin]
    iommu: Opaque<bindings::iommu_device>,
    #[pin]
    data: T,
    parent: &'a Device<Bound>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: The registration only gives out `&T`; `T: Send + Sync` (bound of
// `IommuOps`), and the C `iommu_device` is only touched by the IOMMU core under
// its own locking.
unsafe impl<T: IommuOps> Send for Registration<'_, T> {}
// SAFETY: As above; `&Registration` only gives `&T`.
unsafe impl<T: IommuOps> Sync for Registration<'_, T> {}

impl<'a, T: IommuOps + 'a> Registration<'a, T> {
    /// Registers the IOMMU instance of `parent` (its firmware node is the one
    /// devices refer to in `iommus`/`iommu-map`), named `name` in
    /// `/sys/class/iommu`, with driver data `data` and the driver's ops
    /// table and static domains `statics`.
    ///
    /// The IOMMU core calls back into `T` (e.g. [`IommuOps::probe_device`])
    /// from within this initialiser, once `data` is initialised.
    ///
    /// # Safety
    ///
    /// Callers must not `mem::forget()` the returned [`Registration`] or
    /// otherwise prevent its [`Drop`] implementation from running: the IOMMU
    /// core keeps calling into `T` until it does.
    pub unsafe fn new(
        parent: &'a Device<Bound>,
        name: &CStr,
        statics: &'static Statics<T>,
        data: impl PinInit<T, Error> + 'a,
    ) -> impl PinInit<Self, Error> + 'a {
        // `iommu_device_sysfs_add()` copies the name; keep our own copy until
        // the initialiser runs.
        let name = CString::try_from_fmt(fmt!("{name}"));
        try_pin_init!(&this in Self {
            iommu: Opaque::zeroed(),
            data <- data,
            parent,
            _pin: PhantomPinned,
            _: {
                // One registration per parent keeps the fwnode lookup of
                // `probe_device` unambiguous.
                if crate::iommu::ops::parent_has_iommu(parent) {
                    return Err(EBUSY);
                }
                // SAFETY: `this` is pinned and initialised, so its address is
                // stable until drop.
                let iommu = unsafe { Opaque::cast_into(&raw const (*this.as_ptr()).iommu) };
                let name = name.as_ref().map_err(|e| *e)?;
                // SAFETY: `iommu` is a zeroed `iommu_device`; `parent` is a
                // valid, bound device; the format takes one string argument.
                to_result(unsafe {
                    bindings::iommu_device_sysfs_add(
                        iommu,
                        parent.as_raw(),
                        core::ptr::null_mut(),
                        c"%s".as_char_ptr(),
                        name.as_char_ptr(),
                    )
                })?;
                // INVARIANT: from here on `iommu` is registered with `T`'s
                // ops and embedded in `*this`, whose fields are all
                // initialised, so callbacks may run right away.
                // SAFETY: `iommu` was added to sysfs above; the ops table is
                // `'static`; `parent` provides the fwnode.
                let ret = unsafe {
                    bindings::iommu_device_register(iommu, statics.ops(), parent.as_raw())
                };
                if ret != 0 {
                    // SAFETY: Added to sysfs above, not registered.
                    unsafe { bindings::iommu_device_sysfs_remove(iommu) };
                    return Err(Error::from_errno(ret));
                }
            },
        })
    }

    /// The IOMMU's own device (bound for as long as the registration
    /// exists).
    pub fn parent(&self) -> &'a Device<Bound> {
        self.parent
    }

    /// The driver data.
    pub fn data(&self) -> &T {
        &self.data
    }

    /// The raw `struct iommu_device`.
    pub fn as_raw(&self) -> *mut bindings::iommu_device {
        self.iommu.get()
    }

    /// Returns the registration that embeds `iommu`.
    ///
    /// # Safety
    ///
    /// `iommu` was registered with `T`'s ops (so it is embedded in a
    /// `Registration<'_, T>`) and is not unregistered while the returned
    /// reference is used.
    pub(crate) unsafe fn from_raw<'b>(iommu: *const bindings::iommu_device) -> &'b Self {
        // SAFETY: By the caller's guarantee and the type invariant, `iommu` is
        // the `iommu` field of a live `Registration<'_, T>`.
        unsafe { &*crate::container_of!(Opaque::cast_from(iommu).cast_mut(), Self, iommu) }
    }
}

#[pinned_drop]
impl<T: IommuOps> PinnedDrop for Registration<'_, T> {
    fn drop(self: Pin<&mut Self>) {
        let iommu = self.iommu.get();
        // Unregistering releases every device probed against the instance
        // (`release_device`); the core makes no more calls after it.
        // SAFETY: By the type invariant `iommu` is registered and in sysfs;
        // it leaves both in the reverse order of `new()`.
        unsafe {
            bindings::iommu_device_unregister(iommu);
            bindings::iommu_device_sysfs_remove(iommu);
        }
    }
}

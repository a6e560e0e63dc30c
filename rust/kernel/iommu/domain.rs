// SPDX-License-Identifier: GPL-2.0

//! IOMMU domains allocated by a driver (`struct iommu_domain`).
//!
//! A [`Domain<D>`] embeds the C `struct iommu_domain` followed by the driver's
//! data `D`; the domain ops of `D` find the Rust object back with
//! `container_of`. A domain is handed to the IOMMU core as an
//! [`OwnedDomain`] (from [`crate::iommu::ops::IommuOps::domain_alloc_paging_flags`]),
//! which the core frees through the `free` op, dropping the Rust object.
//!
//! Only `attach_dev` and `free` exist so far; mapping ops arrive later, so the
//! paging domains built here cannot be used for DMA yet.
//!
//! C header: [`include/linux/iommu.h`](srctree/include/linux/iommu.h)

use crate::{
    bindings,
    device::Device,
    error::from_result,
    iommu::ops::{Adapter, IommuOps},
    prelude::*,
    types::{ForeignOwnable, Opaque},
};
use core::marker::PhantomData;

/// The operations of a driver domain type.
///
/// # Examples
///
/// ```
/// use kernel::{
///     device::Device,
///     iommu::{domain::{Domain, DomainOps}, fwspec::Fwspec, ops::IommuOps},
///     prelude::*,
///     sync::atomic::{Atomic, Relaxed},
/// };
///
/// struct Smmu;
/// #[vtable]
/// impl IommuOps for Smmu {
///     type Master = ();
///     fn probe_device<'a>(&'a self, _d: &'a Device, _f: &'a Fwspec)
///         -> impl PinInit<(), Error> + 'a {
///         Ok::<(), Error>(())
///     }
/// }
///
/// struct S2Domain {
///     attached: Atomic<u32>,
/// }
///
/// impl DomainOps for S2Domain {
///     type Iommu = Smmu;
///     fn attach_dev(d: &Domain<Self>, _iommu: &Smmu, _dev: &Device, _m: Pin<&()>) -> Result {
///         d.data().attached.fetch_add(1, Relaxed);
///         Ok(())
///     }
/// }
///
/// let d = Domain::new(S2Domain { attached: Atomic::new(0) }, GFP_KERNEL)?;
/// assert_eq!(d.data().attached.load(Relaxed), 0);
/// # Ok::<(), Error>(())
/// ```
pub trait DomainOps: Sized + Send + Sync {
    /// The driver this domain belongs to.
    type Iommu: IommuOps;

    /// Attaches `dev` (probed by `iommu`) to `domain`.
    fn attach_dev(
        domain: &Domain<Self>,
        iommu: &Self::Iommu,
        dev: &Device,
        master: Pin<&<Self::Iommu as IommuOps>::Master>,
    ) -> Result;
}

/// A driver domain: a C `struct iommu_domain` followed by driver data `D`.
///
/// # Invariants
///
/// `domain.ops` points to the domain ops of `D` (`Domain::OPS`), so the
/// core only calls them with the `domain` field of a `Domain<D>`.
#[repr(C)]
#[pin_data]
pub struct Domain<D: DomainOps> {
    #[pin]
    domain: Opaque<bindings::iommu_domain>,
    #[pin]
    data: D,
}

impl<D: DomainOps> Domain<D> {
    const OPS_TABLE: bindings::iommu_domain_ops = bindings::iommu_domain_ops {
        attach_dev: Some(Self::attach_dev_cb),
        free: Some(Self::free_cb),
        ..pin_init::zeroed()
    };
    const OPS: &'static bindings::iommu_domain_ops = &Self::OPS_TABLE;

    /// Allocates a domain of type `IOMMU_DOMAIN_UNMANAGED` holding `data`.
    /// The core fills in `type`, `owner` and the rest when it is allocated
    /// through `domain_alloc_paging_flags`.
    pub fn new(
        data: impl PinInit<D, Error>,
        flags: crate::alloc::Flags,
    ) -> Result<Pin<KBox<Self>>> {
        let init = try_pin_init!(Self {
            domain <- Opaque::ffi_init(|slot: *mut bindings::iommu_domain| {
                // SAFETY: `slot` is valid for writes; an all-zero
                // `iommu_domain` is valid.
                unsafe {
                    slot.write(pin_init::zeroed());
                    (*slot).type_ = bindings::IOMMU_DOMAIN_UNMANAGED;
                    (*slot).ops = Self::OPS;
                }
            }),
            data <- data,
        }? Error);
        // INVARIANT: `ops` set to `Self::OPS` above.
        KBox::pin_init(init, flags)
    }

    /// The driver data.
    pub fn data(&self) -> &D {
        &self.data
    }

    /// The raw `struct iommu_domain`.
    pub fn as_raw(&self) -> *mut bindings::iommu_domain {
        self.domain.get()
    }

    /// # Safety
    ///
    /// `ptr` is the `domain` field of a live `Domain<D>`, valid for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::iommu_domain) -> &'a Self {
        // SAFETY: `Domain` is `repr(C)` with `domain` first (offset 0), and
        // `ptr` is in a live `Domain<D>` (caller).
        unsafe { &*crate::container_of!(Opaque::cast_from(ptr).cast_mut(), Self, domain) }
    }

    extern "C" fn attach_dev_cb(
        domain: *mut bindings::iommu_domain,
        dev: *mut bindings::device,
        _old: *mut bindings::iommu_domain,
    ) -> c_int {
        // SAFETY: By the type invariant the core only calls our ops with a
        // `Domain<D>`, alive while attached or being attached.
        let d = unsafe { Self::from_raw(domain) };
        from_result(|| {
            // SAFETY: `dev` is valid; the core only attaches a domain to a
            // device probed by the ops that allocated it (`domain->owner`).
            if unsafe { (*dev).iommu.is_null() || (*(*dev).iommu).iommu_dev.is_null() } {
                return Err(EINVAL);
            }
            // SAFETY: `dev` was probed by `D::Iommu` and is not released
            // during `attach_dev`.
            let p = unsafe { Adapter::<D::Iommu>::probed(dev) };
            D::attach_dev(d, p.reg.data(), p.dev, p.master).map(|()| 0)
        })
    }

    extern "C" fn free_cb(domain: *mut bindings::iommu_domain) {
        // SAFETY: The core calls `free` once, on a domain from
        // `OwnedDomain::into_raw`, i.e. `into_foreign()` of a
        // `Pin<KBox<Domain<D>>>`, at offset 0.
        drop(unsafe { <Pin<KBox<Self>>>::from_foreign(domain.cast()) });
    }
}

/// A type-erased driver domain whose ownership passes to the IOMMU core.
///
/// # Invariants
///
/// `raw` is the `domain` of a `Pin<KBox<Domain<D>>>` leaked with
/// `into_foreign()` for some `D`, and `raw->ops->free` frees it.
pub struct OwnedDomain {
    raw: *mut bindings::iommu_domain,
    _p: PhantomData<KBox<()>>,
}

impl OwnedDomain {
    /// Wraps a domain for the core.
    pub fn new<D: DomainOps>(domain: Pin<KBox<Domain<D>>>) -> Self {
        // `domain` is the first field of the `repr(C)` `Domain<D>`.
        let raw = domain.into_foreign().cast::<bindings::iommu_domain>();
        // INVARIANT: leaked above; `ops->free` is `Domain::<D>::free_cb`.
        Self {
            raw,
            _p: PhantomData,
        }
    }

    pub(crate) fn into_raw(self) -> *mut bindings::iommu_domain {
        let raw = self.raw;
        core::mem::forget(self);
        raw
    }
}

impl Drop for OwnedDomain {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `free` exists and frees the domain.
        unsafe {
            if let Some(free) = (*(*self.raw).ops).free {
                free(self.raw);
            }
        }
    }
}

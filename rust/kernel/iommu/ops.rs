// SPDX-License-Identifier: GPL-2.0

//! The IOMMU driver operations (`struct iommu_ops`).
//!
//! A driver implements [`IommuOps`] on its per-instance data and registers it
//! with [`Registration`]; [`Adapter`] turns the trait into a `struct
//! iommu_ops`, with static identity and blocked domains whose `attach_dev`
//! calls into the trait. These live in one `static` [`Statics`] per driver
//! type: the IOMMU core keeps their addresses and compares them, and Rust
//! promises no single address for a `const`.
//!
//! # How callbacks find the Rust objects
//!
//! - `probe_device` (and nothing else) looks the instance up from the device's
//!   fwspec: `fwspec->iommu_fwnode` is the firmware node the IOMMU core matched
//!   to our `struct iommu_device` (`iommu_device_register()` records the
//!   parent's fwnode). The node's device (`get_dev_from_fwnode()`) is the
//!   parent given to [`Registration::new`], and its `iommu` class child with
//!   that fwnode is the registered `iommu_device`, embedded in the
//!   [`Registration`]. [`Registration::new`] refuses a second registration for
//!   the same parent, so the match is unique.
//! - Every later callback uses `dev->iommu->iommu_dev`, which the core sets to
//!   the value `probe_device` returned (the `iommu_device` of the
//!   registration) and keeps until after `release_device`.
//! - The per-device data [`IommuOps::Master`] returned by `probe_device` is
//!   boxed and stored with `dev_iommu_priv_set()`; it is handed back by value
//!   to [`IommuOps::release_device`], after which the core makes no more calls
//!   for the device. In between, callbacks borrow it.
//!
//! C header: [`include/linux/iommu.h`](srctree/include/linux/iommu.h)

use crate::{
    bindings,
    device::{Bound, Device},
    error::{from_err_ptr, from_result, Result},
    iommu::{
        device::Registration,
        fwspec::{Fwspec, OfXlate},
    },
    prelude::*,
    types::{ForeignOwnable, Opaque},
};
use core::{marker::PhantomData, ptr::null_mut};

/// An IOMMU capability (`enum iommu_cap`), asked by [`IommuOps::capable`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Cap(bindings::iommu_cap);

impl Cap {
    /// `IOMMU_CACHE` is supported.
    pub const CACHE_COHERENCY: Self = Self(bindings::iommu_cap_IOMMU_CAP_CACHE_COHERENCY);
    /// `IOMMU_NOEXEC` is supported.
    pub const NOEXEC: Self = Self(bindings::iommu_cap_IOMMU_CAP_NOEXEC);
    /// Firmware used the IOMMU for DMA protection before boot.
    pub const PRE_BOOT_PROTECTION: Self = Self(bindings::iommu_cap_IOMMU_CAP_PRE_BOOT_PROTECTION);
    /// The domain can enforce cache coherency.
    pub const ENFORCE_CACHE_COHERENCY: Self =
        Self(bindings::iommu_cap_IOMMU_CAP_ENFORCE_CACHE_COHERENCY);
    /// The driver does no TLB maintenance in `unmap_pages` when the gather
    /// is queued, so the DMA layer may defer invalidations to a flush queue
    /// (`flush_iotlb_all`).
    pub const DEFERRED_FLUSH: Self = Self(bindings::iommu_cap_IOMMU_CAP_DEFERRED_FLUSH);
    /// Dirty tracking is supported.
    pub const DIRTY_TRACKING: Self = Self(bindings::iommu_cap_IOMMU_CAP_DIRTY_TRACKING);
}

/// An IOMMU domain type (`IOMMU_DOMAIN_*`), e.g. from
/// [`IommuOps::def_domain_type`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DomainType(u32);

impl DomainType {
    /// All DMA is blocked.
    pub const BLOCKED: Self = Self(bindings::IOMMU_DOMAIN_BLOCKED);
    /// DMA addresses are system physical addresses.
    pub const IDENTITY: Self = Self(bindings::IOMMU_DOMAIN_IDENTITY);
    /// A paging domain for the DMA API.
    pub const DMA: Self = Self(bindings::IOMMU_DOMAIN_DMA);

    /// The raw `IOMMU_DOMAIN_*` value.
    pub fn as_raw(self) -> u32 {
        self.0
    }
}

/// Which static domain the core attaches before `release_device`
/// (`iommu_ops::release_domain`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReleaseDomain {
    /// None: [`IommuOps::release_device`] must stop the device's DMA itself.
    None,
    /// The identity domain ([`IommuOps::attach_identity`] must be implemented).
    Identity,
    /// The blocked domain ([`IommuOps::attach_blocked`] must be implemented).
    Blocked,
}

/// An owned reference to an IOMMU group (`struct iommu_group`).
///
/// # Invariants
///
/// `self.0` is a valid `iommu_group` and `self` owns one reference to it.
pub struct Group(core::ptr::NonNull<bindings::iommu_group>);

impl Group {
    /// Takes ownership of a reference returned by a C `*_device_group()`.
    ///
    /// # Safety
    ///
    /// `ptr` is an `ERR_PTR` or a valid group with a reference owned by the
    /// caller, which is transferred.
    unsafe fn from_result(ptr: *mut bindings::iommu_group) -> Result<Self> {
        let ptr = from_err_ptr(ptr)?;
        // INVARIANT: Not an error pointer, so a valid group whose reference
        // the caller transferred.
        core::ptr::NonNull::new(ptr).map(Self).ok_or(EINVAL)
    }

    /// The group for a device that does not share IDs with another one
    /// (`generic_device_group()`): a new group of its own.
    pub fn generic(dev: &Device) -> Result<Self> {
        // SAFETY: `dev` is valid; the function returns a new reference or an
        // `ERR_PTR`.
        unsafe { Self::from_result(bindings::generic_device_group(dev.as_raw())) }
    }

    /// The group of a PCI device, shared with its DMA aliases and with the
    /// devices ACS does not isolate it from (`pci_device_group()`).
    ///
    /// Fails with [`EINVAL`] if `dev` is not a PCI device.
    #[cfg(CONFIG_PCI)]
    pub fn pci(dev: &Device) -> Result<Self> {
        if !is_pci(dev) {
            return Err(EINVAL);
        }
        // SAFETY: `dev` is a valid PCI device; the function returns a new
        // reference or an `ERR_PTR`.
        unsafe { Self::from_result(bindings::pci_device_group(dev.as_raw())) }
    }

    /// [`Group::pci`] for PCI devices, else [`Group::generic`]; what most
    /// drivers (and the default of [`IommuOps::device_group`]) use.
    pub fn for_device(dev: &Device) -> Result<Self> {
        #[cfg(CONFIG_PCI)]
        if is_pci(dev) {
            return Self::pci(dev);
        }
        Self::generic(dev)
    }

    fn into_raw(self) -> *mut bindings::iommu_group {
        let ptr = self.0.as_ptr();
        core::mem::forget(self);
        ptr
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own a reference.
        unsafe { bindings::iommu_group_put(self.0.as_ptr()) };
    }
}

#[cfg(CONFIG_PCI)]
fn is_pci(dev: &Device) -> bool {
    // SAFETY: `dev.as_raw()` is valid; `bus` is set when the device is added
    // and does not change. Same test as the C `dev_is_pci()`.
    unsafe { core::ptr::eq((*dev.as_raw()).bus, &raw const bindings::pci_bus_type) }
}

/// The reserved regions of a device, filled by [`IommuOps::get_resv_regions`].
///
/// # Invariants
///
/// `self.0` is the valid `list_head` passed to `get_resv_regions`.
pub struct ResvRegions(*mut bindings::list_head);

impl ResvRegions {
    /// Adds the region `[start, start + len)` with `IOMMU_*` protection `prot`
    /// and reservation type `ty` (`IOMMU_RESV_*`, e.g.
    /// `bindings::iommu_resv_type_IOMMU_RESV_SW_MSI`).
    pub fn add(
        &mut self,
        start: u64,
        len: usize,
        prot: i32,
        ty: bindings::iommu_resv_type,
    ) -> Result {
        // SAFETY: No preconditions; returns NULL on failure.
        let region =
            unsafe { bindings::iommu_alloc_resv_region(start, len, prot, ty, GFP_KERNEL.as_raw()) };
        if region.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `region` is a new, unlinked region and `self.0` is the
        // caller's list (type invariant); the core frees the list's regions.
        unsafe { bindings::list_add_tail(&raw mut (*region).list, self.0) };
        Ok(())
    }

    /// Adds the regions firmware reserves for `dev`: IORT RMRs, device-tree
    /// `reserved-memory` with `iommu-addresses`, and so on
    /// (`iommu_dma_get_resv_regions()`). Nothing without `IOMMU_DMA`.
    pub fn add_firmware(&mut self, dev: &Device) {
        #[cfg(CONFIG_IOMMU_DMA)]
        // SAFETY: `dev.as_raw()` is valid and `self.0` is the caller's list (type invariant);
        // the core frees the regions added to it.
        unsafe {
            bindings::iommu_dma_get_resv_regions(dev.as_raw(), self.0)
        };
        #[cfg(not(CONFIG_IOMMU_DMA))]
        let _ = dev;
    }

    /// Adds the software MSI window `[start, start + len)`: the IOVAs where
    /// `dma-iommu` maps MSI doorbells (e.g. the GIC ITS) for devices whose
    /// MSI writes are translated (`IOMMU_RESV_SW_MSI`).
    pub fn add_sw_msi(&mut self, start: u64, len: usize) -> Result {
        let prot = bindings::IOMMU_WRITE | bindings::IOMMU_NOEXEC | bindings::IOMMU_MMIO;
        self.add(
            start,
            len,
            prot as i32,
            bindings::iommu_resv_type_IOMMU_RESV_SW_MSI,
        )
    }
}

/// The operations of an IOMMU driver, implemented on its per-instance data.
///
/// Every method runs in process context and may sleep. The IOMMU core
/// serialises calls for one device (under its group's lock or
/// `iommu_probe_device_lock`), but calls for different devices run in
/// parallel, hence `Send + Sync`.
///
/// # Examples
///
/// ```
/// use kernel::{
///     device::{Bound, Device},
///     iommu::{
///         fwspec::{Fwspec, OfXlate},
///         ops::{IommuOps, ReleaseDomain},
///     },
///     prelude::*,
/// };
///
/// struct Smmu;
/// struct Master {
///     sids: KVec<u32>,
/// }
///
/// #[vtable]
/// impl IommuOps for Smmu {
///     type Master = Master;
///     const RELEASE_DOMAIN: ReleaseDomain = ReleaseDomain::Blocked;
///
///     fn of_xlate(xlate: &OfXlate<'_>) -> Result {
///         xlate.add_ids(&xlate.args()[..1])
///     }
///
///     fn probe_device<'a>(
///         &'a self,
///         _p: &'a Device<Bound>,
///         _dev: &'a Device,
///         fwspec: &'a Fwspec,
///     ) -> impl PinInit<Master, Error> + 'a {
///         let mut sids = KVec::new();
///         let r = sids.extend_from_slice(fwspec.ids(), GFP_KERNEL);
///         r.map(|()| Master { sids }).map_err(Error::from)
///     }
///
///     fn attach_identity(&self, _dev: &Device, m: Pin<&Master>) -> Result {
///         // Write bypass STEs for `m.sids`.
///         let _ = &m.sids;
///         Ok(())
///     }
///
///     fn attach_blocked(&self, _dev: &Device, _m: Pin<&Master>) -> Result {
///         // Write abort STEs.
///         Ok(())
///     }
/// }
/// ```
#[vtable]
pub trait IommuOps: Sized + Send + Sync {
    /// Per-device driver data, from `probe_device` to `release_device`.
    type Master: Send + Sync;

    /// The static domain attached before `release_device`.
    const RELEASE_DOMAIN: ReleaseDomain = ReleaseDomain::None;

    /// Translates one firmware IOMMU specifier of `xlate.device()` into IDs
    /// with [`OfXlate::add_ids`]. Called before the device is probed, possibly
    /// before this instance is registered, hence no `&self`.
    fn of_xlate(_xlate: &OfXlate<'_>) -> Result {
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }

    /// Takes `dev`, whose fwspec names this instance, under this IOMMU and
    /// returns its per-device data.
    fn probe_device<'a>(
        &'a self,
        parent: &'a Device<Bound>,
        dev: &'a Device,
        fwspec: &'a Fwspec,
    ) -> impl PinInit<Self::Master, Error> + 'a;

    /// Releases `dev`: the last call for it. If [`IommuOps::RELEASE_DOMAIN`]
    /// is [`ReleaseDomain::None`], the device's DMA must be stopped here.
    fn release_device(&self, dev: &Device, master: Pin<KBox<Self::Master>>) {
        let _ = (dev, master);
    }

    /// Returns the group of `dev`; by default [`Group::for_device`].
    fn device_group(&self, dev: &Device, master: Pin<&Self::Master>) -> Result<Group> {
        let _ = master;
        Group::for_device(dev)
    }

    /// Adds the reserved regions of `dev` (e.g. the software MSI window).
    fn get_resv_regions(
        &self,
        _dev: &Device,
        _master: Pin<&Self::Master>,
        _regions: &mut ResvRegions,
    ) {
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }

    /// The domain type `dev` must have, if it has a requirement.
    fn def_domain_type(&self, _dev: &Device, _master: Pin<&Self::Master>) -> Option<DomainType> {
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }

    /// Whether `dev` behind this IOMMU has capability `cap`.
    fn capable(&self, _dev: &Device, _master: Pin<&Self::Master>, _cap: Cap) -> bool {
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }

    /// Whether `dev`'s default domain is attached only when it is first
    /// used for DMA, not when the device is probed
    /// (`iommu_ops::is_attach_deferred`): until then its translation stays
    /// as the IOMMU found it (handed over by a previous kernel, for
    /// example).
    fn is_attach_deferred(&self, _dev: &Device, _master: Pin<&Self::Master>) -> bool {
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }

    /// Makes `dev`'s DMA bypass translation; implementing it provides the
    /// static identity domain (`iommu_ops::identity_domain`).
    fn attach_identity(&self, _dev: &Device, _master: Pin<&Self::Master>) -> Result {
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }

    /// Makes `dev`'s DMA abort; implementing it provides the static blocked
    /// domain (`iommu_ops::blocked_domain`).
    fn attach_blocked(&self, _dev: &Device, _master: Pin<&Self::Master>) -> Result {
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }

    /// Allocates a paging domain for `dev` (`domain_alloc_paging_flags`,
    /// `IOMMU_HWPT_ALLOC_*` `flags`); see [`crate::iommu::domain`].
    fn domain_alloc_paging_flags(
        &self,
        _parent: &Device<Bound>,
        _dev: &Device,
        _master: Pin<&Self::Master>,
        _flags: u32,
    ) -> Result<crate::iommu::domain::OwnedDomain> {
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }
}

/// Builds the `struct iommu_ops` of `T` and holds its callbacks.
pub struct Adapter<T: IommuOps>(PhantomData<T>);

/// The state of a probed device as seen by a callback.
pub(crate) struct Probed<'b, T: IommuOps> {
    pub(crate) dev: &'b Device,
    pub(crate) reg: &'b Registration<'b, T>,
    pub(crate) master: Pin<&'b T::Master>,
}

/// The objects the IOMMU core keeps pointers to, and compares, for the
/// driver `T`: its `struct iommu_ops` and its static identity and blocked
/// domains (with their domain ops). Rust gives a `const` no fixed address,
/// so a driver puts them in one `static`, initialised with its own address,
/// and hands that to [`Registration::new`].
///
/// # Examples
///
/// ```
/// use kernel::{
///     device::{Bound, Device},
///     iommu::{
///         fwspec::Fwspec,
///         ops::{IommuOps, Statics},
///     },
///     prelude::*,
/// };
///
/// struct Smmu;
/// #[vtable]
/// impl IommuOps for Smmu {
///     type Master = ();
///     fn probe_device<'a>(&'a self, _p: &'a Device<Bound>, _d: &'a Device, _f: &'a Fwspec)
///         -> impl PinInit<(), Error> + 'a {
///         Ok::<(), Error>(())
///     }
/// }
///
/// static STATICS: Statics<Smmu> = Statics::new(&STATICS);
/// assert!(STATICS.ops().probe_device.is_some());
/// assert!(STATICS.ops().identity_domain.is_null());
/// ```
#[repr(C)]
pub struct Statics<T: IommuOps> {
    identity_ops: Opaque<bindings::iommu_domain_ops>,
    blocked_ops: Opaque<bindings::iommu_domain_ops>,
    identity: Opaque<bindings::iommu_domain>,
    blocked: Opaque<bindings::iommu_domain>,
    ops: Opaque<bindings::iommu_ops>,
    _t: PhantomData<T>,
}

// SAFETY: The objects are written only by their initialiser; afterwards the
// IOMMU core reads them (and would write the domains under its own locks),
// and Rust code only reads them.
unsafe impl<T: IommuOps> Sync for Statics<T> {}

impl<T: IommuOps> Statics<T> {
    /// The objects of `T` for the `static` at `this` (the one being
    /// initialised), whose fields' addresses the ops table records.
    pub const fn new(this: &'static Self) -> Self {
        // Field addresses only: nothing of `*this` is read. `Opaque<U>` is
        // `repr(transparent)` over `U`.
        let identity_ops =
            core::ptr::addr_of!(this.identity_ops).cast::<bindings::iommu_domain_ops>();
        let blocked_ops =
            core::ptr::addr_of!(this.blocked_ops).cast::<bindings::iommu_domain_ops>();
        let identity = if T::HAS_ATTACH_IDENTITY {
            core::ptr::addr_of!(this.identity)
                .cast::<bindings::iommu_domain>()
                .cast_mut()
        } else {
            null_mut()
        };
        let blocked = if T::HAS_ATTACH_BLOCKED {
            core::ptr::addr_of!(this.blocked)
                .cast::<bindings::iommu_domain>()
                .cast_mut()
        } else {
            null_mut()
        };
        Self {
            identity_ops: Opaque::new(bindings::iommu_domain_ops {
                attach_dev: if T::HAS_ATTACH_IDENTITY {
                    Some(Adapter::<T>::attach_identity_cb)
                } else {
                    None
                },
                ..pin_init::zeroed()
            }),
            blocked_ops: Opaque::new(bindings::iommu_domain_ops {
                attach_dev: if T::HAS_ATTACH_BLOCKED {
                    Some(Adapter::<T>::attach_blocked_cb)
                } else {
                    None
                },
                ..pin_init::zeroed()
            }),
            identity: Opaque::new(bindings::iommu_domain {
                type_: bindings::IOMMU_DOMAIN_IDENTITY,
                ops: identity_ops,
                ..pin_init::zeroed()
            }),
            blocked: Opaque::new(bindings::iommu_domain {
                type_: bindings::IOMMU_DOMAIN_BLOCKED,
                ops: blocked_ops,
                ..pin_init::zeroed()
            }),
            ops: Opaque::new(Adapter::<T>::table(identity, blocked)),
            _t: PhantomData,
        }
    }

    /// The ops table, to register an instance with.
    pub fn ops(&'static self) -> &'static bindings::iommu_ops {
        // SAFETY: Initialised by `new` and never written afterwards.
        unsafe { &*self.ops.get() }
    }
}

impl<T: IommuOps> Adapter<T> {
    /// The ops table of `T`, with its static domains at `identity` and
    /// `blocked` (null when `T` has none).
    const fn table(
        identity: *mut bindings::iommu_domain,
        blocked: *mut bindings::iommu_domain,
    ) -> bindings::iommu_ops {
        let release_domain = match T::RELEASE_DOMAIN {
            ReleaseDomain::None => null_mut(),
            ReleaseDomain::Identity => {
                assert!(
                    T::HAS_ATTACH_IDENTITY,
                    "ReleaseDomain::Identity needs attach_identity"
                );
                identity
            }
            ReleaseDomain::Blocked => {
                assert!(
                    T::HAS_ATTACH_BLOCKED,
                    "ReleaseDomain::Blocked needs attach_blocked"
                );
                blocked
            }
        };
        bindings::iommu_ops {
            capable: if T::HAS_CAPABLE {
                Some(Self::capable_cb)
            } else {
                None
            },
            domain_alloc_paging_flags: if T::HAS_DOMAIN_ALLOC_PAGING_FLAGS {
                Some(Self::domain_alloc_paging_flags_cb)
            } else {
                None
            },
            probe_device: Some(Self::probe_device_cb),
            release_device: Some(Self::release_device_cb),
            device_group: Some(Self::device_group_cb),
            get_resv_regions: if T::HAS_GET_RESV_REGIONS {
                Some(Self::get_resv_regions_cb)
            } else {
                None
            },
            of_xlate: if T::HAS_OF_XLATE {
                Some(Self::of_xlate_cb)
            } else {
                None
            },
            def_domain_type: if T::HAS_DEF_DOMAIN_TYPE {
                Some(Self::def_domain_type_cb)
            } else {
                None
            },
            is_attach_deferred: if T::HAS_IS_ATTACH_DEFERRED {
                Some(Self::is_attach_deferred_cb)
            } else {
                None
            },
            owner: crate::module::this_module::<T::OwnerModule>().as_ptr(),
            identity_domain: identity,
            blocked_domain: blocked,
            release_domain,
            ..pin_init::zeroed()
        }
    }

    /// Finds the registration whose parent has firmware node `fwnode`.
    ///
    /// # Safety
    ///
    /// `fwnode` was matched by the IOMMU core to an `iommu_device` registered
    /// with `T`'s ops (i.e. we are in `probe_device` of a device whose
    /// fwspec names it), and that registration is not dropped for `'b`.
    unsafe fn lookup<'b>(fwnode: *mut bindings::fwnode_handle) -> Result<&'b Registration<'b, T>> {
        if fwnode.is_null() {
            return Err(ENODEV);
        }
        // SAFETY: `fwnode` is valid (held by the fwspec); returns a new
        // reference to its device or NULL.
        let parent = unsafe { bindings::get_dev_from_fwnode(fwnode) };
        if parent.is_null() {
            return Err(ENODEV);
        }
        // SAFETY: `parent` is valid; `match_iommu_child` only reads children.
        let child =
            unsafe { bindings::device_find_child(parent, fwnode.cast(), Some(match_iommu_child)) };
        // SAFETY: Drops the reference `get_dev_from_fwnode()` took.
        unsafe { bindings::put_device(parent) };
        if child.is_null() {
            return Err(ENODEV);
        }
        // SAFETY: `child` is an `iommu` class device (matched), whose driver
        // data is its `iommu_device`.
        let iommu = unsafe { bindings::dev_get_drvdata(child) }.cast::<bindings::iommu_device>();
        // SAFETY: Drops the reference `device_find_child()` took; the
        // registration, not the child, keeps `iommu` alive.
        unsafe { bindings::put_device(child) };
        if iommu.is_null() {
            return Err(ENODEV);
        }
        // `Registration::new` allows one registration per parent, so `iommu`
        // is the one the core matched.
        // SAFETY: `iommu` was registered with `T`'s ops and is alive for
        // `'b` by the caller's guarantee.
        Ok(unsafe { Registration::from_raw(iommu) })
    }

    /// Gathers the objects of a probed device.
    ///
    /// # Safety
    ///
    /// `dev` is a valid device probed by `Self::probe_device_cb` and not yet
    /// released, for `'b` (true in every callback but `probe_device` and
    /// `of_xlate`).
    pub(crate) unsafe fn probed<'b>(dev: *mut bindings::device) -> Probed<'b, T> {
        // SAFETY: `dev` is valid for `'b` (caller).
        let d = unsafe { Device::from_raw(dev) };
        // SAFETY: `dev->iommu` exists once probed; `iommu_dev` is what
        // `probe_device_cb` returned, the `iommu_device` of a
        // `Registration<T>` that outlives its probed devices.
        let reg = unsafe { Registration::<T>::from_raw((*(*dev).iommu).iommu_dev) };
        // SAFETY: `probe_device_cb` stored a `Pin<KBox<T::Master>>` with
        // `into_foreign()`; it is only taken back in `release_device_cb`,
        // after the last other callback.
        let master = unsafe { <Pin<KBox<T::Master>>>::borrow(bindings::dev_iommu_priv_get(dev)) };
        Probed {
            dev: d,
            reg,
            master,
        }
    }

    extern "C" fn probe_device_cb(dev: *mut bindings::device) -> *mut bindings::iommu_device {
        // SAFETY: The core calls `probe_device` with a valid device, under
        // `iommu_probe_device_lock`.
        let d = unsafe { Device::from_raw(dev) };
        let r = (|| -> Result<*mut bindings::iommu_device> {
            // SAFETY: No IDs are added during `probe_device` (the core holds
            // `iommu_probe_device_lock`, which `of_xlate` also runs under).
            let fwspec = unsafe { Fwspec::of_device(d) }.ok_or(ENODEV)?;
            // SAFETY: The core called our `probe_device` for this fwspec's
            // IOMMU, and the registration cannot be dropped before this device
            // is released (`iommu_device_unregister()` releases it).
            let reg = unsafe { Self::lookup(fwspec.iommu_fwnode_raw()) }?;
            // SAFETY: `dev->iommu` exists (it holds the fwspec).
            if !unsafe { bindings::dev_iommu_priv_get(dev) }.is_null() {
                return Err(EBUSY);
            }
            let master =
                KBox::pin_init(reg.data().probe_device(reg.parent(), d, fwspec), GFP_KERNEL)?;
            // SAFETY: `dev->iommu` exists. Reclaimed in `release_device_cb`,
            // which the core calls whenever a successful `probe_device` is
            // undone.
            unsafe { bindings::dev_iommu_priv_set(dev, master.into_foreign().cast()) };
            Ok(reg.as_raw())
        })();
        match r {
            Ok(p) => p,
            Err(e) => e.to_ptr(),
        }
    }

    extern "C" fn release_device_cb(dev: *mut bindings::device) {
        // SAFETY: `dev` is valid and was probed by us (the core only calls
        // `release_device` after a successful `probe_device`).
        let p = unsafe { Self::probed(dev) };
        let reg = p.reg;
        // The core frees `dev->iommu`, and with it `priv`, right after
        // `release_device`; `dev_iommu_priv_set()` cannot clear it here (it
        // needs `iommu_probe_device_lock`, not held on this path).
        // SAFETY: `priv` was stored by `probe_device_cb` with
        // `into_foreign()`, and this is its last use.
        let master =
            unsafe { <Pin<KBox<T::Master>>>::from_foreign(bindings::dev_iommu_priv_get(dev)) };
        reg.data().release_device(p.dev, master);
    }

    extern "C" fn device_group_cb(dev: *mut bindings::device) -> *mut bindings::iommu_group {
        // SAFETY: Called after `probe_device` succeeded, before release.
        let p = unsafe { Self::probed(dev) };
        match p.reg.data().device_group(p.dev, p.master) {
            Ok(g) => g.into_raw(),
            Err(e) => e.to_ptr(),
        }
    }

    extern "C" fn of_xlate_cb(
        dev: *mut bindings::device,
        args: *const bindings::of_phandle_args,
    ) -> c_int {
        // SAFETY: The core calls `of_xlate` with a valid device that has a
        // fwspec for our IOMMU, and valid arguments.
        let x = unsafe { OfXlate::new(Device::from_raw(dev), args) };
        from_result(|| T::of_xlate(&x).map(|()| 0))
    }

    extern "C" fn get_resv_regions_cb(dev: *mut bindings::device, list: *mut bindings::list_head) {
        // SAFETY: Called for a probed device.
        let p = unsafe { Self::probed(dev) };
        // INVARIANT: `list` is the caller's list head.
        let mut regions = ResvRegions(list);
        p.reg.data().get_resv_regions(p.dev, p.master, &mut regions);
    }

    extern "C" fn def_domain_type_cb(dev: *mut bindings::device) -> c_int {
        // SAFETY: Called for a probed device.
        let p = unsafe { Self::probed(dev) };
        match p.reg.data().def_domain_type(p.dev, p.master) {
            Some(t) => t.0 as c_int,
            None => 0,
        }
    }

    extern "C" fn is_attach_deferred_cb(dev: *mut bindings::device) -> bool {
        // SAFETY: The core asks right after `probe_device` succeeded (the
        // master is set), and later only for probed devices.
        let p = unsafe { Self::probed(dev) };
        p.reg.data().is_attach_deferred(p.dev, p.master)
    }

    extern "C" fn capable_cb(dev: *mut bindings::device, cap: bindings::iommu_cap) -> bool {
        // SAFETY: `device_iommu_capable()` only calls this for a probed device.
        let p = unsafe { Self::probed(dev) };
        p.reg.data().capable(p.dev, p.master, Cap(cap))
    }

    extern "C" fn domain_alloc_paging_flags_cb(
        dev: *mut bindings::device,
        flags: u32,
        user_data: *const bindings::iommu_user_data,
    ) -> *mut bindings::iommu_domain {
        if !user_data.is_null() {
            return EOPNOTSUPP.to_ptr();
        }
        // SAFETY: Called for a probed device.
        let p = unsafe { Self::probed(dev) };
        match p
            .reg
            .data()
            .domain_alloc_paging_flags(p.reg.parent(), p.dev, p.master, flags)
        {
            Ok(d) => d.into_raw(),
            Err(e) => e.to_ptr(),
        }
    }

    extern "C" fn attach_identity_cb(
        _domain: *mut bindings::iommu_domain,
        dev: *mut bindings::device,
        _old: *mut bindings::iommu_domain,
    ) -> c_int {
        // SAFETY: The static domains are only in our ops, so the core only
        // attaches them to devices we probed, before releasing them.
        let p = unsafe { Self::probed(dev) };
        from_result(|| p.reg.data().attach_identity(p.dev, p.master).map(|()| 0))
    }

    extern "C" fn attach_blocked_cb(
        _domain: *mut bindings::iommu_domain,
        dev: *mut bindings::device,
        _old: *mut bindings::iommu_domain,
    ) -> c_int {
        // SAFETY: As for `attach_identity_cb`.
        let p = unsafe { Self::probed(dev) };
        from_result(|| p.reg.data().attach_blocked(p.dev, p.master).map(|()| 0))
    }
}

/// Matches the `iommu` class child of a registration's parent whose
/// `iommu_device` has firmware node `data`.
extern "C" fn match_iommu_child(dev: *mut bindings::device, data: *const c_void) -> c_int {
    // SAFETY: `device_find_child()` passes valid children of the parent; a
    // class, once set, is a valid `struct class` with a NUL-terminated name.
    unsafe {
        let class = (*dev).class;
        if class.is_null() || (*class).name.is_null() {
            return 0;
        }
        if crate::str::CStr::from_char_ptr((*class).name) != c"iommu" {
            return 0;
        }
        // `iommu` class devices carry their `iommu_device` as driver data
        // (NULL while being added or removed).
        let iommu = bindings::dev_get_drvdata(dev).cast::<bindings::iommu_device>();
        c_int::from(!iommu.is_null() && core::ptr::eq((*iommu).fwnode.cast_const().cast(), data))
    }
}

/// Whether `parent` already has a registered IOMMU instance with its fwnode.
pub(crate) fn parent_has_iommu(parent: &Device) -> bool {
    let Some(fwnode) = parent.fwnode() else {
        return false;
    };
    let fwnode = fwnode.as_raw();
    // SAFETY: `parent` is valid; `match_iommu_child` only reads children.
    let child = unsafe {
        bindings::device_find_child(parent.as_raw(), fwnode.cast(), Some(match_iommu_child))
    };
    if child.is_null() {
        return false;
    }
    // SAFETY: Drops the reference `device_find_child()` took.
    unsafe { bindings::put_device(child) };
    true
}

#[macros::kunit_tests(rust_kernel_iommu_ops)]
mod tests {
    use super::*;
    use crate::iommu::fwspec::Fwspec;

    struct Full;
    struct NoStatic;

    #[vtable]
    impl IommuOps for Full {
        type Master = ();
        const RELEASE_DOMAIN: ReleaseDomain = ReleaseDomain::Blocked;

        fn of_xlate(_x: &OfXlate<'_>) -> Result {
            Ok(())
        }
        fn probe_device<'a>(
            &'a self,
            _p: &'a Device<Bound>,
            _d: &'a Device,
            _f: &'a Fwspec,
        ) -> impl PinInit<(), Error> + 'a {
            Ok::<(), Error>(())
        }
        fn attach_identity(&self, _d: &Device, _m: Pin<&()>) -> Result {
            Ok(())
        }
        fn attach_blocked(&self, _d: &Device, _m: Pin<&()>) -> Result {
            Ok(())
        }
    }

    #[vtable]
    impl IommuOps for NoStatic {
        type Master = ();
        fn probe_device<'a>(
            &'a self,
            _p: &'a Device<Bound>,
            _d: &'a Device,
            _f: &'a Fwspec,
        ) -> impl PinInit<(), Error> + 'a {
            Ok::<(), Error>(())
        }
    }

    static FULL: Statics<Full> = Statics::new(&FULL);
    static NO_STATIC: Statics<NoStatic> = Statics::new(&NO_STATIC);

    #[test]
    fn vtable_full() {
        let ops = FULL.ops();
        assert!(ops.probe_device.is_some());
        assert!(ops.release_device.is_some());
        assert!(ops.device_group.is_some());
        assert!(ops.of_xlate.is_some());
        assert!(ops.capable.is_none());
        assert!(ops.domain_alloc_paging_flags.is_none());
        // The static domains are the ones in the static: one address each.
        assert_eq!(ops.identity_domain, FULL.identity.get());
        assert_eq!(ops.blocked_domain, FULL.blocked.get());
        assert_eq!(ops.release_domain, ops.blocked_domain);
        // SAFETY: Non-null, pointing into `FULL`.
        let (id, bl) = unsafe { (&*ops.identity_domain, &*ops.blocked_domain) };
        assert_eq!(id.type_, bindings::IOMMU_DOMAIN_IDENTITY);
        assert_eq!(bl.type_, bindings::IOMMU_DOMAIN_BLOCKED);
        assert_eq!(id.ops, FULL.identity_ops.get().cast_const());
        // SAFETY: The domain ops are in `FULL`.
        assert!(unsafe { (*id.ops).attach_dev }.is_some());
        // SAFETY: As above.
        assert!(unsafe { (*bl.ops).attach_dev }.is_some());
    }

    #[test]
    fn vtable_minimal() {
        let ops = NO_STATIC.ops();
        assert!(ops.probe_device.is_some());
        assert!(ops.of_xlate.is_none());
        assert!(ops.identity_domain.is_null());
        assert!(ops.blocked_domain.is_null());
        assert!(ops.release_domain.is_null());
    }
}

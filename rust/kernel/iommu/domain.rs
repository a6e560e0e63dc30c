// SPDX-License-Identifier: GPL-2.0

//! IOMMU domains allocated by a driver (`struct iommu_domain`).
//!
//! A [`Domain<D>`] embeds the C `struct iommu_domain` followed by the driver's
//! data `D`; the domain ops of `D` find the Rust object back with
//! `container_of`. A domain is handed to the IOMMU core as an
//! [`OwnedDomain`] (from [`crate::iommu::ops::IommuOps::domain_alloc_paging_flags`]),
//! which the core frees through the `free` op, dropping the Rust object.
//!
//! A paging domain also implements the mapping ops of [`DomainOps`]
//! (`map_pages`, `unmap_pages`, `iova_to_phys`, and usually `iotlb_sync` and
//! `flush_iotlb_all`), typically on top of an
//! [`IoPageTable`](crate::iommu::pgtable::IoPageTable), and records its page
//! sizes and aperture with [`Domain::set_paging`] before it is handed to the
//! core: the IOMMU core and the DMA API then translate DMA through it. The
//! domain is freed (its Rust object dropped) by the core's `free` op, after
//! every device has been detached from it.
//!
//! C header: [`include/linux/iommu.h`](srctree/include/linux/iommu.h)

use crate::{
    alloc::Flags,
    bindings,
    device::{Bound, Device},
    error::from_result,
    io::PhysAddr,
    iommu::{
        gather::IotlbGather,
        ops::{Adapter, IommuOps},
    },
    prelude::*,
    types::{ForeignOwnable, Opaque},
};
use core::marker::PhantomData;
use pin_init::stack_pin_init;

/// The operations of a driver domain type.
///
/// Every domain can be attached ([`DomainOps::attach_dev`]). A paging domain
/// (one returned by [`IommuOps::domain_alloc_paging_flags`]) also maps:
/// [`DomainOps::map_pages`], [`DomainOps::unmap_pages`] and
/// [`DomainOps::iova_to_phys`] are then required (checked at build time by
/// [`OwnedDomain::new`]), [`DomainOps::iotlb_sync`] and
/// [`DomainOps::flush_iotlb_all`] are optional. The core calls the mapping
/// ops from any thread, concurrently for different ranges, possibly in
/// atomic context when the DMA API maps with `GFP_ATOMIC`.
///
/// # Examples
///
/// A stage-2 paging domain on an io-pgtable whose invalidations would be
/// issued by VMID (the commands are left out):
///
/// ```
/// use kernel::{
///     device::{Bound, Device},
///     io::PhysAddr,
///     iommu::{
///         domain::{Domain, DomainOps, Geometry, OwnedDomain},
///         fwspec::Fwspec,
///         gather::IotlbGather,
///         ops::IommuOps,
///         pgtable::{Config, FlushOps, IoPageTable, ARM64LPAES2},
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
/// struct S2Tlb {
///     vmid: u16,
/// }
///
/// impl S2Tlb {
///     fn inv_range(&self, iova: usize, size: usize, granule: usize, leaf: bool) {
///         // TLBI_S2_IPA over the range with `self.vmid`, then CMD_SYNC.
///         let _ = (self.vmid, iova, size, granule, leaf);
///     }
/// }
///
/// // SAFETY: Every invalidation waits for its CMD_SYNC.
/// unsafe impl FlushOps for S2Tlb {
///     fn flush_all(&self) {
///         // TLBI_S12_VMALL with `self.vmid`, then CMD_SYNC.
///     }
///     fn flush_walk(&self, iova: usize, size: usize, granule: usize) {
///         self.inv_range(iova, size, granule, false);
///     }
///     fn sync_gather(&self, g: &IotlbGather) {
///         self.inv_range(g.start(), g.end() - g.start() + 1, g.pgsize(), true);
///     }
/// }
///
/// #[pin_data]
/// struct S2Domain {
///     #[pin]
///     pt: IoPageTable<'static, ARM64LPAES2, S2Tlb>,
/// }
///
/// #[vtable]
/// impl DomainOps for S2Domain {
///     type Iommu = Smmu;
///
///     fn attach_dev(
///         d: &Domain<Self>,
///         _iommu: &Smmu,
///         _p: &Device<Bound>,
///         _dev: &Device,
///         _m: Pin<&()>,
///     ) -> Result {
///         // Write an S2 STE with the table base (`d.data().pt.vttbr()`), the
///         // VTCR fields of `d.data().pt.vtcr()` and the VMID.
///         let _ = d;
///         Ok(())
///     }
///
///     unsafe fn map_pages(
///         d: &Domain<Self>,
///         iova: usize,
///         paddr: PhysAddr,
///         pgsize: usize,
///         pgcount: usize,
///         prot: u32,
///         gfp: kernel::alloc::Flags,
///     ) -> (usize, Result) {
///         // SAFETY: The core's callers keep operations on one range apart
///         // and may DMA to `paddr` while it is mapped.
///         unsafe { d.data().pt.map_pages(iova, paddr, pgsize, pgcount, prot, gfp) }
///     }
///
///     unsafe fn unmap_pages(
///         d: &Domain<Self>,
///         iova: usize,
///         pgsize: usize,
///         pgcount: usize,
///         gather: &IotlbGather,
///     ) -> usize {
///         // SAFETY: As for `map_pages`.
///         unsafe { d.data().pt.unmap_pages_gather(iova, pgsize, pgcount, gather) }
///     }
///
///     fn iotlb_sync(d: &Domain<Self>, g: &IotlbGather) {
///         if g.pgsize() != 0 {
///             d.data().pt.tlb().inv_range(g.start(), g.end() - g.start() + 1, g.pgsize(), true);
///         }
///     }
///
///     fn flush_iotlb_all(d: &Domain<Self>) {
///         d.data().pt.tlb().flush_all();
///     }
///
///     unsafe fn iova_to_phys(d: &Domain<Self>, iova: u64) -> PhysAddr {
///         // SAFETY: The core's callers do not unmap `iova` meanwhile.
///         unsafe { d.data().pt.iova_to_phys(iova as usize) }
///     }
/// }
///
/// fn alloc_s2(smmu: &Device<Bound>, oas: u32, vmid: u16) -> Result<OwnedDomain> {
///     let config = Config {
///         quirks: 0,
///         pgsize_bitmap: 0x4000_1000 | 0x20_0000, // 4K, 2M, 1G
///         ias: oas,
///         oas,
///         coherent_walk: true,
///     };
///     let mut d = Domain::new(
///         try_pin_init!(S2Domain {
///             pt <- IoPageTable::with_flush_ops(smmu, config, S2Tlb { vmid }),
///         }? Error),
///         GFP_KERNEL,
///     )?;
///     let (pgsizes, ias) = (d.data().pt.pgsize_bitmap(), d.data().pt.ias());
///     d.as_mut().set_paging(pgsizes, Geometry::from_ias(ias));
///     OwnedDomain::new(d)
/// }
///
/// let faux = kernel::faux::Registration::new(c"domain-doctest", None)?;
/// let fdev: &kernel::faux::Device<Bound> = faux.as_ref();
/// let d = alloc_s2(fdev.as_ref(), 44, 1)?;
/// drop(d); // Frees the table after `flush_all`.
/// # Ok::<(), Error>(())
/// ```
#[vtable]
pub trait DomainOps: Sized + Send + Sync {
    /// The driver this domain belongs to.
    type Iommu: IommuOps;

    /// Attaches `dev` (probed by `iommu`) to `domain`.
    fn attach_dev(
        domain: &Domain<Self>,
        iommu: &Self::Iommu,
        parent: &Device<Bound>,
        dev: &Device,
        master: Pin<&<Self::Iommu as IommuOps>::Master>,
    ) -> Result;

    /// Maps `pgcount` pages of size `pgsize` (one of the domain's page sizes)
    /// at `iova` to `paddr` with `IOMMU_*` protection `prot`, allocating with
    /// `gfp` (`map_pages`). Returns how many bytes were mapped, even on
    /// error; the core unmaps them on error.
    ///
    /// # Safety
    ///
    /// Guaranteed by the core's callers (`iommu_map()` and the DMA API):
    /// no other operation on the domain accesses the range meanwhile, and
    /// the domain's devices may access `paddr` for as long as it is mapped.
    #[allow(clippy::too_many_arguments)]
    unsafe fn map_pages(
        _domain: &Domain<Self>,
        _iova: usize,
        _paddr: PhysAddr,
        _pgsize: usize,
        _pgcount: usize,
        _prot: u32,
        _gfp: Flags,
    ) -> (usize, Result) {
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }

    /// Unmaps up to `pgcount` pages of size `pgsize` from `iova`
    /// (`unmap_pages`) and returns how many bytes were unmapped. The leaf
    /// invalidations go to `gather`, issued later by
    /// [`DomainOps::iotlb_sync`] (or by [`DomainOps::flush_iotlb_all`] if the
    /// gather is [queued](IotlbGather::queued)).
    ///
    /// # Safety
    ///
    /// Guaranteed by the core's callers: no other operation on the domain
    /// accesses the range meanwhile.
    unsafe fn unmap_pages(
        _domain: &Domain<Self>,
        _iova: usize,
        _pgsize: usize,
        _pgcount: usize,
        _gather: &IotlbGather,
    ) -> usize {
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }

    /// Invalidates what `gather` collected (`iotlb_sync`). Called only if
    /// the gathered range is not empty; the pages on its freelist are freed
    /// and the gather emptied afterwards.
    fn iotlb_sync(_domain: &Domain<Self>, _gather: &IotlbGather) {
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }

    /// Invalidates every TLB entry of the domain (`flush_iotlb_all`).
    fn flush_iotlb_all(_domain: &Domain<Self>) {
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }

    /// The physical address `iova` translates to, or 0 (`iova_to_phys`).
    ///
    /// # Safety
    ///
    /// Guaranteed by the core's callers: `iova` is not unmapped meanwhile.
    unsafe fn iova_to_phys(_domain: &Domain<Self>, _iova: u64) -> PhysAddr {
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The input address range of a paging domain (`struct
/// iommu_domain_geometry`): the DMA API and the core only map IOVAs in
/// `[aperture_start, aperture_end]` if `force_aperture`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Geometry {
    /// The first IOVA that can be mapped.
    pub aperture_start: u64,
    /// The last IOVA that can be mapped.
    pub aperture_end: u64,
    /// Whether DMA outside the aperture is impossible.
    pub force_aperture: bool,
}

impl Geometry {
    /// `[0, 2^ias - 1]`, forced: what a table of input size `ias` bits
    /// translates (as `arm_smmu_domain_finalise()` sets it).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::iommu::domain::Geometry;
    ///
    /// assert_eq!(Geometry::from_ias(48).aperture_end, 0xffff_ffff_ffff);
    /// assert_eq!(Geometry::from_ias(64).aperture_end, u64::MAX);
    /// ```
    pub fn from_ias(ias: u32) -> Self {
        Self {
            aperture_start: 0,
            aperture_end: u64::MAX.checked_shr(64 - ias.min(64)).unwrap_or(0),
            force_aperture: true,
        }
    }
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
        map_pages: if D::HAS_MAP_PAGES {
            Some(Self::map_pages_cb)
        } else {
            None
        },
        unmap_pages: if D::HAS_UNMAP_PAGES {
            Some(Self::unmap_pages_cb)
        } else {
            None
        },
        iotlb_sync: if D::HAS_IOTLB_SYNC {
            Some(Self::iotlb_sync_cb)
        } else {
            None
        },
        flush_iotlb_all: if D::HAS_FLUSH_IOTLB_ALL {
            Some(Self::flush_iotlb_all_cb)
        } else {
            None
        },
        iova_to_phys: if D::HAS_IOVA_TO_PHYS {
            Some(Self::iova_to_phys_cb)
        } else {
            None
        },
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

    /// Records the page sizes (`pgsize_bitmap`, e.g. what
    /// [`IoPageTable::pgsize_bitmap`] settled on) and the aperture of a paging
    /// domain, before it is handed to the core with [`OwnedDomain::new`].
    ///
    /// [`IoPageTable::pgsize_bitmap`]: crate::iommu::pgtable::IoPageTable::pgsize_bitmap
    pub fn set_paging(self: Pin<&mut Self>, pgsize_bitmap: usize, geometry: Geometry) {
        let d = self.domain.get();
        // SAFETY: `d` is valid; `Pin<&mut Self>` means the domain is not yet
        // shared with the core (which only gets it from `OwnedDomain::new`,
        // consuming the box), so nothing reads these fields concurrently.
        unsafe {
            (*d).pgsize_bitmap = pgsize_bitmap;
            (*d).geometry = bindings::iommu_domain_geometry {
                aperture_start: geometry.aperture_start,
                aperture_end: geometry.aperture_end,
                force_aperture: geometry.force_aperture,
            };
        }
    }

    /// The page sizes of the domain (0 unless it is a paging domain).
    pub fn pgsize_bitmap(&self) -> usize {
        // SAFETY: `domain` is valid; the core does not change
        // `pgsize_bitmap` after allocation.
        unsafe { (*self.domain.get()).pgsize_bitmap }
    }

    /// The aperture of the domain.
    pub fn geometry(&self) -> Geometry {
        // SAFETY: `domain` is valid; the core does not change `geometry`
        // after allocation.
        let g = unsafe { (*self.domain.get()).geometry };
        Geometry {
            aperture_start: g.aperture_start,
            aperture_end: g.aperture_end,
            force_aperture: g.force_aperture,
        }
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
            D::attach_dev(d, p.reg.data(), p.reg.parent(), p.dev, p.master).map(|()| 0)
        })
    }

    #[allow(clippy::too_many_arguments)]
    extern "C" fn map_pages_cb(
        domain: *mut bindings::iommu_domain,
        iova: usize,
        paddr: bindings::phys_addr_t,
        pgsize: usize,
        pgcount: usize,
        prot: c_int,
        gfp: bindings::gfp_t,
        mapped: *mut usize,
    ) -> c_int {
        // SAFETY: The core only calls our ops with a live `Domain<D>` (type
        // invariant), which it frees only after its last op.
        let d = unsafe { Self::from_raw(domain) };
        // SAFETY: `map_pages` is called by `iommu_map()` and friends, whose
        // callers guarantee what `DomainOps::map_pages` requires.
        let (n, r) = unsafe {
            D::map_pages(
                d,
                iova,
                paddr,
                pgsize,
                pgcount,
                prot as u32,
                Flags::from_raw(gfp),
            )
        };
        // SAFETY: `mapped` is valid for writes (the core's local).
        unsafe { *mapped = n };
        from_result(|| r.map(|()| 0))
    }

    extern "C" fn unmap_pages_cb(
        domain: *mut bindings::iommu_domain,
        iova: usize,
        pgsize: usize,
        pgcount: usize,
        gather: *mut bindings::iommu_iotlb_gather,
    ) -> usize {
        // SAFETY: As for `map_pages_cb`.
        let d = unsafe { Self::from_raw(domain) };
        if gather.is_null() {
            // The core always passes one; if not, invalidate before returning.
            stack_pin_init!(let g = IotlbGather::new());
            // SAFETY: `unmap_pages` callers guarantee what
            // `DomainOps::unmap_pages` requires.
            let n = unsafe { D::unmap_pages(d, iova, pgsize, pgcount, &g) };
            Self::sync(d, &g);
            return n;
        }
        // SAFETY: The gather is initialised and owned by the thread calling
        // `unmap_pages` for the duration of the call (`iommu_unmap()`'s local
        // or the caller's of `iommu_unmap_fast()`).
        let g = unsafe { IotlbGather::from_raw(gather) };
        // SAFETY: As above.
        unsafe { D::unmap_pages(d, iova, pgsize, pgcount, g) }
    }

    /// Completes `g` with `D::iotlb_sync`, or `D::flush_iotlb_all` if the
    /// domain has no `iotlb_sync`.
    fn sync(d: &Self, g: &IotlbGather) {
        if !g.is_empty() {
            if D::HAS_IOTLB_SYNC {
                D::iotlb_sync(d, g)
            } else if D::HAS_FLUSH_IOTLB_ALL {
                D::flush_iotlb_all(d)
            }
        }
        // As `iommu_iotlb_sync()` does after the driver's `iotlb_sync`.
        g.reset_after_sync();
    }

    extern "C" fn iotlb_sync_cb(
        domain: *mut bindings::iommu_domain,
        gather: *mut bindings::iommu_iotlb_gather,
    ) {
        // SAFETY: As for `map_pages_cb`.
        let d = unsafe { Self::from_raw(domain) };
        // SAFETY: `iommu_iotlb_sync()` passes the caller's initialised gather,
        // owned by this thread.
        let g = unsafe { IotlbGather::from_raw(gather) };
        D::iotlb_sync(d, g);
        // As the C drivers' `iotlb_sync` ops: free the pages queued for after
        // the invalidation; the core then reinitialises the gather.
        g.reset_after_sync();
    }

    extern "C" fn flush_iotlb_all_cb(domain: *mut bindings::iommu_domain) {
        // SAFETY: As for `map_pages_cb`.
        let d = unsafe { Self::from_raw(domain) };
        D::flush_iotlb_all(d);
    }

    extern "C" fn iova_to_phys_cb(
        domain: *mut bindings::iommu_domain,
        iova: bindings::dma_addr_t,
    ) -> bindings::phys_addr_t {
        // SAFETY: As for `map_pages_cb`.
        let d = unsafe { Self::from_raw(domain) };
        // SAFETY: `iommu_iova_to_phys()` callers do not unmap `iova` meanwhile.
        unsafe { D::iova_to_phys(d, iova) }
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
    /// Wraps a paging domain for the core.
    ///
    /// `D` must implement the mandatory paging ops (a build error otherwise),
    /// and [`Domain::set_paging`] must have set its page sizes (else
    /// [`EINVAL`]).
    pub fn new<D: DomainOps>(domain: Pin<KBox<Domain<D>>>) -> Result<Self> {
        const {
            assert!(
                D::HAS_MAP_PAGES && D::HAS_UNMAP_PAGES && D::HAS_IOVA_TO_PHYS,
                "a paging domain needs map_pages, unmap_pages and iova_to_phys"
            )
        };
        if domain.pgsize_bitmap() == 0 {
            return Err(EINVAL);
        }
        // `domain` is the first field of the `repr(C)` `Domain<D>`.
        let raw = domain.into_foreign().cast::<bindings::iommu_domain>();
        // INVARIANT: leaked above; `ops->free` is `Domain::<D>::free_cb`.
        Ok(Self {
            raw,
            _p: PhantomData,
        })
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

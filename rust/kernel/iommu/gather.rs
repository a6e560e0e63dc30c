// SPDX-License-Identifier: GPL-2.0

//! Pending IOTLB invalidations (`struct iommu_iotlb_gather`).
//!
//! While a range is unmapped, the page table code and the driver collect the
//! leaf invalidations it needs in an [`IotlbGather`]: the IOVA range
//! `[start, end]` and the granule (`pgsize`) they were mapped with. The
//! invalidation is issued once, by the domain's `iotlb_sync` op, when the
//! unmap is done; page-table pages queued on the gather's `freelist` are freed
//! after it.
//!
//! A gather belongs to one unmap sequence on one thread; it is never shared
//! between threads (it is neither [`Send`] nor [`Sync`]). Like a
//! [`Cell`](core::cell::Cell), it is updated through shared references, so the
//! page table code, the driver's TLB callbacks and the domain ops can all hold
//! one during an unmap.
//!
//! C header: [`include/linux/iommu.h`](srctree/include/linux/iommu.h)

use crate::{bindings, iommu::pgtable::FlushOps, prelude::*, types::Opaque};

/// A set of pending IOTLB invalidations (`struct iommu_iotlb_gather`).
///
/// # Invariants
///
/// The wrapped `iommu_iotlb_gather` is initialised (`iommu_iotlb_gather_init()`
/// or updated since by the C helpers or the methods here), its `freelist` is a
/// valid, possibly empty, list of iommu-pages, and it is only accessed by the
/// thread that owns it.
///
/// # Examples
///
/// ```
/// use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
/// use kernel::iommu::{gather::IotlbGather, pgtable::FlushOps};
/// use pin_init::stack_pin_init;
///
/// /// Records the range its invalidation saw last: (start, end, granule).
/// #[derive(Default)]
/// struct Tlb([AtomicUsize; 3]);
///
/// // SAFETY: It stands for a TLB no table was ever given to.
/// unsafe impl FlushOps for Tlb {
///     fn flush_all(&self) {}
///     fn flush_walk(&self, _iova: usize, _size: usize, _granule: usize) {}
///     fn sync_gather(&self, g: &IotlbGather) {
///         for (slot, v) in self.0.iter().zip([g.start(), g.end(), g.pgsize()]) {
///             slot.store(v, Relaxed);
///         }
///     }
/// }
///
/// let tlb = Tlb::default();
/// let synced = || tlb.0.each_ref().map(|v| v.load(Relaxed));
/// stack_pin_init!(let g = IotlbGather::new());
/// assert!(g.is_empty());
/// g.add_page(&tlb, 0x1000, 0x1000); // [0x1000, 0x1fff]
/// g.add_page(&tlb, 0x2000, 0x1000); // adjacent: merged
/// assert_eq!((g.start(), g.end(), g.pgsize()), (0x1000, 0x2fff, 0x1000));
/// g.add_page(&tlb, 0x20_0000, 0x20_0000); // another granule: sync first
/// assert_eq!(synced(), [0x1000, 0x2fff, 0x1000]);
/// assert_eq!((g.start(), g.end(), g.pgsize()), (0x20_0000, 0x3f_ffff, 0x20_0000));
/// g.sync(&tlb);
/// assert_eq!(synced(), [0x20_0000, 0x3f_ffff, 0x20_0000]);
/// assert!(g.is_empty());
/// assert_eq!(g.pgsize(), 0);
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
pub struct IotlbGather(Opaque<bindings::iommu_iotlb_gather>);

impl IotlbGather {
    /// An empty gather (`iommu_iotlb_gather_init()`), to be pinned: its
    /// empty freelist points to itself.
    pub fn new() -> impl PinInit<Self> {
        // INVARIANT: Initialised by `iommu_iotlb_gather_init()`.
        // SAFETY: `iommu_iotlb_gather_init()` initialises all of `*slot`,
        // which is pinned, so the self-referential list head stays valid.
        unsafe {
            pin_init::pin_init_from_closure(
                move |slot: *mut Self| -> core::result::Result<(), core::convert::Infallible> {
                    bindings::iommu_iotlb_gather_init(slot.cast());
                    Ok(())
                },
            )
        }
    }

    /// Borrows a gather passed by the C code.
    ///
    /// # Safety
    ///
    /// `ptr` is a valid, initialised `iommu_iotlb_gather` that only the
    /// current thread accesses, and only through the returned reference and
    /// others made by this function, for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::iommu_iotlb_gather) -> &'a Self {
        // SAFETY: `Self` is `repr(transparent)` over an `Opaque` of the C
        // type; `ptr` is valid for `'a` (caller).
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The raw `struct iommu_iotlb_gather`, for C functions that take one.
    pub fn as_raw(&self) -> *mut bindings::iommu_iotlb_gather {
        self.0.get()
    }

    /// The first IOVA to invalidate (`ULONG_MAX` while empty).
    pub fn start(&self) -> usize {
        // SAFETY: Valid (type invariant); no reference into it exists.
        unsafe { (*self.as_raw()).start }
    }

    /// The last IOVA to invalidate, inclusive (0 while empty).
    pub fn end(&self) -> usize {
        // SAFETY: As for `start`.
        unsafe { (*self.as_raw()).end }
    }

    /// The granule the range was gathered with (0 if none, e.g. only
    /// [`IotlbGather::add_range`] was used). This is the `pgsize` member of
    /// the C union; the other member is only used by `generic_pt` tables.
    pub fn pgsize(&self) -> usize {
        // SAFETY: As for `start`; `pgsize` is plain data in every member of
        // the union.
        unsafe { (*self.as_raw()).__bindgen_anon_1.pgsize }
    }

    /// Whether the gather will be completed by a `flush_iotlb_all` (the DMA
    /// layer's flush queue) instead of an `iotlb_sync`.
    pub fn queued(&self) -> bool {
        // SAFETY: As for `start`.
        unsafe { (*self.as_raw()).queued }
    }

    /// Whether no range was gathered, i.e. the core would not call
    /// `iotlb_sync` for it (`iommu_iotlb_sync()` needs `start < end`).
    pub fn is_empty(&self) -> bool {
        self.start() >= self.end()
    }

    /// Whether `[iova, iova + size)` is neither overlapping nor adjacent to
    /// the gathered range (`iommu_iotlb_gather_is_disjoint()`).
    pub fn is_disjoint(&self, iova: usize, size: usize) -> bool {
        // SAFETY: Valid and only accessed by this thread (type invariant).
        unsafe { bindings::iommu_iotlb_gather_is_disjoint(self.as_raw(), iova, size) }
    }

    /// Extends the gathered range to cover `[iova, iova + size)`
    /// (`iommu_iotlb_gather_add_range()`), whatever the granule.
    pub fn add_range(&self, iova: usize, size: usize) {
        // SAFETY: As for `is_disjoint`.
        unsafe { bindings::iommu_iotlb_gather_add_range(self.as_raw(), iova, size) }
    }

    /// Adds the leaf `[iova, iova + size)` mapped with granule `size`, as
    /// `iommu_iotlb_gather_add_page()` does: if it is disjoint from the
    /// gathered range or of another granule, the gathered range is
    /// completed first by `tlb` (see [`IotlbGather::sync`]).
    ///
    /// This is what [`FlushOps::add_page`] does by default.
    pub fn add_page<T: FlushOps + ?Sized>(&self, tlb: &T, iova: usize, size: usize) {
        let pgsize = self.pgsize();
        if (pgsize != 0 && pgsize != size) || self.is_disjoint(iova, size) {
            self.sync(tlb);
        }
        // SAFETY: Valid and only accessed by this thread (type invariant);
        // no reference into it exists.
        unsafe { (*self.as_raw()).__bindgen_anon_1.pgsize = size };
        self.add_range(iova, size);
    }

    /// Completes the gather as `iommu_iotlb_sync()` and a driver's
    /// `iotlb_sync` op do together: has `tlb` invalidate the gathered range
    /// ([`FlushOps::sync_gather`], which every implementation promises to
    /// complete before returning) if the range is not empty, then frees the
    /// pages queued on the freelist and empties the gather.
    pub fn sync<T: FlushOps + ?Sized>(&self, tlb: &T) {
        if !self.is_empty() {
            tlb.sync_gather(self);
        }
        self.reset_after_sync();
    }

    /// Frees the pages queued on the freelist and reinitialises the gather.
    /// The gathered range must have been invalidated.
    pub(crate) fn reset_after_sync(&self) {
        let g = self.as_raw();
        // The freelist holds iommu-pages that the invalidation just done made
        // unreachable by the IOMMU, as their producers promise;
        // `iommu_put_pages_list()` frees them. Then the gather is initialised
        // in place (it is pinned or owned by the C caller).
        // SAFETY: Valid and only accessed by this thread (type invariant).
        unsafe {
            if !bindings::iommu_pages_list_empty(&raw mut (*g).freelist) {
                bindings::iommu_put_pages_list(&raw mut (*g).freelist);
            }
            bindings::iommu_iotlb_gather_init(g);
        }
    }
}

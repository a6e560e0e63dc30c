// SPDX-License-Identifier: GPL-2.0

//! Memory for IOMMU hardware tables from the iommu-pages allocator.
//!
//! Tables that an IOMMU walks (stream tables, context descriptors, page
//! tables) come from `iommu_alloc_pages_node_sz()` so that they are accounted
//! as IOMMU memory and can be preserved across a live update. The IOMMU reads
//! them at any time, so every access goes through 64-bit single-copy-atomic
//! loads and stores ([`IommuPages::write_u64`], [`IommuPages::cmpxchg_u64`]);
//! no Rust reference to the memory is ever handed out.
//!
//! On an IOMMU that does not snoop the CPU caches the pages are made
//! incoherent ([`IommuPages::into_incoherent`]) and every update must be
//! cleaned to the point of coherency with [`IncoherentIommuPages::flush`]
//! before the IOMMU is told to look at it.
//!
//! C header: [`drivers/iommu/iommu-pages.h`](srctree/drivers/iommu/iommu-pages.h)

use crate::{
    alloc::Flags,
    bindings,
    device::{Bound, Device},
    error::{to_result, Result},
    io::PhysAddr,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
    },
};
use core::{mem::ManuallyDrop, ops::Deref, ptr::NonNull};

/// Whether firmware describes `dev`'s DMA, and so an IOMMU's table walks,
/// as cache coherent (`device_get_dma_attr()`: `dma-coherent` on the node or
/// a parent in DT, `_CCA` in ACPI). If not, tables must be made incoherent
/// with [`IommuPages::into_incoherent`].
///
/// # Examples
///
/// ```
/// # fn probe(dev: &kernel::device::Device) {
/// let incoherent = !kernel::iommu::pages::firmware_dma_coherent(dev);
/// # }
/// ```
pub fn firmware_dma_coherent(dev: &Device) -> bool {
    // SAFETY: `dev.as_raw()` is a valid device for the duration of the call.
    let attr = unsafe { bindings::device_get_dma_attr(dev.as_raw()) };
    attr == bindings::dev_dma_attr_DEV_DMA_COHERENT
}

/// A zeroed, physically contiguous block of iommu-pages, freed on drop.
///
/// # Invariants
///
/// `virt` was returned by `iommu_alloc_pages_node_sz()` for `size` bytes,
/// `size` is a multiple of 8, and the block is owned by `self` until drop.
///
/// # Examples
///
/// ```
/// use kernel::iommu::pages::IommuPages;
///
/// let table = IommuPages::alloc(None, 4096, GFP_KERNEL)?;
/// assert_eq!(table.read_u64(7)?, 0);
/// table.write_u64(7, 0x1234)?;
/// assert_eq!(table.read_u64(7)?, 0x1234);
/// assert_eq!(table.cmpxchg_u64(7, 0, 1)?, Err(0x1234));
/// assert!(table.read_u64(512).is_err());
/// assert_eq!(table.phys() % 4096, 0);
/// # Ok::<(), Error>(())
/// ```
pub struct IommuPages {
    virt: NonNull<u64>,
    size: usize,
}

// SAFETY: `IommuPages` owns its memory and all accesses are atomic, so it may
// be used and dropped from any thread.
unsafe impl Send for IommuPages {}
// SAFETY: Every access through `&IommuPages` is an atomic 64-bit load, store
// or compare-and-exchange, so concurrent use from several threads is free of
// data races.
unsafe impl Sync for IommuPages {}

impl IommuPages {
    /// Allocates `size` zeroed bytes (rounded up to a power-of-two number of
    /// pages), naturally aligned, on the NUMA node of `dev` if given.
    ///
    /// `size` must be a non-zero multiple of 8.
    pub fn alloc(dev: Option<&Device>, size: usize, gfp: Flags) -> Result<Self> {
        if size == 0 || size % 8 != 0 {
            return Err(EINVAL);
        }
        let nid = match dev {
            // SAFETY: `d.as_raw()` is a valid device for the call.
            Some(d) => unsafe { bindings::dev_to_node(d.as_raw()) },
            None => bindings::NUMA_NO_NODE,
        };
        // SAFETY: No preconditions; a null return means failure.
        let virt = unsafe { bindings::iommu_alloc_pages_node_sz(nid, gfp.as_raw(), size) };
        let virt = NonNull::new(virt.cast::<u64>()).ok_or(ENOMEM)?;
        // INVARIANT: just allocated for `size` bytes, a multiple of 8.
        Ok(Self { virt, size })
    }

    /// Size of the block in bytes, as requested.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Number of 64-bit words in the block.
    pub fn qwords(&self) -> usize {
        self.size / 8
    }

    /// Physical address of the block, for the IOMMU's base registers.
    pub fn phys(&self) -> PhysAddr {
        // SAFETY: `virt` is a linear-map address of allocated pages.
        unsafe { bindings::virt_to_phys(self.virt.as_ptr().cast()) }
    }

    fn word(&self, idx: usize) -> Result<&Atomic<u64>> {
        if idx >= self.qwords() {
            return Err(EINVAL);
        }
        // SAFETY: `idx` is in bounds, so the pointer is 8-byte aligned and
        // valid for the lifetime of `&self`; all CPU accesses to the block are
        // atomic, and the IOMMU's accesses are DMA, outside the memory model.
        Ok(unsafe { Atomic::from_ptr(self.virt.as_ptr().add(idx)) })
    }

    /// Reads qword `idx` with one single-copy-atomic load (`READ_ONCE`).
    ///
    /// Fails with [`EINVAL`] if `idx` is out of bounds.
    pub fn read_u64(&self, idx: usize) -> Result<u64> {
        Ok(self.word(idx)?.load(Relaxed))
    }

    /// Writes qword `idx` with one single-copy-atomic store (`WRITE_ONCE`),
    /// so the IOMMU never sees a torn qword.
    ///
    /// Fails with [`EINVAL`] if `idx` is out of bounds.
    pub fn write_u64(&self, idx: usize, val: u64) -> Result {
        self.word(idx)?.store(val, Relaxed);
        Ok(())
    }

    /// Replaces qword `idx` with `new` if it holds `old`, atomically; returns
    /// the previous value as `Err` if it did not. For installing table
    /// pointers that several CPUs may race to install.
    ///
    /// Fails with [`EINVAL`] if `idx` is out of bounds.
    pub fn cmpxchg_u64(
        &self,
        idx: usize,
        old: u64,
        new: u64,
    ) -> Result<core::result::Result<u64, u64>> {
        Ok(self.word(idx)?.cmpxchg(old, new, Relaxed))
    }

    /// Makes the block incoherent for `dev`, an IOMMU that does not snoop the
    /// CPU caches (`iommu_pages_start_incoherent()`). On failure the block is
    /// returned with the error.
    pub fn into_incoherent(
        self,
        dev: &Device<Bound>,
    ) -> core::result::Result<IncoherentIommuPages, (Self, Error)> {
        // SAFETY: `virt` came from `iommu_alloc_pages_node_sz()` and is not
        // incoherent yet (an `IommuPages` never is); `dev` is a bound device.
        let ret = unsafe {
            bindings::iommu_pages_start_incoherent(self.virt.as_ptr().cast(), dev.as_raw())
        };
        match to_result(ret) {
            // INVARIANT: the block was made incoherent for `dev`.
            Ok(()) => Ok(IncoherentIommuPages {
                pages: ManuallyDrop::new(self),
                dev: dev.into(),
            }),
            Err(e) => Err((self, e)),
        }
    }
}

impl Drop for IommuPages {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `virt` is an iommu-pages block owned
        // by `self` and it is coherent.
        unsafe { bindings::iommu_free_pages(self.virt.as_ptr().cast()) }
    }
}

/// A block of iommu-pages set up for an IOMMU that does not snoop the CPU
/// caches: after writing (through the [`IommuPages`] accessors it derefs
/// to), [`flush`](Self::flush) the bytes before the IOMMU may read them.
/// Freed with `iommu_pages_free_incoherent()` on drop.
///
/// # Invariants
///
/// `iommu_pages_start_incoherent(pages.virt, dev)` succeeded; `pages` is
/// never dropped as coherent pages.
pub struct IncoherentIommuPages {
    pages: ManuallyDrop<IommuPages>,
    dev: ARef<Device>,
}

impl Deref for IncoherentIommuPages {
    type Target = IommuPages;

    fn deref(&self) -> &IommuPages {
        &self.pages
    }
}

impl IncoherentIommuPages {
    /// Cleans qwords `first..first + count` to the point of coherency
    /// (`iommu_pages_flush_incoherent()`), so that the IOMMU reads what the
    /// CPU wrote.
    ///
    /// Fails with [`EINVAL`] if the range is out of bounds.
    pub fn flush(&self, first: usize, count: usize) -> Result {
        let qwords = self.qwords();
        if first > qwords || count > qwords - first {
            return Err(EINVAL);
        }
        // SAFETY: the range is within the block, which is incoherent for
        // `dev` by the type invariant.
        unsafe {
            bindings::iommu_pages_flush_incoherent(
                self.dev.as_raw(),
                self.pages.virt.as_ptr().cast(),
                first * 8,
                count * 8,
            )
        };
        Ok(())
    }
}

impl Drop for IncoherentIommuPages {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the block is incoherent for `dev` and
        // `pages` is not dropped as coherent pages.
        unsafe {
            bindings::iommu_pages_free_incoherent(
                self.pages.virt.as_ptr().cast(),
                self.dev.as_raw(),
            )
        }
    }
}

#[macros::kunit_tests(rust_kernel_iommu_pages)]
mod tests {
    use super::*;

    #[test]
    fn alloc_is_zeroed_and_aligned() -> Result {
        for size in [8, 4096, 64 * 1024, 1024 * 1024] {
            let pages = IommuPages::alloc(None, size, GFP_KERNEL)?;
            assert_eq!(pages.size(), size);
            // Natural alignment of the rounded-up power-of-two allocation.
            let align = size.next_power_of_two().max(4096) as PhysAddr;
            assert_eq!(pages.phys() % align, 0);
            for i in 0..pages.qwords() {
                assert_eq!(pages.read_u64(i)?, 0);
            }
        }
        Ok(())
    }

    #[test]
    fn rejects_bad_sizes_and_indices() -> Result {
        assert!(IommuPages::alloc(None, 0, GFP_KERNEL).is_err());
        assert!(IommuPages::alloc(None, 12, GFP_KERNEL).is_err());
        let pages = IommuPages::alloc(None, 64, GFP_KERNEL)?;
        assert!(pages.read_u64(8).is_err());
        assert!(pages.write_u64(8, 1).is_err());
        assert!(pages.cmpxchg_u64(usize::MAX, 0, 1).is_err());
        Ok(())
    }

    #[test]
    fn stores_and_cmpxchg() -> Result {
        let pages = IommuPages::alloc(None, 4096, GFP_KERNEL)?;
        pages.write_u64(511, u64::MAX)?;
        assert_eq!(pages.read_u64(511)?, u64::MAX);
        assert_eq!(pages.read_u64(510)?, 0);
        assert_eq!(pages.cmpxchg_u64(3, 0, 0xabcd)?, Ok(0));
        assert_eq!(pages.cmpxchg_u64(3, 0, 0x1)?, Err(0xabcd));
        assert_eq!(pages.read_u64(3)?, 0xabcd);
        Ok(())
    }
}

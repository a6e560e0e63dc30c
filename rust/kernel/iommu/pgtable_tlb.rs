// SPDX-License-Identifier: GPL-2.0

//! io-pgtable page tables whose TLB maintenance calls into the driver.
//!
//! [`crate::iommu::pgtable::IoPageTable`] gives the io-pgtable code no-op
//! TLB callbacks: fine for a GPU whose firmware invalidates by range, not for
//! an IOMMU such as the SMMUv3, which must invalidate its TLBs and walk
//! caches before the page table code frees a table or reuses an IOVA. An
//! [`IoPgTable`] owns, next to the table, a driver object implementing
//! [`IoPgtableTlb`]; its `struct iommu_flush_ops` call that object, which the
//! table is given as the callbacks' `cookie`. The object is pinned in the
//! table, so the cookie stays valid for as long as the table exists.
//!
//! Supported formats: the `ARM_64_LPAE_S1` ([`ARM64LPAES1`]) and
//! `ARM_64_LPAE_S2` ([`ARM64LPAES2`]) tables of io-pgtable-arm, with their
//! register values ([`IoPgTable::tcr`], [`IoPgTable::mair`],
//! [`IoPgTable::vtcr`], ...); any other [`IoPageTableFmt`] can map and unmap.
//!
//! # Behaviour pinned by the tests
//!
//! io-pgtable-arm (7.3) never splits a block: unmapping part of a block
//! mapping unmaps nothing, returns 0 (with a one-time warning) and leaves the
//! block in place. Unmapping a range that covers a table (e.g. 2 MiB over
//! 4 KiB pages) frees the table after calling
//! [`IoPgtableTlb::flush_walk`] for it, then gathers the range as one leaf.
//!
//! C header: [`include/linux/io-pgtable.h`](srctree/include/linux/io-pgtable.h)

use crate::{
    alloc::Flags,
    bindings,
    device::{Bound, Device},
    error::to_result,
    io::PhysAddr,
    iommu::{
        gather::IotlbGather,
        pgtable::{Config, IoPageTableFmt},
    },
    prelude::*,
    sync::aref::ARef,
};
use core::{
    marker::{PhantomData, PhantomPinned},
    ptr::NonNull,
};

pub use crate::iommu::pgtable::ARM64LPAES1;

/// Page table quirks (`IO_PGTABLE_QUIRK_*`) for [`Config::quirks`].
pub mod quirks {
    use crate::bindings;

    /// Set the NS and NSTABLE bits in stage-1 PTEs.
    pub const ARM_NS: usize = bindings::IO_PGTABLE_QUIRK_ARM_NS;
    /// Ignore the permission flags and map everything with full access.
    pub const NO_PERMS: usize = bindings::IO_PGTABLE_QUIRK_NO_PERMS;
    /// Stage 1: configure the table for the upper half of the address space.
    pub const ARM_TTBR1: usize = bindings::IO_PGTABLE_QUIRK_ARM_TTBR1;
    /// Stage 1: outer write-back write-allocate walks on an incoherent walker.
    pub const ARM_OUTER_WBWA: usize = bindings::IO_PGTABLE_QUIRK_ARM_OUTER_WBWA;
    /// Stage 1: hardware dirty tracking (DBM).
    pub const ARM_HD: usize = bindings::IO_PGTABLE_QUIRK_ARM_HD;
    /// Stage 2: FWB format of the memory attributes.
    pub const ARM_S2FWB: usize = bindings::IO_PGTABLE_QUIRK_ARM_S2FWB;
    /// Return errors instead of warning on conflicting or missing mappings.
    pub const NO_WARN: usize = bindings::IO_PGTABLE_QUIRK_NO_WARN;
}

/// The `ARM_64_LPAE_S2` page table format (AArch64 stage 2, as used by the
/// SMMUv3 for stage-2 translation).
pub enum ARM64LPAES2 {}

impl IoPageTableFmt for ARM64LPAES2 {
    const FORMAT: bindings::io_pgtable_fmt =
        bindings::io_pgtable_fmt_ARM_64_LPAE_S2 as bindings::io_pgtable_fmt;
}

/// The TLB maintenance of an [`IoPgTable`] (`struct iommu_flush_ops`).
///
/// The page table code calls these methods, possibly in atomic context (they
/// must not sleep), from any thread, and concurrently for different ranges.
///
/// # Safety
///
/// [`IoPgtableTlb::flush_all`], [`IoPgtableTlb::flush_walk`] and
/// [`IoPgtableTlb::sync_gather`] must have completed the invalidation they
/// ask for (TLB and walk caches, including the wait for its completion,
/// e.g. `CMD_SYNC`) when they return: the page table code (or
/// [`IotlbGather`]) frees the table pages they concern right after, and a
/// walker that still caches them would read freed memory.
///
/// # Examples
///
/// A TLB invalidated by VMID, as for an SMMUv3 stage-2 domain (the
/// invalidation itself is left out):
///
/// ```
/// use kernel::iommu::{gather::IotlbGather, pgtable_tlb::IoPgtableTlb};
///
/// struct S2Tlb {
///     vmid: u16,
/// }
///
/// impl S2Tlb {
///     fn inv_range(&self, iova: usize, size: usize, granule: usize, leaf: bool) {
///         // TLBI_S2_IPA for each `granule` of `[iova, iova + size)` with
///         // `self.vmid`, leaf-only if `leaf`, then CMD_SYNC and wait.
///         let _ = (self.vmid, iova, size, granule, leaf);
///     }
/// }
///
/// // SAFETY: Each invalidation waits for its CMD_SYNC.
/// #[vtable]
/// unsafe impl IoPgtableTlb for S2Tlb {
///     fn flush_all(&self) {
///         // TLBI_S12_VMALL with `self.vmid`, CMD_SYNC and wait.
///     }
///
///     fn flush_walk(&self, iova: usize, size: usize, granule: usize) {
///         self.inv_range(iova, size, granule, false);
///     }
///
///     fn sync_gather(&self, g: &IotlbGather) {
///         self.inv_range(g.start(), g.end() - g.start() + 1, g.pgsize(), true);
///     }
/// }
/// ```
#[vtable]
pub unsafe trait IoPgtableTlb: Send + Sync {
    /// Invalidates everything the table's context caches
    /// (`tlb_flush_all`); also called when the table is freed.
    fn flush_all(&self);

    /// Invalidates the walk caches (and TLB entries) of
    /// `[iova, iova + size)`, whose tables have granule `granule`
    /// (`tlb_flush_walk`). The tables are freed when this returns.
    fn flush_walk(&self, iova: usize, size: usize, granule: usize);

    /// Invalidates the leaf range `gather` collected (`[start, end]`, with
    /// granule `pgsize`), waiting for completion; the pages queued on the
    /// gather are freed right after. Called when a leaf of another granule
    /// or a disjoint range must be gathered ([`IotlbGather::add_page`]); the
    /// domain's `iotlb_sync` usually does the same.
    fn sync_gather(&self, gather: &IotlbGather);

    /// Queues the leaf invalidation of `[iova, iova + granule)` on `gather`
    /// (`tlb_add_page`), for the domain's `iotlb_sync` to issue: by default
    /// [`IotlbGather::add_page`]. Called for each unmapped leaf when an
    /// unmap has a gather that is not queued for a flush-all.
    fn add_page(&self, gather: &IotlbGather, iova: usize, granule: usize) {
        gather.add_page(self, iova, granule);
    }
}

/// The `struct iommu_flush_ops` of `T`, whose cookie is a `*const T`.
struct FlushOps<T: IoPgtableTlb>(PhantomData<T>);

impl<T: IoPgtableTlb> FlushOps<T> {
    const TABLE: bindings::iommu_flush_ops = bindings::iommu_flush_ops {
        tlb_flush_all: Some(Self::flush_all_cb),
        tlb_flush_walk: Some(Self::flush_walk_cb),
        tlb_add_page: Some(Self::add_page_cb),
    };
    const OPS: &'static bindings::iommu_flush_ops = &Self::TABLE;

    /// # Safety
    ///
    /// `cookie` is the cookie of an [`IoPgTable<_, T>`]: a `T` alive for `'a`.
    unsafe fn tlb<'a>(cookie: *mut c_void) -> &'a T {
        // SAFETY: By the caller, `cookie` points to a live, pinned `T`,
        // which is `Sync`.
        unsafe { &*cookie.cast::<T>() }
    }

    extern "C" fn flush_all_cb(cookie: *mut c_void) {
        // SAFETY: io-pgtable passes the cookie the table was allocated with;
        // it only calls the ops while the table exists, i.e. while the
        // `IoPgTable` (which drops its `T` after freeing the table) is alive.
        unsafe { Self::tlb(cookie) }.flush_all();
    }

    extern "C" fn flush_walk_cb(iova: usize, size: usize, granule: usize, cookie: *mut c_void) {
        // SAFETY: As for `flush_all_cb`.
        unsafe { Self::tlb(cookie) }.flush_walk(iova, size, granule);
    }

    extern "C" fn add_page_cb(
        gather: *mut bindings::iommu_iotlb_gather,
        iova: usize,
        granule: usize,
        cookie: *mut c_void,
    ) {
        // SAFETY: As for `flush_all_cb`.
        let tlb = unsafe { Self::tlb(cookie) };
        // io-pgtable only calls `tlb_add_page` with the non-NULL gather given
        // to `unmap_pages` by its caller.
        // SAFETY: That gather is initialised, owned by this thread for the
        // unmap and only accessed through `IotlbGather` references meanwhile.
        let gather = unsafe { IotlbGather::from_raw(gather) };
        tlb.add_page(gather, iova, granule);
    }
}

/// An io-pgtable page table of format `F` whose TLB maintenance is done by
/// the driver's `T`, owned and pinned here.
///
/// Dropping it frees the table with `free_io_pgtable_ops()`, which first
/// calls [`IoPgtableTlb::flush_all`]; then `T` is dropped.
///
/// # Invariants
///
/// - `ops` was returned by `alloc_io_pgtable_ops(F::FORMAT, cfg, &tlb)`, with
///   `cfg.tlb` the `FlushOps<T>` and `cfg.iommu_dev` the device `dev` holds
///   a reference to, and is freed only on drop.
/// - `tlb` is pinned and dropped after `ops` is freed.
///
/// # Examples
///
/// ```
/// use kernel::{
///     device::{Bound, Device},
///     iommu::{
///         gather::IotlbGather,
///         pgtable::{prot, Config},
///         pgtable_tlb::{IoPgTable, IoPgtableTlb, ARM64LPAES2},
///     },
/// };
/// use pin_init::stack_pin_init;
///
/// struct NoHw;
/// // SAFETY: The table is never given to a walker.
/// #[vtable]
/// unsafe impl IoPgtableTlb for NoHw {
///     fn flush_all(&self) {}
///     fn flush_walk(&self, _iova: usize, _size: usize, _granule: usize) {}
///     fn sync_gather(&self, _gather: &IotlbGather) {}
/// }
///
/// fn s2(dev: &Device<Bound>) -> Result {
///     let config = Config {
///         quirks: 0,
///         pgsize_bitmap: 0x4000_1000 | 0x20_0000, // 4K, 2M, 1G
///         ias: 44,
///         oas: 44,
///         coherent_walk: true,
///     };
///     let pt = KBox::pin_init(IoPgTable::<ARM64LPAES2, _>::new(dev, config, NoHw), GFP_KERNEL)?;
///     let vtcr = pt.vtcr();
///     assert_eq!((vtcr.tsz, vtcr.tg, vtcr.ps), (64 - 44, 0, 4));
///     // SAFETY: The table is not live (no STE points to it) and no other
///     // operation runs on it.
///     let (mapped, r) = unsafe {
///         pt.map_pages(0x10_0000, 0x8000_0000, 0x1000, 2, prot::READ | prot::WRITE, GFP_KERNEL)
///     };
///     r?;
///     assert_eq!(mapped, 0x2000);
///     // SAFETY: No concurrent unmap.
///     assert_eq!(unsafe { pt.iova_to_phys(0x10_1234) }, 0x8000_1234);
///     stack_pin_init!(let gather = IotlbGather::new());
///     // SAFETY: No other operation runs on the table.
///     assert_eq!(unsafe { pt.unmap_pages(0x10_0000, 0x1000, 2, Some(&gather)) }, 0x2000);
///     Ok(())
/// }
/// ```
#[pin_data(PinnedDrop)]
pub struct IoPgTable<F: IoPageTableFmt, T: IoPgtableTlb> {
    #[pin]
    tlb: T,
    ops: NonNull<bindings::io_pgtable_ops>,
    dev: ARef<Device>,
    _fmt: PhantomData<F>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: io-pgtable tables are not tied to a thread; `T` and the device
// reference are `Send`.
unsafe impl<F: IoPageTableFmt, T: IoPgtableTlb> Send for IoPgTable<F, T> {}
// SAFETY: io-pgtable operations may run concurrently (their callers keep
// concurrent operations on disjoint ranges, see the `unsafe` methods); the
// shared methods only read the configuration; `T` is `Sync`.
unsafe impl<F: IoPageTableFmt, T: IoPgtableTlb> Sync for IoPgTable<F, T> {}

impl<F: IoPageTableFmt, T: IoPgtableTlb> IoPgTable<F, T> {
    /// Allocates a table of format `F` for the IOMMU `dev` (whose NUMA node
    /// the tables come from and, unless `config.coherent_walk`, whose DMA
    /// API maps them), with its TLB object initialised from `tlb` (a value,
    /// or any pin-initialiser of it).
    ///
    /// Fails with [`ENOMEM`] if io-pgtable refuses the configuration (e.g.
    /// an unsupported quirk, address size or page size) or is out of memory.
    pub fn new<E>(
        dev: &Device<Bound>,
        config: Config,
        tlb: impl PinInit<T, E>,
    ) -> impl PinInit<Self, Error>
    where
        Error: From<E>,
    {
        let dev: ARef<Device> = dev.into();
        let init = move |slot: *mut Self| -> Result {
            // SAFETY: `slot` is valid for writes (pin-init contract).
            let tlb_slot = unsafe { &raw mut (*slot).tlb };
            // SAFETY: `tlb_slot` is valid for writes and pinned (in `*slot`);
            // on error it is left uninitialised, as `__init` requires.
            unsafe { tlb.__init(tlb_slot) }?;
            let mut cfg = bindings::io_pgtable_cfg {
                quirks: config.quirks,
                pgsize_bitmap: config.pgsize_bitmap,
                ias: config.ias,
                oas: config.oas,
                coherent_walk: config.coherent_walk,
                tlb: FlushOps::<T>::OPS,
                iommu_dev: dev.as_raw(),
                ..Zeroable::zeroed()
            };
            // `FlushOps::<T>` accepts the cookie `tlb_slot`, an initialised,
            // pinned `T` that lives until after the table is freed
            // (`PinnedDrop`); `dev` stays referenced for as long as the table.
            // SAFETY: `cfg` is valid for the call; cookie and device as above.
            let ops =
                unsafe { bindings::alloc_io_pgtable_ops(F::FORMAT, &mut cfg, tlb_slot.cast()) };
            let Some(ops) = NonNull::new(ops) else {
                // SAFETY: Initialised above and not used by anything.
                unsafe { core::ptr::drop_in_place(tlb_slot) };
                return Err(ENOMEM);
            };
            // INVARIANT: `ops` from `alloc_io_pgtable_ops()` with `tlb` as
            // cookie and `dev` as `iommu_dev`.
            // SAFETY: The other fields of `*slot` are valid for writes.
            unsafe {
                (&raw mut (*slot).ops).write(ops);
                (&raw mut (*slot).dev).write(dev);
                (&raw mut (*slot)._fmt).write(PhantomData);
                (&raw mut (*slot)._pin).write(PhantomPinned);
            }
            Ok(())
        };
        // SAFETY: `init` initialises every field of `*slot` on success and
        // leaves none initialised on failure; it does not move `*slot`.
        unsafe { pin_init::pin_init_from_closure(init) }
    }

    /// The driver's TLB object.
    pub fn tlb(&self) -> &T {
        &self.tlb
    }

    /// The IOMMU device the table was allocated for.
    pub fn device(&self) -> &Device {
        &self.dev
    }

    /// The raw `struct io_pgtable_ops`.
    pub fn raw_ops(&self) -> *mut bindings::io_pgtable_ops {
        self.ops.as_ptr()
    }

    /// The configuration io-pgtable settled on (`struct io_pgtable_cfg`).
    fn cfg(&self) -> &bindings::io_pgtable_cfg {
        // SAFETY: `ops` is the `ops` field of a live `struct io_pgtable`
        // (type invariant), whose `cfg` is not written after allocation.
        unsafe {
            let iop = crate::container_of!(self.raw_ops(), bindings::io_pgtable, ops);
            &(*iop).cfg
        }
    }

    /// The page sizes the table supports: those of [`Config::pgsize_bitmap`]
    /// that the format allows with the granule it chose. What the domain's
    /// `pgsize_bitmap` must be.
    pub fn pgsize_bitmap(&self) -> usize {
        self.cfg().pgsize_bitmap
    }

    /// The input address size, in bits: the domain's aperture is
    /// `[0, 2^ias - 1]`.
    pub fn ias(&self) -> u32 {
        self.cfg().ias
    }

    /// The output address size, in bits.
    pub fn oas(&self) -> u32 {
        self.cfg().oas
    }

    /// The quirks the table was allocated with.
    pub fn quirks(&self) -> usize {
        self.cfg().quirks
    }

    /// Whether the walker is coherent with the CPU caches.
    pub fn coherent_walk(&self) -> bool {
        self.cfg().coherent_walk
    }

    /// Maps `pgcount` pages of size `pgsize` at `iova` to the physically
    /// contiguous `paddr` with `IOMMU_*` protection `prot`
    /// ([`crate::iommu::pgtable::prot`]), allocating tables with `gfp`.
    ///
    /// Returns how many bytes were mapped (a prefix of the range; the caller
    /// maps the rest with another call) and whether an error occurred, in
    /// which case the caller usually unmaps what was mapped. No TLB
    /// maintenance is needed before the IOMMU uses the new mapping (the
    /// walker never caches invalid entries).
    ///
    /// # Safety
    ///
    /// - No other operation on this table accesses `[iova, iova +
    ///   pgsize * pgcount)` while this one runs.
    /// - If the table is live, the IOMMU's masters may access `paddr` for as
    ///   long as it stays mapped.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn map_pages(
        &self,
        iova: usize,
        paddr: PhysAddr,
        pgsize: usize,
        pgcount: usize,
        prot: u32,
        gfp: Flags,
    ) -> (usize, Result) {
        let mut mapped = 0;
        let ops = self.raw_ops();
        // SAFETY: `ops` is valid (type invariant).
        let Some(map_pages) = (unsafe { (*ops).map_pages }) else {
            return (0, Err(EOPNOTSUPP));
        };
        // SAFETY: `ops` is valid; the caller keeps other operations off the
        // range; `mapped` is valid for writes.
        let ret = to_result(unsafe {
            map_pages(
                ops,
                iova,
                paddr,
                pgsize,
                pgcount,
                prot as c_int,
                gfp.as_raw(),
                &mut mapped,
            )
        });
        (mapped, ret)
    }

    /// Unmaps up to `pgcount` pages of size `pgsize` from `iova` and returns
    /// how many bytes were unmapped (a prefix; 0 if `iova` is not mapped
    /// with a leaf of at most `pgsize`, e.g. inside a larger block, which is
    /// never split).
    ///
    /// Tables that the range covers are freed after
    /// [`IoPgtableTlb::flush_walk`]; unmapped leaves are handed to
    /// [`IoPgtableTlb::add_page`] with `gather`, unless it is `None` or
    /// [queued](IotlbGather::queued): the caller then invalidates them.
    ///
    /// # Safety
    ///
    /// No other operation on this table accesses `[iova, iova +
    /// pgsize * pgcount)` while this one runs.
    #[must_use]
    pub unsafe fn unmap_pages(
        &self,
        iova: usize,
        pgsize: usize,
        pgcount: usize,
        gather: Option<&IotlbGather>,
    ) -> usize {
        let ops = self.raw_ops();
        let gather = gather.map_or(core::ptr::null_mut(), IotlbGather::as_raw);
        // SAFETY: `ops` is valid (type invariant).
        let Some(unmap_pages) = (unsafe { (*ops).unmap_pages }) else {
            return 0;
        };
        // SAFETY: `ops` is valid; the caller keeps other operations off the
        // range; `gather` is NULL or an initialised gather of this thread.
        unsafe { unmap_pages(ops, iova, pgsize, pgcount, gather) }
    }

    /// The physical address `iova` translates to, or 0 if it is not mapped.
    ///
    /// # Safety
    ///
    /// No unmap of a range containing `iova` runs concurrently (it may free
    /// the tables this walks).
    pub unsafe fn iova_to_phys(&self, iova: usize) -> PhysAddr {
        let ops = self.raw_ops();
        // SAFETY: `ops` is valid (type invariant). A format without a walker
        // for the CPU answers "not mapped".
        let Some(iova_to_phys) = (unsafe { (*ops).iova_to_phys }) else {
            return 0;
        };
        // SAFETY: `ops` is valid; the caller excludes concurrent unmaps.
        unsafe { iova_to_phys(ops, iova) }
    }
}

#[pinned_drop]
impl<F: IoPageTableFmt, T: IoPgtableTlb> PinnedDrop for IoPgTable<F, T> {
    fn drop(self: Pin<&mut Self>) {
        // Freeing calls `T::flush_all` with the cookie: `tlb` is still alive
        // (fields are dropped after this). The table is not live: the
        // accessors that give its address to hardware ([`IoPgTable::ttbr`],
        // [`IoPgTable::vttbr`]) require that the walker stops using it first.
        // SAFETY: `ops` came from `alloc_io_pgtable_ops()`; freed once, here.
        unsafe { bindings::free_io_pgtable_ops(self.ops.as_ptr()) };
    }
}

/// The stage-1 translation control fields io-pgtable chose (`TCR`, as in
/// the SMMUv3 context descriptor's `T0SZ`, `TG0`, `IR0`, `OR0`, `SH0`, `IPS`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Tcr {
    /// Intermediate physical address size (`IPS`).
    pub ips: u32,
    /// Translation granule (`TG0`, or `TG1` with [`quirks::ARM_TTBR1`]).
    pub tg: u32,
    /// Shareability of the walks (`SH0`).
    pub sh: u32,
    /// Outer cacheability of the walks (`ORGN0`).
    pub orgn: u32,
    /// Inner cacheability of the walks (`IRGN0`).
    pub irgn: u32,
    /// `64 - ias` (`T0SZ`).
    pub tsz: u32,
}

impl<T: IoPgtableTlb> IoPgTable<ARM64LPAES1, T> {
    /// The physical address of the top-level table (`TTBR`), to hand to
    /// the IOMMU.
    ///
    /// # Safety
    ///
    /// The table is freed when the `IoPgTable` is dropped: whoever gives the
    /// address to hardware must make it stop walking the table (and drop
    /// cached walks) before then, as a driver does for a domain's table by
    /// rewriting every STE/CD that points at it when the domain is detached
    /// (the IOMMU core frees a domain only once it is detached from every
    /// device).
    pub unsafe fn ttbr(&self) -> u64 {
        // SAFETY: `arm_lpae_s1_cfg` is the union member of `ARM_64_LPAE_S1`.
        unsafe { self.cfg().__bindgen_anon_1.arm_lpae_s1_cfg.ttbr }
    }

    /// The translation control fields.
    pub fn tcr(&self) -> Tcr {
        // SAFETY: `arm_lpae_s1_cfg` is the union member of `ARM_64_LPAE_S1`.
        let t = unsafe { &self.cfg().__bindgen_anon_1.arm_lpae_s1_cfg.tcr };
        Tcr {
            ips: t.ips(),
            tg: t.tg(),
            sh: t.sh(),
            orgn: t.orgn(),
            irgn: t.irgn(),
            tsz: t.tsz(),
        }
    }

    /// The memory attribute indirection register value (`MAIR`).
    pub fn mair(&self) -> u64 {
        // SAFETY: `arm_lpae_s1_cfg` is the union member of `ARM_64_LPAE_S1`.
        unsafe { self.cfg().__bindgen_anon_1.arm_lpae_s1_cfg.mair }
    }
}

/// The stage-2 translation control fields io-pgtable chose (`VTCR`, as in
/// the SMMUv3 STE's `S2T0SZ`, `S2SL0`, `S2IR0`, `S2OR0`, `S2SH0`, `S2TG`,
/// `S2PS`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Vtcr {
    /// Physical address size (`PS`).
    pub ps: u32,
    /// Translation granule (`TG0`).
    pub tg: u32,
    /// Shareability of the walks (`SH0`).
    pub sh: u32,
    /// Outer cacheability of the walks (`ORGN0`).
    pub orgn: u32,
    /// Inner cacheability of the walks (`IRGN0`).
    pub irgn: u32,
    /// Starting level of the walk (`SL0`, encoded).
    pub sl: u32,
    /// `64 - ias` (`T0SZ`).
    pub tsz: u32,
}

impl<T: IoPgtableTlb> IoPgTable<ARM64LPAES2, T> {
    /// The physical address of the (possibly concatenated) top-level table
    /// (`VTTBR`), to hand to the IOMMU.
    ///
    /// # Safety
    ///
    /// As for [`IoPgTable::ttbr`]: the IOMMU must have stopped walking the
    /// table before the `IoPgTable` is dropped.
    pub unsafe fn vttbr(&self) -> u64 {
        // SAFETY: `arm_lpae_s2_cfg` is the union member of `ARM_64_LPAE_S2`.
        unsafe { self.cfg().__bindgen_anon_1.arm_lpae_s2_cfg.vttbr }
    }

    /// The translation control fields.
    pub fn vtcr(&self) -> Vtcr {
        // SAFETY: `arm_lpae_s2_cfg` is the union member of `ARM_64_LPAE_S2`.
        let t = unsafe { &self.cfg().__bindgen_anon_1.arm_lpae_s2_cfg.vtcr };
        Vtcr {
            ps: t.ps(),
            tg: t.tg(),
            sh: t.sh(),
            orgn: t.orgn(),
            irgn: t.irgn(),
            sl: t.sl(),
            tsz: t.tsz(),
        }
    }
}

#[macros::kunit_tests(rust_kernel_iommu_pgtable_tlb)]
mod tests {
    use super::*;
    use crate::{
        faux,
        iommu::{
            domain::{Domain, DomainOps, Geometry, OwnedDomain},
            fwspec::Fwspec,
            ops::IommuOps,
            pgtable::prot,
        },
        new_spinlock,
        sync::{Arc, SpinLock},
    };
    use pin_init::stack_pin_init;

    const SZ_4K: usize = 0x1000;
    const SZ_2M: usize = 0x20_0000;
    const SZ_1G: usize = 0x4000_0000;
    const RW: u32 = prot::READ | prot::WRITE;

    /// What the TLB object and the domain saw.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Ev {
        FlushAll,
        /// `flush_walk(iova, size, granule)`.
        Walk(usize, usize, usize),
        /// `add_page(iova, granule)`.
        Page(usize, usize),
        /// The range `add_page` synced before gathering a new one:
        /// `(start, end, pgsize)`.
        Sync(usize, usize, usize),
        /// The domain's `iotlb_sync`: `(start, end, pgsize)`.
        DomainSync(usize, usize, usize),
    }

    type Log = Arc<SpinLock<KVec<Ev>>>;

    fn new_log() -> Result<Log> {
        Arc::pin_init(new_spinlock!(KVec::new()), GFP_KERNEL)
    }

    fn record(log: &Log, ev: Ev) {
        // The callbacks may run in atomic context. A lost event fails the
        // comparison that follows.
        let _ = log.lock().push(ev, GFP_ATOMIC);
    }

    /// Takes the events recorded so far and compares them with `want`.
    fn expect(log: &Log, want: &[Ev]) -> bool {
        let got = core::mem::take(&mut *log.lock());
        if &got[..] != want {
            pr_err!("TLB events: got {:?}, want {:?}\n", &got[..], want);
            return false;
        }
        true
    }

    /// Records every callback; gathers leaves as the SMMUv3 driver does.
    struct Recorder {
        log: Log,
    }

    // SAFETY: The tables of these tests are never given to a walker.
    #[vtable]
    unsafe impl IoPgtableTlb for Recorder {
        fn flush_all(&self) {
            record(&self.log, Ev::FlushAll);
        }

        fn flush_walk(&self, iova: usize, size: usize, granule: usize) {
            record(&self.log, Ev::Walk(iova, size, granule));
        }

        fn sync_gather(&self, g: &IotlbGather) {
            record(&self.log, Ev::Sync(g.start(), g.end(), g.pgsize()));
        }

        fn add_page(&self, gather: &IotlbGather, iova: usize, granule: usize) {
            record(&self.log, Ev::Page(iova, granule));
            gather.add_page(self, iova, granule);
        }
    }

    /// Invalidates nothing: for tables never given to a walker.
    struct NoWalker;

    // SAFETY: As for `Recorder`.
    #[vtable]
    unsafe impl IoPgtableTlb for NoWalker {
        fn flush_all(&self) {}
        fn flush_walk(&self, _iova: usize, _size: usize, _granule: usize) {}
        fn sync_gather(&self, _gather: &IotlbGather) {}
    }

    fn config(ias: u32, oas: u32, quirks: usize) -> Config {
        Config {
            quirks,
            pgsize_bitmap: SZ_4K | SZ_2M | SZ_1G,
            ias,
            oas,
            coherent_walk: true,
        }
    }

    // The tables of these tests are never live and only used by the test's
    // thread, which is all the `unsafe` operations need.

    fn map<F: IoPageTableFmt, T: IoPgtableTlb>(
        pt: &IoPgTable<F, T>,
        iova: usize,
        paddr: PhysAddr,
        pgsize: usize,
        pgcount: usize,
        prot: u32,
    ) -> (usize, Result) {
        // SAFETY: See above.
        unsafe { pt.map_pages(iova, paddr, pgsize, pgcount, prot, GFP_KERNEL) }
    }

    fn unmap<F: IoPageTableFmt, T: IoPgtableTlb>(
        pt: &IoPgTable<F, T>,
        iova: usize,
        pgsize: usize,
        pgcount: usize,
        gather: Option<&IotlbGather>,
    ) -> usize {
        // SAFETY: See above.
        unsafe { pt.unmap_pages(iova, pgsize, pgcount, gather) }
    }

    fn phys<F: IoPageTableFmt, T: IoPgtableTlb>(pt: &IoPgTable<F, T>, iova: usize) -> PhysAddr {
        // SAFETY: See above.
        unsafe { pt.iova_to_phys(iova) }
    }

    /// A bound device for the tables' `iommu_dev`: with `coherent_walk`
    /// io-pgtable only reads its NUMA node.
    ///
    /// One name per test: a failed assertion ends the test without dropping
    /// its registration.
    fn faux_dev(name: &CStr) -> Result<faux::Registration> {
        faux::Registration::new(name, None)
    }

    fn bound(reg: &faux::Registration) -> &Device<Bound> {
        let fdev: &faux::Device<Bound> = reg.as_ref();
        fdev.as_ref()
    }

    /// Suppresses (and counts) WARN backtraces of the current test.
    struct SuppressWarnings(*mut bindings::kunit_suppressed_warning);

    impl SuppressWarnings {
        fn new() -> Self {
            // SAFETY: Called from a KUnit test; returns NULL (and fails the
            // test) on error, which the other functions accept.
            Self(unsafe {
                bindings::kunit_start_suppress_warning(bindings::kunit_get_current_test())
            })
        }

        fn count(&self) -> i32 {
            // SAFETY: `self.0` is NULL or a live suppression of this test.
            unsafe { bindings::kunit_suppressed_warning_count(self.0) }
        }
    }

    impl Drop for SuppressWarnings {
        fn drop(&mut self) {
            if !self.0.is_null() {
                // SAFETY: Started by `new` in the current test, ended once.
                unsafe {
                    bindings::kunit_end_suppress_warning(bindings::kunit_get_current_test(), self.0)
                };
            }
        }
    }

    #[test]
    fn s2_map_unmap_tlb() -> Result {
        let reg = faux_dev(c"rust-iommu-pt-s2-map-unmap-tlb")?;
        let log = new_log()?;
        let pt = KBox::pin_init(
            IoPgTable::<ARM64LPAES2, _>::new(
                bound(&reg),
                config(44, 44, 0),
                Recorder { log: log.clone() },
            ),
            GFP_KERNEL,
        )?;
        assert_eq!(pt.pgsize_bitmap(), SZ_4K | SZ_2M | SZ_1G);
        assert_eq!((pt.ias(), pt.oas(), pt.quirks()), (44, 44, 0));
        assert!(pt.coherent_walk());
        // 44 bits with 4K pages: a 4-level walk from level 0 (SL0 = 2),
        // inner-shareable write-back walks.
        assert_eq!(
            pt.vtcr(),
            Vtcr {
                ps: 4,
                tg: 0,
                sh: 3,
                orgn: 1,
                irgn: 1,
                sl: 2,
                tsz: 20
            }
        );
        // SAFETY: The address is only compared, never given to a walker.
        let vttbr = unsafe { pt.vttbr() };
        assert!(vttbr != 0 && vttbr % SZ_4K as u64 == 0);

        let (n, r) = map(&pt, 0x10_0000, 0x4000_0000, SZ_4K, 4, RW);
        assert!(r.is_ok());
        assert_eq!(n, 4 * SZ_4K);
        let (n, r) = map(&pt, 0x40_0000, 0x8020_0000, SZ_2M, 1, RW);
        assert!(r.is_ok());
        assert_eq!(n, SZ_2M);
        assert_eq!(phys(&pt, 0x10_0000), 0x4000_0000);
        assert_eq!(phys(&pt, 0x10_3abc), 0x4000_3abc);
        assert_eq!(phys(&pt, 0x10_4000), 0);
        assert_eq!(phys(&pt, 0x41_2345), 0x8021_2345);
        assert_eq!(phys(&pt, 0x60_0000), 0);
        // Mapping needs no TLB maintenance.
        assert!(expect(&log, &[]));

        stack_pin_init!(let g = IotlbGather::new());
        // Two of the four pages: one leaf invalidation each, gathered.
        assert_eq!(unmap(&pt, 0x10_0000, SZ_4K, 2, Some(&g)), 2 * SZ_4K);
        assert!(expect(
            &log,
            &[Ev::Page(0x10_0000, SZ_4K), Ev::Page(0x10_1000, SZ_4K)]
        ));
        assert_eq!(
            (g.start(), g.end(), g.pgsize()),
            (0x10_0000, 0x10_1fff, SZ_4K)
        );
        assert_eq!(phys(&pt, 0x10_1000), 0);
        assert_eq!(phys(&pt, 0x10_2000), 0x4000_2000);

        // The block: another granule, so the 4K range is synced first.
        assert_eq!(unmap(&pt, 0x40_0000, SZ_2M, 1, Some(&g)), SZ_2M);
        assert!(expect(
            &log,
            &[
                Ev::Page(0x40_0000, SZ_2M),
                Ev::Sync(0x10_0000, 0x10_1fff, SZ_4K)
            ]
        ));
        assert_eq!(
            (g.start(), g.end(), g.pgsize()),
            (0x40_0000, 0x5f_ffff, SZ_2M)
        );
        assert_eq!(phys(&pt, 0x41_2345), 0);

        // 2M over the table holding the two remaining pages: the walk
        // cache is flushed for the table (granule 4K), which is freed,
        // and the range is gathered as one 2M leaf, disjoint from the
        // gathered one, which is synced first.
        assert_eq!(unmap(&pt, 0, SZ_2M, 1, Some(&g)), SZ_2M);
        assert!(expect(
            &log,
            &[
                Ev::Walk(0, SZ_2M, SZ_4K),
                Ev::Page(0, SZ_2M),
                Ev::Sync(0x40_0000, 0x5f_ffff, SZ_2M)
            ]
        ));
        assert_eq!((g.start(), g.end(), g.pgsize()), (0, 0x1f_ffff, SZ_2M));
        assert_eq!(phys(&pt, 0x10_2000), 0);
        g.sync(pt.tlb());
        assert!(expect(&log, &[Ev::Sync(0, 0x1f_ffff, SZ_2M)]));
        assert!(g.is_empty());

        // Freeing the table flushes everything, through the TLB object.
        drop(pt);
        assert!(expect(&log, &[Ev::FlushAll]));
        Ok(())
    }

    #[test]
    fn s2_partial_block_unmap_does_not_split() -> Result {
        let reg = faux_dev(c"rust-iommu-pt-s2-partial-block-unmap-does-no")?;
        let log = new_log()?;
        let pt = KBox::pin_init(
            IoPgTable::<ARM64LPAES2, _>::new(
                bound(&reg),
                config(40, 40, quirks::NO_WARN),
                Recorder { log: log.clone() },
            ),
            GFP_KERNEL,
        )?;
        // 40 bits with 4K pages: two concatenated level-1 tables (SL0 = 1).
        assert_eq!(
            pt.vtcr(),
            Vtcr {
                ps: 2,
                tg: 0,
                sh: 3,
                orgn: 1,
                irgn: 1,
                sl: 1,
                tsz: 24
            }
        );
        stack_pin_init!(let g = IotlbGather::new());
        let (n, r) = map(&pt, 0x40_0000, 0x8020_0000, SZ_2M, 1, RW);
        assert!(r.is_ok());
        assert_eq!(n, SZ_2M);

        // 4K out of the block, at its start and inside it: nothing is
        // unmapped (io-pgtable-arm warns once per boot, even with
        // `NO_WARN`), nothing is invalidated, the block stays whole.
        let w = SuppressWarnings::new();
        assert_eq!(unmap(&pt, 0x40_1000, SZ_4K, 1, Some(&g)), 0);
        assert_eq!(unmap(&pt, 0x40_0000, SZ_4K, 1, Some(&g)), 0);
        assert!(w.count() <= 1);
        drop(w);
        assert!(expect(&log, &[]));
        assert!(g.is_empty());
        assert_eq!(phys(&pt, 0x40_0000), 0x8020_0000);
        assert_eq!(phys(&pt, 0x40_1abc), 0x8020_1abc);
        assert_eq!(phys(&pt, 0x5f_ffff), 0x803f_ffff);

        // Mapping a page inside the block fails (`NO_WARN`: silently).
        let (n, r) = map(&pt, 0x40_1000, 0x1000_0000, SZ_4K, 1, RW);
        assert_eq!(n, 0);
        assert!(r == Err(EEXIST));
        assert_eq!(phys(&pt, 0x40_1000), 0x8020_1000);

        // Unmapping the whole block works.
        assert_eq!(unmap(&pt, 0x40_0000, SZ_2M, 1, Some(&g)), SZ_2M);
        assert!(expect(&log, &[Ev::Page(0x40_0000, SZ_2M)]));
        assert_eq!(phys(&pt, 0x40_1000), 0);

        // With `NO_WARN`, unmapping what is not mapped returns 0.
        assert_eq!(unmap(&pt, 0x40_0000, SZ_2M, 1, Some(&g)), 0);
        assert!(expect(&log, &[]));
        Ok(())
    }

    #[test]
    fn s1_map_unmap_tlb() -> Result {
        let reg = faux_dev(c"rust-iommu-pt-s1-map-unmap-tlb")?;
        let log = new_log()?;
        let pt = KBox::pin_init(
            IoPgTable::<ARM64LPAES1, _>::new(
                bound(&reg),
                config(48, 44, 0),
                Recorder { log: log.clone() },
            ),
            GFP_KERNEL,
        )?;
        assert_eq!(
            pt.tcr(),
            Tcr {
                ips: 4,
                tg: 0,
                sh: 3,
                orgn: 1,
                irgn: 1,
                tsz: 16
            }
        );
        // NC, write-back, device, inner-NC/outer-WB at indexes 0 to 3; the
        // C code computes it in `int`, so the top attribute's sign bit
        // extends over indexes 4 to 7 (unused), as the C driver's CDs have.
        assert_eq!(pt.mair(), 0xffff_ffff_f404_ff44);
        // SAFETY: The address is only compared, never given to a walker.
        let ttbr = unsafe { pt.ttbr() };
        assert!(ttbr != 0 && ttbr % SZ_4K as u64 == 0);

        stack_pin_init!(let g = IotlbGather::new());
        let (n, r) = map(&pt, 0xffff_0000_0000, 0x1234_5000, SZ_4K, 3, prot::READ);
        assert!(r.is_ok());
        assert_eq!(n, 3 * SZ_4K);
        let (n, r) = map(&pt, 0x20_0000, 0x20_0000, SZ_2M, 2, RW);
        assert!(r.is_ok());
        assert_eq!(n, 2 * SZ_2M);
        assert_eq!(phys(&pt, 0xffff_0000_2fff), 0x1234_7fff);
        assert_eq!(phys(&pt, 0x5f_ffff), 0x5f_ffff);
        assert!(expect(&log, &[]));

        assert_eq!(unmap(&pt, 0x20_0000, SZ_2M, 2, Some(&g)), 2 * SZ_2M);
        assert!(expect(
            &log,
            &[Ev::Page(0x20_0000, SZ_2M), Ev::Page(0x40_0000, SZ_2M)]
        ));
        assert_eq!(
            (g.start(), g.end(), g.pgsize()),
            (0x20_0000, 0x5f_ffff, SZ_2M)
        );
        // Without a gather, leaves are not handed to the TLB object.
        assert_eq!(unmap(&pt, 0xffff_0000_0000, SZ_4K, 3, None), 3 * SZ_4K);
        assert!(expect(&log, &[]));
        assert_eq!(phys(&pt, 0xffff_0000_0000), 0);
        drop(pt);
        assert!(expect(&log, &[Ev::FlushAll]));
        Ok(())
    }

    /// `add_page` gathers by default: an unmap leaves its leaves on the
    /// gather for `iotlb_sync`.
    #[test]
    fn add_page_gathers_by_default() -> Result {
        let reg = faux_dev(c"rust-iommu-pt-add-page-gathers-by-default")?;
        let pt = KBox::pin_init(
            IoPgTable::<ARM64LPAES2, _>::new(bound(&reg), config(44, 44, 0), NoWalker),
            GFP_KERNEL,
        )?;
        stack_pin_init!(let g = IotlbGather::new());
        let (n, r) = map(&pt, 0, 0, SZ_4K, 2, RW);
        assert!(r.is_ok() && n == 2 * SZ_4K);
        assert_eq!(unmap(&pt, 0, SZ_4K, 2, Some(&g)), 2 * SZ_4K);
        assert_eq!((g.start(), g.end(), g.pgsize()), (0, 2 * SZ_4K - 1, SZ_4K));
        Ok(())
    }

    #[test]
    fn bad_config_fails() -> Result {
        let reg = faux_dev(c"rust-iommu-pt-bad-config-fails")?;
        // Stage 2 takes no stage-1 quirk.
        let r = KBox::pin_init(
            IoPgTable::<ARM64LPAES2, _>::new(
                bound(&reg),
                config(44, 44, quirks::ARM_TTBR1),
                NoWalker,
            ),
            GFP_KERNEL,
        );
        assert!(r.is_err());
        // No granule io-pgtable-arm supports.
        let mut c = config(44, 44, 0);
        c.pgsize_bitmap = SZ_2M;
        let r = KBox::pin_init(
            IoPgTable::<ARM64LPAES1, _>::new(bound(&reg), c, NoWalker),
            GFP_KERNEL,
        );
        assert!(r.is_err());
        Ok(())
    }

    struct NoIommu;

    #[vtable]
    impl IommuOps for NoIommu {
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

    /// A stage-2 paging domain as the SMMUv3 driver builds one.
    #[pin_data]
    struct S2Domain {
        #[pin]
        pt: IoPgTable<ARM64LPAES2, Recorder>,
    }

    #[vtable]
    impl DomainOps for S2Domain {
        type Iommu = NoIommu;

        fn attach_dev(
            _d: &Domain<Self>,
            _i: &NoIommu,
            _p: &Device<Bound>,
            _dev: &Device,
            _m: Pin<&()>,
        ) -> Result {
            Err(ENODEV)
        }

        unsafe fn map_pages(
            d: &Domain<Self>,
            iova: usize,
            paddr: PhysAddr,
            pgsize: usize,
            pgcount: usize,
            prot: u32,
            gfp: Flags,
        ) -> (usize, Result) {
            // SAFETY: Our caller's guarantees are the table's requirements.
            unsafe {
                d.data()
                    .pt
                    .map_pages(iova, paddr, pgsize, pgcount, prot, gfp)
            }
        }

        unsafe fn unmap_pages(
            d: &Domain<Self>,
            iova: usize,
            pgsize: usize,
            pgcount: usize,
            gather: &IotlbGather,
        ) -> usize {
            // SAFETY: As for `map_pages`.
            unsafe { d.data().pt.unmap_pages(iova, pgsize, pgcount, Some(gather)) }
        }

        fn iotlb_sync(d: &Domain<Self>, g: &IotlbGather) {
            record(
                &d.data().pt.tlb().log,
                Ev::DomainSync(g.start(), g.end(), g.pgsize()),
            );
        }

        fn flush_iotlb_all(d: &Domain<Self>) {
            d.data().pt.tlb().flush_all();
        }

        unsafe fn iova_to_phys(d: &Domain<Self>, iova: u64) -> PhysAddr {
            // SAFETY: As for `map_pages`.
            unsafe { d.data().pt.iova_to_phys(iova as usize) }
        }
    }

    #[test]
    fn domain_ops_through_the_core() -> Result {
        let reg = faux_dev(c"rust-iommu-pt-domain-ops-through-the-core")?;
        let log = new_log()?;
        let rec = Recorder { log: log.clone() };
        let mut d = Domain::new(
            try_pin_init!(S2Domain {
                pt <- IoPgTable::new(bound(&reg), config(44, 44, 0), rec),
            }? Error),
            GFP_KERNEL,
        )?;
        let (pgsizes, ias) = (d.data().pt.pgsize_bitmap(), d.data().pt.ias());
        d.as_mut().set_paging(pgsizes, Geometry::from_ias(ias));
        assert_eq!(d.pgsize_bitmap(), SZ_4K | SZ_2M | SZ_1G);
        assert_eq!(
            d.geometry(),
            Geometry {
                aperture_start: 0,
                aperture_end: (1 << 44) - 1,
                force_aperture: true
            }
        );
        let raw = d.as_raw();
        // `raw` is a paging domain whose table is not live, used by this
        // thread only: what the core's functions need.
        // SAFETY: See above.
        let map = |iova, paddr, size| unsafe {
            bindings::iommu_map(raw, iova, paddr, size, RW as i32, GFP_KERNEL.as_raw())
        };
        // SAFETY: See above.
        let unmap = |iova, size| unsafe { bindings::iommu_unmap(raw, iova, size) };
        // SAFETY: See above.
        let phys = |iova| unsafe { bindings::iommu_iova_to_phys(raw, iova) };

        // 2M + 8K: the core splits it into a 2M block and two pages.
        assert_eq!(map(0x40_0000, 0x8000_0000, SZ_2M + 2 * SZ_4K), 0);
        assert_eq!(phys(0x41_0000), 0x8001_0000);
        assert_eq!(phys(0x60_1234), 0x8020_1234);
        assert!(expect(&log, &[]));

        // `iommu_unmap()`: one gather, synced once by the domain.
        assert_eq!(unmap(0x40_0000, SZ_2M + 2 * SZ_4K), SZ_2M + 2 * SZ_4K);
        assert!(expect(
            &log,
            &[
                Ev::Page(0x40_0000, SZ_2M),
                Ev::Page(0x60_0000, SZ_4K),
                Ev::Sync(0x40_0000, 0x5f_ffff, SZ_2M),
                Ev::Page(0x60_1000, SZ_4K),
                Ev::DomainSync(0x60_0000, 0x60_1fff, SZ_4K),
            ]
        ));
        assert_eq!(phys(0x60_1234), 0);

        // Partial unmap of a block through the core: nothing is unmapped.
        assert_eq!(map(0, 0, SZ_2M), 0);
        let w = SuppressWarnings::new();
        let n = unmap(0x1000, SZ_4K);
        assert!(w.count() <= 1);
        drop(w);
        assert_eq!(n, 0);
        assert!(expect(&log, &[]));
        assert_eq!(phys(0x1000), 0x1000);
        assert_eq!(unmap(0, SZ_2M), SZ_2M);
        assert!(expect(
            &log,
            &[Ev::Page(0, SZ_2M), Ev::DomainSync(0, 0x1f_ffff, SZ_2M)]
        ));

        // `iommu_flush_iotlb_all()` (inline in C).
        // SAFETY: `raw` is valid, its `ops` are `Domain::<S2Domain>::OPS`.
        let flush = unsafe { (*(*raw).ops).flush_iotlb_all };
        assert!(flush.is_some());
        if let Some(flush) = flush {
            // SAFETY: `raw` is a valid domain of these ops.
            unsafe { flush(raw) };
        }
        assert!(expect(&log, &[Ev::FlushAll]));

        // Handed to the core and freed by its `free` op: the table's
        // `flush_all` runs before the TLB object is dropped.
        let owned = OwnedDomain::new(d)?;
        drop(owned);
        assert!(expect(&log, &[Ev::FlushAll]));
        Ok(())
    }

    #[test]
    fn owned_domain_needs_page_sizes() -> Result {
        let reg = faux_dev(c"rust-iommu-pt-owned-domain-needs-page-sizes")?;
        let log = new_log()?;
        let rec = Recorder { log: log.clone() };
        let d = Domain::new(
            try_pin_init!(S2Domain {
                pt <- IoPgTable::new(bound(&reg), config(44, 44, 0), rec),
            }? Error),
            GFP_KERNEL,
        )?;
        assert!(OwnedDomain::new(d).err() == Some(EINVAL));
        // Dropped, with its table.
        assert!(expect(&log, &[Ev::FlushAll]));
        Ok(())
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Memory of the tables the SMMU walks (stream tables, CD tables), from
//! iommu-pages, coherent or not, and the writing of their 8-qword entries
//! through the hitless entry writer.
//!
//! On an SMMU that does not snoop the CPU caches (no `dma-coherent`,
//! IDR0.COHACC = 0) the pages are incoherent and every update is cleaned to
//! the point of coherency before the SMMU is told to look at it; the number
//! of such cache maintenance operations is counted, so tests can see them.

use crate::hw::writer::{self, EntryKind, EntryTarget, Plan, Qwords, ENTRY_QWORDS};
use kernel::{
    device::{Bound, Device},
    iommu::pages::{IncoherentIommuPages, IommuPages},
    kho::RestoredFolio,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        barrier::{dma_mb, Write},
    },
};

/// A block of table memory the SMMU reads.
pub(crate) enum TableMem {
    /// The SMMU snoops the CPU caches.
    Coherent(IommuPages),
    /// Stores must be flushed before the SMMU may read them.
    Incoherent(IncoherentIommuPages),
    /// Handed over by the previous kernel (live update), which the SMMU
    /// kept walking; coherent (live update refuses incoherent SMMUs).
    Adopted(RestoredFolio),
}

/// Cache maintenance operations issued on table memory, for all SMMUs.
pub(crate) static CMOS: Atomic<u64> = Atomic::new(0);

/// Entry updates on incoherent tables of one kind, for all SMMUs: the
/// writer's steps that stored qwords, and those of them whose stores were
/// all cleaned to the point of coherency before the step's sync. Tests
/// compare the two (they differ if a clean is missed or fails).
pub(crate) struct IncoherentUpdates {
    steps: Atomic<u64>,
    cleaned: Atomic<u64>,
}

impl IncoherentUpdates {
    const fn new() -> Self {
        Self {
            steps: Atomic::new(0),
            cleaned: Atomic::new(0),
        }
    }

    /// Steps so far, and how many of them were cleaned.
    pub(crate) fn get(&self) -> (u64, u64) {
        (self.steps.load(Relaxed), self.cleaned.load(Relaxed))
    }
}

/// STE updates on incoherent stream tables.
pub(crate) static STE_UPDATES: IncoherentUpdates = IncoherentUpdates::new();
/// CD updates on incoherent CD tables.
pub(crate) static CD_UPDATES: IncoherentUpdates = IncoherentUpdates::new();

impl TableMem {
    /// `bytes` of zeroed table memory near `dev`, incoherent for `dev` unless
    /// `coherent`.
    pub(crate) fn alloc(dev: &Device<Bound>, bytes: usize, coherent: bool) -> Result<Self> {
        let pages = IommuPages::alloc(Some(dev), bytes, GFP_KERNEL)?;
        if coherent {
            return Ok(Self::Coherent(pages));
        }
        match pages.into_incoherent(dev) {
            Ok(p) => Ok(Self::Incoherent(p)),
            Err((_, e)) => Err(e),
        }
    }

    /// Coherent table memory with no device, for tests.
    #[cfg(CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST)]
    pub(crate) fn alloc_coherent_for_test(bytes: usize) -> Result<Self> {
        Ok(Self::Coherent(IommuPages::alloc(None, bytes, GFP_KERNEL)?))
    }

    /// Physical address, for the SMMU's base registers and descriptors.
    pub(crate) fn phys(&self) -> u64 {
        match self {
            Self::Coherent(p) => p.phys(),
            Self::Incoherent(p) => p.phys(),
            Self::Adopted(f) => f.phys(),
        }
    }

    /// Reads qword `idx`.
    pub(crate) fn read(&self, idx: usize) -> Result<u64> {
        match self {
            Self::Coherent(p) => p.read_u64(idx),
            Self::Incoherent(p) => p.read_u64(idx),
            Self::Adopted(f) => f.read_u64(idx),
        }
    }

    /// Stores qword `idx` with one single-copy-atomic store.
    pub(crate) fn write(&self, idx: usize, val: u64) -> Result {
        match self {
            Self::Coherent(p) => p.write_u64(idx, val),
            Self::Incoherent(p) => p.write_u64(idx, val),
            Self::Adopted(f) => f.write_u64(idx, val),
        }
    }

    /// Whether stores must be cleaned before the SMMU may read them.
    pub(crate) fn is_incoherent(&self) -> bool {
        matches!(self, Self::Incoherent(_))
    }

    /// Makes qwords `first..first + count` visible to the SMMU: nothing to
    /// do when coherent, a clean to the point of coherency otherwise.
    pub(crate) fn flush(&self, first: usize, count: usize) -> Result {
        match self {
            Self::Coherent(_) | Self::Adopted(_) => Ok(()),
            Self::Incoherent(p) => {
                p.flush(first, count)?;
                CMOS.fetch_add(1, Relaxed);
                Ok(())
            }
        }
    }
}

impl TableMem {
    /// `bytes` of table memory for `dev`, or, with no device (KUnit only),
    /// coherent memory.
    pub(crate) fn alloc_for(
        dev: Option<&Device<Bound>>,
        bytes: usize,
        coherent: bool,
    ) -> Result<Self> {
        match dev {
            Some(dev) => Self::alloc(dev, bytes, coherent),
            #[cfg(CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST)]
            None if coherent => Self::alloc_coherent_for_test(bytes),
            None => Err(EINVAL),
        }
    }

    /// Writes `entry` into entries `first..first + n` of a table the SMMU
    /// does not use yet, then makes them visible.
    pub(crate) fn fill(&self, first: usize, n: usize, entry: &Qwords) -> Result {
        for e in first..first + n {
            for (i, q) in entry.iter().enumerate() {
                self.write(e * ENTRY_QWORDS + i, *q)?;
            }
        }
        self.flush(first * ENTRY_QWORDS, n * ENTRY_QWORDS)
    }
}

/// One 8-qword entry (an STE or a CD) of a table.
pub(crate) struct Entry<'a> {
    /// The table.
    pub(crate) mem: &'a TableMem,
    /// Index of the entry's first qword.
    pub(crate) first: usize,
}

impl Entry<'_> {
    /// The entry's current contents.
    pub(crate) fn read(&self) -> Result<Qwords> {
        let mut q = [0u64; ENTRY_QWORDS];
        for (i, w) in q.iter_mut().enumerate() {
            *w = self.mem.read(self.first + i)?;
        }
        Ok(q)
    }

    /// Updates the entry to `target` through the hitless writer of kind `K`:
    /// each step's stores (single-copy atomic), one clean of the written
    /// span where the table is incoherent, then `sync` (CFGI + CMD_SYNC).
    /// Every step runs, whatever failed before it, as C's
    /// `arm_smmu_write_entry()` runs (its syncs log errors and go on): an
    /// entry left half-way could stay invalid, or point part of a device
    /// at a domain no longer invalidating for it. The first error is
    /// returned once the plan has run; the entry then holds `target`.
    /// Steps on incoherent memory are counted in `counts`.
    pub(crate) fn write<K: EntryKind>(
        &self,
        target: &Qwords,
        counts: &IncoherentUpdates,
        sync: impl FnMut() -> Result,
    ) -> Result<Plan> {
        struct Steps<'a, 'b, F> {
            entry: &'b Entry<'a>,
            counts: &'b IncoherentUpdates,
            sync: F,
            dirty: u8,
            err: Result,
        }

        impl<F> Steps<'_, '_, F> {
            /// Keeps the first error.
            fn keep(&mut self, r: Result) {
                if self.err.is_ok() {
                    self.err = r;
                }
            }
        }

        impl<F: FnMut() -> Result> EntryTarget for Steps<'_, '_, F> {
            fn write_qword(&mut self, idx: usize, val: u64) {
                let r = self.entry.mem.write(self.entry.first + idx, val);
                self.keep(r);
                self.dirty |= 1 << idx;
            }

            fn sync(&mut self) {
                if self.dirty != 0 {
                    let lo = self.dirty.trailing_zeros() as usize;
                    let hi = 8 - self.dirty.leading_zeros() as usize;
                    let cleaned = self.entry.mem.flush(self.entry.first + lo, hi - lo);
                    if self.entry.mem.is_incoherent() {
                        self.counts.steps.fetch_add(1, Relaxed);
                        // Qwords lo..hi were cleaned, if the clean succeeded.
                        let span = (0xffu8 >> (8 - (hi - lo))) << lo;
                        if cleaned.is_ok() && self.dirty & !span == 0 {
                            self.counts.cleaned.fetch_add(1, Relaxed);
                        }
                    }
                    self.keep(cleaned);
                    self.dirty = 0;
                }
                let r = (self.sync)();
                self.keep(r);
            }
        }

        // Whatever the entry points at (a CD table, a page table, the
        // invalidation array the domain just published) is visible to the
        // SMMU before any store to the entry (C's `dma_wmb()` at the top of
        // `arm_smmu_write_entry()`).
        dma_mb(Write);
        let cur = self.read()?;
        let mut steps = Steps {
            entry: self,
            counts,
            sync,
            dirty: 0,
            err: Ok(()),
        };
        let plan = writer::write_entry::<K, _>(&mut steps, &cur, target);
        steps.err.map(|()| plan)
    }
}

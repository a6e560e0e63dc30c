// SPDX-License-Identifier: GPL-2.0

//! Memory of the tables the SMMU walks (stream table, later CD tables), from
//! iommu-pages, coherent or not.
//!
//! On an SMMU that does not snoop the CPU caches (no `dma-coherent`,
//! IDR0.COHACC = 0) the pages are incoherent and every update is cleaned to
//! the point of coherency before the SMMU is told to look at it; the number
//! of such cache maintenance operations is counted, so tests can see them.

use kernel::{
    device::{Bound, Device},
    iommu::pages::{IncoherentIommuPages, IommuPages},
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};

/// A block of table memory the SMMU reads.
pub(crate) enum TableMem {
    /// The SMMU snoops the CPU caches.
    Coherent(IommuPages),
    /// Stores must be flushed before the SMMU may read them.
    Incoherent(IncoherentIommuPages),
}

/// Cache maintenance operations issued on table memory, for all SMMUs.
pub(crate) static CMOS: Atomic<u64> = Atomic::new(0);

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
        }
    }

    /// Reads qword `idx`.
    pub(crate) fn read(&self, idx: usize) -> Result<u64> {
        match self {
            Self::Coherent(p) => p.read_u64(idx),
            Self::Incoherent(p) => p.read_u64(idx),
        }
    }

    /// Stores qword `idx` with one single-copy-atomic store.
    pub(crate) fn write(&self, idx: usize, val: u64) -> Result {
        match self {
            Self::Coherent(p) => p.write_u64(idx, val),
            Self::Incoherent(p) => p.write_u64(idx, val),
        }
    }

    /// Makes qwords `first..first + count` visible to the SMMU: nothing to
    /// do when coherent, a clean to the point of coherency otherwise.
    pub(crate) fn flush(&self, first: usize, count: usize) -> Result {
        match self {
            Self::Coherent(_) => Ok(()),
            Self::Incoherent(p) => {
                p.flush(first, count)?;
                CMOS.fetch_add(1, Relaxed);
                Ok(())
            }
        }
    }
}

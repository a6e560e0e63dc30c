// SPDX-License-Identifier: GPL-2.0

//! The SMMU's register pages (page 0 and page 1, 64K each; page 0 only on
//! implementations whose page-1 registers sit at the same offsets in page
//! 0, `ARM_SMMU_OPT_PAGE0_REGS_ONLY`).
//!
//! The mapping is device-managed: it is revoked when the SMMU's platform
//! device unbinds, after the driver has disabled the SMMU. Anything that
//! outlives the binding (a paging domain still held by a user of the IOMMU
//! API) then reads all-ones and its writes are dropped, so a command can
//! never reach an SMMU the driver no longer owns.

use crate::hw::regs::{ctrl_off::page1, PAGE_SZ};
use kernel::{
    device::Device,
    devres::DevresGuard,
    io::{
        mem::{DevresExclusiveIoMem, ExclusiveIoMem},
        Io,
    },
    prelude::*,
};

/// The mapped registers of one SMMU.
pub(crate) struct Regs {
    io: DevresExclusiveIoMem<PAGE_SZ>,
    page0_only: bool,
}

impl Regs {
    /// Wraps an exclusive mapping of the SMMU's register pages (the region
    /// is claimed, as `devm_ioremap_resource()` claims it: no second driver
    /// or DT node can drive the same SMMU), revoked on unbind. With
    /// `page0_only`, page-1 offsets are redirected to page 0.
    pub(crate) fn new(io: ExclusiveIoMem<'_, PAGE_SZ>, page0_only: bool) -> Result<Self> {
        Ok(Self {
            io: io.into_devres()?,
            page0_only,
        })
    }

    /// The mapping for a sequence of accesses (one revocation check, the
    /// RCU read lock held meanwhile); `None` after unbind.
    pub(crate) fn access(&self) -> Option<RegsGuard<'_>> {
        self.io.try_access().map(|io| RegsGuard {
            io,
            dev: self.io.device(),
            page0_only: self.page0_only,
        })
    }

    /// Reads the 32-bit register at `off`. Offsets come from
    /// [`crate::hw::regs`] and are within the mapping; a bad one reads as
    /// all-ones, like a missing device, and is logged. After unbind every
    /// register reads as all-ones.
    pub(crate) fn read32(&self, off: usize) -> u32 {
        self.access().map_or(u32::MAX, |io| io.read32(off))
    }

    /// Writes the 32-bit register at `off` (`writel`: ordered after the
    /// CPU's earlier stores to memory the SMMU reads). Dropped after unbind.
    pub(crate) fn write32(&self, off: usize, val: u32) {
        if let Some(io) = self.access() {
            io.write32(off, val);
        }
    }

    /// Writes the 64-bit register at `off`. Dropped after unbind.
    pub(crate) fn write64(&self, off: usize, val: u64) {
        if let Some(io) = self.access() {
            io.write64(off, val);
        }
    }

    /// Whether `read32(off) & mask == want` within `timeout_us`
    /// microseconds, polling every microsecond (atomic context allowed).
    pub(crate) fn poll32(&self, off: usize, mask: u32, want: u32, timeout_us: usize) -> bool {
        kernel::io::poll::read_poll_timeout_atomic(
            || Ok(self.read32(off)),
            |v: &u32| v & mask == want,
            kernel::time::Delta::from_micros(1),
            timeout_us,
        )
        .is_ok()
    }
}

/// The registers, held mapped for a sequence of accesses ([`Regs::access`]).
pub(crate) struct RegsGuard<'a> {
    io: DevresGuard<'a, ExclusiveIoMem<'static, PAGE_SZ>>,
    dev: &'a Device,
    page0_only: bool,
}

impl RegsGuard<'_> {
    /// The SMMU's platform device, for messages.
    pub(crate) fn dev(&self) -> &Device {
        self.dev
    }

    /// Reads the 32-bit register at `off` (all-ones and logged if `off` is
    /// out of range).
    pub(crate) fn read32(&self, off: usize) -> u32 {
        let off = page1(off, self.page0_only);
        (&*self.io).try_read32(off).unwrap_or_else(|e| {
            dev_err!(self.dev, "bad register read at {off:#x}: {e:?}\n");
            u32::MAX
        })
    }

    /// Writes the 32-bit register at `off` (`writel`).
    pub(crate) fn write32(&self, off: usize, val: u32) {
        let off = page1(off, self.page0_only);
        if let Err(e) = (&*self.io).try_write32(val, off) {
            dev_err!(self.dev, "bad register write at {off:#x}: {e:?}\n");
        }
    }

    /// Writes the 64-bit register at `off`.
    pub(crate) fn write64(&self, off: usize, val: u64) {
        let off = page1(off, self.page0_only);
        if let Err(e) = (&*self.io).try_write64(val, off) {
            dev_err!(self.dev, "bad register write at {off:#x}: {e:?}\n");
        }
    }
}

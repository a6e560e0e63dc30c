// SPDX-License-Identifier: GPL-2.0

//! The SMMU's register pages (page 0 and page 1, 64K each).

use crate::hw::regs::REG_SZ;
use kernel::{
    io::{mem::IoMem, Io},
    prelude::*,
};

/// The mapped registers of one SMMU.
pub(crate) struct Regs<'a> {
    io: IoMem<'a, REG_SZ>,
}

impl<'a> Regs<'a> {
    /// Wraps a mapping of the SMMU's two register pages.
    pub(crate) fn new(io: IoMem<'a, REG_SZ>) -> Self {
        Self { io }
    }

    /// Reads the 32-bit register at `off`. Offsets come from
    /// [`crate::hw::regs`] and are within the mapping; a bad one reads as
    /// all-ones, like a missing device, and is logged.
    pub(crate) fn read32(&self, off: usize) -> u32 {
        (&self.io).try_read32(off).unwrap_or_else(|e| {
            pr_err!("arm-smmu-v3-rs: bad register read at {off:#x}: {e:?}\n");
            u32::MAX
        })
    }

    /// Writes the 32-bit register at `off` (`writel`: ordered after the
    /// CPU's earlier stores to memory the SMMU reads).
    pub(crate) fn write32(&self, off: usize, val: u32) {
        if let Err(e) = (&self.io).try_write32(val, off) {
            pr_err!("arm-smmu-v3-rs: bad register write at {off:#x}: {e:?}\n");
        }
    }

    /// Writes the 64-bit register at `off`.
    pub(crate) fn write64(&self, off: usize, val: u64) {
        if let Err(e) = (&self.io).try_write64(val, off) {
            pr_err!("arm-smmu-v3-rs: bad register write at {off:#x}: {e:?}\n");
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

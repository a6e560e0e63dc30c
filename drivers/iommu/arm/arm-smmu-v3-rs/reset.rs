// SPDX-License-Identifier: GPL-2.0

//! Runs the reset sequence of [`crate::hw::reset`] on a real SMMU.

use crate::{
    cmdq::{Cmdq, POLL_TIMEOUT_US},
    hw::{
        cmd::Cmd,
        event::Severity,
        regs::{ctrl_off as off, gbpa},
        reset::{self, OnTimeout, Step},
    },
    mmio::Regs,
};
use kernel::{device::Device, prelude::*};

/// The SMMU as the reset plan sees it.
struct ResetCtx<'a> {
    dev: &'a Device,
    regs: &'a Regs,
    cmdq: &'a Cmdq,
}

impl reset::ResetIo for ResetCtx<'_> {
    fn read32(&mut self, off: usize) -> u32 {
        self.regs.read32(off)
    }

    fn write32(&mut self, off: usize, val: u32) {
        self.regs.write32(off, val)
    }

    fn write64(&mut self, off: usize, val: u64) {
        self.regs.write64(off, val)
    }

    fn poll32(&mut self, off: usize, mask: u32, want: u32) -> bool {
        self.regs.poll32(off, mask, want, POLL_TIMEOUT_US)
    }

    fn command(&mut self, cmd: &Cmd, sync: bool) {
        // As in C, a failed invalidation during reset is logged, not fatal.
        let r = match self.regs.access() {
            Some(regs) => self.cmdq.issue(&regs, core::slice::from_ref(cmd), sync),
            None => Err(ENODEV),
        };
        if let Err(e) = r {
            dev_err!(self.dev, "reset command {:?} failed: {:?}\n", cmd, e);
        }
    }

    fn setup_irqs(&mut self) {
        // The interrupt handlers need the finished `Smmu`, so probe requests
        // them right after the reset; an edge raised in between stays
        // pending until then.
    }

    fn log(&mut self, sev: Severity, msg: &'static str) {
        match sev {
            Severity::Warn => dev_warn!(self.dev, "{}\n", msg),
            Severity::Err => dev_err!(self.dev, "{}\n", msg),
        }
    }
}

/// Resets and enables the SMMU (`arm_smmu_device_reset()`).
pub(crate) fn reset(dev: &Device, regs: &Regs, cmdq: &Cmdq, plan: &reset::ResetPlan) -> Result {
    let mut ctx = ResetCtx { dev, regs, cmdq };
    reset::execute(plan.steps(), &mut ctx).map_err(|_| EIO)
}

/// Disables the SMMU: CR0 = 0, waiting for CR0ACK
/// (`arm_smmu_device_disable()`). Failures are logged.
pub(crate) fn disable(dev: &Device, regs: &Regs, cmdq: &Cmdq) {
    let mut ctx = ResetCtx { dev, regs, cmdq };
    let disable = [
        Step::Write32 {
            off: off::CR0,
            val: 0,
        },
        Step::Poll {
            off: off::CR0ACK,
            val: 0,
            on_timeout: OnTimeout::Fail("failed to disable the SMMU"),
        },
    ];
    let _ = reset::execute(&disable, &mut ctx);
}

/// Makes incoming transactions abort while the SMMU is disabled
/// (GBPA.ABORT), so nothing reaches memory that is about to be freed.
/// Failures are logged.
pub(crate) fn abort_incoming(dev: &Device, regs: &Regs, cmdq: &Cmdq) {
    let mut ctx = ResetCtx { dev, regs, cmdq };
    let abort = [Step::UpdateGbpa {
        set: gbpa::ABORT,
        clr: 0,
    }];
    let _ = reset::execute(&abort, &mut ctx);
}

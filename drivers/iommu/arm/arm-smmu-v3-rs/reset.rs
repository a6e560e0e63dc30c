// SPDX-License-Identifier: GPL-2.0

//! Runs the reset sequence of [`crate::hw::reset`] on a real SMMU.

use crate::{
    cmdq::{Cmdq, POLL_TIMEOUT_US},
    hw::{
        cmd::Cmd,
        event::Severity,
        regs::{ctrl_off as off, gbpa, Features},
        reset::{self, MsiIndex, OnTimeout, Step},
    },
    mmio::Regs,
};
use kernel::{device::Device, platform_msi::MsiMsg, prelude::*};

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

/// Stops the queues and leaves translation on (live update): CR0 = `keep`
/// (SMMUEN and ATSCHK as they are), waiting for CR0ACK.
pub(crate) fn stop_queues(dev: &Device, regs: &Regs, cmdq: &Cmdq, keep: u32) -> Result {
    let mut ctx = ResetCtx { dev, regs, cmdq };
    let stop = [
        Step::Write32 {
            off: off::CR0,
            val: keep,
        },
        Step::Poll {
            off: off::CR0ACK,
            val: keep,
            on_timeout: OnTimeout::Fail("failed to stop the queues"),
        },
    ];
    reset::execute(&stop, &mut ctx).map_err(|_| EIO)
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

/// Writes IRQ_CTRL and waits for IRQ_CTRLACK: `val` 0 stops the SMMU from
/// signalling (the MSI configuration may only change then), the
/// [`reset::irq_ctrl_value`] of `features` starts it again. Whether the
/// SMMU acknowledged; failures are logged.
pub(crate) fn set_irq_ctrl(dev: &Device, regs: &Regs, cmdq: &Cmdq, on: Option<Features>) -> bool {
    let mut ctx = ResetCtx { dev, regs, cmdq };
    let val = on.map_or(0, reset::irq_ctrl_value);
    let steps = [
        Step::Write32 {
            off: off::IRQ_CTRL,
            val,
        },
        Step::Poll {
            off: off::IRQ_CTRLACK,
            val,
            on_timeout: OnTimeout::Fail(if val == 0 {
                "failed to disable irqs"
            } else {
                "failed to enable irqs"
            }),
        },
    ];
    reset::execute(&steps, &mut ctx).is_ok()
}

/// Programs MSI `vector` to signal with `msg` (`arm_smmu_write_msi_msg()`):
/// the doorbell, the data and Device-nGnRE into the source's IRQ_CFG0-2.
/// `EINVAL`, with nothing written, for a vector the SMMU does not have.
fn write_msi(io: &mut impl reset::ResetIo, vector: u32, msg: MsiMsg) -> Result {
    let idx = MsiIndex::from_vector(vector).ok_or(EINVAL)?;
    reset::execute(&reset::msi_writes(idx, msg.address, msg.data), io).map_err(|_| EIO)
}

/// [`write_msi`] on a real SMMU; called by the MSI core in atomic context.
pub(crate) fn write_msi_msg(dev: &Device, regs: &Regs, cmdq: &Cmdq, vector: u32, msg: MsiMsg) {
    let mut ctx = ResetCtx { dev, regs, cmdq };
    if let Err(e) = write_msi(&mut ctx, vector, msg) {
        dev_err!(dev, "cannot program MSI vector {}: {:?}\n", vector, e);
    }
}

#[kunit_tests(arm_smmu_v3_rs_msi)]
mod tests {
    use super::*;
    use crate::hw::reset::ResetIo;

    /// Records register writes; everything else is unexpected.
    #[derive(Default)]
    struct Recorder {
        writes: KVec<(usize, u64)>,
    }

    impl ResetIo for Recorder {
        fn read32(&mut self, _off: usize) -> u32 {
            0
        }
        fn write32(&mut self, off: usize, val: u32) {
            let _ = self.writes.push((off, val.into()), GFP_KERNEL);
        }
        fn write64(&mut self, off: usize, val: u64) {
            let _ = self.writes.push((off, val), GFP_KERNEL);
        }
        fn poll32(&mut self, _off: usize, _mask: u32, _want: u32) -> bool {
            true
        }
        fn command(&mut self, _cmd: &crate::hw::cmd::Cmd, _sync: bool) {}
        fn setup_irqs(&mut self) {}
        fn log(&mut self, _sev: Severity, _msg: &'static str) {}
    }

    /// Each vector the SMMU allocates programs its own source's
    /// IRQ_CFG0-2 (event queue 0xb0, global errors 0x68, PRI queue 0xd0)
    /// with the doorbell (bits 51:2), the data and Device-nGnRE, which is
    /// what routes that source's interrupt to its handler; a vector the
    /// SMMU does not have writes nothing.
    #[test]
    fn each_msi_vector_programs_its_own_source() -> Result {
        // Registers, and the doorbell the SMMU gets for address
        // 0xfff0_0000_0809_0043 + vector (the top 12 and low 2 bits go).
        let want = [
            (0xb0usize, 0xb8usize, 0xbcusize, 0x0809_0040u64),
            (0x68, 0x70, 0x74, 0x0809_0044),
            (0xd0, 0xd8, 0xdc, 0x0809_0044),
        ];
        for (v, (c0, c1, c2, doorbell)) in want.iter().copied().enumerate() {
            let mut io = Recorder::default();
            let msg = MsiMsg {
                address: 0xfff0_0000_0809_0043 + v as u64,
                data: 0x100 + v as u32,
            };
            write_msi(&mut io, v as u32, msg)?;
            assert_eq!(
                &io.writes[..],
                &[(c0, doorbell), (c1, 0x100 + v as u64), (c2, 1),]
            );
            // The wired interrupt of the same source has the same name.
            let idx = MsiIndex::from_vector(v as u32).ok_or(EINVAL)?;
            assert_eq!(idx.wired_name(), [c"eventq", c"gerror", c"priq"][v]);
        }
        let mut io = Recorder::default();
        assert_eq!(
            write_msi(
                &mut io,
                3,
                MsiMsg {
                    address: 0x1000,
                    data: 1
                }
            ),
            Err(EINVAL)
        );
        assert!(io.writes.is_empty());
        Ok(())
    }
}

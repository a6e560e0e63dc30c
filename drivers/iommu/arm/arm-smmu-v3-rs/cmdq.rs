// SPDX-License-Identifier: GPL-2.0

//! The command queue: commands go into coherent DMA memory, PROD tells the
//! SMMU, and a CMD_SYNC is complete once CONS has moved past it.
//!
//! Correct first: one spinlock serialises producers, and completion is
//! polled. Errors the SMMU reports on a command (GERROR.CMDQ_ERR with
//! CMDQ_CONS.ERR) are handled as the C driver does: an illegal command is
//! logged and replaced by a CMD_SYNC, a fetch abort is retried, then the
//! error is acknowledged so the queue moves on. Nothing waits forever: every
//! wait gives up after [`POLL_TIMEOUT_US`] with `ETIMEDOUT`.

use crate::{
    hw::{
        cmd::{Cmd, SyncCs},
        event::{CmdqErrAction, CmdqError, Gerror, GerrorBit},
        queue::Queue,
        regs::ctrl_off as off,
        reset::QueueConfig,
    },
    mmio::Regs,
};
use kernel::{
    device::{Bound, Device},
    dma::Coherent,
    io::io_write,
    prelude::*,
    sync::{new_spinlock, SpinLock},
};

/// How long any wait on the SMMU may take (`ARM_SMMU_POLL_TIMEOUT_US`).
pub(crate) const POLL_TIMEOUT_US: usize = 1_000_000;

/// Qwords per command.
const CMD_QWORDS: usize = 2;

/// The producer's view of the queue.
struct Producer {
    /// Next free entry, with the wrap bit.
    prod: u32,
    /// Commands written so far (all SMMUs of this driver), for tests.
    issued: u64,
    /// CMD_SYNCs written so far.
    syncs: u64,
}

/// A command queue.
#[pin_data]
pub(crate) struct Cmdq {
    mem: Coherent<[u64]>,
    q: Queue,
    #[pin]
    producer: SpinLock<Producer>,
}

impl Cmdq {
    /// Allocates a queue of `1 << shift` commands for `dev`.
    pub(crate) fn new(dev: &Device<Bound>, shift: u32) -> Result<impl PinInit<Self, Error>> {
        let q = Queue::new(shift).ok_or(EINVAL)?;
        let mem =
            Coherent::<u64>::zeroed_slice(dev, (q.entries() as usize) * CMD_QWORDS, GFP_KERNEL)?;
        Ok(try_pin_init!(Self {
            mem,
            q,
            producer <- new_spinlock!(Producer { prod: 0, issued: 0, syncs: 0 }),
        }))
    }

    /// What the reset programs into CMDQ_BASE.
    pub(crate) fn config(&self) -> QueueConfig {
        QueueConfig {
            dma: self.mem.dma_address(),
            shift: self.q.shift(),
        }
    }

    /// Commands and CMD_SYNCs issued so far.
    pub(crate) fn counts(&self) -> (u64, u64) {
        let p = self.producer.lock();
        (p.issued, p.syncs)
    }

    fn cons(&self, regs: &Regs<'_>) -> u32 {
        regs.read32(off::CMDQ_CONS) & ((2 << self.q.shift()) - 1)
    }

    fn write_cmd(&self, p: u32, cmd: &Cmd) -> Result {
        let base = self.q.idx(p) as usize * CMD_QWORDS;
        let words = cmd.encode();
        io_write!(&self.mem, [try: base], words[0]);
        io_write!(&self.mem, [try: base + 1], words[1]);
        Ok(())
    }

    /// Issues `cmds` in order and, if `sync`, a CMD_SYNC, waiting until the
    /// SMMU has consumed it (and so completed every command before it).
    pub(crate) fn issue(&self, regs: &Regs<'_>, cmds: &[Cmd], sync: bool) -> Result {
        let mut p = self.producer.lock();
        let mut rest = cmds;
        while !rest.is_empty() || sync {
            // Room for what is left, plus the CMD_SYNC, or what fits.
            let want = rest.len() + usize::from(sync);
            let cons = self.wait_for_space(regs, p.prod)?;
            let room = self.q.space(p.prod, cons) as usize;
            let n = want.min(room);
            let (now, later) = rest.split_at(n.min(rest.len()));
            for cmd in now {
                self.write_cmd(p.prod, cmd)?;
                p.prod = self.q.inc_prod_n(p.prod, 1);
                p.issued += 1;
            }
            rest = later;
            let sync_at = if rest.is_empty() && sync && n > now.len() {
                let at = p.prod;
                self.write_cmd(at, &Cmd::Sync { cs: SyncCs::None })?;
                p.prod = self.q.inc_prod_n(p.prod, 1);
                p.syncs += 1;
                Some(at)
            } else {
                None
            };
            // writel orders the stores above before the SMMU sees PROD.
            regs.write32(off::CMDQ_PROD, p.prod);
            if let Some(at) = sync_at {
                return self.wait_for_sync(regs, at);
            }
        }
        Ok(())
    }

    /// Waits until the queue has room for at least one command; returns CONS.
    fn wait_for_space(&self, regs: &Regs<'_>, prod: u32) -> Result<u32> {
        for _ in 0..POLL_TIMEOUT_US {
            let cons = self.cons(regs);
            if self.q.space(prod, cons) > 0 {
                return Ok(cons);
            }
            self.handle_error(regs)?;
            kernel::time::delay::udelay(kernel::time::Delta::from_micros(1));
        }
        pr_err!("arm-smmu-v3-rs: command queue full and not draining\n");
        Err(ETIMEDOUT)
    }

    /// Waits until CONS has passed the CMD_SYNC at `at`.
    fn wait_for_sync(&self, regs: &Regs<'_>, at: u32) -> Result {
        for _ in 0..POLL_TIMEOUT_US {
            if self.q.consumed(self.cons(regs), at) {
                return Ok(());
            }
            self.handle_error(regs)?;
            kernel::time::delay::udelay(kernel::time::Delta::from_micros(1));
        }
        pr_err!(
            "arm-smmu-v3-rs: CMD_SYNC timeout at prod {:#x}, cons {:#x}\n",
            at,
            self.cons(regs)
        );
        Err(ETIMEDOUT)
    }

    /// Handles a command error the SMMU reported, if any, so the queue
    /// moves on (`arm_smmu_cmdq_skip_err()` and the GERROR acknowledge).
    fn handle_error(&self, regs: &Regs<'_>) -> Result {
        let g = Gerror::new(regs.read32(off::GERROR), regs.read32(off::GERRORN));
        if !g.contains(GerrorBit::Cmdq) {
            return Ok(());
        }
        let cons = regs.read32(off::CMDQ_CONS);
        let err = CmdqError::from_cons(cons);
        pr_err!(
            "arm-smmu-v3-rs: CMDQ error (cons {:#010x}): {}\n",
            cons,
            err.message()
        );
        if err.action() == CmdqErrAction::Skip {
            let at = cons & ((2 << self.q.shift()) - 1);
            let base = self.q.idx(at) as usize * CMD_QWORDS;
            let bad = [
                kernel::io::io_read!(&self.mem, [try: base]),
                kernel::io::io_read!(&self.mem, [try: base + 1]),
            ];
            pr_err!(
                "arm-smmu-v3-rs: skipping command: {:#018x} {:#018x}\n",
                bad[0],
                bad[1]
            );
            self.write_cmd(at, &CmdqError::replacement(true))?;
        }
        // Acknowledge CMDQ_ERR only; other errors belong to the GERROR handler.
        let gerrorn = regs.read32(off::GERRORN) ^ GerrorBit::Cmdq.mask();
        regs.write32(off::GERRORN, gerrorn);
        Ok(())
    }
}

// SPDX-License-Identifier: GPL-2.0

//! The command queue: commands go into coherent DMA memory, PROD tells the
//! SMMU, and a CMD_SYNC is complete once CONS has moved past it.
//!
//! Correct first: one spinlock (interrupts off: the DMA API unmaps, and so
//! invalidates, from interrupt handlers) serialises producers, and completion is
//! polled. Errors the SMMU reports on a command (GERROR.CMDQ_ERR with
//! CMDQ_CONS.ERR) are handled as the C driver does: an illegal command is
//! logged and replaced by a CMD_SYNC, a fetch abort is retried, then the
//! error is acknowledged so the queue moves on. Nothing waits forever: every
//! wait gives up after the queue's timeout with `ETIMEDOUT`. An ATC
//! invalidation that timed out (CERROR_ATC_INV_SYNC) is acknowledged, the
//! SMMU completes the CMD_SYNC, and the batch returns [`ATC_TIMEOUT`] so
//! its issuer can stop using the device's ATS.
//!
//! The queue reaches memory and registers through [`QueueMem`] and
//! [`CmdqRegs`], so KUnit drives it against a simulated consumer.

use crate::{
    hw::{
        cmd::{Cmd, SyncCs},
        event::{CmdqErrAction, CmdqError, Gerror, GerrorBit},
        queue::{Queue, SyncSpacing},
        regs::{ctrl_off as off, Options},
        reset::QueueConfig,
    },
    mmio::RegsGuard,
};
use kernel::{
    device::{Bound, Device},
    dma::Coherent,
    io::{io_read, io_write},
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        new_spinlock_irq, SpinLockIrq,
    },
    time::{delay::udelay, Delta},
};

/// How long any wait on the SMMU may take (`ARM_SMMU_POLL_TIMEOUT_US`).
pub(crate) const POLL_TIMEOUT_US: usize = 1_000_000;

/// Qwords per command.
pub(crate) const CMD_QWORDS: usize = 2;

/// What [`Cmdq::issue_with`] returns when a CMD_SYNC of the batch reported
/// that an ATC invalidation before it timed out (CERROR_ATC_INV_SYNC): the
/// batch completed, but some device did not confirm its invalidation.
pub(crate) const ATC_TIMEOUT: Error = EIO;

/// Memory of a queue the SMMU reads: 64-bit single-copy-atomic accesses.
pub(crate) trait QueueMem: Send + Sync {
    /// Reads qword `idx`.
    fn read(&self, idx: usize) -> Result<u64>;
    /// Writes qword `idx`.
    fn write(&self, idx: usize, val: u64) -> Result;
    /// The address the SMMU uses.
    fn dma(&self) -> u64;
}

impl QueueMem for Coherent<[u64]> {
    fn read(&self, idx: usize) -> Result<u64> {
        Ok(io_read!(self, [try: idx]))
    }

    fn write(&self, idx: usize, val: u64) -> Result {
        io_write!(self, [try: idx], val);
        Ok(())
    }

    fn dma(&self) -> u64 {
        self.dma_address()
    }
}

impl<M: QueueMem> QueueMem for &M {
    fn read(&self, idx: usize) -> Result<u64> {
        (**self).read(idx)
    }

    fn write(&self, idx: usize, val: u64) -> Result {
        (**self).write(idx, val)
    }

    fn dma(&self) -> u64 {
        (**self).dma()
    }
}

/// The registers the command queue uses.
pub(crate) trait CmdqRegs {
    /// CMDQ_CONS, raw (with the ERR field).
    fn cons(&self) -> u32;
    /// Writes CMDQ_PROD (ordered after the stores to the queue).
    fn set_prod(&self, prod: u32);
    /// GERROR and GERRORN.
    fn gerror(&self) -> (u32, u32);
    /// Writes GERRORN.
    fn set_gerrorn(&self, val: u32);
}

impl CmdqRegs for RegsGuard<'_> {
    fn cons(&self) -> u32 {
        self.read32(off::CMDQ_CONS)
    }

    fn set_prod(&self, prod: u32) {
        // writel orders the CPU's earlier stores to the queue before PROD.
        self.write32(off::CMDQ_PROD, prod)
    }

    fn gerror(&self) -> (u32, u32) {
        (self.read32(off::GERROR), self.read32(off::GERRORN))
    }

    fn set_gerrorn(&self, val: u32) {
        self.write32(off::GERRORN, val)
    }
}

/// When [`Cmdq::issue_with`] ends with a CMD_SYNC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SyncAfter {
    /// Always, even with no command before it.
    Always,
    /// Only if at least one command was issued.
    IfIssued,
    /// Never.
    Never,
}

/// The producer's view of the queue.
struct Producer {
    /// Next free entry, with the wrap bit.
    prod: u32,
    /// CONS as last read or known (the SMMU is at least this far), so
    /// CMDQ_CONS is only read when the queue looks full.
    cons: u32,
    /// Commands written so far.
    issued: u64,
    /// CMD_SYNCs written so far.
    syncs: u64,
}

/// A command queue.
#[pin_data]
pub(crate) struct Cmdq<M: QueueMem = Coherent<[u64]>> {
    mem: M,
    q: Queue,
    /// Polls (about one microsecond each) before a wait gives up.
    timeout_us: usize,
    /// CMD_SYNCs signal completion by writing 0 over themselves (an MSI
    /// to the queue), so waits poll memory, not CMDQ_CONS
    /// (`ARM_SMMU_OPT_MSIPOLL`: MSIs and a coherent SMMU).
    msi_poll: bool,
    /// At most 63 commands between CMD_SYNCs (Arm erratum 2812531,
    /// `ARM_SMMU_OPT_CMDQ_FORCE_SYNC`).
    force_sync: bool,
    #[pin]
    producer: SpinLockIrq<Producer>,
    /// Serialises every read-modify-write of GERRORN: the queue's error
    /// handling and the global error interrupt acknowledge different bits
    /// of the one register, and neither may undo the other's.
    #[pin]
    gerrorn: SpinLockIrq<()>,
    /// CERROR_ATC_INV_SYNC errors handled so far.
    atc_timeouts: Atomic<u64>,
}

impl Cmdq {
    /// Allocates a queue of `1 << shift` commands for `dev`, used as
    /// `opts` says.
    pub(crate) fn new(
        dev: &Device<Bound>,
        shift: u32,
        opts: &Options,
    ) -> Result<impl PinInit<Self, Error>> {
        let q = Queue::new(shift).ok_or(EINVAL)?;
        let mem =
            Coherent::<u64>::zeroed_slice(dev, (q.entries() as usize) * CMD_QWORDS, GFP_KERNEL)?;
        Ok(Self::with_mem(mem, q, POLL_TIMEOUT_US, opts))
    }
}

impl<M: QueueMem> Cmdq<M> {
    /// A queue `q` in `mem`, whose waits give up after `timeout_us` polls:
    /// CMD_SYNCs complete by MSI if `opts.msipoll`, and come at least every
    /// 63 commands if `opts.cmdq_force_sync`.
    pub(crate) fn with_mem(
        mem: M,
        q: Queue,
        timeout_us: usize,
        opts: &Options,
    ) -> impl PinInit<Self, Error> {
        let (msi_poll, force_sync) = (opts.msipoll, opts.cmdq_force_sync);
        try_pin_init!(Self {
            mem,
            q,
            timeout_us,
            msi_poll,
            force_sync,
            producer <- new_spinlock_irq!(Producer {
                prod: 0,
                cons: 0,
                issued: 0,
                syncs: 0,
            }),
            gerrorn <- new_spinlock_irq!(()),
            atc_timeouts: Atomic::new(0),
        })
    }

    /// What the reset programs into CMDQ_BASE.
    pub(crate) fn config(&self) -> QueueConfig {
        QueueConfig {
            dma: self.mem.dma(),
            shift: self.q.shift(),
        }
    }

    /// Commands and CMD_SYNCs issued so far.
    pub(crate) fn counts(&self) -> (u64, u64) {
        let p = self.producer.lock();
        (p.issued, p.syncs)
    }

    fn ptr(&self, raw: u32) -> u32 {
        raw & ((2 << self.q.shift()) - 1)
    }

    fn write_cmd(&self, p: u32, cmd: &Cmd) -> Result {
        let base = self.q.idx(p) as usize * CMD_QWORDS;
        let words = cmd.encode();
        self.mem.write(base, words[0])?;
        self.mem.write(base + 1, words[1])
    }

    /// Issues `cmds` in order and, if `sync`, a CMD_SYNC, waiting until the
    /// SMMU has consumed it (and so completed every command before it).
    /// Batches larger than the free space go in as the SMMU makes room.
    pub(crate) fn issue(&self, regs: &impl CmdqRegs, cmds: &[Cmd], sync: bool) -> Result {
        let sync = if sync {
            SyncAfter::Always
        } else {
            SyncAfter::Never
        };
        self.issue_with(regs, sync, |push| cmds.iter().try_for_each(push))
    }

    /// Issues the commands `fill` pushes, straight into the queue as they
    /// come (no intermediate batch), then a CMD_SYNC as `sync` says. The
    /// queue's lock is held meanwhile, so `fill` must be quick and must not
    /// sleep; when the queue is full, what is in is handed to the SMMU and
    /// the push waits for room. An error from `fill` or a push stops there;
    /// the commands already in are handed to the SMMU.
    pub(crate) fn issue_with(
        &self,
        regs: &impl CmdqRegs,
        sync: SyncAfter,
        fill: impl FnOnce(&mut dyn FnMut(&Cmd) -> Result) -> Result,
    ) -> Result {
        let mut p = self.producer.lock();
        let start = p.prod;
        // Only this batch's CMD_SYNCs are waited for while the lock is
        // held: an ATC timeout reported meanwhile is one of its commands'.
        let atc_timeouts = self.atc_timeouts.load(Relaxed);
        let mut spacing = SyncSpacing::new(self.force_sync);
        let filled = fill(&mut |cmd: &Cmd| {
            if spacing.sync_before_cmd() {
                self.sync(regs, &mut p)?;
            }
            self.make_room(regs, &mut p)?;
            self.write_cmd(p.prod, cmd)?;
            p.prod = self.q.inc_prod_n(p.prod, 1);
            p.issued += 1;
            Ok(())
        });
        let sync = match sync {
            SyncAfter::Always => true,
            SyncAfter::IfIssued => p.prod != start,
            SyncAfter::Never => false,
        };
        if filled.is_err() || !sync {
            if p.prod != start {
                regs.set_prod(p.prod);
            }
            return filled;
        }
        self.sync(regs, &mut p)?;
        if self.atc_timeouts.load(Relaxed) != atc_timeouts {
            return Err(ATC_TIMEOUT);
        }
        Ok(())
    }

    /// Puts a CMD_SYNC after the commands in `p`, hands them to the SMMU
    /// and waits for it.
    fn sync(&self, regs: &impl CmdqRegs, p: &mut Producer) -> Result {
        self.make_room(regs, p)?;
        // The CMD_SYNC goes in once everything before it is in.
        let at = p.prod;
        let cs = if self.msi_poll {
            SyncCs::Irq {
                msi_addr: self.slot_dma(at),
                msi_data: 0,
            }
        } else {
            SyncCs::None
        };
        self.write_cmd(at, &Cmd::Sync { cs })?;
        p.prod = self.q.inc_prod_n(p.prod, 1);
        p.syncs += 1;
        regs.set_prod(p.prod);
        self.wait_for_sync(regs, at)?;
        // Everything up to the CMD_SYNC was consumed.
        p.cons = p.prod;
        Ok(())
    }

    /// Makes sure the queue has room for one more command: if it looks
    /// full, hands what is in to the SMMU and waits until it consumed some.
    fn make_room(&self, regs: &impl CmdqRegs, p: &mut Producer) -> Result {
        if self.q.space(p.prod, p.cons) == 0 {
            regs.set_prod(p.prod);
            p.cons = self.wait_for_space(regs, p.prod)?;
        }
        Ok(())
    }

    /// Bus address of the command at `p`.
    fn slot_dma(&self, p: u32) -> u64 {
        self.mem.dma() + u64::from(self.q.idx(p)) * (CMD_QWORDS as u64) * 8
    }

    /// Polls CONS until `done(cons)` holds, handling command errors the
    /// SMMU reports meanwhile; returns CONS, or `ETIMEDOUT` after the
    /// queue's timeout with a message naming `what` was awaited.
    fn wait(
        &self,
        regs: &impl CmdqRegs,
        what: &str,
        mut done: impl FnMut(u32) -> bool,
    ) -> Result<u32> {
        for _ in 0..self.timeout_us {
            let cons = self.ptr(regs.cons());
            if done(cons) {
                return Ok(cons);
            }
            self.handle_error(regs)?;
            udelay(Delta::from_micros(1));
        }
        pr_err!(
            "arm-smmu-v3-rs: timeout waiting for {} (CMDQ_CONS {:#x})\n",
            what,
            regs.cons()
        );
        Err(ETIMEDOUT)
    }

    /// Waits until the queue has room for at least one command; returns CONS.
    fn wait_for_space(&self, regs: &impl CmdqRegs, prod: u32) -> Result<u32> {
        self.wait(regs, "command queue space", |cons| {
            self.q.space(prod, cons) > 0
        })
    }

    /// Waits until CONS has passed the CMD_SYNC at `at` or, with MSI
    /// polling, until the SMMU cleared its first word
    /// (`arm_smmu_cmdq_poll_until_msi()`); command errors are still looked
    /// for every 16 polls.
    fn wait_for_sync(&self, regs: &impl CmdqRegs, at: u32) -> Result {
        if !self.msi_poll {
            return self
                .wait(regs, "CMD_SYNC", |cons| self.q.consumed(cons, at))
                .map(|_| ());
        }
        let base = self.q.idx(at) as usize * CMD_QWORDS;
        for i in 0..self.timeout_us {
            if self.mem.read(base)? as u32 == 0 {
                return Ok(());
            }
            if i % 16 == 15 {
                self.handle_error(regs)?;
            }
            udelay(Delta::from_micros(1));
        }
        pr_err!(
            "arm-smmu-v3-rs: timeout waiting for CMD_SYNC MSI (CMDQ_CONS {:#x})\n",
            regs.cons()
        );
        Err(ETIMEDOUT)
    }

    /// Acknowledges the global errors of `bits` that are still active:
    /// GERRORN is read afresh and written under the one lock every
    /// acknowledgement takes, so a concurrent acknowledgement of other
    /// bits (or of the same) is never undone or repeated.
    pub(crate) fn ack_gerrors(&self, regs: &impl CmdqRegs, bits: u32) {
        let _guard = self.gerrorn.lock();
        let (gerror, gerrorn) = regs.gerror();
        regs.set_gerrorn(gerrorn ^ (bits & (gerror ^ gerrorn)));
    }

    /// Handles a command error the SMMU reported, if any, so the queue
    /// moves on (`arm_smmu_cmdq_skip_err()` and the GERROR acknowledge).
    /// The queue's owner (under its lock) is the only one who handles
    /// CMDQ_ERR; the global error interrupt leaves that bit to it.
    fn handle_error(&self, regs: &impl CmdqRegs) -> Result {
        let (gerror, gerrorn) = regs.gerror();
        if !Gerror::new(gerror, gerrorn).contains(GerrorBit::Cmdq) {
            return Ok(());
        }
        let cons = regs.cons();
        let err = CmdqError::from_cons(cons);
        pr_err!(
            "arm-smmu-v3-rs: CMDQ error (cons {:#010x}): {}\n",
            cons,
            err.message()
        );
        if err.action() == CmdqErrAction::Skip {
            let at = self.ptr(cons);
            let base = self.q.idx(at) as usize * CMD_QWORDS;
            pr_err!(
                "arm-smmu-v3-rs: skipping command: {:#018x} {:#018x}\n",
                self.mem.read(base)?,
                self.mem.read(base + 1)?
            );
            self.write_cmd(at, &CmdqError::replacement(true))?;
        }
        if err == CmdqError::AtcInvSync {
            // CONS is at the CMD_SYNC, which the SMMU runs again once the
            // error is acknowledged, without waiting for the ATC
            // invalidations that timed out (as C, which retries).
            self.atc_timeouts.fetch_add(1, Relaxed);
        }
        // Acknowledge CMDQ_ERR only; other errors belong to the GERROR handler.
        self.ack_gerrors(regs, GerrorBit::Cmdq.mask());
        Ok(())
    }
}

#[cfg(CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST)]
#[kunit_tests(arm_smmu_v3_rs_cmdq)]
mod tests {
    use super::*;
    use crate::{
        hw::{cmd::Opcode, regs::cmdq_cons},
        table::TableMem,
    };
    use core::cell::{Cell, RefCell};

    impl QueueMem for TableMem {
        fn read(&self, idx: usize) -> Result<u64> {
            TableMem::read(self, idx)
        }

        fn write(&self, idx: usize, val: u64) -> Result {
            TableMem::write(self, idx, val)
        }

        fn dma(&self) -> u64 {
            self.phys()
        }
    }

    /// An SMMU consuming at most `rate` commands per read of CONS, logging
    /// each opcode; it stops with CERROR_ILL at an opcode it is told to
    /// refuse, until the driver replaces the command and acknowledges.
    struct FakeSmmu<'a> {
        mem: &'a TableMem,
        q: Queue,
        rate: u32,
        prod: Cell<u32>,
        cons: Cell<u32>,
        err: Cell<bool>,
        gerror: Cell<u32>,
        gerrorn: Cell<u32>,
        refuse: Option<u8>,
        seen: RefCell<KVec<u8>>,
        /// GERROR bits an "interrupt handler" acknowledges (its own
        /// read-modify-write of GERRORN) at the first read of CMDQ_CONS
        /// after GERROR was read with a command error pending: right
        /// inside the queue's own handling of that error.
        irq_acks: Cell<u32>,
        irq_armed: Cell<bool>,
        /// The device of this StreamID never completes an ATC
        /// invalidation: the next CMD_SYNC stops with CERROR_ATC_INV_SYNC.
        atc_dead_sid: Option<u32>,
        atc_pending: Cell<bool>,
        err_code: Cell<u32>,
    }

    impl<'a> FakeSmmu<'a> {
        fn new(mem: &'a TableMem, q: Queue, rate: u32, refuse: Option<u8>) -> Self {
            Self {
                mem,
                q,
                rate,
                prod: Cell::new(0),
                cons: Cell::new(0),
                err: Cell::new(false),
                gerror: Cell::new(0),
                gerrorn: Cell::new(0),
                refuse,
                seen: RefCell::new(KVec::new()),
                irq_acks: Cell::new(0),
                irq_armed: Cell::new(false),
                atc_dead_sid: None,
                atc_pending: Cell::new(false),
                err_code: Cell::new(cmdq_cons::CERROR_ILL as u32),
            }
        }

        fn consume(&self) {
            for _ in 0..self.rate {
                let (prod, cons) = (self.prod.get(), self.cons.get());
                if self.err.get() || self.q.empty(prod, cons) {
                    return;
                }
                let w0 = self
                    .mem
                    .read(self.q.idx(cons) as usize * CMD_QWORDS)
                    .unwrap_or(0);
                let op = (w0 & 0xff) as u8;
                if Some(op) == self.refuse {
                    self.err_code.set(cmdq_cons::CERROR_ILL as u32);
                    self.err.set(true);
                    self.gerror.set(self.gerror.get() ^ GerrorBit::Cmdq.mask());
                    return;
                }
                if op == Opcode::AtcInv as u8 && Some((w0 >> 32) as u32) == self.atc_dead_sid {
                    self.atc_pending.set(true);
                }
                if op == Opcode::Sync as u8 && self.atc_pending.replace(false) {
                    self.err_code.set(cmdq_cons::CERROR_ATC_INV_SYNC as u32);
                    self.err.set(true);
                    self.gerror.set(self.gerror.get() ^ GerrorBit::Cmdq.mask());
                    return;
                }
                let _ = self.seen.borrow_mut().push(op, GFP_ATOMIC);
                // A CMD_SYNC with CS=SIG_IRQ writes its MSI data (32 bits)
                // to its MSI address, here always a queue slot.
                if op == Opcode::Sync as u8 && (w0 >> 12) & 3 == 1 {
                    let base = self.q.idx(cons) as usize * CMD_QWORDS;
                    let addr = self.mem.read(base + 1).unwrap_or(0) & 0x000f_ffff_ffff_fffc;
                    let idx = (addr.wrapping_sub(self.mem.phys()) / 8) as usize;
                    let old = self.mem.read(idx).unwrap_or(0);
                    let _ = self.mem.write(idx, (old & !0xffff_ffff) | (w0 >> 32));
                }
                self.cons.set(self.q.inc_cons(cons));
            }
        }
    }

    impl CmdqRegs for FakeSmmu<'_> {
        fn cons(&self) -> u32 {
            self.consume();
            if self.irq_armed.replace(false) {
                let acks = self.irq_acks.replace(0);
                self.gerrorn.set(self.gerrorn.get() ^ acks);
            }
            let err = if self.err.get() {
                self.err_code.get()
            } else {
                0
            };
            self.cons.get() | (err << 24)
        }

        fn set_prod(&self, prod: u32) {
            self.prod.set(prod);
        }

        fn gerror(&self) -> (u32, u32) {
            // Any register read lets the SMMU make progress.
            self.consume();
            if self.err.get() && self.irq_acks.get() != 0 {
                self.irq_armed.set(true);
            }
            (self.gerror.get(), self.gerrorn.get())
        }

        fn set_gerrorn(&self, val: u32) {
            self.gerrorn.set(val);
            // CMDQ_ERR acknowledged: the SMMU retries the (replaced) command.
            if (self.gerror.get() ^ val) & GerrorBit::Cmdq.mask() == 0 {
                self.err.set(false);
            }
        }
    }

    fn queue(shift: u32) -> Result<(TableMem, Queue)> {
        let q = Queue::new(shift).ok_or(EINVAL)?;
        Ok((
            TableMem::alloc_coherent_for_test(q.entries() as usize * CMD_QWORDS * 8)?,
            q,
        ))
    }

    fn tlbi(asid: u16) -> Cmd {
        Cmd::TlbiNhAsid { asid, vmid: 0 }
    }

    /// Queue options: none, MSI polling, the MMU-700 erratum.
    const PLAIN: Options = Options {
        msipoll: false,
        cmdq_force_sync: false,
        skip_prefetch: false,
        page0_regs_only: false,
    };
    const MSIPOLL: Options = Options {
        msipoll: true,
        ..PLAIN
    };
    const FORCE_SYNC: Options = Options {
        cmdq_force_sync: true,
        ..PLAIN
    };

    /// The global error interrupt acknowledges an event queue abort while
    /// the queue handles a command error: neither acknowledgement undoes
    /// the other (GERRORN is read afresh under one lock), the bad command
    /// is replaced once, and every error ends acknowledged.
    #[test]
    fn gerror_acknowledgements_do_not_undo_each_other() -> Result {
        let (mem, q) = queue(3)?;
        let fake = FakeSmmu::new(&mem, q, 8, Some(Opcode::CfgiSteRange as u8));
        let evtq_abt = GerrorBit::EvtqAbt.mask();
        fake.gerror.set(evtq_abt);
        fake.irq_acks.set(evtq_abt);
        let cmdq = KBox::pin_init(Cmdq::with_mem(&mem, q, 1000, &PLAIN), GFP_KERNEL)?;
        cmdq.issue(&fake, &[tlbi(1), Cmd::CfgiAll, tlbi(2)], true)?;
        // The interrupt ran, and every error ends acknowledged.
        assert_eq!(fake.irq_acks.get(), 0);
        assert_eq!(fake.gerror.get(), fake.gerrorn.get());
        let seen = fake.seen.borrow();
        let sync = Opcode::Sync as u8;
        assert_eq!(
            &seen[..],
            &[
                Opcode::TlbiNhAsid as u8,
                sync,
                Opcode::TlbiNhAsid as u8,
                sync
            ]
        );
        Ok(())
    }

    /// Arm erratum 2812531: a run of 130 invalidations gets a CMD_SYNC
    /// after every 63 commands, so the SMMU never sees more than 63
    /// between two; without the erratum only the final one.
    #[test]
    fn erratum_2812531_forces_a_sync_every_63_commands() -> Result {
        for (opts, want_syncs) in [(&FORCE_SYNC, 3usize), (&PLAIN, 1)] {
            let (mem, q) = queue(8)?;
            let fake = FakeSmmu::new(&mem, q, 64, None);
            let cmdq = KBox::pin_init(Cmdq::with_mem(&mem, q, 1000, opts), GFP_KERNEL)?;
            cmdq.issue_with(&fake, SyncAfter::Always, |push| {
                (0..130).try_for_each(|i| push(&tlbi(i)))
            })?;
            let seen = fake.seen.borrow();
            let sync = Opcode::Sync as u8;
            assert_eq!(seen.len(), 130 + want_syncs);
            assert_eq!(seen.iter().filter(|&&op| op == sync).count(), want_syncs);
            let mut run = 0;
            for &op in seen.iter() {
                run = if op == sync { 0 } else { run + 1 };
                assert!(run <= if want_syncs == 3 { 63 } else { 130 });
            }
            assert_eq!(seen.last().copied(), Some(sync));
        }
        Ok(())
    }

    #[test]
    fn batch_larger_than_queue_wraps() -> Result {
        let (mem, q) = queue(3)?; // 8 entries
        let fake = FakeSmmu::new(&mem, q, 3, None);
        let cmdq = KBox::pin_init(Cmdq::with_mem(&mem, q, 1000, &PLAIN), GFP_KERNEL)?;
        let cmds: KVec<Cmd> = {
            let mut v = KVec::new();
            for i in 0..20 {
                v.push(tlbi(i), GFP_KERNEL)?;
            }
            v
        };
        cmdq.issue(&fake, &cmds, true)?;
        let seen = fake.seen.borrow();
        assert_eq!(seen.len(), 21);
        for op in &seen[..20] {
            assert_eq!(*op, Opcode::TlbiNhAsid as u8);
        }
        assert_eq!(seen[20], Opcode::Sync as u8);
        assert_eq!(cmdq.counts(), (20, 1));
        // 21 entries into 8: PROD wrapped twice (wrap bit back to 0), idx 5.
        assert_eq!(fake.prod.get(), 21 % 16);
        Ok(())
    }

    #[test]
    fn sync_waits_for_consumption() -> Result {
        let (mem, q) = queue(4)?;
        // One command per CONS read: the sync must poll until it is passed.
        let fake = FakeSmmu::new(&mem, q, 1, None);
        let cmdq = KBox::pin_init(Cmdq::with_mem(&mem, q, 1000, &PLAIN), GFP_KERNEL)?;
        cmdq.issue(&fake, &[tlbi(1), tlbi(2), tlbi(3)], true)?;
        assert_eq!(fake.seen.borrow().len(), 4);
        assert!(fake.q.empty(fake.prod.get(), fake.cons.get()));
        Ok(())
    }

    #[test]
    fn msi_sync_completes_in_memory() -> Result {
        let (mem, q) = queue(3)?;
        let fake = FakeSmmu::new(&mem, q, 3, None);
        let cmdq = KBox::pin_init(Cmdq::with_mem(&mem, q, 1000, &MSIPOLL), GFP_KERNEL)?;
        let cmds = [
            tlbi(1),
            tlbi(2),
            tlbi(3),
            tlbi(4),
            tlbi(5),
            tlbi(6),
            tlbi(7),
        ];
        cmdq.issue(&fake, &cmds, true)?;
        cmdq.issue(&fake, &cmds, true)?;
        let seen = fake.seen.borrow();
        assert_eq!(seen.len(), 16);
        assert_eq!(seen[7], Opcode::Sync as u8);
        assert_eq!(seen[15], Opcode::Sync as u8);
        // The second CMD_SYNC (slot 15 % 8) was completed by its MSI: its
        // first word now reads 0 where the opcode was.
        assert_eq!(mem.read(7 * CMD_QWORDS)? as u32, 0);
        assert_eq!(cmdq.counts(), (14, 2));
        // Without progress the MSI never comes: the wait gives up.
        let (mem, q) = queue(2)?;
        let stuck = FakeSmmu::new(&mem, q, 0, None);
        let cmdq = KBox::pin_init(Cmdq::with_mem(&mem, q, 100, &MSIPOLL), GFP_KERNEL)?;
        assert_eq!(cmdq.issue(&stuck, &[tlbi(1)], true).err(), Some(ETIMEDOUT));
        Ok(())
    }

    /// A device that never answers its ATC invalidation: the CMD_SYNC
    /// after it reports CERROR_ATC_INV_SYNC, the error is acknowledged and
    /// the CMD_SYNC run again, nothing is skipped, and the batch returns
    /// ATC_TIMEOUT; the next batch, without that device, succeeds.
    #[test]
    fn atc_invalidation_timeout_is_reported() -> Result {
        use crate::hw::cmd::{AtcSpan, Ssid};
        let (mem, q) = queue(3)?;
        let fake = FakeSmmu {
            atc_dead_sid: Some(7),
            ..FakeSmmu::new(&mem, q, 8, None)
        };
        let cmdq = KBox::pin_init(Cmdq::with_mem(&mem, q, 1000, &PLAIN), GFP_KERNEL)?;
        let atc = |sid| Cmd::AtcInv {
            sid,
            ssid: Ssid::ZERO,
            span: AtcSpan::ALL,
        };
        assert_eq!(
            cmdq.issue(&fake, &[atc(3), atc(7)], true).err(),
            Some(ATC_TIMEOUT)
        );
        assert_eq!(fake.gerror.get(), fake.gerrorn.get());
        cmdq.issue(&fake, &[atc(3)], true)?;
        let (atc_op, sync) = (Opcode::AtcInv as u8, Opcode::Sync as u8);
        assert_eq!(
            &fake.seen.borrow()[..],
            &[atc_op, atc_op, sync, atc_op, sync]
        );
        // One CMD_SYNC per batch: the rerun is the SMMU's, not a new one.
        assert_eq!(cmdq.counts(), (3, 2));
        Ok(())
    }

    #[test]
    fn stuck_smmu_times_out() -> Result {
        let (mem, q) = queue(2)?;
        let fake = FakeSmmu::new(&mem, q, 0, None);
        let cmdq = KBox::pin_init(Cmdq::with_mem(&mem, q, 100, &PLAIN), GFP_KERNEL)?;
        assert_eq!(cmdq.issue(&fake, &[tlbi(1)], true).err(), Some(ETIMEDOUT));
        Ok(())
    }

    #[test]
    fn illegal_command_is_skipped() -> Result {
        let (mem, q) = queue(3)?;
        let fake = FakeSmmu::new(&mem, q, 8, Some(Opcode::CfgiSteRange as u8));
        let cmdq = KBox::pin_init(Cmdq::with_mem(&mem, q, 1000, &PLAIN), GFP_KERNEL)?;
        cmdq.issue(&fake, &[tlbi(1), Cmd::CfgiAll, tlbi(2)], true)?;
        let seen = fake.seen.borrow();
        // The refused CFGI_ALL became a CMD_SYNC; the rest went through.
        assert_eq!(
            &seen[..],
            &[
                Opcode::TlbiNhAsid as u8,
                Opcode::Sync as u8,
                Opcode::TlbiNhAsid as u8,
                Opcode::Sync as u8
            ]
        );
        // The error was acknowledged.
        assert_eq!(fake.gerror.get(), fake.gerrorn.get());
        Ok(())
    }

    /// The SMMU's side of a queue shared by several CPUs, behind its own
    /// lock: it consumes up to `RATE` commands whenever a producer reads a
    /// register, and stops with CERROR_ILL at every `REFUSE_EVERY`-th TLBI
    /// until the driver replaces it and acknowledges.
    struct SimHw {
        prod: u32,
        cons: u32,
        err: bool,
        gerror: u32,
        gerrorn: u32,
        tlbis: u64,
        syncs: u64,
        refused: u64,
    }

    const RATE: u32 = 3;
    const REFUSE_EVERY: u64 = 37;

    struct Sim {
        cmdq: Pin<KBox<Cmdq<TableMem>>>,
        hw: Pin<KBox<SpinLockIrq<SimHw>>>,
    }

    impl Sim {
        fn consume(&self, hw: &mut SimHw) {
            let q = self.cmdq.q;
            for _ in 0..RATE {
                if hw.err || q.empty(hw.prod, hw.cons) {
                    return;
                }
                let w0 = self
                    .cmdq
                    .mem
                    .read(q.idx(hw.cons) as usize * CMD_QWORDS)
                    .unwrap_or(0);
                let op = (w0 & 0xff) as u8;
                if op == Opcode::TlbiNhAsid as u8 {
                    if (hw.tlbis + hw.refused + 1) % REFUSE_EVERY == 0 {
                        hw.refused += 1;
                        hw.err = true;
                        hw.gerror ^= GerrorBit::Cmdq.mask();
                        return;
                    }
                    hw.tlbis += 1;
                } else if op == Opcode::Sync as u8 {
                    hw.syncs += 1;
                }
                hw.cons = q.inc_cons(hw.cons);
            }
        }
    }

    /// A producer's view of the simulated SMMU's registers.
    struct SimRegs<'a>(&'a Sim);

    impl CmdqRegs for SimRegs<'_> {
        fn cons(&self) -> u32 {
            let mut hw = self.0.hw.lock();
            self.0.consume(&mut hw);
            let err = if hw.err {
                cmdq_cons::CERROR_ILL as u32
            } else {
                0
            };
            hw.cons | (err << 24)
        }

        fn set_prod(&self, prod: u32) {
            self.0.hw.lock().prod = prod;
        }

        fn gerror(&self) -> (u32, u32) {
            let mut hw = self.0.hw.lock();
            self.0.consume(&mut hw);
            (hw.gerror, hw.gerrorn)
        }

        fn set_gerrorn(&self, val: u32) {
            let mut hw = self.0.hw.lock();
            hw.gerrorn = val;
            if (hw.gerror ^ val) & GerrorBit::Cmdq.mask() == 0 {
                hw.err = false;
            }
        }
    }

    /// Four workers issue batches with CMD_SYNCs into one 8-entry queue:
    /// it wraps and fills all the time, and the simulated SMMU refuses
    /// some commands. Every batch completes, every command but the refused
    /// ones reaches the SMMU, and every error ends acknowledged.
    #[test]
    fn four_producers_share_a_small_queue() -> Result {
        use kernel::{
            sync::{
                atomic::{Atomic, Relaxed},
                new_spinlock_irq, Arc,
            },
            time::{delay::fsleep, Delta},
            workqueue,
        };
        const WORKERS: u32 = 4;
        const BATCHES: u16 = 60;
        const PER_BATCH: u16 = 5;
        let (mem, q) = queue(3)?;
        let sim = Arc::new(
            Sim {
                cmdq: KBox::pin_init(Cmdq::with_mem(mem, q, 100_000, &PLAIN), GFP_KERNEL)?,
                hw: KBox::pin_init(
                    new_spinlock_irq!(SimHw {
                        prod: 0,
                        cons: 0,
                        err: false,
                        gerror: 0,
                        gerrorn: 0,
                        tlbis: 0,
                        syncs: 0,
                        refused: 0,
                    }),
                    GFP_KERNEL,
                )?,
            },
            GFP_KERNEL,
        )?;
        let done = Arc::new(Atomic::<u32>::new(0), GFP_KERNEL)?;
        let failed = Arc::new(Atomic::<u32>::new(0), GFP_KERNEL)?;
        for w in 0..WORKERS {
            let (sim, done, failed) = (sim.clone(), done.clone(), failed.clone());
            workqueue::system_unbound().try_spawn(GFP_KERNEL, move || {
                let regs = SimRegs(&sim);
                for b in 0..BATCHES {
                    let r = sim.cmdq.issue_with(&regs, SyncAfter::Always, |push| {
                        (0..PER_BATCH).try_for_each(|i| push(&tlbi(w as u16 * 1000 + b * 10 + i)))
                    });
                    if r.is_err() {
                        failed.fetch_add(1, Relaxed);
                    }
                }
                done.fetch_add(1, Relaxed);
            })?;
        }
        let mut waited = 0;
        while done.load(Relaxed) < WORKERS && waited < 20_000 {
            fsleep(Delta::from_millis(1));
            waited += 1;
        }
        assert_eq!(done.load(Relaxed), WORKERS);
        assert_eq!(failed.load(Relaxed), 0);
        let hw = sim.hw.lock();
        let all = u64::from(WORKERS) * u64::from(BATCHES) * u64::from(PER_BATCH);
        assert!(hw.refused > 0);
        assert_eq!(hw.tlbis + hw.refused, all);
        // One CMD_SYNC per batch, plus one for each refused command.
        assert_eq!(
            hw.syncs,
            u64::from(WORKERS) * u64::from(BATCHES) + hw.refused
        );
        assert_eq!(hw.gerror, hw.gerrorn);
        assert!(q.empty(hw.prod, hw.cons));
        Ok(())
    }
}

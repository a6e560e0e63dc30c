// SPDX-License-Identifier: GPL-2.0

//! The command queue: commands go into coherent DMA memory, PROD tells the
//! SMMU, and a CMD_SYNC is complete once CONS has moved past it (or, with
//! MSI polling, once the SMMU wrote over it).
//!
//! Every CPU inserts without a lock around the queue, as the C driver
//! does (`arm_smmu_cmdq_issue_cmdlist()`, see [`Cmdq::insert`]): slots are
//! claimed by compare-and-swap, one owner at a time hands everyone's
//! written commands to the SMMU, and CPUs whose CMD_SYNCs are in flight
//! together complete together. Commands are gathered in batches of up to
//! 64 (`CMDQ_BATCH_ENTRIES`), with a CMD_SYNC after every 63 under Arm
//! erratum 2812531. Errors the SMMU reports on a command (GERROR.CMDQ_ERR
//! with CMDQ_CONS.ERR) are handled as the C driver does, by whichever
//! waiter finds them first, under the GERRORN lock: an illegal command is
//! logged and replaced by a CMD_SYNC, a fetch abort is retried, then the
//! error is acknowledged so the queue moves on.
//!
//! A wait gives up with `ETIMEDOUT` only when the SMMU holds commands it
//! does not consume for the queue's timeout (1 s): see
//! [`Cmdq::smmu_stalled`]. Waits on other CPUs (for room they have not
//! handed over yet, for their entries, for the previous owner) do not
//! time out, as in C: those CPUs have interrupts off and a few stores
//! left to do, so such a wait is long only if the hypervisor preempted
//! the vCPU doing them. Giving up then would drop a command (an
//! invalidation) or publish entries not yet written.
//! An ATC invalidation that timed out (CERROR_ATC_INV_SYNC) is
//! acknowledged, the SMMU completes the CMD_SYNC, and the batch that
//! CMD_SYNC ends returns [`ATC_TIMEOUT`] so its issuer can stop using the
//! device's ATS.
//!
//! The queue reaches memory and registers through [`QueueMem`] and
//! [`CmdqRegs`], so KUnit drives it against a simulated consumer.

use crate::{
    hw::{
        cmd::{Cmd, SyncCs},
        event::{CmdqErrAction, CmdqError, Gerror, GerrorBit},
        queue::{Queue, Reservation, SyncSpacing, Q_OVERFLOW_FLAG, VALID_WORD_BITS},
        regs::{ctrl_off as off, Options, CMDQ_BATCH_ENTRIES},
        reset::QueueConfig,
    },
    mmio::RegsGuard,
};
use core::marker::PhantomData;
use kernel::{
    device::{Bound, Device},
    dma::Coherent,
    interrupt::{local_interrupt_disable, LocalInterruptDisabled},
    io::{io_read, io_write},
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        barrier::{dma_mb, Write},
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

    #[inline]
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
    /// Logs a command-queue error against the SMMU's device
    /// (`dev_err!`); `msg` ends with a newline.
    fn log_err(&self, msg: core::fmt::Arguments<'_>);
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

    fn log_err(&self, msg: core::fmt::Arguments<'_>) {
        dev_err!(self.dev(), "{}", msg);
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

/// The owned flag of the software PROD (`CMDQ_PROD_OWNED_FLAG`).
const OWNED: u32 = Q_OVERFLOW_FLAG;

/// `cmdq->q.llq.val`: PROD in the low half, CONS in the high half.
const fn llq(prod: u32, cons: u32) -> u64 {
    (prod as u64) | ((cons as u64) << 32)
}

/// PROD and CONS of an `llq` value.
const fn llq_split(v: u64) -> (u32, u32) {
    (v as u32, (v >> 32) as u32)
}

/// Spins between polls before a delay (`ARM_SMMU_POLL_SPIN_COUNT`).
const POLL_SPIN_COUNT: u32 = 10;

/// The pause between two polls, as C's `queue_poll()`: up to
/// [`POLL_SPIN_COUNT`] spins, then a one-microsecond delay. Only the
/// delays count against the timeout, so it stays about `timeout_us`.
struct Backoff {
    spins: u32,
    timeout_us: usize,
    delays_left: usize,
    polls: usize,
    /// CONS when the current period of the timeout started, if read.
    period_cons: Option<u32>,
}

impl Backoff {
    fn new(timeout_us: usize) -> Self {
        Self {
            spins: 0,
            timeout_us,
            delays_left: timeout_us,
            polls: 0,
            period_cons: None,
        }
    }

    /// Notes a CONS read, as the current period's start if none is yet.
    fn saw_cons(&mut self, cons: u32) {
        self.period_cons.get_or_insert(cons);
    }

    /// Starts a new period of the whole timeout, at CONS `cons`.
    fn new_period(&mut self, cons: u32) {
        self.delays_left = self.timeout_us;
        self.period_cons = Some(cons);
    }

    /// Pauses; `false` once the timeout has passed.
    fn pause(&mut self) -> bool {
        self.polls += 1;
        if self.spins < POLL_SPIN_COUNT {
            self.spins += 1;
            core::hint::spin_loop();
            return true;
        }
        self.spins = 0;
        if self.delays_left == 0 {
            return false;
        }
        self.delays_left -= 1;
        udelay(Delta::from_micros(1));
        true
    }

    /// Every 16th poll: when to look for a command error meanwhile.
    fn check_errors(&self) -> bool {
        self.polls % 16 == 15
    }
}

/// Polls `done` until it holds, pausing as [`Backoff`] does, with no
/// timeout: for waits on other CPUs' short interrupts-off sections.
fn spin_until(mut done: impl FnMut() -> bool) {
    let mut backoff = Backoff::new(usize::MAX);
    while !done() {
        backoff.pause();
    }
}

/// The queue's lock held shared by this CPU ([`Cmdq::shared_lock`]); it
/// borrows the guard that keeps interrupts off, so they cannot come back
/// on before [`Cmdq::shared_unlock`].
struct SharedHold<'a>(PhantomData<&'a LocalInterruptDisabled>);

/// A command queue shared by every CPU without a lock around it, as the
/// C driver's (`arm_smmu_cmdq_issue_cmdlist()`); see [`Cmdq::insert`].
#[pin_data]
pub(crate) struct Cmdq<M: QueueMem = Coherent<[u64]>> {
    mem: M,
    q: Queue,
    /// Polls (about one microsecond each) the SMMU may hold commands
    /// without consuming any before a wait gives up.
    timeout_us: usize,
    /// CMD_SYNCs signal completion by writing 0 over themselves (an MSI
    /// to the queue), so waits poll memory, not CMDQ_CONS
    /// (`ARM_SMMU_OPT_MSIPOLL`: MSIs and a coherent SMMU).
    msi_poll: bool,
    /// At most 63 commands between CMD_SYNCs (Arm erratum 2812531,
    /// `ARM_SMMU_OPT_CMDQ_FORCE_SYNC`).
    force_sync: bool,
    /// Commands per insertion: `CMDQ_BATCH_ENTRIES`, less in a queue too
    /// small for a full batch and its CMD_SYNC.
    batch: usize,
    /// The software PROD (with [`OWNED`]) and the last CONS known
    /// (`cmdq->q.llq`), claimed by compare-and-swap.
    llq: Atomic<u64>,
    /// Where the next owner's reservation starts (`cmdq->owner_prod`).
    owner_prod: Atomic<u32>,
    /// Shared (> 0) by CMD_SYNC waiters, exclusive ([`i32::MIN`]) to
    /// refresh CONS when the queue is full (`cmdq->lock`).
    lock: Atomic<i32>,
    /// One bit per entry, toggled once written (`cmdq->valid_map`).
    valid: KVec<Atomic<u64>>,
    /// Per entry: the CMD_SYNC there stopped at CERROR_ATC_INV_SYNC.
    atc_timed_out: KVec<Atomic<u32>>,
    issued: Atomic<u64>,
    syncs: Atomic<u64>,
    /// Command errors the SMMU reported (CMDQ_ERR).
    errors: Atomic<u64>,
    /// Serialises every read-modify-write of GERRORN, and the handling of
    /// a command error: the queue's waiters and the global error
    /// interrupt acknowledge different bits of the one register, and
    /// neither may undo the other's.
    #[pin]
    gerrorn: SpinLockIrq<()>,
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
        Self::with_mem(mem, q, POLL_TIMEOUT_US, opts)
    }
}

/// `n` atomics of value `zero`.
fn atomics<T>(n: usize, zero: T) -> Result<KVec<Atomic<T>>>
where
    T: kernel::sync::atomic::AtomicType + Copy,
{
    let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
    for _ in 0..n {
        v.push(Atomic::new(zero), GFP_KERNEL)?;
    }
    Ok(v)
}

impl<M: QueueMem> Cmdq<M> {
    /// A queue `q` in `mem`, whose waits give up once the SMMU consumed
    /// nothing for `timeout_us` polls:
    /// CMD_SYNCs complete by MSI if `opts.msipoll`, and come at least every
    /// 63 commands if `opts.cmdq_force_sync`.
    pub(crate) fn with_mem(
        mem: M,
        q: Queue,
        timeout_us: usize,
        opts: &Options,
    ) -> Result<impl PinInit<Self, Error>> {
        let (msi_poll, force_sync) = (opts.msipoll, opts.cmdq_force_sync);
        if q.entries() < 2 {
            return Err(EINVAL);
        }
        let entries = q.entries() as usize;
        let valid = atomics(entries.div_ceil(VALID_WORD_BITS as usize), 0u64)?;
        let atc_timed_out = atomics(entries, 0u32)?;
        let batch = (CMDQ_BATCH_ENTRIES as usize).min(entries - 1);
        Ok(try_pin_init!(Self {
            mem,
            q,
            timeout_us,
            msi_poll,
            force_sync,
            batch,
            llq: Atomic::new(0),
            owner_prod: Atomic::new(0),
            lock: Atomic::new(0),
            valid,
            atc_timed_out,
            issued: Atomic::new(0),
            syncs: Atomic::new(0),
            errors: Atomic::new(0),
            gerrorn <- new_spinlock_irq!(()),
        }))
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
        (self.issued.load(Relaxed), self.syncs.load(Relaxed))
    }

    /// Command errors the SMMU reported so far.
    pub(crate) fn errors(&self) -> u64 {
        self.errors.load(Relaxed)
    }

    fn ptr(&self, raw: u32) -> u32 {
        self.q.wrp(raw) | self.q.idx(raw)
    }

    #[inline]
    fn write_cmd(&self, p: u32, words: [u64; 2]) -> Result {
        let base = self.q.idx(p) as usize * CMD_QWORDS;
        self.mem.write(base, words[0])?;
        self.mem.write(base + 1, words[1])
    }

    /// Issues `cmds` in order and, if `sync`, a CMD_SYNC, waiting until the
    /// SMMU has consumed it (and so completed every command before it).
    pub(crate) fn issue(&self, regs: &impl CmdqRegs, cmds: &[Cmd], sync: bool) -> Result {
        let sync = if sync {
            SyncAfter::Always
        } else {
            SyncAfter::Never
        };
        self.issue_with(regs, sync, |push| cmds.iter().try_for_each(push))
    }

    /// Issues the commands `fill` pushes, gathered in batches of up to
    /// `CMDQ_BATCH_ENTRIES` (`struct arm_smmu_cmdq_batch`), then a CMD_SYNC
    /// as `sync` says. Other CPUs insert theirs meanwhile; the CMD_SYNC
    /// completes this CPU's commands and any before it. An error from
    /// `fill` or an insertion stops there; what was gathered is inserted.
    /// [`ATC_TIMEOUT`] when the final CMD_SYNC stopped at an ATC
    /// invalidation that timed out.
    pub(crate) fn issue_with(
        &self,
        regs: &impl CmdqRegs,
        sync: SyncAfter,
        fill: impl FnOnce(&mut dyn FnMut(&Cmd) -> Result) -> Result,
    ) -> Result {
        let mut batch = [[0u64; 2]; CMDQ_BATCH_ENTRIES as usize];
        let mut n = 0usize;
        let mut any = false;
        let mut spacing = SyncSpacing::new(self.force_sync);
        let filled = fill(&mut |cmd: &Cmd| {
            if spacing.sync_before_cmd() {
                // Arm erratum 2812531: a CMD_SYNC after 63 commands.
                self.insert(regs, &batch[..n], true)?;
                n = 0;
            }
            if n == self.batch {
                self.insert(regs, &batch[..n], false)?;
                n = 0;
            }
            if let Some(slot) = batch.get_mut(n) {
                *slot = cmd.encode();
                n += 1;
                any = true;
            }
            Ok(())
        });
        let sync = match sync {
            SyncAfter::Always => true,
            SyncAfter::IfIssued => any,
            SyncAfter::Never => false,
        };
        if filled.is_err() || !sync {
            if n != 0 {
                self.insert(regs, &batch[..n], false)?;
            }
            return filled;
        }
        self.insert(regs, &batch[..n], true)
    }

    /// Inserts `cmds` and, if `sync`, a CMD_SYNC after them, then waits
    /// for it (`arm_smmu_cmdq_issue_cmdlist()`), with interrupts off as in
    /// C (the DMA API unmaps, and so invalidates, from interrupt handlers)
    /// but while waiting for room:
    ///
    /// 1. claim slots with a compare-and-swap of (PROD, CONS) that sets
    ///    the owned flag; whoever found it clear is the *owner*;
    /// 2. write the commands, then mark them in the valid bitmap (a
    ///    CMD_SYNC's waiter first takes the lock shared, so that CONS is
    ///    not refreshed past its slot meanwhile);
    /// 3. the owner waits for the previous owner, clears the owned flag,
    ///    which gathers every reservation made behind its own, waits
    ///    until all those entries are valid, writes the hardware PROD for
    ///    all of them and hands over to the next owner;
    /// 4. a CMD_SYNC's waiter polls for it (MSI or CONS); the last waiter
    ///    out writes back the CONS it saw.
    ///
    /// The host model checker (`tools/testing/arm-smmu-v3-rs/host/tests/
    /// cmdq_model.rs`) checks these steps over every interleaving, with
    /// an interrupt handler inserting wherever interrupts are on. Once
    /// slots are claimed, steps 2 and 3 always run to the end, even after
    /// an error: later owners wait for those slots.
    fn insert(&self, regs: &impl CmdqRegs, cmds: &[[u64; 2]], sync: bool) -> Result {
        let n = u32::try_from(cmds.len()).map_err(|_| EINVAL)?;
        if cmds.is_empty() && !sync {
            return Ok(());
        }
        let (r, irq) = self.claim(regs, n, sync)?;
        self.complete(regs, r, cmds, &irq)
    }

    /// Step 1 of [`Cmdq::insert`]: claims `n` slots and, if `sync`, one
    /// for a CMD_SYNC. Interrupts are off, but while the queue is full,
    /// and stay off (the guard returned) until the insertion is complete;
    /// `ETIMEDOUT` if the queue stays full because the SMMU stalled.
    fn claim(
        &self,
        regs: &impl CmdqRegs,
        n: u32,
        sync: bool,
    ) -> Result<(Reservation, LocalInterruptDisabled)> {
        let mut backoff = Backoff::new(self.timeout_us);
        let mut irq = local_interrupt_disable();
        let mut v = self.llq.load(Relaxed);
        loop {
            let (prod, cons) = llq_split(v);
            let Some(r) = self.q.reserve(prod, cons, n, sync) else {
                // This CPU holds nothing yet: interrupts may come.
                drop(irq);
                self.wait_not_full(regs, v, &mut backoff)?;
                irq = local_interrupt_disable();
                v = self.llq.load(Relaxed);
                continue;
            };
            match self.llq.cmpxchg(v, llq(r.new_prod, cons), Relaxed) {
                Ok(_) => return Ok((r, irq)),
                Err(now) => v = now,
            }
        }
    }

    /// Steps 2 to 4 of [`Cmdq::insert`] for the slots `r` claimed:
    /// `cmds` and the CMD_SYNC are written, marked valid and, by the
    /// owner, published, whatever fails. Interrupts are off throughout
    /// (`irq`), the wait for the CMD_SYNC included, as in C: its waiter
    /// holds the lock shared, and a handler on this CPU waiting for room
    /// would wait for that lock forever (the model checker's
    /// `IrqsOnInSyncWait`).
    fn complete(
        &self,
        regs: &impl CmdqRegs,
        r: Reservation,
        cmds: &[[u64; 2]],
        irq: &LocalInterruptDisabled,
    ) -> Result {
        // 2. Write. A failed write leaves its slot as it was; the slot
        // is still handed over, as every claimed slot must be.
        let mut written = (0u32..)
            .zip(cmds)
            .try_for_each(|(i, cmd)| self.write_cmd(self.q.inc_prod_n(r.start, i), *cmd));
        let held = r.sync_at.map(|at| {
            let cs = if self.msi_poll {
                SyncCs::Irq {
                    msi_addr: self.slot_dma(at),
                    msi_data: 0,
                }
            } else {
                SyncCs::None
            };
            written = written.and(self.write_cmd(at, Cmd::sync_words(cs)));
            // A CMD_SYNC's waiter keeps CONS from being refreshed past it.
            (at, self.shared_lock(irq))
        });
        // The entries, for the SMMU too, before their valid bits (C's
        // dma_wmb()).
        dma_mb(Write);
        self.set_valid(r.start, r.end);
        self.issued.fetch_add(cmds.len() as u64, Relaxed);
        // 3. Publish.
        if r.owner {
            self.publish(regs, r.start);
        }
        // 4. Wait.
        let Some((at, held)) = held else {
            return written;
        };
        if let Err(e) = written {
            // What the slot holds is not a CMD_SYNC to wait for.
            self.shared_unlock(regs, held, None);
            return Err(e);
        }
        self.syncs.fetch_add(1, Relaxed);
        let waited = self.wait_for_sync(regs, at);
        let atc = self.atc_timed_out.get(self.q.idx(at) as usize);
        // Read before the exchange: the flag is almost never set, and a
        // load is cheaper than an atomic exchange. Only this waiter
        // clears it, and it was set before the CMD_SYNC completed.
        let timed_out = atc.is_some_and(|f| f.load(Relaxed) != 0 && f.xchg(0, Relaxed) != 0);
        self.shared_unlock(regs, held, waited.as_ref().ok().copied().flatten());
        match waited {
            Ok(_) if timed_out => Err(ATC_TIMEOUT),
            w => w.map(|_| ()),
        }
    }

    /// The owner's part (step 3 of [`Cmdq::insert`]): waits for the
    /// previous owner, gathers every reservation up to the current PROD,
    /// waits until they are all written and hands them to the SMMU. Both
    /// waits are on CPUs with interrupts off, and do not time out (C's
    /// `atomic_cond_read_relaxed()`): publishing entries not yet written
    /// would hand the SMMU stale commands and lose the real ones.
    fn publish(&self, regs: &impl CmdqRegs, start: u32) {
        spin_until(|| self.owner_prod.load(Acquire) == start);
        let gathered = self.clear_owned();
        spin_until(|| self.is_valid(start, gathered));
        regs.set_prod(gathered);
        self.owner_prod.store(gathered, Release);
    }

    /// Clears the owned flag (`atomic_fetch_andnot()` on PROD); returns
    /// PROD: the end of every reservation made so far.
    fn clear_owned(&self) -> u32 {
        let mut v = self.llq.load(Relaxed);
        loop {
            let (prod, cons) = llq_split(v);
            match self.llq.cmpxchg(v, llq(prod & !OWNED, cons), Relaxed) {
                Ok(_) => return prod & !OWNED,
                Err(now) => v = now,
            }
        }
    }

    /// Sets the shared CONS to `cons`, keeping PROD and its owned flag
    /// (C's `WRITE_ONCE(cmdq->q.llq.cons, ...)`). `cons` is a CONS read
    /// from the SMMU by the exclusive holder of the lock or by the last
    /// shared holder, so it is never behind the shared one. (Comparing
    /// the two could not tell: a full queue's CONS is a whole pass ahead
    /// at the same index.)
    fn advance_cons(&self, cons: u32) {
        let mut v = self.llq.load(Relaxed);
        loop {
            let (prod, old) = llq_split(v);
            if old == cons {
                return;
            }
            match self.llq.cmpxchg(v, llq(prod, cons), Relaxed) {
                Ok(_) => return,
                Err(now) => v = now,
            }
        }
    }

    /// Marks entries `start..end` written (`arm_smmu_cmdq_set_valid_map()`).
    fn set_valid(&self, start: u32, end: u32) {
        for c in self.q.valid_span(start, end) {
            let Some(word) = self.valid.get(c.word) else {
                continue;
            };
            let mut old = word.load(Relaxed);
            // Release: the entries' contents before their bits.
            while let Err(now) = word.cmpxchg(old, old ^ c.mask, Release) {
                old = now;
            }
        }
    }

    /// Whether entries `start..end` are all written
    /// (`arm_smmu_cmdq_poll_valid_map()`).
    fn is_valid(&self, start: u32, end: u32) -> bool {
        self.q.valid_span(start, end).all(|c| {
            self.valid
                .get(c.word)
                .is_some_and(|w| w.load(Acquire) & c.mask == c.valid)
        })
    }

    /// Takes the lock shared (`arm_smmu_cmdq_shared_lock()`), for as long
    /// as interrupts stay off (`_irq`): a CPU that refreshes CONS waits
    /// for every shared holder, and an interrupt handler could be that
    /// CPU. Held exclusively only for a CONS refresh, so the wait is on a
    /// CPU and does not time out.
    ///
    /// One atomic increment when the lock is not held exclusively, as in
    /// C; an increment that found it held is undone by the exclusive
    /// holder's unlock (which stores 0), so the retry is a
    /// compare-and-swap.
    fn shared_lock<'a>(&self, _irq: &'a LocalInterruptDisabled) -> SharedHold<'a> {
        if self.lock.fetch_add(1, Acquire) >= 0 {
            return SharedHold(PhantomData);
        }
        let mut v = self.lock.load(Relaxed);
        loop {
            if v >= 0 {
                match self.lock.cmpxchg(v, v + 1, Acquire) {
                    Ok(_) => return SharedHold(PhantomData),
                    Err(now) => {
                        v = now;
                        continue;
                    }
                }
            }
            spin_until(|| self.lock.load(Relaxed) >= 0);
            v = self.lock.load(Relaxed);
        }
    }

    /// Releases the lock shared (`arm_smmu_cmdq_shared_tryunlock()`): the
    /// last holder first writes back `cons`, the CONS its wait read.
    #[inline]
    fn shared_unlock(&self, regs: &impl CmdqRegs, _held: SharedHold<'_>, cons: Option<u32>) {
        if self.lock.load(Relaxed) == 1 {
            self.advance_cons(cons.unwrap_or_else(|| self.ptr(regs.cons())));
        }
        self.lock.fetch_sub(1, Release);
    }

    /// The queue looked full at `seen`: refresh CONS from the SMMU once,
    /// under the lock held exclusively, or wait until someone else changed
    /// (PROD, CONS) (`arm_smmu_cmdq_poll_until_not_full()`). A command
    /// error that stops the SMMU is handled here too: the queue may be
    /// full with no CMD_SYNC waiter to find it.
    /// `backoff` is the caller's, so that its timeout covers every retry;
    /// it gives up only if the SMMU stalled ([`Cmdq::smmu_stalled`]).
    fn wait_not_full(&self, regs: &impl CmdqRegs, seen: u64, backoff: &mut Backoff) -> Result {
        self.handle_error(regs)?;
        let refreshed = self.refresh_cons(regs, backoff, &local_interrupt_disable());
        if refreshed && self.llq.load(Relaxed) != seen {
            return Ok(());
        }
        while self.llq.load(Relaxed) == seen {
            if !backoff.pause() && self.smmu_stalled(regs, backoff) {
                regs.log_err(format_args!(
                    "timeout waiting for command queue space (CMDQ_CONS {:#x})\n",
                    regs.cons()
                ));
                return Err(ETIMEDOUT);
            }
            if backoff.check_errors() {
                // Read CONS again: the SMMU may have made room.
                return Ok(());
            }
        }
        Ok(())
    }

    /// Refreshes the shared CONS from the SMMU under the lock held
    /// exclusively, if it is free; whether it was. Interrupts are off
    /// (`_irq`) while it is held, as in C's
    /// `arm_smmu_cmdq_exclusive_trylock_irqsave()`: CPUs taking it shared
    /// spin with interrupts off and no timeout, so a holder preempted or
    /// interrupted into such a spinner would never run again (the model
    /// checker's `IrqsOnInExclusive`).
    fn refresh_cons(
        &self,
        regs: &impl CmdqRegs,
        backoff: &mut Backoff,
        _irq: &LocalInterruptDisabled,
    ) -> bool {
        if self.lock.cmpxchg(0, i32::MIN, Acquire).is_err() {
            return false;
        }
        let cons = self.ptr(regs.cons());
        backoff.saw_cons(cons);
        self.advance_cons(cons);
        self.lock.store(0, Release);
        true
    }

    /// A wait's timeout has passed: whether the SMMU is to blame, and the
    /// wait should give up. It is not, and a new period of the timeout
    /// starts, if the SMMU has consumed every command handed to it, or if
    /// CONS moved since the period started: the wait is then on CPUs
    /// that have yet to write or hand over their commands (a vCPU its
    /// hypervisor preempted, say), or the SMMU is slow but working. Only
    /// an SMMU holding commands and consuming none for a whole period
    /// times a wait out.
    fn smmu_stalled(&self, regs: &impl CmdqRegs, backoff: &mut Backoff) -> bool {
        let cons = self.ptr(regs.cons());
        let idle = cons == self.owner_prod.load(Acquire);
        if idle || backoff.period_cons != Some(cons) {
            backoff.new_period(cons);
            return false;
        }
        true
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
        let mut backoff = Backoff::new(self.timeout_us);
        loop {
            let raw = regs.cons();
            let cons = self.ptr(raw);
            if done(cons) {
                return Ok(cons);
            }
            backoff.saw_cons(cons);
            // CONS.ERR says the SMMU stopped at a command it refused: an
            // error to handle at once, not a slow SMMU.
            if CmdqError::from_cons(raw) != CmdqError::None || backoff.check_errors() {
                self.handle_error(regs)?;
            }
            if !backoff.pause() && self.smmu_stalled(regs, &mut backoff) {
                break;
            }
        }
        regs.log_err(format_args!(
            "timeout waiting for {} (CMDQ_CONS {:#x})\n",
            what,
            regs.cons()
        ));
        Err(ETIMEDOUT)
    }

    /// Waits until CONS has passed the CMD_SYNC at `at` or, with MSI
    /// polling, until the SMMU cleared its first word
    /// (`arm_smmu_cmdq_poll_until_msi()`); command errors are still looked
    /// for every 16 polls. Returns the CONS read, if any.
    fn wait_for_sync(&self, regs: &impl CmdqRegs, at: u32) -> Result<Option<u32>> {
        if !self.msi_poll {
            return self
                .wait(regs, "CMD_SYNC", |cons| self.q.consumed(cons, at))
                .map(Some);
        }
        let base = self.q.idx(at) as usize * CMD_QWORDS;
        let mut backoff = Backoff::new(self.timeout_us);
        loop {
            if self.mem.read(base)? as u32 == 0 {
                return Ok(None);
            }
            if backoff.check_errors() {
                self.handle_error(regs)?;
            }
            if !backoff.pause() && self.smmu_stalled(regs, &mut backoff) {
                break;
            }
        }
        regs.log_err(format_args!(
            "timeout waiting for CMD_SYNC MSI (CMDQ_CONS {:#x})\n",
            regs.cons()
        ));
        Err(ETIMEDOUT)
    }

    /// Acknowledges the global errors of `bits` that are still active:
    /// GERRORN is read afresh and written under the one lock every
    /// acknowledgment takes, so a concurrent acknowledgment of other
    /// bits (or of the same) is never undone or repeated.
    pub(crate) fn ack_gerrors(&self, regs: &impl CmdqRegs, bits: u32) {
        let _guard = self.gerrorn.lock();
        let (gerror, gerrorn) = regs.gerror();
        regs.set_gerrorn(gerrorn ^ (bits & (gerror ^ gerrorn)));
    }

    /// Handles a command error the SMMU reported, if any, so the queue
    /// moves on (`arm_smmu_cmdq_skip_err()` and the GERROR acknowledge).
    /// Any waiter may find it; the GERRORN lock makes one of them handle
    /// it, once. The global error interrupt leaves CMDQ_ERR to them.
    fn handle_error(&self, regs: &impl CmdqRegs) -> Result {
        let (gerror, gerrorn) = regs.gerror();
        if !Gerror::new(gerror, gerrorn).contains(GerrorBit::Cmdq) {
            return Ok(());
        }
        let _guard = self.gerrorn.lock();
        let (gerror, gerrorn) = regs.gerror();
        if !Gerror::new(gerror, gerrorn).contains(GerrorBit::Cmdq) {
            // Another waiter handled it meanwhile.
            return Ok(());
        }
        let cons = regs.cons();
        let err = CmdqError::from_cons(cons);
        self.errors.fetch_add(1, Relaxed);
        regs.log_err(format_args!(
            "CMDQ error (cons {:#010x}): {}\n",
            cons,
            err.message()
        ));
        if err.action() == CmdqErrAction::Skip {
            let at = self.ptr(cons);
            let base = self.q.idx(at) as usize * CMD_QWORDS;
            let raw = [self.mem.read(base)?, self.mem.read(base + 1)?];
            regs.log_err(format_args!(
                "skipping command: {:#018x} {:#018x} ({:?})\n",
                raw[0],
                raw[1],
                Cmd::decode(&raw)
            ));
            self.write_cmd(at, CmdqError::replacement(true).encode())?;
        }
        if err == CmdqError::AtcInvSync {
            // CONS is at the CMD_SYNC, which the SMMU runs again once the
            // error is acknowledged, without waiting for the ATC
            // invalidations that timed out (as C, which retries). Its
            // waiter reports the timeout.
            if let Some(f) = self.atc_timed_out.get(self.q.idx(self.ptr(cons)) as usize) {
                f.store(1, Relaxed);
            }
        }
        // Acknowledge CMDQ_ERR only; other errors belong to the GERROR
        // handler. GERRORN is read afresh under the lock.
        let (gerror, gerrorn) = regs.gerror();
        let bits = GerrorBit::Cmdq.mask();
        regs.set_gerrorn(gerrorn ^ (bits & (gerror ^ gerrorn)));
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
    use kernel::{
        sync::{new_spinlock_irq, Arc},
        time::delay::fsleep,
        workqueue,
    };

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

        fn log_err(&self, msg: core::fmt::Arguments<'_>) {
            pr_err!("{}", msg);
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
    /// the queue handles a command error: neither acknowledgment undoes
    /// the other (GERRORN is read afresh under one lock), the bad command
    /// is replaced once, and every error ends acknowledged.
    #[test]
    fn gerror_acknowledgments_do_not_undo_each_other() -> Result {
        let (mem, q) = queue(3)?;
        let fake = FakeSmmu::new(&mem, q, 8, Some(Opcode::CfgiSteRange as u8));
        let evtq_abt = GerrorBit::EvtqAbt.mask();
        fake.gerror.set(evtq_abt);
        fake.irq_acks.set(evtq_abt);
        let cmdq = KBox::pin_init(Cmdq::with_mem(&mem, q, 1000, &PLAIN)?, GFP_KERNEL)?;
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
            let cmdq = KBox::pin_init(Cmdq::with_mem(&mem, q, 1000, opts)?, GFP_KERNEL)?;
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
        let cmdq = KBox::pin_init(Cmdq::with_mem(&mem, q, 1000, &PLAIN)?, GFP_KERNEL)?;
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
        let cmdq = KBox::pin_init(Cmdq::with_mem(&mem, q, 1000, &PLAIN)?, GFP_KERNEL)?;
        cmdq.issue(&fake, &[tlbi(1), tlbi(2), tlbi(3)], true)?;
        assert_eq!(fake.seen.borrow().len(), 4);
        assert!(fake.q.empty(fake.prod.get(), fake.cons.get()));
        Ok(())
    }

    #[test]
    fn msi_sync_completes_in_memory() -> Result {
        let (mem, q) = queue(3)?;
        let fake = FakeSmmu::new(&mem, q, 3, None);
        let cmdq = KBox::pin_init(Cmdq::with_mem(&mem, q, 1000, &MSIPOLL)?, GFP_KERNEL)?;
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
        let cmdq = KBox::pin_init(Cmdq::with_mem(&mem, q, 100, &MSIPOLL)?, GFP_KERNEL)?;
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
        let cmdq = KBox::pin_init(Cmdq::with_mem(&mem, q, 1000, &PLAIN)?, GFP_KERNEL)?;
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
        let cmdq = KBox::pin_init(Cmdq::with_mem(&mem, q, 100, &PLAIN)?, GFP_KERNEL)?;
        assert_eq!(cmdq.issue(&fake, &[tlbi(1)], true).err(), Some(ETIMEDOUT));
        Ok(())
    }

    #[test]
    fn illegal_command_is_skipped() -> Result {
        let (mem, q) = queue(3)?;
        let fake = FakeSmmu::new(&mem, q, 8, Some(Opcode::CfgiSteRange as u8));
        let cmdq = KBox::pin_init(Cmdq::with_mem(&mem, q, 1000, &PLAIN)?, GFP_KERNEL)?;
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
            let mut hw = self.0.hw.lock();
            hw.prod = prod;
            // The SMMU starts on what it was handed at once, as QEMU's.
            self.0.consume(&mut hw);
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

        fn log_err(&self, msg: core::fmt::Arguments<'_>) {
            pr_err!("{}", msg);
        }
    }

    /// An 8-entry queue whose waits give up after `timeout_us` polls of
    /// a stalled SMMU, and the simulated SMMU behind it.
    fn sim(timeout_us: usize) -> Result<Arc<Sim>> {
        let (mem, q) = queue(3)?;
        Ok(Arc::new(
            Sim {
                cmdq: KBox::pin_init(Cmdq::with_mem(mem, q, timeout_us, &PLAIN)?, GFP_KERNEL)?,
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
        )?)
    }

    /// Sleeps until `done` reaches `n`, for 20 s at most.
    fn wait_for(done: &Atomic<u32>, n: u32) {
        let mut waited = 0;
        while done.load(Relaxed) < n && waited < 20_000 {
            fsleep(Delta::from_millis(1));
            waited += 1;
        }
        assert_eq!(done.load(Relaxed), n);
    }

    /// Busy-waits `ms` milliseconds: with interrupts off, a CPU that a
    /// hypervisor preempted, as other CPUs see it.
    fn stall(ms: u32) {
        for _ in 0..ms * 1000 {
            udelay(Delta::from_micros(1));
        }
    }

    /// A CPU stalls for 20 ms, 200 times the queue's timeout, between
    /// claiming slots and handing them over, as a vCPU its hypervisor
    /// preempted does; another CPU's insertion has to wait for it. With
    /// `owner_stalls`, the stalled CPU is the owner, and the other waits
    /// for its CMD_SYNC; otherwise the other is the owner, and waits for
    /// the stalled CPU's entries before publishing them. Either way
    /// nothing times out, and every command reaches the SMMU: giving up
    /// would have returned `ETIMEDOUT` for an invalidation the SMMU ran
    /// later or, worse, handed it stale entries in place of the stalled
    /// CPU's commands, which it then never ran.
    fn stalled_cpu(owner_stalls: bool) -> Result {
        let sim = sim(100)?;
        let go = Arc::pin_init(new_spinlock_irq!(None::<Reservation>), GFP_KERNEL)?;
        let ready = Arc::new(Atomic::<u32>::new(0), GFP_KERNEL)?;
        let done = Arc::new(Atomic::<u32>::new(0), GFP_KERNEL)?;
        let failed = Arc::new(Atomic::<u32>::new(0), GFP_KERNEL)?;
        {
            let (sim, go, ready, done, failed) = (
                sim.clone(),
                go.clone(),
                ready.clone(),
                done.clone(),
                failed.clone(),
            );
            workqueue::system_unbound().try_spawn(GFP_KERNEL, move || {
                let regs = SimRegs(&sim);
                // Running, and from now on spinning rather than sleeping:
                // a sleep's timer may be armed on the CPU that is about to
                // turn its interrupts off, and would not wake this one.
                ready.store(1, Relaxed);
                // Bounded (some 30 s), should the test end without `go`.
                let mut spins = 0u32;
                let r = loop {
                    if let Some(r) = *go.lock() {
                        break Some(r);
                    }
                    if spins == 30_000_000 {
                        break None;
                    }
                    spins += 1;
                    udelay(Delta::from_micros(1));
                };
                let res = match r {
                    None => Err(ETIMEDOUT),
                    Some(_) if owner_stalls => {
                        // The stalled CPU owns the queue; this one's
                        // entries and CMD_SYNC come after its slots.
                        sim.cmdq.issue(&regs, &[tlbi(2)], true)
                    }
                    Some(r) => {
                        // Owner of the slots the stalled CPU claimed first.
                        let irq = local_interrupt_disable();
                        sim.cmdq.complete(&regs, r, &[tlbi(1).encode()], &irq)
                    }
                };
                if res.is_err() {
                    failed.fetch_add(1, Relaxed);
                }
                done.fetch_add(1, Relaxed);
            })?;
        }
        // Interrupts stay on until the other CPU runs.
        wait_for(&ready, 1);
        let regs = SimRegs(&sim);
        let (first, irq) = sim.cmdq.claim(&regs, 1, false)?;
        // Nothing below may end the test before `complete()`: the other
        // CPU would wait for these slots for good, and with it the next
        // test. Findings are asserted once interrupts are on again.
        let mut other_claimed = true;
        let mut second_owner = false;
        let r = if owner_stalls {
            *go.lock() = Some(first);
            // Until the other CPU has claimed its slots, then 20 ms more.
            let claimed = |v: u64| llq_split(v).0 & !OWNED != first.end;
            let mut waited = 0;
            while !claimed(sim.cmdq.llq.load(Relaxed)) && waited < 5000 {
                stall(1);
                waited += 1;
            }
            other_claimed = claimed(sim.cmdq.llq.load(Relaxed));
            stall(20);
            sim.cmdq.complete(&regs, first, &[tlbi(1).encode()], &irq)
        } else {
            let (second, irq2) = sim.cmdq.claim(&regs, 1, true)?;
            *go.lock() = Some(first);
            stall(20);
            second_owner = second.owner;
            sim.cmdq.complete(&regs, second, &[tlbi(2).encode()], &irq2)
        };
        // Interrupts on again before sleeping: `complete()` only borrows
        // the guard `claim()` returned.
        drop(irq);
        assert!(first.owner && !second_owner);
        assert!(other_claimed);
        r?;
        wait_for(&done, 1);
        assert_eq!(failed.load(Relaxed), 0);
        let hw = sim.hw.lock();
        assert_eq!((hw.tlbis, hw.syncs, hw.refused), (2, 1, 0));
        assert!(sim.cmdq.q.empty(hw.prod, hw.cons));
        Ok(())
    }

    #[test]
    fn stalled_owner_does_not_time_out_the_others() -> Result {
        stalled_cpu(true)
    }

    #[test]
    fn stalled_producer_does_not_time_out_the_owner() -> Result {
        stalled_cpu(false)
    }

    /// Four workers issue batches with CMD_SYNCs into one 8-entry queue:
    /// it wraps and fills all the time, and the simulated SMMU refuses
    /// some commands. Every batch completes, every command but the refused
    /// ones reaches the SMMU, and every error ends acknowledged.
    #[test]
    fn four_producers_share_a_small_queue() -> Result {
        const WORKERS: u32 = 4;
        const BATCHES: u16 = 60;
        const PER_BATCH: u16 = 5;
        let sim = sim(100_000)?;
        let q = sim.cmdq.q;
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
        wait_for(&done, WORKERS);
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

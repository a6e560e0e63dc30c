// SPDX-License-Identifier: GPL-2.0

//! The lock-free command queue's algorithm (`arm_smmu_cmdq_issue_cmdlist()`)
//! checked over every interleaving of 2 to 4 producers and the SMMU.
//!
//! Each producer inserts a few commands, with or without a CMD_SYNC, one
//! atomic step at a time: it snapshots the shared (PROD, CONS), reserves
//! slots with a compare-and-swap that sets the owned flag
//! ([`Queue::reserve`]), writes its commands, marks them in the valid
//! bitmap ([`Queue::valid_span`]), and, if it found the owned flag clear,
//! becomes the owner: it waits for the previous owner, clears the flag
//! (gathering everyone who reserved behind it), waits until all those
//! entries are valid and publishes the hardware PROD. A producer with a
//! CMD_SYNC holds the queue's lock shared while it polls CONS; the last one
//! out writes back the CONS it saw. A producer that finds the queue full
//! refreshes the shared CONS under the lock held exclusively, or waits
//! for someone else to. The SMMU consumes entries up to the hardware PROD.
//!
//! A depth-first search visits every reachable state once and checks:
//! - the SMMU only reads entries written on the current pass (never a
//!   stale one, never one not written yet);
//! - no producer overwrites an entry the SMMU has not consumed;
//! - every command is consumed exactly once;
//! - no state is stuck: every state without a next step has all producers
//!   done and the queue drained (no deadlock, no lost wake-up);
//! - a CMD_SYNC's waiter returns only once the SMMU consumed it.
//!
//! And it does so with the queue starting at every position of both
//! passes, so each wrap is crossed at every offset.
//!
//! A producer may also be an interrupt handler of another producer's CPU
//! (the DMA API unmaps, and so invalidates, in interrupt handlers): it
//! arrives only where that CPU has interrupts on, and the CPU does
//! nothing else until the handler is done. The handler itself runs with
//! interrupts off throughout.

use arm_smmu_v3_rs_hw::hw::queue::{Queue, Q_OVERFLOW_FLAG};
use std::collections::HashSet;
use std::vec::Vec;

/// One producer's request: `n` commands, then a CMD_SYNC if `sync`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct Req {
    n: u32,
    sync: bool,
}

/// Where a producer is in `arm_smmu_cmdq_issue_cmdlist()`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum Pc {
    /// An interrupt handler that has not arrived yet.
    Idle,
    /// `llq.val = READ_ONCE(cmdq->q.llq.val)`.
    Snapshot,
    /// The compare-and-swap with the snapshot `(prod, cons)`.
    Reserve {
        prod: u32,
        cons: u32,
    },
    /// Full: `arm_smmu_cmdq_poll_until_not_full()`, trying the exclusive
    /// lock; `snap` is the value to wait for a change of otherwise.
    NotFull {
        snap: (u32, u32),
    },
    /// Holding the lock exclusively: refresh the shared CONS.
    NotFullUpdate,
    /// Waiting for `(prod, cons)` to differ from `snap`.
    NotFullWait {
        snap: (u32, u32),
    },
    /// Writing entry `i` of the reservation.
    Write {
        i: u32,
    },
    /// `arm_smmu_cmdq_shared_lock()` (syncs only): `atomic_fetch_inc()`.
    SharedLock,
    /// The increment found the lock held exclusively: wait until it is
    /// not, then compare-and-swap.
    SharedLockRetry,
    /// `arm_smmu_cmdq_set_valid_map()`.
    SetValid,
    /// Owner: wait for `owner_prod == start`.
    OwnerWait,
    /// Owner: `atomic_fetch_andnot(OWNED, &prod)`.
    OwnerGather,
    /// Owner: wait until entries `start..gathered` are valid.
    OwnerPollValid {
        gathered: u32,
    },
    /// Owner: write the hardware PROD.
    OwnerPublish {
        gathered: u32,
    },
    /// Owner: `owner_prod = gathered` (release).
    OwnerHandOver {
        gathered: u32,
    },
    /// Poll the hardware CONS until the CMD_SYNC is consumed.
    SyncPoll,
    /// `arm_smmu_cmdq_shared_tryunlock()`, with the CONS the poll read.
    SharedTryUnlock {
        seen_cons: u32,
    },
    /// Last shared holder: write back the CONS, then unlock.
    LastOut {
        seen_cons: u32,
    },
    Done,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct Producer {
    req: Req,
    pc: Pc,
    /// The reservation: first slot, one past the last, owner or not.
    start: u32,
    end: u32,
    owner: bool,
    /// An interrupt handler of this producer's CPU.
    irq_of: Option<usize>,
}

const MAX_SLOTS: usize = 8;

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct State {
    /// Shared software PROD (with the owned flag) and CONS:
    /// `cmdq->q.llq.val`.
    prod: u32,
    cons: u32,
    /// `cmdq->owner_prod`.
    owner_prod: u32,
    /// `cmdq->lock`: > 0 shared holders, `i32::MIN` exclusive.
    lock: i32,
    /// The valid bitmap (one word: the queues here have at most 8 slots).
    valid: u64,
    /// Per slot, the pointer (with wrap) it was last written for, and by
    /// which command (producer, index).
    tag: [Option<u32>; MAX_SLOTS],
    cmd: [(u8, u8); MAX_SLOTS],
    /// The SMMU's PROD and CONS registers.
    hw_prod: u32,
    hw_cons: u32,
    /// Commands consumed, per producer.
    consumed: [u8; 4],
    producers: [Producer; 4],
    nprod: usize,
}

/// A deliberate mistake in the algorithm, to show that the checker finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bug {
    None,
    /// The owner publishes without waiting for the entries to be valid.
    NoValidPoll,
    /// The owner does not wait for the previous owner.
    NoOwnerWait,
    /// The owner publishes its own reservation, not what it gathered.
    PublishOwnEnd,
    /// The reservation does not check for space.
    NoSpaceCheck,
    /// A shared locker whose increment found the lock held exclusively
    /// goes on as if it held it.
    SharedLockIgnoresExclusive,
    /// Interrupts are on again once the entries are published, while the
    /// CMD_SYNC's waiter polls holding the lock shared.
    IrqsOnInSyncWait,
    /// Interrupts are on while the lock is held exclusively to refresh
    /// CONS (stop 21's hang: C takes it with
    /// `arm_smmu_cmdq_exclusive_trylock_irqsave()`).
    IrqsOnInExclusive,
}

struct Checker {
    q: Queue,
    bug: Bug,
    seen: HashSet<State>,
    terminal: usize,
}

impl Checker {
    fn fail(&self, s: &State, what: &str) -> ! {
        panic!("{what}\nstate: {s:#?}");
    }

    /// The next states of `s`, one per enabled step.
    fn steps(&self, s: &State) -> Vec<State> {
        let q = self.q;
        let mut out = Vec::new();
        // The SMMU consumes one entry.
        if s.hw_cons != s.hw_prod {
            let mut t = s.clone();
            let idx = q.idx(s.hw_cons) as usize;
            if s.tag[idx] != Some(s.hw_cons) {
                self.fail(s, "the SMMU read an entry not written on this pass");
            }
            let (p, _) = s.cmd[idx];
            if p != u8::MAX {
                t.consumed[p as usize] += 1;
            }
            t.hw_cons = q.inc_cons(s.hw_cons);
            out.push(t);
        }
        for (i, p) in s.producers[..s.nprod].iter().enumerate() {
            // A CPU in an interrupt handler runs only the handler.
            let interrupted = s.producers[..s.nprod]
                .iter()
                .any(|h| h.irq_of == Some(i) && !matches!(h.pc, Pc::Idle | Pc::Done));
            if interrupted {
                continue;
            }
            if let Some(t) = self.producer_step(s, i, p) {
                out.push(t);
            }
        }
        out
    }

    /// Whether a CPU at `pc` has interrupts on: before and after an
    /// insertion, and while it waits for room holding nothing
    /// (`arm_smmu_cmdq_issue_cmdlist()` restores them around
    /// `arm_smmu_cmdq_poll_until_not_full()`; the exclusive lock is taken
    /// with them off). An interrupt handler has them off throughout.
    fn interruptible(&self, p: &Producer) -> bool {
        if p.irq_of.is_some() {
            return false;
        }
        match p.pc {
            Pc::Snapshot | Pc::NotFull { .. } | Pc::NotFullWait { .. } | Pc::Done => true,
            Pc::SyncPoll | Pc::SharedTryUnlock { .. } | Pc::LastOut { .. } => {
                self.bug == Bug::IrqsOnInSyncWait
            }
            Pc::NotFullUpdate => self.bug == Bug::IrqsOnInExclusive,
            _ => false,
        }
    }

    fn producer_step(&self, s: &State, i: usize, p: &Producer) -> Option<State> {
        let q = self.q;
        let mut t = s.clone();
        let me = &mut t.producers[i];
        let total = p.req.n + p.req.sync as u32;
        match p.pc {
            Pc::Idle => {
                let host = p.irq_of.map(|h| &s.producers[h]);
                if !host.is_some_and(|h| self.interruptible(h)) {
                    return None;
                }
                me.pc = Pc::Snapshot;
            }
            Pc::Snapshot => {
                me.pc = Pc::Reserve {
                    prod: s.prod,
                    cons: s.cons,
                };
            }
            Pc::Reserve { prod, cons } => match q.reserve(
                prod,
                if self.bug == Bug::NoSpaceCheck {
                    prod & !Q_OVERFLOW_FLAG
                } else {
                    cons
                },
                p.req.n,
                p.req.sync,
            ) {
                None => me.pc = Pc::NotFull { snap: (prod, cons) },
                Some(r) => {
                    // One 64-bit compare-and-swap of (PROD, CONS), writing
                    // back the CONS it compared.
                    if (s.prod, s.cons) == (prod, cons) {
                        t.prod = r.new_prod;
                        t.cons = cons;
                        let me = &mut t.producers[i];
                        me.start = r.start;
                        me.end = r.end;
                        me.owner = r.owner;
                        me.pc = Pc::Write { i: 0 };
                    } else {
                        // cmpxchg failed: retry with the value it returned.
                        me.pc = Pc::Reserve {
                            prod: s.prod,
                            cons: s.cons,
                        };
                    }
                }
            },
            Pc::NotFull { snap } => {
                if s.lock == 0 {
                    t.lock = i32::MIN;
                    t.producers[i].pc = Pc::NotFullUpdate;
                } else {
                    me.pc = Pc::NotFullWait { snap };
                }
            }
            Pc::NotFullUpdate => {
                t.cons = s.hw_cons;
                t.lock = 0;
                t.producers[i].pc = Pc::Snapshot;
            }
            Pc::NotFullWait { snap } => {
                if (s.prod, s.cons) == snap {
                    return None;
                }
                me.pc = Pc::Snapshot;
            }
            Pc::Write { i: k } => {
                let at = q.inc_prod_n(p.start, k);
                let idx = q.idx(at) as usize;
                if let Some(old) = s.tag[idx] {
                    if !q.consumed(s.hw_cons, old) {
                        self.fail(s, "a producer overwrote an entry the SMMU had not consumed");
                    }
                }
                t.tag[idx] = Some(at);
                t.cmd[idx] = if p.req.sync && k == p.req.n {
                    (u8::MAX, 0)
                } else {
                    (i as u8, k as u8)
                };
                let me = &mut t.producers[i];
                me.pc = if k + 1 < total {
                    Pc::Write { i: k + 1 }
                } else if p.req.sync {
                    Pc::SharedLock
                } else {
                    Pc::SetValid
                };
            }
            Pc::SharedLock => {
                // One increment; one that found the lock held exclusively
                // is overwritten by the holder's unlock, so retry.
                t.lock = s.lock.wrapping_add(1);
                t.producers[i].pc = if s.lock >= 0 || self.bug == Bug::SharedLockIgnoresExclusive {
                    Pc::SetValid
                } else {
                    Pc::SharedLockRetry
                };
            }
            Pc::SharedLockRetry => {
                if s.lock < 0 {
                    return None;
                }
                t.lock += 1;
                t.producers[i].pc = Pc::SetValid;
            }
            Pc::SetValid => {
                for c in q.valid_span(p.start, p.end) {
                    assert_eq!(c.word, 0);
                    t.valid ^= c.mask;
                }
                let me = &mut t.producers[i];
                me.pc = if p.owner {
                    Pc::OwnerWait
                } else if p.req.sync {
                    Pc::SyncPoll
                } else {
                    Pc::Done
                };
            }
            Pc::OwnerWait => {
                if s.owner_prod != p.start && self.bug != Bug::NoOwnerWait {
                    return None;
                }
                me.pc = Pc::OwnerGather;
            }
            Pc::OwnerGather => {
                t.prod = s.prod & !Q_OVERFLOW_FLAG;
                t.producers[i].pc = Pc::OwnerPollValid {
                    gathered: s.prod & !Q_OVERFLOW_FLAG,
                };
            }
            Pc::OwnerPollValid { gathered } => {
                if self.bug != Bug::NoValidPoll
                    && !q
                        .valid_span(p.start, gathered)
                        .all(|c| s.valid & c.mask == c.valid)
                {
                    return None;
                }
                me.pc = Pc::OwnerPublish { gathered };
            }
            Pc::OwnerPublish { gathered } => {
                t.hw_prod = if self.bug == Bug::PublishOwnEnd {
                    p.end
                } else {
                    gathered
                };
                t.producers[i].pc = Pc::OwnerHandOver { gathered };
            }
            Pc::OwnerHandOver { gathered } => {
                t.owner_prod = gathered;
                t.producers[i].pc = if p.req.sync { Pc::SyncPoll } else { Pc::Done };
            }
            Pc::SyncPoll => {
                let sync_at = q.inc_prod_n(p.start, p.req.n);
                if !q.consumed(s.hw_cons, sync_at) {
                    return None;
                }
                // Everything before the sync was consumed with it.
                if s.consumed[i] as u32 != p.req.n {
                    self.fail(s, "a CMD_SYNC completed before the commands ahead of it");
                }
                me.pc = Pc::SharedTryUnlock {
                    seen_cons: s.hw_cons,
                };
            }
            Pc::SharedTryUnlock { seen_cons } => {
                if s.lock < 1 {
                    self.fail(s, "a shared holder found the lock not held shared");
                }
                if s.lock == 1 {
                    me.pc = Pc::LastOut { seen_cons };
                } else {
                    t.lock -= 1;
                    t.producers[i].pc = Pc::Done;
                }
            }
            Pc::LastOut { seen_cons } => {
                t.cons = seen_cons;
                t.lock -= 1;
                t.producers[i].pc = Pc::Done;
            }
            Pc::Done => return None,
        }
        Some(t)
    }

    fn explore(&mut self, s0: State) {
        let mut stack = vec![s0];
        while let Some(s) = stack.pop() {
            if !self.seen.insert(s.clone()) {
                continue;
            }
            let next = self.steps(&s);
            if next.is_empty() {
                self.terminal += 1;
                let all_done = s.producers[..s.nprod].iter().all(|p| p.pc == Pc::Done);
                if !all_done {
                    self.fail(&s, "stuck: a producer cannot make progress");
                }
                if s.hw_cons != s.hw_prod || s.hw_prod != s.prod & !Q_OVERFLOW_FLAG {
                    self.fail(&s, "all done but the queue is not drained and published");
                }
                for (i, p) in s.producers[..s.nprod].iter().enumerate() {
                    if s.consumed[i] as u32 != p.req.n {
                        self.fail(&s, "a command was lost or consumed twice");
                    }
                }
                continue;
            }
            stack.extend(next);
        }
    }
}

/// The queue of `1 << shift` entries, empty, with every pointer at `start`
/// (wrap bit included), as if earlier passes had used every slot; the last
/// producer of `reqs` is an interrupt handler of producer `irq_of`'s CPU,
/// if given.
fn initial_with_irq(q: Queue, start: u32, reqs: &[Req], irq_of: Option<usize>) -> State {
    let w = q.wrp(start);
    let i0 = q.idx(start);
    let mut tag = [None; MAX_SLOTS];
    let mut valid = 0u64;
    for idx in 0..q.entries() {
        // Written on this pass before `start`, or on the previous one.
        let this_pass = idx < i0;
        let wrap = if this_pass { w } else { w ^ q.entries() };
        tag[idx as usize] = Some(wrap | idx);
        if wrap == 0 {
            valid |= 1 << idx;
        }
    }
    State {
        prod: start,
        cons: start,
        owner_prod: start,
        lock: 0,
        valid,
        tag,
        cmd: [(u8::MAX, 0); MAX_SLOTS],
        hw_prod: start,
        hw_cons: start,
        consumed: [0; 4],
        producers: core::array::from_fn(|i| {
            let irq_of = irq_of.filter(|_| i + 1 == reqs.len());
            Producer {
                req: reqs.get(i).copied().unwrap_or(r(0, false)),
                pc: if i >= reqs.len() {
                    Pc::Done
                } else if irq_of.is_some() {
                    Pc::Idle
                } else {
                    Pc::Snapshot
                },
                start: 0,
                end: 0,
                owner: false,
                irq_of,
            }
        }),
        nprod: reqs.len(),
    }
}

fn check(shift: u32, reqs: &[Req]) -> (usize, usize) {
    let q = Queue::new(shift).unwrap();
    check_from(q, 0..2 * q.entries(), reqs, Bug::None)
}

/// Checks the starts in `starts`; panics with the first violation.
fn check_from(
    q: Queue,
    starts: impl Iterator<Item = u32>,
    reqs: &[Req],
    bug: Bug,
) -> (usize, usize) {
    check_irq_from(q, starts, reqs, None, bug)
}

/// [`check_from`], with the last of `reqs` an interrupt handler of
/// producer `irq_of`'s CPU, if given.
fn check_irq_from(
    q: Queue,
    starts: impl Iterator<Item = u32>,
    reqs: &[Req],
    irq_of: Option<usize>,
    bug: Bug,
) -> (usize, usize) {
    let mut states = 0;
    let mut terminal = 0;
    for start in starts {
        let mut c = Checker {
            q,
            bug,
            seen: HashSet::new(),
            terminal: 0,
        };
        c.explore(initial_with_irq(q, start, reqs, irq_of));
        states += c.seen.len();
        terminal += c.terminal;
    }
    (states, terminal)
}

const fn r(n: u32, sync: bool) -> Req {
    Req { n, sync }
}

#[test]
fn two_producers_every_interleaving_and_wrap() {
    for reqs in [
        [r(1, true), r(1, true)],
        [r(2, false), r(1, true)],
        [r(0, true), r(3, true)],
    ] {
        let (states, terminal) = check(2, &reqs);
        assert!(states > 1000 && terminal > 0, "{reqs:?}: {states} states");
    }
}

#[test]
fn three_producers_every_interleaving_and_wrap() {
    // 4 entries, 6 wanted: producers wait for the SMMU to make room.
    let (states, _) = check(2, &[r(1, true), r(1, true), r(1, true)]);
    assert!(states > 100_000, "{states} states");
}

#[test]
fn four_producers_every_interleaving_across_the_wrap() {
    // The last entry of each pass, so that the reservations straddle both
    // wraps (every start is covered by the runs above).
    let q = Queue::new(2).unwrap();
    let starts = [q.entries() - 1, 2 * q.entries() - 1].into_iter();
    let (states, _) = check_from(
        q,
        starts,
        &[r(1, true), r(1, false), r(1, false), r(0, true)],
        Bug::None,
    );
    assert!(states > 100_000, "{states} states");
}

/// An interrupt handler inserting on a CPU in the middle of its own
/// insertion, wherever that CPU has interrupts on: with two other CPUs,
/// in a queue too small for all of them, so that the handler, or the CPU
/// it interrupted, waits for room.
#[test]
fn an_interrupt_handler_inserts_wherever_interrupts_are_on() {
    let q = Queue::new(2).unwrap();
    for reqs in [
        [r(2, true), r(0, true), r(1, true)],
        [r(1, true), r(1, false), r(2, true)],
    ] {
        let (states, _) = check_irq_from(q, 0..2 * q.entries(), &reqs, Some(0), Bug::None);
        assert!(states > 10_000, "{reqs:?}: {states} states");
    }
}

/// The checker is not vacuous: each mistake is found.
#[test]
fn each_deliberate_mistake_is_found() {
    for (bug, reqs, want) in [
        (
            Bug::NoValidPoll,
            [r(1, true), r(1, true)],
            "not written on this pass",
        ),
        (Bug::NoOwnerWait, [r(1, true), r(1, true)], ""),
        (Bug::PublishOwnEnd, [r(1, true), r(1, true)], "stuck"),
        (Bug::NoSpaceCheck, [r(2, true), r(2, true)], "overwrote"),
        (
            Bug::SharedLockIgnoresExclusive,
            [r(3, true), r(3, true)],
            "not held shared",
        ),
        // The handler finds the queue full, and the CONS it needs is held
        // back by the shared lock of the waiter it interrupted.
        (Bug::IrqsOnInSyncWait, [r(2, true), r(1, true)], "stuck"),
    ] {
        found(bug, &reqs, want);
    }
    // The handler needs the lock shared, or room, while the CPU it
    // interrupted holds the lock exclusively.
    found(
        Bug::IrqsOnInExclusive,
        &[r(1, true), r(3, false), r(0, true)],
        "stuck",
    );
}

/// Checks `reqs` with `bug` (the last request an interrupt handler of the
/// first producer's CPU for the interrupt mistakes); `bug` must be found,
/// with a message containing `want`.
fn found(bug: Bug, reqs: &[Req], want: &str) {
    let q = Queue::new(2).unwrap();
    let irq_of = matches!(bug, Bug::IrqsOnInSyncWait | Bug::IrqsOnInExclusive).then_some(0);
    let r = std::panic::catch_unwind(|| check_irq_from(q, 0..2 * q.entries(), reqs, irq_of, bug));
    let msg = match r {
        Ok(_) => panic!("{bug:?} was not found"),
        Err(e) => e
            .downcast_ref::<std::string::String>()
            .cloned()
            .unwrap_or_default(),
    };
    assert!(
        msg.contains(want),
        "{bug:?}: found, but as: {}",
        msg.lines().next().unwrap_or("")
    );
}

#[test]
fn valid_span_covers_each_entry_once_per_pass() {
    for shift in 1..=7u32 {
        let q = Queue::new(shift).unwrap();
        for start in 0..2 * q.entries() {
            for len in 0..=q.entries() {
                let end = q.inc_prod_n(start, len);
                let mut bits = [0u32; 128];
                for c in q.valid_span(start, end) {
                    for b in 0..64 {
                        if c.mask & (1 << b) != 0 {
                            bits[c.word * 64 + b] += 1;
                        }
                    }
                    // Every chunk is within one pass.
                    assert!(c.valid == c.mask || c.valid == 0);
                }
                assert_eq!(
                    bits.iter().sum::<u32>(),
                    len,
                    "shift {shift} start {start} len {len}"
                );
                assert!(bits.iter().all(|&n| n <= 1));
            }
        }
    }
}

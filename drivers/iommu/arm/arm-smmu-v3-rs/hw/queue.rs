// SPDX-License-Identifier: GPL-2.0

//! Queue pointer arithmetic and command batching.
//!
//! A queue of `1 << shift` entries is indexed by PROD and CONS registers
//! holding an index, a wrap bit just above it (flipped on every pass) and,
//! for the event and PRI queues, an overflow flag in bit 31 (`Q_IDX`,
//! `Q_WRP`, `Q_OVF` and the `queue_*()` helpers of the C driver). The
//! command queue uses bit 31 of its software PROD as the "owned" flag of
//! the lock-free insertion (`CMDQ_PROD_OWNED_FLAG`).

#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
use super::cmd::{Cmd, SyncCs};
use super::regs::CMDQ_BATCH_ENTRIES;

/// `Q_OVERFLOW_FLAG`, also `CMDQ_PROD_OWNED_FLAG`.
pub const Q_OVERFLOW_FLAG: u32 = 1 << 31;
/// Largest supported `shift` (the wrap bit must stay below bit 31).
pub const MAX_SHIFT: u32 = 30;

/// The geometry of a queue: `1 << shift` entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Queue {
    /// `1 << shift`, kept rather than `shift` so that the pointer
    /// arithmetic of every command needs no shift (and no overflow check
    /// of one).
    entries: u32,
}

impl Queue {
    /// A queue of `1 << shift` entries, `shift` at most [`MAX_SHIFT`].
    pub const fn new(shift: u32) -> Option<Self> {
        if shift > MAX_SHIFT {
            None
        } else {
            Some(Self {
                entries: 1 << shift,
            })
        }
    }

    /// log2 of the number of entries.
    pub const fn shift(self) -> u32 {
        self.entries.trailing_zeros()
    }

    /// Number of entries.
    pub const fn entries(self) -> u32 {
        self.entries
    }

    /// The index part of a pointer (`Q_IDX`).
    pub const fn idx(self, p: u32) -> u32 {
        p & self.entries().wrapping_sub(1)
    }

    /// The wrap bit of a pointer (`Q_WRP`), in place.
    pub const fn wrp(self, p: u32) -> u32 {
        p & self.entries()
    }

    /// The overflow flag of a pointer (`Q_OVF`), in place.
    pub const fn ovf(p: u32) -> u32 {
        p & Q_OVERFLOW_FLAG
    }

    /// Free entries between `prod` and `cons` as the producer sees them.
    pub const fn space(self, prod: u32, cons: u32) -> u32 {
        let (pi, ci) = (self.idx(prod), self.idx(cons));
        if self.wrp(prod) == self.wrp(cons) {
            self.entries().wrapping_sub(pi.wrapping_sub(ci))
        } else {
            ci.wrapping_sub(pi)
        }
    }

    /// Whether `n` more entries fit (`queue_has_space()`).
    pub const fn has_space(self, prod: u32, cons: u32, n: u32) -> bool {
        self.space(prod, cons) >= n
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Whether the queue is full (`queue_full()`).
    pub const fn full(self, prod: u32, cons: u32) -> bool {
        self.idx(prod) == self.idx(cons) && self.wrp(prod) != self.wrp(cons)
    }

    /// Whether the queue is empty (`queue_empty()`).
    pub const fn empty(self, prod: u32, cons: u32) -> bool {
        self.idx(prod) == self.idx(cons) && self.wrp(prod) == self.wrp(cons)
    }

    /// Whether the consumer at `cons` has gone past the entry at `prod`
    /// (`queue_consumed()`).
    pub const fn consumed(self, cons: u32, prod: u32) -> bool {
        (self.wrp(cons) == self.wrp(prod) && self.idx(cons) > self.idx(prod))
            || (self.wrp(cons) != self.wrp(prod) && self.idx(cons) <= self.idx(prod))
    }

    /// `prod` advanced by `n` entries, keeping its overflow/owned flag
    /// (`queue_inc_prod_n()`).
    pub const fn inc_prod_n(self, prod: u32, n: u32) -> u32 {
        let p = (self.wrp(prod) | self.idx(prod)).wrapping_add(n);
        Self::ovf(prod) | self.wrp(p) | self.idx(p)
    }

    /// `cons` advanced by one entry (`queue_inc_cons()`).
    pub const fn inc_cons(self, cons: u32) -> u32 {
        self.inc_prod_n(cons, 1)
    }

    /// After an event/PRI queue overflow: the CONS to write back so that
    /// its overflow flag acknowledges PROD's, or `None` if they agree
    /// (`queue_sync_cons_ovf()`).
    pub const fn sync_cons_ovf(self, prod: u32, cons: u32) -> Option<u32> {
        if Self::ovf(prod) == Self::ovf(cons) {
            None
        } else {
            Some(Self::ovf(prod) | self.wrp(cons) | self.idx(cons))
        }
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Whether a newly read PROD reports an overflow not yet seen by
    /// `old_prod` (`queue_sync_prod_in()` returning `-EOVERFLOW`).
    pub const fn overflowed(new_prod: u32, old_prod: u32) -> bool {
        Self::ovf(new_prod) != Self::ovf(old_prod)
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// The address of entry `p` in a queue at `base` whose entries are
    /// `1 << ent_shift` bytes (`Q_ENT`; also the CMD_SYNC MSI address).
    pub const fn entry_addr(self, base: u64, p: u32, ent_shift: u32) -> u64 {
        base.wrapping_add((self.idx(p) as u64) << ent_shift)
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// A CMD_SYNC completing by writing its MSI over itself, as the C
    /// driver does with MSI polling (`arm_smmu_cmdq_build_sync_cmd()`).
    pub const fn sync_msi_cmd(self, base: u64, prod: u32) -> Cmd {
        Cmd::Sync {
            cs: SyncCs::Irq {
                msi_addr: self.entry_addr(base, prod, super::regs::CMDQ_ENT_SZ_SHIFT),
                msi_data: 0,
            },
        }
    }

    /// Claims `n` command slots plus one for a CMD_SYNC if `sync`, from
    /// the shared software `(prod, cons)` (step 1 of
    /// `__arm_smmu_cmdq_issue_cmdlist()`); `None` when they do not fit.
    pub const fn reserve(self, prod: u32, cons: u32, n: u32, sync: bool) -> Option<Reservation> {
        let total = match n.checked_add(sync as u32) {
            Some(t) => t,
            None => return None,
        };
        if total > self.entries() || !self.has_space(prod, cons, total) {
            return None;
        }
        let start = prod & !Q_OVERFLOW_FLAG;
        let head = self.inc_prod_n(prod, total) | Q_OVERFLOW_FLAG;
        Some(Reservation {
            start,
            sync_at: if sync {
                Some(self.inc_prod_n(start, n))
            } else {
                None
            },
            end: head & !Q_OVERFLOW_FLAG,
            new_prod: head,
            owner: prod & Q_OVERFLOW_FLAG == 0,
        })
    }
}

/// The valid bitmap of the lock-free command queue: one bit per entry,
/// toggled by the producer that wrote the entry, so that the owner can
/// tell when every entry up to the PROD it publishes is written
/// (`arm_smmu_cmdq_set_valid_map()`, `arm_smmu_cmdq_poll_valid_map()`).
/// An entry written on a pass with the wrap bit clear reads 1, on a pass
/// with it set 0: toggling once per pass needs no clearing.
impl Queue {
    /// The bitmap words and bits covering entries `start..end` (pointers,
    /// `end` at most one pass after `start`), one [`ValidChunk`] per word
    /// or wrap.
    pub const fn valid_span(self, start: u32, end: u32) -> ValidSpan {
        ValidSpan {
            q: self,
            at: start & !Q_OVERFLOW_FLAG,
            end: end & !Q_OVERFLOW_FLAG,
        }
    }
}

/// Bits per word of the valid bitmap.
pub const VALID_WORD_BITS: u32 = 64;

/// Part of a [`Queue::valid_span`] in one bitmap word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidChunk {
    /// Index of the bitmap word.
    pub word: usize,
    /// The entries' bits in it.
    pub mask: u64,
    /// What those bits read once the entries are written on this pass.
    pub valid: u64,
}

/// Iterator of [`ValidChunk`]s.
#[derive(Clone, Copy, Debug)]
pub struct ValidSpan {
    q: Queue,
    at: u32,
    end: u32,
}

impl Iterator for ValidSpan {
    type Item = ValidChunk;

    // Inlined: a batch is almost always one chunk, and the call cost
    // more than the chunk (`make profile`).
    #[inline]
    fn next(&mut self) -> Option<ValidChunk> {
        if self.at == self.end {
            return None;
        }
        let q = self.q;
        let (si, ei) = (q.idx(self.at), q.idx(self.end));
        let (sw, sb) = (si / VALID_WORD_BITS, si % VALID_WORD_BITS);
        let (ew, eb) = (ei / VALID_WORD_BITS, ei % VALID_WORD_BITS);
        // To the end of the word, or of the span if it ends in this word
        // on this pass (C's `limit`).
        let limit = if ew == sw && eb > sb {
            eb
        } else {
            VALID_WORD_BITS.min(q.entries() - sw * VALID_WORD_BITS)
        };
        let width = limit - sb;
        let mask = if width == 64 {
            u64::MAX
        } else {
            ((1u64 << width) - 1) << sb
        };
        let valid = if q.wrp(self.at) == 0 { mask } else { 0 };
        self.at = q.inc_prod_n(self.at, width);
        Some(ValidChunk {
            word: sw as usize,
            mask,
            valid,
        })
    }
}

/// Slots claimed in the command queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// First claimed slot.
    pub start: u32,
    /// Slot of the CMD_SYNC, if one was claimed.
    pub sync_at: Option<u32>,
    /// One past the last claimed slot.
    pub end: u32,
    /// The software PROD to publish (with the owned flag set).
    pub new_prod: u32,
    /// The caller is the owner that advances the hardware PROD: the owned
    /// flag was clear before.
    pub owner: bool,
}

/// Where a command queue that writes commands straight in must insert a
/// CMD_SYNC so that, with Arm erratum 2812531 (MMU-700,
/// `ARM_SMMU_OPT_CMDQ_FORCE_SYNC`), at most `CMDQ_BATCH_ENTRIES - 1`
/// commands go to the SMMU between two CMD_SYNCs: the cut
/// `arm_smmu_cmdq_batch_add_cmd_p()` makes when its batch holds
/// `CMDQ_BATCH_ENTRIES - 1` commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncSpacing {
    force_sync: bool,
    since: u32,
}

impl SyncSpacing {
    /// The rule for a run of commands that starts right after a CMD_SYNC
    /// (or at the start of a batch, as C counts).
    pub const fn new(force_sync: bool) -> Self {
        Self {
            force_sync,
            since: 0,
        }
    }

    /// Called before each command: whether a CMD_SYNC (waited for) must
    /// go into the queue first.
    pub fn sync_before_cmd(&mut self) -> bool {
        if self.force_sync && self.since == CMDQ_BATCH_ENTRIES - 1 {
            self.since = 1;
            true
        } else {
            self.since += 1;
            false
        }
    }
}

/// Shared test cases (see [`crate::hw::selftest`]); each name says what it checks.
#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
#[allow(missing_docs)]
pub mod tests {
    use super::*;
    use crate::hw::selftest::{check, check_eq, failure, Rng, TestResult};

    fn q(shift: u32) -> Queue {
        Queue::new(shift).unwrap_or(Queue { entries: 2 })
    }

    pub fn queue_wrap_full_empty() -> TestResult {
        let q = q(3);
        check!(q.empty(0, 0));
        check!(!q.full(0, 0));
        check_eq!(q.space(0, 0), 8u32);
        let p = q.inc_prod_n(0, 8);
        check_eq!(p, 8u32); // index 0, wrap bit set
        check!(q.full(p, 0));
        check!(!q.empty(p, 0));
        check_eq!(q.space(p, 0), 0u32);
        check!(!q.has_space(p, 0, 1));
        // Consumer catches up: empty again with both wrap bits set.
        check!(q.empty(p, 8));
        // Wrap twice: the wrap bit flips back.
        check_eq!(q.inc_prod_n(p, 8), 0u32);
        // Overflow flag is preserved.
        check_eq!(q.inc_prod_n(Q_OVERFLOW_FLAG | 7, 1), Q_OVERFLOW_FLAG | 8);
        check_eq!(q.inc_cons(15), 0u32);
        check!(Queue::new(31).is_none());
        Ok(())
    }

    pub fn queue_consumed() -> TestResult {
        let q = q(2);
        // Entry at prod 1 (wrap 0) is consumed once cons passes it.
        check!(!q.consumed(1, 1));
        check!(q.consumed(2, 1));
        check!(q.consumed(4, 1)); // wrapped, idx 0 <= 1
        check!(q.consumed(5, 1)); // wrapped, idx 1 <= 1
        check!(!q.consumed(6, 1)); // wrapped, idx 2 > 1: a lap too far
        Ok(())
    }

    pub fn queue_overflow_flag() -> TestResult {
        let q = q(4);
        check!(q.sync_cons_ovf(5, 3).is_none());
        check_eq!(
            q.sync_cons_ovf(Q_OVERFLOW_FLAG | 5, 0x13).unwrap_or(0),
            Q_OVERFLOW_FLAG | 0x13
        );
        check!(Queue::overflowed(Q_OVERFLOW_FLAG, 0));
        check!(!Queue::overflowed(Q_OVERFLOW_FLAG | 3, Q_OVERFLOW_FLAG));
        Ok(())
    }

    /// Random producer/consumer walks agree with a counter model.
    pub fn queue_random_walk() -> TestResult {
        let mut rng = Rng::new(0x0c0e);
        for shift in [1u32, 3, 8, 16] {
            let q = q(shift);
            let size = u64::from(q.entries());
            let (mut prod, mut cons) = (0u32, 0u32);
            let mut used = 0u64;
            for _ in 0..2000 {
                let n = rng.below(size + 2) as u32;
                if q.has_space(prod, cons, n) {
                    check!(used + u64::from(n) <= size);
                    prod = q.inc_prod_n(prod, n);
                    used += u64::from(n);
                } else {
                    check!(used + u64::from(n) > size);
                }
                let c = rng.below(used + 1);
                for _ in 0..c {
                    cons = q.inc_cons(cons);
                }
                used -= c;
                check_eq!(u64::from(q.space(prod, cons)), size - used);
                check_eq!(q.empty(prod, cons), used == 0);
                check_eq!(q.full(prod, cons), used == size);
            }
        }
        Ok(())
    }

    pub fn queue_reserve() -> TestResult {
        let q = q(3);
        let r = q.reserve(6, 0, 2, true);
        check!(r.is_none()); // 3 slots, only 2 free
        let r = q
            .reserve(5, 0, 2, true)
            .ok_or(failure!("reserve() failed"))?;
        check_eq!(r.start, 5u32);
        check_eq!(r.sync_at.unwrap_or(0), 7u32);
        check_eq!(r.end, 8u32);
        check_eq!(r.new_prod, 8 | Q_OVERFLOW_FLAG);
        check!(r.owner);
        // Someone already owns the queue: we gather behind them.
        let r = q
            .reserve(Q_OVERFLOW_FLAG | 1, 0, 1, false)
            .ok_or(failure!("reserve() failed"))?;
        check!(!r.owner);
        check_eq!(r.start, 1u32);
        check!(r.sync_at.is_none());
        check!(q.reserve(0, 0, 9, false).is_none());
        check!(q.reserve(0, 0, u32::MAX, true).is_none());
        // The sync's MSI points at its own slot (16-byte entries).
        let c = q.sync_msi_cmd(0x8000_0000, 8 | 3).encode();
        check_eq!(c[1], 0x8000_0030u64);
        Ok(())
    }

    /// Without the erratum no CMD_SYNC is forced; with it, one before
    /// every 64th command of a run, so that runs of 63 commands are
    /// cut as C cuts a batch that reached `CMDQ_BATCH_ENTRIES - 1`.
    pub fn queue_sync_spacing() -> TestResult {
        let full = CMDQ_BATCH_ENTRIES as usize;
        for force_sync in [false, true] {
            let mut spacing = SyncSpacing::new(force_sync);
            let mut since = 0usize;
            for i in 0..4 * full + 3 {
                let sync = spacing.sync_before_cmd();
                check_eq!(sync, force_sync && i > 0 && i % (full - 1) == 0);
                if sync {
                    check_eq!(since, full - 1);
                    since = 0;
                }
                since += 1;
            }
        }
        Ok(())
    }
}

// SPDX-License-Identifier: GPL-2.0

//! The entry writer: updating a live STE or CD without the SMMU ever seeing
//! a torn entry (`arm_smmu_write_entry()`).
//!
//! The SMMU may fetch an STE or CD at any time, and only each 64-bit qword
//! is single-copy atomic. [`plan`] turns a (current, target) pair into at
//! most three steps, each "write these qwords, then sync" (sync = CFGI +
//! CMD_SYNC, after which the SMMU sees memory):
//!
//! - **No used bit changes** (only unused or update-safe bits): one step.
//! - **Hitless**: exactly one qword (the critical one) has used bits that
//!   must change. First write the bits the target uses and the current
//!   entry ignores, then flip the critical qword together with the
//!   update-safe bits, then clean up the bits the target ignores.
//! - **Breaking**: two or more such qwords. V=0, then qwords 1–7, then
//!   qword 0.
//!
//! This is the C algorithm with one refinement: update-safe bits (STE MEV
//! and EATS) are written with the critical qword instead of in the first
//! step. Either value of a safe bit is fine under either configuration, so
//! this is as safe, and it saves the first sync when the safe bits were the
//! only thing it would have written (e.g. leaving a nested STE: 2 syncs
//! where C needs 3). Every plan ends with a sync, so when
//! [`Plan::apply`] returns the SMMU sees exactly the target.

use super::cd;
use super::ste;

/// Qwords in an STE or a CD.
pub const ENTRY_QWORDS: usize = 8;

/// The raw contents of an STE or CD (CPU endian).
pub type Qwords = [u64; ENTRY_QWORDS];

/// A kind of table entry the writer can update.
pub trait EntryKind {
    /// The bits the SMMU uses in `ent` (`*_get_used()`).
    fn used(ent: &Qwords) -> Qwords;

    /// Used bits that may change between `cur` and `target` in any order
    /// (`*_get_update_safe()`); none by default.
    fn update_safe(_cur: &Qwords, _target: &Qwords) -> Qwords {
        [0; ENTRY_QWORDS]
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Whether the entry's V bit is set.
    fn is_valid(ent: &Qwords) -> bool;
}

/// Stream table entries.
#[derive(Clone, Copy, Debug)]
pub enum SteKind {}

impl EntryKind for SteKind {
    fn used(ent: &Qwords) -> Qwords {
        ste::used(ent)
    }

    fn update_safe(cur: &Qwords, target: &Qwords) -> Qwords {
        ste::update_safe(cur, target)
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    fn is_valid(ent: &Qwords) -> bool {
        ste::field::V.is_set(ent[0])
    }
}

/// Context descriptors.
#[derive(Clone, Copy, Debug)]
pub enum CdKind {}

impl EntryKind for CdKind {
    fn used(ent: &Qwords) -> Qwords {
        cd::used(ent)
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    fn is_valid(ent: &Qwords) -> bool {
        cd::field::V.is_set(ent[0])
    }
}

/// Where the writer's steps go: the kernel glue writes a real table entry
/// (one single-copy-atomic store per qword; `sync` cleans the cache where
/// the SMMU is not coherent and issues CFGI + CMD_SYNC), tests record.
pub trait EntryTarget {
    /// Stores `val` in qword `idx` (0..8) of the entry.
    fn write_qword(&mut self, idx: usize, val: u64);
    /// Makes every write so far visible to the SMMU and drops any copy of
    /// the entry it has cached.
    fn sync(&mut self);
}

/// One step of a plan: write some qwords, then sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    writes: u8,
    entry: Qwords,
}

impl Step {
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// The entry once the step's writes are done.
    pub const fn entry(&self) -> &Qwords {
        &self.entry
    }
}

/// How a plan updates an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateKind {
    /// Nothing to write.
    Unchanged,
    /// No used bit changes: only unused or update-safe bits.
    SafeOnly,
    /// One critical qword flips the entry from current to target.
    Hitless,
    /// V=0 first: the SMMU aborts traffic while the entry is rewritten.
    Breaking,
}

/// The steps that take an entry from its current value to a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    steps: [Step; 3],
    len: usize,
    kind: UpdateKind,
}

impl Plan {
    const EMPTY: Step = Step {
        writes: 0,
        entry: [0; ENTRY_QWORDS],
    };

    fn new(kind: UpdateKind) -> Self {
        Self {
            steps: [Self::EMPTY; 3],
            len: 0,
            kind,
        }
    }

    /// Adds a step going from `from` to `to` unless nothing changes.
    fn push(&mut self, from: &Qwords, to: &Qwords) {
        let mut writes = 0u8;
        for i in 0..ENTRY_QWORDS {
            if from[i] != to[i] {
                writes |= 1 << i;
            }
        }
        if writes != 0 {
            if let Some(s) = self.steps.get_mut(self.len) {
                *s = Step { writes, entry: *to };
                self.len += 1;
            }
        }
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        self.steps.get(..self.len).unwrap_or(&[])
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// How many syncs the plan issues (one per step).
    pub fn syncs(&self) -> usize {
        self.len
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// What kind of update this is.
    pub fn kind(&self) -> UpdateKind {
        self.kind
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Whether the SMMU sees V=0 after some sync (the C KUnit suite's
    /// "not hitless"): a breaking update, or any update whose current or
    /// target entry is itself invalid and which writes something while V=0.
    pub fn passes_invalid<K: EntryKind>(&self) -> bool {
        self.steps().iter().any(|s| !K::is_valid(&s.entry))
    }

    /// Performs the plan on `t`.
    pub fn apply<T: EntryTarget + ?Sized>(&self, t: &mut T) {
        for s in self.steps() {
            for (i, q) in s.entry.iter().enumerate() {
                if s.writes & (1 << i) != 0 {
                    t.write_qword(i, *q);
                }
            }
            t.sync();
        }
    }
}

/// The steps that turn `cur` into `target` (`arm_smmu_write_entry()`),
/// hitless whenever one qword can switch the SMMU from one to the other.
pub fn plan<K: EntryKind>(cur: &Qwords, target: &Qwords) -> Plan {
    let cur_used = K::used(cur);
    let target_used = K::used(target);
    let mut safe = K::update_safe(cur, target);
    let mut diff = 0u8;
    for i in 0..ENTRY_QWORDS {
        // Safe only counts for bits both entries use; otherwise the bit is
        // sequenced as the entry that ignores it says.
        safe[i] &= cur_used[i] & target_used[i];
        let sequenced = cur_used[i] & !safe[i];
        let unused_update = (cur[i] & sequenced) | (target[i] & !sequenced);
        if unused_update & target_used[i] != target[i] {
            diff |= 1 << i;
        }
    }

    if cur == target {
        return Plan::new(UpdateKind::Unchanged);
    }
    if diff == 0 {
        // Same configuration: the changed bits are unused or safe.
        let mut p = Plan::new(UpdateKind::SafeOnly);
        p.push(cur, target);
        return p;
    }
    if diff.count_ones() == 1 {
        let crit = diff.trailing_zeros() as usize;
        let mut p = Plan::new(UpdateKind::Hitless);
        // 1. Bits the target needs and the current entry ignores.
        let mut pre = *cur;
        for i in 0..ENTRY_QWORDS {
            if i != crit {
                let m = target_used[i] & !cur_used[i];
                pre[i] = (cur[i] & !m) | (target[i] & m);
            }
        }
        p.push(cur, &pre);
        // 2. The critical qword, and the safe bits.
        let mut flip = pre;
        for i in 0..ENTRY_QWORDS {
            flip[i] = if i == crit {
                target[i]
            } else {
                (pre[i] & !safe[i]) | (target[i] & safe[i])
            };
        }
        p.push(&pre, &flip);
        // 3. Clean up the bits the target ignores.
        p.push(&flip, target);
        return p;
    }

    // Breaking: V=0, then everything but qword 0, then qword 0.
    let mut p = Plan::new(UpdateKind::Breaking);
    let mut off = *cur;
    off[0] = 0;
    p.push(cur, &off);
    let mut body = *target;
    body[0] = 0;
    p.push(&off, &body);
    p.push(&body, target);
    p
}

/// Plans and performs the update of an entry of kind `K` from `cur` (its
/// current contents) to `target`.
pub fn write_entry<K: EntryKind, T: EntryTarget + ?Sized>(
    t: &mut T,
    cur: &Qwords,
    target: &Qwords,
) -> Plan {
    let p = plan::<K>(cur, target);
    p.apply(t);
    p
}

/// The tearing model: what the SMMU may observe while a plan runs.
#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
#[allow(missing_docs)]
pub mod model {
    use super::*;

    /// Most events a [`Recorder`] keeps.
    pub const MAX_EVENTS: usize = 48;

    /// One thing the writer did to the entry.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Event {
        /// Qword `.0` was set to `.1`.
        Write(usize, u64),
        /// Sync.
        Sync,
    }

    /// An [`EntryTarget`] that keeps the entry and records every event.
    #[derive(Clone, Debug)]
    pub struct Recorder {
        /// The entry as memory holds it.
        pub entry: Qwords,
        events: [Event; MAX_EVENTS],
        len: usize,
        /// More than [`MAX_EVENTS`] events happened.
        pub overflow: bool,
        /// Syncs seen.
        pub syncs: usize,
    }

    impl Recorder {
        /// A recorder holding `entry`.
        pub fn new(entry: &Qwords) -> Self {
            Self {
                entry: *entry,
                events: [Event::Sync; MAX_EVENTS],
                len: 0,
                overflow: false,
                syncs: 0,
            }
        }

        /// The events so far.
        pub fn events(&self) -> &[Event] {
            self.events.get(..self.len).unwrap_or(&[])
        }

        fn push(&mut self, e: Event) {
            match self.events.get_mut(self.len) {
                Some(slot) => {
                    *slot = e;
                    self.len += 1;
                }
                None => self.overflow = true,
            }
        }
    }

    impl EntryTarget for Recorder {
        fn write_qword(&mut self, idx: usize, val: u64) {
            if let Some(q) = self.entry.get_mut(idx) {
                *q = val;
            }
            self.push(Event::Write(idx, val));
        }

        fn sync(&mut self) {
            self.syncs += 1;
            self.push(Event::Sync);
        }
    }

    /// An entry the SMMU could observe that is neither the old behaviour,
    /// the new one, nor (when allowed) V=0.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Torn {
        /// Index of the sync that ends the window (number of syncs before).
        pub window: usize,
        /// The observed entry.
        pub seen: Qwords,
    }

    /// The model's own idea of which bits matter, written as a table of
    /// fields per configuration rather than by calling the writer's
    /// `used()`: if `used()` forgets a field, the model still sees it.
    pub trait ModelKind: EntryKind {
        /// Bits the SMMU uses in `ent`.
        fn ref_used(ent: &Qwords) -> Qwords;
        /// Used bits either value of which is acceptable in either entry.
        fn ref_safe(a: &Qwords, b: &Qwords) -> Qwords;
    }

    impl ModelKind for SteKind {
        fn ref_used(ent: &Qwords) -> Qwords {
            use crate::hw::bits::Field;
            use crate::hw::ste::field::*;
            // Which configurations use a field: S1 = 5, S2 = 6, nested = 7,
            // bypass = 4, abort = 0; `S1DSS_BYPASS` marks SHCFG's rule.
            const S1: u8 = 1 << 5 | 1 << 7;
            const S2: u8 = 1 << 6 | 1 << 7;
            const TRANS: u8 = S1 | S2;
            const TABLE: [(usize, Field, u8); 23] = [
                (0, S1FMT, S1),
                (0, S1CTXPTR, S1),
                (0, S1CDMAX, S1),
                (1, S1DSS, S1),
                (1, S1CIR, S1),
                (1, S1COR, S1),
                (1, S1CSH, S1),
                (1, S1STALLD, S1),
                (1, STRW, S1),
                (1, EATS, TRANS),
                (1, MEV, TRANS),
                (1, S2FWB, S2),
                (1, SHCFG, S2 | 1 << 4),
                (2, S2VMID, TRANS),
                (2, VTCR, S2),
                (2, S2AA64, S2),
                (2, S2ENDI, S2),
                (2, S2PTW, S2),
                (2, S2S, S2),
                (2, S2R, S2),
                (3, S2TTB, S2),
                (0, V, 0xff),
                (0, CFG, 0xff),
            ];
            let mut u = [0u64; ENTRY_QWORDS];
            if !V.is_set(ent[0]) {
                u[0] = V.mask();
                return u;
            }
            let config = CFG.get(ent[0]) as u8;
            for (q, f, configs) in TABLE {
                if configs & (1 << config) != 0 {
                    u[q] |= f.mask();
                }
            }
            // SHCFG also matters to S1 traffic that bypasses (S1DSS=bypass).
            if S1 & (1 << config) != 0 && S1DSS.get(ent[1]) == 1 {
                u[1] |= SHCFG.mask();
            }
            u
        }

        fn ref_safe(a: &Qwords, b: &Qwords) -> Qwords {
            use crate::hw::ste::field::*;
            let mut s = [0u64; ENTRY_QWORDS];
            s[1] = MEV.mask();
            let s1chk = |q: &Qwords| EATS.get(q[1]) & 2 != 0;
            if !s1chk(a) && !s1chk(b) && !S2S.is_set(a[2]) && !S2S.is_set(b[2]) {
                s[1] |= EATS.prep(1);
            }
            s
        }
    }

    impl ModelKind for CdKind {
        fn ref_used(ent: &Qwords) -> Qwords {
            use crate::hw::cd::field::*;
            if !V.is_set(ent[0]) {
                let mut u = [0u64; ENTRY_QWORDS];
                u[0] = V.mask();
                return u;
            }
            let mut u = [u64::MAX; ENTRY_QWORDS];
            if EPD0.is_set(ent[0]) {
                for f in [T0SZ, TG0, IRGN0, ORGN0, SH0] {
                    u[0] &= !f.mask();
                }
                u[1] &= !TTB0.mask();
            }
            u
        }

        fn ref_safe(_a: &Qwords, _b: &Qwords) -> Qwords {
            [0; ENTRY_QWORDS]
        }
    }

    /// Whether `seen` behaves as `reference`: equal in the bits `seen`'s
    /// own configuration uses, ignoring bits that are update-safe between
    /// the two (as the C KUnit suite's check does).
    pub fn behaves_as<K: ModelKind>(seen: &Qwords, reference: &Qwords) -> bool {
        let used = K::ref_used(seen);
        let safe = K::ref_safe(seen, reference);
        (0..ENTRY_QWORDS).all(|i| (seen[i] ^ reference[i]) & used[i] & !safe[i] == 0)
    }

    /// Whether the SMMU may observe `seen` during an update from `old` to
    /// `new`; V=0 only counts when `allow_invalid`.
    pub fn acceptable<K: ModelKind>(
        seen: &Qwords,
        old: &Qwords,
        new: &Qwords,
        allow_invalid: bool,
    ) -> bool {
        (allow_invalid && !K::is_valid(seen))
            || behaves_as::<K>(seen, old)
            || behaves_as::<K>(seen, new)
    }

    /// Most values one qword can take within a window.
    const MAX_VALUES: usize = 6;

    /// Checks every entry the SMMU could observe while `events` run on an
    /// entry holding `old`: between two syncs each qword written since the
    /// last sync may be seen with any value it held in that window, in any
    /// combination with the other qwords. Also checks memory ends as `new`.
    pub fn check_tearing<K: ModelKind>(
        old: &Qwords,
        new: &Qwords,
        events: &[Event],
        allow_invalid: bool,
    ) -> Result<(), Torn> {
        let mut mem = *old;
        let mut vals = [[0u64; MAX_VALUES]; ENTRY_QWORDS];
        let mut n = [1usize; ENTRY_QWORDS];
        for i in 0..ENTRY_QWORDS {
            vals[i][0] = mem[i];
        }
        let mut window = 0;
        for ev in events {
            match *ev {
                Event::Write(i, v) => {
                    if i >= ENTRY_QWORDS {
                        return Err(Torn { window, seen: mem });
                    }
                    mem[i] = v;
                    if !vals[i][..n[i]].contains(&v) {
                        if n[i] == MAX_VALUES {
                            return Err(Torn { window, seen: mem });
                        }
                        vals[i][n[i]] = v;
                        n[i] += 1;
                    }
                }
                Event::Sync => {
                    check_window::<K>(&vals, &n, old, new, allow_invalid, window)?;
                    for i in 0..ENTRY_QWORDS {
                        vals[i][0] = mem[i];
                        n[i] = 1;
                    }
                    window += 1;
                }
            }
        }
        check_window::<K>(&vals, &n, old, new, allow_invalid, window)?;
        if mem != *new {
            return Err(Torn { window, seen: mem });
        }
        Ok(())
    }

    fn check_window<K: ModelKind>(
        vals: &[[u64; MAX_VALUES]; ENTRY_QWORDS],
        n: &[usize; ENTRY_QWORDS],
        old: &Qwords,
        new: &Qwords,
        allow_invalid: bool,
        window: usize,
    ) -> Result<(), Torn> {
        let mut pick = [0usize; ENTRY_QWORDS];
        loop {
            let mut seen = [0u64; ENTRY_QWORDS];
            for i in 0..ENTRY_QWORDS {
                seen[i] = vals[i][pick[i]];
            }
            if !acceptable::<K>(&seen, old, new, allow_invalid) {
                return Err(Torn { window, seen });
            }
            // Next combination (mixed-radix counter).
            let mut i = 0;
            loop {
                if i == ENTRY_QWORDS {
                    return Ok(());
                }
                pick[i] += 1;
                if pick[i] < n[i] {
                    break;
                }
                pick[i] = 0;
                i += 1;
            }
        }
    }

    /// C's `arm_smmu_entry_qword_diff()`: the entry with every qword's bits
    /// that `cur` does not use (or may change safely) already set to
    /// `target`'s, and the qwords that still differ in bits `target` uses.
    fn c_unused_update<K: EntryKind>(cur: &Qwords, target: &Qwords) -> (Qwords, u8) {
        let cur_used0 = K::used(cur);
        let target_used = K::used(target);
        let mut safe = K::update_safe(cur, target);
        let mut unused_update = [0u64; ENTRY_QWORDS];
        let mut diff = 0u8;
        for i in 0..ENTRY_QWORDS {
            safe[i] &= target_used[i] & cur_used0[i];
            let cur_used = cur_used0[i] & !safe[i];
            unused_update[i] = (cur[i] & cur_used) | (target[i] & !cur_used);
            if unused_update[i] & target_used[i] != target[i] {
                diff |= 1 << i;
            }
        }
        (unused_update, diff)
    }

    /// Whether the C driver's `arm_smmu_write_entry()` takes its breaking
    /// path (V=0 first) for this transition: more than one qword differs in
    /// used bits.
    pub fn c_breaking<K: EntryKind>(cur: &Qwords, target: &Qwords) -> bool {
        c_unused_update::<K>(cur, target).1.count_ones() > 1
    }

    /// The number of syncs the C driver's `arm_smmu_write_entry()` issues
    /// for this transition: a reference, transliterated, for comparison.
    pub fn c_syncs<K: EntryKind>(cur: &Qwords, target: &Qwords) -> usize {
        let mut entry = *cur;
        let (mut unused_update, diff) = c_unused_update::<K>(cur, target);
        let mut syncs = 0;
        let mut set = |entry: &mut Qwords, src: &Qwords, start: usize, len: usize| {
            let mut changed = false;
            for i in start..start + len {
                if entry[i] != src[i] {
                    entry[i] = src[i];
                    changed = true;
                }
            }
            if changed {
                syncs += 1;
            }
        };
        if diff.count_ones() == 1 {
            let crit = diff.trailing_zeros() as usize;
            unused_update[crit] = entry[crit];
            set(&mut entry, &unused_update, 0, ENTRY_QWORDS);
            set(&mut entry, target, crit, 1);
            set(&mut entry, target, 0, ENTRY_QWORDS);
        } else if diff != 0 {
            unused_update[0] = 0;
            set(&mut entry, &unused_update, 0, 1);
            set(&mut entry, target, 1, ENTRY_QWORDS - 1);
            set(&mut entry, target, 0, 1);
        } else {
            set(&mut entry, target, 0, ENTRY_QWORDS);
        }
        syncs
    }
}

/// Shared test cases (see [`crate::hw::selftest`]); each name says what it checks.
#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
#[allow(missing_docs)]
pub mod tests {
    use super::model::*;
    use super::*;
    use crate::hw::cd::{Cd, HwUpdate, S1CdConfig, Tcr, Ttb0};
    use crate::hw::selftest::{check, check_eq, failure, Failure, Rng, TestResult};
    use crate::hw::ste::{
        CdTable, CdTableFormat, NestedS1, S1Config, S1Dss, S2Config, Ste, SteCaps, Vtcr,
    };

    /// The SMMU of the C suite: `ARM_SMMU_FEAT_STALLS | ATTR_TYPES_OVR`.
    pub const C_CAPS: SteCaps = SteCaps {
        stalls: true,
        attr_types_ovr: true,
        e2h: false,
    };

    /// `fake_cdtab_dma_addr` (0xF0F0F0F0F0F0) as the C driver stores it:
    /// masked to S1ContextPtr (bits 51:6). Our constructor rejects the
    /// unaligned value instead of masking it.
    pub const C_CDTAB: u64 = 0xF0F0_F0F0_F0C0;
    /// The second CD table of `non_hitless` (0x4B4B4b4B4B, masked).
    pub const C_CDTAB_2: u64 = 0x4B_4B4B_4B40;
    /// `0xdaedbeefdeadbeef` masked to S2TTB/TTB0 (bits 51:4).
    pub const C_TTB: u64 = 0x000D_BEEF_DEAD_BEE0;

    /// Master features of the C suite.
    #[derive(Clone, Copy)]
    pub struct Feat {
        /// `ARM_SMMU_MASTER_TEST_ATS`.
        pub ats: bool,
        /// `ARM_SMMU_MASTER_TEST_STALL`.
        pub stall: bool,
    }

    /// `ATS` only.
    pub const ATS: Feat = Feat {
        ats: true,
        stall: false,
    };
    /// `STALL` only.
    pub const STALL: Feat = Feat {
        ats: false,
        stall: true,
    };
    /// Neither.
    pub const NONE: Feat = Feat {
        ats: false,
        stall: false,
    };

    /// A constructor's result, or a failure of the case.
    pub fn ok<T, E>(r: Result<T, E>) -> Result<T, Failure> {
        r.map_err(|_| failure!("entry constructor failed"))
    }

    /// The C suite's CD table: 2-level, S1CDMAX 0xFF truncated to 31.
    pub fn c_table(base: u64) -> Result<CdTable, Failure> {
        ok(CdTable::new(base, CdTableFormat::TwoLevel64K, 31))
    }

    /// `arm_smmu_test_make_cdtable_ste()` without NESTED.
    pub fn c_cdtable_ste(s1dss: S1Dss, base: u64, f: Feat) -> Result<Ste, Failure> {
        Ok(Ste::s1(
            &C_CAPS,
            &S1Config {
                table: c_table(base)?,
                s1dss,
                stall: f.stall,
                ats: f.ats,
            },
        ))
    }

    /// The S2 configuration of `arm_smmu_test_make_s2_ste()`.
    pub fn c_s2_cfg(f: Feat) -> S2Config {
        S2Config {
            vmid: 0,
            vtcr: Vtcr {
                tsz: 4,
                sl: 3,
                irgn: 2,
                orgn: 1,
                sh: 3,
                tg: 2,
                ps: 1,
            },
            s2ttb: C_TTB,
            s2fwb: false,
            stall: f.stall,
            ats: f.ats,
        }
    }

    /// `arm_smmu_test_make_s2_ste()`.
    pub fn c_s2_ste(f: Feat) -> Result<Ste, Failure> {
        ok(Ste::s2(&C_CAPS, &c_s2_cfg(f)))
    }

    /// `arm_smmu_test_make_cdtable_ste(.., ATS | NESTED)`: the C suite's
    /// nested STE is the CD-table STE's qwords 0–1 with Config=nested and
    /// MEV, and the S2 STE's qwords 2–7, which is what our nested
    /// constructor builds from the same S1 fields.
    pub fn c_nested_ste(s1dss: S1Dss, f: Feat) -> Result<Ste, Failure> {
        let s1 = NestedS1 {
            table: c_table(C_CDTAB)?,
            s1dss,
            s1cir: 1,
            s1cor: 1,
            s1csh: 3,
            s1stalld: C_CAPS.stalls && !f.stall,
        };
        ok(Ste::nested(&C_CAPS, &s1, &c_s2_cfg(f)))
    }

    /// `arm_smmu_test_make_s1_cd()`.
    pub fn c_s1_cd(asid: u16) -> Result<Cd, Failure> {
        ok(Cd::s1(&S1CdConfig {
            asid,
            ttb0: Ttb0::Table {
                tcr: Tcr {
                    tsz: 4,
                    tg: 2,
                    irgn: 2,
                    orgn: 1,
                    sh: 3,
                },
                base: C_TTB,
            },
            ips: 1,
            mair: 0x0abc_def0_1234_5678,
            stall: false,
            record_faults: true,
            hw_update: HwUpdate::None,
            haft: false,
        }))
    }

    /// `arm_smmu_make_sva_cd()` with an mm (48-bit VA, 4K pages) or, with
    /// `None`, for a released mm (EPD0, no S/R as the SMMU cannot force
    /// stalls). The CPU-derived values are plausible constants.
    pub fn c_sva_cd(asid: u16, pgd: Option<u64>) -> Result<Cd, Failure> {
        let (ttb0, record_faults) = match pgd {
            Some(base) => (
                Ttb0::Table {
                    tcr: Tcr {
                        tsz: 16,
                        tg: 0,
                        irgn: 1,
                        orgn: 1,
                        sh: 3,
                    },
                    base,
                },
                true,
            ),
            None => (Ttb0::Disabled, false),
        };
        ok(Cd::s1(&S1CdConfig {
            asid,
            ttb0,
            ips: 5,
            mair: 0x0000_00ff_440c_0400,
            stall: false,
            record_faults,
            hw_update: HwUpdate::None,
            haft: false,
        }))
    }

    /// The pgd of the C suite's `sva_mm`, as a physical address.
    pub const SVA_PGD: u64 = 0x0000_4eef_dead_b000;

    /// Runs one transition on a recorder and checks it: the tearing model,
    /// the final value, the sync count and whether V=0 was seen.
    pub fn expect<K: ModelKind>(
        cur: &Qwords,
        target: &Qwords,
        syncs: usize,
        hitless: bool,
    ) -> TestResult {
        let mut r = Recorder::new(cur);
        let p = write_entry::<K, _>(&mut r, cur, target);
        check!(!r.overflow);
        check!(r.entry == *target);
        check_eq!(r.syncs, syncs);
        check_eq!(p.syncs(), syncs);
        check_eq!(p.passes_invalid::<K>(), !hitless);
        check!(check_tearing::<K>(
            cur,
            target,
            r.events(),
            p.kind() == UpdateKind::Breaking || !hitless
        )
        .is_ok());
        // Never more syncs than the C driver.
        check!(syncs <= c_syncs::<K>(cur, target));
        Ok(())
    }

    fn ste(cur: &Ste, target: &Ste, syncs: usize, hitless: bool) -> TestResult {
        expect::<SteKind>(cur.qwords(), target.qwords(), syncs, hitless)
    }

    fn cdt(cur: &Cd, target: &Cd, syncs: usize, hitless: bool) -> TestResult {
        expect::<CdKind>(cur.qwords(), target.qwords(), syncs, hitless)
    }

    fn bypass() -> Ste {
        Ste::bypass(&C_CAPS)
    }

    // The 24 entry-writer scenarios of arm-smmu-v3-test.c, same names
    // (without the `arm_smmu_v3_write_` prefix), same expected syncs and
    // hitless/breaking outcome unless a comment says otherwise.

    pub fn ste_bypass_to_abort() -> TestResult {
        ste(&bypass(), &Ste::abort(), 2, true)
    }

    pub fn ste_abort_to_bypass() -> TestResult {
        ste(&Ste::abort(), &bypass(), 2, true)
    }

    pub fn ste_cdtable_to_abort() -> TestResult {
        let s = c_cdtable_ste(S1Dss::Ssid0, C_CDTAB, ATS)?;
        ste(&s, &Ste::abort(), 2, true)
    }

    pub fn ste_abort_to_cdtable() -> TestResult {
        let s = c_cdtable_ste(S1Dss::Ssid0, C_CDTAB, ATS)?;
        ste(&Ste::abort(), &s, 2, true)
    }

    pub fn ste_cdtable_to_bypass() -> TestResult {
        let s = c_cdtable_ste(S1Dss::Ssid0, C_CDTAB, ATS)?;
        ste(&s, &bypass(), 3, true)
    }

    pub fn ste_bypass_to_cdtable() -> TestResult {
        let s = c_cdtable_ste(S1Dss::Ssid0, C_CDTAB, ATS)?;
        ste(&bypass(), &s, 3, true)
    }

    pub fn ste_cdtable_s1dss_change() -> TestResult {
        let s = c_cdtable_ste(S1Dss::Ssid0, C_CDTAB, ATS)?;
        let b = c_cdtable_ste(S1Dss::Bypass, C_CDTAB, ATS)?;
        ste(&s, &b, 1, true)?;
        ste(&b, &s, 1, true)
    }

    pub fn ste_s1dssbypass_to_stebypass() -> TestResult {
        let b = c_cdtable_ste(S1Dss::Bypass, C_CDTAB, ATS)?;
        ste(&b, &bypass(), 2, true)
    }

    pub fn ste_stebypass_to_s1dssbypass() -> TestResult {
        let b = c_cdtable_ste(S1Dss::Bypass, C_CDTAB, ATS)?;
        ste(&bypass(), &b, 2, true)
    }

    pub fn ste_s2_to_abort() -> TestResult {
        ste(&c_s2_ste(ATS)?, &Ste::abort(), 2, true)
    }

    pub fn ste_abort_to_s2() -> TestResult {
        ste(&Ste::abort(), &c_s2_ste(ATS)?, 2, true)
    }

    pub fn ste_s2_to_bypass() -> TestResult {
        ste(&c_s2_ste(ATS)?, &bypass(), 2, true)
    }

    pub fn ste_bypass_to_s2() -> TestResult {
        ste(&bypass(), &c_s2_ste(ATS)?, 2, true)
    }

    pub fn ste_s1_to_s2() -> TestResult {
        let s1 = c_cdtable_ste(S1Dss::Ssid0, C_CDTAB, ATS)?;
        ste(&s1, &c_s2_ste(ATS)?, 3, true)
    }

    pub fn ste_s2_to_s1() -> TestResult {
        let s1 = c_cdtable_ste(S1Dss::Ssid0, C_CDTAB, ATS)?;
        ste(&c_s2_ste(ATS)?, &s1, 3, true)
    }

    pub fn ste_non_hitless() -> TestResult {
        let a = c_cdtable_ste(S1Dss::Ssid0, C_CDTAB, ATS)?;
        let b = c_cdtable_ste(S1Dss::Bypass, C_CDTAB_2, ATS)?;
        ste(&a, &b, 3, false)
    }

    pub fn cd_s1_clear() -> TestResult {
        let c = c_s1_cd(1997)?;
        cdt(&Cd::invalid(), &c, 2, false)?;
        cdt(&c, &Cd::invalid(), 2, false)
    }

    pub fn cd_s1_change_asid() -> TestResult {
        let (a, b) = (c_s1_cd(778)?, c_s1_cd(1997)?);
        cdt(&a, &b, 1, true)?;
        cdt(&b, &a, 1, true)
    }

    pub fn ste_s1_to_s2_stall() -> TestResult {
        let s1 = c_cdtable_ste(S1Dss::Ssid0, C_CDTAB, STALL)?;
        ste(&s1, &c_s2_ste(STALL)?, 3, true)
    }

    pub fn ste_s2_to_s1_stall() -> TestResult {
        let s1 = c_cdtable_ste(S1Dss::Ssid0, C_CDTAB, STALL)?;
        ste(&c_s2_ste(STALL)?, &s1, 3, true)
    }

    /// C expects 3 syncs: EATS and MEV (update-safe) go to their new values
    /// in a first step, then qword 0, then the S1 fields are cleared. We
    /// write EATS and MEV together with qword 0: under either Config any
    /// EATS (Trans or abort, no S2S/S1CHK involved) and any MEV is a valid
    /// STE that behaves as one of the two ends apart from these bits, which
    /// the attach sequence makes irrelevant (PCI ATS is off while EATS
    /// changes; MEV only merges fault records). So 2 syncs.
    pub fn ste_nested_s1dssbypass_to_s1bypass() -> TestResult {
        let s1 = c_nested_ste(S1Dss::Bypass, ATS)?;
        ste(&s1, &c_s2_ste(NONE)?, 2, true)?;
        check_eq!(c_syncs::<SteKind>(s1.qwords(), c_s2_ste(NONE)?.qwords()), 3);
        Ok(())
    }

    pub fn ste_nested_s1bypass_to_s1dssbypass() -> TestResult {
        let s1 = c_nested_ste(S1Dss::Bypass, ATS)?;
        ste(&c_s2_ste(NONE)?, &s1, 2, true)
    }

    pub fn cd_sva_clear() -> TestResult {
        let c = c_sva_cd(1997, Some(SVA_PGD))?;
        cdt(&Cd::invalid(), &c, 2, false)?;
        cdt(&c, &Cd::invalid(), 2, false)
    }

    pub fn cd_sva_release() -> TestResult {
        let (a, b) = (c_sva_cd(1997, Some(SVA_PGD))?, c_sva_cd(1997, None)?);
        cdt(&a, &b, 2, true)?;
        cdt(&b, &a, 2, true)
    }

    /// The C reference agrees with the C suite's expectations (so the
    /// comparison `ours <= c_syncs` above is against the real C numbers).
    pub fn writer_c_reference_matches_suite() -> TestResult {
        let s1 = c_cdtable_ste(S1Dss::Ssid0, C_CDTAB, ATS)?;
        let b1 = c_cdtable_ste(S1Dss::Bypass, C_CDTAB, ATS)?;
        let s2 = c_s2_ste(ATS)?;
        let by = bypass();
        let cases: [(&Ste, &Ste, usize); 8] = [
            (&by, &Ste::abort(), 2),
            (&s1, &by, 3),
            (&by, &s1, 3),
            (&s1, &b1, 1),
            (&b1, &by, 2),
            (&s2, &by, 2),
            (&s1, &s2, 3),
            (&s2, &s1, 3),
        ];
        for (a, b, n) in cases {
            check_eq!(c_syncs::<SteKind>(a.qwords(), b.qwords()), n);
        }
        Ok(())
    }

    // Random entries for the property loops.

    /// Random STE capabilities.
    pub fn random_caps(rng: &mut Rng) -> SteCaps {
        SteCaps {
            stalls: rng.below(2) == 1,
            attr_types_ovr: rng.below(2) == 1,
            e2h: rng.below(2) == 1,
        }
    }

    fn pick<T: Copy>(rng: &mut Rng, from: &[T], fallback: T) -> T {
        let n = from.len() as u64;
        if n == 0 {
            return fallback;
        }
        from.get(rng.below(n) as usize).copied().unwrap_or(fallback)
    }

    fn random_table(rng: &mut Rng) -> Result<CdTable, Failure> {
        let base = pick(rng, &[0x1000_0000, 0x2345_6740, C_CDTAB], 0);
        let fmt = pick(
            rng,
            &[CdTableFormat::Linear, CdTableFormat::TwoLevel64K],
            CdTableFormat::Linear,
        );
        let max = pick(rng, &[0u8, 5, 10, 20], 0);
        ok(CdTable::new(base, fmt, max))
    }

    fn random_s1dss(rng: &mut Rng) -> S1Dss {
        pick(
            rng,
            &[S1Dss::Terminate, S1Dss::Bypass, S1Dss::Ssid0],
            S1Dss::Ssid0,
        )
    }

    fn random_s2(rng: &mut Rng) -> S2Config {
        S2Config {
            vmid: pick(rng, &[1u16, 2, 0xffff], 1),
            vtcr: Vtcr {
                tsz: pick(rng, &[16u8, 25], 16),
                sl: pick(rng, &[1u8, 2], 1),
                irgn: 1,
                orgn: 1,
                sh: 3,
                tg: pick(rng, &[0u8, 2], 0),
                ps: pick(rng, &[2u8, 5], 2),
            },
            s2ttb: pick(rng, &[0x8000_0000u64, 0x9_0000_1230, C_TTB], 0),
            s2fwb: rng.below(2) == 1,
            stall: rng.below(2) == 1,
            ats: rng.below(2) == 1,
        }
    }

    /// A random valid STE for an SMMU with `caps`: any constructor, with
    /// parameters from small pools so that pairs often share fields.
    pub fn random_ste(rng: &mut Rng, caps: &SteCaps) -> Result<Ste, Failure> {
        Ok(match rng.below(5) {
            0 => Ste::abort(),
            1 => Ste::bypass(caps),
            2 => Ste::s1(
                caps,
                &S1Config {
                    table: random_table(rng)?,
                    s1dss: random_s1dss(rng),
                    stall: rng.below(2) == 1,
                    ats: rng.below(2) == 1,
                },
            ),
            3 => ok(Ste::s2(caps, &random_s2(rng)))?,
            _ => {
                let s1 = NestedS1 {
                    table: random_table(rng)?,
                    s1dss: random_s1dss(rng),
                    s1cir: pick(rng, &[0u8, 1], 0),
                    s1cor: 1,
                    s1csh: pick(rng, &[0u8, 3], 0),
                    s1stalld: rng.below(2) == 1,
                };
                ok(Ste::nested(caps, &s1, &random_s2(rng)))?
            }
        })
    }

    /// A random CD: invalid, or stage 1 with or without TTB0.
    pub fn random_cd(rng: &mut Rng) -> Result<Cd, Failure> {
        if rng.below(5) == 0 {
            return Ok(Cd::invalid());
        }
        let ttb0 = if rng.below(3) == 0 {
            Ttb0::Disabled
        } else {
            Ttb0::Table {
                tcr: Tcr {
                    tsz: pick(rng, &[16u8, 25], 16),
                    tg: pick(rng, &[0u8, 2], 0),
                    irgn: 1,
                    orgn: 1,
                    sh: 3,
                },
                base: pick(rng, &[0x4000_0000u64, 0x5_0000_0010], 0),
            }
        };
        ok(Cd::s1(&S1CdConfig {
            asid: pick(rng, &[1u16, 2], 1),
            ttb0,
            ips: pick(rng, &[2u8, 5], 2),
            mair: pick(rng, &[0xffu64, 0x0444_ff00], 0),
            stall: rng.below(2) == 1,
            record_faults: rng.below(2) == 1,
            hw_update: pick(
                rng,
                &[HwUpdate::None, HwUpdate::AccessDirty],
                HwUpdate::None,
            ),
            haft: rng.below(4) == 0,
        }))
    }

    /// Checks one random transition: tearing model, final value, at most
    /// C's syncs, same breaking decision as C, and constructors only set
    /// used bits.
    pub fn check_pair<K: ModelKind>(cur: &Qwords, target: &Qwords) -> TestResult {
        let used = K::used(target);
        for i in 0..ENTRY_QWORDS {
            check_eq!(target[i] & !used[i], 0u64);
        }
        let mut r = Recorder::new(cur);
        let p = write_entry::<K, _>(&mut r, cur, target);
        check!(!r.overflow);
        check!(r.entry == *target);
        let allow_invalid =
            p.kind() == UpdateKind::Breaking || !K::is_valid(target) || !K::is_valid(cur);
        check!(check_tearing::<K>(cur, target, r.events(), allow_invalid).is_ok());
        check!(p.syncs() <= c_syncs::<K>(cur, target));
        check_eq!(
            p.kind() == UpdateKind::Breaking,
            c_breaking::<K>(cur, target)
        );
        check!(p.syncs() <= 3);
        Ok(())
    }

    /// Seeded random pairs of STEs (for one SMMU each) through the writer.
    pub fn writer_tearing_random_ste() -> TestResult {
        let mut rng = Rng::new(0x5eed_57e0);
        for _ in 0..3000 {
            let caps = random_caps(&mut rng);
            let a = random_ste(&mut rng, &caps)?;
            let b = random_ste(&mut rng, &caps)?;
            check_pair::<SteKind>(a.qwords(), b.qwords())?;
        }
        Ok(())
    }

    /// Seeded random pairs of CDs through the writer.
    pub fn writer_tearing_random_cd() -> TestResult {
        let mut rng = Rng::new(0x5eed_0cd0);
        for _ in 0..2000 {
            let a = random_cd(&mut rng)?;
            let b = random_cd(&mut rng)?;
            check_pair::<CdKind>(a.qwords(), b.qwords())?;
        }
        Ok(())
    }

    /// The tearing model rejects a naive writer (all qwords, one sync).
    pub fn writer_model_catches_naive_update() -> TestResult {
        let a = c_cdtable_ste(S1Dss::Ssid0, C_CDTAB, ATS)?;
        let b = c_s2_ste(ATS)?;
        let mut events = [Event::Sync; 9];
        for (i, q) in b.qwords().iter().enumerate() {
            events[i] = Event::Write(i, *q);
        }
        check!(check_tearing::<SteKind>(a.qwords(), b.qwords(), &events, false).is_err());
        check!(check_tearing::<SteKind>(a.qwords(), b.qwords(), &events, true).is_err());
        Ok(())
    }

    /// Kinds of STE in the sync table.
    pub const STE_KINDS: usize = 9;

    /// Names of [`ste_kind`]'s entries (for the host's sync-table test).
    #[cfg(test)]
    pub const STE_KIND_NAMES: [&str; STE_KINDS] = [
        "abort",
        "bypass",
        "s1-linear",
        "s1-2lvl",
        "s1dss-byp",
        "s1dss-abt",
        "s2",
        "s2-noats",
        "nested",
    ];

    /// One STE of each kind for the sync table, on the C suite's SMMU; the
    /// ATS variants are the C suite's entries (`s1-2lvl` is its cdtable STE,
    /// `nested` its nested STE with S1DSS=bypass).
    pub fn ste_kind(k: usize) -> Result<Ste, Failure> {
        let linear = ok(CdTable::new(0x4000_0000, CdTableFormat::Linear, 4))?;
        Ok(match k {
            0 => Ste::abort(),
            1 => Ste::bypass(&C_CAPS),
            2 => Ste::s1(
                &C_CAPS,
                &S1Config {
                    table: linear,
                    s1dss: S1Dss::Ssid0,
                    stall: false,
                    ats: true,
                },
            ),
            3 => c_cdtable_ste(S1Dss::Ssid0, C_CDTAB, ATS)?,
            4 => c_cdtable_ste(S1Dss::Bypass, C_CDTAB, ATS)?,
            5 => c_cdtable_ste(S1Dss::Terminate, C_CDTAB, ATS)?,
            6 => c_s2_ste(ATS)?,
            7 => c_s2_ste(NONE)?,
            _ => c_nested_ste(S1Dss::Bypass, ATS)?,
        })
    }

    /// The C KUnit suite's expected syncs, as (from, to, syncs) over
    /// [`ste_kind`] indices.
    pub const C_SUITE_EXPECT: [(usize, usize, usize); 20] = [
        (1, 0, 2),
        (0, 1, 2),
        (3, 0, 2),
        (0, 3, 2),
        (3, 1, 3),
        (1, 3, 3),
        (3, 4, 1),
        (4, 3, 1),
        (4, 1, 2),
        (1, 4, 2),
        (6, 0, 2),
        (0, 6, 2),
        (6, 1, 2),
        (1, 6, 2),
        (3, 6, 3),
        (6, 3, 3),
        (8, 7, 3),
        (7, 8, 2),
        (8, 8, 0),
        (3, 3, 0),
    ];

    /// Syncs per transition between every pair of STE kinds: never more
    /// than C, and every transition passes the tearing model.
    pub fn writer_sync_table() -> TestResult {
        for (a, b, n) in C_SUITE_EXPECT {
            let (x, y) = (ste_kind(a)?, ste_kind(b)?);
            check_eq!(c_syncs::<SteKind>(x.qwords(), y.qwords()), n);
            check!(plan::<SteKind>(x.qwords(), y.qwords()).syncs() <= n);
        }
        for a in 0..STE_KINDS {
            for b in 0..STE_KINDS {
                check_pair::<SteKind>(ste_kind(a)?.qwords(), ste_kind(b)?.qwords())?;
            }
        }
        Ok(())
    }
}

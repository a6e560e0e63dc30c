// SPDX-License-Identifier: GPL-2.0

//! The order of an attach that turns PCIe ATS on or off, and a model of the
//! races it prevents.
//!
//! An attach moves a device from one domain to another. With ATS the device
//! caches translations in its own ATC, which only ATC invalidations (sent
//! by the invalidations of the domain's array) and a whole-ATC invalidation
//! clear. [`plan`] gives the steps in the order the driver performs them
//! (`arm_smmu_attach_prepare()`, the STE update, `arm_smmu_attach_commit()`
//! of the C driver, with the wait this driver needs because its arrays are
//! replaced under RCU instead of locked):
//!
//! - **Enable**: publish the new array with the ATS entry; wait for RCU
//!   readers; write the STE with EATS=1; invalidate the whole ATC;
//!   `pci_enable_ats()`; drop the master from the old array.
//! - **Disable**: publish the new array (no ATS entry); `pci_disable_ats()`;
//!   write the STE with EATS=0; invalidate the whole ATC; drop the master
//!   (and its ATS entry) from the old array, last.
//! - **Re-attach with ATS on**: publish; wait; write the STE; invalidate the
//!   SSID's ATC entries; drop from the old array.
//!
//! `check_plan` (compiled for the tests) runs a plan against every interleaving of one concurrent
//! unmap (clear the PTE, read the array under RCU, TLBI and sync, ATC
//! invalidation and sync if the array had the ATS entry) and of the SMMU
//! and the device filling their caches whenever they are allowed to. The
//! property: once the unmap returned, no enabled ATC holds the unmapped
//! translation. The model finds the race of each step left out.

/// One step of an attach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Publish the new domain's array, holding the master's entries (ATS
    /// entries if ATS will be on).
    PublishNew,
    /// Wait until every invalidation that read an array published before
    /// is done (`synchronize_rcu()`).
    WaitReaders,
    /// `pci_disable_ats()`, the config write completed.
    PciDisable,
    /// Write the STE (and CD) with the new domain and EATS, synced.
    WriteSte,
    /// Invalidate the device's whole ATC, synced.
    AtcInvAll,
    /// Invalidate the device's ATC entries of the attached SSID, synced.
    AtcInvSsid,
    /// `pci_enable_ats()`.
    PciEnable,
    /// Publish the old domain's array without the master's entries.
    PublishOld,
}

/// The most steps a plan has.
pub const MAX_STEPS: usize = 6;

/// The steps of an attach, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    steps: [Option<Step>; MAX_STEPS],
}

impl Plan {
    const fn of(list: &[Step]) -> Self {
        let mut steps = [None; MAX_STEPS];
        let mut i = 0;
        while i < list.len() && i < MAX_STEPS {
            steps[i] = Some(list[i]);
            i += 1;
        }
        Self { steps }
    }

    /// The steps.
    pub fn steps(&self) -> impl Iterator<Item = Step> + '_ {
        self.steps.iter().map_while(|s| *s)
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Whether the plan has `step`.
    pub fn has(&self, step: Step) -> bool {
        self.steps().any(|s| s == step)
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// The same plan without `step`, for the model's negative checks.
    pub fn without(&self, step: Step) -> Self {
        let mut out = [None; MAX_STEPS];
        for (o, s) in out.iter_mut().zip(self.steps().filter(|&s| s != step)) {
            *o = Some(s);
        }
        Self { steps: out }
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// The same plan with `a` moved to just before `b`.
    pub fn moved_before(&self, a: Step, b: Step) -> Self {
        let mut out = [None; MAX_STEPS];
        let mut n = 0;
        for s in self.steps().filter(|&s| s != a) {
            if s == b {
                out[n] = Some(a);
                n += 1;
            }
            out[n] = Some(s);
            n += 1;
        }
        Self { steps: out }
    }
}

/// What an attach changes about ATS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// ATS is enabled now (`master->ats_enabled`).
    pub was: bool,
    /// ATS will be enabled (`state->ats_enabled`).
    pub will: bool,
}

/// The steps of an attach to a different domain (`plan` of a re-attach to
/// the same domain has no array step: its entries stay).
pub const fn plan(t: Transition) -> Plan {
    use Step::*;
    match (t.was, t.will) {
        (false, false) => Plan::of(&[PublishNew, WriteSte, PublishOld]),
        // The wait: an unmap of the new domain that read the array before
        // the ATS entry was in it sends no ATC invalidation; once the STE
        // points at the domain and ATS is on, the device could fill its ATC
        // from the SMMU's TLB entry that unmap has not invalidated yet, and
        // keep it after the unmap returned.
        (false, true) => Plan::of(&[
            PublishNew,
            WaitReaders,
            WriteSte,
            AtcInvAll,
            PciEnable,
            PublishOld,
        ]),
        // The same race as enabling, through a device whose ATS is
        // already on.
        (true, true) => Plan::of(&[PublishNew, WaitReaders, WriteSte, AtcInvSsid, PublishOld]),
        // The old array keeps the ATS entry until ATS is off: an unmap of
        // the old domain that read an array without it would leave the
        // device's ATC entry behind.
        (true, false) => Plan::of(&[PublishNew, PciDisable, WriteSte, AtcInvAll, PublishOld]),
    }
}

/// The steps of a re-attach to the same domain with the same entries: the
/// STE is rewritten, and with ATS on the ATC flushed as C's commit does
/// ("the translation has changed"). Nothing the arrays hold changes, so
/// nothing needs the wait.
pub const fn reattach_plan(t: Transition) -> Plan {
    if t.was && t.will {
        Plan::of(&[Step::WriteSte, Step::AtcInvSsid])
    } else {
        Plan::of(&[Step::WriteSte])
    }
}

#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
/// The domains of the model.
const OLD: usize = 0;
#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
const NEW: usize = 1;

#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
/// Where the concurrent unmap is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unmap {
    /// Not started.
    Idle,
    /// PTE cleared.
    Cleared,
    /// Array read under the RCU read lock; `ats`: it had the ATS entry.
    Read { ats: bool },
    /// TLBI and CMD_SYNC done.
    Tlbi { ats: bool },
    /// Returned (read lock dropped).
    Done,
}

#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
/// The state of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct World {
    /// Next plan step.
    pc: usize,
    /// A `WaitReaders` started while the unmap was inside its read-side
    /// critical section, and waits for it.
    waiting_for_unmap: bool,
    /// The domain the unmap works on.
    victim: usize,
    unmap: Unmap,
    /// The PTE of the unmapped IOVA, per domain.
    pte: [bool; 2],
    /// The SMMU's TLB holds the translation, per domain (other devices
    /// keep using both domains).
    tlb: [bool; 2],
    /// The device's ATC holds the translation of this domain.
    atc: Option<usize>,
    /// The domain the STE points at, and its EATS.
    ste: usize,
    eats: bool,
    /// The device's ATS Enable.
    pci_ats: bool,
    /// The array of each domain holds the device's ATS entry.
    arr_ats: [bool; 2],
}

/// A run of the model that broke the property.
#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counterexample {
    /// The domain the unmap worked on (0 old, 1 new).
    pub victim: usize,
    /// Plan steps done when it broke.
    pub steps_done: usize,
}

/// What `check_plan` found.
#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelReport {
    /// States visited (interleavings explored step by step).
    pub states: u64,
    /// The first run that broke the property, if any.
    pub broken: Option<Counterexample>,
    /// Every run reached the end of the plan (no deadlock).
    pub all_finished: bool,
}

#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
impl World {
    fn start(t: Transition, victim: usize) -> Self {
        Self {
            pc: 0,
            waiting_for_unmap: false,
            victim,
            unmap: Unmap::Idle,
            pte: [true; 2],
            tlb: [true; 2],
            // With ATS off, the ATC may still hold what it cached before
            // ATS was last disabled: unusable until ATS is enabled again.
            atc: Some(OLD),
            ste: OLD,
            eats: t.was,
            pci_ats: t.was,
            arr_ats: [t.was, false],
        }
    }

    /// The property: an unmap that returned left no enabled ATC entry of
    /// its translation.
    fn ok(&self) -> bool {
        !(self.unmap == Unmap::Done && self.pci_ats && self.atc == Some(self.victim))
    }

    fn in_read_section(&self) -> bool {
        matches!(self.unmap, Unmap::Read { .. } | Unmap::Tlbi { .. })
    }
}

#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
/// Explores every interleaving of `p` (to a different domain, ATS going
/// from `t.was` to `t.will`) with one unmap of either domain.
pub fn check_plan(p: &Plan, t: Transition) -> ModelReport {
    let mut steps = [Step::PublishNew; MAX_STEPS];
    let mut n = 0;
    for s in p.steps() {
        steps[n] = s;
        n += 1;
    }
    let mut report = ModelReport {
        states: 0,
        broken: None,
        all_finished: true,
    };
    for victim in [OLD, NEW] {
        explore(&World::start(t, victim), &steps[..n], t, &mut report);
        if report.broken.is_some() {
            break;
        }
    }
    report
}

#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
fn explore(w: &World, plan: &[Step], t: Transition, r: &mut ModelReport) {
    r.states += 1;
    if r.broken.is_some() {
        return;
    }
    if !w.ok() {
        r.broken = Some(Counterexample {
            victim: w.victim,
            steps_done: w.pc,
        });
        return;
    }
    let mut moved = false;
    let mut go = |next: World, r: &mut ModelReport| {
        moved = true;
        explore(&next, plan, t, r);
    };

    // The attach.
    if let Some(&step) = plan.get(w.pc) {
        let mut n = *w;
        n.pc += 1;
        let runnable = match step {
            Step::PublishNew => {
                n.arr_ats[NEW] = t.will;
                true
            }
            // Starting the wait records whether the unmap is inside its
            // read-side section; the step ends once it left.
            Step::WaitReaders => {
                if w.waiting_for_unmap {
                    if w.in_read_section() {
                        false
                    } else {
                        n.waiting_for_unmap = false;
                        true
                    }
                } else if w.in_read_section() {
                    n.pc = w.pc;
                    n.waiting_for_unmap = true;
                    true
                } else {
                    true
                }
            }
            Step::PciDisable => {
                n.pci_ats = false;
                true
            }
            Step::WriteSte => {
                n.ste = NEW;
                n.eats = t.will;
                true
            }
            Step::AtcInvAll | Step::AtcInvSsid => {
                n.atc = None;
                true
            }
            Step::PciEnable => {
                n.pci_ats = true;
                true
            }
            Step::PublishOld => {
                n.arr_ats[OLD] = false;
                true
            }
        };
        if runnable {
            go(n, r);
        }
    }

    // The unmap.
    let v = w.victim;
    let mut n = *w;
    let next = match w.unmap {
        Unmap::Idle => {
            n.pte[v] = false;
            Some(Unmap::Cleared)
        }
        Unmap::Cleared => Some(Unmap::Read { ats: w.arr_ats[v] }),
        Unmap::Read { ats } => {
            n.tlb[v] = false;
            Some(Unmap::Tlbi { ats })
        }
        Unmap::Tlbi { ats } => {
            if ats {
                n.atc = None;
            }
            Some(Unmap::Done)
        }
        Unmap::Done => None,
    };
    if let Some(u) = next {
        n.unmap = u;
        go(n, r);
    }

    // The SMMU walks the table into its TLB (for any device of the
    // domain), and the device, allowed to, fills its ATC from the TLB or
    // the table. Only changes are explored, so this ends.
    for d in [OLD, NEW] {
        if w.pte[d] && !w.tlb[d] {
            let mut n = *w;
            n.tlb[d] = true;
            go(n, r);
        }
    }
    let d = w.ste;
    if w.eats && w.pci_ats && (w.tlb[d] || w.pte[d]) && w.atc != Some(d) {
        let mut n = *w;
        n.atc = Some(d);
        n.tlb[d] = true;
        go(n, r);
    }

    if !moved && w.pc < plan.len() {
        r.all_finished = false;
    }
}

/// Shared test cases (see [`crate::hw::selftest`]); each name says what it checks.
#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
#[allow(missing_docs)]
pub mod tests {
    use super::*;
    use crate::hw::selftest::{check, check_eq, TestResult};

    const ALL: [Transition; 4] = [
        Transition {
            was: false,
            will: false,
        },
        Transition {
            was: false,
            will: true,
        },
        Transition {
            was: true,
            will: true,
        },
        Transition {
            was: true,
            will: false,
        },
    ];

    /// The steps of each transition are C's (`arm_smmu_attach_prepare()`,
    /// the STE write, `arm_smmu_attach_commit()`) plus the RCU wait.
    pub fn ats_plan_steps() -> TestResult {
        use Step::*;
        let en = plan(ALL[1]);
        let order = [
            PublishNew,
            WaitReaders,
            WriteSte,
            AtcInvAll,
            PciEnable,
            PublishOld,
        ];
        check!(en.steps().eq(order.iter().copied()));
        let dis = plan(ALL[3]);
        let order = [PublishNew, PciDisable, WriteSte, AtcInvAll, PublishOld];
        check!(dis.steps().eq(order.iter().copied()));
        let re = plan(ALL[2]);
        check!(re.has(WaitReaders) && re.has(AtcInvSsid) && !re.has(PciEnable));
        check!(reattach_plan(ALL[2])
            .steps()
            .eq([WriteSte, AtcInvSsid].into_iter()));
        check!(reattach_plan(ALL[0]).steps().eq([WriteSte].into_iter()));
        let off = plan(ALL[0]);
        check_eq!(off.steps().count(), 3usize);
        check!(!off.has(WaitReaders));
        Ok(())
    }

    /// Every plan keeps the property in every interleaving, and finishes.
    pub fn ats_model_plans_are_safe() -> TestResult {
        for t in ALL {
            let r = check_plan(&plan(t), t);
            check!(r.broken.is_none());
            check!(r.all_finished);
            check!(r.states > 100);
        }
        Ok(())
    }

    /// Without the RCU wait, enabling ATS (and re-attaching with ATS on)
    /// leaves a stale ATC entry behind an unmap of the new domain.
    pub fn ats_model_needs_the_wait() -> TestResult {
        for t in [ALL[1], ALL[2]] {
            let r = check_plan(&plan(t).without(Step::WaitReaders), t);
            check!(r.broken.map(|c| c.victim) == Some(NEW));
        }
        Ok(())
    }

    /// The other steps are each needed where they are: the ATC flush
    /// before `pci_enable_ats()` (the ATC may hold entries from before ATS
    /// was last disabled), the SSID flush of a re-attach, and the old
    /// array keeping the ATS entry until ATS is off.
    pub fn ats_model_needs_each_step() -> TestResult {
        use Step::*;
        let en = ALL[1];
        let r = check_plan(&plan(en).without(AtcInvAll), en);
        check!(r.broken.is_some());
        let re = ALL[2];
        let r = check_plan(&plan(re).without(AtcInvSsid), re);
        check!(r.broken.is_some());
        let dis = ALL[3];
        let early = plan(dis).moved_before(PublishOld, PciDisable);
        let r = check_plan(&early, dis);
        check!(r.broken.map(|c| c.victim) == Some(OLD));
        Ok(())
    }
}

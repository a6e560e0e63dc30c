// SPDX-License-Identifier: GPL-2.0

//! Per-domain invalidation arrays (`struct arm_smmu_invs`).
//!
//! A domain keeps a sorted array of the invalidations it needs: a TLBI tag
//! (ASID or VMID) per SMMU and an ATC invalidation per ATS-enabled stream.
//! Attaching merges a master's entries in ([`Invs::merge`], into new
//! storage: the array is RCU-published), detaching drops their reference
//! counts in place ([`Invs::unref`]; entries reaching zero become "trash"),
//! and [`Invs::purge`] copies the live entries out. The order, the
//! comparison and the refcount rules are the C driver's.
//!
//! On top of C: an ATS entry can be marked broken in place
//! ([`Invs::set_ats_broken`]) when the device's ATC invalidation timed
//! out. A broken entry sorts and compares as the ATS entry it was, so the
//! array stays sorted and later merges/unrefs still find it; it just
//! issues no ATC invalidation.

use super::cmd::{inv_size_too_big, AtcSpan, Cmd, Ssid, TlbiKind, TlbiRange};
use core::cmp::Ordering;

/// Identifies an SMMU instance; orders entries of different SMMUs (the C
/// driver compares the `arm_smmu_device` pointers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct SmmuId(pub usize);

/// What an entry invalidates. The order is the order of the commands:
/// TLBIs before ATC invalidations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvType {
    /// Stage-1 TLBI by ASID (`INV_TYPE_S1_ASID`); `id` is the ASID.
    S1Asid,
    /// Stage-2 TLBI by VMID (`INV_TYPE_S2_VMID`); `id` is the VMID.
    S2Vmid,
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Stage-1 entries under a nesting parent's VMID
    /// (`INV_TYPE_S2_VMID_S1_CLEAR`).
    S2VmidS1Clear,
    /// ATC invalidation of a range (`INV_TYPE_ATS`); `id` is the SID.
    Ats,
    /// ATC invalidation of everything (`INV_TYPE_ATS_FULL`).
    AtsFull,
    /// An ATS entry of a device whose ATC invalidation timed out: no ATC
    /// commands any more. `full` says which type it was.
    AtsBroken {
        /// It was [`InvType::AtsFull`].
        full: bool,
    },
}

impl InvType {
    /// The sort rank (`enum arm_smmu_inv_type`); broken entries keep their
    /// original rank.
    const fn rank(self) -> u8 {
        match self {
            Self::S1Asid => 0,
            Self::S2Vmid => 1,
            #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
            Self::S2VmidS1Clear => 2,
            Self::Ats | Self::AtsBroken { full: false } => 3,
            Self::AtsFull | Self::AtsBroken { full: true } => 4,
        }
    }

    /// Whether this is an ATS entry, broken or not (`arm_smmu_inv_is_ats()`).
    pub const fn is_ats(self) -> bool {
        self.rank() >= 3
    }
}

/// One invalidation (`struct arm_smmu_inv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inv {
    smmu: SmmuId,
    ty: InvType,
    id: u32,
    ssid: u32,
    pgsize_shift: u8,
    el2: bool,
    users: u32,
}

impl Inv {
    /// An unused slot.
    pub const EMPTY: Self = Self {
        smmu: SmmuId(0),
        ty: InvType::S1Asid,
        id: 0,
        ssid: 0,
        pgsize_shift: 0,
        el2: false,
        users: 0,
    };

    const fn new(smmu: SmmuId, ty: InvType, id: u32) -> Self {
        Self {
            smmu,
            ty,
            id,
            ssid: 0,
            pgsize_shift: 0,
            el2: false,
            users: 0,
        }
    }

    /// Stage-1 TLBI for `asid`; `pgsize_shift` is the leaf page size for
    /// range invalidation (0 without), `el2` with E2H (TLBI_EL2_*).
    pub const fn s1_asid(smmu: SmmuId, asid: u16, pgsize_shift: u8, el2: bool) -> Self {
        let mut i = Self::new(smmu, InvType::S1Asid, asid as u32);
        i.pgsize_shift = pgsize_shift;
        i.el2 = el2;
        i
    }

    /// Stage-2 TLBI for `vmid`.
    pub const fn s2_vmid(smmu: SmmuId, vmid: u16, pgsize_shift: u8) -> Self {
        let mut i = Self::new(smmu, InvType::S2Vmid, vmid as u32);
        i.pgsize_shift = pgsize_shift;
        i
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Nested stage-1 entries under nesting parent `vmid`.
    pub const fn s2_vmid_s1_clear(smmu: SmmuId, vmid: u16) -> Self {
        Self::new(smmu, InvType::S2VmidS1Clear, vmid as u32)
    }

    /// ATC invalidation of stream `sid`, substream `ssid` (0: no PASID).
    pub const fn ats(smmu: SmmuId, sid: u32, ssid: u32) -> Self {
        let mut i = Self::new(smmu, InvType::Ats, sid);
        i.ssid = ssid;
        i
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Full ATC invalidation of stream `sid` (under a nesting parent).
    pub const fn ats_full(smmu: SmmuId, sid: u32, ssid: u32) -> Self {
        let mut i = Self::new(smmu, InvType::AtsFull, sid);
        i.ssid = ssid;
        i
    }

    /// The SMMU.
    pub const fn smmu(&self) -> SmmuId {
        self.smmu
    }

    /// The type.
    pub const fn ty(&self) -> InvType {
        self.ty
    }

    /// ASID, VMID or SID.
    pub const fn id(&self) -> u32 {
        self.id
    }

    /// SubstreamID of an ATS entry.
    pub const fn ssid(&self) -> u32 {
        self.ssid
    }

    /// log2 of the leaf page size for range invalidation (0 without).
    pub const fn pgsize_shift(&self) -> u8 {
        self.pgsize_shift
    }

    /// Stage-1 invalidations use the EL2 commands.
    pub const fn el2(&self) -> bool {
        self.el2
    }

    /// References; 0 marks trash.
    pub const fn users(&self) -> u32 {
        self.users
    }

    /// Order of entries (`arm_smmu_inv_cmp()`): SMMU, type, id, then SSID
    /// for ATS entries.
    pub fn cmp_key(&self, other: &Self) -> Ordering {
        self.smmu
            .cmp(&other.smmu)
            .then(self.ty.rank().cmp(&other.ty.rank()))
            .then(self.id.cmp(&other.id))
            .then(if self.ty.is_ats() {
                self.ssid.cmp(&other.ssid)
            } else {
                Ordering::Equal
            })
    }
}

impl Inv {
    /// The command that drops every TLB entry of this entry's tag (ASID or
    /// VMID), as issued when the tag's last user goes
    /// (`arm_smmu_inv_flush_iotlb_tag()`); `None` for other types.
    pub const fn flush_tag_cmd(&self) -> Option<Cmd> {
        match self.tlbi() {
            Some((_, all)) => Some(all),
            None => None,
        }
    }

    /// How this entry invalidates by address, and its by-tag command; `None`
    /// for the types this driver does not issue (ATS, nested stage 1).
    const fn tlbi(&self) -> Option<(TlbiKind, Cmd)> {
        let id = self.id as u16;
        match self.ty {
            InvType::S1Asid if self.el2 => {
                Some((TlbiKind::El2Va { asid: id }, Cmd::TlbiEl2Asid { asid: id }))
            }
            InvType::S1Asid => Some((
                TlbiKind::NhVa { asid: id, vmid: 0 },
                Cmd::TlbiNhAsid { asid: id, vmid: 0 },
            )),
            InvType::S2Vmid => Some((TlbiKind::S2Ipa { vmid: id }, Cmd::TlbiS12Vmall { vmid: id })),
            _ => None,
        }
    }
}

/// A range to invalidate (`arm_smmu_domain_inv_range()`'s arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvRequest {
    /// First address.
    pub iova: u64,
    /// Bytes; 0 invalidates everything.
    pub size: u64,
    /// Size of the entries that changed.
    pub granule: u64,
    /// Only leaf entries changed.
    pub leaf: bool,
}

impl InvRequest {
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Everything (`arm_smmu_tlb_inv_context()`).
    pub const ALL: Self = Self {
        iova: 0,
        size: 0,
        granule: 0,
        leaf: false,
    };
}

/// Why an array operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvsError {
    /// The output storage is too small; `needed` entries are required.
    Full {
        /// Entries needed.
        needed: usize,
    },
    /// The result would not be sorted: an input was not sorted (C warns).
    Unsorted,
    /// The array's counts are inconsistent (`num_invs < num_trashes`).
    Corrupt,
}

/// What [`Invs::unref`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnrefReport {
    /// Entries whose count reached zero.
    pub trashed: usize,
    /// Entries of `to_unref` not found in the array (C warns).
    pub missing: usize,
}

/// A sorted invalidation array over caller-provided storage.
#[derive(Clone, Debug)]
pub struct Invs<S> {
    storage: S,
    num: usize,
    num_trashes: usize,
    has_ats: bool,
}

/// The next live entry at or after `next` in `inv` (`arm_smmu_invs_iter_next()`).
fn next_live(inv: &[Inv], mut next: usize) -> usize {
    while let Some(e) = inv.get(next) {
        if e.users != 0 {
            break;
        }
        next += 1;
    }
    next
}

/// Walks the live entries of `left` and all of `right` in order, calling
/// `f(cmp, i, j)` as `arm_smmu_invs_for_each_cmp()` does.
fn for_each_cmp(left: &[Inv], right: &[Inv], mut f: impl FnMut(Ordering, usize, usize)) {
    let (mut i, mut j) = (0, 0);
    loop {
        i = next_live(left, i);
        let cmp = match (left.get(i), right.get(j)) {
            (None, None) => break,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(l), Some(r)) => l.cmp_key(r),
        };
        f(cmp, i, j);
        if cmp.is_le() {
            i += 1;
        }
        if cmp.is_ge() {
            j += 1;
        }
    }
}

impl<S: AsRef<[Inv]> + AsMut<[Inv]>> Invs<S> {
    /// An empty array over `storage`.
    pub fn new(storage: S) -> Self {
        Self {
            storage,
            num: 0,
            num_trashes: 0,
            has_ats: false,
        }
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// An array holding `entries` (sorted, each with one user).
    pub fn from_sorted(mut storage: S, entries: &[Inv]) -> Result<Self, InvsError> {
        let out = storage.as_mut();
        let dst = out.get_mut(..entries.len()).ok_or(InvsError::Full {
            needed: entries.len(),
        })?;
        let mut has_ats = false;
        for (k, (d, e)) in dst.iter_mut().zip(entries).enumerate() {
            if k > 0 && entries[k - 1].cmp_key(e).is_gt() {
                return Err(InvsError::Unsorted);
            }
            *d = *e;
            d.users = 1;
            has_ats |= e.ty.is_ats();
        }
        Ok(Self {
            storage,
            num: entries.len(),
            num_trashes: 0,
            has_ats,
        })
    }

    /// Entries in the array, trash included (`num_invs`).
    pub fn len(&self) -> usize {
        self.num
    }

    /// Whether the array has no entries.
    pub fn is_empty(&self) -> bool {
        self.num == 0
    }

    /// Trash entries (`num_trashes`).
    pub fn num_trashes(&self) -> usize {
        self.num_trashes
    }

    /// Whether the array has ATS entries, broken or not: invalidations
    /// then issue ATC invalidations after the TLB ones.
    pub fn has_ats(&self) -> bool {
        self.has_ats
    }

    /// The entries, trash included.
    pub fn entries(&self) -> &[Inv] {
        self.storage.as_ref().get(..self.num).unwrap_or(&[])
    }

    /// The live entries, in order.
    pub fn live(&self) -> impl Iterator<Item = &Inv> {
        self.entries().iter().filter(|e| e.users != 0)
    }

    /// Entries [`Invs::merge`] will produce.
    pub fn merged_len(&self, to_merge: &[Inv]) -> usize {
        let mut n = 0;
        for_each_cmp(self.entries(), to_merge, |_, _, _| n += 1);
        n
    }

    /// A new array with `to_merge` (sorted) added: entries already present
    /// get one more user, new ones start with one, trash is dropped
    /// (`arm_smmu_invs_merge()`).
    pub fn merge<T: AsRef<[Inv]> + AsMut<[Inv]>>(
        &self,
        to_merge: &[Inv],
        mut storage: T,
    ) -> Result<Invs<T>, InvsError> {
        let needed = self.merged_len(to_merge);
        let left = self.entries();
        let out = storage.as_mut();
        if out.len() < needed {
            return Err(InvsError::Full { needed });
        }
        let mut n = 0;
        let mut has_ats = false;
        let mut sorted = true;
        for_each_cmp(left, to_merge, |cmp, i, j| {
            let new = match cmp {
                Ordering::Less => left.get(i).copied(),
                Ordering::Equal => left.get(i).map(|e| Inv {
                    users: e.users.saturating_add(1),
                    ..*e
                }),
                Ordering::Greater => to_merge.get(j).map(|e| Inv { users: 1, ..*e }),
            };
            if let (Some(new), Some(slot)) = (new, out.get_mut(n)) {
                *slot = new;
                if n > 0 && out.get(n - 1).is_some_and(|p| p.cmp_key(&new).is_gt()) {
                    sorted = false;
                }
                has_ats |= new.ty.is_ats();
                n += 1;
            }
        });
        if !sorted {
            return Err(InvsError::Unsorted);
        }
        Ok(Invs {
            storage,
            num: n,
            num_trashes: 0,
            has_ats,
        })
    }

    /// Drops one user of every entry of `to_unref` (sorted) in place
    /// (`arm_smmu_invs_unref()`). Entries reaching zero become trash; each
    /// `to_unref` entry's user count is set to 1 if its entry is still used
    /// and 0 if it became trash, so the caller can flush a TLBI tag nobody
    /// uses any more. Trailing trash is cut off. Never fails.
    ///
    /// The caller holds the array's write lock around this when the array
    /// is visible to invalidation walkers.
    pub fn unref(&mut self, to_unref: &mut [Inv]) -> UnrefReport {
        let mut report = UnrefReport::default();
        let mut num = 0;
        let mut trashes = self.num_trashes;
        let n = self.num;
        let inv = self.storage.as_mut().get_mut(..n).unwrap_or(&mut []);
        // The walk of for_each_cmp(), open-coded: both sides are mutated.
        let mut i = 0;
        let mut j = 0;
        loop {
            i = next_live(inv, i);
            let cmp = match (inv.get(i), to_unref.get(j)) {
                (None, None) => break,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(l), Some(r)) => l.cmp_key(r),
            };
            match cmp {
                // Not in to_unref: keep.
                Ordering::Less => num = i + 1,
                Ordering::Equal => {
                    if let (Some(e), Some(r)) = (inv.get_mut(i), to_unref.get_mut(j)) {
                        // Live entries have users > 0, so this cannot wrap.
                        e.users = e.users.saturating_sub(1);
                        if e.users != 0 {
                            r.users = 1;
                            num = i + 1;
                        } else {
                            r.users = 0;
                            trashes += 1;
                            report.trashed += 1;
                        }
                    }
                }
                // In to_unref but not in the array (or already trash).
                Ordering::Greater => report.missing += 1,
            }
            if cmp.is_le() {
                i += 1;
            }
            if cmp.is_ge() {
                j += 1;
            }
        }
        // Trailing trash goes; trash in between stays until a purge.
        self.num_trashes = trashes.saturating_sub(n - num);
        self.num = num;
        report
    }

    /// Entries [`Invs::purge`] will produce.
    pub fn purged_len(&self) -> usize {
        self.live().count()
    }

    /// A new array without the trash (`arm_smmu_invs_purge()`), or `None`
    /// when there is no trash to drop.
    pub fn purge<T: AsRef<[Inv]> + AsMut<[Inv]>>(
        &self,
        mut storage: T,
    ) -> Result<Option<Invs<T>>, InvsError> {
        if self.num < self.num_trashes {
            return Err(InvsError::Corrupt);
        }
        if self.num == 0 || self.num_trashes == 0 {
            return Ok(None);
        }
        let needed = self.purged_len();
        let out = storage.as_mut();
        let dst = out.get_mut(..needed).ok_or(InvsError::Full { needed })?;
        let mut has_ats = false;
        for (d, e) in dst.iter_mut().zip(self.live()) {
            *d = *e;
            has_ats |= e.ty.is_ats();
        }
        Ok(Some(Invs {
            storage,
            num: needed,
            num_trashes: 0,
            has_ats,
        }))
    }

    /// Calls `f` with the TLB invalidation commands of `req` for every live
    /// stage-1 and stage-2 entry, in array order: by address (range
    /// commands if `range_inv`) or, when that would take too many commands
    /// or `req` is everything, one by-tag command
    /// (`__arm_smmu_domain_inv_range()` without ATS and nesting). Returns
    /// how many entries were skipped because this driver does not issue
    /// their type (ATS, nested stage 1).
    pub fn tlbi_cmds(&self, req: &InvRequest, range_inv: bool, mut f: impl FnMut(Cmd)) -> usize {
        let mut skipped = 0;
        for inv in self.live() {
            let Some((kind, all)) = inv.tlbi() else {
                skipped += 1;
                continue;
            };
            if inv_size_too_big(range_inv, req.size, req.granule) {
                f(all);
                continue;
            }
            let shift = u32::from(inv.pgsize_shift);
            match TlbiRange::new(
                kind,
                req.iova,
                req.size,
                req.granule,
                shift,
                req.leaf,
                range_inv,
            ) {
                Ok(cmds) => cmds.for_each(&mut f),
                // Over-invalidate rather than miss anything.
                Err(_) => f(all),
            }
        }
        skipped
    }

    /// Calls `f` with the ATC invalidation of `req` for every live ATS
    /// entry that is not broken, in array order
    /// (`arm_smmu_atc_inv_to_cmd()`, `arm_smmu_make_cmd_atc_inv_all()`):
    /// the smallest aligned span covering the range, everything for
    /// [`InvType::AtsFull`] or when `req` is everything. They go after the
    /// TLB invalidations and a CMD_SYNC, so the device cannot refill its
    /// ATC from a TLB entry still being invalidated. Returns how many
    /// broken entries were skipped.
    pub fn atc_cmds(&self, req: &InvRequest, mut f: impl FnMut(Cmd)) -> usize {
        let mut broken = 0;
        for inv in self.live() {
            let span = match inv.ty {
                InvType::Ats => AtcSpan::covering(req.iova, req.size),
                InvType::AtsFull => AtcSpan::ALL,
                InvType::AtsBroken { .. } => {
                    broken += 1;
                    continue;
                }
                _ => continue,
            };
            // Entries are built from 20-bit SSIDs; a wider one would be a
            // bug: invalidate the whole ATC rather than nothing.
            let (ssid, span) = match Ssid::new(inv.ssid) {
                Some(s) => (s, span),
                None => (Ssid::ZERO, AtcSpan::ALL),
            };
            f(Cmd::AtcInv {
                sid: inv.id,
                ssid,
                span,
            });
        }
        broken
    }

    /// The StreamIDs of `smmu` with a live, working ATS entry: the devices
    /// an ATC invalidation of this array reaches.
    pub fn ats_sids(&self, smmu: SmmuId) -> impl Iterator<Item = u32> + '_ {
        self.live()
            .filter(move |e| e.smmu == smmu && matches!(e.ty, InvType::Ats | InvType::AtsFull))
            .map(|e| e.id)
    }

    /// Marks the live ATS entries of stream `sid` on `smmu` broken (or,
    /// with `broken` false, working again), in place; returns how many
    /// changed. Trash is left alone: no merge carries it over.
    ///
    /// The caller holds the array's write lock, so no walker is issuing an
    /// ATC invalidation from these entries meanwhile. The order does not
    /// change.
    pub fn set_ats_broken(&mut self, smmu: SmmuId, sid: u32, broken: bool) -> usize {
        let n = self.num;
        let mut changed = 0;
        for e in self.storage.as_mut().get_mut(..n).unwrap_or(&mut []) {
            if e.smmu != smmu || e.id != sid || e.users == 0 {
                continue;
            }
            let new = match (e.ty, broken) {
                (InvType::Ats, true) => InvType::AtsBroken { full: false },
                (InvType::AtsFull, true) => InvType::AtsBroken { full: true },
                (InvType::AtsBroken { full: false }, false) => InvType::Ats,
                (InvType::AtsBroken { full: true }, false) => InvType::AtsFull,
                (t, _) => t,
            };
            if new != e.ty {
                e.ty = new;
                changed += 1;
            }
        }
        changed
    }
}

/// Shared test cases (see [`crate::hw::selftest`]); each name says what it checks.
#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
#[allow(missing_docs)]
pub mod tests {
    use super::*;
    use crate::hw::selftest::{check, check_eq, Failure, Rng, TestResult};

    const NO: SmmuId = SmmuId(0);

    fn fail(expr: &'static str) -> Failure {
        Failure {
            file: file!(),
            line: line!(),
            expr,
            left: 0,
            right: 0,
        }
    }

    fn verify<S: AsRef<[Inv]> + AsMut<[Inv]>>(
        invs: &Invs<S>,
        num_trashes: usize,
        ids: &[u32],
        users: &[u32],
        ssids: &[u32],
    ) -> TestResult {
        check_eq!(invs.len(), ids.len());
        check_eq!(invs.num_trashes(), num_trashes);
        for (k, e) in invs.entries().iter().enumerate() {
            check_eq!(e.id(), ids[k]);
            check_eq!(e.users(), users[k]);
            check_eq!(e.ssid(), ssids[k]);
        }
        Ok(())
    }

    fn tlbi_of<S: AsRef<[Inv]> + AsMut<[Inv]>>(
        invs: &Invs<S>,
        req: &InvRequest,
        range: bool,
    ) -> ([Option<Cmd>; 8], usize, usize) {
        let mut out = [None; 8];
        let mut n = 0;
        let skipped = invs.tlbi_cmds(req, range, |c| {
            if let Some(slot) = out.get_mut(n) {
                *slot = Some(c);
            }
            n += 1;
        });
        (out, n, skipped)
    }

    /// The commands of an invalidation: per entry type, by address (with
    /// and without range invalidation) or by tag; trash and ATS entries
    /// issue nothing.
    pub fn invs_tlbi_commands() -> TestResult {
        use crate::hw::cmd::TlbiVa;
        let mut buf = [Inv::EMPTY; 4];
        let entries = [
            Inv::s1_asid(NO, 5, 12, false),
            Inv::s2_vmid(NO, 7, 12),
            Inv::ats(NO, 3, 0),
        ];
        let mut invs =
            Invs::from_sorted(&mut buf[..], &entries).map_err(|_| fail("from_sorted"))?;
        // One 4K leaf page, no range invalidation: one command per entry.
        let page = InvRequest {
            iova: 0x1234_5000,
            size: 0x1000,
            granule: 0x1000,
            leaf: true,
        };
        let (cmds, n, skipped) = tlbi_of(&invs, &page, false);
        check_eq!(n, 2);
        check_eq!(skipped, 1);
        let va = TlbiVa::page(0x1234_5000, true);
        check!(
            cmds[0]
                == Some(Cmd::TlbiNhVa {
                    asid: 5,
                    vmid: 0,
                    va
                })
        );
        check!(cmds[1] == Some(Cmd::TlbiS2Ipa { vmid: 7, va }));
        // Everything: by tag.
        let (cmds, n, _) = tlbi_of(&invs, &InvRequest::ALL, true);
        check_eq!(n, 2);
        check!(cmds[0] == Some(Cmd::TlbiNhAsid { asid: 5, vmid: 0 }));
        check!(cmds[1] == Some(Cmd::TlbiS12Vmall { vmid: 7 }));
        // 2 MiB of 4K pages: 512 commands without range invalidation is the
        // C threshold, so by tag; with it, one range command each.
        let big = InvRequest {
            iova: 0x4000_0000,
            size: 0x20_0000,
            granule: 0x1000,
            leaf: true,
        };
        let (cmds, n, _) = tlbi_of(&invs, &big, false);
        check_eq!(n, 2);
        check!(cmds[0] == Some(Cmd::TlbiNhAsid { asid: 5, vmid: 0 }));
        let (cmds, n, _) = tlbi_of(&invs, &big, true);
        check_eq!(n, 2);
        check!(matches!(cmds[0], Some(Cmd::TlbiNhVa { asid: 5, .. })));
        check!(matches!(cmds[1], Some(Cmd::TlbiS2Ipa { vmid: 7, .. })));
        // 8 pages without range invalidation: 8 per entry, in order.
        let eight = InvRequest {
            size: 0x8000,
            ..page
        };
        let (_, n, _) = tlbi_of(&invs, &eight, false);
        check_eq!(n, 16);
        // Once the S1 entry is trash, only the S2 one invalidates.
        let mut gone = [Inv::s1_asid(NO, 5, 12, false)];
        invs.unref(&mut gone);
        let (cmds, n, _) = tlbi_of(&invs, &page, false);
        check_eq!(n, 1);
        check!(cmds[0] == Some(Cmd::TlbiS2Ipa { vmid: 7, va }));
        // The tag flush of each type.
        check!(Inv::s1_asid(NO, 9, 12, true).flush_tag_cmd() == Some(Cmd::TlbiEl2Asid { asid: 9 }));
        check!(Inv::ats(NO, 1, 0).flush_tag_cmd().is_none());
        Ok(())
    }

    /// ATC invalidations: a covering span per ATS entry, everything for
    /// ATS_FULL entries and for "everything" requests, none for broken
    /// entries or TLBI entries.
    pub fn invs_atc_commands() -> TestResult {
        use crate::hw::cmd::{AtcSpan, Ssid};
        let entries = [
            Inv::s1_asid(NO, 5, 12, false),
            Inv::ats(NO, 3, 0),
            Inv::ats(NO, 4, 2),
            Inv::ats_full(NO, 6, 0),
        ];
        let mut invs = Invs::from_sorted([Inv::EMPTY; 4], &entries).map_err(|_| fail("sorted"))?;
        let req = InvRequest {
            iova: 0x7000,
            size: 0x2000,
            granule: 0x1000,
            leaf: true,
        };
        let mut out = [None; 4];
        let mut n = 0;
        let broken = invs.atc_cmds(&req, |c| {
            if let Some(s) = out.get_mut(n) {
                *s = Some(c);
            }
            n += 1;
        });
        check_eq!(n, 3usize);
        check_eq!(broken, 0usize);
        let span = AtcSpan::covering(0x7000, 0x2000);
        check!(
            out[0]
                == Some(Cmd::AtcInv {
                    sid: 3,
                    ssid: Ssid::ZERO,
                    span
                })
        );
        check!(matches!(out[1], Some(Cmd::AtcInv { sid: 4, ssid, .. }) if ssid.get() == 2));
        check!(matches!(
            out[2],
            Some(Cmd::AtcInv {
                sid: 6,
                span: AtcSpan::ALL,
                ..
            })
        ));
        // Everything: every span is ALL.
        let mut all = 0;
        invs.atc_cmds(&InvRequest::ALL, |c| {
            if matches!(
                c,
                Cmd::AtcInv {
                    span: AtcSpan::ALL,
                    ..
                }
            ) {
                all += 1;
            }
        });
        check_eq!(all, 3usize);
        check!(invs.ats_sids(NO).eq([3, 4, 6].into_iter()));
        // A broken device gets none, the others still do.
        check_eq!(invs.set_ats_broken(NO, 4, true), 1usize);
        let mut sids = [0u32; 4];
        let mut n = 0;
        let broken = invs.atc_cmds(&req, |c| {
            if let (Cmd::AtcInv { sid, .. }, Some(s)) = (c, sids.get_mut(n)) {
                *s = sid;
            }
            n += 1;
        });
        check_eq!(broken, 1usize);
        check_eq!(n, 2usize);
        check!(sids[..2] == [3, 6]);
        check!(invs.ats_sids(NO).eq([3, 6].into_iter()));
        Ok(())
    }

    /// `arm_smmu_v3_invs_test` of the C suite, step for step.
    pub fn invs_test() -> TestResult {
        let invs1 = [
            Inv::s2_vmid(NO, 1, 0),
            Inv::s2_vmid_s1_clear(NO, 1),
            Inv::ats(NO, 3, 0),
        ];
        let invs2 = [
            Inv::s2_vmid(NO, 1, 0),
            Inv::ats(NO, 4, 0),
            Inv::ats(NO, 5, 0),
        ];
        let invs3 = [
            Inv::s2_vmid(NO, 1, 0),
            Inv::ats(NO, 5, 0),
            Inv::ats(NO, 6, 0),
        ];
        let invs4 = [
            Inv::ats(NO, 10, 1),
            Inv::ats(NO, 10, 3),
            Inv::ats(NO, 12, 1),
        ];
        let invs5 = [
            Inv::ats(NO, 10, 2),
            Inv::ats(NO, 10, 3),
            Inv::ats(NO, 12, 2),
        ];
        let (mut i2, mut i3, mut i1, mut i5) = (invs2, invs3, invs1, invs5);

        // New array.
        let a = Invs::new([Inv::EMPTY; 0]);
        check_eq!(a.len(), 0usize);
        // Test1: merge invs1.
        let b = a
            .merge(&invs1, [Inv::EMPTY; 3])
            .map_err(|_| fail("merge1"))?;
        verify(&b, 0, &[1, 1, 3], &[1, 1, 1], &[0, 0, 0])?;
        // Test2: merge invs2.
        let mut a = b
            .merge(&invs2, [Inv::EMPTY; 5])
            .map_err(|_| fail("merge2"))?;
        verify(&a, 0, &[1, 1, 3, 4, 5], &[2, 1, 1, 1, 1], &[0; 5])?;
        // Test3: unref invs2 (trailing trash cut).
        a.unref(&mut i2);
        verify(&a, 0, &[1, 1, 3], &[1, 1, 1], &[0; 3])?;
        // Test4: merge invs3.
        let mut b = a
            .merge(&invs3, [Inv::EMPTY; 5])
            .map_err(|_| fail("merge3"))?;
        verify(&b, 0, &[1, 1, 3, 5, 6], &[2, 1, 1, 1, 1], &[0; 5])?;
        // Test5: unref invs1: two trash entries in between.
        b.unref(&mut i1);
        verify(&b, 2, &[1, 1, 3, 5, 6], &[1, 0, 0, 1, 1], &[0; 5])?;
        // Test6: purge.
        let mut a = b
            .purge([Inv::EMPTY; 3])
            .map_err(|_| fail("purge1"))?
            .ok_or_else(|| fail("purge1 none"))?;
        verify(&a, 0, &[1, 5, 6], &[1, 1, 1], &[0; 3])?;
        // Test7: unref invs3: everything goes.
        a.unref(&mut i3);
        check_eq!(a.len(), 0usize);
        check_eq!(a.num_trashes(), 0usize);
        // Test8: merge invs4.
        let b = a
            .merge(&invs4, [Inv::EMPTY; 3])
            .map_err(|_| fail("merge4"))?;
        verify(&b, 0, &[10, 10, 12], &[1, 1, 1], &[1, 3, 1])?;
        // Test9: merge invs5.
        let mut a = b
            .merge(&invs5, [Inv::EMPTY; 5])
            .map_err(|_| fail("merge5"))?;
        verify(
            &a,
            0,
            &[10, 10, 10, 12, 12],
            &[1, 1, 2, 1, 1],
            &[1, 2, 3, 1, 2],
        )?;
        // Test10: unref invs5.
        a.unref(&mut i5);
        verify(&a, 1, &[10, 10, 10, 12], &[1, 0, 1, 1], &[1, 2, 3, 1])?;
        // Test11: purge.
        let b = a
            .purge([Inv::EMPTY; 3])
            .map_err(|_| fail("purge2"))?
            .ok_or_else(|| fail("purge2 none"))?;
        verify(&b, 0, &[10, 10, 12], &[1, 1, 1], &[1, 3, 1])?;
        Ok(())
    }

    /// Capacity errors, unsorted input, the unref notifications, and
    /// purging an array without trash.
    pub fn invs_errors_and_notifications() -> TestResult {
        let x = [Inv::s1_asid(NO, 7, 12, false), Inv::ats(NO, 3, 0)];
        let a = Invs::new([Inv::EMPTY; 0]);
        check!(matches!(
            a.merge(&x, [Inv::EMPTY; 1]),
            Err(InvsError::Full { needed: 2 })
        ));
        let unsorted = [Inv::ats(NO, 3, 0), Inv::s1_asid(NO, 7, 12, false)];
        check!(a.merge(&unsorted, [Inv::EMPTY; 2]).is_err());
        let mut b = a.merge(&x, [Inv::EMPTY; 2]).map_err(|_| fail("merge"))?;
        check!(b.has_ats());
        check!(b
            .purge([Inv::EMPTY; 2])
            .map_err(|_| fail("purge"))?
            .is_none());
        // Unref the TLBI tag only: the caller learns it is now unused.
        let mut tag = [Inv::s1_asid(NO, 7, 12, false)];
        let r = b.unref(&mut tag);
        check_eq!(r.trashed, 1usize);
        check_eq!(tag[0].users(), 0u32);
        check_eq!(b.num_trashes(), 1usize);
        // Unref of something absent is reported, not fatal.
        let mut absent = [Inv::ats(NO, 99, 0)];
        check_eq!(b.unref(&mut absent).missing, 1usize);
        Ok(())
    }

    /// Marking ATS broken keeps the array sorted and merge/unref still
    /// match the entries; the order is SMMU, type, id, ssid.
    pub fn invs_ats_broken() -> TestResult {
        let s0 = SmmuId(1);
        let s1 = SmmuId(2);
        let x = [
            Inv::s1_asid(s0, 5, 12, false),
            Inv::ats(s0, 4, 0),
            Inv::ats(s0, 8, 0),
            Inv::ats_full(s0, 8, 0),
            Inv::s2_vmid(s1, 3, 12),
            Inv::ats(s1, 8, 0),
        ];
        let mut a = Invs::from_sorted([Inv::EMPTY; 8], &x).map_err(|_| fail("from_sorted"))?;
        check_eq!(a.set_ats_broken(s0, 8, true), 2usize);
        check!(a.entries()[2].ty() == InvType::AtsBroken { full: false });
        check!(a.entries()[3].ty() == InvType::AtsBroken { full: true });
        check!(a.entries()[5].ty() == InvType::Ats);
        for w in a.entries().windows(2) {
            check!(!w[0].cmp_key(&w[1]).is_gt());
        }
        // A re-attach merges the same (non-broken) entries: counted as the
        // same entries, still broken.
        let again = [Inv::ats(s0, 8, 0)];
        let mut b = a
            .merge(&again, [Inv::EMPTY; 8])
            .map_err(|_| fail("merge"))?;
        check_eq!(b.len(), 6usize);
        check_eq!(b.entries()[2].users(), 2u32);
        check!(b.entries()[2].ty() == InvType::AtsBroken { full: false });
        let mut un = [Inv::ats(s0, 8, 0), Inv::ats_full(s0, 8, 0)];
        b.unref(&mut un);
        check_eq!(un[0].users(), 1u32);
        check_eq!(un[1].users(), 0u32);
        check_eq!(b.set_ats_broken(s0, 8, false), 1usize);
        check!(b.entries()[2].ty() == InvType::Ats);
        check!(b.has_ats());
        Ok(())
    }

    fn random_inv(rng: &mut Rng) -> Inv {
        let smmu = SmmuId(rng.below(2) as usize);
        let id = rng.below(4) as u32;
        match rng.below(5) {
            0 => Inv::s1_asid(smmu, id as u16, 12, false),
            1 => Inv::s2_vmid(smmu, id as u16, 12),
            2 => Inv::s2_vmid_s1_clear(smmu, id as u16),
            3 => Inv::ats(smmu, id, rng.below(3) as u32),
            _ => Inv::ats_full(smmu, id, 0),
        }
    }

    /// Random sorted sets merged and unreffed against a multiset model:
    /// the array's live entries always equal the model's, sorted, and
    /// trash is counted right.
    pub fn invs_random_model() -> TestResult {
        const N: usize = 64;
        let mut rng = Rng::new(0x1a5);
        let mut arr = Invs::new([Inv::EMPTY; N]);
        // Attached sets, to unref later.
        let mut sets = [[Inv::EMPTY; 4]; 8];
        let mut set_len = [0usize; 8];
        let mut nsets = 0;
        for _ in 0..400 {
            if nsets < 8 && (nsets == 0 || rng.below(2) == 0) {
                // Build a sorted set without duplicates.
                let mut s = [Inv::EMPTY; 4];
                let mut n = 0;
                for _ in 0..1 + rng.below(4) {
                    let e = random_inv(&mut rng);
                    if s[..n].iter().any(|x| x.cmp_key(&e).is_eq()) {
                        continue;
                    }
                    s[n] = e;
                    n += 1;
                }
                s[..n].sort_unstable_by(|a, b| a.cmp_key(b));
                let next = arr
                    .merge(&s[..n], [Inv::EMPTY; N])
                    .map_err(|_| fail("merge"))?;
                check_eq!(next.num_trashes(), 0usize);
                arr = next;
                sets[nsets] = s;
                set_len[nsets] = n;
                nsets += 1;
            } else {
                let k = rng.below(nsets as u64) as usize;
                let n = set_len[k];
                let mut s = sets[k];
                let r = arr.unref(&mut s[..n]);
                check_eq!(r.missing, 0usize);
                sets[k] = sets[nsets - 1];
                set_len[k] = set_len[nsets - 1];
                nsets -= 1;
                if rng.below(2) == 0 {
                    if let Some(p) = arr.purge([Inv::EMPTY; N]).map_err(|_| fail("purge"))? {
                        arr = p;
                    }
                }
            }
            // Model: users of each distinct entry = number of sets holding it.
            let trash = arr.entries().iter().filter(|e| e.users() == 0).count();
            check_eq!(arr.num_trashes(), trash);
            if let Some(last) = arr.entries().last() {
                check!(last.users() != 0);
            }
            let mut live = 0;
            for e in arr.live() {
                let mut want = 0;
                for (s, n) in sets.iter().zip(set_len).take(nsets) {
                    want += s[..n].iter().filter(|x| x.cmp_key(e).is_eq()).count();
                }
                check_eq!(e.users() as usize, want);
                live += 1;
            }
            let mut distinct = 0;
            for (k, (s, n)) in sets.iter().zip(set_len).take(nsets).enumerate() {
                for (m, x) in s[..n].iter().enumerate() {
                    let earlier = sets[..k]
                        .iter()
                        .zip(set_len)
                        .any(|(t, tn)| t[..tn].iter().any(|y| y.cmp_key(x).is_eq()))
                        || s[..m].iter().any(|y| y.cmp_key(x).is_eq());
                    if !earlier {
                        distinct += 1;
                    }
                }
            }
            check_eq!(live, distinct);
            for w in arr.entries().windows(2) {
                check!(!w[0].cmp_key(&w[1]).is_gt());
            }
        }
        Ok(())
    }
}

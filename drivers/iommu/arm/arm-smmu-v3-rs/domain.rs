// SPDX-License-Identifier: GPL-2.0

//! Paging domains: an io-pgtable (stage 1 with an ASID, or stage 2 with a
//! VMID) whose TLB maintenance goes through the domain's invalidation array
//! (`struct arm_smmu_invs`), and the attach sequence that moves a device
//! between blocked, identity and paging domains.
//!
//! The invalidation array is read under RCU by every invalidation and
//! replaced, never edited in place, on attach and detach: a master's entry
//! is merged into the new domain's array before its STE points at the
//! domain, and dropped from the old domain's array after its STE stopped
//! pointing there. When the last user of a tag goes, the tag is flushed, so
//! an ASID or VMID that no array holds has nothing in the TLB (the rule of
//! `arm_smmu_install_old_domain_invs()`). The C driver edits the old array
//! in place under a per-array rwlock that also fences its ATS changes; this
//! driver copies instead, and every array an attach needs is allocated
//! before anything changes, so an attach either fails untouched or
//! completes. Where C cycles the rwlock, this driver waits for an RCU grace
//! period.
//!
//! With PCIe ATS the array also holds an ATC invalidation per StreamID of
//! each ATS-enabled device, issued after the TLB invalidations' CMD_SYNC,
//! and the attach follows [`crate::hw::ats::plan`]: the order of publishing
//! the arrays, the RCU wait that stands in for C's per-array rwlock, the
//! STE write with EATS, the ATC flush and `pci_enable_ats()` /
//! `pci_disable_ats()`. The model in that module shows the race each step
//! prevents.

use crate::{
    cdtab::CdTable,
    cmdq::{SyncAfter, ATC_TIMEOUT},
    hw::{
        ats::{self, Step, Transition},
        cd::{Cd, HwUpdate, S1CdConfig, Tcr, Ttb0},
        cmd::{Cmd, Ssid},
        invs::{Inv, InvRequest, Invs, SmmuId},
        regs::Features,
        ste::{S1Config, S1Dss, S2Config, Ste, Vtcr},
    },
    iommu::{Iommu, Master, MasterState},
    smmu::Smmu,
};
use kernel::{
    alloc::Flags,
    device::{Bound, Device},
    io::PhysAddr,
    iommu::{
        domain::{Domain, DomainOps, Geometry, OwnedDomain},
        gather::IotlbGather,
        pgtable::{Config, FlushOps, IoPageTable, ARM64LPAES1, ARM64LPAES2},
    },
    pci::{self, ats::Ats as _},
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        barrier::{smp_mb, Full},
        rcu,
        rcu_box::{RcuBox, RcuNew},
        Arc,
    },
};

/// Storage of an invalidation array in kernel memory.
struct InvBuf(KVec<Inv>);

impl AsRef<[Inv]> for InvBuf {
    fn as_ref(&self) -> &[Inv] {
        &self.0
    }
}

impl AsMut<[Inv]> for InvBuf {
    fn as_mut(&mut self) -> &mut [Inv] {
        &mut self.0
    }
}

/// An invalidation array in kernel memory.
type InvArray = Invs<InvBuf>;

/// The TLB tag a domain's translations are cached under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tag {
    /// Stage 1.
    Asid(u16),
    /// Stage 2.
    Vmid(u16),
}

/// What invalidating a domain needs, shared by the domain's TLB callbacks
/// and by the masters attached to it (which must drop their entry on
/// detach even while the domain is being freed).
pub(crate) struct Inval {
    smmu: Arc<Smmu>,
    tag: Tag,
    /// log2 of the page table's smallest page, its granule: the TG of
    /// range invalidations (`__ffs(domain.pgsize_bitmap)` in C). Set once
    /// io-pgtable chose the granule, before the domain can be attached.
    pgsize_shift: Atomic<u32>,
    invs: RcuBox<InvArray>,
}

impl Inval {
    /// Writes the domain's TLB tag, then its invalidation array, one
    /// entry per line, each indented by `indent` (debugfs).
    pub(crate) fn show(&self, w: &mut impl core::fmt::Write, indent: &str) -> core::fmt::Result {
        match self.tag {
            Tag::Asid(a) => writeln!(w, "{indent}domain: stage 1, asid={a:#x}")?,
            Tag::Vmid(v) => writeln!(w, "{indent}domain: stage 2, vmid={v:#x}")?,
        }
        let guard = rcu::read_lock();
        let invs = self.invs.read(&guard);
        if invs.is_empty() {
            return writeln!(w, "{indent}invalidations: none");
        }
        writeln!(
            w,
            "{indent}invalidations: {} entries, {} trash",
            invs.len(),
            invs.num_trashes()
        )?;
        for inv in invs.entries() {
            write!(w, "{indent}  ")?;
            crate::hw::decode::inv(w, inv)?;
            writeln!(w)?;
        }
        Ok(())
    }

    /// The array entry of a master attached to this domain.
    fn entry(&self) -> Inv {
        // At most 63 (a u64 bitmap's trailing zeros).
        let pgsize_shift = self.pgsize_shift.load(Relaxed) as u8;
        match self.tag {
            Tag::Asid(asid) => Inv::s1_asid(
                self.smmu.id(),
                asid,
                pgsize_shift,
                self.smmu.info.features.contains(Features::E2H),
            ),
            Tag::Vmid(vmid) => Inv::s2_vmid(self.smmu.id(), vmid, pgsize_shift),
        }
    }

    /// Runs `f` on the current array. Allocating is not allowed in `f` (it
    /// runs under the RCU read lock): writers size their storage with one
    /// call and fill it with another, which sees the same array because
    /// writers are serialised by the SMMU's `attach_lock`.
    fn with_array<R>(&self, f: impl FnOnce(&InvArray) -> R) -> R {
        let guard = rcu::read_lock();
        let r = f(self.invs.read(&guard));
        drop(guard);
        r
    }

    /// Invalidates `[iova, iova + size)` (everything if `size` is 0) for
    /// every live entry of the array, then waits for one CMD_SYNC; then the
    /// ATC invalidations of ATS-enabled devices, and one more CMD_SYNC
    /// (`arm_smmu_domain_inv_range()`).
    pub(crate) fn inv_range(&self, iova: u64, size: u64, granule: u64, leaf: bool) {
        // Pairs with the `dma_wmb` every STE/CD update starts with
        // (`Entry::write`), which orders an attach's publication of this
        // array before its STE store: either this walk sees the entry a
        // concurrent attach merged in, or the SMMU sees the page-table
        // update that preceded this invalidation when it starts using the
        // domain (`arm_smmu_domain_inv_range()`).
        smp_mb(Full);
        let guard = rcu::read_lock();
        let invs = self.invs.read(&guard);
        let range = self.smmu.info.features.contains(Features::RANGE_INV);
        let req = InvRequest {
            iova,
            size,
            granule,
            leaf,
        };
        let (tlbi, atc) = invalidate(&*self.smmu, invs, &req, range);
        if let Err(e) = tlbi {
            dev_err!(self.smmu.dev(), "TLB invalidation failed: {:?}\n", e);
        }
        match atc {
            Err(e) if e == ATC_TIMEOUT => {
                let mut sids = KVec::new();
                for sid in invs.ats_sids(self.smmu.id()) {
                    // Atomic context; a device left out is found by the
                    // next invalidation that times out.
                    let _ = sids.push(sid, GFP_ATOMIC);
                }
                self.smmu.ats_timed_out(sids);
            }
            Err(e) => dev_err!(self.smmu.dev(), "ATC invalidation failed: {:?}\n", e),
            Ok(()) => {}
        }
        drop(guard);
    }

    /// Republishes the array with the ATS entries of `sids` broken: no
    /// walker sends them ATC invalidations any more. The caller holds the
    /// SMMU's `attach_lock`.
    pub(crate) fn set_ats_broken(&self, sids: &[u32]) -> Result {
        publish_ats_broken(&self.invs, self.smmu.id(), sids)
    }
}

impl Drop for Inval {
    fn drop(&mut self) {
        // No master is attached and the domain is gone: the tag was flushed
        // when its last user left (or never used), so it can be reused.
        match self.tag {
            Tag::Asid(a) => self.smmu.asids.free(a),
            Tag::Vmid(v) => self.smmu.vmids.free(v),
        }
    }
}

/// Where invalidations go: the SMMU's command queue, or a simulated SMMU
/// in KUnit.
pub(crate) trait Issuer {
    /// Issues the commands `fill` pushes, then a CMD_SYNC as `sync` says
    /// ([`Smmu::issue_with`]).
    fn issue_with(
        &self,
        sync: SyncAfter,
        fill: impl FnOnce(&mut dyn FnMut(&Cmd) -> Result) -> Result,
    ) -> Result;
}

impl Issuer for Smmu {
    fn issue_with(
        &self,
        sync: SyncAfter,
        fill: impl FnOnce(&mut dyn FnMut(&Cmd) -> Result) -> Result,
    ) -> Result {
        Smmu::issue_with(self, sync, fill)
    }
}

/// Issues the invalidations of `req` for every live entry of `invs`: the
/// TLB invalidations straight into the queue and one CMD_SYNC if any was
/// issued, then, after that CMD_SYNC (a device cannot refill its ATC from
/// a TLB entry still being invalidated, `arm_smmu_invs_end_batch()`), the
/// ATC invalidations of ATS-enabled devices and one more CMD_SYNC. Returns
/// the two batches' results; [`ATC_TIMEOUT`] from the second means a
/// device of `invs.ats_sids()` did not answer. Nesting is not offered.
fn invalidate(
    issuer: &impl Issuer,
    invs: &InvArray,
    req: &InvRequest,
    range: bool,
) -> (Result, Result) {
    let tlbi = issuer.issue_with(SyncAfter::IfIssued, |push| {
        let mut r = Ok(());
        invs.tlbi_cmds(req, range, |c| push_ok(&mut r, push, &c));
        r
    });
    let atc = if invs.has_ats() {
        issuer.issue_with(SyncAfter::IfIssued, |push| {
            let mut r = Ok(());
            invs.atc_cmds(req, |c| push_ok(&mut r, push, &c));
            r
        })
    } else {
        Ok(())
    };
    (tlbi, atc)
}

/// Pushes `cmd` unless an earlier push failed (`r`); after a failed push
/// the rest of a batch is dropped. The generators call this from closures
/// of their own type, so that building the commands is compiled into one
/// function with no indirect call but the push.
fn push_ok(r: &mut Result, push: &mut dyn FnMut(&Cmd) -> Result, cmd: &Cmd) {
    if r.is_ok() {
        *r = push(cmd);
    }
}

/// Publishes a copy of `invs`' array with the ATS entries of `sids`
/// (of the SMMU `smmu`) broken. The caller serialises writers (the SMMU's
/// `attach_lock`).
fn publish_ats_broken(invs: &RcuBox<InvArray>, smmu: SmmuId, sids: &[u32]) -> Result {
    // Sized and copied in two read-side sections: no allocation inside
    // one, and the array cannot change in between (writers serialised).
    let len = invs.read(&rcu::read_lock()).merged_len(&[]);
    let copy = storage(len)?;
    let mut arr = invs
        .read(&rcu::read_lock())
        .merge(&[], copy)
        .map_err(|_| EINVAL)?;
    for &sid in sids {
        arr.set_ats_broken(smmu, sid, true);
    }
    invs.publish(RcuBox::prepare(arr, GFP_KERNEL)?);
    Ok(())
}

/// The io-pgtable TLB object of a domain.
pub(crate) struct Tlb(Arc<Inval>);

// SAFETY: Every callback waits for the CMD_SYNC of its invalidations
// (`Inval::inv_range`).
unsafe impl FlushOps for Tlb {
    fn flush_all(&self) {
        self.0.inv_range(0, 0, 0, false);
    }

    fn flush_walk(&self, iova: usize, size: usize, granule: usize) {
        self.0
            .inv_range(iova as u64, size as u64, granule as u64, false);
    }

    fn sync_gather(&self, gather: &IotlbGather) {
        sync_gather(&self.0, gather);
    }
}

/// Invalidates the leaf entries a gather collected.
fn sync_gather(inval: &Inval, g: &IotlbGather) {
    if g.pgsize() == 0 {
        return;
    }
    let size = (g.end() - g.start()).saturating_add(1);
    inval.inv_range(g.start() as u64, size as u64, g.pgsize() as u64, true);
}

/// A paging domain of page table format `F`.
#[pin_data]
pub(crate) struct PagingDomain<F: kernel::iommu::pgtable::IoPageTableFmt> {
    #[pin]
    pt: IoPageTable<'static, F, Tlb>,
}

impl<F: kernel::iommu::pgtable::IoPageTableFmt> PagingDomain<F> {
    fn inval(&self) -> &Arc<Inval> {
        &self.pt.tlb().0
    }
}

/// What a device is attached to, as far as its STE and CD go.
pub(crate) enum Target<'a> {
    /// Abort every transaction (blocked domain, release).
    Abort,
    /// Bypass translation (identity domain).
    Bypass,
    /// Stage 1: CD 0 of the master's CD table.
    S1(&'a Arc<Inval>, Cd),
    /// Stage 2.
    S2(&'a Arc<Inval>, S2Config),
}

impl Target<'_> {
    fn inval(&self) -> Option<&Arc<Inval>> {
        match self {
            Self::S1(i, _) | Self::S2(i, _) => Some(i),
            _ => None,
        }
    }
}

/// Storage for an array of `n` entries.
fn storage(n: usize) -> Result<InvBuf> {
    Ok(InvBuf(KVec::from_elem(Inv::EMPTY, n, GFP_KERNEL)?))
}

/// The old domain's array once a master left it, and whether its tag lost
/// its last user.
struct Unreffed {
    invs: RcuNew<InvArray>,
    tag_unused: bool,
}

/// The entries a master puts in `inval`'s array, sorted: the domain's TLB
/// tag and, with `ats`, an ATC invalidation per StreamID
/// (`arm_smmu_master_build_invs()`).
fn master_entries(inval: &Inval, sids: &[u32], ats: bool) -> Result<KVec<Inv>> {
    let mut v = KVec::with_capacity(1 + sids.len(), GFP_KERNEL)?;
    v.push(inval.entry(), GFP_KERNEL)?;
    if ats {
        for &sid in sids {
            v.push(Inv::ats(inval.smmu.id(), sid, 0), GFP_KERNEL)?;
        }
    }
    v.sort_unstable_by(|a, b| a.cmp_key(b));
    Ok(v)
}

/// A copy of `arr` without its trash.
fn copy_of(arr: &InvArray) -> Result<InvArray> {
    arr.merge(&[], storage(arr.merged_len(&[]))?)
        .map_err(|_| EINVAL)
}

/// Tags, attachment and domain allocation.
impl Smmu {
    /// Invalidates every TLB entry of `tag`, and waits.
    pub(crate) fn flush_tag(&self, tag: Tag) {
        let e2h = self.info.features.contains(Features::E2H);
        let inv = match tag {
            Tag::Asid(a) => Inv::s1_asid(self.id(), a, 12, e2h),
            Tag::Vmid(v) => Inv::s2_vmid(self.id(), v, 12),
        };
        if let Some(cmd) = inv.flush_tag_cmd() {
            if let Err(e) = self.issue(&[cmd], true) {
                dev_err!(self.dev(), "TLB tag flush failed: {:?}\n", e);
            }
        }
    }

    /// Returns `tag` to its allocator.
    pub(crate) fn free_tag(&self, tag: Tag) {
        match tag {
            Tag::Asid(a) => self.asids.free(a),
            Tag::Vmid(v) => self.vmids.free(v),
        }
    }

    /// Moves `master` (the device `dev`) to `target`
    /// (`arm_smmu_attach_prepare()`, `arm_smmu_install_ste_for_dev()`,
    /// `arm_smmu_attach_commit()`): the new domain's array gains the
    /// master's entries, the STE (and for stage 1 CD 0) is rewritten
    /// hitlessly where the writer allows, then the old domain's array loses
    /// the entries, flushing the tag if it was the last; ATS goes on or off
    /// in between, in the order of [`ats::plan`]. Fails only before
    /// anything changed.
    pub(crate) fn attach(
        self: &Arc<Self>,
        parent: Option<&Device<Bound>>,
        dev: &Device,
        master: &Master,
        target: Target<'_>,
    ) -> Result {
        // Serialises array updates of every domain of this SMMU
        // (`arm_smmu_asid_lock`).
        let _attach = self.attach_lock.lock();
        let mut st = master.state.lock();
        let new = target.inval();
        let same = matches!((&st.domain, new), (Some(a), Some(b)) if Arc::ptr_eq(a, b));
        // Only paging domains get ATS: a bypass or abort STE refuses ATS
        // requests (the comment in C's `arm_smmu_attach_prepare()`).
        let pdev = master
            .ats_stu
            .and_then(|_| <&pci::Device>::try_from(dev).ok());
        let will = new.is_some() && pdev.is_some() && !st.ats_broken;
        let t = Transition {
            was: st.ats_enabled,
            will,
        };
        // A re-attach of the same domain with the same entries leaves the
        // arrays alone.
        let unchanged = same && st.ats_in_array == will;

        // Prepare: every allocation happens here.
        let merged = match new {
            Some(n) if !unchanged => {
                let to_merge = master_entries(n, &master.sids, will)?;
                let buf = storage(n.with_array(|a| a.merged_len(&to_merge)))?;
                Some(
                    n.with_array(|a| a.merge(&to_merge, buf))
                        .map_err(|_| EINVAL)?,
                )
            }
            _ => None,
        };
        let unreffed = match &st.domain {
            Some(old) if !unchanged => {
                // A re-attach with ATS changing unrefs from the merged
                // array, as C does.
                let mut arr = match (&merged, same) {
                    (Some(m), true) => copy_of(m)?,
                    _ => {
                        let copy = storage(old.with_array(|a| a.merged_len(&[])))?;
                        old.with_array(|a| a.merge(&[], copy)).map_err(|_| EINVAL)?
                    }
                };
                let mut mine = master_entries(old, &master.sids, st.ats_in_array)?;
                arr.unref(&mut mine);
                // The tag sorts first.
                let tag_unused = mine.first().is_some_and(|e| e.users() == 0);
                if arr.num_trashes() > 0 {
                    if let Some(purged) =
                        arr.purge(storage(arr.purged_len())?).map_err(|_| EINVAL)?
                    {
                        arr = purged;
                    }
                }
                Some(Unreffed {
                    invs: RcuBox::prepare(arr, GFP_KERNEL)?,
                    tag_unused,
                })
            }
            _ => None,
        };
        let mut merged = match merged {
            Some(m) => Some(RcuBox::prepare(m, GFP_KERNEL)?),
            None => None,
        };
        if matches!(target, Target::S1(..)) && st.cdtab.is_none() {
            let pdev = parent.ok_or(EINVAL)?;
            let two_level = self.info.features.contains(Features::CDTAB_2LVL);
            // No PASIDs yet: one CD (`master->ssid_bits` is 0).
            st.cdtab = Some(KBox::pin_init(
                CdTable::new(Some(pdev), 0, two_level, self.coherent)?,
                GFP_KERNEL,
            )?);
        }
        let ste = match &target {
            Target::Abort => Ste::abort(),
            Target::Bypass => Ste::bypass(&self.caps),
            Target::S2(_, cfg) => {
                Ste::s2(&self.caps, &S2Config { ats: will, ..*cfg }).map_err(|_| EINVAL)?
            }
            Target::S1(..) => Ste::s1(
                &self.caps,
                &S1Config {
                    table: st.cdtab.as_ref().ok_or(EINVAL)?.ste_config()?,
                    s1dss: S1Dss::Ssid0,
                    stall: false,
                    ats: will,
                },
            ),
        };
        let plan = if unchanged {
            ats::reattach_plan(t)
        } else {
            ats::plan(t)
        };

        // Commit. From here on nothing fails: command errors are logged by
        // the command queue and the update goes on, as in C.
        let mut unreffed = unreffed;
        let mut ats_on = t.was;
        for step in plan.steps() {
            match step {
                Step::PublishNew => {
                    if let (Some(n), Some(arr)) = (new, merged.take()) {
                        n.invs.publish(arr);
                    }
                }
                Step::WaitReaders => rcu::synchronize_rcu(),
                Step::PciDisable => {
                    if let Some(p) = pdev {
                        p.disable_ats();
                    }
                    ats_on = false;
                }
                Step::WriteSte => self.write_ste(master, &mut st, &target, &ste),
                Step::AtcInvAll | Step::AtcInvSsid => {
                    // No PASIDs: SSID 0's ATC entries are all of them.
                    match self.atc_inv_all(&master.sids) {
                        // Checked, and ATS turned off if the device stays
                        // silent, once this attach is done.
                        Err(e) if e == ATC_TIMEOUT => {
                            let mut sids = KVec::new();
                            let _ = sids.extend_from_slice(&master.sids, GFP_KERNEL);
                            self.ats_timed_out(sids);
                        }
                        Err(e) => dev_err!(dev, "ATC invalidation failed: {:?}\n", e),
                        Ok(()) => {}
                    }
                }
                Step::PciEnable => {
                    if let (Some(p), Some(stu)) = (pdev, master.ats_stu) {
                        match p.enable_ats(stu) {
                            Ok(()) => ats_on = true,
                            Err(e) => {
                                dev_err!(dev, "failed to enable ATS (STU {}): {:?}\n", stu, e)
                            }
                        }
                    }
                }
                Step::PublishOld => {
                    if let (Some(old), Some(u)) = (st.domain.as_ref(), unreffed.take()) {
                        old.invs.publish(u.invs);
                        if let (true, Some(cmd)) = (u.tag_unused, old.entry().flush_tag_cmd()) {
                            if let Err(e) = self.issue(&[cmd], true) {
                                dev_err!(self.dev(), "TLB tag flush failed: {:?}\n", e);
                            }
                        }
                    }
                }
            }
        }
        st.ats_enabled = ats_on;
        st.ats_in_array = will;
        if !same {
            st.domain = new.cloned();
        }
        // A device that translated through tables the previous kernel
        // handed over no longer does: they can go.
        self.release_adopted(&master.sids);
        Ok(())
    }

    /// Points the master's STE (and CD 0) at `target`.
    fn write_ste(&self, master: &Master, st: &mut MasterState, target: &Target<'_>, ste: &Ste) {
        if let (Target::S1(_, cd), Some(tab)) = (target, st.cdtab.as_ref()) {
            // CD 0 is in place before the STE points at the table.
            self.write_cd(tab, &master.sids, cd);
        }
        if let Err(e) = self.install(&master.sids, ste) {
            dev_err!(self.dev(), "STE update failed: {:?}\n", e);
        }
        st.ste = Some(*ste);
        if st.s1 && !matches!(target, Target::S1(..)) {
            if let Some(tab) = st.cdtab.as_ref() {
                self.write_cd(tab, &master.sids, &Cd::invalid());
            }
        }
        st.s1 = matches!(target, Target::S1(..));
    }

    /// Writes CD 0 of `tab` through the hitless writer, syncing each step
    /// with CFGI_CD for every StreamID of the master.
    fn write_cd(&self, tab: &CdTable, sids: &[u32], cd: &Cd) {
        let Some(ssid) = Ssid::new(0) else {
            return;
        };
        let sync = || {
            self.issue_with(SyncAfter::Always, |push| {
                sids.iter().try_for_each(|&sid| {
                    push(&Cmd::CfgiCd {
                        sid,
                        ssid,
                        leaf: true,
                    })
                })
            })
        };
        if let Err(e) = tab.write(0, cd, sync) {
            dev_err!(self.dev(), "CD update failed: {:?}\n", e);
        }
    }

    /// Allocates a paging domain: stage 1 unless the SMMU has no stage 1 or
    /// `disable_s1` asks for stage 2 (`arm_smmu_domain_alloc_paging_flags()`,
    /// `arm_smmu_domain_finalise()`).
    pub(crate) fn alloc_paging(
        self: &Arc<Self>,
        parent: &Device<Bound>,
        disable_s1: bool,
    ) -> Result<OwnedDomain> {
        let f = self.info.features;
        let s1 = f.contains(Features::TRANS_S1) && !(disable_s1 && f.contains(Features::TRANS_S2));
        if s1 {
            self.alloc_domain::<ARM64LPAES1>(parent)
        } else {
            self.alloc_domain::<ARM64LPAES2>(parent)
        }
    }

    fn alloc_domain<F: Stage>(self: &Arc<Self>, parent: &Device<Bound>) -> Result<OwnedDomain>
    where
        PagingDomain<F>: DomainOps,
    {
        let tag = F::alloc_tag(self)?;
        // If anything below fails, dropping `inval` frees the tag.
        let inval = Arc::new(
            Inval {
                smmu: self.clone(),
                tag,
                pgsize_shift: Atomic::new(0),
                invs: RcuBox::new(InvArray::new(InvBuf(KVec::new())), GFP_KERNEL)?,
            },
            GFP_KERNEL,
        )?;
        let config = Config {
            quirks: 0,
            pgsize_bitmap: self.info.pgsize_bitmap as usize,
            ias: F::ias(self),
            oas: self.info.oas,
            coherent_walk: self.coherent,
        };
        let mut d = Domain::new(
            try_pin_init!(PagingDomain::<F> {
                pt <- IoPageTable::with_flush_ops(parent, config, Tlb(inval)),
            }? Error),
            GFP_KERNEL,
        )?;
        let (pgsizes, ias) = (d.data().pt.pgsize_bitmap(), d.data().pt.ias());
        // io-pgtable picked the granule (PAGE_SIZE if the SMMU has it): a
        // 64K kernel's domain on an SMMU with 4K pages invalidates in 64K
        // units, not in the SMMU's smallest.
        d.data()
            .inval()
            .pgsize_shift
            .store(pgsizes.trailing_zeros(), Relaxed);
        d.as_mut().set_paging(pgsizes, Geometry::from_ias(ias));
        OwnedDomain::new(d)
    }
}

/// What differs between stage-1 and stage-2 domains.
pub(crate) trait Stage: kernel::iommu::pgtable::IoPageTableFmt + Sized {
    /// Allocates the domain's ASID or VMID.
    fn alloc_tag(smmu: &Smmu) -> Result<Tag>;
    /// Input address size.
    fn ias(smmu: &Smmu) -> u32;
    /// Where `d` puts a master.
    fn target(d: &PagingDomain<Self>) -> Result<Target<'_>>;
}

impl Stage for ARM64LPAES1 {
    fn alloc_tag(smmu: &Smmu) -> Result<Tag> {
        smmu.asids.alloc(smmu.dev()).map(Tag::Asid)
    }

    fn ias(smmu: &Smmu) -> u32 {
        smmu.info.s1_ias(kernel::bindings::CONFIG_ARM64_VA_BITS)
    }

    fn target(d: &PagingDomain<Self>) -> Result<Target<'_>> {
        let Tag::Asid(asid) = d.inval().tag else {
            return Err(EINVAL);
        };
        let t = d.pt.tcr();
        let narrow = |v: u32| u8::try_from(v).map_err(|_| EINVAL);
        let cd = Cd::s1(&S1CdConfig {
            asid,
            ttb0: Ttb0::Table {
                tcr: Tcr {
                    tsz: narrow(t.tsz)?,
                    tg: narrow(t.tg)?,
                    irgn: narrow(t.irgn)?,
                    orgn: narrow(t.orgn)?,
                    sh: narrow(t.sh)?,
                },
                // The core frees a domain only once it is detached from
                // every device; `Smmu::attach` rewrites the CD and STE with
                // syncs before that.
                // SAFETY: The table outlives every CD that points at it.
                base: unsafe { d.pt.ttbr() },
            },
            ips: narrow(t.ips)?,
            mair: d.pt.mair(),
            stall: false,
            record_faults: true,
            hw_update: HwUpdate::None,
            haft: false,
        })
        .map_err(|_| EINVAL)?;
        Ok(Target::S1(d.inval(), cd))
    }
}

impl Stage for ARM64LPAES2 {
    fn alloc_tag(smmu: &Smmu) -> Result<Tag> {
        smmu.vmids.alloc(smmu.dev()).map(Tag::Vmid)
    }

    fn ias(smmu: &Smmu) -> u32 {
        smmu.info.s2_ias()
    }

    fn target(d: &PagingDomain<Self>) -> Result<Target<'_>> {
        let Tag::Vmid(vmid) = d.inval().tag else {
            return Err(EINVAL);
        };
        let v = d.pt.vtcr();
        let narrow = |v: u32| u8::try_from(v).map_err(|_| EINVAL);
        let cfg = S2Config {
            vmid,
            vtcr: Vtcr {
                tsz: narrow(v.tsz)?,
                sl: narrow(v.sl)?,
                irgn: narrow(v.irgn)?,
                orgn: narrow(v.orgn)?,
                sh: narrow(v.sh)?,
                tg: narrow(v.tg)?,
                ps: narrow(v.ps)?,
            },
            // SAFETY: As for the stage-1 CD: the STE stops pointing at
            // the table (with a sync) before the domain can be freed.
            s2ttb: unsafe { d.pt.vttbr() },
            s2fwb: false,
            stall: false,
            // Set by the attach, per device.
            ats: false,
        };
        // Checked here, where a failure can still be returned.
        Ste::s2(&d.inval().smmu.caps, &cfg).map_err(|_| EINVAL)?;
        Ok(Target::S2(d.inval(), cfg))
    }
}

#[vtable]
impl<F: Stage> DomainOps for PagingDomain<F> {
    type Iommu = Iommu;

    fn attach_dev(
        d: &Domain<Self>,
        iommu: &Iommu,
        parent: &Device<Bound>,
        dev: &Device,
        m: Pin<&Master>,
    ) -> Result {
        let smmu = &d.data().inval().smmu;
        if !Arc::ptr_eq(smmu, &iommu.smmu) {
            dev_err!(dev, "cannot attach to a domain of another SMMU\n");
            return Err(EINVAL);
        }
        smmu.attach(Some(parent), dev, m.get_ref(), F::target(d.data())?)
    }

    unsafe fn map_pages(
        d: &Domain<Self>,
        iova: usize,
        paddr: PhysAddr,
        pgsize: usize,
        pgcount: usize,
        prot: u32,
        gfp: Flags,
    ) -> (usize, Result) {
        // SAFETY: The core's callers keep operations on one range apart and
        // may DMA to `paddr` while it is mapped (our own safety contract).
        unsafe {
            d.data()
                .pt
                .map_pages(iova, paddr, pgsize, pgcount, prot, gfp)
        }
    }

    unsafe fn unmap_pages(
        d: &Domain<Self>,
        iova: usize,
        pgsize: usize,
        pgcount: usize,
        gather: &IotlbGather,
    ) -> usize {
        // SAFETY: As for `map_pages`.
        unsafe {
            d.data()
                .pt
                .unmap_pages_gather(iova, pgsize, pgcount, gather)
        }
    }

    fn iotlb_sync(d: &Domain<Self>, g: &IotlbGather) {
        sync_gather(d.data().inval(), g);
    }

    fn flush_iotlb_all(d: &Domain<Self>) {
        d.data().inval().inv_range(0, 0, 0, false);
    }

    unsafe fn iova_to_phys(d: &Domain<Self>, iova: u64) -> PhysAddr {
        // SAFETY: The core's callers do not unmap `iova` meanwhile.
        unsafe { d.data().pt.iova_to_phys(iova as usize) }
    }
}

#[cfg(CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST)]
#[kunit_tests(arm_smmu_v3_rs_ats)]
mod tests {
    //! The ATS attach order under load: kthreads map, unmap and invalidate
    //! through [`invalidate`] while another attaches a device back and
    //! forth with ATS turning on and off, following [`ats::plan`] on real
    //! RCU-published arrays, and a simulated device fills its ATC from the
    //! SMMU's TLB and the page table whenever STE.EATS and its ATS Enable
    //! allow. After every unmap's invalidation, no enabled ATC entry may
    //! still translate the unmapped IOVA.
    use super::*;

    /// The SMMU the simulated arrays' entries name.
    const THIS_SMMU: SmmuId = SmmuId(0);
    use crate::{
        cmdq::ATC_TIMEOUT,
        hw::{
            ats::Plan,
            cmd::{AtcSpan, Ssid},
            invs::InvType,
        },
    };
    use kernel::{
        sync::{atomic::Relaxed as R, new_spinlock, SpinLock},
        time::{
            delay::{fsleep, udelay},
            Delta,
        },
        workqueue,
    };

    const PAGES: usize = 8;
    const SID: u32 = 0x100;
    const OTHER_SID: u32 = 0x200;
    const OLD: usize = 0;
    const NEW: usize = 1;
    const ASIDS: [u16; 2] = [1, 2];

    /// The simulated SMMU and device.
    struct World {
        /// Page tables of the two domains.
        pte: [[bool; PAGES]; 2],
        /// The SMMU's TLB, per domain (other devices use both).
        tlb: [[bool; PAGES]; 2],
        /// The device's STE: domain and EATS; its ATS Enable; its ATC.
        ste: usize,
        eats: bool,
        pci_ats: bool,
        atc: [Option<usize>; PAGES],
        atc_fills: u64,
        atc_invs: u64,
        /// ATC invalidations that reached the other device.
        other_atc_invs: u64,
        unmaps: u64,
        violations: u64,
        /// The other device never answers ATC invalidations.
        other_dead: bool,
    }

    struct Sim {
        w: Pin<KBox<SpinLock<World>>>,
        arrays: [RcuBox<InvArray>; 2],
        /// How long a TLBI takes to complete (µs): the window in which a
        /// stale TLB entry can still be handed to the device.
        tlbi_us: u64,
        stop: Atomic<bool>,
        /// The forced interleaving ([`directed`]): a TLBI sets [`INSIDE`]
        /// and waits (at most 50 ms) for [`ENABLED`].
        gate: Atomic<u32>,
        directed: bool,
    }

    const INSIDE: u32 = 1;
    const ENABLED: u32 = 2;

    impl Issuer for Sim {
        fn issue_with(
            &self,
            sync: SyncAfter,
            fill: impl FnOnce(&mut dyn FnMut(&Cmd) -> Result) -> Result,
        ) -> Result {
            let mut timeout = false;
            let mut issued = false;
            fill(&mut |cmd: &Cmd| {
                issued = true;
                self.apply(cmd, &mut timeout);
                Ok(())
            })?;
            if timeout && (sync == SyncAfter::Always || (sync == SyncAfter::IfIssued && issued)) {
                return Err(ATC_TIMEOUT);
            }
            Ok(())
        }
    }

    impl Sim {
        fn new(tlbi_us: u64, directed: bool) -> Result<Arc<Self>> {
            let tag = |d: usize| Inv::s1_asid(THIS_SMMU, ASIDS[d], 12, false);
            let array = |d: usize, device: bool| -> Result<RcuBox<InvArray>> {
                // Another device always uses each domain; ours starts in OLD.
                let mut e = KVec::new();
                e.push(tag(d), GFP_KERNEL)?;
                let mut arr = InvArray::from_sorted(storage(1)?, &e).map_err(|_| EINVAL)?;
                if device {
                    arr = arr
                        .merge(&e, storage(arr.merged_len(&e))?)
                        .map_err(|_| EINVAL)?;
                }
                RcuBox::new(arr, GFP_KERNEL)
            };
            Ok(Arc::new(
                Sim {
                    w: KBox::pin_init(
                        new_spinlock!(World {
                            pte: [[false; PAGES]; 2],
                            tlb: [[false; PAGES]; 2],
                            ste: OLD,
                            eats: false,
                            pci_ats: false,
                            atc: [None; PAGES],
                            atc_fills: 0,
                            atc_invs: 0,
                            other_atc_invs: 0,
                            unmaps: 0,
                            violations: 0,
                            other_dead: false,
                        }),
                        GFP_KERNEL,
                    )?,
                    arrays: [array(OLD, true)?, array(NEW, false)?],
                    tlbi_us,
                    stop: Atomic::new(false),
                    gate: Atomic::new(0),
                    directed,
                },
                GFP_KERNEL,
            )?)
        }

        fn domain_of(asid: u16) -> usize {
            if asid == ASIDS[NEW] {
                NEW
            } else {
                OLD
            }
        }

        /// A command takes effect; a TLBI only after `tlbi_us`.
        fn apply(&self, cmd: &Cmd, timeout: &mut bool) {
            match *cmd {
                Cmd::TlbiNhVa { asid, va, .. } => {
                    udelay(Delta::from_micros(self.tlbi_us as i64));
                    if self.directed {
                        self.gate.store(INSIDE, R);
                        for _ in 0..5000 {
                            if self.gate.load(R) == ENABLED {
                                break;
                            }
                            udelay(Delta::from_micros(10));
                        }
                    }
                    let (addr, _) = va.extent(0x1000);
                    let p = (addr >> 12) as usize % PAGES;
                    self.w.lock().tlb[Self::domain_of(asid)][p] = false;
                }
                Cmd::TlbiNhAsid { asid, .. } => {
                    udelay(Delta::from_micros(self.tlbi_us as i64));
                    self.w.lock().tlb[Self::domain_of(asid)] = [false; PAGES];
                }
                Cmd::AtcInv { sid, span, .. } => {
                    let mut w = self.w.lock();
                    if sid == OTHER_SID {
                        w.other_atc_invs += 1;
                        *timeout |= w.other_dead;
                        return;
                    }
                    w.atc_invs += 1;
                    let first = (span.addr() >> 12) as usize;
                    for (p, e) in w.atc.iter_mut().enumerate() {
                        let pages = 1u64.checked_shl(span.log2_pages().into());
                        if pages.is_none_or(|n| p >= first && ((p - first) as u64) < n) {
                            *e = None;
                        }
                    }
                }
                _ => {}
            }
        }

        /// The device and the other devices of the domains use their
        /// translations once.
        fn traffic(&self, p: usize) {
            let mut w = self.w.lock();
            for d in [OLD, NEW] {
                if w.pte[d][p] {
                    w.tlb[d][p] = true;
                }
            }
            let d = w.ste;
            if w.eats && w.pci_ats && (w.tlb[d][p] || w.pte[d][p]) {
                if w.atc[p] != Some(d) {
                    w.atc_fills += 1;
                }
                w.atc[p] = Some(d);
                w.tlb[d][p] = true;
            }
        }

        /// Maps page `p` of the new domain, lets the devices use it,
        /// unmaps it and invalidates as `inv_range` does, then checks.
        fn unmap_once(&self, p: usize) {
            self.w.lock().pte[NEW][p] = true;
            self.traffic(p);
            self.w.lock().pte[NEW][p] = false;
            smp_mb(Full);
            let guard = rcu::read_lock();
            let req = InvRequest {
                iova: (p as u64) << 12,
                size: 0x1000,
                granule: 0x1000,
                leaf: true,
            };
            let _ = invalidate(self, self.arrays[NEW].read(&guard), &req, false);
            drop(guard);
            let mut w = self.w.lock();
            w.unmaps += 1;
            if w.pci_ats && w.atc[p] == Some(NEW) {
                w.violations += 1;
                w.atc[p] = None;
            }
        }

        /// The device's entries in domain `d`'s array.
        fn entries(d: usize, ats: bool) -> Result<KVec<Inv>> {
            let mut v = KVec::new();
            v.push(Inv::s1_asid(THIS_SMMU, ASIDS[d], 12, false), GFP_KERNEL)?;
            if ats {
                v.push(Inv::ats(THIS_SMMU, SID, 0), GFP_KERNEL)?;
            }
            Ok(v)
        }

        fn copy(&self, d: usize) -> Result<InvArray> {
            let len = self.arrays[d].read(&rcu::read_lock()).merged_len(&[]);
            let buf = storage(len)?;
            self.arrays[d]
                .read(&rcu::read_lock())
                .merge(&[], buf)
                .map_err(|_| EINVAL)
        }

        /// Moves the device from `from` to `to`, ATS from `was` to `will`,
        /// step by step as `plan` says.
        fn attach(&self, plan: Plan, from: usize, to: usize, was: bool, will: bool) -> Result {
            let add = Self::entries(to, will)?;
            let cur = self.copy(to)?;
            let merged = cur
                .merge(&add, storage(cur.merged_len(&add))?)
                .map_err(|_| EINVAL)?;
            let mut merged = Some(RcuBox::prepare(merged, GFP_KERNEL)?);
            let mut left = self.copy(from)?;
            let mut mine = Self::entries(from, was)?;
            left.unref(&mut mine);
            let mut left = Some(RcuBox::prepare(left, GFP_KERNEL)?);
            for step in plan.steps() {
                match step {
                    Step::PublishNew => {
                        if let Some(m) = merged.take() {
                            self.arrays[to].publish(m);
                        }
                    }
                    Step::WaitReaders => rcu::synchronize_rcu(),
                    Step::PciDisable => self.w.lock().pci_ats = false,
                    Step::WriteSte => {
                        let mut w = self.w.lock();
                        w.ste = to;
                        w.eats = will;
                    }
                    Step::AtcInvAll | Step::AtcInvSsid => {
                        let _ = self.issue_with(SyncAfter::Always, |push| {
                            push(&Cmd::AtcInv {
                                sid: SID,
                                ssid: Ssid::ZERO,
                                span: AtcSpan::ALL,
                            })
                        });
                    }
                    Step::PciEnable => self.w.lock().pci_ats = true,
                    Step::PublishOld => {
                        if let Some(l) = left.take() {
                            self.arrays[from].publish(l);
                        }
                    }
                }
            }
            Ok(())
        }
    }

    /// Runs the three threads: `cycles` attaches to the new domain with
    /// ATS and back without, with `plan_of` giving each attach's steps.
    fn stress(tlbi_us: u64, cycles: u32, plan_of: fn(ats::Transition) -> Plan) -> Result<Arc<Sim>> {
        let sim = Sim::new(tlbi_us, false)?;
        let done = Arc::new(Atomic::<u32>::new(0), GFP_KERNEL)?;
        let failed = Arc::new(Atomic::<u32>::new(0), GFP_KERNEL)?;
        let (s, d) = (sim.clone(), done.clone());
        workqueue::system_unbound().try_spawn(GFP_KERNEL, move || {
            let mut p = 0;
            while !s.stop.load(R) {
                s.traffic(p % PAGES);
                p += 1;
                if p % 64 == 0 {
                    fsleep(Delta::from_micros(50));
                }
            }
            d.fetch_add(1, R);
        })?;
        let (s, d) = (sim.clone(), done.clone());
        workqueue::system_unbound().try_spawn(GFP_KERNEL, move || {
            let mut p = 0;
            while !s.stop.load(R) {
                s.unmap_once(p % PAGES);
                p += 1;
                if p % 8 == 0 {
                    fsleep(Delta::from_micros(50));
                }
            }
            d.fetch_add(1, R);
        })?;
        let (s, d, f) = (sim.clone(), done.clone(), failed.clone());
        workqueue::system_unbound().try_spawn(GFP_KERNEL, move || {
            let on = ats::Transition {
                was: false,
                will: true,
            };
            let off = ats::Transition {
                was: true,
                will: false,
            };
            for _ in 0..cycles {
                // Each state lasts a while, so the device runs in it; ATS
                // stays on longer than a TLBI takes, so a stale entry is
                // still usable when the unmap that left it returns.
                if s.attach(plan_of(on), OLD, NEW, false, true).is_err() {
                    f.fetch_add(1, R);
                }
                fsleep(Delta::from_micros(1500));
                if s.attach(plan_of(off), NEW, OLD, true, false).is_err() {
                    f.fetch_add(1, R);
                }
                fsleep(Delta::from_micros(300));
            }
            s.stop.store(true, R);
            d.fetch_add(1, R);
        })?;
        let mut waited = 0;
        while done.load(R) < 3 && waited < 60_000 {
            fsleep(Delta::from_millis(1));
            waited += 1;
        }
        // Whatever happened, the looping threads end.
        sim.stop.store(true, R);
        assert_eq!(done.load(R), 3);
        assert_eq!(failed.load(R), 0);
        Ok(sim)
    }

    /// With the driver's plans: the device used its ATC, the unmaps sent
    /// it ATC invalidations, and none left a stale entry behind.
    #[test]
    fn ats_attach_under_unmap_load() -> Result {
        let sim = stress(200, 150, ats::plan)?;
        let w = sim.w.lock();
        kernel::kunit::info(format_args!(
            "    # with the wait: {} unmaps, {} ATC fills, {} ATC invalidations, {} stale\n",
            w.unmaps, w.atc_fills, w.atc_invs, w.violations
        ));
        assert!(w.unmaps > 100);
        assert!(w.atc_fills > 0);
        assert!(w.atc_invs > 150);
        assert_eq!(w.violations, 0);
        Ok(())
    }

    /// The enable race, forced: an unmap reads the new domain's array
    /// before the ATS entry is in it and, inside its TLBI, waits (at most
    /// 50 ms) for the attach to turn ATS on and the device to use the
    /// stale TLB entry. Returns the stale ATC entries the unmap left.
    fn directed(plan: Plan) -> Result<u64> {
        let sim = Sim::new(0, true)?;
        let done = Arc::new(Atomic::<bool>::new(false), GFP_KERNEL)?;
        let (s, d) = (sim.clone(), done.clone());
        workqueue::system_unbound().try_spawn(GFP_KERNEL, move || {
            while s.gate.load(R) != INSIDE {
                fsleep(Delta::from_micros(100));
            }
            let _ = s.attach(plan, OLD, NEW, false, true);
            // The device translates at once.
            s.traffic(3);
            s.gate.store(ENABLED, R);
            d.store(true, R);
        })?;
        sim.unmap_once(3);
        let mut waited = 0;
        while !done.load(R) && waited < 10_000 {
            fsleep(Delta::from_millis(1));
            waited += 1;
        }
        assert!(done.load(R));
        let v = sim.w.lock().violations;
        Ok(v)
    }

    /// With the wait, the attach cannot turn ATS on while that unmap is
    /// inside its read-side section: nothing stale. Without it, the unmap
    /// returns with the device's ATC holding the unmapped page
    /// (`ats_model_needs_the_wait` shows the same for every interleaving).
    #[test]
    fn ats_enable_race_needs_the_wait() -> Result {
        let on = ats::Transition {
            was: false,
            will: true,
        };
        assert_eq!(directed(ats::plan(on))?, 0);
        assert_eq!(directed(ats::plan(on).without(Step::WaitReaders))?, 1);
        Ok(())
    }

    /// A device that stops answering ATC invalidations: the invalidation
    /// reports it, its entries are marked broken in the array, later
    /// invalidations skip it and still reach the other device, and
    /// nothing waits.
    #[test]
    fn ats_timeout_marks_the_device_broken() -> Result {
        let sim = Sim::new(0, false)?;
        let entries = [
            Inv::s1_asid(THIS_SMMU, ASIDS[NEW], 12, false),
            Inv::ats(THIS_SMMU, SID, 0),
            Inv::ats(THIS_SMMU, OTHER_SID, 0),
        ];
        sim.arrays[NEW].publish(RcuBox::prepare(
            InvArray::from_sorted(storage(3)?, &entries).map_err(|_| EINVAL)?,
            GFP_KERNEL,
        )?);
        sim.w.lock().other_dead = true;
        let req = InvRequest {
            iova: 0,
            size: 0x1000,
            granule: 0x1000,
            leaf: true,
        };
        let run = || {
            let g = rcu::read_lock();
            let invs = sim.arrays[NEW].read(&g);
            let (tlbi, atc) = invalidate(&*sim, invs, &req, false);
            let mut sids = KVec::new();
            for s in invs.ats_sids(THIS_SMMU) {
                let _ = sids.push(s, GFP_ATOMIC);
            }
            (tlbi, atc, sids)
        };
        let (tlbi, atc, sids) = run();
        assert!(tlbi.is_ok());
        assert_eq!(atc, Err(ATC_TIMEOUT));
        // Both devices were in the batch: both are suspects.
        assert_eq!(&sids[..], &[SID, OTHER_SID]);
        // The driver asks each again (`ats_check`); the dead one breaks.
        publish_ats_broken(&sim.arrays[NEW], THIS_SMMU, &[OTHER_SID])?;
        {
            // No allocation in the read-side section.
            let mut types = [None; 3];
            let g = rcu::read_lock();
            for (t, e) in types.iter_mut().zip(sim.arrays[NEW].read(&g).live()) {
                *t = Some(e.ty());
            }
            drop(g);
            assert_eq!(types[1], Some(InvType::Ats));
            assert_eq!(types[2], Some(InvType::AtsBroken { full: false }));
        }
        let before = sim.w.lock().other_atc_invs;
        let atc_before = sim.w.lock().atc_invs;
        for _ in 0..10 {
            let (tlbi, atc, sids) = run();
            assert!(tlbi.is_ok() && atc.is_ok());
            assert_eq!(&sids[..], &[SID]);
        }
        assert_eq!(sim.w.lock().other_atc_invs, before);
        assert_eq!(sim.w.lock().atc_invs, atc_before + 10);
        Ok(())
    }
}

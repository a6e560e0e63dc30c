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
//! in place under a per-array rwlock, needed by its ATS invalidations; this
//! driver does not enable ATS, so it copies instead, and every array an
//! attach needs is allocated before anything changes, so an attach either
//! fails untouched or completes.

use crate::{
    cdtab::CdTable,
    cmdq::SyncAfter,
    hw::{
        cd::{Cd, HwUpdate, S1CdConfig, Tcr, Ttb0},
        cmd::{Cmd, Ssid},
        invs::{Inv, InvRequest, Invs, SmmuId},
        regs::Features,
        ste::{S1Config, S1Dss, S2Config, Ste, Vtcr},
    },
    iommu::{Iommu, Master},
    smmu::Smmu,
};
use kernel::{
    alloc::Flags,
    device::{Bound, Device},
    io::PhysAddr,
    iommu::{
        domain::{Domain, DomainOps, Geometry, OwnedDomain},
        gather::IotlbGather,
        pgtable::Config,
        pgtable_tlb::{IoPgTable, IoPgtableTlb, ARM64LPAES1, ARM64LPAES2},
    },
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

/// Every entry of this driver's arrays names the domain's own SMMU: a
/// domain is only attached to devices behind the SMMU it was allocated for.
const THIS_SMMU: SmmuId = SmmuId(0);

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
    /// The array entry of a master attached to this domain.
    fn entry(&self) -> Inv {
        // At most 63 (a u64 bitmap's trailing zeros).
        let pgsize_shift = self.pgsize_shift.load(Relaxed) as u8;
        match self.tag {
            Tag::Asid(asid) => Inv::s1_asid(
                THIS_SMMU,
                asid,
                pgsize_shift,
                self.smmu.info.features.contains(Features::E2H),
            ),
            Tag::Vmid(vmid) => Inv::s2_vmid(THIS_SMMU, vmid, pgsize_shift),
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
    /// every live entry of the array, then waits for one CMD_SYNC
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
        // Straight into the command queue, then one CMD_SYNC if anything
        // was issued. Nesting and ATS are not offered: no entry is skipped.
        let r = self.smmu.issue_with(SyncAfter::IfIssued, |push| {
            let mut r = Ok(());
            invs.tlbi_cmds(&req, range, |c| {
                if r.is_ok() {
                    r = push(&c);
                }
            });
            r
        });
        if let Err(e) = r {
            dev_err!(self.smmu.dev(), "TLB invalidation failed: {:?}\n", e);
        }
        drop(guard);
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

/// The io-pgtable TLB object of a domain.
pub(crate) struct Tlb(Arc<Inval>);

#[vtable]
// SAFETY: Every callback waits for the CMD_SYNC of its invalidations
// (`Inval::inv_range`).
unsafe impl IoPgtableTlb for Tlb {
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
    pt: IoPgTable<F, Tlb>,
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
    S2(&'a Arc<Inval>, Ste),
}

impl Target<'_> {
    fn inval(&self) -> Option<&Arc<Inval>> {
        match self {
            Self::S1(i, _) | Self::S2(i, _) => Some(i),
            _ => None,
        }
    }
}

impl Smmu {
    /// Invalidates every TLB entry of `tag`, and waits.
    pub(crate) fn flush_tag(&self, tag: Tag) {
        let e2h = self.info.features.contains(Features::E2H);
        let inv = match tag {
            Tag::Asid(a) => Inv::s1_asid(THIS_SMMU, a, 12, e2h),
            Tag::Vmid(v) => Inv::s2_vmid(THIS_SMMU, v, 12),
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

impl Smmu {
    /// Moves `master` to `target` (`arm_smmu_attach_prepare()`,
    /// `arm_smmu_install_ste_for_dev()`, `arm_smmu_attach_commit()`): the
    /// new domain's array gains the master's entry, the STE (and for stage 1
    /// CD 0) is rewritten hitlessly where the writer allows, then the old
    /// domain's array loses the entry, flushing the tag if it was the last.
    /// Fails only before anything changed.
    pub(crate) fn attach(
        &self,
        parent: Option<&Device<Bound>>,
        master: &Master,
        target: Target<'_>,
    ) -> Result {
        // Serialises array updates of every domain of this SMMU
        // (`arm_smmu_asid_lock`).
        let _attach = self.attach_lock.lock();
        let mut st = master.state.lock();
        let new = target.inval();
        let same = matches!((&st.domain, new), (Some(a), Some(b)) if Arc::ptr_eq(a, b));

        // Prepare: every allocation happens here.
        let merged = match new {
            Some(n) if !same => {
                let to_merge = [n.entry()];
                let buf = storage(n.with_array(|a| a.merged_len(&to_merge)))?;
                let arr = n
                    .with_array(|a| a.merge(&to_merge, buf))
                    .map_err(|_| EINVAL)?;
                Some(RcuBox::prepare(arr, GFP_KERNEL)?)
            }
            _ => None,
        };
        let unreffed = match &st.domain {
            Some(old) if !same => {
                let copy = storage(old.with_array(|a| a.len()))?;
                let mut arr = old.with_array(|a| a.merge(&[], copy)).map_err(|_| EINVAL)?;
                let mut mine = [old.entry()];
                arr.unref(&mut mine);
                let tag_unused = mine.iter().all(|e| e.users() == 0);
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
        if matches!(target, Target::S1(..)) && st.cdtab.is_none() {
            let dev = parent.ok_or(EINVAL)?;
            let two_level = self.info.features.contains(Features::CDTAB_2LVL);
            // No PASIDs yet: one CD (`master->ssid_bits` is 0).
            st.cdtab = Some(KBox::pin_init(
                CdTable::new(Some(dev), 0, two_level, self.coherent)?,
                GFP_KERNEL,
            )?);
        }
        let ste = match &target {
            Target::Abort => Ste::abort(),
            Target::Bypass => Ste::bypass(&self.caps),
            Target::S2(_, ste) => *ste,
            Target::S1(..) => Ste::s1(
                &self.caps,
                &S1Config {
                    table: st.cdtab.as_ref().ok_or(EINVAL)?.ste_config()?,
                    s1dss: S1Dss::Ssid0,
                    stall: false,
                    ats: false,
                },
            ),
        };

        // Commit. From here on nothing fails: command errors are logged by
        // the command queue and the update goes on, as in C.
        if let (Some(n), Some(arr)) = (new, merged) {
            n.invs.publish(arr);
        }
        if let (Target::S1(_, cd), Some(tab)) = (&target, st.cdtab.as_ref()) {
            // CD 0 is in place before the STE points at the table.
            self.write_cd(tab, &master.sids, cd);
        }
        if let Err(e) = self.install(&master.sids, &ste) {
            dev_err!(self.dev(), "STE update failed: {:?}\n", e);
        }
        if st.s1 && !matches!(target, Target::S1(..)) {
            if let Some(tab) = st.cdtab.as_ref() {
                self.write_cd(tab, &master.sids, &Cd::invalid());
            }
        }
        st.s1 = matches!(target, Target::S1(..));
        if let (Some(old), Some(u)) = (st.domain.as_ref(), unreffed) {
            old.invs.publish(u.invs);
            if let (true, Some(cmd)) = (u.tag_unused, old.entry().flush_tag_cmd()) {
                if let Err(e) = self.issue(&[cmd], true) {
                    dev_err!(self.dev(), "TLB tag flush failed: {:?}\n", e);
                }
            }
        }
        if !same {
            st.domain = new.cloned();
        }
        // A device that translated through tables the previous kernel
        // handed over no longer does: they can go.
        self.release_adopted(&master.sids);
        Ok(())
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
                pt <- IoPgTable::new(parent, config, Tlb(inval)),
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
        smmu.asids.alloc().map(Tag::Asid)
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
        smmu.vmids.alloc().map(Tag::Vmid)
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
        let smmu = &d.inval().smmu;
        let ste = Ste::s2(
            &smmu.caps,
            &S2Config {
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
                ats: false,
            },
        )
        .map_err(|_| EINVAL)?;
        Ok(Target::S2(d.inval(), ste))
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
        smmu.attach(Some(parent), m.get_ref(), F::target(d.data())?)
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
        unsafe { d.data().pt.unmap_pages(iova, pgsize, pgcount, Some(gather)) }
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

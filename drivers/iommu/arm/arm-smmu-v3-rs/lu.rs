// SPDX-License-Identifier: GPL-2.0

//! Live update: devices keep translating across kexec, through page tables
//! handed over with KHO (Kexec HandOver).
//!
//! In the old kernel, writing a device's name to the SMMU's debugfs file
//! `preserve` asks for it ([`Smmu::request_preservation`]); the device must
//! be attached to a paging domain then and until the kexec. At the kexec's
//! shutdown ([`Smmu::shutdown_preserving`]) the driver preserves the
//! stream table, the device's CD table and every page-table page of its
//! domain, sets every other StreamID to abort, writes the record of
//! [`crate::hw::lu`] and stops only the queues and interrupts: SMMUEN stays
//! set, so the device's DMA keeps translating.
//!
//! In the new kernel, the probe finds the record ([`find_adoption`]),
//! adopts the stream table and reprograms only the queues. The preserved
//! devices keep their STEs (the IOMMU core defers their default domain);
//! the first domain attached to one switches its STE hitlessly, then the
//! preserved tables are freed ([`Smmu::release_adopted`]).
//!
//! Only coherent SMMUs take part: a non-coherent one is refused with an
//! error, and its shutdown disables it as usual.

use crate::{
    domain::Tag,
    hw::{
        cd::{CdL1Desc, L1_DESC_V},
        lu::{
            self as hwlu, check_adoption, decode_ste, walk_tables, Block, Found, SmmuState,
            SteTranslation, Stream,
        },
        regs::{cr0, ctrl_off, strtab_base},
        ste::Ste,
        ste::StrtabL1Desc,
        strtab::{StrtabFormat, StrtabGeometry},
        writer::ENTRY_QWORDS,
    },
    smmu::Smmu,
    strtab::StreamTable,
    table::TableMem,
};
use kernel::{
    device::Device,
    kho::{self, RestoredFolio, Retrieved, Subtree},
    prelude::*,
    str::CString,
};

/// Bytes of the record: room for about 2000 blocks, streams or domains.
const RECORD_BYTES: usize = 16 * 1024;

/// The name the record is handed over under, one per SMMU.
pub(crate) fn record_name(mmio_base: u64) -> Result<CString> {
    CString::try_from_fmt(fmt!("arm-smmu-v3-rs@{:x}", mmio_base))
}

/// The old kernel's request: the record, published at the first request
/// (so a failure shows then) and filled at shutdown, and the devices.
pub(crate) struct Request {
    record: Subtree,
    devices: KVec<CString>,
}

/// Translation the new kernel adopted, released device by device.
pub(crate) struct Adopted {
    /// Preserved StreamIDs, each with its domain and CD table.
    streams: KVec<AdoptedStream>,
    /// Preserved domains, with their page-table pages.
    domains: KVec<AdoptedDomain>,
    /// Blocks of the record no table walk claimed, freed with the last
    /// stream.
    unclaimed: KVec<RestoredFolio>,
}

struct AdoptedStream {
    sid: u32,
    domain: usize,
    cd_table: KVec<RestoredFolio>,
}

struct AdoptedDomain {
    d: hwlu::Domain,
    tables: KVec<RestoredFolio>,
    users: usize,
}

/// Pages in `folios`.
fn pages(folios: &[RestoredFolio]) -> usize {
    folios
        .iter()
        .map(|f| f.size() >> kernel::page::PAGE_SHIFT)
        .sum()
}

/// The CD table blocks an S1 STE points at: the table, and for a 2-level
/// one each level-2 table (`read(phys)` reads a qword).
fn cd_table_blocks(cd_table: u64, two_level: bool, read: impl Fn(u64) -> u64) -> Result<KVec<u64>> {
    let mut v = KVec::new();
    v.push(cd_table, GFP_KERNEL)?;
    if two_level {
        // Without PASIDs the driver uses level-1 descriptor 0 only; any
        // valid one is followed.
        for i in 0..(kernel::page::PAGE_SIZE as u64 / 8) {
            let desc = read(cd_table + 8 * i);
            if L1_DESC_V.is_set(desc) {
                if let Some(l2) = CdL1Desc::decode(desc) {
                    v.push(l2, GFP_KERNEL)?;
                }
            }
        }
    }
    Ok(v)
}

/// Preservation, in the kernel that hands over.
impl Smmu {
    /// Asks for `name`'s translation to be kept across the next kexec
    /// (the debugfs `preserve` file).
    pub(crate) fn request_preservation(&self, name: &str) -> Result {
        let dev = self.dev();
        if !kho::is_enabled() {
            dev_err!(dev, "live update needs KHO: boot with kho=on\n");
            return Err(EOPNOTSUPP);
        }
        if !self.coherent {
            dev_err!(dev, "live update of a non-coherent SMMU is not supported\n");
            return Err(EOPNOTSUPP);
        }
        let sids = self.sids_of(name)?;
        let Some(&sid) = sids.first() else {
            dev_err!(dev, "no device {} behind this SMMU\n", name);
            return Err(ENODEV);
        };
        let ste = self.strtab.read(sid)?;
        match ste.as_ref().map(decode_ste) {
            Some(SteTranslation::S1 { .. } | SteTranslation::S2(_)) => {}
            _ => {
                dev_err!(dev, "{} is not attached to a paging domain\n", name);
                return Err(EINVAL);
            }
        }
        // Its ATC would outlive this kernel's invalidations, and the next
        // kernel does not know ATS is on.
        if ste.is_some_and(|q| crate::hw::ste::field::EATS.get(q[1]) != 0) {
            dev_err!(
                dev,
                "live update of {}: devices using ATS are not supported\n",
                name
            );
            return Err(EOPNOTSUPP);
        }
        let mut lu = self.lu_request.lock();
        if lu.is_none() {
            let mut record = Subtree::new(&record_name(self.mmio_base)?, RECORD_BYTES)?;
            record.publish()?;
            *lu = Some(Request {
                record,
                devices: KVec::new(),
            });
        }
        let req = (*lu).as_mut().ok_or(EINVAL)?;
        if !req.devices.iter().any(|d| d.to_bytes() == name.as_bytes()) {
            req.devices
                .push(CString::try_from_fmt(fmt!("{name}"))?, GFP_KERNEL)?;
        }
        dev_info!(dev, "{} will keep translating across kexec\n", name);
        Ok(())
    }

    /// At kexec: hands the requested translation over and leaves the SMMU
    /// translating with its queues and interrupts off. Whether it did; if
    /// not (no request, or a failure, logged), the caller disables the
    /// SMMU as usual.
    pub(crate) fn shutdown_preserving(&self) -> bool {
        let Some(mut req) = self.lu_request.lock().take() else {
            return false;
        };
        if !kho::kexec_in_progress() {
            // A reboot or power-off: nothing to hand over; dropping the
            // request withdraws the record.
            return false;
        }
        let attach = self.attach_lock.lock();
        let mut preserved = KVec::new();
        match self.preserve(&mut req, &mut preserved) {
            Ok(()) => {
                req.record.hand_over();
                // No attach may change a table from now to the kexec.
                core::mem::forget(attach);
                true
            }
            Err(e) => {
                dev_err!(
                    self.dev(),
                    "live update failed ({:?}): the SMMU is disabled instead\n",
                    e
                );
                for b in preserved.iter() {
                    // SAFETY: Preserved just now by `preserve`, and still
                    // allocated (the attach lock is held).
                    unsafe { kho::unpreserve_folio(*b) };
                }
                // Dropping the record withdraws it: the next kernel resets.
                false
            }
        }
    }

    /// The work of [`Self::shutdown_preserving`]; `preserved` collects the
    /// blocks preserved so far.
    fn preserve(&self, req: &mut Request, preserved: &mut KVec<u64>) -> Result {
        let dev = self.dev();
        let mut streams = KVec::new();
        let mut domains: KVec<hwlu::Domain> = KVec::new();
        let mut blocks: KVec<Block> = KVec::new();
        let mut add_block = |phys: u64, blocks: &mut KVec<Block>| -> Result {
            if blocks.iter().any(|b| b.phys == phys) {
                return Ok(());
            }
            // The folio stays allocated until the kexec: attaches wait for
            // the attach lock, held from here on; the devices were shut down
            // first; and `preserve`'s contract is that preserved domains and
            // mappings stay unchanged until the kexec.
            // SAFETY: `phys` heads an iommu-pages folio of this SMMU's
            // tables, allocated until the kexec (above).
            let order = unsafe { kho::preserve_folio(phys) }?;
            preserved.push(phys, GFP_KERNEL)?;
            blocks.push(
                Block {
                    phys,
                    order: u8::try_from(order)?,
                },
                GFP_KERNEL,
            )?;
            Ok(())
        };
        // SAFETY: The tables read are the SMMU's own, allocated (above).
        let read = |phys: u64| unsafe { kho::read_phys_u64(phys) };

        for phys in self.strtab.blocks()? {
            add_block(phys, &mut blocks)?;
        }
        let strtab_blocks = blocks.len();
        for name in req.devices.iter() {
            let name = name.to_str().map_err(|_| EINVAL)?;
            for sid in self.sids_of(name)? {
                let ste = self.strtab.read(sid)?.ok_or(ENOENT)?;
                let d = match decode_ste(&ste) {
                    SteTranslation::S2(d) => d,
                    SteTranslation::S1 {
                        cd_table,
                        two_level,
                    } => {
                        let l2 = cd_table_blocks(cd_table, two_level, read)?;
                        for &b in l2.iter() {
                            add_block(b, &mut blocks)?;
                        }
                        // CD 0 of the linear table or of level-2 table 0.
                        let cd0 = *l2.get(usize::from(two_level)).ok_or(EINVAL)?;
                        let mut q = [0u64; ENTRY_QWORDS];
                        for (i, w) in q.iter_mut().enumerate() {
                            *w = read(cd0 + 8 * i as u64);
                        }
                        hwlu::decode_cd(&q).ok_or_else(|| {
                            dev_err!(
                                dev,
                                "{}: CD 0 of StreamID {:#x} is not a stage-1 table\n",
                                name,
                                sid
                            );
                            EINVAL
                        })?
                    }
                    _ => {
                        dev_err!(dev, "{} left its paging domain before the kexec\n", name);
                        return Err(EINVAL);
                    }
                };
                let idx = match domains.iter().position(|x| *x == d) {
                    Some(i) => i,
                    None => {
                        domains.push(d, GFP_KERNEL)?;
                        domains.len() - 1
                    }
                };
                streams.push(
                    Stream {
                        sid,
                        domain: u32::try_from(idx)?,
                    },
                    GFP_KERNEL,
                )?;
            }
        }
        for d in domains.iter() {
            let mut tables = KVec::new();
            walk_tables(d, &mut |t, i| read(t + 8 * i), &mut |phys, _| {
                tables.push(phys, GFP_KERNEL)
            })
            .map_err(|e| {
                dev_err!(
                    dev,
                    "cannot walk the page table at {:#x}: {:?}\n",
                    d.table,
                    e
                );
                EINVAL
            })?;
            for phys in tables {
                add_block(phys, &mut blocks)?;
            }
        }

        // Every other StreamID aborts from now on, across the kexec.
        let ours: KVec<u32> = {
            let mut v = KVec::with_capacity(streams.len(), GFP_KERNEL)?;
            for s in streams.iter() {
                v.push(s.sid, GFP_KERNEL)?;
            }
            v
        };
        let mut others = self.strtab.live_sids()?;
        others.retain(|sid| !ours.contains(sid));
        self.install(&others, &Ste::abort())?;

        let smmu = SmmuState {
            mmio_base: self.mmio_base,
            strtab_base: self.strtab_base(),
            strtab_base_cfg: self.strtab.geometry().base_cfg(),
            cr0: self.regs().read32(ctrl_off::CR0) & (cr0::SMMUEN | cr0::ATSCHK),
            features: self.info.features.0,
        };
        hwlu::encode(
            req.record.as_mut_slice(),
            &smmu,
            &streams,
            &domains,
            &blocks,
        )
        .map_err(|e| {
            dev_err!(dev, "cannot write the live-update record: {:?}\n", e);
            ENOSPC
        })?;
        if crate::module_parameters::lu_test_bad_record.value() {
            // Version 2 of the format does not exist (hw::lu::VERSION).
            if let Some(v) = req.record.as_mut_slice().get_mut(4) {
                *v = 2;
            }
            dev_warn!(
                dev,
                "live update: record spoilt for a test (lu_test_bad_record)\n"
            );
        }

        // Stop everything that writes memory the next kernel reuses (the
        // queues) or signals (interrupts); translation goes on.
        self.stop_queues(smmu.cr0)?;
        let pages = |b: &[Block]| b.iter().map(|b| 1usize << b.order).sum::<usize>();
        dev_info!(
            dev,
            "live update: {} StreamIDs of {} domains keep translating; {} pages preserved, {} of the stream table; {} StreamIDs set to abort\n",
            streams.len(),
            domains.len(),
            pages(&blocks),
            pages(blocks.get(..strtab_blocks).unwrap_or(&[])),
            others.len()
        );
        Ok(())
    }
}

/// What the new kernel found at probe, ready to adopt.
pub(crate) struct Adoption {
    /// Every other restored block, taken out as it is claimed.
    pool: KVec<RestoredFolio>,
    /// The record's streams and domains.
    streams: KVec<Stream>,
    domains: KVec<hwlu::Domain>,
}

/// Takes the folio at `phys` out of `pool`.
fn take(pool: &mut KVec<RestoredFolio>, phys: u64) -> Option<RestoredFolio> {
    let i = pool.iter().position(|f| f.phys() == phys)?;
    pool.remove(i).ok()
}

/// Moves every folio of `from` into `to` (whose capacity was reserved).
fn spill(from: impl IntoIterator<Item = RestoredFolio>, to: &mut KVec<RestoredFolio>) {
    for f in from {
        // Capacity for every restored block was reserved before the first
        // was restored; a folio that did not fit would be freed while the
        // SMMU may walk it, so it is leaked instead.
        if let Err(e) = to.push_within_capacity(f) {
            core::mem::forget(e);
        }
    }
}

fn folio_of(t: TableMem) -> Option<RestoredFolio> {
    match t {
        TableMem::Adopted(f) => Some(f),
        _ => None,
    }
}

/// Looks for the record of the SMMU at `mmio_base` and decides whether to
/// adopt it; with the adoption, the stream table's memory (the linear
/// table or level 1, and the level-2 tables by level-1 index) for
/// [`StreamTable::adopt`]. `None` means a normal reset: no live update, or a refusal
/// (logged with its reason). Blocks restored before a refusal are moved to
/// `spare`: the caller stops the SMMU before freeing them.
pub(crate) fn find_adoption(
    dev: &Device,
    smmu_regs: &crate::mmio::Regs,
    mmio_base: u64,
    coherent: bool,
    geom: &StrtabGeometry,
    spare: &mut KVec<RestoredFolio>,
) -> Option<(Adoption, AdoptedStrtab)> {
    if !kho::is_kho_boot() {
        return None;
    }
    let name = record_name(mmio_base).ok()?;
    let record = Retrieved::find(&name).ok()?;
    let found = Found {
        mmio_base,
        cr0: smmu_regs.read32(ctrl_off::CR0),
        strtab_base: u64::from(smmu_regs.read32(ctrl_off::STRTAB_BASE))
            | u64::from(smmu_regs.read32(ctrl_off::STRTAB_BASE + 4)) << 32,
        strtab_base_cfg: smmu_regs.read32(ctrl_off::STRTAB_BASE_CFG),
    };
    let refuse = |why: &dyn core::fmt::Debug| {
        dev_warn!(
            dev,
            "not adopting the previous kernel's SMMU state ({:?}): resetting\n",
            why
        );
    };
    let rec = match check_adoption(record.as_slice(), &found) {
        Ok(rec) => rec,
        Err(e) => {
            refuse(&e);
            return None;
        }
    };
    if !coherent {
        refuse(&"non-coherent SMMU");
        return None;
    }
    if rec.smmu.strtab_base_cfg != geom.base_cfg() {
        refuse(&"stream table geometry differs");
        return None;
    }
    let two_level = geom.format() == StrtabFormat::TwoLevel;
    let n = rec.blocks().count();
    let mut streams = KVec::new();
    let mut domains = KVec::new();
    let mut pool = KVec::new();
    let mut l2 = KVec::new();
    // Every allocation first: once a block is restored nothing may fail
    // in a way that frees it.
    let prepared = (|| -> Result {
        for st in rec.streams() {
            streams.push(st, GFP_KERNEL)?;
        }
        for d in rec.domains() {
            domains.push(d.ok_or(EINVAL)?, GFP_KERNEL)?;
        }
        pool.reserve(n, GFP_KERNEL)?;
        spare.reserve(n, GFP_KERNEL)?;
        if two_level {
            l2.reserve(usize::try_from(geom.entries())?, GFP_KERNEL)?;
        }
        Ok(())
    })();
    if let Err(e) = prepared {
        refuse(&e);
        return None;
    }
    for b in rec.blocks() {
        let Some(f) = RestoredFolio::restore(b.phys) else {
            refuse(&"a block was not preserved");
            spill(pool.drain_all(), spare);
            return None;
        };
        spill([f], &mut pool);
    }
    let Some(l1) = take(&mut pool, found.strtab_base & strtab_base::ADDR.mask()) else {
        refuse(&"the stream table was not preserved");
        spill(pool.drain_all(), spare);
        return None;
    };
    let l1 = TableMem::Adopted(l1);
    if two_level {
        for i in 0..usize::try_from(geom.entries()).unwrap_or(0) {
            let desc = l1.read(i).unwrap_or(0);
            let table = match StrtabL1Desc::decode(desc) {
                None => None,
                Some(phys) => match take(&mut pool, phys) {
                    Some(f) => Some(TableMem::Adopted(f)),
                    None => {
                        refuse(&"a level-2 stream table was not preserved");
                        spill(folio_of(l1), spare);
                        spill(l2.drain_all().flatten().filter_map(folio_of), spare);
                        spill(pool.drain_all(), spare);
                        return None;
                    }
                },
            };
            if let Err(e) = l2.push_within_capacity(table) {
                core::mem::forget(e);
            }
        }
    }
    Some((
        Adoption {
            pool,
            streams,
            domains,
        },
        (l1, l2),
    ))
}

/// The memory of an adopted stream table: the linear table or level 1,
/// and the level-2 tables by level-1 index.
pub(crate) type AdoptedStrtab = (TableMem, KVec<Option<TableMem>>);

impl Adoption {
    /// Claims the CD tables and page tables of the preserved streams from
    /// the pool. Without memory for that bookkeeping nothing is attributed:
    /// the devices get new domains and every block is kept until unbind.
    pub(crate) fn into_adopted(mut self, strtab: &StreamTable) -> Adopted {
        // SAFETY: The tables read are restored folios (adopted memory).
        let read = |phys: u64| unsafe { kho::read_phys_u64(phys) };
        let mut domains = KVec::new();
        let mut streams = KVec::new();
        let mut plan = || -> Result<(PhysLists, PhysLists)> {
            let mut dom_tables = KVec::new();
            for d in self.domains.iter() {
                let mut phys = KVec::new();
                walk_tables(d, &mut |t, i| read(t + 8 * i), &mut |p, _| {
                    phys.push(p, GFP_KERNEL)
                })
                .map_err(|_| EINVAL)?;
                dom_tables.push(phys, GFP_KERNEL)?;
            }
            let mut cd_tables = KVec::new();
            for s in self.streams.iter() {
                let blocks = match strtab.read(s.sid)?.map(|q| decode_ste(&q)) {
                    Some(SteTranslation::S1 {
                        cd_table,
                        two_level,
                    }) => cd_table_blocks(cd_table, two_level, read)?,
                    _ => KVec::new(),
                };
                cd_tables.push(blocks, GFP_KERNEL)?;
            }
            domains.reserve(self.domains.len(), GFP_KERNEL)?;
            streams.reserve(self.streams.len(), GFP_KERNEL)?;
            Ok((dom_tables, cd_tables))
        };
        let Ok((dom_tables, cd_tables)) = plan() else {
            return Adopted {
                streams: KVec::new(),
                domains: KVec::new(),
                unclaimed: self.pool,
            };
        };
        for (d, phys) in self.domains.iter().zip(dom_tables.iter()) {
            let mut tables = KVec::new();
            if tables.reserve(phys.len(), GFP_KERNEL).is_ok() {
                for &p in phys.iter() {
                    if let Some(f) = take(&mut self.pool, p) {
                        spill([f], &mut tables);
                    }
                }
            }
            spill_domain(
                &mut domains,
                AdoptedDomain {
                    d: *d,
                    tables,
                    users: 0,
                },
            );
        }
        for (s, phys) in self.streams.iter().zip(cd_tables.iter()) {
            let mut cd_table = KVec::new();
            if cd_table.reserve(phys.len(), GFP_KERNEL).is_ok() {
                for &p in phys.iter() {
                    if let Some(f) = take(&mut self.pool, p) {
                        spill([f], &mut cd_table);
                    }
                }
            }
            let domain = s.domain as usize;
            if let Some(d) = domains.get_mut(domain) {
                d.users += 1;
            }
            if let Err(e) = streams.push_within_capacity(AdoptedStream {
                sid: s.sid,
                domain,
                cd_table,
            }) {
                core::mem::forget(e);
            }
        }
        Adopted {
            streams,
            domains,
            unclaimed: self.pool,
        }
    }

    /// The preserved domains' tags, to reserve.
    pub(crate) fn tags(&self) -> impl Iterator<Item = Tag> + '_ {
        self.domains.iter().map(|d| match d.stage {
            hwlu::Stage::S1 => Tag::Asid(d.tag),
            hwlu::Stage::S2 => Tag::Vmid(d.tag),
        })
    }
}

/// Physical addresses of blocks, one list per domain or stream.
type PhysLists = KVec<KVec<u64>>;

fn spill_domain(to: &mut KVec<AdoptedDomain>, d: AdoptedDomain) {
    if let Err(e) = to.push_within_capacity(d) {
        core::mem::forget(e);
    }
}

impl Adopted {
    /// Whether `sid` still translates through preserved tables.
    pub(crate) fn has(&self, sid: u32) -> bool {
        self.streams.iter().any(|s| s.sid == sid)
    }
}

/// Adoption, in the kernel that takes over.
impl Smmu {
    /// Whether a device with `sids` still translates through tables the
    /// previous kernel handed over (its default domain is then deferred).
    pub(crate) fn is_adopted(&self, sids: &[u32]) -> bool {
        self.adopted
            .lock()
            .as_ref()
            .is_some_and(|a| sids.iter().any(|&s| a.has(s)))
    }

    /// After a device with `sids` got a new STE: frees its preserved CD
    /// table, and the preserved page table and tag of a domain it was the
    /// last user of (after flushing the tag).
    pub(crate) fn release_adopted(&self, sids: &[u32]) {
        let mut guard = self.adopted.lock();
        let Some(a) = (*guard).as_mut() else {
            return;
        };
        let mut freed = 0;
        while let Some(i) = a.streams.iter().position(|s| sids.contains(&s.sid)) {
            let Ok(s) = a.streams.remove(i) else { break };
            if !s.cd_table.is_empty() {
                // The SMMU may have cached CDs of the old table.
                let sid = s.sid;
                if let Err(e) = self.issue(&[crate::hw::cmd::Cmd::CfgiCdAll { sid }], true) {
                    dev_err!(self.dev(), "CD cache invalidation failed: {:?}\n", e);
                }
            }
            freed += pages(&s.cd_table);
            if let Some(d) = a.domains.get_mut(s.domain) {
                d.users -= 1;
                if d.users == 0 {
                    let tag = match d.d.stage {
                        hwlu::Stage::S1 => Tag::Asid(d.d.tag),
                        hwlu::Stage::S2 => Tag::Vmid(d.d.tag),
                    };
                    self.flush_tag(tag);
                    freed += pages(&d.tables);
                    d.tables.clear();
                    self.free_tag(tag);
                }
            }
        }
        if freed == 0 {
            return;
        }
        if a.streams.is_empty() {
            freed += pages(&a.unclaimed);
            *guard = None;
        }
        dev_info!(
            self.dev(),
            "live update: released {} preserved pages\n",
            freed
        );
    }
}

// SPDX-License-Identifier: GPL-2.0

//! The stream table: one STE per StreamID, linear or 2-level, in
//! iommu-pages. STEs are written only through the hitless entry writer of
//! [`crate::hw::writer`], one single-copy-atomic store per qword.

use crate::{
    hw::{
        ste::{cfg as ste_cfg, field as ste_field, Ste, StrtabL1Desc},
        strtab::{SteIndex, StrtabFormat, StrtabGeometry, L2_TABLE_BYTES, NUM_L2_STES},
        writer::{Plan, Qwords, SteKind, ENTRY_QWORDS},
    },
    table::{Entry, TableMem, STE_UPDATES},
};
use kernel::{
    device::{Bound, Device},
    prelude::*,
    sync::{new_mutex, Mutex},
};

/// Makes STE stores visible to the SMMU and drops its cached copy: CFGI_STE
/// for the StreamID, then CMD_SYNC.
pub(crate) trait SteSync {
    /// Invalidates the SMMU's copy of `sid`'s STE and waits for it.
    fn sync_ste(&self, sid: u32) -> Result;
}

/// The level-2 tables of a 2-level stream table, allocated on demand.
struct Level2 {
    tables: KVec<Option<TableMem>>,
}

/// A stream table.
#[pin_data]
pub(crate) struct StreamTable {
    geom: StrtabGeometry,
    coherent: bool,
    /// The linear table, or the level-1 descriptors.
    l1: TableMem,
    /// Level-2 tables, indexed like the level-1 descriptors. Also serialises
    /// STE updates.
    #[pin]
    l2: Mutex<Level2>,
}

impl StreamTable {
    /// Allocates the table for `geom` near `dev`; every STE of a linear
    /// table starts as `initial`, a 2-level table starts with no level-2
    /// tables (its StreamIDs abort).
    pub(crate) fn new(
        dev: Option<&Device<Bound>>,
        geom: StrtabGeometry,
        coherent: bool,
        initial: &Ste,
    ) -> Result<impl PinInit<Self, Error>> {
        let l1 = TableMem::alloc_for(dev, usize::try_from(geom.table_bytes())?, coherent)?;
        let mut tables = KVec::new();
        if geom.format() == StrtabFormat::TwoLevel {
            let n = usize::try_from(geom.entries())?;
            tables.reserve(n, GFP_KERNEL)?;
            for _ in 0..n {
                tables.push(None, GFP_KERNEL)?;
            }
        } else {
            l1.fill(0, usize::try_from(geom.entries())?, initial.qwords())?;
        }
        Ok(try_pin_init!(Self {
            geom,
            coherent,
            l1,
            l2 <- new_mutex!(Level2 { tables }),
        }))
    }

    /// Takes over the table the previous kernel left the SMMU walking (live
    /// update): the linear table or level-1 descriptors, and the level-2
    /// tables by level-1 index ([`crate::lu::find_adoption`]). Nothing is
    /// written, and nothing can fail: the SMMU is using the table.
    pub(crate) fn adopt(
        geom: StrtabGeometry,
        (l1, tables): crate::lu::AdoptedStrtab,
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            geom,
            coherent: true,
            l1,
            l2 <- new_mutex!(Level2 { tables }),
        })
    }

    /// Physical addresses of the table's memory blocks: the linear table
    /// or level-1 descriptors, then each level-2 table.
    pub(crate) fn blocks(&self) -> Result<KVec<u64>> {
        let l2 = self.l2.lock();
        let mut v = KVec::with_capacity(1 + l2.tables.len(), GFP_KERNEL)?;
        v.push(self.l1.phys(), GFP_KERNEL)?;
        for t in l2.tables.iter().flatten() {
            v.push(t.phys(), GFP_KERNEL)?;
        }
        Ok(v)
    }

    /// The StreamIDs whose STE lets transactions through (valid and not
    /// abort), in order.
    pub(crate) fn live_sids(&self) -> Result<KVec<u32>> {
        let l2 = self.l2.lock();
        let mut v = KVec::new();
        let live = |mem: &TableMem, i: usize| -> Result<bool> {
            let q0 = mem.read(i * ENTRY_QWORDS)?;
            Ok(ste_field::V.is_set(q0) && ste_field::CFG.get(q0) != ste_cfg::ABORT)
        };
        if self.geom.format() == StrtabFormat::TwoLevel {
            for (l1, t) in l2.tables.iter().enumerate() {
                let Some(t) = t else { continue };
                for i in 0..NUM_L2_STES as usize {
                    if live(t, i)? {
                        v.push(u32::try_from(l1 * NUM_L2_STES as usize + i)?, GFP_KERNEL)?;
                    }
                }
            }
        } else {
            for i in 0..usize::try_from(self.geom.entries())? {
                if live(&self.l1, i)? {
                    v.push(u32::try_from(i)?, GFP_KERNEL)?;
                }
            }
        }
        Ok(v)
    }

    /// The table's shape.
    pub(crate) fn geometry(&self) -> StrtabGeometry {
        self.geom
    }

    /// Physical address of the linear table or of the level-1 descriptors.
    pub(crate) fn phys(&self) -> u64 {
        self.l1.phys()
    }

    /// Makes sure `sid` has an STE, allocating its level-2 table (every STE
    /// `initial`) and installing the level-1 descriptor if needed.
    pub(crate) fn ensure(&self, dev: Option<&Device<Bound>>, sid: u32, initial: &Ste) -> Result {
        let SteIndex::TwoLevel { l1, .. } = self.geom.locate(sid).map_err(|_| EINVAL)? else {
            return Ok(());
        };
        let mut l2 = self.l2.lock();
        let slot = l2.tables.get_mut(l1 as usize).ok_or(EINVAL)?;
        if slot.is_some() {
            return Ok(());
        }
        let table = TableMem::alloc_for(dev, usize::try_from(L2_TABLE_BYTES)?, self.coherent)?;
        table.fill(0, NUM_L2_STES as usize, initial.qwords())?;
        let desc = StrtabL1Desc::new(table.phys()).map_err(|_| EINVAL)?;
        // The level-2 table is complete and visible before the descriptor
        // that points at it; the SMMU may fetch it as soon as it is written.
        self.l1.write(l1 as usize, desc.raw())?;
        self.l1.flush(l1 as usize, 1)?;
        *slot = Some(table);
        Ok(())
    }

    /// Sets `sid`'s STE (which must exist, [`Self::ensure`]) to `ste` while
    /// the SMMU does not use the table yet: before the reset points
    /// STRTAB_BASE at it, so no CFGI or sync is needed, only the clean of
    /// an incoherent table.
    pub(crate) fn init_entry(&self, sid: u32, ste: &Ste) -> Result {
        let l2 = self.l2.lock();
        let entry = self.entry(&l2, sid)?.ok_or(ENOENT)?;
        entry.mem.fill(entry.first / ENTRY_QWORDS, 1, ste.qwords())
    }

    /// Current contents of `sid`'s STE (`None` while its level-2 table does
    /// not exist).
    pub(crate) fn read(&self, sid: u32) -> Result<Option<Qwords>> {
        let l2 = self.l2.lock();
        let Some(entry) = self.entry(&l2, sid)? else {
            return Ok(None);
        };
        entry.read().map(Some)
    }

    /// Updates `sid`'s STE to `target` through the hitless writer, making
    /// each step visible with `sync`. The STE must exist ([`Self::ensure`]).
    pub(crate) fn write<S: SteSync + ?Sized>(
        &self,
        sid: u32,
        target: &Ste,
        sync: &S,
    ) -> Result<Plan> {
        let l2 = self.l2.lock();
        let entry = self.entry(&l2, sid)?.ok_or(ENOENT)?;
        entry.write::<SteKind>(target.qwords(), &STE_UPDATES, || sync.sync_ste(sid))
    }

    /// Updates the STE of every StreamID in `sids` to `target`
    /// ([`Self::write`]), all of them whatever failed: a device must never
    /// be left with some StreamIDs on its old domain. Returns the first
    /// error.
    pub(crate) fn install<S: SteSync + ?Sized>(
        &self,
        sids: &[u32],
        target: &Ste,
        sync: &S,
    ) -> Result {
        let mut first = Ok(());
        for &sid in sids {
            if let Err(e) = self.write(sid, target, sync) {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }

    fn entry<'a>(&'a self, l2: &'a Level2, sid: u32) -> Result<Option<Entry<'a>>> {
        Ok(match self.geom.locate(sid).map_err(|_| EINVAL)? {
            SteIndex::Linear(i) => Some(Entry {
                mem: &self.l1,
                first: i as usize * ENTRY_QWORDS,
            }),
            SteIndex::TwoLevel { l1, l2: i } => l2
                .tables
                .get(l1 as usize)
                .ok_or(EINVAL)?
                .as_ref()
                .map(|mem| Entry {
                    mem,
                    first: i as usize * ENTRY_QWORDS,
                }),
        })
    }
}

#[cfg(CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST)]
#[kunit_tests(arm_smmu_v3_rs_strtab)]
mod tests {
    use super::*;
    use crate::hw::ste::SteCaps;
    use core::cell::RefCell;

    /// Records the SMMU's view at every sync: the STE as it is in memory.
    struct Recorder<'a> {
        table: &'a StreamTable,
        seen: RefCell<KVec<(u32, Qwords)>>,
    }

    impl SteSync for Recorder<'_> {
        fn sync_ste(&self, sid: u32) -> Result {
            // The table lock is held by the writer; read the raw memory.
            let idx = match self.table.geom.locate(sid).map_err(|_| EINVAL)? {
                SteIndex::Linear(i) => i as usize,
                SteIndex::TwoLevel { .. } => return Err(EINVAL),
            };
            let entry = Entry {
                mem: &self.table.l1,
                first: idx * ENTRY_QWORDS,
            };
            self.seen
                .borrow_mut()
                .push((sid, entry.read()?), GFP_KERNEL)?;
            Ok(())
        }
    }

    fn linear(sid_bits: u32) -> Result<Pin<KBox<StreamTable>>> {
        let geom = StrtabGeometry::new(sid_bits, false).map_err(|_| EINVAL)?;
        KBox::pin_init(
            StreamTable::new(None, geom, true, &Ste::abort())?,
            GFP_KERNEL,
        )
    }

    #[test]
    fn linear_table_starts_abort() -> Result {
        let t = linear(4)?;
        for sid in 0..16 {
            assert_eq!(t.read(sid)?, Some(*Ste::abort().qwords()));
        }
        assert!(t.read(16).is_err());
        Ok(())
    }

    #[test]
    fn writer_steps_reach_real_memory() -> Result {
        let t = linear(4)?;
        let rec = Recorder {
            table: &t,
            seen: RefCell::new(KVec::new()),
        };
        // Bypass with SHCFG=incoming, as the C suite's abort_to_bypass: the
        // SHCFG qword first, then the Config flip.
        let caps = SteCaps {
            attr_types_ovr: true,
            ..SteCaps::default()
        };
        let bypass = Ste::bypass(&caps);
        let plan = t.write(5, &bypass, &rec)?;
        // Every step was synced with the step's entry in memory, for SID 5.
        let seen = rec.seen.borrow();
        assert_eq!(seen.len(), plan.syncs());
        assert_eq!(plan.syncs(), 2);
        for (step, (sid, mem)) in plan.steps().iter().zip(seen.iter()) {
            assert_eq!(*sid, 5);
            assert_eq!(mem, step.entry());
        }
        assert_eq!(t.read(5)?, Some(*bypass.qwords()));
        // Neighbours untouched.
        assert_eq!(t.read(4)?, Some(*Ste::abort().qwords()));
        assert_eq!(t.read(6)?, Some(*Ste::abort().qwords()));
        // Writing the same STE again issues nothing.
        assert_eq!(t.write(5, &bypass, &rec)?.syncs(), 0);
        Ok(())
    }

    /// A sync failing (a CMD_SYNC timing out) at any point of a device's
    /// update with three StreamIDs: every STE still ends as the target,
    /// every step of every STE was tried, and the error is returned.
    #[test]
    fn failed_sync_never_stops_an_install() -> Result {
        /// Fails the `fail_at`-th sync (1-based), counts them all.
        struct FailNth {
            fail_at: usize,
            n: core::cell::Cell<usize>,
        }
        impl SteSync for FailNth {
            fn sync_ste(&self, _sid: u32) -> Result {
                self.n.set(self.n.get() + 1);
                if self.n.get() == self.fail_at {
                    Err(ETIMEDOUT)
                } else {
                    Ok(())
                }
            }
        }
        let caps = SteCaps {
            attr_types_ovr: true,
            ..SteCaps::default()
        };
        let sids = [3u32, 7, 12];
        // Abort to bypass, then bypass to stage 1, for each StreamID.
        let steps = [
            Ste::bypass(&caps),
            Ste::s1(
                &caps,
                &crate::hw::ste::S1Config {
                    table: crate::hw::ste::CdTable::new(
                        0x8000_0000,
                        crate::hw::ste::CdTableFormat::Linear,
                        0,
                    )
                    .map_err(|_| EINVAL)?,
                    s1dss: crate::hw::ste::S1Dss::Ssid0,
                    stall: false,
                    ats: false,
                },
            ),
        ];
        // The syncs a clean run needs, to try a failure at each of them.
        let t = linear(4)?;
        let all = FailNth {
            fail_at: 0,
            n: core::cell::Cell::new(0),
        };
        for ste in &steps {
            t.install(&sids, ste, &all)?;
        }
        let total = all.n.get();
        assert!(total >= 2 * sids.len());
        for k in 1..=total {
            let t = linear(4)?;
            let sync = FailNth {
                fail_at: k,
                n: core::cell::Cell::new(0),
            };
            let mut failed = 0;
            for ste in &steps {
                if t.install(&sids, ste, &sync) == Err(ETIMEDOUT) {
                    failed += 1;
                }
                for &sid in &sids {
                    assert_eq!(t.read(sid)?, Some(*ste.qwords()));
                }
            }
            assert_eq!(failed, 1);
            assert_eq!(sync.n.get(), total);
        }
        Ok(())
    }

    #[test]
    fn sync_errors_are_returned() -> Result {
        struct Broken;
        impl SteSync for Broken {
            fn sync_ste(&self, _sid: u32) -> Result {
                Err(ETIMEDOUT)
            }
        }
        let t = linear(2)?;
        let r = t.write(1, &Ste::bypass(&SteCaps::default()), &Broken);
        assert_eq!(r.err(), Some(ETIMEDOUT));
        Ok(())
    }

    /// Before the SMMU uses the table (IORT RMR bypass at probe), an STE is
    /// written in place with no sync; its level-2 neighbours stay abort.
    #[test]
    fn init_entry_before_the_smmu_looks() -> Result {
        let geom = StrtabGeometry::new(16, true).map_err(|_| EINVAL)?;
        let t = KBox::pin_init(
            StreamTable::new(None, geom, true, &Ste::abort())?,
            GFP_KERNEL,
        )?;
        let bypass = Ste::bypass(&SteCaps::default());
        assert_eq!(t.init_entry(0x4242, &bypass), Err(ENOENT));
        t.ensure(None, 0x4242, &Ste::abort())?;
        t.init_entry(0x4242, &bypass)?;
        assert_eq!(t.read(0x4242)?, Some(*bypass.qwords()));
        assert_eq!(t.read(0x4241)?, Some(*Ste::abort().qwords()));
        assert_eq!(t.read(0x4243)?, Some(*Ste::abort().qwords()));
        Ok(())
    }

    #[test]
    fn two_level_allocates_on_demand() -> Result {
        let geom = StrtabGeometry::new(16, true).map_err(|_| EINVAL)?;
        let t = KBox::pin_init(
            StreamTable::new(None, geom, true, &Ste::abort())?,
            GFP_KERNEL,
        )?;
        assert_eq!(t.read(0x1234)?, None);
        assert_eq!(t.l1.read(0x12)?, 0);
        t.ensure(None, 0x1234, &Ste::abort())?;
        assert_ne!(t.l1.read(0x12)?, 0);
        assert_eq!(t.read(0x1234)?, Some(*Ste::abort().qwords()));
        assert_eq!(t.read(0x12ff)?, Some(*Ste::abort().qwords()));
        assert_eq!(t.read(0x1300)?, None);
        // The descriptor points at the level-2 table.
        let desc = t.l1.read(0x12)?;
        let l2 = t.l2.lock();
        let phys = l2.tables[0x12].as_ref().map(TableMem::phys);
        assert_eq!(StrtabL1Desc::decode(desc), phys);
        Ok(())
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Context-descriptor tables: one per device that stage 1 translates, one CD
//! per SubstreamID, linear or 2-level, in iommu-pages. CDs are written only
//! through the hitless entry writer (`arm_smmu_write_cd_entry()`).

use crate::hw::writer::Qwords;
use crate::{
    hw::{
        cd::{self, Cd},
        ste::{CdTable as SteCdTable, CdTableFormat},
        writer::{CdKind, Plan, ENTRY_QWORDS},
    },
    table::{Entry, TableMem, CD_UPDATES},
};
// Level-2 CD tables: for now only KUnit uses them.
#[cfg(CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST)]
use crate::hw::cd::CdL1Desc;
use kernel::{
    device::{Bound, Device},
    prelude::*,
    sync::{new_mutex, Mutex},
};

/// Bytes per CD.
const CD_BYTES: usize = ENTRY_QWORDS * 8;

/// The level-2 tables of a 2-level CD table, allocated on demand.
struct Level2 {
    tables: KVec<Option<TableMem>>,
}

/// A CD table (`struct arm_smmu_ctx_desc_cfg`).
#[pin_data]
pub(crate) struct CdTable {
    format: CdTableFormat,
    /// log2 of the number of CDs (`S1CDMAX`).
    s1cdmax: u8,
    coherent: bool,
    /// The linear table, or the level-1 descriptors.
    l1: TableMem,
    /// Level-2 tables. Also serialises CD updates.
    #[pin]
    l2: Mutex<Level2>,
}

impl CdTable {
    /// A table for `ssid_bits` SubstreamID bits (`arm_smmu_alloc_cd_tables()`):
    /// linear when the SMMU has no 2-level CD tables or everything fits one
    /// level-2 table, else 2-level. Linear tables are capped at
    /// `CTXDESC_LINEAR_CDMAX` bits, as C caps the master's SSID bits.
    pub(crate) fn new(
        dev: Option<&Device<Bound>>,
        ssid_bits: u8,
        two_level: bool,
        coherent: bool,
    ) -> Result<impl PinInit<Self, Error>> {
        let max = 1usize << ssid_bits.min(20);
        let (format, s1cdmax, l1_entries) = if !two_level || max <= cd::L2_ENTRIES as usize {
            let bits = ssid_bits.min(cd::LINEAR_CDMAX as u8);
            (CdTableFormat::Linear, bits, 1usize << bits)
        } else {
            (
                CdTableFormat::TwoLevel64K,
                ssid_bits,
                max.div_ceil(cd::L2_ENTRIES as usize),
            )
        };
        let l1_bytes = match format {
            CdTableFormat::Linear => l1_entries * CD_BYTES,
            CdTableFormat::TwoLevel64K => l1_entries * 8,
        };
        let l1 = TableMem::alloc_for(dev, l1_bytes, coherent)?;
        let mut tables = KVec::new();
        if format == CdTableFormat::TwoLevel64K {
            tables.reserve(l1_entries, GFP_KERNEL)?;
            for _ in 0..l1_entries {
                tables.push(None, GFP_KERNEL)?;
            }
        }
        Ok(try_pin_init!(Self {
            format,
            s1cdmax,
            coherent,
            l1,
            l2 <- new_mutex!(Level2 { tables }),
        }))
    }

    /// How an STE points at this table.
    pub(crate) fn ste_config(&self) -> Result<SteCdTable> {
        SteCdTable::new(self.l1.phys(), self.format, self.s1cdmax).map_err(|_| EINVAL)
    }

    /// Makes sure `ssid` has a CD (all level-2 CDs start invalid). Only
    /// SSID 0 is used until PASIDs are supported, and a one-CD table is
    /// linear: for now only KUnit needs level-2 tables.
    #[cfg(CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST)]
    pub(crate) fn ensure(&self, dev: Option<&Device<Bound>>, ssid: u32) -> Result {
        if ssid >> self.s1cdmax != 0 {
            return Err(EINVAL);
        }
        if self.format == CdTableFormat::Linear {
            return Ok(());
        }
        let mut l2 = self.l2.lock();
        let l1 = cd::l1_idx(ssid) as usize;
        let slot = l2.tables.get_mut(l1).ok_or(EINVAL)?;
        if slot.is_some() {
            return Ok(());
        }
        let table = TableMem::alloc_for(dev, cd::L2_ENTRIES as usize * CD_BYTES, self.coherent)?;
        let desc = CdL1Desc::new(table.phys()).map_err(|_| EINVAL)?;
        // Zeroed memory is all-invalid CDs; the descriptor goes in last.
        self.l1.write(l1, desc.raw())?;
        self.l1.flush(l1, 1)?;
        *slot = Some(table);
        Ok(())
    }

    /// Updates `ssid`'s CD to `target` through the hitless writer, making
    /// each step visible with `sync` (CFGI_CD for every StreamID using the
    /// table, then CMD_SYNC). The CD must exist ([`Self::ensure`]).
    pub(crate) fn write(
        &self,
        ssid: u32,
        target: &Cd,
        sync: impl FnMut() -> Result,
    ) -> Result<Plan> {
        let l2 = self.l2.lock();
        self.entry(&l2, ssid)?
            .ok_or(ENOENT)?
            .write::<CdKind>(target.qwords(), &CD_UPDATES, sync)
    }

    /// SubstreamIDs the table has a CD for (`1 << S1CDMAX`).
    pub(crate) fn ssids(&self) -> u32 {
        1 << self.s1cdmax
    }

    /// Current contents of `ssid`'s CD (`None` while its level-2 table does
    /// not exist).
    pub(crate) fn read(&self, ssid: u32) -> Result<Option<Qwords>> {
        let l2 = self.l2.lock();
        match self.entry(&l2, ssid)? {
            Some(e) => e.read().map(Some),
            None => Ok(None),
        }
    }

    fn entry<'a>(&'a self, l2: &'a Level2, ssid: u32) -> Result<Option<Entry<'a>>> {
        if ssid >> self.s1cdmax != 0 {
            return Err(EINVAL);
        }
        Ok(match self.format {
            CdTableFormat::Linear => Some(Entry {
                mem: &self.l1,
                first: ssid as usize * ENTRY_QWORDS,
            }),
            CdTableFormat::TwoLevel64K => l2
                .tables
                .get(cd::l1_idx(ssid) as usize)
                .ok_or(EINVAL)?
                .as_ref()
                .map(|mem| Entry {
                    mem,
                    first: cd::l2_idx(ssid) as usize * ENTRY_QWORDS,
                }),
        })
    }
}

#[cfg(CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST)]
#[kunit_tests(arm_smmu_v3_rs_cdtab)]
mod tests {
    use super::*;
    use crate::hw::cd::{HwUpdate, S1CdConfig, Tcr, Ttb0};

    fn s1_cd(asid: u16) -> Result<Cd> {
        Cd::s1(&S1CdConfig {
            asid,
            ttb0: Ttb0::Table {
                tcr: Tcr::default(),
                base: 0x4000_0000,
            },
            ips: 4,
            mair: 0xff04,
            stall: false,
            record_faults: true,
            hw_update: HwUpdate::None,
            haft: false,
        })
        .map_err(|_| EINVAL)
    }

    #[test]
    fn linear_shapes() -> Result {
        // Without 2-level support, capped at CTXDESC_LINEAR_CDMAX bits.
        let t = KBox::pin_init(CdTable::new(None, 16, false, true)?, GFP_KERNEL)?;
        assert_eq!(t.s1cdmax, 10);
        assert!(t.read(1023)?.is_some());
        assert!(t.read(1024).is_err());
        // Small enough for one level-2 table: linear.
        let t = KBox::pin_init(CdTable::new(None, 4, true, true)?, GFP_KERNEL)?;
        assert_eq!(t.format, CdTableFormat::Linear);
        assert_eq!(t.read(15)?, Some([0; ENTRY_QWORDS]));
        Ok(())
    }

    #[test]
    fn cd_writes_are_synced_steps() -> Result {
        let t = KBox::pin_init(CdTable::new(None, 4, false, true)?, GFP_KERNEL)?;
        let target = s1_cd(7)?;
        let mut syncs = 0;
        let plan = t.write(3, &target, || {
            syncs += 1;
            Ok(())
        })?;
        // Invalid -> valid: the qwords an invalid CD ignores first, then
        // qword 0 with V: two steps, one sync each.
        assert_eq!(plan.syncs(), 2);
        assert_eq!(syncs, 2);
        assert_eq!(t.read(3)?, Some(*target.qwords()));
        assert_eq!(t.read(2)?, Some([0; ENTRY_QWORDS]));
        // Changing only the ASID is hitless in one step (C's s1_change_asid).
        let mut syncs = 0;
        t.write(3, &s1_cd(8)?, || {
            syncs += 1;
            Ok(())
        })?;
        assert_eq!(syncs, 1);
        Ok(())
    }

    #[test]
    fn two_level_on_demand() -> Result {
        let t = KBox::pin_init(CdTable::new(None, 16, true, true)?, GFP_KERNEL)?;
        assert_eq!(t.format, CdTableFormat::TwoLevel64K);
        assert_eq!(t.read(5000)?, None);
        t.ensure(None, 5000)?;
        assert_eq!(t.read(5000)?, Some([0; ENTRY_QWORDS]));
        // SSIDs 4096..5119 share that level-2 table; neighbours have none.
        assert_eq!(t.read(4096)?, Some([0; ENTRY_QWORDS]));
        assert_eq!(t.read(5119)?, Some([0; ENTRY_QWORDS]));
        assert_eq!(t.read(4095)?, None);
        assert_eq!(t.read(5120)?, None);
        assert!(t.ensure(None, 1 << 16).is_err());
        let cfg = t.ste_config()?;
        assert_eq!(cfg.format(), CdTableFormat::TwoLevel64K);
        Ok(())
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Context descriptors (CDs) and level-1 CD table descriptors.
//!
//! A [`Cd`] is built only by its typed constructors, which set the fields
//! `arm_smmu_make_s1_cd()` and `arm_smmu_make_sva_cd()` set. [`used`] is
//! `arm_smmu_get_cd_used()`.

use super::bits::Field;
use super::ste::{check_addr, check_width, EntryError};
use super::writer::Qwords;

/// CD field positions (`CTXDESC_CD_*`), by qword.
pub mod field {
    use super::Field;

    /// Qword 0: TCR.T0SZ.
    pub const T0SZ: Field = Field::new(5, 0);
    /// Qword 0: TCR.TG0.
    pub const TG0: Field = Field::new(7, 6);
    /// Qword 0: TCR.IRGN0.
    pub const IRGN0: Field = Field::new(9, 8);
    /// Qword 0: TCR.ORGN0.
    pub const ORGN0: Field = Field::new(11, 10);
    /// Qword 0: TCR.SH0.
    pub const SH0: Field = Field::new(13, 12);
    /// Qword 0: TCR.EPD0 (no walks through TTB0).
    pub const EPD0: Field = Field::bit(14);
    /// Qword 0: big-endian tables.
    pub const ENDI: Field = Field::bit(15);
    /// Qword 0: TCR.EPD1 (no walks through TTB1).
    pub const EPD1: Field = Field::bit(30);
    /// Qword 0: valid bit.
    pub const V: Field = Field::bit(31);
    /// Qword 0: TCR.IPS.
    pub const IPS: Field = Field::new(34, 32);
    /// Qword 0: TCR.TBI0.
    pub const TBI0: Field = Field::bit(38);
    /// Qword 0: AArch64 tables.
    pub const AA64: Field = Field::bit(41);
    /// Qword 0: hardware dirty state update.
    pub const HD: Field = Field::bit(42);
    /// Qword 0: hardware access flag update.
    pub const HA: Field = Field::bit(43);
    /// Qword 0: stall faults.
    pub const S: Field = Field::bit(44);
    /// Qword 0: record faults.
    pub const R: Field = Field::bit(45);
    /// Qword 0: abort (rather than RAZ/WI) on a terminated access.
    pub const A: Field = Field::bit(46);
    /// Qword 0: the ASID is shared with the CPU (broadcast TLBI).
    pub const ASET: Field = Field::bit(47);
    /// Qword 0: ASID.
    pub const ASID: Field = Field::new(63, 48);
    /// Qword 1: hardware access flag for table descriptors.
    pub const HAFT: Field = Field::bit(3);
    /// Qword 1: TTB0, bits 51:4.
    pub const TTB0: Field = Field::new(51, 4);
    /// Qword 3: MAIR.
    pub const MAIR: Field = Field::new(63, 0);
}

/// `CTXDESC_L1_DESC_V`.
pub const L1_DESC_V: Field = Field::bit(0);
/// `CTXDESC_L1_DESC_L2PTR_MASK`.
pub const L1_DESC_L2PTR: Field = Field::new(51, 12);
/// CDs in one level-2 CD table (`CTXDESC_L2_ENTRIES`).
pub const L2_ENTRIES: u32 = 1024;
/// `S1CDMAX` of a linear CD table when the SMMU has no 2-level CD tables
/// (`CTXDESC_LINEAR_CDMAX`: 64K of 64-byte CDs).
pub const LINEAR_CDMAX: u32 = 10;

/// Stage-1 translation control for TTB0 (io-pgtable's S1 `tcr`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tcr {
    /// T0SZ (6 bits).
    pub tsz: u8,
    /// Granule TG0 (2 bits).
    pub tg: u8,
    /// Inner cacheability of walks (2 bits).
    pub irgn: u8,
    /// Outer cacheability of walks (2 bits).
    pub orgn: u8,
    /// Shareability of walks (2 bits).
    pub sh: u8,
}

impl Tcr {
    const fn encode(&self) -> Result<u64, EntryError> {
        if self.tsz >= 64 {
            return Err(EntryError::OutOfRange("T0SZ"));
        }
        if self.tg >= 4 || self.irgn >= 4 || self.orgn >= 4 || self.sh >= 4 {
            return Err(EntryError::OutOfRange("TCR"));
        }
        Ok(field::T0SZ.prep(self.tsz as u64)
            | field::TG0.prep(self.tg as u64)
            | field::IRGN0.prep(self.irgn as u64)
            | field::ORGN0.prep(self.orgn as u64)
            | field::SH0.prep(self.sh as u64))
    }
}

/// Hardware updates of the page table's access and dirty state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HwUpdate {
    /// None (software managed).
    #[default]
    None,
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Access flag and dirty state (HA and HD; HD alone is not offered).
    AccessDirty,
}

/// The page table a CD translates through, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttb0 {
    /// Walks through TTB0 with this control and table base (16-byte
    /// aligned, 52 bits).
    Table {
        /// Translation control.
        tcr: Tcr,
        /// Table base.
        base: u64,
    },
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// EPD0: TTB0 walks disabled, every access faults (the C driver's SVA
    /// CD after the mm is released).
    Disabled,
}

/// A stage-1 CD (`arm_smmu_make_s1_cd()`, `arm_smmu_make_sva_cd()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct S1CdConfig {
    /// The ASID.
    pub asid: u16,
    /// The page table.
    pub ttb0: Ttb0,
    /// Intermediate physical address size, TCR.IPS (3 bits).
    pub ips: u8,
    /// Memory attribute indirection register.
    pub mair: u64,
    /// Stall faults (S) rather than terminate them.
    pub stall: bool,
    /// Record faults (R); the C driver clears it only for released SVA CDs.
    pub record_faults: bool,
    /// HA/HD.
    pub hw_update: HwUpdate,
    /// HAFT: hardware access flag for table descriptors.
    pub haft: bool,
}

/// A context descriptor, as the SMMU reads it (CPU endian).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cd(Qwords);

impl Cd {
    /// The invalid CD (all zero, `arm_smmu_clear_cd()`).
    pub const fn invalid() -> Self {
        Self([0; 8])
    }

    /// A valid stage-1 CD: AArch64, EPD1, R/A/ASET as the C driver sets
    /// them for DMA, paging and SVA domains.
    pub const fn s1(c: &S1CdConfig) -> Result<Self, EntryError> {
        use field::*;
        if let Err(e) = check_width(c.ips as u64, 3, "IPS") {
            return Err(e);
        }
        let mut q = [0u64; 8];
        q[0] = ENDI.prep(cfg!(target_endian = "big") as u64)
            | EPD1.mask()
            | V.mask()
            | IPS.prep(c.ips as u64)
            | AA64.mask()
            | S.prep(c.stall as u64)
            | R.prep(c.record_faults as u64)
            | A.mask()
            | ASET.mask()
            | ASID.prep(c.asid as u64);
        match c.ttb0 {
            Ttb0::Table { tcr, base } => {
                match tcr.encode() {
                    Ok(t) => q[0] |= t,
                    Err(e) => return Err(e),
                }
                match check_addr(base, 4, "TTB0") {
                    Ok(b) => q[1] = b,
                    Err(e) => return Err(e),
                }
            }
            #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
            Ttb0::Disabled => q[0] |= EPD0.mask(),
        }
        match c.hw_update {
            HwUpdate::None => {}
            #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
            HwUpdate::AccessDirty => q[0] |= HA.mask() | HD.mask(),
        }
        q[1] |= HAFT.prep(c.haft as u64);
        q[3] = c.mair;
        Ok(Self(q))
    }

    /// The CD's qwords.
    pub const fn qwords(&self) -> &Qwords {
        &self.0
    }
}

/// The bits of a CD the SMMU uses (`arm_smmu_get_cd_used()`): all of
/// them when valid, except the TTB0 walk fields when EPD0 is set.
pub const fn used(ent: &Qwords) -> Qwords {
    use field::*;
    let mut u = [0u64; 8];
    u[0] = V.mask();
    if !V.is_set(ent[0]) {
        return u;
    }
    u = [u64::MAX; 8];
    if EPD0.is_set(ent[0]) {
        u[0] &= !(T0SZ.mask() | TG0.mask() | IRGN0.mask() | ORGN0.mask() | SH0.mask());
        u[1] &= !TTB0.mask();
    }
    u
}

/// A level-1 CD table descriptor (`arm_smmu_write_cd_l1_desc()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CdL1Desc(u64);

impl CdL1Desc {
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// A valid descriptor for the level-2 CD table at `l2` (4K aligned).
    pub const fn new(l2: u64) -> Result<Self, EntryError> {
        match check_addr(l2, 12, "L2Ptr") {
            Ok(a) => Ok(Self(a | L1_DESC_V.mask())),
            Err(e) => Err(e),
        }
    }

    /// The level-2 table a raw descriptor points to, if it is valid.
    pub const fn decode(raw: u64) -> Option<u64> {
        if L1_DESC_V.is_set(raw) {
            Some(raw & L1_DESC_L2PTR.mask())
        } else {
            None
        }
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// The descriptor's raw value.
    pub const fn raw(self) -> u64 {
        self.0
    }
}

/// Index of `ssid`'s level-1 descriptor.
pub const fn l1_idx(ssid: u32) -> u32 {
    ssid / L2_ENTRIES
}

/// Index of `ssid`'s CD in its level-2 table.
pub const fn l2_idx(ssid: u32) -> u32 {
    ssid % L2_ENTRIES
}

/// Shared test cases (see [`crate::hw::selftest`]); each name says what it checks.
#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
#[allow(missing_docs)]
pub mod tests {
    use super::*;
    use crate::hw::selftest::{check, check_eq, TestResult};
    use crate::hw::writer::tests::{c_s1_cd, c_sva_cd, ok, SVA_PGD};

    /// Known answers, derived by hand from the C macros and the values of
    /// `arm_smmu_make_s1_cd()` / `arm_smmu_make_sva_cd()` for the C suite.
    pub fn cd_known_answers() -> TestResult {
        // T0SZ 4 | TG0 2 (0x80) | IRGN0 2 (0x200) | ORGN0 1 (0x400) | SH0 3
        // (0x3000) | EPD1 (1 << 30) | V (1 << 31) | IPS 1 (1 << 32) | AA64
        // (41) | R (45) | A (46) | ASET (47) | ASID 1997 (0x7cd << 48).
        let c = c_s1_cd(1997)?;
        check!(
            *c.qwords()
                == [
                    0x07cd_e201_c000_3684,
                    0x000d_beef_dead_bee0,
                    0,
                    0x0abc_def0_1234_5678,
                    0,
                    0,
                    0,
                    0
                ]
        );
        // Released SVA CD: EPD0 (1 << 14), no TCR walk fields, no S/R, no
        // TTB0; IPS 5 (5 << 32).
        let r = c_sva_cd(7, None)?;
        check_eq!(r.qwords()[0], 0x0007_c205_c000_4000u64);
        check_eq!(r.qwords()[1], 0u64);
        let s = c_sva_cd(7, Some(SVA_PGD))?;
        check_eq!(s.qwords()[1], SVA_PGD);
        // AA64 | HD | HA | S | A | ASET (bits 41-47 but R), EPD0/1, V; HAFT.
        let hd = Cd::s1(&S1CdConfig {
            asid: 0,
            ttb0: Ttb0::Disabled,
            ips: 0,
            mair: 0,
            stall: true,
            record_faults: false,
            hw_update: HwUpdate::AccessDirty,
            haft: true,
        });
        let hd = ok(hd)?;
        check_eq!(hd.qwords()[0], 0x0000_de00_c000_4000u64);
        check_eq!(hd.qwords()[1], 0x8u64);
        // Level-1 descriptor: L2Ptr | V.
        check_eq!(ok(CdL1Desc::new(0x8_1234_5000))?.raw(), 0x8_1234_5001u64);
        check!(CdL1Desc::new(0x8_1234_5800).is_err());
        check_eq!(
            CdL1Desc::decode(0x8_1234_5001).unwrap_or(0),
            0x8_1234_5000u64
        );
        check!(CdL1Desc::decode(0x8_1234_5000).is_none());
        check_eq!(l1_idx(2049), 2u32);
        check_eq!(l2_idx(2049), 1u32);
        Ok(())
    }

    /// Every field position against the architecture's CD layout.
    pub fn cd_field_positions() -> TestResult {
        use field::*;
        let f = [
            (T0SZ, 5, 0),
            (TG0, 7, 6),
            (IRGN0, 9, 8),
            (ORGN0, 11, 10),
            (SH0, 13, 12),
            (EPD0, 14, 14),
            (ENDI, 15, 15),
            (EPD1, 30, 30),
            (V, 31, 31),
            (IPS, 34, 32),
            (AA64, 41, 41),
            (HD, 42, 42),
            (HA, 43, 43),
            (S, 44, 44),
            (R, 45, 45),
            (A, 46, 46),
            (ASET, 47, 47),
            (ASID, 63, 48),
            (HAFT, 3, 3),
            (TTB0, 51, 4),
        ];
        for (field, hi, lo) in f {
            check_eq!(field.hi, hi);
            check_eq!(field.lo, lo);
        }
        Ok(())
    }
}

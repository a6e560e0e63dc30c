// SPDX-License-Identifier: GPL-2.0

//! Stream table geometry: linear or two-level, sizes, the STRTAB_BASE and
//! STRTAB_BASE_CFG values, and where a StreamID's STE lives
//! (`arm_smmu_init_strtab*()`, `arm_smmu_write_strtab()`,
//! `arm_smmu_sid_in_range()`).

use super::regs::{strtab_base, Features, SmmuInfo, STRTAB_SPLIT};
use super::ste::{l1_idx, l2_idx};

/// Bytes of one STE (`sizeof(struct arm_smmu_ste)`).
pub const STE_BYTES: u64 = 64;
/// Bytes of one level-1 descriptor (`sizeof(struct arm_smmu_strtab_l1)`).
pub const L1_DESC_BYTES: u64 = 8;
/// STEs in a level-2 table (`STRTAB_NUM_L2_STES`).
pub const NUM_L2_STES: u32 = 1 << STRTAB_SPLIT;
/// Bytes of a level-2 table (16 KiB).
pub const L2_TABLE_BYTES: u64 = STE_BYTES << STRTAB_SPLIT;
/// Most level-1 descriptors the C driver allocates
/// (`STRTAB_MAX_L1_ENTRIES`): 2-level tables cover at most 25 SID bits.
pub const MAX_L1_ENTRIES: u32 = 1 << 17;
/// The widest StreamID the architecture defines (IDR1.SIDSIZE <= 32).
pub const MAX_SID_BITS: u32 = 32;

/// How the stream table is organised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrtabFormat {
    /// One array of STEs indexed by StreamID.
    Linear,
    /// Level-1 descriptors pointing at level-2 arrays of
    /// [`NUM_L2_STES`] STEs.
    TwoLevel,
}

/// Why a stream table or StreamID is not acceptable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrtabError {
    /// More SID bits than the architecture allows.
    SidBits(u32),
    /// The StreamID is not covered by the table (`-ERANGE` in C).
    SidOutOfRange(u32),
    /// The table's address does not fit STRTAB_BASE.ADDR (52 bits) or is
    /// not aligned to the table's size (at least 64 bytes).
    BadAddress(u64),
}

/// Where a StreamID's STE is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SteIndex {
    /// Entry of the linear table.
    Linear(u32),
    /// Level-1 descriptor `l1`, entry `l2` of its level-2 table.
    TwoLevel {
        /// Index of the level-1 descriptor.
        l1: u32,
        /// Index of the STE in the level-2 table.
        l2: u32,
    },
}

/// The shape of the stream table the C driver builds for an SMMU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StrtabGeometry {
    format: StrtabFormat,
    sid_bits: u32,
    /// Linear: number of STEs; 2-level: number of level-1 descriptors.
    entries: u64,
}

impl StrtabGeometry {
    /// The table for `sid_bits` StreamID bits: linear unless `two_level`
    /// (`ARM_SMMU_FEAT_2_LVL_STRTAB`); a 2-level table has one level-1
    /// descriptor per [`NUM_L2_STES`] StreamIDs, at most
    /// [`MAX_L1_ENTRIES`] (and at least one, as in C).
    pub const fn new(sid_bits: u32, two_level: bool) -> Result<Self, StrtabError> {
        if sid_bits > MAX_SID_BITS {
            return Err(StrtabError::SidBits(sid_bits));
        }
        if !two_level {
            return Ok(Self {
                format: StrtabFormat::Linear,
                sid_bits,
                entries: 1 << sid_bits,
            });
        }
        // arm_smmu_strtab_l1_idx((1ULL << sid_bits) - 1) + 1, capped.
        let last_sid = ((1u64 << sid_bits) - 1) as u32;
        let mut entries = l1_idx(last_sid) + 1;
        if entries > MAX_L1_ENTRIES {
            entries = MAX_L1_ENTRIES;
        }
        Ok(Self {
            format: StrtabFormat::TwoLevel,
            sid_bits,
            entries: entries as u64,
        })
    }

    /// The table for a decoded SMMU.
    pub const fn from_info(info: &SmmuInfo) -> Result<Self, StrtabError> {
        Self::new(info.sid_bits, info.features.contains(Features::STRTAB_2LVL))
    }

    /// Linear or 2-level.
    pub const fn format(&self) -> StrtabFormat {
        self.format
    }

    /// Linear: the number of STEs; 2-level: the number of level-1
    /// descriptors.
    pub const fn entries(&self) -> u64 {
        self.entries
    }

    /// Bytes of the table STRTAB_BASE points at (the linear table, or the
    /// level-1 table).
    pub const fn table_bytes(&self) -> u64 {
        match self.format {
            StrtabFormat::Linear => self.entries * STE_BYTES,
            StrtabFormat::TwoLevel => self.entries * L1_DESC_BYTES,
        }
    }

    /// log2 of the number of StreamIDs the table covers
    /// (STRTAB_BASE_CFG.LOG2SIZE).
    pub const fn log2size(&self) -> u32 {
        match self.format {
            StrtabFormat::Linear => self.sid_bits,
            StrtabFormat::TwoLevel => match self.entries.checked_ilog2() {
                Some(l) => l + STRTAB_SPLIT,
                None => STRTAB_SPLIT,
            },
        }
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// The table covers fewer StreamID bits than the SMMU has: C warns
    /// "2-level strtab only covers {log2size}/{sid_bits} bits of SID".
    pub const fn is_truncated(&self) -> bool {
        self.log2size() < self.sid_bits
    }

    /// STRTAB_BASE_CFG as `arm_smmu_write_strtab()` writes it.
    pub const fn base_cfg(&self) -> u32 {
        use strtab_base::*;
        let v = match self.format {
            StrtabFormat::Linear => {
                CFG_FMT.prep(CFG_FMT_LINEAR) | CFG_LOG2SIZE.prep(self.sid_bits as u64)
            }
            StrtabFormat::TwoLevel => {
                CFG_FMT.prep(CFG_FMT_2LVL)
                    | CFG_LOG2SIZE.prep(self.log2size() as u64)
                    | CFG_SPLIT.prep(STRTAB_SPLIT as u64)
            }
        };
        v as u32
    }

    /// Alignment the table's address needs: its size, at least 64 bytes.
    pub const fn align(&self) -> u64 {
        let b = self.table_bytes();
        if b < 64 {
            64
        } else {
            b
        }
    }

    /// STRTAB_BASE for the table at `dma`, as `arm_smmu_write_strtab()`
    /// writes it (`dma & ADDR_MASK | RA`). C does not check the address;
    /// here one that the mask would change, or that is not aligned to
    /// [`StrtabGeometry::align`], is an error.
    pub const fn base(&self, dma: u64) -> Result<u64, StrtabError> {
        let a = dma & strtab_base::ADDR.mask();
        if a != dma || dma & (self.align() - 1) != 0 {
            return Err(StrtabError::BadAddress(dma));
        }
        Ok(a | strtab_base::RA)
    }

    /// Whether the table has an STE for `sid` (`arm_smmu_sid_in_range()`,
    /// and within the SMMU's SID width).
    pub const fn contains(&self, sid: u32) -> bool {
        if self.sid_bits < 32 && sid >> self.sid_bits != 0 {
            return false;
        }
        match self.format {
            StrtabFormat::Linear => true,
            StrtabFormat::TwoLevel => (l1_idx(sid) as u64) < self.entries,
        }
    }

    /// Where `sid`'s STE is.
    pub const fn locate(&self, sid: u32) -> Result<SteIndex, StrtabError> {
        if !self.contains(sid) {
            return Err(StrtabError::SidOutOfRange(sid));
        }
        Ok(match self.format {
            StrtabFormat::Linear => SteIndex::Linear(sid),
            StrtabFormat::TwoLevel => SteIndex::TwoLevel {
                l1: l1_idx(sid),
                l2: l2_idx(sid),
            },
        })
    }
}

impl SteIndex {
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Byte offset of the entry STRTAB_BASE's table holds for it: the STE
    /// (linear) or the level-1 descriptor (2-level).
    pub const fn table_offset(self) -> u64 {
        match self {
            Self::Linear(i) => i as u64 * STE_BYTES,
            Self::TwoLevel { l1, .. } => l1 as u64 * L1_DESC_BYTES,
        }
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Byte offset of the STE in its level-2 table (2-level only).
    pub const fn l2_offset(self) -> Option<u64> {
        match self {
            Self::Linear(_) => None,
            Self::TwoLevel { l2, .. } => Some(l2 as u64 * STE_BYTES),
        }
    }
}

/// Shared test cases (see [`crate::hw::selftest`]); each name says what it checks.
#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
#[allow(missing_docs)]
pub mod tests {
    use super::*;
    use crate::hw::selftest::{check, check_eq, failure, TestResult};

    fn geo(sid_bits: u32, two: bool) -> Result<StrtabGeometry, crate::hw::selftest::Failure> {
        StrtabGeometry::new(sid_bits, two).map_err(|_| failure!("StrtabGeometry::new() failed"))
    }

    /// STRTAB_BASE_CFG and STRTAB_BASE by hand: FMT is bits 17:16, SPLIT
    /// 10:6, LOG2SIZE 5:0; RA is bit 62.
    pub fn strtab_known_answers() -> TestResult {
        // QEMU: 16 SID bits, 2-level: 256 L1 descriptors (2 KiB),
        // FMT=1 (0x10000) | SPLIT=8 (0x200) | LOG2SIZE=16 (0x10).
        let g = geo(16, true)?;
        check!(g.format() == StrtabFormat::TwoLevel);
        check_eq!(g.entries(), 256u64);
        check_eq!(g.table_bytes(), 2048u64);
        check_eq!(g.base_cfg(), 0x1_0210u32);
        check!(!g.is_truncated());
        check!(g.base(0x4_1234_0800) == Ok(0x4000_0004_1234_0800u64));
        // Linear, 8 SID bits: 256 STEs (16 KiB), FMT=0 | LOG2SIZE=8.
        let g = geo(8, false)?;
        check!(g.format() == StrtabFormat::Linear);
        check_eq!(g.entries(), 256u64);
        check_eq!(g.table_bytes(), 16384u64);
        check_eq!(g.base_cfg(), 0x8u32);
        check!(g.base(0x8000_4000) == Ok(0x4000_0000_8000_4000u64));
        // 32 SID bits, 2-level: capped at 1 << 17 descriptors (1 MiB),
        // covering 25 bits: LOG2SIZE=25 (0x19).
        let g = geo(32, true)?;
        check_eq!(g.entries(), 1u64 << 17);
        check_eq!(g.table_bytes(), 1u64 << 20);
        check_eq!(g.base_cfg(), 0x1_0219u32);
        check!(g.is_truncated());
        check_eq!(g.log2size(), 25u32);
        Ok(())
    }

    pub fn strtab_all_sid_bits() -> TestResult {
        for bits in 0..=32u32 {
            let lin = geo(bits, false)?;
            check_eq!(lin.entries(), 1u64 << bits);
            check_eq!(lin.table_bytes(), 64u64 << bits);
            check_eq!(lin.log2size(), bits);
            check_eq!(lin.base_cfg(), bits);
            check!(!lin.is_truncated());

            let two = geo(bits, true)?;
            // C: min(((2^bits - 1) >> 8) + 1, 2^17).
            let want = if bits <= 8 {
                1
            } else if bits <= 25 {
                1u64 << (bits - 8)
            } else {
                1u64 << 17
            };
            check_eq!(two.entries(), want);
            check_eq!(two.table_bytes(), want * 8);
            check_eq!(two.log2size(), want.ilog2() + 8);
            check_eq!(two.base_cfg(), 0x1_0200 | (want.ilog2() + 8));
            check_eq!(two.is_truncated(), bits > 25);
            // Highest SID of the SMMU, and the first one past it.
            let max = ((1u64 << bits) - 1) as u32;
            let covered = two.log2size().min(bits);
            let max_cov = ((1u64 << covered) - 1) as u32;
            check!(lin.contains(max) && two.contains(max_cov));
            if bits < 32 {
                check!(lin.locate(max + 1) == Err(StrtabError::SidOutOfRange(max + 1)));
                check!(!two.contains(max + 1));
            }
            if covered < 32 {
                check!(!two.contains(max_cov + 1));
            }
        }
        check!(StrtabGeometry::new(33, true) == Err(StrtabError::SidBits(33)));
        check!(StrtabGeometry::new(63, false) == Err(StrtabError::SidBits(63)));
        Ok(())
    }

    pub fn strtab_locate() -> TestResult {
        let two = geo(16, true)?;
        let i = two
            .locate(0x1234)
            .map_err(|_| failure!("locate() failed"))?;
        check!(i == SteIndex::TwoLevel { l1: 0x12, l2: 0x34 });
        check_eq!(i.table_offset(), 0x90u64);
        check!(i.l2_offset() == Some(0x34 * 64));
        check!(two.locate(0x1_0000) == Err(StrtabError::SidOutOfRange(0x1_0000)));
        let lin = geo(5, false)?;
        let i = lin.locate(31).map_err(|_| failure!("locate() failed"))?;
        check!(i == SteIndex::Linear(31));
        check_eq!(i.table_offset(), 31 * 64);
        check!(i.l2_offset().is_none());
        check!(lin.locate(32).is_err());
        // 2-level with fewer than 8 SID bits: one L2 table, but SIDs past
        // sid_bits are still out of range.
        let tiny = geo(3, true)?;
        check!(tiny.contains(7) && !tiny.contains(8));
        // Every SID is in a 32-bit linear table; u32::MAX is not in a
        // truncated 2-level one.
        check!(geo(32, false)?.contains(u32::MAX));
        check!(!geo(32, true)?.contains(u32::MAX));
        check!(geo(32, true)?.contains((1 << 25) - 1));
        Ok(())
    }

    pub fn strtab_base_address() -> TestResult {
        let two = geo(16, true)?; // 2 KiB L1 table
        check!(two.base(0x800).is_ok());
        check!(two.base(0x400) == Err(StrtabError::BadAddress(0x400)));
        check!(two.base(1 << 52) == Err(StrtabError::BadAddress(1 << 52)));
        check!(two.base((1 << 52) - 2048) == Ok(0x400f_ffff_ffff_f800u64));
        // Tables smaller than 64 bytes still need 64-byte alignment.
        let one = geo(0, true)?;
        check_eq!(one.table_bytes(), 8u64);
        check_eq!(one.align(), 64u64);
        check!(one.base(0x20).is_err());
        check!(one.base(0x40) == Ok(0x4000_0000_0000_0040u64));
        let lin0 = geo(0, false)?;
        check_eq!(lin0.table_bytes(), 64u64);
        check_eq!(lin0.base_cfg(), 0u32);
        // From decoded ID registers: QEMU's SMMU has a 2-level table.
        let info = crate::hw::regs::decode(
            &crate::hw::regs::IdRegs {
                idr: [0x0d44_101b, 0x0273_0010, 0, 0x1414, 0, 0x74],
                iidr: 0,
                aidr: 1,
            },
            &crate::hw::regs::Platform {
                coherent: true,
                of_node: true,
                q_max_sz_shift: 22,
                ..Default::default()
            },
        )
        .map_err(|_| failure!("decode() failed"))?;
        let g = StrtabGeometry::from_info(&info).map_err(|_| failure!("from_info() failed"))?;
        check_eq!(g.base_cfg(), 0x1_0210u32);
        Ok(())
    }
}

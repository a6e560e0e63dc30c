// SPDX-License-Identifier: GPL-2.0

//! Stream table entries (STEs) and level-1 stream table descriptors.
//!
//! An [`Ste`] can only be built by one of its typed constructors, which set
//! exactly the fields the C driver's `arm_smmu_make_*_ste()` functions set,
//! so every STE this driver writes is one the C driver could have written.
//! [`used`] and [`update_safe`] are the bit masks the entry writer
//! ([`super::writer`]) sequences updates with (`arm_smmu_get_ste_used()`,
//! `arm_smmu_get_ste_update_safe()`).

use super::bits::Field;
use super::writer::Qwords;

/// STE field positions (`STRTAB_STE_*`), by qword.
pub mod field {
    use super::Field;

    /// Qword 0: valid bit.
    pub const V: Field = Field::bit(0);
    /// Qword 0: configuration (abort, bypass, S1, S2, nested).
    pub const CFG: Field = Field::new(3, 1);
    /// Qword 0: CD table format.
    pub const S1FMT: Field = Field::new(5, 4);
    /// Qword 0: CD table (or level-1 CD table) address, bits 51:6.
    pub const S1CTXPTR: Field = Field::new(51, 6);
    /// Qword 0: log2 of the number of CDs.
    pub const S1CDMAX: Field = Field::new(63, 59);

    /// Qword 1: default substream behaviour.
    pub const S1DSS: Field = Field::new(1, 0);
    /// Qword 1: CD fetch inner cacheability.
    pub const S1CIR: Field = Field::new(3, 2);
    /// Qword 1: CD fetch outer cacheability.
    pub const S1COR: Field = Field::new(5, 4);
    /// Qword 1: CD fetch shareability.
    pub const S1CSH: Field = Field::new(7, 6);
    /// Qword 1: merge events.
    pub const MEV: Field = Field::bit(19);
    /// Qword 1: stage-2 forced write-back.
    pub const S2FWB: Field = Field::bit(25);
    /// Qword 1: stage-1 stall disable.
    pub const S1STALLD: Field = Field::bit(27);
    /// Qword 1: ATS translation requests.
    pub const EATS: Field = Field::new(29, 28);
    /// Qword 1: stream world.
    pub const STRW: Field = Field::new(31, 30);
    /// Qword 1: shareability override.
    pub const SHCFG: Field = Field::new(45, 44);

    /// Qword 2: stage-2 VMID.
    pub const S2VMID: Field = Field::new(15, 0);
    /// Qword 2: VTCR.
    pub const VTCR: Field = Field::new(50, 32);
    /// VTCR (within [`VTCR`]): T0SZ.
    pub const VTCR_S2T0SZ: Field = Field::new(5, 0);
    /// VTCR: starting level.
    pub const VTCR_S2SL0: Field = Field::new(7, 6);
    /// VTCR: inner cacheability of walks.
    pub const VTCR_S2IR0: Field = Field::new(9, 8);
    /// VTCR: outer cacheability of walks.
    pub const VTCR_S2OR0: Field = Field::new(11, 10);
    /// VTCR: shareability of walks.
    pub const VTCR_S2SH0: Field = Field::new(13, 12);
    /// VTCR: granule.
    pub const VTCR_S2TG: Field = Field::new(15, 14);
    /// VTCR: physical address size.
    pub const VTCR_S2PS: Field = Field::new(18, 16);
    /// Qword 2: AArch64 stage-2 tables.
    pub const S2AA64: Field = Field::bit(51);
    /// Qword 2: big-endian stage-2 tables.
    pub const S2ENDI: Field = Field::bit(52);
    /// Qword 2: protected table walk.
    pub const S2PTW: Field = Field::bit(54);
    /// Qword 2: stage-2 stall.
    pub const S2S: Field = Field::bit(57);
    /// Qword 2: stage-2 record faults.
    pub const S2R: Field = Field::bit(58);

    /// Qword 3: stage-2 table base, bits 51:4.
    pub const S2TTB: Field = Field::new(51, 4);
}

/// `STE.Config` values.
pub mod cfg {
    /// Abort all traffic.
    pub const ABORT: u64 = 0;
    /// Bypass both stages.
    pub const BYPASS: u64 = 4;
    /// Stage 1 translates, stage 2 bypass.
    pub const S1_TRANS: u64 = 5;
    /// Stage 2 translates, stage 1 bypass.
    pub const S2_TRANS: u64 = 6;
    /// Both stages translate.
    pub const NESTED: u64 = 7;
}

/// `STE.EATS` value for "ATS translation requests allowed".
pub const EATS_TRANS: u64 = 1;
/// `STE.EATS` value for "split-stage ATS" (never set by this driver).
pub const EATS_S1CHK: u64 = 2;
/// `STE.SHCFG` value for "use incoming shareability".
pub const SHCFG_INCOMING: u64 = 1;
/// `STE.STRW` value for the EL2 (E2H) stream world.
pub const STRW_EL2: u64 = 2;
/// `STE.S1C*R` value for write-back read-allocate.
pub const S1C_CACHE_WBRA: u64 = 1;
pub use super::regs::SH_ISH;

/// `STRTAB_L1_DESC_SPAN`.
pub const L1_DESC_SPAN: Field = Field::new(4, 0);
/// `STRTAB_L1_DESC_L2PTR_MASK`.
pub const L1_DESC_L2PTR: Field = Field::new(51, 6);
pub use super::regs::STRTAB_SPLIT;

/// Why an entry could not be built from the given parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryError {
    /// An address is not aligned as its field requires.
    Misaligned(&'static str),
    /// An address has bits above bit 51.
    AddrTooWide(&'static str),
    /// A value does not fit its field.
    OutOfRange(&'static str),
}

/// `addr` if it is aligned to `1 << align` and fits in 52 bits.
pub(crate) const fn check_addr(
    addr: u64,
    align: u32,
    name: &'static str,
) -> Result<u64, EntryError> {
    if addr & ((1u64 << align) - 1) != 0 {
        Err(EntryError::Misaligned(name))
    } else if addr >> 52 != 0 {
        Err(EntryError::AddrTooWide(name))
    } else {
        Ok(addr)
    }
}

/// `val` if it fits in `bits` bits.
pub(crate) const fn check_width(
    val: u64,
    bits: u32,
    name: &'static str,
) -> Result<u64, EntryError> {
    if val >> bits != 0 {
        Err(EntryError::OutOfRange(name))
    } else {
        Ok(val)
    }
}

/// What the SMMU and the kernel contribute to every STE (features of the
/// `ARM_SMMU_FEAT_*` kind that the C make functions test).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SteCaps {
    /// `ARM_SMMU_FEAT_STALLS`: the SMMU can stall, so S1STALLD matters.
    pub stalls: bool,
    /// `ARM_SMMU_FEAT_ATTR_TYPES_OVR`: SHCFG is honoured.
    pub attr_types_ovr: bool,
    /// `ARM_SMMU_FEAT_E2H`: stage-1 streams use the EL2 stream world.
    pub e2h: bool,
}

impl SteCaps {
    /// The capabilities named in a decoded feature set.
    pub const fn from_features(f: super::regs::Features) -> Self {
        use super::regs::Features;
        Self {
            stalls: f.contains(Features::STALLS),
            attr_types_ovr: f.contains(Features::ATTR_TYPES_OVR),
            e2h: f.contains(Features::E2H),
        }
    }
}

/// Format of a CD table (`STE.S1Fmt`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CdTableFormat {
    /// One linear array of CDs.
    Linear,
    /// Level-1 descriptors pointing to 64K level-2 tables of 1024 CDs.
    TwoLevel64K,
}

impl CdTableFormat {
    const fn encoding(self) -> u64 {
        match self {
            Self::Linear => 0,
            Self::TwoLevel64K => 2,
        }
    }
}

/// A CD table as an STE references it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CdTable {
    base: u64,
    format: CdTableFormat,
    s1cdmax: u8,
}

impl CdTable {
    /// A CD table at `base` (64-byte aligned, 52 bits) of the given format
    /// holding `1 << s1cdmax` CDs (`s1cdmax` < 32, the field's width).
    pub const fn new(base: u64, format: CdTableFormat, s1cdmax: u8) -> Result<Self, EntryError> {
        if let Err(e) = check_addr(base, 6, "S1ContextPtr") {
            return Err(e);
        }
        if s1cdmax >= 32 {
            return Err(EntryError::OutOfRange("S1CDMax"));
        }
        Ok(Self {
            base,
            format,
            s1cdmax,
        })
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// The table's format.
    pub const fn format(&self) -> CdTableFormat {
        self.format
    }

    const fn qword0(&self) -> u64 {
        field::S1FMT.prep(self.format.encoding())
            | field::S1CTXPTR.prep(self.base >> 6)
            | field::S1CDMAX.prep(self.s1cdmax as u64)
    }
}

/// Default substream behaviour (`STE.S1DSS`): what happens to traffic
/// without a PASID when stage 1 translates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S1Dss {
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Abort traffic without a PASID.
    Terminate,
    /// Traffic without a PASID bypasses stage 1.
    Bypass,
    /// Traffic without a PASID uses CD 0.
    Ssid0,
}

impl S1Dss {
    const fn encoding(self) -> u64 {
        match self {
            #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
            Self::Terminate => 0,
            Self::Bypass => 1,
            Self::Ssid0 => 2,
        }
    }
}

/// A stage-1 (CD table) STE, `arm_smmu_make_cdtable_ste()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct S1Config {
    /// The master's CD table.
    pub table: CdTable,
    /// Default substream behaviour.
    pub s1dss: S1Dss,
    /// The master has stalls enabled (`master->stall_enabled`).
    pub stall: bool,
    /// ATS translation requests are allowed (EATS = Trans).
    pub ats: bool,
}

/// Stage-2 translation control (the `vtcr` of io-pgtable's S2 config).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Vtcr {
    /// T0SZ (6 bits).
    pub tsz: u8,
    /// Starting level SL0 (2 bits).
    pub sl: u8,
    /// Inner cacheability of walks (2 bits).
    pub irgn: u8,
    /// Outer cacheability of walks (2 bits).
    pub orgn: u8,
    /// Shareability of walks (2 bits).
    pub sh: u8,
    /// Granule TG0 (2 bits).
    pub tg: u8,
    /// Physical address size (3 bits).
    pub ps: u8,
}

impl Vtcr {
    const fn encode(&self) -> Result<u64, EntryError> {
        if self.tsz >= 64 {
            return Err(EntryError::OutOfRange("S2T0SZ"));
        }
        if self.sl >= 4 || self.irgn >= 4 || self.orgn >= 4 || self.sh >= 4 || self.tg >= 4 {
            return Err(EntryError::OutOfRange("VTCR"));
        }
        if self.ps >= 8 {
            return Err(EntryError::OutOfRange("S2PS"));
        }
        Ok(field::VTCR_S2T0SZ.prep(self.tsz as u64)
            | field::VTCR_S2SL0.prep(self.sl as u64)
            | field::VTCR_S2IR0.prep(self.irgn as u64)
            | field::VTCR_S2OR0.prep(self.orgn as u64)
            | field::VTCR_S2SH0.prep(self.sh as u64)
            | field::VTCR_S2TG.prep(self.tg as u64)
            | field::VTCR_S2PS.prep(self.ps as u64))
    }
}

/// A stage-2 STE, `arm_smmu_make_s2_domain_ste()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct S2Config {
    /// The domain's VMID.
    pub vmid: u16,
    /// Translation control.
    pub vtcr: Vtcr,
    /// Stage-2 table base (16-byte aligned, 52 bits).
    pub s2ttb: u64,
    /// The page table uses `IO_PGTABLE_QUIRK_ARM_S2FWB`.
    pub s2fwb: bool,
    /// The master has stalls enabled (S2S).
    pub stall: bool,
    /// ATS translation requests are allowed (EATS = Trans).
    pub ats: bool,
}

/// The stage-1 half of a nested STE: what a guest's vSTE may set
/// (`STRTAB_STE_0/1_NESTING_ALLOWED`), already validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NestedS1 {
    /// The guest's CD table (an IPA, translated by stage 2).
    pub table: CdTable,
    /// Default substream behaviour.
    pub s1dss: S1Dss,
    /// CD fetch inner cacheability (2 bits).
    pub s1cir: u8,
    /// CD fetch outer cacheability (2 bits).
    pub s1cor: u8,
    /// CD fetch shareability (2 bits).
    pub s1csh: u8,
    /// Stage-1 stall disable.
    pub s1stalld: bool,
}

/// The configuration a guest asked for in its vSTE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VSte {
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// V=0 or Config=abort: abort.
    Abort,
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Config=bypass: the stage-2 parent alone.
    Bypass,
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Config=S1: nested translation; `ats` from the vSTE's EATS.
    S1 {
        /// The stage-1 fields.
        s1: NestedS1,
        /// The guest asked for EATS = Trans.
        ats: bool,
    },
}

/// Why a guest vSTE is rejected (the C driver returns `-EIO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VSteError {
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// A bit outside `STRTAB_STE_*_NESTING_ALLOWED` is set.
    DisallowedBits,
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Config is not abort, bypass or S1.
    BadConfig,
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// EATS is neither abort nor trans.
    BadEats,
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// S1DSS is the reserved encoding.
    BadS1Dss,
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// S1Fmt is not linear or 64K 2-level.
    BadS1Fmt,
}

impl VSte {
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Validates a guest's two vSTE qwords as `arm_smmu_validate_vste()`.
    pub fn parse(raw: [u64; 2]) -> Result<Self, VSteError> {
        use field::*;
        let (q0, q1) = (raw[0], raw[1]);
        if !V.is_set(q0) {
            return Ok(Self::Abort);
        }
        let allowed0 = V.mask() | CFG.mask() | S1FMT.mask() | S1CTXPTR.mask() | S1CDMAX.mask();
        let allowed1 = S1DSS.mask()
            | S1CIR.mask()
            | S1COR.mask()
            | S1CSH.mask()
            | S1STALLD.mask()
            | EATS.mask();
        if q0 & !allowed0 != 0 || q1 & !allowed1 != 0 {
            return Err(VSteError::DisallowedBits);
        }
        let ats = match EATS.get(q1) {
            0 => false,
            EATS_TRANS => true,
            _ => return Err(VSteError::BadEats),
        };
        match CFG.get(q0) {
            cfg::ABORT => Ok(Self::Abort),
            cfg::BYPASS => Ok(Self::Bypass),
            cfg::S1_TRANS => {
                let format = match S1FMT.get(q0) {
                    0 => CdTableFormat::Linear,
                    2 => CdTableFormat::TwoLevel64K,
                    _ => return Err(VSteError::BadS1Fmt),
                };
                let s1dss = match S1DSS.get(q1) {
                    0 => S1Dss::Terminate,
                    1 => S1Dss::Bypass,
                    2 => S1Dss::Ssid0,
                    _ => return Err(VSteError::BadS1Dss),
                };
                let table = CdTable {
                    base: q0 & S1CTXPTR.mask(),
                    format,
                    s1cdmax: S1CDMAX.get(q0) as u8,
                };
                let s1 = NestedS1 {
                    table,
                    s1dss,
                    s1cir: S1CIR.get(q1) as u8,
                    s1cor: S1COR.get(q1) as u8,
                    s1csh: S1CSH.get(q1) as u8,
                    s1stalld: S1STALLD.is_set(q1),
                };
                Ok(Self::S1 { s1, ats })
            }
            _ => Err(VSteError::BadConfig),
        }
    }
}

/// A stream table entry, as the SMMU reads it (CPU endian).
///
/// Built only by the constructors below; every bit they set is one that
/// [`used`] reports as used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ste(Qwords);

const fn q0(cfg: u64) -> u64 {
    field::V.prep(1) | field::CFG.prep(cfg)
}

impl Ste {
    /// An abort STE (`arm_smmu_make_abort_ste()`): V=1, Config=abort.
    pub const fn abort() -> Self {
        let mut q = [0; 8];
        q[0] = q0(cfg::ABORT);
        Self(q)
    }

    /// A bypass STE (`arm_smmu_make_bypass_ste()`): incoming shareability
    /// when the SMMU honours SHCFG.
    pub const fn bypass(caps: &SteCaps) -> Self {
        let mut q = [0; 8];
        q[0] = q0(cfg::BYPASS);
        if caps.attr_types_ovr {
            q[1] = field::SHCFG.prep(SHCFG_INCOMING);
        }
        Self(q)
    }

    /// This STE with ATS translation requests refused (EATS = 0): what a
    /// device whose ATS is being turned off gets, the rest unchanged.
    pub const fn without_ats(&self) -> Self {
        let mut q = self.0;
        q[1] &= !field::EATS.mask();
        Self(q)
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Whether ATS translation requests are allowed (EATS = Trans).
    pub const fn ats(&self) -> bool {
        field::EATS.get(self.0[1]) == EATS_TRANS
    }

    /// A stage-1 STE pointing at a CD table (`arm_smmu_make_cdtable_ste()`).
    pub const fn s1(caps: &SteCaps, c: &S1Config) -> Self {
        use field::*;
        let mut q = [0; 8];
        q[0] = q0(cfg::S1_TRANS) | c.table.qword0();
        q[1] = S1DSS.prep(c.s1dss.encoding())
            | S1CIR.prep(S1C_CACHE_WBRA)
            | S1COR.prep(S1C_CACHE_WBRA)
            | S1CSH.prep(SH_ISH)
            | S1STALLD.prep((caps.stalls && !c.stall) as u64)
            | EATS.prep(if c.ats { EATS_TRANS } else { 0 });
        if caps.attr_types_ovr && matches!(c.s1dss, S1Dss::Bypass) {
            q[1] |= SHCFG.prep(SHCFG_INCOMING);
        }
        if caps.e2h {
            // BTM needs the stream world to match the CPU's (EL2 with E2H).
            q[1] |= STRW.prep(STRW_EL2);
        }
        // Otherwise STRW = NS-EL1 and S2VMID = 0, both encoded as 0: VMID 0
        // is reserved for stage-2-bypass EL1 STEs.
        Self(q)
    }

    /// A stage-2 STE (`arm_smmu_make_s2_domain_ste()`).
    pub const fn s2(caps: &SteCaps, c: &S2Config) -> Result<Self, EntryError> {
        use field::*;
        let vtcr = match c.vtcr.encode() {
            Ok(v) => v,
            Err(e) => return Err(e),
        };
        if let Err(e) = check_addr(c.s2ttb, 4, "S2TTB") {
            return Err(e);
        }
        let mut q = [0; 8];
        q[0] = q0(cfg::S2_TRANS);
        q[1] = EATS.prep(if c.ats { EATS_TRANS } else { 0 }) | S2FWB.prep(c.s2fwb as u64);
        if caps.attr_types_ovr {
            q[1] |= SHCFG.prep(SHCFG_INCOMING);
        }
        q[2] = S2VMID.prep(c.vmid as u64)
            | VTCR.prep(vtcr)
            | S2AA64.mask()
            | S2ENDI.prep(cfg!(target_endian = "big") as u64)
            | S2PTW.mask()
            | S2S.prep(c.stall as u64)
            | S2R.mask();
        q[3] = c.s2ttb & S2TTB.mask();
        Ok(Self(q))
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// A nested STE: the guest's stage-1 CD table on top of the stage-2
    /// parent (`arm_smmu_make_nested_cd_table_ste()`), with MEV set to
    /// merge the guest-triggerable fault events.
    pub const fn nested(caps: &SteCaps, s1: &NestedS1, s2: &S2Config) -> Result<Self, EntryError> {
        use field::*;
        if s1.s1cir >= 4 || s1.s1cor >= 4 || s1.s1csh >= 4 {
            return Err(EntryError::OutOfRange("S1C*"));
        }
        let mut q = match Self::s2(caps, s2) {
            Ok(s) => s.0,
            Err(e) => return Err(e),
        };
        q[0] = q0(cfg::NESTED) | s1.table.qword0();
        q[1] |= S1DSS.prep(s1.s1dss.encoding())
            | S1CIR.prep(s1.s1cir as u64)
            | S1COR.prep(s1.s1cor as u64)
            | S1CSH.prep(s1.s1csh as u64)
            | S1STALLD.prep(s1.s1stalld as u64)
            | MEV.mask();
        Ok(Self(q))
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// The STE for a guest's vSTE on top of stage-2 parent `s2`
    /// (`arm_smmu_make_nested_domain_ste()`); `s2.ats` decides EATS.
    pub const fn from_vste(caps: &SteCaps, vste: &VSte, s2: &S2Config) -> Result<Self, EntryError> {
        match vste {
            VSte::Abort => Ok(Self::abort()),
            VSte::Bypass => Self::s2(caps, s2),
            VSte::S1 { s1, .. } => Self::nested(caps, s1, s2),
        }
    }

    /// The STE's qwords.
    pub const fn qwords(&self) -> &Qwords {
        &self.0
    }
}

/// The bits of an STE the SMMU uses for its current configuration
/// (`arm_smmu_get_ste_used()`).
pub const fn used(ent: &Qwords) -> Qwords {
    use field::*;
    let mut u = [0u64; 8];
    u[0] = V.mask();
    if !V.is_set(ent[0]) {
        return u;
    }
    u[0] |= CFG.mask();
    let config = CFG.get(ent[0]);

    // Stage 1 translates.
    if config & 1 != 0 {
        u[0] |= S1FMT.mask() | S1CTXPTR.mask() | S1CDMAX.mask();
        u[1] |= S1DSS.mask()
            | S1CIR.mask()
            | S1COR.mask()
            | S1CSH.mask()
            | S1STALLD.mask()
            | STRW.mask()
            | EATS.mask()
            | MEV.mask();
        u[2] |= S2VMID.mask();
        // "13.5 Summary of attribute/permission configuration fields".
        if S1DSS.get(ent[1]) == S1Dss::Bypass.encoding() {
            u[1] |= SHCFG.mask();
        }
    }

    // Stage 2 translates.
    if config & 2 != 0 {
        u[1] |= S2FWB.mask() | EATS.mask() | SHCFG.mask() | MEV.mask();
        u[2] |= S2VMID.mask()
            | VTCR.mask()
            | S2AA64.mask()
            | S2ENDI.mask()
            | S2PTW.mask()
            | S2S.mask()
            | S2R.mask();
        u[3] |= S2TTB.mask();
    }

    if config == cfg::BYPASS {
        u[1] |= SHCFG.mask();
    }
    u
}

/// The used bits that may change between `cur` and `target` without a
/// breaking update (`arm_smmu_get_ste_update_safe()` of 7.3).
///
/// - EATS Trans: the attach sequence has PCI ATS disabled while EATS
///   changes, so either value is fine in between; but not when EATS=S1CHK or
///   S2S is involved, where a torn EATS=1,S2S=1 would be a bad STE.
/// - MEV: only changes how many fault records are merged.
pub const fn update_safe(cur: &Qwords, target: &Qwords) -> Qwords {
    use field::*;
    let mut s = [0u64; 8];
    let s1chk = EATS.prep(EATS_S1CHK);
    if (cur[1] | target[1]) & s1chk == 0 && (cur[2] | target[2]) & S2S.mask() == 0 {
        s[1] |= EATS.prep(EATS_TRANS);
    }
    s[1] |= MEV.mask();
    s
}

/// A level-1 stream table descriptor pointing at a level-2 table of
/// `1 << STRTAB_SPLIT` STEs (`arm_smmu_write_strtab_l1_desc()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StrtabL1Desc(u64);

impl StrtabL1Desc {
    /// A descriptor for the level-2 table at `l2` (64-byte aligned).
    pub const fn new(l2: u64) -> Result<Self, EntryError> {
        match check_addr(l2, 6, "L2Ptr") {
            Ok(a) => Ok(Self(L1_DESC_SPAN.prep(STRTAB_SPLIT as u64 + 1) | a)),
            Err(e) => Err(e),
        }
    }

    /// The level-2 table a raw descriptor points to, if it is valid.
    pub const fn decode(raw: u64) -> Option<u64> {
        if L1_DESC_SPAN.get(raw) == 0 {
            None
        } else {
            Some(raw & L1_DESC_L2PTR.mask())
        }
    }

    /// The descriptor's raw value.
    pub const fn raw(self) -> u64 {
        self.0
    }
}

/// Index of `sid`'s level-1 descriptor.
pub const fn l1_idx(sid: u32) -> u32 {
    sid >> STRTAB_SPLIT
}

/// Index of `sid`'s STE in its level-2 table.
pub const fn l2_idx(sid: u32) -> u32 {
    sid & ((1 << STRTAB_SPLIT) - 1)
}

/// Shared test cases (see [`crate::hw::selftest`]); each name says what it checks.
#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
#[allow(missing_docs)]
pub mod tests {
    use super::*;
    use crate::hw::selftest::{check, check_eq, TestResult};
    use crate::hw::writer::tests::{
        c_cdtable_ste, c_nested_ste, c_s2_ste, ok, ATS, C_CAPS, C_CDTAB, NONE,
    };

    /// Known answers, derived by hand from the C macros' field positions
    /// and the values `arm_smmu_make_*_ste()` set for the C KUnit suite's
    /// SMMU (STALLS | ATTR_TYPES_OVR) and masters.
    pub fn ste_known_answers() -> TestResult {
        // Abort: V | Config 0.
        check!(*Ste::abort().qwords() == [1, 0, 0, 0, 0, 0, 0, 0]);
        // Bypass: V | Config 4 (0x8); SHCFG incoming (1 << 44).
        check!(*Ste::bypass(&C_CAPS).qwords() == [0x9, 0x0000_1000_0000_0000, 0, 0, 0, 0, 0, 0]);
        check!(*Ste::bypass(&SteCaps::default()).qwords() == [0x9, 0, 0, 0, 0, 0, 0, 0]);
        // CD table, S1DSS=SSID0, ATS: V | Config 5 (0xa) | S1Fmt 2 (0x20)
        // | ptr 0xf0f0f0f0f0c0 | S1CDMax 31 (0xf8 << 56);
        // S1DSS 2 | S1CIR 1 (0x4) | S1COR 1 (0x10) | S1CSH 3 (0xc0) |
        // S1STALLD (1 << 27) | EATS 1 (1 << 28).
        let s = c_cdtable_ste(S1Dss::Ssid0, C_CDTAB, ATS)?;
        check!(*s.qwords() == [0xf800_f0f0_f0f0_f0eb, 0x1800_00d6, 0, 0, 0, 0, 0, 0]);
        // S2, ATS: V | Config 6 (0xd); EATS 1 | SHCFG 1; VMID 0 | VTCR
        // 0x1b6c4 (T0SZ 4, SL0 3, IR0 2, OR0 1, SH0 3, TG 2, PS 1) << 32 |
        // S2AA64 (51) | S2PTW (54) | S2R (58); S2TTB.
        let s = c_s2_ste(ATS)?;
        check!(
            *s.qwords()
                == [
                    0xd,
                    0x0000_1000_1000_0000,
                    0x0449_b6c4_0000_0000,
                    0x000d_beef_dead_bee0,
                    0,
                    0,
                    0,
                    0
                ]
        );
        // Nested, S1DSS=bypass, ATS: Config 7 (0xe); qword 1 adds SHCFG
        // (bypass) and MEV (1 << 19), S1DSS 1.
        let s = c_nested_ste(S1Dss::Bypass, ATS)?;
        check_eq!(s.qwords()[0], 0xf800_f0f0_f0f0_f0efu64);
        check_eq!(s.qwords()[1], 0x0000_1000_1808_00d5u64);
        check_eq!(s.qwords()[2], 0x0449_b6c4_0000_0000u64);
        // Turning ATS off changes EATS only.
        for (with, without) in [
            (
                c_cdtable_ste(S1Dss::Ssid0, C_CDTAB, ATS)?,
                c_cdtable_ste(S1Dss::Ssid0, C_CDTAB, NONE)?,
            ),
            (c_s2_ste(ATS)?, c_s2_ste(NONE)?),
        ] {
            check!(with.ats() && !without.ats());
            check!(with.without_ats() == without);
            check!(without.without_ats() == without);
        }
        check!(!Ste::abort().ats());
        // E2H: STRW = EL2 (2 << 30).
        let e2h = SteCaps {
            e2h: true,
            ..SteCaps::default()
        };
        let cfg = S1Config {
            table: ok(CdTable::new(0x1000, CdTableFormat::Linear, 0))?,
            s1dss: S1Dss::Terminate,
            stall: false,
            ats: false,
        };
        check!(*Ste::s1(&e2h, &cfg).qwords() == [0x100b, 0x8000_00d4, 0, 0, 0, 0, 0, 0]);
        // Level-1 descriptor: Span 9 | L2Ptr.
        check_eq!(ok(StrtabL1Desc::new(0x1234_5640))?.raw(), 0x1234_5649u64);
        check_eq!(
            StrtabL1Desc::decode(0x1234_5649).unwrap_or(0),
            0x1234_5640u64
        );
        check!(StrtabL1Desc::decode(0).is_none());
        check_eq!(l1_idx(0x1_2345), 0x123u32);
        check_eq!(l2_idx(0x1_2345), 0x45u32);
        Ok(())
    }

    /// Constructors reject what the fields cannot hold instead of masking.
    pub fn ste_rejects_bad_params() -> TestResult {
        check!(
            CdTable::new(0x1010, CdTableFormat::Linear, 0)
                == Err(EntryError::Misaligned("S1ContextPtr"))
        );
        check!(
            CdTable::new(1 << 52, CdTableFormat::Linear, 0)
                == Err(EntryError::AddrTooWide("S1ContextPtr"))
        );
        check!(CdTable::new(0, CdTableFormat::Linear, 32).is_err());
        let mut s2 = crate::hw::writer::tests::c_s2_cfg(ATS);
        s2.s2ttb = 0x8;
        check!(Ste::s2(&C_CAPS, &s2).is_err());
        s2.s2ttb = 0x10;
        s2.vtcr.ps = 8;
        check!(Ste::s2(&C_CAPS, &s2).is_err());
        check!(StrtabL1Desc::new(0x20).is_err());
        Ok(())
    }

    /// Every field position against the architecture's STE layout.
    pub fn ste_field_positions() -> TestResult {
        use field::*;
        let f = [
            (V, 0, 0),
            (CFG, 3, 1),
            (S1FMT, 5, 4),
            (S1CTXPTR, 51, 6),
            (S1CDMAX, 63, 59),
            (S1DSS, 1, 0),
            (MEV, 19, 19),
            (S2FWB, 25, 25),
            (S1STALLD, 27, 27),
            (EATS, 29, 28),
            (STRW, 31, 30),
            (SHCFG, 45, 44),
            (S2VMID, 15, 0),
            (VTCR, 50, 32),
            (S2AA64, 51, 51),
            (S2PTW, 54, 54),
            (S2S, 57, 57),
            (S2R, 58, 58),
            (S2TTB, 51, 4),
        ];
        for (field, hi, lo) in f {
            check_eq!(field.hi, hi);
            check_eq!(field.lo, lo);
        }
        Ok(())
    }

    /// Guest vSTEs: the C driver's validation (`arm_smmu_validate_vste()`).
    pub fn ste_vste_parse() -> TestResult {
        check!(VSte::parse([0, 0]) == Ok(VSte::Abort));
        check!(VSte::parse([0x9, 0]) == Ok(VSte::Bypass));
        check!(VSte::parse([0x1, 0]) == Ok(VSte::Abort));
        // Config S2 is not the guest's to ask for.
        check!(VSte::parse([0xd, 0]) == Err(VSteError::BadConfig));
        // EATS S1CHK is refused; SHCFG is not allowed.
        check!(VSte::parse([0xb, 2 << 28]) == Err(VSteError::BadEats));
        check!(VSte::parse([0xb, 1 << 44]) == Err(VSteError::DisallowedBits));
        let v = VSte::parse([0xf800_f0f0_f0f0_f0eb, 0x1800_00d5]).map_err(|_| {
            crate::hw::selftest::Failure {
                file: file!(),
                line: line!(),
                expr: "parse",
                left: 0,
                right: 0,
            }
        })?;
        // The guest's S1 half on the C suite's S2 gives the nested STE.
        let s2 = crate::hw::writer::tests::c_s2_cfg(ATS);
        check!(matches!(v, VSte::S1 { ats: true, .. }));
        let ste = ok(Ste::from_vste(&C_CAPS, &v, &s2))?;
        check!(ste == c_nested_ste(S1Dss::Bypass, ATS)?);
        Ok(())
    }
}

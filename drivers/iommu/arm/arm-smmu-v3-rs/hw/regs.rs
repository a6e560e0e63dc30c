// SPDX-License-Identifier: GPL-2.0

//! Register offsets and the decoding of the ID registers.
//!
//! [`decode`] turns IDR0–IDR5 and IIDR into [`SmmuInfo`]: the same feature
//! bits as the C driver's `ARM_SMMU_FEAT_*` for the same SMMU and platform,
//! or a [`DecodeError`] for an SMMU the driver cannot use.

use super::bits::Field;

/// Offsets of the registers in page 0 of the SMMU's MMIO region.
pub mod off {
    /// IDR0: stages, table formats, coherency.
    pub const IDR0: usize = 0x0;
    /// IDR1: queue and table sizes.
    pub const IDR1: usize = 0x4;
    /// IDR2: VATOS.
    pub const IDR2: usize = 0x8;
    /// IDR3: range invalidation, FWB, BBM.
    pub const IDR3: usize = 0xc;
    /// IDR4: implementation defined.
    pub const IDR4: usize = 0x10;
    /// IDR5: OAS, granules, stall limit.
    pub const IDR5: usize = 0x14;
    /// IIDR: implementer, product, revision.
    pub const IIDR: usize = 0x18;
    /// AIDR: architecture revision.
    pub const AIDR: usize = 0x1c;
}

/// Size of one register page.
pub const PAGE_SZ: usize = 0x1_0000;

/// Size of the MMIO region the driver needs: page 0 and page 1.
pub const REG_SZ: usize = 2 * PAGE_SZ;

/// IDR0 fields.
#[allow(missing_docs)]
pub mod idr0 {
    use super::Field;
    pub const ST_LVL: Field = Field::new(28, 27);
    pub const ST_LVL_2LVL: u64 = 1;
    pub const STALL_MODEL: Field = Field::new(25, 24);
    pub const STALL_MODEL_STALL: u64 = 0;
    pub const STALL_MODEL_FORCE: u64 = 2;
    pub const TTENDIAN: Field = Field::new(22, 21);
    pub const TTENDIAN_MIXED: u64 = 0;
    pub const TTENDIAN_LE: u64 = 2;
    pub const TTENDIAN_BE: u64 = 3;
    pub const CD2L: Field = Field::bit(19);
    pub const VMID16: Field = Field::bit(18);
    pub const PRI: Field = Field::bit(16);
    pub const SEV: Field = Field::bit(14);
    pub const MSI: Field = Field::bit(13);
    pub const ASID16: Field = Field::bit(12);
    pub const ATS: Field = Field::bit(10);
    pub const HYP: Field = Field::bit(9);
    pub const HTTU: Field = Field::new(7, 6);
    pub const HTTU_ACCESS: u64 = 1;
    pub const HTTU_ACCESS_DIRTY: u64 = 2;
    pub const HTTU_ACCESS_DIRTY_HAFT: u64 = 3;
    pub const COHACC: Field = Field::bit(4);
    pub const TTF: Field = Field::new(3, 2);
    pub const TTF_AARCH64: u64 = 2;
    pub const S1P: Field = Field::bit(1);
    pub const S2P: Field = Field::bit(0);
}

/// IDR1 fields.
#[allow(missing_docs)]
pub mod idr1 {
    use super::Field;
    pub const TABLES_PRESET: Field = Field::bit(30);
    pub const QUEUES_PRESET: Field = Field::bit(29);
    pub const REL: Field = Field::bit(28);
    pub const ATTR_TYPES_OVR: Field = Field::bit(27);
    pub const CMDQS: Field = Field::new(25, 21);
    pub const EVTQS: Field = Field::new(20, 16);
    pub const PRIQS: Field = Field::new(15, 11);
    pub const SSIDSIZE: Field = Field::new(10, 6);
    pub const SIDSIZE: Field = Field::new(5, 0);
}

/// IDR3 fields.
#[allow(missing_docs)]
pub mod idr3 {
    use super::Field;
    pub const BBM: Field = Field::new(12, 11);
    pub const RIL: Field = Field::bit(10);
    pub const FWB: Field = Field::bit(8);
}

/// IDR5 fields.
#[allow(missing_docs)]
pub mod idr5 {
    use super::Field;
    pub const STALL_MAX: Field = Field::new(31, 16);
    pub const VAX: Field = Field::new(11, 10);
    pub const VAX_52_BIT: u64 = 1;
    pub const DS: Field = Field::bit(7);
    pub const GRAN64K: Field = Field::bit(6);
    pub const GRAN16K: Field = Field::bit(5);
    pub const GRAN4K: Field = Field::bit(4);
    pub const OAS: Field = Field::new(2, 0);
}

/// IIDR fields.
#[allow(missing_docs)]
pub mod iidr {
    use super::Field;
    pub const PRODUCTID: Field = Field::new(31, 20);
    pub const VARIANT: Field = Field::new(19, 16);
    pub const REVISION: Field = Field::new(15, 12);
    pub const IMPLEMENTER: Field = Field::new(11, 0);
    pub const IMPLEMENTER_ARM: u64 = 0x43b;
    pub const PRODUCTID_ARM_MMU_600: u64 = 0x483;
    pub const PRODUCTID_ARM_MMU_700: u64 = 0x487;
    pub const PRODUCTID_ARM_MMU_L1: u64 = 0x48a;
    pub const PRODUCTID_ARM_MMU_S3: u64 = 0x498;
}

/// log2 of a command-queue entry's size (16 bytes).
pub const CMDQ_ENT_SZ_SHIFT: u32 = 4;
/// log2 of an event-queue entry's size (32 bytes).
pub const EVTQ_ENT_SZ_SHIFT: u32 = 5;
/// log2 of a PRI-queue entry's size (16 bytes).
pub const PRIQ_ENT_SZ_SHIFT: u32 = 4;
/// Commands the driver batches before a sync (`CMDQ_BATCH_ENTRIES`).
pub const CMDQ_BATCH_ENTRIES: u32 = 64;
/// SID bits resolved by one level-2 stream table (`STRTAB_SPLIT`).
pub const STRTAB_SPLIT: u32 = 8;

/// Feature bits, numerically identical to the C driver's `ARM_SMMU_FEAT_*`
/// so the probe summary lines of the two drivers compare directly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features(pub u32);

#[allow(missing_docs)]
impl Features {
    pub const STRTAB_2LVL: Self = Self(1 << 0);
    pub const CDTAB_2LVL: Self = Self(1 << 1);
    pub const TT_LE: Self = Self(1 << 2);
    pub const TT_BE: Self = Self(1 << 3);
    pub const PRI: Self = Self(1 << 4);
    pub const ATS: Self = Self(1 << 5);
    pub const SEV: Self = Self(1 << 6);
    pub const MSI: Self = Self(1 << 7);
    pub const COHERENCY: Self = Self(1 << 8);
    pub const TRANS_S1: Self = Self(1 << 9);
    pub const TRANS_S2: Self = Self(1 << 10);
    pub const STALLS: Self = Self(1 << 11);
    pub const HYP: Self = Self(1 << 12);
    pub const STALL_FORCE: Self = Self(1 << 13);
    pub const VAX: Self = Self(1 << 14);
    pub const RANGE_INV: Self = Self(1 << 15);
    pub const BTM: Self = Self(1 << 16);
    pub const E2H: Self = Self(1 << 18);
    pub const NESTING: Self = Self(1 << 19);
    pub const ATTR_TYPES_OVR: Self = Self(1 << 20);
    pub const HA: Self = Self(1 << 21);
    pub const HD: Self = Self(1 << 22);
    pub const S2FWB: Self = Self(1 << 23);
    pub const BBML2: Self = Self(1 << 24);
    pub const HAFT: Self = Self(1 << 25);
    pub const DS: Self = Self(1 << 26);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// `self` with the bits of `other` added.
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// `self` with the bits of `other` removed.
    pub const fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    fn add_if(&mut self, cond: bool, f: Self) {
        if cond {
            *self = self.with(f);
        }
    }
}

/// Raw values of the ID registers, as read from MMIO.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdRegs {
    /// IDR0 to IDR5.
    pub idr: [u32; 6],
    /// IIDR.
    pub iidr: u32,
    /// AIDR.
    pub aidr: u32,
}

/// What the platform, not the SMMU, contributes to the decoding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Platform {
    /// Firmware says the SMMU's table walks are coherent (`dma-coherent`).
    pub coherent: bool,
    /// The SMMU is described by DT (IDR0.HTTU is trusted) rather than IORT.
    pub of_node: bool,
    /// Without a DT node: IDR0.HTTU as the IORT states it, which wins over
    /// the register (`ACPI_IORT_SMMU_V3_HTTU_OVERRIDE`).
    pub fw_httu: u32,
    /// `ARM_SMMU_OPT_SKIP_PREFETCH` from firmware (IORT model HiSilicon
    /// Hi161x, DT `hisilicon,broken-prefetch-cmd`).
    pub skip_prefetch: bool,
    /// `ARM_SMMU_OPT_PAGE0_REGS_ONLY` from firmware (IORT model Cavium
    /// CN99xx, DT `cavium,cn9900-broken-page1-regspace`).
    pub page0_regs_only: bool,
    /// The kernel has PCI ATS support (`CONFIG_PCI_ATS`).
    pub pci_ats: bool,
    /// The kernel has PCI PRI support (`CONFIG_PCI_PRI`).
    pub pci_pri: bool,
    /// The CPUs run the kernel at EL2 with VHE (`ARM64_HAS_VIRT_HOST_EXTN`).
    pub vhe: bool,
    /// The kernel is big-endian.
    pub big_endian: bool,
    /// log2 of the largest queue the kernel can allocate, in bytes
    /// (`Q_MAX_SZ_SHIFT`: `PAGE_SHIFT` + `CONFIG_CMA_ALIGNMENT`, or
    /// + `MAX_PAGE_ORDER` without CMA).
    pub q_max_sz_shift: u32,
}

/// Driver options derived from the ID registers (`ARM_SMMU_OPT_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// CMD_SYNC completion may be polled through its MSI write.
    pub msipoll: bool,
    /// At most 63 commands may go to the SMMU between two CMD_SYNCs
    /// (MMU-700 erratum 2812531).
    pub cmdq_force_sync: bool,
    /// CMD_PREFETCH_CONFIG must not be issued (this driver never does).
    pub skip_prefetch: bool,
    /// Register page 1 is not implemented: its registers are at the same
    /// offsets in page 0, and the MMIO region is 64K.
    pub page0_regs_only: bool,
}

impl Options {
    /// The C driver's `smmu->options` bits (`ARM_SMMU_OPT_*`), for logs.
    pub fn mask(&self) -> u32 {
        u32::from(self.skip_prefetch)
            | u32::from(self.page0_regs_only) << 1
            | u32::from(self.msipoll) << 2
            | u32::from(self.cmdq_force_sync) << 3
    }
}

/// What the driver knows of an SMMU after decoding its ID registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SmmuInfo {
    /// Feature bits, as the C driver computes them.
    pub features: Features,
    /// Options derived from the features and the platform.
    pub options: Options,
    /// Output address size in bits.
    pub oas: u32,
    /// IDR5.OAS held an encoding we do not know; `oas` is 48 as in C.
    pub oas_unknown: bool,
    /// IDR0.COHACC disagrees with the firmware's coherency (firmware wins).
    pub cohacc_mismatch: bool,
    /// IDR0.HTTU's features disagree with the IORT's (firmware wins): the
    /// `Features` bits of each, hardware first.
    pub httu_mismatch: Option<(u32, u32)>,
    /// ASID width in bits (8 or 16).
    pub asid_bits: u32,
    /// VMID width in bits (8 or 16).
    pub vmid_bits: u32,
    /// StreamID width in bits.
    pub sid_bits: u32,
    /// SubstreamID width in bits.
    pub ssid_bits: u32,
    /// log2 of the command queue's entries.
    pub cmdq_shift: u32,
    /// log2 of the event queue's entries.
    pub evtq_shift: u32,
    /// log2 of the PRI queue's entries.
    pub priq_shift: u32,
    /// Outstanding stalls the SMMU supports.
    pub max_stalls: u32,
    /// Page and block sizes the table walker supports.
    pub pgsize_bitmap: u64,
}

impl SmmuInfo {
    /// Input address size of stage-1 domains for a kernel with `va_bits`
    /// virtual address bits: 52 with IDR5.VAX, else 48, at most `va_bits`.
    pub fn s1_ias(&self, va_bits: u32) -> u32 {
        let ias = if self.features.contains(Features::VAX) {
            52
        } else {
            48
        };
        ias.min(va_bits)
    }

    /// Input address size of stage-2 domains: the output address size.
    pub fn s2_ias(&self) -> u32 {
        self.oas
    }
}

/// Why an SMMU cannot be used; the C driver fails the probe for the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// IDR0.TTENDIAN does not include the CPU's endianness.
    Endianness(u32),
    /// Neither stage 1 nor stage 2 is implemented.
    NoTranslation,
    /// The AArch64 translation-table format is not supported.
    NoAArch64Tables,
    /// Tables or queues are preset, or their base is relative (IDR1).
    Embedded,
    /// The command queue cannot hold one batch plus a sync.
    CmdqTooSmall(u32),
    /// No translation granule is supported.
    NoGranule,
}

/// Decodes the ID registers as `arm_smmu_device_hw_probe()` does.
pub fn decode(id: &IdRegs, plat: &Platform) -> Result<SmmuInfo, DecodeError> {
    let r0 = u64::from(id.idr[0]);
    let mut f = Features::default();
    let mut options = Options::default();
    f.add_if(plat.coherent, Features::COHERENCY);

    f.add_if(
        idr0::ST_LVL.get(r0) == idr0::ST_LVL_2LVL,
        Features::STRTAB_2LVL,
    );
    f.add_if(idr0::CD2L.is_set(r0), Features::CDTAB_2LVL);

    match (idr0::TTENDIAN.get(r0), plat.big_endian) {
        (idr0::TTENDIAN_MIXED, _) => f = f.with(Features::TT_LE).with(Features::TT_BE),
        (idr0::TTENDIAN_LE, false) => f = f.with(Features::TT_LE),
        (idr0::TTENDIAN_BE, true) => f = f.with(Features::TT_BE),
        (e, _) => return Err(DecodeError::Endianness(e as u32)),
    }

    f.add_if(plat.pci_pri && idr0::PRI.is_set(r0), Features::PRI);
    f.add_if(plat.pci_ats && idr0::ATS.is_set(r0), Features::ATS);
    f.add_if(idr0::SEV.is_set(r0), Features::SEV);
    if idr0::MSI.is_set(r0) {
        f = f.with(Features::MSI);
        options.msipoll = plat.coherent;
    }
    if idr0::HYP.is_set(r0) {
        f = f.with(Features::HYP);
        f.add_if(plat.vhe, Features::E2H);
    }
    let httu_features = |httu: u64| {
        let mut h = Features::default();
        h.add_if(httu >= idr0::HTTU_ACCESS, Features::HA);
        h.add_if(httu >= idr0::HTTU_ACCESS_DIRTY, Features::HD);
        h.add_if(httu >= idr0::HTTU_ACCESS_DIRTY_HAFT, Features::HAFT);
        h
    };
    let hw_httu = httu_features(idr0::HTTU.get(r0));
    let fw_httu = httu_features(u64::from(plat.fw_httu));
    let mut httu_mismatch = None;
    if plat.of_node {
        f = f.with(hw_httu);
    } else {
        f = f.with(fw_httu);
        if hw_httu != fw_httu {
            httu_mismatch = Some((hw_httu.0, fw_httu.0));
        }
    }
    options.skip_prefetch = plat.skip_prefetch;
    options.page0_regs_only = plat.page0_regs_only;
    let cohacc_mismatch = idr0::COHACC.is_set(r0) != plat.coherent;

    match idr0::STALL_MODEL.get(r0) {
        idr0::STALL_MODEL_FORCE => f = f.with(Features::STALL_FORCE).with(Features::STALLS),
        idr0::STALL_MODEL_STALL => f = f.with(Features::STALLS),
        _ => {}
    }
    f.add_if(idr0::S1P.is_set(r0), Features::TRANS_S1);
    f.add_if(idr0::S2P.is_set(r0), Features::TRANS_S2);
    if !idr0::S1P.is_set(r0) && !idr0::S2P.is_set(r0) {
        return Err(DecodeError::NoTranslation);
    }
    if idr0::TTF.get(r0) & idr0::TTF_AARCH64 == 0 {
        return Err(DecodeError::NoAArch64Tables);
    }
    let asid_bits = if idr0::ASID16.is_set(r0) { 16 } else { 8 };
    let vmid_bits = if idr0::VMID16.is_set(r0) { 16 } else { 8 };

    let r1 = u64::from(id.idr[1]);
    if idr1::TABLES_PRESET.is_set(r1) || idr1::QUEUES_PRESET.is_set(r1) || idr1::REL.is_set(r1) {
        return Err(DecodeError::Embedded);
    }
    f.add_if(idr1::ATTR_TYPES_OVR.is_set(r1), Features::ATTR_TYPES_OVR);
    let cmdq_shift = plat
        .q_max_sz_shift
        .saturating_sub(CMDQ_ENT_SZ_SHIFT)
        .min(idr1::CMDQS.get(r1) as u32);
    if cmdq_shift <= CMDQ_BATCH_ENTRIES.ilog2() {
        return Err(DecodeError::CmdqTooSmall(1 << cmdq_shift));
    }
    let evtq_shift = plat
        .q_max_sz_shift
        .saturating_sub(EVTQ_ENT_SZ_SHIFT)
        .min(idr1::EVTQS.get(r1) as u32);
    let priq_shift = plat
        .q_max_sz_shift
        .saturating_sub(PRIQ_ENT_SZ_SHIFT)
        .min(idr1::PRIQS.get(r1) as u32);
    let ssid_bits = idr1::SSIDSIZE.get(r1) as u32;
    let sid_bits = idr1::SIDSIZE.get(r1) as u32;
    if sid_bits <= STRTAB_SPLIT {
        f = f.without(Features::STRTAB_2LVL);
    }

    let r3 = u64::from(id.idr[3]);
    f.add_if(idr3::RIL.is_set(r3), Features::RANGE_INV);
    f.add_if(idr3::FWB.is_set(r3), Features::S2FWB);
    f.add_if(idr3::BBM.get(r3) == 2, Features::BBML2);

    let r5 = u64::from(id.idr[5]);
    let max_stalls = idr5::STALL_MAX.get(r5) as u32;
    f.add_if(idr5::DS.is_set(r5), Features::DS);
    let mut pgsize_bitmap = 0u64;
    if idr5::GRAN64K.is_set(r5) {
        pgsize_bitmap |= (1 << 16) | (1 << 29);
    }
    if idr5::GRAN16K.is_set(r5) {
        pgsize_bitmap |= (1 << 14) | (1 << 25);
    }
    if idr5::GRAN4K.is_set(r5) {
        pgsize_bitmap |= (1 << 12) | (1 << 21) | (1 << 30);
    }
    if pgsize_bitmap == 0 {
        return Err(DecodeError::NoGranule);
    }
    f.add_if(idr5::VAX.get(r5) == idr5::VAX_52_BIT, Features::VAX);
    let (oas, oas_unknown) = match idr5::OAS.get(r5) {
        0 => (32, false),
        1 => (36, false),
        2 => (40, false),
        3 => (42, false),
        4 => (44, false),
        5 => (48, false),
        6 => {
            pgsize_bitmap |= 1 << 42;
            (52, false)
        }
        _ => (48, true),
    };

    if f.contains(Features::TRANS_S1.with(Features::TRANS_S2)) {
        f = f.with(Features::NESTING);
    }

    // Errata keyed on IIDR, as arm_smmu_device_iidr_probe().
    let iidr = u64::from(id.iidr);
    if iidr::IMPLEMENTER.get(iidr) == iidr::IMPLEMENTER_ARM {
        let (variant, revision) = (iidr::VARIANT.get(iidr), iidr::REVISION.get(iidr));
        match iidr::PRODUCTID.get(iidr) {
            iidr::PRODUCTID_ARM_MMU_600 => {
                // Arm erratum 1076982
                if variant == 0 && revision <= 2 {
                    f = f.without(Features::SEV);
                }
                // Arm erratum 1209401
                if variant < 2 {
                    f = f.without(Features::NESTING);
                }
            }
            iidr::PRODUCTID_ARM_MMU_700 => {
                f = f.without(Features::BTM);
                if variant < 1 || revision < 1 {
                    // Arm erratum 2812531 and 2268618
                    options.cmdq_force_sync = true;
                    f = f.without(Features::NESTING);
                }
            }
            iidr::PRODUCTID_ARM_MMU_L1 | iidr::PRODUCTID_ARM_MMU_S3 => {
                // Arm errata 3878312/3995052
                f = f.without(Features::BTM);
            }
            _ => {}
        }
    }

    Ok(SmmuInfo {
        features: f,
        options,
        oas,
        oas_unknown,
        cohacc_mismatch,
        httu_mismatch,
        asid_bits,
        vmid_bits,
        sid_bits,
        ssid_bits,
        cmdq_shift,
        evtq_shift,
        priq_shift,
        max_stalls,
        pgsize_bitmap,
    })
}

// Control, stream table and queue registers (`arm-smmu-v3.h`), used by
// reset (`super::reset`), the stream table (`super::strtab`) and the event
// and error handlers (`super::event`).

/// Offsets of the control and queue registers from the SMMU's base.
///
/// The producer/consumer registers of the event and PRI queues live in
/// page 1 ([`ctrl_off::PAGE1`] + the page-0 offset the C header names),
/// except on SMMUs with `ARM_SMMU_OPT_PAGE0_REGS_ONLY`, where page 1 is
/// aliased to page 0 (see [`ctrl_off::page1`]).
pub mod ctrl_off {
    /// Offset of page 1 (64K).
    pub const PAGE1: usize = 0x1_0000;
    /// CR0: enables.
    pub const CR0: usize = 0x20;
    /// CR0ACK: the enables in effect.
    pub const CR0ACK: usize = 0x24;
    /// CR1: table and queue memory attributes.
    pub const CR1: usize = 0x28;
    /// CR2: PTM, RECINVSID, E2H.
    pub const CR2: usize = 0x2c;
    /// GBPA: global bypass attributes (what happens while SMMUEN = 0).
    pub const GBPA: usize = 0x44;
    /// IRQ_CTRL: interrupt enables.
    pub const IRQ_CTRL: usize = 0x50;
    /// IRQ_CTRLACK: the interrupt enables in effect.
    pub const IRQ_CTRLACK: usize = 0x54;
    /// GERROR: global errors (toggled by the SMMU).
    pub const GERROR: usize = 0x60;
    /// GERRORN: global errors acknowledged (toggled by software).
    pub const GERRORN: usize = 0x64;
    /// GERROR_IRQ_CFG0: GERROR MSI address (64-bit).
    pub const GERROR_IRQ_CFG0: usize = 0x68;
    /// GERROR_IRQ_CFG1: GERROR MSI data.
    pub const GERROR_IRQ_CFG1: usize = 0x70;
    /// GERROR_IRQ_CFG2: GERROR MSI attributes.
    pub const GERROR_IRQ_CFG2: usize = 0x74;
    /// STRTAB_BASE: stream table address (64-bit).
    pub const STRTAB_BASE: usize = 0x80;
    /// STRTAB_BASE_CFG: stream table format and size.
    pub const STRTAB_BASE_CFG: usize = 0x88;
    /// CMDQ_BASE: command queue address and size (64-bit).
    pub const CMDQ_BASE: usize = 0x90;
    /// CMDQ_PROD: command queue producer index.
    pub const CMDQ_PROD: usize = 0x98;
    /// CMDQ_CONS: command queue consumer index and error.
    pub const CMDQ_CONS: usize = 0x9c;
    /// EVTQ_BASE: event queue address and size (64-bit).
    pub const EVTQ_BASE: usize = 0xa0;
    /// EVTQ_PROD, in page 1.
    pub const EVTQ_PROD: usize = PAGE1 + 0xa8;
    /// EVTQ_CONS, in page 1.
    pub const EVTQ_CONS: usize = PAGE1 + 0xac;
    /// EVTQ_IRQ_CFG0: event queue MSI address (64-bit).
    pub const EVTQ_IRQ_CFG0: usize = 0xb0;
    /// EVTQ_IRQ_CFG1: event queue MSI data.
    pub const EVTQ_IRQ_CFG1: usize = 0xb8;
    /// EVTQ_IRQ_CFG2: event queue MSI attributes.
    pub const EVTQ_IRQ_CFG2: usize = 0xbc;
    /// PRIQ_BASE: PRI queue address and size (64-bit).
    pub const PRIQ_BASE: usize = 0xc0;
    /// PRIQ_PROD, in page 1.
    pub const PRIQ_PROD: usize = PAGE1 + 0xc8;
    /// PRIQ_CONS, in page 1.
    pub const PRIQ_CONS: usize = PAGE1 + 0xcc;
    /// PRIQ_IRQ_CFG0: PRI queue MSI address (64-bit).
    pub const PRIQ_IRQ_CFG0: usize = 0xd0;
    /// PRIQ_IRQ_CFG1: PRI queue MSI data.
    pub const PRIQ_IRQ_CFG1: usize = 0xd8;
    /// PRIQ_IRQ_CFG2: PRI queue MSI attributes.
    pub const PRIQ_IRQ_CFG2: usize = 0xdc;

    /// Where a register of page 1 really is: `off` itself, or its page-0
    /// alias when the SMMU only has page 0 (`ARM_SMMU_OPT_PAGE0_REGS_ONLY`,
    /// the C driver's `smmu->page1 = smmu->base`). Page-0 offsets are
    /// returned unchanged.
    pub const fn page1(off: usize, page0_only: bool) -> usize {
        if page0_only && off >= PAGE1 {
            off - PAGE1
        } else {
            off
        }
    }
}

/// CR0 (and CR0ACK) bits.
#[allow(missing_docs)]
pub mod cr0 {
    pub const ATSCHK: u32 = 1 << 4;
    pub const CMDQEN: u32 = 1 << 3;
    pub const EVTQEN: u32 = 1 << 2;
    pub const PRIQEN: u32 = 1 << 1;
    pub const SMMUEN: u32 = 1 << 0;
}

/// CR1 fields and their cacheability encodings (`CR1_CACHE_*`, which do
/// not follow the TCR encoding).
#[allow(missing_docs)]
pub mod cr1 {
    use super::Field;
    pub const TABLE_SH: Field = Field::new(11, 10);
    pub const TABLE_OC: Field = Field::new(9, 8);
    pub const TABLE_IC: Field = Field::new(7, 6);
    pub const QUEUE_SH: Field = Field::new(5, 4);
    pub const QUEUE_OC: Field = Field::new(3, 2);
    pub const QUEUE_IC: Field = Field::new(1, 0);
    pub const CACHE_WB: u64 = 1;
}

/// CR2 bits.
#[allow(missing_docs)]
pub mod cr2 {
    pub const PTM: u32 = 1 << 2;
    pub const RECINVSID: u32 = 1 << 1;
    pub const E2H: u32 = 1 << 0;
}

/// GBPA bits.
#[allow(missing_docs)]
pub mod gbpa {
    pub const UPDATE: u32 = 1 << 31;
    pub const ABORT: u32 = 1 << 20;
}

/// IRQ_CTRL (and IRQ_CTRLACK) bits.
#[allow(missing_docs)]
pub mod irq_ctrl {
    pub const EVTQ_IRQEN: u32 = 1 << 2;
    pub const PRIQ_IRQEN: u32 = 1 << 1;
    pub const GERROR_IRQEN: u32 = 1 << 0;
}

/// GERROR (and GERRORN) bits.
#[allow(missing_docs)]
pub mod gerror {
    pub const SFM_ERR: u32 = 1 << 8;
    pub const MSI_GERROR_ABT_ERR: u32 = 1 << 7;
    pub const MSI_PRIQ_ABT_ERR: u32 = 1 << 6;
    pub const MSI_EVTQ_ABT_ERR: u32 = 1 << 5;
    pub const MSI_CMDQ_ABT_ERR: u32 = 1 << 4;
    pub const PRIQ_ABT_ERR: u32 = 1 << 3;
    pub const EVTQ_ABT_ERR: u32 = 1 << 2;
    pub const CMDQ_ERR: u32 = 1 << 0;
    /// Every error bit (`GERROR_ERR_MASK`).
    pub const ERR_MASK: u32 = 0x1fd;
}

/// STRTAB_BASE and STRTAB_BASE_CFG fields.
#[allow(missing_docs)]
pub mod strtab_base {
    use super::Field;
    /// STRTAB_BASE: read-allocate hint.
    pub const RA: u64 = 1 << 62;
    /// STRTAB_BASE: table address bits.
    pub const ADDR: Field = Field::new(51, 6);
    /// STRTAB_BASE_CFG: format.
    pub const CFG_FMT: Field = Field::new(17, 16);
    pub const CFG_FMT_LINEAR: u64 = 0;
    pub const CFG_FMT_2LVL: u64 = 1;
    /// STRTAB_BASE_CFG: SID bits resolved by level 2.
    pub const CFG_SPLIT: Field = Field::new(10, 6);
    /// STRTAB_BASE_CFG: log2 of the number of StreamIDs the table covers.
    pub const CFG_LOG2SIZE: Field = Field::new(5, 0);
}

/// Queue base register (`CMDQ_BASE`, `EVTQ_BASE`, `PRIQ_BASE`) fields.
#[allow(missing_docs)]
pub mod q_base {
    use super::Field;
    /// Read/write-allocate hint.
    pub const RWA: u64 = 1 << 62;
    pub const ADDR: Field = Field::new(51, 5);
    pub const LOG2SIZE: Field = Field::new(4, 0);
}

/// CMDQ_CONS fields.
#[allow(missing_docs)]
pub mod cmdq_cons {
    use super::Field;
    /// The error of the command at CONS.
    pub const ERR: Field = Field::new(30, 24);
    pub const CERROR_NONE: u64 = 0;
    pub const CERROR_ILL: u64 = 1;
    pub const CERROR_ABT: u64 = 2;
    pub const CERROR_ATC_INV_SYNC: u64 = 3;
}

/// MSI configuration registers (`*_IRQ_CFG0..2`) fields and values.
#[allow(missing_docs)]
pub mod msi_cfg {
    use super::Field;
    /// CFG0: doorbell address bits.
    pub const CFG0_ADDR: Field = Field::new(51, 2);
    /// `ARM_SMMU_MEMATTR_DEVICE_nGnRE`, what the C driver writes to CFG2.
    pub const MEMATTR_DEVICE_NGNRE: u32 = 0x1;
}

/// Inner shareable (`ARM_SMMU_SH_ISH`).
pub const SH_ISH: u64 = 3;

/// Shared test cases (see [`crate::hw::selftest`]); each name says what it checks.
#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
#[allow(missing_docs)]
pub mod tests {
    use super::*;
    use crate::hw::selftest::{check, check_eq, failure, TestResult};

    /// The platform of QEMU's `virt` machine as our test kernel sees it.
    const QEMU_PLAT: Platform = Platform {
        coherent: true,
        of_node: true,
        pci_ats: true,
        pci_pri: false,
        vhe: false,
        big_endian: false,
        q_max_sz_shift: 22, // 4K pages, MAX_PAGE_ORDER 10, no CMA
        fw_httu: 0,
        skip_prefetch: false,
        page0_regs_only: false,
    };

    /// ID registers of QEMU 10.0's emulated SMMUv3, read by this driver
    /// (`dev_dbg!` in probe) on `virt,iommu=smmuv3` with both stages (the
    /// default), or one (`virt-9.0` with `-global arm-smmuv3.stage=1`/`2`).
    /// Raw words, not built with this module's fields, so a wrong field
    /// position fails the tests.
    fn qemu_idrs(s1: bool, s2: bool) -> IdRegs {
        let (idr0, idr3) = match (s1, s2) {
            (true, true) => (0x0d44_101b, 0x1414),
            (true, false) => (0x0d44_101a, 0x1404),
            (false, true) => (0x0d44_1019, 0x1414),
            // Neither stage: the nested IDR0 with S1P and S2P cleared.
            (false, false) => (0x0d44_1018, 0x1414),
        };
        IdRegs {
            idr: [idr0, 0x0273_0010, 0, idr3, 0, 0x74],
            iidr: 0,
            aidr: 1,
        }
    }

    fn with_idr(mut id: IdRegs, n: usize, f: impl Fn(u64) -> u64) -> IdRegs {
        id.idr[n] = f(u64::from(id.idr[n])) as u32;
        id
    }

    pub fn decode_qemu_default() -> TestResult {
        let info =
            decode(&qemu_idrs(true, true), &QEMU_PLAT).map_err(|_| failure!("decode() failed"))?;
        check_eq!(info.oas, 44);
        check!(info.features.contains(Features::TRANS_S1));
        check!(info.features.contains(Features::TRANS_S2));
        check!(info.features.contains(Features::NESTING));
        check!(info.features.contains(Features::STRTAB_2LVL));
        check_eq!(info.sid_bits, 16);
        check_eq!(info.asid_bits, 16);
        // Capped by the 4 MiB queue limit: C logs "allocated 262144 entries
        // for cmdq" and "131072 entries for evtq" on the same machine.
        check_eq!(info.cmdq_shift, 18);
        check_eq!(info.evtq_shift, 17);
        let small = Platform {
            q_max_sz_shift: 20,
            ..QEMU_PLAT
        };
        check_eq!(
            decode(&qemu_idrs(true, true), &small)
                .map_err(|_| failure!("decode() failed"))?
                .cmdq_shift,
            16
        );
        check!(!info.cohacc_mismatch);
        let incoherent = Platform {
            coherent: false,
            ..QEMU_PLAT
        };
        let info =
            decode(&qemu_idrs(true, true), &incoherent).map_err(|_| failure!("decode() failed"))?;
        check!(info.cohacc_mismatch && !info.features.contains(Features::COHERENCY));
        Ok(())
    }

    pub fn decode_qemu_stage2_only() -> TestResult {
        let info =
            decode(&qemu_idrs(false, true), &QEMU_PLAT).map_err(|_| failure!("decode() failed"))?;
        check!(!info.features.contains(Features::TRANS_S1));
        check!(info.features.contains(Features::TRANS_S2));
        check!(!info.features.contains(Features::NESTING));
        check_eq!(info.vmid_bits, 16);
        let s1 =
            decode(&qemu_idrs(true, false), &QEMU_PLAT).map_err(|_| failure!("decode() failed"))?;
        check!(!s1.features.contains(Features::NESTING));
        check_eq!(s1.vmid_bits, 16);
        Ok(())
    }

    /// The C driver's bit values, spelled out: the summary lines of the two
    /// drivers are compared as numbers.
    pub fn decode_features_match_c_bits() -> TestResult {
        let info =
            decode(&qemu_idrs(true, true), &QEMU_PLAT).map_err(|_| failure!("decode() failed"))?;
        // What the C driver printed for QEMU 10's default SMMU: 2_LVL_STRTAB |
        // TT_LE | COHERENCY | TRANS_S1 | TRANS_S2 | RANGE_INV | NESTING | BBML2.
        check_eq!(info.features.0, 0x0108_8705);
        // ... and with `-global arm-smmuv3.stage=1` and `stage=2`.
        let s1 =
            decode(&qemu_idrs(true, false), &QEMU_PLAT).map_err(|_| failure!("decode() failed"))?;
        check_eq!(s1.features.0, 0x0100_8305);
        let s2 =
            decode(&qemu_idrs(false, true), &QEMU_PLAT).map_err(|_| failure!("decode() failed"))?;
        check_eq!(s2.features.0, 0x0100_8505);
        check_eq!(Features::ATS.0, 1 << 5);
        check_eq!(Features::NESTING.0, 1 << 19);
        check_eq!(Features::DS.0, 1 << 26);
        Ok(())
    }

    pub fn decode_rejects_no_translation() -> TestResult {
        let id = qemu_idrs(false, false);
        check!(decode(&id, &QEMU_PLAT) == Err(DecodeError::NoTranslation));
        Ok(())
    }

    pub fn decode_rejects_aarch32_only() -> TestResult {
        let id = with_idr(qemu_idrs(true, true), 0, |r| idr0::TTF.set(r, 1));
        check!(decode(&id, &QEMU_PLAT) == Err(DecodeError::NoAArch64Tables));
        let id = with_idr(qemu_idrs(true, true), 0, |r| idr0::TTF.set(r, 3));
        check!(decode(&id, &QEMU_PLAT).is_ok());
        Ok(())
    }

    pub fn decode_rejects_embedded() -> TestResult {
        for bit in [idr1::TABLES_PRESET, idr1::QUEUES_PRESET, idr1::REL] {
            let id = with_idr(qemu_idrs(true, false), 1, |r| r | bit.mask());
            check!(decode(&id, &QEMU_PLAT) == Err(DecodeError::Embedded));
        }
        Ok(())
    }

    pub fn decode_rejects_small_cmdq() -> TestResult {
        let id = with_idr(qemu_idrs(true, false), 1, |r| idr1::CMDQS.set(r, 6));
        check!(decode(&id, &QEMU_PLAT) == Err(DecodeError::CmdqTooSmall(64)));
        let id = with_idr(qemu_idrs(true, false), 1, |r| idr1::CMDQS.set(r, 7));
        check_eq!(
            decode(&id, &QEMU_PLAT)
                .map_err(|_| failure!("decode() failed"))?
                .cmdq_shift,
            7
        );
        Ok(())
    }

    pub fn decode_rejects_bad_endianness() -> TestResult {
        let be = with_idr(qemu_idrs(true, false), 0, |r| {
            idr0::TTENDIAN.set(r, idr0::TTENDIAN_BE)
        });
        check!(decode(&be, &QEMU_PLAT) == Err(DecodeError::Endianness(3)));
        let rsvd = with_idr(qemu_idrs(true, false), 0, |r| idr0::TTENDIAN.set(r, 1));
        check!(decode(&rsvd, &QEMU_PLAT) == Err(DecodeError::Endianness(1)));
        let mixed = with_idr(qemu_idrs(true, false), 0, |r| idr0::TTENDIAN.set(r, 0));
        let f = decode(&mixed, &QEMU_PLAT)
            .map_err(|_| failure!("decode() failed"))?
            .features;
        check!(f.contains(Features::TT_LE.with(Features::TT_BE)));
        Ok(())
    }

    pub fn decode_oas_all_encodings() -> TestResult {
        let expect = [
            (0, 32),
            (1, 36),
            (2, 40),
            (3, 42),
            (4, 44),
            (5, 48),
            (6, 52),
            (7, 48),
        ];
        for (enc, bits) in expect {
            let id = with_idr(qemu_idrs(true, false), 5, |r| idr5::OAS.set(r, enc));
            let info = decode(&id, &QEMU_PLAT).map_err(|_| failure!("decode() failed"))?;
            check_eq!(info.oas, bits);
            check_eq!(info.oas_unknown, enc == 7);
            check_eq!(info.pgsize_bitmap & (1 << 42) != 0, enc == 6);
        }
        Ok(())
    }

    pub fn decode_linear_strtab_for_small_sid() -> TestResult {
        let id = with_idr(qemu_idrs(true, false), 1, |r| idr1::SIDSIZE.set(r, 8));
        check!(!decode(&id, &QEMU_PLAT)
            .map_err(|_| failure!("decode() failed"))?
            .features
            .contains(Features::STRTAB_2LVL));
        let id = with_idr(qemu_idrs(true, false), 1, |r| idr1::SIDSIZE.set(r, 9));
        check!(decode(&id, &QEMU_PLAT)
            .map_err(|_| failure!("decode() failed"))?
            .features
            .contains(Features::STRTAB_2LVL));
        Ok(())
    }

    pub fn decode_ias() -> TestResult {
        let info =
            decode(&qemu_idrs(true, true), &QEMU_PLAT).map_err(|_| failure!("decode() failed"))?;
        check_eq!(info.s1_ias(48), 48);
        check_eq!(info.s1_ias(39), 39);
        check_eq!(info.s2_ias(), 44);
        let vax = with_idr(qemu_idrs(true, true), 5, |r| {
            idr5::VAX.set(r, idr5::VAX_52_BIT)
        });
        let info = decode(&vax, &QEMU_PLAT).map_err(|_| failure!("decode() failed"))?;
        check_eq!(info.s1_ias(52), 52);
        check_eq!(info.s1_ias(48), 48);
        Ok(())
    }

    pub fn decode_page_sizes() -> TestResult {
        let only4k = with_idr(qemu_idrs(true, false), 5, |r| {
            r & !(idr5::GRAN16K.mask() | idr5::GRAN64K.mask())
        });
        check_eq!(
            decode(&only4k, &QEMU_PLAT)
                .map_err(|_| failure!("decode() failed"))?
                .pgsize_bitmap,
            0x4020_1000u64
        );
        let none = with_idr(only4k, 5, |r| r & !idr5::GRAN4K.mask());
        check!(decode(&none, &QEMU_PLAT) == Err(DecodeError::NoGranule));
        Ok(())
    }

    /// Described by IORT: HTTU comes from the firmware, not IDR0, and a
    /// disagreement is reported; the model's options reach `Options`.
    pub fn decode_acpi_firmware_options() -> TestResult {
        // IDR0.HTTU = access + dirty (2).
        let id = with_idr(qemu_idrs(true, true), 0, |r| r | 2 << 6);
        let acpi = Platform {
            of_node: false,
            fw_httu: 1,
            page0_regs_only: true,
            ..QEMU_PLAT
        };
        let info = decode(&id, &acpi).map_err(|_| failure!("decode() failed"))?;
        check!(info.features.contains(Features::HA));
        check!(!info.features.contains(Features::HD));
        check!(info.httu_mismatch == Some((Features::HA.with(Features::HD).0, Features::HA.0)));
        check!(info.options.page0_regs_only && !info.options.skip_prefetch);
        // PAGE0_REGS_ONLY only (QEMU's SMMU has no MSIs: no MSIPOLL).
        check_eq!(info.options.mask(), 0b10u32);
        // The same registers from DT: IDR0 wins, nothing to report.
        let dt = decode(&id, &QEMU_PLAT).map_err(|_| failure!("decode() failed"))?;
        check!(dt.features.contains(Features::HD) && dt.httu_mismatch.is_none());
        check_eq!(dt.options.mask(), 0u32);
        Ok(())
    }

    pub fn decode_iidr_errata() -> TestResult {
        let mut id = qemu_idrs(true, true);
        id.idr[0] |= idr0::SEV.mask() as u32;
        let mmu600 = |v: u64, r: u64| {
            iidr::IMPLEMENTER.prep(iidr::IMPLEMENTER_ARM)
                | iidr::PRODUCTID.prep(iidr::PRODUCTID_ARM_MMU_600)
                | iidr::VARIANT.prep(v)
                | iidr::REVISION.prep(r)
        };
        id.iidr = mmu600(0, 2) as u32;
        let f = decode(&id, &QEMU_PLAT)
            .map_err(|_| failure!("decode() failed"))?
            .features;
        check!(!f.contains(Features::SEV) && !f.contains(Features::NESTING));
        id.iidr = mmu600(2, 0) as u32;
        let f = decode(&id, &QEMU_PLAT)
            .map_err(|_| failure!("decode() failed"))?
            .features;
        check!(f.contains(Features::SEV) && f.contains(Features::NESTING));
        id.iidr = (iidr::IMPLEMENTER.prep(iidr::IMPLEMENTER_ARM)
            | iidr::PRODUCTID.prep(iidr::PRODUCTID_ARM_MMU_700)) as u32;
        let info = decode(&id, &QEMU_PLAT).map_err(|_| failure!("decode() failed"))?;
        check!(info.options.cmdq_force_sync && !info.features.contains(Features::NESTING));
        Ok(())
    }
}

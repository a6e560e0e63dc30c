// SPDX-License-Identifier: GPL-2.0

//! Command queue commands: a typed [`Cmd`] encoded to the two qwords the
//! SMMU reads (`arm_smmu_make_cmd_*()`), the TLBI range splitting of
//! `arm_smmu_cmdq_batch_add_range()` as an iterator, and the ATC
//! invalidation size of `arm_smmu_atc_inv_to_cmd()`.

use super::bits::Field;

/// Command field positions (`CMDQ_*`).
pub mod field {
    use super::Field;

    /// Qword 0: opcode.
    pub const OP: Field = Field::new(7, 0);
    /// Qword 0: SubstreamID valid.
    pub const SSV: Field = Field::bit(11);
    /// Qword 0 (PREFETCH, CFGI, ATC, PRI, RESUME): StreamID.
    pub const SID: Field = Field::new(63, 32);
    /// Qword 0 (CFGI_CD, ATC_INV, PRI_RESP): SubstreamID.
    pub const SSID: Field = Field::new(31, 12);
    /// Qword 1 (CFGI): leaf.
    pub const CFGI_LEAF: Field = Field::bit(0);
    /// Qword 1 (CFGI_STE_RANGE): log2 of the StreamIDs invalidated.
    pub const CFGI_RANGE: Field = Field::new(4, 0);
    /// Qword 0 (TLBI): range NUM.
    pub const TLBI_NUM: Field = Field::new(16, 12);
    /// Qword 0 (TLBI): range SCALE.
    pub const TLBI_SCALE: Field = Field::new(25, 20);
    /// Qword 0 (TLBI): VMID.
    pub const TLBI_VMID: Field = Field::new(47, 32);
    /// Qword 0 (TLBI): ASID.
    pub const TLBI_ASID: Field = Field::new(63, 48);
    /// Qword 1 (TLBI): leaf.
    pub const TLBI_LEAF: Field = Field::bit(0);
    /// Qword 1 (TLBI): translation table level hint.
    pub const TLBI_TTL: Field = Field::new(9, 8);
    /// Qword 1 (TLBI): translation granule of a range.
    pub const TLBI_TG: Field = Field::new(11, 10);
    /// Qword 1 (TLBI): address bits 63:12.
    pub const TLBI_ADDR: Field = Field::new(63, 12);
    /// Qword 1 (ATC_INV): log2 of the 4K pages invalidated.
    pub const ATC_SIZE: Field = Field::new(5, 0);
    /// Qword 1 (ATC_INV): address bits 63:12.
    pub const ATC_ADDR: Field = Field::new(63, 12);
    /// Qword 1 (PRI_RESP): page request group index.
    pub const PRI_GRPID: Field = Field::new(8, 0);
    /// Qword 1 (PRI_RESP): response.
    pub const PRI_RESP: Field = Field::new(13, 12);
    /// Qword 0 (RESUME): response.
    pub const RESUME_RESP: Field = Field::new(13, 12);
    /// Qword 1 (RESUME): stall tag.
    pub const RESUME_STAG: Field = Field::new(15, 0);
    /// Qword 0 (CMD_SYNC): completion signal.
    pub const SYNC_CS: Field = Field::new(13, 12);
    /// Qword 0 (CMD_SYNC): MSI shareability.
    pub const SYNC_MSH: Field = Field::new(23, 22);
    /// Qword 0 (CMD_SYNC): MSI memory attributes.
    pub const SYNC_MSIATTR: Field = Field::new(27, 24);
    /// Qword 0 (CMD_SYNC): MSI data.
    pub const SYNC_MSIDATA: Field = Field::new(63, 32);
    /// Qword 1 (CMD_SYNC): MSI address bits 51:2.
    pub const SYNC_MSIADDR: Field = Field::new(51, 2);
}

/// Command opcodes (`enum arm_smmu_cmdq_opcode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Opcode {
    /// PREFETCH_CFG.
    PrefetchCfg = 0x01,
    /// CFGI_STE.
    CfgiSte = 0x03,
    /// CFGI_STE_RANGE (CFGI_ALL is its Range=31 form).
    CfgiSteRange = 0x04,
    /// CFGI_CD.
    CfgiCd = 0x05,
    /// CFGI_CD_ALL.
    CfgiCdAll = 0x06,
    /// TLBI_NH_ALL.
    TlbiNhAll = 0x10,
    /// TLBI_NH_ASID.
    TlbiNhAsid = 0x11,
    /// TLBI_NH_VA.
    TlbiNhVa = 0x12,
    /// TLBI_NH_VAA.
    TlbiNhVaa = 0x13,
    /// TLBI_EL2_ALL.
    TlbiEl2All = 0x20,
    /// TLBI_EL2_ASID.
    TlbiEl2Asid = 0x21,
    /// TLBI_EL2_VA.
    TlbiEl2Va = 0x22,
    /// TLBI_S12_VMALL.
    TlbiS12Vmall = 0x28,
    /// TLBI_S2_IPA.
    TlbiS2Ipa = 0x2a,
    /// TLBI_NSNH_ALL.
    TlbiNsnhAll = 0x30,
    /// ATC_INV.
    AtcInv = 0x40,
    /// PRI_RESP.
    PriResp = 0x41,
    /// RESUME.
    Resume = 0x44,
    /// CMD_SYNC.
    Sync = 0x46,
}

/// A SubstreamID (PASID): at most 20 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ssid(u32);

impl Ssid {
    /// SubstreamID 0, which the driver uses for "no PASID".
    pub const ZERO: Self = Self(0);

    /// `ssid` if it fits in 20 bits.
    pub const fn new(ssid: u32) -> Option<Self> {
        if ssid >> 20 == 0 {
            Some(Self(ssid))
        } else {
            None
        }
    }

    /// The value.
    pub const fn get(self) -> u32 {
        self.0
    }
}

/// The address part of a TLBI by VA/IPA: the page, leaf hint and, for
/// range invalidation (`ARM_SMMU_FEAT_RANGE_INV`), NUM/SCALE/TG/TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlbiVa {
    addr: u64,
    leaf: bool,
    num: u8,
    scale: u8,
    tg: u8,
    ttl: u8,
}

impl TlbiVa {
    /// One page (no range fields) at `addr`; bits 11:0 are dropped.
    pub const fn page(addr: u64, leaf: bool) -> Self {
        Self {
            addr: addr & field::TLBI_ADDR.mask(),
            leaf,
            num: 0,
            scale: 0,
            tg: 0,
            ttl: 0,
        }
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// The address range `[start, start + len)` this command invalidates:
    /// one entry of `granule` bytes without range fields, else
    /// `(NUM + 1) << SCALE` pages of the TG page size.
    pub const fn extent(&self, granule: u64) -> (u64, u64) {
        if self.tg == 0 {
            return (self.addr, granule);
        }
        let page_shift = 12 + 2 * (self.tg as u32 - 1);
        let len = (self.num as u64 + 1) << (self.scale as u32 + page_shift);
        (self.addr, len)
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// `(NUM + 1) << SCALE` pages of granule `tg` (1: 4K, 2: 16K, 3: 64K)
    /// from `addr`, at level hint `ttl`; `None` when a field does not fit.
    pub const fn range(addr: u64, leaf: bool, num: u8, scale: u8, tg: u8, ttl: u8) -> Option<Self> {
        if num > 31 || scale > 63 || tg == 0 || tg > 3 || ttl > 3 {
            return None;
        }
        Some(Self {
            addr: addr & field::TLBI_ADDR.mask(),
            leaf,
            num,
            scale,
            tg,
            ttl,
        })
    }

    const fn q0(&self) -> u64 {
        field::TLBI_NUM.prep(self.num as u64) | field::TLBI_SCALE.prep(self.scale as u64)
    }

    const fn q1(&self) -> u64 {
        field::TLBI_LEAF.prep(self.leaf as u64)
            | field::TLBI_TTL.prep(self.ttl as u64)
            | field::TLBI_TG.prep(self.tg as u64)
            | self.addr
    }
}

/// The span of an ATC invalidation: `1 << log2_pages` 4K pages, aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtcSpan {
    addr: u64,
    log2_pages: u8,
}

/// `ATC_INV_SIZE_ALL`: the size that invalidates the whole ATC.
pub const ATC_INV_SIZE_ALL: u8 = 52;

impl AtcSpan {
    /// Everything (`arm_smmu_make_cmd_atc_inv_all()`).
    pub const ALL: Self = Self {
        addr: 0,
        log2_pages: ATC_INV_SIZE_ALL,
    };

    /// The smallest aligned power-of-two span of 4K pages covering
    /// `[iova, iova + size)` (`arm_smmu_atc_inv_to_cmd()`); `size` 0 means
    /// everything, as in C where `iova + size - 1` wraps.
    pub const fn covering(iova: u64, size: u64) -> Self {
        const SHIFT: u32 = 12;
        let start = iova >> SHIFT;
        let end = iova.wrapping_add(size).wrapping_sub(1) >> SHIFT;
        let x = start ^ end;
        let log2_span = 64 - x.leading_zeros();
        let span_mask = match 1u64.checked_shl(log2_span) {
            Some(v) => v - 1,
            None => u64::MAX,
        };
        Self {
            addr: (start & !span_mask) << SHIFT,
            log2_pages: log2_span as u8,
        }
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// The first address.
    pub const fn addr(&self) -> u64 {
        self.addr
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// log2 of the number of 4K pages.
    pub const fn log2_pages(&self) -> u8 {
        self.log2_pages
    }
}

/// A PRI response (`enum pri_resp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriResp {
    /// Deny.
    Deny = 0,
    /// Failure.
    Fail = 1,
    /// Success.
    Success = 2,
}

/// A RESUME response (`CMDQ_RESUME_0_RESP_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResumeResp {
    /// Terminate the transaction.
    Term = 0,
    /// Retry it.
    Retry = 1,
    /// Abort it.
    Abort = 2,
}

/// How a CMD_SYNC signals completion (`CMDQ_SYNC_0_CS_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncCs {
    /// No signal: poll CONS.
    None,
    /// Write the MSI (the driver points it at the CMD_SYNC itself).
    Irq {
        /// MSI address (bits 51:2 used).
        msi_addr: u64,
        /// MSI data (0 in the C driver: the write clears the command).
        msi_data: u32,
    },
    /// Send an event (WFE wake-up).
    Sev,
}

/// A command for the command queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    /// Prefetch the configuration of a stream.
    PrefetchCfg {
        /// StreamID.
        sid: u32,
    },
    /// Invalidate the cached STE of a stream (and its CDs unless leaf).
    CfgiSte {
        /// StreamID.
        sid: u32,
        /// Only the STE.
        leaf: bool,
    },
    /// Invalidate the STEs of `2^range` streams from `sid`.
    CfgiSteRange {
        /// First StreamID (aligned to the range).
        sid: u32,
        /// log2 of the number of streams, 0..=31 (kept to 5 bits).
        range: u8,
    },
    /// Invalidate every cached STE and CD (`arm_smmu_make_cmd_cfgi_all()`).
    CfgiAll,
    /// Invalidate one cached CD.
    CfgiCd {
        /// StreamID.
        sid: u32,
        /// SubstreamID.
        ssid: Ssid,
        /// Only the CD (not a level-1 descriptor).
        leaf: bool,
    },
    /// Invalidate every cached CD of a stream.
    CfgiCdAll {
        /// StreamID.
        sid: u32,
    },
    /// Invalidate all stage-1 entries of a VMID.
    TlbiNhAll {
        /// VMID.
        vmid: u16,
    },
    /// Invalidate the stage-1 entries of an ASID.
    TlbiNhAsid {
        /// ASID.
        asid: u16,
        /// VMID.
        vmid: u16,
    },
    /// Invalidate stage-1 entries by VA and ASID.
    TlbiNhVa {
        /// ASID.
        asid: u16,
        /// VMID.
        vmid: u16,
        /// Address and range.
        va: TlbiVa,
    },
    /// Invalidate stage-1 entries by VA, all ASIDs.
    TlbiNhVaa {
        /// VMID.
        vmid: u16,
        /// Address and range.
        va: TlbiVa,
    },
    /// Invalidate all EL2 entries.
    TlbiEl2All,
    /// Invalidate the EL2 entries of an ASID.
    TlbiEl2Asid {
        /// ASID.
        asid: u16,
    },
    /// Invalidate EL2 entries by VA and ASID.
    TlbiEl2Va {
        /// ASID.
        asid: u16,
        /// Address and range.
        va: TlbiVa,
    },
    /// Invalidate stage-2 entries by IPA.
    TlbiS2Ipa {
        /// VMID.
        vmid: u16,
        /// Address and range.
        va: TlbiVa,
    },
    /// Invalidate all stage-1 and stage-2 entries of a VMID.
    TlbiS12Vmall {
        /// VMID.
        vmid: u16,
    },
    /// Invalidate all non-secure non-hypervisor entries.
    TlbiNsnhAll,
    /// Invalidate a device's ATC.
    AtcInv {
        /// StreamID.
        sid: u32,
        /// SubstreamID; 0 sends the invalidation without a PASID (SSV=0).
        ssid: Ssid,
        /// What to invalidate.
        span: AtcSpan,
    },
    /// Respond to a PRI page request group.
    PriResp {
        /// StreamID.
        sid: u32,
        /// SubstreamID, if the request had one.
        ssid: Option<Ssid>,
        /// Page request group index (9 bits kept).
        grpid: u16,
        /// Response.
        resp: PriResp,
    },
    /// Resume a stalled transaction.
    Resume {
        /// StreamID.
        sid: u32,
        /// Stall tag.
        stag: u16,
        /// Response.
        resp: ResumeResp,
    },
    /// Wait for every earlier command.
    Sync {
        /// Completion signal.
        cs: SyncCs,
    },
}

use super::regs::SH_ISH;
/// Outer and inner write-back (`ARM_SMMU_MEMATTR_OIWB`).
const MEMATTR_OIWB: u64 = 0xf;

const fn tlbi(op: Opcode, asid: u16, vmid: u16) -> u64 {
    field::OP.prep(op as u64)
        | field::TLBI_ASID.prep(asid as u64)
        | field::TLBI_VMID.prep(vmid as u64)
}

impl Cmd {
    /// The command's opcode.
    pub const fn opcode(&self) -> Opcode {
        match self {
            Self::PrefetchCfg { .. } => Opcode::PrefetchCfg,
            Self::CfgiSte { .. } => Opcode::CfgiSte,
            Self::CfgiSteRange { .. } | Self::CfgiAll => Opcode::CfgiSteRange,
            Self::CfgiCd { .. } => Opcode::CfgiCd,
            Self::CfgiCdAll { .. } => Opcode::CfgiCdAll,
            Self::TlbiNhAll { .. } => Opcode::TlbiNhAll,
            Self::TlbiNhAsid { .. } => Opcode::TlbiNhAsid,
            Self::TlbiNhVa { .. } => Opcode::TlbiNhVa,
            Self::TlbiNhVaa { .. } => Opcode::TlbiNhVaa,
            Self::TlbiEl2All => Opcode::TlbiEl2All,
            Self::TlbiEl2Asid { .. } => Opcode::TlbiEl2Asid,
            Self::TlbiEl2Va { .. } => Opcode::TlbiEl2Va,
            Self::TlbiS2Ipa { .. } => Opcode::TlbiS2Ipa,
            Self::TlbiS12Vmall { .. } => Opcode::TlbiS12Vmall,
            Self::TlbiNsnhAll => Opcode::TlbiNsnhAll,
            Self::AtcInv { .. } => Opcode::AtcInv,
            Self::PriResp { .. } => Opcode::PriResp,
            Self::Resume { .. } => Opcode::Resume,
            Self::Sync { .. } => Opcode::Sync,
        }
    }

    /// The two qwords of the command, as the C driver builds them.
    pub const fn encode(&self) -> [u64; 2] {
        use field::*;
        let op = OP.prep(self.opcode() as u64);
        match *self {
            Self::PrefetchCfg { sid } => [op | SID.prep(sid as u64), 0],
            Self::CfgiSte { sid, leaf } => [op | SID.prep(sid as u64), CFGI_LEAF.prep(leaf as u64)],
            Self::CfgiSteRange { sid, range } => {
                [op | SID.prep(sid as u64), CFGI_RANGE.prep(range as u64)]
            }
            Self::CfgiAll => [op, CFGI_RANGE.prep(31)],
            Self::CfgiCd { sid, ssid, leaf } => [
                op | SID.prep(sid as u64) | SSID.prep(ssid.0 as u64),
                CFGI_LEAF.prep(leaf as u64),
            ],
            Self::CfgiCdAll { sid } => [op | SID.prep(sid as u64), 0],
            Self::TlbiNhAll { vmid } => [tlbi(Opcode::TlbiNhAll, 0, vmid), 0],
            Self::TlbiNhAsid { asid, vmid } => [tlbi(Opcode::TlbiNhAsid, asid, vmid), 0],
            Self::TlbiNhVa { asid, vmid, va } => {
                [tlbi(Opcode::TlbiNhVa, asid, vmid) | va.q0(), va.q1()]
            }
            Self::TlbiNhVaa { vmid, va } => [tlbi(Opcode::TlbiNhVaa, 0, vmid) | va.q0(), va.q1()],
            Self::TlbiEl2All => [op, 0],
            Self::TlbiEl2Asid { asid } => [tlbi(Opcode::TlbiEl2Asid, asid, 0), 0],
            Self::TlbiEl2Va { asid, va } => [tlbi(Opcode::TlbiEl2Va, asid, 0) | va.q0(), va.q1()],
            Self::TlbiS2Ipa { vmid, va } => [tlbi(Opcode::TlbiS2Ipa, 0, vmid) | va.q0(), va.q1()],
            Self::TlbiS12Vmall { vmid } => [tlbi(Opcode::TlbiS12Vmall, 0, vmid), 0],
            Self::TlbiNsnhAll => [op, 0],
            Self::AtcInv { sid, ssid, span } => [
                op | SSV.prep((ssid.0 != 0) as u64)
                    | SSID.prep(ssid.0 as u64)
                    | SID.prep(sid as u64),
                ATC_SIZE.prep(span.log2_pages as u64) | (span.addr & ATC_ADDR.mask()),
            ],
            Self::PriResp {
                sid,
                ssid,
                grpid,
                resp,
            } => {
                let (ssv, ssid) = match ssid {
                    Some(s) => (1, s.0 as u64),
                    None => (0, 0),
                };
                [
                    op | SSV.prep(ssv) | SID.prep(sid as u64) | SSID.prep(ssid),
                    PRI_GRPID.prep(grpid as u64) | PRI_RESP.prep(resp as u64),
                ]
            }
            Self::Resume { sid, stag, resp } => [
                op | SID.prep(sid as u64) | RESUME_RESP.prep(resp as u64),
                RESUME_STAG.prep(stag as u64),
            ],
            Self::Sync { cs } => Self::sync_words(cs),
        }
    }

    /// `Cmd::Sync { cs }.encode()`, on its own so that the command queue's
    /// CMD_SYNC after every batch is built inline, without the match over
    /// every command.
    #[inline]
    pub const fn sync_words(cs: SyncCs) -> [u64; 2] {
        use field::*;
        let (cs, addr, data) = match cs {
            SyncCs::None => (0, 0, 0),
            SyncCs::Irq { msi_addr, msi_data } => (1, msi_addr, msi_data),
            SyncCs::Sev => (2, 0, 0),
        };
        [
            OP.prep(Opcode::Sync as u64)
                | SYNC_CS.prep(cs)
                | SYNC_MSH.prep(SH_ISH)
                | SYNC_MSIATTR.prep(MEMATTR_OIWB)
                | SYNC_MSIDATA.prep(data as u64),
            addr & SYNC_MSIADDR.mask(),
        ]
    }
}

impl Opcode {
    /// The opcode of a command's first byte, if this driver knows it.
    pub const fn from_raw(op: u8) -> Option<Self> {
        Some(match op {
            0x01 => Self::PrefetchCfg,
            0x03 => Self::CfgiSte,
            0x04 => Self::CfgiSteRange,
            0x05 => Self::CfgiCd,
            0x06 => Self::CfgiCdAll,
            0x10 => Self::TlbiNhAll,
            0x11 => Self::TlbiNhAsid,
            0x12 => Self::TlbiNhVa,
            0x13 => Self::TlbiNhVaa,
            0x20 => Self::TlbiEl2All,
            0x21 => Self::TlbiEl2Asid,
            0x22 => Self::TlbiEl2Va,
            0x28 => Self::TlbiS12Vmall,
            0x2a => Self::TlbiS2Ipa,
            0x30 => Self::TlbiNsnhAll,
            0x40 => Self::AtcInv,
            0x41 => Self::PriResp,
            0x44 => Self::Resume,
            0x46 => Self::Sync,
            _ => return None,
        })
    }
}

impl TlbiVa {
    /// The address fields of a TLBI-by-address command's two qwords.
    const fn decode(q0: u64, q1: u64) -> Self {
        use field::*;
        Self {
            addr: q1 & TLBI_ADDR.mask(),
            leaf: TLBI_LEAF.is_set(q1),
            num: TLBI_NUM.get(q0) as u8,
            scale: TLBI_SCALE.get(q0) as u8,
            tg: TLBI_TG.get(q1) as u8,
            ttl: TLBI_TTL.get(q1) as u8,
        }
    }
}

impl Cmd {
    /// The command in `raw`, as the SMMU reads it: what [`Cmd::encode`]
    /// made, or `None` for an opcode this driver does not issue or a field
    /// value no command of it carries. Bits the driver never sets are
    /// ignored, so `decode(encode(decode(raw)))` is `decode(raw)`.
    pub const fn decode(raw: &[u64; 2]) -> Option<Self> {
        use field::*;
        let [q0, q1] = *raw;
        let sid = SID.get(q0) as u32;
        let ssid = Ssid(SSID.get(q0) as u32);
        let asid = TLBI_ASID.get(q0) as u16;
        let vmid = TLBI_VMID.get(q0) as u16;
        let va = TlbiVa::decode(q0, q1);
        let Some(op) = Opcode::from_raw(OP.get(q0) as u8) else {
            return None;
        };
        Some(match op {
            Opcode::PrefetchCfg => Self::PrefetchCfg { sid },
            Opcode::CfgiSte => Self::CfgiSte {
                sid,
                leaf: CFGI_LEAF.is_set(q1),
            },
            Opcode::CfgiSteRange => match CFGI_RANGE.get(q1) as u8 {
                31 if sid == 0 => Self::CfgiAll,
                range => Self::CfgiSteRange { sid, range },
            },
            Opcode::CfgiCd => Self::CfgiCd {
                sid,
                ssid,
                leaf: CFGI_LEAF.is_set(q1),
            },
            Opcode::CfgiCdAll => Self::CfgiCdAll { sid },
            Opcode::TlbiNhAll => Self::TlbiNhAll { vmid },
            Opcode::TlbiNhAsid => Self::TlbiNhAsid { asid, vmid },
            Opcode::TlbiNhVa => Self::TlbiNhVa { asid, vmid, va },
            Opcode::TlbiNhVaa => Self::TlbiNhVaa { vmid, va },
            Opcode::TlbiEl2All => Self::TlbiEl2All,
            Opcode::TlbiEl2Asid => Self::TlbiEl2Asid { asid },
            Opcode::TlbiEl2Va => Self::TlbiEl2Va { asid, va },
            Opcode::TlbiS12Vmall => Self::TlbiS12Vmall { vmid },
            Opcode::TlbiS2Ipa => Self::TlbiS2Ipa { vmid, va },
            Opcode::TlbiNsnhAll => Self::TlbiNsnhAll,
            Opcode::AtcInv => {
                // An SSID is only meaningful with SSV set.
                if SSV.is_set(q0) == (ssid.0 == 0) {
                    return None;
                }
                Self::AtcInv {
                    sid,
                    ssid,
                    span: AtcSpan {
                        addr: q1 & ATC_ADDR.mask(),
                        log2_pages: ATC_SIZE.get(q1) as u8,
                    },
                }
            }
            Opcode::PriResp => Self::PriResp {
                sid,
                ssid: if SSV.is_set(q0) { Some(ssid) } else { None },
                grpid: PRI_GRPID.get(q1) as u16,
                resp: match PRI_RESP.get(q1) {
                    0 => PriResp::Deny,
                    1 => PriResp::Fail,
                    2 => PriResp::Success,
                    _ => return None,
                },
            },
            Opcode::Resume => Self::Resume {
                sid,
                stag: RESUME_STAG.get(q1) as u16,
                resp: match RESUME_RESP.get(q0) {
                    0 => ResumeResp::Term,
                    1 => ResumeResp::Retry,
                    2 => ResumeResp::Abort,
                    _ => return None,
                },
            },
            Opcode::Sync => Self::Sync {
                cs: match SYNC_CS.get(q0) {
                    0 => SyncCs::None,
                    1 => SyncCs::Irq {
                        msi_addr: q1 & SYNC_MSIADDR.mask(),
                        msi_data: SYNC_MSIDATA.get(q0) as u32,
                    },
                    2 => SyncCs::Sev,
                    _ => return None,
                },
            },
        })
    }
}

/// Which TLBI-by-address a range invalidation issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlbiKind {
    /// TLBI_NH_VA (stage 1, EL1).
    NhVa {
        /// ASID.
        asid: u16,
        /// VMID (0 for the driver's own stage-1 domains).
        vmid: u16,
    },
    /// TLBI_EL2_VA (stage 1 with E2H).
    El2Va {
        /// ASID.
        asid: u16,
    },
    /// TLBI_S2_IPA (stage 2).
    S2Ipa {
        /// VMID.
        vmid: u16,
    },
}

impl TlbiKind {
    const fn cmd(self, va: TlbiVa) -> Cmd {
        match self {
            Self::NhVa { asid, vmid } => Cmd::TlbiNhVa { asid, vmid, va },
            Self::El2Va { asid } => Cmd::TlbiEl2Va { asid, va },
            Self::S2Ipa { vmid } => Cmd::TlbiS2Ipa { vmid, va },
        }
    }
}

/// Why a range cannot be invalidated by address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeError {
    /// `size` is 0 (C warns and issues nothing).
    Empty,
    /// `iova + size` overflows.
    Overflow,
    /// The page size is not 4K, 16K or 64K.
    BadPageSize,
    /// The granule is not a power of two of at least 4K.
    BadGranule,
    /// With range invalidation, `size` must be a multiple of the page size.
    Unaligned,
}

/// The TLBI commands for `[iova, iova + size)`, one at a time, exactly as
/// `arm_smmu_cmdq_batch_add_range()` emits them.
///
/// Without range invalidation: one command per `granule`. With it
/// (`ARM_SMMU_FEAT_RANGE_INV`): each command covers `NUM << SCALE` pages,
/// taking the low set bits of the page count five at a time.
#[derive(Clone, Debug)]
pub struct TlbiRange {
    kind: TlbiKind,
    iova: u64,
    end: u64,
    granule: u64,
    leaf: bool,
    range: bool,
    num_pages: u64,
    tg: u32,
    tg_enc: u8,
    ttl: u8,
}

impl TlbiRange {
    /// The commands of `kind` invalidating `[iova, iova + size)` for a
    /// table with leaf pages of `1 << pgsize_shift` bytes, `granule` the
    /// size of the entries changed (`leaf`: only last-level entries), with
    /// or without range invalidation.
    pub fn new(
        kind: TlbiKind,
        iova: u64,
        size: u64,
        granule: u64,
        pgsize_shift: u32,
        leaf: bool,
        range: bool,
    ) -> Result<Self, RangeError> {
        if size == 0 {
            return Err(RangeError::Empty);
        }
        let end = iova.checked_add(size).ok_or(RangeError::Overflow)?;
        if !granule.is_power_of_two() || granule < 1 << 12 {
            return Err(RangeError::BadGranule);
        }
        let mut it = Self {
            kind,
            iova,
            end,
            granule,
            leaf,
            range,
            num_pages: 0,
            tg: pgsize_shift,
            tg_enc: 0,
            ttl: 0,
        };
        if range {
            if !matches!(pgsize_shift, 12 | 14 | 16) {
                return Err(RangeError::BadPageSize);
            }
            if size & ((1 << pgsize_shift) - 1) != 0 {
                return Err(RangeError::Unaligned);
            }
            it.num_pages = size >> pgsize_shift;
            // Page size 12, 14, 16 (log2) as 1, 2, 3.
            it.tg_enc = ((pgsize_shift - 10) / 2) as u8;
            if leaf {
                // The level of the granule (a leaf at that level).
                let lvl = (granule.ilog2() - 3) / (pgsize_shift - 3);
                it.ttl = (4u32.saturating_sub(lvl) & 3) as u8;
            } else if it.num_pages & 31 == 1 {
                // Non-leaf: TTL=0; avoid NUM=0,SCALE=0 (reserved with TTL=0)
                // by invalidating one page more.
                it.num_pages += 1;
            }
        }
        Ok(it)
    }
}

impl Iterator for TlbiRange {
    type Item = Cmd;

    // Inlined into the invalidation's loop: an unmap's range is usually
    // one command (`make profile`).
    #[inline]
    fn next(&mut self) -> Option<Cmd> {
        if self.iova >= self.end {
            return None;
        }
        let (va, step) = if self.range {
            if self.num_pages == 0 {
                return None;
            }
            let scale = self.num_pages.trailing_zeros();
            let num = (self.num_pages >> scale) & 31;
            self.num_pages -= num << scale;
            // As C: SCALE keeps 5 bits even when the scale is larger.
            let va = TlbiVa {
                addr: self.iova & field::TLBI_ADDR.mask(),
                leaf: self.leaf,
                num: (num - 1) as u8,
                scale: (scale & 0x1f) as u8,
                tg: self.tg_enc,
                ttl: self.ttl,
            };
            let step = num.checked_shl(scale + self.tg).unwrap_or(u64::MAX);
            (va, step)
        } else {
            (TlbiVa::page(self.iova, self.leaf), self.granule)
        };
        self.iova = self.iova.saturating_add(step);
        Some(self.kind.cmd(va))
    }
}

/// Whether invalidating `size` bytes by address would take too many
/// commands, so one by-ASID/VMID command is used instead
/// (`arm_smmu_inv_size_too_big()`; size 0 or `u64::MAX` means all).
pub const fn inv_size_too_big(range: bool, size: u64, granule: u64) -> bool {
    if size == 0 || size == u64::MAX {
        return true;
    }
    if range {
        return false;
    }
    if granule < 8 {
        return true;
    }
    // MAX_TLBI_OPS of arch/arm64: one granule's worth of 8-byte PTEs.
    let max_ops = 1u64 << (granule.ilog2() - 3);
    match max_ops.checked_mul(granule) {
        Some(limit) => size >= limit,
        None => false,
    }
}

/// Shared test cases (see [`crate::hw::selftest`]); each name says what it checks.
#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
#[allow(missing_docs)]
pub mod tests {
    use super::*;
    use crate::hw::selftest::{check, check_eq, failure, Rng, TestResult};

    fn ssid(v: u32) -> Ssid {
        Ssid::new(v).unwrap_or(Ssid::ZERO)
    }

    /// Known answers, derived by hand from the C macros' field positions
    /// and the values `arm_smmu_make_cmd_*()` set.
    /// Every command the driver builds decodes back to itself, and any
    /// two qwords decode (or not) without panicking, stably.
    pub fn cmd_decode_round_trip() -> TestResult {
        let mut rng = Rng::new(0xdec0_de01);
        for _ in 0..20_000 {
            let c = random_cmd(&mut rng);
            check!(Cmd::decode(&c.encode()) == Some(c));
            let raw = [rng.next_u64(), rng.next_u64()];
            if let Some(d) = Cmd::decode(&raw) {
                check!(Cmd::decode(&d.encode()) == Some(d));
                check_eq!(d.opcode() as u64, raw[0] & 0xff);
            }
        }
        Ok(())
    }

    /// A command as the driver would build one, with random fields.
    pub fn random_cmd(rng: &mut Rng) -> Cmd {
        let sid = rng.next_u64() as u32;
        let ssid = Ssid::new(rng.below(1 << 20) as u32).unwrap_or(Ssid::ZERO);
        let asid = rng.next_u64() as u16;
        let vmid = rng.next_u64() as u16;
        let leaf = rng.below(2) == 1;
        let va = match rng.below(2) {
            0 => TlbiVa::page(rng.next_u64(), leaf),
            _ => TlbiVa::range(
                rng.next_u64(),
                leaf,
                rng.below(32) as u8,
                rng.below(64) as u8,
                1 + rng.below(3) as u8,
                rng.below(4) as u8,
            )
            .unwrap_or(TlbiVa::page(0, leaf)),
        };
        match rng.below(19) {
            0 => Cmd::PrefetchCfg { sid },
            1 => Cmd::CfgiSte { sid, leaf },
            2 => Cmd::CfgiSteRange {
                sid: sid | 1,
                range: rng.below(32) as u8,
            },
            3 => Cmd::CfgiAll,
            4 => Cmd::CfgiCd { sid, ssid, leaf },
            5 => Cmd::CfgiCdAll { sid },
            6 => Cmd::TlbiNhAll { vmid },
            7 => Cmd::TlbiNhAsid { asid, vmid },
            8 => Cmd::TlbiNhVa { asid, vmid, va },
            9 => Cmd::TlbiNhVaa { vmid, va },
            10 => Cmd::TlbiEl2All,
            11 => Cmd::TlbiEl2Asid { asid },
            12 => Cmd::TlbiEl2Va { asid, va },
            13 => Cmd::TlbiS12Vmall { vmid },
            14 => Cmd::TlbiS2Ipa { vmid, va },
            15 => Cmd::TlbiNsnhAll,
            16 => Cmd::AtcInv {
                sid,
                ssid,
                span: AtcSpan::covering(rng.next_u64(), rng.next_u64() >> rng.below(64)),
            },
            17 => Cmd::PriResp {
                sid,
                ssid: if leaf { Some(ssid) } else { None },
                grpid: rng.below(512) as u16,
                resp: [PriResp::Deny, PriResp::Fail, PriResp::Success][rng.below(3) as usize],
            },
            _ => Cmd::Sync {
                cs: match rng.below(3) {
                    0 => SyncCs::None,
                    1 => SyncCs::Irq {
                        msi_addr: rng.next_u64() & field::SYNC_MSIADDR.mask(),
                        msi_data: rng.next_u64() as u32,
                    },
                    _ => SyncCs::Sev,
                },
            },
        }
    }

    pub fn cmd_known_answers() -> TestResult {
        let table: [(Cmd, [u64; 2]); 16] = [
            (Cmd::PrefetchCfg { sid: 0xabc }, [0x0000_0abc_0000_0001, 0]),
            (
                Cmd::CfgiSte {
                    sid: 0x1234,
                    leaf: true,
                },
                [0x0000_1234_0000_0003, 1],
            ),
            (Cmd::CfgiAll, [0x4, 31]),
            (
                Cmd::CfgiSteRange {
                    sid: 0x100,
                    range: 8,
                },
                [0x0000_0100_0000_0004, 8],
            ),
            (
                Cmd::CfgiCd {
                    sid: 5,
                    ssid: ssid(7),
                    leaf: true,
                },
                [0x0000_0005_0000_7005, 1],
            ),
            (Cmd::CfgiCdAll { sid: 5 }, [0x0000_0005_0000_0006, 0]),
            (
                Cmd::TlbiNhAsid {
                    asid: 0x1234,
                    vmid: 0,
                },
                [0x1234_0000_0000_0011, 0],
            ),
            (Cmd::TlbiS12Vmall { vmid: 7 }, [0x0000_0007_0000_0028, 0]),
            (Cmd::TlbiNhAll { vmid: 3 }, [0x0000_0003_0000_0010, 0]),
            (Cmd::TlbiEl2All, [0x20, 0]),
            (Cmd::TlbiNsnhAll, [0x30, 0]),
            (
                Cmd::AtcInv {
                    sid: 0x10,
                    ssid: ssid(3),
                    span: AtcSpan::covering(0x5000, 0x3000),
                },
                [0x0000_0010_0000_3840, 0x4002],
            ),
            (
                Cmd::AtcInv {
                    sid: 0x10,
                    ssid: Ssid::ZERO,
                    span: AtcSpan::ALL,
                },
                [0x0000_0010_0000_0040, 52],
            ),
            (
                Cmd::PriResp {
                    sid: 9,
                    ssid: Some(ssid(2)),
                    grpid: 0x1ff,
                    resp: PriResp::Success,
                },
                [0x0000_0009_0000_2841, 0x21ff],
            ),
            (
                Cmd::Resume {
                    sid: 9,
                    stag: 0xbeef,
                    resp: ResumeResp::Retry,
                },
                [0x0000_0009_0000_1044, 0xbeef],
            ),
            (Cmd::Sync { cs: SyncCs::Sev }, [0x0fc0_2046, 0]),
        ];
        for (cmd, want) in table {
            let got = cmd.encode();
            check_eq!(got[0], want[0]);
            check_eq!(got[1], want[1]);
        }
        let irq = Cmd::Sync {
            cs: SyncCs::Irq {
                msi_addr: 0x8000_1233,
                msi_data: 0,
            },
        };
        check_eq!(irq.encode()[0], 0x0fc0_1046u64);
        check_eq!(irq.encode()[1], 0x8000_1230u64);
        check!(Ssid::new(1 << 20).is_none());
        Ok(())
    }

    /// `arm_smmu_atc_inv_to_cmd()`'s examples and its size-0 "all" case.
    pub fn cmd_atc_span() -> TestResult {
        // Pages [8; 11]: span 4 at 8.
        let s = AtcSpan::covering(8 << 12, 4 << 12);
        check_eq!(s.addr(), 8u64 << 12);
        check_eq!(s.log2_pages(), 2u8);
        // Pages [7; 10]: span 16 at 0.
        let s = AtcSpan::covering(7 << 12, 4 << 12);
        check_eq!(s.addr(), 0u64);
        check_eq!(s.log2_pages(), 4u8);
        // One page.
        let s = AtcSpan::covering(0x1234_5000, 0x1000);
        check_eq!(s.log2_pages(), 0u8);
        check_eq!(s.addr(), 0x1234_5000u64);
        // Size 0 from 0 wraps to the whole 52-bit space, as in C.
        check!(AtcSpan::covering(0, 0) == AtcSpan::ALL);
        // Random ranges: the span covers the range and is aligned.
        let mut rng = Rng::new(0xa7c);
        for _ in 0..2000 {
            let iova = rng.below(1 << 48);
            let bits = rng.below(40);
            let size = 1 + rng.below(1 << bits);
            let s = AtcSpan::covering(iova, size);
            let len = 1u64 << (u32::from(s.log2_pages()) + 12);
            check_eq!(s.addr() & (len - 1), 0u64);
            check!(s.addr() <= iova);
            check!(s.addr() + len >= iova + size);
        }
        Ok(())
    }

    fn q(c: Option<Cmd>) -> [u64; 2] {
        match c {
            Some(c) => c.encode(),
            None => [0, 0],
        }
    }

    /// Range splitting: 33 pages of 4K at 0x10000, leaf, 4K granule: one
    /// page (NUM 0, SCALE 0) then 32 pages (NUM 0, SCALE 5), TG=1, TTL=3.
    pub fn cmd_tlbi_range_split() -> TestResult {
        let kind = TlbiKind::NhVa { asid: 1, vmid: 0 };
        let mut it = TlbiRange::new(kind, 0x10000, 0x21000, 0x1000, 12, true, true)
            .map_err(|_| failure!("TlbiRange::new() failed"))?;
        check_eq!(q(it.next())[0], 0x0001_0000_0000_0012u64);
        check_eq!(q(it.next())[1], 0x0001_1701u64);
        let mut it = TlbiRange::new(kind, 0x10000, 0x21000, 0x1000, 12, true, true)
            .map_err(|_| failure!("TlbiRange::new() failed"))?;
        check_eq!(q(it.next())[1], 0x0001_0701u64);
        check_eq!(q(it.next())[0], 0x0001_0000_0050_0012u64);
        check!(it.next().is_none());
        // Non-leaf single page: one page more so NUM/SCALE are not 0/0.
        let mut it = TlbiRange::new(
            TlbiKind::S2Ipa { vmid: 9 },
            0x4000,
            0x1000,
            0x1000,
            12,
            false,
            true,
        )
        .map_err(|_| failure!("TlbiRange::new() failed"))?;
        let c = q(it.next());
        check_eq!(c[0], 0x0000_0009_0010_002au64);
        check_eq!(c[1], 0x4400u64);
        check!(it.next().is_none());
        // Leaf 2M blocks in a 4K table: TTL 2; 1G: TTL 1.
        let mut it = TlbiRange::new(kind, 0, 0x40_0000, 0x20_0000, 12, true, true)
            .map_err(|_| failure!("TlbiRange::new() failed"))?;
        check_eq!(field::TLBI_TTL.get(q(it.next())[1]), 2u64);
        let mut it = TlbiRange::new(kind, 0, 0x4000_0000, 0x4000_0000, 12, true, true)
            .map_err(|_| failure!("TlbiRange::new() failed"))?;
        check_eq!(field::TLBI_TTL.get(q(it.next())[1]), 1u64);
        // Without range invalidation: one command per granule.
        let it = TlbiRange::new(kind, 0x1000, 0x3000, 0x1000, 12, true, false)
            .map_err(|_| failure!("TlbiRange::new() failed"))?;
        let mut n = 0u64;
        for (i, c) in it.enumerate() {
            let c = c.encode();
            check_eq!(c[0], 0x0001_0000_0000_0012u64);
            check_eq!(c[1], 0x1001 + 0x1000 * i as u64);
            n += 1;
        }
        check_eq!(n, 3u64);
        check!(TlbiRange::new(kind, 0, 0, 0x1000, 12, true, true).is_err());
        check!(TlbiRange::new(kind, u64::MAX, 2, 0x1000, 12, true, true).is_err());
        check!(TlbiRange::new(kind, 0, 0x1800, 0x1000, 12, true, true).is_err());
        check!(TlbiRange::new(kind, 0, 0x1000, 0x1000, 13, true, true).is_err());
        Ok(())
    }

    /// For random page-aligned ranges the range commands cover exactly the
    /// pages (plus one for a non-leaf count ending in 1) in at most 13
    /// commands, each a valid range.
    pub fn cmd_tlbi_range_random() -> TestResult {
        let mut rng = Rng::new(0x7b1);
        for _ in 0..2000 {
            let tg = [12u32, 14, 16][rng.below(3) as usize % 3];
            let bits = rng.below(30);
            let pages = 1 + rng.below(1 << bits);
            let iova = rng.below(1 << 20) << tg;
            let leaf = rng.below(2) == 1;
            let kind = TlbiKind::El2Va { asid: 5 };
            let it = TlbiRange::new(kind, iova, pages << tg, 1 << tg, tg, leaf, true)
                .map_err(|_| failure!("TlbiRange::new() failed"))?;
            let mut covered = 0u64;
            let mut next = iova;
            let mut n = 0;
            for c in it {
                let c = c.encode();
                check_eq!(c[1] & field::TLBI_ADDR.mask(), next);
                let num = field::TLBI_NUM.get(c[0]) + 1;
                let scale = field::TLBI_SCALE.get(c[0]);
                check!(num != 0 && scale < 32);
                let p = num << scale;
                covered += p;
                next += p << tg;
                n += 1;
            }
            let want = if !leaf && pages & 31 == 1 {
                pages + 1
            } else {
                pages
            };
            check_eq!(covered, want);
            check!(n <= 13);
        }
        Ok(())
    }

    /// `arm_smmu_inv_size_too_big()`.
    pub fn cmd_inv_size_too_big() -> TestResult {
        check!(inv_size_too_big(true, 0, 0x1000));
        check!(inv_size_too_big(true, u64::MAX, 0x1000));
        check!(!inv_size_too_big(true, 1 << 40, 0x1000));
        // 4K granule: 512 ops of 4K = 2M.
        check!(!inv_size_too_big(false, 0x1f_f000, 0x1000));
        check!(inv_size_too_big(false, 0x20_0000, 0x1000));
        Ok(())
    }
}

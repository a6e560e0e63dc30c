// SPDX-License-Identifier: GPL-2.0

//! Event queue records, global errors and command queue errors.
//!
//! [`Event::decode`] turns a 32-byte event record into the fields the C
//! driver's `arm_smmu_decode_event()` extracts; its [`core::fmt::Display`]
//! prints the line `arm_smmu_dump_event()` logs, without allocating.
//! [`Gerror`] names the active global errors (`arm_smmu_gerror_handler()`)
//! and [`CmdqError`] the error code of CMDQ_CONS
//! (`__arm_smmu_cmdq_skip_err()`).

use super::bits::Field;
use super::cmd::{Cmd, SyncCs};
use super::regs::{cmdq_cons, gerror};
use core::fmt;

/// Fields of an event record (`EVTQ_*`).
pub mod field {
    use super::Field;
    /// Qword 0: event type.
    pub const ID: Field = Field::new(7, 0);
    /// Qword 0: SubstreamID valid.
    pub const SSV: Field = Field::bit(11);
    /// Qword 0: SubstreamID.
    pub const SSID: Field = Field::new(31, 12);
    /// Qword 0: StreamID.
    pub const SID: Field = Field::new(63, 32);
    /// Qword 1: stall tag.
    pub const STAG: Field = Field::new(15, 0);
    /// Qword 1: the transaction is stalled.
    pub const STALL: Field = Field::bit(31);
    /// Qword 1: privileged (PnU).
    pub const PNU: Field = Field::bit(33);
    /// Qword 1: instruction (InD).
    pub const IND: Field = Field::bit(34);
    /// Qword 1: read (RnW).
    pub const RNW: Field = Field::bit(35);
    /// Qword 1: the fault is in stage 2.
    pub const S2: Field = Field::bit(39);
    /// Qword 1: what caused the fault.
    pub const CLASS: Field = Field::new(41, 40);
    /// Qword 1: the faulting table walk was a read (TT_RnW).
    pub const TT_READ: Field = Field::bit(44);
    /// Qword 3: intermediate physical address.
    pub const IPA: Field = Field::new(51, 12);
    /// Qword 3: address of the faulting fetch.
    pub const FETCH_ADDR: Field = Field::new(51, 3);
}

/// The type of an event (the record's ID field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// 0x01: unsupported upstream transaction.
    Uut,
    /// 0x02: StreamID out of range.
    BadStreamId,
    /// 0x03: external abort fetching an STE.
    SteFetch,
    /// 0x04: invalid STE.
    BadSte,
    /// 0x05: ATS translation request not allowed.
    BadAtsTreq,
    /// 0x06: transaction without SubstreamID to a stream that needs one.
    StreamDisabled,
    /// 0x07: translated transaction not allowed.
    TranslForbidden,
    /// 0x08: SubstreamID out of range.
    BadSubstreamId,
    /// 0x09: external abort fetching a CD.
    CdFetch,
    /// 0x0a: invalid CD.
    BadCd,
    /// 0x0b: external abort on a table walk.
    WalkEabt,
    /// 0x10: translation fault.
    Translation,
    /// 0x11: address size fault.
    AddrSize,
    /// 0x12: access flag fault.
    Access,
    /// 0x13: permission fault.
    Permission,
    /// 0x20: TLB conflict.
    TlbConflict,
    /// 0x21: configuration cache conflict.
    CfgConflict,
    /// 0x24: page request hint.
    PageRequest,
    /// 0x25: external abort fetching a VMS.
    VmsFetch,
    /// An ID the architecture does not define (or IMPLEMENTATION DEFINED).
    Unknown(u8),
}

impl EventKind {
    /// The kind of event `id`.
    pub const fn from_id(id: u8) -> Self {
        match id {
            0x01 => Self::Uut,
            0x02 => Self::BadStreamId,
            0x03 => Self::SteFetch,
            0x04 => Self::BadSte,
            0x05 => Self::BadAtsTreq,
            0x06 => Self::StreamDisabled,
            0x07 => Self::TranslForbidden,
            0x08 => Self::BadSubstreamId,
            0x09 => Self::CdFetch,
            0x0a => Self::BadCd,
            0x0b => Self::WalkEabt,
            0x10 => Self::Translation,
            0x11 => Self::AddrSize,
            0x12 => Self::Access,
            0x13 => Self::Permission,
            0x20 => Self::TlbConflict,
            0x21 => Self::CfgConflict,
            0x24 => Self::PageRequest,
            0x25 => Self::VmsFetch,
            other => Self::Unknown(other),
        }
    }

    /// The event's ID.
    pub const fn id(self) -> u8 {
        match self {
            Self::Uut => 0x01,
            Self::BadStreamId => 0x02,
            Self::SteFetch => 0x03,
            Self::BadSte => 0x04,
            Self::BadAtsTreq => 0x05,
            Self::StreamDisabled => 0x06,
            Self::TranslForbidden => 0x07,
            Self::BadSubstreamId => 0x08,
            Self::CdFetch => 0x09,
            Self::BadCd => 0x0a,
            Self::WalkEabt => 0x0b,
            Self::Translation => 0x10,
            Self::AddrSize => 0x11,
            Self::Access => 0x12,
            Self::Permission => 0x13,
            Self::TlbConflict => 0x20,
            Self::CfgConflict => 0x21,
            Self::PageRequest => 0x24,
            Self::VmsFetch => 0x25,
            Self::Unknown(id) => id,
        }
    }

    /// The architected name (`F_TRANSLATION`), or `UNKNOWN`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Uut => "F_UUT",
            Self::BadStreamId => "C_BAD_STREAMID",
            Self::SteFetch => "F_STE_FETCH",
            Self::BadSte => "C_BAD_STE",
            Self::BadAtsTreq => "F_BAD_ATS_TREQ",
            Self::StreamDisabled => "F_STREAM_DISABLED",
            Self::TranslForbidden => "F_TRANSL_FORBIDDEN",
            Self::BadSubstreamId => "C_BAD_SUBSTREAMID",
            Self::CdFetch => "F_CD_FETCH",
            Self::BadCd => "C_BAD_CD",
            Self::WalkEabt => "F_WALK_EABT",
            Self::Translation => "F_TRANSLATION",
            Self::AddrSize => "F_ADDR_SIZE",
            Self::Access => "F_ACCESS",
            Self::Permission => "F_PERMISSION",
            Self::TlbConflict => "F_TLB_CONFLICT",
            Self::CfgConflict => "F_CFG_CONFLICT",
            Self::PageRequest => "E_PAGE_REQUEST",
            Self::VmsFetch => "F_VMS_FETCH",
            Self::Unknown(_) => "UNKNOWN",
        }
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// The name the C driver logs: its `event_str[]` table only names the
    /// events it defines an `EVT_ID_*` for; every other one is `UNKNOWN`.
    pub const fn c_name(self) -> &'static str {
        match self {
            Self::BadStreamId
            | Self::SteFetch
            | Self::BadSte
            | Self::StreamDisabled
            | Self::BadSubstreamId
            | Self::CdFetch
            | Self::BadCd
            | Self::Translation
            | Self::AddrSize
            | Self::Access
            | Self::Permission
            | Self::VmsFetch => self.name(),
            _ => "UNKNOWN",
        }
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// What the event means, in words.
    pub const fn reason(self) -> &'static str {
        match self {
            Self::Uut => "unsupported upstream transaction",
            Self::BadStreamId => "StreamID out of range of the stream table",
            Self::SteFetch => "external abort fetching the STE",
            Self::BadSte => "invalid STE",
            Self::BadAtsTreq => "ATS translation request not allowed",
            Self::StreamDisabled => "transaction without SubstreamID, STE.S1DSS terminates",
            Self::TranslForbidden => "translated (ATS) transaction not allowed",
            Self::BadSubstreamId => "SubstreamID out of range of the CD table",
            Self::CdFetch => "external abort fetching the CD",
            Self::BadCd => "invalid CD",
            Self::WalkEabt => "external abort on a translation table walk",
            Self::Translation => "translation fault",
            Self::AddrSize => "address size fault",
            Self::Access => "access flag fault",
            Self::Permission => "permission fault",
            Self::TlbConflict => "TLB conflict",
            Self::CfgConflict => "configuration cache conflict",
            Self::PageRequest => "page request hint",
            Self::VmsFetch => "external abort fetching the VMS",
            Self::Unknown(_) => "unknown event",
        }
    }

    /// A translation, address size, access or permission fault: the events
    /// `arm_smmu_dump_event()` logs with address, access and class.
    pub const fn is_translation_fault(self) -> bool {
        matches!(
            self,
            Self::Translation | Self::AddrSize | Self::Access | Self::Permission
        )
    }

    /// An STE, CD or VMS fetch abort: the events logged with `fetch_addr`.
    pub const fn is_fetch_fault(self) -> bool {
        matches!(self, Self::SteFetch | Self::CdFetch | Self::VmsFetch)
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// The events `arm_smmu_handle_event()` may hand to a device's fault
    /// handler (stalls, vSMMU); every other one is only logged.
    pub const fn is_reportable(self) -> bool {
        matches!(
            self,
            Self::BadSte
                | Self::StreamDisabled
                | Self::BadSubstreamId
                | Self::BadCd
                | Self::Translation
                | Self::AddrSize
                | Self::Access
                | Self::Permission
        )
    }
}

/// What caused a fault (CLASS, `event_class_str[]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultClass {
    /// 0: fetching a CD.
    Cd,
    /// 1: fetching a stage-1 translation table.
    Tt,
    /// 2: the input address itself.
    In,
    /// 3: reserved.
    Reserved,
}

impl FaultClass {
    /// The class of a CLASS field value (two bits; higher bits ignored).
    pub const fn from_bits(v: u64) -> Self {
        match v & 3 {
            0 => Self::Cd,
            1 => Self::Tt,
            2 => Self::In,
            _ => Self::Reserved,
        }
    }

    /// The C driver's description.
    pub const fn description(self) -> &'static str {
        match self {
            Self::Cd => "CD fetch",
            Self::Tt => "Stage 1 translation table fetch",
            Self::In => "Input address caused fault",
            Self::Reserved => "Reserved",
        }
    }
}

/// A decoded event record: every field `arm_smmu_decode_event()` extracts,
/// extracted the same way whatever the event's type (fields the type does
/// not define read as the record's RES0 bits, i.e. 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The event's type.
    pub kind: EventKind,
    /// StreamID.
    pub sid: u32,
    /// The record carries a SubstreamID.
    pub ssv: bool,
    /// SubstreamID; 0 (`IOMMU_NO_PASID`) unless `ssv`.
    pub ssid: u32,
    /// The transaction is stalled and waits for a RESUME with `stag`.
    pub stall: bool,
    /// Stall tag.
    pub stag: u16,
    /// Privileged access (PnU).
    pub privileged: bool,
    /// Instruction fetch (InD).
    pub instruction: bool,
    /// Read access (RnW).
    pub read: bool,
    /// The fault was raised by stage 2.
    pub s2: bool,
    /// What caused the fault.
    pub class: FaultClass,
    /// Permission fault on a table walk (CLASS = TT); only for
    /// [`EventKind::Permission`], as in C.
    pub class_tt: bool,
    /// The faulting table walk was a read (TT_RnW); meaningful with
    /// `class_tt`.
    pub tt_read: bool,
    /// Input address (qword 2).
    pub iova: u64,
    /// Intermediate physical address (qword 3, bits 51:12).
    pub ipa: u64,
    /// Address of a faulting fetch (qword 3, bits 51:3).
    pub fetch_addr: u64,
}

impl Event {
    /// Decodes a record as `arm_smmu_decode_event()` does. Every input
    /// decodes; unknown types give [`EventKind::Unknown`].
    pub const fn decode(raw: &[u64; 4]) -> Self {
        use field::*;
        let kind = EventKind::from_id(ID.get(raw[0]) as u8);
        let ssv = SSV.is_set(raw[0]);
        let class = FaultClass::from_bits(CLASS.get(raw[1]));
        Self {
            kind,
            sid: SID.get(raw[0]) as u32,
            ssv,
            ssid: if ssv { SSID.get(raw[0]) as u32 } else { 0 },
            stall: STALL.is_set(raw[1]),
            stag: STAG.get(raw[1]) as u16,
            privileged: PNU.is_set(raw[1]),
            instruction: IND.is_set(raw[1]),
            read: RNW.is_set(raw[1]),
            s2: S2.is_set(raw[1]),
            class,
            class_tt: matches!(kind, EventKind::Permission) && matches!(class, FaultClass::Tt),
            tt_read: TT_READ.is_set(raw[1]),
            iova: raw[2],
            ipa: raw[3] & IPA.mask(),
            fetch_addr: raw[3] & FETCH_ADDR.mask(),
        }
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// The PASID of the transaction, if it had one.
    pub const fn pasid(&self) -> Option<u32> {
        if self.ssv {
            Some(self.ssid)
        } else {
            None
        }
    }

    /// The line with the client's name where the C driver puts it
    /// (`client: 0000:00:01.0`); `None` prints `(unassigned sid)` as C does.
    pub const fn with_client<'a>(&'a self, client: Option<&'a str>) -> EventLine<'a> {
        EventLine {
            event: self,
            client: Some(match client {
                Some(c) => c,
                None => "(unassigned sid)",
            }),
        }
    }

    fn fmt_line(&self, f: &mut fmt::Formatter<'_>, client: Option<&str>) -> fmt::Result {
        write!(f, "event 0x{:02x} {}", self.kind.id(), self.kind.name())?;
        if let Some(c) = client {
            write!(f, " client: {c}")?;
        }
        write!(f, " sid: {:#x} ssid: {:#x}", self.sid, self.ssid)?;
        if self.kind.is_translation_fault() {
            write!(
                f,
                " iova: {:#x} ipa: {:#x} {} {} {} {} \"{}\"",
                self.iova,
                self.ipa,
                if self.privileged { "priv" } else { "unpriv" },
                if self.instruction { "inst" } else { "data" },
                if self.read { "read" } else { "write" },
                if self.s2 { "s2" } else { "s1" },
                self.class.description(),
            )?;
            if self.class_tt {
                f.write_str(if self.tt_read {
                    " ttd_read"
                } else {
                    " ttd_write"
                })?;
            }
            if self.stall {
                f.write_str(" stall")?;
            }
            write!(f, " stag: {:#x}", self.stag)
        } else if self.kind.is_fetch_fault() {
            write!(f, " fetch_addr: {:#x}", self.fetch_addr)
        } else {
            Ok(())
        }
    }
}

/// One log line for an event: `event 0x10 F_TRANSLATION sid: 0x8 ssid: 0x0
/// iova: ...`, the fields `arm_smmu_dump_event()` prints for its type.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_line(f, None)
    }
}

/// An [`Event`] line with the client's name ([`Event::with_client`]).
#[derive(Clone, Copy, Debug)]
pub struct EventLine<'a> {
    event: &'a Event,
    client: Option<&'a str>,
}

impl fmt::Display for EventLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.event.fmt_line(f, self.client)
    }
}

/// How the C driver logs a global error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// `dev_warn`.
    Warn,
    /// `dev_err`.
    Err,
}

/// One global error (a GERROR bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GerrorBit {
    /// Service failure mode: the SMMU stopped; the driver disables it.
    Sfm,
    /// The GERROR MSI write aborted.
    MsiGerrorAbt,
    /// The PRI queue MSI write aborted.
    MsiPriqAbt,
    /// The event queue MSI write aborted.
    MsiEvtqAbt,
    /// The CMD_SYNC MSI write aborted.
    MsiCmdqAbt,
    /// A PRI queue write aborted: requests may be lost.
    PriqAbt,
    /// An event queue write aborted: events may be lost.
    EvtqAbt,
    /// The command queue stopped on an error ([`CmdqError`]).
    Cmdq,
}

impl GerrorBit {
    /// Every bit, in the order `arm_smmu_gerror_handler()` handles them.
    pub const ALL: [Self; 8] = [
        Self::Sfm,
        Self::MsiGerrorAbt,
        Self::MsiPriqAbt,
        Self::MsiEvtqAbt,
        Self::MsiCmdqAbt,
        Self::PriqAbt,
        Self::EvtqAbt,
        Self::Cmdq,
    ];

    /// The bit's mask in GERROR.
    pub const fn mask(self) -> u32 {
        match self {
            Self::Sfm => gerror::SFM_ERR,
            Self::MsiGerrorAbt => gerror::MSI_GERROR_ABT_ERR,
            Self::MsiPriqAbt => gerror::MSI_PRIQ_ABT_ERR,
            Self::MsiEvtqAbt => gerror::MSI_EVTQ_ABT_ERR,
            Self::MsiCmdqAbt => gerror::MSI_CMDQ_ABT_ERR,
            Self::PriqAbt => gerror::PRIQ_ABT_ERR,
            Self::EvtqAbt => gerror::EVTQ_ABT_ERR,
            Self::Cmdq => gerror::CMDQ_ERR,
        }
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// The architected field name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sfm => "SFM_ERR",
            Self::MsiGerrorAbt => "MSI_GERROR_ABT_ERR",
            Self::MsiPriqAbt => "MSI_PRIQ_ABT_ERR",
            Self::MsiEvtqAbt => "MSI_EVTQ_ABT_ERR",
            Self::MsiCmdqAbt => "MSI_CMDQ_ABT_ERR",
            Self::PriqAbt => "PRIQ_ABT_ERR",
            Self::EvtqAbt => "EVTQ_ABT_ERR",
            Self::Cmdq => "CMDQ_ERR",
        }
    }

    /// The C driver's message. For [`GerrorBit::Cmdq`] C logs the
    /// [`CmdqError`] instead; this is its summary.
    pub const fn message(self) -> &'static str {
        match self {
            Self::Sfm => "device has entered Service Failure Mode!",
            Self::MsiGerrorAbt => "GERROR MSI write aborted",
            Self::MsiPriqAbt => "PRIQ MSI write aborted",
            Self::MsiEvtqAbt => "EVTQ MSI write aborted",
            Self::MsiCmdqAbt => "CMDQ MSI write aborted",
            Self::PriqAbt => "PRIQ write aborted -- events may have been lost",
            Self::EvtqAbt => "EVTQ write aborted -- events may have been lost",
            Self::Cmdq => "CMDQ error",
        }
    }

    /// How C logs it.
    pub const fn severity(self) -> Severity {
        match self {
            Self::MsiGerrorAbt | Self::MsiPriqAbt | Self::MsiEvtqAbt | Self::MsiCmdqAbt => {
                Severity::Warn
            }
            _ => Severity::Err,
        }
    }
}

/// The global errors not yet acknowledged: `GERROR ^ GERRORN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gerror {
    gerror: u32,
    active: u32,
}

impl Gerror {
    /// The pending errors given the two registers.
    pub const fn new(gerror: u32, gerrorn: u32) -> Self {
        Self {
            gerror,
            active: gerror ^ gerrorn,
        }
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// `GERROR ^ GERRORN` unmasked: what C's warning prints.
    pub const fn active(self) -> u32 {
        self.active
    }

    /// No error pending (`IRQ_NONE` in C): no bit of `GERROR_ERR_MASK`.
    pub const fn is_empty(self) -> bool {
        self.active & gerror::ERR_MASK == 0
    }

    /// Whether `bit` is pending.
    pub const fn contains(self, bit: GerrorBit) -> bool {
        self.active & bit.mask() != 0
    }

    /// The pending errors, in the order C handles them.
    pub fn iter(self) -> impl Iterator<Item = GerrorBit> {
        GerrorBit::ALL
            .into_iter()
            .filter(move |b| self.contains(*b))
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// The value to write to GERRORN to acknowledge every error pending
    /// when GERROR was read (C writes back GERROR).
    pub const fn ack(self) -> u32 {
        self.gerror
    }
}

/// What the driver does about a command queue error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmdqErrAction {
    /// Nothing: the SMMU resumes when GERRORN is written (no error, or
    /// an ATC invalidation timeout: the CMD_SYNC at CONS is retried).
    None,
    /// Log "retrying command fetch"; the fetch is retried.
    Retry,
    /// Log the command at CONS and replace it with
    /// [`CmdqError::replacement`].
    Skip,
}

/// The error code in CMDQ_CONS.ERR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmdqError {
    /// CERROR_NONE.
    None,
    /// CERROR_ILL: illegal command.
    Ill,
    /// CERROR_ABT: abort on command fetch.
    Abt,
    /// CERROR_ATC_INV_SYNC: ATC invalidation completion timeout.
    AtcInvSync,
    /// A code the architecture does not define (7 bits).
    Unknown(u8),
}

impl CmdqError {
    /// The error in a CMDQ_CONS value.
    pub const fn from_cons(cons: u32) -> Self {
        match cmdq_cons::ERR.get(cons as u64) {
            cmdq_cons::CERROR_NONE => Self::None,
            cmdq_cons::CERROR_ILL => Self::Ill,
            cmdq_cons::CERROR_ABT => Self::Abt,
            cmdq_cons::CERROR_ATC_INV_SYNC => Self::AtcInvSync,
            other => Self::Unknown(other as u8),
        }
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// The architected name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "CERROR_NONE",
            Self::Ill => "CERROR_ILL",
            Self::Abt => "CERROR_ABT",
            Self::AtcInvSync => "CERROR_ATC_INV_SYNC",
            Self::Unknown(_) => "CERROR_UNKNOWN",
        }
    }

    /// The C driver's message (`cerror_str[]`, else "Unknown").
    pub const fn message(self) -> &'static str {
        match self {
            Self::None => "No error",
            Self::Ill => "Illegal command",
            Self::Abt => "Abort on command fetch",
            Self::AtcInvSync => "ATC invalidate timeout",
            Self::Unknown(_) => "Unknown",
        }
    }

    /// What `__arm_smmu_cmdq_skip_err()` does.
    pub const fn action(self) -> CmdqErrAction {
        match self {
            Self::None | Self::AtcInvSync => CmdqErrAction::None,
            Self::Abt => CmdqErrAction::Retry,
            Self::Ill | Self::Unknown(_) => CmdqErrAction::Skip,
        }
    }

    /// The CMD_SYNC written over a skipped command: no completion signal
    /// when the queue is busy-polled, else SEV.
    pub const fn replacement(busy_polling: bool) -> Cmd {
        Cmd::Sync {
            cs: if busy_polling {
                SyncCs::None
            } else {
                SyncCs::Sev
            },
        }
    }
}

/// Shared test cases (see [`crate::hw::selftest`]); each name says what it checks.
#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
#[allow(missing_docs)]
pub mod tests {
    use super::*;
    use crate::hw::selftest::{check, check_eq, TestResult, TextBuf};

    fn line(d: impl fmt::Display) -> TextBuf {
        let mut b = TextBuf::new();
        // A line too long for the buffer shows as a mismatch.
        let _ = fmt::write(&mut b, format_args!("{d}"));
        b
    }

    /// Records built by hand from the `EVTQ_*` bit positions.
    pub fn event_known_answers() -> TestResult {
        // F_TRANSLATION, SID 0x8, SSV with SSID 0x5, stalled with STAG
        // 0x1234, PnU | RnW | CLASS=IN (2 << 40), IOVA 0xdead_b000, IPA in
        // qword 3 with junk below bit 12 and above bit 51.
        let raw = [
            0x0000_0008_0000_5810,
            0x0000_020a_8000_1234,
            0xdead_b000,
            0xf000_0001_2345_6fff,
        ];
        let e = Event::decode(&raw);
        check!(e.kind == EventKind::Translation);
        check_eq!(e.sid, 8u32);
        check!(e.ssv);
        check_eq!(e.ssid, 5u32);
        check!(e.pasid() == Some(5));
        check!(e.stall);
        check_eq!(e.stag, 0x1234u16);
        check!(e.privileged && e.read && !e.instruction && !e.s2);
        check!(e.class == FaultClass::In);
        check!(!e.class_tt);
        check_eq!(e.iova, 0xdead_b000u64);
        check_eq!(e.ipa, 0x1_2345_6000u64);
        check_eq!(e.fetch_addr, 0x1_2345_6ff8u64);

        // F_PERMISSION on a stage-2 table walk write: S2 (bit 39), CLASS=TT
        // (1 << 40), InD (bit 34), TT_READ clear; no SSV: SSID reads 0.
        let raw = [0xffff_ffff_0000_7013, 0x0000_0184_0000_0000, 0, 0];
        let e = Event::decode(&raw);
        check!(e.kind == EventKind::Permission);
        check_eq!(e.sid, 0xffff_ffffu32);
        check!(!e.ssv);
        check_eq!(e.ssid, 0u32);
        check!(e.pasid().is_none());
        check!(e.s2 && e.instruction && !e.read && !e.privileged && !e.stall);
        check!(e.class == FaultClass::Tt && e.class_tt && !e.tt_read);
        // ... and with TT_READ (bit 44).
        let e = Event::decode(&[raw[0], raw[1] | 0x1000_0000_0000, 0, 0]);
        check!(e.class_tt && e.tt_read);
        // C only sets class_tt for permission faults.
        let e = Event::decode(&[0x10, raw[1], 0, 0]);
        check!(e.class == FaultClass::Tt && !e.class_tt);

        // F_STE_FETCH: fetch address bits 51:3 of qword 3.
        let e = Event::decode(&[0x0000_0042_0000_0003, 0, 0, 0x0008_0000_4000_0047]);
        check!(e.kind == EventKind::SteFetch && e.kind.is_fetch_fault());
        check_eq!(e.sid, 0x42u32);
        check_eq!(e.fetch_addr, 0x0008_0000_4000_0040u64);
        Ok(())
    }

    pub fn event_all_ids() -> TestResult {
        let known: [(u8, &str, bool); 19] = [
            (0x01, "F_UUT", false),
            (0x02, "C_BAD_STREAMID", true),
            (0x03, "F_STE_FETCH", true),
            (0x04, "C_BAD_STE", true),
            (0x05, "F_BAD_ATS_TREQ", false),
            (0x06, "F_STREAM_DISABLED", true),
            (0x07, "F_TRANSL_FORBIDDEN", false),
            (0x08, "C_BAD_SUBSTREAMID", true),
            (0x09, "F_CD_FETCH", true),
            (0x0a, "C_BAD_CD", true),
            (0x0b, "F_WALK_EABT", false),
            (0x10, "F_TRANSLATION", true),
            (0x11, "F_ADDR_SIZE", true),
            (0x12, "F_ACCESS", true),
            (0x13, "F_PERMISSION", true),
            (0x20, "F_TLB_CONFLICT", false),
            (0x21, "F_CFG_CONFLICT", false),
            (0x24, "E_PAGE_REQUEST", false),
            (0x25, "F_VMS_FETCH", true),
        ];
        let mut n_known = 0;
        for id in 0..=255u8 {
            let e = Event::decode(&[u64::from(id) | 0xabcd_0000_0000_0000, 0, 0, 0]);
            check_eq!(e.kind.id(), id);
            check!(e.kind == EventKind::from_id(id));
            check_eq!(e.sid, 0xabcd_0000u32);
            match known.iter().find(|k| k.0 == id) {
                Some(&(_, name, in_c)) => {
                    n_known += 1;
                    check!(!matches!(e.kind, EventKind::Unknown(_)));
                    check!(e.kind.name() == name);
                    check!(e.kind.c_name() == if in_c { name } else { "UNKNOWN" });
                    check!(e.kind.reason() != "unknown event");
                }
                None => {
                    check!(e.kind == EventKind::Unknown(id));
                    check!(e.kind.name() == "UNKNOWN" && e.kind.c_name() == "UNKNOWN");
                }
            }
        }
        check_eq!(n_known, 19u32);
        // The groups of arm_smmu_dump_event() and arm_smmu_handle_event().
        let fetch = [0x03u8, 0x09, 0x25];
        let trans = [0x10u8, 0x11, 0x12, 0x13];
        let reportable = [0x04u8, 0x06, 0x08, 0x0a, 0x10, 0x11, 0x12, 0x13];
        for id in 0..=255u8 {
            let k = EventKind::from_id(id);
            check_eq!(k.is_fetch_fault(), fetch.contains(&id));
            check_eq!(k.is_translation_fault(), trans.contains(&id));
            check_eq!(k.is_reportable(), reportable.contains(&id));
        }
        Ok(())
    }

    pub fn event_display() -> TestResult {
        let raw = [
            0x0000_0008_0000_5810,
            0x0000_020a_8000_1234,
            0xdead_b000,
            0x0000_0001_2345_6000,
        ];
        let e = Event::decode(&raw);
        check!(
            line(e).as_str()
                == "event 0x10 F_TRANSLATION sid: 0x8 ssid: 0x5 iova: 0xdeadb000 \
                    ipa: 0x123456000 priv data read s1 \"Input address caused fault\" \
                    stall stag: 0x1234"
        );
        check!(
            line(e.with_client(Some("0000:00:01.0"))).as_str()
                == "event 0x10 F_TRANSLATION client: 0000:00:01.0 sid: 0x8 ssid: 0x5 \
                    iova: 0xdeadb000 ipa: 0x123456000 priv data read s1 \
                    \"Input address caused fault\" stall stag: 0x1234"
        );
        let perm = Event::decode(&[0x13, 0x0000_1184_0000_0000, 0, 0]);
        check!(
            line(perm).as_str()
                == "event 0x13 F_PERMISSION sid: 0x0 ssid: 0x0 iova: 0x0 ipa: 0x0 \
                    unpriv inst write s2 \"Stage 1 translation table fetch\" ttd_read \
                    stag: 0x0"
        );
        let fetch = Event::decode(&[0x0000_0003_0000_0009, 0, 0, 0x8000_1000]);
        check!(
            line(fetch.with_client(None)).as_str()
                == "event 0x09 F_CD_FETCH client: (unassigned sid) sid: 0x3 ssid: 0x0 \
                    fetch_addr: 0x80001000"
        );
        let bad = Event::decode(&[0x0000_0100_0000_0002, u64::MAX, u64::MAX, u64::MAX]);
        check!(line(bad).as_str() == "event 0x02 C_BAD_STREAMID sid: 0x100 ssid: 0x0");
        let unknown = Event::decode(&[0xe3, 0, 0, 0]);
        check!(line(unknown).as_str() == "event 0xe3 UNKNOWN sid: 0x0 ssid: 0x0");
        // The longest line fits a 256-byte buffer.
        let worst = Event::decode(&[u64::MAX ^ 0xff ^ 0x13, u64::MAX, u64::MAX, u64::MAX]);
        let l = line(worst.with_client(Some("0000:00:00.0")));
        check!(l.as_str().ends_with("stall stag: 0xffff"));
        Ok(())
    }

    pub fn event_gerror() -> TestResult {
        check!(Gerror::new(0, 0).is_empty());
        check!(Gerror::new(0x1fd, 0x1fd).is_empty());
        // Bit 1 and bits above 8 are not errors (GERROR_ERR_MASK = 0x1fd).
        let g = Gerror::new(0x8000_0002, 0);
        check!(g.is_empty());
        check_eq!(g.active(), 0x8000_0002u32);
        check_eq!(g.iter().count(), 0usize);

        // SFM (bit 8), MSI_EVTQ_ABT (bit 5) and CMDQ_ERR (bit 0) toggled;
        // EVTQ_ABT (bit 2) toggled earlier and already acknowledged.
        let g = Gerror::new(0x125, 0x004);
        check!(!g.is_empty());
        check_eq!(g.active(), 0x121u32);
        let mut it = g.iter();
        check!(it.next() == Some(GerrorBit::Sfm));
        check!(it.next() == Some(GerrorBit::MsiEvtqAbt));
        check!(it.next() == Some(GerrorBit::Cmdq));
        check!(it.next().is_none());
        check!(!g.contains(GerrorBit::EvtqAbt));
        check_eq!(g.ack(), 0x125u32);
        // Toggling back (GERROR bit cleared again) is also pending.
        check!(Gerror::new(0, gerror::PRIQ_ABT_ERR).contains(GerrorBit::PriqAbt));

        let masks = [0x100u32, 0x80, 0x40, 0x20, 0x10, 0x8, 0x4, 0x1];
        let mut all = 0;
        for (b, m) in GerrorBit::ALL.iter().zip(masks) {
            check_eq!(b.mask(), m);
            all |= m;
        }
        check_eq!(all, gerror::ERR_MASK);
        check!(GerrorBit::Sfm.name() == "SFM_ERR");
        check!(GerrorBit::Cmdq.name() == "CMDQ_ERR");
        check!(GerrorBit::MsiCmdqAbt.message() == "CMDQ MSI write aborted");
        check!(GerrorBit::MsiGerrorAbt.severity() == Severity::Warn);
        check!(GerrorBit::EvtqAbt.severity() == Severity::Err);
        check!(GerrorBit::EvtqAbt.message() == "EVTQ write aborted -- events may have been lost");
        Ok(())
    }

    pub fn event_cmdq_cons_err() -> TestResult {
        // CMDQ_CONS.ERR is bits 30:24; the index and wrap bits below and
        // bit 31 do not matter.
        let cases: [(u32, CmdqError, &str, CmdqErrAction); 6] = [
            (
                0x0000_0012,
                CmdqError::None,
                "No error",
                CmdqErrAction::None,
            ),
            (
                0x8100_0012,
                CmdqError::Ill,
                "Illegal command",
                CmdqErrAction::Skip,
            ),
            (
                0x0200_ffff,
                CmdqError::Abt,
                "Abort on command fetch",
                CmdqErrAction::Retry,
            ),
            (
                0x0300_0000,
                CmdqError::AtcInvSync,
                "ATC invalidate timeout",
                CmdqErrAction::None,
            ),
            (
                0x0400_0000,
                CmdqError::Unknown(4),
                "Unknown",
                CmdqErrAction::Skip,
            ),
            (
                0xff00_0000,
                CmdqError::Unknown(0x7f),
                "Unknown",
                CmdqErrAction::Skip,
            ),
        ];
        for (cons, err, msg, action) in cases {
            let e = CmdqError::from_cons(cons);
            check!(e == err);
            check!(e.message() == msg);
            check!(e.action() == action);
        }
        check!(CmdqError::Ill.name() == "CERROR_ILL");
        check!(CmdqError::AtcInvSync.name() == "CERROR_ATC_INV_SYNC");
        // The replacement CMD_SYNC: CS=SEV (2 << 12), MSH=ISH (3 << 22),
        // MSIATTR=OIWB (0xf << 24), or CS=NONE when busy-polling.
        check_eq!(CmdqError::replacement(false).encode()[0], 0x0fc0_2046u64);
        check_eq!(CmdqError::replacement(true).encode()[0], 0x0fc0_0046u64);
        check_eq!(CmdqError::replacement(true).encode()[1], 0u64);
        Ok(())
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Text decoding of what the driver tells the SMMU, for the debugfs files:
//! STEs and CDs field by field, and invalidation-array entries.
//!
//! Each decoder prints one line of `NAME=value` pairs, named as the
//! architecture names the fields, with symbolic values where the field is
//! an encoding (Config, S1Fmt, S1DSS, EATS, STRW, SHCFG, TG, PS/IPS). A
//! field is printed only where the entry's configuration gives it a
//! meaning, as [`super::ste::used`] decides which bits the SMMU reads.

use super::cd::field as cdf;
use super::invs::{Inv, InvType};
use super::ste::{cfg, field as stf};
use super::writer::Qwords;
use core::fmt::{self, Write};

/// Name of an `STE.Config` value.
const fn config_name(v: u64) -> &'static str {
    match v {
        cfg::ABORT => "abort",
        cfg::BYPASS => "bypass",
        cfg::S1_TRANS => "s1-trans",
        cfg::S2_TRANS => "s2-trans",
        cfg::NESTED => "nested",
        _ => "reserved",
    }
}

/// Address size of a TCR.IPS / VTCR.PS encoding.
const fn pa_bits(v: u64) -> u32 {
    match v {
        0 => 32,
        1 => 36,
        2 => 40,
        3 => 42,
        4 => 44,
        5 => 48,
        _ => 52,
    }
}

/// Granule of a TG0 / S2TG encoding.
const fn granule(v: u64) -> &'static str {
    match v {
        0 => "4K",
        1 => "64K",
        2 => "16K",
        _ => "reserved",
    }
}

/// Name of a shareability encoding.
const fn sh_name(v: u64) -> &'static str {
    match v {
        0 => "nsh",
        2 => "osh",
        3 => "ish",
        _ => "reserved",
    }
}

/// Name of a cacheability encoding (IRGN/ORGN, S1CIR/S1COR).
const fn cache_name(v: u64) -> &'static str {
    match v {
        0 => "nc",
        1 => "wbra",
        2 => "wt",
        _ => "wb",
    }
}

/// Writes the STE `ste` decoded on one line, without a newline.
pub fn ste(w: &mut impl Write, ste: &Qwords) -> fmt::Result {
    let (q0, q1, q2, q3) = (ste[0], ste[1], ste[2], ste[3]);
    if !stf::V.is_set(q0) {
        return w.write_str("V=0 (abort)");
    }
    let config = stf::CFG.get(q0);
    write!(w, "V=1 Config={}", config_name(config))?;
    if config == cfg::ABORT {
        return Ok(());
    }
    let s1 = config == cfg::S1_TRANS || config == cfg::NESTED;
    let s2 = config == cfg::S2_TRANS || config == cfg::NESTED;
    if s1 {
        let fmt = match stf::S1FMT.get(q0) {
            0 => "linear",
            1 => "2lvl-4k",
            2 => "2lvl-64k",
            _ => "reserved",
        };
        let s1dss = match stf::S1DSS.get(q1) {
            0 => "terminate",
            1 => "bypass",
            2 => "ssid0",
            _ => "reserved",
        };
        write!(
            w,
            " S1Fmt={} S1CDMax={} S1ContextPtr={:#x} S1DSS={} S1CIR={} S1COR={} S1CSH={} S1STALLD={}",
            fmt,
            stf::S1CDMAX.get(q0),
            q0 & stf::S1CTXPTR.mask(),
            s1dss,
            cache_name(stf::S1CIR.get(q1)),
            cache_name(stf::S1COR.get(q1)),
            sh_name(stf::S1CSH.get(q1)),
            stf::S1STALLD.get(q1),
        )?;
    }
    if s1 || s2 {
        let eats = match stf::EATS.get(q1) {
            0 => "abort",
            1 => "trans",
            2 => "s1chk",
            _ => "reserved",
        };
        write!(w, " EATS={eats}")?;
    }
    let strw = match stf::STRW.get(q1) {
        0 => "nsel1",
        2 => "el2",
        _ => "reserved",
    };
    let shcfg = match stf::SHCFG.get(q1) {
        0 => "nsh",
        1 => "incoming",
        2 => "osh",
        _ => "ish",
    };
    write!(w, " STRW={strw} SHCFG={shcfg}")?;
    if s2 {
        let vtcr = stf::VTCR.get(q2);
        write!(
            w,
            " S2VMID={} VTCR.T0SZ={} VTCR.SL0={} VTCR.IR0={} VTCR.OR0={} VTCR.SH0={} VTCR.TG={} VTCR.PS={}-bit S2AA64={} S2ENDI={} S2PTW={} S2S={} S2R={} S2FWB={} S2TTB={:#x}",
            stf::S2VMID.get(q2),
            stf::VTCR_S2T0SZ.get(vtcr),
            stf::VTCR_S2SL0.get(vtcr),
            cache_name(stf::VTCR_S2IR0.get(vtcr)),
            cache_name(stf::VTCR_S2OR0.get(vtcr)),
            sh_name(stf::VTCR_S2SH0.get(vtcr)),
            granule(stf::VTCR_S2TG.get(vtcr)),
            pa_bits(stf::VTCR_S2PS.get(vtcr)),
            stf::S2AA64.get(q2),
            stf::S2ENDI.get(q2),
            stf::S2PTW.get(q2),
            stf::S2S.get(q2),
            stf::S2R.get(q2),
            stf::S2FWB.get(q1),
            q3 & stf::S2TTB.mask(),
        )?;
    }
    Ok(())
}

/// Writes the CD `cd` decoded on one line, without a newline.
pub fn cd(w: &mut impl Write, cd: &Qwords) -> fmt::Result {
    let (q0, q1, q3) = (cd[0], cd[1], cd[3]);
    if !cdf::V.is_set(q0) {
        return w.write_str("V=0");
    }
    write!(
        w,
        "V=1 ASID={} AA64={} ENDI={} EPD0={} EPD1={} R={} A={} S={} ASET={} HA={} HD={} HAFT={}",
        cdf::ASID.get(q0),
        cdf::AA64.get(q0),
        cdf::ENDI.get(q0),
        cdf::EPD0.get(q0),
        cdf::EPD1.get(q0),
        cdf::R.get(q0),
        cdf::A.get(q0),
        cdf::S.get(q0),
        cdf::ASET.get(q0),
        cdf::HA.get(q0),
        cdf::HD.get(q0),
        cdf::HAFT.get(q1),
    )?;
    if !cdf::EPD0.is_set(q0) {
        write!(
            w,
            " T0SZ={} TG0={} IRGN0={} ORGN0={} SH0={} IPS={}-bit TBI0={} TTB0={:#x}",
            cdf::T0SZ.get(q0),
            granule(cdf::TG0.get(q0)),
            cache_name(cdf::IRGN0.get(q0)),
            cache_name(cdf::ORGN0.get(q0)),
            sh_name(cdf::SH0.get(q0)),
            pa_bits(cdf::IPS.get(q0)),
            cdf::TBI0.get(q0),
            q1 & cdf::TTB0.mask(),
        )?;
    }
    write!(w, " MAIR={:#018x}", cdf::MAIR.get(q3))
}

/// Writes the invalidation-array entry `inv` on one line, without a
/// newline: what it invalidates, its range granule and its users.
pub fn inv(w: &mut impl Write, inv: &Inv) -> fmt::Result {
    let what = match inv.ty() {
        InvType::S1Asid => "s1-asid",
        InvType::S2Vmid => "s2-vmid",
        #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
        InvType::S2VmidS1Clear => "s2-vmid-s1-clear",
        InvType::Ats => "ats",
        InvType::AtsFull => "ats-full",
        InvType::AtsBroken { full: false } => "ats-broken",
        InvType::AtsBroken { full: true } => "ats-full-broken",
    };
    write!(w, "smmu={:#x} {}={:#x}", inv.smmu().0, what, inv.id())?;
    if inv.ty().is_ats() {
        write!(w, " ssid={:#x}", inv.ssid())?;
    } else {
        match inv.pgsize_shift() {
            0 => w.write_str(" range=no")?,
            s => write!(w, " granule={}K", (1u64 << s) >> 10)?,
        }
        if inv.el2() {
            w.write_str(" el2")?;
        }
    }
    write!(w, " users={}", inv.users())
}

/// Shared test cases (see [`crate::hw::selftest`]); each name says what it checks.
#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
pub mod tests {
    use super::*;
    use crate::hw::cd::{Cd, HwUpdate, S1CdConfig, Tcr, Ttb0};
    use crate::hw::invs::{Inv, SmmuId};
    use crate::hw::selftest::{check, check_eq, failure, Failure, TestResult, TextBuf};
    use crate::hw::ste::{CdTable, CdTableFormat, S1Config, S1Dss, S2Config, Ste, SteCaps, Vtcr};

    /// `decode` run into a buffer; a failed write fails the case.
    fn text(decode: impl FnOnce(&mut TextBuf) -> fmt::Result) -> Result<TextBuf, Failure> {
        let mut b = TextBuf::new();
        decode(&mut b).map_err(|_| failure!("the decoder's output did not fit"))?;
        Ok(b)
    }

    /// Whether `b` holds `s` as a whole `NAME=value` item.
    fn has(b: &TextBuf, s: &str) -> bool {
        b.as_str().split(' ').any(|item| item == s)
    }

    /// An SMMU that overrides attributes: bypass STEs set SHCFG.
    fn caps() -> SteCaps {
        SteCaps {
            attr_types_ovr: true,
            ..SteCaps::default()
        }
    }

    /// Every STE constructor decodes to the fields it set.
    pub fn decode_ste_constructors() -> TestResult {
        let b = text(|w| ste(w, Ste::abort().qwords()))?;
        check_eq!(b.as_str().len(), "V=1 Config=abort".len());
        check!(has(&b, "Config=abort"));

        let b = text(|w| ste(w, &[0; 8]))?;
        check!(has(&b, "V=0"));

        let b = text(|w| ste(w, Ste::bypass(&caps()).qwords()))?;
        check!(has(&b, "Config=bypass"));
        check!(has(&b, "SHCFG=incoming"));
        check!(!has(&b, "EATS=abort"));

        let table = CdTable::new(0x4_1234_5000, CdTableFormat::Linear, 0)
            .map_err(|_| failure!("cd table"))?;
        let s1 = Ste::s1(
            &caps(),
            &S1Config {
                table,
                s1dss: S1Dss::Ssid0,
                stall: false,
                ats: true,
            },
        );
        let b = text(|w| ste(w, s1.qwords()))?;
        for want in [
            "Config=s1-trans",
            "S1Fmt=linear",
            "S1CDMax=0",
            "S1ContextPtr=0x412345000",
            "S1DSS=ssid0",
            "EATS=trans",
            "STRW=nsel1",
        ] {
            check!(has(&b, want));
        }
        check!(!b.as_str().contains("S2VMID"));

        let s2 = Ste::s2(
            &caps(),
            &S2Config {
                vmid: 7,
                vtcr: Vtcr {
                    tsz: 20,
                    sl: 2,
                    irgn: 1,
                    orgn: 1,
                    sh: 3,
                    tg: 0,
                    ps: 4,
                },
                s2ttb: 0x8_0000_1000,
                s2fwb: false,
                stall: false,
                ats: false,
            },
        )
        .map_err(|_| failure!("s2"))?;
        let b = text(|w| ste(w, s2.qwords()))?;
        for want in [
            "Config=s2-trans",
            "S2VMID=7",
            "VTCR.T0SZ=20",
            "VTCR.SL0=2",
            "VTCR.SH0=ish",
            "VTCR.TG=4K",
            "VTCR.PS=44-bit",
            "S2AA64=1",
            "S2TTB=0x800001000",
            "EATS=abort",
        ] {
            check!(has(&b, want));
        }
        check!(!b.as_str().contains("S1ContextPtr"));
        Ok(())
    }

    /// A stage-1 CD decodes to its ASID, TCR and table; a disabled TTB0
    /// hides the walk fields.
    pub fn decode_cd_fields() -> TestResult {
        let mut c = S1CdConfig {
            asid: 0x2a,
            ttb0: Ttb0::Table {
                tcr: Tcr {
                    tsz: 16,
                    tg: 1,
                    irgn: 1,
                    orgn: 1,
                    sh: 3,
                },
                base: 0x1_2345_6780,
            },
            ips: 5,
            mair: 0xff04,
            stall: false,
            record_faults: true,
            hw_update: HwUpdate::None,
            haft: false,
        };
        let cd0 = Cd::s1(&c).map_err(|_| failure!("cd"))?;
        let b = text(|w| cd(w, cd0.qwords()))?;
        for want in [
            "V=1",
            "ASID=42",
            "AA64=1",
            "R=1",
            "EPD0=0",
            "EPD1=1",
            "T0SZ=16",
            "TG0=64K",
            "SH0=ish",
            "IPS=48-bit",
            "TTB0=0x123456780",
            "MAIR=0x000000000000ff04",
        ] {
            check!(has(&b, want));
        }
        c.ttb0 = Ttb0::Disabled;
        let cd1 = Cd::s1(&c).map_err(|_| failure!("cd"))?;
        let b = text(|w| cd(w, cd1.qwords()))?;
        check!(has(&b, "EPD0=1"));
        check!(!b.as_str().contains("TTB0="));
        let b = text(|w| cd(w, &[0; 8]))?;
        check_eq!(b.as_str().len(), 3);
        Ok(())
    }

    /// Array entries print their kind, tag and users.
    pub fn decode_inv_entries() -> TestResult {
        let b = text(|w| inv(w, &Inv::s1_asid(SmmuId(1), 5, 12, false)))?;
        check_eq!(
            b.as_str().len(),
            "smmu=0x1 s1-asid=0x5 granule=4K users=0".len()
        );
        check!(has(&b, "s1-asid=0x5") && has(&b, "granule=4K") && has(&b, "smmu=0x1"));
        let b = text(|w| inv(w, &Inv::s2_vmid(SmmuId(0), 3, 0)))?;
        check!(has(&b, "s2-vmid=0x3") && has(&b, "range=no"));
        let b = text(|w| inv(w, &Inv::ats(SmmuId(0), 0x10, 0)))?;
        check!(has(&b, "ats=0x10") && has(&b, "ssid=0x0"));
        Ok(())
    }
}

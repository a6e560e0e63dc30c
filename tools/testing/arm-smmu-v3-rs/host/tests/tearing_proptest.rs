// SPDX-License-Identifier: GPL-2.0

//! Property tests of the entry writer under the tearing model: for random
//! pairs of valid STEs (and CDs) built by the typed constructors, every
//! entry the SMMU could observe between two syncs behaves as the old
//! entry, the new one or (breaking updates only) V=0; the writer never
//! needs more syncs than the C driver and ends at the target.

// The whole model, of which this test uses a part.
#[allow(dead_code)]
#[path = "../../../../../drivers/iommu/arm/arm-smmu-v3-rs/hw/mod.rs"]
mod hw;

use hw::cd::{Cd, HwUpdate, S1CdConfig, Tcr, Ttb0};
use hw::ste::{CdTable, CdTableFormat, NestedS1, S1Config, S1Dss, S2Config, Ste, SteCaps, Vtcr};
use hw::writer::model::{c_syncs, check_tearing, ModelKind, Recorder};
use hw::writer::{write_entry, CdKind, Qwords, SteKind, UpdateKind};
use proptest::prelude::*;

/// Every parameter any STE constructor takes.
#[derive(Clone, Debug)]
struct SteParams {
    kind: u8,
    base: u64,
    two_level: bool,
    cdmax: u8,
    s1dss: u8,
    stall: bool,
    ats: bool,
    vmid: u16,
    vtcr: [u8; 7],
    s2ttb: u64,
    s2fwb: bool,
    s1c: [u8; 3],
    s1stalld: bool,
}

fn ste_params() -> impl Strategy<Value = SteParams> {
    (
        (
            0u8..5,
            (0u64..1 << 46).prop_map(|a| a << 6),
            any::<bool>(),
            0u8..32,
            0u8..3,
            any::<bool>(),
        ),
        (
            any::<bool>(),
            any::<u16>(),
            (0u8..64, 0u8..4, 0u8..4, 0u8..4, 0u8..4, 0u8..4, 0u8..8),
            (0u64..1 << 48).prop_map(|a| a << 4),
            any::<bool>(),
            (0u8..4, 0u8..4, 0u8..4),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (kind, base, two_level, cdmax, s1dss, stall),
                (ats, vmid, v, s2ttb, s2fwb, c, s1stalld),
            )| SteParams {
                kind,
                base,
                two_level,
                cdmax,
                s1dss,
                stall,
                ats,
                vmid,
                vtcr: [v.0, v.1, v.2, v.3, v.4, v.5, v.6],
                s2ttb,
                s2fwb,
                s1c: [c.0, c.1, c.2],
                s1stalld,
            },
        )
}

/// `b` with the fields picked by `mask` taken from `a`, so that pairs
/// often differ in only a few fields (where hitless updates live).
fn mix(a: &SteParams, b: &SteParams, mask: u16) -> SteParams {
    let mut m = b.clone();
    let take = |bit: u16| mask & (1 << bit) != 0;
    if take(0) {
        m.kind = a.kind;
    }
    if take(1) {
        m.base = a.base;
        m.two_level = a.two_level;
        m.cdmax = a.cdmax;
    }
    if take(2) {
        m.s1dss = a.s1dss;
    }
    if take(3) {
        m.stall = a.stall;
    }
    if take(4) {
        m.ats = a.ats;
    }
    if take(5) {
        m.vmid = a.vmid;
        m.vtcr = a.vtcr;
    }
    if take(6) {
        m.s2ttb = a.s2ttb;
    }
    if take(7) {
        m.s2fwb = a.s2fwb;
        m.s1c = a.s1c;
        m.s1stalld = a.s1stalld;
    }
    m
}

fn build_ste(caps: &SteCaps, p: &SteParams) -> Ste {
    let format = if p.two_level {
        CdTableFormat::TwoLevel64K
    } else {
        CdTableFormat::Linear
    };
    let table = CdTable::new(p.base, format, p.cdmax).unwrap();
    let s1dss = [S1Dss::Terminate, S1Dss::Bypass, S1Dss::Ssid0][p.s1dss as usize];
    let v = p.vtcr;
    let s2 = S2Config {
        vmid: p.vmid,
        vtcr: Vtcr {
            tsz: v[0],
            sl: v[1],
            irgn: v[2],
            orgn: v[3],
            sh: v[4],
            tg: v[5],
            ps: v[6],
        },
        s2ttb: p.s2ttb,
        s2fwb: p.s2fwb,
        stall: p.stall,
        ats: p.ats,
    };
    match p.kind {
        0 => Ste::abort(),
        1 => Ste::bypass(caps),
        2 => Ste::s1(
            caps,
            &S1Config {
                table,
                s1dss,
                stall: p.stall,
                ats: p.ats,
            },
        ),
        3 => Ste::s2(caps, &s2).unwrap(),
        _ => {
            let s1 = NestedS1 {
                table,
                s1dss,
                s1cir: p.s1c[0],
                s1cor: p.s1c[1],
                s1csh: p.s1c[2],
                s1stalld: p.s1stalld,
            };
            Ste::nested(caps, &s1, &s2).unwrap()
        }
    }
}

fn check<K: ModelKind>(a: &Qwords, b: &Qwords) -> Result<(), TestCaseError> {
    let used = K::used(b);
    for i in 0..8 {
        prop_assert_eq!(
            b[i] & !used[i],
            0,
            "constructor set unused bits in qword {}",
            i
        );
    }
    let mut r = Recorder::new(a);
    let p = write_entry::<K, _>(&mut r, a, b);
    prop_assert!(!r.overflow);
    prop_assert_eq!(r.entry, *b);
    let allow = p.kind() == UpdateKind::Breaking || !K::is_valid(a) || !K::is_valid(b);
    let torn = check_tearing::<K>(a, b, r.events(), allow);
    prop_assert!(
        torn.is_ok(),
        "torn: {:x?}\nfrom {:x?}\nto   {:x?}",
        torn,
        a,
        b
    );
    prop_assert!(p.syncs() <= c_syncs::<K>(a, b), "more syncs than C");
    Ok(())
}

fn caps() -> impl Strategy<Value = SteCaps> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(stalls, attr_types_ovr, e2h)| {
        SteCaps {
            stalls,
            attr_types_ovr,
            e2h,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn ste_pairs_never_tear(caps in caps(), a in ste_params(), b in ste_params(), mask in any::<u16>()) {
        let sa = build_ste(&caps, &a);
        let sb = build_ste(&caps, &mix(&a, &b, mask));
        check::<SteKind>(sa.qwords(), sb.qwords())?;
    }

    #[test]
    fn cd_pairs_never_tear(
        asid in any::<[u16; 2]>(),
        mask in any::<u8>(),
        tcr in (0u8..64, 0u8..4, 0u8..4, 0u8..4, 0u8..4),
        base in any::<[u32; 2]>(),
        flags in any::<[bool; 8]>(),
        ips in 0u8..8,
        mair in any::<u64>(),
    ) {
        let t = Tcr { tsz: tcr.0, tg: tcr.1, irgn: tcr.2, orgn: tcr.3, sh: tcr.4 };
        let mk = |k: usize| -> Cd {
            let pick = |bit: u8| if mask & (1 << bit) != 0 { 0 } else { k };
            if flags[pick(0) * 4] && flags[1] {
                return Cd::invalid();
            }
            let ttb0 = if flags[pick(1) * 4 + 1] {
                Ttb0::Disabled
            } else {
                Ttb0::Table { tcr: t, base: u64::from(base[pick(2)]) << 4 }
            };
            Cd::s1(&S1CdConfig {
                asid: asid[pick(3)],
                ttb0,
                ips,
                mair: if pick(4) == 0 { mair } else { !mair },
                stall: flags[pick(5) * 4 + 2],
                record_faults: flags[pick(6) * 4 + 3],
                hw_update: if flags[pick(7) + 2] { HwUpdate::AccessDirty } else { HwUpdate::None },
                haft: false,
            })
            .unwrap()
        };
        let (a, b) = (mk(0), mk(1));
        check::<CdKind>(a.qwords(), b.qwords())?;
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Property tests of the invalidation commands an array issues
//! (`Invs::tlbi_cmds`): for random ranges, with and without range
//! invalidation, the by-address commands of every entry cover the whole
//! range, stay within the table's page alignment of it, and are one per
//! granule without range invalidation; requests over the C threshold
//! become one by-tag command per entry.

// The whole model, of which this test uses a part.
#[allow(dead_code)]
#[path = "../../../../../drivers/iommu/arm/arm-smmu-v3-rs/hw/mod.rs"]
mod hw;

use hw::cmd::{inv_size_too_big, Cmd};
use hw::invs::{Inv, InvRequest, Invs, SmmuId};
use proptest::prelude::*;

const S: SmmuId = SmmuId(0);

fn request() -> impl Strategy<Value = (InvRequest, bool)> {
    (
        0u64..1 << 36,
        1u64..2048,
        prop_oneof![Just(12u32), Just(21u32)],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(page, pages, gshift, leaf, range)| {
            let granule = 1u64 << gshift;
            // Ranges are whole granules, aligned to them, as io-pgtable asks.
            let iova = (page << 12) & !(granule - 1);
            let size = if gshift == 12 {
                pages << 12
            } else {
                (pages % 8 + 1) << 21
            };
            (
                InvRequest {
                    iova,
                    size,
                    granule,
                    leaf,
                },
                range,
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn commands_cover_the_range((req, range) in request()) {
        let mut buf = [Inv::EMPTY; 2];
        let invs = Invs::from_sorted(
            &mut buf[..],
            &[Inv::s1_asid(S, 3, 12, false), Inv::s2_vmid(S, 4, 12)],
        )
        .unwrap();
        let mut s1 = Vec::new();
        let mut s2 = Vec::new();
        let mut by_tag = Vec::new();
        invs.tlbi_cmds(&req, range, |c| match c {
            Cmd::TlbiNhVa { asid: 3, vmid: 0, va } => s1.push(va.extent(req.granule)),
            Cmd::TlbiS2Ipa { vmid: 4, va } => s2.push(va.extent(req.granule)),
            Cmd::TlbiNhAsid { asid: 3, vmid: 0 } | Cmd::TlbiS12Vmall { vmid: 4 } => by_tag.push(c),
            other => panic!("unexpected command {other:?}"),
        });
        if inv_size_too_big(range, req.size, req.granule) {
            prop_assert_eq!(by_tag.len(), 2);
            prop_assert!(s1.is_empty() && s2.is_empty());
            return Ok(());
        }
        prop_assert!(by_tag.is_empty());
        prop_assert_eq!(&s1, &s2);
        if !range {
            prop_assert_eq!(s1.len() as u64, req.size / req.granule);
        }
        // Contiguous from the start, covering the end, never before it.
        let mut at = req.iova;
        for &(start, len) in &s1 {
            prop_assert_eq!(start, at);
            at += len;
        }
        prop_assert!(at >= req.iova + req.size);
        // Over-invalidation is at most one extra page (non-leaf range
        // commands avoid NUM=0 with TTL=0 by adding one).
        prop_assert!(at <= req.iova + req.size + (1 << 12));
    }
}

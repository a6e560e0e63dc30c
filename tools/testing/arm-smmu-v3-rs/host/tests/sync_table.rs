// SPDX-License-Identifier: GPL-2.0

//! Prints the entry writer's syncs per STE transition next to the C
//! driver's (its algorithm, and the C KUnit suite's expectation where it
//! has one). Run with `cargo test --test sync_table -- --nocapture`.

// The whole model, of which this test uses a part.
#[allow(dead_code)]
#[path = "../../../../../drivers/iommu/arm/arm-smmu-v3-rs/hw/mod.rs"]
mod hw;

use hw::writer::model::c_syncs;
use hw::writer::tests::{ste_kind, C_SUITE_EXPECT, STE_KIND_NAMES};
use hw::writer::{plan, SteKind, UpdateKind};

#[test]
fn sync_table() {
    println!();
    println!("syncs per STE transition: ours/C-algorithm, [C suite], B = breaking (V=0)");
    print!("{:>10} ->", "from \\ to");
    for name in STE_KIND_NAMES {
        print!(" {name:>13}");
    }
    println!();
    let mut better = 0;
    for (a, from) in STE_KIND_NAMES.iter().enumerate() {
        print!("{from:>13}");
        for (b, to) in STE_KIND_NAMES.iter().enumerate() {
            let (x, y) = (ste_kind(a).unwrap(), ste_kind(b).unwrap());
            let p = plan::<SteKind>(x.qwords(), y.qwords());
            let ours = p.syncs();
            let c = c_syncs::<SteKind>(x.qwords(), y.qwords());
            assert!(ours <= c, "{from} -> {to}: {ours} > C's {c}");
            if ours < c {
                better += 1;
            }
            let suite = C_SUITE_EXPECT
                .iter()
                .find(|(f, t, _)| *f == a && *t == b)
                .map(|(_, _, n)| {
                    assert_eq!(c, *n, "C reference disagrees with the C suite");
                    format!("[{n}]")
                })
                .unwrap_or_default();
            let brk = if p.kind() == UpdateKind::Breaking {
                "B"
            } else {
                " "
            };
            print!(" {:>13}", format!("{ours}/{c}{suite}{brk}"));
        }
        println!();
    }
    println!("transitions where we need fewer syncs than C: {better}");
}

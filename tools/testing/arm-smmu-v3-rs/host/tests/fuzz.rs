// SPDX-License-Identifier: GPL-2.0

//! Fuzzing of the hardware model's decoders with arbitrary input (`make
//! fuzz`): ID registers, event and PRI records, STEs and CDs as they could
//! be read back from memory, level-1 descriptors, commands (decode, and
//! encode/decode round trips), IORT nodes and queue indexes. Nothing may
//! panic; `make fuzz` builds with overflow checks, so no arithmetic may
//! overflow either.
//!
//! Ignored by `cargo test`; `FUZZ_CASES` (default 100000) is the total
//! number of cases, spread over the targets.

// The whole model, of which this test uses a part.
#[allow(dead_code)]
#[path = "../../../../../drivers/iommu/arm/arm-smmu-v3-rs/hw/mod.rs"]
mod hw;

use core::fmt::Write;
use hw::{
    cd::{self, CdL1Desc},
    cmd::Cmd,
    event::{CmdqError, Event, Gerror},
    iort,
    pri::PageRequest,
    queue::Queue,
    regs::{self, IdRegs, Platform},
    reset::{self, QueueConfig, ResetMemory, ResetOptions},
    ste::{self, StrtabL1Desc, VSte},
    strtab::StrtabGeometry,
    writer::{plan, CdKind, SteKind},
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Discards what it is given: formatting must only not panic.
struct Sink;

impl Write for Sink {
    fn write_str(&mut self, _: &str) -> core::fmt::Result {
        Ok(())
    }
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

fn platform() -> impl Strategy<Value = Platform> {
    (any::<[bool; 8]>(), 0u32..4, 0u32..64).prop_map(|(b, fw_httu, q)| Platform {
        coherent: b[0],
        of_node: b[1],
        fw_httu,
        skip_prefetch: b[2],
        page0_regs_only: b[3],
        pci_ats: b[4],
        pci_pri: b[5],
        vhe: b[6],
        big_endian: b[7],
        q_max_sz_shift: q,
    })
}

/// Runs every target with its share of `total` cases; returns the count.
fn fuzz_all(total: u64) -> u64 {
    const TARGETS: u64 = 8;
    let each = (total / TARGETS).max(1) as u32;
    let mut done = 0u64;

    // 1. ID registers, and everything derived from a decoded SMMU.
    runner(each)
        .run(
            &(any::<[u32; 8]>(), platform(), any::<[u64; 4]>(), 0u32..64),
            |(w, plat, dma, va_bits)| {
                let id = IdRegs {
                    idr: [w[0], w[1], w[2], w[3], w[4], w[5]],
                    iidr: w[6],
                    aidr: w[7],
                };
                if let Ok(info) = regs::decode(&id, &plat) {
                    let _ = info.s1_ias(va_bits);
                    let _ = info.options.mask();
                    if let Ok(geom) = StrtabGeometry::from_info(&info) {
                        let _ = geom.locate(w[0]);
                        let mem = ResetMemory {
                            cmdq: QueueConfig {
                                dma: dma[0],
                                shift: info.cmdq_shift,
                            },
                            evtq: QueueConfig {
                                dma: dma[1],
                                shift: info.evtq_shift,
                            },
                            priq: Some(QueueConfig {
                                dma: dma[2],
                                shift: info.priq_shift,
                            }),
                            strtab: geom,
                            strtab_dma: dma[3],
                        };
                        let _ = reset::plan(&info, &mem, &ResetOptions::c_default(w[1]));
                    }
                }
                Ok(())
            },
        )
        .expect("ID registers");
    done += u64::from(each);

    // 2. Event records, formatted as the driver logs them.
    runner(each)
        .run(&any::<[u64; 4]>(), |raw| {
            let ev = Event::decode(&raw);
            let _ = write!(Sink, "{}", ev.with_client(Some("0000:00:01.0")));
            let _ = write!(Sink, "{}", ev.with_client(None));
            Ok(())
        })
        .expect("event records");
    done += u64::from(each);

    // 3. PRI records and their responses.
    runner(each)
        .run(&any::<[u64; 2]>(), |raw| {
            let req = PageRequest::decode(&raw);
            let _ = write!(Sink, "{req}");
            if let Some(resp) = req.response() {
                prop_assert_eq!(Cmd::decode(&resp.encode()), Some(resp));
            }
            Ok(())
        })
        .expect("PRI records");
    done += u64::from(each);

    // 4. STEs read back from memory: used bits, and the writer's plan from
    // any current STE to any other.
    runner(each)
        .run(&(any::<[u64; 8]>(), any::<[u64; 8]>()), |(cur, target)| {
            let _ = ste::used(&cur);
            let _ = ste::update_safe(&cur, &target);
            let p = plan::<SteKind>(&cur, &target);
            prop_assert!(p.syncs() <= 3);
            let _ = StrtabL1Desc::decode(cur[0]);
            let _ = VSte::parse([cur[0], cur[1]]);
            Ok(())
        })
        .expect("STEs");
    done += u64::from(each);

    // 5. CDs read back from memory.
    runner(each)
        .run(&(any::<[u64; 8]>(), any::<[u64; 8]>()), |(cur, target)| {
            let _ = cd::used(&cur);
            let p = plan::<CdKind>(&cur, &target);
            prop_assert!(p.syncs() <= 3);
            let _ = CdL1Desc::decode(cur[0]);
            Ok(())
        })
        .expect("CDs");
    done += u64::from(each);

    // 6. Commands: any two qwords decode stably; every command the driver
    // builds round-trips.
    runner(each)
        .run(&(any::<[u64; 2]>(), any::<u64>()), |(raw, seed)| {
            if let Some(c) = Cmd::decode(&raw) {
                prop_assert_eq!(Cmd::decode(&c.encode()), Some(c));
                prop_assert_eq!(c.opcode() as u64, raw[0] & 0xff);
            }
            let c = hw::cmd::tests::random_cmd(&mut hw::selftest::Rng::new(seed));
            prop_assert_eq!(Cmd::decode(&c.encode()), Some(c));
            Ok(())
        })
        .expect("commands");
    done += u64::from(each);

    // 7. IORT nodes of any length and contents.
    runner(each)
        .run(&proptest::collection::vec(any::<u8>(), 0..96), |bytes| {
            if let Ok(n) = iort::decode_smmu_v3(&bytes) {
                prop_assert!(n.httu <= 3);
                let _ = (n.skip_prefetch(), n.page0_regs_only());
            }
            Ok(())
        })
        .expect("IORT nodes");
    done += u64::from(each);

    // 8. Queue indexes as registers could hold them, command-queue errors
    // and global errors.
    runner(each)
        .run(&(0u32..40, any::<[u32; 3]>()), |(shift, v)| {
            if let Some(q) = Queue::new(shift) {
                let _ = (q.idx(v[0]), q.space(v[0], v[1]), q.full(v[0], v[1]));
                let _ = (q.empty(v[0], v[1]), q.consumed(v[0], v[1]));
                let _ = (
                    q.inc_prod_n(v[0], v[2] % (q.entries() + 1)),
                    q.inc_cons(v[1]),
                );
                let _ = q.sync_cons_ovf(v[0], v[1]);
            }
            let e = CmdqError::from_cons(v[0]);
            let _ = (e.message(), e.action());
            let _ = Gerror::new(v[1], v[2]).iter().count();
            Ok(())
        })
        .expect("queues and errors");
    done += u64::from(each);
    done
}

#[test]
#[ignore = "`make fuzz` runs it, with overflow checks and many cases"]
fn fuzz() {
    let total = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000u64);
    let t0 = std::time::Instant::now();
    let done = fuzz_all(total);
    println!(
        "fuzz: {done} cases, no panic, no overflow ({:.1?})",
        t0.elapsed()
    );
}

// SPDX-License-Identifier: GPL-2.0

//! Pure model of the SMMUv3 hardware interface.
//!
//! Everything here is plain `core` Rust: no kernel crate, no raw-pointer
//! code (`forbid(unsafe_code)`), no allocation. The same files are compiled
//! into the kernel module and into the host test crate
//! (`tools/testing/arm-smmu-v3-rs/host`), so the logic is tested in seconds
//! with `cargo test` and again as KUnit inside the kernel.

#![forbid(unsafe_code)]

pub mod ats;
pub mod bits;
pub mod cd;
pub mod cmd;
pub mod decode;
pub mod event;
pub mod invs;
pub mod iort;
pub mod lu;
pub mod pri;
pub mod queue;
pub mod regs;
pub mod reset;
#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
pub mod selftest;
pub mod ste;
pub mod strtab;
pub mod writer;

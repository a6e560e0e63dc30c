// SPDX-License-Identifier: GPL-2.0

//! Host build of the SMMUv3 driver's hardware model.
//!
//! `no_std` like the kernel: the model may only use `core`.

#![no_std]

#[cfg(test)]
extern crate std;

#[path = "../../../../../drivers/iommu/arm/arm-smmu-v3-rs/hw/mod.rs"]
pub mod hw;

#[cfg(test)]
mod shared_cases {
    /// One `#[test]` for every case of `hw::selftest::for_each_case!`.
    macro_rules! host_tests {
        ($($module:ident :: $case:ident),* $(,)?) => {
            $(
                #[test]
                fn $case() {
                    if let Err(f) = crate::hw::$module::tests::$case() {
                        panic!(
                            "{}:{}: check failed: {} (left {:#x}, right {:#x})",
                            f.file, f.line, f.expr, f.left, f.right
                        );
                    }
                }
            )*
        };
    }
    crate::hw::selftest::for_each_case!(host_tests);
}

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
    use std::string::String;

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

            /// The names of every shared case.
            const CASES: &[&str] = &[$(stringify!($case)),*];
        };
    }
    crate::hw::selftest::for_each_case!(host_tests);

    /// The KUnit suite runs exactly the shared cases: each case appears in
    /// `hw_kunit.rs` as `fn case(` and calls `module::tests::case()`.
    #[test]
    fn kunit_lists_every_case() {
        let kunit = include_str!("../../../../../drivers/iommu/arm/arm-smmu-v3-rs/hw_kunit.rs");
        let mut missing = String::new();
        for case in CASES {
            if !kunit.contains(&std::format!("fn {case}(")) {
                missing.push_str(case);
                missing.push(' ');
            }
        }
        let listed = kunit.matches("    #[test]\n").count();
        assert!(missing.is_empty(), "hw_kunit.rs lacks: {missing}");
        assert_eq!(
            listed,
            CASES.len(),
            "hw_kunit.rs has cases the host does not run"
        );
    }
}

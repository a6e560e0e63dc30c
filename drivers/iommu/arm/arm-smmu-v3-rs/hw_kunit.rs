// SPDX-License-Identifier: GPL-2.0

//! KUnit suite of the hardware model (`arm_smmu_v3_rs_hw`): one test per
//! case of `hw::selftest::for_each_case!`, generated from that list, so a
//! case added for the host runs in the kernel too.

use kernel::prelude::*;

/// Logs where a case failed; KUnit marks the test failed on `Err`.
fn run(r: crate::hw::selftest::TestResult) -> crate::hw::selftest::TestResult {
    if let Err(f) = &r {
        kernel::kunit::err(format_args!(
            "    # {}:{}: check failed: {} (left {:#x}, right {:#x})\n",
            f.file, f.line, f.expr, f.left, f.right
        ));
    }
    r
}

/// The `#[kunit_tests]` module with one `#[test]` per listed case.
macro_rules! kunit_cases {
    ($($module:ident :: $case:ident),* $(,)?) => {
        #[kunit_tests(arm_smmu_v3_rs_hw)]
        mod tests {
            use crate::hw::selftest::Failure;
            $(
                #[test]
                fn $case() -> Result<(), Failure> {
                    super::run(crate::hw::$module::tests::$case())
                }
            )*
        }
    };
}
crate::hw::selftest::for_each_case!(kunit_cases);

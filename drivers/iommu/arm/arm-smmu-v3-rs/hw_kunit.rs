// SPDX-License-Identifier: GPL-2.0

//! KUnit suite of the hardware model: the cases of
//! `hw::selftest::for_each_case!`, one test function each, run in the kernel.

use kernel::prelude::*;

#[kunit_tests(arm_smmu_v3_rs_hw)]
mod tests {
    use crate::hw::selftest::{Failure, TestResult};

    /// Logs where a case failed; KUnit marks the test failed on `Err`.
    fn run(r: TestResult) -> TestResult {
        if let Err(f) = &r {
            kernel::kunit::err(format_args!(
                "    # {}:{}: check failed: {} (left {:#x}, right {:#x})\n",
                f.file, f.line, f.expr, f.left, f.right
            ));
        }
        r
    }

    #[test]
    fn decode_qemu_default() -> Result<(), Failure> {
        run(crate::hw::regs::tests::decode_qemu_default())
    }

    #[test]
    fn decode_qemu_stage2_only() -> Result<(), Failure> {
        run(crate::hw::regs::tests::decode_qemu_stage2_only())
    }

    #[test]
    fn decode_features_match_c_bits() -> Result<(), Failure> {
        run(crate::hw::regs::tests::decode_features_match_c_bits())
    }

    #[test]
    fn decode_rejects_no_translation() -> Result<(), Failure> {
        run(crate::hw::regs::tests::decode_rejects_no_translation())
    }

    #[test]
    fn decode_rejects_aarch32_only() -> Result<(), Failure> {
        run(crate::hw::regs::tests::decode_rejects_aarch32_only())
    }

    #[test]
    fn decode_rejects_embedded() -> Result<(), Failure> {
        run(crate::hw::regs::tests::decode_rejects_embedded())
    }

    #[test]
    fn decode_rejects_small_cmdq() -> Result<(), Failure> {
        run(crate::hw::regs::tests::decode_rejects_small_cmdq())
    }

    #[test]
    fn decode_rejects_bad_endianness() -> Result<(), Failure> {
        run(crate::hw::regs::tests::decode_rejects_bad_endianness())
    }

    #[test]
    fn decode_oas_all_encodings() -> Result<(), Failure> {
        run(crate::hw::regs::tests::decode_oas_all_encodings())
    }

    #[test]
    fn decode_linear_strtab_for_small_sid() -> Result<(), Failure> {
        run(crate::hw::regs::tests::decode_linear_strtab_for_small_sid())
    }

    #[test]
    fn decode_page_sizes() -> Result<(), Failure> {
        run(crate::hw::regs::tests::decode_page_sizes())
    }

    #[test]
    fn decode_iidr_errata() -> Result<(), Failure> {
        run(crate::hw::regs::tests::decode_iidr_errata())
    }
}

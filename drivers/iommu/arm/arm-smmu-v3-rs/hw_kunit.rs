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
    fn decode_ias() -> Result<(), Failure> {
        run(crate::hw::regs::tests::decode_ias())
    }

    #[test]
    fn decode_iidr_errata() -> Result<(), Failure> {
        run(crate::hw::regs::tests::decode_iidr_errata())
    }

    #[test]
    fn ste_bypass_to_abort() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_bypass_to_abort())
    }

    #[test]
    fn ste_abort_to_bypass() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_abort_to_bypass())
    }

    #[test]
    fn ste_cdtable_to_abort() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_cdtable_to_abort())
    }

    #[test]
    fn ste_abort_to_cdtable() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_abort_to_cdtable())
    }

    #[test]
    fn ste_cdtable_to_bypass() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_cdtable_to_bypass())
    }

    #[test]
    fn ste_bypass_to_cdtable() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_bypass_to_cdtable())
    }

    #[test]
    fn ste_cdtable_s1dss_change() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_cdtable_s1dss_change())
    }

    #[test]
    fn ste_s1dssbypass_to_stebypass() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_s1dssbypass_to_stebypass())
    }

    #[test]
    fn ste_stebypass_to_s1dssbypass() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_stebypass_to_s1dssbypass())
    }

    #[test]
    fn ste_s2_to_abort() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_s2_to_abort())
    }

    #[test]
    fn ste_abort_to_s2() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_abort_to_s2())
    }

    #[test]
    fn ste_s2_to_bypass() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_s2_to_bypass())
    }

    #[test]
    fn ste_bypass_to_s2() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_bypass_to_s2())
    }

    #[test]
    fn ste_s1_to_s2() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_s1_to_s2())
    }

    #[test]
    fn ste_s2_to_s1() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_s2_to_s1())
    }

    #[test]
    fn ste_non_hitless() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_non_hitless())
    }

    #[test]
    fn cd_s1_clear() -> Result<(), Failure> {
        run(crate::hw::writer::tests::cd_s1_clear())
    }

    #[test]
    fn cd_s1_change_asid() -> Result<(), Failure> {
        run(crate::hw::writer::tests::cd_s1_change_asid())
    }

    #[test]
    fn ste_s1_to_s2_stall() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_s1_to_s2_stall())
    }

    #[test]
    fn ste_s2_to_s1_stall() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_s2_to_s1_stall())
    }

    #[test]
    fn ste_nested_s1dssbypass_to_s1bypass() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_nested_s1dssbypass_to_s1bypass())
    }

    #[test]
    fn ste_nested_s1bypass_to_s1dssbypass() -> Result<(), Failure> {
        run(crate::hw::writer::tests::ste_nested_s1bypass_to_s1dssbypass())
    }

    #[test]
    fn cd_sva_clear() -> Result<(), Failure> {
        run(crate::hw::writer::tests::cd_sva_clear())
    }

    #[test]
    fn cd_sva_release() -> Result<(), Failure> {
        run(crate::hw::writer::tests::cd_sva_release())
    }

    #[test]
    fn writer_c_reference_matches_suite() -> Result<(), Failure> {
        run(crate::hw::writer::tests::writer_c_reference_matches_suite())
    }

    #[test]
    fn writer_tearing_random_ste() -> Result<(), Failure> {
        run(crate::hw::writer::tests::writer_tearing_random_ste())
    }

    #[test]
    fn writer_tearing_random_cd() -> Result<(), Failure> {
        run(crate::hw::writer::tests::writer_tearing_random_cd())
    }

    #[test]
    fn writer_model_catches_naive_update() -> Result<(), Failure> {
        run(crate::hw::writer::tests::writer_model_catches_naive_update())
    }

    #[test]
    fn writer_sync_table() -> Result<(), Failure> {
        run(crate::hw::writer::tests::writer_sync_table())
    }

    #[test]
    fn cmd_known_answers() -> Result<(), Failure> {
        run(crate::hw::cmd::tests::cmd_known_answers())
    }

    #[test]
    fn cmd_atc_span() -> Result<(), Failure> {
        run(crate::hw::cmd::tests::cmd_atc_span())
    }

    #[test]
    fn cmd_tlbi_range_split() -> Result<(), Failure> {
        run(crate::hw::cmd::tests::cmd_tlbi_range_split())
    }

    #[test]
    fn cmd_tlbi_range_random() -> Result<(), Failure> {
        run(crate::hw::cmd::tests::cmd_tlbi_range_random())
    }

    #[test]
    fn cmd_inv_size_too_big() -> Result<(), Failure> {
        run(crate::hw::cmd::tests::cmd_inv_size_too_big())
    }

    #[test]
    fn cmd_erratum_classes() -> Result<(), Failure> {
        run(crate::hw::cmd::tests::cmd_erratum_classes())
    }

    #[test]
    fn queue_wrap_full_empty() -> Result<(), Failure> {
        run(crate::hw::queue::tests::queue_wrap_full_empty())
    }

    #[test]
    fn queue_consumed() -> Result<(), Failure> {
        run(crate::hw::queue::tests::queue_consumed())
    }

    #[test]
    fn queue_overflow_flag() -> Result<(), Failure> {
        run(crate::hw::queue::tests::queue_overflow_flag())
    }

    #[test]
    fn queue_random_walk() -> Result<(), Failure> {
        run(crate::hw::queue::tests::queue_random_walk())
    }

    #[test]
    fn queue_reserve() -> Result<(), Failure> {
        run(crate::hw::queue::tests::queue_reserve())
    }

    #[test]
    fn queue_batch() -> Result<(), Failure> {
        run(crate::hw::queue::tests::queue_batch())
    }

    #[test]
    fn invs_test() -> Result<(), Failure> {
        run(crate::hw::invs::tests::invs_test())
    }

    #[test]
    fn invs_errors_and_notifications() -> Result<(), Failure> {
        run(crate::hw::invs::tests::invs_errors_and_notifications())
    }

    #[test]
    fn invs_ats_broken() -> Result<(), Failure> {
        run(crate::hw::invs::tests::invs_ats_broken())
    }

    #[test]
    fn invs_tlbi_commands() -> Result<(), Failure> {
        run(crate::hw::invs::tests::invs_tlbi_commands())
    }

    #[test]
    fn invs_random_model() -> Result<(), Failure> {
        run(crate::hw::invs::tests::invs_random_model())
    }

    #[test]
    fn ste_known_answers() -> Result<(), Failure> {
        run(crate::hw::ste::tests::ste_known_answers())
    }

    #[test]
    fn ste_rejects_bad_params() -> Result<(), Failure> {
        run(crate::hw::ste::tests::ste_rejects_bad_params())
    }

    #[test]
    fn ste_field_positions() -> Result<(), Failure> {
        run(crate::hw::ste::tests::ste_field_positions())
    }

    #[test]
    fn ste_vste_parse() -> Result<(), Failure> {
        run(crate::hw::ste::tests::ste_vste_parse())
    }

    #[test]
    fn cd_known_answers() -> Result<(), Failure> {
        run(crate::hw::cd::tests::cd_known_answers())
    }

    #[test]
    fn cd_field_positions() -> Result<(), Failure> {
        run(crate::hw::cd::tests::cd_field_positions())
    }

    #[test]
    fn event_known_answers() -> Result<(), Failure> {
        run(crate::hw::event::tests::event_known_answers())
    }

    #[test]
    fn event_all_ids() -> Result<(), Failure> {
        run(crate::hw::event::tests::event_all_ids())
    }

    #[test]
    fn event_display() -> Result<(), Failure> {
        run(crate::hw::event::tests::event_display())
    }

    #[test]
    fn event_gerror() -> Result<(), Failure> {
        run(crate::hw::event::tests::event_gerror())
    }

    #[test]
    fn event_cmdq_cons_err() -> Result<(), Failure> {
        run(crate::hw::event::tests::event_cmdq_cons_err())
    }

    #[test]
    fn strtab_known_answers() -> Result<(), Failure> {
        run(crate::hw::strtab::tests::strtab_known_answers())
    }

    #[test]
    fn strtab_all_sid_bits() -> Result<(), Failure> {
        run(crate::hw::strtab::tests::strtab_all_sid_bits())
    }

    #[test]
    fn strtab_locate() -> Result<(), Failure> {
        run(crate::hw::strtab::tests::strtab_locate())
    }

    #[test]
    fn strtab_base_address() -> Result<(), Failure> {
        run(crate::hw::strtab::tests::strtab_base_address())
    }

    #[test]
    fn reset_known_answers() -> Result<(), Failure> {
        run(crate::hw::reset::tests::reset_known_answers())
    }

    #[test]
    fn reset_queue_sizes() -> Result<(), Failure> {
        run(crate::hw::reset::tests::reset_queue_sizes())
    }

    #[test]
    fn reset_sequence_matches_c() -> Result<(), Failure> {
        run(crate::hw::reset::tests::reset_sequence_matches_c())
    }

    #[test]
    fn reset_sequence_all_features() -> Result<(), Failure> {
        run(crate::hw::reset::tests::reset_sequence_all_features())
    }

    #[test]
    fn reset_rejects_bad_memory() -> Result<(), Failure> {
        run(crate::hw::reset::tests::reset_rejects_bad_memory())
    }

    #[test]
    fn reset_fake_smmu_final_state() -> Result<(), Failure> {
        run(crate::hw::reset::tests::reset_fake_smmu_final_state())
    }

    #[test]
    fn reset_fake_smmu_timeouts() -> Result<(), Failure> {
        run(crate::hw::reset::tests::reset_fake_smmu_timeouts())
    }

    #[test]
    fn pri_known_answers() -> Result<(), Failure> {
        run(crate::hw::pri::tests::pri_known_answers())
    }

    #[test]
    fn pri_not_last_no_response() -> Result<(), Failure> {
        run(crate::hw::pri::tests::pri_not_last_no_response())
    }
}

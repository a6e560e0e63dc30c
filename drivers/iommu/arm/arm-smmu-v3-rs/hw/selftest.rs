// SPDX-License-Identifier: GPL-2.0

//! Test cases shared by the host test crate and KUnit.
//!
//! A case is a `pub fn name() -> TestResult` inside a `tests` module of the
//! `hw` module it exercises, compiled only for tests (`cfg(test)` on the host,
//! `CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST` in the kernel). Cases check with
//! [`check!`] and [`check_eq!`], which return a [`Failure`] instead of
//! panicking, so a failing case fails its KUnit test rather than the kernel.
//!
//! Every case is listed once in [`for_each_case!`]. The host crate turns the
//! list into `#[test]` functions and `hw_kunit.rs` into the cases of one
//! `#[kunit_tests]` suite, so a case added for the host runs in KUnit too.

/// Where and why a case failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Source file of the failing check.
    pub file: &'static str,
    /// Line of the failing check.
    pub line: u32,
    /// The checked expression, as written.
    pub expr: &'static str,
    /// For [`check_eq!`]: the left value (as a word), else 0.
    pub left: u64,
    /// For [`check_eq!`]: the right value (as a word), else 0.
    pub right: u64,
}

/// The outcome of one case.
pub type TestResult = Result<(), Failure>;

/// A fixed-size text buffer, to format with `core::fmt` without
/// allocating (the decoders' and `Display` impls' cases). Text that does
/// not fit makes the write fail.
pub struct TextBuf {
    b: [u8; 512],
    n: usize,
}

impl TextBuf {
    /// An empty buffer.
    pub const fn new() -> Self {
        Self { b: [0; 512], n: 0 }
    }

    /// The text written so far.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.b.get(..self.n).unwrap_or(&[])).unwrap_or("<utf8>")
    }
}

impl Default for TextBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Write for TextBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.n + s.len();
        self.b
            .get_mut(self.n..end)
            .ok_or(core::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.n = end;
        Ok(())
    }
}

/// Integer-like values that [`check_eq!`] can report.
pub trait Word: Copy + PartialEq {
    /// The value widened to 64 bits for the report.
    fn word(self) -> u64;
}

macro_rules! impl_word {
    (from: $($t:ty),*) => { $(impl Word for $t { fn word(self) -> u64 { u64::from(self) } })* };
    (cast: $($t:ty),*) => { $(impl Word for $t { fn word(self) -> u64 { self as u64 } })* };
}
impl_word!(from: u8, u16, u32, u64, bool);
// Reported bit patterns; sign extension and usize width do not matter here.
impl_word!(cast: usize, i32, i64);

/// Fails the case unless the condition holds.
macro_rules! check {
    ($cond:expr) => {
        if !($cond) {
            return Err($crate::hw::selftest::Failure {
                file: file!(),
                line: line!(),
                expr: stringify!($cond),
                left: 0,
                right: 0,
            });
        }
    };
}
pub(crate) use check;

/// Fails the case unless the two values are equal; reports both.
macro_rules! check_eq {
    ($left:expr, $right:expr) => {{
        let (l, r) = ($left, $right);
        if l != r {
            return Err($crate::hw::selftest::Failure {
                file: file!(),
                line: line!(),
                expr: concat!(stringify!($left), " == ", stringify!($right)),
                left: $crate::hw::selftest::Word::word(l),
                right: $crate::hw::selftest::Word::word(r),
            });
        }
    }};
}
pub(crate) use check_eq;

/// A [`Failure`] at the call site, for a step that returned an error, as in
/// `decode(..).map_err(|_| failure!("decode() failed"))?`.
macro_rules! failure {
    ($what:expr) => {
        $crate::hw::selftest::Failure {
            file: file!(),
            line: line!(),
            expr: $what,
            left: 0,
            right: 0,
        }
    };
}
pub(crate) use failure;

/// A small deterministic PRNG (xorshift64*) for seeded property loops that
/// run the same way on the host and in KUnit.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed (0 is replaced by a constant).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Calls `$m!` with the path (`module::case`) of every shared case: the
/// host crate makes a `#[test]` of each, `hw_kunit.rs` a KUnit case.
// The host's integration tests include hw/ without expanding it.
#[allow(unused_macros)]
macro_rules! for_each_case {
    ($m:ident) => {
        $m! {
            regs::decode_qemu_default,
            regs::decode_qemu_stage2_only,
            regs::decode_features_match_c_bits,
            regs::decode_rejects_no_translation,
            regs::decode_rejects_aarch32_only,
            regs::decode_rejects_embedded,
            regs::decode_rejects_small_cmdq,
            regs::decode_rejects_bad_endianness,
            regs::decode_oas_all_encodings,
            regs::decode_linear_strtab_for_small_sid,
            regs::decode_page_sizes,
            regs::decode_ias,
            regs::decode_iidr_errata,
            regs::decode_acpi_firmware_options,
            iort::iort_decodes_qemu_node,
            iort::iort_models_and_flags,
            iort::iort_rejects_bad_nodes,
            writer::ste_bypass_to_abort,
            writer::ste_abort_to_bypass,
            writer::ste_cdtable_to_abort,
            writer::ste_abort_to_cdtable,
            writer::ste_cdtable_to_bypass,
            writer::ste_bypass_to_cdtable,
            writer::ste_cdtable_s1dss_change,
            writer::ste_s1dssbypass_to_stebypass,
            writer::ste_stebypass_to_s1dssbypass,
            writer::ste_s2_to_abort,
            writer::ste_abort_to_s2,
            writer::ste_s2_to_bypass,
            writer::ste_bypass_to_s2,
            writer::ste_s1_to_s2,
            writer::ste_s2_to_s1,
            writer::ste_non_hitless,
            writer::cd_s1_clear,
            writer::cd_s1_change_asid,
            writer::ste_s1_to_s2_stall,
            writer::ste_s2_to_s1_stall,
            writer::ste_nested_s1dssbypass_to_s1bypass,
            writer::ste_nested_s1bypass_to_s1dssbypass,
            writer::cd_sva_clear,
            writer::cd_sva_release,
            writer::writer_c_reference_matches_suite,
            writer::writer_tearing_random_ste,
            writer::writer_tearing_random_cd,
            writer::writer_model_catches_naive_update,
            writer::writer_sync_table,
            cmd::cmd_known_answers,
            cmd::cmd_decode_round_trip,
            cmd::cmd_atc_span,
            cmd::cmd_tlbi_range_split,
            cmd::cmd_tlbi_range_random,
            cmd::cmd_inv_size_too_big,
            queue::queue_wrap_full_empty,
            queue::queue_consumed,
            queue::queue_overflow_flag,
            queue::queue_random_walk,
            queue::queue_reserve,
            queue::queue_sync_spacing,
            invs::invs_test,
            invs::invs_errors_and_notifications,
            invs::invs_ats_broken,
            invs::invs_tlbi_commands,
            invs::invs_random_model,
            invs::invs_atc_commands,
            ats::ats_plan_steps,
            ats::ats_model_plans_are_safe,
            ats::ats_model_needs_the_wait,
            ats::ats_model_needs_each_step,
            ste::ste_known_answers,
            ste::ste_rejects_bad_params,
            ste::ste_field_positions,
            ste::ste_vste_parse,
            cd::cd_known_answers,
            cd::cd_field_positions,
            decode::decode_ste_constructors,
            decode::decode_cd_fields,
            decode::decode_inv_entries,
            event::event_known_answers,
            event::event_all_ids,
            event::event_display,
            event::event_gerror,
            event::event_cmdq_cons_err,
            strtab::strtab_known_answers,
            strtab::strtab_all_sid_bits,
            strtab::strtab_locate,
            strtab::strtab_base_address,
            reset::reset_known_answers,
            reset::reset_queue_sizes,
            reset::reset_sequence_matches_c,
            reset::reset_sequence_all_features,
            reset::reset_rejects_bad_memory,
            reset::reset_fake_smmu_final_state,
            reset::reset_fake_smmu_timeouts,
            lu::lu_record_round_trip,
            lu::lu_record_refusals,
            lu::lu_decode_entries,
            lu::lu_walk_tables,
            reset::reset_adopt_keeps_the_smmu_enabled,
            pri::pri_known_answers,
            pri::pri_not_last_no_response,
        }
    };
}
#[allow(unused_imports)]
pub(crate) use for_each_case;

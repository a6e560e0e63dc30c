// SPDX-License-Identifier: GPL-2.0

//! Bit-field helpers, the `GENMASK`/`FIELD_GET`/`FIELD_PREP` of this model.

/// A contiguous bit field `[hi:lo]` inside a 64-bit word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Lowest bit of the field.
    pub lo: u32,
    /// Highest bit of the field (inclusive).
    pub hi: u32,
}

impl Field {
    /// The field `[hi:lo]`; `hi >= lo` and `hi < 64` are checked at compile
    /// time when used in a `const`.
    pub const fn new(hi: u32, lo: u32) -> Self {
        assert!(hi >= lo && hi < 64);
        Self { lo, hi }
    }

    /// A single-bit field.
    pub const fn bit(n: u32) -> Self {
        Self::new(n, n)
    }

    /// The mask of the field in its word (`GENMASK_ULL(hi, lo)`).
    pub const fn mask(self) -> u64 {
        (u64::MAX >> (63 - (self.hi - self.lo))) << self.lo
    }

    /// The field's value in `word` (`FIELD_GET`).
    pub const fn get(self, word: u64) -> u64 {
        (word & self.mask()) >> self.lo
    }

    /// `val` placed in the field (`FIELD_PREP`). Every caller checks or
    /// types its values to fit (the entry constructors return
    /// `EntryError::OutOfRange` otherwise); the host tests, where this
    /// asserts, catch a caller that does not. In the kernel the bits that
    /// do not fit are dropped, as `FIELD_PREP` drops them, rather than
    /// panic.
    pub const fn prep(self, val: u64) -> u64 {
        if cfg!(test) {
            assert!(self.fits(val), "value does not fit its field");
        }
        (val << self.lo) & self.mask()
    }

    /// Whether `val` fits the field.
    pub const fn fits(self, val: u64) -> bool {
        val <= self.mask() >> self.lo
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// `word` with the field replaced by `val`.
    pub const fn set(self, word: u64, val: u64) -> u64 {
        (word & !self.mask()) | self.prep(val)
    }

    /// Whether a single-bit field is set in `word`.
    pub const fn is_set(self, word: u64) -> bool {
        self.get(word) != 0
    }
}

/// Host-only: a value too wide for its field is caught, not dropped.
#[cfg(test)]
mod host_tests {
    use super::Field;

    #[test]
    fn fits_is_the_field_width() {
        let f = Field::new(7, 4);
        assert!(f.fits(0xf) && !f.fits(0x10));
        assert!(Field::new(63, 0).fits(u64::MAX));
        assert_eq!(f.prep(0xf), 0xf0);
    }

    #[test]
    #[should_panic(expected = "value does not fit its field")]
    fn prep_of_a_too_wide_value_panics_in_tests() {
        let _ = core::hint::black_box(Field::new(7, 4)).prep(core::hint::black_box(0x10));
    }
}

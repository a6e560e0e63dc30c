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

    /// `val` placed in the field (`FIELD_PREP`); bits of `val` that do not
    /// fit are dropped.
    pub const fn prep(self, val: u64) -> u64 {
        (val << self.lo) & self.mask()
    }

    /// `word` with the field replaced by `val`.
    pub const fn set(self, word: u64, val: u64) -> u64 {
        (word & !self.mask()) | self.prep(val)
    }

    /// Whether a single-bit field is set in `word`.
    pub const fn is_set(self, word: u64) -> bool {
        self.get(word) != 0
    }
}

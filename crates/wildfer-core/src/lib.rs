//! Core types shared by every wildfer crate.
//!
//! - [`Expression`] and [`LabelSet`]: the ABAW expression classes in challenge order.
//! - [`abaw`]: Aff-Wild2 EXPR annotation files, split folders and both submission formats.
//! - [`fsutil`]: atomic file writes (temp file + rename), used for every output.
//! - [`Error`]: one-line errors that name the file (and line) at fault.

pub mod abaw;
mod error;
mod expression;
pub mod fsutil;
pub mod smoothing;

pub use error::{Error, Result};
pub use expression::{Expression, LabelSet, Probs, argmax};

/// `n` and the noun, plural unless `n` is 1 ("1 frame", "2 frames"): the one wording of
/// counts in messages and reports.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_agree_with_their_number() {
        assert_eq!(super::count(1, "track"), "1 track");
        assert_eq!(super::count(0, "frame"), "0 frames");
        assert_eq!(super::count(32, "face"), "32 faces");
    }
}

//! The expression labels wildfer reads, computes and writes.
//!
//! - [`Expression`], [`LabelSet`] and [`Probs`]: the ABAW expression classes in challenge
//!   order (7, or 8 with `Other`), per-face probabilities, the one [`argmax`].
//! - [`abaw`]: Aff-Wild2 EXPR annotation files, split folders and both submission formats.
//! - [`smoothing`]: the one smoother window over a face's per-frame probabilities.
//! - [`count`]: the one wording of counts in messages.
//!
//! Errors are `wildfer_files`' one-line errors that name the file (and line) at fault.

pub mod abaw;
mod expression;
pub mod smoothing;

pub use expression::{Expression, LabelSet, Probs, argmax};
pub use wildfer_files::{Error, Result};

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

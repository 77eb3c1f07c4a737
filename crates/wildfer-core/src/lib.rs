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

pub use error::{Error, Result};
pub use expression::{Expression, LabelSet, argmax};

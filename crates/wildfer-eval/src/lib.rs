//! Metrics of the ABAW expression challenge and evaluation of predictions against ground truth.
//!
//! Pure functions with no ML dependency: [`metrics`] computes accuracy, per-class
//! precision/recall/F1, macro F1 and the ABAW scores from a confusion matrix; [`evaluate`]
//! aligns prediction files with truth files frame by frame and reports what was excluded.

mod evaluate;
pub mod metrics;

pub use evaluate::{EvalError, EvalOptions, EvalReport, evaluate};
pub use metrics::{Confusion, abaw2020_score};

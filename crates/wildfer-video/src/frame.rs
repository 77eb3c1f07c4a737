use std::path::PathBuf;

/// A decoded frame, RGB, 8 bits per channel, rows top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// 1-based number in presentation order.
    pub index: usize,
    /// Presentation time in seconds from the first sample's.
    pub time_s: f64,
    pub width: usize,
    pub height: usize,
    /// `width * height * 3` bytes.
    pub rgb: Vec<u8>,
}

/// What a source knows before decoding.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    pub path: PathBuf,
    pub width: usize,
    pub height: usize,
    /// Number of frames (samples of the video track).
    pub frames: usize,
    /// Average frame rate (frames over duration).
    pub fps: f64,
    pub codec: String,
}

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

/// Largest frame side and pixel count accepted from any source (a 16K video or image fits).
pub const MAX_SIDE: usize = 16_384;
pub const MAX_PIXELS: usize = 64 * 1024 * 1024;

/// Refuse, before anything is allocated for it, a frame size that a header claims and no real
/// video has: a file claiming 65535x65535 would otherwise cost 12 GiB per RGB frame.
pub fn check_frame_size(
    path: &std::path::Path,
    width: usize,
    height: usize,
) -> Result<(), crate::VideoError> {
    if width == 0
        || height == 0
        || width > MAX_SIDE
        || height > MAX_SIDE
        || width * height > MAX_PIXELS
    {
        return Err(crate::VideoError::Unsupported {
            path: path.to_path_buf(),
            msg: format!(
                "frame size {width}x{height} is outside the supported range (1 to {MAX_SIDE} pixels a side, at most {MAX_PIXELS} pixels)"
            ),
        });
    }
    Ok(())
}

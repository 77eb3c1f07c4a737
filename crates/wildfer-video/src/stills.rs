//! Still images and image folders as frame sources (JPEG and PNG, any bit depth or channel
//! count, converted to 8-bit RGB; alpha is dropped).
//!
//! In a folder, a file whose stem is a number (`00042.jpg`) is that frame, so Aff-Wild2's
//! `cropped_aligned/<video>/%05d.jpg` keeps its numbering, gaps (frames without a face)
//! included; other names are numbered 1, 2, ... in name order.

use crate::{Frame, FrameSource, SourceInfo, VideoError};
use image::{ImageReader, Limits};
use std::path::{Path, PathBuf};

/// Largest accepted side: sizes are refused from the header, before any allocation
/// (decompression bombs), by [`crate::frame::check_frame_size`].
const MAX_SIDE: u32 = crate::frame::MAX_SIDE as u32;

/// File extensions read as images.
pub const IMAGE_EXTENSIONS: [&str; 7] = ["jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp"];

/// Is this path an image file by its extension?
pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

fn bad(path: &Path, msg: impl ToString) -> VideoError {
    VideoError::Image {
        path: path.to_path_buf(),
        msg: crate::error::one_line(msg),
    }
}

type Bounded = ImageReader<std::io::BufReader<std::io::Take<std::fs::File>>>;

/// A reader of an image file that reads at most the file's length (regular files only, at most
/// [`wildfer_files::MAX_IMAGE_BYTES`]): a link to `/dev/zero` named `x.jpg` is refused
/// instead of read until memory runs out.
pub fn bounded_reader(path: &Path) -> Result<Bounded, VideoError> {
    use std::io::Read;
    let (file, len) =
        wildfer_files::open_regular(path, wildfer_files::MAX_IMAGE_BYTES).map_err(|error| {
            VideoError::Io {
                path: path.to_path_buf(),
                error,
            }
        })?;
    ImageReader::new(std::io::BufReader::new(file.take(len)))
        .with_guessed_format()
        .map_err(|e| bad(path, e))
}

/// Decode one image to RGB8 within the size limits.
pub fn read_rgb(path: &Path) -> Result<(usize, usize, Vec<u8>), VideoError> {
    let reader = || bounded_reader(path);
    let (w, h) = reader()?.into_dimensions().map_err(|e| bad(path, e))?;
    crate::frame::check_frame_size(path, w as usize, h as usize)?;
    let mut r = reader()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    r.limits(limits);
    let img = r.decode().map_err(|e| bad(path, e))?.into_rgb8();
    let (w, h) = img.dimensions();
    Ok((w as usize, h as usize, img.into_raw()))
}

/// One image as frame `index` at `time_s` (a still alone: frame 1 at time 0).
pub fn read_frame(path: &Path, index: usize, time_s: f64) -> Result<Frame, VideoError> {
    let (width, height, rgb) = read_rgb(path)?;
    Ok(Frame {
        index,
        time_s,
        width,
        height,
        rgb,
    })
}

/// The images of a folder (or a single image), one frame each.
pub struct ImageSource {
    info: SourceInfo,
    files: Vec<(usize, PathBuf)>,
    pos: usize,
    fps: f64,
}

impl ImageSource {
    /// A folder of images, or one image file. `fps` gives frame times (`(index - 1) / fps`);
    /// image folders carry no timing of their own.
    pub fn open(path: &Path, fps: f64) -> Result<Self, VideoError> {
        let io = |source| VideoError::Io {
            path: path.to_path_buf(),
            error: source,
        };
        let files: Vec<PathBuf> = if path.is_dir() {
            let mut v = Vec::new();
            for e in std::fs::read_dir(path).map_err(io)? {
                let p = e.map_err(io)?.path();
                let hidden = p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'));
                if p.is_file() && is_image(&p) && !hidden {
                    v.push(p);
                }
            }
            v.sort();
            v
        } else {
            std::fs::metadata(path).map_err(io)?;
            vec![path.to_path_buf()]
        };
        if files.is_empty() {
            return Err(bad(
                path,
                "no images (.jpg, .jpeg, .png, .bmp) in this folder",
            ));
        }
        let numbered = files.iter().all(|f| frame_number(f).is_some());
        let mut indexed: Vec<(usize, PathBuf)> = files
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                (
                    if numbered {
                        frame_number(&f).unwrap_or(i + 1)
                    } else {
                        i + 1
                    },
                    f,
                )
            })
            .collect();
        indexed.sort_by_key(|(i, _)| *i);
        if let Some(w) = indexed.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(bad(
                &w[1].1,
                format!("frame number {} appears twice in the folder", w[1].0),
            ));
        }
        let first = &indexed[0].1;
        let (w, h) = bounded_reader(first)?
            .into_dimensions()
            .map_err(|e| bad(first, e))?;
        Ok(ImageSource {
            info: SourceInfo {
                path: path.to_path_buf(),
                width: w as usize,
                height: h as usize,
                frames: indexed.len(),
                fps,
                codec: "image".into(),
            },
            files: indexed,
            pos: 0,
            fps,
        })
    }

    /// Frame numbers and files, in order.
    pub fn files(&self) -> &[(usize, PathBuf)] {
        &self.files
    }
}

/// `00042.jpg` -> 42 (must be >= 1).
fn frame_number(path: &Path) -> Option<usize> {
    let stem = path.file_stem()?.to_str()?;
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) || stem.len() > 9 {
        return None;
    }
    stem.parse().ok().filter(|n| *n >= 1)
}

impl FrameSource for ImageSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Option<Result<Frame, VideoError>> {
        let (index, path) = self.files.get(self.pos)?.clone();
        self.pos += 1;
        Some(read_frame(&path, index, (index - 1) as f64 / self.fps))
    }
}

//! `prepare-images`: a labelled still-image set -> each image's face cut as `analyze` and
//! `eval-images` cut it (`OUT/<class>/<name>.jpg`), so that a model trained on these crops is
//! shown at inference faces framed as the ones it learnt from.
//!
//! The face is found and cut by the one rule of [`crate::image_scoring`] (the largest face;
//! tight crops searched again enlarged and padded). Crops are written into a staging folder
//! `.<OUT>.partial` beside `OUT`, renamed to `OUT` when every image is done: an interrupted run
//! never leaves a partial set under the final name, and a re-run resumes from the crops the
//! staging folder already holds (each written atomically). `no_face.txt` and `unreadable.txt`
//! in `OUT` list the images left out; `prepared.json` says how the faces were cut.

use crate::PipelineError;
use crate::image_scoring::face_of;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use wildfer_face::{CropSpec, FaceDetector};
use wildfer_files::write_atomic;
use wildfer_labels::Expression;

/// Settings of [`prepare_images`].
#[derive(Debug, Clone, PartialEq)]
pub struct PrepareImagesOptions {
    /// How faces are cut (the framing and side of every crop).
    pub spec: CropSpec,
    /// JPEG quality (1-100).
    pub jpeg_quality: u8,
    /// List images that cannot be read instead of failing.
    pub skip_unreadable: bool,
}

impl Default for PrepareImagesOptions {
    fn default() -> Self {
        PrepareImagesOptions {
            spec: CropSpec::arcface(112),
            jpeg_quality: 95,
            skip_unreadable: false,
        }
    }
}

/// What [`prepare_images`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrepareImagesSummary {
    pub out: PathBuf,
    pub images: usize,
    /// Crops in `out`, including `resumed`.
    pub written: usize,
    /// Crops an interrupted earlier run had written.
    pub resumed: usize,
    pub no_face: Vec<PathBuf>,
    /// Images that could not be read, with the reason (`skip_unreadable`).
    pub unreadable: Vec<(PathBuf, String)>,
}

/// How the crops were cut (`prepared.json`).
#[derive(Serialize)]
struct Prepared<'a> {
    crop_size: usize,
    /// The ArcFace template scaled by `zoom` about the centre and moved down by `shift` sides.
    zoom: f32,
    shift: f32,
    #[serde(flatten)]
    summary: &'a PrepareImagesSummary,
}

/// Cut the face of every image of `images` (path, class) into `out/<class>/<name>.jpg`, names
/// from [`crate::inputs::output_names`] (the file stem; the path where stems repeat).
/// `progress(done, total)` after each image. `out` must not exist yet (or be empty).
pub fn prepare_images(
    images: &[(PathBuf, Expression)],
    out: &Path,
    opts: &PrepareImagesOptions,
    det: &mut dyn FaceDetector,
    mut progress: impl FnMut(usize, usize),
) -> Result<PrepareImagesSummary, PipelineError> {
    if !(1..=100).contains(&opts.jpeg_quality) || !(16..=1024).contains(&opts.spec.size) {
        return Err(PipelineError::Options(format!(
            "crop size must be 16-1024 px and JPEG quality 1-100, got {} and {}",
            opts.spec.size, opts.jpeg_quality
        )));
    }
    let occupied = std::fs::read_dir(out).map(|mut d| d.next().is_some());
    if occupied.unwrap_or(false) || (out.exists() && !out.is_dir()) {
        return Err(PipelineError::io(
            out,
            "already exists and is not empty (choose a new --out)",
        ));
    }
    let file_name = out
        .file_name()
        .ok_or_else(|| PipelineError::io(out, "not a folder name"))?;
    let staging = out.with_file_name(format!(".{}.partial", file_name.to_string_lossy()));
    // One writer for the staging folder (two runs for one OUT would share it).
    let lock = wildfer_files::lock_folder(&staging, "`wildfer prepare-images`")?;
    // Half-written crops of a killed run (no other process writes here: we hold the lock).
    for class in wildfer_labels::Expression::ALL {
        wildfer_files::remove_stale_temporaries(&staging.join(class.key()))?;
    }
    let paths: Vec<PathBuf> = images.iter().map(|(p, _)| p.clone()).collect();
    let names = crate::inputs::output_names(&paths)?;
    let mut summary = PrepareImagesSummary {
        out: out.to_path_buf(),
        images: images.len(),
        written: 0,
        resumed: 0,
        no_face: Vec::new(),
        unreadable: Vec::new(),
    };
    let mut jpeg = Vec::new();
    for (i, ((path, class), name)) in images.iter().zip(&names).enumerate() {
        let dir = staging.join(class.key());
        let target = dir.join(format!("{name}.jpg"));
        if target.is_file() {
            summary.resumed += 1;
            summary.written += 1;
            progress(i + 1, images.len());
            continue;
        }
        let face = wildfer_video::stills::read_frame(path, 1, 0.0)
            .map_err(PipelineError::from)
            .and_then(|frame| face_of(path, frame, &opts.spec, det));
        match face {
            Ok(Some(face)) => {
                std::fs::create_dir_all(&dir).map_err(|e| PipelineError::io(&dir, e))?;
                let side = face.size();
                crate::encode_jpeg(&mut jpeg, &face.rgb, side, side, opts.jpeg_quality)
                    .map_err(|e| PipelineError::io(&target, e))?;
                write_atomic(&target, &jpeg)?;
                summary.written += 1;
            }
            Ok(None) => summary.no_face.push(path.clone()),
            Err(e) if opts.skip_unreadable => {
                summary.unreadable.push((path.clone(), e.to_string()))
            }
            Err(e) => return Err(e),
        }
        progress(i + 1, images.len());
    }
    let mut no_face = String::new();
    for p in &summary.no_face {
        writeln!(no_face, "{}", p.display()).ok();
    }
    write_atomic(&staging.join("no_face.txt"), no_face.as_bytes())?;
    let mut unreadable = String::new();
    for (p, e) in &summary.unreadable {
        writeln!(unreadable, "{}\t{e}", p.display()).ok();
    }
    write_atomic(&staging.join("unreadable.txt"), unreadable.as_bytes())?;
    let meta = Prepared {
        crop_size: opts.spec.size,
        zoom: opts.spec.zoom,
        shift: opts.spec.shift,
        summary: &summary,
    };
    let json = serde_json::to_string_pretty(&meta).map_err(|e| PipelineError::io(out, e))?;
    write_atomic(
        &staging.join("prepared.json"),
        format!("{json}\n").as_bytes(),
    )?;
    drop(lock);
    let lock_file = staging.join(wildfer_files::LOCK_FILE);
    std::fs::remove_file(&lock_file).map_err(|e| PipelineError::io(&lock_file, e))?;
    if out.is_dir() {
        // Checked empty above.
        std::fs::remove_dir(out).map_err(|e| PipelineError::io(out, e))?;
    }
    std::fs::rename(&staging, out).map_err(|e| PipelineError::io(out, e))?;
    Ok(summary)
}

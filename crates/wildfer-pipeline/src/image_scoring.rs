//! Scoring an expression model on a labelled still-image set (`wildfer eval-images`): the
//! `wildfer eval` report over images, one row per image, and the images where no face was found.
//!
//! Two ways to get each image's face:
//! - [`FaceInput::Crops`]: every image already is one face crop (FER2013's 48x48 faces, SFEW's
//!   143x181 aligned faces). The crop is fitted to the model's crop (each member's, for an
//!   ensemble) by one rule: the largest centred square of the image, resized to the model's
//!   crop side ([`AlignedFace::from_crop`]). No detection.
//! - [`FaceInput::Detect`]: faces are found and aligned as `wildfer analyze` does for a still;
//!   the face with the largest box is scored. An image without a face counts as wrong.

use crate::PipelineError;
use crate::analyze::csv_field;
use crate::expression::{ExpressionModel, Probs};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use wildfer_eval::{Confusion, EvalReport};
use wildfer_face::{AlignedFace, CropSpec, FaceDetector, Point2};
use wildfer_labels::{Expression, LabelSet};
use wildfer_video::Frame;

/// Where each image's face comes from.
pub enum FaceInput<'a> {
    /// Every image is one face crop.
    Crops,
    /// Find the face with this detector (the largest one is scored).
    Detect(&'a mut dyn FaceDetector),
}

/// One scored image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRow {
    pub path: PathBuf,
    pub truth: Expression,
    /// `None`: no face found, or the image could not be read (`error`).
    pub probs: Option<Probs>,
    pub error: Option<String>,
}

impl ImageRow {
    /// The CSV header of [`ImageRow::csv`] for a model answering `classes`.
    pub fn csv_header(classes: LabelSet) -> String {
        let mut h = String::from("path,truth,prediction");
        for k in classes.keys() {
            write!(h, ",{k}").ok();
        }
        h.push_str(",note\n");
        h
    }

    /// Why nothing was predicted (the read error, or that no face was found); `None` when a
    /// class was predicted.
    pub fn note(&self) -> Option<&str> {
        self.probs
            .is_none()
            .then(|| self.error.as_deref().unwrap_or(NO_FACE))
    }

    /// The predicted class, if any.
    pub fn prediction(&self) -> Option<Expression> {
        self.probs.map(|p| p.top())
    }

    /// One CSV line of a table of `classes`: probability columns empty (and a note) where
    /// nothing was predicted.
    pub fn csv(&self, classes: LabelSet) -> String {
        let mut s = csv_field(&self.path.to_string_lossy());
        write!(
            s,
            ",{},{}",
            self.truth.key(),
            self.prediction().map_or("", |e| e.key())
        )
        .ok();
        match &self.probs {
            Some(p) => {
                for v in p.iter() {
                    write!(s, ",{v:.6}").ok();
                }
                s.push(',');
            }
            None => {
                s.push_str(&",".repeat(classes.num_classes() + 1));
                s.push_str(&csv_field(self.note().unwrap_or_default()));
            }
        }
        s.push('\n');
        s
    }
}

/// The note of a row where the detector found no face.
const NO_FACE: &str = "no face found";

/// Split one CSV line into fields (RFC 4180 quoting: `"a,b"`, `""` for a quote).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    out.push(field);
    out
}

impl ImageRow {
    /// A line of an `images.csv` of `classes`, as [`ImageRow::csv`] wrote it, read back (the
    /// probabilities to the printed six decimals). `Err` says what is wrong with it.
    pub fn parse_csv(line: &str, classes: LabelSet) -> Result<ImageRow, String> {
        let f = csv_fields(line.trim_end_matches(['\r', '\n']));
        let n = classes.num_classes();
        if f.len() != n + 4 {
            return Err(format!("{} fields, expected {}", f.len(), n + 4));
        }
        let truth = Expression::ALL
            .iter()
            .copied()
            .find(|e| e.key() == f[1])
            .ok_or_else(|| format!("unknown class {:?}", f[1]))?;
        let (probs, error) = if f[3].is_empty() {
            let note = f[n + 3].clone();
            (None, (note != NO_FACE).then_some(note))
        } else {
            let p = f[3..3 + n]
                .iter()
                .map(|v| {
                    v.parse()
                        .map_err(|_| format!("probability {v:?} is not a number"))
                })
                .collect::<Result<Vec<f32>, String>>()?;
            (Probs::new(classes, &p), None)
        };
        Ok(ImageRow {
            path: PathBuf::from(&f[0]),
            truth,
            probs,
            error,
        })
    }
}

/// Read an `images.csv` back (see [`ImageRow::parse_csv`]): the model's classes (from the
/// header) and the rows.
pub fn read_rows(path: &Path) -> Result<(LabelSet, Vec<ImageRow>), PipelineError> {
    let text =
        wildfer_files::read_regular(path, 1 << 30).map_err(|e| PipelineError::io(path, e))?;
    let text = String::from_utf8(text).map_err(|_| PipelineError::io(path, "not UTF-8 text"))?;
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, h)| format!("{h}\n"));
    let Some(classes) = [LabelSet::Seven, LabelSet::Eight]
        .into_iter()
        .find(|c| header.as_deref() == Some(&ImageRow::csv_header(*c)))
    else {
        return Err(PipelineError::io(
            path,
            "not an eval-images images.csv (header)",
        ));
    };
    let rows = lines
        .filter(|(_, l)| !l.is_empty())
        .map(|(n, l)| {
            ImageRow::parse_csv(l, classes)
                .map_err(|e| PipelineError::io(path, format!("line {}: {e}", n + 1)))
        })
        .collect::<Result<_, _>>()?;
    Ok((classes, rows))
}

/// The report over scored rows: images without a prediction count as wrong, and so do
/// predictions of a class the truth's set does not have (an 8-class model's `Other` on
/// 7-class data).
pub fn report_of(rows: &[ImageRow], label_set: LabelSet) -> EvalReport {
    let n = label_set.num_classes();
    let mut c = Confusion::new(n);
    for r in rows {
        let predicted = r.prediction().map(Expression::index).filter(|&k| k < n);
        c.add(r.truth.index(), predicted);
    }
    EvalReport::from_confusion(c, label_set)
}

/// The images of `shard` (an array job's task) among `images`: split by file size so that
/// the tasks take about equally long; every image lands in exactly one shard (an image that
/// cannot be read counts as size 0 and is reported by the task that gets it).
pub fn shard_images(
    images: &[(PathBuf, Expression)],
    shard: crate::shard::Shard,
) -> Vec<(PathBuf, Expression)> {
    let sizes: Vec<u64> = images
        .iter()
        .map(|(p, _)| std::fs::metadata(p).map_or(0, |m| m.len()))
        .collect();
    let of = crate::shard::assign(&sizes, shard.count);
    images
        .iter()
        .zip(of)
        .filter(|(_, s)| *s == shard.index)
        .map(|(i, _)| i.clone())
        .collect()
}

/// A labelled still-image set: `data` is a folder with a folder per class or a `path label`
/// list file (class names as `[data.images]` reads them); `files` keeps only file names that
/// match a pattern (`PrivateTest_*`).
pub fn open_image_set(
    data: &Path,
    files: Option<&str>,
) -> Result<wildfer_data::ImageSet, PipelineError> {
    let set = if data.is_dir() {
        wildfer_data::ImageSet::open_folders(data, LabelSet::Seven)?
    } else {
        wildfer_data::ImageSet::open_list(data, LabelSet::Seven)?
    };
    Ok(match files {
        Some(p) => set.matching(p, Some(data))?,
        None => set,
    })
}

/// The JSON of `wildfer eval-images` (and the Python `wildfer.eval_images`): `wildfer eval`'s
/// report plus what is particular to images.
#[derive(Debug, Serialize)]
pub struct ScoresJson<'a> {
    #[serde(flatten)]
    pub report: &'a EvalReport,
    pub model: String,
    /// `crops` or `detect`.
    pub faces: &'static str,
    pub images: usize,
    /// `I/N` when this is one task's share of the images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// Images where no face was found (counted as wrong).
    pub no_face: Vec<String>,
    /// Images that could not be read (counted as wrong).
    pub unreadable: Vec<Unreadable>,
}

/// An image that could not be read, and why.
#[derive(Debug, Serialize)]
pub struct Unreadable {
    pub path: String,
    pub error: String,
}

/// The outcome of [`score_images`].
#[derive(Debug, Clone)]
pub struct ImageScores {
    /// Accuracy, F1, confusion...: images without a prediction count as wrong.
    pub report: EvalReport,
    pub rows: Vec<ImageRow>,
}

impl ImageScores {
    /// Scores computed again from rows (`eval-images --merge`).
    pub fn from_rows(rows: Vec<ImageRow>, label_set: LabelSet) -> Self {
        ImageScores {
            report: report_of(&rows, label_set),
            rows,
        }
    }

    /// The JSON report of these scores, made by `model` from crops or by detection.
    pub fn json(&self, model: &str, crops: bool, shard: Option<String>) -> ScoresJson<'_> {
        ScoresJson {
            report: &self.report,
            model: model.to_string(),
            faces: if crops { "crops" } else { "detect" },
            images: self.rows.len(),
            shard,
            no_face: self.no_face().map(|p| p.display().to_string()).collect(),
            unreadable: self
                .unreadable()
                .map(|(p, e)| Unreadable {
                    path: p.display().to_string(),
                    error: e.to_string(),
                })
                .collect(),
        }
    }

    /// Images where the detector found no face.
    pub fn no_face(&self) -> impl Iterator<Item = &Path> {
        self.rows
            .iter()
            .filter(|r| r.probs.is_none() && r.error.is_none())
            .map(|r| r.path.as_path())
    }

    /// Images that could not be read, with the reason.
    pub fn unreadable(&self) -> impl Iterator<Item = (&Path, &str)> {
        self.rows
            .iter()
            .filter_map(|r| r.error.as_deref().map(|e| (r.path.as_path(), e)))
    }
}

/// Faces per model call.
const BATCH: usize = 32;

/// Score `model` on `images` (path, true class); `progress(done, total)` after each batch;
/// `stop`, once set, ends the scoring with [`PipelineError::Interrupted`].
/// An image that cannot be read is an error naming it, unless `skip_unreadable` (then it is
/// counted as wrong and listed).
pub fn score_images(
    images: &[(PathBuf, Expression)],
    label_set: LabelSet,
    model: &mut dyn ExpressionModel,
    mut input: FaceInput<'_>,
    skip_unreadable: bool,
    stop: Option<&std::sync::atomic::AtomicBool>,
    mut progress: impl FnMut(usize, usize),
) -> Result<ImageScores, PipelineError> {
    let spec = model.crop();
    let mut rows = Vec::with_capacity(images.len());
    for chunk in images.chunks(BATCH) {
        if stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst)) {
            return Err(PipelineError::Interrupted);
        }
        let mut faces = Vec::with_capacity(chunk.len());
        let mut crops = Vec::with_capacity(chunk.len());
        let mut slots = Vec::with_capacity(chunk.len());
        for (path, truth) in chunk {
            let mut row = ImageRow {
                path: path.clone(),
                truth: *truth,
                probs: None,
                error: None,
            };
            let found = wildfer_video::stills::read_frame(path, 1, 0.0)
                .map_err(PipelineError::from)
                .and_then(|frame| match &mut input {
                    FaceInput::Crops => {
                        crops.push(frame);
                        Ok(true)
                    }
                    FaceInput::Detect(det) => Ok(face_of(path, frame, &spec, &mut **det)?
                        .map(|f| faces.push(f))
                        .is_some()),
                });
            match found {
                Ok(true) => slots.push(rows.len()),
                Ok(false) => {}
                Err(e) if skip_unreadable => row.error = Some(e.to_string()),
                Err(e) => return Err(e),
            }
            rows.push(row);
        }
        // Each image is its own input: no context carried from one to the next.
        model.reset();
        let probs = match input {
            FaceInput::Crops => model.predict_crops(&crops)?,
            FaceInput::Detect(_) => model.predict(&faces)?,
        };
        for (slot, p) in slots.into_iter().zip(probs) {
            rows[slot].probs = Some(p);
        }
        progress(rows.len(), images.len());
    }
    Ok(ImageScores {
        report: report_of(&rows, label_set),
        rows,
    })
}

/// Images no larger than this (longest side) are searched again, enlarged and padded, when no
/// face is found in them: a tight face crop leaves the detector no margin.
pub const RETRY_MAX_SIDE: usize = 1024;
/// The retry enlarges the image to at least this shortest side (FER2013's 48 px faces are too
/// small for RetinaFace's anchors) and pads it by a third of its side with its edge pixels.
const RETRY_MIN_SIDE: usize = 192;

/// The largest face of a still `frame` cut as `spec` says; `None` when the detector finds none,
/// also in the enlarged, padded copy ([`RETRY_MAX_SIDE`]). The crop is always cut from the
/// image itself (outside it is black, as in `analyze`).
pub(crate) fn face_of(
    path: &Path,
    frame: Frame,
    spec: &CropSpec,
    det: &mut dyn FaceDetector,
) -> Result<Option<AlignedFace>, PipelineError> {
    let mut find = |f: &Frame| -> Result<Option<[Point2; 5]>, PipelineError> {
        det.reset();
        let dets = det.detect(f).map_err(|source| PipelineError::Face {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(dets
            .iter()
            .max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
            .map(|d| d.landmarks))
    };
    let mut landmarks = find(&frame)?;
    if landmarks.is_none() && frame.width.max(frame.height) <= RETRY_MAX_SIDE {
        let (padded, scale, pad) = padded_for_detection(&frame);
        let back = |v: f32| (v - pad + 0.5) / scale - 0.5;
        landmarks = find(&padded)?.map(|l| l.map(|p| Point2::new(back(p.x), back(p.y))));
    }
    Ok(landmarks.and_then(|l| {
        wildfer_face::align::align_as(&frame.rgb, frame.width, frame.height, &l, spec)
    }))
}

/// `frame` enlarged (bilinear) to a shortest side of at least [`RETRY_MIN_SIDE`], then padded
/// on every side by a third of its longest side, repeating the edge pixels; with the scale and
/// the padding (pixel centres: padded = scale * (image + 0.5) - 0.5 + pad).
fn padded_for_detection(frame: &Frame) -> (Frame, f32, f32) {
    let (w, h) = (frame.width.max(1), frame.height.max(1));
    let scale = (RETRY_MIN_SIDE as f32 / w.min(h) as f32).max(1.0);
    let (sw, sh) = (
        ((w as f32 * scale).round() as usize).max(1),
        ((h as f32 * scale).round() as usize).max(1),
    );
    let big = wildfer_face::align::resize(&frame.rgb, w, h, sw, sh);
    let pad = sw.max(sh) / 3;
    let (pw, ph) = (sw + 2 * pad, sh + 2 * pad);
    let mut rgb = Vec::with_capacity(pw * ph * 3);
    for y in 0..ph {
        let sy = y.saturating_sub(pad).min(sh - 1);
        for x in 0..pw {
            let i = 3 * (sy * sw + x.saturating_sub(pad).min(sw - 1));
            rgb.extend_from_slice(&big[i..i + 3]);
        }
    }
    // The scale actually applied per axis differs from `scale` by rounding only.
    let scale = sw as f32 / w as f32;
    (
        Frame {
            rgb,
            width: pw,
            height: ph,
            ..frame.clone()
        },
        scale,
        pad as f32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expression::FakeExpressionModel;

    #[test]
    fn rows_report_and_unreadable_images() {
        let tmp = tempfile::tempdir().unwrap();
        let good = tmp.path().join("a,b.png");
        image::RgbImage::from_pixel(6, 8, image::Rgb([9, 9, 9]))
            .save(&good)
            .unwrap();
        let bad = tmp.path().join("bad.jpg");
        std::fs::write(&bad, b"not an image").unwrap();
        let images = vec![
            (good.clone(), Expression::Happiness),
            (bad.clone(), Expression::Anger),
            (good.clone(), Expression::Sadness),
        ];
        let mut model = FakeExpressionModel {
            probs: Probs::seven([0.0, 0.1, 0.0, 0.0, 0.8, 0.1, 0.0]),
        };
        let e = score_images(
            &images,
            LabelSet::Seven,
            &mut model,
            FaceInput::Crops,
            false,
            None,
            |_, _| {},
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("bad.jpg") && !e.contains('\n'), "{e}");
        let mut seen = Vec::new();
        let s = score_images(
            &images,
            LabelSet::Seven,
            &mut model,
            FaceInput::Crops,
            true,
            None,
            |d, t| seen.push((d, t)),
        )
        .unwrap();
        assert_eq!(seen, vec![(3, 3)]);
        assert_eq!(s.report.frames, 3);
        assert!((s.report.accuracy - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.report.missing_frames, 1);
        assert_eq!(s.unreadable().count(), 1);
        assert_eq!(s.no_face().count(), 0);
        assert_eq!(s.rows[0].prediction(), Some(Expression::Happiness));
        let line = s.rows[0].csv(LabelSet::Seven);
        assert!(
            line.starts_with('"')
                && line.contains("a,b.png\",happiness,happiness,0.000000,0.100000"),
            "{line}"
        );
        let header_cols = ImageRow::csv_header(LabelSet::Seven)
            .trim_end()
            .split(',')
            .count();
        assert_eq!(header_cols, 11);
        let bad_line = s.rows[1].csv(LabelSet::Seven);
        assert!(
            bad_line.contains("bad.jpg,anger,,") && !bad_line.trim_end().ends_with(','),
            "{bad_line}"
        );
    }

    /// What `--merge` reads back is what was written: quoted paths and notes, no-face rows,
    /// unreadable rows, probabilities to six decimals.
    #[test]
    fn rows_read_back_as_written() {
        let written = [
            ImageRow {
                path: PathBuf::from("a, \"quoted\"/x.jpg"),
                truth: Expression::Happiness,
                probs: Some(Probs::seven([0.1, 0.05, 0.05, 0.1, 0.5, 0.1, 0.1])),
                error: None,
            },
            ImageRow {
                path: PathBuf::from("blank.png"),
                truth: Expression::Neutral,
                probs: None,
                error: None,
            },
            ImageRow {
                path: PathBuf::from("bad.jpg"),
                truth: Expression::Anger,
                probs: None,
                error: Some("bad.jpg: not a JPEG, \"truncated\"".into()),
            },
        ];
        for r in &written {
            assert_eq!(
                ImageRow::parse_csv(&r.csv(LabelSet::Seven), LabelSet::Seven).unwrap(),
                *r
            );
        }
        assert!(ImageRow::parse_csv("x.jpg,happiness,happiness,0.1", LabelSet::Seven).is_err());
        assert!(ImageRow::parse_csv("x.jpg,joy,,,,,,,,,no face found", LabelSet::Seven).is_err());
    }

    /// An 8-class model's rows keep `other` through `images.csv`; scored against 7-class truth,
    /// its `Other` answers count as wrong.
    #[test]
    fn eight_class_rows_round_trip_and_other_is_wrong_on_seven_class_truth() {
        let p =
            |k: usize| Probs::from_fn(LabelSet::Eight, |i| if i == k { 0.9 } else { 0.1 / 7.0 });
        let rows = vec![
            ImageRow {
                path: PathBuf::from("happy.jpg"),
                truth: Expression::Happiness,
                probs: Some(p(4)),
                error: None,
            },
            ImageRow {
                path: PathBuf::from("sad.jpg"),
                truth: Expression::Sadness,
                probs: Some(p(7)),
                error: None,
            },
            ImageRow {
                path: PathBuf::from("blank.jpg"),
                truth: Expression::Neutral,
                probs: None,
                error: None,
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("images.csv");
        let mut csv = ImageRow::csv_header(LabelSet::Eight);
        for r in &rows {
            csv.push_str(&r.csv(LabelSet::Eight));
        }
        assert!(
            csv.starts_with("path,truth,prediction,neutral,")
                && csv.contains(",surprise,other,note\n")
        );
        std::fs::write(&path, &csv).unwrap();
        let (classes, back) = read_rows(&path).unwrap();
        assert_eq!(classes, LabelSet::Eight);
        for (a, b) in rows.iter().zip(&back) {
            assert_eq!(a.prediction(), b.prediction());
            assert_eq!(a.csv(LabelSet::Eight), b.csv(LabelSet::Eight));
        }
        assert_eq!(back[1].prediction(), Some(Expression::Other));
        let report = report_of(&back, LabelSet::Seven);
        assert!(
            (report.accuracy - 1.0 / 3.0).abs() < 1e-12,
            "{}",
            report.accuracy
        );
        assert_eq!(report.missing_frames, 2);
    }
}

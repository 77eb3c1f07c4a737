//! Pseudo-labels: an expression model (the teacher) labels every crop of an Aff-Wild2-layout
//! folder (`cropped_aligned/<video>/%05d.jpg`, e.g. made by `wildfer prepare`), writing the EXPR
//! annotation files a student is then trained on. Frames without a crop, and crops the teacher
//! is not sure enough about, are `-1`. Chosen videos go to the validation split, so the student's
//! validation score is its agreement with the teacher on videos it never saw.

use crate::PipelineError;
use crate::expression::{ExpressionModel, FaceKey, Probs};
use std::path::Path;
use wildfer_face::{AlignedFace, CropSpec, Similarity2};
use wildfer_labels::abaw::{Annotations, Layout, Split, write_annotation_dir};
use wildfer_labels::{Expression, LabelSet};

#[derive(Debug, Clone, Default)]
pub struct PseudoOptions {
    /// Videos (crop folder names) written to the validation split (none given: the last
    /// folder by name).
    pub validation: Vec<String>,
    /// Crops whose top probability is below this are `-1`.
    pub min_confidence: f32,
}

impl PseudoOptions {
    /// Refuse a confidence threshold that is not a probability.
    pub fn validate(&self) -> Result<(), PipelineError> {
        if !(0.0..=1.0).contains(&self.min_confidence) {
            return Err(PipelineError::Options(format!(
                "the minimum confidence must be in [0, 1], got {}",
                self.min_confidence
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PseudoSummary {
    /// The videos of the validation split.
    pub validation: Vec<String>,
    pub train_videos: usize,
    pub validation_videos: usize,
    pub labelled: usize,
    pub uncertain: usize,
    /// The teacher's classes: the annotation files' (an 8-class teacher labels `Other` too).
    pub classes: LabelSet,
    /// Labelled frames per ABAW class (the first `classes.num_classes()` are used).
    pub class_counts: [usize; 8],
}

/// Crops of one folder: (1-based frame, path), in frame order.
fn crops(dir: &Path) -> Result<Vec<(usize, std::path::PathBuf)>, PipelineError> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| PipelineError::io(dir, e))? {
        let p = e.map_err(|e| PipelineError::io(dir, e))?.path();
        let frame = p
            .extension()
            .filter(|x| x.eq_ignore_ascii_case("jpg"))
            .and_then(|_| p.file_stem()?.to_str()?.parse::<usize>().ok())
            .filter(|&f| f >= 1);
        if let Some(f) = frame {
            v.push((f, p));
        }
    }
    v.sort();
    Ok(v)
}

/// Faces a frame-level teacher answers at once.
const BATCH: usize = 32;

/// Label every crop below `root/cropped_aligned` with `teacher` and write
/// `root/annotations/EXPR_Set/{Train_Set,Validation_Set}/<video>.txt` (7 classes).
pub fn pseudo_label(
    root: &Path,
    teacher: &mut dyn ExpressionModel,
    opts: &PseudoOptions,
    mut progress: impl FnMut(&str, usize, usize),
) -> Result<PseudoSummary, PipelineError> {
    opts.validate()?;
    let layout = Layout::new(root);
    let crops_root = layout.crops_root();
    let mut videos: Vec<String> = std::fs::read_dir(&crops_root)
        .map_err(|e| PipelineError::io(&crops_root, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| !n.starts_with('.'))
        .collect();
    videos.sort();
    if videos.is_empty() {
        return Err(PipelineError::io(&crops_root, "no crop folders"));
    }
    let validation = if opts.validation.is_empty() {
        videos.last().cloned().into_iter().collect()
    } else {
        opts.validation.clone()
    };
    for v in &validation {
        if !videos.contains(v) {
            return Err(PipelineError::io(
                &crops_root,
                format!("no crop folder {v:?} for the validation split"),
            ));
        }
    }
    let want = teacher.crop();
    let classes = teacher.label_set();
    let mut train = Annotations::new(classes);
    let mut val = Annotations::new(classes);
    let mut sum = PseudoSummary {
        classes,
        ..PseudoSummary::default()
    };
    for (vi, video) in videos.iter().enumerate() {
        let list = crops(&layout.crop_dir(video))?;
        let frames = list.last().map_or(0, |(f, _)| *f);
        let mut labels: Vec<Option<Expression>> = vec![None; frames];
        teacher.reset();
        // One track per video: temporal teachers see the video's frames in order, each
        // frame answered when its window is complete, the last ones at the flush; frame-level
        // teachers take the faces in batches of `BATCH` (the same answers, faster).
        let temporal = teacher.temporal();
        let mut probs: Vec<(FaceKey, Probs)> = Vec::new();
        let mut batch: Vec<(FaceKey, AlignedFace)> = Vec::new();
        for (i, (f, p)) in list.iter().enumerate() {
            // Bounded decoding: sizes are checked from the header first.
            let (w, h, raw) = wildfer_video::stills::read_rgb(p)?;
            // The folders hold ArcFace-aligned crops (Aff-Wild2's layout, `prepare`'s
            // output): made square at the teacher's size, then recut as it wants.
            let size = want.size;
            let rgb = if w == size && h == size {
                raw
            } else {
                wildfer_face::align::resize(&raw, w, h, size, size)
            };
            let face = AlignedFace {
                spec: CropSpec::arcface(size),
                rgb,
                transform: Similarity2::IDENTITY,
            };
            let face = face.recrop(&want).ok_or_else(|| {
                PipelineError::Model(format!("the teacher's crop {want:?} is degenerate"))
            })?;
            if temporal {
                probs.extend(teacher.submit(&[*f as FaceKey], &[0], &[face])?);
                continue;
            }
            batch.push((*f as FaceKey, face));
            if batch.len() == BATCH || i + 1 == list.len() {
                let (keys, faces): (Vec<FaceKey>, Vec<AlignedFace>) = batch.drain(..).unzip();
                probs.extend(keys.into_iter().zip(teacher.predict(&faces)?));
            }
        }
        probs.extend(teacher.flush()?);
        for (f, p) in probs {
            let c = p.top();
            if p.get(c).unwrap_or(0.0) >= opts.min_confidence {
                labels[f as usize - 1] = Some(c);
                sum.class_counts[c.index()] += 1;
                sum.labelled += 1;
            } else {
                sum.uncertain += 1;
            }
        }
        if validation.contains(video) {
            val.videos.insert(video.clone(), labels);
            sum.validation_videos += 1;
        } else {
            train.videos.insert(video.clone(), labels);
            sum.train_videos += 1;
        }
        progress(video, vi + 1, videos.len());
    }
    write_annotation_dir(&layout.split_dir(Split::Train), &train)?;
    write_annotation_dir(&layout.split_dir(Split::Validation), &val)?;
    sum.validation = validation;
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FakeExpressionModel;

    #[test]
    fn labels_crops_leaves_gaps_and_splits_by_video() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for (video, frames) in [("a", vec![1, 2, 4]), ("b", vec![2])] {
            let d = Layout::new(root).crop_dir(video);
            std::fs::create_dir_all(&d).unwrap();
            for f in frames {
                image::RgbImage::new(40, 40)
                    .save(d.join(Layout::crop_name(f)))
                    .unwrap();
            }
        }
        // Happiness at 0.6.
        let mut teacher = FakeExpressionModel {
            probs: Probs::seven([0.1, 0.05, 0.05, 0.05, 0.6, 0.1, 0.05]),
        };
        let opts = PseudoOptions {
            validation: vec!["b".into()],
            min_confidence: 0.0,
        };
        let s = pseudo_label(root, &mut teacher, &opts, |_, _, _| {}).unwrap();
        assert_eq!((s.train_videos, s.validation_videos, s.labelled), (1, 1, 4));
        assert_eq!(s.class_counts[4], 4);
        let ann = root.join("annotations/EXPR_Set");
        let a = std::fs::read_to_string(ann.join("Train_Set/a.txt")).unwrap();
        assert_eq!(a.lines().skip(1).collect::<Vec<_>>(), ["4", "4", "-1", "4"]);
        let b = std::fs::read_to_string(ann.join("Validation_Set/b.txt")).unwrap();
        assert_eq!(b.lines().skip(1).collect::<Vec<_>>(), ["-1", "4"]);
        // Below the confidence threshold nothing is labelled.
        let opts = PseudoOptions {
            min_confidence: 0.7,
            ..opts
        };
        let s = pseudo_label(root, &mut teacher, &opts, |_, _, _| {}).unwrap();
        assert_eq!((s.labelled, s.uncertain), (0, 4));
        // A threshold that is no probability is refused by the library itself.
        let bad = PseudoOptions {
            min_confidence: 1.5,
            ..opts.clone()
        };
        let e = pseudo_label(root, &mut teacher, &bad, |_, _, _| {}).unwrap_err();
        assert!(matches!(e, PipelineError::Options(_)), "{e}");
        assert!(e.to_string().contains("1.5"), "{e}");
        // Without a choice the last folder by name is the validation split.
        let opts = PseudoOptions {
            validation: Vec::new(),
            min_confidence: 0.0,
        };
        let s = pseudo_label(root, &mut teacher, &opts, |_, _, _| {}).unwrap();
        assert_eq!(s.validation, vec!["b".to_string()]);
        assert_eq!((s.train_videos, s.validation_videos), (1, 1));
        // An unknown validation video is an error naming it.
        let opts = PseudoOptions {
            validation: vec!["zz".into()],
            min_confidence: 0.0,
        };
        let e = pseudo_label(root, &mut teacher, &opts, |_, _, _| {}).unwrap_err();
        assert!(e.to_string().contains("zz"), "{e}");
    }

    /// A class from each crop's brightness; remembers how many faces each call got.
    struct Bright {
        temporal: bool,
        calls: Vec<usize>,
    }

    impl ExpressionModel for Bright {
        fn name(&self) -> &str {
            "bright"
        }
        fn crop(&self) -> CropSpec {
            CropSpec::arcface(40)
        }
        fn temporal(&self) -> bool {
            self.temporal
        }
        fn predict(&mut self, faces: &[AlignedFace]) -> Result<Vec<Probs>, PipelineError> {
            self.calls.push(faces.len());
            Ok(faces
                .iter()
                .map(|f| {
                    let mean =
                        f.rgb.iter().map(|&v| f32::from(v)).sum::<f32>() / f.rgb.len() as f32;
                    let k = (mean / 37.0) as usize % 7;
                    Probs::from_fn(LabelSet::Seven, |i| if i == k { 1.0 } else { 0.0 })
                })
                .collect())
        }
    }

    /// Frame-level teachers get the crops 32 at a time, temporal ones frame by frame: the
    /// labels are the same.
    #[test]
    fn frame_level_teachers_are_batched_with_the_same_labels() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let d = Layout::new(root).crop_dir("v");
        std::fs::create_dir_all(&d).unwrap();
        for f in 1..=40u8 {
            image::RgbImage::from_pixel(40, 40, image::Rgb([f * 6, f * 6, f * 6]))
                .save(d.join(Layout::crop_name(f.into())))
                .unwrap();
        }
        std::fs::create_dir_all(Layout::new(root).crop_dir("w")).unwrap();
        let opts = PseudoOptions {
            validation: vec!["w".into()],
            min_confidence: 0.0,
        };
        let mut labels = Vec::new();
        for temporal in [false, true] {
            let mut teacher = Bright {
                temporal,
                calls: Vec::new(),
            };
            pseudo_label(root, &mut teacher, &opts, |_, _, _| {}).unwrap();
            let calls = if temporal { vec![1; 40] } else { vec![32, 8] };
            assert_eq!(teacher.calls, calls);
            let ann = root.join("annotations/EXPR_Set/Train_Set/v.txt");
            labels.push(std::fs::read_to_string(ann).unwrap());
        }
        assert_eq!(labels[0], labels[1]);
        assert!(
            labels[0]
                .lines()
                .skip(1)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                > 3
        );
    }
}

//! Frame-by-frame evaluation of predictions against ground truth.

use crate::metrics::{Confusion, abaw2020_score};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use std::collections::BTreeMap;
use wildfer_labels::LabelSet;
use wildfer_labels::abaw::Annotations;

/// How to evaluate.
#[derive(Debug, Clone, Copy, Default)]
pub struct EvalOptions {
    /// Expected label set; `None` takes the truth's.
    pub label_set: Option<LabelSet>,
    /// Count annotated frames without a prediction (missing videos included) as wrong instead
    /// of failing.
    pub allow_missing: bool,
}

/// Why predictions cannot be scored against the truth.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EvalError {
    #[error("the {which} has {found} classes but {expected} are expected ({why})")]
    LabelSet {
        which: &'static str,
        found: LabelSet,
        expected: LabelSet,
        why: &'static str,
    },
    #[error("the predictions have no video {video:?} ({count} truth videos without predictions)")]
    MissingVideo { video: String, count: usize },
    #[error("the predictions have video {video:?}, which is not in the truth")]
    ExtraVideo { video: String },
    #[error(
        "video {video:?}: no prediction for annotated frame {frame} ({count} annotated frames without prediction in all)"
    )]
    MissingFrames {
        video: String,
        frame: usize,
        count: u64,
    },
    #[error(
        "video {video:?}: prediction for frame {frame}, but the truth has only {truth_frames} frames"
    )]
    ExtraFrame {
        video: String,
        frame: usize,
        truth_frames: usize,
    },
    #[error("the truth has no annotated frame (all labels are -1)")]
    NoFrames,
}

/// Scores of one video.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VideoScore {
    pub frames: u64,
    pub accuracy: f64,
    pub f1_macro: f64,
}

/// Per-class values keyed by lower-case class name, serialised as a JSON object in ABAW order.
#[derive(Debug, Clone, PartialEq)]
pub struct PerClass<T>(pub Vec<(&'static str, T)>);

impl<T: Serialize> Serialize for PerClass<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// Result of [`evaluate`]; serialises to the JSON printed by `wildfer eval`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvalReport {
    /// 7 or 8.
    pub classes: usize,
    pub class_names: Vec<&'static str>,
    pub videos: usize,
    /// Frames scored: annotated frames, with or without a prediction.
    pub frames: u64,
    pub accuracy: f64,
    pub f1_macro: f64,
    pub f1_per_class: PerClass<f64>,
    pub precision_per_class: PerClass<f64>,
    pub recall_per_class: PerClass<f64>,
    pub support_per_class: PerClass<u64>,
    /// `0.67 * f1_macro + 0.33 * accuracy` (the ABAW 2020/2021 score).
    pub abaw2020_score: f64,
    /// Macro F1 over the 8 classes (the ABAW 2022+ score); only for 8-class labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abaw2022_score: Option<f64>,
    /// Rows = truth, columns = prediction, in ABAW class order.
    pub confusion: Vec<Vec<u64>>,
    /// Truth frames labelled -1, excluded from every metric.
    pub skipped_frames: u64,
    /// Annotated frames without a prediction, counted as wrong (only with `allow_missing`).
    pub missing_frames: u64,
    /// Truth videos with no prediction at all (only with `allow_missing`).
    pub missing_videos: Vec<String>,
    pub per_video: BTreeMap<String, VideoScore>,
    #[serde(skip)]
    pub confusion_matrix: Confusion,
}

/// Score `pred` against `truth` frame by frame.
///
/// Frames labelled -1 in the truth are skipped. Annotated frames without a prediction are an
/// error unless `opts.allow_missing`, in which case they count as wrong. Predictions for
/// videos or frames the truth does not have are always an error: they mean the two sets do
/// not belong together.
pub fn evaluate(
    truth: &Annotations,
    pred: &Annotations,
    opts: EvalOptions,
) -> Result<EvalReport, EvalError> {
    let set = opts.label_set.unwrap_or(truth.label_set);
    let why = if opts.label_set.is_some() {
        "as asked"
    } else {
        "as in the truth"
    };
    for (which, found) in [("truth", truth.label_set), ("prediction", pred.label_set)] {
        if found != set {
            return Err(EvalError::LabelSet {
                which,
                found,
                expected: set,
                why,
            });
        }
    }
    if let Some(video) = pred.videos.keys().find(|v| !truth.videos.contains_key(*v)) {
        return Err(EvalError::ExtraVideo {
            video: video.clone(),
        });
    }
    let missing_videos: Vec<String> = truth
        .videos
        .keys()
        .filter(|v| !pred.videos.contains_key(*v))
        .cloned()
        .collect();
    if let (false, Some(first)) = (opts.allow_missing, missing_videos.first()) {
        return Err(EvalError::MissingVideo {
            video: first.clone(),
            count: missing_videos.len(),
        });
    }

    let n = set.num_classes();
    let mut total = Confusion::new(n);
    let mut skipped = 0u64;
    let mut first_missing: Option<(String, usize)> = None;
    let mut per_video = BTreeMap::new();
    let empty = Vec::new();
    for (video, t) in &truth.videos {
        let p = pred.videos.get(video).unwrap_or(&empty);
        if let Some(i) = p.iter().skip(t.len()).position(Option::is_some) {
            return Err(EvalError::ExtraFrame {
                video: video.clone(),
                frame: t.len() + i + 1,
                truth_frames: t.len(),
            });
        }
        let mut c = Confusion::new(n);
        for (i, tl) in t.iter().enumerate() {
            let Some(tl) = tl else {
                skipped += 1;
                continue;
            };
            let pl = p.get(i).copied().flatten();
            if pl.is_none() && first_missing.is_none() {
                first_missing = Some((video.clone(), i + 1));
            }
            c.add(tl.index(), pl.map(|e| e.index()));
            total.add(tl.index(), pl.map(|e| e.index()));
        }
        per_video.insert(
            video.clone(),
            VideoScore {
                frames: c.total(),
                accuracy: c.accuracy(),
                f1_macro: c.f1_macro(),
            },
        );
    }
    if total.total() == 0 {
        return Err(EvalError::NoFrames);
    }
    if let (false, Some((video, frame))) = (opts.allow_missing, first_missing) {
        return Err(EvalError::MissingFrames {
            video,
            frame,
            count: total.missing(),
        });
    }

    Ok(EvalReport {
        videos: truth.videos.len(),
        skipped_frames: skipped,
        missing_videos,
        per_video,
        ..EvalReport::from_confusion(total, set)
    })
}

impl EvalReport {
    /// The report of one confusion matrix (no videos: e.g. a set of still images, one
    /// prediction each; `missing` predictions count as wrong).
    pub fn from_confusion(total: Confusion, set: LabelSet) -> EvalReport {
        let classes = set.classes();
        let per = |f: &dyn Fn(usize) -> f64| {
            PerClass(classes.iter().map(|e| (e.key(), f(e.index()))).collect())
        };
        let f1_macro = total.f1_macro();
        let accuracy = total.accuracy();
        EvalReport {
            classes: set.num_classes(),
            class_names: classes.iter().map(|e| e.key()).collect(),
            videos: 0,
            frames: total.total(),
            accuracy,
            f1_macro,
            f1_per_class: per(&|c| total.f1(c)),
            precision_per_class: per(&|c| total.precision(c)),
            recall_per_class: per(&|c| total.recall(c)),
            support_per_class: PerClass(
                classes
                    .iter()
                    .map(|e| (e.key(), total.support(e.index())))
                    .collect(),
            ),
            abaw2020_score: abaw2020_score(f1_macro, accuracy),
            abaw2022_score: (set == LabelSet::Eight).then_some(f1_macro),
            confusion: total.rows(),
            skipped_frames: 0,
            missing_frames: total.missing(),
            missing_videos: Vec::new(),
            per_video: BTreeMap::new(),
            confusion_matrix: total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wildfer_labels::Expression::{self, *};

    fn ann(set: LabelSet, videos: &[(&str, Vec<Option<Expression>>)]) -> Annotations {
        let mut a = Annotations::new(set);
        for (v, f) in videos {
            a.videos.insert(v.to_string(), f.clone());
        }
        a
    }

    #[test]
    fn skips_unannotated_and_aligns_videos() {
        let t = ann(
            LabelSet::Seven,
            &[
                ("a", vec![Some(Neutral), None, Some(Anger)]),
                ("b_left", vec![Some(Fear)]),
            ],
        );
        // A prediction for an unannotated frame is ignored.
        let p = ann(
            LabelSet::Seven,
            &[
                ("a", vec![Some(Neutral), Some(Fear), Some(Fear)]),
                ("b_left", vec![Some(Fear)]),
            ],
        );
        let r = evaluate(&t, &p, EvalOptions::default()).unwrap();
        assert_eq!(r.frames, 3);
        assert_eq!(r.skipped_frames, 1);
        assert!((r.accuracy - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.confusion[1][3], 1);
        assert_eq!(r.per_video["b_left"].accuracy, 1.0);
        assert_eq!(r.abaw2022_score, None);
    }

    #[test]
    fn missing_predictions() {
        let t = ann(
            LabelSet::Eight,
            &[
                ("a", vec![Some(Other), Some(Anger)]),
                ("b", vec![Some(Fear)]),
            ],
        );
        let p = ann(LabelSet::Eight, &[("a", vec![Some(Other)])]);
        let e = evaluate(&t, &p, EvalOptions::default()).unwrap_err();
        assert_eq!(
            e,
            EvalError::MissingVideo {
                video: "b".into(),
                count: 1
            }
        );
        let p2 = ann(
            LabelSet::Eight,
            &[("a", vec![Some(Other)]), ("b", vec![Some(Fear)])],
        );
        let e = evaluate(&t, &p2, EvalOptions::default()).unwrap_err();
        assert_eq!(
            e,
            EvalError::MissingFrames {
                video: "a".into(),
                frame: 2,
                count: 1
            }
        );
        let opts = EvalOptions {
            allow_missing: true,
            ..Default::default()
        };
        let r = evaluate(&t, &p, opts).unwrap();
        assert_eq!(r.frames, 3);
        assert_eq!(r.missing_frames, 2);
        assert_eq!(r.missing_videos, vec!["b".to_string()]);
        assert!((r.accuracy - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.abaw2022_score, Some(r.f1_macro));
    }

    #[test]
    fn mismatched_sets_are_errors() {
        let t = ann(LabelSet::Seven, &[("a", vec![Some(Neutral)])]);
        let extra = ann(
            LabelSet::Seven,
            &[("a", vec![Some(Neutral)]), ("z", vec![Some(Neutral)])],
        );
        assert_eq!(
            evaluate(&t, &extra, EvalOptions::default()).unwrap_err(),
            EvalError::ExtraVideo { video: "z".into() }
        );
        let long = ann(
            LabelSet::Seven,
            &[("a", vec![Some(Neutral), None, Some(Fear)])],
        );
        assert_eq!(
            evaluate(&t, &long, EvalOptions::default()).unwrap_err(),
            EvalError::ExtraFrame {
                video: "a".into(),
                frame: 3,
                truth_frames: 1
            }
        );
        let eight = ann(LabelSet::Eight, &[("a", vec![Some(Neutral)])]);
        assert!(matches!(
            evaluate(&t, &eight, EvalOptions::default()),
            Err(EvalError::LabelSet {
                which: "prediction",
                ..
            })
        ));
        let opts = EvalOptions {
            label_set: Some(LabelSet::Eight),
            ..Default::default()
        };
        assert!(matches!(
            evaluate(&t, &t, opts),
            Err(EvalError::LabelSet { which: "truth", .. })
        ));
        let none = ann(LabelSet::Seven, &[("a", vec![None, None])]);
        assert_eq!(
            evaluate(&none, &none, EvalOptions::default()).unwrap_err(),
            EvalError::NoFrames
        );
    }
}

//! Prediction over whole videos and image sets through the [`Runner`]: every frame of every
//! video, each video one segment of the windowing rule ([`crate::windows`]: 8-frame chunks for
//! method A's per-frame head, a centred window for middle-frame heads), each distinct crop
//! through the backbone once; frames without a crop show the nearest earlier crop.
//! Probabilities may be smoothed over time before the arg-max.

use crate::RuntimeError;
use crate::input::{InputSpec, load_crop};
use crate::runner::Runner;
use crate::windows::Features;
use rayon::prelude::*;
use std::path::PathBuf;
use wildfer_data::{AffWild2, ImageSet};
use wildfer_eval::{Confusion, EvalOptions, EvalReport, evaluate};
use wildfer_labels::abaw::Annotations;
use wildfer_labels::argmax;
use wildfer_labels::smoothing::SmoothKind;
use wildfer_labels::{Expression, LabelSet};

/// Per-frame class probabilities of one video (`None`: the video has no crop at all, so no
/// prediction).
#[derive(Debug, Clone, PartialEq)]
pub struct VideoProbs {
    pub name: String,
    pub probs: Option<Vec<Vec<f32>>>,
    /// Crops that could not be decoded: shown to the network as a mean-colour image (all
    /// zeros after normalisation), counted here; the first error is kept.
    pub bad_crops: usize,
    pub first_error: Option<String>,
}

/// Frames per backbone pass at most (bounds memory whatever `batch`).
const FRAME_CHUNK: usize = 32;

/// Decode and prepare `paths` as `input` says, in parallel: the pixels (`3 * s * s` per path)
/// and each path's error. An undecodable crop is left as a mean-colour image (all zeros after
/// normalisation).
fn load_crops(paths: &[PathBuf], input: &InputSpec) -> (Vec<f32>, Vec<Option<String>>) {
    let frame = 3 * input.size * input.size;
    let mut px = vec![0f32; paths.len() * frame];
    let errors = px
        .par_chunks_mut(frame)
        .zip(paths.par_iter())
        .map(|(o, path)| {
            load_crop(path, input.size, &input.draw, o).err().map(|e| {
                o.fill(0.0);
                e.to_string()
            })
        })
        .collect();
    (px, errors)
}

/// Probabilities for every frame of every video of `data`, each video one segment of the
/// windowing rule ([`crate::windows`]; frames without a crop show the nearest earlier crop),
/// `batch` frames per backbone pass; `progress(done, total)` after each video.
pub fn predict(
    runner: &mut Runner<usize>,
    data: &AffWild2,
    batch: usize,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<VideoProbs>, RuntimeError> {
    let mut out = Vec::with_capacity(data.videos.len());
    for (vi, v) in data.videos.iter().enumerate() {
        runner.reset();
        let table = v.crop_table();
        let n = v.frames();
        if n == 0 || table.first().is_none_or(|&c| c == 0) {
            out.push(VideoProbs {
                name: v.name.clone(),
                probs: None,
                bad_crops: 0,
                first_error: None,
            });
            progress(vi + 1, data.videos.len());
            continue;
        }
        let mut probs: Vec<Vec<f32>> = vec![Vec::new(); n];
        let (mut bad_crops, mut first_error) = (0, None);
        // The last crop's features: frames without their own crop repeat it.
        let mut last: Option<(usize, Features)> = None;
        let per_pass = batch.clamp(1, FRAME_CHUNK);
        for (ci, chunk) in table.chunks(per_pass).enumerate() {
            // Distinct crops of this chunk not already at hand, in order.
            let mut crops: Vec<usize> = Vec::new();
            for &c in chunk {
                if last.as_ref().is_none_or(|(l, _)| *l != c) && crops.last() != Some(&c) {
                    crops.push(c);
                }
            }
            let paths: Vec<_> = crops.iter().map(|&c| v.crop_path(c)).collect();
            let (px, errors) = load_crops(&paths, runner.input());
            let errors: Vec<String> = errors.into_iter().flatten().collect();
            bad_crops += errors.len();
            if first_error.is_none() {
                first_error = errors.into_iter().next();
            }
            let mut feats = runner.features(px, crops.len())?.into_iter();
            for (i, &c) in chunk.iter().enumerate() {
                let f = match &last {
                    Some((l, f)) if *l == c => f.clone(),
                    _ => {
                        let f = feats.next().ok_or_else(|| {
                            RuntimeError::Invalid("predict: fewer features than crops".into())
                        })?;
                        last = Some((c, f.clone()));
                        f
                    }
                };
                runner.push(0, ci * per_pass + i, f);
            }
            for (f, p) in runner.outputs()? {
                probs[f] = p;
            }
        }
        runner.finish();
        for (f, p) in runner.outputs()? {
            probs[f] = p;
        }
        out.push(VideoProbs {
            name: v.name.clone(),
            probs: Some(probs),
            bad_crops,
            first_error,
        });
        progress(vi + 1, data.videos.len());
    }
    Ok(out)
}

/// An ensemble's probabilities: per video, the weighted average of the members' per-frame
/// probabilities ([`wildfer_nn::ensemble::average`]; `None` weights: equal). Every member
/// predicted the same videos in the same order; a video some member has no crop for has no
/// prediction. Crop errors are summed, the first kept.
pub fn average_videos(
    members: Vec<Vec<VideoProbs>>,
    weights: Option<&[f32]>,
) -> Result<Vec<VideoProbs>, RuntimeError> {
    let n = members.first().map_or(0, Vec::len);
    if members.iter().any(|m| m.len() != n) {
        return Err(RuntimeError::Invalid(
            "ensemble members predicted different videos".into(),
        ));
    }
    let mut out = Vec::with_capacity(n);
    for v in 0..n {
        let each: Vec<&VideoProbs> = members.iter().map(|m| &m[v]).collect();
        let name = each[0].name.clone();
        if each.iter().any(|x| x.name != name) {
            return Err(RuntimeError::Invalid(format!(
                "ensemble members predicted different videos ({name} vs others)"
            )));
        }
        let probs = match each
            .iter()
            .map(|x| x.probs.clone())
            .collect::<Option<Vec<_>>>()
        {
            Some(all) => Some(
                wildfer_nn::ensemble::average(&all, weights)
                    .map_err(|e| RuntimeError::Invalid(format!("{name}: {e}")))?,
            ),
            None => None,
        };
        out.push(VideoProbs {
            name,
            probs,
            bad_crops: each.iter().map(|x| x.bad_crops).sum(),
            first_error: each.iter().find_map(|x| x.first_error.clone()),
        });
    }
    Ok(out)
}

/// Probabilities of every image of a still-image set, each shown as a static clip.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageProbs {
    /// Per image of the set, in order (`None`: the image could not be decoded).
    pub probs: Vec<Option<Vec<f32>>>,
    /// Undecodable images (counted as wrong by [`ImageProbs::report`]), the first error kept.
    pub bad: usize,
    pub first_error: Option<String>,
}

impl ImageProbs {
    /// The arg-max class of image `i`, if it was decoded.
    pub fn label(&self, i: usize) -> Option<usize> {
        self.probs[i].as_deref().map(argmax)
    }

    /// Scores against the set's labels; undecodable images count as wrong.
    pub fn report(&self, set: &ImageSet, label_set: LabelSet) -> EvalReport {
        let mut c = Confusion::new(label_set.num_classes());
        for (i, (_, truth)) in set.images.iter().enumerate() {
            c.add(truth.index(), self.label(i));
        }
        EvalReport::from_confusion(c, label_set)
    }
}

/// Class probabilities of every image of `set`, `batch` images per backbone pass, each image a
/// face with no context (a one-frame segment of [`crate::windows`]); `progress(done, total)`
/// after each batch.
pub fn predict_images<K: Clone>(
    runner: &Runner<K>,
    set: &ImageSet,
    batch: usize,
    mut progress: impl FnMut(usize, usize),
) -> Result<ImageProbs, RuntimeError> {
    let n = set.images.len();
    let mut out = ImageProbs {
        probs: Vec::with_capacity(n),
        bad: 0,
        first_error: None,
    };
    for chunk in set.images.chunks(batch.clamp(1, FRAME_CHUNK)) {
        let paths: Vec<_> = chunk.iter().map(|(p, _)| p.clone()).collect();
        let (px, errors) = load_crops(&paths, runner.input());
        let feats = runner.features(px, chunk.len())?;
        let probs = runner.alone(feats)?;
        for (err, p) in errors.into_iter().zip(probs) {
            match err {
                Some(e) => {
                    out.bad += 1;
                    out.first_error.get_or_insert(e);
                    out.probs.push(None);
                }
                None => out.probs.push(Some(p)),
            }
        }
        progress(out.probs.len(), n);
    }
    Ok(out)
}

/// Smoothing over `window` frames as [`wildfer_labels::smoothing`] defines it; 0 or 1:
/// unchanged.
pub fn smooth(probs: &[Vec<f32>], window: usize, kind: SmoothKind) -> Vec<Vec<f32>> {
    let w = wildfer_labels::smoothing::SmoothWindow::new(window, kind);
    if window <= 1 || probs.is_empty() {
        return probs.to_vec();
    }
    let (n, c) = (probs.len(), probs[0].len());
    (0..n)
        .map(|i| {
            let (a, b) = (i.saturating_sub(w.before()), (i + w.after()).min(n - 1));
            let mut s = vec![0f32; c];
            let mut total = 0f32;
            for (j, p) in probs.iter().enumerate().take(b + 1).skip(a) {
                let wt = w.weight(j as isize - i as isize);
                total += wt;
                for k in 0..c {
                    s[k] += wt * p[k];
                }
            }
            s.iter().map(|x| x / total).collect()
        })
        .collect()
}

/// Arg-max labels of (smoothed) probabilities, as annotations in `label_set`.
pub fn to_annotations(
    videos: &[VideoProbs],
    label_set: LabelSet,
    smooth_window: usize,
    kind: SmoothKind,
) -> Annotations {
    let mut ann = Annotations::new(label_set);
    for v in videos {
        if let Some(p) = &v.probs {
            let p = smooth(p, smooth_window, kind);
            ann.videos.insert(
                v.name.clone(),
                p.iter()
                    .map(|q| Expression::from_index(argmax(q)))
                    .collect(),
            );
        }
    }
    ann
}

/// The split's own labels.
pub fn truth(data: &AffWild2) -> Annotations {
    let mut ann = Annotations::new(data.label_set);
    for v in &data.videos {
        ann.videos.insert(v.name.clone(), v.labels.clone());
    }
    ann
}

/// Score predictions on the whole split; videos without any crop count as wrong.
pub fn score(data: &AffWild2, pred: &Annotations) -> Result<EvalReport, RuntimeError> {
    evaluate(
        &truth(data),
        pred,
        EvalOptions {
            label_set: Some(data.label_set),
            allow_missing: true,
        },
    )
    .map_err(|e| RuntimeError::Invalid(format!("scoring: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_is_a_centred_mean() {
        let p = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 0.0]];
        let s = smooth(&p, 3, SmoothKind::Mean);
        assert_eq!(s[0], vec![0.5, 0.5]);
        assert!((s[1][0] - 2.0 / 3.0).abs() < 1e-6);
        assert_eq!(smooth(&p, 1, SmoothKind::Mean), p);
        // Gaussian, window 4 (sigma 1): weights e^-0.5, 1, e^-0.5, e^-2 around frame 1.
        let g = smooth(&p, 4, SmoothKind::Gaussian);
        let (w1, w2) = ((-0.5f32).exp(), (-2.0f32).exp());
        assert!(
            (g[1][0] - 2.0 * w1 / (1.0 + 2.0 * w1)).abs() < 1e-6,
            "{g:?}"
        );
        assert!(
            (g[0][0] - (1.0 + w2) / (1.0 + w1 + w2)).abs() < 1e-6,
            "{g:?}"
        );
        assert!(g.iter().all(|q| (q.iter().sum::<f32>() - 1.0).abs() < 1e-6));
    }
}

//! Prediction over whole videos as in method A: every frame of every video, cut into windows
//! (T-frame clips with the last padded and masked for per-frame heads; a window centred on each
//! frame for middle-frame heads). Each distinct crop goes through the backbone once per batch of
//! windows; frames without a crop show the nearest earlier crop. Probabilities may be smoothed
//! over time before the arg-max.

use crate::TrainError;
use crate::config::SmoothKind;
use crate::image::{InputSpec, load_crop};
use crate::loader::crop_table;
use crate::net::{Net, WindowSpec};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rayon::prelude::*;
use std::collections::BTreeMap;
use wildfer_core::abaw::Annotations;
use wildfer_core::argmax;
use wildfer_core::{Expression, LabelSet};
use wildfer_data::{AffWild2, ImageSet};
use wildfer_eval::{Confusion, EvalOptions, EvalReport, evaluate};

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

/// Frames per backbone pass (bounds memory whatever the window batch).
const FRAME_CHUNK: usize = 32;

/// Windows of a video of `n` frames: per window the 1-based positions (beyond `n`: padding) and
/// the frame each output labels.
pub fn video_windows(n: usize, spec: WindowSpec) -> Vec<(Vec<usize>, Vec<usize>)> {
    let t = spec.len;
    if spec.middle {
        let h = t / 2;
        (1..=n)
            .map(|f| {
                let pos = (0..t)
                    .map(|i| (f + i).saturating_sub(h).clamp(1, n))
                    .collect();
                (pos, vec![f])
            })
            .collect()
    } else {
        (1..=n)
            .step_by(t)
            .map(|s| {
                let pos: Vec<usize> = (s..s + t).collect();
                let outs = pos.clone();
                (pos, outs)
            })
            .collect()
    }
}

/// Probabilities for every frame of every video of `data` (each crop prepared as `input` says:
/// [`crate::TrainConfig::input`]); `progress(done, total)` after each video. `net` should be in validation mode (`Module::valid`).
pub fn predict(
    net: &Net,
    spec: WindowSpec,
    data: &AffWild2,
    input: &InputSpec,
    window_batch: usize,
    device: &Device,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<VideoProbs>, TrainError> {
    let size = input.size;
    let mut out = Vec::with_capacity(data.videos.len());
    for (vi, v) in data.videos.iter().enumerate() {
        let table = crop_table(v);
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
        for group in video_windows(n, spec).chunks(window_batch.max(1)) {
            // Distinct crops of this group in first-use order, and each one's row.
            let mut index: BTreeMap<usize, usize> = BTreeMap::new();
            let mut crops: Vec<usize> = Vec::new();
            for (pos, _) in group {
                for &p in pos {
                    let c = table[p.min(n) - 1];
                    index.entry(c).or_insert_with(|| {
                        crops.push(c);
                        crops.len() - 1
                    });
                }
            }
            let mut feats: Vec<Tensor<2>> = Vec::new();
            for chunk in crops.chunks(FRAME_CHUNK) {
                let frame = 3 * size * size;
                let mut px = vec![0f32; chunk.len() * frame];
                let errors: Vec<String> = px
                    .par_chunks_mut(frame)
                    .zip(chunk.par_iter())
                    .filter_map(|(o, &c)| {
                        load_crop(&v.crop_path(c), size, &input.draw, o)
                            .err()
                            .map(|e| {
                                o.fill(0.0);
                                e.to_string()
                            })
                    })
                    .collect();
                bad_crops += errors.len();
                if first_error.is_none() {
                    first_error = errors.into_iter().next();
                }
                let x = Tensor::<4>::from_data(
                    TensorData::new(px, [chunk.len(), 3, size, size]),
                    device,
                );
                feats.push(net.features(x));
            }
            let feats = Tensor::cat(feats, 0);
            let (b, t) = (group.len(), spec.len);
            let mut idx = Vec::with_capacity(b * t);
            let mut mask = Vec::with_capacity(b * t);
            for (pos, _) in group {
                for &p in pos {
                    idx.push(index[&table[p.min(n) - 1]] as i64);
                    mask.push(if p <= n { 1f32 } else { 0.0 });
                }
            }
            let d = feats.dims()[1];
            let gathered = feats
                .select(
                    0,
                    Tensor::<1, Int>::from_data(TensorData::new(idx, [b * t]), device),
                )
                .reshape([b, t, d]);
            let mask = Tensor::<2>::from_data(TensorData::new(mask, [b, t]), device);
            let logits = net.head(gathered, Some(mask));
            let [_, o, c] = logits.dims();
            let p = softmax(logits, 2).into_data();
            let p = p
                .as_slice::<f32>()
                .map_err(|e| TrainError::Invalid(format!("probabilities: {e:?}")))?;
            for (wi, (_, outs)) in group.iter().enumerate() {
                for (oi, &f) in outs.iter().enumerate().take(o) {
                    if f <= n {
                        let s = (wi * o + oi) * c;
                        probs[f - 1] = p[s..s + c].to_vec();
                    }
                }
            }
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

/// Class probabilities of every image of `set`, `batch` images per forward pass (the backbone
/// once per image; its features repeated over the head's window); `progress(done, total)` after
/// each batch. `net` should be in validation mode.
pub fn predict_images(
    net: &Net,
    spec: WindowSpec,
    set: &ImageSet,
    input: &InputSpec,
    batch: usize,
    device: &Device,
    mut progress: impl FnMut(usize, usize),
) -> Result<ImageProbs, TrainError> {
    let size = input.size;
    let (n, frame) = (set.images.len(), 3 * size * size);
    let mut out = ImageProbs {
        probs: Vec::with_capacity(n),
        bad: 0,
        first_error: None,
    };
    for chunk in set.images.chunks(batch.clamp(1, FRAME_CHUNK)) {
        let mut px = vec![0f32; chunk.len() * frame];
        let errors: Vec<Option<String>> = px
            .par_chunks_mut(frame)
            .zip(chunk.par_iter())
            .map(|(o, (path, _))| {
                load_crop(path, size, &input.draw, o)
                    .err()
                    .map(|e| e.to_string())
            })
            .collect();
        let b = chunk.len();
        let x = Tensor::<4>::from_data(TensorData::new(px, [b, 3, size, size]), device);
        let feats = net.features(x);
        let d = feats.dims()[1];
        let clips = feats.unsqueeze_dim::<3>(1).repeat_dim(1, spec.len);
        let logits = net.head(clips.reshape([b, spec.len, d]), None);
        let [_, o, c] = logits.dims();
        let p = softmax(logits, 2).into_data();
        let p = p
            .as_slice::<f32>()
            .map_err(|e| TrainError::Invalid(format!("probabilities: {e:?}")))?;
        for (i, err) in errors.into_iter().enumerate() {
            match err {
                Some(e) => {
                    out.bad += 1;
                    out.first_error.get_or_insert(e);
                    out.probs.push(None);
                }
                None => {
                    // A static clip: every output sees the same frames; take the middle one.
                    let s = (i * o + o / 2) * c;
                    out.probs.push(Some(p[s..s + c].to_vec()));
                }
            }
        }
        progress(out.probs.len(), n);
    }
    Ok(out)
}

/// Smoothing over `window` frames as [`wildfer_core::smoothing`] defines it; 0 or 1:
/// unchanged.
pub fn smooth(probs: &[Vec<f32>], window: usize, kind: SmoothKind) -> Vec<Vec<f32>> {
    let w = wildfer_core::smoothing::SmoothWindow::new(window, kind);
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
pub fn score(data: &AffWild2, pred: &Annotations) -> Result<EvalReport, TrainError> {
    evaluate(
        &truth(data),
        pred,
        EvalOptions {
            label_set: Some(data.label_set),
            allow_missing: true,
        },
    )
    .map_err(|e| TrainError::Invalid(format!("scoring: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_every_frame_once() {
        let w = video_windows(
            10,
            WindowSpec {
                len: 4,
                middle: false,
            },
        );
        assert_eq!(w.len(), 3);
        assert_eq!(w[2].0, vec![9, 10, 11, 12]);
        let m = video_windows(
            5,
            WindowSpec {
                len: 3,
                middle: true,
            },
        );
        assert_eq!(m[0], (vec![1, 1, 2], vec![1]));
        assert_eq!(m[4], (vec![4, 5, 5], vec![5]));
    }

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

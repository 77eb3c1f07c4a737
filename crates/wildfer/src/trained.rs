//! A trained wildfer run (or checkpoint) as the expression stage of `analyze`: each face's crop
//! is embedded by the run's backbone, and its temporal head sees the face's track over a window
//! of the run's length — the current frame and the frames before it for per-frame heads (the
//! output at the current frame), or a window centred on it with the not-yet-seen half filled by
//! the current frame for middle-frame heads (as evaluation pads the end of a video).

use crate::PipelineError;
use crate::expression::{ExpressionModel, Probs};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use wildfer_face::{AlignedFace, CropSpec};
use wildfer_nn::burn::module::Module;
use wildfer_nn::burn::tensor::activation::softmax;
use wildfer_nn::burn::tensor::{Device, Tensor, TensorData};
use wildfer_train::config::Framing;
use wildfer_train::image::{InputSpec, prepare};
use wildfer_train::{Net, WindowSpec, checkpoint};

/// Tracks not seen for this many frames are forgotten (bounded memory on long videos).
const FORGET_AFTER: u64 = 300;

pub struct TrainedModel {
    net: Net,
    spec: WindowSpec,
    /// Input side and preparation (grey for `model.grey` runs).
    input: InputSpec,
    /// How the run's training faces were framed (`model.crop`).
    crop: CropSpec,
    name: String,
    device: Device,
    /// Per track: the last `spec.len` embeddings and the call that last saw it.
    history: HashMap<usize, (VecDeque<Vec<f32>>, u64)>,
    calls: u64,
}

impl TrainedModel {
    /// Load a run directory (its best checkpoint, else its latest) or a checkpoint folder, on
    /// the CPU.
    pub fn load(path: &Path) -> Result<Self, PipelineError> {
        Self::load_on(path, &wildfer_nn::cpu())
    }

    /// [`TrainedModel::load`] on `device`.
    pub fn load_on(path: &Path, device: &Device) -> Result<Self, PipelineError> {
        let bad = |e: String| PipelineError::Model(e);
        let device = device.clone();
        let (cfg, net, state, dir) =
            checkpoint::load(path, &device).map_err(|e| bad(e.to_string()))?;
        let net_cfg = cfg.network().map_err(|e| bad(e.to_string()))?;
        let name = format!(
            "{} ({}, step {})",
            dir.display(),
            net_cfg.describe(),
            state.iteration
        );
        Self::around(&cfg, net, name, device).map_err(bad)
    }

    /// A run's network from its saved configuration (a checkpoint's `config.toml` text) and its
    /// PyTorch-named safetensors weights (`model.safetensors`; half precision is widened),
    /// every parameter required: how the built-in trained models, compiled into the binary,
    /// are loaded. `name` names the model in outputs and errors. On the CPU.
    pub fn from_parts(name: &str, config: &str, weights: &[u8]) -> Result<Self, PipelineError> {
        Self::from_parts_on(name, config, weights, &wildfer_nn::cpu())
    }

    /// [`TrainedModel::from_parts`] on `device`.
    pub fn from_parts_on(
        name: &str,
        config: &str,
        weights: &[u8],
        device: &Device,
    ) -> Result<Self, PipelineError> {
        let bad = |e: String| PipelineError::Model(format!("{name}: {e}"));
        let device = device.clone();
        let cfg = wildfer_train::TrainConfig::from_toml(config, Path::new(name))
            .map_err(|e| bad(e.to_string()))?;
        let net_cfg = cfg.network().map_err(|e| bad(e.to_string()))?;
        let mut net = Net::for_checkpoint(&net_cfg.without_pretrained(), &device)
            .map_err(|e| bad(e.to_string()))?;
        wildfer_nn::weights::load_safetensors_bytes(&mut net, weights, name, true)
            .map_err(|e| bad(e.to_string()))?;
        Self::around(&cfg, net, name.to_string(), device).map_err(bad)
    }

    /// The expression stage around `net`, a network of `cfg`: its window, input preparation
    /// and crop all come from `cfg`.
    fn around(
        cfg: &wildfer_train::TrainConfig,
        net: Net,
        name: String,
        device: Device,
    ) -> Result<Self, String> {
        let net_cfg = cfg.network().map_err(|e| e.to_string())?;
        Ok(TrainedModel {
            net: net.valid(),
            spec: WindowSpec::of(&net_cfg).map_err(|e| e.to_string())?,
            input: cfg.input(),
            crop: crop_of(cfg.model.crop),
            name,
            device,
            history: HashMap::new(),
            calls: 0,
        })
    }

    pub fn window(&self) -> WindowSpec {
        self.spec
    }
}

/// The crop a run's faces were framed as, at 112 px (resized to the network's input by
/// [`prepare`]): ArcFace's is the layout `wildfer prepare` writes and Aff-Wild2's.
pub fn crop_of(framing: Framing) -> CropSpec {
    match framing {
        Framing::Arcface => CropSpec::arcface(112),
        Framing::Fer2013 => CropSpec::FER2013,
        Framing::FaceApi => CropSpec::FACE_API,
    }
}

/// Seven ABAW probabilities from a 7- or 8-class output: `Other` (8-class models) is left out
/// and the rest renormalised, since the report has the seven basic expressions.
fn seven(p: &[f32]) -> Probs {
    let s: f32 = p.iter().take(7).sum();
    std::array::from_fn(|k| if s > 0.0 { p[k] / s } else { 1.0 / 7.0 })
}

impl ExpressionModel for TrainedModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn crop(&self) -> CropSpec {
        self.crop
    }

    fn predict(&mut self, faces: &[AlignedFace]) -> Result<Vec<Probs>, PipelineError> {
        // Without track ids every face is its own one-frame track.
        let tracks: Vec<usize> = (0..faces.len()).map(|i| usize::MAX - i).collect();
        let p = self.predict_tracked(&tracks, faces);
        for t in tracks {
            self.history.remove(&t);
        }
        p
    }

    fn reset(&mut self) {
        self.history.clear();
    }

    fn predict_tracked(
        &mut self,
        tracks: &[usize],
        faces: &[AlignedFace],
    ) -> Result<Vec<Probs>, PipelineError> {
        self.calls += 1;
        let calls = self.calls;
        self.history
            .retain(|_, (_, seen)| calls - *seen <= FORGET_AFTER);
        if faces.is_empty() {
            return Ok(Vec::new());
        }
        let s = self.input.size;
        let frame = 3 * s * s;
        let mut px = vec![0f32; faces.len() * frame];
        for (f, out) in faces.iter().zip(px.chunks_exact_mut(frame)) {
            prepare(&f.rgb, f.size(), f.size(), s, &self.input.draw, out);
        }
        let x = Tensor::<4>::from_data(TensorData::new(px, [faces.len(), 3, s, s]), &self.device);
        let feats = self.net.features(x);
        let d = feats.dims()[1];
        let feats = feats
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| PipelineError::Model(format!("{e:?}")))?;
        let t = self.spec.len;
        let mut window = Vec::with_capacity(faces.len() * t * d);
        for (i, &track) in tracks.iter().enumerate() {
            let f = feats[i * d..(i + 1) * d].to_vec();
            let (hist, seen) = self
                .history
                .entry(track)
                .or_insert_with(|| (VecDeque::new(), calls));
            *seen = calls;
            hist.push_back(f);
            while hist.len() > t {
                hist.pop_front();
            }
            // Per-frame heads: [.., current] at the end; middle heads: current in the middle.
            let past = if self.spec.middle { t / 2 } else { t - 1 };
            let have = hist.len() - 1;
            let first = &hist[hist.len() - 1 - have.min(past)];
            for k in 0..t {
                // Positions before the track's start repeat its first frame; positions after
                // the current frame repeat the current frame.
                let back = past as isize - k as isize;
                let row = if back <= 0 {
                    &hist[hist.len() - 1]
                } else if back as usize <= have.min(past) {
                    &hist[hist.len() - 1 - back as usize]
                } else {
                    first
                };
                window.extend_from_slice(row);
            }
        }
        let n = faces.len();
        let w = Tensor::<3>::from_data(TensorData::new(window, [n, t, d]), &self.device);
        let logits = self.net.head(w, None);
        let [_, o, c] = logits.dims();
        let p = softmax(logits, 2)
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| PipelineError::Model(format!("{e:?}")))?;
        // Per-frame heads label every position: take the current frame's (the last).
        let at = if self.spec.middle { 0 } else { o - 1 };
        Ok((0..n)
            .map(|i| seven(&p[(i * o + at) * c..(i * o + at + 1) * c]))
            .collect())
    }
}

//! A trained wildfer run (or checkpoint) as the expression stage: the runtime's
//! [`Runner`](wildfer_runtime::Runner) over each face track, so `analyze` gives the same
//! probabilities as `predict` on the same crops. A track's frames form one segment of the
//! windowing rule ([`wildfer_runtime::windows`]) until a frame without it; temporal models
//! answer a frame when their window has what it needs (a few frames later).

use crate::PipelineError;
use crate::expression::{ExpressionModel, FaceKey, LabelSet, Probs};
use std::path::Path;
use wildfer_face::{AlignedFace, CropSpec};
use wildfer_nn::burn::module::Module;
use wildfer_nn::burn::tensor::Device;
use wildfer_runtime::{Checkpoint, ModelSection, Net, Runner, WindowSpec};

pub struct TrainedModel {
    runner: Runner<FaceKey>,
    /// How the run's training faces were framed (`model.crop`).
    crop: CropSpec,
    /// The run's classes (`model.classes`): 8-class runs report `Other`.
    label_set: LabelSet,
    name: String,
}

impl TrainedModel {
    /// Load a run directory (its best checkpoint, else its latest) or a checkpoint folder, on
    /// the CPU.
    pub fn load(path: &Path) -> Result<Self, PipelineError> {
        Self::load_on(path, &wildfer_nn::cpu())
    }

    /// [`TrainedModel::load`] on `device`.
    pub fn load_on(path: &Path, device: &Device) -> Result<Self, PipelineError> {
        let device = device.clone();
        let ck =
            Checkpoint::load(path, &device).map_err(|e| PipelineError::Model(e.to_string()))?;
        let describe = ck
            .model
            .network()
            .map_err(|e| PipelineError::Model(e.to_string()))?
            .describe();
        let name = format!("{} ({describe}, step {})", ck.dir.display(), ck.iteration);
        Self::around(&ck.model, ck.net, name, device).map_err(PipelineError::Model)
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
        let model = wildfer_runtime::checkpoint::model_section_of(config).map_err(bad)?;
        let net_cfg = model.network().map_err(|e| bad(e.to_string()))?;
        let mut net = Net::for_checkpoint(&net_cfg.without_pretrained(), &device)
            .map_err(|e| bad(e.to_string()))?;
        wildfer_nn::weights::load_safetensors_bytes(&mut net, weights, name, true)
            .map_err(|e| bad(e.to_string()))?;
        Self::around(&model, net, name.to_string(), device).map_err(bad)
    }

    /// The expression stage around `net`, a network of `model`: its window, input
    /// preparation and crop all come from `model`.
    fn around(
        model: &ModelSection,
        net: Net,
        name: String,
        device: Device,
    ) -> Result<Self, String> {
        Ok(TrainedModel {
            runner: Runner::of_model(model, net.valid(), device).map_err(|e| e.to_string())?,
            crop: model.crop(),
            label_set: model.label_set(),
            name,
        })
    }

    pub fn window(&self) -> WindowSpec {
        self.runner.spec()
    }

    /// Backbone features of `faces`.
    fn features(
        &self,
        faces: &[AlignedFace],
    ) -> Result<Vec<wildfer_runtime::windows::Features>, PipelineError> {
        let mut px = Vec::new();
        for f in faces {
            self.runner
                .prepare_into(&f.rgb, f.size(), f.size(), &mut px);
        }
        self.runner
            .features(px, faces.len())
            .map_err(|e| PipelineError::Model(e.to_string()))
    }

    /// The network's output for one face as the run's classes.
    fn probs(&self, p: &[f32]) -> Result<Probs, PipelineError> {
        Probs::new(self.label_set, p).ok_or_else(|| {
            PipelineError::Model(format!(
                "{}: {} outputs for {} classes",
                self.name,
                p.len(),
                self.label_set.num_classes()
            ))
        })
    }

    /// The runner's queued windows through the head.
    fn outputs(&mut self) -> Result<Vec<(FaceKey, Probs)>, PipelineError> {
        let out = self
            .runner
            .outputs()
            .map_err(|e| PipelineError::Model(e.to_string()))?;
        out.into_iter()
            .map(|(k, p)| Ok((k, self.probs(&p)?)))
            .collect()
    }
}

impl ExpressionModel for TrainedModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn crop(&self) -> CropSpec {
        self.crop
    }

    fn label_set(&self) -> LabelSet {
        self.label_set
    }

    fn temporal(&self) -> bool {
        self.runner.spec().len > 1
    }

    fn predict(&mut self, faces: &[AlignedFace]) -> Result<Vec<Probs>, PipelineError> {
        let feats = self.features(faces)?;
        let p = self
            .runner
            .alone(feats)
            .map_err(|e| PipelineError::Model(e.to_string()))?;
        p.iter().map(|p| self.probs(p)).collect()
    }

    fn submit(
        &mut self,
        keys: &[FaceKey],
        tracks: &[usize],
        faces: &[AlignedFace],
    ) -> Result<Vec<(FaceKey, Probs)>, PipelineError> {
        let feats = self.features(faces)?;
        for ((&k, &t), f) in keys.iter().zip(tracks).zip(feats) {
            self.runner.push(t, k, f);
        }
        self.runner.end_frame(tracks);
        self.outputs()
    }

    fn flush(&mut self) -> Result<Vec<(FaceKey, Probs)>, PipelineError> {
        self.runner.finish();
        self.outputs()
    }

    fn reset(&mut self) {
        self.runner.reset();
    }
}

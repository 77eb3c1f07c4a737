//! The trainable network: a zoo model split into a per-frame backbone and a temporal head, so
//! training runs both on clips and prediction computes each frame's embedding once and reuses it
//! in every window that contains the frame.

use crate::RuntimeError;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Gradients;
use burn::tensor::{Device, Tensor};
use std::path::Path;
use wildfer_nn::zoo::Backbone;
use wildfer_nn::{ClipModel, MethodA, ModelConfig, TemporalOutput};

/// A network of the zoo that wildfer trains (ensembles are combined from trained runs).
// Built once per run; the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Net {
    MethodA(MethodA),
    Clip(ClipModel),
}

/// How a network consumes windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    /// Frames per window.
    pub len: usize,
    /// The head labels only the middle frame (method B's RNN/Transformer); else every frame.
    pub middle: bool,
}

impl WindowSpec {
    pub fn of(cfg: &ModelConfig) -> Result<Self, RuntimeError> {
        match cfg {
            ModelConfig::MethodA(c) => Ok(WindowSpec {
                len: c.clip_len,
                middle: false,
            }),
            ModelConfig::Clip(c) => Ok(WindowSpec {
                len: c.window,
                middle: c.head.output() == TemporalOutput::Middle,
            }),
            ModelConfig::Ensemble { .. } => Err(RuntimeError::Invalid(
                "an ensemble is combined from trained members, not trained as one network".into(),
            )),
        }
    }

    /// Outputs per window.
    pub fn outputs(&self) -> usize {
        if self.middle { 1 } else { self.len }
    }
}

impl Net {
    fn build(cfg: &ModelConfig, device: &Device) -> Result<Net, RuntimeError> {
        Ok(match cfg {
            ModelConfig::MethodA(c) => Net::MethodA(c.init(device)?),
            ModelConfig::Clip(c) => Net::Clip(c.init(device)?),
            ModelConfig::Ensemble { .. } => {
                WindowSpec::of(cfg)?;
                unreachable!("WindowSpec::of refuses ensembles")
            }
        })
    }

    /// A freshly initialised network whose every parameter is a function of `seed` alone,
    /// whatever else the process draws meanwhile ([`wildfer_nn::seeding`]).
    pub fn init(cfg: &ModelConfig, device: &Device, seed: u64) -> Result<Net, RuntimeError> {
        wildfer_nn::seeding::seeded(device, seed, || {
            let net = Net::build(cfg, device)?;
            wildfer_nn::seeding::initialize(&net);
            Ok(net)
        })
    }

    /// A network for [`crate::checkpoint::load_model_into`] to fill: lazily initialised layers
    /// stay undrawn (the checkpoint sets every parameter, and a file missing one is refused),
    /// which saves [`Net::init`]'s draws — ~0.4 s for method A's ResNet-101. Built under the
    /// draw lock all the same, since some layers draw eagerly.
    pub fn for_checkpoint(cfg: &ModelConfig, device: &Device) -> Result<Net, RuntimeError> {
        wildfer_nn::seeding::seeded(device, 0, || Net::build(cfg, device))
    }

    /// Load initial weights (`model.init`): a safetensors file or PyTorch `.pt`/`.pth` with
    /// PyTorch names (keys the file lacks keep their initialisation), a `wildfer train` run
    /// directory (its best checkpoint, to fine-tune it), or face-api's `model/` folder or
    /// recognition manifest for a `face_api_resnet34` backbone (every parameter of the backbone
    /// set). Returns a one-line account of what was loaded; a file none of whose tensors fit
    /// this network is an error (a silent no-op would train from scratch).
    pub fn load_init(&mut self, init: &Path) -> Result<String, RuntimeError> {
        // A wildfer run directory: its best checkpoint's PyTorch-named weights (fine-tuning).
        if init.is_dir()
            && let Some(best) = crate::checkpoint::read_pointer(init, "best")?
        {
            let file = best.join(crate::checkpoint::SAFETENSORS_FILE);
            let report = wildfer_nn::weights::load_safetensors(self, &file, false)?;
            return Self::init_account(&file, report);
        }
        let ext = init.extension().and_then(|e| e.to_str()).unwrap_or("");
        let tfjs = init.is_dir() || init.to_string_lossy().ends_with("weights_manifest.json");
        if tfjs {
            let Net::Clip(ClipModel {
                backbone: Backbone::FaceApi(trunk),
                ..
            }) = self
            else {
                return Err(RuntimeError::Invalid(format!(
                    "{}: face-api weights initialise a face_api_resnet34 backbone, and this network has none",
                    init.display()
                )));
            };
            let manifest = wildfer_nn::faceapi_recognition::manifest_path(init);
            let tensors = wildfer_nn::weights::tfjs::read_manifest(&manifest)?;
            trunk.load_tfjs(tensors, &manifest.display().to_string())?;
            return Ok("face-api's ResNet-34 trunk loaded".to_string());
        }
        let report = if ext == "pth" || ext == "pt" {
            wildfer_nn::weights::load_pytorch_file(self, init, None, false)?
        } else {
            wildfer_nn::weights::load_safetensors(self, init, false)?
        };
        Self::init_account(init, report)
    }

    fn init_account(
        file: &Path,
        report: wildfer_nn::weights::LoadReport,
    ) -> Result<String, RuntimeError> {
        if report.loaded == 0 {
            return Err(RuntimeError::Invalid(format!(
                "{}: none of its tensors fits this network ({})",
                file.display(),
                report.summary()
            )));
        }
        Ok(report.summary())
    }

    /// `[n, 3, h, w] -> [n, features]`.
    pub fn features(&self, frames: Tensor<4>) -> Tensor<2> {
        match self {
            Net::MethodA(m) => m.resnet.forward_features(frames),
            Net::Clip(m) => m.backbone.forward_features(frames),
        }
    }

    /// `[batch, time, features] -> [batch, time or 1, classes]` logits; `mask` `[batch, time]`
    /// marks real frames (1) and padding (0).
    pub fn head(&self, features: Tensor<3>, mask: Option<Tensor<2>>) -> Tensor<3> {
        match self {
            Net::MethodA(m) => m.forward_head(features),
            Net::Clip(m) => m.head.forward(features, mask),
        }
    }

    /// `[batch, time, 3, h, w]` clips to logits.
    pub fn forward(&self, clips: Tensor<5>, mask: Option<Tensor<2>>) -> Tensor<3> {
        let [b, t, c, h, w] = clips.dims();
        let f = self.features(clips.reshape([b * t, c, h, w]));
        let d = f.dims()[1];
        self.head(f.reshape([b, t, d]), mask)
    }

    /// Apply pending BatchNorm running-statistics updates. burn applies a step's update lazily
    /// (at the next update or at `valid`), and saving reads the stored value, so without this a
    /// checkpoint would hold the statistics of one step earlier and a resumed run would drift.
    pub fn sync_running_stats(&self) {
        // `valid` syncs every `RunningState` in place (they are shared); the copy is dropped.
        let _ = self.valid();
    }

    /// Split `grads` into the backbone's and the rest (for a slower or frozen backbone).
    pub fn split_grads(&self, mut grads: Gradients) -> (GradientsParams, GradientsParams) {
        let backbone = match self {
            Net::MethodA(m) => GradientsParams::from_module(&mut grads, &m.resnet),
            Net::Clip(m) => GradientsParams::from_module(&mut grads, &m.backbone),
        };
        let rest = GradientsParams::from_grads(grads, self);
        (backbone, rest)
    }
}

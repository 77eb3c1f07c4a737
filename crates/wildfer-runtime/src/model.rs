//! What a trained network is, as its run file's `[model]` table says: the network, its classes,
//! its input (side, grey) and how its training faces were framed. Training reads the whole run
//! file (`wildfer_train::TrainConfig`); inference needs only this table.

use crate::RuntimeError;
use crate::input::{AugDraw, InputSpec};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use wildfer_face::CropSpec;
use wildfer_labels::LabelSet;
use wildfer_nn::{ModelConfig, preset};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// A zoo preset name (`wildfer models` lists them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// Or the network spelled out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<ModelConfig>,
    /// 7 (ABAW 2020/21) or 8 (ABAW 2022+, with `Other`).
    #[serde(default = "seven")]
    pub classes: usize,
    /// Side of the square input crops (the Aff-Wild2 crops are resized to it).
    #[serde(default = "size_112")]
    pub input_size: usize,
    /// The network sees grey images (luma in all three channels), in training and at
    /// inference: for models trained on grey faces such as FER2013's, so that colour faces at
    /// inference look like what the model learnt from.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub grey: bool,
    /// Initial weights (safetensors or PyTorch `.pth`, PyTorch parameter names), e.g. a
    /// pretrained backbone; keys the file lacks keep their random initialisation. Or a
    /// `wildfer train` run directory (its best checkpoint: fine-tuning). Or face-api's `model/`
    /// folder for a `face_api_resnet34` backbone (face-recognition-pretrained).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<PathBuf>,
    /// How the faces the network learns from are framed, so that `analyze` and `eval-images`
    /// cut faces alike at inference: `arcface` (Aff-Wild2's `cropped_aligned`, what `wildfer
    /// prepare` writes), `fer2013` (FER2013's crops: the face larger and higher) or `face-api`.
    #[serde(default, skip_serializing_if = "Framing::is_arcface")]
    pub crop: Framing,
}

/// Where the face sits in the training crops (`model.crop`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Framing {
    /// ArcFace's five-point template.
    #[default]
    Arcface,
    /// FER2013's face crops.
    Fer2013,
    /// face-api's detector crops.
    FaceApi,
}

impl Framing {
    /// The names a run file and the command line use.
    pub const NAMES: [&str; 3] = ["arcface", "fer2013", "face-api"];

    fn is_arcface(&self) -> bool {
        *self == Framing::Arcface
    }
}

impl std::str::FromStr for Framing {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "arcface" => Ok(Framing::Arcface),
            "fer2013" => Ok(Framing::Fer2013),
            "face-api" => Ok(Framing::FaceApi),
            _ => Err(format!(
                "unknown crop framing {s:?} (one of: {})",
                Framing::NAMES.join(", ")
            )),
        }
    }
}

fn seven() -> usize {
    7
}
fn size_112() -> usize {
    112
}

impl ModelSection {
    /// The network with the configured number of classes.
    pub fn network(&self) -> Result<ModelConfig, RuntimeError> {
        let net = match (&self.preset, &self.network) {
            (Some(p), None) => preset(p)?,
            (None, Some(n)) => n.clone(),
            _ => {
                return Err(RuntimeError::Invalid(
                    "[model] needs exactly one of `preset` and `network`".into(),
                ));
            }
        };
        Ok(net.with_num_classes(self.classes))
    }

    /// How every input image is prepared at inference (no augmentation; grey if `grey`).
    pub fn input(&self) -> InputSpec {
        InputSpec {
            size: self.input_size,
            draw: AugDraw {
                grey: self.grey,
                ..AugDraw::IDENTITY
            },
        }
    }

    pub fn label_set(&self) -> LabelSet {
        LabelSet::from_count(self.classes).unwrap_or(LabelSet::Seven)
    }

    /// The crop the faces are cut as at inference ([`Framing::crop`]).
    pub fn crop(&self) -> CropSpec {
        self.crop.crop()
    }

    /// Check the table; `Err` says what is wrong (callers add the file).
    pub fn validate(&self) -> Result<(), RuntimeError> {
        let bad = |msg: String| Err(RuntimeError::Invalid(msg));
        let net = self.network()?;
        if matches!(net, ModelConfig::Ensemble { .. }) {
            return bad("an ensemble is not trained as one network: train each member with its own config and combine the runs at prediction".into());
        }
        if let ModelConfig::Clip(c) = &net {
            c.validate()?;
        }
        if !matches!(self.classes, 7 | 8) {
            return bad(format!(
                "model.classes must be 7 or 8, got {}",
                self.classes
            ));
        }
        if self.input_size < 32 || self.input_size > 1024 {
            return bad(format!(
                "model.input_size must be in 32..=1024, got {}",
                self.input_size
            ));
        }
        let min = net.min_input_side();
        if self.input_size < min {
            return bad(format!(
                "model.input_size {} is too small for this network's backbone (at least {min})",
                self.input_size
            ));
        }
        Ok(())
    }
}

impl Framing {
    /// The crop a run's faces were framed as, at 112 px (resized to the network's input):
    /// ArcFace's is the layout `wildfer prepare` writes and Aff-Wild2's.
    pub fn crop(self) -> CropSpec {
        match self {
            Framing::Arcface => CropSpec::arcface(112),
            Framing::Fer2013 => CropSpec::FER2013,
            Framing::FaceApi => CropSpec::FACE_API,
        }
    }
}

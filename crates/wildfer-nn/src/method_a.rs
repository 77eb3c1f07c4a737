//! Method A (Liu, Zeng, Shan, FG 2020; 2nd place ABAW 2020): ResNet-101 with CBAM in every
//! block embeds each frame (2048-d), a bidirectional LSTM (hidden 64) runs over the clip, and
//! two linear layers 128 -> 64 -> classes give a label per frame. As in the published code there
//! is no activation between the two linear layers; parameter names match it (`resnet.*`,
//! `rnn.weight_ih_l0[_reverse]`, `out.*`, `out2.*`).

use crate::attention::Attention;
use crate::resnet::{ResNet, ResNetConfig};
use crate::rnn::{Rnn, RnnConfig};
use crate::{NnError, shape};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Configuration of the method-A network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodAConfig {
    pub backbone: ResNetConfig,
    pub lstm_hidden: usize,
    pub fc_hidden: usize,
    pub num_classes: usize,
    /// Frames per clip (8 in the paper); training and evaluation cut videos into such clips.
    pub clip_len: usize,
}

impl MethodAConfig {
    /// The paper's network: ResNet-101 + CBAM, BiLSTM 64, FC 128 -> 64 -> 7, 8-frame clips.
    pub fn resnet101_cbam_bilstm() -> Self {
        MethodAConfig {
            backbone: ResNetConfig::resnet101().with_attention(Attention::cbam()),
            lstm_hidden: 64,
            fc_hidden: 64,
            num_classes: 7,
            clip_len: 8,
        }
    }

    /// The same recipe on ResNet-18, for CPU work.
    pub fn resnet18_cbam_bilstm() -> Self {
        MethodAConfig {
            backbone: ResNetConfig::resnet18().with_attention(Attention::cbam()),
            ..Self::resnet101_cbam_bilstm()
        }
    }

    pub fn with_num_classes(mut self, n: usize) -> Self {
        self.num_classes = n;
        self
    }

    pub fn init(&self, device: &Device) -> Result<MethodA, NnError> {
        if self.backbone.num_classes.is_some() {
            return Err(NnError::Config(
                "method A's backbone must have no fc head".into(),
            ));
        }
        if self.lstm_hidden == 0
            || self.fc_hidden == 0
            || self.num_classes == 0
            || self.clip_len == 0
        {
            return Err(NnError::Config(format!("sizes must be positive: {self:?}")));
        }
        let rnn =
            RnnConfig::lstm(self.backbone.feature_dim(), self.lstm_hidden).with_bidirectional(true);
        Ok(MethodA {
            resnet: self.backbone.init(device)?,
            out: LinearConfig::new(rnn.output_size(), self.fc_hidden).init(device),
            out2: LinearConfig::new(self.fc_hidden, self.num_classes).init(device),
            rnn: rnn.init(device)?,
        })
    }
}

/// ResNet + CBAM per frame, BiLSTM over the clip, a label per frame.
#[derive(Module, Debug)]
pub struct MethodA {
    pub resnet: ResNet,
    pub rnn: Rnn,
    pub out: Linear,
    pub out2: Linear,
}

impl MethodA {
    /// Per-frame embeddings: `[batch, time, 3, h, w] -> [batch, time, 2048]`.
    pub fn forward_features(&self, x: Tensor<5>) -> Tensor<3> {
        shape::per_frame("MethodA", x, |frames| self.resnet.forward_features(frames))
    }

    /// Temporal head: `[batch, time, 2048] -> [batch, time, classes]` (logits).
    pub fn forward_head(&self, features: Tensor<3>) -> Tensor<3> {
        self.out2
            .forward(self.out.forward(self.rnn.forward(features)))
    }

    /// `[batch, time, 3, h, w] -> [batch, time, classes]` (logits).
    pub fn forward(&self, x: Tensor<5>) -> Tensor<3> {
        self.forward_head(self.forward_features(x))
    }
}

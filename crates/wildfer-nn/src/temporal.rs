//! Temporal heads over per-frame embeddings `[batch, time, features]` (method B's CNN,
//! CNN-RNN and CNN-Transformer heads), each giving logits per frame or for the middle frame.

use crate::rnn::{Rnn, RnnConfig, RnnKind};
use crate::transformer::{TransformerConfig, TransformerEncoder, sinusoidal_encoding};
use crate::{NnError, shape};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Which frames a head labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemporalOutput {
    /// A label for every frame of the window: `[batch, time, classes]`.
    #[default]
    PerFrame,
    /// A label for the middle frame only (window of odd length, slid one frame at a time):
    /// `[batch, 1, classes]`.
    Middle,
}

/// Head configuration; `features` is the backbone's embedding width.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TemporalHeadConfig {
    /// Per-frame MLP: `Linear(features, hidden) -> ReLU -> Linear(hidden, classes)`, or a single
    /// linear layer without `hidden`. Sees one frame at a time.
    Frame { hidden: Option<usize> },
    /// RNN over the window, then `Linear(rnn_out, classes)` (`rnn.*`, `fc.*`).
    Rnn {
        cell: RnnKind,
        hidden: usize,
        #[serde(default = "one")]
        layers: usize,
        #[serde(default)]
        bidirectional: bool,
        #[serde(default)]
        output: TemporalOutput,
    },
    /// `Linear(features, d_model)` + sinusoidal positions, encoder, `Linear(d_model, classes)`
    /// (`proj.*`, `encoder.layers.*`, `fc.*`).
    Transformer {
        encoder: TransformerConfig,
        #[serde(default)]
        output: TemporalOutput,
    },
}

fn one() -> usize {
    1
}

impl TemporalHeadConfig {
    pub fn output(&self) -> TemporalOutput {
        match self {
            TemporalHeadConfig::Frame { .. } => TemporalOutput::PerFrame,
            TemporalHeadConfig::Rnn { output, .. }
            | TemporalHeadConfig::Transformer { output, .. } => *output,
        }
    }

    pub fn init(
        &self,
        features: usize,
        classes: usize,
        device: &Device,
    ) -> Result<TemporalHead, NnError> {
        if features == 0 || classes == 0 {
            return Err(NnError::Config(
                "head features and classes must be positive".into(),
            ));
        }
        let lin = |i: usize, o: usize| LinearConfig::new(i, o).init(device);
        let (proj, rnn, encoder, fc) = match *self {
            TemporalHeadConfig::Frame { hidden: Some(0) } => {
                return Err(NnError::Config(
                    "frame head hidden size must be positive".into(),
                ));
            }
            TemporalHeadConfig::Frame { hidden } => match hidden {
                Some(h) => (Some(lin(features, h)), None, None, lin(h, classes)),
                None => (None, None, None, lin(features, classes)),
            },
            TemporalHeadConfig::Rnn {
                cell,
                hidden,
                layers,
                bidirectional,
                ..
            } => {
                let cfg = RnnConfig {
                    kind: cell,
                    input_size: features,
                    hidden_size: hidden,
                    num_layers: layers,
                    bidirectional,
                };
                (
                    None,
                    Some(cfg.init(device)?),
                    None,
                    lin(cfg.output_size(), classes),
                )
            }
            TemporalHeadConfig::Transformer { encoder, .. } => (
                Some(lin(features, encoder.d_model)),
                None,
                Some(encoder.init(device)?),
                lin(encoder.d_model, classes),
            ),
        };
        Ok(TemporalHead {
            proj,
            rnn,
            encoder,
            fc,
            middle: self.output() == TemporalOutput::Middle,
            features,
        })
    }
}

/// A temporal head; which of `proj`, `rnn`, `encoder` exist depends on the configuration.
#[derive(Module, Debug)]
pub struct TemporalHead {
    pub proj: Option<Linear>,
    pub rnn: Option<Rnn>,
    pub encoder: Option<TransformerEncoder>,
    pub fc: Linear,
    middle: bool,
    features: usize,
}

impl TemporalHead {
    /// `[batch, time, features] -> [batch, time (or 1 for middle-frame heads), classes]`.
    /// `mask` `[batch, time]` marks real frames (1) and padding (0); padded frames are not
    /// attended to by the Transformer (RNNs and frame heads ignore it; padded outputs are
    /// masked out of losses and metrics by the caller).
    pub fn forward(&self, x: Tensor<3>, mask: Option<Tensor<2>>) -> Tensor<3> {
        let [b, t, f] = x.dims();
        shape::check(
            "TemporalHead",
            "[batch, time, features]",
            [b, t, f],
            [None, None, Some(self.features)],
        );
        let h = if let Some(rnn) = &self.rnn {
            rnn.forward(x)
        } else if let (Some(proj), Some(enc)) = (&self.proj, &self.encoder) {
            let d = proj.weight.dims()[1];
            let pos = sinusoidal_encoding(t, d, &x.device()).unsqueeze::<3>();
            enc.forward(proj.forward(x) + pos, mask)
        } else if let Some(proj) = &self.proj {
            relu(proj.forward(x))
        } else {
            x
        };
        let h = if self.middle {
            let d = h.dims()[2];
            h.narrow(1, t / 2, 1).reshape([b, 1, d])
        } else {
            h
        };
        self.fc.forward(h)
    }
}

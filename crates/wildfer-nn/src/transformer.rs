//! Transformer encoder with PyTorch's `nn.TransformerEncoder` /
//! `nn.TransformerEncoderLayer(batch_first=True)` layout and names: post-norm, ReLU
//! feed-forward, fused `self_attn.in_proj_weight` `[3 d, d]`, `linear1`, `linear2`, `norm1`,
//! `norm2`; plus the sinusoidal positional encoding of Vaswani et al.

use crate::{NnError, shape};
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Encoder configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformerConfig {
    pub d_model: usize,
    pub nhead: usize,
    pub dim_feedforward: usize,
    pub num_layers: usize,
    #[serde(default)]
    pub dropout: f64,
}

impl TransformerConfig {
    pub fn validate(&self) -> Result<(), NnError> {
        if self.d_model == 0 || self.nhead == 0 || self.num_layers == 0 || self.dim_feedforward == 0
        {
            return Err(NnError::Config(format!(
                "transformer sizes must be positive: {self:?}"
            )));
        }
        if !self.d_model.is_multiple_of(self.nhead) {
            return Err(NnError::Config(format!(
                "d_model {} is not divisible by nhead {}",
                self.d_model, self.nhead
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(NnError::Config(format!(
                "dropout {} is not in [0, 1)",
                self.dropout
            )));
        }
        Ok(())
    }

    pub fn init(&self, device: &Device) -> Result<TransformerEncoder, NnError> {
        self.validate()?;
        let d = self.d_model;
        // PyTorch: xavier_uniform for in_proj_weight, zeros for the biases.
        let b = (6.0 / (d + 3 * d) as f64).sqrt();
        let layers = (0..self.num_layers)
            .map(|_| EncoderLayer {
                self_attn: MultiheadAttention {
                    in_proj_weight: Param::from_tensor(Tensor::random(
                        [3 * d, d],
                        Distribution::Uniform(-b, b),
                        device,
                    )),
                    in_proj_bias: Param::from_tensor(Tensor::zeros([3 * d], device)),
                    out_proj: LinearConfig::new(d, d).init(device),
                    nhead: self.nhead,
                },
                linear1: LinearConfig::new(d, self.dim_feedforward).init(device),
                linear2: LinearConfig::new(self.dim_feedforward, d).init(device),
                norm1: LayerNormConfig::new(d).init(device),
                norm2: LayerNormConfig::new(d).init(device),
                dropout: DropoutConfig::new(self.dropout).init(),
            })
            .collect();
        Ok(TransformerEncoder { layers, d_model: d })
    }
}

/// Multi-head self-attention, PyTorch layout.
#[derive(Module, Debug)]
pub struct MultiheadAttention {
    pub in_proj_weight: Param<Tensor<2>>,
    pub in_proj_bias: Param<Tensor<1>>,
    pub out_proj: Linear,
    nhead: usize,
}

impl MultiheadAttention {
    /// `[batch, time, d] -> [batch, time, d]`; `key_mask` `[batch, time]` is 1 for frames to
    /// attend to and 0 for padding.
    pub fn forward(&self, x: Tensor<3>, key_mask: Option<Tensor<2>>) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let (h, dh) = (self.nhead, d / self.nhead);
        let qkv = x
            .reshape([b * t, d])
            .matmul(self.in_proj_weight.val().transpose())
            + self.in_proj_bias.val().unsqueeze::<2>();
        let split = |k: usize| {
            qkv.clone()
                .narrow(1, k * d, d)
                .reshape([b, t, h, dh])
                .swap_dims(1, 2)
        };
        let (q, k, v) = (split(0), split(1), split(2));
        let mut scores = q.matmul(k.swap_dims(2, 3)).div_scalar((dh as f64).sqrt());
        if let Some(mask) = key_mask {
            // Padding keys get a large negative score (not -inf, so an all-padding row stays finite).
            let bias = (mask.neg() + 1.0).mul_scalar(-1e9).reshape([b, 1, 1, t]);
            scores = scores + bias;
        }
        let ctx = softmax(scores, 3)
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([b * t, d]);
        self.out_proj.forward(ctx).reshape([b, t, d])
    }
}

/// Post-norm encoder layer (`norm_first=False`), ReLU activation.
#[derive(Module, Debug)]
pub struct EncoderLayer {
    pub self_attn: MultiheadAttention,
    pub linear1: Linear,
    pub linear2: Linear,
    pub norm1: LayerNorm,
    pub norm2: LayerNorm,
    pub dropout: Dropout,
}

impl EncoderLayer {
    /// `[batch, time, d] -> [batch, time, d]`.
    pub fn forward(&self, x: Tensor<3>, key_mask: Option<Tensor<2>>) -> Tensor<3> {
        let a = self
            .dropout
            .forward(self.self_attn.forward(x.clone(), key_mask));
        let x = self.norm1.forward(x + a);
        let f = self
            .linear2
            .forward(self.dropout.forward(relu(self.linear1.forward(x.clone()))));
        self.norm2.forward(x + self.dropout.forward(f))
    }
}

/// A stack of encoder layers (`layers.{i}.…` in PyTorch).
#[derive(Module, Debug)]
pub struct TransformerEncoder {
    pub layers: Vec<EncoderLayer>,
    d_model: usize,
}

impl TransformerEncoder {
    /// `[batch, time, d_model] -> [batch, time, d_model]`; see [`MultiheadAttention::forward`]
    /// for `key_mask`.
    pub fn forward(&self, x: Tensor<3>, key_mask: Option<Tensor<2>>) -> Tensor<3> {
        let d = Some(self.d_model);
        shape::check(
            "TransformerEncoder",
            "[batch, time, d_model]",
            x.dims(),
            [None, None, d],
        );
        self.layers
            .iter()
            .fold(x, |x, layer| layer.forward(x, key_mask.clone()))
    }
}

/// Sinusoidal positional encoding `[time, d]`: `sin(pos / 10000^(2i/d))` at even columns,
/// `cos` at odd ones.
pub fn sinusoidal_encoding(time: usize, d: usize, device: &Device) -> Tensor<2> {
    let mut v = vec![0f32; time * d];
    for pos in 0..time {
        for i in 0..d {
            let angle = pos as f64 / 10000f64.powf((2 * (i / 2)) as f64 / d as f64);
            v[pos * d + i] = if i % 2 == 0 { angle.sin() } else { angle.cos() } as f32;
        }
    }
    Tensor::from_data(TensorData::new(v, [time, d]), device)
}

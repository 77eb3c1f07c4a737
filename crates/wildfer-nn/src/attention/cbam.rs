use super::reduced;
use crate::layers::Conv2d;
use crate::norm::BatchNorm;
use crate::shape;
use burn::module::Module;
use burn::nn::conv::Conv2dConfig;
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};

/// CBAM (Woo et al.). PyTorch names are those of method A's code (`ChannelGate.mlp.1`,
/// `ChannelGate.mlp.3`, `SpatialGate.spatial.conv`, `SpatialGate.spatial.bn`); see
/// [`crate::weights`] for the mapping of the Rust field names.
#[derive(Module, Debug)]
pub struct Cbam {
    pub channel_gate: ChannelGate,
    pub spatial_gate: SpatialGate,
    channels: usize,
}

/// Channel attention: a shared MLP over the average- and max-pooled features, summed, sigmoid.
#[derive(Module, Debug)]
pub struct ChannelGate {
    pub mlp: CbamMlp,
}

/// `Linear(c, c/r) -> ReLU -> Linear(c/r, c)`; `fc1`/`fc2` are `mlp.1`/`mlp.3` in PyTorch
/// (a `Sequential` with a `Flatten` first).
#[derive(Module, Debug)]
pub struct CbamMlp {
    pub fc1: Linear,
    pub fc2: Linear,
}

/// Spatial attention: channel max and mean stacked, conv + BN, sigmoid.
#[derive(Module, Debug)]
pub struct SpatialGate {
    pub spatial: BasicConv,
}

/// Conv (no bias) followed by BatchNorm, no activation.
#[derive(Module, Debug)]
pub struct BasicConv {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

impl Cbam {
    pub fn new(channels: usize, reduction: usize, spatial_kernel: usize, device: &Device) -> Self {
        let mid = reduced(channels, reduction);
        let pad = (spatial_kernel - 1) / 2;
        Cbam {
            channel_gate: ChannelGate {
                mlp: CbamMlp {
                    fc1: LinearConfig::new(channels, mid).init(device),
                    fc2: LinearConfig::new(mid, channels).init(device),
                },
            },
            spatial_gate: SpatialGate {
                spatial: BasicConv {
                    conv: Conv2dConfig::new([2, 1], [spatial_kernel, spatial_kernel])
                        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                        .with_bias(false)
                        .init(device)
                        .into(),
                    // Momentum 0.01 as in the reference code.
                    bn: BatchNorm::new(1, 0.01, device),
                },
            },
            channels,
        }
    }

    /// `[batch, channels, h, w] -> [batch, channels, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let c = Some(self.channels);
        shape::check(
            "Cbam",
            "[batch, channels, h, w]",
            x.dims(),
            [None, c, None, None],
        );
        let x = self.channel_gate.forward(x);
        self.spatial_gate.forward(x)
    }
}

impl ChannelGate {
    /// `[batch, channels, h, w] -> [batch, channels, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, _, _] = x.dims();
        // Mean- and max-pooled features through the shared MLP as one batch of 2·b.
        let pooled = crate::kernels::cbam_pool::spatial_pool(x.clone()).reshape([2 * b, c]);
        let att = self.mlp.forward(pooled).reshape([2, b, c]).sum_dim(0);
        x * sigmoid(att).reshape([b, c, 1, 1])
    }
}

impl CbamMlp {
    /// `[batch, channels] -> [batch, channels]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.fc2.forward(relu(self.fc1.forward(x)))
    }
}

impl SpatialGate {
    /// `[batch, channels, h, w] -> [batch, channels, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let pooled = crate::kernels::cbam_pool::channel_pool(x.clone());
        let att = self.spatial.bn.forward(self.spatial.conv.forward(pooled));
        x * sigmoid(att)
    }
}

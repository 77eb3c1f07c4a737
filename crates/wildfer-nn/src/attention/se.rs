use super::reduced;
use crate::layers::Conv2d;
use crate::shape;
use burn::module::Module;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};

/// Squeeze-and-excitation (Hu et al.), torchvision `ops.SqueezeExcitation` layout.
#[derive(Module, Debug)]
pub struct SqueezeExcitation {
    /// 1x1 conv `channels -> channels / reduction`, with bias.
    pub fc1: Conv2d,
    /// 1x1 conv back to `channels`, with bias.
    pub fc2: Conv2d,
}

impl SqueezeExcitation {
    pub fn new(channels: usize, reduction: usize, device: &Device) -> Self {
        let mid = reduced(channels, reduction);
        SqueezeExcitation {
            fc1: Conv2dConfig::new([channels, mid], [1, 1])
                .init(device)
                .into(),
            fc2: Conv2dConfig::new([mid, channels], [1, 1])
                .init(device)
                .into(),
        }
    }

    /// `[batch, channels, h, w] -> [batch, channels, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let c = self.fc1.weight.dims()[1];
        shape::check(
            "SqueezeExcitation",
            "[batch, channels, h, w]",
            x.dims(),
            [None, Some(c), None, None],
        );
        let s = x.clone().mean_dims(&[2, 3]);
        let s = sigmoid(self.fc2.forward(relu(self.fc1.forward(s))));
        x * s
    }
}

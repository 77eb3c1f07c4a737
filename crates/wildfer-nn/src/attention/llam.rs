use crate::layers::Conv2d;
use crate::norm::BatchNorm;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::Device;
use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;

/// Lossless attention (LLAM, Wang et al., ABAW 2020).
///
/// The paper describes the module only in words: the attention map is built "using the
/// information of the previous layer and not reducing the dimensionality", then "fused" with
/// the feature map. wildfer's formulation, on the residual branch `f` of a block with input `x`:
///
/// ```text
/// a   = sigmoid(BN(conv_kxk(x)))     # from the previous layer's features, C_in -> C_out,
///                                    # stride = block stride: a full C x H x W map
/// out = f * (1 + a)                  # fusion that can amplify but never erase a response
/// ```
///
/// Why: taking `x` (what enters the block) rather than `f` is "the previous layer"; keeping
/// every channel and position (no squeeze to a vector, no channel reduction as in SE/CBAM) is
/// "not reducing the dimensionality"; `1 + a` (residual attention, Wang et al. 2017) keeps the
/// fusion lossless: where the map is 0 the features pass unchanged.
#[derive(Module, Debug)]
pub struct Llam {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

impl Llam {
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        stride: usize,
        kernel: usize,
        device: &Device,
    ) -> Self {
        let pad = (kernel - 1) / 2;
        Llam {
            conv: Conv2dConfig::new([in_channels, out_channels], [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_bias(false)
                .init(device)
                .into(),
            bn: BatchNorm::new(out_channels, 0.1, device),
        }
    }

    /// `x`: block input `[batch, c_in, h, w]`; `f`: residual branch `[batch, c_out, h/s, w/s]`.
    pub fn forward(&self, x: Tensor<4>, f: Tensor<4>) -> Tensor<4> {
        let a = sigmoid(self.bn.forward(self.conv.forward(x)));
        assert_eq!(a.dims(), f.dims(), "Llam: map and feature shapes differ");
        f.clone() + f * a
    }
}

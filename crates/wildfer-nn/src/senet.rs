//! SENet-50 in the VGGFace2 configuration (Cao et al. 2018; method D, Gennaro et al. 2021),
//! with the layout and names of the widely used PyTorch port of the Caffe model: bottlenecks
//! stride on their first 1x1 conv, the squeeze-excitation convs are the block's `conv4` (down,
//! reduction 16, with bias) and `conv5` (up), the stem max-pool has no padding and rounds up
//! (`ceil_mode`), and `fc` classifies the 8631 VGGFace2 identities (replace it for expressions).

use crate::layers::Conv2d;
use crate::layers::MaxPool2d;
use crate::norm::BatchNorm;
use crate::resnet::{Downsample, conv};
use crate::{NnError, shape};
use burn::module::Module;
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::MaxPool2dConfig;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// SENet configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeNetConfig {
    pub layers: [usize; 4],
    pub reduction: usize,
    /// `fc` classes; `None` for a feature extractor.
    pub num_classes: Option<usize>,
}

impl SeNetConfig {
    /// SENet-50 as trained on VGGFace2 (8631 identities).
    pub fn senet50_vggface2() -> Self {
        SeNetConfig {
            layers: [3, 4, 6, 3],
            reduction: 16,
            num_classes: Some(8631),
        }
    }

    pub fn with_num_classes(mut self, n: Option<usize>) -> Self {
        self.num_classes = n;
        self
    }

    pub fn feature_dim(&self) -> usize {
        2048
    }

    pub fn init(&self, device: &Device) -> Result<SeNet, NnError> {
        if self.layers.contains(&0) || self.reduction == 0 || self.num_classes == Some(0) {
            return Err(NnError::Config(format!(
                "invalid SENet configuration {self:?}"
            )));
        }
        let mut inplanes = 64;
        let mut stage = |planes: usize, blocks: usize, stride: usize| -> Vec<SeBottleneck> {
            (0..blocks)
                .map(|i| {
                    let b = SeBottleneck::new(
                        inplanes,
                        planes,
                        if i == 0 { stride } else { 1 },
                        self.reduction,
                        device,
                    );
                    inplanes = planes * 4;
                    b
                })
                .collect()
        };
        let (layer1, layer2) = (stage(64, self.layers[0], 1), stage(128, self.layers[1], 2));
        let (layer3, layer4) = (stage(256, self.layers[2], 2), stage(512, self.layers[3], 2));
        Ok(SeNet {
            conv1: conv(3, 64, 7, 2, 3, device),
            bn1: BatchNorm::new(64, 0.1, device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_ceil_mode(true)
                .init()
                .into(),
            layer1,
            layer2,
            layer3,
            layer4,
            fc: self
                .num_classes
                .map(|n| LinearConfig::new(2048, n).init(device)),
        })
    }
}

/// Bottleneck with squeeze-excitation, VGGFace2 layout.
#[derive(Module, Debug)]
pub struct SeBottleneck {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
    pub conv3: Conv2d,
    pub bn3: BatchNorm,
    /// SE squeeze: 1x1, `4 planes -> 4 planes / reduction`, with bias.
    pub conv4: Conv2d,
    /// SE excitation: 1x1 back to `4 planes`, with bias.
    pub conv5: Conv2d,
    pub downsample: Option<Downsample>,
}

impl SeBottleneck {
    pub fn new(
        inplanes: usize,
        planes: usize,
        stride: usize,
        reduction: usize,
        device: &Device,
    ) -> Self {
        let out = planes * 4;
        let mid = (out / reduction).max(1);
        SeBottleneck {
            conv1: conv(inplanes, planes, 1, stride, 0, device),
            bn1: BatchNorm::new(planes, 0.1, device),
            conv2: conv(planes, planes, 3, 1, 1, device),
            bn2: BatchNorm::new(planes, 0.1, device),
            conv3: conv(planes, out, 1, 1, 0, device),
            bn3: BatchNorm::new(out, 0.1, device),
            conv4: Conv2dConfig::new([out, mid], [1, 1]).init(device).into(),
            conv5: Conv2dConfig::new([mid, out], [1, 1]).init(device).into(),
            downsample: (stride != 1 || inplanes != out).then(|| Downsample {
                conv: conv(inplanes, out, 1, stride, 0, device),
                bn: BatchNorm::new(out, 0.1, device),
            }),
        }
    }

    /// `[batch, inplanes, h, w] -> [batch, 4 planes, h / stride, w / stride]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = relu(self.bn1.forward(self.conv1.forward(x.clone())));
        let out = relu(self.bn2.forward(self.conv2.forward(out)));
        let out = self.bn3.forward(self.conv3.forward(out));
        let s = out.clone().mean_dims(&[2, 3]);
        let s = sigmoid(self.conv5.forward(relu(self.conv4.forward(s))));
        let identity = Downsample::shortcut(self.downsample.as_ref(), x);
        relu(out * s + identity)
    }
}

/// SENet backbone with optional `fc` head.
#[derive(Module, Debug)]
pub struct SeNet {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub maxpool: MaxPool2d,
    pub layer1: Vec<SeBottleneck>,
    pub layer2: Vec<SeBottleneck>,
    pub layer3: Vec<SeBottleneck>,
    pub layer4: Vec<SeBottleneck>,
    pub fc: Option<Linear>,
}

impl SeNet {
    /// `[batch, 3, h, w] -> [batch, 2048]`, global average pool of the last stage (the same as
    /// the original 7x7 average pool at 224x224 input).
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        shape::check(
            "SeNet",
            "[batch, 3, h, w]",
            x.dims(),
            [None, Some(3), None, None],
        );
        let x = self
            .maxpool
            .forward(relu(self.bn1.forward(self.conv1.forward(x))));
        let x = self
            .layer1
            .iter()
            .chain(&self.layer2)
            .chain(&self.layer3)
            .chain(&self.layer4)
            .fold(x, |x, b| b.forward(x));
        shape::global_avg_pool(x)
    }

    /// `[batch, 2048] -> [batch, classes]`; `None` without a head.
    pub fn forward_head(&self, features: Tensor<2>) -> Option<Tensor<2>> {
        self.fc.as_ref().map(|fc| fc.forward(features))
    }
}

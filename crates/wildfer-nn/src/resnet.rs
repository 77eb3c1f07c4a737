//! ResNet-18/34/50/101 (He et al.) in torchvision's topology (v1.5: stride on the 3x3 conv of
//! a bottleneck) and parameter names, with an [`Attention`] module on each block's residual
//! branch before the addition.

use crate::attention::{Attention, Cbam, Llam, SqueezeExcitation};

/// wildfer's built-in trained expression model, a ResNet-18 trained by `wildfer train` on
/// FER2013 and fine-tuned on SFEW 2.0 faces (`weights/NOTICE.md`: data, terms, the commands
/// that reproduce it): its run configuration (a checkpoint's `config.toml`) ...
pub const FER2013_SFEW_CONFIG: &str = include_str!("../weights/resnet18_fer2013_sfew.toml");
/// ... and its weights in half precision, PyTorch names (widened to f32 on load).
pub const FER2013_SFEW_WEIGHTS: &[u8] =
    include_bytes!("../weights/resnet18_fer2013_sfew.safetensors");
use crate::layers::Conv2d;
use crate::layers::MaxPool2d;
use crate::norm::BatchNorm;
use crate::{NnError, shape};
use burn::module::Module;
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::MaxPool2dConfig;
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Residual block type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockKind {
    /// Two 3x3 convs (ResNet-18/34).
    Basic,
    /// 1x1, 3x3, 1x1 with 4x expansion (ResNet-50/101).
    Bottleneck,
}

impl BlockKind {
    pub fn expansion(self) -> usize {
        match self {
            BlockKind::Basic => 1,
            BlockKind::Bottleneck => 4,
        }
    }
}

/// ResNet configuration (serde; saved beside checkpoints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResNetConfig {
    pub block: BlockKind,
    /// Blocks per stage.
    pub layers: [usize; 4],
    #[serde(default)]
    pub attention: Attention,
    /// Classes of the `fc` head; `None` for a feature extractor without head.
    #[serde(default)]
    pub num_classes: Option<usize>,
    #[serde(default = "three")]
    pub in_channels: usize,
}

fn three() -> usize {
    3
}

impl ResNetConfig {
    fn new(block: BlockKind, layers: [usize; 4]) -> Self {
        ResNetConfig {
            block,
            layers,
            attention: Attention::None,
            num_classes: None,
            in_channels: 3,
        }
    }

    pub fn resnet18() -> Self {
        Self::new(BlockKind::Basic, [2, 2, 2, 2])
    }

    pub fn resnet34() -> Self {
        Self::new(BlockKind::Basic, [3, 4, 6, 3])
    }

    pub fn resnet50() -> Self {
        Self::new(BlockKind::Bottleneck, [3, 4, 6, 3])
    }

    pub fn resnet101() -> Self {
        Self::new(BlockKind::Bottleneck, [3, 4, 23, 3])
    }

    pub fn with_attention(mut self, attention: Attention) -> Self {
        self.attention = attention;
        self
    }

    pub fn with_num_classes(mut self, num_classes: Option<usize>) -> Self {
        self.num_classes = num_classes;
        self
    }

    /// Width of the pooled features: 512 (basic) or 2048 (bottleneck).
    pub fn feature_dim(&self) -> usize {
        512 * self.block.expansion()
    }

    pub fn validate(&self) -> Result<(), NnError> {
        self.attention.validate().map_err(NnError::Config)?;
        if self.layers.contains(&0) {
            return Err(NnError::Config(format!(
                "every ResNet stage needs at least one block, got {:?}",
                self.layers
            )));
        }
        if self.in_channels == 0 || self.num_classes == Some(0) {
            return Err(NnError::Config(
                "in_channels and num_classes must be positive".into(),
            ));
        }
        Ok(())
    }

    /// Build with burn's default initialisation (weights are usually loaded afterwards).
    pub fn init(&self, device: &Device) -> Result<ResNet, NnError> {
        self.validate()?;
        let mut inplanes = 64;
        let mut stage = |planes: usize, blocks: usize, stride: usize| -> Vec<Block> {
            (0..blocks)
                .map(|i| {
                    let b = Block::new(
                        self.block,
                        inplanes,
                        planes,
                        if i == 0 { stride } else { 1 },
                        self.attention,
                        device,
                    );
                    inplanes = planes * self.block.expansion();
                    b
                })
                .collect()
        };
        let layer1 = stage(64, self.layers[0], 1);
        let layer2 = stage(128, self.layers[1], 2);
        let layer3 = stage(256, self.layers[2], 2);
        let layer4 = stage(512, self.layers[3], 2);
        Ok(ResNet {
            conv1: conv(self.in_channels, 64, 7, 2, 3, device),
            bn1: BatchNorm::new(64, 0.1, device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init()
                .into(),
            layer1,
            layer2,
            layer3,
            layer4,
            fc: self
                .num_classes
                .map(|n| LinearConfig::new(self.feature_dim(), n).init(device)),
            in_channels: self.in_channels,
        })
    }
}

pub(crate) fn conv(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    pad: usize,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(false)
        .init(device)
        .into()
}

/// 1x1 conv + BN on the identity path (`downsample.0`, `downsample.1` in PyTorch).
#[derive(Module, Debug)]
pub struct Downsample {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

impl Downsample {
    /// The identity path of a residual block: `x` projected when there is a downsample, else
    /// `x` itself.
    pub fn shortcut(downsample: Option<&Downsample>, x: Tensor<4>) -> Tensor<4> {
        match downsample {
            Some(d) => d.bn.forward(d.conv.forward(x)),
            None => x,
        }
    }
}

/// A basic or bottleneck residual block with optional attention.
#[derive(Module, Debug)]
pub struct Block {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
    /// Bottleneck only.
    pub conv3: Option<Conv2d>,
    pub bn3: Option<BatchNorm>,
    pub downsample: Option<Downsample>,
    pub se: Option<SqueezeExcitation>,
    pub cbam: Option<Cbam>,
    pub llam: Option<Llam>,
}

impl Block {
    /// A block `inplanes -> planes * expansion` with the given stride on its 3x3 conv.
    pub fn new(
        kind: BlockKind,
        inplanes: usize,
        planes: usize,
        stride: usize,
        attention: Attention,
        device: &Device,
    ) -> Self {
        let out = planes * kind.expansion();
        let (conv1, conv2, conv3) = match kind {
            BlockKind::Basic => (
                conv(inplanes, planes, 3, stride, 1, device),
                conv(planes, planes, 3, 1, 1, device),
                None,
            ),
            BlockKind::Bottleneck => (
                conv(inplanes, planes, 1, 1, 0, device),
                conv(planes, planes, 3, stride, 1, device),
                Some(conv(planes, out, 1, 1, 0, device)),
            ),
        };
        let downsample = (stride != 1 || inplanes != out).then(|| Downsample {
            conv: conv(inplanes, out, 1, stride, 0, device),
            bn: BatchNorm::new(out, 0.1, device),
        });
        Block {
            conv1,
            bn1: BatchNorm::new(planes, 0.1, device),
            conv2,
            bn2: BatchNorm::new(planes, 0.1, device),
            bn3: conv3.as_ref().map(|_| BatchNorm::new(out, 0.1, device)),
            conv3,
            downsample,
            se: match attention {
                Attention::Se { reduction } => Some(SqueezeExcitation::new(out, reduction, device)),
                _ => None,
            },
            cbam: match attention {
                Attention::Cbam {
                    reduction,
                    spatial_kernel,
                } => Some(Cbam::new(out, reduction, spatial_kernel, device)),
                _ => None,
            },
            llam: match attention {
                Attention::Llam { kernel } => {
                    Some(Llam::new(inplanes, out, stride, kernel, device))
                }
                _ => None,
            },
        }
    }

    /// `[batch, inplanes, h, w] -> [batch, planes * expansion, h / stride, w / stride]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut out = relu(self.bn1.forward(self.conv1.forward(x.clone())));
        out = self.bn2.forward(self.conv2.forward(out));
        if let (Some(conv3), Some(bn3)) = (&self.conv3, &self.bn3) {
            out = bn3.forward(conv3.forward(relu(out)));
        }
        if let Some(llam) = &self.llam {
            out = llam.forward(x.clone(), out);
        }
        let identity = Downsample::shortcut(self.downsample.as_ref(), x);
        if let Some(se) = &self.se {
            out = se.forward(out);
        }
        if let Some(cbam) = &self.cbam {
            out = cbam.forward(out);
        }
        relu(out + identity)
    }
}

/// ResNet backbone with optional classification head.
#[derive(Module, Debug)]
pub struct ResNet {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub maxpool: MaxPool2d,
    pub layer1: Vec<Block>,
    pub layer2: Vec<Block>,
    pub layer3: Vec<Block>,
    pub layer4: Vec<Block>,
    pub fc: Option<Linear>,
    in_channels: usize,
}

impl ResNet {
    /// Per-image embedding: `[batch, in_channels, h, w] -> [batch, feature_dim]` (global
    /// average pool of the last stage).
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        let c = Some(self.in_channels);
        shape::check(
            "ResNet",
            "[batch, channels, h, w]",
            x.dims(),
            [None, c, None, None],
        );
        let x = relu(self.bn1.forward(self.conv1.forward(x)));
        let mut x = self.maxpool.forward(x);
        for block in self
            .layer1
            .iter()
            .chain(&self.layer2)
            .chain(&self.layer3)
            .chain(&self.layer4)
        {
            x = block.forward(x);
        }
        shape::global_avg_pool(x)
    }

    /// `[batch, feature_dim] -> [batch, num_classes]`; `None` without a head.
    pub fn forward_head(&self, features: Tensor<2>) -> Option<Tensor<2>> {
        self.fc.as_ref().map(|fc| fc.forward(features))
    }

    /// Features, then logits if the model has a head.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let f = self.forward_features(x);
        match self.forward_head(f.clone()) {
            Some(logits) => logits,
            None => f,
        }
    }
}

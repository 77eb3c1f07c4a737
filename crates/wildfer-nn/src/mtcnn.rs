//! MTCNN's three networks (Zhang et al. 2016) as shipped by facenet-pytorch (MIT): P-Net
//! (fully convolutional proposals), R-Net (24x24 refinement) and O-Net (48x48 output with five
//! landmarks). Parameter names are facenet-pytorch's; `reference/convert_mtcnn.py` converts its
//! pickles to `weights/mtcnn.safetensors` (`pnet.`, `rnet.`, `onet.` prefixes).
//!
//! Inputs are RGB scaled as `(x - 127.5) / 128`. R-Net and O-Net flatten their last feature map
//! in `[batch, w, h, c]` order (the Caffe models' layout, kept by facenet-pytorch's permute).

use crate::layers::Conv2d;
use crate::layers::MaxPool2d;
use crate::shape;
use burn::module::{Module, Param};
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::MaxPool2dConfig;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{prelu, softmax};
use burn::tensor::{Device, Tensor};

/// PReLU with one slope per channel (PyTorch's `weight`).
#[derive(Module, Debug)]
pub struct Prelu {
    pub weight: Param<Tensor<1>>,
}

impl Prelu {
    fn new(c: usize, device: &Device) -> Self {
        Prelu {
            weight: Param::from_tensor(Tensor::full([c], 0.25, device)),
        }
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        prelu(x, self.weight.val())
    }
}

fn conv(cin: usize, cout: usize, k: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [k, k]).init(device).into()
}

fn pool(k: usize, s: usize) -> MaxPool2d {
    MaxPool2dConfig::new([k, k])
        .with_strides([s, s])
        .with_ceil_mode(true)
        .init()
        .into()
}

/// Convolution, PReLU, max pool: the first stages of every network.
fn stage(conv: &Conv2d, prelu: &Prelu, pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    pool.forward(prelu.forward(conv.forward(x)))
}

/// `[b, c, h, w] -> [b, w * h * c]` in `[b, w, h, c]` order.
fn flatten_whc(x: Tensor<4>) -> Tensor<2> {
    let [b, c, h, w] = x.dims();
    x.permute([0, 3, 2, 1]).reshape([b, w * h * c])
}

/// Proposal network: `[b, 3, h, w] -> (box offsets [b, 4, h', w'], face probability
/// [b, 2, h', w'])` with `h' = ceil((h - 2) / 2) - 4` (stride 2, 12x12 receptive field).
#[derive(Module, Debug)]
pub struct PNet {
    pub conv1: Conv2d,
    pub prelu1: Prelu,
    pub pool1: MaxPool2d,
    pub conv2: Conv2d,
    pub prelu2: Prelu,
    pub conv3: Conv2d,
    pub prelu3: Prelu,
    pub conv4_1: Conv2d,
    pub conv4_2: Conv2d,
}

impl PNet {
    pub fn new(device: &Device) -> Self {
        PNet {
            conv1: conv(3, 10, 3, device),
            prelu1: Prelu::new(10, device),
            pool1: pool(2, 2),
            conv2: conv(10, 16, 3, device),
            prelu2: Prelu::new(16, device),
            conv3: conv(16, 32, 3, device),
            prelu3: Prelu::new(32, device),
            conv4_1: conv(32, 2, 1, device),
            conv4_2: conv(32, 4, 1, device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        shape::check(
            "PNet",
            "[batch, 3, h, w]",
            x.dims(),
            [None, Some(3), None, None],
        );
        let x = stage(&self.conv1, &self.prelu1, &self.pool1, x);
        let x = self.prelu2.forward(self.conv2.forward(x));
        let x = self.prelu3.forward(self.conv3.forward(x));
        (
            self.conv4_2.forward(x.clone()),
            softmax(self.conv4_1.forward(x), 1),
        )
    }
}

/// Refinement network: `[b, 3, 24, 24] -> (box offsets [b, 4], face probability [b, 2])`.
#[derive(Module, Debug)]
pub struct RNet {
    pub conv1: Conv2d,
    pub prelu1: Prelu,
    pub pool1: MaxPool2d,
    pub conv2: Conv2d,
    pub prelu2: Prelu,
    pub pool2: MaxPool2d,
    pub conv3: Conv2d,
    pub prelu3: Prelu,
    pub dense4: Linear,
    pub prelu4: Prelu,
    pub dense5_1: Linear,
    pub dense5_2: Linear,
}

impl RNet {
    pub fn new(device: &Device) -> Self {
        RNet {
            conv1: conv(3, 28, 3, device),
            prelu1: Prelu::new(28, device),
            pool1: pool(3, 2),
            conv2: conv(28, 48, 3, device),
            prelu2: Prelu::new(48, device),
            pool2: pool(3, 2),
            conv3: conv(48, 64, 2, device),
            prelu3: Prelu::new(64, device),
            dense4: LinearConfig::new(576, 128).init(device),
            prelu4: Prelu::new(128, device),
            dense5_1: LinearConfig::new(128, 2).init(device),
            dense5_2: LinearConfig::new(128, 4).init(device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        shape::check(
            "RNet",
            "[batch, 3, 24, 24]",
            x.dims(),
            [None, Some(3), Some(24), Some(24)],
        );
        let x = stage(&self.conv1, &self.prelu1, &self.pool1, x);
        let x = stage(&self.conv2, &self.prelu2, &self.pool2, x);
        let x = self.prelu3.forward(self.conv3.forward(x));
        let x = self.prelu4.forward(self.dense4.forward(flatten_whc(x)));
        (
            self.dense5_2.forward(x.clone()),
            softmax(self.dense5_1.forward(x), 1),
        )
    }
}

/// Output network: `[b, 3, 48, 48] -> (box offsets [b, 4], landmarks [b, 10] (five x, then
/// five y, relative to the box), face probability [b, 2])`.
#[derive(Module, Debug)]
pub struct ONet {
    pub conv1: Conv2d,
    pub prelu1: Prelu,
    pub pool1: MaxPool2d,
    pub conv2: Conv2d,
    pub prelu2: Prelu,
    pub pool2: MaxPool2d,
    pub conv3: Conv2d,
    pub prelu3: Prelu,
    pub pool3: MaxPool2d,
    pub conv4: Conv2d,
    pub prelu4: Prelu,
    pub dense5: Linear,
    pub prelu5: Prelu,
    pub dense6_1: Linear,
    pub dense6_2: Linear,
    pub dense6_3: Linear,
}

impl ONet {
    pub fn new(device: &Device) -> Self {
        ONet {
            conv1: conv(3, 32, 3, device),
            prelu1: Prelu::new(32, device),
            pool1: pool(3, 2),
            conv2: conv(32, 64, 3, device),
            prelu2: Prelu::new(64, device),
            pool2: pool(3, 2),
            conv3: conv(64, 64, 3, device),
            prelu3: Prelu::new(64, device),
            pool3: pool(2, 2),
            conv4: conv(64, 128, 2, device),
            prelu4: Prelu::new(128, device),
            dense5: LinearConfig::new(1152, 256).init(device),
            prelu5: Prelu::new(256, device),
            dense6_1: LinearConfig::new(256, 2).init(device),
            dense6_2: LinearConfig::new(256, 4).init(device),
            dense6_3: LinearConfig::new(256, 10).init(device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>, Tensor<2>) {
        shape::check(
            "ONet",
            "[batch, 3, 48, 48]",
            x.dims(),
            [None, Some(3), Some(48), Some(48)],
        );
        let x = stage(&self.conv1, &self.prelu1, &self.pool1, x);
        let x = stage(&self.conv2, &self.prelu2, &self.pool2, x);
        let x = stage(&self.conv3, &self.prelu3, &self.pool3, x);
        let x = self.prelu4.forward(self.conv4.forward(x));
        let x = self.prelu5.forward(self.dense5.forward(flatten_whc(x)));
        (
            self.dense6_2.forward(x.clone()),
            self.dense6_3.forward(x.clone()),
            softmax(self.dense6_1.forward(x), 1),
        )
    }
}

/// The three networks, named as in `weights/mtcnn.safetensors`.
#[derive(Module, Debug)]
pub struct Mtcnn {
    pub pnet: PNet,
    pub rnet: RNet,
    pub onet: ONet,
}

/// The converted facenet-pytorch weights, built into the binary (2 MB).
pub const WEIGHTS: &[u8] = include_bytes!("../weights/mtcnn.safetensors");

impl Mtcnn {
    pub fn new(device: &Device) -> Self {
        Mtcnn {
            pnet: PNet::new(device),
            rnet: RNet::new(device),
            onet: ONet::new(device),
        }
    }

    /// The pretrained networks (converted weights of `facenet-pytorch==2.6.0`).
    pub fn pretrained(device: &Device) -> Result<Self, crate::NnError> {
        let mut m = Self::new(device);
        crate::weights::load_safetensors_bytes(&mut m, WEIGHTS, "mtcnn.safetensors", true)?;
        Ok(m)
    }
}

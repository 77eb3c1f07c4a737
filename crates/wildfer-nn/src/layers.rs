//! The convolution and max-pool layers every model is built from: burn's parameters and
//! parameter names (so PyTorch's), with wildfer's CPU kernels behind `forward` — a model gets
//! them by calling `forward`, as it gets [`BatchNorm`]'s. Built from burn's configurations:
//! `Conv2dConfig::new(..).init(device).into()`, `MaxPool2dConfig::new(..).init().into()`.
//! Where a kernel does not apply (grouped convolutions, other backends, `WILDFER_BURN_OPS=1`)
//! `forward` is burn's own. Elsewhere burn's two types are refused by clippy (`clippy.toml`).

// The one place that names burn's types: the conversions.
#![allow(clippy::disallowed_types)]

use burn::module::{Module, Param};
use burn::nn::PaddingConfig2d;
use burn::tensor::Tensor;

pub use crate::norm::BatchNorm;

/// A 2-D convolution: burn's `Conv2d` fields and names (`weight`
/// `[c_out, c_in / groups, kh, kw]`, optional `bias` `[c_out]`).
#[derive(Module, Debug)]
pub struct Conv2d {
    pub weight: Param<Tensor<4>>,
    pub bias: Option<Param<Tensor<1>>>,
    pub stride: [usize; 2],
    pub kernel_size: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
    #[module(skip)]
    pub padding: PaddingConfig2d,
}

impl Conv2d {
    /// `[batch, c_in, h, w]` -> `[batch, c_out, h', w']` ([`crate::kernels::gemm_conv::conv2d`]).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        crate::kernels::gemm_conv::conv2d(self, x)
    }

    /// The same layer as burn's type, sharing the parameters: burn's own convolution.
    pub fn to_burn(&self) -> burn::nn::conv::Conv2d {
        burn::nn::conv::Conv2d {
            weight: self.weight.clone(),
            bias: self.bias.clone(),
            stride: self.stride,
            kernel_size: self.kernel_size,
            dilation: self.dilation,
            groups: self.groups,
            padding: self.padding.clone(),
        }
    }
}

impl From<burn::nn::conv::Conv2d> for Conv2d {
    fn from(c: burn::nn::conv::Conv2d) -> Self {
        Conv2d {
            weight: c.weight,
            bias: c.bias,
            stride: c.stride,
            kernel_size: c.kernel_size,
            dilation: c.dilation,
            groups: c.groups,
            padding: c.padding,
        }
    }
}

/// 2-D max pooling: burn's `MaxPool2d` settings (no parameters).
#[derive(Module, Debug)]
pub struct MaxPool2d {
    pub stride: [usize; 2],
    pub kernel_size: [usize; 2],
    #[module(skip)]
    pub padding: PaddingConfig2d,
    pub dilation: [usize; 2],
    pub ceil_mode: bool,
}

impl MaxPool2d {
    /// `[batch, c, h, w]` -> `[batch, c, h', w']` ([`crate::kernels::max_pool::max_pool2d`]).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        crate::kernels::max_pool::max_pool2d(self, x)
    }

    /// The same layer as burn's type: burn's own pooling.
    pub fn to_burn(&self) -> burn::nn::pool::MaxPool2d {
        burn::nn::pool::MaxPool2d {
            stride: self.stride,
            kernel_size: self.kernel_size,
            padding: self.padding.clone(),
            dilation: self.dilation,
            ceil_mode: self.ceil_mode,
        }
    }
}

impl From<burn::nn::pool::MaxPool2d> for MaxPool2d {
    fn from(p: burn::nn::pool::MaxPool2d) -> Self {
        MaxPool2d {
            stride: p.stride,
            kernel_size: p.kernel_size,
            padding: p.padding,
            dilation: p.dilation,
            ceil_mode: p.ceil_mode,
        }
    }
}

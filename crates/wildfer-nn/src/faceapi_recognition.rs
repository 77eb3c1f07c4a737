//! face-api's face-recognition network (`FaceRecognitionNet` of `@vladmandic/face-api` 1.7.15,
//! MIT): dlib's ResNet-34-like metric network (29 conv layers) turning a 150x150 RGB face into
//! a 128-d descriptor (faces of one person lie within ~0.6 Euclidean distance). Its trunk is the
//! face-recognition-pretrained backbone of method B (`forward_trunk`, 256 features).
//!
//! Layers as face-api runs them: every conv has a bias and a per-channel affine "scale"
//! (dlib's folded batch norm); the stem is a 7x7/2 conv and a 3x3/2 max pool, both "valid";
//! a downsampling residual layer convolves 3x3/2 "valid" and adds a 2x2/2 average pool of its
//! input, zero-padded to the new channel count (and its own output zero-padded at the
//! bottom/right when the two sizes differ by the "valid" rounding). Parameter names are
//! face-api's with `/` as `.` (`conv64_1.conv2.conv.weight`, `….scale.weight`, `fc.weight`),
//! tensors in PyTorch layouts. The weights are face-api's TensorFlow.js files (6.4 MB, not
//! built in): [`FaceApiRecognition::from_tfjs`] reads them from face-api's `model/` folder.

use crate::layers::Conv2d;
use crate::layers::MaxPool2d;
use crate::weights::tfjs;
use crate::{NnError, shape};
use burn::module::{Module, Param};
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use std::path::Path;

/// Input side in pixels.
pub const INPUT_SIZE: usize = 150;

/// wildfer's built-in trained expression model on this network's trunk: face-api's
/// ResNet-34 trunk fine-tuned by `wildfer train` on FER2013, then on SFEW 2.0 faces
/// (`weights/NOTICE.md`: data, terms, the commands that reproduce it): its run configuration
/// (a checkpoint's `config.toml`) ...
pub const FER2013_SFEW_CONFIG: &str = include_str!("../weights/faceapi_resnet34_fer2013_sfew.toml");
/// ... and its weights in half precision, PyTorch names (widened to f32 on load).
pub const FER2013_SFEW_WEIGHTS: &[u8] =
    include_bytes!("../weights/faceapi_resnet34_fer2013_sfew.safetensors");

/// wildfer's built-in model trained longest on FER2013 alone: the same trunk in three
/// stages on FER2013 (`weights/NOTICE.md`): its run configuration ...
pub const FER2013_CONFIG: &str = include_str!("../weights/faceapi_resnet34_fer2013.toml");
/// ... and its weights in half precision, PyTorch names (widened to f32 on load).
pub const FER2013_WEIGHTS: &[u8] =
    include_bytes!("../weights/faceapi_resnet34_fer2013.safetensors");

/// face-api's input normalisation (shared with its expression network).
pub use crate::faceapi_expression::MEAN_RGB;

/// The file name of the manifest in face-api's `model/` folder.
pub const MANIFEST_NAME: &str = "face_recognition_model-weights_manifest.json";

/// The smallest input side the layers' "valid" rounding allows.
pub const MIN_SIDE: usize = 103;

/// Whether an input side survives the stem and the four downsampling layers (each "valid"
/// 3x3/2 conv needs 3 pixels; its output may be one short of the 2x2/2 pool's, no more).
fn supported_side(n: usize) -> bool {
    if n < 7 {
        return false;
    }
    let stem = (n - 7) / 2 + 1;
    if stem < 3 {
        return false;
    }
    let mut n = (stem - 3) / 2 + 1;
    for _ in 0..4 {
        if n < 3 {
            return false;
        }
        n = ((n - 3) / 2 + 1).max(n / 2);
    }
    true
}

/// Per-channel `x * weight + bias`.
#[derive(Module, Debug)]
pub struct Scale {
    pub weight: Param<Tensor<1>>,
    pub bias: Param<Tensor<1>>,
}

impl Scale {
    fn new(c: usize, device: &Device) -> Self {
        Scale {
            weight: Param::from_tensor(Tensor::ones([c], device)),
            bias: Param::from_tensor(Tensor::zeros([c], device)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let c = x.dims()[1];
        x * self.weight.val().reshape([1, c, 1, 1]) + self.bias.val().reshape([1, c, 1, 1])
    }
}

/// Conv (with bias) + scale.
#[derive(Module, Debug)]
pub struct ConvLayer {
    pub conv: Conv2d,
    pub scale: Scale,
}

impl ConvLayer {
    /// "same" padding at stride 1, "valid" at stride 2 (face-api's `conv`/`convDown`).
    fn new(cin: usize, cout: usize, k: usize, stride: usize, device: &Device) -> Self {
        let pad = if stride == 1 { k / 2 } else { 0 };
        ConvLayer {
            conv: Conv2dConfig::new([cin, cout], [k, k])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .init(device)
                .into(),
            scale: Scale::new(cout, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.scale.forward(self.conv.forward(x))
    }
}

/// Two conv layers and a shortcut; downsampling when `conv1` has stride 2.
#[derive(Module, Debug)]
pub struct Residual {
    pub conv1: ConvLayer,
    pub conv2: ConvLayer,
    pub pool: AvgPool2d,
}

impl Residual {
    fn new(cin: usize, cout: usize, down: bool, device: &Device) -> Self {
        Residual {
            conv1: ConvLayer::new(cin, cout, 3, if down { 2 } else { 1 }, device),
            conv2: ConvLayer::new(cout, cout, 3, 1, device),
            pool: AvgPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = relu(self.conv1.forward(x.clone()));
        let out = self.conv2.forward(out);
        if self.conv1.conv.stride[0] == 1 {
            return relu(out + x);
        }
        let pooled = self.pool.forward(x);
        let [_, c_out, h_out, w_out] = out.dims();
        let [_, c_in, h_in, w_in] = pooled.dims();
        // The "valid" 3x3/2 conv can be one smaller than the 2x2/2 pool: face-api appends a
        // zero row and column to the conv's output.
        let out = if (h_out, w_out) != (h_in, w_in) {
            out.pad(
                [(0, h_in - h_out), (0, w_in - w_out)],
                burn::tensor::ops::PadMode::Constant(0.0),
            )
        } else {
            out
        };
        let pooled = if c_in < c_out {
            let [b, _, h, w] = pooled.dims();
            let zeros = Tensor::zeros([b, c_out - c_in, h, w], &pooled.device());
            Tensor::cat(vec![pooled, zeros], 1)
        } else {
            pooled
        };
        relu(out + pooled)
    }
}

/// The recognition manifest in face-api's `model/` folder `path`, or `path` itself when it is
/// not a folder.
pub fn manifest_path(path: &Path) -> std::path::PathBuf {
    if path.is_dir() {
        path.join(MANIFEST_NAME)
    } else {
        path.to_path_buf()
    }
}

/// face-api's face-recognition network.
#[derive(Module, Debug)]
pub struct FaceApiRecognition {
    pub conv32_down: ConvLayer,
    pub pool: MaxPool2d,
    pub conv32_1: Residual,
    pub conv32_2: Residual,
    pub conv32_3: Residual,
    pub conv64_down: Residual,
    pub conv64_1: Residual,
    pub conv64_2: Residual,
    pub conv64_3: Residual,
    pub conv128_down: Residual,
    pub conv128_1: Residual,
    pub conv128_2: Residual,
    pub conv256_down: Residual,
    pub conv256_1: Residual,
    pub conv256_2: Residual,
    pub conv256_down_out: Residual,
    pub fc: Linear,
}

impl FaceApiRecognition {
    /// The architecture with burn's default initialisation.
    pub fn new(device: &Device) -> Self {
        let r = |cin, cout, down| Residual::new(cin, cout, down, device);
        FaceApiRecognition {
            conv32_down: ConvLayer::new(3, 32, 7, 2, device),
            pool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .init()
                .into(),
            conv32_1: r(32, 32, false),
            conv32_2: r(32, 32, false),
            conv32_3: r(32, 32, false),
            conv64_down: r(32, 64, true),
            conv64_1: r(64, 64, false),
            conv64_2: r(64, 64, false),
            conv64_3: r(64, 64, false),
            conv128_down: r(64, 128, true),
            conv128_1: r(128, 128, false),
            conv128_2: r(128, 128, false),
            conv256_down: r(128, 256, true),
            conv256_1: r(256, 256, false),
            conv256_2: r(256, 256, false),
            conv256_down_out: r(256, 256, true),
            fc: LinearConfig::new(256, 128).with_bias(false).init(device),
        }
    }

    /// The pretrained network from face-api's `model/` folder (or a manifest path).
    pub fn from_tfjs(path: &Path, device: &Device) -> Result<Self, NnError> {
        let manifest = manifest_path(path);
        let tensors = tfjs::read_manifest(&manifest)?;
        let mut m = Self::new(device);
        m.load_tfjs(tensors, &manifest.display().to_string())?;
        Ok(m)
    }

    /// Load face-api's tensors; every parameter must be present with its shape.
    pub fn load_tfjs(
        &mut self,
        tensors: Vec<tfjs::TfjsTensor>,
        source: &str,
    ) -> Result<(), NnError> {
        tfjs::load(self, tensors, pytorch_name, source)
    }

    /// The trunk's pooled features: `[batch, 3, h, w]` RGB in 0..255 (150x150 for the
    /// published descriptor; any side from [`MIN_SIDE`] works) -> `[batch, 256]`.
    pub fn forward_trunk(&self, x: Tensor<4>) -> Tensor<2> {
        let [b, c, h, w] = x.dims();
        shape::check(
            "FaceApiRecognition",
            "[batch, 3, h, w]",
            [b, c, h, w],
            [None, Some(3), None, None],
        );
        assert!(
            supported_side(h) && supported_side(w),
            "FaceApiRecognition: input sides must be at least {MIN_SIDE}, got {h}x{w}"
        );
        let x = crate::faceapi_expression::normalise(x);
        let x = self.pool.forward(relu(self.conv32_down.forward(x)));
        let layers = [
            &self.conv32_1,
            &self.conv32_2,
            &self.conv32_3,
            &self.conv64_down,
            &self.conv64_1,
            &self.conv64_2,
            &self.conv64_3,
            &self.conv128_down,
            &self.conv128_1,
            &self.conv128_2,
            &self.conv256_down,
            &self.conv256_1,
            &self.conv256_2,
            &self.conv256_down_out,
        ];
        let x = layers.iter().fold(x, |x, layer| layer.forward(x));
        shape::global_avg_pool(x)
    }

    /// Per-frame embedding for use as a zoo backbone: `[batch, 3, h, w]` RGB normalised with
    /// the ImageNet statistics (the input of every zoo backbone) -> the trunk's 256 features.
    /// The frames are turned back into the network's own input (RGB in 0..255) first.
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        let device = x.device();
        let std = shape::per_channel(crate::IMAGENET_STD.map(|s| s * 255.0), &device);
        let mean = shape::per_channel(crate::IMAGENET_MEAN.map(|m| m * 255.0), &device);
        self.forward_trunk(x * std + mean)
    }

    /// The 128-d face descriptor: `[batch, 3, 150, 150]` RGB in 0..255 -> `[batch, 128]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.fc.forward(self.forward_trunk(x))
    }
}

/// face-api's name -> the PyTorch-style name of the parameter here.
fn pytorch_name(tfjs_name: &str) -> String {
    let dotted = tfjs_name.replace('/', ".");
    if let Some(p) = dotted.strip_suffix(".filters") {
        return format!("{p}.weight");
    }
    if let Some(p) = dotted.strip_suffix(".scale.weights") {
        return format!("{p}.scale.weight");
    }
    if let Some(p) = dotted.strip_suffix(".scale.biases") {
        return format!("{p}.scale.bias");
    }
    if dotted == "fc" {
        return "fc.weight".into();
    }
    dotted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_sides_follow_the_valid_rounding() {
        assert!(supported_side(150) && supported_side(112) && supported_side(MIN_SIDE));
        assert!(!supported_side(MIN_SIDE - 1) && !supported_side(0));
        // The trunk really runs at the smallest side.
        let dev = crate::cpu();
        let m = FaceApiRecognition::new(&dev);
        let x = Tensor::<4>::zeros([1, 3, MIN_SIDE, 112], &dev);
        assert_eq!(m.forward(x).dims(), [1, 128]);
    }

    #[test]
    fn names_map_onto_the_modules() {
        assert_eq!(
            pytorch_name("conv32_down/conv/filters"),
            "conv32_down.conv.weight"
        );
        assert_eq!(
            pytorch_name("conv64_1/conv2/scale/biases"),
            "conv64_1.conv2.scale.bias"
        );
        assert_eq!(
            pytorch_name("conv64_1/conv2/conv/bias"),
            "conv64_1.conv2.conv.bias"
        );
        assert_eq!(pytorch_name("fc"), "fc.weight");
    }
}

//! face-api's expression network (`FaceExpressionNet` of `@vladmandic/face-api` 1.7.15, MIT):
//! four densely connected blocks of depthwise-separable convolutions on a 112x112 RGB face
//! (`FaceFeatureExtractor`), a 7x7 average pool to 256 features and a linear layer to seven
//! classes (neutral, happy, sad, angry, fearful, disgusted, surprised).
//!
//! Weights are face-api's own TensorFlow.js files (uint8-quantised), read by [`crate::weights::tfjs`]
//! and built into the binary. Parameter names are face-api's with `/` as `.` and PyTorch's
//! layouts and suffixes (`dense1.conv0.depthwise.weight`, `.pointwise.weight`, `.pointwise.bias`;
//! the first block's plain conv `dense0.conv0.weight`/`.bias`; `fc.weight`/`.bias`).
//! TensorFlow specifics kept here: "same" padding of the strided convolutions puts the extra
//! row and column at the bottom/right.

use crate::layers::Conv2d;
use crate::weights::tfjs;
use crate::{NnError, shape};
use burn::module::Module;
use burn::nn::conv::Conv2dConfig;
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Device, Tensor};

/// The model's classes, in its output order.
pub const FACE_API_CLASSES: [&str; 7] = [
    "neutral",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgusted",
    "surprised",
];

/// For each ABAW class (Neutral, Anger, Disgust, Fear, Happiness, Sadness, Surprise), the index
/// of the same class in the model's output.
pub const ABAW_FROM_FACE_API: [usize; 7] = [0, 3, 5, 4, 1, 2, 6];

/// Input side in pixels.
pub const INPUT_SIZE: usize = 112;

/// face-api's input normalisation (both networks): RGB in 0..255 minus this mean, divided by
/// 255.
pub const MEAN_RGB: [f32; 3] = [122.782, 117.001, 104.298];

/// face-api's input normalisation of both its networks: `[batch, 3, h, w]` RGB in 0..255
/// minus [`MEAN_RGB`], divided by 255.
pub(crate) fn normalise(x: Tensor<4>) -> Tensor<4> {
    let mean = shape::per_channel(MEAN_RGB, &x.device());
    (x - mean).div_scalar(255.0)
}

/// face-api's files, built into the binary (330 kB: weights stored as uint8).
pub const MANIFEST: &[u8] =
    include_bytes!("../weights/face_api/face_expression_model-weights_manifest.json");
pub const SHARD: &[u8] = include_bytes!("../weights/face_api/face_expression_model.bin");

/// A 3x3 depthwise conv, a 1x1 pointwise conv and a bias (TensorFlow's `separableConv2d`).
#[derive(Module, Debug)]
pub struct SeparableConv {
    pub depthwise: Conv2d,
    pub pointwise: Conv2d,
}

impl SeparableConv {
    fn new(cin: usize, cout: usize, stride: usize, device: &Device) -> Self {
        // Strided layers are padded by `forward` (TensorFlow's asymmetric "same").
        let pad = if stride == 1 { 1 } else { 0 };
        SeparableConv {
            depthwise: Conv2dConfig::new([cin, cin], [3, 3])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_groups(cin)
                .with_bias(false)
                .init(device)
                .into(),
            pointwise: Conv2dConfig::new([cin, cout], [1, 1]).init(device).into(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = if self.depthwise.stride[0] > 1 {
            shape::tf_same_pad(x, 3, self.depthwise.stride[0], 0.0)
        } else {
            x
        };
        self.pointwise.forward(self.depthwise.forward(x))
    }
}

/// The three or four convolutions after a block's first one, each fed with the sum of the
/// outputs before it (face-api's `denseBlock4`): returns the block's output.
fn dense_tail(out1: Tensor<4>, convs: [&SeparableConv; 3]) -> Tensor<4> {
    let mut sum = out1.clone();
    let mut input = out1;
    for conv in convs {
        sum = sum + conv.forward(input);
        input = relu(sum.clone());
    }
    input
}

/// The first block: a plain strided 3x3 conv, then three separable convs.
#[derive(Module, Debug)]
pub struct FirstDenseBlock {
    pub conv0: Conv2d,
    pub conv1: SeparableConv,
    pub conv2: SeparableConv,
    pub conv3: SeparableConv,
}

impl FirstDenseBlock {
    fn new(cin: usize, cout: usize, device: &Device) -> Self {
        FirstDenseBlock {
            conv0: Conv2dConfig::new([cin, cout], [3, 3])
                .with_stride([2, 2])
                .init(device)
                .into(),
            conv1: SeparableConv::new(cout, cout, 1, device),
            conv2: SeparableConv::new(cout, cout, 1, device),
            conv3: SeparableConv::new(cout, cout, 1, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out1 = relu(self.conv0.forward(shape::tf_same_pad(x, 3, 2, 0.0)));
        dense_tail(out1, [&self.conv1, &self.conv2, &self.conv3])
    }
}

/// Later blocks: a strided separable conv, then three more.
#[derive(Module, Debug)]
pub struct DenseBlock {
    pub conv0: SeparableConv,
    pub conv1: SeparableConv,
    pub conv2: SeparableConv,
    pub conv3: SeparableConv,
}

impl DenseBlock {
    fn new(cin: usize, cout: usize, device: &Device) -> Self {
        DenseBlock {
            conv0: SeparableConv::new(cin, cout, 2, device),
            conv1: SeparableConv::new(cout, cout, 1, device),
            conv2: SeparableConv::new(cout, cout, 1, device),
            conv3: SeparableConv::new(cout, cout, 1, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out1 = relu(self.conv0.forward(x));
        dense_tail(out1, [&self.conv1, &self.conv2, &self.conv3])
    }
}

/// face-api's expression network.
#[derive(Module, Debug)]
pub struct FaceApiExpression {
    pub dense0: FirstDenseBlock,
    pub dense1: DenseBlock,
    pub dense2: DenseBlock,
    pub dense3: DenseBlock,
    pub fc: Linear,
}

impl FaceApiExpression {
    /// The architecture with burn's default initialisation.
    pub fn new(device: &Device) -> Self {
        FaceApiExpression {
            dense0: FirstDenseBlock::new(3, 32, device),
            dense1: DenseBlock::new(32, 64, device),
            dense2: DenseBlock::new(64, 128, device),
            dense3: DenseBlock::new(128, 256, device),
            fc: LinearConfig::new(256, 7).init(device),
        }
    }

    /// The pretrained network (face-api's weights, built in).
    pub fn pretrained(device: &Device) -> Result<Self, NnError> {
        let source = "face_expression_model-weights_manifest.json";
        let tensors = tfjs::decode(
            MANIFEST,
            |path| match path {
                "face_expression_model.bin" => Ok(SHARD.to_vec()),
                other => Err(format!("no built-in shard {other}")),
            },
            source,
        )?;
        let mut m = Self::new(device);
        m.load_tfjs(tensors, source)?;
        Ok(m)
    }

    /// Load face-api's tensors (from [`tfjs::read_manifest`] or [`tfjs::decode`]); every
    /// parameter must be present with its shape.
    pub fn load_tfjs(
        &mut self,
        tensors: Vec<tfjs::TfjsTensor>,
        source: &str,
    ) -> Result<(), NnError> {
        tfjs::load(self, tensors, pytorch_name, source)
    }

    /// The 256 features before the classifier: `[batch, 3, 112, 112]` RGB in 0..255 ->
    /// `[batch, 256]`.
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        shape::check(
            "FaceApiExpression",
            "[batch, 3, 112, 112]",
            x.dims(),
            [None, Some(3), Some(INPUT_SIZE), Some(INPUT_SIZE)],
        );
        let x = self.dense0.forward(normalise(x));
        let x = self.dense1.forward(x);
        let x = self.dense2.forward(x);
        // A 7x7 "valid" average pool of the 7x7 map: its mean.
        shape::global_avg_pool(self.dense3.forward(x))
    }

    /// Logits in face-api's class order.
    pub fn forward_logits(&self, x: Tensor<4>) -> Tensor<2> {
        self.fc.forward(self.forward_features(x))
    }

    /// Probabilities in face-api's class order ([`FACE_API_CLASSES`]).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        softmax(self.forward_logits(x), 1)
    }
}

/// face-api's name -> the PyTorch-style name of the parameter here.
fn pytorch_name(tfjs_name: &str) -> String {
    let dotted = tfjs_name.replace('/', ".");
    if let Some(p) = dotted.strip_suffix(".depthwise_filter") {
        return format!("{p}.depthwise.weight");
    }
    if let Some(p) = dotted.strip_suffix(".pointwise_filter") {
        return format!("{p}.pointwise.weight");
    }
    if let Some(p) = dotted.strip_suffix(".filters") {
        return format!("{p}.weight");
    }
    if dotted == "fc.weights" {
        return "fc.weight".into();
    }
    // A separable conv's bias follows its pointwise conv; the first block's plain conv and the
    // classifier keep theirs.
    match dotted.strip_suffix(".bias") {
        Some(p) if p != "dense0.conv0" && p != "fc" => format!("{p}.pointwise.bias"),
        _ => dotted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_onto_the_modules() {
        assert_eq!(pytorch_name("dense0/conv0/filters"), "dense0.conv0.weight");
        assert_eq!(pytorch_name("dense0/conv0/bias"), "dense0.conv0.bias");
        assert_eq!(
            pytorch_name("dense2/conv3/depthwise_filter"),
            "dense2.conv3.depthwise.weight"
        );
        assert_eq!(
            pytorch_name("dense2/conv3/bias"),
            "dense2.conv3.pointwise.bias"
        );
        assert_eq!(pytorch_name("fc/weights"), "fc.weight");
        assert_eq!(pytorch_name("fc/bias"), "fc.bias");
    }

    #[test]
    fn abaw_order_maps_the_same_classes() {
        let abaw = [
            "neutral",
            "angry",
            "disgusted",
            "fearful",
            "happy",
            "sad",
            "surprised",
        ];
        for (k, &i) in ABAW_FROM_FACE_API.iter().enumerate() {
            assert_eq!(FACE_API_CLASSES[i], abaw[k]);
        }
    }
}

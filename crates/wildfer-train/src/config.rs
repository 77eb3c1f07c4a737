//! One TOML file describes a training run; it is validated before anything starts and saved
//! beside every checkpoint, so a run directory always says how its weights were made.
//!
//! ```toml
//! seed = 1
//! [model]
//! preset = "method_a_resnet18_cbam_bilstm"   # or an inline `[model.network]` (zoo ModelConfig)
//! classes = 7                                 # 8 for ABAW 2022+ (with Other)
//! input_size = 112
//! [data]
//! root = "/data/Aff-Wild2"
//! [optim]
//! kind = "sgd"
//! lr = 0.001
//! [run]
//! iterations = 20000
//! ```

use crate::TrainError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use wildfer_labels::LabelSet;
use wildfer_labels::abaw::Split;
use wildfer_nn::ModelConfig;
pub use wildfer_runtime::model::{Framing, ModelSection};

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Seeds initialisation, sampling, augmentation and dropout.
    #[serde(default = "one_u64")]
    pub seed: u64,
    pub model: ModelSection,
    pub data: DataSection,
    #[serde(default)]
    pub optim: OptimSection,
    #[serde(default)]
    pub schedule: ScheduleSection,
    #[serde(default)]
    pub loss: LossSection,
    #[serde(default)]
    pub augment: AugmentSection,
    pub run: RunSection,
    #[serde(default)]
    pub eval: EvalSection,
}

/// Which split folder of the annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitName {
    Train,
    Validation,
}

impl SplitName {
    pub fn split(self) -> Split {
        match self {
            SplitName::Train => Split::Train,
            SplitName::Validation => Split::Validation,
        }
    }
}

/// How training clips are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampling {
    /// Method A: a video uniformly at random, then a random run of T frames with crops. In a
    /// still-image run: every image once per epoch, in a new shuffled order each epoch.
    #[default]
    Video,
    /// A class uniformly at random, then a random frame (or image) of that class, the clip
    /// around it.
    Balanced,
    /// Method B: every video cut into windows `data.stride` frames apart, visited in a
    /// shuffled order, epoch after epoch (windows without a usable frame are skipped).
    Sequential,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// The Aff-Wild2 root (holding `annotations/` and `cropped_aligned/`). Absent: a still-image
    /// run, trained on `[data.images]` and validated on `[data.val_images]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    #[serde(default = "train_split")]
    pub train_split: SplitName,
    #[serde(default = "val_split")]
    pub val_split: SplitName,
    /// Frames in a row without a crop allowed inside a training clip (filled from the previous
    /// crop, masked out of the loss).
    #[serde(default)]
    pub max_gap: usize,
    #[serde(default)]
    pub sampling: Sampling,
    /// Frames between the starts of consecutive windows for `sampling = "sequential"`
    /// (default: the window length, i.e. no overlap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<usize>,
    /// Threads decoding and augmenting crops ahead of the model.
    #[serde(default = "two")]
    pub workers: usize,
    /// Still images (AffectNet/RAF-DB/FER2013 style): mixed into every step of a video run, or
    /// the whole training set of a still-image run (no `root`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<ImagesSection>,
    /// The validation images of a still-image run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_images: Option<ImagesSection>,
}

/// What a run learns from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Aff-Wild2 videos (`data.root`), optionally with still images mixed into each step.
    Videos,
    /// Still images only: each step a batch of `run.batch_size` images.
    Images,
}

/// A still-image dataset. Each image is shown to the network as a static clip (the image at
/// every position of the window), labelled at every position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagesSection {
    /// A folder per class (`happiness/`, `happy/`, `4/`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folders: Option<PathBuf>,
    /// Or a list file of `path label` lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<PathBuf>,
    /// Only files whose name matches this pattern (`*`, `?`, `[...]`), e.g. `"PublicTest_*"`
    /// for FER2013's validation part of its test folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<String>,
    /// Static clips added to every step of a video run, besides `run.batch_size` video clips
    /// (default 4). A still-image run's steps hold `run.batch_size` images instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_step: Option<usize>,
}

impl ImagesSection {
    /// Images mixed into each step of a video run.
    pub fn per_step(&self) -> usize {
        self.per_step.unwrap_or(4)
    }

    /// Read the set (classes named as [`wildfer_data::image_sets`] reads them).
    pub fn open(&self, label_set: LabelSet) -> Result<wildfer_data::ImageSet, TrainError> {
        let set = match (&self.folders, &self.list) {
            (Some(f), None) => wildfer_data::ImageSet::open_folders(f, label_set)?,
            (None, Some(l)) => wildfer_data::ImageSet::open_list(l, label_set)?,
            _ => {
                return Err(TrainError::Invalid(
                    "an images section needs exactly one of `folders` and `list`".into(),
                ));
            }
        };
        let source = self.folders.as_ref().or(self.list.as_ref());
        match &self.files {
            None => Ok(set),
            Some(p) => Ok(set.matching(p, source.map(PathBuf::as_path))?),
        }
    }

    /// Relative paths made relative to `base` (the config file's folder).
    fn resolve(&mut self, base: &Path) {
        for p in [&mut self.folders, &mut self.list].into_iter().flatten() {
            *p = resolve_path(base, p);
        }
    }
}

fn resolve_path(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() || base.as_os_str().is_empty() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimKind {
    /// SGD with PyTorch's momentum (no dampening) and L2 weight decay.
    #[default]
    Sgd,
    /// AdamW (decoupled weight decay).
    Adamw,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimSection {
    #[serde(default)]
    pub kind: OptimKind,
    #[serde(default = "lr_default")]
    pub lr: f64,
    #[serde(default = "momentum_default")]
    pub momentum: f64,
    #[serde(default)]
    pub nesterov: bool,
    #[serde(default)]
    pub weight_decay: f32,
    #[serde(default = "betas_default")]
    pub betas: [f32; 2],
    #[serde(default = "eps_default")]
    pub eps: f32,
    /// The backbone's learning rate as a fraction of `lr` (0 freezes it).
    #[serde(default = "one_f64")]
    pub backbone_lr_mult: f64,
}

impl Default for OptimSection {
    fn default() -> Self {
        OptimSection {
            kind: OptimKind::Sgd,
            lr: lr_default(),
            momentum: momentum_default(),
            nesterov: false,
            weight_decay: 0.0,
            betas: betas_default(),
            eps: eps_default(),
            backbone_lr_mult: 1.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    #[default]
    Constant,
    /// Multiply by `gamma` every `step_size` iterations.
    Step,
    /// Cosine decay from `lr` to `min_lr` over the iterations after warm-up.
    Cosine,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSection {
    #[serde(default)]
    pub kind: ScheduleKind,
    /// Linear warm-up from `lr / warmup_iters` to `lr`.
    #[serde(default)]
    pub warmup_iters: usize,
    #[serde(default)]
    pub step_size: usize,
    #[serde(default = "gamma_default")]
    pub gamma: f64,
    #[serde(default)]
    pub min_lr: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    #[default]
    CrossEntropy,
    /// Cross-entropy with class weights (`class_weights`, or inverse training frequency).
    WeightedCrossEntropy,
    /// Focal loss `-(1 - p_t)^gamma log p_t` (class weights as alpha when given).
    Focal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossSection {
    #[serde(default)]
    pub kind: LossKind,
    #[serde(default = "focal_gamma")]
    pub gamma: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_weights: Option<Vec<f32>>,
    /// PyTorch's `label_smoothing`: the target is `1 - eps` on the true class plus `eps / C`
    /// on every class (cross-entropy kinds only). FER2013's labels are noisy; 0 = off.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub label_smoothing: f32,
}

impl Default for ScheduleSection {
    fn default() -> Self {
        ScheduleSection {
            kind: ScheduleKind::Constant,
            warmup_iters: 0,
            step_size: 0,
            gamma: gamma_default(),
            min_lr: 0.0,
        }
    }
}

impl Default for LossSection {
    fn default() -> Self {
        LossSection {
            kind: LossKind::CrossEntropy,
            gamma: focal_gamma(),
            class_weights: None,
            label_smoothing: 0.0,
        }
    }
}

/// Augmentations, the same for every frame of a clip (a clip stays one consistent video).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AugmentSection {
    /// Horizontal flip with probability 0.5.
    #[serde(default = "yes")]
    pub flip: bool,
    /// Random square crop whose side is at least this fraction of the image (1: no crop).
    #[serde(default = "crop_default")]
    pub crop_scale: f32,
    /// Brightness, contrast and saturation factors drawn from `[1 - jitter, 1 + jitter]`.
    #[serde(default = "jitter_default")]
    pub jitter: f32,
    /// Probability of turning the clip grey.
    #[serde(default)]
    pub greyscale: f32,
    /// Rotation about the crop's centre by an angle drawn from `[-rotate, rotate]` degrees
    /// (0: none). Faces in the wild tilt; the crop's corners repeat the edge pixels.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rotate: f32,
}

impl Default for AugmentSection {
    fn default() -> Self {
        AugmentSection {
            flip: true,
            crop_scale: crop_default(),
            jitter: jitter_default(),
            greyscale: 0.0,
            rotate: 0.0,
        }
    }
}

fn is_zero(v: &f32) -> bool {
    *v == 0.0
}

/// The challenge metric that picks the best checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// `abaw2020` for 7 classes, `abaw2022` for 8.
    #[default]
    Auto,
    /// `0.67 * macro F1 + 0.33 * accuracy`.
    Abaw2020,
    /// 8-class macro F1.
    Abaw2022,
    F1,
    Accuracy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    pub iterations: usize,
    /// Clips per step.
    #[serde(default = "four")]
    pub batch_size: usize,
    #[serde(default = "hundred")]
    pub checkpoint_every: usize,
    /// Evaluate on the whole validation split every this many iterations (0: only at the end).
    #[serde(default)]
    pub eval_every: usize,
    #[serde(default)]
    pub metric: Metric,
    /// Periodic checkpoints kept besides `best`.
    #[serde(default = "two")]
    pub keep_checkpoints: usize,
    /// Data-parallel replicas: each step's batch is split into this many parts whose
    /// gradients are summed (batch norm per part, as PyTorch's DistributedDataParallel; see
    /// `wildfer_train::replicas`). 1: no split.
    #[serde(default = "one")]
    pub replicas: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSection {
    /// Frames (or images) per backbone pass.
    #[serde(default = "eight")]
    pub batch: usize,
    /// Smooth the probabilities over this many frames (0 or 1: none).
    #[serde(default)]
    pub smooth: usize,
    #[serde(default)]
    pub smooth_kind: SmoothKind,
}

pub use wildfer_labels::smoothing::SmoothKind;

impl Default for EvalSection {
    fn default() -> Self {
        EvalSection {
            batch: 8,
            smooth: 0,
            smooth_kind: SmoothKind::Mean,
        }
    }
}

fn one_u64() -> u64 {
    1
}
fn one_f64() -> f64 {
    1.0
}
fn one() -> usize {
    1
}
fn two() -> usize {
    2
}
fn four() -> usize {
    4
}
fn eight() -> usize {
    8
}
fn hundred() -> usize {
    100
}
fn yes() -> bool {
    true
}
fn train_split() -> SplitName {
    SplitName::Train
}
fn val_split() -> SplitName {
    SplitName::Validation
}
fn lr_default() -> f64 {
    1e-3
}
fn momentum_default() -> f64 {
    0.9
}
fn betas_default() -> [f32; 2] {
    [0.9, 0.999]
}
fn eps_default() -> f32 {
    1e-8
}
fn gamma_default() -> f64 {
    0.1
}
fn focal_gamma() -> f32 {
    2.0
}
fn crop_default() -> f32 {
    0.9
}
fn jitter_default() -> f32 {
    0.2
}

impl TrainConfig {
    /// Parse and validate; errors name `path` and, for syntax and unknown keys, the line.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, TrainError> {
        let cfg: TrainConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| {
                text.as_bytes()[..s.start.min(text.len())]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1
            });
            let msg = e.message().replace('\n', " ");
            match line {
                Some(l) => TrainError::config(path, format!("line {l}: {msg}")),
                None => TrainError::config(path, msg),
            }
        })?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Read `path`; relative data and weight paths in it are relative to its folder, so a run
    /// file works from any working directory (they are saved resolved beside checkpoints).
    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let text = wildfer_files::read_text(path, wildfer_files::MAX_TEXT_BYTES)
            .map_err(|e| TrainError::io(path, e))?;
        let mut cfg = Self::from_toml(&text, path)?;
        cfg.resolve_paths(path.parent().unwrap_or(Path::new("")));
        Ok(cfg)
    }

    /// Relative paths made relative to `base`.
    pub fn resolve_paths(&mut self, base: &Path) {
        if let Some(r) = &mut self.data.root {
            *r = resolve_path(base, r);
        }
        for im in [&mut self.data.images, &mut self.data.val_images]
            .into_iter()
            .flatten()
        {
            im.resolve(base);
        }
        if let Some(i) = &mut self.model.init {
            *i = resolve_path(base, i);
        }
    }

    /// How every input image is prepared at inference (no augmentation; grey if `model.grey`).
    pub fn input(&self) -> crate::augment::InputSpec {
        self.model.input()
    }

    /// Videos or still images.
    pub fn task(&self) -> Task {
        if self.data.root.is_some() {
            Task::Videos
        } else {
            Task::Images
        }
    }

    pub fn to_toml(&self) -> String {
        // Every field is representable in TOML; a failure would be a bug in this file.
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# not serialisable: {e}\n"))
    }

    pub fn label_set(&self) -> LabelSet {
        self.model.label_set()
    }

    /// The network with the configured number of classes.
    pub fn network(&self) -> Result<ModelConfig, TrainError> {
        Ok(self.model.network()?)
    }

    /// The metric that selects the best checkpoint, `Auto` resolved.
    pub fn metric(&self) -> Metric {
        match self.run.metric {
            Metric::Auto if self.model.classes == 8 => Metric::Abaw2022,
            Metric::Auto => Metric::Abaw2020,
            m => m,
        }
    }

    /// Name of [`Self::metric`] as logged.
    pub fn metric_name(&self) -> &'static str {
        crate::trainer::metric_name(self.metric())
    }

    fn validate(&self, path: &Path) -> Result<(), TrainError> {
        let bad = |msg: String| Err(TrainError::config(path, msg));
        self.model
            .validate()
            .map_err(|e| TrainError::config(path, e.to_string()))?;
        let o = &self.optim;
        if !(o.lr.is_finite() && o.lr > 0.0) {
            return bad(format!("optim.lr must be positive, got {}", o.lr));
        }
        if !(0.0..1.0).contains(&o.momentum) {
            return bad(format!(
                "optim.momentum must be in [0, 1), got {}",
                o.momentum
            ));
        }
        if !(o.weight_decay.is_finite() && o.weight_decay >= 0.0) {
            return bad(format!(
                "optim.weight_decay must be >= 0, got {}",
                o.weight_decay
            ));
        }
        if !(o.backbone_lr_mult.is_finite() && o.backbone_lr_mult >= 0.0) {
            return bad(format!(
                "optim.backbone_lr_mult must be >= 0, got {}",
                o.backbone_lr_mult
            ));
        }
        if o.betas.iter().any(|b| !(0.0..1.0).contains(b)) || !(o.eps.is_finite() && o.eps > 0.0) {
            return bad("optim.betas must be in [0, 1) and optim.eps positive".into());
        }
        let s = &self.schedule;
        if s.kind == ScheduleKind::Step && s.step_size == 0 {
            return bad("schedule.step_size must be positive for a step schedule".into());
        }
        if !(s.gamma.is_finite() && s.gamma > 0.0 && s.min_lr >= 0.0 && s.min_lr <= o.lr) {
            return bad(
                "schedule.gamma must be positive and 0 <= schedule.min_lr <= optim.lr".into(),
            );
        }
        if let Some(w) = &self.loss.class_weights {
            if w.len() != self.model.classes {
                return bad(format!(
                    "loss.class_weights has {} values for {} classes",
                    w.len(),
                    self.model.classes
                ));
            }
            if w.iter().any(|x| !(x.is_finite() && *x >= 0.0)) || w.iter().all(|x| *x == 0.0) {
                return bad("loss.class_weights must be >= 0 and not all 0".into());
            }
        }
        if !(self.loss.gamma.is_finite() && self.loss.gamma >= 0.0) {
            return bad(format!("loss.gamma must be >= 0, got {}", self.loss.gamma));
        }
        let eps = self.loss.label_smoothing;
        if !(0.0..1.0).contains(&eps) {
            return bad(format!("loss.label_smoothing must be in [0, 1), got {eps}"));
        }
        if eps > 0.0 && self.loss.kind == LossKind::Focal {
            return bad(
                "loss.label_smoothing applies to the cross-entropy kinds, not focal".into(),
            );
        }
        let a = &self.augment;
        if !(a.crop_scale > 0.0 && a.crop_scale <= 1.0) {
            return bad(format!(
                "augment.crop_scale must be in (0, 1], got {}",
                a.crop_scale
            ));
        }
        if !(0.0..1.0).contains(&a.jitter) || !(0.0..=1.0).contains(&a.greyscale) {
            return bad("augment.jitter must be in [0, 1) and augment.greyscale in [0, 1]".into());
        }
        if !(0.0..=45.0).contains(&a.rotate) {
            return bad(format!(
                "augment.rotate must be in [0, 45] degrees, got {}",
                a.rotate
            ));
        }
        let r = &self.run;
        if r.iterations == 0 || r.batch_size == 0 || r.checkpoint_every == 0 {
            return bad(
                "run.iterations, run.batch_size and run.checkpoint_every must be positive".into(),
            );
        }
        if r.replicas == 0 || r.replicas > r.batch_size {
            return bad(format!(
                "run.replicas must be between 1 and run.batch_size ({}), got {}",
                r.batch_size, r.replicas
            ));
        }
        if self.metric() == Metric::Abaw2022 && self.model.classes != 8 {
            return bad(
                "run.metric abaw2022 is the 8-class macro F1: set model.classes = 8".into(),
            );
        }
        for (name, im) in [
            ("data.images", &self.data.images),
            ("data.val_images", &self.data.val_images),
        ] {
            if let Some(im) = im
                && (im.folders.is_some() == im.list.is_some() || im.per_step == Some(0))
            {
                return bad(format!(
                    "[{name}] needs exactly one of `folders` and `list`, and per_step >= 1"
                ));
            }
        }
        match self.task() {
            Task::Videos if self.data.val_images.is_some() => {
                return bad("data.val_images is for still-image runs (no data.root); a video run validates on the Aff-Wild2 validation split".into());
            }
            Task::Images => {
                let Some(im) = &self.data.images else {
                    return bad("[data] needs `root` (Aff-Wild2) or a [data.images] set".into());
                };
                if im.per_step.is_some() {
                    return bad("data.images.per_step mixes images into video steps; a still-image run's steps hold run.batch_size images".into());
                }
                if self.data.val_images.is_none() {
                    return bad(
                        "a still-image run needs [data.val_images] to pick its best checkpoint"
                            .into(),
                    );
                }
                if self.data.sampling == Sampling::Sequential {
                    return bad("data.sampling = \"sequential\" cuts videos into windows; a still-image run takes \"video\" (every image once per epoch) or \"balanced\"".into());
                }
            }
            Task::Videos => {}
        }
        if self.data.stride == Some(0) {
            return bad("data.stride must be positive".into());
        }
        if self.eval.batch == 0 || self.data.workers == 0 {
            return bad("eval.batch and data.workers must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = "[model]\npreset = \"method_a_resnet18_cbam_bilstm\"\n[data]\nroot = \"/d\"\n[run]\niterations = 10\n";

    fn parse(s: &str) -> Result<TrainConfig, String> {
        TrainConfig::from_toml(s, Path::new("run.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn minimal_config_gets_defaults_and_round_trips() {
        let c = parse(MIN).unwrap();
        assert_eq!(c.model.classes, 7);
        assert_eq!(c.optim.kind, OptimKind::Sgd);
        assert_eq!(c.metric(), Metric::Abaw2020);
        assert_eq!(c.run.batch_size, 4);
        // Omitted sections equal their explicit defaults.
        assert_eq!(c.schedule, toml::from_str::<ScheduleSection>("").unwrap());
        assert_eq!(c.loss, toml::from_str::<LossSection>("").unwrap());
        assert_eq!(c.augment, toml::from_str::<AugmentSection>("").unwrap());
        assert_eq!(c.optim, toml::from_str::<OptimSection>("").unwrap());
        assert_eq!(c.eval, toml::from_str::<EvalSection>("").unwrap());
        let again = parse(&c.to_toml()).unwrap();
        assert_eq!(again, c);
        // An inline network round-trips too.
        let mut inline = c.clone();
        inline.model.network = Some(inline.network().unwrap());
        inline.model.preset = None;
        assert_eq!(parse(&inline.to_toml()).unwrap(), inline);
    }

    #[test]
    fn bad_configs_are_one_line_errors_naming_file_and_key() {
        let e = parse(&format!("{MIN}[optim]\nlr = 0.1\nlearning_rate = 2\n")).unwrap_err();
        assert!(
            e.starts_with("run.toml: line 9:") && e.contains("learning_rate"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
        let e = parse(&MIN.replace("method_a_resnet18_cbam_bilstm", "nope")).unwrap_err();
        assert!(e.contains("nope"), "{e}");
        let e = parse(&format!("{MIN}[optim]\nlr = -1.0\n")).unwrap_err();
        assert!(e.contains("optim.lr"), "{e}");
        let e = parse(&MIN.replace("iterations = 10", "iterations = 0")).unwrap_err();
        assert!(e.contains("run.iterations"), "{e}");
        let e =
            parse(&MIN.replace("method_a_resnet18_cbam_bilstm", "method_b_ensemble")).unwrap_err();
        assert!(e.contains("ensemble"), "{e}");
        let e = parse(&format!(
            "{MIN}[loss]\nkind = \"focal\"\nclass_weights = [1.0, 2.0]\n"
        ))
        .unwrap_err();
        assert!(e.contains("2 values for 7 classes"), "{e}");
        let e = parse(&format!("{MIN}[loss]\nlabel_smoothing = 1.0\n")).unwrap_err();
        assert!(e.contains("loss.label_smoothing must be in [0, 1)"), "{e}");
        let e = parse(&format!(
            "{MIN}[loss]\nkind = \"focal\"\nlabel_smoothing = 0.1\n"
        ))
        .unwrap_err();
        assert!(e.contains("not focal"), "{e}");
        let smoothed = parse(&format!("{MIN}[loss]\nlabel_smoothing = 0.1\n")).unwrap();
        assert_eq!(smoothed.loss.label_smoothing, 0.1);
        assert_eq!(parse(&smoothed.to_toml()).unwrap(), smoothed);
        let e = parse(&format!("{MIN}[run]\niterations = 3\n")).unwrap_err();
        assert!(e.contains("line"), "{e}");
        let e = parse(&MIN.replace("[model]", "[model]\nclasses = 9")).unwrap_err();
        assert!(e.contains("7 or 8"), "{e}");
    }
}

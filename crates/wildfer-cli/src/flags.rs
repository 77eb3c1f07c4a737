//! Flags several commands share, each group parsed straight into the library type it names.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use wildfer_nn::burn::tensor::Device;
use wildfer_pipeline::ExpressionModel;
use wildfer_pipeline::expression::Tta;

/// Face-detection flags of the commands that find faces.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct DetectFlags {
    /// Face detector: `retinaface` (RetinaFace MobileNet-0.25: faster, steadier landmarks) or
    /// `mtcnn` (facenet-pytorch's networks and cascade; faces from 20 px).
    #[arg(long, default_value = "retinaface", value_parser = parse_detector)]
    detector: wildfer_pipeline::faces::DetectorKind,
    /// Frames with a longer side are shrunk to this for detection (RetinaFace).
    #[arg(long, default_value_t = 1024)]
    det_max_side: usize,
    /// Search the whole frame for faces every N frames; in between, known faces are
    /// re-detected in a region around them (1: search every frame whole).
    #[arg(long, default_value_t = 10, value_name = "N")]
    full_detect_every: usize,
}

impl DetectFlags {
    pub fn options(self) -> wildfer_pipeline::faces::DetectOptions {
        wildfer_pipeline::faces::DetectOptions {
            kind: self.detector,
            max_side: self.det_max_side,
            full_every: self.full_detect_every,
        }
    }

    /// The detector these flags describe, on `device`.
    pub fn detector(self, device: &Device) -> Result<Box<dyn wildfer_face::FaceDetector>> {
        Ok(wildfer_pipeline::faces::load_detector(
            &self.options(),
            device,
        )?)
    }
}

/// `--detector`: `retinaface` or `mtcnn`.
fn parse_detector(s: &str) -> Result<wildfer_pipeline::faces::DetectorKind, String> {
    s.parse()
        .map_err(|e: wildfer_pipeline::PipelineError| e.to_string())
}

/// `--device` of the commands that run networks.
#[derive(clap::Args, Debug, Clone)]
pub struct DeviceFlag {
    /// Where the networks run: cpu, cuda or cuda:N (CUDA needs a build with `--features cuda`).
    #[arg(long, default_value = "cpu", value_parser = parse_device)]
    pub device: Device,
}

fn parse_device(s: &str) -> Result<Device, String> {
    wildfer_nn::parse_device(s).map_err(|e| e.to_string())
}

/// The expression model of the commands that score faces.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelFlags {
    /// Expression model: a built-in name (`default` when absent; `wildfer models` lists them),
    /// a run directory of `wildfer train` (its best checkpoint) or a checkpoint folder;
    /// `a,b,...` averages several. A built-in name wins over a folder of that name (write
    /// `./default` for the folder). Temporal models see each face's track over their window.
    #[arg(long, value_name = "NAME|RUN_DIR|CHECKPOINT")]
    pub model: Option<PathBuf>,
    /// Test-time augmentation: `flip` also scores each face's mirror image and averages the
    /// two answers (twice the model's work); `ten-crop` averages ten views: the four corner
    /// squares and the centre square of 0.9 the crop's side, and their mirror images (ten times
    /// the work). Frame-level models only.
    #[arg(long, default_value = "none", value_name = "none|flip|ten-crop", value_parser = parse_tta)]
    pub tta: Tta,
}

fn parse_tta(s: &str) -> Result<Tta, String> {
    s.parse()
        .map_err(|e: wildfer_pipeline::PipelineError| e.to_string())
}

impl ModelFlags {
    /// The model these flags name (the rule: [`wildfer_pipeline::expression::load_model`]), on `device`.
    pub fn load(&self, device: &Device) -> Result<Box<dyn ExpressionModel>> {
        let spec = self.model.as_deref();
        let shown = || {
            format!(
                "--model {}",
                spec.unwrap_or(Path::new(wildfer_pipeline::DEFAULT_MODEL))
                    .display()
            )
        };
        wildfer_pipeline::expression::load_model_with_tta(spec, self.tta, device)
            .with_context(shown)
    }
}

/// `--threads`.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct ThreadsFlag {
    /// Compute threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

impl ThreadsFlag {
    /// Size the global compute pool (burn's CPU backend runs on rayon) when asked.
    pub fn apply(self) -> Result<()> {
        match self.threads {
            Some(n) => set_threads(n),
            None => Ok(()),
        }
    }
}

/// Size the global compute pool to `n` threads.
pub fn set_threads(n: usize) -> Result<()> {
    if n == 0 {
        bail!("--threads must be at least 1");
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .context("setting the number of threads")
}

/// Inputs from a manifest, and this task's share of them in an array job.
#[derive(clap::Args, Debug, Clone)]
pub struct BatchFlags {
    /// More inputs: a file with one path per line (`#` comments and blank lines skipped;
    /// relative paths from the current folder), for corpora too large for a command line.
    #[arg(long = "inputs", value_name = "FILE", id = "manifest")]
    pub manifest: Option<PathBuf>,
    /// Do only this task's share of the inputs: `I/N` (0-based), or `auto` for the task's
    /// place in a Slurm job array (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job
    /// (JOB_COMPLETION_INDEX). Inputs are split by size, the same way in every task.
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<String>,
}

impl BatchFlags {
    pub fn shard(&self) -> Result<wildfer_pipeline::shard::Shard> {
        parse_shard(self.shard.as_deref())
    }
}

/// `--shard I/N|auto` (absent: the whole job), `auto` read from the environment.
pub fn parse_shard(flag: Option<&str>) -> Result<wildfer_pipeline::shard::Shard> {
    match flag {
        Some(s) => wildfer_pipeline::shard::Shard::parse(s, |k| std::env::var(k).ok())
            .map_err(anyhow::Error::msg),
        None => Ok(wildfer_pipeline::shard::Shard::default()),
    }
}

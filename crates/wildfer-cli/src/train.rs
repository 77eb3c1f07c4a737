//! `wildfer train` and `wildfer predict`: progress and output over `wildfer-train`.

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use wildfer_files::write_atomic;
use wildfer_labels::abaw::{Annotations, write_annotation_dir, write_predictions_txt};
use wildfer_labels::{Expression, LabelSet, count};
use wildfer_runtime::predict::{average_videos, predict, score, smooth, to_annotations};
use wildfer_train::checkpoint;
use wildfer_train::config::{SmoothKind, SplitName};
use wildfer_train::trainer::Event;
use wildfer_train::{TrainConfig, TrainOptions};

/// `wildfer train`'s flags.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// The run configuration.
    #[arg(long)]
    pub config: PathBuf,
    /// Run directory (default: `runs/<config stem>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in --out from its latest checkpoint (same config required).
    #[arg(long)]
    pub resume: bool,
    /// Stop after this many steps (checkpointed; continue later with --resume).
    #[arg(long, value_name = "STEPS")]
    pub stop_after: Option<usize>,
    /// Use this seed instead of the config's `seed` (for seed sweeps; saved in the run's
    /// config.toml, so a resume needs the same --seed).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Where to train: cpu, cuda or cuda:N (CUDA needs a build with `--features cuda`);
    /// several, separated by commas (`cuda:0,cuda:1`), run one data-parallel replica on each.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

impl TrainArgs {
    /// The first device, then those of further data-parallel replicas.
    fn devices(&self) -> Result<Vec<burn::tensor::Device>> {
        Ok(self
            .device
            .split(',')
            .map(wildfer_nn::parse_device)
            .collect::<Result<_, _>>()?)
    }
}

/// A line above the progress bar, or on plain stderr where no bar is drawn (indicatif drops
/// its lines when stderr is not a terminal).
fn say(bar: &ProgressBar, plain: bool, line: String) {
    if plain {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

pub fn run_train(a: TrainArgs) -> Result<()> {
    let devices = a.devices()?;
    let mut cfg = TrainConfig::load(&a.config)?;
    if let Some(seed) = a.seed {
        cfg.seed = seed;
    }
    let out = a.out.unwrap_or_else(|| {
        let stem = a
            .config
            .file_stem()
            .map_or("run".into(), |s| s.to_string_lossy().into_owned());
        PathBuf::from("runs").join(stem)
    });
    let bar = ProgressBar::new(cfg.run.iterations as u64);
    bar.set_style(
        ProgressStyle::with_template("train [{bar:30}] {pos}/{len} steps {msg} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let plain = !std::io::stderr().is_terminal();
    let mut last_line = std::time::Instant::now();
    let mut loss_ema: Option<f64> = None;
    let mut evals = Vec::new();
    // A first SIGINT or SIGTERM stops after the current step with a checkpoint.
    let stop = crate::progress::stop_flag()?;
    let summary = wildfer_train::train(
        &cfg,
        &out,
        &TrainOptions {
            resume: a.resume,
            stop_after: a.stop_after,
            device: devices.first().cloned(),
            replica_devices: devices.iter().skip(1).cloned().collect(),
            stop: Some(Arc::clone(&stop)),
        },
        &mut |e| match e {
            Event::Initialised { from, account } => {
                say(&bar, plain, format!("wildfer train: initial weights {}: {account}", from.display()));
            }
            Event::Started {
                first,
                iterations,
                train_items,
                val_items,
                unit,
                params,
            } => {
                say(&bar, plain, format!(
                    "wildfer train: {} ({params} parameters), {train_items} training / {val_items} validation {unit}, steps {}..{iterations} -> {}",
                    cfg.network().map(|n| n.describe()).unwrap_or_default(),
                    first + 1,
                    out.display()
                ));
                bar.set_position(first as u64);
                bar.reset_eta();
            }
            Event::Step(s) => {
                let l = loss_ema.map_or(s.loss, |m| 0.9 * m + 0.1 * s.loss);
                loss_ema = Some(l);
                let msg = format!(
                    "loss {l:.4} lr {:.2e} {:.1} frames/s, {:.0} ms waiting for data",
                    s.lr,
                    s.frames_per_s,
                    s.wait_s * 1e3
                );
                // Batch jobs (stderr not a terminal) get a plain line every 30 s instead.
                if plain && last_line.elapsed().as_secs() >= 30 {
                    last_line = std::time::Instant::now();
                    eprintln!(
                        "wildfer train: step {}/{} {msg}",
                        s.iteration, cfg.run.iterations
                    );
                }
                bar.set_message(msg);
                bar.set_position(s.iteration as u64);
            }
            Event::Evaluating { done, total } => {
                bar.set_message(format!("evaluating {done}/{total}"));
            }
            Event::Evaluated(e) => {
                say(&bar, plain, format!(
                    "step {}: {} {:.4} (macro F1 {:.4}, accuracy {:.4}, {} frames){}",
                    e.iteration,
                    e.metric,
                    e.score,
                    e.f1_macro,
                    e.accuracy,
                    e.frames,
                    if e.best { " best" } else { "" }
                ));
                evals.push(e);
            }
            Event::Checkpoint { .. } => {}
        },
    )
    .with_context(|| format!("training {}", a.config.display()))?;
    bar.finish_and_clear();
    if stop.load(Ordering::SeqCst) && summary.state.iteration < cfg.run.iterations {
        bail!(
            "interrupted: stopped after step {} with a checkpoint in {}; continue with `wildfer train --config {} --out {} --resume`",
            summary.state.iteration,
            out.display(),
            a.config.display(),
            out.display()
        );
    }
    let mut msg = format!(
        "wildfer train: {} steps done in {:.0} s",
        summary.state.iteration, summary.state.elapsed_s
    );
    if let (Some(s), Some(i)) = (summary.state.best_score, summary.state.best_iteration) {
        write!(msg, "; best {} {s:.4} at step {i}", cfg.metric_name()).ok();
    }
    if summary.state.bad_frames > 0 {
        write!(
            msg,
            "; {} unreadable crops skipped",
            summary.state.bad_frames
        )
        .ok();
    }
    if let Some(b) = &summary.best_checkpoint {
        write!(msg, "\nbest checkpoint: {}", b.display()).ok();
    }
    eprintln!("{msg}");
    Ok(())
}

/// Submission formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One `<video>.txt` per video (ABAW 2020/21).
    Abaw2020,
    /// One `predictions.txt` (ABAW 2022+).
    Abaw2022,
    Both,
}

/// `wildfer predict`'s flags.
#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    /// A run directory (its best checkpoint) or a checkpoint folder; several, separated by
    /// commas, average their per-frame probabilities with equal weights (an ensemble such as
    /// method B's CNN, CNN-RNN and CNN-Transformer runs).
    #[arg(
        long,
        visible_aliases = ["run", "checkpoint"],
        value_name = "RUN_DIR|CHECKPOINT[,...]",
        value_delimiter = ','
    )]
    pub model: Vec<PathBuf>,
    /// The Aff-Wild2 root (annotations/ and cropped_aligned/).
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, value_enum, default_value = "validation")]
    pub split: SplitArg,
    /// Predict these videos without labels instead of a labelled split: a list file, one
    /// video name per line as in `cropped_aligned/` (e.g. a challenge's test-set list).
    /// Writes the submissions and probabilities; nothing is scored.
    #[arg(long, value_name = "LIST", conflicts_with = "split")]
    pub videos: Option<PathBuf>,
    /// With --videos: a folder of the raw videos (`<name>.mp4`, ...; `_left`/`_right`
    /// share their source), whose frame counts fix each submission's length. Without it a
    /// video ends at its last face crop.
    #[arg(long, value_name = "DIR", requires = "videos")]
    pub video_dir: Option<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value = "both")]
    pub format: Format,
    /// Smooth the probabilities over N frames (default: the run's eval.smooth).
    #[arg(long, value_name = "N")]
    pub smooth: Option<usize>,
    /// Gaussian smoothing weights (standard deviation N/4) instead of the run's
    /// eval.smooth_kind (default: a moving average).
    #[arg(long)]
    pub gaussian: bool,
    #[command(flatten)]
    pub device: crate::flags::DeviceFlag,
}

/// `--split`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SplitArg {
    Train,
    Validation,
}

impl SplitArg {
    fn name(self) -> SplitName {
        match self {
            SplitArg::Train => SplitName::Train,
            SplitArg::Validation => SplitName::Validation,
        }
    }
}

pub fn run_predict(a: PredictArgs) -> Result<()> {
    let dev = a.device.device.clone();
    let Some(first) = a.model.first() else {
        bail!("--model: name a run or checkpoint");
    };
    // The first member's run file gives the defaults (smoothing, frames per pass).
    let cfg = TrainConfig::load(
        &wildfer_runtime::checkpoint::checkpoint_dir(first)?.join(checkpoint::CONFIG_FILE),
    )?;
    let labelled = a.videos.is_none();
    let data = match &a.videos {
        Some(list) => unlabelled_videos(&a.data, list, a.video_dir.as_deref(), cfg.label_set())?,
        None => wildfer_data::AffWild2::open(&a.data, a.split.name().split())?,
    };
    let smooth_n = a.smooth.unwrap_or(cfg.eval.smooth);
    let kind = if a.gaussian {
        SmoothKind::Gaussian
    } else {
        cfg.eval.smooth_kind
    };
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("{}: cannot create", a.out.display()))?;
    let mut members = Vec::with_capacity(a.model.len());
    let mut dirs = Vec::new();
    for (i, path) in a.model.iter().enumerate() {
        let ck = wildfer_runtime::Checkpoint::load(path, &dev)?;
        if data.label_set != ck.model.label_set() {
            bail!(
                "{}: the annotations have {} classes but {} predicts {}",
                a.data.display(),
                data.label_set.num_classes(),
                ck.dir.display(),
                ck.model.classes
            );
        }
        dirs.push(ck.dir.display().to_string());
        let mut runner = wildfer_runtime::Runner::of_checkpoint(ck, dev.clone())?;
        let bar = ProgressBar::new(data.videos.len() as u64);
        let label = if a.model.len() > 1 {
            format!("predict {}/{}", i + 1, a.model.len())
        } else {
            "predict".to_string()
        };
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{label} [{{bar:30}}] {{pos}}/{{len}} videos ETA {{eta}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        members.push(predict(&mut runner, &data, cfg.eval.batch, |d, _| {
            bar.set_position(d as u64)
        })?);
        bar.finish_and_clear();
    }
    let probs = if members.len() == 1 {
        members.remove(0)
    } else {
        average_videos(members, None)?
    };
    let dir = dirs.join(" + ");
    let mut ann = to_annotations(&probs, data.label_set, smooth_n, kind);
    if !labelled {
        // A submission needs every listed video: one without any face crop is all Neutral.
        for (v, p) in data.videos.iter().zip(&probs) {
            if p.probs.is_none() {
                eprintln!(
                    "wildfer predict: {} has no face crop: its {} predicted neutral",
                    v.name,
                    count(v.frames(), "frame")
                );
                ann.videos
                    .insert(v.name.clone(), vec![Some(Expression::Neutral); v.frames()]);
            }
        }
    }
    write_submissions(&a.out, &ann, a.format)?;
    // Per-frame probabilities (smoothed as the labels are).
    let pdir = a.out.join("probabilities");
    std::fs::create_dir_all(&pdir).with_context(|| format!("{}: cannot create", pdir.display()))?;
    let header: Vec<&str> = data.label_set.classes().iter().map(|e| e.key()).collect();
    for v in &probs {
        if let Some(p) = &v.probs {
            let mut s = format!("frame,{}\n", header.join(","));
            for (i, q) in smooth(p, smooth_n, kind).iter().enumerate() {
                let row: Vec<String> = q.iter().map(|x| format!("{x:.6}")).collect();
                writeln!(s, "{},{}", i + 1, row.join(",")).ok();
            }
            write_atomic(&pdir.join(format!("{}.csv", v.name)), s.as_bytes())?;
        }
    }
    if !labelled {
        eprintln!(
            "wildfer predict: {} from {} -> {} (no labels: nothing scored)",
            count(data.videos.len(), "video"),
            dir,
            a.out.display()
        );
        return Ok(());
    }
    let report = score(&data, &ann)?;
    let json = serde_json::to_string_pretty(&report)?;
    write_atomic(&a.out.join("scores.json"), json.as_bytes())?;
    let missing = probs.iter().filter(|v| v.probs.is_none()).count();
    let bad: usize = probs.iter().map(|v| v.bad_crops).sum();
    if let Some(e) = probs.iter().find_map(|v| v.first_error.as_ref()) {
        eprintln!(
            "wildfer predict: {bad} crops could not be decoded and were shown blank; first: {e}"
        );
    }
    eprintln!(
        "wildfer predict: {} videos from {} -> {} (macro F1 {:.4}, accuracy {:.4}, ABAW 2020 score {:.4}{}){}",
        data.videos.len(),
        dir,
        a.out.display(),
        report.f1_macro,
        report.accuracy,
        report.abaw2020_score,
        report
            .abaw2022_score
            .map(|s| format!(", ABAW 2022 score {s:.4}"))
            .unwrap_or_default(),
        if missing > 0 {
            format!("; {missing} videos without any crop have no prediction")
        } else {
            String::new()
        }
    );
    Ok(())
}

fn write_submissions(out: &Path, ann: &Annotations, format: Format) -> Result<()> {
    if matches!(format, Format::Abaw2020 | Format::Both) {
        write_annotation_dir(&out.join("abaw2020"), ann)?;
    }
    if matches!(format, Format::Abaw2022 | Format::Both) {
        write_predictions_txt(&out.join("predictions.txt"), ann)?;
    }
    Ok(())
}

/// The unlabelled videos named in `list` (one per line; blank lines and `#` comments skipped, a
/// video extension dropped), each as long as its raw video in `video_dir` when given.
fn unlabelled_videos(
    root: &Path,
    list: &Path,
    video_dir: Option<&Path>,
    label_set: LabelSet,
) -> Result<wildfer_data::AffWild2> {
    let text = wildfer_files::read_text(list, wildfer_files::MAX_TEXT_BYTES)
        .with_context(|| format!("{}: cannot read the video list", list.display()))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let p = Path::new(l);
            match p.extension().and_then(|e| e.to_str()) {
                Some(e)
                    if wildfer_pipeline::inputs::VIDEO_EXTENSIONS
                        .contains(&e.to_ascii_lowercase().as_str()) =>
                {
                    l[..l.len() - e.len() - 1].to_string()
                }
                _ => l.to_string(),
            }
        })
        .collect();
    if names.is_empty() {
        bail!("{}: no video names in the list", list.display());
    }
    // Frame counts from the raw videos' headers; a video that cannot be found or read is an
    // error: a short submission would be rejected by the organisers' checker.
    let mut frames = std::collections::HashMap::new();
    if let Some(dir) = video_dir {
        for name in &names {
            let source = wildfer_labels::abaw::VideoName::parse(name).source;
            let file = wildfer_pipeline::inputs::VIDEO_EXTENSIONS
                .iter()
                .flat_map(|e| [e.to_string(), e.to_ascii_uppercase()])
                .map(|e| dir.join(format!("{source}.{e}")))
                .find(|p| p.is_file())
                .with_context(|| {
                    format!("{}: no video named {source} (for {name})", dir.display())
                })?;
            let n = wildfer_video::open(&file)?.info().frames;
            frames.insert(name.clone(), n);
        }
    } else {
        eprintln!(
            "wildfer predict: no --video-dir: each video ends at its last face crop (frames after it are not in the submission)"
        );
    }
    Ok(wildfer_data::AffWild2::open_unlabelled(
        root,
        &names,
        label_set,
        |name| frames.get(name).copied(),
    )?)
}

//! `wildfer prepare` and `wildfer analyze`: argument handling, progress bars and summaries over
//! the library jobs. Inputs are processed one after another; a bad input is reported and
//! skipped, and the command fails at the end if any input failed.

use crate::flags::{BatchFlags, DetectFlags, DeviceFlag, ModelFlags, ThreadsFlag};
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::time::Instant;
use wildfer_files::FolderLock;
use wildfer_labels::count;
use wildfer_pipeline::analyze::AnalyzeOptions;
use wildfer_pipeline::batch::{AnalyzeJob, BatchEvent, analyze_batch};
use wildfer_pipeline::prepare::{PrepareOptions, prepare};

fn bar(input: &Path, frames: usize) -> ProgressBar {
    let pb = ProgressBar::new(frames as u64);
    let style = crate::progress::style("{msg:30!} [{bar:30}] {pos}/{len} frames {rate} ETA {eta}")
        .progress_chars("=> ");
    pb.set_style(style);
    pb.set_message(input.display().to_string());
    pb
}

/// Create the output folder and lock it for this run (another run into it is refused, not
/// raced), then remove the temporary files an interrupted run left there. Fails now, not after
/// the first video, when the folder is not writable (the lock file is written first).
fn claim_out_dir(out: &Path, what: &str) -> Result<FolderLock> {
    wildfer_pipeline::batch::claim_output_folder(out, what)
        .with_context(|| format!("{}: cannot use as output folder", out.display()))
}

/// This task's inputs ([`wildfer_pipeline::shard::job_inputs`]) with their output names; expansion
/// failures go to `failed`.
fn named_inputs(
    inputs: &[PathBuf],
    batch: &BatchFlags,
    failed: &mut Vec<(PathBuf, String)>,
) -> Result<Vec<(PathBuf, String)>> {
    let shard = batch.shard()?;
    let job = wildfer_pipeline::shard::job_inputs(inputs, batch.manifest.as_deref(), shard)?;
    failed.extend(job.failed);
    if shard.count > 1 {
        eprintln!(
            "wildfer: shard {} of the job's {}: {}",
            shard,
            count(job.total, "input"),
            count(job.mine.len(), "input")
        );
    }
    Ok(job.mine)
}

/// Report failed and partly read inputs (one line each); an error when there are any.
fn finish(failed: &[(PathBuf, String)], partial: &[(PathBuf, String)], total: usize) -> Result<()> {
    for (kind, list) in [("failed", failed), ("partial", partial)] {
        for (p, e) in list {
            // Library errors name their file already.
            let what = p.display().to_string();
            if e.contains(&what) {
                eprintln!("wildfer: {kind}: {e}");
            } else {
                eprintln!("wildfer: {kind}: {what}: {e}");
            }
        }
    }
    match (failed.len(), partial.len()) {
        (0, 0) => Ok(()),
        (0, k) => bail!("{k} of {total} inputs read only in part"),
        (n, 0) => bail!("{n} of {total} inputs failed"),
        (n, k) => bail!("{n} of {total} inputs failed, {k} read only in part"),
    }
}

/// `wildfer prepare`'s flags.
#[derive(clap::Args, Debug)]
pub struct PrepareArgs {
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
    #[command(flatten)]
    threads: ThreadsFlag,
}

pub fn run_prepare(a: PrepareArgs) -> Result<()> {
    a.threads.apply()?;
    // Options are checked before anything is written.
    let mut det = a.detect.detector(&a.device.device)?;
    let opts = PrepareOptions {
        size: a.size,
        min_track_frames: a.min_track_frames,
        ..PrepareOptions::default()
    };
    opts.validate()?;
    let _lock = claim_out_dir(&a.out, "`wildfer prepare`")?;
    let (mut failed, mut partial) = (Vec::new(), Vec::new());
    let inputs = named_inputs(&a.inputs, &a.batch, &mut failed)?;
    let total = inputs.len() + failed.len();
    for (input, name) in &inputs {
        let t0 = Instant::now();
        let result = (|| -> Result<_> {
            let mut src = wildfer_video::open_at(input, a.fps)?;
            let pb = bar(input, src.info().frames);
            let opts = PrepareOptions {
                name: Some(name.clone()),
                ..opts.clone()
            };
            let s = prepare(input, src.as_mut(), det.as_mut(), &a.out, &opts, |_| {
                pb.inc(1)
            })?;
            pb.finish_and_clear();
            Ok(s)
        })();
        match result {
            Ok(s) => {
                let tracks: Vec<String> = s
                    .written
                    .iter()
                    .map(|t| format!("{} ({})", t.name, count(t.frames, "frame")))
                    .collect();
                eprintln!(
                    "{}: {} read, {} with a face, {}, {} -> {}{}{} [{:.1} s]",
                    input.display(),
                    count(s.stats.frames_read, "frame"),
                    s.stats.frames_with_face,
                    count(s.stats.faces, "face"),
                    count(s.stats.tracks, "track"),
                    if tracks.is_empty() {
                        "nothing written".to_string()
                    } else {
                        tracks.join(", ")
                    },
                    if s.dropped_tracks > 0 {
                        format!("; {} short tracks dropped", s.dropped_tracks)
                    } else {
                        String::new()
                    },
                    if s.stats.bad_frames > 0 {
                        format!("; {} undecodable frames skipped", s.stats.bad_frames)
                    } else {
                        String::new()
                    },
                    t0.elapsed().as_secs_f64()
                );
                if let Some(note) = s.stats.partial_note() {
                    partial.push((input.clone(), format!("{note}; its crops cover only those")));
                }
            }
            Err(e) => failed.push((input.clone(), e.to_string())),
        }
    }
    finish(&failed, &partial, total)
}

/// `wildfer analyze`'s flags.
#[derive(clap::Args, Debug)]
pub struct AnalyzeArgs {
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
    #[command(flatten)]
    model: ModelFlags,
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
    #[command(flatten)]
    threads: ThreadsFlag,
}

pub fn run_analyze(a: AnalyzeArgs) -> Result<()> {
    a.threads.apply()?;
    // Options are checked (and models loaded) before anything is written.
    let mut det = a.detect.detector(&a.device.device)?;
    let mut model = a.model.load(&a.device.device)?;
    let mut failed = Vec::new();
    let inputs = named_inputs(&a.inputs, &a.batch, &mut failed)?;
    if a.annotate
        && inputs
            .iter()
            .any(|(p, _)| !wildfer_video::stills::is_image(p))
    {
        wildfer_pipeline::analyze::annotation_possible()?;
    }
    let _lock = claim_out_dir(&a.out, "`wildfer analyze`")?;
    // A first Ctrl-C or SIGTERM abandons the input in progress (its partial files removed) and
    // still writes the folder's summary and report over the finished ones.
    let stop = crate::progress::stop_flag()?;
    let total = inputs.len() + failed.len();
    let t_all = Instant::now();
    let job = AnalyzeJob {
        out: a.out.clone(),
        opts: AnalyzeOptions {
            smooth: a.smooth,
            annotate: a.annotate,
            crops: a.crops,
            stop: Some(std::sync::Arc::clone(&stop)),
            ..AnalyzeOptions::default()
        },
        force: a.force,
        fps: a.fps,
    };
    let mut pb: Option<ProgressBar> = None;
    let o = analyze_batch(&inputs, det.as_mut(), model.as_mut(), &job, |e| match e {
        BatchEvent::Started { input, frames } => pb = Some(bar(input, frames)),
        BatchEvent::Frame { .. } => {
            if let Some(pb) = &pb {
                pb.inc(1);
            }
        }
        BatchEvent::Finished {
            input,
            summary: s,
            seconds,
        } => {
            if let Some(pb) = pb.take() {
                pb.finish_and_clear();
            }
            let tracks: Vec<String> = s
                .track_summaries
                .iter()
                .map(|t| {
                    format!(
                        "face {} {}, mostly {}",
                        t.face_id,
                        count(t.frames, "frame"),
                        t.dominant
                    )
                })
                .collect();
            eprintln!(
                "{}: {} ({:.1} frames/s), {} with a face; {} -> {}",
                input.display(),
                count(s.stats.frames_read, "frame"),
                s.stats.frames_read as f64 / seconds.max(1e-9),
                s.stats.frames_with_face,
                if tracks.is_empty() {
                    "no faces".to_string()
                } else {
                    tracks.join("; ")
                },
                s.csv.display()
            );
        }
        BatchEvent::Failed { .. } => {
            if let Some(pb) = pb.take() {
                pb.finish_and_clear();
            }
        }
    })?;
    if let Some(pb) = pb.take() {
        pb.finish_and_clear();
    }
    if o.skipped > 0 {
        eprintln!(
            "wildfer analyze: {} already done in {} with the same model, detector and smoothing: skipped (--force redoes them)",
            count(o.skipped, "input"),
            a.out.display()
        );
    }
    for (p, e) in &o.left_out {
        eprintln!(
            "wildfer analyze: {} left out of the folder's summary: {e}",
            p.display()
        );
    }
    if let Some((path, report)) = &o.folder_summary {
        let skipped_note = if o.skipped > 0 {
            format!(" ({} already done)", o.skipped)
        } else {
            String::new()
        };
        eprintln!(
            "wildfer analyze: {} of {} analysed{skipped_note}, {} in {:.1} s; per-track summary of the folder's {} in {}; report {}",
            o.done.len(),
            count(total, "input"),
            count(o.frames, "frame"),
            t_all.elapsed().as_secs_f64(),
            count(o.in_folder, "input"),
            path.display(),
            report.display()
        );
    }
    if o.interrupted > 0 {
        bail!(
            "interrupted: {} finished, {} not done (the one in progress left nothing behind); run the same command again to do them",
            count(o.done.len(), "input"),
            o.interrupted
        );
    }
    failed.extend(o.failed);
    finish(&failed, &o.partial, total)
}

/// `wildfer report`: one `summary.csv` and `report.html` in `out` over the finished inputs of
/// every folder in `dirs` (the shards of an array job), as one run over all inputs writes them;
/// with `manifest`, the job's inputs that have no finished output are named (exit 1).
/// `wildfer report`'s flags.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Folders `wildfer analyze` wrote into.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Where the merged summary and report go.
    #[arg(long)]
    out: PathBuf,
    /// The job's manifest (`analyze --inputs FILE`): check every input in it is finished.
    #[arg(long = "inputs", value_name = "FILE")]
    manifest: Option<PathBuf>,
}

pub fn run_report(a: ReportArgs) -> Result<()> {
    let (dirs, out, manifest) = (&a.dirs[..], a.out.as_path(), a.manifest.as_deref());
    let o = wildfer_pipeline::batch::merge_folders(dirs, out, manifest)?;
    for (p, e) in &o.left_out {
        eprintln!("wildfer report: {} left out: {e}", p.display());
    }
    eprintln!(
        "wildfer report: {} from {} -> {} and {}",
        count(o.inputs, "input"),
        count(dirs.len(), "folder"),
        o.summary_csv.display(),
        o.report_html.display()
    );
    let Some(m) = manifest else {
        return Ok(());
    };
    for (input, why) in &o.missing {
        eprintln!("wildfer report: missing: {}: {why}", input.display());
    }
    if !o.missing.is_empty() {
        bail!(
            "{} of the {} in {} not finished",
            o.missing.len(),
            count(o.manifest_inputs, "input"),
            m.display()
        );
    }
    eprintln!(
        "wildfer report: every one of the {} in {} is finished",
        count(o.manifest_inputs, "input"),
        m.display()
    );
    Ok(())
}

/// `wildfer pseudo-label`'s flags.
#[derive(clap::Args, Debug)]
pub struct PseudoLabelArgs {
    /// The dataset root holding `cropped_aligned/`.
    #[arg(long)]
    data: PathBuf,
    /// The teacher.
    #[command(flatten)]
    model: ModelFlags,
    /// Crop folders for the validation split (default: the last one by name).
    #[arg(long = "val", value_name = "VIDEO")]
    validation: Vec<String>,
    /// Crops whose top probability is below this are left unlabelled (-1).
    #[arg(long, default_value_t = 0.0)]
    min_confidence: f32,
    #[command(flatten)]
    device: DeviceFlag,
}

pub fn run_pseudo_label(a: PseudoLabelArgs) -> Result<()> {
    let mut teacher = a.model.load(&a.device.device)?;
    let pb = ProgressBar::new(0);
    pb.set_style(
        ProgressStyle::with_template("pseudo-label [{bar:30}] {pos}/{len} videos {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let s = wildfer_pipeline::pseudo::pseudo_label(
        &a.data,
        teacher.as_mut(),
        &wildfer_pipeline::pseudo::PseudoOptions {
            validation: a.validation,
            min_confidence: a.min_confidence,
        },
        |video, done, total| {
            pb.set_length(total as u64);
            pb.set_position(done as u64);
            pb.set_message(video.to_string());
        },
    )?;
    pb.finish_and_clear();
    let counts: Vec<String> = s
        .classes
        .classes()
        .iter()
        .zip(s.class_counts)
        .map(|(e, n)| format!("{} {n}", e.key()))
        .collect();
    eprintln!(
        "wildfer pseudo-label: {} frames labelled by {} ({} below --min-confidence), {} training and {} validation videos ({}); classes: {}",
        s.labelled,
        teacher.name(),
        s.uncertain,
        s.train_videos,
        s.validation_videos,
        s.validation.join(", "),
        counts.join(", ")
    );
    Ok(())
}

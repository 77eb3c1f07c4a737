//! Jobs over many inputs into one output folder: [`analyze_batch`] (a task's inputs one after
//! another: finished inputs skipped, a bad input reported and passed over, a stop flag
//! honoured, the folder's summary and report rebuilt at the end) and [`merge_folders`] (one
//! summary and report over the folders of an array job's tasks). The command line only shows
//! progress and prints what these return.

use crate::PipelineError;
use crate::analyze::{
    AnalyzeOptions, AnalyzeSummary, FolderSummary, analyze, finished_before, output_jsons,
    read_output_if_any, summarize_folder,
};
use crate::expression::ExpressionModel;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;
use wildfer_face::FaceDetector;
use wildfer_files::{FolderLock, lock_folder, remove_stale_temporaries};

/// Create the output folder and lock it for this run (another run into it is refused, not
/// raced: `what` names the job in that error), then remove the temporary files an interrupted
/// run left there. Fails at once, not after the first input, when the folder is not writable.
pub fn claim_output_folder(out: &Path, what: &str) -> Result<FolderLock, PipelineError> {
    let lock = lock_folder(out, what)?;
    remove_stale_temporaries(out)?;
    Ok(lock)
}

/// How [`analyze_batch`] runs.
#[derive(Debug, Clone)]
pub struct AnalyzeJob {
    pub out: PathBuf,
    /// Each input's options (its `name` is set per input; `stop` is honoured between and
    /// within inputs).
    pub opts: AnalyzeOptions,
    /// Redo inputs whose outputs are already finished in `out`.
    pub force: bool,
    /// Frame rate of numbered image sequences.
    pub fps: f64,
}

/// What [`analyze_batch`] is doing, for progress display.
#[derive(Debug)]
pub enum BatchEvent<'a> {
    /// An input is opened; `frames` as its header announces them.
    Started {
        input: &'a Path,
        frames: usize,
    },
    /// A frame of the input in progress is done.
    Frame {
        index: usize,
    },
    Finished {
        input: &'a Path,
        summary: &'a AnalyzeSummary,
        seconds: f64,
    },
    Failed {
        input: &'a Path,
        error: &'a str,
    },
}

/// What [`analyze_batch`] did.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Inputs analysed by this run, in order.
    pub done: Vec<AnalyzeSummary>,
    /// Inputs already finished in the folder the same way (not redone).
    pub skipped: usize,
    /// Inputs that failed, with the one-line error.
    pub failed: Vec<(PathBuf, String)>,
    /// Inputs read only in part (frames the header announced were missing), with a note.
    pub partial: Vec<(PathBuf, String)>,
    /// Inputs not done because the stop flag was set (the one in progress included; it left
    /// nothing behind).
    pub interrupted: usize,
    /// Frames read by this run.
    pub frames: usize,
    /// The folder's `summary.csv` and `report.html`, over every finished input in it, when
    /// there is any.
    pub folder_summary: Option<(PathBuf, PathBuf)>,
    /// Finished inputs in the folder whose outputs could not be read back (left out of the
    /// summary), with the reason.
    pub left_out: Vec<(PathBuf, String)>,
    /// Finished inputs in the folder (this run's and earlier runs').
    pub in_folder: usize,
}

/// Analyse `inputs` (path, output name; see [`crate::inputs::output_names`]) one after another
/// into `job.out`, which the caller has claimed ([`claim_output_folder`]). A bad input is
/// reported in the outcome and the next one goes on; `Err` only when the folder's summary
/// cannot be written.
pub fn analyze_batch(
    inputs: &[(PathBuf, String)],
    detector: &mut dyn FaceDetector,
    model: &mut dyn ExpressionModel,
    job: &AnalyzeJob,
    mut on: impl FnMut(BatchEvent<'_>),
) -> Result<BatchOutcome, PipelineError> {
    let mut o = BatchOutcome::default();
    let stopped = || {
        job.opts
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::SeqCst))
    };
    for (k, (input, name)) in inputs.iter().enumerate() {
        if stopped() {
            o.interrupted = inputs.len() - k;
            break;
        }
        let opts = AnalyzeOptions {
            name: Some(name.clone()),
            ..job.opts.clone()
        };
        // A requeued task or a second batch does not redo finished inputs.
        if !job.force && finished_before(&job.out, input, &*model, &*detector, &opts).is_some() {
            o.skipped += 1;
            continue;
        }
        let t0 = Instant::now();
        let result = wildfer_video::open_at(input, job.fps)
            .map_err(PipelineError::from)
            .and_then(|mut src| {
                on(BatchEvent::Started {
                    input,
                    frames: src.info().frames,
                });
                analyze(
                    input,
                    src.as_mut(),
                    detector,
                    model,
                    &opts,
                    &job.out,
                    |index| on(BatchEvent::Frame { index }),
                )
            });
        match result {
            Ok(s) => {
                o.frames += s.stats.frames_read;
                on(BatchEvent::Finished {
                    input,
                    summary: &s,
                    seconds: t0.elapsed().as_secs_f64(),
                });
                if let Some(note) = s.stats.partial_note() {
                    o.partial.push((
                        input.clone(),
                        format!(
                            "{note}; its outputs cover only those (\"complete\": false in {})",
                            s.json.display()
                        ),
                    ));
                }
                o.done.push(s);
            }
            Err(_) if stopped() => {
                o.interrupted = inputs.len() - k;
                break;
            }
            Err(e) => {
                let error = e.to_string();
                on(BatchEvent::Failed {
                    input,
                    error: &error,
                });
                o.failed.push((input.clone(), error));
            }
        }
    }
    // The summary and report cover every finished input in the folder, whichever run wrote it.
    let folder = summarize_folder(&job.out)?;
    o.left_out = folder.left_out;
    o.in_folder = folder.inputs;
    o.folder_summary = folder.paths;
    Ok(o)
}

/// What [`merge_folders`] did.
#[derive(Debug, Default)]
pub struct MergeOutcome {
    /// Inputs in the merged summary.
    pub inputs: usize,
    pub summary_csv: PathBuf,
    pub report_html: PathBuf,
    /// Outputs left out, with the reason: unreadable, or an input found again in another
    /// folder (the first kept).
    pub left_out: Vec<(PathBuf, String)>,
    /// With a manifest: its inputs that have no finished output ("no output", "partial ...",
    /// or why the manifest line failed), and how many inputs it lists.
    pub missing: Vec<(PathBuf, String)>,
    pub manifest_inputs: usize,
}

/// One `summary.csv` and `report.html` in `out` (claimed here) over the finished inputs of
/// every folder in `dirs` (the tasks of an array job), equal to what one run over all inputs
/// writes; with `manifest`, the job's inputs without a finished output are listed. Outputs are
/// read and written one at a time: memory stays flat however many inputs the job has.
pub fn merge_folders(
    dirs: &[PathBuf],
    out: &Path,
    manifest: Option<&Path>,
) -> Result<MergeOutcome, PipelineError> {
    let mut o = MergeOutcome::default();
    let mut jsons: Vec<(String, PathBuf)> = Vec::new();
    for d in dirs {
        if !d.is_dir() {
            return Err(PipelineError::io(d, "not a folder of analyze outputs"));
        }
        for p in output_jsons(d)? {
            let name = p
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            jsons.push((name, p));
        }
    }
    // In name order, as one run writes them; read and written one input at a time.
    jsons.sort();
    let _lock = claim_output_folder(out, "`wildfer report`")?;
    let mut w = FolderSummary::create(out)?;
    // Per input merged: its partial-read note, if any (for the manifest check).
    let mut finished: HashMap<PathBuf, Option<String>> = HashMap::new();
    for (_, p) in jsons {
        match read_output_if_any(&p) {
            Ok(Some(s)) => {
                // One input analysed twice (a task run again into another folder): its first
                // one is kept.
                if finished.contains_key(&s.input) {
                    o.left_out.push((
                        s.json.clone(),
                        format!("{} appears again here", s.input.display()),
                    ));
                    continue;
                }
                w.add(&s)?;
                finished.insert(s.input.clone(), s.stats.partial_note());
            }
            Ok(None) => {}
            Err(e) => o.left_out.push((p, e.to_string())),
        }
    }
    o.inputs = w.inputs();
    let (summary_csv, report_html) = w.finish()?;
    o.summary_csv = summary_csv;
    o.report_html = report_html;
    if let Some(m) = manifest {
        let job = crate::shard::job_inputs(&[], Some(m), crate::shard::Shard::default())?;
        o.manifest_inputs = job.total;
        for (input, _) in &job.mine {
            match finished.get(input) {
                None => o.missing.push((input.clone(), "no output".into())),
                Some(Some(note)) => o.missing.push((input.clone(), format!("partial ({note})"))),
                Some(None) => {}
            }
        }
        o.missing.extend(job.failed);
    }
    Ok(o)
}

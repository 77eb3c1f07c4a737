//! `wildfer eval-images`: a model's scores on a labelled still-image set (progress and output
//! over `wildfer_pipeline::image_scoring`).

use crate::flags::{DetectFlags, DeviceFlag, ModelFlags, ThreadsFlag, parse_shard};
use crate::progress::{Counter, clause};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use wildfer_files::write_atomic;
use wildfer_labels::LabelSet;
use wildfer_pipeline::image_scoring::{FaceInput, ImageRow, ImageScores, ScoresJson, score_images};

/// `wildfer eval-images`' flags.
#[derive(clap::Args, Debug)]
pub struct EvalImagesArgs {
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
    #[arg(long, value_name = "DIR", num_args = 1.., conflicts_with_all = ["data", "files", "model", "tta", "crops"])]
    merge: Vec<PathBuf>,
    /// Only images whose file name matches this pattern (`*`, `?`), e.g. `PrivateTest_*`.
    #[arg(long, value_name = "PATTERN")]
    files: Option<String>,
    #[command(flatten)]
    model: ModelFlags,
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
    #[command(flatten)]
    threads: ThreadsFlag,
}

pub fn run_eval_images(a: EvalImagesArgs) -> Result<()> {
    a.threads.apply()?;
    if !a.merge.is_empty() {
        return run_merge(&a.merge, a.out.as_deref());
    }
    let data = a.data.as_deref().context("--data is required")?;
    let shard = parse_shard(a.shard.as_deref())?;
    let mut set = wildfer_pipeline::image_scoring::open_image_set(data, a.files.as_deref())?;
    if shard.count > 1 {
        set.images = wildfer_pipeline::image_scoring::shard_images(&set.images, shard);
    }
    let device = &a.device.device;
    let mut model = a.model.load(device)?;
    let mut detector = if a.crops {
        None
    } else {
        Some(a.detect.detector(device)?)
    };
    let input = match &mut detector {
        None => FaceInput::Crops,
        Some(d) => FaceInput::Detect(d.as_mut()),
    };
    let mut bar = Counter::new(set.images.len(), "eval-images", "images");
    let scores = score_images(
        &set.images,
        LabelSet::Seven,
        model.as_mut(),
        input,
        a.skip_unreadable,
        None,
        |d, _| bar.set(d),
    )
    .with_context(|| format!("scoring {}", data.display()))?;
    bar.finish();
    let out = scores.json(
        model.name(),
        a.crops,
        (shard.count > 1).then(|| format!("{}/{}", shard.index, shard.count)),
    );
    write_outputs(&out, &scores.rows, model.label_set(), a.out.as_deref())?;
    eprintln!(
        "wildfer eval-images: {} images{}, accuracy {:.4}, macro F1 {:.4}{}{}",
        out.images,
        out.shard
            .as_ref()
            .map_or(String::new(), |s| format!(" (shard {s})")),
        scores.report.accuracy,
        scores.report.f1_macro,
        clause(out.no_face.len(), |n| format!(
            ", no face found in {n} (counted as wrong)"
        )),
        clause(out.unreadable.len(), |n| format!(
            ", {n} unreadable (counted as wrong)"
        )),
    );
    Ok(())
}

/// Print the JSON; with `dir`, also write `images.csv` (a probability column per class of the
/// model's `classes`) and `scores.json` there.
fn write_outputs(
    out: &ScoresJson<'_>,
    rows: &[ImageRow],
    classes: LabelSet,
    dir: Option<&Path>,
) -> Result<()> {
    let json = serde_json::to_string_pretty(out)?;
    if let Some(dir) = dir {
        if dir.as_os_str().is_empty() {
            bail!("--out: empty path");
        }
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        let mut csv = ImageRow::csv_header(classes);
        for r in rows {
            csv.push_str(&r.csv(classes));
        }
        write_atomic(&dir.join("images.csv"), csv.as_bytes())?;
        write_atomic(&dir.join("scores.json"), format!("{json}\n").as_bytes())?;
    }
    println!("{json}");
    Ok(())
}

/// What `--merge` needs of a task's `scores.json`.
#[derive(serde::Deserialize)]
struct TaskScores {
    model: String,
    faces: String,
}

/// `eval-images --merge`: one report over the rows of every task folder, as one run over all
/// the images makes it.
pub fn run_merge(dirs: &[PathBuf], out: Option<&Path>) -> Result<()> {
    let mut rows: Vec<ImageRow> = Vec::new();
    let mut made: Option<(String, String, PathBuf)> = None;
    let mut classes = LabelSet::Seven;
    for d in dirs {
        let scores = d.join("scores.json");
        let text = std::fs::read_to_string(&scores)
            .with_context(|| format!("{}: not an eval-images --out folder", scores.display()))?;
        let t: TaskScores = serde_json::from_str(&text)
            .with_context(|| format!("{}: not eval-images scores", scores.display()))?;
        match &made {
            None => made = Some((t.model, t.faces, d.clone())),
            Some((m, f, first)) if *m != t.model || *f != t.faces => bail!(
                "{} was scored with {} ({}), {} with {} ({}): merge only the tasks of one job",
                d.display(),
                t.model,
                t.faces,
                first.display(),
                m,
                f
            ),
            Some(_) => {}
        }
        let (c, task_rows) = wildfer_pipeline::image_scoring::read_rows(&d.join("images.csv"))?;
        // One model (checked above) answers one set of classes.
        classes = c;
        rows.extend(task_rows);
    }
    let mut seen = std::collections::HashSet::new();
    for r in &rows {
        if !seen.insert(r.path.clone()) {
            bail!(
                "{} is in more than one of the merged folders (two tasks ran the same shard?)",
                r.path.display()
            );
        }
    }
    let Some((model, faces, _)) = made else {
        bail!("--merge: no folders given");
    };
    let scores = ImageScores::from_rows(rows, LabelSet::Seven);
    let out_json = scores.json(&model, faces == "crops", None);
    write_outputs(&out_json, &scores.rows, classes, out)?;
    eprintln!(
        "wildfer eval-images: {} images from {} folders, accuracy {:.4}, macro F1 {:.4}",
        scores.rows.len(),
        dirs.len(),
        scores.report.accuracy,
        scores.report.f1_macro
    );
    Ok(())
}

//! `wildfer eval-images`: a model's scores on a labelled still-image set (progress and output
//! over `wildfer::image_scoring`).

use crate::jobs;
use crate::progress::Counter;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use wildfer::faces::DetectOptions;
use wildfer::image_scoring::{FaceInput, ImageRow, ImageScores, ScoresJson, score_images};
use wildfer_core::LabelSet;
use wildfer_core::fsutil::write_atomic;

pub struct EvalImagesArgs {
    pub data: PathBuf,
    /// This task's share of the images.
    pub shard: wildfer::shard::Shard,
    pub files: Option<String>,
    pub model: Option<PathBuf>,
    pub crops: bool,
    pub skip_unreadable: bool,
    pub detect: DetectOptions,
    pub device: wildfer_nn::burn::tensor::Device,
    pub out: Option<PathBuf>,
}

pub fn run_eval_images(a: EvalImagesArgs) -> Result<()> {
    let mut set = wildfer::image_scoring::open_image_set(&a.data, a.files.as_deref())?;
    if a.shard.count > 1 {
        set.images = wildfer::image_scoring::shard_images(&set.images, a.shard);
    }
    let mut model = jobs::expression_model(a.model.as_deref(), &a.device)?;
    let mut detector = if a.crops {
        None
    } else {
        Some(jobs::detector(a.detect, &a.device)?)
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
    .with_context(|| format!("scoring {}", a.data.display()))?;
    bar.finish();
    let out = scores.json(
        model.name(),
        a.crops,
        (a.shard.count > 1).then(|| format!("{}/{}", a.shard.index, a.shard.count)),
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
        match out.no_face.len() {
            0 => String::new(),
            n => format!(", no face found in {n} (counted as wrong)"),
        },
        match out.unreadable.len() {
            0 => String::new(),
            n => format!(", {n} unreadable (counted as wrong)"),
        },
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
        let (c, task_rows) = wildfer::image_scoring::read_rows(&d.join("images.csv"))?;
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

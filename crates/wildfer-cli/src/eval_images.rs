//! `wildfer eval-images`: a model's scores on a labelled still-image set (progress and output
//! over `wildfer::image_scoring`).

use crate::jobs;
use crate::progress::Counter;
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::path::{Path, PathBuf};
use wildfer::faces::DetectOptions;
use wildfer::image_scoring::{FaceInput, ImageRow, score_images};
use wildfer_core::LabelSet;
use wildfer_core::fsutil::write_atomic;
use wildfer_data::ImageSet;
use wildfer_eval::EvalReport;

pub struct EvalImagesArgs {
    pub data: PathBuf,
    pub files: Option<String>,
    pub model: Option<PathBuf>,
    pub crops: bool,
    pub skip_unreadable: bool,
    pub detect: DetectOptions,
    pub out: Option<PathBuf>,
}

#[derive(Serialize)]
struct Unreadable {
    path: String,
    error: String,
}

/// `wildfer eval`'s JSON plus what is particular to images.
#[derive(Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    report: &'a EvalReport,
    model: String,
    /// `crops` or `detect`.
    faces: &'static str,
    images: usize,
    /// Images where no face was found (counted as wrong).
    no_face: Vec<String>,
    /// Images that could not be read (counted as wrong).
    unreadable: Vec<Unreadable>,
}

/// A folder of class folders or a `path label` list, filtered by file-name pattern.
pub fn open_image_set(data: &Path, files: Option<&str>) -> Result<ImageSet> {
    let set = if data.is_dir() {
        ImageSet::open_folders(data, LabelSet::Seven)?
    } else {
        ImageSet::open_list(data, LabelSet::Seven)?
    };
    Ok(match files {
        Some(p) => set.matching(p, Some(data))?,
        None => set,
    })
}

pub fn run_eval_images(a: EvalImagesArgs) -> Result<()> {
    let set = open_image_set(&a.data, a.files.as_deref())?;
    let mut model = jobs::expression_model(a.model.as_deref())?;
    let mut detector = if a.crops {
        None
    } else {
        Some(jobs::detector(a.detect)?)
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
        |d, _| bar.set(d),
    )
    .with_context(|| format!("scoring {}", a.data.display()))?;
    bar.finish();
    let out = Output {
        report: &scores.report,
        model: model.name().to_string(),
        faces: if a.crops { "crops" } else { "detect" },
        images: scores.rows.len(),
        no_face: scores.no_face().map(|p| p.display().to_string()).collect(),
        unreadable: scores
            .unreadable()
            .map(|(p, e)| Unreadable {
                path: p.display().to_string(),
                error: e.to_string(),
            })
            .collect(),
    };
    let json = serde_json::to_string_pretty(&out)?;
    if let Some(dir) = &a.out {
        if dir.as_os_str().is_empty() {
            bail!("--out: empty path");
        }
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        let mut csv = ImageRow::csv_header();
        for r in &scores.rows {
            csv.push_str(&r.csv());
        }
        write_atomic(&dir.join("images.csv"), csv.as_bytes())?;
        write_atomic(&dir.join("scores.json"), format!("{json}\n").as_bytes())?;
    }
    println!("{json}");
    eprintln!(
        "wildfer eval-images: {} images, accuracy {:.4}, macro F1 {:.4}{}{}",
        out.images,
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

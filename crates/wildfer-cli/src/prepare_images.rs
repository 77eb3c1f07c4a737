//! `wildfer prepare-images`: a labelled still-image set's faces cut as `analyze` cuts them
//! (progress and messages over `wildfer::prepare_images`).

use crate::jobs;
use crate::progress::Counter;
use anyhow::{Context, Result};
use std::path::PathBuf;
use wildfer::faces::DetectOptions;
use wildfer::image_scoring::open_image_set;
use wildfer::prepare_images::{PrepareImagesOptions, prepare_images};
use wildfer_face::CropSpec;
use wildfer_runtime::Framing;

pub struct Args {
    pub data: PathBuf,
    pub files: Option<String>,
    pub out: PathBuf,
    pub crop: Framing,
    pub size: usize,
    pub skip_unreadable: bool,
    pub detect: DetectOptions,
    pub device: wildfer_nn::burn::tensor::Device,
}

pub fn run(a: Args) -> Result<()> {
    let set = open_image_set(&a.data, a.files.as_deref())?;
    let mut detector = jobs::detector(a.detect, &a.device)?;
    let opts = PrepareImagesOptions {
        spec: CropSpec {
            size: a.size,
            ..a.crop.crop()
        },
        skip_unreadable: a.skip_unreadable,
        ..PrepareImagesOptions::default()
    };
    let mut bar = Counter::new(set.images.len(), "prepare-images", "images");
    let s = prepare_images(&set.images, &a.out, &opts, detector.as_mut(), |d, _| {
        bar.set(d)
    })
    .with_context(|| format!("preparing {}", a.data.display()))?;
    bar.finish();
    eprintln!(
        "wildfer prepare-images: {} of {} images cut into {}{}{}{}",
        s.written,
        s.images,
        s.out.display(),
        match s.resumed {
            0 => String::new(),
            n => format!(" ({n} from an interrupted run)"),
        },
        match s.no_face.len() {
            0 => String::new(),
            n => format!("; no face found in {n} (listed in no_face.txt)"),
        },
        match s.unreadable.len() {
            0 => String::new(),
            n => format!("; {n} unreadable (listed in unreadable.txt)"),
        },
    );
    Ok(())
}

//! `wildfer prepare-images`: a labelled still-image set's faces cut as `analyze` cuts them
//! (progress and messages over `wildfer_pipeline::prepare_images`).

use crate::flags::{DetectFlags, DeviceFlag, ThreadsFlag};
use crate::progress::{Counter, clause};
use anyhow::{Context, Result};
use std::path::PathBuf;
use wildfer_face::CropSpec;
use wildfer_pipeline::image_scoring::open_image_set;
use wildfer_pipeline::prepare_images::{PrepareImagesOptions, prepare_images};
use wildfer_runtime::Framing;

/// `wildfer prepare-images`' flags.
#[derive(clap::Args, Debug)]
pub struct Args {
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
    crop: Framing,
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
    #[command(flatten)]
    threads: ThreadsFlag,
}

pub fn run(a: Args) -> Result<()> {
    a.threads.apply()?;
    let set = open_image_set(&a.data, a.files.as_deref())?;
    let mut detector = a.detect.detector(&a.device.device)?;
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
        clause(s.resumed, |n| format!(" ({n} from an interrupted run)")),
        clause(s.no_face.len(), |n| format!(
            "; no face found in {n} (listed in no_face.txt)"
        )),
        clause(s.unreadable.len(), |n| format!(
            "; {n} unreadable (listed in unreadable.txt)"
        )),
    );
    Ok(())
}

//! `prepare`: any video -> the Aff-Wild2 `cropped_aligned/<video>/%05d.jpg` layout, one folder
//! per tracked person.
//!
//! Crops go to a staging folder `cropped_aligned/.<video>.partial/` and each person's folder is
//! renamed into place when the input is finished, so an interrupted run never leaves a partial
//! folder under a final name (a re-run starts that input again).

use crate::PipelineError;
use crate::faces::{FrameStats, for_each_frame};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wildfer_face::{FaceDetector, TrackerConfig};
use wildfer_labels::abaw::Layout;
use wildfer_video::FrameSource;

/// Settings of `prepare`.
#[derive(Debug, Clone, PartialEq)]
pub struct PrepareOptions {
    /// Crop side in pixels (112, 224, 256, ...).
    pub size: usize,
    /// JPEG quality (1-100).
    pub jpeg_quality: u8,
    /// Tracks with fewer frames than this are dropped as spurious (reported, not written).
    pub min_track_frames: usize,
    pub tracker: TrackerConfig,
    /// The video name (`cropped_aligned/<name>`); `None`: the input's stem. A run of several
    /// inputs names them with [`crate::inputs::output_names`], which keeps them apart.
    pub name: Option<String>,
}

impl PrepareOptions {
    /// Refuse values that can only give useless crops.
    pub fn validate(&self) -> Result<(), PipelineError> {
        if !(32..=1024).contains(&self.size) {
            return Err(PipelineError::Options(format!(
                "crop size {} px: expected a side between 32 and 1024",
                self.size
            )));
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return Err(PipelineError::Options(format!(
                "JPEG quality must be 1-100, got {}",
                self.jpeg_quality
            )));
        }
        self.tracker
            .validate()
            .map_err(|e| PipelineError::Options(e.to_string()))
    }
}

impl Default for PrepareOptions {
    fn default() -> Self {
        PrepareOptions {
            size: 112,
            jpeg_quality: 95,
            min_track_frames: 10,
            tracker: TrackerConfig::default(),
            name: None,
        }
    }
}

/// One written person folder.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PreparedTrack {
    /// Folder name under `cropped_aligned/`.
    pub name: String,
    pub frames: usize,
}

/// What `prepare` did for one input.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PrepareSummary {
    pub input: PathBuf,
    pub video: String,
    #[serde(flatten)]
    pub stats: FrameStats,
    pub written: Vec<PreparedTrack>,
    /// Tracks shorter than `min_track_frames`.
    pub dropped_tracks: usize,
}

#[derive(Default)]
struct TrackAcc {
    frames: usize,
    sum_cx: f64,
}

/// Folder names for the kept tracks: one -> `<video>`; two -> `<video>_left` / `<video>_right`
/// by mean horizontal position; more -> `<video>_face<k>` (k = 1, 2, ... by first appearance).
fn track_names(video: &str, kept: &[(usize, f64)]) -> Vec<(usize, String)> {
    match kept {
        [(id, _)] => vec![(*id, video.to_string())],
        [(a, xa), (b, xb)] => {
            let (left, right) = if xa <= xb { (a, b) } else { (b, a) };
            vec![
                (*left, format!("{video}_left")),
                (*right, format!("{video}_right")),
            ]
        }
        _ => kept
            .iter()
            .enumerate()
            .map(|(k, (id, _))| (*id, format!("{video}_face{}", k + 1)))
            .collect(),
    }
}

/// Prepare one input into `out/cropped_aligned/`. `progress` is called after every frame.
pub fn prepare(
    input: &Path,
    source: &mut dyn FrameSource,
    detector: &mut dyn FaceDetector,
    out: &Path,
    opts: &PrepareOptions,
    mut progress: impl FnMut(usize),
) -> Result<PrepareSummary, PipelineError> {
    opts.validate()?;
    let video = opts
        .name
        .clone()
        .unwrap_or_else(|| crate::inputs::stem(input));
    let root = Layout::new(out).crops_root();
    let staging = root.join(format!(".{video}.partial"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| PipelineError::io(&staging, e))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| PipelineError::io(&staging, e))?;

    let mut tracks: BTreeMap<usize, TrackAcc> = BTreeMap::new();
    let mut jpeg = Vec::new();
    let result = for_each_frame(
        input,
        source,
        detector,
        opts.tracker.clone(),
        wildfer_face::CropSpec::arcface(opts.size),
        |ff| {
            for face in &ff.faces {
                let dir = staging.join(format!("t{}", face.track));
                let acc = tracks.entry(face.track).or_default();
                if acc.frames == 0 {
                    std::fs::create_dir_all(&dir).map_err(|e| PipelineError::io(&dir, e))?;
                }
                acc.frames += 1;
                acc.sum_cx += face.detection.bbox.center().x as f64;
                let side = face.crop.size();
                crate::encode_jpeg(&mut jpeg, &face.crop.rgb, side, side, opts.jpeg_quality)
                    .map_err(|e| PipelineError::io(&dir, e))?;
                let path = dir.join(Layout::crop_name(ff.index));
                std::fs::write(&path, &jpeg).map_err(|e| PipelineError::io(&path, e))?;
            }
            progress(ff.index);
            Ok(())
        },
    );
    // A failed input (e.g. a full disk) leaves no staging litter; its earlier crops stay.
    let stats = result.inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&staging);
    })?;

    let kept: Vec<(usize, f64)> = tracks
        .iter()
        .filter(|(_, t)| t.frames >= opts.min_track_frames)
        .map(|(id, t)| (*id, t.sum_cx / t.frames as f64))
        .collect();
    let dropped_tracks = tracks.len() - kept.len();
    let mut written = Vec::new();
    for (id, name) in track_names(&video, &kept) {
        let dest = root.join(&name);
        if dest.exists() {
            std::fs::remove_dir_all(&dest).map_err(|e| PipelineError::io(&dest, e))?;
        }
        let from = staging.join(format!("t{id}"));
        std::fs::rename(&from, &dest).map_err(|e| PipelineError::io(&dest, e))?;
        written.push(PreparedTrack {
            name,
            frames: tracks[&id].frames,
        });
    }
    std::fs::remove_dir_all(&staging).map_err(|e| PipelineError::io(&staging, e))?;
    Ok(PrepareSummary {
        input: input.to_path_buf(),
        video,
        stats,
        written,
        dropped_tracks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_aff_wild2() {
        assert_eq!(track_names("v", &[(3, 10.0)]), vec![(3, "v".to_string())]);
        assert_eq!(
            track_names("v", &[(0, 500.0), (1, 100.0)]),
            vec![(1, "v_left".to_string()), (0, "v_right".to_string())]
        );
        let three = track_names("v", &[(0, 1.0), (2, 3.0), (5, 2.0)]);
        assert_eq!(
            three.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>(),
            ["v_face1", "v_face2", "v_face3"]
        );
        assert!(track_names("v", &[]).is_empty());
    }
}

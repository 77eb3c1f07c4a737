//! Aff-Wild2 EXPR as distributed: per-video annotation files of a split (any ABAW edition's
//! folder names, via `wildfer_labels::abaw`) and the `cropped_aligned/<video>/%05d.jpg` face crops,
//! whose numbering has gaps where no face was found.
//!
//! A frame is usable for training when it has a label (not -1) and a crop; for evaluation every
//! labelled frame counts, with or without a crop (the crop-less ones must still be predicted).

use crate::DataError;
use std::path::{Path, PathBuf};
use wildfer_labels::abaw::{Layout, Split, find_split_dir, read_annotation_dir};
use wildfer_labels::{Expression, LabelSet};

/// One video (one person: `_left`/`_right` are separate videos) of a split.
#[derive(Debug, Clone, PartialEq)]
pub struct Video {
    pub name: String,
    /// `labels[i]` is frame `i + 1`'s label (`None`: -1, not annotated).
    pub labels: Vec<Option<Expression>>,
    /// `has_crop[i]`: `cropped_aligned/<name>/{i+1:05}.jpg` exists.
    pub has_crop: Vec<bool>,
    pub crops: PathBuf,
}

impl Video {
    pub fn frames(&self) -> usize {
        self.labels.len()
    }

    /// The crop shown at each frame: the frame's own, else the nearest earlier one, else the
    /// video's first (0: the video has no crop at all).
    pub fn crop_table(&self) -> Vec<usize> {
        let first = (1..=self.frames())
            .find(|&f| self.has_crop[f - 1])
            .unwrap_or(0);
        let mut last = first;
        (1..=self.frames())
            .map(|f| {
                if self.has_crop[f - 1] {
                    last = f;
                }
                last
            })
            .collect()
    }

    /// Labelled and with a crop.
    pub fn usable(&self, frame: usize) -> bool {
        frame >= 1
            && frame <= self.labels.len()
            && self.labels[frame - 1].is_some()
            && self.has_crop[frame - 1]
    }

    /// The crop of a 1-based frame.
    pub fn crop_path(&self, frame: usize) -> PathBuf {
        self.crops.join(Layout::crop_name(frame))
    }
}

/// One split.
#[derive(Debug, Clone, PartialEq)]
pub struct AffWild2 {
    pub label_set: LabelSet,
    pub split: Split,
    pub videos: Vec<Video>,
}

impl AffWild2 {
    /// Read a split below `root` (the Aff-Wild2 root holding `annotations/` and
    /// `cropped_aligned/`). Videos whose crop folder is missing are an error (a wrong root is
    /// more likely than a video without any face).
    pub fn open(root: &Path, split: Split) -> Result<Self, DataError> {
        let dir = find_split_dir(root, split)?;
        let ann = read_annotation_dir(&dir)?;
        let crops_root = Layout::new(root).crops_root();
        if !crops_root.is_dir() {
            return Err(DataError::invalid(&crops_root, "no cropped_aligned folder"));
        }
        let mut videos = Vec::with_capacity(ann.videos.len());
        for (name, labels) in ann.videos {
            let crops = crops_root.join(&name);
            let mut has_crop = vec![false; labels.len()];
            // Crops past the last annotated frame carry no label: ignored.
            for n in crop_numbers(&crops, &name)? {
                if n <= labels.len() {
                    has_crop[n - 1] = true;
                }
            }
            videos.push(Video {
                name,
                labels,
                has_crop,
                crops,
            });
        }
        Ok(AffWild2 {
            label_set: ann.label_set,
            split,
            videos,
        })
    }

    /// Videos to predict without labels (a challenge's test set): each of `names` with its
    /// `cropped_aligned/<name>/` crops, every frame unlabelled. A video has `frames(name)`
    /// frames when that is known (counted in the raw video), else as many as its last crop's
    /// number (frames after the last face are then not predicted; the caller says so).
    pub fn open_unlabelled(
        root: &Path,
        names: &[String],
        label_set: LabelSet,
        frames: impl Fn(&str) -> Option<usize>,
    ) -> Result<Self, DataError> {
        let crops_root = Layout::new(root).crops_root();
        if !crops_root.is_dir() {
            return Err(DataError::invalid(&crops_root, "no cropped_aligned folder"));
        }
        let mut videos = Vec::with_capacity(names.len());
        for name in names {
            let crops = crops_root.join(name);
            let numbers = crop_numbers(&crops, name)?;
            let last = numbers.iter().copied().max().unwrap_or(0);
            if last > MAX_FRAMES {
                return Err(DataError::invalid(
                    &crops,
                    format!("a crop numbered {last}: more frames than any video ({MAX_FRAMES})"),
                ));
            }
            let n = frames(name).unwrap_or(last);
            let mut has_crop = vec![false; n];
            for k in numbers.into_iter().filter(|&k| k <= n) {
                has_crop[k - 1] = true;
            }
            videos.push(Video {
                name: name.clone(),
                labels: vec![None; n],
                has_crop,
                crops,
            });
        }
        Ok(AffWild2 {
            label_set,
            split: Split::Test,
            videos,
        })
    }

    /// Frames usable for training, per class (ABAW order).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.label_set.num_classes()];
        for v in &self.videos {
            for (i, l) in v.labels.iter().enumerate() {
                if let Some(e) = l
                    && v.has_crop[i]
                {
                    c[e.index()] += 1;
                }
            }
        }
        c
    }
}

/// Frames one video may have: 20 million, about 4 days at 60 frames/s.
const MAX_FRAMES: usize = 20_000_000;

/// Frame numbers (1-based) of a video's `%05d.jpg` crops; a missing folder is an error (a wrong
/// root is more likely than a video without any face).
fn crop_numbers(crops: &Path, name: &str) -> Result<Vec<usize>, DataError> {
    let entries = std::fs::read_dir(crops)
        .map_err(|e| DataError::invalid(crops, format!("crop folder of {name}: {e}")))?;
    Ok(entries
        .flatten()
        .filter_map(|entry| {
            let file = entry.file_name();
            let stem = file
                .to_string_lossy()
                .strip_suffix(".jpg")?
                .parse::<usize>()
                .ok()?;
            (stem >= 1).then_some(stem)
        })
        .collect())
}

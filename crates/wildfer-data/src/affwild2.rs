//! Aff-Wild2 EXPR as distributed: per-video annotation files of a split (any ABAW edition's
//! folder names, via `wildfer_core::abaw`) and the `cropped_aligned/<video>/%05d.jpg` face crops,
//! whose numbering has gaps where no face was found.
//!
//! A frame is usable for training when it has a label (not -1) and a crop; for evaluation every
//! labelled frame counts, with or without a crop (the crop-less ones must still be predicted).

use crate::DataError;
use std::path::{Path, PathBuf};
use wildfer_core::abaw::{Split, find_split_dir, read_annotation_dir};
use wildfer_core::{Expression, LabelSet};

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

    /// Labelled and with a crop.
    pub fn usable(&self, frame: usize) -> bool {
        frame >= 1
            && frame <= self.labels.len()
            && self.labels[frame - 1].is_some()
            && self.has_crop[frame - 1]
    }

    /// The crop of a 1-based frame.
    pub fn crop_path(&self, frame: usize) -> PathBuf {
        self.crops.join(format!("{frame:05}.jpg"))
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
        let crops_root = root.join("cropped_aligned");
        if !crops_root.is_dir() {
            return Err(DataError::invalid(&crops_root, "no cropped_aligned folder"));
        }
        let mut videos = Vec::with_capacity(ann.videos.len());
        for (name, labels) in ann.videos {
            let crops = crops_root.join(&name);
            let mut has_crop = vec![false; labels.len()];
            let entries = std::fs::read_dir(&crops)
                .map_err(|e| DataError::invalid(&crops, format!("crop folder of {name}: {e}")))?;
            for entry in entries.flatten() {
                let file = entry.file_name();
                let file = file.to_string_lossy();
                let Some(stem) = file.strip_suffix(".jpg") else {
                    continue;
                };
                // Crops past the last annotated frame carry no label: ignored.
                if let Ok(n) = stem.parse::<usize>()
                    && n >= 1
                    && n <= labels.len()
                {
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

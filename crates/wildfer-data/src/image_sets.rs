//! Still-image expression datasets for frame-level pre-training, as AffectNet, RAF-DB or
//! FER-style sets are distributed: a folder per class, or a list file of `path label` lines.
//!
//! Class folder names and list labels may be ABAW names (`happiness`, case-insensitive), the
//! common short forms (`happy`, `sad`, `angry`, `surprised`, `fearful`, `disgusted`), or ABAW
//! indices (`0`..`7`). Anything else is an error naming the folder or line, so that a dataset
//! with a different class order (RAF-DB's 1-7, AffectNet's contempt) is mapped deliberately by
//! the user (a list file), never silently.

use crate::DataError;
use std::path::{Path, PathBuf};
use wildfer_labels::{Expression, LabelSet};

/// Labelled still images.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    pub images: Vec<(PathBuf, Expression)>,
}

/// The class a folder name or list label means, if any.
pub fn parse_class(s: &str, label_set: LabelSet) -> Option<Expression> {
    let k = s.trim().to_ascii_lowercase();
    let e = match k.as_str() {
        "happy" => Some(Expression::Happiness),
        "sad" => Some(Expression::Sadness),
        "angry" => Some(Expression::Anger),
        "surprised" => Some(Expression::Surprise),
        "fearful" | "afraid" => Some(Expression::Fear),
        "disgusted" => Some(Expression::Disgust),
        _ => match k.parse::<usize>() {
            Ok(i) => Expression::from_index(i),
            Err(_) => Expression::ALL.iter().copied().find(|e| e.key() == k),
        },
    }?;
    (e.index() < label_set.num_classes()).then_some(e)
}

fn is_image(p: &Path) -> bool {
    p.extension().and_then(|x| x.to_str()).is_some_and(|x| {
        matches!(
            x.to_ascii_lowercase().as_str(),
            "jpg" | "jpeg" | "png" | "bmp" | "tif" | "tiff" | "webp"
        )
    })
}

impl ImageSet {
    /// `root/<class>/*.{jpg,jpeg,png,bmp}`.
    pub fn open_folders(root: &Path, label_set: LabelSet) -> Result<Self, DataError> {
        let mut images = Vec::new();
        let entries =
            std::fs::read_dir(root).map_err(|e| DataError::invalid(root, e.to_string()))?;
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            let class = parse_class(&name, label_set).ok_or_else(|| {
                DataError::invalid(
                    &dir,
                    format!(
                        "folder name {name:?} is not one of the {} classes (use a list file to map other class sets)",
                        label_set.num_classes()
                    ),
                )
            })?;
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|e| DataError::invalid(&dir, e.to_string()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_image(p))
                .collect();
            files.sort();
            images.extend(files.into_iter().map(|f| (f, class)));
        }
        if images.is_empty() {
            return Err(DataError::invalid(root, "no images in class folders"));
        }
        Ok(ImageSet { images })
    }

    /// A list file of `path label` lines (paths relative to the file's folder; `#` comments).
    pub fn open_list(list: &Path, label_set: LabelSet) -> Result<Self, DataError> {
        let text = wildfer_files::read_text(list, wildfer_files::MAX_TEXT_BYTES)
            .map_err(|e| DataError::invalid(list, e.to_string()))?;
        let base = list.parent().unwrap_or(Path::new("."));
        let mut images = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |msg: String| DataError::invalid(list, format!("line {}: {msg}", i + 1));
            let (path, label) = line
                .rsplit_once(|c: char| c.is_whitespace() || c == ',')
                .ok_or_else(|| bad("expected `path label`".into()))?;
            let class = parse_class(label, label_set).ok_or_else(|| {
                bad(format!(
                    "label {label:?} is not one of the {} classes",
                    label_set.num_classes()
                ))
            })?;
            images.push((base.join(path.trim()), class));
        }
        if images.is_empty() {
            return Err(DataError::invalid(list, "no `path label` lines"));
        }
        Ok(ImageSet { images })
    }

    /// Only the images whose file name matches `pattern` (glob syntax: `*`, `?`, `[...]`), e.g.
    /// `PublicTest_*`; `source` names the set in errors.
    pub fn matching(self, pattern: &str, source: Option<&Path>) -> Result<Self, DataError> {
        let src = source.unwrap_or(Path::new(pattern));
        let pat = glob::Pattern::new(pattern)
            .map_err(|e| DataError::invalid(src, format!("file pattern {pattern:?}: {e}")))?;
        let images: Vec<_> = self
            .images
            .into_iter()
            .filter(|(p, _)| {
                p.file_name()
                    .is_some_and(|n| pat.matches(&n.to_string_lossy()))
            })
            .collect();
        if images.is_empty() {
            return Err(DataError::invalid(
                src,
                format!("no image file name matches {pattern:?}"),
            ));
        }
        Ok(ImageSet { images })
    }

    /// Images per ABAW class.
    pub fn class_counts(&self, label_set: LabelSet) -> Vec<usize> {
        let mut c = vec![0; label_set.num_classes()];
        for (_, e) in &self.images {
            c[e.index()] += 1;
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_and_lists() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for (class, n) in [("happy", 2), ("Neutral", 1), ("6", 1)] {
            let d = root.join(class);
            std::fs::create_dir_all(&d).unwrap();
            for i in 0..n {
                std::fs::write(d.join(format!("{i}.jpg")), b"x").unwrap();
            }
            std::fs::write(d.join("notes.txt"), b"x").unwrap();
        }
        let s = ImageSet::open_folders(root, LabelSet::Seven).unwrap();
        assert_eq!(s.images.len(), 4);
        assert_eq!(s.class_counts(LabelSet::Seven), vec![1, 0, 0, 0, 2, 0, 1]);
        std::fs::create_dir_all(root.join("contempt")).unwrap();
        let e = ImageSet::open_folders(root, LabelSet::Seven)
            .unwrap_err()
            .to_string();
        assert!(e.contains("contempt") && e.contains("list file"), "{e}");

        let list = root.join("train.txt");
        std::fs::write(
            &list,
            "# RAF-DB mapped to ABAW\nhappy/0.jpg 4\nNeutral/0.jpg,neutral\n\n",
        )
        .unwrap();
        let l = ImageSet::open_list(&list, LabelSet::Seven).unwrap();
        assert_eq!(
            l.images,
            vec![
                (root.join("happy/0.jpg"), Expression::Happiness),
                (root.join("Neutral/0.jpg"), Expression::Neutral)
            ]
        );
        std::fs::write(&list, "a.jpg 4\nb.jpg other\n").unwrap();
        let e = ImageSet::open_list(&list, LabelSet::Seven)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("other"), "{e}");
        assert!(ImageSet::open_list(&list, LabelSet::Eight).is_ok());
    }

    #[test]
    fn file_name_patterns_select_a_part() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("sad");
        std::fs::create_dir_all(&d).unwrap();
        for n in ["PublicTest_1.jpg", "PrivateTest_2.jpg", "PublicTest_3.jpg"] {
            std::fs::write(d.join(n), b"x").unwrap();
        }
        let s = ImageSet::open_folders(tmp.path(), LabelSet::Seven).unwrap();
        let public = s.clone().matching("PublicTest_*", None).unwrap();
        assert_eq!(public.images.len(), 2);
        assert!(
            public
                .images
                .iter()
                .all(|(p, _)| p.to_string_lossy().contains("PublicTest_"))
        );
        let e = s
            .matching("Nope_*", Some(tmp.path()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Nope_*") && e.contains(&*tmp.path().to_string_lossy()),
            "{e}"
        );
    }
}

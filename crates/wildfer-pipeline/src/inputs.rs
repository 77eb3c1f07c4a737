//! A run's inputs and their output names.
//!
//! - Quoted glob patterns are expanded (sorted); a pattern matching nothing is a failed input.
//! - A folder is one video only when it is a numbered image sequence (every image's stem is a
//!   number, as Aff-Wild2's `%05d.jpg`, and no video file beside them). Any other folder is a
//!   set of separate inputs: each image and each video in it (sorted), so unrelated photos are
//!   never tracked or smoothed across one another.
//! - Every input gets its own output name: its file stem (a folder's name), unless another input
//!   of the run has the same one; then the inputs sharing it are named by their path relative to
//!   their common folder, joined with `_` (`P01/session1.mp4` -> `P01_session1`), and, where
//!   that still is shared (`single_face.jpg` beside `single_face.mp4`), with the extension too
//!   (`single_face_jpg`). Names that still collide are refused before anything is written.

use crate::PipelineError;
use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};

/// File extensions taken for videos when a folder is expanded.
pub const VIDEO_EXTENSIONS: [&str; 12] = [
    "mp4", "mov", "m4v", "avi", "mkv", "webm", "mpg", "mpeg", "wmv", "flv", "3gp", "ts",
];

fn has_ext(p: &Path, exts: &[&str]) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Is `p` a video file by its extension?
pub fn is_video(p: &Path) -> bool {
    has_ext(p, &VIDEO_EXTENSIONS)
}

fn visible_files(dir: &Path) -> Result<Vec<PathBuf>, PipelineError> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| PipelineError::io(dir, e))? {
        let p = e.map_err(|e| PipelineError::io(dir, e))?.path();
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if !hidden && p.is_file() {
            v.push(p);
        }
    }
    v.sort();
    Ok(v)
}

fn numbered(p: &Path) -> bool {
    p.file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

/// What a folder holds: one numbered image sequence (the folder itself), or separate inputs.
pub fn expand_folder(dir: &Path) -> Result<Vec<PathBuf>, PipelineError> {
    let files = visible_files(dir)?;
    let images: Vec<&PathBuf> = files
        .iter()
        .filter(|p| wildfer_video::stills::is_image(p))
        .collect();
    let videos = files.iter().any(|p| is_video(p));
    if !images.is_empty() && !videos && images.iter().all(|p| numbered(p)) {
        return Ok(vec![dir.to_path_buf()]);
    }
    let media: Vec<PathBuf> = files
        .into_iter()
        .filter(|p| wildfer_video::stills::is_image(p) || is_video(p))
        .collect();
    if media.is_empty() {
        return Err(PipelineError::io(dir, "no images or videos in this folder"));
    }
    Ok(media)
}

/// The inputs as given, patterns and folders expanded; failures (a pattern matching nothing, an
/// empty folder) are returned beside them. A path reached twice is processed once.
pub fn expand_inputs(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let mut out = Vec::new();
    let mut failed = Vec::new();
    let add = |p: PathBuf, out: &mut Vec<PathBuf>, failed: &mut Vec<(PathBuf, String)>| {
        if p.is_dir() {
            match expand_folder(&p) {
                Ok(v) => out.extend(v),
                Err(e) => failed.push((p, e.to_string())),
            }
        } else {
            out.push(p);
        }
    };
    for input in inputs {
        let text = input.to_string_lossy();
        if input.exists() || !text.contains(['*', '?', '[']) {
            add(input.clone(), &mut out, &mut failed);
            continue;
        }
        match glob::glob(&text) {
            Err(e) => failed.push((input.clone(), format!("bad pattern: {e}"))),
            Ok(paths) => {
                let mut matched: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
                matched.sort();
                if matched.is_empty() {
                    failed.push((input.clone(), "no file matches this pattern".into()));
                }
                for m in matched {
                    add(m, &mut out, &mut failed);
                }
            }
        }
    }
    let mut seen = HashSet::new();
    out.retain(|p| seen.insert(std::path::absolute(p).unwrap_or_else(|_| p.clone())));
    (out, failed)
}

/// The file stem of an input (a folder's name).
pub fn stem(input: &Path) -> String {
    let s = if input.is_dir() {
        input.file_name()
    } else {
        input.file_stem()
    };
    s.map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".to_string())
}

/// Path components of `p` (made absolute, `.`/`..` folded) as strings.
fn parts(p: &Path) -> Vec<String> {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut v: Vec<String> = Vec::new();
    for c in abs.components() {
        match c {
            Component::Normal(s) => v.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                v.pop();
            }
            _ => {}
        }
    }
    v
}

/// One output name per input (see the module doc); an error when two cannot be told apart.
pub fn output_names(inputs: &[PathBuf]) -> Result<Vec<String>, PipelineError> {
    let mut names: Vec<String> = inputs.iter().map(|p| stem(p)).collect();
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, n) in names.iter().enumerate() {
        groups.entry(n.clone()).or_default().push(i);
    }
    for (_, idx) in groups.into_iter().filter(|(_, v)| v.len() > 1) {
        let all: Vec<Vec<String>> = idx.iter().map(|&i| parts(&inputs[i])).collect();
        // The common folder of the group: the longest shared leading components.
        let common = (0..)
            .take_while(|&k| all.iter().all(|p| k + 1 < p.len() && p[k] == all[0][k]))
            .count();
        let relative = |i: usize, ext: bool| {
            let p = &all[i];
            let mut n: Vec<String> = p[common..p.len() - 1].to_vec();
            n.push(stem(&inputs[idx[i]]));
            let e = inputs[idx[i]].extension().map(|e| e.to_string_lossy());
            if let (true, Some(e)) = (ext, e) {
                n.push(e.into_owned());
            }
            n.join("_")
        };
        let mut level: Vec<String> = (0..idx.len()).map(|i| relative(i, false)).collect();
        if level.iter().collect::<HashSet<_>>().len() < level.len() {
            level = (0..idx.len()).map(|i| relative(i, true)).collect();
        }
        for (k, &i) in idx.iter().enumerate() {
            names[i] = level[k].clone();
        }
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, n) in names.iter().enumerate() {
        if let Some(&j) = seen.get(n.as_str()) {
            return Err(PipelineError::io(
                &inputs[i],
                format!(
                    "its outputs would be named {n:?}, as those of {}: rename one of them",
                    inputs[j].display()
                ),
            ));
        }
        seen.insert(n, i);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn same_stem_in_different_folders_gets_distinct_names() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let inputs = vec![
            r.join("P01/session1.mp4"),
            r.join("P02/session1.mp4"),
            r.join("P02/other.mp4"),
            r.join("media/single_face.jpg"),
            r.join("media/single_face.mp4"),
        ];
        for p in &inputs {
            touch(p);
        }
        let names = output_names(&inputs).unwrap();
        assert_eq!(
            names,
            [
                "P01_session1",
                "P02_session1",
                "other",
                "single_face_jpg",
                "single_face_mp4"
            ]
        );
        // Unique stems keep their plain names.
        assert_eq!(
            output_names(&inputs[2..4]).unwrap(),
            ["other", "single_face"]
        );
    }

    #[test]
    fn names_that_still_collide_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let inputs = vec![r.join("a_b.mp4"), r.join("a/b.mp4"), r.join("x/b.mp4")];
        for p in &inputs {
            touch(p);
        }
        // a/b and x/b become a_b and x_b; a_b is taken by the first input.
        let e = output_names(&inputs).unwrap_err().to_string();
        assert!(e.contains("a_b") && e.contains("rename"), "{e}");
    }

    #[test]
    fn a_folder_of_unrelated_photos_is_separate_inputs() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        for f in [
            "photos/beach.jpg",
            "photos/party.png",
            "photos/clip.mp4",
            "photos/notes.txt",
        ] {
            touch(&r.join(f));
        }
        for f in ["seq/00001.jpg", "seq/00002.jpg", "seq/00004.jpg"] {
            touch(&r.join(f));
        }
        touch(&r.join("mixed/00001.jpg"));
        touch(&r.join("mixed/cover.jpg"));
        std::fs::create_dir_all(r.join("empty")).unwrap();
        let (ins, failed) = expand_inputs(&[
            r.join("photos"),
            r.join("seq"),
            r.join("mixed"),
            r.join("empty"),
        ]);
        assert_eq!(
            ins,
            vec![
                r.join("photos/beach.jpg"),
                r.join("photos/clip.mp4"),
                r.join("photos/party.png"),
                r.join("seq"),
                r.join("mixed/00001.jpg"),
                r.join("mixed/cover.jpg"),
            ]
        );
        assert_eq!(failed.len(), 1);
        assert!(failed[0].1.contains("no images or videos"), "{failed:?}");
        // A numbered sequence with a video beside it is not one video.
        touch(&r.join("seq/talk.mp4"));
        assert_eq!(expand_folder(&r.join("seq")).unwrap().len(), 4);
    }

    #[test]
    fn patterns_expand_sorted_and_unmatched_ones_fail() {
        let d = tempfile::tempdir().unwrap();
        for name in ["b.jpg", "a.jpg", "c.png", "odd[1].jpg"] {
            std::fs::write(d.path().join(name), b"x").unwrap();
        }
        let p = |s: &str| d.path().join(s);
        let (got, failed) = expand_inputs(&[
            p("*.jpg"),
            p("c.png"),
            p("odd[1].jpg"),
            p("none*.mp4"),
            p("bad["),
        ]);
        // An existing path is taken as it is, even with pattern characters in its name; a
        // path reached twice is kept once.
        assert_eq!(got, [p("a.jpg"), p("b.jpg"), p("odd[1].jpg"), p("c.png")]);
        assert_eq!(failed.len(), 2);
        assert_eq!(failed[0].0, p("none*.mp4"));
        assert!(failed[0].1.contains("no file matches"));
        assert!(failed[1].1.contains("bad pattern"));
    }
}

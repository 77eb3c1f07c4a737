//! Aff-Wild2 / ABAW expression label files.
//!
//! - Annotation files (`<video>.txt`): a header of class names, then one integer per line;
//!   line *i* after the header is frame *i* (1-based), `-1` means "not annotated". ABAW 2020/21
//!   test submissions use the same format, one file per video.
//! - `predictions.txt` (ABAW3, 2022, and later): header `image_location,Neutral,...,Other`,
//!   then rows `video/00001.jpg,<label>`.
//! - Split folders: `annotations/<task>/<split>/` with the task and split folder names used
//!   across the ABAW editions (see [`find_split_dir`]).
//!
//! Labels are held as `Option<Expression>` per frame: `None` is an unannotated frame in a truth
//! file and a frame without prediction in a prediction file.

use crate::{Error, Expression, LabelSet, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use wildfer_files::write_atomic;

/// Frame numbers above this are refused: the longest Aff-Wild2 video has ~50k frames, and a
/// corrupt row must not make us allocate gigabytes.
pub const MAX_FRAMES: usize = 10_000_000;

/// Labels of the frames of one video; `frames[i]` is frame `i + 1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoLabels {
    pub label_set: LabelSet,
    pub frames: Vec<Option<Expression>>,
}

/// Labels of several videos, keyed by video name (file stem, e.g. `10-60-1280x720_right`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotations {
    pub label_set: LabelSet,
    pub videos: BTreeMap<String, Vec<Option<Expression>>>,
}

impl Annotations {
    pub fn new(label_set: LabelSet) -> Self {
        Annotations {
            label_set,
            videos: BTreeMap::new(),
        }
    }

    /// Total number of frame slots over all videos.
    pub fn num_frames(&self) -> usize {
        self.videos.values().map(Vec::len).sum()
    }
}

/// Which person of a two-person video a label file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Left,
    Right,
}

/// A video name split into its source video and, for two-person videos, the side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoName<'a> {
    pub source: &'a str,
    pub side: Option<Side>,
}

impl<'a> VideoName<'a> {
    /// `video_left` -> (`video`, Left); `video` -> (`video`, None).
    pub fn parse(name: &'a str) -> VideoName<'a> {
        if let Some(s) = name.strip_suffix("_left") {
            VideoName {
                source: s,
                side: Some(Side::Left),
            }
        } else if let Some(s) = name.strip_suffix("_right") {
            VideoName {
                source: s,
                side: Some(Side::Right),
            }
        } else {
            VideoName {
                source: name,
                side: None,
            }
        }
    }
}

/// Label of one line: `-1` is `None`, `0..n` a class of `set`.
fn parse_label(s: &str, set: LabelSet, path: &Path, line: usize) -> Result<Option<Expression>> {
    let v: i64 = s.trim().parse().map_err(|_| {
        Error::parse(
            path,
            line,
            format!("expected an integer label, found {:?}", truncate(s, 40)),
        )
    })?;
    if v == -1 {
        return Ok(None);
    }
    usize::try_from(v)
        .ok()
        .and_then(|i| set.class(i))
        .map(Some)
        .ok_or_else(|| {
            Error::parse(
                path,
                line,
                format!(
                    "label {v} is out of range (-1 or 0..={} for {} classes)",
                    set.num_classes() - 1,
                    set.num_classes()
                ),
            )
        })
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(n).collect::<String>())
    }
}

fn read_text(path: &Path) -> Result<String> {
    wildfer_files::read_text(path, wildfer_files::MAX_TEXT_BYTES).map_err(|e| Error::io(path, e))
}

/// Lines with their 1-based numbers; trailing blank lines are dropped, inner ones are kept
/// so that the caller can reject them.
fn numbered_lines(text: &str) -> Vec<(usize, &str)> {
    let mut lines: Vec<(usize, &str)> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect();
    while lines.last().is_some_and(|(_, l)| l.trim().is_empty()) {
        lines.pop();
    }
    lines
}

/// Parse the text of an annotation file; `path` is only used in errors.
pub fn parse_annotation(text: &str, path: &Path) -> Result<VideoLabels> {
    let lines = numbered_lines(text);
    let Some(&(_, header)) = lines.first() else {
        return Err(Error::invalid(
            path,
            "empty file (expected a header line of class names)",
        ));
    };
    let label_set = LabelSet::from_header(header).ok_or_else(|| {
        let hint = if header.trim_start().starts_with("image_location") {
            " (this is a predictions.txt file, not a per-video annotation file)"
        } else {
            ""
        };
        Error::parse(
            path,
            1,
            format!(
                "expected header {:?} or {:?}, found {:?}{hint}",
                LabelSet::Seven.header(),
                LabelSet::Eight.header(),
                truncate(header, 80)
            ),
        )
    })?;
    if lines.len() == 1 {
        return Err(Error::invalid(path, "header only, no frame labels"));
    }
    if lines.len() - 1 > MAX_FRAMES {
        return Err(Error::invalid(
            path,
            format!("more than {MAX_FRAMES} frames"),
        ));
    }
    let frames = lines[1..]
        .iter()
        .map(|&(n, l)| parse_label(l, label_set, path, n))
        .collect::<Result<Vec<_>>>()?;
    Ok(VideoLabels { label_set, frames })
}

/// Read one annotation (or ABAW2020/21 per-video submission) file.
pub fn read_annotation_file(path: &Path) -> Result<VideoLabels> {
    parse_annotation(&read_text(path)?, path)
}

/// Text of an annotation file; `None` is written as `-1`.
pub fn format_annotation(label_set: LabelSet, frames: &[Option<Expression>]) -> String {
    let mut s = label_set.header();
    s.push('\n');
    for f in frames {
        match f {
            Some(e) => writeln!(s, "{}", e.index()),
            None => writeln!(s, "-1"),
        }
        .ok();
    }
    s
}

/// Write one annotation file atomically.
pub fn write_annotation_file(
    path: &Path,
    label_set: LabelSet,
    frames: &[Option<Expression>],
) -> Result<()> {
    write_atomic(path, format_annotation(label_set, frames).as_bytes())
}

/// The `.txt` files of a folder, sorted, hidden files skipped.
fn txt_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let p = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || !name.ends_with(".txt") || !p.is_file() {
            continue;
        }
        files.push(p);
    }
    files.sort();
    Ok(files)
}

/// Read every `<video>.txt` of a split folder. All files must share one label set.
pub fn read_annotation_dir(dir: &Path) -> Result<Annotations> {
    let files = txt_files(dir)?;
    if files.is_empty() {
        return Err(Error::invalid(
            dir,
            "no annotation files (*.txt) in this folder",
        ));
    }
    let mut out: Option<Annotations> = None;
    for f in files {
        let v = read_annotation_file(&f)?;
        let stem = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ann = out.get_or_insert_with(|| Annotations::new(v.label_set));
        if ann.label_set != v.label_set {
            return Err(Error::invalid(
                &f,
                format!(
                    "has {} classes but other files in the folder have {}",
                    v.label_set, ann.label_set
                ),
            ));
        }
        ann.videos.insert(stem, v.frames);
    }
    out.ok_or_else(|| Error::invalid(dir, "no annotation files (*.txt) in this folder"))
}

/// Write one `<video>.txt` per video into `dir` (created if needed), each atomically.
pub fn write_annotation_dir(dir: &Path, ann: &Annotations) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for (video, frames) in &ann.videos {
        check_video_name(video, dir)?;
        write_annotation_file(&dir.join(format!("{video}.txt")), ann.label_set, frames)?;
    }
    Ok(())
}

fn check_video_name(video: &str, context: &Path) -> Result<()> {
    if video.is_empty() || video.contains(['/', '\\', ',', '\n']) || video.starts_with('.') {
        return Err(Error::invalid(
            context,
            format!("invalid video name {video:?}"),
        ));
    }
    Ok(())
}

const IMAGE_LOCATION: &str = "image_location";

/// Parse a `predictions.txt` (ABAW3+ submission); `path` is only used in errors.
///
/// Rows may come in any order; frames without a row are `None`. A label of `-1` is accepted
/// and also means "no prediction".
pub fn parse_predictions_txt(text: &str, path: &Path) -> Result<Annotations> {
    let lines = numbered_lines(text);
    let Some(&(_, header)) = lines.first() else {
        return Err(Error::invalid(
            path,
            "empty file (expected header image_location,Neutral,...)",
        ));
    };
    let label_set = header
        .trim_start_matches('\u{feff}')
        .split_once(',')
        .filter(|(first, _)| first.trim().eq_ignore_ascii_case(IMAGE_LOCATION))
        .and_then(|(_, rest)| LabelSet::from_header(rest))
        .ok_or_else(|| {
            Error::parse(
                path,
                1,
                format!(
                    "expected header \"{IMAGE_LOCATION},{}\" (with or without ,Other), found {:?}",
                    LabelSet::Seven.header(),
                    truncate(header, 80)
                ),
            )
        })?;
    if lines.len() == 1 {
        return Err(Error::invalid(path, "header only, no prediction rows"));
    }
    let mut ann = Annotations::new(label_set);
    for &(n, line) in &lines[1..] {
        let (loc, label) = line
            .split_once(',')
            .ok_or_else(|| Error::parse(path, n, "expected a row `video/00001.jpg,<label>`"))?;
        if label.contains(',') {
            return Err(Error::parse(path, n, "expected 2 columns, found more"));
        }
        let (video, frame) = parse_image_location(loc.trim()).ok_or_else(|| {
            Error::parse(
                path,
                n,
                format!(
                    "expected an image location like video/00001.jpg, found {:?}",
                    truncate(loc, 60)
                ),
            )
        })?;
        let label = parse_label(label, label_set, path, n)?;
        let frames = ann.videos.entry(video.to_string()).or_default();
        let i = frame - 1;
        if frames.len() <= i {
            frames.resize(i + 1, None);
        }
        if frames[i].is_some() {
            return Err(Error::parse(
                path,
                n,
                format!("second row for {video}/{}", Layout::crop_name(frame)),
            ));
        }
        frames[i] = label;
    }
    Ok(ann)
}

/// `video/00042.jpg` -> (`video`, 42). Frame numbers are 1-based.
fn parse_image_location(loc: &str) -> Option<(&str, usize)> {
    let (video, file) = loc.rsplit_once('/')?;
    // Names never start or end with blanks (rows are trimmed, so ` a/00001.jpg` would name
    // `a` once written and read back).
    let video = video.rsplit('/').next()?.trim();
    if video.is_empty() {
        return None;
    }
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frame: usize = stem.parse().ok()?;
    (1..=MAX_FRAMES).contains(&frame).then_some((video, frame))
}

/// Read a `predictions.txt` file.
pub fn read_predictions_txt(path: &Path) -> Result<Annotations> {
    parse_predictions_txt(&read_text(path)?, path)
}

/// Text of a `predictions.txt`: one row per frame that has a label, videos in name order.
pub fn format_predictions_txt(ann: &Annotations) -> String {
    let mut s = format!("{IMAGE_LOCATION},{}\n", ann.label_set.header());
    for (video, frames) in &ann.videos {
        for (i, f) in frames.iter().enumerate() {
            if let Some(e) = f {
                writeln!(s, "{video}/{},{}", Layout::crop_name(i + 1), e.index()).ok();
            }
        }
    }
    s
}

/// Write a `predictions.txt` atomically.
pub fn write_predictions_txt(path: &Path, ann: &Annotations) -> Result<()> {
    for video in ann.videos.keys() {
        check_video_name(video, path)?;
    }
    write_atomic(path, format_predictions_txt(ann).as_bytes())
}

/// Read labels in either format: a folder of per-video files, a `predictions.txt`, or a single
/// per-video annotation file (keyed by its stem). The format of a file is told by its header.
pub fn read_labels(path: &Path) -> Result<Annotations> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return read_annotation_dir(path);
    }
    let text = read_text(path)?;
    let first = text.trim_start_matches('\u{feff}').trim_start();
    if first
        .get(..IMAGE_LOCATION.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(IMAGE_LOCATION))
    {
        return parse_predictions_txt(&text, path);
    }
    let v = parse_annotation(&text, path)?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut ann = Annotations::new(v.label_set);
    ann.videos.insert(stem, v.frames);
    Ok(ann)
}

/// An Aff-Wild2-layout dataset folder: the one place its paths are built.
///
/// ```text
/// ROOT/cropped_aligned/<video>/00001.jpg          one aligned face crop per frame (1-based)
/// ROOT/annotations/EXPR_Set/Train_Set/<video>.txt  labels (read: any ABAW edition's names,
///                                                  [`find_split_dir`]; written: these)
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn new(root: &Path) -> Self {
        Layout {
            root: root.to_path_buf(),
        }
    }

    /// `ROOT/cropped_aligned`.
    pub fn crops_root(&self) -> PathBuf {
        self.root.join("cropped_aligned")
    }

    /// A video's crop folder.
    pub fn crop_dir(&self, video: &str) -> PathBuf {
        self.crops_root().join(video)
    }

    /// The file name of a frame's crop (`00042.jpg` for frame 42, 1-based); also how ABAW 2022+
    /// `predictions.txt` rows name frames.
    pub fn crop_name(frame: usize) -> String {
        format!("{frame:05}.jpg")
    }

    /// The crop of a 1-based frame of `video`.
    pub fn crop_path(&self, video: &str, frame: usize) -> PathBuf {
        self.crop_dir(video).join(Self::crop_name(frame))
    }

    /// Where a split's annotation files are written (`annotations/EXPR_Set/<split>`).
    pub fn split_dir(&self, split: Split) -> PathBuf {
        self.root
            .join("annotations")
            .join(TASK_FOLDERS[0])
            .join(split.folder_names()[0])
    }
}

/// An Aff-Wild2 EXPR split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Validation,
    /// A challenge's test set: labels only where the organisers released them.
    Test,
}

impl Split {
    /// Folder names used for this split across the ABAW editions.
    pub fn folder_names(self) -> &'static [&'static str] {
        match self {
            Split::Train => &["Train_Set", "Training_Set"],
            Split::Validation => &["Validation_Set"],
            Split::Test => &["Test_Set"],
        }
    }
}

/// Expression task folder names across the ABAW editions.
pub const TASK_FOLDERS: [&str; 3] = [
    "EXPR_Set",
    "EXPR_Recognition_Challenge",
    "EXPR_Classification_Challenge",
];

/// Find the folder of `split` below `root`, which may be the split folder's parent (the task
/// folder), the `annotations` folder, or the Aff-Wild2 root holding `annotations/`.
pub fn find_split_dir(root: &Path, split: Split) -> Result<PathBuf> {
    let mut bases = vec![root.to_path_buf()];
    for task in TASK_FOLDERS {
        bases.push(root.join(task));
        bases.push(root.join("annotations").join(task));
    }
    for base in &bases {
        for name in split.folder_names() {
            let p = base.join(name);
            if p.is_dir() {
                return Ok(p);
            }
        }
    }
    Err(Error::invalid(
        root,
        format!(
            "no {} folder found (looked for {} below {} and annotations/{})",
            split.folder_names().join(" or "),
            split.folder_names().join("/"),
            TASK_FOLDERS.join(", "),
            TASK_FOLDERS.join(", annotations/")
        ),
    ))
}

#[cfg(test)]
mod tests {
    /// Fuzzing finding `crash-91727759` (predictions target): a folder name with a leading
    /// blank (`vlog/ 01og/00115.jpg`) was kept with the blank, written as ` 01og/00115.jpg`
    /// and read back as `01og`. Names are now trimmed, so writing and reading agree.
    #[test]
    fn fuzz_predictions_crash_91727759_blank_around_video_name() {
        let p = Path::new("predictions.txt");
        let text = "image_location,Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other\n\
                    vlog/ 01og/00115.jpg,5\nclip \t/00002.jpg,1\n";
        let a = parse_predictions_txt(text, p).unwrap();
        assert_eq!(a.videos.keys().collect::<Vec<_>>(), ["01og", "clip"]);
        let again = parse_predictions_txt(&format_predictions_txt(&a), p).unwrap();
        assert_eq!(again, a);
    }

    use super::*;

    #[test]
    fn layout_paths_are_the_aff_wild2_ones_and_the_written_split_is_found() {
        let tmp = tempfile::tempdir().unwrap();
        let l = Layout::new(tmp.path());
        assert_eq!(
            l.crop_path("12-24-1920x1080", 42),
            tmp.path().join("cropped_aligned/12-24-1920x1080/00042.jpg")
        );
        for split in [Split::Train, Split::Validation] {
            let d = l.split_dir(split);
            std::fs::create_dir_all(&d).unwrap();
            assert_eq!(find_split_dir(tmp.path(), split).unwrap(), d);
        }
    }
    use Expression::*;

    fn p() -> &'static Path {
        Path::new("v.txt")
    }

    #[test]
    fn parses_seven_and_eight_class_files() {
        let v = parse_annotation(
            "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise\n0\n-1\n6\n",
            p(),
        )
        .unwrap();
        assert_eq!(v.label_set, LabelSet::Seven);
        assert_eq!(v.frames, vec![Some(Neutral), None, Some(Surprise)]);
        let v = parse_annotation(
            "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other\r\n7\r\n4\r\n\r\n",
            p(),
        )
        .unwrap();
        assert_eq!(v.label_set, LabelSet::Eight);
        assert_eq!(v.frames, vec![Some(Other), Some(Happiness)]);
    }

    #[test]
    fn bad_annotation_files_name_file_and_line() {
        let h7 = LabelSet::Seven.header();
        let cases = [
            (String::new(), "v.txt: empty file"),
            ("\n\n".to_string(), "v.txt: empty file"),
            ("Neutral,Happy\n0\n".to_string(), "v.txt:1: expected header"),
            (format!("{h7}\n"), "v.txt: header only"),
            (
                format!("{h7}\n0\nx\n"),
                "v.txt:3: expected an integer label",
            ),
            (format!("{h7}\n0\n7\n"), "v.txt:3: label 7 is out of range"),
            (format!("{h7}\n-2\n"), "v.txt:2: label -2 is out of range"),
            (format!("{h7}\n0\n\n1\n"), "v.txt:3: expected an integer"),
            (format!("{h7}\n1.5\n"), "v.txt:2: expected an integer"),
            (
                format!("image_location,{h7}\nv/00001.jpg,0\n"),
                "this is a predictions.txt file",
            ),
        ];
        for (text, want) in cases {
            let e = parse_annotation(&text, p()).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: got {e:?}, want {want:?}");
            assert!(!e.contains('\n'), "multi-line error {e:?}");
        }
    }

    #[test]
    fn annotation_round_trip() {
        let frames = vec![Some(Anger), None, Some(Other), Some(Neutral)];
        let text = format_annotation(LabelSet::Eight, &frames);
        let back = parse_annotation(&text, p()).unwrap();
        assert_eq!(back.frames, frames);
        assert_eq!(back.label_set, LabelSet::Eight);
    }

    fn sample(set: LabelSet) -> Annotations {
        let mut a = Annotations::new(set);
        a.videos.insert(
            "10-60-1280x720_right".into(),
            vec![Some(Happiness), Some(Sadness), None, Some(Fear)],
        );
        a.videos.insert("video1".into(), vec![None, Some(Neutral)]);
        a
    }

    #[test]
    fn dir_round_trip_and_read_labels() {
        let d = tempfile::tempdir().unwrap();
        let a = sample(LabelSet::Seven);
        write_annotation_dir(d.path(), &a).unwrap();
        assert_eq!(read_annotation_dir(d.path()).unwrap(), a);
        assert_eq!(read_labels(d.path()).unwrap(), a);
        let one = read_labels(&d.path().join("video1.txt")).unwrap();
        assert_eq!(one.videos.len(), 1);
        assert_eq!(one.videos["video1"], a.videos["video1"]);
    }

    #[test]
    fn predictions_txt_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("predictions.txt");
        for set in [LabelSet::Seven, LabelSet::Eight] {
            let mut a = sample(set);
            // Frames after the last prediction have no row, so they do not come back.
            a.videos.insert("video1".into(), vec![None, Some(Neutral)]);
            write_predictions_txt(&path, &a).unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.starts_with(&format!("image_location,{}\n", set.header())));
            assert!(text.contains("10-60-1280x720_right/00004.jpg,3\n"));
            assert_eq!(read_predictions_txt(&path).unwrap(), a);
            assert_eq!(read_labels(&path).unwrap(), a);
        }
    }

    #[test]
    fn predictions_txt_any_order_and_errors() {
        let h = format!("image_location,{}", LabelSet::Eight.header());
        let a =
            parse_predictions_txt(&format!("{h}\nv/00003.jpg,7\nv/00001.jpg,2\n"), p()).unwrap();
        assert_eq!(a.videos["v"], vec![Some(Disgust), None, Some(Other)]);
        let cases = [
            (String::new(), "empty file"),
            (
                "image_location,Neutral\n".to_string(),
                "v.txt:1: expected header",
            ),
            (format!("{h}\n"), "header only"),
            (format!("{h}\nv/00001.jpg\n"), "v.txt:2: expected a row"),
            (
                format!("{h}\nv/00001.jpg,1,2\n"),
                "v.txt:2: expected 2 columns",
            ),
            (
                format!("{h}\nv/abc.jpg,1\n"),
                "v.txt:2: expected an image location",
            ),
            (
                format!("{h}\nv/00000.jpg,1\n"),
                "v.txt:2: expected an image location",
            ),
            (
                format!("{h}\n/00001.jpg,1\n"),
                "v.txt:2: expected an image location",
            ),
            (
                format!("{h}\nv/99999999999.jpg,1\n"),
                "v.txt:2: expected an image location",
            ),
            (
                format!("{h}\nv/00001.jpg,8\n"),
                "v.txt:2: label 8 is out of range",
            ),
            (
                format!("{h}\nv/00001.jpg,1\nv/00001.jpg,2\n"),
                "v.txt:3: second row for v/00001.jpg",
            ),
        ];
        for (text, want) in cases {
            let e = parse_predictions_txt(&text, p()).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: got {e:?}, want {want:?}");
        }
    }

    #[test]
    fn folder_errors() {
        let d = tempfile::tempdir().unwrap();
        let e = read_annotation_dir(d.path()).unwrap_err().to_string();
        assert!(e.contains("no annotation files"), "{e}");
        std::fs::write(
            d.path().join("a.txt"),
            format!("{}\n0\n", LabelSet::Seven.header()),
        )
        .unwrap();
        std::fs::write(
            d.path().join("b.txt"),
            format!("{}\n7\n", LabelSet::Eight.header()),
        )
        .unwrap();
        let e = read_annotation_dir(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("b.txt: has 8 classes but other files in the folder have 7"),
            "{e}"
        );
        let e = read_labels(&d.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing"), "{e}");
        std::fs::write(d.path().join("bin.txt"), [0xff, 0xfe, 0x00]).unwrap();
        let e = read_annotation_file(&d.path().join("bin.txt"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bin.txt: not a UTF-8 text file"), "{e}");
    }

    #[test]
    fn video_names() {
        assert_eq!(
            VideoName::parse("10-60-1280x720_right"),
            VideoName {
                source: "10-60-1280x720",
                side: Some(Side::Right)
            }
        );
        assert_eq!(
            VideoName::parse("video59_left"),
            VideoName {
                source: "video59",
                side: Some(Side::Left)
            }
        );
        assert_eq!(VideoName::parse("118").side, None);
    }

    #[test]
    fn finds_split_folders_of_every_edition() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        assert!(find_split_dir(root, Split::Train).is_err());
        let t = root.join("annotations/EXPR_Recognition_Challenge/Train_Set");
        std::fs::create_dir_all(&t).unwrap();
        assert_eq!(find_split_dir(root, Split::Train).unwrap(), t);
        let v = root.join("annotations/EXPR_Set/Validation_Set");
        std::fs::create_dir_all(&v).unwrap();
        assert_eq!(find_split_dir(root, Split::Validation).unwrap(), v);
        assert_eq!(
            find_split_dir(&root.join("annotations/EXPR_Set"), Split::Validation).unwrap(),
            v
        );
        let d2 = tempfile::tempdir().unwrap();
        let t2 = d2.path().join("EXPR_Set/Training_Set");
        std::fs::create_dir_all(&t2).unwrap();
        assert_eq!(find_split_dir(d2.path(), Split::Train).unwrap(), t2);
    }
}

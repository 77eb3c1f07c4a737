//! `analyze`: any video or image -> every face's expression in every frame, as
//! `<stem>.csv` (one row per face per frame; one empty-face row for a frame without a face) and
//! `<stem>.json` (the same rows plus run metadata and per-track summaries). Both are streamed
//! to temporary files and renamed when the input is finished.

use crate::PipelineError;
use crate::expression::{ExpressionModel, Probs};
use crate::faces::{FrameStats, for_each_frame};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use wildfer_core::fsutil::AtomicFile;
use wildfer_core::{Expression, LabelSet};
use wildfer_face::{FaceDetector, TrackerConfig};
use wildfer_video::FrameSource;

/// The seven classes in output order (ABAW 2020/21, no `Other`).
fn classes() -> &'static [Expression] {
    LabelSet::Seven.classes()
}

/// The CSV header, exactly.
pub const CSV_HEADER: &str = "frame,time_s,face_id,x,y,w,h,det_score,neutral,anger,disgust,fear,happiness,sadness,surprise,expression";

/// Per-track totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackSummary {
    pub face_id: usize,
    pub frames: usize,
    pub first_frame: usize,
    pub last_frame: usize,
    /// Share of the track's frames won by each class (ABAW order keys).
    pub share: BTreeMap<&'static str, f64>,
    pub dominant: &'static str,
}

/// What `analyze` did for one input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalyzeSummary {
    pub input: PathBuf,
    pub csv: PathBuf,
    pub json: PathBuf,
    pub model: String,
    pub detector: String,
    #[serde(flatten)]
    pub stats: FrameStats,
    pub track_summaries: Vec<TrackSummary>,
}

#[derive(Default)]
struct TrackAcc {
    frames: usize,
    first: usize,
    last: usize,
    wins: [usize; 7],
}

fn argmax(p: &Probs) -> usize {
    (0..7).fold(0, |b, k| if p[k] > p[b] { k } else { b })
}

/// Output file names of an input: `<stem>.csv` / `<stem>.json` in `out`.
pub fn output_paths(input: &Path, out: &Path) -> (PathBuf, PathBuf) {
    let stem = crate::prepare::video_name(input);
    (
        out.join(format!("{stem}.csv")),
        out.join(format!("{stem}.json")),
    )
}

/// Analyse one input into `out`. `progress` is called after every frame.
pub fn analyze(
    input: &Path,
    source: &mut dyn FrameSource,
    detector: &mut dyn FaceDetector,
    model: &mut dyn ExpressionModel,
    tracker: TrackerConfig,
    out: &Path,
    mut progress: impl FnMut(usize),
) -> Result<AnalyzeSummary, PipelineError> {
    let (csv_path, json_path) = output_paths(input, out);
    let mut csv = AtomicFile::create(&csv_path)?;
    let mut json = AtomicFile::create(&json_path)?;
    csv.write(format!("{CSV_HEADER}\n").as_bytes())?;
    json.write(b"{\"rows\":[\n")?;
    let mut first_row = true;
    let mut tracks: BTreeMap<usize, TrackAcc> = BTreeMap::new();
    let mut line = String::new();
    let crop = model.crop_size();
    let stats = for_each_frame(input, source, detector, tracker, crop, |ff| {
        let crops: Vec<_> = ff.faces.iter().map(|f| f.crop.clone()).collect();
        let probs = model.predict(&crops)?;
        line.clear();
        let mut rows = Vec::new();
        if ff.faces.is_empty() {
            let _ = writeln!(line, "{},{:.6},,,,,,,,,,,,,,", ff.index, ff.time_s);
            rows.push(serde_json::json!({"frame": ff.index, "time_s": ff.time_s, "face_id": null}));
        }
        for (face, p) in ff.faces.iter().zip(&probs) {
            let b = face.detection.bbox;
            let win = argmax(p);
            let acc = tracks.entry(face.track).or_insert(TrackAcc {
                first: ff.index,
                ..TrackAcc::default()
            });
            acc.frames += 1;
            acc.last = ff.index;
            acc.wins[win] += 1;
            let _ = write!(
                line,
                "{},{:.6},{},{:.1},{:.1},{:.1},{:.1},{:.4}",
                ff.index,
                ff.time_s,
                face.track,
                b.x1,
                b.y1,
                b.width(),
                b.height(),
                face.detection.score
            );
            for v in p {
                let _ = write!(line, ",{v:.6}");
            }
            let _ = writeln!(line, ",{}", classes()[win].key());
            let probs: serde_json::Map<String, serde_json::Value> = classes()
                .iter()
                .zip(p)
                .map(|(c, v)| (c.key().to_string(), serde_json::json!(*v)))
                .collect();
            let lm: Vec<[f32; 2]> = face
                .detection
                .landmarks
                .iter()
                .map(|q| [q.x, q.y])
                .collect();
            rows.push(serde_json::json!({
                "frame": ff.index, "time_s": ff.time_s, "face_id": face.track,
                "box": [b.x1, b.y1, b.width(), b.height()], "det_score": face.detection.score,
                "landmarks": lm, "probabilities": probs, "expression": classes()[win].key(),
            }));
        }
        csv.write(line.as_bytes())?;
        for r in rows {
            let sep = if first_row { "" } else { ",\n" };
            first_row = false;
            json.write(format!("{sep}{r}").as_bytes())?;
        }
        progress(ff.index);
        Ok(())
    })?;

    let track_summaries: Vec<TrackSummary> = tracks
        .iter()
        .map(|(id, t)| {
            let share = classes()
                .iter()
                .zip(t.wins)
                .map(|(c, n)| (c.key(), n as f64 / t.frames as f64))
                .collect();
            let dom = (0..7).fold(0, |b, k| if t.wins[k] > t.wins[b] { k } else { b });
            TrackSummary {
                face_id: *id,
                frames: t.frames,
                first_frame: t.first,
                last_frame: t.last,
                share,
                dominant: classes()[dom].key(),
            }
        })
        .collect();
    let summary = AnalyzeSummary {
        input: input.to_path_buf(),
        csv: csv_path,
        json: json_path,
        model: model.name().to_string(),
        detector: detector.name().to_string(),
        stats,
        track_summaries,
    };
    let meta = serde_json::json!({
        "wildfer_version": env!("CARGO_PKG_VERSION"),
        "input": summary.input, "model": summary.model, "detector": summary.detector,
        "frames_read": summary.stats.frames_read, "frames_with_face": summary.stats.frames_with_face,
        "faces": summary.stats.faces, "bad_frames": summary.stats.bad_frames,
        "tracks": summary.track_summaries,
    });
    json.write(format!("\n],\n\"metadata\":{meta}}}\n").as_bytes())?;
    csv.commit()?;
    json.commit()?;
    Ok(summary)
}

/// `summary.csv` over all inputs: one row per track.
pub fn write_summary_csv(path: &Path, summaries: &[AnalyzeSummary]) -> Result<(), PipelineError> {
    let mut s = String::from("input,face_id,frames,first_frame,last_frame");
    for c in classes() {
        let _ = write!(s, ",share_{}", c.key());
    }
    s.push_str(",dominant\n");
    for a in summaries {
        for t in &a.track_summaries {
            let _ = write!(
                s,
                "{},{},{},{},{}",
                csv_field(&a.input.display().to_string()),
                t.face_id,
                t.frames,
                t.first_frame,
                t.last_frame
            );
            for c in classes() {
                let _ = write!(s, ",{:.4}", t.share[c.key()]);
            }
            let _ = writeln!(s, ",{}", t.dominant);
        }
    }
    wildfer_core::fsutil::write_atomic(path, s.as_bytes())?;
    Ok(())
}

/// Quote a CSV field when it needs it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

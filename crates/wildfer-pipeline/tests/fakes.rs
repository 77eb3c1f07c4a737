//! The jobs with every stage faked: exact CSV output, frames without faces, a corrupt frame in
//! the middle of an input, two people -> `_left`/`_right`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use wildfer_face::{BBox, Detection, FakeDetector, Point2, TrackerConfig};
use wildfer_pipeline::FakeExpressionModel;
use wildfer_pipeline::analyze::{AnalyzeOptions, Row, analyze};
use wildfer_pipeline::expression::{LabelSet, Probs};
use wildfer_pipeline::prepare::{PrepareOptions, prepare};
use wildfer_video::{Frame, FrameSource, SourceInfo, VideoError};

/// Grey 64x48 frames at 10 fps; `None` entries are decode errors.
struct FakeSource {
    info: SourceInfo,
    frames: VecDeque<Option<usize>>,
    /// Frame `i`'s grey level is `128` or, shaded, `20 * i`.
    shaded: bool,
}

impl FakeSource {
    fn new(indices: &[Option<usize>]) -> Self {
        FakeSource {
            info: SourceInfo {
                path: PathBuf::from("clip.mp4"),
                width: 64,
                height: 48,
                frames: indices.len(),
                fps: 10.0,
                codec: "fake".into(),
            },
            frames: indices.iter().copied().collect(),
            shaded: false,
        }
    }
}

impl FrameSource for FakeSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Option<Result<Frame, VideoError>> {
        Some(match self.frames.pop_front()? {
            Some(index) => Ok(Frame {
                index,
                time_s: (index - 1) as f64 / 10.0,
                width: 64,
                height: 48,
                rgb: vec![
                    if self.shaded {
                        (20 * index % 256) as u8
                    } else {
                        128
                    };
                    64 * 48 * 3
                ],
            }),
            None => Err(VideoError::Decode {
                path: PathBuf::from("clip.mp4"),
                sample: 3,
                msg: "bad slice".into(),
            }),
        })
    }
}

/// A face whose landmarks sit on the 112 template scaled by 1/4 and shifted by `x`.
fn face(x: f32, score: f32) -> Detection {
    let lm =
        wildfer_face::align::TEMPLATE_112.map(|p| Point2::new(p.x / 4.0 + x, p.y / 4.0 + 10.0));
    Detection {
        bbox: BBox::new(x, 10.0, x + 28.0, 38.0),
        score,
        landmarks: lm,
    }
}

fn detector() -> FakeDetector {
    let mut d = FakeDetector::default();
    d.faces.insert(2, vec![face(4.0, 0.99)]);
    d.faces.insert(4, vec![face(5.0, 0.98), face(34.0, 0.9)]);
    d
}

const PROBS: [f32; 7] = [0.1, 0.05, 0.05, 0.1, 0.5, 0.1, 0.1];

#[test]
fn analyze_writes_the_exact_table_and_skips_a_corrupt_frame() {
    let dir = tempfile::tempdir().unwrap();
    let mut src = FakeSource::new(&[Some(1), Some(2), None, Some(4), Some(5)]);
    let mut model = FakeExpressionModel {
        probs: Probs::seven(PROBS),
    };
    let mut done = Vec::new();
    let s = analyze(
        Path::new("clip.mp4"),
        &mut src,
        &mut detector(),
        &mut model,
        &AnalyzeOptions {
            tracker: TrackerConfig::default(),
            smooth: 0,
            annotate: false,
            ..AnalyzeOptions::default()
        },
        dir.path(),
        |f| done.push(f),
    )
    .unwrap();
    assert_eq!(done, vec![1, 2, 4, 5]);
    assert_eq!(
        (s.stats.frames_read, s.stats.frames_with_face, s.stats.faces),
        (4, 2, 3)
    );
    assert_eq!(s.stats.bad_frames, 1);
    assert!(
        s.stats
            .first_bad_frame
            .as_deref()
            .unwrap()
            .contains("sample 3")
    );
    let csv = std::fs::read_to_string(dir.path().join("clip.csv")).unwrap();
    let p = "0.100000,0.050000,0.050000,0.100000,0.500000,0.100000,0.100000,happiness";
    let want = format!(
        "{}\n\
         1,0.000000,,,,,,,,,,,,,,\n\
         2,0.100000,0,4.0,10.0,28.0,28.0,0.9900,{p}\n\
         4,0.300000,0,5.0,10.0,28.0,28.0,0.9800,{p}\n\
         4,0.300000,1,34.0,10.0,28.0,28.0,0.9000,{p}\n\
         5,0.400000,,,,,,,,,,,,,,\n",
        Row::csv_header(LabelSet::Seven)
    );
    assert_eq!(csv, want);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("clip.json")).unwrap())
            .unwrap();
    assert_eq!(json["rows"].as_array().unwrap().len(), 5);
    assert_eq!(json["rows"][1]["probabilities"]["happiness"], 0.5);
    assert_eq!(json["metadata"]["bad_frames"], 1);
    assert_eq!(json["metadata"]["tracks"][1]["dominant"], "happiness");
    assert_eq!(json["metadata"]["tracks"][0]["frames"], 2);
    // What a folder's summary is rebuilt from: the JSON gives back the run's summary.
    let back = wildfer_pipeline::analyze::read_output(&dir.path().join("clip.json")).unwrap();
    assert_eq!(back.timeline.to_record(), s.timeline.to_record());
    assert_eq!(back.timeline.tracks.len(), 2);
    let (mut back, mut s) = (back, s);
    back.timeline = wildfer_pipeline::report::Timeline::new(1, 0.0, LabelSet::Seven);
    s.timeline = back.timeline.clone();
    assert_eq!(back, s);
}

#[test]
fn undecodable_input_fails_without_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let mut src = FakeSource::new(&[None; 60]);
    let e = analyze(
        Path::new("clip.mp4"),
        &mut src,
        &mut detector(),
        &mut FakeExpressionModel {
            probs: Probs::seven(PROBS),
        },
        &AnalyzeOptions {
            tracker: TrackerConfig::default(),
            smooth: 0,
            annotate: false,
            ..AnalyzeOptions::default()
        },
        dir.path(),
        |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("clip.mp4") && !e.contains('\n'), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn prepare_names_two_people_left_and_right() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = FakeDetector::default();
    for f in 1..=12 {
        // The right-hand person is listed first; a one-frame false face at frame 6.
        let mut faces = vec![face(34.0, 0.9), face(4.0, 0.99)];
        if f == 6 {
            faces.push(face(18.0, 0.6));
        }
        d.faces.insert(f, faces);
    }
    let frames: Vec<Option<usize>> = (1..=12).map(Some).collect();
    let mut src = FakeSource::new(&frames);
    let opts = PrepareOptions {
        size: 64,
        min_track_frames: 3,
        ..PrepareOptions::default()
    };
    let s = prepare(
        Path::new("clip.mp4"),
        &mut src,
        &mut d,
        dir.path(),
        &opts,
        |_| {},
    )
    .unwrap();
    let names: Vec<&str> = s.written.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["clip_left", "clip_right"]);
    assert_eq!(s.dropped_tracks, 1);
    let root = dir.path().join("cropped_aligned");
    let mut listed: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, ["clip_left", "clip_right"]);
    let left: Vec<String> = {
        let mut v: Vec<String> = std::fs::read_dir(root.join("clip_left"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(left.len(), 12);
    assert_eq!(left[0], "00001.jpg");
    assert_eq!(left[11], "00012.jpg");
    let img = image::open(root.join("clip_left/00001.jpg")).unwrap();
    assert_eq!((img.width(), img.height()), (64, 64));
}

/// The rows handed out without files (the Python API's stream) are the rows `analyze` writes,
/// also with smoothing (which holds frames back), and so are the rows handed out while writing.
#[test]
fn streamed_rows_are_the_written_rows() {
    use wildfer_pipeline::analyze::{analyze_rows, analyze_with_rows};
    let frames = [Some(1), Some(2), Some(3), Some(4), Some(5), Some(6)];
    let opts = AnalyzeOptions {
        smooth: 3,
        ..AnalyzeOptions::default()
    };
    let mut model = wildfer_pipeline::FakeExpressionModel {
        probs: Probs::seven(PROBS),
    };
    let dir = tempfile::tempdir().unwrap();
    let mut seen_while_writing = Vec::new();
    analyze_with_rows(
        Path::new("clip.mp4"),
        &mut FakeSource::new(&frames),
        &mut detector(),
        &mut model,
        &opts,
        dir.path(),
        |rows| {
            seen_while_writing.extend_from_slice(rows);
            Ok(())
        },
        |_| {},
    )
    .unwrap();
    let mut streamed = Vec::new();
    let stats = analyze_rows(
        Path::new("clip.mp4"),
        &mut FakeSource::new(&frames),
        &mut detector(),
        &mut model,
        &opts,
        |rows| {
            streamed.extend_from_slice(rows);
            Ok(())
        },
        |_| {},
    )
    .unwrap();
    assert_eq!(stats.frames_read, 6);
    assert_eq!(streamed, seen_while_writing);
    let mut csv = format!("{}\n", Row::csv_header(LabelSet::Seven));
    for r in &streamed {
        r.write_csv(LabelSet::Seven, &mut csv);
    }
    assert_eq!(
        csv,
        std::fs::read_to_string(dir.path().join("clip.csv")).unwrap()
    );
    // One row per face, one per faceless frame: frames 1, 3, 5, 6 without, 2 with one, 4 with two.
    assert_eq!(streamed.len(), 7);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("clip.json")).unwrap())
            .unwrap();
    assert_eq!(
        json["rows"],
        // Through text, as written (`to_value` would widen the f32s differently).
        serde_json::from_str::<serde_json::Value>(&serde_json::to_string(&streamed).unwrap())
            .unwrap(),
        "the JSON rows are the rows"
    );
    assert_eq!(json["rows"][0]["face_id"], serde_json::Value::Null);
    assert_eq!(json["rows"][1]["box"][2], 28.0);
    // An error from the caller abandons the input; nothing is left under a final name.
    let err = analyze_with_rows(
        Path::new("clip.mp4"),
        &mut FakeSource::new(&frames),
        &mut detector(),
        &mut model,
        &AnalyzeOptions {
            name: Some("again".into()),
            ..opts.clone()
        },
        dir.path(),
        |_| Err(wildfer_pipeline::PipelineError::Interrupted),
        |_| {},
    )
    .unwrap_err();
    assert!(matches!(err, wildfer_pipeline::PipelineError::Interrupted));
    assert!(!dir.path().join("again.csv").exists());
    assert!(!dir.path().join("again.json").exists());
}

/// A report over a corpus stays a page a browser opens: timelines and thumbnails for the first
/// `REPORT_FULL_INPUTS` inputs, tables for the rest; the CSV has every input's tracks.
#[test]
fn a_folder_report_of_many_inputs_keeps_tables_and_caps_timelines() {
    use wildfer_pipeline::analyze::{REPORT_FULL_INPUTS, write_folder_summary};
    let dir = tempfile::tempdir().unwrap();
    let s = analyze(
        Path::new("clip.mp4"),
        &mut FakeSource::new(&[Some(1), Some(2), Some(3), Some(4)]),
        &mut detector(),
        &mut FakeExpressionModel {
            probs: Probs::seven(PROBS),
        },
        &AnalyzeOptions::default(),
        dir.path(),
        |_| {},
    )
    .unwrap();
    let n = REPORT_FULL_INPUTS + 3;
    let many: Vec<_> = (0..n)
        .map(|k| {
            let mut c = s.clone();
            c.name = format!("clip{k:04}");
            c.input = PathBuf::from(format!("/corpus/clip{k:04}.mp4"));
            c
        })
        .collect();
    let out = dir.path().join("report");
    std::fs::create_dir_all(&out).unwrap();
    let (csv, html) = write_folder_summary(&out, &many).unwrap();
    let html = std::fs::read_to_string(html).unwrap();
    assert_eq!(html.matches("<h2>").count(), n, "a section per input");
    assert_eq!(html.matches("<svg").count(), REPORT_FULL_INPUTS);
    assert!(html.contains("their tables only"));
    assert!(html.trim_end().ends_with("</html>"));
    let tracks = s.track_summaries.len();
    assert_eq!(
        std::fs::read_to_string(csv).unwrap().lines().count(),
        1 + n * tracks
    );
}

/// An 8-class model is reported as one: `other` in the CSV (after `surprise`), in the JSON
/// rows, in the metadata's classes, in the rebuilt summary and in `summary.csv`; a 7-class
/// output of the same input is refused in the same folder summary.
#[test]
fn an_eight_class_model_reports_other_everywhere() {
    use wildfer_pipeline::analyze::write_folder_summary;
    let dir = tempfile::tempdir().unwrap();
    let eight = Probs::new(
        LabelSet::Eight,
        &[0.1, 0.05, 0.05, 0.05, 0.1, 0.05, 0.1, 0.5],
    )
    .unwrap();
    let s = analyze(
        Path::new("clip.mp4"),
        &mut FakeSource::new(&[Some(1), Some(2), Some(3)]),
        &mut detector(),
        &mut FakeExpressionModel { probs: eight },
        &AnalyzeOptions {
            smooth: 3,
            ..AnalyzeOptions::default()
        },
        dir.path(),
        |_| {},
    )
    .unwrap();
    let csv = std::fs::read_to_string(dir.path().join("clip.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "frame,time_s,face_id,x,y,w,h,det_score,neutral,anger,disgust,fear,happiness,sadness,surprise,other,expression"
    );
    assert_eq!(lines.next().unwrap(), "1,0.000000,,,,,,,,,,,,,,,");
    assert!(
        lines.next().unwrap().ends_with(",0.100000,0.500000,other"),
        "{csv}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("clip.json")).unwrap())
            .unwrap();
    assert_eq!(json["rows"][1]["probabilities"]["other"], 0.5);
    assert_eq!(json["rows"][1]["expression"], "other");
    assert_eq!(json["metadata"]["classes"].as_array().unwrap().len(), 8);
    assert_eq!(json["metadata"]["tracks"][0]["dominant"], "other");
    let back = wildfer_pipeline::analyze::read_output(&dir.path().join("clip.json")).unwrap();
    assert_eq!(back.timeline.classes, LabelSet::Eight);
    assert_eq!(back.timeline.to_record(), s.timeline.to_record());
    assert_eq!(back.track_summaries, s.track_summaries);
    let out = dir.path().join("report");
    std::fs::create_dir_all(&out).unwrap();
    let (summary, _) = write_folder_summary(&out, std::slice::from_ref(&s)).unwrap();
    let summary = std::fs::read_to_string(summary).unwrap();
    let header = summary.lines().next().unwrap();
    assert!(
        header.contains(",share_surprise,share_other,") && header.ends_with(",mean_other,dominant")
    );
    assert!(summary.lines().nth(1).unwrap().ends_with(",other"));
    // One table cannot hold 7- and 8-class inputs.
    let mut seven = s.clone();
    seven.timeline.classes = LabelSet::Seven;
    let err = write_folder_summary(&out, &[s, seven])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("8 classes") || err.contains("with 7 classes"),
        "{err}"
    );
}

/// A frame-level model whose answer is its crop's mean grey level: each face's own answer is
/// visible in the output. With `temporal`, it claims a window, so `analyze` hands it one frame
/// at a time.
struct ShadeModel {
    temporal: bool,
    calls: Vec<usize>,
}

impl wildfer_pipeline::ExpressionModel for ShadeModel {
    fn name(&self) -> &str {
        "shade"
    }
    fn crop(&self) -> wildfer_face::CropSpec {
        wildfer_face::CropSpec::arcface(32)
    }
    fn temporal(&self) -> bool {
        self.temporal
    }
    fn predict(
        &mut self,
        faces: &[wildfer_face::AlignedFace],
    ) -> Result<Vec<Probs>, wildfer_pipeline::PipelineError> {
        self.calls.push(faces.len());
        Ok(faces
            .iter()
            .map(|f| {
                let px = &f.rgb;
                let mean = px.iter().map(|&v| v as f32).sum::<f32>() / px.len() as f32 / 255.0;
                let mut p = [0.0; 7];
                p[0] = mean;
                p[1] = 1.0 - mean;
                Probs::seven(p)
            })
            .collect())
    }
}

#[test]
fn a_frame_level_model_gets_several_frames_per_call_and_the_same_answers() {
    let frames: Vec<Option<usize>> = (1..=20).map(Some).collect();
    let mut det = FakeDetector::default();
    for i in 1..=20 {
        let mut faces = vec![face(4.0, 0.99)];
        if i % 3 == 0 {
            faces.push(face(34.0, 0.9));
        }
        det.faces.insert(i, faces);
    }
    let mut tables = Vec::new();
    let mut calls = Vec::new();
    for temporal in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let mut model = ShadeModel {
            temporal,
            calls: Vec::new(),
        };
        let mut source = FakeSource::new(&frames);
        source.shaded = true;
        analyze(
            Path::new("clip.mp4"),
            &mut source,
            &mut det.clone(),
            &mut model,
            &AnalyzeOptions {
                smooth: 0,
                ..AnalyzeOptions::default()
            },
            dir.path(),
            |_| {},
        )
        .unwrap();
        tables.push(std::fs::read_to_string(dir.path().join("clip.csv")).unwrap());
        calls.push(model.calls);
    }
    assert_eq!(
        tables[0], tables[1],
        "batched answers land on their own faces"
    );
    assert_eq!(tables[0].lines().count(), 1 + 20 + 6);
    // Frame by frame: 20 calls of 1-2 faces; batched: frames 1-8, 9-16, 17-20 (10, 11, 5 faces).
    assert_eq!(calls[0].len(), 20);
    assert_eq!(calls[1], [10, 11, 5]);
    // The shades differ frame to frame, so a misplaced answer would show.
    let firsts: std::collections::BTreeSet<&str> = tables[1]
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(8).unwrap())
        .collect();
    assert!(firsts.len() > 10, "{firsts:?}");
}

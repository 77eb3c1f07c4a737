//! `wildfer eval` end to end: outputs, golden JSON and every bad-input case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};

const H7: &str = "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise";
const H8: &str = "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other";

mod common;
use common::run as wildfer;

fn eval(pred: &Path, truth: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "eval",
        "--pred",
        pred.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    wildfer(&args)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A bad-input run: exit code 1, one line on stderr containing every `want`, nothing on stdout.
fn assert_one_line_error((code, stdout, stderr): (i32, String, String), want: &[&str]) {
    assert_eq!(code, 1, "stderr: {stderr}");
    assert!(stdout.is_empty(), "stdout: {stdout}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr:?}"
    );
    assert!(stderr.starts_with("wildfer: error: "), "{stderr}");
    for w in want {
        assert!(stderr.contains(w), "{stderr:?} lacks {w:?}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn example(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/abaw-mini")
        .join(path)
}

#[test]
fn golden_json_for_both_example_formats() {
    // Update with WILDFER_UPDATE_GOLDEN=1 cargo test -p wildfer-cli.
    for (edition, pred) in [
        ("abaw2020", "abaw2020/pred"),
        ("abaw2022", "abaw2022/predictions.txt"),
    ] {
        let (code, stdout, stderr) =
            eval(&example(pred), &example(&format!("{edition}/truth")), &[]);
        assert_eq!(code, 0, "{stderr}");
        let golden =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/eval_{edition}.json"));
        if std::env::var_os("WILDFER_UPDATE_GOLDEN").is_some() {
            write(
                golden.parent().unwrap(),
                golden.file_name().unwrap().to_str().unwrap(),
                &stdout,
            );
        }
        let want = std::fs::read_to_string(&golden).unwrap();
        let got: Value = serde_json::from_str(&stdout).unwrap();
        let want: Value = serde_json::from_str(&want).unwrap();
        assert_eq!(
            got,
            want,
            "{edition}: output differs from {}",
            golden.display()
        );
        assert!(stderr.contains("macro F1"), "{stderr}");
    }
}

#[test]
fn required_keys_and_formats_agree() {
    let d = tempfile::tempdir().unwrap();
    let truth = d.path().join("truth");
    write(&truth, "a.txt", &format!("{H7}\n0\n4\n-1\n4\n6\n"));
    write(&truth, "b_left.txt", &format!("{H7}\n1\n1\n"));
    // The same predictions in both submission formats.
    let pred = d.path().join("pred");
    write(&pred, "a.txt", &format!("{H7}\n0\n4\n2\n5\n6\n"));
    write(&pred, "b_left.txt", &format!("{H7}\n1\n3\n"));
    let txt = write(
        d.path(),
        "predictions.txt",
        &format!(
            "image_location,{H7}\nb_left/00002.jpg,3\na/00001.jpg,0\na/00002.jpg,4\na/00004.jpg,5\na/00005.jpg,6\nb_left/00001.jpg,1\n"
        ),
    );
    let (code, out_dir, err) = eval(&pred, &truth, &[]);
    assert_eq!(code, 0, "{err}");
    let (code, out_txt, err) = eval(&txt, &truth, &[]);
    assert_eq!(code, 0, "{err}");
    let a: Value = serde_json::from_str(&out_dir).unwrap();
    let b: Value = serde_json::from_str(&out_txt).unwrap();
    assert_eq!(a, b);
    for key in [
        "frames",
        "accuracy",
        "f1_macro",
        "f1_per_class",
        "abaw2020_score",
        "confusion",
        "skipped_frames",
    ] {
        assert!(a.get(key).is_some(), "missing key {key}");
    }
    assert_eq!(a["frames"], 6);
    assert_eq!(a["skipped_frames"], 1);
    // 4 of 6 right: a: 0,4,_,4->5 wrong,6 ; b: 1, 1->3 wrong.
    assert!((a["accuracy"].as_f64().unwrap() - 4.0 / 6.0).abs() < 1e-12);
    assert_eq!(a["confusion"][4][5], 1);
    assert_eq!(a["f1_per_class"]["surprise"], 1.0);
    assert_eq!(a["f1_per_class"].as_object().unwrap().len(), 7);
    let score = a["abaw2020_score"].as_f64().unwrap();
    let f1 = a["f1_macro"].as_f64().unwrap();
    assert!((score - (0.67 * f1 + 0.33 * 4.0 / 6.0)).abs() < 1e-12);

    // --out writes the same JSON.
    let out_file = d.path().join("report.json");
    let (code, _, _) = eval(&pred, &truth, &["--out", out_file.to_str().unwrap()]);
    assert_eq!(code, 0);
    let c: Value = serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(a, c);
}

#[test]
fn missing_frames_need_allow_missing() {
    let d = tempfile::tempdir().unwrap();
    let truth = d.path().join("truth");
    write(&truth, "a.txt", &format!("{H8}\n7\n7\n0\n"));
    write(&truth, "b.txt", &format!("{H8}\n1\n"));
    let pred = write(
        d.path(),
        "predictions.txt",
        &format!("image_location,{H8}\na/00001.jpg,7\na/00003.jpg,0\nb/00001.jpg,1\n"),
    );
    assert_one_line_error(
        eval(&pred, &truth, &[]),
        &[
            "predictions.txt against",
            "video \"a\": no prediction for annotated frame 2",
            "--allow-missing",
        ],
    );
    let (code, out, err) = eval(&pred, &truth, &["--allow-missing"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["frames"], 4);
    assert_eq!(v["missing_frames"], 1);
    assert!((v["accuracy"].as_f64().unwrap() - 0.75).abs() < 1e-12);
    assert_eq!(v["abaw2022_score"], v["f1_macro"]);

    // A whole video missing.
    let only_a = write(
        d.path(),
        "only_a.txt",
        &format!("image_location,{H8}\na/00001.jpg,7\na/00002.jpg,7\na/00003.jpg,0\n"),
    );
    assert_one_line_error(
        eval(&only_a, &truth, &[]),
        &["only_a.txt against", "no video \"b\""],
    );
    let (code, out, _) = eval(&only_a, &truth, &["--allow-missing"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["missing_videos"], serde_json::json!(["b"]));
}

#[test]
fn bad_input_gives_one_line_errors() {
    let d = tempfile::tempdir().unwrap();
    let good = d.path().join("good");
    write(&good, "a.txt", &format!("{H7}\n0\n1\n"));
    let bad = |name: &str, text: &str| {
        let dir = d.path().join(name);
        write(&dir, "a.txt", text);
        dir
    };
    let cases: Vec<(PathBuf, Vec<&str>)> = vec![
        (
            bad("header", "Neutral,Happy,Sad\n0\n1\n"),
            vec!["a.txt:1: expected header"],
        ),
        (
            bad("nonint", &format!("{H7}\n0\nhappy\n")),
            vec!["a.txt:3: expected an integer label, found \"happy\""],
        ),
        (
            bad("range", &format!("{H7}\n0\n9\n")),
            vec!["a.txt:3: label 9 is out of range"],
        ),
        (bad("empty", ""), vec!["a.txt: empty file"]),
        (
            bad("headeronly", &format!("{H7}\n")),
            vec!["a.txt: header only"],
        ),
        (
            bad("other_in_7", &format!("{H7}\n7\n1\n")),
            vec!["a.txt:2: label 7 is out of range"],
        ),
    ];
    for (dir, want) in cases {
        // As predictions and as truth.
        let mut w = want.clone();
        w.push("reading the predictions");
        assert_one_line_error(eval(&dir, &good, &[]), &w);
        let mut w = want.clone();
        w.push("reading the truth");
        assert_one_line_error(eval(&good, &dir, &[]), &w);
    }

    // A folder with no annotation files.
    let none = d.path().join("none");
    write(&none, "notes.md", "hello");
    assert_one_line_error(eval(&none, &good, &[]), &["none: no annotation files"]);
    // Unreadable / missing paths.
    let missing = d.path().join("does-not-exist");
    assert_one_line_error(
        eval(&missing, &good, &[]),
        &["does-not-exist", "No such file"],
    );
    assert_one_line_error(
        eval(&good, &missing, &[]),
        &["does-not-exist", "reading the truth"],
    );
    // Binary junk.
    let junk = write(d.path(), "junk.txt", "\u{0}\u{1}garbage\u{ff}");
    assert_one_line_error(eval(&junk, &good, &[]), &["junk.txt"]);

    // Mismatched video sets.
    let extra = d.path().join("extra");
    write(&extra, "a.txt", &format!("{H7}\n0\n1\n"));
    write(&extra, "zzz.txt", &format!("{H7}\n0\n"));
    assert_one_line_error(
        eval(&extra, &good, &[]),
        &["video \"zzz\", which is not in the truth"],
    );
    assert_one_line_error(
        eval(&good, &extra, &[]),
        &["no video \"zzz\"", "--allow-missing"],
    );
    // Longer prediction than truth.
    let long = bad("long", &format!("{H7}\n0\n1\n2\n"));
    assert_one_line_error(
        eval(&long, &good, &[]),
        &["prediction for frame 3, but the truth has only 2 frames"],
    );
    // 7 vs 8 classes.
    let eight = bad("eight", &format!("{H8}\n0\n1\n"));
    assert_one_line_error(
        eval(&eight, &good, &[]),
        &["prediction has 8 classes but 7 are expected (as in the truth)"],
    );
    assert_one_line_error(
        eval(&good, &good, &["--classes", "8"]),
        &["truth has 7 classes but 8 are expected (as asked)"],
    );
    // Mixed label sets in one folder.
    let mixed = d.path().join("mixed");
    write(&mixed, "a.txt", &format!("{H7}\n0\n1\n"));
    write(&mixed, "b.txt", &format!("{H8}\n0\n"));
    assert_one_line_error(
        eval(&mixed, &good, &[]),
        &["b.txt: has 8 classes but other files in the folder have 7"],
    );
    // All truth frames unannotated.
    let unannotated = bad("unannotated", &format!("{H7}\n-1\n-1\n"));
    assert_one_line_error(eval(&good, &unannotated, &[]), &["no annotated frame"]);
    // Output path in a folder that does not exist.
    let bad_out = d.path().join("no/such/dir/report.json");
    assert_one_line_error(
        eval(&good, &good, &["--out", bad_out.to_str().unwrap()]),
        &["report.json"],
    );
}

#[test]
fn bad_classes_flag_is_a_usage_error() {
    let (code, stdout, stderr) =
        wildfer(&["eval", "--pred", "x", "--truth", "y", "--classes", "6"]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(stderr.contains("expected 7 or 8"), "{stderr}");
}

#[test]
fn bench_models_runs_and_reports_json() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("bench.json");
    let (code, stdout, stderr) = wildfer(&[
        "bench",
        "models",
        "--runs",
        "1",
        "--size",
        "32",
        "--cases",
        "resnet18_forward",
        "--no-reference",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("resnet18_forward"), "{stdout}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(v["wildfer"][0]["case"], "resnet18_forward");
    assert_eq!(v["wildfer"][0]["runs_ms"].as_array().unwrap().len(), 1);
    assert!(v["wildfer"][0]["runs_ms"][0].as_f64().unwrap() > 0.0);
    assert!(v["reference"].is_null());

    // The reference side is a script of reference/, read at run time: found there (this
    // machine's python3 may lack PyTorch; either way the script ran), and outside a checkout
    // the JSON says where to look instead.
    let bench_in = |cwd: &std::path::Path, env: Option<&std::path::Path>| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_wildfer"));
        c.current_dir(cwd).env_remove("WILDFER_REFERENCE_DIR");
        if let Some(e) = env {
            c.env("WILDFER_REFERENCE_DIR", e);
        }
        let o = c
            .args(["bench", "models", "--runs", "1", "--size", "32"])
            .args([
                "--cases",
                "resnet18_forward",
                "--out",
                out.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        (
            v["reference"].is_null(),
            v["reference_error"].as_str().map(str::to_string),
        )
    };
    let (no_ref, err) = bench_in(d.path(), None);
    let err = err.unwrap_or_default();
    assert!(no_ref && err.contains("no reference scripts here"), "{err}");
    let checkout = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../reference");
    let (no_ref, err) = bench_in(d.path(), Some(&checkout));
    assert!(
        !no_ref || !err.unwrap_or_default().contains("no reference scripts"),
        "the scripts of reference/ were found"
    );

    let (code, _, stderr) = wildfer(&["bench", "models", "--cases", "nope", "--no-reference"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("none of the given names is a case"),
        "{stderr}"
    );
}

#[test]
fn models_lists_and_shows_presets() {
    let (code, stdout, stderr) = wildfer(&["models"]);
    assert_eq!(code, 0, "{stderr}");
    // The built-in models `--model` takes, each with its line, before the presets.
    for name in wildfer_pipeline::BUILTIN_MODELS {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing from {stdout}"));
        assert!(line.len() > name.len() + 20, "{line}");
    }
    assert!(stdout.find("faceapi-resnet34-fer2013-sfew") < stdout.find("method_a_resnet101"));
    for name in [
        "method_a_resnet101_cbam_bilstm",
        "method_b_ensemble",
        "method_c_llam",
        "method_d_senet50",
    ] {
        assert!(stdout.contains(name), "{name} missing from {stdout}");
    }
    let (code, stdout, _) = wildfer(&["models", "--show", "method_b_cnn_transformer"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["kind"], "clip");
    assert_eq!(v["head"]["kind"], "transformer");
    assert_eq!(v["window"], 9);
    assert_one_line_error(
        wildfer(&["models", "--show", "method_x"]),
        &["unknown preset \"method_x\""],
    );
}

#[test]
fn closed_stdout_is_not_a_crash() {
    // `wildfer eval ... | head -0`: the reader is gone before the JSON is written.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wildfer"))
        .args(["eval", "--pred"])
        .arg(example("abaw2022/predictions.txt"))
        .arg("--truth")
        .arg(example("abaw2022/truth"))
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

//! Tests on real human-labelled faces (FER2013, SFEW 2.0), which are not in the repository:
//! `make test-real` runs them (with `--ignored`) against the release binary, with the data
//! folder in `WILDFER_REAL_DATA` (default `../shared/data` from the repository root). Without
//! the data they fail, naming what is missing; `cargo test` alone lists them as ignored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The labelled data; a missing folder fails the test.
fn data() -> PathBuf {
    let d = std::env::var_os("WILDFER_REAL_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/data"));
    assert!(
        d.join("fer2013/test").is_dir() && d.join("fer2013/train").is_dir(),
        "real labelled data not found in {} (set WILDFER_REAL_DATA to the folder holding fer2013/ and sfew2/)",
        d.display()
    );
    d
}

/// The binary under test: `WILDFER_BIN` (the release build, as `make test-real` sets it), else
/// this test build's.
fn wildfer(args: &[&str]) -> (i32, String, String) {
    let bin = std::env::var_os("WILDFER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_wildfer")));
    let out = Command::new(bin).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A fixed, class-mixed subset: of the images of `dir/<class>/` whose name
/// starts with `prefix`, sorted by file name (FER2013's names carry no class), `n` spread
/// evenly. Written as a `path label` list into `out`.
fn subset(dir: &Path, prefix: &str, n: usize, out: &Path) -> usize {
    let mut all: Vec<(String, String)> = Vec::new();
    for class in std::fs::read_dir(dir).unwrap() {
        let class = class.unwrap().path();
        let label = class.file_name().unwrap().to_string_lossy().into_owned();
        for f in std::fs::read_dir(&class).unwrap() {
            let f = f.unwrap().path();
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with(prefix) {
                all.push((name, label.clone()));
            }
        }
    }
    all.sort();
    assert!(all.len() >= n, "{}: {} images", dir.display(), all.len());
    let picked: Vec<String> = (0..n)
        .map(|i| {
            let (name, label) = &all[i * all.len() / n];
            format!("{} {label}\n", dir.join(label).join(name).display())
        })
        .collect();
    std::fs::write(out, picked.concat()).unwrap();
    n
}

fn eval_json(args: &[&str]) -> serde_json::Value {
    let (code, out, err) = wildfer(args);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// The built-in models' accuracy on a fixed 1000-image FER2013 PrivateTest subset (faces given
/// as crops) stays above floors pinned from measurement (`wildfer eval-images --crops` on this
/// subset, 2026-12-06: mini-xception-fer2013 0.667, resnet18-fer2013-sfew 0.638; 2026-12-07:
/// faceapi-resnet34-fer2013-sfew 0.685 and the default, two thirds of it and a third
/// mini-Xception, 0.709 (the previous default 0.684, the one before 0.637);
/// faceapi-resnet34-fer2013 0.700; floors about 2 points lower, for arithmetic differences
/// between CPUs).
#[test]
#[ignore = "needs the real labelled data: make test-real"]
fn builtin_models_hold_their_fer2013_accuracy() {
    let data = data();
    let tmp = tempfile::tempdir().unwrap();
    let list = tmp.path().join("private1000.txt");
    subset(&data.join("fer2013/test"), "PrivateTest_", 1000, &list);
    for (model, floor) in [
        ("mini-xception-fer2013", 0.645),
        ("resnet18-fer2013-sfew", 0.615),
        ("faceapi-resnet34-fer2013-sfew", 0.665),
        ("faceapi-resnet34-fer2013", 0.68),
        ("default", 0.69),
    ] {
        let r = eval_json(&[
            "eval-images",
            "--data",
            list.to_str().unwrap(),
            "--crops",
            "--model",
            model,
        ]);
        let acc = r["accuracy"].as_f64().unwrap();
        eprintln!("{model}: accuracy {acc} on the PrivateTest subset");
        assert_eq!(r["frames"], 1000);
        assert!(acc >= floor, "{model}: accuracy {acc} < {floor}");
    }
}

/// A short still-image run on a FER2013 slice learns: accuracy on held-out PublicTest images
/// well above the majority class's share (happiness, about 0.25).
#[test]
#[ignore = "needs the real labelled data: make test-real"]
fn training_on_a_fer2013_slice_learns() {
    let data = data();
    let tmp = tempfile::tempdir().unwrap();
    let (train, val) = (tmp.path().join("train.txt"), tmp.path().join("val.txt"));
    subset(&data.join("fer2013/train"), "", 4000, &train);
    subset(&data.join("fer2013/test"), "PublicTest_", 500, &val);
    let cfg = tmp.path().join("slice.toml");
    std::fs::write(
        &cfg,
        r#"seed = 3
[model]
classes = 7
input_size = 48
[model.network]
kind = "clip"
num_classes = 7
window = 1
[model.network.backbone]
family = "resnet"
block = "basic"
layers = [1, 1, 1, 1]
[model.network.head]
kind = "frame"
[data]
[data.images]
list = "train.txt"
[data.val_images]
list = "val.txt"
[optim]
kind = "adamw"
lr = 0.002
weight_decay = 0.0001
[schedule]
kind = "cosine"
warmup_iters = 20
[augment]
crop_scale = 0.85
[run]
iterations = 300
batch_size = 32
checkpoint_every = 300
eval_every = 300
metric = "accuracy"
"#,
    )
    .unwrap();
    let run = tmp.path().join("run");
    let (code, _, err) = wildfer(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let r = eval_json(&[
        "eval-images",
        "--data",
        val.to_str().unwrap(),
        "--crops",
        "--model",
        run.to_str().unwrap(),
    ]);
    let acc = r["accuracy"].as_f64().unwrap();
    eprintln!("FER2013 slice: held-out accuracy {acc} after 300 steps");
    assert!(acc >= 0.40, "accuracy {acc} after 300 steps: {r}");
    // The trainer's own validation saw the same images the same way.
    let log = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let eval_line = log.lines().rfind(|l| l.contains("\"eval\"")).unwrap();
    let e: serde_json::Value = serde_json::from_str(eval_line).unwrap();
    assert!(
        (e["accuracy"].as_f64().unwrap() - acc).abs() < 0.03,
        "trainer {e} vs eval-images {acc}"
    );
}

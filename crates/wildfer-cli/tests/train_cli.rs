//! `wildfer synth` -> `train` (stopped and resumed) -> `predict` -> `eval`, end to end through
//! the binary, and one-line errors for bad run configurations.
#![allow(clippy::unwrap_used)]

mod common;
use common::run;
use std::path::{Path, PathBuf};
use std::process::Command;

fn config(root: &Path) -> String {
    format!(
        r#"
seed = 3
[model]
input_size = 32
[model.network]
kind = "clip"
num_classes = 7
window = 3
[model.network.backbone]
family = "mini_xception"
[model.network.head]
kind = "rnn"
cell = "gru"
hidden = 8
output = "middle"
[data]
root = "{}"
sampling = "sequential"
stride = 2
[data.images]
folders = "{}"
per_step = 1
[run]
iterations = 4
batch_size = 2
checkpoint_every = 2
"#,
        root.display(),
        root.join("stills").display()
    )
}

#[test]
fn synth_train_resume_predict_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::synth_small(tmp.path());
    let d = data.to_str().unwrap();
    // A still-image set (a folder per class) mixed into every step.
    for (class, video) in [("happy", "synth_t_000"), ("neutral", "synth_t_001")] {
        let dir = data.join("stills").join(class);
        std::fs::create_dir_all(&dir).unwrap();
        let src = data.join("cropped_aligned").join(video);
        let first = std::fs::read_dir(&src)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        std::fs::copy(first, dir.join("a.jpg")).unwrap();
    }
    let cfg = tmp.path().join("run.toml");
    std::fs::write(&cfg, config(&data)).unwrap();
    let c = cfg.to_str().unwrap();
    let out = tmp.path().join("run");
    let o = out.to_str().unwrap();
    let (code, _, err) = run(&["train", "--config", c, "--out", o, "--stop-after", "2"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("2 steps done"), "{err}");
    let (code, _, err) = run(&["train", "--config", c, "--out", o]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--resume") && err.lines().count() == 1,
        "{err}"
    );
    let (code, _, err) = run(&["train", "--config", c, "--out", o, "--resume"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("4 steps done") && err.contains("best checkpoint"),
        "{err}"
    );
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert_eq!(
        metrics.lines().filter(|l| l.contains("\"step\"")).count(),
        4
    );

    let pred = tmp.path().join("pred");
    let p = pred.to_str().unwrap();
    let (code, _, err) = run(&[
        "predict",
        "--run",
        o,
        "--data",
        d,
        "--out",
        p,
        "--smooth",
        "3",
        "--gaussian",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("macro F1"), "{err}");
    let ann = std::fs::read_dir(pred.join("abaw2020")).unwrap().count();
    let csv = std::fs::read_dir(pred.join("probabilities"))
        .unwrap()
        .count();
    assert!(
        ann >= 1 && ann == csv,
        "{ann} annotation files, {csv} probability files"
    );
    assert!(pred.join("scores.json").is_file());
    // The submission scores the same through `wildfer eval`.
    let truth = data.join("annotations/EXPR_Set/Validation_Set");
    let (code, stdout, err) = run(&[
        "eval",
        "--pred",
        pred.join("predictions.txt").to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let a: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let b: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pred.join("scores.json")).unwrap()).unwrap();
    assert_eq!(a["f1_macro"], b["f1_macro"]);
    assert_eq!(a["accuracy"], b["accuracy"]);

    // An ensemble: two checkpoints of the run, their per-frame probabilities averaged.
    let mut cks: Vec<PathBuf> = std::fs::read_dir(out.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("model.bpk").is_file())
        .collect();
    cks.sort();
    assert!(cks.len() >= 2, "{cks:?}");
    let probs_of = |models: &str, name: &str| {
        let dir = tmp.path().join(name);
        let (code, _, err) = run(&[
            "predict",
            "--run",
            models,
            "--data",
            d,
            "--out",
            dir.to_str().unwrap(),
            "--smooth",
            "0",
        ]);
        assert_eq!(code, 0, "{err}");
        let mut all = Vec::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("probabilities"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            for line in std::fs::read_to_string(f).unwrap().lines().skip(1) {
                all.extend(line.split(',').skip(1).map(|v| v.parse::<f32>().unwrap()));
            }
        }
        all
    };
    let (a, b) = (cks[0].to_str().unwrap(), cks[1].to_str().unwrap());
    let pa = probs_of(a, "ens_a");
    let pb = probs_of(b, "ens_b");
    let both = probs_of(&format!("{a},{b}"), "ens_ab");
    assert_eq!(both.len(), pa.len());
    assert!(pa != pb, "two different checkpoints");
    for ((x, y), m) in pa.iter().zip(&pb).zip(&both) {
        assert!(((x + y) / 2.0 - m).abs() < 2e-6, "{x} {y} -> {m}");
    }

    // Issue 18, item 11: a test set has crops but no labels. The validation videos listed
    // (names as in cropped_aligned/), predicted without their labels.
    let names: Vec<String> = std::fs::read_dir(&truth)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let list = tmp.path().join("test_videos.txt");
    let listed: Vec<String> = names.iter().map(|n| format!("{n}.mp4")).collect();
    std::fs::write(&list, format!("# test set\n{}\n\n", listed.join("\n"))).unwrap();
    let l = list.to_str().unwrap();
    let unl = tmp.path().join("unlabelled");
    let u = unl.to_str().unwrap();
    let predict_unlabelled = |extra: &[&str]| {
        let mut args = vec![
            "predict",
            "--run",
            o,
            "--data",
            d,
            "--videos",
            l,
            "--out",
            u,
            "--smooth",
            "3",
            "--gaussian",
        ];
        args.extend(extra);
        run(&args)
    };
    let (code, _, err) = predict_unlabelled(&[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("nothing scored") && err.contains("ends at its last face crop"),
        "{err}"
    );
    assert!(!unl.join("scores.json").exists());
    for name in &names {
        // Without the raw video, a video ends at its last crop.
        let last = std::fs::read_dir(data.join("cropped_aligned").join(name))
            .unwrap()
            .filter_map(|e| {
                let n = e.unwrap().file_name().to_string_lossy().into_owned();
                n.strip_suffix(".jpg")?.parse::<usize>().ok()
            })
            .max()
            .unwrap();
        let sub =
            std::fs::read_to_string(unl.join("abaw2020").join(format!("{name}.txt"))).unwrap();
        assert_eq!(
            sub.lines().count(),
            last + 1,
            "{name}: header + {last} frames"
        );
    }
    let (code, _, err) = run(&[
        "predict", "--run", o, "--data", d, "--videos", l, "--split", "train", "--out", u,
    ]);
    assert_eq!(code, 2, "--videos and --split together: {err}");
    if wildfer_video::ffmpeg::available() {
        // With the raw videos (30 frames each, as the annotations say), the submissions are
        // exactly the labelled run's; a listed video without any crop is all neutral.
        let raw = tmp.path().join("raw");
        std::fs::create_dir_all(&raw).unwrap();
        std::fs::create_dir_all(data.join("cropped_aligned/no_faces")).unwrap();
        let mut all = names.clone();
        all.push("no_faces".into());
        for name in &all {
            let made = Command::new("ffmpeg")
                .args([
                    "-v",
                    "error",
                    "-y",
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc=size=64x64:rate=30",
                ])
                .args(["-frames:v", "30", "-c:v", "libx264", "-pix_fmt", "yuv420p"])
                .arg(raw.join(format!("{name}.mp4")))
                .status()
                .unwrap();
            assert!(made.success());
        }
        std::fs::write(&list, all.join("\n")).unwrap();
        let (code, _, err) = predict_unlabelled(&["--video-dir", raw.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains("no_faces has no face crop: its 30 frames predicted neutral"),
            "{err}"
        );
        for name in &names {
            let file = format!("abaw2020/{name}.txt");
            assert_eq!(
                std::fs::read_to_string(unl.join(&file)).unwrap(),
                std::fs::read_to_string(pred.join(&file)).unwrap(),
                "{name}"
            );
        }
        let neutral = std::fs::read_to_string(unl.join("abaw2020/no_faces.txt")).unwrap();
        assert_eq!(neutral.lines().skip(1).collect::<Vec<_>>(), vec!["0"; 30]);
        let rows = std::fs::read_to_string(unl.join("predictions.txt")).unwrap();
        assert_eq!(
            rows.lines().count(),
            1 + 30 * all.len(),
            "header + a row per frame"
        );
    }

    // The trained run as analyze's expression model, on a real multi-face still.
    let still = wildfer_video::test_media("multi_face.jpg");
    let an = tmp.path().join("an");
    let (code, _, err) = run(&[
        "analyze",
        still.to_str().unwrap(),
        "--model",
        o,
        "--out",
        an.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(an.join("multi_face.json")).unwrap())
            .unwrap();
    let model = json["metadata"]["model"].as_str().unwrap();
    assert!(
        model.contains("best-000004") && model.contains("GRU 8 head"),
        "{model}"
    );
    let csv = std::fs::read_to_string(an.join("multi_face.csv")).unwrap();
    assert!(csv.lines().count() > 3, "several faces: {csv}");
}

#[test]
fn bad_configs_are_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("bad.toml");
    for (text, want) in [
        (
            "[model]\npreset = \"nope\"\n[data]\nroot = \"x\"\n[run]\niterations = 1\n",
            "nope",
        ),
        (
            "[model]\npreset = \"method_b_cnn\"\n[data]\nroot = \"x\"\n[run]\niterations = 1\nbatch = 3\n",
            "line 7",
        ),
        ("not toml at all [", "bad.toml"),
    ] {
        std::fs::write(&cfg, text).unwrap();
        let (code, _, err) = run(&[
            "train",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            tmp.path().join("r").to_str().unwrap(),
        ]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains(want) && err.contains("bad.toml"), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    // A data root without the Aff-Wild2 layout.
    std::fs::write(
        &cfg,
        "[model]\npreset = \"method_b_cnn\"\n[data]\nroot = \"/nonexistent\"\n[run]\niterations = 1\n",
    )
    .unwrap();
    let (code, _, err) = run(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        tmp.path().join("r").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

/// `--device` is checked before anything runs; burn's `BURN_DEVICE` variable (which makes
/// `Device::default()` panic on names it does not know) has no effect on wildfer.
#[test]
fn device_choice_is_explicit() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("run.toml");
    std::fs::write(&cfg, config(tmp.path())).unwrap();
    let c = cfg.to_str().unwrap();
    let (code, _, err) = run(&["train", "--config", c, "--device", "gpu7"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown device \"gpu7\""), "{err}");
    if !cfg!(feature = "cuda") {
        let (code, _, err) = run(&["train", "--config", c, "--device", "cuda"]);
        assert_eq!(code, 1);
        assert!(
            err.contains("built without CUDA") && err.lines().count() == 1,
            "{err}"
        );
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wildfer"))
        .arg("models")
        .env("BURN_DEVICE", "no-such-backend")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Lines of kind `kind` in a run's metrics log.
fn logged(out: &Path, kind: &str) -> usize {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&format!("\"kind\":\"{kind}\"")))
        .count()
}

/// The still-image set `config` mixes in: one synthetic crop as `stills/happy/a.jpg`.
fn with_one_still(data: &Path) {
    std::fs::create_dir_all(data.join("stills/happy")).unwrap();
    let first = std::fs::read_dir(data.join("cropped_aligned/synth_t_000"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::copy(first, data.join("stills/happy/a.jpg")).unwrap();
}

#[test]
fn sigterm_checkpoints_the_current_step_and_a_second_train_is_locked_out() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::synth_small(tmp.path());
    with_one_still(&data);
    // Many steps, checkpoints only every 1000: a checkpoint at the interrupted step can only
    // come from the signal.
    let text = config(&data)
        .replace("iterations = 4", "iterations = 100000")
        .replace("checkpoint_every = 2", "checkpoint_every = 1000");
    let cfg = tmp.path().join("run.toml");
    std::fs::write(&cfg, text).unwrap();
    let out = tmp.path().join("run");
    let (c, o) = (cfg.to_str().unwrap(), out.to_str().unwrap());
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_wildfer"))
        .args(["train", "--config", c, "--out", o])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while logged(&out, "step") < 3 {
        assert!(t0.elapsed().as_secs() < 300, "no training steps logged");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // A second training into the running one's folder is refused, naming the folder.
    let (code, _, err) = run(&["train", "--config", c, "--out", o, "--resume"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("in use by `wildfer train`") && err.contains(o) && err.lines().count() == 1,
        "{err}"
    );
    let (code, err) = common::signal_and_wait(child, "-TERM");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("interrupted: stopped after step") && err.contains("--resume"),
        "{err}"
    );
    let latest = std::fs::read_to_string(out.join("latest")).unwrap();
    let steps: usize = latest
        .trim()
        .strip_prefix("iter-")
        .unwrap()
        .parse()
        .unwrap();
    assert!((3..1000).contains(&steps), "{latest}");
    assert!(err.contains(&format!("after step {steps} ")), "{err}");
    // The lock went with the process: a resume continues from that step.
    let (code, _, err) = run(&[
        "train",
        "--config",
        c,
        "--out",
        o,
        "--resume",
        "--stop-after",
        &(steps + 1).to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("{} steps done", steps + 1)), "{err}");
}

/// Issue 21, item 4: a seed sweep as an array job needs `--seed`; the run keeps it, so a
/// requeued task resumes only with the same seed.
#[test]
fn seed_override_is_saved_and_required_on_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::synth_small(tmp.path());
    with_one_still(&data);
    let cfg = tmp.path().join("run.toml");
    std::fs::write(&cfg, config(&data)).unwrap();
    let (c, out) = (cfg.to_str().unwrap(), tmp.path().join("run"));
    let o = out.to_str().unwrap();
    let (code, _, err) = run(&[
        "train",
        "--config",
        c,
        "--out",
        o,
        "--seed",
        "7",
        "--stop-after",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    let saved = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(saved.lines().any(|l| l.trim() == "seed = 7"), "{saved}");
    let (code, _, err) = run(&["train", "--config", c, "--out", o, "--resume"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("differs from the configuration given"),
        "{err}"
    );
    let (code, _, err) = run(&[
        "train", "--config", c, "--out", o, "--resume", "--seed", "7",
    ]);
    assert_eq!(code, 0, "{err}");
}

//! Proof of learning on `wildfer synth` data: a small clip model trained from scratch on CPU
//! reaches a macro F1 >= 0.9 on the synthetic validation split; a run stopped and resumed ends
//! with exactly the weights of an uninterrupted one.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use wildfer_data::{SynthOptions, generate};
use wildfer_labels::LabelSet;
use wildfer_train::checkpoint::{self, RunDir};
use wildfer_train::{Event, TrainConfig, TrainOptions, train};

fn synth(root: &Path, videos: (usize, usize), frames: usize, size: usize) {
    generate(
        root,
        &SynthOptions {
            videos,
            frames,
            label_set: LabelSet::Seven,
            size,
            seed: 3,
        },
    )
    .unwrap();
}

/// Method A's network on a 4-block ResNet (one basic block per stage) over 4-frame clips.
fn method_a_config(root: &Path, extra: &str) -> TrainConfig {
    let text = format!(
        r#"
seed = 7
[model]
classes = 7
input_size = 48
[model.network]
kind = "method_a"
lstm_hidden = 32
fc_hidden = 32
num_classes = 7
clip_len = 4
[model.network.backbone]
block = "basic"
layers = [1, 1, 1, 1]
[data]
root = "{}"
workers = 2
[optim]
kind = "adamw"
lr = 0.002
weight_decay = 0.0001
[schedule]
kind = "cosine"
warmup_iters = 10
[augment]
crop_scale = 0.9
jitter = 0.1
{extra}
"#,
        root.display()
    );
    TrainConfig::from_toml(&text, Path::new("test.toml")).unwrap()
}

/// A clip model on the FER2013-pretrained mini-Xception backbone (the small CPU preset), a
/// BiLSTM over 4-frame windows, AdamW with warm-up and cosine decay, probabilities smoothed over
/// 5 frames at evaluation.
const LEARN: &str = r#"
seed = 7
[model]
classes = 7
input_size = 48
[model.network]
kind = "clip"
num_classes = 7
window = 4
[model.network.backbone]
family = "mini_xception"
pretrained = true
[model.network.head]
kind = "rnn"
cell = "lstm"
hidden = 32
bidirectional = true
[data]
root = "ROOT"
[optim]
kind = "adamw"
lr = 0.003
[schedule]
kind = "cosine"
warmup_iters = 10
[run]
iterations = 150
batch_size = 8
eval_every = 75
checkpoint_every = 75
[eval]
smooth = 5
"#;

#[test]
fn learns_synthetic_expressions() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // 24 training and 8 validation videos (two-person videos split into _left/_right).
    synth(&data, (18, 6), 100, 64);
    let text = LEARN.replace("ROOT", &data.display().to_string());
    let cfg = TrainConfig::from_toml(&text, Path::new("learn.toml")).unwrap();
    let run = tmp.path().join("run");
    let mut evals = Vec::new();
    let mut steps = 0;
    let summary = train(&cfg, &run, &TrainOptions::default(), &mut |e| match e {
        Event::Evaluated(e) => evals.push(e),
        Event::Step(_) => steps += 1,
        _ => {}
    })
    .unwrap();
    eprintln!("{evals:#?}");
    assert_eq!(steps, 150);
    assert_eq!(evals.len(), 2);
    let last = summary.last_eval.unwrap();
    assert!(
        last.f1_macro >= 0.9,
        "validation macro F1 {}",
        last.f1_macro
    );
    assert!(last.frames > 600, "the whole validation split is scored");
    // The best checkpoint holds the config, PyTorch-named weights and loads back.
    let best = summary.best_checkpoint.unwrap();
    assert!(best.join("model.safetensors").is_file());
    let dev = burn::tensor::Device::default();
    let (c2, _net, state, _) = checkpoint::load(&run, &dev).unwrap();
    assert_eq!(c2, cfg);
    assert!(state.best_score.unwrap() >= last.score - 1e-9);
    // The metrics log has every step and both evaluations.
    let log = std::fs::read_to_string(RunDir::new(&run).metrics()).unwrap();
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("\"kind\":\"step\""))
            .count(),
        150
    );
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("\"kind\":\"eval\""))
            .count(),
        2
    );
}

/// Run `f` on a one-thread rayon pool. Parallel reductions (flex's sums, GEMMs split across
/// threads) add in an order that depends on work stealing, so with two threads two identical
/// runs may differ in the last bits; on one thread every run is bit-for-bit repeatable, which
/// is what the resume test needs to compare runs exactly.
fn serial<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn resumed_run_equals_uninterrupted_run() {
    serial(resumed_run_equals_uninterrupted_run_serial);
}

fn resumed_run_equals_uninterrupted_run_serial() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, (3, 2), 30, 40);
    let mut cfg = method_a_config(
        &data,
        "[run]\niterations = 6\nbatch_size = 2\ncheckpoint_every = 2\n",
    );
    cfg.model.input_size = 32;
    cfg.optim.kind = wildfer_train::config::OptimKind::Sgd;
    let whole = tmp.path().join("whole");
    train(&cfg, &whole, &TrainOptions::default(), &mut |_| {}).unwrap();
    let parts = tmp.path().join("parts");
    let stop = |n| TrainOptions {
        resume: n > 3,
        stop_after: Some(n),
        device: None,
        replica_devices: Vec::new(),
        stop: None,
    };
    let s = train(&cfg, &parts, &stop(3), &mut |_| {}).unwrap();
    assert_eq!(s.state.iteration, 3);
    // Resuming with another configuration is refused.
    let mut other = cfg.clone();
    other.seed += 1;
    let e = train(&other, &parts, &stop(6), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("differs"), "{e}");
    // Starting over in a run directory is refused too.
    let e = train(&cfg, &parts, &TrainOptions::default(), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("--resume"), "{e}");
    let s = train(&cfg, &parts, &stop(6), &mut |_| {}).unwrap();
    assert_eq!(s.state.iteration, 6);
    // Compare tensor values by name (burnpack files also hold each run's random parameter ids).
    let model = |run: &Path| {
        let dir = RunDir::new(run).resolve("latest").unwrap().unwrap();
        let (_, net, _, _) = checkpoint::load(&dir, &burn::tensor::Device::default()).unwrap();
        checkpoint::named_tensors(&net)
    };
    let (a, b) = (model(&whole), model(&parts));
    assert_eq!(a.len(), b.len());
    assert!(a.len() > 40);
    for ((na, va), (nb, vb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(
            va == vb,
            "{na}: resumed weights differ from the uninterrupted run's"
        );
    }
    // Identical metrics logs (steps 1-6 once each, same losses).
    let log = |run: &Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(RunDir::new(run).metrics())
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                let o = v.as_object_mut().unwrap();
                o.remove("frames_per_s");
                o.remove("wait_s");
                v
            })
            .collect()
    };
    let (la, lb) = (log(&whole), log(&parts));
    assert_eq!(la.len(), 7);
    assert_eq!(la, lb);
}

#[test]
fn corrupt_crops_are_counted_and_divergence_keeps_the_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, (3, 2), 30, 40);
    // Every crop of one training video and one validation crop are not JPEGs.
    let crops = data.join("cropped_aligned");
    let mut videos: Vec<_> = std::fs::read_dir(&crops)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    videos.sort();
    let train_video = videos
        .iter()
        .find(|p| p.to_string_lossy().contains("synth_t_000"))
        .unwrap();
    for f in std::fs::read_dir(train_video).unwrap() {
        std::fs::write(f.unwrap().path(), b"not a jpeg").unwrap();
    }
    let val_video = videos
        .iter()
        .find(|p| p.to_string_lossy().contains("synth_v_000"))
        .unwrap();
    std::fs::write(val_video.join("00001.jpg"), b"").unwrap();

    let mut cfg = method_a_config(
        &data,
        "[run]\niterations = 4\nbatch_size = 4\ncheckpoint_every = 2\n",
    );
    cfg.model.input_size = 32;
    let mut bad_eval = 0;
    let s = train(
        &cfg,
        &tmp.path().join("run"),
        &TrainOptions::default(),
        &mut |e| {
            if let Event::Evaluated(e) = e {
                bad_eval = e.bad_crops;
            }
        },
    )
    .unwrap();
    assert!(
        s.state.bad_frames > 0,
        "the corrupt video was sampled and its frames counted"
    );
    assert!(bad_eval >= 1, "the corrupt validation crop is counted");

    // A learning rate that blows the weights up: training stops with a clear error and the
    // latest checkpoint is a finite one.
    cfg.optim.kind = wildfer_train::config::OptimKind::Sgd;
    cfg.optim.lr = 1e12;
    cfg.run.iterations = 30;
    cfg.run.checkpoint_every = 1;
    let run = tmp.path().join("diverged");
    let e = train(&cfg, &run, &TrainOptions::default(), &mut |_| {}).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, wildfer_train::TrainError::Diverged(_)), "{msg}");
    assert!(msg.contains("last good"), "{msg}");
    if let Some(dir) = RunDir::new(&run).resolve("latest").unwrap() {
        let (_, net, _, _) = checkpoint::load(&dir, &burn::tensor::Device::default()).unwrap();
        assert_eq!(checkpoint::first_non_finite(&net), None);
    }
}

#[test]
fn checkpoint_of_another_architecture_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = burn::tensor::Device::default();
    let a = method_a_config(tmp.path(), "[run]\niterations = 1\n");
    let net = wildfer_train::Net::init(&a.network().unwrap(), &dev, a.seed).unwrap();
    let state = checkpoint::RunState {
        iteration: 0,
        best_score: None,
        best_iteration: None,
        bad_frames: 0,
        elapsed_s: 0.0,
    };
    let dir = RunDir::new(tmp.path())
        .save("iter-000000", &net, None, &state, &a, false)
        .unwrap();
    let b = TrainConfig::from_toml(
        &LEARN
            .replace("ROOT", "x")
            .replace("iterations = 150", "iterations = 1"),
        Path::new("b.toml"),
    )
    .unwrap();
    let mut other = wildfer_train::Net::init(&b.network().unwrap(), &dev, b.seed).unwrap();
    let e = checkpoint::load_model_into(&mut other, &dir.join(checkpoint::MODEL_FILE))
        .unwrap_err()
        .to_string();
    assert!(e.contains("model.bpk") && !e.contains('\n'), "{e}");
    // A truncated model file is an error naming it, not a panic.
    let path = dir.join(checkpoint::MODEL_FILE);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let mut same = wildfer_train::Net::init(&a.network().unwrap(), &dev, a.seed).unwrap();
    let e = checkpoint::load_model_into(&mut same, &path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("model.bpk"), "{e}");
}

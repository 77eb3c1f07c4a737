//! A trained run as the expression stage: the per-track window it builds gives exactly the
//! network's output on that clip, history matters for temporal heads only, and `reset` forgets.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use wildfer::{ExpressionModel, TrainedModel};
use wildfer_face::{AlignedFace, Similarity2};
use wildfer_nn::burn::module::Module;
use wildfer_nn::burn::tensor::activation::softmax;
use wildfer_nn::burn::tensor::{Device, Tensor, TensorData};
use wildfer_train::checkpoint::{RunDir, RunState};
use wildfer_train::image::{AugDraw, prepare};
use wildfer_train::{Net, TrainConfig};

fn config(head: &str, window: usize) -> TrainConfig {
    let text = format!(
        "[model]\ninput_size = 32\n[model.network]\nkind = \"clip\"\nnum_classes = 7\nwindow = {window}\n\
         [model.network.backbone]\nfamily = \"mini_xception\"\n[model.network.head]\n{head}\n\
         [data]\nroot = \"unused\"\n[run]\niterations = 1\n"
    );
    TrainConfig::from_toml(&text, Path::new("t.toml")).unwrap()
}

/// Save a network initialised from `seed` as a checkpoint (with `model.safetensors` if
/// asked); its folder and the network.
fn checkpoint(dir: &Path, cfg: &TrainConfig, seed: u64, safetensors: bool) -> (PathBuf, Net) {
    let net = Net::init(&cfg.network().unwrap(), &Device::default(), seed).unwrap();
    let state = RunState {
        iteration: 1,
        best_score: None,
        best_iteration: None,
        bad_frames: 0,
        elapsed_s: 0.0,
    };
    let ck = RunDir::new(dir)
        .save("iter-000001", &net, None, &state, cfg, safetensors)
        .unwrap();
    (ck, net)
}

/// Save a randomly initialised network as a checkpoint and load it as an expression model.
fn model(dir: &Path, cfg: &TrainConfig) -> (TrainedModel, Net) {
    let (ck, net) = checkpoint(dir, cfg, 5, false);
    (TrainedModel::load(&ck).unwrap(), net.valid())
}

fn face(seed: u8) -> AlignedFace {
    AlignedFace {
        spec: wildfer_face::CropSpec::arcface(112),
        rgb: (0..112 * 112 * 3)
            .map(|i| ((i as u32 * (seed as u32 * 7 + 3)) % 251) as u8)
            .collect(),
        transform: Similarity2::IDENTITY,
    }
}

/// The network's probabilities at `pos` of the clip of these faces.
fn reference(net: &Net, faces: &[AlignedFace], pos: usize) -> Vec<f32> {
    let s = 32;
    let mut px = vec![0f32; faces.len() * 3 * s * s];
    for (f, o) in faces.iter().zip(px.chunks_exact_mut(3 * s * s)) {
        prepare(&f.rgb, 112, 112, s, &AugDraw::IDENTITY, o);
    }
    let x = Tensor::<5>::from_data(
        TensorData::new(px, [1, faces.len(), 3, s, s]),
        &Device::default(),
    );
    let p = softmax(net.forward(x, None), 2)
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    p[pos * 7..pos * 7 + 7].to_vec()
}

fn close(a: &[f32], b: &[f32]) {
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
    }
}

#[test]
fn per_frame_head_sees_the_track_so_far() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(
        "kind = \"rnn\"\ncell = \"lstm\"\nhidden = 8\nbidirectional = true",
        3,
    );
    let (mut m, net) = model(tmp.path(), &cfg);
    let (a, b, c, d) = (face(1), face(2), face(3), face(4));
    // Track 7 sees a, b, c, d; track 9 sees d only, in the same frames.
    let mut last = Vec::new();
    for (i, f) in [&a, &b, &c, &d].into_iter().enumerate() {
        last = m.predict_tracked(&[7, 9], &[f.clone(), d.clone()]).unwrap();
        if i == 0 {
            // One frame of history: the window repeats it.
            close(
                &last[0],
                &reference(&net, &[a.clone(), a.clone(), a.clone()], 2),
            );
        }
    }
    // The window ending at d is (b, c, d); the output is the last position's.
    close(
        &last[0],
        &reference(&net, &[b.clone(), c.clone(), d.clone()], 2),
    );
    close(
        &last[1],
        &reference(&net, &[d.clone(), d.clone(), d.clone()], 2),
    );
    assert!(
        last[0] != last[1],
        "history changes a temporal head's output"
    );
    // A new input forgets the tracks.
    m.reset();
    let again = m.predict_tracked(&[7], std::slice::from_ref(&d)).unwrap();
    close(&again[0], &last[1]);
    assert!((again[0].iter().sum::<f32>() - 1.0).abs() < 1e-5);
}

#[test]
fn middle_head_is_centred_on_the_current_frame() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(
        "kind = \"rnn\"\ncell = \"gru\"\nhidden = 8\noutput = \"middle\"",
        5,
    );
    let (mut m, net) = model(tmp.path(), &cfg);
    let f: Vec<AlignedFace> = (1..=4).map(face).collect();
    let mut out = Vec::new();
    for x in &f {
        out = m.predict_tracked(&[1], std::slice::from_ref(x)).unwrap();
    }
    // Window of 5 centred on frame 4: frames 2, 3, 4 and the unseen future repeated as 4.
    let clip = [
        f[1].clone(),
        f[2].clone(),
        f[3].clone(),
        f[3].clone(),
        f[3].clone(),
    ];
    close(&out[0], &reference(&net, &clip, 0));
}

#[test]
fn a_run_asks_for_faces_framed_as_its_training_faces() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config("kind = \"frame\"", 1);
    let (m, _) = model(&tmp.path().join("arc"), &cfg);
    assert_eq!(m.crop(), wildfer_face::CropSpec::arcface(112));
    // `model.crop` survives the checkpoint's saved config.
    cfg.model.crop = "fer2013".parse().unwrap();
    let (m, _) = model(&tmp.path().join("fer"), &cfg);
    assert_eq!(m.crop(), wildfer_face::CropSpec::FER2013);
    let text = cfg.to_toml();
    assert!(text.contains("crop = \"fer2013\""), "{text}");
    assert!(
        "sideways"
            .parse::<wildfer_train::config::Framing>()
            .is_err()
    );
}

#[test]
fn a_model_from_config_and_weights_predicts_as_its_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config("kind = \"frame\"", 1);
    let (ck, _) = checkpoint(tmp.path(), &cfg, 9, true);
    let mut from_dir = TrainedModel::load(&ck).unwrap();
    let weights = std::fs::read(ck.join("model.safetensors")).unwrap();
    let text = std::fs::read_to_string(ck.join("config.toml")).unwrap();
    let mut built = TrainedModel::from_parts("built-in", &text, &weights).unwrap();
    assert_eq!(built.name(), "built-in");
    let faces = [face(1), face(2)];
    let (a, b) = (
        from_dir.predict(&faces).unwrap(),
        built.predict(&faces).unwrap(),
    );
    for (x, y) in a.iter().zip(&b) {
        close(x, y);
    }
    // Every parameter is required: weights of another network are refused, naming the model.
    let other = config("kind = \"rnn\"\ncell = \"gru\"\nhidden = 8", 2);
    let err = TrainedModel::from_parts("built-in", &other.to_toml(), &weights)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("built-in"), "{err}");
}

//! A trained run as the expression stage: the per-track window it builds gives exactly the
//! network's output on that clip, history matters for temporal heads only, and `reset` forgets.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use wildfer_face::{AlignedFace, Similarity2};
use wildfer_nn::burn::module::Module;
use wildfer_nn::burn::tensor::activation::softmax;
use wildfer_nn::burn::tensor::{Device, Tensor, TensorData};
use wildfer_pipeline::expression::{LabelSet, Probs};
use wildfer_pipeline::{ExpressionModel, TrainedModel};
use wildfer_train::augment::{AugDraw, prepare};
use wildfer_train::checkpoint::{RunDir, RunState};
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

/// The network's probabilities at `pos` of the clip of these faces; `real` frames at the start
/// are real, the rest padding (masked).
fn reference(net: &Net, faces: &[AlignedFace], pos: usize, real: usize) -> Vec<f32> {
    let s = 32;
    let mut px = vec![0f32; faces.len() * 3 * s * s];
    for (f, o) in faces.iter().zip(px.chunks_exact_mut(3 * s * s)) {
        prepare(&f.rgb, 112, 112, s, &AugDraw::IDENTITY, o);
    }
    let dev = Device::default();
    let x = Tensor::<5>::from_data(TensorData::new(px, [1, faces.len(), 3, s, s]), &dev);
    let mask: Vec<f32> = (0..faces.len())
        .map(|i| if i < real { 1.0 } else { 0.0 })
        .collect();
    let mask = Tensor::<2>::from_data(TensorData::new(mask, [1, faces.len()]), &dev);
    let p = softmax(net.forward(x, Some(mask)), 2)
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    let n = p.len() / faces.len();
    p[pos * n..pos * n + n].to_vec()
}

/// Submit frames of faces (track, face) in order, then flush: every answer by key, each
/// submission's answers counted.
fn stream(m: &mut TrainedModel, frames: &[Vec<(usize, &AlignedFace)>]) -> (Vec<Probs>, Vec<usize>) {
    let mut got = std::collections::BTreeMap::new();
    let mut counts = Vec::new();
    let mut key = 0;
    for frame in frames {
        let keys: Vec<u64> = (key..key + frame.len() as u64).collect();
        key += frame.len() as u64;
        let tracks: Vec<usize> = frame.iter().map(|(t, _)| *t).collect();
        let faces: Vec<AlignedFace> = frame.iter().map(|(_, f)| (*f).clone()).collect();
        let answered = m.submit(&keys, &tracks, &faces).unwrap();
        counts.push(answered.len());
        got.extend(answered);
    }
    got.extend(m.flush().unwrap());
    assert_eq!(got.len() as u64, key, "every face answered once");
    (got.into_values().collect(), counts)
}

fn close(a: &[f32], b: &[f32]) {
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
    }
}

/// An 8-class run answers its eight classes, `Other` included (nothing dropped or
/// renormalised).
#[test]
fn an_eight_class_run_answers_other() {
    let text = "[model]\nclasses = 8\ninput_size = 32\n[model.network]\nkind = \"clip\"\n\
                num_classes = 8\nwindow = 1\n[model.network.backbone]\nfamily = \"mini_xception\"\n\
                [model.network.head]\nkind = \"frame\"\n[data]\nroot = \"unused\"\n[run]\niterations = 1\n";
    let cfg = TrainConfig::from_toml(text, Path::new("t.toml")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (mut m, net) = model(tmp.path(), &cfg);
    assert_eq!(m.label_set(), LabelSet::Eight);
    let f = face(3);
    let p = m.predict(std::slice::from_ref(&f)).unwrap();
    assert_eq!(p[0].len(), 8);
    close(&p[0], &reference(&net, &[f], 0, 1));
    assert!((p[0].iter().sum::<f32>() - 1.0).abs() < 1e-5);
}

#[test]
fn per_frame_head_reads_each_track_in_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(
        "kind = \"rnn\"\ncell = \"lstm\"\nhidden = 8\nbidirectional = true",
        3,
    );
    let (mut m, net) = model(tmp.path(), &cfg);
    let (a, b, c, d) = (face(1), face(2), face(3), face(4));
    // Track 7 sees a, b, c, d; track 9 sees d in the same frames.
    let frames: Vec<Vec<(usize, &AlignedFace)>> = [&a, &b, &c, &d]
        .into_iter()
        .map(|f| vec![(7, f), (9, &d)])
        .collect();
    let (p, counts) = stream(&mut m, &frames);
    // Nothing until a chunk of 3 is in; then its three frames of both tracks.
    assert_eq!(counts, vec![0, 0, 6, 0]);
    // Keys: frame i's faces are 2i (track 7) and 2i + 1 (track 9).
    close(
        &p[2],
        &reference(&net, &[a.clone(), b.clone(), c.clone()], 1, 3),
    );
    close(
        &p[1],
        &reference(&net, &[d.clone(), d.clone(), d.clone()], 0, 3),
    );
    // The last chunk is d alone, padded and masked.
    close(
        &p[6],
        &reference(&net, &[d.clone(), d.clone(), d.clone()], 0, 1),
    );
    assert!(p[0] != p[1], "the chunk changes a temporal head's output");
    // A new input forgets the tracks; a face alone is a chunk of one.
    m.reset();
    let (again, _) = stream(&mut m, &[vec![(7, &d)]]);
    close(&again[0], &p[6]);
    close(&m.predict(std::slice::from_ref(&d)).unwrap()[0], &p[6]);
    assert!((again[0].iter().sum::<f32>() - 1.0).abs() < 1e-5);
}

#[test]
fn middle_head_is_centred_and_a_missing_face_ends_the_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(
        "kind = \"rnn\"\ncell = \"gru\"\nhidden = 8\noutput = \"middle\"",
        5,
    );
    let (mut m, net) = model(tmp.path(), &cfg);
    let f: Vec<AlignedFace> = (1..=6).map(face).collect();
    // Track 1 in frames 0-3, gone in frame 4, back in frame 5.
    let mut frames: Vec<Vec<(usize, &AlignedFace)>> = f[..4].iter().map(|x| vec![(1, x)]).collect();
    frames.push(vec![]);
    frames.push(vec![(1, &f[5])]);
    let (p, counts) = stream(&mut m, &frames);
    // Frame j is answered once frame j + 2 is in, the rest when the face goes missing.
    assert_eq!(counts, vec![0, 0, 1, 1, 2, 0]);
    let at = |idx: [usize; 5]| idx.map(|i| f[i].clone());
    close(&p[0], &reference(&net, &at([0, 0, 0, 1, 2]), 0, 5));
    close(&p[1], &reference(&net, &at([0, 0, 1, 2, 3]), 0, 5));
    // Window of 5 centred on frame 3, the last of its segment: 1, 2, 3, 3, 3.
    close(&p[3], &reference(&net, &at([1, 2, 3, 3, 3]), 0, 5));
    // After the gap, a new segment: frame 5 alone.
    close(&p[4], &reference(&net, &at([5, 5, 5, 5, 5]), 0, 5));
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

/// The frames of a video given as its crops (each frame the crop `predict` shows there).
struct CropFrames {
    info: wildfer_video::SourceInfo,
    paths: std::collections::VecDeque<PathBuf>,
    next: usize,
}

impl wildfer_video::FrameSource for CropFrames {
    fn info(&self) -> &wildfer_video::SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Option<Result<wildfer_video::Frame, wildfer_video::VideoError>> {
        let p = self.paths.pop_front()?;
        self.next += 1;
        let img = image::open(&p).unwrap().to_rgb8();
        Some(Ok(wildfer_video::Frame {
            index: self.next,
            time_s: (self.next - 1) as f64 / 30.0,
            width: img.width() as usize,
            height: img.height() as usize,
            rgb: img.into_raw(),
        }))
    }
}

/// The proof that inference is one runtime: on the same crops, `predict` (whole videos, the
/// trainer's validation) and `analyze --crops` (streaming, per track) give the same per-frame
/// probabilities, for a frame head, a per-frame temporal head (chunks) and a middle-frame head.
#[test]
fn predict_and_analyze_agree_on_the_same_crops() {
    use wildfer_runtime::predict::predict;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("aw");
    wildfer_data::generate(
        &root,
        &wildfer_data::SynthOptions {
            videos: (0, 1),
            frames: 23,
            size: 112,
            seed: 3,
            ..Default::default()
        },
    )
    .unwrap();
    let data =
        wildfer_data::AffWild2::open(&root, wildfer_labels::abaw::Split::Validation).unwrap();
    let video = &data.videos[0];
    let table = video.crop_table();
    for (name, head, window) in [
        ("frame", "kind = \"frame\"", 1),
        (
            "chunks",
            "kind = \"rnn\"\ncell = \"lstm\"\nhidden = 8\nbidirectional = true",
            4,
        ),
        (
            "middle",
            "kind = \"rnn\"\ncell = \"gru\"\nhidden = 8\noutput = \"middle\"",
            5,
        ),
    ] {
        let cfg = config(head, window);
        let (ck, _) = checkpoint(&tmp.path().join(name), &cfg, 11, false);
        let loaded = wildfer_runtime::Checkpoint::load(&ck, &Device::default()).unwrap();
        let mut runner = wildfer_runtime::Runner::of_checkpoint(loaded, Device::default()).unwrap();
        let offline = predict(&mut runner, &data, 8, |_, _| {}).unwrap();
        let offline = offline[0].probs.as_ref().unwrap();

        let mut source = CropFrames {
            info: wildfer_video::SourceInfo {
                path: PathBuf::from("crops.mp4"),
                width: 112,
                height: 112,
                frames: table.len(),
                fps: 30.0,
                codec: "jpeg".into(),
            },
            paths: table.iter().map(|&c| video.crop_path(c)).collect(),
            next: 0,
        };
        let mut model = TrainedModel::load(&ck).unwrap();
        let opts = wildfer_pipeline::analyze::AnalyzeOptions {
            crops: true,
            smooth: 0,
            ..Default::default()
        };
        let mut rows = Vec::new();
        wildfer_pipeline::analyze::analyze_rows(
            Path::new("crops.mp4"),
            &mut source,
            &mut wildfer_face::FakeDetector::default(),
            &mut model,
            &opts,
            |r| {
                rows.extend_from_slice(r);
                Ok(())
            },
            |_| {},
        )
        .unwrap();
        assert_eq!(rows.len(), offline.len(), "{name}: one row per frame");
        for (r, want) in rows.iter().zip(offline) {
            let got = r
                .face
                .as_ref()
                .expect("every frame is a face")
                .probabilities;
            for (x, y) in got.iter().zip(want) {
                assert!(
                    (x - y).abs() < 1e-4,
                    "{name}, frame {}: analyze {got:?} vs predict {want:?}",
                    r.frame
                );
            }
        }
    }
}

//! Method B on a face-recognition-pretrained backbone: `model.init` = face-api's `model/`
//! folder starts the `face_api_resnet34` trunk from face-api's weights; a run trains, saves
//! and reloads without the folder.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use wildfer_data::{SynthOptions, generate};
use wildfer_labels::LabelSet;
use wildfer_nn::burn::tensor::{Tensor, TensorData};
use wildfer_nn::faceapi_recognition::FaceApiRecognition;
use wildfer_train::checkpoint::{self, RunDir};
use wildfer_train::{Net, TrainConfig, TrainOptions, train};

/// face-api's `model/` folder, fetched from npm by scripts/fetch_media.py.
fn face_api_dir() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/media/face-api");
    assert!(
        p.exists(),
        "{} is missing: run `python3 scripts/fetch_media.py` (make test does)",
        p.display()
    );
    p
}

fn config(
    root: &Path,
    preset: &str,
    input_size: usize,
    init: &Path,
) -> Result<TrainConfig, String> {
    let text = format!(
        r#"
seed = 1
[model]
preset = "{preset}"
input_size = {input_size}
init = "{}"
[data]
root = "{}"
workers = 1
[optim]
kind = "sgd"
lr = 0.001
[run]
iterations = 2
batch_size = 2
checkpoint_every = 2
eval_every = 2
[eval]
batch = 4
"#,
        init.display(),
        root.display()
    );
    TrainConfig::from_toml(&text, Path::new("faceapi.toml")).map_err(|e| e.to_string())
}

/// `[1, 3, s, s]` ImageNet-normalised input and the same picture in 0..255.
fn inputs(s: usize) -> (Tensor<4>, Tensor<4>) {
    let dev = wildfer_nn::cpu();
    let v = wildfer_nn::detparams::det_tensor("faceapi_backbone", &[3 * s * s], 0.0, 1.0);
    let raw = Tensor::<4>::from_data(TensorData::new(v, [1, 3, s, s]), &dev);
    let per_channel = |a: [f32; 3]| {
        Tensor::<1>::from_data(TensorData::new(a.to_vec(), [3]), &dev).reshape([1, 3, 1, 1])
    };
    let normalised = (raw.clone() - per_channel(wildfer_nn::IMAGENET_MEAN))
        / per_channel(wildfer_nn::IMAGENET_STD);
    (normalised, raw.mul_scalar(255.0))
}

fn max_abs_diff(a: Tensor<2>, b: Tensor<2>) -> f32 {
    (a - b).abs().max().into_scalar()
}

#[test]
fn model_init_starts_the_trunk_from_face_api_and_a_run_reloads_without_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    generate(
        &root,
        &SynthOptions {
            videos: (2, 1),
            frames: 8,
            label_set: LabelSet::Seven,
            size: 112,
            seed: 5,
        },
    )
    .unwrap();
    let dev = wildfer_nn::cpu();
    let cfg = config(&root, "method_b_cnn_faceapi", 112, &face_api_dir()).unwrap();

    // The initialised backbone computes face-api's trunk features.
    let mut net = Net::init(&cfg.network().unwrap(), &dev, cfg.seed).unwrap();
    net.load_init(&face_api_dir()).unwrap();
    let reference = FaceApiRecognition::from_tfjs(&face_api_dir(), &dev).unwrap();
    let (normalised, raw) = inputs(112);
    let err = max_abs_diff(net.features(normalised), reference.forward_trunk(raw));
    assert!(err < 1e-3, "max abs feature difference {err}");

    // Two steps of training, then the run loads from its checkpoint alone.
    let run = tmp.path().join("run");
    train(&cfg, &run, &TrainOptions::default(), &mut |_| {}).unwrap();
    let moved = tmp.path().join("moved");
    std::fs::rename(&run, &moved).unwrap();
    let (_, loaded, state, _) = checkpoint::load(&moved, &dev).unwrap();
    assert_eq!(state.iteration, 2);
    assert_eq!(checkpoint::first_non_finite(&loaded), None);
    assert!(RunDir::new(&moved).resolve("latest").unwrap().is_some());
}

#[test]
fn face_api_init_and_sizes_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = wildfer_nn::cpu();
    // The trunk's valid-padded downsampling needs 103 pixels.
    let e = config(tmp.path(), "method_b_cnn_faceapi", 96, &face_api_dir()).unwrap_err();
    assert!(
        e.contains("faceapi.toml") && e.contains("at least 103"),
        "{e}"
    );
    // face-api weights for a network without that backbone.
    let cfg = config(
        tmp.path(),
        "method_b_cnn_rnn_resnet18",
        112,
        &face_api_dir(),
    )
    .unwrap();
    let mut net = Net::init(&cfg.network().unwrap(), &dev, cfg.seed).unwrap();
    let e = net.load_init(&face_api_dir()).unwrap_err().to_string();
    assert!(e.contains("face_api_resnet34") && !e.contains('\n'), "{e}");
    // A folder without face-api's files.
    let cfg = config(tmp.path(), "method_b_cnn_faceapi", 112, tmp.path()).unwrap();
    let mut net = Net::init(&cfg.network().unwrap(), &dev, cfg.seed).unwrap();
    let e = net.load_init(tmp.path()).unwrap_err().to_string();
    assert!(
        e.contains("face_recognition_model-weights_manifest.json") && e.contains("cannot read"),
        "{e}"
    );
}

/// `model.init` may be a built-in model's half-precision weights (fine-tuning a shipped
/// model); a file none of whose tensors fit the network is refused, not silently ignored.
#[test]
fn half_precision_init_loads_and_a_file_that_fits_nothing_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = wildfer_nn::cpu();
    let weights = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wildfer-nn/weights");
    let cfg = config(tmp.path(), "method_b_cnn_faceapi", 112, &face_api_dir()).unwrap();
    let mut net = Net::init(&cfg.network().unwrap(), &dev, cfg.seed).unwrap();
    let before = net.features(inputs(112).0);
    let account = net
        .load_init(&weights.join("faceapi_resnet34_fer2013_sfew.safetensors"))
        .unwrap();
    assert_eq!(account, "119 tensors loaded");
    // The features changed from the random initialisation's.
    assert!(max_abs_diff(net.features(inputs(112).0), before) > 1e-3);
    let e = net
        .load_init(&weights.join("mini_xception_fer2013.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mini_xception_fer2013.safetensors")
            && e.contains("none of its tensors fits")
            && !e.contains('\n'),
        "{e}"
    );
}

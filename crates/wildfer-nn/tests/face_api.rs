//! face-api's expression and face-recognition networks reproduce TensorFlow.js (fixture from
//! `reference/convert_face_api.py`, which ran face-api's own code on tfjs' CPU backend) on the
//! deterministic inputs; their TensorFlow.js weights load from face-api's files, and damaged
//! files are one-line errors. Real-face parity: crates/wildfer-pipeline/tests/builtin_models.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde::Deserialize;
use std::path::{Path, PathBuf};
use wildfer_nn::burn::tensor::{Tensor, TensorData};
use wildfer_nn::detparams::det_tensor;
use wildfer_nn::faceapi_expression::{self, FaceApiExpression};
use wildfer_nn::faceapi_recognition::{self, FaceApiRecognition};
use wildfer_nn::weights::tfjs;

#[derive(Deserialize)]
struct Fixture {
    expression_probabilities: Vec<Vec<f32>>,
    recognition_descriptors: Vec<Vec<f32>>,
}

fn fixture() -> Fixture {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/face_api.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// face-api's `model/` folder, fetched from npm by scripts/fetch_media.py.
fn model_dir() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/media/face-api");
    assert!(
        p.join(faceapi_recognition::MANIFEST_NAME).exists(),
        "{} is missing: run `python3 scripts/fetch_media.py` (make test does)",
        p.display()
    );
    p
}

/// `det_tensor(name, [n, s, s, 3], 0, 255)` as `[n, 3, s, s]`.
fn det_input(name: &str, n: usize, s: usize) -> Tensor<4> {
    let v = det_tensor(name, &[n, s, s, 3], 0.0, 255.0);
    Tensor::<4>::from_data(TensorData::new(v, [n, s, s, 3]), &wildfer_nn::cpu())
        .permute([0, 3, 1, 2])
}

fn max_abs_diff(got: &[f32], want: &[Vec<f32>]) -> f32 {
    let want: Vec<f32> = want.concat();
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(&want)
        .fold(0f32, |e, (a, b)| e.max((a - b).abs()))
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap()
}

#[test]
fn built_in_expression_net_reproduces_tfjs() {
    let m = FaceApiExpression::pretrained(&wildfer_nn::cpu()).unwrap();
    let x = det_input("faceapi_expression_input", 2, 112);
    let got = m.forward(x).into_data().try_to_vec::<f32>().unwrap();
    let want = fixture().expression_probabilities;
    let err = max_abs_diff(&got, &want);
    assert!(err < 1e-4, "max abs probability error {err}");
    for (k, w) in want.iter().enumerate() {
        assert_eq!(argmax(&got[k * 7..k * 7 + 7]), argmax(w), "sample {k}");
    }
}

#[test]
fn recognition_net_from_face_api_files_reproduces_tfjs() {
    let m = FaceApiRecognition::from_tfjs(&model_dir(), &wildfer_nn::cpu()).unwrap();
    let x = det_input("faceapi_recognition_input", 2, 150);
    let got = m.forward(x).into_data().try_to_vec::<f32>().unwrap();
    let want = fixture().recognition_descriptors;
    let err = max_abs_diff(&got, &want);
    // Descriptor entries are ~0.1; 1e-4 absolute is ~1e-3 relative.
    assert!(err < 1e-4, "max abs descriptor error {err}");
}

#[test]
fn the_built_in_files_are_face_apis() {
    // The built-in expression weights are the npm package's files, byte for byte.
    let dir = model_dir();
    for (name, built_in) in [
        (
            "face_expression_model-weights_manifest.json",
            faceapi_expression::MANIFEST,
        ),
        ("face_expression_model.bin", faceapi_expression::SHARD),
    ] {
        let fetched = dir.join(name);
        if fetched.exists() {
            assert_eq!(std::fs::read(&fetched).unwrap(), built_in, "{name}");
        }
    }
    let t = tfjs::decode(
        faceapi_expression::MANIFEST,
        |_| Ok(faceapi_expression::SHARD.to_vec()),
        "expression",
    )
    .unwrap();
    // 4 dense blocks of 4 convs (plain first conv: 2 tensors, separable: 3) + fc.
    assert_eq!(t.len(), 2 + 3 * 3 + 3 * 4 * 3 + 2);
}

/// A copy of face-api's recognition files in a temporary folder, damaged by `damage`.
fn damaged(damage: impl FnOnce(&Path)) -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    for name in [
        faceapi_recognition::MANIFEST_NAME,
        "face_recognition_model.bin",
    ] {
        std::fs::copy(model_dir().join(name), tmp.path().join(name)).unwrap();
    }
    damage(tmp.path());
    let e = FaceApiRecognition::from_tfjs(tmp.path(), &wildfer_nn::cpu())
        .expect_err("damaged files are refused")
        .to_string();
    assert!(!e.contains('\n'), "{e}");
    eprintln!("{e}");
    (tmp, e)
}

#[test]
fn damaged_face_api_files_are_one_line_errors() {
    let bin = |d: &Path| d.join("face_recognition_model.bin");
    let manifest = |d: &Path| d.join(faceapi_recognition::MANIFEST_NAME);

    let (_t, e) = damaged(|d| {
        let b = std::fs::read(bin(d)).unwrap();
        std::fs::write(bin(d), &b[..b.len() / 2]).unwrap();
    });
    assert!(
        e.contains(faceapi_recognition::MANIFEST_NAME) && e.contains("truncated weights file"),
        "{e}"
    );

    let (_t, e) = damaged(|d| std::fs::remove_file(bin(d)).unwrap());
    assert!(
        e.contains("cannot read weights shard") && e.contains("face_recognition_model.bin"),
        "{e}"
    );

    let (_t, e) = damaged(|d| {
        let m = std::fs::read_to_string(manifest(d)).unwrap();
        std::fs::write(manifest(d), &m[..m.len() / 3]).unwrap();
    });
    assert!(e.contains("not a TensorFlow.js weights manifest"), "{e}");

    // A float32 tensor of the right size whose values are NaN.
    let (_t, e) = damaged(|d| {
        let m = std::fs::read_to_string(manifest(d)).unwrap();
        let t = tfjs::read_manifest(&manifest(d)).unwrap();
        let first = &t[0];
        assert_eq!(first.name, "conv32_down/conv/filters");
        let mut b = std::fs::read(bin(d)).unwrap();
        // The first tensor is uint8-quantised: replace the manifest entry's quantisation with
        // float32 storage and write NaNs for it at the front of the shard.
        let n = first.values.len();
        let entry_start = m.find("\"conv32_down/conv/filters\"").unwrap();
        let q_start = entry_start + m[entry_start..].find(",\"quantization\"").unwrap();
        let q_end = q_start + m[q_start..].find('}').unwrap() + 1;
        let edited = format!("{}{}", &m[..q_start], &m[q_end..]);
        std::fs::write(manifest(d), edited).unwrap();
        let mut nan = Vec::with_capacity(4 * n);
        for _ in 0..n {
            nan.extend(f32::NAN.to_le_bytes());
        }
        b.splice(..n, nan);
        std::fs::write(bin(d), b).unwrap();
    });
    assert!(e.contains("conv32_down/conv/filters: NaN"), "{e}");

    // The expression model's files under the recognition model's name: missing keys.
    let (_t, e) = damaged(|d| {
        std::fs::write(manifest(d), faceapi_expression::MANIFEST)
            .and_then(|()| {
                std::fs::write(
                    d.join("face_expression_model.bin"),
                    faceapi_expression::SHARD,
                )
            })
            .unwrap();
    });
    assert!(e.contains("missing") || e.contains("unexpected"), "{e}");
}

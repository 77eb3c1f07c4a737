//! The converted MTCNN networks reproduce facenet-pytorch's own modules
//! (fixture from `reference/convert_mtcnn.py`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::f32_tensor;

use safetensors::SafeTensors;
use std::path::PathBuf;
use wildfer_nn::burn::tensor::{Device, Tensor, TensorData};
use wildfer_nn::detparams::det_tensor;
use wildfer_nn::mtcnn::Mtcnn;

fn input(name: &str, shape: [usize; 4], dev: &Device) -> Tensor<4> {
    let x = det_tensor(&format!("mtcnn_{name}_input"), &shape, -1.0, 1.0);
    Tensor::from_data(TensorData::new(x, shape), dev)
}

fn check<const D: usize>(st: &SafeTensors, key: &str, got: Tensor<D>) {
    let dims = got.dims().to_vec();
    let got = got
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap();
    let (want_dims, want) = f32_tensor(st, "mtcnn", key);
    assert_eq!(dims, want_dims, "{key}");
    let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .zip(&want)
        .fold(0f32, |e, (a, b)| e.max((a - b).abs()));
    assert!(
        err <= 1e-4 * scale,
        "{key}: max abs error {err} (scale {scale})"
    );
}

#[test]
fn pnet_rnet_onet_match_facenet_pytorch() {
    let dev = Device::default();
    let m = Mtcnn::pretrained(&dev).unwrap();
    let bytes = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mtcnn.safetensors"),
    )
    .unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();

    let (reg, prob) = m.pnet.forward(input("pnet", [1, 3, 31, 37], &dev));
    check(&st, "pnet.reg", reg);
    check(&st, "pnet.prob", prob);
    let (reg, prob) = m.rnet.forward(input("rnet", [3, 3, 24, 24], &dev));
    check(&st, "rnet.reg", reg);
    check(&st, "rnet.prob", prob);
    let (reg, lm, prob) = m.onet.forward(input("onet", [2, 3, 48, 48], &dev));
    check(&st, "onet.reg", reg);
    check(&st, "onet.landmarks", lm);
    check(&st, "onet.prob", prob);
}

//! Weight import and export: PyTorch `.pt`/`.pth`, safetensors round trips, and every bad
//! checkpoint giving a one-line error that names the file or key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::f32_tensor;

use safetensors::SafeTensors;
use std::path::PathBuf;
use wildfer_nn::attention::Cbam;
use wildfer_nn::burn::tensor::{Device, Tensor, TensorData};
use wildfer_nn::{Attention, ResNetConfig, detparams, weights};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn input(shape: &[usize]) -> Tensor<4> {
    let data = TensorData::new(
        detparams::det_tensor("input", shape, -1.0, 1.0),
        shape.to_vec(),
    );
    Tensor::from_data(data, &Device::default())
}

fn to_vec(t: Tensor<4>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

fn expected_cbam_output() -> Vec<f32> {
    let bytes = std::fs::read(fixture("cbam_eval.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    f32_tensor(&st, "cbam_eval", "output").1
}

fn assert_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    let err = got
        .iter()
        .zip(want)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(err < 1e-5, "max abs error {err}");
}

#[test]
fn pytorch_checkpoints_load_plain_and_nested() {
    let want = expected_cbam_output();
    for (file, key) in [
        ("cbam_eval_state_dict.pt", None),
        ("cbam_eval_nested.pth", Some("state_dict")),
    ] {
        let mut m = Cbam::new(32, 16, 7, &Device::default());
        let report = weights::load_pytorch_file(&mut m, &fixture(file), key, true).unwrap();
        assert!(report.is_complete(), "{file}: {}", report.summary());
        assert_close(&to_vec(m.forward(input(&[2, 32, 6, 6]))), &want);
    }
}

#[test]
fn safetensors_round_trip_keeps_pytorch_names_and_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let path = dir.join("resnet18_cbam.safetensors");
    let dev = Device::default();
    let cfg = ResNetConfig::resnet18()
        .with_attention(Attention::cbam())
        .with_num_classes(Some(7));
    let a = cfg.init(&dev).unwrap();
    weights::save_safetensors(&a, &path).unwrap();

    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
    names.sort();
    let keys: Vec<String> = weights::pytorch_keys(&a)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(names, keys);
    assert!(names.contains(&"layer1.0.cbam.ChannelGate.mlp.1.weight".to_string()));
    assert!(names.contains(&"layer2.0.downsample.1.running_var".to_string()));
    // Linear weights are stored in PyTorch's [out, in] layout.
    assert_eq!(st.tensor("fc.weight").unwrap().shape(), &[7, 512]);

    let mut b = cfg.init(&dev).unwrap();
    let report = weights::load_safetensors(&mut b, &path, true).unwrap();
    assert!(report.is_complete(), "{}", report.summary());
    let x = input(&[1, 3, 32, 32]);
    let ya = a
        .forward(x.clone())
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap();
    let yb = b
        .forward(x)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap();
    assert_eq!(ya, yb);
}

#[test]
fn bad_checkpoints_give_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let dev = Device::default();
    let plain = ResNetConfig::resnet18().with_num_classes(Some(7));
    let path = dir.join("plain.safetensors");
    weights::save_safetensors(&plain.init(&dev).unwrap(), &path).unwrap();

    let check = |e: wildfer_nn::NnError, want: &[&str]| {
        let s = e.to_string();
        assert!(!s.contains('\n'), "multi-line: {s}");
        for w in want {
            assert!(s.contains(w), "{s:?} lacks {w:?}");
        }
    };

    // Missing keys: the file has no attention weights.
    let mut m = plain
        .clone()
        .with_attention(Attention::cbam())
        .init(&dev)
        .unwrap();
    let e = weights::load_safetensors(&mut m, &path, true).unwrap_err();
    check(
        e,
        &[
            "plain.safetensors",
            "missing keys",
            "cbam.ChannelGate.mlp.1.weight",
        ],
    );
    // ... which a non-strict load reports instead.
    let r = weights::load_safetensors(&mut m, &path, false).unwrap();
    assert!(!r.missing.is_empty() && r.unexpected.is_empty());

    // Unexpected keys.
    let mut small = ResNetConfig::resnet18().init(&dev).unwrap();
    let e = weights::load_safetensors(&mut small, &path, true).unwrap_err();
    check(e, &["unexpected keys", "fc.weight"]);

    // Wrong shapes: 7 classes into an 8-class head.
    let mut eight = plain.clone().with_num_classes(Some(8)).init(&dev).unwrap();
    let e = weights::load_safetensors(&mut eight, &path, false).unwrap_err();
    check(e, &["plain.safetensors", "fc."]);

    // Truncated, empty and non-existent files.
    let bytes = std::fs::read(&path).unwrap();
    let trunc = dir.join("truncated.safetensors");
    std::fs::write(&trunc, &bytes[..bytes.len() / 2]).unwrap();
    let mut m = plain.init(&dev).unwrap();
    check(
        weights::load_safetensors(&mut m, &trunc, true).unwrap_err(),
        &["truncated.safetensors"],
    );
    let empty = dir.join("empty.pt");
    std::fs::write(&empty, b"").unwrap();
    check(
        weights::load_pytorch_file(&mut m, &empty, None, true).unwrap_err(),
        &["empty.pt"],
    );
    let junk = dir.join("junk.pth");
    std::fs::write(&junk, b"PK\x03\x04 this is not a checkpoint").unwrap();
    check(
        weights::load_pytorch_file(&mut m, &junk, None, true).unwrap_err(),
        &["junk.pth"],
    );
    check(
        weights::load_safetensors(&mut m, &dir.join("nope.safetensors"), true).unwrap_err(),
        &["nope.safetensors"],
    );

    // NaN / Inf weights.
    let mut keys = weights::pytorch_keys(&m);
    let tensors: Vec<(String, TensorData)> = keys
        .drain(..)
        .map(|(n, s)| {
            let mut v = detparams::det_param(&n, &s);
            if n == "layer2.1.conv1.weight" {
                v[5] = f32::NAN;
            }
            (n, TensorData::new(v, s))
        })
        .collect();
    let e = weights::load_pytorch_tensors(&mut m, tensors, "nan-source", true).unwrap_err();
    check(e, &["nan-source", "layer2.1.conv1.weight", "NaN"]);
}

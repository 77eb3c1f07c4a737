//! Parity with PyTorch: fixtures from `reference/nn_fixtures.py` (weights and inputs are
//! regenerated from `detparams`, outputs/gradients/statistics come from the fixture files).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::f32_tensor;

use safetensors::SafeTensors;
use std::collections::BTreeMap;
use std::path::PathBuf;
use wildfer_nn::attention::{Cbam, SqueezeExcitation};
use wildfer_nn::burn::module::{Module, ParamId};
use wildfer_nn::burn::optim::GradientsParams;
use wildfer_nn::burn::store::{BurnToPyTorchAdapter, ModuleSnapshot};
use wildfer_nn::burn::tensor::{Device, Tensor, TensorData};
use wildfer_nn::resnet::Block;
use wildfer_nn::{
    Attention, BlockKind, MethodAConfig, ResNetConfig, RnnConfig, RnnKind, SeNetConfig,
    TemporalHeadConfig, TemporalOutput, TransformerConfig, detparams, weights,
};

const FWD_TOL: f64 = 1e-4;
const GRAD_TOL: f64 = 1e-3;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

struct Fixture {
    name: String,
    bytes: Vec<u8>,
}

impl Fixture {
    fn load(name: &str) -> Self {
        let path = fixture_dir().join(format!("{name}.safetensors"));
        Fixture {
            name: name.to_string(),
            bytes: std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        }
    }

    fn tensors(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).unwrap()
    }

    fn get(&self, key: &str) -> (Vec<usize>, Vec<f32>) {
        f32_tensor(&self.tensors(), &self.name, key)
    }

    fn keys_with_prefix(&self, prefix: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .tensors()
            .names()
            .into_iter()
            .filter(|n| n.starts_with(prefix))
            .map(|n| n[prefix.len()..].to_string())
            .collect();
        v.sort();
        v
    }

    fn input_shape(&self) -> Vec<usize> {
        let (_, meta) = SafeTensors::read_metadata(&self.bytes).unwrap();
        let m = meta.metadata().clone().unwrap();
        serde_json::from_str(&m["input_shape"]).unwrap()
    }
}

fn input<const D: usize>(shape: &[usize], device: &Device) -> Tensor<D> {
    let data = TensorData::new(
        detparams::det_tensor("input", shape, -1.0, 1.0),
        shape.to_vec(),
    );
    Tensor::from_data(data, device)
}

fn det_load<M: Module + ModuleSnapshot>(model: &mut M) {
    let tensors = weights::pytorch_keys(model)
        .into_iter()
        .map(|(n, s)| {
            let v = detparams::det_param(&n, &s);
            (n, TensorData::new(v, s))
        })
        .collect();
    let report = weights::load_pytorch_tensors(model, tensors, "detparams", true).unwrap();
    assert!(report.is_complete(), "{}", report.summary());
}

fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want
        .iter()
        .fold(0f64, |m, x| m.max(f64::from(x.abs())))
        .max(1e-12);
    let err = got
        .iter()
        .zip(want)
        .fold(0f64, |m, (a, b)| m.max(f64::from((a - b).abs())));
    assert!(
        err / scale <= tol,
        "{what}: max abs error {err:.3e} is {:.3e} of max |reference| {scale:.3e} (tolerance {tol:.0e})",
        err / scale
    );
}

fn values<const D: usize>(t: Tensor<D>) -> (Vec<usize>, Vec<f32>) {
    let dims = t.dims().to_vec();
    (
        dims,
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap(),
    )
}

fn check_output<const D: usize>(fx: &Fixture, key: &str, got: Tensor<D>, tol: f64) {
    let (gs, gv) = values(got);
    let (ws, wv) = fx.get(key);
    assert_eq!(gs, ws, "{}: {key} shape", fx.name);
    assert_close(&format!("{}: {key}", fx.name), &gv, &wv, tol);
}

/// Gradients of every parameter, by PyTorch name.
fn param_grads<M: Module + ModuleSnapshot>(
    model: &M,
    grads: &GradientsParams,
) -> BTreeMap<String, Vec<f32>> {
    let mut out = BTreeMap::new();
    let plain = model.collect(None, None, true);
    let adapted = model.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true);
    for (p, t) in plain.into_iter().zip(adapted) {
        let Some(id) = t.param_id else { continue };
        let id = ParamId::from(id);
        let name = weights::to_pytorch_name(&t.name);
        // The adapter transposes burn's [in, out] Linear weights to PyTorch's [out, in]; the
        // gradient needs the same treatment exactly when the adapter changed the tensor.
        let data = |t| {
            wildfer_nn::burn::store::bridge::into_data(t)
                .unwrap()
                .into_bytes()
                .to_vec()
        };
        let transposed = t.shape.num_dims() == 2 && data(p) != data(t.clone());
        let g = match t.shape.num_dims() {
            1 => grads.get::<1>(id).map(|g| values(g).1),
            2 => grads
                .get::<2>(id)
                .map(|g| values(if transposed { g.transpose() } else { g }).1),
            4 => grads.get::<4>(id).map(|g| values(g).1),
            _ => None,
        };
        if let Some(g) = g {
            out.insert(name, g);
        }
    }
    out
}

/// Compare `grad.input`, every `grad.<param>` and (train mode) every `state.<buffer>`.
fn check_backward<M: Module + ModuleSnapshot, const D: usize>(
    fx: &Fixture,
    model: &M,
    x: &Tensor<D>,
    out: Tensor<D>,
    train: bool,
) {
    let w = {
        let dims = out.dims();
        let v = detparams::det_tensor("loss_weight", &dims, -1.0, 1.0);
        Tensor::<D>::from_data(TensorData::new(v, dims.to_vec()), &out.device())
    };
    let grads = (out * w).sum().backward();
    let gx = x.grad(&grads).expect("input gradient");
    check_output(fx, "grad.input", gx, GRAD_TOL);
    let gp = GradientsParams::from_grads(grads, model);
    let mut got = param_grads(model, &gp);
    let want = fx.keys_with_prefix("grad.");
    let want: Vec<String> = want.into_iter().filter(|k| k != "input").collect();
    assert!(!want.is_empty());
    for k in &want {
        let g = got
            .remove(k)
            .unwrap_or_else(|| panic!("{}: no gradient for {k}", fx.name));
        assert_close(
            &format!("{}: grad.{k}", fx.name),
            &g,
            &fx.get(&format!("grad.{k}")).1,
            GRAD_TOL,
        );
    }
    if train {
        let state = fx.keys_with_prefix("state.");
        assert!(
            !state.is_empty(),
            "{}: no running statistics in fixture",
            fx.name
        );
        let keys: BTreeMap<String, Vec<usize>> = weights::pytorch_keys(model).into_iter().collect();
        for k in state {
            assert!(keys.contains_key(&k), "{}: model has no {k}", fx.name);
        }
        check_state(fx, model);
    }
}

fn check_state<M: Module + ModuleSnapshot>(fx: &Fixture, model: &M) {
    // Running statistics are per-thread until synchronised; `valid()` synchronises them (as a
    // checkpoint save must).
    for t in model
        .valid()
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true)
    {
        let name = weights::to_pytorch_name(&t.name);
        if !(name.ends_with("running_mean") || name.ends_with("running_var")) {
            continue;
        }
        let got = wildfer_nn::burn::store::bridge::into_data(t)
            .unwrap()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap();
        let want = fx.get(&format!("state.{name}")).1;
        assert_close(&format!("{}: state.{name}", fx.name), &got, &want, FWD_TOL);
    }
}

fn train_device() -> Device {
    Device::default().autodiff()
}

#[test]
fn squeeze_excitation_forward_and_gradients() {
    let fx = Fixture::load("se");
    let dev = train_device();
    let mut m = SqueezeExcitation::new(32, 16, &dev);
    det_load(&mut m);
    let x = input::<4>(&fx.input_shape(), &dev).require_grad();
    let out = m.forward(x.clone());
    check_output(&fx, "output", out.clone(), FWD_TOL);
    check_backward(&fx, &m, &x, out, false);
}

#[test]
fn cbam_train_forward_gradients_and_statistics() {
    let fx = Fixture::load("cbam");
    let dev = train_device();
    let mut m = Cbam::new(32, 16, 7, &dev);
    det_load(&mut m);
    let x = input::<4>(&fx.input_shape(), &dev).require_grad();
    let out = m.forward(x.clone());
    check_output(&fx, "output", out.clone(), FWD_TOL);
    check_backward(&fx, &m, &x, out, true);
}

#[test]
fn cbam_eval_forward() {
    let fx = Fixture::load("cbam_eval");
    let dev = Device::default();
    let mut m = Cbam::new(32, 16, 7, &dev);
    det_load(&mut m);
    check_output(
        &fx,
        "output",
        m.forward(input::<4>(&fx.input_shape(), &dev)),
        FWD_TOL,
    );
}

fn block_case(
    name: &str,
    kind: BlockKind,
    cin: usize,
    planes: usize,
    stride: usize,
    att: Attention,
    train: bool,
) {
    let fx = Fixture::load(name);
    let dev = if train {
        train_device()
    } else {
        Device::default()
    };
    let mut m = Block::new(kind, cin, planes, stride, att, &dev);
    det_load(&mut m);
    let x = input::<4>(&fx.input_shape(), &dev);
    let x = if train { x.require_grad() } else { x };
    let out = m.forward(x.clone());
    check_output(&fx, "output", out.clone(), FWD_TOL);
    if train {
        check_backward(&fx, &m, &x, out, true);
    }
}

#[test]
fn basic_block_with_cbam_train() {
    block_case(
        "basic_block_cbam",
        BlockKind::Basic,
        16,
        32,
        2,
        Attention::cbam(),
        true,
    );
}

#[test]
fn basic_block_with_llam_train() {
    block_case(
        "basic_block_llam",
        BlockKind::Basic,
        16,
        32,
        2,
        Attention::llam(),
        true,
    );
}

#[test]
fn basic_block_eval() {
    block_case(
        "basic_block_eval",
        BlockKind::Basic,
        16,
        16,
        1,
        Attention::None,
        false,
    );
}

#[test]
fn bottleneck_with_se_train() {
    block_case(
        "bottleneck_se",
        BlockKind::Bottleneck,
        32,
        16,
        2,
        Attention::se(),
        true,
    );
}

#[test]
fn bottleneck_with_cbam_eval() {
    block_case(
        "bottleneck_cbam_eval",
        BlockKind::Bottleneck,
        64,
        16,
        1,
        Attention::cbam(),
        false,
    );
}

fn reference_keys(name: &str) -> Vec<(String, Vec<usize>)> {
    let text = std::fs::read_to_string(fixture_dir().join("keys.json")).unwrap();
    let all: BTreeMap<String, BTreeMap<String, Vec<usize>>> = serde_json::from_str(&text).unwrap();
    all[name]
        .iter()
        .filter(|(k, _)| !k.ends_with("num_batches_tracked"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn assert_same_keys(name: &str, got: Vec<(String, Vec<usize>)>) {
    let want = reference_keys(name);
    let g: BTreeMap<_, _> = got.into_iter().collect();
    let w: BTreeMap<_, _> = want.into_iter().collect();
    let missing: Vec<_> = w.keys().filter(|k| !g.contains_key(*k)).collect();
    let extra: Vec<_> = g.keys().filter(|k| !w.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{name}: missing {missing:?}, extra {extra:?}"
    );
    for (k, s) in &w {
        assert_eq!(&g[k], s, "{name}: shape of {k}");
    }
}

fn resnet_case(name: &str, cfg: ResNetConfig) {
    let fx = Fixture::load(name);
    let dev = Device::default();
    let mut m = cfg.init(&dev).unwrap();
    assert_same_keys(name, weights::pytorch_keys(&m));
    det_load(&mut m);
    let x = input::<4>(&fx.input_shape(), &dev);
    let f = m.forward_features(x);
    check_output(&fx, "features", f.clone(), FWD_TOL);
    let out = m.forward_head(f.clone()).unwrap_or(f);
    check_output(&fx, "output", out, FWD_TOL);
}

#[test]
fn resnet18_matches_torchvision() {
    resnet_case(
        "resnet18",
        ResNetConfig::resnet18().with_num_classes(Some(7)),
    );
}

#[test]
fn resnet18_cbam() {
    resnet_case(
        "resnet18_cbam",
        ResNetConfig::resnet18()
            .with_attention(Attention::cbam())
            .with_num_classes(Some(7)),
    );
}

#[test]
fn resnet18_llam() {
    resnet_case(
        "resnet18_llam",
        ResNetConfig::resnet18()
            .with_attention(Attention::llam())
            .with_num_classes(Some(7)),
    );
}

#[test]
fn resnet50_matches_torchvision() {
    resnet_case("resnet50", ResNetConfig::resnet50());
}

#[test]
fn resnet50_cbam() {
    resnet_case(
        "resnet50_cbam",
        ResNetConfig::resnet50()
            .with_attention(Attention::cbam())
            .with_num_classes(Some(8)),
    );
}

/// Run a `[batch, time, features]` module on the fixture input with gradients and compare.
fn sequence_case<M: Module + ModuleSnapshot>(
    name: &str,
    mut m: M,
    forward: impl Fn(&M, Tensor<3>) -> Tensor<3>,
) {
    let fx = Fixture::load(name);
    det_load(&mut m);
    let x = input::<3>(&fx.input_shape(), &train_device()).require_grad();
    let out = forward(&m, x.clone());
    check_output(&fx, "output", out.clone(), FWD_TOL);
    check_backward(&fx, &m, &x, out, false);
}

#[test]
fn senet50_vggface2_layout() {
    let fx = Fixture::load("senet50");
    let dev = Device::default();
    let cfg = SeNetConfig::senet50_vggface2().with_num_classes(Some(7));
    let mut m = cfg.init(&dev).unwrap();
    assert_same_keys("senet50", weights::pytorch_keys(&m));
    det_load(&mut m);
    let f = m.forward_features(input::<4>(&fx.input_shape(), &dev));
    check_output(&fx, "features", f.clone(), FWD_TOL);
    check_output(&fx, "output", m.forward_head(f).unwrap(), FWD_TOL);
}

#[test]
fn bilstm_forward_and_gradients() {
    let m = RnnConfig::lstm(20, 8)
        .with_bidirectional(true)
        .init(&train_device())
        .unwrap();
    sequence_case("bilstm", m, |m, x| m.forward(x));
}

#[test]
fn two_layer_bidirectional_gru() {
    let cfg = RnnConfig::gru(12, 6)
        .with_num_layers(2)
        .with_bidirectional(true);
    sequence_case("gru2_bi", cfg.init(&train_device()).unwrap(), |m, x| {
        m.forward(x)
    });
}

#[test]
fn two_layer_lstm() {
    let cfg = RnnConfig::lstm(12, 6).with_num_layers(2);
    sequence_case("lstm2", cfg.init(&train_device()).unwrap(), |m, x| {
        m.forward(x)
    });
}

fn small_encoder() -> TransformerConfig {
    TransformerConfig {
        d_model: 16,
        nhead: 4,
        dim_feedforward: 32,
        num_layers: 2,
        dropout: 0.0,
    }
}

#[test]
fn transformer_encoder() {
    let m = small_encoder().init(&train_device()).unwrap();
    sequence_case("transformer", m, |m, x| m.forward(x, None));
}

#[test]
fn transformer_encoder_with_padding_mask() {
    let fx = Fixture::load("transformer_masked");
    let dev = Device::default();
    let mut m = small_encoder().init(&dev).unwrap();
    det_load(&mut m);
    let mut mask = vec![1f32; 18];
    for v in &mut mask[9 + 6..] {
        *v = 0.0;
    }
    let mask = Tensor::<2>::from_data(TensorData::new(mask, [2, 9]), &dev);
    let out = m.forward(input::<3>(&fx.input_shape(), &dev), Some(mask));
    check_output(&fx, "output", out, FWD_TOL);
}

fn head_case(name: &str, cfg: TemporalHeadConfig, features: usize, classes: usize) {
    let m = cfg.init(features, classes, &train_device()).unwrap();
    sequence_case(name, m, |m, x| m.forward(x, None));
}

#[test]
fn frame_head() {
    head_case(
        "head_frame",
        TemporalHeadConfig::Frame { hidden: Some(10) },
        20,
        7,
    );
}

#[test]
fn gru_head_per_frame() {
    let cfg = TemporalHeadConfig::Rnn {
        cell: RnnKind::Gru,
        hidden: 8,
        layers: 1,
        bidirectional: true,
        output: TemporalOutput::PerFrame,
    };
    head_case("head_gru_bi", cfg, 20, 7);
}

#[test]
fn lstm_head_middle_frame() {
    let cfg = TemporalHeadConfig::Rnn {
        cell: RnnKind::Lstm,
        hidden: 8,
        layers: 1,
        bidirectional: false,
        output: TemporalOutput::Middle,
    };
    head_case("head_lstm_middle", cfg, 20, 8);
}

#[test]
fn transformer_head_middle_frame() {
    let cfg = TemporalHeadConfig::Transformer {
        encoder: TransformerConfig {
            num_layers: 1,
            ..small_encoder()
        },
        output: TemporalOutput::Middle,
    };
    head_case("head_transformer_middle", cfg, 20, 8);
}

#[test]
fn method_a_network_on_a_clip() {
    let fx = Fixture::load("method_a");
    let dev = Device::default();
    let mut m = MethodAConfig::resnet101_cbam_bilstm().init(&dev).unwrap();
    assert_same_keys("method_a", weights::pytorch_keys(&m));
    det_load(&mut m);
    let out = m.forward(input::<5>(&fx.input_shape(), &dev));
    check_output(&fx, "output", out, FWD_TOL);
}

//! Every CPU-sized preset builds and runs a clip with the documented output shape.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use wildfer_nn::burn::tensor::{Device, Distribution, Tensor};
use wildfer_nn::zoo::{Model, PRESETS};
use wildfer_nn::{preset, weights};

fn run(model: &Model, window: usize, dev: &Device) -> Vec<[usize; 3]> {
    let x = |t: usize| Tensor::<5>::random([2, t, 3, 48, 48], Distribution::Default, dev);
    match model {
        Model::MethodA(m) => vec![m.forward(x(window)).dims()],
        Model::Clip(m) => vec![m.forward(x(window), None).dims()],
        Model::Ensemble { members, .. } => members.iter().flat_map(|m| run(m, 9, dev)).collect(),
    }
}

#[test]
fn small_presets_run_with_documented_shapes() {
    let dev = Device::default();
    for name in PRESETS
        .iter()
        .filter(|n| n.contains("resnet18") || n.contains("senet"))
    {
        let cfg = preset(name).unwrap().with_num_classes(8);
        let model = cfg.init(&dev).unwrap();
        let window = match &cfg {
            wildfer_nn::ModelConfig::MethodA(c) => c.clip_len,
            wildfer_nn::ModelConfig::Clip(c) => c.window,
            wildfer_nn::ModelConfig::Ensemble { .. } => 9,
        };
        for dims in run(&model, window, &dev) {
            assert_eq!(dims[0], 2, "{name}");
            assert!(dims[1] == window || dims[1] == 1, "{name}: {dims:?}");
            assert_eq!(dims[2], 8, "{name}");
        }
        if let Model::Clip(m) = &model {
            let keys = weights::pytorch_keys(m);
            assert!(
                keys.iter().any(|(k, _)| k == "backbone.conv1.weight"),
                "{name}: {:?}",
                &keys[..3]
            );
            assert!(keys.iter().any(|(k, _)| k == "head.fc.weight"), "{name}");
        }
    }
}

//! Data-parallel steps: on a network without batch norm (face-api's ResNet-34 trunk), the
//! gradients summed over K = 2 replicas equal the 1-replica gradient of the whole batch, for
//! plain and class-weighted cross-entropy and a batch that does not split evenly; a run with
//! `run.replicas = 2` trains through the trainer (batch norm per part) and resumes exactly.
#![allow(clippy::unwrap_used)]

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use std::path::Path;
use wildfer_data::{SynthOptions, generate};
use wildfer_labels::LabelSet;
use wildfer_train::checkpoint::{self, RunDir};
use wildfer_train::config::LossSection;
use wildfer_train::loss::Loss;
use wildfer_train::replicas::{Replicas, split};
use wildfer_train::{Net, TrainConfig, TrainOptions, train};

/// Every gradient of `net`'s parameters in `grads`, in the network's order (missing: empty).
fn flat(net: &Net, grads: &GradientsParams) -> Vec<Vec<f32>> {
    struct Gather<'a> {
        grads: &'a GradientsParams,
        out: Vec<Vec<f32>>,
    }
    impl ModuleVisitor for Gather<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.out
                .push(self.grads.get::<D>(param.id).map_or(Vec::new(), |g| {
                    g.into_data()
                        .convert::<f32>()
                        .try_into_vec::<f32>()
                        .unwrap()
                }));
        }
    }
    let mut g = Gather {
        grads,
        out: Vec::new(),
    };
    net.visit(&mut g);
    g.out
}

fn net_config() -> TrainConfig {
    let text = r#"
[model]
classes = 7
input_size = 104
[model.network]
kind = "clip"
num_classes = 7
window = 1
[model.network.backbone]
family = "face_api_resnet34"
[model.network.head]
kind = "frame"
[data]
root = "unused"
[run]
iterations = 1
"#;
    TrainConfig::from_toml(text, Path::new("dp.toml")).unwrap()
}

#[test]
fn two_replicas_sum_to_the_whole_batch_gradient() {
    let cfg = net_config();
    let device = Device::default().autodiff();
    let net = Net::init(&cfg.network().unwrap(), &device, 3).unwrap();
    let (b, t, s) = (3, 1, 104);
    let pixels: Vec<f32> = (0..b * t * 3 * s * s)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let mask = vec![1.0; b * t];
    let targets = vec![Some(4), Some(1), Some(4)];
    let replicas = Replicas::new(2, vec![device.clone()]).unwrap();
    for weights in [None, Some(vec![1.0, 3.0, 1.0, 1.0, 0.5, 1.0, 1.0])] {
        let loss_fn = Loss::new(
            &LossSection {
                kind: if weights.is_some() {
                    wildfer_train::config::LossKind::WeightedCrossEntropy
                } else {
                    wildfer_train::config::LossKind::CrossEntropy
                },
                class_weights: weights,
                ..LossSection::default()
            },
            7,
            &[],
        );
        // One replica: the whole batch.
        let x = Tensor::<5>::from_data(TensorData::new(pixels.clone(), [b, t, 3, s, s]), &device);
        let m = Tensor::<2>::from_data(TensorData::new(mask.clone(), [b, t]), &device);
        let loss = loss_fn
            .forward(net.forward(x, Some(m)).reshape([b, 7]), &targets)
            .unwrap();
        let whole_loss = f64::from(loss.clone().into_scalar::<f32>());
        let (whole_bb, whole_rest) = net.split_grads(loss.backward());
        // Two replicas: parts of 2 and 1 windows.
        let parts = split(&pixels, &mask, &targets, (b, t, s), 2);
        assert_eq!(parts.len(), 2);
        let denominator = loss_fn.denominator(&targets, 7);
        assert!(denominator.is_some());
        let (loss2, bb, rest) = replicas
            .gradients(&net, parts, &loss_fn, denominator, 7, &[1, 2])
            .unwrap()
            .unwrap();
        assert!(
            (loss2 - whole_loss).abs() < 1e-5 * whole_loss.abs().max(1.0),
            "{loss2} vs {whole_loss}"
        );
        let mut compared = 0;
        for (whole, parts) in [(whole_bb, bb), (whole_rest, rest)] {
            for (a, b) in flat(&net, &whole).iter().zip(flat(&net, &parts)) {
                assert_eq!(a.len(), b.len());
                let scale = a.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-3);
                for (x, y) in a.iter().zip(&b) {
                    assert!((x - y).abs() <= 1e-4 * scale, "{x} vs {y} (scale {scale})");
                }
                compared += a.len();
            }
        }
        assert!(compared > 5_000_000, "every parameter's gradient compared");
    }
}

/// `run.replicas = 2` through the trainer: a network with batch norm (per-part statistics)
/// trains, and a run stopped and resumed ends with the weights of an uninterrupted one.
#[test]
fn a_two_replica_run_trains_and_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    generate(
        &root,
        &SynthOptions {
            videos: (3, 1),
            frames: 12,
            label_set: LabelSet::Seven,
            size: 32,
            seed: 3,
        },
    )
    .unwrap();
    let text = format!(
        r#"
seed = 5
[model]
classes = 7
input_size = 32
[model.network]
kind = "clip"
num_classes = 7
window = 1
[model.network.backbone]
family = "mini_xception"
[model.network.head]
kind = "frame"
[data]
root = "{}"
workers = 1
[optim]
kind = "sgd"
lr = 0.01
momentum = 0.9
[run]
iterations = 4
batch_size = 4
replicas = 2
checkpoint_every = 2
eval_every = 4
"#,
        root.display()
    );
    let cfg = TrainConfig::from_toml(&text, Path::new("dp.toml")).unwrap();
    let whole = tmp.path().join("whole");
    let s = train(&cfg, &whole, &TrainOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(s.state.iteration, 4);
    let parts = tmp.path().join("parts");
    let opts = |n: usize| TrainOptions {
        resume: n > 2,
        stop_after: Some(n),
        ..TrainOptions::default()
    };
    train(&cfg, &parts, &opts(2), &mut |_| {}).unwrap();
    train(&cfg, &parts, &opts(4), &mut |_| {}).unwrap();
    // Tensor values by name (burnpack files also hold each run's random parameter ids).
    let model = |run: &Path| {
        let dir = RunDir::new(run).resolve("latest").unwrap().unwrap();
        let (_, net, _, _) = checkpoint::load(&dir, &Device::default()).unwrap();
        checkpoint::named_tensors(&net)
    };
    let (a, b) = (model(&whole), model(&parts));
    assert_eq!(a.len(), b.len());
    for ((na, va), (nb, vb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(
            va == vb,
            "{na}: resumed weights differ from the uninterrupted run's"
        );
    }
    // Replicas beyond the batch are refused when the run file is read.
    let bad = text.replace("replicas = 2", "replicas = 5");
    let e = TrainConfig::from_toml(&bad, Path::new("dp.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("run.replicas"), "{e}");
}

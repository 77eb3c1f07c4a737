//! Losses, optimizers and learning-rate schedules against PyTorch
//! (`reference/train_fixtures.py` -> `tests/fixtures/train_fixtures.json`).
#![allow(clippy::unwrap_used)]

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData};
use serde_json::Value;
use wildfer_train::config::{
    LossKind, LossSection, OptimKind, OptimSection, ScheduleKind, ScheduleSection,
};
use wildfer_train::loss::Loss;
use wildfer_train::schedule::lr_at;
use wildfer_train::trainer::optimizer;

fn fixtures() -> Value {
    serde_json::from_str(include_str!("fixtures/train_fixtures.json")).unwrap()
}

/// `scale * sin(0.7 i + phase)`, as the reference script.
fn det(n: usize, scale: f64, phase: f64) -> Vec<f32> {
    (0..n)
        .map(|i| (scale * (0.7 * i as f64 + phase).sin()) as f32)
        .collect()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: length");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

#[test]
fn losses_and_their_gradients_match_pytorch() {
    let f = fixtures();
    let l = &f["losses"];
    let targets: Vec<Option<usize>> = l["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| usize::try_from(t.as_i64().unwrap()).ok())
        .collect();
    let weights = floats(&l["class_weights"]);
    let dev = Device::default().autodiff();
    for (name, kind, label_smoothing) in [
        ("cross_entropy", LossKind::CrossEntropy, 0.0),
        (
            "weighted_cross_entropy",
            LossKind::WeightedCrossEntropy,
            0.0,
        ),
        ("focal", LossKind::Focal, 0.0),
        ("cross_entropy_smoothed", LossKind::CrossEntropy, 0.1),
        (
            "weighted_cross_entropy_smoothed",
            LossKind::WeightedCrossEntropy,
            0.1,
        ),
    ] {
        let cfg = LossSection {
            kind,
            gamma: 2.0,
            class_weights: (kind != LossKind::CrossEntropy).then(|| weights.clone()),
            label_smoothing,
        };
        let loss_fn = Loss::new(&cfg, 7, &[]);
        let logits =
            Tensor::<2>::from_data(TensorData::new(det(42, 2.0, 0.3), [6, 7]), &dev).require_grad();
        let loss = loss_fn.forward(logits.clone(), &targets).unwrap();
        let value: f32 = loss.clone().into_scalar();
        let expected = l[name]["loss"].as_f64().unwrap() as f32;
        close(&[value], &[expected], 1e-5, name);
        let grads = loss.backward();
        let g = logits
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        close(&g, &floats(&l[name]["grad"]), 1e-5, &format!("{name} grad"));
    }
    // No target at all: no loss.
    let none = Loss::new(&LossSection::default(), 7, &[]);
    let z = Tensor::<2>::zeros([2, 7], &dev);
    assert!(none.forward(z, &[None, None]).is_none());
}

#[test]
fn optimizers_follow_pytorch_for_three_steps() {
    let f = fixtures();
    let o = &f["optim"];
    let dev = Device::default().autodiff();
    let x = Tensor::<2>::from_data(TensorData::new(floats(&o["x"]), [4, 5]), &dev);
    let y: Vec<Option<usize>> = o["y"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Some(v.as_u64().unwrap() as usize))
        .collect();
    let loss_fn = Loss::new(&LossSection::default(), 3, &[]);
    for (name, kind, nesterov, lr) in [
        ("sgd", OptimKind::Sgd, false, 0.1),
        ("sgd_nesterov", OptimKind::Sgd, true, 0.1),
        ("adamw", OptimKind::Adamw, false, 0.01),
    ] {
        let mut lin: Linear = LinearConfig::new(5, 3).init(&dev);
        // PyTorch layout [out, in] -> burn's [in, out].
        let w = Tensor::<2>::from_data(TensorData::new(floats(&o["init_weight"]), [3, 5]), &dev);
        lin.weight = lin.weight.map(|_| w.transpose().require_grad());
        let b = Tensor::<1>::from_data(TensorData::new(floats(&o["init_bias"]), [3]), &dev);
        lin.bias = lin.bias.map(|p| p.map(|_| b.require_grad()));
        let mut opt = optimizer(&OptimSection {
            kind,
            lr,
            momentum: 0.9,
            nesterov,
            weight_decay: 0.01,
            ..OptimSection::default()
        });
        for _ in 0..3 {
            let loss = loss_fn.forward(lin.forward(x.clone()), &y).unwrap();
            let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &lin);
            lin = opt.step(lr, lin, grads);
        }
        let w = lin
            .weight
            .val()
            .transpose()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        close(
            &w,
            &floats(&o[name]["weight"]),
            1e-5,
            &format!("{name} weight"),
        );
        let b = lin
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        close(&b, &floats(&o[name]["bias"]), 1e-5, &format!("{name} bias"));
        assert!(lin.num_params() == 18);
    }
}

#[test]
fn schedules_match_pytorch() {
    let f = fixtures();
    let s = &f["schedules"];
    let base = s["base"].as_f64().unwrap();
    let lrs = |v: &Value| -> Vec<f64> {
        v["lr"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let check = |cfg: ScheduleSection, iterations: usize, expected: Vec<f64>, what: &str| {
        for (i, e) in expected.iter().enumerate() {
            let got = lr_at(&cfg, base, iterations, i);
            assert!((got - e).abs() < 1e-9, "{what} step {i}: {got} vs {e}");
        }
    };
    let w = &s["warmup"];
    let iters = w["iters"].as_u64().unwrap() as usize;
    check(
        ScheduleSection {
            warmup_iters: iters,
            ..ScheduleSection::default()
        },
        100,
        lrs(w),
        "warm-up",
    );
    let st = &s["step"];
    check(
        ScheduleSection {
            kind: ScheduleKind::Step,
            step_size: st["step_size"].as_u64().unwrap() as usize,
            gamma: st["gamma"].as_f64().unwrap(),
            ..ScheduleSection::default()
        },
        100,
        lrs(st),
        "step",
    );
    let c = &s["cosine"];
    check(
        ScheduleSection {
            kind: ScheduleKind::Cosine,
            min_lr: c["min_lr"].as_f64().unwrap(),
            ..ScheduleSection::default()
        },
        c["iterations"].as_u64().unwrap() as usize,
        lrs(c),
        "cosine",
    );
}

//! The cases `wildfer bench models` times (here, not in the shipped library crates), next to
//! the same architectures in PyTorch (`reference/bench_models.py`, run in the same session).
//!
//! Every case works on one 8-frame clip of `size` x `size` RGB crops:
//!
//! | case | what is timed |
//! |---|---|
//! | `resnet18_forward` | ResNet-18 features of the 8 frames, eval mode |
//! | `resnet50_forward` | ResNet-50 features of the 8 frames, eval mode |
//! | `method_a_forward` | ResNet-101 + CBAM + BiLSTM on the clip, eval mode |
//! | `resnet18_bilstm_train_step` | ResNet-18 + BiLSTM head (method A's head): forward, cross-entropy on 8 labels, backward, SGD (momentum 0.9, no dampening) |

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::time::Instant;
use wildfer_nn::{MethodAConfig, NnError, ResNetConfig};

/// The case names, in run order.
pub const CASES: [&str; 4] = [
    "resnet18_forward",
    "resnet50_forward",
    "method_a_forward",
    "resnet18_bilstm_train_step",
];

/// Timings of one case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseTiming {
    pub case: String,
    /// Milliseconds of each timed run (after one warm-up run).
    pub runs_ms: Vec<f64>,
}

impl CaseTiming {
    pub fn median_ms(&self) -> f64 {
        median(&self.runs_ms)
    }
}

/// Median of a non-empty slice (0 for an empty one).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

fn time_runs(runs: usize, mut f: impl FnMut()) -> Vec<f64> {
    f(); // warm-up: allocations, kernel selection
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect()
}

/// Run the cases whose names pass `filter`; `progress` is told each case as it starts.
pub fn run(
    runs: usize,
    size: usize,
    filter: impl Fn(&str) -> bool,
    mut progress: impl FnMut(&str),
) -> Result<Vec<CaseTiming>, NnError> {
    if runs == 0 || size < 32 {
        return Err(NnError::Config(
            "bench needs runs >= 1 and size >= 32".into(),
        ));
    }
    let dev = wildfer_nn::cpu();
    let frames = Tensor::<4>::random([8, 3, size, size], Distribution::Default, &dev);
    let clip = frames.clone().reshape([1, 8, 3, size, size]);
    let mut out = Vec::new();
    for case in CASES.iter().filter(|c| filter(c)) {
        progress(case);
        let runs_ms = match *case {
            "resnet18_forward" | "resnet50_forward" => {
                let cfg = if *case == "resnet18_forward" {
                    ResNetConfig::resnet18()
                } else {
                    ResNetConfig::resnet50()
                };
                let m = cfg.init(&dev)?;
                time_runs(runs, || {
                    let _ = m.forward_features(frames.clone()).into_data();
                })
            }
            "method_a_forward" => {
                let m = MethodAConfig::resnet101_cbam_bilstm().init(&dev)?;
                time_runs(runs, || {
                    let _ = m.forward(clip.clone()).into_data();
                })
            }
            _ => train_step_runs(runs, size)?,
        };
        out.push(CaseTiming {
            case: case.to_string(),
            runs_ms,
        });
    }
    Ok(out)
}

fn train_step_runs(runs: usize, size: usize) -> Result<Vec<f64>, NnError> {
    let dev = wildfer_nn::cpu().autodiff();
    let cfg = MethodAConfig {
        backbone: ResNetConfig::resnet18(),
        ..MethodAConfig::resnet18_cbam_bilstm()
    };
    let mut model = Some(cfg.init(&dev)?);
    // PyTorch semantics: no dampening.
    let mut optim = SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new().with_momentum(0.9).with_dampening(0.0),
        ))
        .init();
    let loss_fn = CrossEntropyLossConfig::new().init(&dev);
    let x = Tensor::<5>::random([1, 8, 3, size, size], Distribution::Default, &dev);
    let y =
        Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1, 2, 3, 4, 5, 6, 0], [8]), &dev);
    Ok(time_runs(runs, || {
        if let Some(m) = model.take() {
            let logits = m.forward(x.clone()).reshape([8, 7]);
            let loss = loss_fn.forward(logits, y.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &m);
            let m = optim.step(1e-4, m, grads);
            // Make sure the update has run before the clock stops.
            let _ = m.out2.weight.val().valid().into_data();
            model = Some(m);
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}

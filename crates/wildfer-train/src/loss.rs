//! Losses over per-frame logits with masked targets (padding, -1 and crop-less frames carry no
//! target). PyTorch semantics: `CrossEntropyLoss(weight=w, ignore_index=-1)` divides by the sum
//! of the targets' weights; focal loss `alpha_y (1 - p_t)^gamma (-log p_t)` is averaged over the
//! frames with a target. `label_smoothing` eps as PyTorch's: each frame's loss is
//! `(1 - eps) w_y (-log p_y) + eps / C * sum_c w_c (-log p_c)`, still divided by the targets'
//! summed weights. Checked against PyTorch in `tests/torch_parity.rs`.

use crate::config::{LossKind, LossSection};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Tensor, TensorData};

#[derive(Debug, Clone)]
pub struct Loss {
    kind: LossKind,
    gamma: f32,
    /// Per class; all ones for plain cross-entropy.
    class_weights: Vec<f32>,
    label_smoothing: f32,
}

impl Loss {
    /// `class_counts` (training frames per class) give inverse-frequency weights when the config
    /// asks for weighted cross-entropy without listing weights.
    pub fn new(cfg: &LossSection, classes: usize, class_counts: &[usize]) -> Self {
        let class_weights = match (&cfg.class_weights, cfg.kind) {
            (Some(w), LossKind::WeightedCrossEntropy | LossKind::Focal) => w.clone(),
            (None, LossKind::WeightedCrossEntropy) => inverse_frequency(classes, class_counts),
            _ => vec![1.0; classes],
        };
        Loss {
            kind: cfg.kind,
            gamma: cfg.gamma,
            class_weights,
            label_smoothing: cfg.label_smoothing,
        }
    }

    pub fn class_weights(&self) -> &[f32] {
        &self.class_weights
    }

    /// Class `k`'s weight (1 beyond the listed classes).
    fn weight(&self, k: usize) -> f32 {
        self.class_weights.get(k).copied().unwrap_or(1.0)
    }

    /// Mean loss of `logits` `[n, classes]` against `targets` (length n); `None` when no frame
    /// has a target (or every target weighs 0).
    pub fn forward(&self, logits: Tensor<2>, targets: &[Option<usize>]) -> Option<Tensor<1>> {
        let [_, c] = logits.dims();
        let denominator = self.denominator(targets, c)?;
        self.forward_over(logits, targets, denominator)
    }

    /// What [`Loss::forward`] divides the summed loss by for `targets` of `classes` classes:
    /// the targets' summed class weights (cross-entropy), or their count (focal); `None` when
    /// it is 0. A batch split into parts has one denominator, the whole batch's.
    pub fn denominator(&self, targets: &[Option<usize>], classes: usize) -> Option<f32> {
        let count = counted(targets, classes).count();
        let wsum: f32 = counted(targets, classes).map(|(_, t)| self.weight(t)).sum();
        if count == 0 || wsum <= 0.0 {
            return None;
        }
        Some(match self.kind {
            LossKind::Focal => count as f32,
            _ => wsum,
        })
    }

    /// The summed loss of `logits` `[n, classes]` against `targets` divided by `denominator`
    /// (the whole batch's, for a part of it: the parts' losses then add up to the batch's);
    /// `None` when no frame here has a target.
    pub fn forward_over(
        &self,
        logits: Tensor<2>,
        targets: &[Option<usize>],
        denominator: f32,
    ) -> Option<Tensor<1>> {
        let [n, c] = logits.dims();
        assert_eq!(targets.len(), n, "one target slot per logit row");
        counted(targets, c).next()?;
        let dev = logits.device();
        let log_p = log_softmax(logits, 1);
        Some(match self.kind {
            LossKind::CrossEntropy | LossKind::WeightedCrossEntropy => {
                // One weighted target distribution per row: the loss is -sum(q * log p).
                let eps = self.label_smoothing;
                let mut q = vec![0f32; n * c];
                for (i, t) in counted(targets, c) {
                    let row = &mut q[i * c..(i + 1) * c];
                    for (k, v) in row.iter_mut().enumerate() {
                        *v = eps / c as f32 * self.weight(k);
                    }
                    row[t] += (1.0 - eps) * self.weight(t);
                }
                let q = Tensor::<2>::from_data(TensorData::new(q, [n, c]), &dev);
                (log_p * q).sum().neg().div_scalar(denominator)
            }
            LossKind::Focal => {
                let mut onehot = vec![0f32; n * c];
                let mut w = vec![0f32; n];
                for (i, t) in counted(targets, c) {
                    onehot[i * c + t] = 1.0;
                    w[i] = self.weight(t);
                }
                let onehot = Tensor::<2>::from_data(TensorData::new(onehot, [n, c]), &dev);
                let w = Tensor::<1>::from_data(TensorData::new(w, [n]), &dev);
                let nll = (log_p * onehot).sum_dim(1).reshape([n]).neg();
                let pt = nll.clone().neg().exp();
                let modulator = pt
                    .neg()
                    .add_scalar(1.0)
                    .clamp_min(0.0)
                    .powf_scalar(self.gamma);
                (modulator * nll * w).sum().div_scalar(denominator)
            }
        })
    }
}

/// The rows that carry a target of one of `classes` classes: (row, class).
fn counted(targets: &[Option<usize>], classes: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    targets
        .iter()
        .enumerate()
        .filter_map(move |(i, t)| t.filter(|&t| t < classes).map(|t| (i, t)))
}

/// `n / (classes * count_c)`, the weights sklearn calls "balanced"; absent classes get 0.
pub fn inverse_frequency(classes: usize, counts: &[usize]) -> Vec<f32> {
    let total: usize = counts.iter().take(classes).sum();
    (0..classes)
        .map(|c| match counts.get(c).copied().unwrap_or(0) {
            0 => 0.0,
            k => total as f32 / (classes as f32 * k as f32),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_weights() {
        assert_eq!(
            inverse_frequency(3, &[2, 1, 1]),
            vec![4.0 / 6.0, 4.0 / 3.0, 4.0 / 3.0]
        );
        assert_eq!(inverse_frequency(2, &[4, 0]), vec![0.5, 0.0]);
    }
}

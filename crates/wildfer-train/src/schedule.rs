//! Learning-rate schedules as pure functions of the iteration, so a resumed run needs no
//! scheduler state. The formulas are PyTorch's: `LinearLR(1/w, 1, w-1)` for the warm-up,
//! `StepLR` and the closed form of `CosineAnnealingLR` after it (checked against
//! `reference/train_fixtures.py`).

use crate::config::{ScheduleKind, ScheduleSection};

/// Learning rate of iteration `it` (0-based) of a run of `iterations`, base rate `base`.
pub fn lr_at(s: &ScheduleSection, base: f64, iterations: usize, it: usize) -> f64 {
    if it < s.warmup_iters {
        return base * (it + 1) as f64 / s.warmup_iters as f64;
    }
    let t = it - s.warmup_iters;
    match s.kind {
        ScheduleKind::Constant => base,
        ScheduleKind::Step => base * s.gamma.powi((t / s.step_size.max(1)) as i32),
        ScheduleKind::Cosine => {
            let total = iterations.saturating_sub(s.warmup_iters).max(1) as f64;
            let c = (std::f64::consts::PI * (t as f64).min(total) / total).cos();
            s.min_lr + (base - s.min_lr) * (1.0 + c) / 2.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine_reaches_min_at_the_end() {
        let s = ScheduleSection {
            kind: ScheduleKind::Cosine,
            warmup_iters: 4,
            min_lr: 0.01,
            ..Default::default()
        };
        let lrs: Vec<f64> = (0..14).map(|i| lr_at(&s, 1.0, 14, i)).collect();
        assert_eq!(&lrs[..4], &[0.25, 0.5, 0.75, 1.0]);
        assert!((lrs[4] - 1.0).abs() < 1e-12);
        assert!(lrs[5..].windows(2).all(|w| w[1] < w[0]));
        assert!((lr_at(&s, 1.0, 14, 14) - 0.01).abs() < 1e-12);
        let step = ScheduleSection {
            kind: ScheduleKind::Step,
            step_size: 3,
            gamma: 0.5,
            ..Default::default()
        };
        let v: Vec<f64> = (0..7).map(|i| lr_at(&step, 2.0, 7, i)).collect();
        assert_eq!(v, vec![2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 0.5]);
    }
}

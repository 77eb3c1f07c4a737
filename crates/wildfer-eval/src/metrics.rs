//! Classification metrics on a confusion matrix.
//!
//! Conventions follow scikit-learn with `labels=range(n)` and `zero_division=0`:
//! a class with no true and no predicted frame has precision = recall = F1 = 0 and still
//! counts in the macro average. A frame whose prediction is missing counts as wrong: it lowers
//! accuracy and the recall of its true class, and is a false positive of no class.

use serde::Serialize;

/// Confusion matrix, rows = truth, columns = prediction, plus a column of frames with no
/// prediction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confusion {
    n: usize,
    counts: Vec<u64>,
    missing: Vec<u64>,
}

impl Confusion {
    /// An empty matrix for `n` classes.
    pub fn new(n: usize) -> Self {
        Confusion {
            n,
            counts: vec![0; n * n],
            missing: vec![0; n],
        }
    }

    /// Build from paired labels; `pred[i] == None` is a missing prediction.
    ///
    /// # Panics
    /// If the slices differ in length or a label is `>= n` (programming errors; user labels
    /// are validated when files are parsed).
    pub fn from_labels(n: usize, truth: &[usize], pred: &[Option<usize>]) -> Self {
        assert_eq!(
            truth.len(),
            pred.len(),
            "truth and prediction lengths differ"
        );
        let mut c = Confusion::new(n);
        for (&t, &p) in truth.iter().zip(pred) {
            c.add(t, p);
        }
        c
    }

    pub fn num_classes(&self) -> usize {
        self.n
    }

    /// Count one frame.
    ///
    /// # Panics
    /// If `truth` or `pred` is not a class index `< n`.
    pub fn add(&mut self, truth: usize, pred: Option<usize>) {
        assert!(truth < self.n, "truth label {truth} >= {}", self.n);
        match pred {
            Some(p) => {
                assert!(p < self.n, "predicted label {p} >= {}", self.n);
                self.counts[truth * self.n + p] += 1;
            }
            None => self.missing[truth] += 1,
        }
    }

    /// Frames with truth `t` predicted as `p`.
    pub fn get(&self, t: usize, p: usize) -> u64 {
        self.counts[t * self.n + p]
    }

    /// The matrix as rows (truth) of columns (prediction), missing predictions not included.
    pub fn rows(&self) -> Vec<Vec<u64>> {
        self.counts.chunks(self.n).map(<[u64]>::to_vec).collect()
    }

    /// Frames of each true class that have no prediction.
    pub fn missing_per_class(&self) -> &[u64] {
        &self.missing
    }

    /// All frames counted, with or without a prediction.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.missing.iter().sum::<u64>()
    }

    /// Frames without a prediction.
    pub fn missing(&self) -> u64 {
        self.missing.iter().sum()
    }

    fn tp(&self, c: usize) -> u64 {
        self.get(c, c)
    }

    /// Frames whose truth is `c` (with or without prediction).
    pub fn support(&self, c: usize) -> u64 {
        (0..self.n).map(|p| self.get(c, p)).sum::<u64>() + self.missing[c]
    }

    /// Frames predicted as `c`.
    pub fn predicted(&self, c: usize) -> u64 {
        (0..self.n).map(|t| self.get(t, c)).sum()
    }

    /// Share of frames predicted correctly; 0 when there are none.
    pub fn accuracy(&self) -> f64 {
        let total = self.total();
        let correct: u64 = (0..self.n).map(|c| self.tp(c)).sum();
        ratio(correct, total)
    }

    pub fn precision(&self, c: usize) -> f64 {
        ratio(self.tp(c), self.predicted(c))
    }

    pub fn recall(&self, c: usize) -> f64 {
        ratio(self.tp(c), self.support(c))
    }

    /// `2 tp / (2 tp + fp + fn)`, 0 when the class is absent from truth and prediction.
    pub fn f1(&self, c: usize) -> f64 {
        let tp = self.tp(c);
        ratio(2 * tp, self.support(c) + self.predicted(c))
    }

    /// Unweighted mean of the per-class F1 over all `n` classes.
    pub fn f1_macro(&self) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        (0..self.n).map(|c| self.f1(c)).sum::<f64>() / self.n as f64
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// ABAW 2020/2021 expression score: `0.67 * F1 + 0.33 * Acc`.
pub fn abaw2020_score(f1_macro: f64, accuracy: f64) -> f64 {
    0.67 * f1_macro + 0.33 * accuracy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_case() {
        // truth 0 0 1 1 2, pred 0 1 1 1 -, three classes.
        let c = Confusion::from_labels(
            3,
            &[0, 0, 1, 1, 2],
            &[Some(0), Some(1), Some(1), Some(1), None],
        );
        assert_eq!(c.total(), 5);
        assert_eq!(c.missing(), 1);
        assert!((c.accuracy() - 0.6).abs() < 1e-12);
        // class 0: tp1 fp0 fn1 -> 2/3; class 1: tp2 fp1 fn0 -> 4/5; class 2: 0.
        assert!((c.f1(0) - 2.0 / 3.0).abs() < 1e-12);
        assert!((c.f1(1) - 0.8).abs() < 1e-12);
        assert_eq!(c.f1(2), 0.0);
        assert!((c.f1_macro() - (2.0 / 3.0 + 0.8) / 3.0).abs() < 1e-12);
        assert_eq!(c.rows(), vec![vec![1, 1, 0], vec![0, 2, 0], vec![0, 0, 0]]);
        assert!((abaw2020_score(0.5, 1.0) - 0.665).abs() < 1e-12);
    }

    #[test]
    fn empty_matrix_is_zero_not_nan() {
        let c = Confusion::new(7);
        assert_eq!(c.accuracy(), 0.0);
        assert_eq!(c.f1_macro(), 0.0);
    }
}

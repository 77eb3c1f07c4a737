//! The one definition of `--smooth N` (analyze's streaming smoother and predict's smoothing of
//! whole videos both use it): a centred window of exactly `N` frames, `(N - 1) / 2` before the
//! frame and `N / 2` after it (for an even `N` the extra frame is after), weighted equally or
//! by a Gaussian; at the ends of a track the window is cut and its weights renormalised.

use serde::{Deserialize, Serialize};

/// How probabilities are smoothed over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmoothKind {
    /// Centred moving average.
    #[default]
    Mean,
    /// Centred Gaussian weights, standard deviation a quarter of the window.
    Gaussian,
}

/// A smoothing window (see the module documentation); 0 or 1 frames: off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SmoothWindow {
    pub frames: usize,
    pub kind: SmoothKind,
}

impl SmoothWindow {
    pub fn new(frames: usize, kind: SmoothKind) -> Self {
        SmoothWindow { frames, kind }
    }

    /// Frames before the centre.
    pub fn before(&self) -> usize {
        self.frames.saturating_sub(1) / 2
    }

    /// Frames after the centre.
    pub fn after(&self) -> usize {
        if self.frames <= 1 { 0 } else { self.frames / 2 }
    }

    /// Weight of the frame `d` frames from the centre (`d` within the window).
    pub fn weight(&self, d: isize) -> f32 {
        match self.kind {
            SmoothKind::Mean => 1.0,
            SmoothKind::Gaussian => {
                let sigma = self.frames as f32 / 4.0;
                (-0.5 * (d as f32 / sigma).powi(2)).exp()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_of_n_frames_has_n_frames() {
        for n in 0..12 {
            let w = SmoothWindow::new(n, SmoothKind::Mean);
            assert_eq!(w.before() + 1 + w.after(), n.max(1), "{n}");
            assert!(w.after() >= w.before() && w.after() - w.before() <= 1);
        }
        let g = SmoothWindow::new(8, SmoothKind::Gaussian);
        assert_eq!(g.weight(0), 1.0);
        assert!((g.weight(2) - (-0.5f32).exp()).abs() < 1e-6);
        assert_eq!(g.weight(-3), g.weight(3));
    }
}

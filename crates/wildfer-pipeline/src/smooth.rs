//! Temporal smoothing of per-frame probabilities over each track's frames, the window as
//! [`wildfer_labels::smoothing`] defines it (the one definition `predict` uses too), computed on
//! the fly with a delay of the window's frames after the centre, so memory holds only the
//! window's face records (no pixels) however long the video.

use crate::expression::Probs;
use std::collections::VecDeque;
use wildfer_face::Detection;
use wildfer_labels::smoothing::{SmoothKind, SmoothWindow};

/// One face of one frame, as classified.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceRecord {
    pub track: usize,
    pub detection: Detection,
    pub probs: Probs,
}

/// One frame's faces.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameRecord {
    pub index: usize,
    pub time_s: f64,
    pub faces: Vec<FaceRecord>,
}

/// Streaming smoothing (see the module documentation). A window of 0 or 1 frames passes
/// frames through unchanged.
#[derive(Debug, Clone)]
pub struct Smoother {
    window: SmoothWindow,
    /// Raw frames: the last `before` already emitted ones (context), then those waiting.
    buf: VecDeque<FrameRecord>,
    /// How many frames at the front of `buf` were already emitted.
    emitted: usize,
}

impl Smoother {
    /// A moving average over `window` frames.
    pub fn new(window: usize) -> Self {
        Smoother::with(SmoothWindow::new(window, SmoothKind::Mean))
    }

    pub fn with(window: SmoothWindow) -> Self {
        Smoother {
            window,
            buf: VecDeque::new(),
            emitted: 0,
        }
    }

    /// Add the next frame; returns the frames that are now ready, smoothed, in order.
    pub fn push(&mut self, f: FrameRecord) -> Vec<FrameRecord> {
        self.buf.push_back(f);
        let (before, after) = (self.window.before(), self.window.after());
        let mut out = Vec::new();
        // Frame at position p is ready once `after` frames follow it.
        while self.buf.len() > self.emitted + after {
            out.push(self.smoothed(self.emitted));
            self.emitted += 1;
            if self.emitted > before {
                self.buf.pop_front();
                self.emitted -= 1;
            }
        }
        out
    }

    /// The frames still waiting (at the end of the input), smoothed over what is left.
    pub fn finish(&mut self) -> Vec<FrameRecord> {
        let out = (self.emitted..self.buf.len())
            .map(|p| self.smoothed(p))
            .collect();
        self.buf.clear();
        self.emitted = 0;
        out
    }

    /// Frame at buffer position `p` with each face's probabilities averaged (weighted as the
    /// window says) over the same track's faces in the window around it (by position: frames,
    /// not seconds), renormalised over the frames where the track has a face.
    fn smoothed(&self, p: usize) -> FrameRecord {
        let mut f = self.buf[p].clone();
        if self.window.frames <= 1 {
            return f;
        }
        let lo = p.saturating_sub(self.window.before());
        let hi = (p + self.window.after()).min(self.buf.len() - 1);
        for face in &mut f.faces {
            let mut sum = Probs::zeros(face.probs.label_set());
            let mut total = 0f32;
            for (q, other) in self.buf.range(lo..=hi).enumerate() {
                let w = self.window.weight((lo + q) as isize - p as isize);
                for o in other.faces.iter().filter(|o| o.track == face.track) {
                    sum.add_scaled(&o.probs, w);
                    total += w;
                }
            }
            for s in sum.iter_mut() {
                *s /= total;
            }
            face.probs = sum;
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wildfer_face::{BBox, Point2};

    fn frame(index: usize, faces: &[(usize, f32)]) -> FrameRecord {
        FrameRecord {
            index,
            time_s: index as f64,
            faces: faces
                .iter()
                .map(|&(track, happy)| FaceRecord {
                    track,
                    detection: Detection {
                        bbox: BBox::default(),
                        score: 1.0,
                        landmarks: [Point2::default(); 5],
                    },
                    probs: Probs::seven([1.0 - happy, 0.0, 0.0, 0.0, happy, 0.0, 0.0]),
                })
                .collect(),
        }
    }

    fn run(window: usize, frames: Vec<FrameRecord>) -> Vec<FrameRecord> {
        let mut s = Smoother::new(window);
        let mut out: Vec<FrameRecord> = frames.into_iter().flat_map(|f| s.push(f)).collect();
        out.extend(s.finish());
        out
    }

    /// Issue 20: `--smooth 4` averaged 5 frames in analyze and 4 in predict. Both now follow
    /// one definition and agree frame by frame, for every window and both weightings.
    #[test]
    fn analyze_and_predict_smooth_alike() {
        let raw: Vec<[f32; 7]> = (0..23)
            .map(|i| {
                let h = ((i * 37 % 11) as f32) / 10.0;
                [1.0 - h, 0.0, 0.0, 0.0, h, 0.0, 0.0]
            })
            .collect();
        for kind in [SmoothKind::Mean, SmoothKind::Gaussian] {
            for n in 0..10 {
                let mut sm = Smoother::with(SmoothWindow::new(n, kind));
                let mut got: Vec<FrameRecord> = raw
                    .iter()
                    .enumerate()
                    .flat_map(|(i, p)| {
                        let mut f = frame(i + 1, &[(0, 0.0)]);
                        f.faces[0].probs = Probs::seven(*p);
                        sm.push(f)
                    })
                    .collect();
                got.extend(sm.finish());
                let whole: Vec<Vec<f32>> = raw.iter().map(|p| p.to_vec()).collect();
                let want = wildfer_runtime::predict::smooth(&whole, n, kind);
                assert_eq!(got.len(), want.len());
                for (g, w) in got.iter().zip(&want) {
                    for (a, b) in g.faces[0].probs.iter().zip(w) {
                        assert!((a - b).abs() < 1e-6, "{kind:?} {n}");
                    }
                }
            }
        }
        // Four frames: one before, two after.
        let mut sm = Smoother::new(4);
        let frames: Vec<FrameRecord> = (1..=6)
            .map(|i| frame(i, &[(0, if i == 4 { 1.0 } else { 0.0 })]))
            .collect();
        let mut out: Vec<FrameRecord> = frames.into_iter().flat_map(|f| sm.push(f)).collect();
        out.extend(sm.finish());
        let happy: Vec<f32> = out.iter().map(|f| f.faces[0].probs[4]).collect();
        assert_eq!(happy, vec![0.0, 0.25, 0.25, 0.25, 1.0 / 3.0, 0.0]);
    }

    #[test]
    fn centred_average_per_track_with_gaps_and_edges() {
        // Track 0 happiness 0, 0, 1, 0, 0 on frames 1-5; track 1 only on frames 2 and 3.
        let frames = vec![
            frame(1, &[(0, 0.0)]),
            frame(2, &[(0, 0.0), (1, 1.0)]),
            frame(3, &[(0, 1.0), (1, 0.0)]),
            frame(4, &[(0, 0.0)]),
            frame(5, &[(0, 0.0)]),
            frame(6, &[]),
        ];
        let out = run(3, frames.clone());
        assert_eq!(
            out.iter().map(|f| f.index).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 6]
        );
        let happy =
            |f: &FrameRecord, t: usize| f.faces.iter().find(|x| x.track == t).unwrap().probs[4];
        // Frame 1: window {1, 2} (edge): 0. Frames 2-4: the spike spreads to its neighbours.
        assert_eq!(happy(&out[0], 0), 0.0);
        assert!((happy(&out[1], 0) - 1.0 / 3.0).abs() < 1e-6);
        assert!((happy(&out[2], 0) - 1.0 / 3.0).abs() < 1e-6);
        assert!((happy(&out[3], 0) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(happy(&out[4], 0), 0.0);
        // Track 1 averages only its own frames: (1 + 0) / 2 on both.
        assert!((happy(&out[1], 1) - 0.5).abs() < 1e-6);
        assert!((happy(&out[2], 1) - 0.5).abs() < 1e-6);
        // Probabilities still sum to 1.
        for f in &out {
            for x in &f.faces {
                assert!((x.probs.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            }
        }
        // Window 1 (and 0) change nothing.
        assert_eq!(run(1, frames.clone()), frames);
        assert_eq!(run(0, frames.clone()), frames);
    }

    #[test]
    fn memory_is_bounded_by_the_window() {
        let mut s = Smoother::new(5);
        let mut emitted = 0;
        for i in 1..=1000 {
            emitted += s.push(frame(i, &[(0, 0.5)])).len();
            assert!(s.buf.len() <= 5, "{}", s.buf.len());
        }
        emitted += s.finish().len();
        assert_eq!(emitted, 1000);
    }
}

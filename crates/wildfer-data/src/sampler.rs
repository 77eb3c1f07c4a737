//! Clips of T consecutive frames: method A's random sampling for training (a video uniformly
//! at random, then a random run of T frames that all have crops and labels, up to `max_gap`
//! missing frames in a row allowed, filled from the previous frame) and sequential windows for
//! evaluation (every frame of a video, the last window padded and masked).

use crate::affwild2::{AffWild2, Video};
use crate::splitmix::Rng;
use wildfer_labels::Expression;

/// One clip of T positions.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    pub video: usize,
    /// The source frame (1-based) at each position, `None` for padding past the video's end.
    pub positions: Vec<Option<usize>>,
    /// The crop to load at each position: the frame's own, else the nearest earlier crop (the
    /// first crop of the video if there is none before).
    pub frames: Vec<usize>,
    /// The label for the loss at each position (`None`: masked out: padding, -1 or no crop).
    pub labels: Vec<Option<Expression>>,
}

/// Method A's sampler.
#[derive(Debug, Clone)]
pub struct ClipSampler {
    t: usize,
    /// Per video, the valid start frames (1-based).
    starts: Vec<Vec<usize>>,
    /// Videos with at least one valid start.
    eligible: Vec<usize>,
    rng: Rng,
}

/// A clip may start at `start`: that frame is usable, the run stays inside the video and no more
/// than `max_gap` frames in a row lack a crop.
fn run_ok(v: &Video, start: usize, t: usize, max_gap: usize) -> bool {
    if !v.usable(start) {
        return false;
    }
    let mut gap = 0;
    for f in start..start + t {
        if f > v.frames() {
            return false;
        }
        if v.has_crop[f - 1] {
            gap = 0;
        } else {
            gap += 1;
            if gap > max_gap {
                return false;
            }
        }
    }
    true
}

impl ClipSampler {
    pub fn new(data: &AffWild2, t: usize, max_gap: usize, seed: u64) -> Self {
        let t = t.max(1);
        let starts: Vec<Vec<usize>> = data
            .videos
            .iter()
            .map(|v| {
                (1..=v.frames().saturating_sub(t - 1))
                    .filter(|&s| run_ok(v, s, t, max_gap))
                    .collect()
            })
            .collect();
        let eligible = (0..starts.len())
            .filter(|&i| !starts[i].is_empty())
            .collect();
        ClipSampler {
            t,
            starts,
            eligible,
            rng: Rng::new(seed),
        }
    }

    /// Videos that can give a clip.
    pub fn eligible_videos(&self) -> usize {
        self.eligible.len()
    }

    /// The next random clip; `None` when no video has a valid run.
    pub fn sample(&mut self, data: &AffWild2) -> Option<Clip> {
        let mut rng = self.rng.clone();
        let c = self.sample_with(data, &mut rng);
        self.rng = rng;
        c
    }

    /// A random clip drawn with the caller's generator (a trainer derives one per step, so a
    /// resumed run draws the same clips as an uninterrupted one).
    pub fn sample_with(&self, data: &AffWild2, rng: &mut Rng) -> Option<Clip> {
        let vi = *self.eligible.get(rng.below(self.eligible.len()))?;
        let starts = &self.starts[vi];
        let s = starts[rng.below(starts.len())];
        Some(clip(&data.videos[vi], vi, s, self.t))
    }
}

fn clip(v: &Video, vi: usize, start: usize, t: usize) -> Clip {
    let first = (1..=v.frames()).find(|&f| v.has_crop[f - 1]).unwrap_or(1);
    let mut last_crop = (1..start)
        .rev()
        .find(|&f| v.has_crop[f - 1])
        .unwrap_or(first);
    let (mut positions, mut frames, mut labels) = (vec![], vec![], vec![]);
    for f in start..start + t {
        let real = f <= v.frames();
        if real && v.has_crop[f - 1] {
            last_crop = f;
        }
        positions.push(real.then_some(f));
        frames.push(last_crop);
        labels.push(if real && v.has_crop[f - 1] {
            v.labels[f - 1]
        } else {
            None
        });
    }
    Clip {
        video: vi,
        positions,
        frames,
        labels,
    }
}

/// Sequential windows over every frame of a video with `stride` (method B's evaluation with
/// stride = T): positions past the end are padding. A video without any crop gives no windows.
pub fn windows(v: &Video, vi: usize, t: usize, stride: usize) -> Vec<Clip> {
    let (t, stride) = (t.max(1), stride.max(1));
    if !v.has_crop.iter().any(|&c| c) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut start = 1;
    loop {
        out.push(clip(v, vi, start, t));
        if start + t > v.frames() {
            break;
        }
        start += stride;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use wildfer_labels::LabelSet;
    use wildfer_labels::abaw::Split;

    fn video(labels: &[i8], crops: &[bool]) -> Video {
        Video {
            name: "v".into(),
            labels: labels
                .iter()
                .map(|&l| (l >= 0).then(|| Expression::from_index(l as usize).unwrap()))
                .collect(),
            has_crop: crops.to_vec(),
            crops: "v".into(),
        }
    }

    fn data(videos: Vec<Video>) -> AffWild2 {
        AffWild2 {
            label_set: LabelSet::Seven,
            split: Split::Train,
            videos,
        }
    }

    #[test]
    fn random_clips_are_runs_of_usable_frames() {
        // Frames 1-10; no crop at 4; -1 at 7.
        let v = video(
            &[0, 1, 2, 3, 4, 5, -1, 0, 1, 2],
            &[true, true, true, false, true, true, true, true, true, true],
        );
        let d = data(vec![v.clone(), video(&[0, 0], &[true, true])]);
        let mut s = ClipSampler::new(&d, 3, 0, 42);
        // The short video cannot give a 3-frame clip.
        assert_eq!(s.eligible_videos(), 1);
        // Valid starts: 1 (1-3), 5 (5-7), 6 (6-8), 8 (8-10); not 2-4 (4 has no crop), not 7 (-1).
        assert_eq!(s.starts[0], vec![1, 5, 6, 8]);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let c = s.sample(&d).unwrap();
            assert_eq!(c.video, 0);
            assert_eq!(c.frames.len(), 3);
            assert!(c.frames.iter().all(|&f| v.has_crop[f - 1]));
            seen.insert(c.frames[0]);
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![1, 5, 6, 8]);
        // Same seed, same clips.
        let (mut a, mut b) = (ClipSampler::new(&d, 3, 0, 9), ClipSampler::new(&d, 3, 0, 9));
        for _ in 0..20 {
            assert_eq!(a.sample(&d), b.sample(&d));
        }
        // With one missing frame allowed, 2-4 is valid; frame 4 shows crop 3 and is masked.
        let mut g = ClipSampler::new(&d, 3, 1, 1);
        assert!(g.starts[0].contains(&2));
        let c = clip(&d.videos[0], 0, 2, 3);
        assert_eq!(c.frames, vec![2, 3, 3]);
        assert_eq!(c.labels[2], None);
        assert!(g.sample(&d).is_some());
    }

    #[test]
    fn windows_cover_every_frame_and_pad_the_last() {
        let v = video(&[0, 1, 2, 3, 4], &[false, true, true, false, true]);
        let w = windows(&v, 0, 2, 2);
        assert_eq!(w.len(), 3);
        let pos: Vec<Option<usize>> = w.iter().flat_map(|c| c.positions.clone()).collect();
        assert_eq!(pos, vec![Some(1), Some(2), Some(3), Some(4), Some(5), None]);
        // Frame 1 has no crop before it: shows the first crop (2); frame 4 shows 3.
        let frames: Vec<usize> = w.iter().flat_map(|c| c.frames.clone()).collect();
        assert_eq!(frames, vec![2, 2, 3, 3, 5, 5]);
        let labelled: Vec<bool> = w
            .iter()
            .flat_map(|c| c.labels.iter().map(Option::is_some))
            .collect();
        assert_eq!(labelled, vec![false, true, true, false, true, false]);
        assert!(windows(&video(&[0, 0], &[false, false]), 0, 2, 2).is_empty());
    }
}

//! The one windowing rule, streaming: which frames a temporal head sees for each output.
//!
//! A **segment** is a run of consecutive frames of one face track (a whole video for
//! `predict`; in `analyze`, a track until a frame without it, or the input's end). Within a
//! segment of frames `0..n`, with a head's window `T`:
//!
//! - **per-frame heads** (method A) read the segment in consecutive chunks of `T` frames from
//!   its first frame and label every frame of a chunk; the last chunk is padded with its last
//!   frame, masked out (ABAW's evaluation of 8-frame clips);
//! - **middle-frame heads** (method B's RNN / Transformer) label frame `j` from the window
//!   `j - T/2 ..= j + T - 1 - T/2`, positions outside the segment showing its nearest end.
//!
//! A window-1 network is the same under both: each frame alone. A face with no context (a still
//! image) is a segment of one frame.
//!
//! [`Windows`] applies the rule as frames arrive: it hands out each window as soon as the
//! frames it needs are in (at most `T - 1` frames late) and keeps only the frames later
//! windows still need, so memory is bounded however long the input.

use crate::WindowSpec;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// One frame's features (the backbone's output), shared by every window that shows it.
pub type Features = Arc<[f32]>;

/// A window ready for the head.
#[derive(Debug, Clone)]
pub struct Window<K> {
    /// `T` rows: the frames at each position.
    pub rows: Vec<Features>,
    /// Which positions are real frames (padding is masked out of per-frame heads).
    pub mask: Vec<bool>,
    /// The frames this window labels: (head output index, the frame's key).
    pub outputs: Vec<(usize, K)>,
}

#[derive(Debug)]
struct Segment<K> {
    /// Frames kept, the first being segment frame `base`.
    frames: VecDeque<(K, Features)>,
    base: usize,
    /// Frames pushed so far.
    len: usize,
    /// The first frame without an output yet.
    next: usize,
}

impl<K> Segment<K> {
    fn get(&self, j: usize) -> &(K, Features) {
        &self.frames[j - self.base]
    }
}

/// Open segments by track, windows handed out as they complete (see the module documentation).
#[derive(Debug)]
pub struct Windows<K> {
    spec: WindowSpec,
    open: BTreeMap<usize, Segment<K>>,
}

impl<K: Clone> Windows<K> {
    pub fn new(spec: WindowSpec) -> Self {
        Windows {
            spec,
            open: BTreeMap::new(),
        }
    }

    /// The next frame of `track`; returns the windows this frame completes.
    pub fn push(&mut self, track: usize, key: K, features: Features) -> Vec<Window<K>> {
        let seg = self.open.entry(track).or_insert_with(|| Segment {
            frames: VecDeque::new(),
            base: 0,
            len: 0,
            next: 0,
        });
        seg.frames.push_back((key, features));
        seg.len += 1;
        drain(self.spec, seg, false)
    }

    /// A frame is over and these tracks were in it: every other track's segment ends here.
    pub fn end_frame(&mut self, present: &[usize]) -> Vec<Window<K>> {
        let gone: Vec<usize> = self
            .open
            .keys()
            .copied()
            .filter(|t| !present.contains(t))
            .collect();
        gone.into_iter().flat_map(|t| self.close(t)).collect()
    }

    /// End `track`'s segment: the windows still owed to its last frames.
    pub fn close(&mut self, track: usize) -> Vec<Window<K>> {
        match self.open.remove(&track) {
            Some(mut seg) => drain(self.spec, &mut seg, true),
            None => Vec::new(),
        }
    }

    /// The input is over: every segment ends.
    pub fn finish(&mut self) -> Vec<Window<K>> {
        let all: Vec<usize> = self.open.keys().copied().collect();
        all.into_iter().flat_map(|t| self.close(t)).collect()
    }

    /// Forget everything (a new input starts).
    pub fn reset(&mut self) {
        self.open.clear();
    }

    /// Frames held (for tests of the memory bound).
    #[cfg(test)]
    fn held(&self) -> usize {
        self.open.values().map(|s| s.frames.len()).sum()
    }
}

/// The windows of `seg` that are complete (all, padded at the end, when `closing`).
fn drain<K: Clone>(spec: WindowSpec, seg: &mut Segment<K>, closing: bool) -> Vec<Window<K>> {
    let t = spec.len.max(1);
    let mut out = Vec::new();
    if seg.len == 0 {
        return out;
    }
    let last = seg.len - 1;
    if spec.middle {
        let (before, after) = (t / 2, t - 1 - t / 2);
        while seg.next < seg.len && (closing || seg.next + after <= last) {
            let j = seg.next;
            let rows = (0..t)
                .map(|k| {
                    let p = (j + k).saturating_sub(before).min(last);
                    seg.get(p).1.clone()
                })
                .collect();
            out.push(Window {
                rows,
                mask: vec![true; t],
                outputs: vec![(0, seg.get(j).0.clone())],
            });
            seg.next += 1;
            // Later windows start at `next - before` at the earliest.
            while seg.base + before < seg.next && seg.base < last {
                seg.frames.pop_front();
                seg.base += 1;
            }
        }
    } else {
        while seg.len - seg.next >= t || (closing && seg.next < seg.len) {
            let j = seg.next;
            let real = t.min(seg.len - j);
            let rows = (0..t)
                .map(|k| seg.get((j + k).min(last)).1.clone())
                .collect();
            out.push(Window {
                rows,
                mask: (0..t).map(|k| k < real).collect(),
                outputs: (0..real).map(|k| (k, seg.get(j + k).0.clone())).collect(),
            });
            seg.next += real;
            // A chunk needs nothing before it.
            while seg.base < seg.next && seg.base < last {
                seg.frames.pop_front();
                seg.base += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every window of one whole segment, keyed by frame (0-based), as [`Windows`] hands
    /// them out.
    fn segment_windows(spec: WindowSpec, features: &[Features]) -> Vec<Window<usize>> {
        let mut w = Windows::new(spec);
        let mut out: Vec<Window<usize>> = Vec::new();
        for (i, f) in features.iter().enumerate() {
            out.extend(w.push(0, i, f.clone()));
        }
        out.extend(w.finish());
        out
    }

    fn feats(n: usize) -> Vec<Features> {
        (0..n).map(|i| Arc::from(vec![i as f32])).collect()
    }

    /// Each window as (frames shown, mask, labelled frames).
    fn shape(ws: &[Window<usize>]) -> Vec<(Vec<usize>, Vec<bool>, Vec<usize>)> {
        ws.iter()
            .map(|w| {
                (
                    w.rows.iter().map(|r| r[0] as usize).collect(),
                    w.mask.clone(),
                    w.outputs.iter().map(|o| o.1).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn per_frame_heads_read_chunks_padded_and_masked_at_the_end() {
        let spec = WindowSpec {
            len: 4,
            middle: false,
        };
        let s = shape(&segment_windows(spec, &feats(10)));
        assert_eq!(s.len(), 3);
        assert_eq!(s[0], (vec![0, 1, 2, 3], vec![true; 4], vec![0, 1, 2, 3]));
        assert_eq!(
            s[2],
            (vec![8, 9, 9, 9], vec![true, true, false, false], vec![8, 9])
        );
    }

    #[test]
    fn middle_heads_read_a_centred_window_clamped_to_the_segment() {
        let spec = WindowSpec {
            len: 3,
            middle: true,
        };
        let s = shape(&segment_windows(spec, &feats(5)));
        assert_eq!(s.len(), 5);
        assert_eq!(s[0].0, vec![0, 0, 1]);
        assert_eq!(s[2].0, vec![1, 2, 3]);
        assert_eq!(s[4].0, vec![3, 4, 4]);
        assert!(s.iter().enumerate().all(|(i, w)| w.2 == vec![i]));
        // Even windows: one more before than after.
        let s = shape(&segment_windows(
            WindowSpec {
                len: 4,
                middle: true,
            },
            &feats(5),
        ));
        assert_eq!(s[0].0, vec![0, 0, 0, 1]);
        assert_eq!(s[3].0, vec![1, 2, 3, 4]);
    }

    #[test]
    fn streaming_hands_windows_out_as_soon_as_complete_and_holds_few_frames() {
        let spec = WindowSpec {
            len: 5,
            middle: true,
        };
        let mut w = Windows::new(spec);
        let f = feats(100);
        let mut late = Vec::new();
        for (i, x) in f.iter().enumerate() {
            for win in w.push(7, i, x.clone()) {
                late.push(i - win.outputs[0].1);
            }
            assert!(w.held() <= 5, "frame {i}: {} held", w.held());
        }
        assert!(late.iter().all(|&d| d == 2), "{late:?}");
        assert_eq!(w.finish().len(), 2);
        assert_eq!(w.held(), 0);
    }

    #[test]
    fn a_missing_track_ends_its_segment_and_others_go_on() {
        let spec = WindowSpec {
            len: 2,
            middle: false,
        };
        let mut w = Windows::new(spec);
        let f = feats(4);
        assert!(w.push(1, 10, f[0].clone()).is_empty());
        assert!(w.push(2, 20, f[1].clone()).is_empty());
        assert!(w.end_frame(&[1, 2]).is_empty());
        assert!(w.push(1, 11, f[2].clone()).len() == 1);
        // Track 2 is not in this frame: its one-frame chunk is padded and handed out.
        let ended = w.end_frame(&[1]);
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].outputs, vec![(0, 20)]);
        assert_eq!(ended[0].mask, vec![true, false]);
        // A face alone (no context): one frame repeated.
        let alone = segment_windows(
            WindowSpec {
                len: 3,
                middle: true,
            },
            &f[3..],
        );
        assert_eq!(shape(&alone)[0].0, vec![3, 3, 3]);
    }
}

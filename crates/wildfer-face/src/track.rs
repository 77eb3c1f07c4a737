//! Multi-face tracking: stable ids across frames by greedy association on box overlap, with a
//! centre-distance fallback for fast motion, tolerant of short detection gaps.

use crate::geometry::BBox;

/// Tracker settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackerConfig {
    /// A detection continues a track when their boxes overlap at least this much...
    pub min_iou: f32,
    /// ...or when its centre is within this fraction of the track's box size and its size is
    /// within a factor 1.5 of the track's.
    pub max_center_shift: f32,
    /// A track not seen for more than this many frames ends; later faces start new tracks.
    pub max_gap: usize,
}

impl TrackerConfig {
    /// Refuse settings that can only give meaningless tracks.
    pub fn validate(&self) -> Result<(), crate::FaceError> {
        if !(0.0..=1.0).contains(&self.min_iou) {
            return Err(crate::FaceError::Config(format!(
                "tracker IoU must be in [0, 1], got {}",
                self.min_iou
            )));
        }
        if !(self.max_center_shift.is_finite() && self.max_center_shift >= 0.0) {
            return Err(crate::FaceError::Config(format!(
                "tracker centre shift must be >= 0, got {}",
                self.max_center_shift
            )));
        }
        Ok(())
    }
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            min_iou: 0.3,
            max_center_shift: 0.5,
            max_gap: 15,
        }
    }
}

#[derive(Debug, Clone)]
struct Active {
    id: usize,
    bbox: BBox,
    last_frame: usize,
}

/// Assigns track ids (0, 1, ... in order of first appearance) to each frame's detections.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    config: TrackerConfig,
    active: Vec<Active>,
    next_id: usize,
}

impl Tracker {
    pub fn new(config: TrackerConfig) -> Self {
        Tracker {
            config,
            active: Vec::new(),
            next_id: 0,
        }
    }

    /// Number of tracks started so far.
    pub fn tracks_started(&self) -> usize {
        self.next_id
    }

    /// The track id of each box of frame `frame` (frame numbers increase from call to call).
    pub fn update(&mut self, frame: usize, boxes: &[BBox]) -> Vec<usize> {
        let gap = self.config.max_gap;
        self.active
            .retain(|t| frame.saturating_sub(t.last_frame) <= gap + 1);
        let mut ids: Vec<Option<usize>> = vec![None; boxes.len()];
        let mut taken = vec![false; self.active.len()];

        // Pass 1: overlap; pass 2: centre distance for what is left. Best pairs first.
        for pass in 0..2 {
            let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
            for (ti, t) in self.active.iter().enumerate() {
                if taken[ti] {
                    continue;
                }
                for (di, b) in boxes.iter().enumerate() {
                    if ids[di].is_some() {
                        continue;
                    }
                    if let Some(score) = self.affinity(pass, &t.bbox, b) {
                        pairs.push((score, ti, di));
                    }
                }
            }
            pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
            for (_, ti, di) in pairs {
                if taken[ti] || ids[di].is_some() {
                    continue;
                }
                taken[ti] = true;
                ids[di] = Some(self.active[ti].id);
                self.active[ti].bbox = boxes[di];
                self.active[ti].last_frame = frame;
            }
        }
        ids.into_iter()
            .zip(boxes)
            .map(|(id, b)| {
                id.unwrap_or_else(|| {
                    let id = self.next_id;
                    self.next_id += 1;
                    self.active.push(Active {
                        id,
                        bbox: *b,
                        last_frame: frame,
                    });
                    id
                })
            })
            .collect()
    }

    /// Higher is better; `None` when the pair may not be associated in this pass.
    fn affinity(&self, pass: usize, track: &BBox, det: &BBox) -> Option<f32> {
        if pass == 0 {
            let iou = track.iou(det);
            return (iou >= self.config.min_iou).then_some(iou);
        }
        let size = track.width().max(track.height());
        let ratio = det.width().max(det.height()) / size.max(1e-6);
        let shift = track.center().dist(det.center()) / size.max(1e-6);
        (shift <= self.config.max_center_shift && (1.0 / 1.5..=1.5).contains(&ratio))
            .then_some(-shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: f32, y: f32, s: f32) -> BBox {
        BBox::new(x, y, x + s, y + s)
    }

    #[test]
    fn two_faces_keep_their_ids_while_moving() {
        let mut t = Tracker::new(TrackerConfig::default());
        let (mut left_id, mut right_id) = (None, None);
        for f in 1..=50 {
            let dx = f as f32 * 2.0;
            let (left, right) = (b(10.0 + dx, 50.0, 80.0), b(300.0 - dx, 60.0, 90.0));
            // Detections arrive in varying order.
            let (l, r) = if f % 2 == 0 {
                let ids = t.update(f, &[left, right]);
                (ids[0], ids[1])
            } else {
                let ids = t.update(f, &[right, left]);
                (ids[1], ids[0])
            };
            assert_eq!(*left_id.get_or_insert(l), l, "frame {f}");
            assert_eq!(*right_id.get_or_insert(r), r, "frame {f}");
        }
        assert_ne!(left_id, right_id);
        assert_eq!(t.tracks_started(), 2);
    }

    #[test]
    fn short_gaps_are_bridged_long_ones_start_a_new_track() {
        let mut t = Tracker::new(TrackerConfig {
            max_gap: 5,
            ..TrackerConfig::default()
        });
        assert_eq!(t.update(1, &[b(0.0, 0.0, 50.0)]), vec![0]);
        assert_eq!(t.update(2, &[]), Vec::<usize>::new());
        // Missing frames 2..6 (5 frames) is bridged.
        assert_eq!(t.update(7, &[b(2.0, 0.0, 50.0)]), vec![0]);
        // Missing 8..13 (6 frames) is not.
        assert_eq!(t.update(14, &[b(4.0, 0.0, 50.0)]), vec![1]);
    }

    #[test]
    fn fast_motion_falls_back_to_centre_distance() {
        let mut t = Tracker::new(TrackerConfig::default());
        t.update(1, &[b(0.0, 0.0, 100.0)]);
        // Moved by 40 px: IoU 0.43 > 0.3.
        assert_eq!(t.update(2, &[b(40.0, 0.0, 100.0)]), vec![0]);
        // Moved by 45 px more: IoU 0.38... then 60 px: IoU 0.25, centre shift 0.6 > 0.5 => new.
        assert_eq!(t.update(3, &[b(85.0, 0.0, 100.0)]), vec![0]);
        assert_eq!(t.update(4, &[b(145.0, 0.0, 100.0)]), vec![1]);
        // A shift under half the size with low overlap (box shrank) still associates.
        let mut t = Tracker::new(TrackerConfig::default());
        t.update(1, &[b(0.0, 0.0, 100.0)]);
        assert_eq!(t.update(2, &[b(40.0, 30.0, 70.0)]), vec![0]);
    }
}

//! Track-guided detection: each face found in the previous frame is re-detected in a small
//! region around it, shrunk to a fixed size, and the whole frame is searched for new faces only
//! every few frames (or at once when a face is lost). A known face costs a `roi_size`-square
//! detector pass instead of a whole frame (3.5x fewer pixels than a 640x360 frame at the
//! defaults), and it is always seen at the same scale, so its crops do not jump when a full pass
//! comes round.

use crate::FaceError;
use crate::align::resize;
use crate::detect::{Detection, FaceDetector};
use crate::geometry::{BBox, Point2};
use wildfer_video::Frame;

/// Settings of [`RoiDetector`].
#[derive(Debug, Clone, PartialEq)]
pub struct RoiConfig {
    /// Run the detector on the whole frame at least every this many frames (1 = always).
    pub full_every: usize,
    /// Region side as a multiple of the previous box's longer side.
    pub context: f32,
    /// Regions are resized to this square size for detection.
    pub roi_size: usize,
    /// A region detection continues a face only if it overlaps the previous box this much.
    pub min_iou: f32,
}

impl RoiConfig {
    /// Refuse settings that can only give empty or meaningless results.
    pub fn validate(&self) -> Result<(), FaceError> {
        if self.full_every == 0 {
            return Err(FaceError::Config(
                "whole-frame detection must run at least every 1 frame (full_every >= 1)".into(),
            ));
        }
        if !(self.context.is_finite() && self.context >= 1.0) {
            return Err(FaceError::Config(format!(
                "region context must be at least 1 (the face's own box), got {}",
                self.context
            )));
        }
        if self.roi_size < 32 {
            return Err(FaceError::Config(format!(
                "region size must be at least 32 px, got {}",
                self.roi_size
            )));
        }
        if !(0.0..=1.0).contains(&self.min_iou) {
            return Err(FaceError::Config(format!(
                "region IoU must be in [0, 1], got {}",
                self.min_iou
            )));
        }
        Ok(())
    }
}

impl Default for RoiConfig {
    fn default() -> Self {
        RoiConfig {
            full_every: 10,
            context: 2.0,
            roi_size: 256,
            min_iou: 0.2,
        }
    }
}

/// A square detection region in frame pixels, and the box it was built around.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Region {
    x0: usize,
    y0: usize,
    w: usize,
    h: usize,
    around: BBox,
}

impl Region {
    /// Keep a region while the face stays near the box it was built around: the detector then
    /// sees the same pixel grid from frame to frame, which keeps landmarks steady (re-centring
    /// every frame doubled their frame-to-frame jitter on a real video).
    fn still_fits(&self, b: &BBox) -> bool {
        let size = |b: &BBox| b.width().max(b.height()).max(1e-3);
        let ratio = size(b) / size(&self.around);
        let shift = b.center().dist(self.around.center()) / size(&self.around);
        (0.85..=1.18).contains(&ratio) && shift <= 0.15
    }
}

/// Wraps any detector (see the module documentation).
pub struct RoiDetector<D> {
    inner: D,
    config: RoiConfig,
    /// Each face of the previous frame with the region it was found in.
    previous: Vec<(BBox, Region)>,
    since_full: usize,
    /// Full-frame passes run (for reports and tests).
    pub full_passes: usize,
    /// Region passes run.
    pub roi_passes: usize,
}

impl<D: FaceDetector> RoiDetector<D> {
    /// `inner` with `config` (validated: [`RoiConfig::validate`]).
    pub fn new(inner: D, config: RoiConfig) -> Result<Self, FaceError> {
        config.validate()?;
        Ok(RoiDetector {
            inner,
            config,
            previous: Vec::new(),
            since_full: 0,
            full_passes: 0,
            roi_passes: 0,
        })
    }

    /// Square region around `b` (clamped to the frame), integer pixels.
    fn region(&self, b: &BBox, width: usize, height: usize) -> Region {
        let c = b.center();
        let side = (b.width().max(b.height()) * self.config.context).max(16.0);
        let x0 = (c.x - side / 2.0).floor().clamp(0.0, width as f32 - 1.0) as usize;
        let y0 = (c.y - side / 2.0).floor().clamp(0.0, height as f32 - 1.0) as usize;
        let x1 = ((c.x + side / 2.0).ceil() as usize).clamp(x0 + 1, width);
        let y1 = ((c.y + side / 2.0).ceil() as usize).clamp(y0 + 1, height);
        Region {
            x0,
            y0,
            w: x1 - x0,
            h: y1 - y0,
            around: *b,
        }
    }

    fn detect_region(
        &mut self,
        frame: &Frame,
        prev: &BBox,
        region: &Region,
    ) -> Result<Option<Detection>, FaceError> {
        let Region { x0, y0, w, h, .. } = *region;
        let mut rgb = Vec::with_capacity(w * h * 3);
        for row in y0..y0 + h {
            let start = (row * frame.width + x0) * 3;
            rgb.extend_from_slice(&frame.rgb[start..start + w * 3]);
        }
        // Shrink (never enlarge) so that the longer side is roi_size.
        let s = (self.config.roi_size as f32 / w.max(h) as f32).min(1.0);
        let (nw, nh) = (
            ((w as f32 * s).round() as usize).max(1),
            ((h as f32 * s).round() as usize).max(1),
        );
        let rgb = if (nw, nh) == (w, h) {
            rgb
        } else {
            resize(&rgb, w, h, nw, nh)
        };
        let sub = Frame {
            index: frame.index,
            time_s: frame.time_s,
            width: nw,
            height: nh,
            rgb,
        };
        self.roi_passes += 1;
        let (sx, sy) = (w as f32 / nw as f32, h as f32 / nh as f32);
        let to_frame = |p: Point2| Point2::new(p.x * sx + x0 as f32, p.y * sy + y0 as f32);
        let best = self
            .inner
            .detect(&sub)?
            .into_iter()
            .map(|d| Detection {
                bbox: {
                    let a = to_frame(Point2::new(d.bbox.x1, d.bbox.y1));
                    let b = to_frame(Point2::new(d.bbox.x2, d.bbox.y2));
                    BBox::new(a.x, a.y, b.x, b.y)
                },
                score: d.score,
                landmarks: d.landmarks.map(to_frame),
            })
            .filter(|d| d.bbox.iou(prev) >= self.config.min_iou)
            .max_by(|a, b| a.bbox.iou(prev).total_cmp(&b.bbox.iou(prev)));
        Ok(best)
    }
}

impl<D: FaceDetector> FaceDetector for RoiDetector<D> {
    fn detect(&mut self, frame: &Frame) -> Result<Vec<Detection>, FaceError> {
        let full_due = self.previous.is_empty() || self.since_full + 1 >= self.config.full_every;
        // Known faces are always re-detected in their regions, also on full-pass frames, so that
        // a face is seen at one scale throughout (RetinaFace's landmarks shift by a few percent
        // of the face size between scales; mixing scales would make crops jitter).
        let prev = std::mem::take(&mut self.previous);
        let mut dets: Vec<Detection> = Vec::new();
        let mut regions: Vec<Region> = Vec::new();
        for (b, r) in &prev {
            let region =
                if r.still_fits(b) && r.x0 + r.w <= frame.width && r.y0 + r.h <= frame.height {
                    *r
                } else {
                    self.region(b, frame.width, frame.height)
                };
            if let Some(d) = self.detect_region(frame, b, &region)?
                && dets.iter().all(|f| f.bbox.iou(&d.bbox) < 0.5)
            {
                dets.push(d);
                regions.push(region);
            }
        }
        // A face lost in its region brings the next full pass forward.
        let lost = dets.len() < prev.len();
        if full_due || lost {
            self.since_full = 0;
            self.full_passes += 1;
            let known = dets.clone();
            dets.extend(
                self.inner
                    .detect(frame)?
                    .into_iter()
                    .filter(|d| known.iter().all(|k| k.bbox.iou(&d.bbox) < 0.3)),
            );
        } else {
            self.since_full += 1;
        }
        // New faces (from a full pass) get fresh regions.
        let (w, h) = (frame.width, frame.height);
        self.previous = dets
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let r = regions
                    .get(i)
                    .copied()
                    .unwrap_or_else(|| self.region(&d.bbox, w, h));
                (d.bbox, r)
            })
            .collect();
        dets.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(dets)
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn reset(&mut self) {
        self.previous.clear();
        self.since_full = 0;
        self.inner.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::FakeDetector;

    fn frame(index: usize) -> Frame {
        Frame {
            index,
            time_s: 0.0,
            width: 200,
            height: 100,
            rgb: vec![0; 200 * 100 * 3],
        }
    }

    /// A detector that finds one face at a fixed place in frame coordinates, whatever the
    /// input, as long as the input covers it: it reports the face relative to the input's
    /// origin, which it recovers from the input's size (full frame) or not at all (regions).
    struct Counting {
        full: FakeDetector,
        calls: Vec<(usize, usize)>,
    }

    impl FaceDetector for Counting {
        fn detect(&mut self, f: &Frame) -> Result<Vec<Detection>, FaceError> {
            self.calls.push((f.width, f.height));
            if (f.width, f.height) == (200, 100) {
                self.full.detect(f)
            } else {
                Ok(Vec::new())
            }
        }
        fn name(&self) -> &str {
            "counting"
        }
    }

    #[test]
    fn full_pass_periodically_and_after_a_lost_face() {
        let mut fake = FakeDetector::default();
        let face = Detection {
            bbox: BBox::new(50.0, 20.0, 90.0, 70.0),
            score: 0.9,
            landmarks: [Point2::new(70.0, 45.0); 5],
        };
        for i in 1..=30 {
            fake.faces.insert(i, vec![face.clone()]);
        }
        let inner = Counting {
            full: fake,
            calls: Vec::new(),
        };
        let mut d = RoiDetector::new(
            inner,
            RoiConfig {
                full_every: 4,
                ..RoiConfig::default()
            },
        )
        .unwrap();
        // Frame 1: full pass finds the face. Frame 2: its region pass finds nothing (this
        // detector only sees whole frames), so a full pass runs at once and finds it again.
        assert_eq!(d.detect(&frame(1)).unwrap().len(), 1);
        assert_eq!(d.detect(&frame(2)).unwrap().len(), 1);
        assert_eq!((d.full_passes, d.roi_passes), (2, 1));
        // The region was 2x the face's longer side (50 -> 100 px square around (70, 45)), its
        // top 5 rows cut off by the frame's edge.
        assert_eq!(d.inner.calls[1], (100, 95));
    }

    /// Finds one face in the middle of whatever it is given.
    struct CentreFace;

    impl FaceDetector for CentreFace {
        fn detect(&mut self, f: &Frame) -> Result<Vec<Detection>, FaceError> {
            let (cx, cy, r) = (
                f.width as f32 / 2.0,
                f.height as f32 / 2.0,
                f.width.min(f.height) as f32 / 4.0,
            );
            Ok(vec![Detection {
                bbox: BBox::new(cx - r, cy - r, cx + r, cy + r),
                score: 0.9,
                landmarks: [Point2::new(cx, cy); 5],
            }])
        }
        fn name(&self) -> &str {
            "centre"
        }
    }

    #[test]
    fn known_faces_use_regions_and_full_passes_come_round() {
        let mut d = RoiDetector::new(
            CentreFace,
            RoiConfig {
                full_every: 4,
                ..RoiConfig::default()
            },
        )
        .unwrap();
        for i in 1..=8 {
            let dets = d.detect(&frame(i)).unwrap();
            // The full pass's copy of the known face is not added twice.
            assert_eq!(dets.len(), 1, "frame {i}");
            assert_eq!(
                dets[0].bbox,
                BBox::new(75.0, 25.0, 125.0, 75.0),
                "frame {i}"
            );
        }
        // Full passes on frames 1 and 5; regions on frames 2-8.
        assert_eq!((d.full_passes, d.roi_passes), (2, 7));
    }

    #[test]
    fn reset_forgets_the_faces_of_the_previous_input() {
        let mut d = RoiDetector::new(CentreFace, RoiConfig::default()).unwrap();
        d.detect(&frame(1)).unwrap();
        d.detect(&frame(2)).unwrap();
        assert_eq!((d.full_passes, d.roi_passes), (1, 1));
        d.reset();
        // A new input starts with a whole-frame search, not in the old face's region.
        d.detect(&frame(1)).unwrap();
        assert_eq!((d.full_passes, d.roi_passes), (2, 1));
    }

    #[test]
    fn region_stays_inside_the_frame() {
        let d = RoiDetector::new(FakeDetector::default(), RoiConfig::default()).unwrap();
        for b in [
            BBox::new(180.0, 80.0, 230.0, 130.0),
            BBox::new(-50.0, -50.0, -10.0, -10.0),
        ] {
            let r = d.region(&b, 200, 100);
            assert!(
                r.x0 + r.w <= 200 && r.y0 + r.h <= 100 && r.w > 0 && r.h > 0,
                "{r:?}"
            );
        }
        // A region is kept while the face stays near the box it was built around.
        let r = d.region(&BBox::new(50.0, 20.0, 90.0, 70.0), 200, 100);
        assert!(r.still_fits(&BBox::new(53.0, 22.0, 93.0, 72.0)));
        assert!(!r.still_fits(&BBox::new(60.0, 20.0, 100.0, 70.0)));
        assert!(!r.still_fits(&BBox::new(45.0, 15.0, 95.0, 75.0)));
    }
}

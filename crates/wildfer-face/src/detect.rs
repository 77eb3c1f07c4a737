//! Face detections, the detector stage trait, anchor decoding and non-maximum suppression.

use crate::FaceError;
use crate::geometry::{BBox, Point2};
use wildfer_video::Frame;

/// One detected face in source pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub bbox: BBox,
    /// Face probability in [0, 1].
    pub score: f32,
    /// Left eye, right eye, nose tip, left and right mouth corners (as seen in the image).
    pub landmarks: [Point2; 5],
}

/// The detection stage: faces of one frame, best score first.
pub trait FaceDetector {
    fn detect(&mut self, frame: &Frame) -> Result<Vec<Detection>, FaceError>;

    /// A short name for reports (`retinaface`, `fake`, ...).
    fn name(&self) -> &str;

    /// Forget what earlier frames taught (a new input starts): detectors that follow faces
    /// from frame to frame must not carry them into the next video.
    fn reset(&mut self) {}
}

impl<D: FaceDetector + ?Sized> FaceDetector for Box<D> {
    fn detect(&mut self, frame: &Frame) -> Result<Vec<Detection>, FaceError> {
        (**self).detect(frame)
    }

    fn name(&self) -> &str {
        (**self).name()
    }

    fn reset(&mut self) {
        (**self).reset();
    }
}

/// A detector that returns fixed faces for given frame numbers (tests of later stages).
#[derive(Debug, Clone, Default)]
pub struct FakeDetector {
    pub faces: std::collections::BTreeMap<usize, Vec<Detection>>,
}

impl FaceDetector for FakeDetector {
    fn detect(&mut self, frame: &Frame) -> Result<Vec<Detection>, FaceError> {
        Ok(self.faces.get(&frame.index).cloned().unwrap_or_default())
    }

    fn name(&self) -> &str {
        "fake"
    }
}

/// No detection: every frame already is one face crop (`--crops`). Its face is the frame's
/// largest centred square, the rule [`crate::AlignedFace::from_crop`] fits crops by; the
/// landmarks are where `spec`'s template puts them in that square (not found in the image),
/// so aligning to `spec` cuts exactly that square.
#[derive(Debug, Clone, Copy)]
pub struct CropIsFace {
    pub spec: crate::CropSpec,
}

impl CropIsFace {
    /// What reports name as the detector.
    pub const NAME: &str = "none (every frame a face crop)";
}

impl FaceDetector for CropIsFace {
    fn detect(&mut self, frame: &Frame) -> Result<Vec<Detection>, FaceError> {
        check_frame(frame)?;
        let (x0, y0, side) = crate::align::centred_square(frame.width, frame.height);
        let (x0, y0, side) = (x0 as f32, y0 as f32, side as f32);
        let scale = side / self.spec.size as f32;
        Ok(vec![Detection {
            bbox: BBox::new(x0, y0, x0 + side, y0 + side),
            score: 1.0,
            landmarks: self
                .spec
                .template()
                .map(|p| Point2::new(x0 + p.x * scale, y0 + p.y * scale)),
        }])
    }

    fn name(&self) -> &str {
        Self::NAME
    }
}

/// Refuse a frame whose pixel buffer does not match its size (a bug upstream, reported, not a
/// panic deep in a kernel).
pub(crate) fn check_frame(frame: &Frame) -> Result<(), FaceError> {
    let (w, h) = (frame.width, frame.height);
    if w == 0 || h == 0 || frame.rgb.len() != w * h * 3 {
        return Err(FaceError::Input(format!(
            "frame {}: {w}x{h} with {} bytes of RGB",
            frame.index,
            frame.rgb.len()
        )));
    }
    Ok(())
}

/// A network output's values, row-major.
pub(crate) fn values<const D: usize>(
    t: wildfer_nn::burn::tensor::Tensor<D>,
    model: &str,
) -> Result<Vec<f32>, FaceError> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| FaceError::Model(format!("{model} output: {e:?}")))
}

/// A RetinaFace-style anchor: centre and side in input pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchor {
    pub cx: f32,
    pub cy: f32,
    pub size: f32,
}

/// Anchors of an input of `height x width`, in the network's output order (level, row, column,
/// size), for feature maps of `ceil(side / stride)` cells.
pub fn anchors(height: usize, width: usize, strides: &[usize], sizes: &[[f32; 2]]) -> Vec<Anchor> {
    let mut out = Vec::new();
    for (&stride, level_sizes) in strides.iter().zip(sizes) {
        let s = stride as f32;
        for y in 0..height.div_ceil(stride) {
            for x in 0..width.div_ceil(stride) {
                for &size in level_sizes {
                    out.push(Anchor {
                        cx: (x as f32 + 0.5) * s,
                        cy: (y as f32 + 0.5) * s,
                        size,
                    });
                }
            }
        }
    }
    out
}

/// Centre/size variances of the RetinaFace box encoding.
pub const VARIANCES: [f32; 2] = [0.1, 0.2];

/// Decode one anchor's outputs: `loc` (dx, dy, dw, dh) and `lm` (five dx, dy).
pub fn decode(anchor: &Anchor, loc: &[f32], lm: &[f32], score: f32) -> Detection {
    let [vc, vs] = VARIANCES;
    let cx = anchor.cx + anchor.size * loc[0] * vc;
    let cy = anchor.cy + anchor.size * loc[1] * vc;
    let w = anchor.size * (loc[2] * vs).exp();
    let h = anchor.size * (loc[3] * vs).exp();
    let landmarks = std::array::from_fn(|k| {
        Point2::new(
            anchor.cx + anchor.size * lm[2 * k] * vc,
            anchor.cy + anchor.size * lm[2 * k + 1] * vc,
        )
    });
    Detection {
        bbox: BBox::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0),
        score,
        landmarks,
    }
}

/// Greedy non-maximum suppression: best score first, dropping any detection whose IoU with a
/// kept one exceeds `iou`. Ties keep the earlier detection.
pub fn nms(mut dets: Vec<Detection>, iou: f32) -> Vec<Detection> {
    // Stable sort: equal scores stay in anchor order, as the reference does.
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut keep: Vec<Detection> = Vec::new();
    for d in dets {
        if keep.iter().all(|k| k.bbox.iou(&d.bbox) <= iou) {
            keep.push(d);
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, score: f32) -> Detection {
        Detection {
            bbox: BBox::new(x, 0.0, x + 10.0, 10.0),
            score,
            landmarks: [Point2::default(); 5],
        }
    }

    #[test]
    fn nms_keeps_best_of_overlapping() {
        let kept = nms(vec![det(0.0, 0.8), det(1.0, 0.9), det(30.0, 0.7)], 0.4);
        let xs: Vec<f32> = kept.iter().map(|d| d.bbox.x1).collect();
        assert_eq!(xs, vec![1.0, 30.0]);
        // IoU of boxes shifted by 5 is 1/3: kept at threshold 0.4, dropped at 0.3.
        assert_eq!(nms(vec![det(0.0, 0.9), det(5.0, 0.8)], 0.4).len(), 2);
        assert_eq!(nms(vec![det(0.0, 0.9), det(5.0, 0.8)], 0.3).len(), 1);
    }

    #[test]
    fn anchor_layout_and_decoding() {
        let a = anchors(20, 17, &[8], &[[16.0, 32.0]]);
        // ceil(20/8) = 3 rows, ceil(17/8) = 3 columns, two sizes.
        assert_eq!(a.len(), 18);
        assert_eq!(
            a[0],
            Anchor {
                cx: 4.0,
                cy: 4.0,
                size: 16.0
            }
        );
        assert_eq!(
            a[1],
            Anchor {
                cx: 4.0,
                cy: 4.0,
                size: 32.0
            }
        );
        assert_eq!(
            a[2],
            Anchor {
                cx: 12.0,
                cy: 4.0,
                size: 16.0
            }
        );
        assert_eq!(
            a[6],
            Anchor {
                cx: 4.0,
                cy: 12.0,
                size: 16.0
            }
        );
        // Zero offsets give the anchor box itself and landmarks at its centre.
        let d = decode(&a[1], &[0.0; 4], &[0.0; 10], 0.5);
        assert_eq!(d.bbox, BBox::new(-12.0, -12.0, 20.0, 20.0));
        assert_eq!(d.landmarks[3], Point2::new(4.0, 4.0));
        // dx = 1 moves the centre by 0.1 * size; dw = ln(2)/0.2 doubles the width.
        let d = decode(&a[0], &[1.0, 0.0, 2f32.ln() / 0.2, 0.0], &[0.0; 10], 0.5);
        assert!((d.bbox.center().x - 5.6).abs() < 1e-5);
        assert!((d.bbox.width() - 32.0).abs() < 1e-4);
    }
}

#[cfg(test)]
mod crop_is_face_tests {
    use super::*;
    use crate::{AlignedFace, CropSpec, align_as};

    /// Aligning to the spec by the made-up landmarks cuts what `from_crop` cuts.
    #[test]
    fn its_face_aligns_to_the_centred_square() {
        let (w, h) = (90, 60);
        // A smooth image: any two resamplings of it agree closely.
        let rgb: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let (x, y) = (i % w, i / w);
                [(2 * x) as u8, (3 * y) as u8, (x + y) as u8]
            })
            .collect();
        let frame = Frame {
            index: 1,
            time_s: 0.0,
            width: w,
            height: h,
            rgb,
        };
        let spec = CropSpec::arcface(48);
        let d = CropIsFace { spec }.detect(&frame).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].bbox, BBox::new(15.0, 0.0, 75.0, 60.0));
        let aligned = align_as(&frame.rgb, w, h, &d[0].landmarks, &spec).unwrap();
        let fitted = AlignedFace::from_crop(&frame, &spec);
        let diff: f64 = aligned
            .rgb
            .iter()
            .zip(&fitted.rgb)
            .map(|(a, b)| (f64::from(*a) - f64::from(*b)).abs())
            .sum::<f64>()
            / fitted.rgb.len() as f64;
        assert!(diff < 2.0, "mean difference {diff}");
        let t = aligned.transform;
        let p = t.apply(Point2::new(15.0, 0.0));
        assert!(p.x.abs() < 1e-3 && p.y.abs() < 1e-3, "{p:?}");
    }
}

//! The MTCNN detector stage (facenet-pytorch's `detect_face`, ported step for step so that its
//! output can be compared): an image pyramid through P-Net, greedy NMS per scale and across
//! scales, box regression, squaring, R-Net on 24x24 crops, O-Net on 48x48 crops with five
//! landmarks, and a final "Min"-overlap NMS. Resampling is PyTorch's `area` interpolation
//! (adaptive average pooling).

use crate::FaceError;
use crate::detect::{Detection, FaceDetector, check_frame, values};
use crate::geometry::{BBox, Point2};
use wildfer_nn::burn::tensor::module::adaptive_avg_pool2d;
use wildfer_nn::burn::tensor::{Device, Tensor, TensorData};
use wildfer_nn::mtcnn::Mtcnn;
use wildfer_video::Frame;

/// Detector settings (facenet-pytorch's defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct MtcnnConfig {
    /// Smallest face side searched for, in pixels.
    pub min_face_size: f32,
    /// Face-probability thresholds of P-, R- and O-Net.
    pub thresholds: [f32; 3],
    /// Pyramid scale step.
    pub factor: f32,
}

impl Default for MtcnnConfig {
    fn default() -> Self {
        MtcnnConfig {
            min_face_size: 20.0,
            thresholds: [0.6, 0.7, 0.7],
            factor: 0.709,
        }
    }
}

impl MtcnnConfig {
    /// Refuse settings that can only give empty or endless results.
    pub fn validate(&self) -> Result<(), FaceError> {
        // P-Net sees 12 px windows: smaller faces cannot be searched for.
        if !(self.min_face_size.is_finite() && self.min_face_size >= 12.0) {
            return Err(FaceError::Config(format!(
                "MTCNN minimum face size must be at least 12 px, got {}",
                self.min_face_size
            )));
        }
        if self.thresholds.iter().any(|t| !(*t > 0.0 && *t < 1.0)) {
            return Err(FaceError::Config(format!(
                "MTCNN thresholds must be in (0, 1), got {:?}",
                self.thresholds
            )));
        }
        // A factor near 1 makes the pyramid endless.
        if !(self.factor > 0.1 && self.factor <= 0.95) {
            return Err(FaceError::Config(format!(
                "MTCNN pyramid factor must be in (0.1, 0.95], got {}",
                self.factor
            )));
        }
        Ok(())
    }
}

/// A candidate: box corners, score, and the regression to apply.
#[derive(Debug, Clone, Copy)]
struct Cand {
    b: [f32; 4],
    score: f32,
    reg: [f32; 4],
}

/// MTCNN with the converted facenet-pytorch networks.
pub struct MtcnnDetector {
    nets: Mtcnn,
    device: Device,
    config: MtcnnConfig,
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, FaceError> {
    values(t, "MTCNN")
}

/// torchvision's `nms`: best score first, drop boxes with IoU above `t` (no +1 in areas, as
/// [`BBox::iou`]).
fn nms_iou(c: &[Cand], t: f32) -> Vec<usize> {
    let bbox = |c: &Cand| BBox::new(c.b[0], c.b[1], c.b[2], c.b[3]);
    let mut order: Vec<usize> = (0..c.len()).collect();
    order.sort_by(|&a, &b| c[b].score.total_cmp(&c[a].score));
    let mut keep: Vec<usize> = Vec::new();
    for i in order {
        if keep.iter().all(|&k| bbox(&c[k]).iou(&bbox(&c[i])) <= t) {
            keep.push(i);
        }
    }
    keep
}

/// facenet-pytorch's numpy NMS with "Min" overlap and +1 pixel areas (its last stage).
fn nms_min(c: &[Cand], t: f32) -> Vec<usize> {
    let mut order: Vec<usize> = (0..c.len()).collect();
    order.sort_by(|&a, &b| c[b].score.total_cmp(&c[a].score));
    let area = |b: &[f32; 4]| (b[2] - b[0] + 1.0) * (b[3] - b[1] + 1.0);
    let mut keep: Vec<usize> = Vec::new();
    for i in order {
        let ok = keep.iter().all(|&k| {
            let (a, b) = (&c[k].b, &c[i].b);
            let w = (a[2].min(b[2]) - a[0].max(b[0]) + 1.0).max(0.0);
            let h = (a[3].min(b[3]) - a[1].max(b[1]) + 1.0).max(0.0);
            w * h / area(a).min(area(b)) <= t
        });
        if ok {
            keep.push(i);
        }
    }
    keep
}

/// Make boxes square around their centres (facenet-pytorch's `rerec`).
fn square(b: [f32; 4]) -> [f32; 4] {
    let (w, h) = (b[2] - b[0], b[3] - b[1]);
    let l = w.max(h);
    let x1 = b[0] + w * 0.5 - l * 0.5;
    let y1 = b[1] + h * 0.5 - l * 0.5;
    [x1, y1, x1 + l, y1 + l]
}

/// Apply a regression with +1 sizes (facenet-pytorch's `bbreg`).
fn bbreg(b: [f32; 4], r: [f32; 4]) -> [f32; 4] {
    let (w, h) = (b[2] - b[0] + 1.0, b[3] - b[1] + 1.0);
    [
        b[0] + r[0] * w,
        b[1] + r[1] * h,
        b[2] + r[2] * w,
        b[3] + r[3] * h,
    ]
}

impl MtcnnDetector {
    /// On the CPU.
    pub fn new(config: MtcnnConfig) -> Result<Self, FaceError> {
        Self::on(config, &wildfer_nn::cpu())
    }

    pub fn on(config: MtcnnConfig, device: &Device) -> Result<Self, FaceError> {
        config.validate()?;
        let device = device.clone();
        let nets = Mtcnn::pretrained(&device).map_err(|e| FaceError::Model(e.to_string()))?;
        Ok(MtcnnDetector {
            nets,
            device,
            config,
        })
    }

    /// Crops of `boxes` (1-based pixel ranges as `pad` makes them) resized to `side`, scaled.
    fn crops(
        &self,
        img: &Tensor<4>,
        boxes: &[[f32; 4]],
        side: usize,
        w: usize,
        h: usize,
    ) -> Tensor<4> {
        let parts: Vec<Tensor<4>> = boxes
            .iter()
            .map(|b| {
                let x = (b[0].trunc() as i64).max(1) as usize;
                let y = (b[1].trunc() as i64).max(1) as usize;
                let ex = (b[2].trunc() as i64).min(w as i64).max(x as i64) as usize;
                let ey = (b[3].trunc() as i64).min(h as i64).max(y as i64) as usize;
                let crop = img.clone().slice([0..1, 0..3, (y - 1)..ey, (x - 1)..ex]);
                adaptive_avg_pool2d(crop, [side, side])
            })
            .collect();
        (Tensor::cat(parts, 0) - 127.5) * 0.0078125
    }

    fn run(&mut self, frame: &Frame) -> Result<Vec<Detection>, FaceError> {
        let (w, h) = (frame.width, frame.height);
        let plane = w * h;
        let mut x = vec![0f32; 3 * plane];
        for (i, px) in frame.rgb.chunks_exact(3).enumerate() {
            for c in 0..3 {
                x[c * plane + i] = px[c] as f32;
            }
        }
        let img = Tensor::<4>::from_data(TensorData::new(x, [1, 3, h, w]), &self.device);
        let cfg = self.config.clone();

        // Stage 1: the pyramid.
        let m = 12.0 / cfg.min_face_size;
        let mut minl = w.min(h) as f32 * m;
        let mut scales = Vec::new();
        let mut s = m;
        while minl >= 12.0 {
            scales.push(s);
            s *= cfg.factor;
            minl *= cfg.factor;
        }
        let mut cands: Vec<Cand> = Vec::new();
        for &scale in &scales {
            let (sh, sw) = (
                (h as f32 * scale + 1.0) as usize,
                (w as f32 * scale + 1.0) as usize,
            );
            let im = (adaptive_avg_pool2d(img.clone(), [sh, sw]) - 127.5) * 0.0078125;
            let (reg, prob) = self.nets.pnet.forward(im);
            let [_, _, ph, pw] = prob.dims();
            let (reg, prob) = (to_vec(reg)?, to_vec(prob)?);
            let mut level = Vec::new();
            for yy in 0..ph {
                for xx in 0..pw {
                    let p = prob[ph * pw + yy * pw + xx];
                    if p < cfg.thresholds[0] {
                        continue;
                    }
                    let q1 = |v: usize| ((2 * v + 1) as f32 / scale).floor();
                    let q2 = |v: usize| ((2 * v + 12) as f32 / scale).floor();
                    let r = |k: usize| reg[k * ph * pw + yy * pw + xx];
                    level.push(Cand {
                        b: [q1(xx), q1(yy), q2(xx), q2(yy)],
                        score: p,
                        reg: [r(0), r(1), r(2), r(3)],
                    });
                }
            }
            cands.extend(nms_iou(&level, 0.5).into_iter().map(|i| level[i]));
        }
        let keep = nms_iou(&cands, 0.7);
        let boxes: Vec<[f32; 4]> = keep
            .iter()
            .map(|&i| {
                let c = cands[i];
                let (rw, rh) = (c.b[2] - c.b[0], c.b[3] - c.b[1]);
                square([
                    c.b[0] + c.reg[0] * rw,
                    c.b[1] + c.reg[1] * rh,
                    c.b[2] + c.reg[2] * rw,
                    c.b[3] + c.reg[3] * rh,
                ])
            })
            .collect();
        if boxes.is_empty() {
            return Ok(Vec::new());
        }

        // Stage 2: R-Net.
        let (reg, prob) = self.nets.rnet.forward(self.crops(&img, &boxes, 24, w, h));
        let (reg, prob) = (to_vec(reg)?, to_vec(prob)?);
        let stage2: Vec<Cand> = (0..boxes.len())
            .filter(|&i| prob[2 * i + 1] > cfg.thresholds[1])
            .map(|i| Cand {
                b: boxes[i],
                score: prob[2 * i + 1],
                reg: [reg[4 * i], reg[4 * i + 1], reg[4 * i + 2], reg[4 * i + 3]],
            })
            .collect();
        let boxes: Vec<[f32; 4]> = nms_iou(&stage2, 0.7)
            .into_iter()
            .map(|i| square(bbreg(stage2[i].b, stage2[i].reg)))
            .collect();
        if boxes.is_empty() {
            return Ok(Vec::new());
        }

        // Stage 3: O-Net with landmarks.
        let (reg, lm, prob) = self.nets.onet.forward(self.crops(&img, &boxes, 48, w, h));
        let (reg, lm, prob) = (to_vec(reg)?, to_vec(lm)?, to_vec(prob)?);
        let mut stage3 = Vec::new();
        let mut points = Vec::new();
        for (i, b) in boxes.iter().enumerate() {
            let score = prob[2 * i + 1];
            if score <= cfg.thresholds[2] {
                continue;
            }
            let (bw, bh) = (b[2] - b[0] + 1.0, b[3] - b[1] + 1.0);
            let pts: [Point2; 5] = std::array::from_fn(|k| {
                Point2::new(
                    bw * lm[10 * i + k] + b[0] - 1.0,
                    bh * lm[10 * i + 5 + k] + b[1] - 1.0,
                )
            });
            let r = [reg[4 * i], reg[4 * i + 1], reg[4 * i + 2], reg[4 * i + 3]];
            stage3.push(Cand {
                b: bbreg(*b, r),
                score,
                reg: r,
            });
            points.push(pts);
        }
        Ok(nms_min(&stage3, 0.7)
            .into_iter()
            .map(|i| {
                let b = stage3[i].b;
                Detection {
                    bbox: BBox::new(b[0], b[1], b[2], b[3]),
                    score: stage3[i].score,
                    landmarks: points[i],
                }
            })
            .collect())
    }
}

impl FaceDetector for MtcnnDetector {
    fn detect(&mut self, frame: &Frame) -> Result<Vec<Detection>, FaceError> {
        check_frame(frame)?;
        self.run(frame)
    }

    fn name(&self) -> &str {
        "mtcnn"
    }
}

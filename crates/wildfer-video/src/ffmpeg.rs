//! Any other codec or container through an installed `ffmpeg`/`ffprobe` (HEVC `.mov`, AVI, MKV,
//! VP9, ...): `ffprobe` gives the stream's size and packet times, `ffmpeg` decodes to raw RGB on
//! a pipe, one frame at a time (memory independent of the video's length).
//!
//! Frame numbering follows the MP4/H.264 path: every picture an MP4/MOV edit list shows, in
//! presentation order, no frames dropped or duplicated (`-fps_mode passthrough`).
//! Rotated videos (phone recordings) come out upright, as ffmpeg rotates them.

use crate::{Frame, FrameSource, SourceInfo, VideoError};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};

/// The executables used; `WILDFER_FFMPEG` / `WILDFER_FFPROBE` override the names on `PATH`.
fn exe(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

fn ffmpeg() -> PathBuf {
    exe("WILDFER_FFMPEG", "ffmpeg")
}

fn ffprobe() -> PathBuf {
    exe("WILDFER_FFPROBE", "ffprobe")
}

/// Are `ffmpeg` and `ffprobe` installed?
pub fn available() -> bool {
    let runs = |p: PathBuf| {
        Command::new(p)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    runs(ffmpeg()) && runs(ffprobe())
}

/// Frames of a video decoded by ffmpeg.
pub struct FfmpegSource {
    info: SourceInfo,
    child: Child,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<String>>,
    pts: Vec<f64>,
    next: usize,
    done: bool,
}

fn fail(path: &Path, msg: impl std::fmt::Display) -> VideoError {
    VideoError::Unsupported {
        path: path.to_path_buf(),
        msg: crate::error::one_line(msg),
    }
}

/// ffprobe's `entries` of `path`'s first video stream.
fn probe(path: &Path, entries: &str, format: &str) -> Result<String, VideoError> {
    let out = Command::new(ffprobe())
        .args(["-v", "error"])
        .args(["-select_streams", "v:0"])
        .args(["-show_entries", entries, "-of", format])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(path, format!("cannot run ffprobe: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(fail(
            path,
            format!("ffprobe cannot read it ({})", err.trim()),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `key=value` lines of ffprobe's `default` writer.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(str::trim)
}

impl FfmpegSource {
    pub fn open(path: &Path) -> Result<Self, VideoError> {
        let meta = probe(
            path,
            "stream=codec_name,width,height,avg_frame_rate,nb_frames:stream_side_data=rotation",
            "default=nw=1",
        )?;
        let num = |k: &str| field(&meta, k).and_then(|v| v.parse::<usize>().ok());
        let (Some(mut width), Some(mut height)) = (num("width"), num("height")) else {
            return Err(fail(path, "no video stream"));
        };
        crate::frame::check_frame_size(path, width, height)?;
        let rotation = field(&meta, "rotation")
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        if (rotation.abs().round() as i64) % 180 == 90 {
            std::mem::swap(&mut width, &mut height);
        }
        let codec = field(&meta, "codec_name").unwrap_or("unknown").to_string();
        let fps = field(&meta, "avg_frame_rate")
            .and_then(|r| {
                let (a, b) = r.split_once('/')?;
                let (a, b) = (a.parse::<f64>().ok()?, b.parse::<f64>().ok()?);
                (b > 0.0 && a > 0.0).then_some(a / b)
            })
            .unwrap_or(0.0);
        // Packets an edit list hides come flagged `D` (discard): not frames anyone sees.
        let packets = probe(path, "packet=pts_time,flags", "csv=p=0")?;
        let (mut pts, mut hidden) = (Vec::new(), 0);
        for line in packets.lines() {
            let mut fields = line.trim().split(',');
            let t = fields.next().and_then(|t| t.parse::<f64>().ok());
            if fields.next().is_some_and(|f| f.contains('D')) {
                hidden += 1;
            } else if let Some(t) = t {
                pts.push(t);
            }
        }
        pts.sort_by(f64::total_cmp);
        if let Some(&first) = pts.first() {
            pts.iter_mut().for_each(|t| *t -= first);
        }

        let mut child = Command::new(ffmpeg())
            .args(["-v", "error", "-nostdin"])
            .arg("-i")
            .arg(path)
            .args(["-map", "0:v:0", "-fps_mode", "passthrough"])
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(path, format!("cannot run ffmpeg: {e}")))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| fail(path, "ffmpeg without output pipe"))?;
        // Drain stderr on a thread (so ffmpeg never blocks on it), keeping the first 2 kB of
        // what matters: the raw-video muxer ignores timestamps, so its complaints about them
        // are no damage.
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(err) = child.stderr.take() {
            let keep = Arc::clone(&stderr);
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    if line.contains("non monotonically increasing dts") {
                        continue;
                    }
                    if let Ok(mut s) = keep.lock()
                        && s.len() < 2048
                    {
                        s.push_str(line.trim());
                        s.push(' ');
                    }
                }
            });
        }
        Ok(FfmpegSource {
            info: SourceInfo {
                path: path.to_path_buf(),
                width,
                height,
                // The container's own count where it has one (MP4's sample table): a file cut
                // short has fewer packets than its header announces.
                frames: pts
                    .len()
                    .max(num("nb_frames").unwrap_or(0).saturating_sub(hidden)),
                fps,
                codec: format!("{codec} (ffmpeg)"),
            },
            child,
            stdout: BufReader::with_capacity(width * height * 3, stdout),
            stderr,
            pts,
            next: 0,
            done: false,
        })
    }

    fn time_of(&self, k: usize) -> f64 {
        match self.pts.get(k) {
            Some(t) => *t,
            None if self.info.fps > 0.0 => k as f64 / self.info.fps,
            None => 0.0,
        }
    }
}

impl FrameSource for FfmpegSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Option<Result<Frame, VideoError>> {
        if self.done {
            return None;
        }
        let (w, h) = (self.info.width, self.info.height);
        let mut rgb = vec![0u8; w * h * 3];
        let mut filled = 0;
        while filled < rgb.len() {
            match self.stdout.read(&mut rgb[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => {
                    self.done = true;
                    return Some(Err(fail(
                        &self.info.path,
                        format!("reading ffmpeg's output: {e}"),
                    )));
                }
            }
        }
        if filled < rgb.len() {
            self.done = true;
            let status = self.child.wait();
            let err = self
                .stderr
                .lock()
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            let ok = status.is_ok_and(|s| s.success());
            // A clean end after every sample the container lists is the normal end, unless
            // ffmpeg complained on the way (it decodes what it can of a damaged file, e.g. a
            // truncated one, and says so on stderr): that is reported once, after the frames.
            if filled == 0 && ok && self.next >= self.pts.len() {
                if err.is_empty() {
                    return None;
                }
                return Some(Err(VideoError::Decode {
                    path: self.info.path.clone(),
                    sample: u32::try_from(self.next).unwrap_or(u32::MAX),
                    msg: crate::error::one_line(format!("ffmpeg reported damage: {err}")),
                }));
            }
            let sample = u32::try_from(self.next + 1).unwrap_or(u32::MAX);
            let mut msg = format!(
                "decoding ended after {} of {} frames",
                self.next,
                self.pts.len()
            );
            if !err.is_empty() {
                msg.push_str(&format!(" (ffmpeg: {err})"));
            }
            return Some(Err(VideoError::Decode {
                path: self.info.path.clone(),
                sample,
                msg: crate::error::one_line(msg),
            }));
        }
        let k = self.next;
        self.next += 1;
        Some(Ok(Frame {
            index: k + 1,
            time_s: self.time_of(k),
            width: w,
            height: h,
            rgb,
        }))
    }
}

impl Drop for FfmpegSource {
    fn drop(&mut self) {
        // Stop a decoder that is still running (e.g. the caller gave up early).
        if !self.done {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

//! Annotated video: every face's box, track id, expression and confidence drawn on the frames,
//! encoded to H.264 MP4 by an installed ffmpeg (raw RGB on a pipe; written to a temporary file
//! and renamed when complete). Stills become an annotated JPEG, which needs no ffmpeg.

use crate::PipelineError;
use crate::report::COLOURS;
use crate::smooth::FaceRecord;
use font8x8::UnicodeFonts;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

pub(crate) fn hex(c: &str) -> [u8; 3] {
    let v = u32::from_str_radix(c.trim_start_matches('#'), 16).unwrap_or(0xffffff);
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

pub(crate) fn fill(
    rgb: &mut [u8],
    w: usize,
    h: usize,
    (x0, y0, x1, y1): (i64, i64, i64, i64),
    c: [u8; 3],
) {
    let (x0, x1) = (
        x0.clamp(0, w as i64) as usize,
        x1.clamp(0, w as i64) as usize,
    );
    let (y0, y1) = (
        y0.clamp(0, h as i64) as usize,
        y1.clamp(0, h as i64) as usize,
    );
    for y in y0..y1 {
        for x in x0..x1 {
            rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&c);
        }
    }
}

/// 8x8 bitmap text scaled by `s`, top-left at `(x, y)`, in black; returns the width drawn.
pub(crate) fn text(
    rgb: &mut [u8],
    w: usize,
    h: usize,
    (x, y): (i64, i64),
    s: i64,
    msg: &str,
) -> i64 {
    let c = [0, 0, 0];
    for (i, ch) in msg.chars().enumerate() {
        let glyph = font8x8::BASIC_FONTS.get(ch).unwrap_or([0; 8]);
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                // Bit 0 is the leftmost pixel.
                if bits >> col & 1 == 1 {
                    let px = x + (i as i64 * 8 + col) * s;
                    let py = y + row as i64 * s;
                    fill(rgb, w, h, (px, py, px + s, py + s), c);
                }
            }
        }
    }
    msg.chars().count() as i64 * 8 * s
}

/// Draw each face: a box in its expression's colour and a label `#id expression 87%`.
pub fn draw(rgb: &mut [u8], w: usize, h: usize, faces: &[FaceRecord]) {
    let s = ((w.max(h) / 640) as i64).max(1);
    let t = 2 * s;
    for f in faces {
        let b = f.detection.bbox;
        let top = f.probs.top();
        let c = hex(COLOURS[top.index()]);
        let (x0, y0, x1, y1) = (b.x1 as i64, b.y1 as i64, b.x2 as i64, b.y2 as i64);
        fill(rgb, w, h, (x0 - t, y0 - t, x1 + t, y0), c);
        fill(rgb, w, h, (x0 - t, y1, x1 + t, y1 + t), c);
        fill(rgb, w, h, (x0 - t, y0, x0, y1), c);
        fill(rgb, w, h, (x1, y0, x1 + t, y1), c);
        let p = f.probs.get(top).unwrap_or(0.0);
        let label = format!("#{} {} {:.0}%", f.track, top.key(), 100.0 * p);
        let lh = 10 * s;
        let ly = if y0 - t - lh >= 0 {
            y0 - t - lh
        } else {
            y1 + t
        };
        let lw = label.chars().count() as i64 * 8 * s + 4 * s;
        fill(rgb, w, h, (x0 - t, ly, x0 - t + lw, ly + lh), c);
        text(rgb, w, h, (x0 - t + 2 * s, ly + s), s, &label);
    }
}

/// An H.264 MP4 written by ffmpeg from raw RGB frames.
pub struct VideoWriter {
    child: Child,
    stdin: Option<ChildStdin>,
    tmp: PathBuf,
    path: PathBuf,
    frame_bytes: usize,
}

impl VideoWriter {
    pub fn create(
        path: &Path,
        width: usize,
        height: usize,
        fps: f64,
        audio: Option<&Path>,
    ) -> Result<Self, PipelineError> {
        if !wildfer_video::ffmpeg::available() {
            return Err(PipelineError::io(
                path,
                "an annotated video needs ffmpeg, which is not installed (e.g. `apt-get install ffmpeg`)",
            ));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
        let fps = if fps > 0.0 { fps } else { 25.0 };
        // Even sizes for 4:2:0.
        let mut child =
            Command::new(std::env::var_os("WILDFER_FFMPEG").unwrap_or_else(|| "ffmpeg".into()))
                .args(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"])
                .args([
                    "-s",
                    &format!("{width}x{height}"),
                    "-r",
                    &format!("{fps:.6}"),
                    "-i",
                    "pipe:0",
                ])
                // The source's first audio track, if any, re-encoded to AAC (MP4 takes it
                // whatever the source held).
                .args(audio.map_or_else(Vec::new, |a| {
                    vec![
                        "-i".into(),
                        a.as_os_str().to_owned(),
                        "-map".into(),
                        "0:v:0".into(),
                        "-map".into(),
                        "1:a:0?".into(),
                        "-c:a".into(),
                        "aac".into(),
                        "-shortest".into(),
                    ]
                }))
                .args([
                    "-vf",
                    "pad=ceil(iw/2)*2:ceil(ih/2)*2",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "veryfast",
                ])
                .args([
                    "-crf",
                    "23",
                    "-pix_fmt",
                    "yuv420p",
                    "-movflags",
                    "+faststart",
                    "-f",
                    "mp4",
                ])
                .arg(&tmp)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| PipelineError::io(path, format!("cannot run ffmpeg: {e}")))?;
        let stdin = child.stdin.take();
        Ok(VideoWriter {
            child,
            stdin,
            tmp,
            path: path.to_path_buf(),
            frame_bytes: width * height * 3,
        })
    }

    pub fn write(&mut self, rgb: &[u8]) -> Result<(), PipelineError> {
        if rgb.len() != self.frame_bytes {
            return Err(PipelineError::io(
                &self.path,
                "frames of different sizes cannot go in one video",
            ));
        }
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(PipelineError::io(&self.path, "video already finished"));
        };
        stdin.write_all(rgb).map_err(|e| {
            PipelineError::io(&self.path, format!("ffmpeg stopped taking frames: {e}"))
        })
    }

    /// Close the pipe, wait for ffmpeg and rename the file into place.
    pub fn finish(mut self) -> Result<(), PipelineError> {
        drop(self.stdin.take());
        let status = self
            .child
            .wait()
            .map_err(|e| PipelineError::io(&self.path, e))?;
        if !status.success() {
            let mut err = String::new();
            if let Some(mut e) = self.child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            let _ = std::fs::remove_file(&self.tmp);
            let err = err.split_whitespace().collect::<Vec<_>>().join(" ");
            return Err(PipelineError::io(
                &self.path,
                format!("ffmpeg failed: {err}"),
            ));
        }
        std::fs::rename(&self.tmp, &self.path).map_err(|e| PipelineError::io(&self.path, e))
    }
}

impl Drop for VideoWriter {
    fn drop(&mut self) {
        // Unfinished (an error or an interruption): stop ffmpeg and remove the partial file.
        if self.stdin.take().is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_file(&self.tmp);
        }
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wildfer_face::{BBox, Detection, Point2};
    use wildfer_labels::Probs;

    #[test]
    fn draws_box_and_label_in_the_class_colour() {
        let (w, h) = (200, 120);
        let mut rgb = vec![255u8; w * h * 3];
        let face = FaceRecord {
            track: 3,
            detection: Detection {
                bbox: BBox::new(60.0, 40.0, 140.0, 110.0),
                score: 0.9,
                landmarks: [Point2::default(); 5],
            },
            probs: Probs::seven([0.1, 0.0, 0.0, 0.0, 0.8, 0.1, 0.0]),
        };
        draw(&mut rgb, w, h, &[face]);
        let px = |x: usize, y: usize| {
            [
                rgb[(y * w + x) * 3],
                rgb[(y * w + x) * 3 + 1],
                rgb[(y * w + x) * 3 + 2],
            ]
        };
        let happy = hex(COLOURS[4]);
        // Box edges in happiness' colour, inside untouched.
        assert_eq!(px(100, 39), happy);
        assert_eq!(px(59, 80), happy);
        assert_eq!(px(100, 80), [255, 255, 255]);
        // The label sits above the box: coloured background with black glyph pixels.
        let label: Vec<[u8; 3]> = (28..38)
            .flat_map(|y| (60..150).map(move |x| (x, y)))
            .map(|(x, y)| px(x, y))
            .collect();
        assert!(label.contains(&[0, 0, 0]) && label.contains(&happy));
        // Faces at the edge do not panic.
        let edge = FaceRecord {
            track: 0,
            detection: Detection {
                bbox: BBox::new(-30.0, -30.0, 250.0, 200.0),
                score: 0.9,
                landmarks: [Point2::default(); 5],
            },
            probs: Probs::seven([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
        };
        draw(&mut rgb, w, h, &[edge]);
    }
}

//! MP4/MOV + H.264: the header parsed by `mp4parse` (after `sniff::check_table_sizes`), the
//! samples located by [`SampleWalker`] and read by offset, decoded by OpenH264.

use crate::samples::SampleWalker;
use crate::yuv::{ColorMatrix, Yuv420, yuv420_to_rgb};
use crate::{Frame, FrameSource, SourceInfo, VideoError};
use openh264::decoder::{Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;
use openh264::{OpenH264API, decoder::DecodedYUV};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Samples (frames) one MP4 may claim: 20 million, about 4 days at 60 frames/s.
pub const MAX_SAMPLES: u64 = 20_000_000;

/// Streams the frames of the first H.264 video track of an MP4/MOV file.
pub struct Mp4H264Source {
    info: SourceInfo,
    /// The file, read sample by sample where `walker` says.
    file: BufReader<File>,
    file_size: u64,
    walker: SampleWalker,
    sample: Vec<u8>,
    decoder: Decoder,
    length_size: usize,
    /// SPS and PPS from `avcC`, as Annex B, sent before the first sample.
    param_sets: Vec<u8>,
    next_sample: u32,
    /// Presentation times (s) of the frames shown (the edit list applied), sorted, relative
    /// to the first one shown.
    pts: Vec<f64>,
    /// Samples in the file (pictures decoded, shown or not).
    samples: usize,
    /// Pictures in display order before `skip` or from `end` on are outside the edit list.
    skip: usize,
    end: usize,
    /// Pictures out of the decoder so far, shown or not.
    decoded: usize,
    emitted: usize,
    pending: VecDeque<Frame>,
    flushed: bool,
    matrix: ColorMatrix,
    /// Turn applied to every picture (the display matrix of a phone recording).
    rotation: Rotation,
    annexb: Vec<u8>,
}

fn container(path: &Path, msg: impl ToString) -> VideoError {
    VideoError::Container {
        path: path.to_path_buf(),
        msg: crate::error::one_line(msg),
    }
}

impl Mp4H264Source {
    pub fn open(path: &Path) -> Result<Self, VideoError> {
        let io = |source| VideoError::Io {
            path: path.to_path_buf(),
            error: source,
        };
        // Regular files only: a device (`/dev/zero`) has no end to bound the reads by.
        let (file, size) = wildfer_files::open_regular(path, u64::MAX).map_err(io)?;
        if size == 0 {
            return Err(container(path, "empty file"));
        }
        crate::sniff::check_table_sizes(path).map_err(|e| container(path, e))?;
        let movie = mp4parse::read_mp4(&mut BufReader::new(&file)).map_err(|e| match e {
            mp4parse::Error::Io(e) => io(e),
            other => container(path, format!("{other:?}")),
        })?;
        let track = movie
            .tracks
            .iter()
            .filter(|t| t.track_type == mp4parse::TrackType::Video)
            .min_by_key(|t| t.id)
            .ok_or_else(|| container(path, "no video track"))?;
        let entry = track
            .stsd
            .as_ref()
            .and_then(|d| d.descriptions.first())
            .and_then(|e| match e {
                mp4parse::SampleEntry::Video(v) => Some(v),
                _ => None,
            });
        let (width, height, avcc) = match entry {
            Some(v) => match (&v.codec_type, &v.codec_specific) {
                (mp4parse::CodecType::H264, mp4parse::VideoCodecSpecific::AVCConfig(c)) => {
                    (usize::from(v.width), usize::from(v.height), c)
                }
                (codec, _) => {
                    return Err(VideoError::Unsupported {
                        path: path.to_path_buf(),
                        msg: format!(
                            "video codec {codec:?} is not supported (wildfer decodes H.264)"
                        ),
                    });
                }
            },
            None => {
                let codec = crate::sniff::video_codec(path)
                    .map_or_else(|| "unknown".to_string(), |c| c.describe());
                return Err(VideoError::Unsupported {
                    path: path.to_path_buf(),
                    msg: format!("video codec {codec} is not supported (wildfer decodes H.264)"),
                });
            }
        };
        crate::frame::check_frame_size(path, width, height)?;
        let rotation = track
            .tkhd
            .as_ref()
            .map_or(Rotation::None, |t| Rotation::of_matrix(&t.matrix));
        let (param_sets, length_size) = avc_config(avcc).map_err(|e| container(path, e))?;
        if let Some(profile) = beyond_openh264(avcc) {
            return Err(VideoError::Unsupported {
                path: path.to_path_buf(),
                msg: format!(
                    "H.264 {profile} is beyond the built-in decoder (8-bit 4:2:0 only): install ffmpeg (e.g. `apt-get install ffmpeg`), which wildfer then uses, or re-encode with `ffmpeg -i IN -pix_fmt yuv420p OUT.mp4`"
                ),
            });
        }
        let timing = track.stts.as_ref().map_or(&[][..], |b| &b.samples[..]);
        let stsz = track
            .stsz
            .as_ref()
            .ok_or_else(|| container(path, "no sample size table (stsz)"))?;
        let count = if stsz.sample_size == 0 {
            stsz.sample_sizes.len() as u64
        } else {
            // A constant sample size carries no count here: the timing table has it.
            timing.iter().map(|e| u64::from(e.sample_count)).sum()
        };
        if count == 0 && movie.mvex.is_some() {
            return Err(container(path, "fragmented MP4 is not supported"));
        }
        // Every sample takes at least a byte of the file: a table claiming more is corrupt,
        // and must not make us allocate a time per claimed sample.
        if count > size {
            return Err(container(
                path,
                format!("sample table claims {count} frames in a file of {size} bytes"),
            ));
        }
        // And a hard cap whatever the file's size (a sparse or huge file): the timing table
        // costs 8 bytes per sample, and the sample walker counts in u32.
        if count > MAX_SAMPLES {
            return Err(container(
                path,
                format!(
                    "sample table claims {count} frames, more than wildfer reads from one file ({MAX_SAMPLES}, about 4 days at 60 frames/s)"
                ),
            ));
        }
        let walker = SampleWalker::new(
            stsz.sample_sizes.to_vec(),
            stsz.sample_size,
            count as u32,
            track
                .stco
                .as_ref()
                .map(|b| b.offsets.to_vec())
                .unwrap_or_default(),
            track
                .stsc
                .as_ref()
                .map(|b| {
                    b.samples
                        .iter()
                        .map(|e| (e.first_chunk, e.samples_per_chunk))
                        .collect()
                })
                .unwrap_or_default(),
        )
        .map_err(|e| container(path, e))?;
        let ctts: Vec<(u32, i64)> = track.ctts.as_ref().map_or_else(Vec::new, |b| {
            b.samples
                .iter()
                .map(|e| {
                    let off = match e.time_offset {
                        mp4parse::TimeOffsetVersion::Version0(v) => i64::from(v),
                        mp4parse::TimeOffsetVersion::Version1(v) => i64::from(v),
                    };
                    (e.sample_count, off)
                })
                .collect()
        });
        let stts: Vec<(u32, u32)> = timing
            .iter()
            .map(|e| (e.sample_count, e.sample_delta))
            .collect();
        let timescale = track.timescale.map_or(0, |t| t.0);
        // The edit list (what players show): its first media edit, as mp4parse reads it.
        let movie_scale = movie.timescale.map_or(0, |t| t.0);
        let edit = track.media_time.map(|m| Edit {
            media_time: m.0,
            duration: track
                .edited_duration
                .filter(|d| d.0 > 0 && movie_scale > 0)
                .map(|d| {
                    (u128::from(d.0) * u128::from(timescale) / u128::from(movie_scale))
                        .min(u128::from(u64::MAX)) as u64
                }),
            empty_s: track
                .empty_duration
                .filter(|_| movie_scale > 0)
                .map_or(0.0, |e| e.0 as f64 / movie_scale as f64),
        });
        let shown = presentation_times(&stts, &ctts, timescale, count as usize, edit);
        let frames = shown.times.len();
        let duration = match (edit.and_then(|e| e.duration), track.duration, timescale) {
            (Some(d), _, t) | (None, Some(mp4parse::TrackScaledTime(d, _)), t) if t > 0 => {
                d as f64 / t as f64
            }
            _ => 0.0,
        };
        let fps = if duration > 0.0 {
            frames as f64 / duration
        } else {
            0.0
        };
        // Frames leave the decoder in display order; flushing after every packet would break
        // B-frame reordering, so flush only at the end.
        let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
        let decoder = Decoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| container(path, format!("cannot start the H.264 decoder: {e}")))?;
        Ok(Mp4H264Source {
            info: SourceInfo {
                path: path.to_path_buf(),
                // As players show it (the track's display matrix applied).
                width: if rotation.swaps_sides() {
                    height
                } else {
                    width
                },
                height: if rotation.swaps_sides() {
                    width
                } else {
                    height
                },
                frames,
                fps,
                codec: "h264".into(),
            },
            file: BufReader::new(file),
            file_size: size,
            walker,
            sample: Vec::new(),
            decoder,
            length_size,
            param_sets,
            next_sample: 1,
            pts: shown.times,
            samples: count as usize,
            skip: shown.skip,
            end: shown.end,
            decoded: 0,
            emitted: 0,
            pending: VecDeque::new(),
            flushed: false,
            matrix: ColorMatrix::for_size(height),
            rotation,
            annexb: Vec::new(),
        })
    }

    fn path(&self) -> PathBuf {
        self.info.path.clone()
    }

    /// Read sample `sample` (the walker's next) into `self.sample`. A broken sample table ends
    /// the stream (after the decoder's remaining frames): one error, not one per claimed sample.
    fn read_sample(&mut self, sample: u32) -> Result<(), VideoError> {
        let (offset, size) = match self.walker.next() {
            Some(Ok(at)) => at,
            Some(Err(e)) => {
                self.next_sample = self.samples as u32 + 1;
                return Err(self.decode_error(sample, e));
            }
            None => {
                self.next_sample = self.samples as u32 + 1;
                return Err(self.decode_error(sample, "missing from the sample table"));
            }
        };
        if offset.saturating_add(u64::from(size)) > self.file_size {
            return Err(self.decode_error(
                sample,
                format!(
                    "{size} bytes at offset {offset} lie past the end of the file ({} bytes)",
                    self.file_size
                ),
            ));
        }
        self.sample.resize(size as usize, 0);
        self.file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.read_exact(&mut self.sample))
            .map_err(|e| self.decode_error(sample, e))
    }

    /// Rewrite the length-prefixed sample read into `self.sample` as Annex B into
    /// `self.annexb`, checking every length.
    fn load_annexb(&mut self, sample: u32) -> Result<(), VideoError> {
        self.annexb.clear();
        if sample == 1 {
            self.annexb.extend_from_slice(&self.param_sets);
        }
        let mut rest = &self.sample[..];
        while !rest.is_empty() {
            if rest.len() < self.length_size {
                return Err(self.decode_error(sample, "truncated NAL length"));
            }
            let n = rest[..self.length_size]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            rest = &rest[self.length_size..];
            if n > rest.len() {
                return Err(self.decode_error(
                    sample,
                    format!("NAL of {n} bytes in {} remaining", rest.len()),
                ));
            }
            self.annexb.extend_from_slice(&[0, 0, 0, 1]);
            self.annexb.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
        Ok(())
    }

    fn decode_error(&self, sample: u32, msg: impl ToString) -> VideoError {
        VideoError::Decode {
            path: self.path(),
            sample,
            msg: crate::error::one_line(msg),
        }
    }
}

/// Convert a decoded picture, numbering it after the `emitted` frames before it.
fn make_frame(
    yuv: &DecodedYUV<'_>,
    matrix: ColorMatrix,
    pts: &[f64],
    fps: f64,
    emitted: &mut usize,
) -> Frame {
    let (w, h) = yuv.dimensions();
    let mut rgb = Vec::new();
    let pic = Yuv420 {
        planes: [yuv.y(), yuv.u(), yuv.v()],
        strides: yuv.strides(),
        width: w,
        height: h,
    };
    yuv420_to_rgb(&pic, matrix, &mut rgb);
    // More pictures than samples would be a broken file: extrapolate at the average rate.
    let time_s = pts
        .get(*emitted)
        .copied()
        .unwrap_or_else(|| *emitted as f64 / fps.max(1e-9));
    *emitted += 1;
    Frame {
        index: *emitted,
        time_s,
        width: w,
        height: h,
        rgb,
    }
}

/// How a track's display matrix (`tkhd`) turns its pictures: phones store a portrait video as
/// landscape pictures plus a quarter turn. Only the four right-angle turns are applied (players
/// do the same; mirrors and shears are left alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    None,
    /// A quarter turn clockwise.
    Clockwise,
    Half,
    /// A quarter turn counter-clockwise.
    CounterClockwise,
}

impl Rotation {
    /// The turn of an ISO-BMFF matrix (16.16 fixed point `a b c d`): a point `(x, y)` is shown
    /// at `(a x + c y, b x + d y)`, y pointing down.
    pub fn of_matrix(m: &mp4parse::Matrix) -> Rotation {
        let one = 1 << 16;
        match (m.a, m.b, m.c, m.d) {
            (0, b, c, 0) if b == one && c == -one => Rotation::Clockwise,
            (0, b, c, 0) if b == -one && c == one => Rotation::CounterClockwise,
            (a, 0, 0, d) if a == -one && d == -one => Rotation::Half,
            _ => Rotation::None,
        }
    }

    pub fn swaps_sides(self) -> bool {
        matches!(self, Rotation::Clockwise | Rotation::CounterClockwise)
    }

    /// The frame as shown.
    pub fn apply(self, f: Frame) -> Frame {
        if self == Rotation::None {
            return f;
        }
        let (w, h) = (f.width, f.height);
        let (nw, nh) = if self.swaps_sides() { (h, w) } else { (w, h) };
        let mut out = vec![0u8; f.rgb.len()];
        for y in 0..nh {
            for x in 0..nw {
                // The stored pixel shown at (x, y).
                let (sx, sy) = match self {
                    Rotation::Clockwise => (y, h - 1 - x),
                    Rotation::CounterClockwise => (w - 1 - y, x),
                    Rotation::Half => (w - 1 - x, h - 1 - y),
                    Rotation::None => (x, y),
                };
                let (o, i) = (3 * (y * nw + x), 3 * (sy * w + sx));
                out[o..o + 3].copy_from_slice(&f.rgb[i..i + 3]);
            }
        }
        Frame {
            width: nw,
            height: nh,
            rgb: out,
            ..f
        }
    }
}

/// The part of a track an edit list shows: media from `media_time` for `duration` (track
/// ticks; `None`: to the end), after `empty_s` seconds of nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Edit {
    media_time: u64,
    duration: Option<u64>,
    empty_s: f64,
}

/// Which decoded pictures (in display order) are shown, and when.
#[derive(Debug, PartialEq)]
struct Shown {
    /// Seconds from the first picture shown (plus the edit's empty time), sorted.
    times: Vec<f64>,
    /// Pictures before this display index are hidden by the edit list.
    skip: usize,
    /// Pictures from this display index on are hidden (`usize::MAX` without an edit list:
    /// extra pictures of a broken file are kept).
    end: usize,
}

/// Presentation time of every sample (decode time + composition offset), sorted; `samples` of
/// them (the sample-size table's count), whatever the timing tables (`stts` as (count, delta),
/// `ctts` as (count, offset)) claim. An edit list keeps the pictures whose presentation time
/// falls in `[media_time, media_time + duration)`, as ffmpeg (and so ffprobe, PyAV and OpenCV)
/// does; one that would hide every picture is ignored.
fn presentation_times(
    stts: &[(u32, u32)],
    ctts: &[(u32, i64)],
    timescale: u64,
    samples: usize,
    edit: Option<Edit>,
) -> Shown {
    let scale = timescale.max(1) as f64;
    let mut dts = Vec::with_capacity(samples);
    let mut t = 0u64;
    'stts: for &(count, delta) in stts {
        for _ in 0..count {
            if dts.len() == samples {
                break 'stts;
            }
            dts.push(t);
            t = t.saturating_add(u64::from(delta));
        }
    }
    // Samples the timing table leaves out follow at the last delta.
    let last_delta = stts.last().map_or(1, |e| u64::from(e.1));
    while dts.len() < samples {
        dts.push(t);
        t = t.saturating_add(last_delta);
    }
    let mut offsets = Vec::with_capacity(samples);
    for &(count, offset) in ctts {
        let n = (count as usize).min(samples - offsets.len());
        offsets.extend(std::iter::repeat_n(offset, n));
    }
    let mut pts: Vec<i64> = dts
        .iter()
        .enumerate()
        .map(|(i, d)| (*d as i64).saturating_add(offsets.get(i).copied().unwrap_or(0)))
        .collect();
    pts.sort_unstable();
    let window = edit.map(|e| {
        let start = i64::try_from(e.media_time).unwrap_or(i64::MAX);
        let lo = pts.partition_point(|&p| p < start);
        let hi = e.duration.map_or(pts.len(), |d| {
            let stop = start.saturating_add(i64::try_from(d).unwrap_or(i64::MAX));
            pts.partition_point(|&p| p < stop)
        });
        (lo, hi, e.empty_s)
    });
    let (skip, end, empty_s) = match window {
        Some((lo, hi, empty_s)) if lo < hi => (lo, hi, empty_s),
        _ => (0, usize::MAX, 0.0),
    };
    let shown = &pts[skip..end.min(pts.len())];
    let first = shown.first().copied().unwrap_or(0);
    Shown {
        times: shown
            .iter()
            .map(|p| empty_s + (i128::from(*p) - i128::from(first)) as f64 / scale)
            .collect(),
        skip,
        end,
    }
}

/// The profile named by an `avcC` record (its `AVCProfileIndication`) when OpenH264 cannot
/// decode it: more than 8 bits per sample or other chroma than 4:2:0.
fn beyond_openh264(avcc: &[u8]) -> Option<&'static str> {
    match avcc.get(1)? {
        110 => Some("High 10 profile (10-bit)"),
        122 => Some("High 4:2:2 profile"),
        244 => Some("High 4:4:4 Predictive profile"),
        44 => Some("CAVLC 4:4:4 Intra profile"),
        _ => None,
    }
}

/// SPS/PPS (as Annex B) and the NAL length size from an `avcC` record
/// (ISO/IEC 14496-15 5.3.3.1), every length checked.
fn avc_config(avcc: &[u8]) -> Result<(Vec<u8>, usize), String> {
    let bad = || "truncated H.264 configuration (avcC)".to_string();
    let length_size = usize::from(avcc.get(4).ok_or_else(bad)? & 3) + 1;
    let mut at = 5;
    let mut out = Vec::new();
    for mask in [0x1F, 0xFF] {
        // SPS count (5 bits), then PPS count (8 bits).
        let n = avcc.get(at).ok_or_else(bad)? & mask;
        at += 1;
        for _ in 0..n {
            let len = usize::from(u16::from_be_bytes([
                *avcc.get(at).ok_or_else(bad)?,
                *avcc.get(at + 1).ok_or_else(bad)?,
            ]));
            let nal = avcc.get(at + 2..at + 2 + len).ok_or_else(bad)?;
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(nal);
            at += 2 + len;
        }
    }
    Ok((out, length_size))
}

impl FrameSource for Mp4H264Source {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Option<Result<Frame, VideoError>> {
        loop {
            if let Some(f) = self.pending.pop_front() {
                return Some(Ok(f));
            }
            if self.next_sample as usize > self.samples {
                if self.flushed {
                    return None;
                }
                self.flushed = true;
                let (matrix, fps) = (self.matrix, self.info.fps);
                match self.decoder.flush_remaining() {
                    Ok(frames) => {
                        for yuv in &frames {
                            let d = self.decoded;
                            self.decoded += 1;
                            if (self.skip..self.end).contains(&d) {
                                let f = make_frame(yuv, matrix, &self.pts, fps, &mut self.emitted);
                                let f = self.rotation.apply(f);
                                self.pending.push_back(f);
                            }
                        }
                    }
                    Err(e) => {
                        let sample = self.next_sample - 1;
                        return Some(Err(self.decode_error(sample, e)));
                    }
                }
                continue;
            }
            let sample_id = self.next_sample;
            self.next_sample += 1;
            if let Err(e) = self.read_sample(sample_id) {
                return Some(Err(e));
            }
            if let Err(e) = self.load_annexb(sample_id) {
                return Some(Err(e));
            }
            let (matrix, fps) = (self.matrix, self.info.fps);
            let result = match self.decoder.decode(&self.annexb) {
                Ok(Some(yuv)) => {
                    let (d, skip, end) = (self.decoded, self.skip, self.end);
                    self.decoded += 1;
                    (skip..end).contains(&d).then(|| {
                        let f = make_frame(&yuv, matrix, &self.pts, fps, &mut self.emitted);
                        Ok(self.rotation.apply(f))
                    })
                }
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            };
            match result {
                Some(Ok(frame)) => return Some(Ok(frame)),
                Some(Err(e)) => return Some(Err(self.decode_error(sample_id, e))),
                None => {}
            }
        }
    }
}

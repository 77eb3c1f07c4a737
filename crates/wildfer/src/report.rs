//! Reports people look at: a per-input timeline (SVG) of each face's expression probabilities
//! with the winning class as a colour band, and one self-contained `report.html` (inline SVG and
//! thumbnails, no network).
//!
//! Timelines are accumulated into a bounded number of time bins per track while `analyze`
//! streams, so memory stays flat however long the video.

use crate::expression::Probs;
use image::ImageEncoder;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Class colours, ABAW order (neutral, anger, disgust, fear, happiness, sadness, surprise).
pub const COLOURS: [&str; 7] = [
    "#8c8c8c", "#d62728", "#8c564b", "#9467bd", "#f2b701", "#1f77b4", "#17becf",
];

/// Most time bins per track.
pub const MAX_BINS: usize = 480;
/// Thumbnails kept per track.
pub const THUMBS: usize = 4;

/// One track's timeline: mean probabilities per time bin, and a few face crops.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrackTimeline {
    sums: Vec<[f64; 7]>,
    counts: Vec<u32>,
    /// (frame, JPEG bytes, confidence of the winning class) of the kept thumbnails.
    pub thumbs: Vec<(usize, Vec<u8>, f32)>,
}

/// Timelines of every track of one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub bins: usize,
    /// Frames expected (from the container) and the duration they span.
    pub frames: usize,
    pub fps: f64,
    pub tracks: BTreeMap<usize, TrackTimeline>,
}

impl Timeline {
    pub fn new(frames: usize, fps: f64) -> Self {
        Timeline {
            bins: frames.clamp(1, MAX_BINS),
            frames: frames.max(1),
            fps,
            tracks: BTreeMap::new(),
        }
    }

    fn bin(&self, frame: usize) -> usize {
        ((frame.saturating_sub(1)) * self.bins / self.frames).min(self.bins - 1)
    }

    /// Add one face's probabilities at `frame` (1-based).
    pub fn add(&mut self, track: usize, frame: usize, p: &Probs) {
        let (bins, b) = (self.bins, self.bin(frame));
        let t = self.tracks.entry(track).or_default();
        if t.sums.is_empty() {
            t.sums = vec![[0.0; 7]; bins];
            t.counts = vec![0; bins];
        }
        for (s, v) in t.sums[b].iter_mut().zip(p) {
            *s += f64::from(*v);
        }
        t.counts[b] += 1;
    }

    /// Whether a thumbnail at this frame would be kept: the first frames of a track, then
    /// evenly spread (one per `frames / THUMBS` frames).
    pub fn wants_thumb(&self, track: usize, frame: usize) -> bool {
        let n = self.tracks.get(&track).map_or(0, |t| t.thumbs.len());
        if n >= THUMBS {
            return false;
        }
        let step = (self.frames / THUMBS).max(1);
        let last = self
            .tracks
            .get(&track)
            .and_then(|t| t.thumbs.last())
            .map(|(f, _, _)| *f);
        last.is_none_or(|l| frame >= l + step)
    }

    pub fn add_thumb(&mut self, track: usize, frame: usize, jpeg: Vec<u8>, confidence: f32) {
        self.tracks
            .entry(track)
            .or_default()
            .thumbs
            .push((frame, jpeg, confidence));
    }

    /// The time axis: duration and its unit (seconds, or frames when the rate is unknown).
    fn span(&self) -> (f64, &'static str) {
        if self.fps > 0.0 {
            (self.frames as f64 / self.fps, "s")
        } else {
            (self.frames as f64, "frame")
        }
    }

    /// Mean probabilities per bin (`None` where the track has no face).
    pub fn means(&self, track: usize) -> Vec<Option<[f64; 7]>> {
        let Some(t) = self.tracks.get(&track) else {
            return vec![None; self.bins];
        };
        t.sums
            .iter()
            .zip(&t.counts)
            .map(|(s, &c)| (c > 0).then(|| s.map(|v| v / f64::from(c))))
            .collect()
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The timeline as a standalone SVG: one panel per track with a line per class and the winning
/// class as a colour band below, time in seconds on the x axis.
pub fn timeline_svg(title: &str, t: &Timeline) -> String {
    let (w, left, right) = (960.0, 60.0, 20.0);
    let (panel_h, band_h, gap, top) = (120.0, 12.0, 40.0, 48.0);
    let plot_w = w - left - right;
    let n = t.tracks.len().max(1);
    let h = top + n as f64 * (panel_h + band_h + gap) + 30.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(
        s,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{left}" y="18" font-size="14" font-weight="bold">{}</text>"#,
        esc(title)
    );
    // Legend.
    for (k, class) in wildfer_core::LabelSet::Seven.classes().iter().enumerate() {
        let name = class.key();
        let x = left + 260.0 + k as f64 * 90.0;
        let _ = write!(
            s,
            r#"<rect x="{x}" y="9" width="10" height="10" fill="{}"/><text x="{}" y="18">{name}</text>"#,
            COLOURS[k],
            x + 14.0
        );
    }
    let (duration, unit) = t.span();
    let xb = |b: usize| left + (b as f64 + 0.5) / t.bins as f64 * plot_w;
    if t.tracks.is_empty() {
        let _ = write!(
            s,
            r#"<text x="{left}" y="{}">no faces found</text>"#,
            top + 20.0
        );
    }
    for (row, (id, _)) in t.tracks.iter().enumerate() {
        let y0 = top + row as f64 * (panel_h + band_h + gap);
        let means = t.means(*id);
        let _ = write!(
            s,
            r##"<text x="{left}" y="{}" font-weight="bold">face {id}</text><rect x="{left}" y="{y0}" width="{plot_w}" height="{panel_h}" fill="none" stroke="#ccc"/>"##,
            y0 - 5.0
        );
        for frac in [0.0, 0.5, 1.0] {
            let y = y0 + panel_h * (1.0 - frac);
            let _ = write!(
                s,
                r#"<text x="{}" y="{}" text-anchor="end">{frac:.1}</text>"#,
                left - 4.0,
                y + 4.0
            );
        }
        for k in 0..7 {
            // One polyline per run of bins with a face.
            let mut pts: Vec<String> = Vec::new();
            let flush = |pts: &mut Vec<String>, s: &mut String| {
                if pts.len() > 1 {
                    let _ = write!(
                        s,
                        r#"<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>"#,
                        COLOURS[k],
                        pts.join(" ")
                    );
                }
                pts.clear();
            };
            for (b, m) in means.iter().enumerate() {
                match m {
                    Some(p) => pts.push(format!("{:.1},{:.1}", xb(b), y0 + panel_h * (1.0 - p[k]))),
                    None => flush(&mut pts, &mut s),
                }
            }
            flush(&mut pts, &mut s);
        }
        let bw = plot_w / t.bins as f64;
        for (b, m) in means.iter().enumerate() {
            if let Some(p) = m {
                let win = wildfer_core::argmax(p);
                let _ = write!(
                    s,
                    r#"<rect x="{:.2}" y="{}" width="{:.2}" height="{band_h}" fill="{}"/>"#,
                    left + b as f64 * bw,
                    y0 + panel_h + 2.0,
                    bw + 0.05,
                    COLOURS[win]
                );
            }
        }
        // Time axis.
        let ya = y0 + panel_h + band_h + 16.0;
        for i in 0..=5 {
            let x = left + plot_w * i as f64 / 5.0;
            let _ = write!(
                s,
                r#"<text x="{x:.1}" y="{ya}" text-anchor="middle">{:.1} {unit}</text>"#,
                duration * i as f64 / 5.0
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// A thick line segment (for the PNG timeline).
fn segment(rgb: &mut [u8], w: usize, h: usize, a: (f64, f64), b: (f64, f64), c: [u8; 3]) {
    let n = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
    for i in 0..=n {
        let t = i as f64 / n as f64;
        let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
        let (x, y) = (x.round() as i64, y.round() as i64);
        crate::annotate::fill(rgb, w, h, (x - 1, y - 1, x + 1, y + 1), c);
    }
}

/// The timeline as a PNG, the same layout as [`timeline_svg`] (for documents and viewers
/// without SVG).
pub fn timeline_png(title: &str, t: &Timeline) -> Result<Vec<u8>, image::ImageError> {
    use crate::annotate::{fill, hex, text};
    let (w, left, right) = (960usize, 60.0, 20.0);
    let (panel_h, band_h, gap, top) = (120.0, 12.0, 40.0, 48.0);
    let plot_w = w as f64 - left - right;
    let n = t.tracks.len().max(1);
    let h = (top + n as f64 * (panel_h + band_h + gap) + 30.0) as usize;
    let mut rgb = vec![255u8; w * h * 3];
    let (li, ti) = (left as i64, top as i64);
    text(&mut rgb, w, h, (li, 8), 1, title);
    for (k, class) in wildfer_core::LabelSet::Seven.classes().iter().enumerate() {
        let x = li + 260 + k as i64 * 90;
        fill(&mut rgb, w, h, (x, 9, x + 10, 19), hex(COLOURS[k]));
        text(&mut rgb, w, h, (x + 14, 10), 1, class.key());
    }
    let (duration, unit) = t.span();
    let xb = |b: usize| left + (b as f64 + 0.5) / t.bins as f64 * plot_w;
    if t.tracks.is_empty() {
        text(&mut rgb, w, h, (li, ti + 12), 1, "no faces found");
    }
    let grey = [204, 204, 204];
    for (row, id) in t.tracks.keys().enumerate() {
        let y0 = top + row as f64 * (panel_h + band_h + gap);
        let (y0i, phi) = (y0 as i64, panel_h as i64);
        let x1 = (left + plot_w) as i64;
        text(&mut rgb, w, h, (li, y0i - 12), 1, &format!("face {id}"));
        fill(&mut rgb, w, h, (li, y0i, x1, y0i + 1), grey);
        fill(&mut rgb, w, h, (li, y0i + phi, x1, y0i + phi + 1), grey);
        fill(&mut rgb, w, h, (li, y0i, li + 1, y0i + phi), grey);
        fill(&mut rgb, w, h, (x1, y0i, x1 + 1, y0i + phi), grey);
        for (frac, label) in [(0.0, "0.0"), (0.5, "0.5"), (1.0, "1.0")] {
            let y = (y0 + panel_h * (1.0 - frac)) as i64;
            text(&mut rgb, w, h, (li - 30, y - 4), 1, label);
        }
        let means = t.means(*id);
        for k in 0..7 {
            let c = hex(COLOURS[k]);
            for b in 1..means.len() {
                if let (Some(p), Some(q)) = (means[b - 1], means[b]) {
                    let a = (xb(b - 1), y0 + panel_h * (1.0 - p[k]));
                    let z = (xb(b), y0 + panel_h * (1.0 - q[k]));
                    segment(&mut rgb, w, h, a, z, c);
                }
            }
        }
        let bw = plot_w / t.bins as f64;
        for (b, m) in means.iter().enumerate() {
            if let Some(p) = m {
                let win = wildfer_core::argmax(p);
                let xa = (left + b as f64 * bw).floor() as i64;
                let xz = (left + (b + 1) as f64 * bw).ceil() as i64;
                let yb = (y0 + panel_h + 2.0) as i64;
                fill(
                    &mut rgb,
                    w,
                    h,
                    (xa, yb, xz, yb + band_h as i64),
                    hex(COLOURS[win]),
                );
            }
        }
        let ya = (y0 + panel_h + band_h + 8.0) as i64;
        for i in 0..=5 {
            let x = (left + plot_w * i as f64 / 5.0) as i64;
            let label = format!("{:.1} {unit}", duration * i as f64 / 5.0);
            text(&mut rgb, w, h, (x - 4 * label.len() as i64, ya), 1, &label);
        }
    }
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png).write_image(
        &rgb,
        w as u32,
        h as u32,
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(png)
}

/// Standard base64 (for inline thumbnails).
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                out.push(T[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 back to bytes; `None` on anything else (padding only at the end).
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let b = text.as_bytes();
    if !b.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    let quads = b.len() / 4;
    for (q, c) in b.chunks(4).enumerate() {
        let pad = c.iter().rev().take_while(|&&x| x == b'=').count();
        if pad > 2 || (pad > 0 && q + 1 != quads) {
            return None;
        }
        let mut n = 0u32;
        for &x in &c[..4 - pad] {
            n = (n << 6) | value(x)?;
        }
        n <<= 6 * pad as u32;
        out.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    Some(out)
}

/// A [`Timeline`] as stored in each input's JSON (`metadata.timeline`), so that a folder's
/// summary and report can be rebuilt from its per-input files alone. Means are rounded to
/// 1e-4 (a timeline pixel is far coarser).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineRecord {
    pub bins: usize,
    pub frames: usize,
    pub fps: f64,
    pub tracks: Vec<TrackRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackRecord {
    pub face_id: usize,
    /// Mean probabilities per bin, ABAW order; `null` where the track has no face.
    pub means: Vec<Option<[f32; 7]>>,
    pub thumbnails: Vec<ThumbRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThumbRecord {
    pub frame: usize,
    /// Probability of the winning class in that frame.
    pub confidence: f32,
    pub jpeg_base64: String,
}

impl Timeline {
    /// What [`TimelineRecord`] stores.
    pub fn to_record(&self) -> TimelineRecord {
        let round = |v: f64| ((v * 1e4).round() / 1e4) as f32;
        TimelineRecord {
            bins: self.bins,
            frames: self.frames,
            fps: self.fps,
            tracks: self
                .tracks
                .iter()
                .map(|(&face_id, t)| TrackRecord {
                    face_id,
                    means: self
                        .means(face_id)
                        .into_iter()
                        .map(|m| m.map(|p| p.map(round)))
                        .collect(),
                    thumbnails: t
                        .thumbs
                        .iter()
                        .map(|(frame, jpeg, confidence)| ThumbRecord {
                            frame: *frame,
                            confidence: *confidence,
                            jpeg_base64: base64(jpeg),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// The timeline a record describes; `Err` names what is inconsistent.
    pub fn from_record(r: &TimelineRecord) -> Result<Timeline, String> {
        if !(1..=MAX_BINS).contains(&r.bins) || r.frames == 0 || !r.fps.is_finite() {
            return Err(format!(
                "timeline: {} bins over {} frames at {} fps is impossible",
                r.bins, r.frames, r.fps
            ));
        }
        let mut t = Timeline {
            bins: r.bins,
            frames: r.frames,
            fps: r.fps,
            tracks: BTreeMap::new(),
        };
        for tr in &r.tracks {
            if tr.means.len() != r.bins || tr.thumbnails.len() > THUMBS {
                return Err(format!(
                    "timeline of face {}: {} bins and {} thumbnails, expected {} and at most {THUMBS}",
                    tr.face_id,
                    tr.means.len(),
                    tr.thumbnails.len(),
                    r.bins
                ));
            }
            let thumbs = tr
                .thumbnails
                .iter()
                .map(|th| {
                    base64_decode(&th.jpeg_base64)
                        .map(|jpeg| (th.frame, jpeg, th.confidence))
                        .ok_or_else(|| format!("thumbnail of face {}: not base64", tr.face_id))
                })
                .collect::<Result<_, _>>()?;
            let track = TrackTimeline {
                sums: tr
                    .means
                    .iter()
                    .map(|m| m.map_or([0.0; 7], |p| p.map(f64::from)))
                    .collect(),
                counts: tr.means.iter().map(|m| u32::from(m.is_some())).collect(),
                thumbs,
            };
            if t.tracks.insert(tr.face_id, track).is_some() {
                return Err(format!("timeline: face {} twice", tr.face_id));
            }
        }
        Ok(t)
    }
}

/// A thumbnail in the report: frame, base64 JPEG, caption.
pub struct Thumb {
    pub frame: usize,
    pub jpeg_base64: String,
    pub caption: String,
}

/// One input's section of the HTML report.
pub struct ReportSection {
    pub title: String,
    pub summary_rows: Vec<[String; 5]>,
    pub stats_line: String,
    pub svg: String,
    /// Per track id, its thumbnails.
    pub thumbs: Vec<(usize, Vec<Thumb>)>,
}

/// The self-contained HTML report over all inputs.
pub fn html(sections: &[ReportSection], footer: &str) -> String {
    let mut h = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>wildfer report</title>\
         <style>body{font-family:sans-serif;margin:24px;max-width:1000px}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}\
         .thumbs img{width:96px;height:96px;margin:2px}.thumbs figure{display:inline-block;margin:4px;text-align:center;font-size:11px}\
         </style></head><body><h1>wildfer report</h1>\n",
    );
    for sec in sections {
        let _ = write!(
            h,
            "<h2>{}</h2><p>{}</p>",
            esc(&sec.title),
            esc(&sec.stats_line)
        );
        if !sec.summary_rows.is_empty() {
            h.push_str("<table><tr><th>face</th><th>frames</th><th>first</th><th>last</th><th>dominant</th></tr>");
            for r in &sec.summary_rows {
                h.push_str("<tr>");
                for c in r {
                    let _ = write!(h, "<td>{}</td>", esc(c));
                }
                h.push_str("</tr>");
            }
            h.push_str("</table>");
        }
        h.push_str(&sec.svg);
        for (id, thumbs) in &sec.thumbs {
            let _ = write!(h, "<div class=\"thumbs\"><b>face {id}</b><br>");
            for t in thumbs {
                let _ = write!(
                    h,
                    "<figure><img alt=\"face {id} frame {f}\" src=\"data:image/jpeg;base64,{b}\"><figcaption>frame {f}: {c}</figcaption></figure>",
                    f = t.frame,
                    b = t.jpeg_base64,
                    c = esc(&t.caption)
                );
            }
            h.push_str("</div>");
        }
        h.push('\n');
    }
    let _ = writeln!(h, "<p><small>{}</small></p></body></html>", esc(footer));
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_known_values() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn base64_decodes_what_it_encodes_and_refuses_the_rest() {
        for n in 0..40 {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base64_decode(&base64(&bytes)).unwrap(), bytes, "{n} bytes");
        }
        assert_eq!(base64_decode("Zm9vYmFy").unwrap(), b"foobar");
        for bad in ["Zm9", "Zm9v!mFy", "Zg==Zm9v", "Z===", "===="] {
            assert!(base64_decode(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_timeline_survives_its_record() {
        let mut t = Timeline::new(300, 30.0);
        for f in (1..=300).filter(|f| f % 7 != 0) {
            t.add(2, f, &[0.1, 0.2, 0.0, 0.0, 0.7, 0.0, 0.0]);
            if f > 200 {
                t.add(5, f, &[0.123_456, 0.0, 0.0, 0.876_544, 0.0, 0.0, 0.0]);
            }
        }
        t.add_thumb(2, 1, vec![0xff, 0xd8, 1, 2, 3], 0.7);
        let r = t.to_record();
        let json = serde_json::to_string(&r).unwrap();
        let back: TimelineRecord = serde_json::from_str(&json).unwrap();
        let u = Timeline::from_record(&back).unwrap();
        assert_eq!((u.bins, u.frames, u.fps), (t.bins, t.frames, t.fps));
        assert_eq!(u.tracks[&2].thumbs, t.tracks[&2].thumbs);
        for id in [2, 5] {
            for (a, b) in t.means(id).iter().zip(u.means(id)) {
                assert_eq!(a.is_some(), b.is_some());
                for (x, y) in a.unwrap_or_default().iter().zip(b.unwrap_or_default()) {
                    assert!((x - y).abs() <= 5e-5, "{x} vs {y}");
                }
            }
        }
        // Drawn alike (the SVG's coordinates have one decimal).
        assert_eq!(timeline_svg("a", &t), timeline_svg("a", &u));
        let mut bad = r.clone();
        bad.tracks[0].means.pop();
        assert!(Timeline::from_record(&bad).unwrap_err().contains("face 2"));
        let mut bad = r;
        bad.bins = 0;
        assert!(Timeline::from_record(&bad).is_err());
    }

    #[test]
    fn bins_average_and_stay_bounded() {
        let mut t = Timeline::new(10_000, 25.0);
        assert_eq!(t.bins, MAX_BINS);
        let a = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let b = [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0];
        t.add(0, 1, &a);
        t.add(0, 2, &b);
        t.add(0, 10_000, &b);
        let m = t.means(0);
        assert_eq!(m.len(), MAX_BINS);
        assert_eq!(m[0].unwrap()[0], 0.5);
        assert_eq!(m[0].unwrap()[4], 0.5);
        assert!(m[1].is_none());
        assert_eq!(m[MAX_BINS - 1].unwrap()[4], 1.0);
        // Frames past the container's count land in the last bin.
        t.add(0, 20_000, &a);
        assert_eq!(t.means(0)[MAX_BINS - 1].unwrap()[0], 0.5);
    }

    #[test]
    fn png_timeline_draws_bands_in_the_winning_colour() {
        let mut t = Timeline::new(100, 25.0);
        for f in 1..=100 {
            t.add(0, f, &[0.1, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0]);
        }
        let png = timeline_png("clip", &t).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(img.width(), 960);
        // The band under the panel: happiness' colour across the plot.
        let happy = crate::annotate::hex(COLOURS[4]);
        let band_y = (48.0 + 120.0 + 2.0 + 6.0) as u32;
        for x in [70, 500, 930] {
            assert_eq!(img.get_pixel(x, band_y).0, happy, "x {x}");
        }
        // The happiness line runs at 0.9 of the panel height, neutral's at 0.1.
        let y = |p: f64| (48.0 + 120.0 * (1.0 - p)).round() as u32;
        assert_eq!(img.get_pixel(500, y(0.9)).0, happy);
        assert_eq!(
            img.get_pixel(500, y(0.1)).0,
            crate::annotate::hex(COLOURS[0])
        );
    }

    #[test]
    fn svg_has_a_panel_per_track_and_is_well_formed() {
        let mut t = Timeline::new(100, 25.0);
        for f in 1..=100 {
            t.add(0, f, &[0.1, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0]);
            if f > 50 {
                t.add(3, f, &[0.8, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0]);
            }
        }
        let svg = timeline_svg("clip <1>", &t);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("face 0") && svg.contains("face 3"));
        assert!(svg.contains("clip &lt;1&gt;"));
        // 7 lines per track; track 3 has one run.
        assert_eq!(svg.matches("<polyline").count(), 14);
        // Band colours: happiness for track 0, neutral for track 3.
        assert!(svg.contains(COLOURS[4]) && svg.contains(COLOURS[0]));
        assert!(svg.contains("4.0 s"));
        assert!(timeline_svg("none", &Timeline::new(10, 25.0)).contains("no faces found"));
    }
}

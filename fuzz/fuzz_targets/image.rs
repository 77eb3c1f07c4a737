//! Image decoding as analysis (stills, frame folders) and training (crops) do it: bounded,
//! never a panic, errors naming the file.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wildfer_fuzz::{check_error, scratch_file};
use wildfer_train::augment::{AugDraw, load_crop};

fuzz_target!(|data: &[u8]| {
    let path = scratch_file("input.jpg", data);
    match wildfer_video::stills::read_rgb(&path) {
        Ok((w, h, rgb)) => assert_eq!(rgb.len(), w * h * 3),
        Err(e) => check_error(&e, "input.jpg"),
    }
    let mut out = vec![0f32; 3 * 8 * 8];
    match load_crop(&path, 8, &AugDraw::IDENTITY, &mut out) {
        Ok(()) => assert!(out.iter().all(|v| v.is_finite())),
        Err(e) => check_error(&e, "input.jpg"),
    }
});

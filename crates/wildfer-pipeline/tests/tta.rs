//! Test-time augmentation (`--tta flip`, `--tta ten-crop`): each face's answer is the mean of
//! the model's answers for several views of it (its mirror image; windows of it), on every path
//! a face takes to a model.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use wildfer_face::{AlignedFace, CropSpec, Similarity2};
use wildfer_pipeline::expression::{ExpressionModel, LabelSet, Probs, Tta, with_tta};
use wildfer_pipeline::{FakeExpressionModel, PipelineError};
use wildfer_video::Frame;

/// Says how much of the image's brightness is in its left half (class 0) and in its right
/// half (class 1): a model that tells a face from its mirror image. Counts its calls.
struct LeftRight {
    calls: usize,
}

fn left_right(rgb: &[u8], width: usize) -> Probs {
    let (mut left, mut right) = (0f32, 0f32);
    for (i, px) in rgb.chunks_exact(3).enumerate() {
        let v = px.iter().map(|&c| c as f32).sum::<f32>();
        if i % width < width / 2 {
            left += v;
        } else {
            right += v;
        }
    }
    let total = (left + right).max(1.0);
    let mut p = [0f32; 7];
    p[0] = left / total;
    p[1] = right / total;
    Probs::seven(p)
}

impl ExpressionModel for LeftRight {
    fn name(&self) -> &str {
        "left-right"
    }
    fn crop(&self) -> CropSpec {
        CropSpec::arcface(8)
    }
    fn predict(&mut self, faces: &[AlignedFace]) -> Result<Vec<Probs>, PipelineError> {
        self.calls += 1;
        Ok(faces.iter().map(|f| left_right(&f.rgb, f.size())).collect())
    }
}

/// An 8x8 face, bright in its leftmost `k` columns.
fn face(k: usize) -> AlignedFace {
    let rgb = (0..64)
        .flat_map(|i| [if i % 8 < k { 200u8 } else { 0 }; 3])
        .collect();
    AlignedFace {
        spec: CropSpec::arcface(8),
        rgb,
        transform: Similarity2::new(1.0, 0.0, 0.0, 0.0),
    }
}

/// A `width` x `height` face crop, bright in its `k` leftmost columns.
fn left_lit_crop(width: usize, height: usize, k: usize) -> Frame {
    let rgb = (0..width * height)
        .flat_map(|i| [if i % width < k { 200u8 } else { 0 }; 3])
        .collect();
    Frame {
        index: 1,
        time_s: 0.0,
        width,
        height,
        rgb,
    }
}

#[test]
fn flip_averages_a_face_with_its_mirror_image() {
    let faces = [face(3), face(1)];
    let mut plain = LeftRight { calls: 0 };
    let alone = plain.predict(&faces).unwrap();
    // The plain model sees the brightness on the left.
    assert_eq!(alone[0][0], 1.0);
    assert_eq!(alone[0][1], 0.0);
    let mut flipped = with_tta(Box::new(LeftRight { calls: 0 }), Tta::Flip).unwrap();
    assert!(flipped.name().contains("left-right"));
    for p in flipped.predict(&faces).unwrap() {
        // Left and right swapped in the mirror: each side gets half.
        assert_eq!(p[0], 0.5, "{p:?}");
        assert_eq!(p[1], 0.5, "{p:?}");
        assert_eq!(p.iter().sum::<f32>(), 1.0);
    }
}

#[test]
fn flip_applies_to_face_crops_too() {
    // A 10x8 crop, bright in its two leftmost columns: the centred 8x8 square is columns 1..9.
    let crop = left_lit_crop(10, 8, 2);
    let mut plain = LeftRight { calls: 0 };
    let p = plain.predict_crops(std::slice::from_ref(&crop)).unwrap()[0];
    assert!(p[0] > 0.99, "{p:?}");
    let mut flipped = with_tta(Box::new(LeftRight { calls: 0 }), Tta::Flip).unwrap();
    let q = flipped.predict_crops(std::slice::from_ref(&crop)).unwrap()[0];
    assert!(
        (q[0] - 0.5).abs() < 1e-6 && (q[1] - 0.5).abs() < 1e-6,
        "{q:?}"
    );
    let keyed = flipped
        .submit_crops(&[7], &[0], std::slice::from_ref(&crop))
        .unwrap();
    assert_eq!(keyed, vec![(7, q)]);
}

#[test]
fn none_is_the_model_itself_and_names_parse() {
    let fake = FakeExpressionModel {
        probs: Probs::seven([0.1, 0.2, 0.3, 0.1, 0.1, 0.1, 0.1]),
    };
    let mut m = with_tta(Box::new(fake.clone()), Tta::None).unwrap();
    assert_eq!(m.name(), "fake");
    assert_eq!(m.predict(&[face(2)]).unwrap(), vec![fake.probs]);
    assert_eq!("flip".parse::<Tta>().unwrap(), Tta::Flip);
    assert_eq!("none".parse::<Tta>().unwrap(), Tta::None);
    let e = "mirror".parse::<Tta>().unwrap_err().to_string();
    assert!(e.contains("mirror") && e.contains("flip"), "{e}");
    assert_eq!(Tta::Flip.name(), "flip");
}

struct Temporal;

impl ExpressionModel for Temporal {
    fn name(&self) -> &str {
        "temporal"
    }
    fn crop(&self) -> CropSpec {
        CropSpec::arcface(8)
    }
    fn temporal(&self) -> bool {
        true
    }
    fn label_set(&self) -> LabelSet {
        LabelSet::Seven
    }
    fn predict(&mut self, faces: &[AlignedFace]) -> Result<Vec<Probs>, PipelineError> {
        Ok(vec![Probs::zeros(LabelSet::Seven); faces.len()])
    }
}

#[test]
fn flip_refuses_a_temporal_model() {
    let e = with_tta(Box::new(Temporal), Tta::Flip)
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("temporal") && e.contains("frame-level"), "{e}");
    assert!(with_tta(Box::new(Temporal), Tta::TenCrop).is_err());
}

/// Keeps every image it is shown; answers class 0 with the share of bright pixels.
#[derive(Default)]
struct Recorder {
    faces: Vec<Vec<u8>>,
    crops: Vec<(usize, usize, Vec<u8>)>,
}

fn bright_share(rgb: &[u8]) -> Probs {
    let lit = rgb.chunks_exact(3).filter(|p| p[0] > 0).count() as f32;
    let mut p = [0f32; 7];
    p[0] = lit / (rgb.len() / 3) as f32;
    Probs::seven(p)
}

/// Boxed, with a way to read what it saw after `with_tta` took it.
struct Shared(std::rc::Rc<std::cell::RefCell<Recorder>>);

impl ExpressionModel for Shared {
    fn name(&self) -> &str {
        "recorder"
    }
    fn crop(&self) -> CropSpec {
        CropSpec::arcface(10)
    }
    fn predict(&mut self, faces: &[AlignedFace]) -> Result<Vec<Probs>, PipelineError> {
        let mut r = self.0.borrow_mut();
        for f in faces {
            assert_eq!(f.rgb.len(), 10 * 10 * 3, "views keep the crop's size");
            r.faces.push(f.rgb.clone());
        }
        Ok(faces.iter().map(|f| bright_share(&f.rgb)).collect())
    }
    fn predict_crops(&mut self, crops: &[Frame]) -> Result<Vec<Probs>, PipelineError> {
        let mut r = self.0.borrow_mut();
        for c in crops {
            r.crops.push((c.width, c.height, c.rgb.clone()));
        }
        Ok(crops.iter().map(|c| bright_share(&c.rgb)).collect())
    }
}

#[test]
fn ten_crop_scores_the_four_corners_the_centre_and_their_mirror_images() {
    assert_eq!("ten-crop".parse::<Tta>().unwrap(), Tta::TenCrop);
    assert_eq!(Tta::TenCrop.name(), "ten-crop");
    // A 10x10 face lit only at its top-left pixel. Windows are 9x9 (0.9 of the side): only
    // the top-left window holds that pixel, plain and mirrored.
    let mut rgb = vec![0u8; 300];
    rgb[..3].copy_from_slice(&[255; 3]);
    let face = AlignedFace {
        spec: CropSpec::arcface(10),
        rgb,
        transform: Similarity2::new(1.0, 0.0, 0.0, 0.0),
    };
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Recorder::default()));
    let mut m = with_tta(Box::new(Shared(seen.clone())), Tta::TenCrop).unwrap();
    assert!(m.name().contains("10 views"), "{}", m.name());
    let p = m.predict(std::slice::from_ref(&face)).unwrap()[0];
    let views = seen.borrow().faces.clone();
    assert_eq!(views.len(), 10);
    let lit: Vec<&Vec<u8>> = views.iter().filter(|v| v.iter().any(|&b| b > 0)).collect();
    assert_eq!(lit.len(), 2, "the top-left window and its mirror image");
    // Upscaled 9 -> 10, the pixel stays in the corner it is in: top-left, then top-right.
    let corner = |v: &[u8], x: usize| v[3 * x] > 0;
    assert!(corner(lit[0], 0) && !corner(lit[0], 9));
    assert!(corner(lit[1], 9) && !corner(lit[1], 0));
    // The answer is the mean of the ten views' answers.
    let mean: f32 = views.iter().map(|v| bright_share(v)[0]).sum::<f32>() / 10.0;
    assert!((p[0] - mean).abs() < 1e-6, "{} vs {mean}", p[0]);
    assert!(p[0] > 0.0);
}

#[test]
fn ten_crop_cuts_face_crops_from_their_centred_square_at_full_resolution() {
    // A 12x10 crop: its centred square is columns 1..11; windows are 9x9 parts of it. Column 0
    // is lit (outside the square) and so is column 1 (the square's left edge).
    let crop = left_lit_crop(12, 10, 2);
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Recorder::default()));
    let mut m = with_tta(Box::new(Shared(seen.clone())), Tta::TenCrop).unwrap();
    m.predict_crops(std::slice::from_ref(&crop)).unwrap();
    let views = seen.borrow().crops.clone();
    assert_eq!(views.len(), 10);
    assert!(views.iter().all(|(w, h, _)| (*w, *h) == (9, 9)));
    // Left windows (top-left, bottom-left) and their mirrors see one lit column of 9;
    // the others none: column 0 is never seen.
    let shares: Vec<f32> = views.iter().map(|(_, _, v)| bright_share(v)[0]).collect();
    let lit = shares.iter().filter(|&&s| s > 0.0).count();
    assert_eq!(lit, 4, "{shares:?}");
    assert!(
        shares
            .iter()
            .all(|&s| s == 0.0 || (s - 1.0 / 9.0).abs() < 1e-6),
        "{shares:?}"
    );
}

//! The synthetic generator writes what the Aff-Wild2 reader expects, with every quirk of the
//! real layout, and the class is visible in the crops.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use wildfer_labels::abaw::Split;
use wildfer_labels::{Expression, LabelSet};

use wildfer_data::{AffWild2, ClipSampler, SynthOptions, generate, windows};

#[test]
fn synth_round_trips_through_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    let opts = SynthOptions {
        videos: (3, 1),
        frames: 90,
        size: 64,
        ..SynthOptions::default()
    };
    let (train_ann, _) = generate(dir.path(), &opts).unwrap();
    let train = AffWild2::open(dir.path(), Split::Train).unwrap();
    let valid = AffWild2::open(dir.path(), Split::Validation).unwrap();
    let names: Vec<&str> = train.videos.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "synth_t_000",
            "synth_t_001",
            "synth_t_002_left",
            "synth_t_002_right"
        ]
    );
    assert_eq!(valid.videos.len(), 1);
    assert_eq!(train.label_set, LabelSet::Seven);
    for v in &train.videos {
        assert_eq!(v.frames(), 90);
        assert_eq!(v.labels, train_ann.videos[&v.name]);
    }
    // The quirks are there: unannotated frames and frames without a crop.
    let unlabelled: usize = train
        .videos
        .iter()
        .map(|v| v.labels.iter().filter(|l| l.is_none()).count())
        .sum();
    let no_crop: usize = train
        .videos
        .iter()
        .map(|v| v.has_crop.iter().filter(|c| !**c).count())
        .sum();
    assert!(unlabelled > 0 && no_crop > 0, "{unlabelled} {no_crop}");
    assert!(unlabelled < 360 / 5 && no_crop < 360 / 10);
    // Several classes, held for runs of frames.
    let counts = train.class_counts();
    assert!(counts.iter().filter(|&&c| c > 0).count() >= 4, "{counts:?}");
    let v = &train.videos[0];
    let changes = v
        .labels
        .windows(2)
        .filter(|w| w[0].is_some() && w[1].is_some() && w[0] != w[1])
        .count();
    assert!(changes <= 90 / 15 + 1, "{changes} label changes");
    // Crops decode at the requested size.
    let f = (1..=90).find(|&f| v.usable(f)).unwrap();
    let img = image::open(v.crop_path(f)).unwrap();
    assert_eq!((img.width(), img.height()), (64, 64));

    // Method A's sampler over it; evaluation windows cover every frame.
    let mut s = ClipSampler::new(&train, 8, 0, 3);
    assert_eq!(s.eligible_videos(), 4);
    for _ in 0..50 {
        let c = s.sample(&train).unwrap();
        let v = &train.videos[c.video];
        // Method A: T consecutive frames that all have crops, starting on a labelled one.
        assert!(c.frames.iter().all(|&f| v.has_crop[f - 1]));
        assert!(v.usable(c.frames[0]));
        assert!(c.frames.windows(2).all(|w| w[1] == w[0] + 1));
    }
    let w = windows(&valid.videos[0], 0, 8, 8);
    let covered: Vec<usize> = w
        .iter()
        .flat_map(|c| c.positions.iter().flatten().copied())
        .collect();
    assert_eq!(covered, (1..=90).collect::<Vec<_>>());

    // Deterministic: the same seed writes the same labels.
    let dir2 = tempfile::tempdir().unwrap();
    let (again, _) = generate(dir2.path(), &opts).unwrap();
    assert_eq!(again, train_ann);
}

/// The class is visible: mean pixel differences between classes in the mouth region exceed
/// those within a class (same video, so same colours).
#[test]
fn classes_look_different() {
    let dir = tempfile::tempdir().unwrap();
    let opts = SynthOptions {
        videos: (1, 0),
        frames: 400,
        size: 64,
        seed: 5,
        ..SynthOptions::default()
    };
    generate(dir.path(), &opts).unwrap();
    let d = AffWild2::open(dir.path(), Split::Train).unwrap();
    let v = &d.videos[0];
    let load = |f: usize| image::open(v.crop_path(f)).unwrap().to_luma8().into_raw();
    let mouth = |px: &[u8]| -> Vec<f32> {
        (40..56)
            .flat_map(|y| (18..46).map(move |x| px[y * 64 + x] as f32))
            .collect()
    };
    let mut by_class: std::collections::BTreeMap<Expression, Vec<Vec<f32>>> = Default::default();
    for f in 1..=400 {
        if let Some(e) = v.labels[f - 1]
            && v.has_crop[f - 1]
        {
            let entry = by_class.entry(e).or_default();
            if entry.len() < 5 {
                entry.push(mouth(&load(f)));
            }
        }
    }
    let dist = |a: &[f32], b: &[f32]| {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
    };
    let classes: Vec<&Vec<Vec<f32>>> = by_class.values().filter(|v| v.len() >= 2).collect();
    assert!(
        classes.len() >= 3,
        "{} classes with two crops",
        classes.len()
    );
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let within = mean(
        &classes
            .iter()
            .map(|c| dist(&c[0], &c[1]))
            .collect::<Vec<_>>(),
    );
    let mut pairs = Vec::new();
    for (i, a) in classes.iter().enumerate() {
        for b in &classes[i + 1..] {
            pairs.push(dist(&a[0], &b[0]));
        }
    }
    let between = mean(&pairs);
    assert!(between > within * 1.5, "between {between}, within {within}");
}

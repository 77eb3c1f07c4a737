//! Impossible detector and tracker settings are refused by the library itself (not only by
//! the command line), with a one-line reason.
#![allow(clippy::unwrap_used)]

use wildfer_face::{
    FakeDetector, MtcnnConfig, MtcnnDetector, RetinaFaceConfig, RetinaFaceDetector, RoiConfig,
    RoiDetector, TrackerConfig,
};

fn refused<T>(r: Result<T, wildfer_face::FaceError>, says: &str) {
    match r {
        Ok(_) => panic!("accepted; expected an error saying {says:?}"),
        Err(e) => {
            let e = e.to_string();
            assert!(e.contains(says) && !e.contains('\n'), "{e}");
        }
    }
}

#[test]
fn impossible_settings_are_refused() {
    for (max_side, ok) in [
        (Some(0), false),
        (Some(16), false),
        (Some(64), true),
        (None, true),
    ] {
        let r = RetinaFaceDetector::new(RetinaFaceConfig {
            max_side,
            ..RetinaFaceConfig::default()
        });
        assert_eq!(r.is_ok(), ok, "{max_side:?}");
    }
    refused(
        RetinaFaceDetector::new(RetinaFaceConfig {
            score_threshold: 1.5,
            ..RetinaFaceConfig::default()
        }),
        "score threshold",
    );
    refused(
        MtcnnDetector::new(MtcnnConfig {
            factor: 1.0,
            ..MtcnnConfig::default()
        }),
        "pyramid factor",
    );
    refused(
        MtcnnDetector::new(MtcnnConfig {
            min_face_size: 4.0,
            ..MtcnnConfig::default()
        }),
        "at least 12 px",
    );
    refused(
        RoiDetector::new(
            FakeDetector::default(),
            RoiConfig {
                full_every: 0,
                ..RoiConfig::default()
            },
        ),
        "full_every >= 1",
    );
    refused(
        TrackerConfig {
            min_iou: 2.0,
            ..TrackerConfig::default()
        }
        .validate(),
        "tracker IoU",
    );
    TrackerConfig::default().validate().unwrap();
    RoiConfig::default().validate().unwrap();
}

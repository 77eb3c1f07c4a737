//! ABAW 2022+ `predictions.txt`: parse, and the labels of anything accepted survive a
//! write/read round trip (a `-1` row and a missing row both mean "no prediction", so only
//! labelled frames are compared).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use wildfer_labels::Expression;
use wildfer_labels::abaw::{Annotations, format_predictions_txt, parse_predictions_txt};
use wildfer_fuzz::check_error;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("predictions.txt");
    match parse_predictions_txt(text, path) {
        // A file whose rows are all `-1` has nothing to write back (and a header-only file is
        // refused by design).
        Ok(a) if labelled(&a).is_empty() => {}
        Ok(a) => {
            let again = parse_predictions_txt(&format_predictions_txt(&a), path)
                .expect("written predictions read back");
            assert_eq!(labelled(&again), labelled(&a));
        }
        Err(e) => check_error(&e, "predictions.txt"),
    }
});

/// (video, frame index, label) of every labelled frame.
fn labelled(a: &Annotations) -> Vec<(&str, usize, Expression)> {
    a.videos
        .iter()
        .flat_map(|(v, frames)| {
            frames
                .iter()
                .enumerate()
                .filter_map(move |(i, e)| e.map(|e| (v.as_str(), i, e)))
        })
        .collect()
}

//! ABAW 2022+ `predictions.txt`: parse, and anything accepted survives a write/read round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use wildfer_core::abaw::{format_predictions_txt, parse_predictions_txt};
use wildfer_fuzz::check_error;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("predictions.txt");
    match parse_predictions_txt(text, path) {
        Ok(a) => {
            let again = parse_predictions_txt(&format_predictions_txt(&a), path)
                .expect("written predictions read back");
            assert_eq!(again, a);
        }
        Err(e) => check_error(&e, "predictions.txt"),
    }
});

//! Aff-Wild2 EXPR annotation files: parse, and anything accepted survives a write/read round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use wildfer_labels::abaw::{format_annotation, parse_annotation};
use wildfer_fuzz::check_error;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.txt");
    match parse_annotation(text, path) {
        Ok(v) => {
            let again = parse_annotation(&format_annotation(v.label_set, &v.frames), path)
                .expect("written annotation reads back");
            assert_eq!(again, v);
        }
        Err(e) => check_error(&e, "fuzz.txt"),
    }
});

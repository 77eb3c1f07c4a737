//! Still-image dataset lists (`path label` per line, as RAF-DB/AffectNet lists come).
#![no_main]
use libfuzzer_sys::fuzz_target;
use wildfer_labels::LabelSet;
use wildfer_data::image_sets::ImageSet;
use wildfer_fuzz::{check_error, scratch_file};

fuzz_target!(|data: &[u8]| {
    let path = scratch_file("list.txt", data);
    for labels in [LabelSet::Seven, LabelSet::Eight] {
        if let Err(e) = ImageSet::open_list(&path, labels) {
            check_error(&e, "list.txt");
        }
    }
});

//! Training run TOML: parse and validate; an accepted config names a buildable network and
//! survives the save beside a checkpoint (serialise, parse again, same text).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use wildfer_fuzz::check_error;
use wildfer_train::TrainConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.toml");
    match TrainConfig::from_toml(text, path) {
        Ok(cfg) => {
            if let Err(e) = cfg.network() {
                check_error(&e, "fuzz.toml");
            }
            let saved = toml::to_string(&cfg).expect("config serialises");
            let again = TrainConfig::from_toml(&saved, path).expect("saved config reads back");
            assert_eq!(toml::to_string(&again).expect("serialises"), saved);
        }
        Err(e) => check_error(&e, "fuzz.toml"),
    }
});

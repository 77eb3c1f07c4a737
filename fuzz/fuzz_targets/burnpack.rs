//! Training checkpoints (`model.bpk`, burn's burnpack format) loaded into the network of
//! `examples/train/synth_small.toml`: every tensor must match.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use std::path::Path;
use wildfer_fuzz::{check_error, scratch_file};
use wildfer_nn::burn::tensor::Device;
use wildfer_train::TrainConfig;
use wildfer_train::net::Net;

thread_local! {
    static NET: RefCell<Option<Net>> = const { RefCell::new(None) };
}

fn net() -> Net {
    let text = include_str!("../../examples/train/synth_small.toml");
    let cfg = TrainConfig::from_toml(text, Path::new("synth_small.toml")).expect("example config");
    Net::init(
        &cfg.network().expect("network"),
        &Device::default(),
        cfg.seed,
    )
    .expect("net")
}

fuzz_target!(|data: &[u8]| {
    let path = scratch_file("model.bpk", data);
    let mut n = NET.with(|c| c.borrow_mut().get_or_insert_with(net).clone());
    if let Err(e) = wildfer_train::checkpoint::load_model_into(&mut n, &path) {
        check_error(&e, "model.bpk");
    }
});

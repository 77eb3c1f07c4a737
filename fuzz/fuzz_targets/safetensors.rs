//! safetensors weights (the format of wildfer's built-in weights and of imported checkpoints),
//! strict loading into the mini-Xception: shapes, names, dtypes and values checked.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use wildfer_fuzz::check_error;
use wildfer_nn::burn::tensor::Device;
use wildfer_nn::mini_xception::MiniXception;

thread_local! {
    static MODEL: RefCell<Option<MiniXception>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    let mut m = MODEL.with(|c| {
        c.borrow_mut()
            .get_or_insert_with(|| MiniXception::new(&Device::default()))
            .clone()
    });
    if let Err(e) =
        wildfer_nn::weights::load_safetensors_bytes(&mut m, data, "fuzz.safetensors", true)
    {
        check_error(&e, "fuzz.safetensors");
    }
});

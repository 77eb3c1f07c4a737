//! PyTorch checkpoints (`.pt`/`.pth`: zip archive + pickle, or the legacy format), parsed never
//! executed, loaded into a CBAM block, plain and with a nested `state_dict`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use wildfer_fuzz::{check_error, scratch_file};
use wildfer_nn::attention::Cbam;
use wildfer_nn::burn::tensor::Device;

thread_local! {
    static MODEL: RefCell<Option<Cbam>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    let path = scratch_file("input.pth", data);
    for key in [None, Some("state_dict")] {
        let mut m = MODEL.with(|c| {
            c.borrow_mut()
                .get_or_insert_with(|| Cbam::new(32, 16, 7, &Device::default()))
                .clone()
        });
        if let Err(e) = wildfer_nn::weights::load_pytorch_file(&mut m, &path, key, false) {
            check_error(&e, "input.pth");
        }
    }
});

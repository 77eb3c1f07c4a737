//! TensorFlow.js weights (face-api's format: a JSON manifest and binary shards), decoded and
//! strictly loaded into face-api's expression network. The input is the manifest, a NUL byte
//! (never in JSON text) and the shard: every shard path reads those bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use wildfer_fuzz::check_error;
use wildfer_nn::faceapi_expression::FaceApiExpression;
use wildfer_nn::weights::tfjs;

thread_local! {
    static MODEL: RefCell<Option<FaceApiExpression>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    let (manifest, shard) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let tensors = match tfjs::decode(manifest, |_| Ok(shard.to_vec()), "fuzz.json") {
        Ok(t) => t,
        Err(e) => return check_error(&e, "fuzz.json"),
    };
    // What the reader promises: one value per element, all finite, within the shard's size.
    let mut elements = 0usize;
    for t in &tensors {
        assert_eq!(
            t.values.len(),
            t.shape.iter().product::<usize>(),
            "{}",
            t.name
        );
        assert!(t.values.iter().all(|v| v.is_finite()), "{}", t.name);
        elements += t.values.len();
    }
    // Every element is stored in at least one byte.
    assert!(
        elements <= shard.len(),
        "{elements} values from {} bytes",
        shard.len()
    );
    let mut m = MODEL.with(|c| {
        c.borrow_mut()
            .get_or_insert_with(|| FaceApiExpression::new(&wildfer_nn::cpu()))
            .clone()
    });
    if let Err(e) = m.load_tfjs(tensors, "fuzz.json") {
        check_error(&e, "fuzz.json");
    }
});

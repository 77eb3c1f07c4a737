//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use safetensors::SafeTensors;

/// Shape and little-endian f32 values of a fixture tensor; panics naming `what` and `name`.
pub fn f32_tensor(st: &SafeTensors, what: &str, name: &str) -> (Vec<usize>, Vec<f32>) {
    let t = st
        .tensor(name)
        .unwrap_or_else(|_| panic!("{what}: no tensor {name}"));
    let v = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (t.shape().to_vec(), v)
}

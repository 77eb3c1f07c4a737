//! What wildfer's own flex kernels ([`crate::kernels::gemm_conv`], [`crate::kernels::max_pool`],
//! [`crate::kernels::cbam_pool`], [`crate::kernels::fused_norm`]) share: whether a tensor goes to them (it lives
//! on flex and the process-wide switch back to burn's own operations is off), contiguous f32
//! results, and PyTorch's NaN-propagating maximum.

use burn::backend::{DType, DispatchTensorKind};
use burn::tensor::{Bytes, Shape, Tensor};
use burn_flex::{FlexTensor, Layout};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// Does this tensor live on burn-flex (with or without autodiff)?
#[allow(unreachable_patterns)] // with flex alone, every tensor is on flex
fn on_flex<const D: usize>(x: &Tensor<D>) -> bool {
    match x.clone().into_dispatch().kind {
        DispatchTensorKind::Flex(_) => true,
        DispatchTensorKind::Autodiff(inner) => matches!(*inner, DispatchTensorKind::Flex(_)),
        _ => false,
    }
}

/// `max(m, v)` as PyTorch's max pooling and reductions take it: a larger value or a NaN
/// replaces, so NaN propagates and ties keep the first.
#[inline(always)]
pub(crate) fn pmax(m: f32, v: f32) -> f32 {
    if v > m || v.is_nan() { v } else { m }
}

static USE_BURN: OnceLock<AtomicBool> = OnceLock::new();

fn switch() -> &'static AtomicBool {
    USE_BURN.get_or_init(|| {
        // Diagnostic switch for side-by-side timing of whole commands.
        AtomicBool::new(std::env::var_os("WILDFER_BURN_OPS").is_some())
    })
}

/// Do wildfer's kernels compute this tensor's operation: it lives on flex and the switch
/// ([`set_burn_ops`]) is off? Otherwise the caller uses burn's own operation.
pub(crate) fn use_ours<const D: usize>(x: &Tensor<D>) -> bool {
    !switch().load(Ordering::Relaxed) && on_flex(x)
}

/// A contiguous f32 flex tensor of `data` in `shape`.
pub(crate) fn f32_contiguous(data: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(data),
        Layout::contiguous(shape.into()),
        DType::F32,
    )
}

/// Route every convolution, max pooling, CBAM pooling and batch norm of the networks to burn's
/// own operations (`true`) or back to wildfer's kernels (`false`), process wide; the
/// environment variable `WILDFER_BURN_OPS` (any value) sets it at start. For benchmarks and for
/// bisecting a numerical difference.
pub fn set_burn_ops(on: bool) {
    switch().store(on, Ordering::Relaxed);
}

/// Deterministic values in [-1, 1] (xorshift) for the kernels' tests.
#[cfg(test)]
pub(crate) fn test_values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2654435761).wrapping_add(12345);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s % 2001) as f32 / 1000.0 - 1.0
        })
        .collect()
}

/// Elementwise `|a − b| <= tol·(1 + |b|)`, naming the first index that is not.
#[cfg(test)]
pub(crate) fn test_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what} [{i}]: {x} vs {y}"
        );
    }
}

//! wildfer's own CPU kernels, reached through the layer types' `forward`
//! ([`crate::layers`], [`crate::norm::BatchNorm`]): burn backend extensions on flex (and
//! autodiff on flex), each with its backward pass, checked against direct computations and
//! burn's own operations.
//!
//! - [`gemm_conv`]: convolution as im2col + GEMM.
//! - [`max_pool`]: max pooling without indices, PyTorch's argmax in the backward.
//! - [`cbam_pool`]: CBAM's channel and spatial poolings.
//! - [`fused_norm`]: batch normalisation in one pass.
//! - [`flex_ops`]: what they share (`WILDFER_BURN_OPS=1` routes them all back to burn's own).

pub mod cbam_pool;
pub mod flex_ops;
pub mod fused_norm;
pub mod gemm_conv;
pub mod max_pool;

//! Inference with trained networks, the one runtime that `analyze`, `predict`, `pseudo-label`,
//! image scoring and the trainer's validation share; it does not depend on the training crate.
//!
//! - [`model`]: a run's `[model]` table: network, classes, input side and grey, crop framing.
//! - [`checkpoint`]: reading checkpoint folders and run directories (best, else latest).
//! - [`input`]: crop decoding, the (optionally augmented) preparation, normalisation.
//! - [`net`]: the network as a per-frame backbone and a temporal head.
//! - [`windows`]: the one windowing rule (which frames a temporal head sees), streaming.
//! - [`runner`]: a network at work: backbone, windows, head, softmax.
//! - [`predict`]: prediction over whole videos and image sets, smoothing, scoring.

pub mod checkpoint;
mod error;
pub mod input;
pub mod model;
pub mod net;
pub mod predict;
pub mod runner;
pub mod windows;

pub use checkpoint::Checkpoint;
pub use error::RuntimeError;
pub use model::{Framing, ModelSection};
pub use net::{Net, WindowSpec};
pub use runner::Runner;

//! Training and evaluation of wildfer's networks on Aff-Wild2 EXPR and on still-image sets.
//!
//! - [`config`]: the TOML run configuration, validated up front, saved beside checkpoints.
//! - [`image`]: crop decoding, clip-consistent augmentation, normalisation.
//! - [`loader`]: method A's clip sampling (and centred / class-balanced variants), batches
//!   decoded on worker threads, one random stream per step (resume-exact).
//! - [`net`]: the trainable network as backbone + temporal head.
//! - [`loss`]: cross-entropy, class-weighted cross-entropy, focal loss with masked targets.
//! - [`schedule`]: warm-up, step and cosine learning rates.
//! - [`checkpoint`]: run directories, atomic checkpoints, `latest`/`best` pointers.
//! - [`trainer`]: the loop.
//! - [`predict`]: whole-video prediction in windows, smoothing, scoring.

pub mod checkpoint;
pub mod config;
mod error;
pub mod image;
pub mod loader;
pub mod loss;
pub mod net;
pub mod predict;
pub mod schedule;
pub mod trainer;

pub use config::TrainConfig;
pub use error::TrainError;
pub use net::{Net, WindowSpec};
pub use trainer::{Event, TrainOptions, TrainSummary, train};

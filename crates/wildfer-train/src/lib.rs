//! Training and evaluation of wildfer's networks on Aff-Wild2 EXPR and on still-image sets. The
//! network, checkpoint reading and prediction are `wildfer_runtime`'s, re-exported here.
//!
//! - [`config`]: the TOML run configuration, validated up front, saved beside checkpoints.
//! - [`image`]: the clip-consistent augmentation draw (decoding and normalisation are the
//!   runtime's, `wildfer_runtime::input`).
//! - [`loader`]: method A's clip sampling (and centred / class-balanced variants), batches
//!   decoded on worker threads, one random stream per step (resume-exact).
//! - [`loss`]: cross-entropy, class-weighted cross-entropy, focal loss with masked targets.
//! - [`schedule`]: warm-up, step and cosine learning rates.
//! - [`checkpoint`]: run directories, atomic checkpoints, `latest`/`best` pointers.
//! - [`trainer`]: the loop.

pub mod augment;
pub mod checkpoint;
pub mod config;
mod error;
pub mod loader;
pub mod loss;
pub mod replicas;
pub mod schedule;
pub mod trainer;

pub use config::TrainConfig;
pub use error::TrainError;
pub use trainer::{Event, TrainOptions, TrainSummary, train};
pub use wildfer_runtime::{Net, WindowSpec, net, predict};

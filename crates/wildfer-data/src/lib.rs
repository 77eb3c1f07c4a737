//! Datasets of wildfer.
//!
//! - [`affwild2`]: Aff-Wild2 EXPR splits (annotations + `cropped_aligned` crops, gaps kept).
//! - [`images`]: still-image datasets (a folder per class or a list file) for pre-training.
//! - [`sampler`]: method A's random T-frame clips and sequential evaluation windows.
//! - [`synth`]: a synthetic dataset in the exact Aff-Wild2 layout, for proving training.
//! - [`rng`]: the seeded generator behind sampling and synthesis.

pub mod affwild2;
mod error;
pub mod image_sets;
pub mod sampler;
pub mod splitmix;
pub mod synth;

pub use affwild2::{AffWild2, Video};
pub use error::DataError;
pub use image_sets::ImageSet;
pub use sampler::{Clip, ClipSampler, windows};
pub use synth::{SynthOptions, generate};

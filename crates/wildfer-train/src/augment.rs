//! Training's augmentation draw; decoding, preparation and normalisation are the runtime's
//! ([`wildfer_runtime::input`]), shared with inference.

use crate::config::AugmentSection;
use wildfer_data::splitmix::Rng;
pub use wildfer_runtime::input::*;

/// One augmentation draw for a clip (every frame of it gets the same).
pub fn draw(cfg: &AugmentSection, rng: &mut Rng) -> AugDraw {
    let side = rng.range_f32(cfg.crop_scale, 1.0);
    let crop = [
        rng.range_f32(0.0, 1.0 - side),
        rng.range_f32(0.0, 1.0 - side),
        side,
    ];
    let flip = cfg.flip && rng.f32() < 0.5;
    let j = cfg.jitter;
    let mut f = || rng.range_f32(1.0 - j, 1.0 + j);
    let (brightness, contrast, saturation) = (f(), f(), f());
    let grey = rng.f32() < cfg.greyscale;
    // Drawn only when asked for, so that runs without rotation keep their random stream.
    let angle = if cfg.rotate > 0.0 {
        rng.range_f32(-cfg.rotate, cfg.rotate).to_radians()
    } else {
        0.0
    };
    AugDraw {
        crop,
        flip,
        brightness,
        contrast,
        saturation,
        grey,
        angle,
    }
}

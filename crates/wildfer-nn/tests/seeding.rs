//! Seeded initialisation stays a function of its seed while other threads of the process seed
//! and draw (its own test binary: no other test draws meanwhile).
#![allow(clippy::unwrap_used)]

use wildfer_nn::burn::nn::{Linear, LinearConfig};
use wildfer_nn::burn::tensor::{Distribution, Tensor};
use wildfer_nn::seeding::{initialize, seeded};

fn weights(l: &Linear) -> Vec<f32> {
    l.weight.val().into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn seeded_initialisation_is_reproducible_under_concurrent_draws() {
    let dev = wildfer_nn::cpu();
    let build = |seed| {
        seeded(&dev, seed, || {
            // Draws of its own between the seed and the layer, as a model's init makes.
            let _ = Tensor::<1>::random([256], Distribution::Default, &dev);
            let l = LinearConfig::new(64, 32).init(&dev);
            initialize(&l);
            l
        })
    };
    let want = weights(&build(3));
    assert_eq!(want.len(), 64 * 32);
    assert_ne!(want, weights(&build(4)), "another seed, other weights");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (got, draws) = std::thread::scope(|s| {
        // Another job seeding and drawing as fast as it can.
        let other = s.spawn(|| {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                seeded(&dev, 1000 + n, || {
                    let _ = Tensor::<1>::random([512], Distribution::Default, &dev);
                });
                n += 1;
            }
            n
        });
        let got: Vec<Vec<f32>> = (0..200)
            .map(|_| {
                let l = build(3);
                // The other job reseeds before this one first reads its layer.
                std::thread::yield_now();
                weights(&l)
            })
            .collect();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        (got, other.join().unwrap())
    });
    assert!(draws > 0, "the other job never drew");
    for (i, w) in got.iter().enumerate() {
        assert_eq!(w, &want, "build {i}");
    }
}

/// burn's layers draw at first use: without [`initialize`] the weights follow whatever seed is
/// current then (why `initialize` exists).
#[test]
fn burn_layers_draw_at_first_use() {
    let dev = wildfer_nn::cpu();
    let lazy = |later| {
        let l: Linear = seeded(&dev, 3, || LinearConfig::new(16, 8).init(&dev));
        seeded(&dev, later, || weights(&l))
    };
    assert_ne!(lazy(1), lazy(2));
}

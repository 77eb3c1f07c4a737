//! Deterministic tensors, bit-identical to `reference/detparams.py`, so parity tests rebuild
//! the reference weights from names and shapes instead of committing megabytes of them.

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

fn fnv1a64(s: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// `n` values uniform in [0, 1), a function of `name` only.
pub fn uniform(name: &str, n: usize) -> Vec<f64> {
    let seed = fnv1a64(name);
    (1..=n as u64)
        .map(|i| {
            let mut z = seed.wrapping_add(i.wrapping_mul(GOLDEN));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
        })
        .collect()
}

/// `lo + (hi - lo) * u` rounded to f32, row-major.
pub fn det_tensor(name: &str, shape: &[usize], lo: f64, hi: f64) -> Vec<f32> {
    let n = shape.iter().product();
    uniform(name, n)
        .into_iter()
        .map(|u| (lo + (hi - lo) * u) as f32)
        .collect()
}

/// Value range of a parameter by its PyTorch name (same rules as the Python side).
pub fn param_range(name: &str, shape: &[usize]) -> (f64, f64) {
    if name.ends_with("running_var") {
        (0.5, 1.5)
    } else if name.ends_with("running_mean") {
        (-0.2, 0.2)
    } else if shape.len() == 1 && name.ends_with("weight") {
        (0.4, 0.8)
    } else if shape.len() == 1 {
        (-0.1, 0.1)
    } else {
        let fan_in: usize = shape[1..].iter().product();
        let b = (6.0 / fan_in as f64).sqrt();
        (-b, b)
    }
}

/// The deterministic value of parameter `name`.
pub fn det_param(name: &str, shape: &[usize]) -> Vec<f32> {
    let (lo, hi) = param_range(name, shape);
    det_tensor(name, shape, lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_python_generator() {
        // Values printed by reference/detparams.py.
        assert_eq!(fnv1a64("input"), 2214555572463777371);
        let u = uniform("input", 3);
        for (a, b) in u.iter().zip([0.09781834, 0.65236043, 0.20362427]) {
            assert!((a - b).abs() < 1e-8, "{a} vs {b}");
        }
        let t = det_tensor("a", &[2, 2], -1.0, 1.0);
        for (a, b) in t
            .iter()
            .zip([-0.25653806f32, 0.9962446, 0.98421305, 0.37188172])
        {
            assert!((a - b).abs() < 1e-7, "{a} vs {b}");
        }
    }
}

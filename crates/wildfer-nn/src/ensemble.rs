//! Ensembles of per-frame class probabilities (method B): members may use different windows,
//! so they are combined after each has produced probabilities for every frame of a video.

use crate::NnError;

/// Weighted average of member probabilities. `members[m][frame][class]`; every member must
/// cover the same frames and classes. Weights are normalised to sum to 1; `None` = equal.
pub fn average(
    members: &[Vec<Vec<f32>>],
    weights: Option<&[f32]>,
) -> Result<Vec<Vec<f32>>, NnError> {
    let first = members
        .first()
        .ok_or_else(|| NnError::Config("an ensemble needs at least one member".into()))?;
    let (frames, classes) = (first.len(), first.first().map_or(0, Vec::len));
    for (i, m) in members.iter().enumerate() {
        if m.len() != frames || m.iter().any(|p| p.len() != classes) {
            return Err(NnError::Config(format!(
                "ensemble member {i} does not have {frames} frames of {classes} classes"
            )));
        }
    }
    let w: Vec<f32> = match weights {
        Some(w) if w.len() != members.len() => {
            return Err(NnError::Config(format!(
                "{} weights for {} ensemble members",
                w.len(),
                members.len()
            )));
        }
        Some(w) if w.iter().any(|x| !x.is_finite() || *x < 0.0) || w.iter().sum::<f32>() <= 0.0 => {
            return Err(NnError::Config(format!(
                "ensemble weights must be non-negative with a positive sum: {w:?}"
            )));
        }
        Some(w) => w.to_vec(),
        None => vec![1.0; members.len()],
    };
    let total: f32 = w.iter().sum();
    Ok((0..frames)
        .map(|f| {
            (0..classes)
                .map(|c| {
                    members
                        .iter()
                        .zip(&w)
                        .map(|(m, wi)| wi * m[f][c])
                        .sum::<f32>()
                        / total
                })
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_average() {
        let a = vec![vec![1.0, 0.0], vec![0.5, 0.5]];
        let b = vec![vec![0.0, 1.0], vec![0.1, 0.9]];
        let eq = average(&[a.clone(), b.clone()], None).unwrap();
        assert_eq!(eq, vec![vec![0.5, 0.5], vec![0.3, 0.7]]);
        let w = average(&[a.clone(), b.clone()], Some(&[3.0, 1.0])).unwrap();
        assert!((w[0][0] - 0.75).abs() < 1e-6 && (w[1][1] - 0.6).abs() < 1e-6);
        assert!(average(&[], None).is_err());
        assert!(average(&[a.clone(), vec![vec![1.0, 0.0]]], None).is_err());
        assert!(average(&[a.clone(), b.clone()], Some(&[1.0])).is_err());
        assert!(average(&[a, b], Some(&[-1.0, 1.0])).is_err());
    }
}

//! TensorFlow.js weights: a `*-weights_manifest.json` naming tensors and the `.bin` shards that
//! hold them, as published with face-api (npm `@vladmandic/face-api`).
//!
//! The manifest is a list of groups `{"paths": [...], "weights": [{"name", "shape", "dtype",
//! "quantization"?}]}`; a group's shards are concatenated and its tensors read from the result
//! one after another. Quantised tensors are stored as `uint8`/`uint16` (`min + q * scale`,
//! computed in double precision and rounded to f32, as `tf.io.decodeWeights` does, so the
//! values are bit-identical to TensorFlow.js') or `float16`.
//!
//! Everything is read from untrusted bytes: sizes are checked before anything is allocated, a
//! shard path must stay inside the manifest's folder, and every error is one line naming the
//! file and the tensor.

use crate::NnError;
use serde::Deserialize;
use std::path::{Component, Path};

/// A manifest larger than this is not a weights manifest (face-api's largest is 20 kB).
const MAX_MANIFEST_BYTES: u64 = 16 << 20;
/// Rank and element limits of one tensor (face-api's largest has 1.2 M elements).
const MAX_RANK: usize = 8;
const MAX_ELEMENTS: usize = 1 << 30;

/// One decoded tensor, TensorFlow layout (convolutions `[kh, kw, in, out]`).
#[derive(Debug, Clone, PartialEq)]
pub struct TfjsTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    paths: Vec<String>,
    weights: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    shape: Vec<u64>,
    dtype: String,
    #[serde(default)]
    quantization: Option<Quantization>,
}

#[derive(Deserialize)]
struct Quantization {
    dtype: String,
    #[serde(default)]
    scale: Option<f64>,
    #[serde(default)]
    min: Option<f64>,
}

/// Read a manifest and its shards (paths relative to the manifest's folder).
pub fn read_manifest(path: &Path) -> Result<Vec<TfjsTensor>, NnError> {
    let err = |msg: String| NnError::WeightFile {
        path: path.to_path_buf(),
        msg,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| err(format!("cannot read: {e}")))?
        .len();
    if len > MAX_MANIFEST_BYTES {
        return Err(err(format!(
            "{len} bytes is too large for a TensorFlow.js weights manifest"
        )));
    }
    let manifest = std::fs::read(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    decode(
        &manifest,
        |shard| {
            let p = dir.join(shard);
            std::fs::read(&p).map_err(|e| format!("cannot read weights shard {}: {e}", p.display()))
        },
        &path.display().to_string(),
    )
}

/// Decode a manifest whose shards `read_shard` returns (weights built into the binary use this
/// with `include_bytes!` data); `source` names the manifest in errors.
pub fn decode(
    manifest: &[u8],
    mut read_shard: impl FnMut(&str) -> Result<Vec<u8>, String>,
    source: &str,
) -> Result<Vec<TfjsTensor>, NnError> {
    let err = |msg: String| NnError::Weights {
        source_name: source.to_string(),
        msg,
    };
    let groups: Vec<Group> = serde_json::from_slice(manifest).map_err(|e| {
        err(format!(
            "not a TensorFlow.js weights manifest: {}",
            one_line(&e.to_string())
        ))
    })?;
    let mut out = Vec::new();
    for group in groups {
        let mut bytes = Vec::new();
        for shard in &group.paths {
            check_shard_path(shard).map_err(&err)?;
            bytes.extend(read_shard(shard).map_err(&err)?);
        }
        let mut rest: &[u8] = &bytes;
        for entry in group.weights {
            let (tensor, used) =
                decode_entry(&entry, rest).map_err(|m| err(format!("{}: {m}", entry.name)))?;
            rest = &rest[used..];
            out.push(tensor);
        }
        if !rest.is_empty() {
            return Err(err(format!(
                "{} bytes of the shards {:?} are not used by any tensor",
                rest.len(),
                group.paths
            )));
        }
    }
    let mut names: Vec<&str> = out.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(err(format!("tensor {} appears twice", w[0])));
    }
    Ok(out)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Shards live beside the manifest: relative paths without `..`.
fn check_shard_path(shard: &str) -> Result<(), String> {
    let p = Path::new(shard);
    let inside = !shard.is_empty()
        && p.components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if inside {
        Ok(())
    } else {
        Err(format!(
            "weights shard path {shard:?} must be a relative path inside the manifest's folder"
        ))
    }
}

/// Decode one tensor from the front of `bytes`; returns it and the bytes it used.
fn decode_entry(e: &Entry, bytes: &[u8]) -> Result<(TfjsTensor, usize), String> {
    if e.shape.len() > MAX_RANK {
        return Err(format!("rank {} is too large", e.shape.len()));
    }
    let shape: Vec<usize> = e
        .shape
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("dimension {d} is too large")))
        .collect::<Result<_, _>>()?;
    let n = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| format!("shape {shape:?} is too large"))?;
    let stored = match &e.quantization {
        Some(q) => q.dtype.as_str(),
        None => e.dtype.as_str(),
    };
    let width = match stored {
        "float32" | "int32" => 4,
        "uint16" | "float16" => 2,
        "uint8" => 1,
        other => return Err(format!("unsupported stored type {other:?}")),
    };
    if e.dtype != "float32" && !(e.dtype == "int32" && e.quantization.is_none()) {
        return Err(format!("unsupported tensor type {:?}", e.dtype));
    }
    let len = n * width; // n <= 2^30, width <= 4: no overflow
    let Some(raw) = bytes.get(..len) else {
        return Err(format!(
            "needs {len} bytes, the shards have {} left (truncated weights file?)",
            bytes.len()
        ));
    };
    let affine = |q: &Quantization| match (q.min, q.scale) {
        (Some(min), Some(scale)) if min.is_finite() && scale.is_finite() => Ok((min, scale)),
        _ => Err(format!(
            "{} quantisation needs finite min and scale",
            q.dtype
        )),
    };
    let values: Vec<f32> = match (stored, &e.quantization) {
        ("float32", _) => raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        ("int32", _) => raw
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
        ("uint8", Some(q)) => {
            let (min, scale) = affine(q)?;
            raw.iter()
                .map(|&v| (f64::from(v) * scale + min) as f32)
                .collect()
        }
        ("uint16", Some(q)) => {
            let (min, scale) = affine(q)?;
            raw.chunks_exact(2)
                .map(|c| (f64::from(u16::from_le_bytes([c[0], c[1]])) * scale + min) as f32)
                .collect()
        }
        ("float16", Some(_)) => raw
            .chunks_exact(2)
            .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        (other, _) => return Err(format!("{other} values need a quantization entry")),
    };
    if values.iter().any(|v| !v.is_finite()) {
        return Err("NaN or infinite values".into());
    }
    Ok((
        TfjsTensor {
            name: e.name.clone(),
            shape,
            values,
        },
        len,
    ))
}

/// IEEE 754 half precision to single.
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let frac = u32::from(h & 0x3ff);
    let bits = match (exp, frac) {
        (0, 0) => sign,
        // Subnormal: value = frac * 2^-24.
        (0, f) => {
            let v = f as f32 * 2f32.powi(-24);
            return if sign != 0 { -v } else { v };
        }
        (31, 0) => sign | 0x7f80_0000,
        (31, f) => sign | 0x7fc0_0000 | (f << 13),
        (e, f) => sign | ((e + 127 - 15) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

/// The tensor in PyTorch's layout: convolution filters `[kh, kw, in, out]` -> `[out, in, kh,
/// kw]`, depthwise filters (named `…depthwise_filter`) `[kh, kw, c, 1]` -> `[c, 1, kh, kw]`,
/// dense weights `[in, out]` -> `[out, in]`; vectors unchanged.
pub fn to_pytorch_layout(t: &TfjsTensor) -> burn::tensor::TensorData {
    let perm: &[usize] = match t.shape.len() {
        4 if t.name.ends_with("depthwise_filter") => &[2, 3, 0, 1],
        4 => &[3, 2, 0, 1],
        2 => &[1, 0],
        _ => return burn::tensor::TensorData::new(t.values.clone(), t.shape.clone()),
    };
    let (shape, values) = transpose(&t.shape, &t.values, perm);
    burn::tensor::TensorData::new(values, shape)
}

/// Load face-api-style tensors into `model`: `rename` gives each tensor's PyTorch-style name,
/// layouts are converted by [`to_pytorch_layout`]; every parameter must be present with its
/// shape (a one-line report of missing, unexpected and mis-shaped keys otherwise).
pub fn load<M: burn::module::Module + burn::store::ModuleSnapshot>(
    model: &mut M,
    tensors: Vec<TfjsTensor>,
    rename: impl Fn(&str) -> String,
    source: &str,
) -> Result<(), NnError> {
    let converted = tensors
        .into_iter()
        .map(|t| (rename(&t.name), to_pytorch_layout(&t)))
        .collect();
    crate::weights::load_pytorch_tensors(model, converted, source, true).map(|_| ())
}

/// Reorder a tensor's values: `perm[k]` is the source axis of output axis `k` (numpy's
/// `transpose`). Returns the new shape and values.
pub fn transpose(shape: &[usize], values: &[f32], perm: &[usize]) -> (Vec<usize>, Vec<f32>) {
    debug_assert_eq!(shape.len(), perm.len());
    let rank = shape.len();
    let new_shape: Vec<usize> = perm.iter().map(|&a| shape[a]).collect();
    let mut strides = vec![1usize; rank];
    for k in (0..rank.saturating_sub(1)).rev() {
        strides[k] = strides[k + 1] * shape[k + 1];
    }
    let src_strides: Vec<usize> = perm.iter().map(|&a| strides[a]).collect();
    let mut out = Vec::with_capacity(values.len());
    let mut index = vec![0usize; rank];
    for _ in 0..values.len() {
        let offset: usize = index.iter().zip(&src_strides).map(|(i, s)| i * s).sum();
        out.push(values[offset]);
        for k in (0..rank).rev() {
            index[k] += 1;
            if index[k] < new_shape[k] {
                break;
            }
            index[k] = 0;
        }
    }
    (new_shape, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(weights: &str) -> Vec<u8> {
        format!(r#"[{{"paths": ["m.bin"], "weights": [{weights}]}}]"#).into_bytes()
    }

    fn decode_with(m: &[u8], bin: Vec<u8>) -> Result<Vec<TfjsTensor>, NnError> {
        decode(m, |_| Ok(bin.clone()), "m.json")
    }

    #[test]
    fn plain_and_quantised_tensors_decode_like_tfjs() {
        let m = manifest(
            r#"{"name": "a", "shape": [2], "dtype": "float32"},
               {"name": "b", "shape": [1, 3], "dtype": "float32",
                "quantization": {"dtype": "uint8", "scale": 0.1, "min": -1.0}},
               {"name": "c", "shape": [2], "dtype": "float32",
                "quantization": {"dtype": "uint16", "scale": 0.5, "min": 2.0}},
               {"name": "d", "shape": [3], "dtype": "float32",
                "quantization": {"dtype": "float16"}}"#,
        );
        let mut bin = Vec::new();
        bin.extend(1.5f32.to_le_bytes());
        bin.extend((-2.25f32).to_le_bytes());
        bin.extend([0u8, 10, 255]);
        bin.extend(3u16.to_le_bytes());
        bin.extend(65535u16.to_le_bytes());
        // 1.0, -2.5, 2^-24 (the smallest subnormal)
        for h in [0x3c00u16, 0xc100, 0x0001] {
            bin.extend(h.to_le_bytes());
        }
        let t = decode_with(&m, bin).unwrap();
        assert_eq!(t[0].values, [1.5, -2.25]);
        assert_eq!(t[1].shape, [1, 3]);
        assert_eq!(
            t[1].values,
            [
                -1.0,
                (10.0f64 * 0.1 - 1.0) as f32,
                (255.0f64 * 0.1 - 1.0) as f32
            ]
        );
        assert_eq!(t[2].values, [3.5, 65535.0 * 0.5 + 2.0]);
        assert_eq!(t[3].values, [1.0, -2.5, 2f32.powi(-24)]);
    }

    #[test]
    fn half_precision_covers_every_kind_of_value() {
        assert_eq!(f16_to_f32(0x0000), 0.0);
        assert!(f16_to_f32(0x8000).is_sign_negative());
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0400), 2f32.powi(-14));
        assert_eq!(f16_to_f32(0x83ff), -1023.0 * 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn bad_manifests_are_one_line_errors_naming_the_tensor() {
        let q = r#""quantization": {"dtype": "uint8", "scale": 0.1, "min": 0}"#;
        let cases: [(&str, Vec<u8>, &str); 8] = [
            (
                r#"{"name": "w", "shape": [4], "dtype": "float32"}"#,
                vec![0; 8],
                "w: needs 16 bytes",
            ),
            (
                r#"{"name": "w", "shape": [2], "dtype": "float32"}"#,
                vec![0; 9],
                "1 bytes of the shards",
            ),
            (
                &format!(
                    r#"{{"name": "w", "shape": [65536, 65536, 65536], "dtype": "float32", {q}}}"#
                ),
                vec![],
                "w: shape",
            ),
            (
                r#"{"name": "w", "shape": [1], "dtype": "complex64"}"#,
                vec![0; 8],
                "unsupported",
            ),
            (
                r#"{"name": "w", "shape": [1], "dtype": "float32", "quantization": {"dtype": "uint8"}}"#,
                vec![0],
                "finite min and scale",
            ),
            (
                r#"{"name": "w", "shape": [1], "dtype": "float32"}"#,
                f32::NAN.to_le_bytes().to_vec(),
                "w: NaN",
            ),
            (
                &format!(
                    r#"{{"name": "w", "shape": [1], "dtype": "float32", {q}}}, {{"name": "w", "shape": [1], "dtype": "float32", {q}}}"#
                ),
                vec![0, 0],
                "appears twice",
            ),
            (
                r#"{"name": "w", "shape": [1], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 1e999, "min": 0}}"#,
                vec![0],
                "not a TensorFlow.js",
            ),
        ];
        for (weights, bin, want) in cases {
            let e = decode_with(&manifest(weights), bin)
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("m.json: ") && e.contains(want) && !e.contains('\n'),
                "{e}"
            );
        }
        let e = decode_with(b"{\"paths\": 3}", vec![])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not a TensorFlow.js weights manifest") && !e.contains('\n'),
            "{e}"
        );
        for shard in ["../x.bin", "/etc/passwd", ""] {
            let m = format!(r#"[{{"paths": ["{shard}"], "weights": []}}]"#);
            let e = decode(m.as_bytes(), |_| unreachable!(), "m.json")
                .unwrap_err()
                .to_string();
            assert!(e.contains("inside the manifest's folder"), "{e}");
        }
    }

    #[test]
    fn transpose_matches_index_arithmetic() {
        let shape = [2, 3, 4];
        let v: Vec<f32> = (0..24).map(|i| i as f32).collect();
        let (s, t) = transpose(&shape, &v, &[2, 0, 1]);
        assert_eq!(s, [4, 2, 3]);
        for a in 0..4 {
            for b in 0..2 {
                for c in 0..3 {
                    assert_eq!(t[(a * 2 + b) * 3 + c], v[(b * 3 + c) * 4 + a]);
                }
            }
        }
    }
}

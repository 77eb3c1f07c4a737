//! PyTorch-named weights in and out.
//!
//! wildfer's module paths equal the PyTorch `state_dict` names of the reference architectures
//! except where PyTorch uses positions or fused names that are not Rust identifiers; those are
//! mapped here, in both directions, once for all models:
//!
//! | PyTorch | wildfer (burn path) |
//! |---|---|
//! | `…ChannelGate.` / `…SpatialGate.` (CBAM) | `…channel_gate.` / `…spatial_gate.` |
//! | `…mlp.1.` / `…mlp.3.` (CBAM's MLP) | `…mlp.fc1.` / `…mlp.fc2.` |
//! | `…downsample.0.` / `.downsample.1.` | `…downsample.conv.` / `.downsample.bn.` |
//! | `…weight_ih_l0`, `…bias_hh_l1_reverse` | `…layers.0.forward.weight_ih`, `…layers.1.reverse.bias_hh` |
//!
//! burn's PyTorch adapters handle the rest (Linear weights transposed, BatchNorm
//! `weight`/`bias` = `gamma`/`beta`). `num_batches_tracked` buffers are ignored.

pub mod tfjs;

use crate::NnError;
use burn::module::Module;
use burn::store::{
    ApplyResult, BurnToPyTorchAdapter, KeyRemapper, ModuleSnapshot, ModuleStore,
    PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};
use burn::tensor::TensorData;
use std::path::Path;
use std::sync::OnceLock;

const TORCH_TO_BURN: [(&str, &str); 8] = [
    (r"(^|\.)ChannelGate\.", "${1}channel_gate."),
    (r"(^|\.)SpatialGate\.", "${1}spatial_gate."),
    (r"(^|\.)mlp\.1\.", "${1}mlp.fc1."),
    (r"(^|\.)mlp\.3\.", "${1}mlp.fc2."),
    (r"(^|\.)downsample\.0\.", "${1}downsample.conv."),
    (r"(^|\.)downsample\.1\.", "${1}downsample.bn."),
    (
        r"(^|\.)(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)_reverse$",
        "${1}layers.${3}.reverse.${2}",
    ),
    (
        r"(^|\.)(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)$",
        "${1}layers.${3}.forward.${2}",
    ),
];

const BURN_TO_TORCH: [(&str, &str); 8] = [
    (r"(^|\.)channel_gate\.", "${1}ChannelGate."),
    (r"(^|\.)spatial_gate\.", "${1}SpatialGate."),
    (r"(^|\.)mlp\.fc1\.", "${1}mlp.1."),
    (r"(^|\.)mlp\.fc2\.", "${1}mlp.3."),
    (r"(^|\.)downsample\.conv\.", "${1}downsample.0."),
    (r"(^|\.)downsample\.bn\.", "${1}downsample.1."),
    (
        r"(^|\.)layers\.(\d+)\.reverse\.(weight_ih|weight_hh|bias_ih|bias_hh)$",
        "${1}${3}_l${2}_reverse",
    ),
    (
        r"(^|\.)layers\.(\d+)\.forward\.(weight_ih|weight_hh|bias_ih|bias_hh)$",
        "${1}${3}_l${2}",
    ),
];

fn remapper(rules: &[(&str, &str)]) -> KeyRemapper {
    let mut r = KeyRemapper::new();
    for (from, to) in rules {
        // The patterns are constants checked by the tests; a bad one is a programming error.
        r = match r.clone().add_pattern(from, *to) {
            Ok(r) => r,
            Err(e) => unreachable!("invalid built-in pattern {from}: {e}"),
        };
    }
    r
}

fn rename(name: &str, remapper: &KeyRemapper) -> String {
    let mut s = name.to_string();
    for (re, to) in &remapper.patterns {
        s = re.replace(&s, to.as_str()).into_owned();
    }
    s
}

/// The compiled rules, built once.
fn to_torch() -> &'static KeyRemapper {
    static R: OnceLock<KeyRemapper> = OnceLock::new();
    R.get_or_init(|| remapper(&BURN_TO_TORCH))
}

fn to_burn() -> &'static KeyRemapper {
    static R: OnceLock<KeyRemapper> = OnceLock::new();
    R.get_or_init(|| remapper(&TORCH_TO_BURN))
}

/// The PyTorch name of a wildfer parameter path.
pub fn to_pytorch_name(burn_path: &str) -> String {
    let s = rename(burn_path, to_torch());
    // BatchNorm's `gamma`/`beta` (burn) are PyTorch's `weight`/`bias`.
    if let Some(p) = s.strip_suffix(".gamma") {
        format!("{p}.weight")
    } else if let Some(p) = s.strip_suffix(".beta") {
        format!("{p}.bias")
    } else {
        s
    }
}

/// The wildfer path of a PyTorch name (before burn's BatchNorm `weight`->`gamma` adaptation).
pub fn from_pytorch_name(name: &str) -> String {
    rename(name, to_burn())
}

/// What a load did: keys in PyTorch naming.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub loaded: usize,
    /// Parameters of the model that the source does not have.
    pub missing: Vec<String>,
    /// Tensors of the source that the model does not have.
    pub unexpected: Vec<String>,
    /// Shape, dtype or data errors, one line each, naming the key.
    pub errors: Vec<String>,
}

impl LoadReport {
    fn from_apply(r: ApplyResult) -> Self {
        let mut missing: Vec<String> = r.missing.iter().map(|(p, _)| to_pytorch_name(p)).collect();
        missing.sort();
        let mut unexpected: Vec<String> = r
            .unused
            .iter()
            .map(|p| to_pytorch_name(p))
            .filter(|p| !p.ends_with("num_batches_tracked"))
            .collect();
        unexpected.sort();
        LoadReport {
            loaded: r.applied.len(),
            missing,
            unexpected,
            errors: r
                .errors
                .iter()
                .map(|e| format!("{e}").replace('\n', " "))
                .collect(),
        }
    }

    /// True when every parameter was loaded and nothing was left over.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.errors.is_empty()
    }

    /// One-line summary listing up to 5 keys of each kind.
    pub fn summary(&self) -> String {
        fn list(what: &str, v: &[String]) -> Option<String> {
            (!v.is_empty()).then(|| {
                let shown: Vec<&str> = v.iter().take(5).map(String::as_str).collect();
                let more = if v.len() > 5 {
                    format!(", and {} more", v.len() - 5)
                } else {
                    String::new()
                };
                format!("{} {what} ({}{more})", v.len(), shown.join(", "))
            })
        }
        let parts: Vec<String> = [
            list("errors", &self.errors),
            list("missing keys", &self.missing),
            list("unexpected keys", &self.unexpected),
        ]
        .into_iter()
        .flatten()
        .collect();
        if parts.is_empty() {
            format!("{} tensors loaded", self.loaded)
        } else {
            parts.join("; ")
        }
    }

    fn into_result(self, source_name: &str, strict: bool) -> Result<Self, NnError> {
        if !self.errors.is_empty() || (strict && !self.is_complete()) {
            return Err(NnError::Weights {
                source_name: source_name.to_string(),
                msg: self.summary(),
            });
        }
        Ok(self)
    }
}

/// Names and shapes of the model's tensors in PyTorch naming (the `state_dict` key set, without
/// `num_batches_tracked`), sorted.
pub fn pytorch_keys<M: Module + ModuleSnapshot>(model: &M) -> Vec<(String, Vec<usize>)> {
    let mut keys: Vec<(String, Vec<usize>)> = model
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true)
        .into_iter()
        .map(|t| (to_pytorch_name(&t.name), t.shape.to_vec()))
        .collect();
    keys.sort();
    keys
}

fn check_finite(name: &str, data: &TensorData) -> Result<(), String> {
    match data.as_slice::<f32>() {
        Ok(v) if v.iter().any(|x| !x.is_finite()) => Err(format!("{name}: NaN or infinite values")),
        _ => Ok(()),
    }
}

/// Load tensors given by PyTorch name. `strict`: every parameter must be loaded and every
/// tensor used. Non-finite values are refused.
pub fn load_pytorch_tensors<M: Module + ModuleSnapshot>(
    model: &mut M,
    tensors: Vec<(String, TensorData)>,
    source_name: &str,
    strict: bool,
) -> Result<LoadReport, NnError> {
    let mut pack = Vec::with_capacity(tensors.len());
    for (name, data) in tensors {
        if name.ends_with("num_batches_tracked") {
            continue;
        }
        check_finite(&name, &data).map_err(|msg| NnError::Weights {
            source_name: source_name.to_string(),
            msg,
        })?;
        pack.push(burn::store::bridge::from_data(
            data,
            from_pytorch_name(&name),
            None,
        ));
    }
    let result = model.apply(pack, None, Some(Box::new(PyTorchToBurnAdapter)), true);
    LoadReport::from_apply(result).into_result(source_name, strict)
}

fn load_from_store<M: Module + ModuleSnapshot, S: ModuleStore>(
    model: &mut M,
    store: &mut S,
    path: &Path,
    strict: bool,
) -> Result<LoadReport, NnError>
where
    S::Error: std::fmt::Display,
{
    let result = model.load_from(store).map_err(|e| NnError::WeightFile {
        path: path.to_path_buf(),
        msg: format!("{e}").replace('\n', " "),
    })?;
    LoadReport::from_apply(result).into_result(&path.display().to_string(), strict)
}

/// Load a safetensors file with PyTorch names; half-precision floats (the built-in weights'
/// format, e.g. as `model.init` of a fine-tune) are widened as for built-in bytes.
pub fn load_safetensors<M: Module + ModuleSnapshot>(
    model: &mut M,
    path: &Path,
    strict: bool,
) -> Result<LoadReport, NnError> {
    let bytes = std::fs::read(path).map_err(|e| NnError::WeightFile {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    load_safetensors_vec(model, bytes, path, strict)
}

/// IEEE half precision to single (exact: every half value is a float).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: normalise the mantissa.
            let (mut e, mut m) = (127 - 15 + 1, man);
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | (e << 23) | ((m & 0x3ff) << 13)
        }
        (31, _) => sign | 0x7f80_0000 | (man << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// The tensors of safetensors bytes whose floats are half precision, widened to `f32` (built-in
/// trained weights are shipped in half precision to halve their size); `None` when no tensor
/// is half precision.
fn widen_f16(
    bytes: &[u8],
    source_name: &str,
) -> Result<Option<Vec<(String, TensorData)>>, NnError> {
    let err = |msg: String| NnError::Weights {
        source_name: source_name.to_string(),
        msg,
    };
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| err(e.to_string()))?;
    let tensors = st.tensors();
    if !tensors
        .iter()
        .any(|(_, t)| t.dtype() == safetensors::Dtype::F16)
    {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let values: Vec<f32> = match t.dtype() {
            safetensors::Dtype::F16 => t
                .data()
                .chunks_exact(2)
                .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
                .collect(),
            safetensors::Dtype::F32 => t
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            other => return Err(err(format!("{name}: dtype {other:?}, expected F16 or F32"))),
        };
        out.push((name, TensorData::new(values, t.shape().to_vec())));
    }
    Ok(Some(out))
}

/// Load safetensors bytes with PyTorch names (weights built into the binary; half-precision
/// floats are widened); `source_name` names them in errors.
pub fn load_safetensors_bytes<M: Module + ModuleSnapshot>(
    model: &mut M,
    bytes: &[u8],
    source_name: &str,
    strict: bool,
) -> Result<LoadReport, NnError> {
    load_safetensors_vec(model, bytes.to_vec(), Path::new(source_name), strict)
}

/// Safetensors bytes read once (a file's or built in), named `source` in errors.
fn load_safetensors_vec<M: Module + ModuleSnapshot>(
    model: &mut M,
    bytes: Vec<u8>,
    source: &Path,
    strict: bool,
) -> Result<LoadReport, NnError> {
    let name = source.display().to_string();
    if let Some(tensors) = widen_f16(&bytes, &name)? {
        return load_pytorch_tensors(model, tensors, &name, strict);
    }
    let mut store = SafetensorsStore::from_bytes(Some(bytes))
        .remap(to_burn().clone())
        .with_from_adapter(PyTorchToBurnAdapter)
        .skip_enum_variants(true)
        .allow_partial(true);
    load_from_store(model, &mut store, source, strict)
}

/// Load a PyTorch checkpoint (`.pt`/`.pth`, zip or legacy format); `top_level_key` selects a
/// nested state dict such as `"state_dict"`. Pickles are parsed, never executed.
pub fn load_pytorch_file<M: Module + ModuleSnapshot>(
    model: &mut M,
    path: &Path,
    top_level_key: Option<&str>,
    strict: bool,
) -> Result<LoadReport, NnError> {
    let mut store = PytorchStore::from_file(path)
        .remap(to_burn().clone())
        .skip_enum_variants(true)
        .allow_partial(true);
    if let Some(k) = top_level_key {
        store = store.with_top_level_key(k);
    }
    load_from_store(model, &mut store, path, strict)
}

/// Save the model as safetensors with PyTorch names, atomically (temp file + rename).
pub fn save_safetensors<M: Module + ModuleSnapshot>(model: &M, path: &Path) -> Result<(), NnError> {
    let err = |msg: String| NnError::WeightFile {
        path: path.to_path_buf(),
        msg,
    };
    let name = path
        .file_name()
        .ok_or_else(|| err("not a file path".into()))?
        .to_string_lossy()
        .into_owned();
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let mut store = SafetensorsStore::from_file(&tmp)
        .remap(to_torch().clone())
        .with_to_adapter(BurnToPyTorchAdapter)
        .skip_enum_variants(true);
    let saved = model
        .save_into(&mut store)
        .map_err(|e| err(format!("{e}").replace('\n', " ")))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| err(e.to_string())));
    if saved.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    saved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_widens_exactly() {
        for (h, f) in [
            (0x3c00u16, 1.0f32),
            (0xc000, -2.0),
            (0x0000, 0.0),
            (0x3555, 0.333_251_95),
            (0x7bff, 65504.0),
            (0x0001, 5.960_464_5e-8),
            (0x0400, 6.103_515_6e-5),
        ] {
            assert_eq!(f16_to_f32(h), f, "{h:#06x}");
        }
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn names_map_both_ways() {
        let pairs = [
            (
                "layer1.0.cbam.ChannelGate.mlp.1.weight",
                "layer1.0.cbam.channel_gate.mlp.fc1.weight",
            ),
            (
                "resnet.layer2.0.cbam.ChannelGate.mlp.3.bias",
                "resnet.layer2.0.cbam.channel_gate.mlp.fc2.bias",
            ),
            (
                "cbam.SpatialGate.spatial.bn.running_mean",
                "cbam.spatial_gate.spatial.bn.running_mean",
            ),
            (
                "layer3.0.downsample.0.weight",
                "layer3.0.downsample.conv.weight",
            ),
            (
                "layer3.0.downsample.1.running_var",
                "layer3.0.downsample.bn.running_var",
            ),
            ("rnn.weight_ih_l0", "rnn.layers.0.forward.weight_ih"),
            ("rnn.bias_hh_l1_reverse", "rnn.layers.1.reverse.bias_hh"),
            ("weight_hh_l0_reverse", "layers.0.reverse.weight_hh"),
            ("fc.weight", "fc.weight"),
        ];
        for (torch, burn) in pairs {
            assert_eq!(from_pytorch_name(torch), burn);
            assert_eq!(to_pytorch_name(burn), torch);
        }
        assert_eq!(to_pytorch_name("bn1.gamma"), "bn1.weight");
        assert_eq!(
            to_pytorch_name("layer1.0.downsample.bn.beta"),
            "layer1.0.downsample.1.bias"
        );
    }
}

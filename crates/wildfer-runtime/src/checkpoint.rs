//! Reading what `wildfer train` writes: a checkpoint folder, or a run directory meaning its
//! best checkpoint (else its latest).
//!
//! ```text
//! RUN/config.toml                  the run's configuration
//! RUN/checkpoints/iter-000500/     model.bpk (burn, with parameter ids), optim.bpk,
//!                                  state.json, config.toml
//! RUN/checkpoints/best-000500/     the same + model.safetensors (PyTorch names)
//! RUN/latest, RUN/best             the name of the newest / best checkpoint folder
//! ```
//!
//! Writing them (atomically, with resume) is the trainer's (`wildfer_train::checkpoint`).

use crate::RuntimeError;
use crate::model::ModelSection;
use crate::net::Net;
use burn::module::Module;
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::{Bytes, Device};
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const MODEL_FILE: &str = "model.bpk";
pub const OPTIM_FILE: &str = "optim.bpk";
pub const STATE_FILE: &str = "state.json";
pub const CONFIG_FILE: &str = "config.toml";
pub const SAFETENSORS_FILE: &str = "model.safetensors";
/// Where a run keeps its checkpoint folders.
pub const CHECKPOINTS_DIR: &str = "checkpoints";

/// The checkpoint folder the pointer file `root/pointer` (`best` or `latest`) names, if the
/// file exists.
pub fn read_pointer(root: &Path, pointer: &str) -> Result<Option<PathBuf>, RuntimeError> {
    let p = root.join(pointer);
    match std::fs::read_to_string(&p) {
        Ok(s) => {
            let name = s.trim();
            if name.is_empty() || name.contains('/') || name.starts_with('.') {
                return Err(RuntimeError::checkpoint(
                    &p,
                    format!("not a checkpoint name: {name:?}"),
                ));
            }
            let dir = root.join(CHECKPOINTS_DIR).join(name);
            if !dir.is_dir() {
                return Err(RuntimeError::checkpoint(
                    &p,
                    format!("names {name}, which does not exist"),
                ));
            }
            Ok(Some(dir))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RuntimeError::io(&p, e)),
    }
}

/// `path` if it is a checkpoint folder, else the run directory's best checkpoint, else its
/// latest.
pub fn checkpoint_dir(path: &Path) -> Result<PathBuf, RuntimeError> {
    if path.join(MODEL_FILE).is_file() {
        return Ok(path.to_path_buf());
    }
    match read_pointer(path, "best")? {
        Some(d) => Ok(d),
        None => read_pointer(path, "latest")?.ok_or_else(|| {
            RuntimeError::checkpoint(
                path,
                "neither a checkpoint folder (model.bpk) nor a run directory with a checkpoint",
            )
        }),
    }
}

/// The `[model]` table of a run file (the rest of the file is the trainer's).
pub fn read_model_section(config: &Path) -> Result<ModelSection, RuntimeError> {
    let text = wildfer_files::read_text(config, wildfer_files::MAX_TEXT_BYTES)
        .map_err(|e| RuntimeError::io(config, e))?;
    model_section_of(&text).map_err(|e| RuntimeError::checkpoint(config, e))
}

/// [`read_model_section`] on the file's text; `Err` is the message.
pub fn model_section_of(text: &str) -> Result<ModelSection, String> {
    #[derive(Deserialize)]
    struct RunFile {
        model: ModelSection,
    }
    let run: RunFile = toml::from_str(text).map_err(|e| e.message().replace('\n', " "))?;
    run.model.validate().map_err(|e| e.to_string())?;
    Ok(run.model)
}

/// A trained network read from disk, ready for inference (validation mode).
pub struct Checkpoint {
    pub model: ModelSection,
    pub net: Net,
    /// Training steps behind these weights.
    pub iteration: usize,
    /// The checkpoint folder read.
    pub dir: PathBuf,
}

impl Checkpoint {
    /// Read a checkpoint folder or a run directory ([`checkpoint_dir`]) onto `device`.
    pub fn load(path: &Path, device: &Device) -> Result<Self, RuntimeError> {
        let dir = checkpoint_dir(path)?;
        let model = read_model_section(&dir.join(CONFIG_FILE))?;
        #[derive(Deserialize)]
        struct State {
            iteration: usize,
        }
        let state_path = dir.join(STATE_FILE);
        let state: State = serde_json::from_slice(
            &std::fs::read(&state_path).map_err(|e| RuntimeError::io(&state_path, e))?,
        )
        .map_err(|e| RuntimeError::checkpoint(&state_path, e.to_string()))?;
        // The checkpoint sets every parameter: no pretrained weights to read first.
        let mut net = Net::for_checkpoint(&model.network()?.without_pretrained(), device)?;
        load_model_into(&mut net, &dir.join(MODEL_FILE))?;
        Ok(Checkpoint {
            model,
            net: net.valid(),
            iteration: state.iteration,
            dir,
        })
    }
}

/// Load model.bpk into a network of the same architecture; every tensor must match.
pub fn load_model_into(net: &mut Net, path: &Path) -> Result<(), RuntimeError> {
    let bytes = std::fs::read(path).map_err(|e| RuntimeError::io(path, e))?;
    let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes)));
    let r = net
        .load_from(&mut store)
        .map_err(|e| RuntimeError::checkpoint(path, e.to_string().replace('\n', " ")))?;
    if !r.missing.is_empty() || !r.errors.is_empty() || !r.unused.is_empty() {
        let what = r
            .errors
            .iter()
            .map(|e| e.to_string())
            .chain(r.missing.iter().map(|m| format!("missing {m:?}")))
            .chain(r.unused.iter().map(|u| format!("unexpected {u}")))
            .take(3)
            .collect::<Vec<_>>()
            .join("; ");
        return Err(RuntimeError::checkpoint(
            path,
            format!("does not fit this network (another architecture?): {what}"),
        ));
    }
    Ok(())
}

/// The network's tensors in burn's burnpack format (parameter ids kept, so optimizer state
/// matches on resume).
pub fn model_bytes(net: &Net) -> Result<Vec<u8>, String> {
    let mut store = BurnpackStore::from_bytes(None);
    net.save_into(&mut store).map_err(|e| e.to_string())?;
    let bytes = store.get_bytes().map_err(|e| e.to_string())?;
    Ok(bytes.to_vec())
}

/// The first parameter or buffer with a NaN or infinite value.
pub fn first_non_finite(net: &Net) -> Option<String> {
    net.collect(None, None, false).iter().find_map(|t| {
        let data = burn::store::bridge::to_data(t).ok()?;
        let v = data.as_slice::<f32>().ok()?;
        v.iter().any(|x| !x.is_finite()).then(|| t.name.clone())
    })
}

/// Every parameter and buffer by name, sorted (comparing runs tensor for tensor: burnpack
/// files also hold each run's random parameter ids).
pub fn named_tensors(net: &Net) -> Vec<(String, Vec<f32>)> {
    let mut t: Vec<(String, Vec<f32>)> = net
        .collect(None, None, false)
        .iter()
        .filter_map(|p| {
            let data = burn::store::bridge::to_data(p).ok()?;
            Some((p.name.clone(), data.try_to_vec::<f32>().ok()?))
        })
        .collect();
    t.sort_by(|a, b| a.0.cmp(&b.0));
    t
}

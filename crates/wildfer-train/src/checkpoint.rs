//! Run directories and checkpoints.
//!
//! ```text
//! RUN/config.toml                  the run's configuration
//! RUN/metrics.jsonl                one JSON object per logged step and per evaluation
//! RUN/checkpoints/iter-000500/     model.bpk (burn, with parameter ids), optim.bpk,
//!                                  state.json, config.toml
//! RUN/checkpoints/best-000500/     the same + model.safetensors (PyTorch names)
//! RUN/latest, RUN/best             the name of the newest / best checkpoint folder
//! ```
//!
//! A checkpoint folder is written under a temporary name and renamed when complete; the pointer
//! files are replaced atomically after it, and old folders are removed last. A run killed at any
//! moment therefore leaves `latest` naming a complete checkpoint.

use crate::TrainError;
use crate::config::TrainConfig;
use crate::net::Net;
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use wildfer_files::write_atomic;

/// Bookkeeping saved with every checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Steps completed.
    pub iteration: usize,
    pub best_score: Option<f64>,
    pub best_iteration: Option<usize>,
    /// Crops that failed to decode so far (skipped, counted).
    pub bad_frames: usize,
    /// Wall time spent training so far.
    pub elapsed_s: f64,
}

pub use wildfer_runtime::checkpoint::{
    CHECKPOINTS_DIR, CONFIG_FILE, MODEL_FILE, OPTIM_FILE, SAFETENSORS_FILE, STATE_FILE,
    first_non_finite, load_model_into, model_bytes, named_tensors,
};

/// A run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub root: PathBuf,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> TrainError + '_ {
    move |e| TrainError::io(path, e)
}

impl RunDir {
    pub fn new(root: &Path) -> Self {
        RunDir {
            root: root.to_path_buf(),
        }
    }

    pub fn checkpoints(&self) -> PathBuf {
        self.root.join(CHECKPOINTS_DIR)
    }

    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }

    pub fn config(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }

    /// Write checkpoint `name` (model, optimizer when given, state, config), complete or not at
    /// all, and return its folder.
    pub fn save(
        &self,
        name: &str,
        net: &Net,
        optim: Option<&ModuleOptimizer>,
        state: &RunState,
        config: &TrainConfig,
        with_safetensors: bool,
    ) -> Result<PathBuf, TrainError> {
        let dir = self.checkpoints();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let final_dir = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
        }
        std::fs::create_dir(&tmp).map_err(io(&tmp))?;
        net.sync_running_stats();
        if let Some(bad) = first_non_finite(net) {
            return Err(TrainError::Diverged(format!(
                "{bad} holds NaN or infinite values at step {}; checkpoint {name} not written, the last good one is kept (lower optim.lr?)",
                state.iteration
            )));
        }
        let written = (|| {
            let model = model_bytes(net).map_err(|m| TrainError::checkpoint(&tmp, m))?;
            write_atomic(&tmp.join(MODEL_FILE), &model)?;
            if let Some(o) = optim {
                let bytes = o
                    .into_bytes()
                    .map_err(|e| TrainError::checkpoint(&tmp, format!("optimizer state: {e}")))?;
                write_atomic(&tmp.join(OPTIM_FILE), &bytes)?;
            }
            let json = serde_json::to_vec_pretty(state)
                .map_err(|e| TrainError::checkpoint(&tmp, e.to_string()))?;
            write_atomic(&tmp.join(STATE_FILE), &json)?;
            write_atomic(&tmp.join(CONFIG_FILE), config.to_toml().as_bytes())?;
            if with_safetensors {
                wildfer_nn::weights::save_safetensors(net, &tmp.join(SAFETENSORS_FILE))?;
            }
            Ok::<(), TrainError>(())
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        if final_dir.exists() {
            std::fs::remove_dir_all(&final_dir).map_err(io(&final_dir))?;
        }
        std::fs::rename(&tmp, &final_dir).map_err(io(&final_dir))?;
        Ok(final_dir)
    }

    /// Point `pointer` (`latest` or `best`) at checkpoint `name`.
    pub fn point(&self, pointer: &str, name: &str) -> Result<(), TrainError> {
        write_atomic(&self.root.join(pointer), format!("{name}\n").as_bytes())?;
        Ok(())
    }

    /// The checkpoint folder `pointer` names, if any.
    pub fn resolve(&self, pointer: &str) -> Result<Option<PathBuf>, TrainError> {
        Ok(wildfer_runtime::checkpoint::read_pointer(
            &self.root, pointer,
        )?)
    }

    /// Remove checkpoint folders other than the `keep` newest `iter-*`, the ones the pointers
    /// name, and stale temporaries.
    pub fn prune(&self, keep: usize) -> Result<(), TrainError> {
        let dir = self.checkpoints();
        let pinned: Vec<PathBuf> = ["latest", "best"]
            .iter()
            .filter_map(|p| self.resolve(p).ok().flatten())
            .collect();
        let mut iters = Vec::new();
        let mut others = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let path = e.map_err(io(&dir))?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with("iter-") {
                iters.push(path);
            } else {
                others.push(path);
            }
        }
        iters.sort();
        let n = iters.len();
        let drop = iters.into_iter().take(n.saturating_sub(keep)).chain(others);
        for path in drop {
            if pinned.contains(&path) {
                continue;
            }
            // Hidden first, then deleted: a run killed while deleting leaves a hidden folder
            // (removed by the next prune), never a half-deleted checkpoint under its name.
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let doomed = if name.starts_with('.') {
                path.clone()
            } else {
                let hidden = dir.join(format!(".{name}.pruned"));
                std::fs::rename(&path, &hidden).map_err(io(&path))?;
                hidden
            };
            std::fs::remove_dir_all(&doomed).map_err(io(&doomed))?;
        }
        Ok(())
    }
}

/// The checkpoint name of a step.
pub fn iter_name(prefix: &str, iteration: usize) -> String {
    format!("{prefix}-{iteration:06}")
}

/// Read a checkpoint folder (or a run directory, meaning its best checkpoint, else its latest):
/// its configuration and the network on `device`.
pub fn load(
    path: &Path,
    device: &Device,
) -> Result<(TrainConfig, Net, RunState, PathBuf), TrainError> {
    let dir = wildfer_runtime::checkpoint::checkpoint_dir(path)?;
    let cfg = TrainConfig::load(&dir.join(CONFIG_FILE))?;
    let state_path = dir.join(STATE_FILE);
    let state: RunState =
        serde_json::from_slice(&std::fs::read(&state_path).map_err(io(&state_path))?)
            .map_err(|e| TrainError::checkpoint(&state_path, e.to_string()))?;
    // The checkpoint sets every parameter: no pretrained weights to read first.
    let mut net = Net::for_checkpoint(&cfg.network()?.without_pretrained(), device)?;
    load_model_into(&mut net, &dir.join(MODEL_FILE))?;
    Ok((cfg, net, state, dir))
}

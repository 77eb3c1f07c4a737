use std::path::PathBuf;

/// Errors of model construction and weight import. `Display` is one line naming file and key.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    #[error("{}: {msg}", path.display())]
    WeightFile { path: PathBuf, msg: String },
    #[error("{source_name}: {msg}")]
    Weights { source_name: String, msg: String },
    #[error("invalid model configuration: {0}")]
    Config(String),
}

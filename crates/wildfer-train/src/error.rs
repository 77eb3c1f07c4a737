use std::path::PathBuf;

/// Errors of training and prediction; `Display` is one line naming the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] wildfer_data::DataError),
    #[error(transparent)]
    Labels(#[from] wildfer_labels::Error),
    #[error(transparent)]
    Nn(#[from] wildfer_nn::NnError),
    #[error(transparent)]
    Runtime(#[from] wildfer_runtime::RuntimeError),
    #[error("{}: {msg}", path.display())]
    Config { path: PathBuf, msg: String },
    #[error("{}: {msg}", path.display())]
    Io { path: PathBuf, msg: String },
    #[error("{}: {msg}", path.display())]
    Checkpoint { path: PathBuf, msg: String },
    /// Training diverged; the last good checkpoint is kept.
    #[error("{0}")]
    Diverged(String),
    #[error("{0}")]
    Invalid(String),
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Self {
        TrainError::Io {
            path: path.into(),
            msg: e.to_string(),
        }
    }

    pub(crate) fn config(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        TrainError::Config {
            path: path.into(),
            msg: msg.into(),
        }
    }

    pub(crate) fn checkpoint(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        TrainError::Checkpoint {
            path: path.into(),
            msg: msg.into(),
        }
    }
}

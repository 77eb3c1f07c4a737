use std::path::PathBuf;

/// Errors of loading and running trained networks; `Display` is one line naming the file at
/// fault.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Nn(#[from] wildfer_nn::NnError),
    #[error("{}: {msg}", path.display())]
    Io { path: PathBuf, msg: String },
    #[error("{}: {msg}", path.display())]
    Checkpoint { path: PathBuf, msg: String },
    #[error("{}: cannot read the image: {msg}", path.display())]
    Image { path: PathBuf, msg: String },
    #[error("{0}")]
    Invalid(String),
}

impl RuntimeError {
    pub(crate) fn io(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Self {
        RuntimeError::Io {
            path: path.into(),
            msg: e.to_string(),
        }
    }

    pub(crate) fn checkpoint(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        RuntimeError::Checkpoint {
            path: path.into(),
            msg: msg.into(),
        }
    }
}

use std::path::PathBuf;

/// Errors of the datasets; `Display` is one line naming the file or folder.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Labels(#[from] wildfer_labels::Error),
    #[error("{}: {msg}", path.display())]
    Invalid { path: PathBuf, msg: String },
}

impl DataError {
    pub(crate) fn invalid(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        DataError::Invalid {
            path: path.into(),
            msg: msg.into(),
        }
    }
}

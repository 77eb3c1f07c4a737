use std::path::PathBuf;

/// Errors of the pipeline; `Display` is one line naming the input or output file.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Video(#[from] wildfer_video::VideoError),
    #[error("{}: {source}", path.display())]
    Face {
        path: PathBuf,
        #[source]
        source: wildfer_face::FaceError,
    },
    #[error(transparent)]
    Output(#[from] wildfer_labels::Error),
    /// A labelled image set that cannot be used.
    #[error(transparent)]
    Data(#[from] wildfer_data::DataError),
    #[error("{}: {msg}", path.display())]
    Io { path: PathBuf, msg: String },
    #[error("expression model: {0}")]
    Model(String),
    #[error("face detector: {0}")]
    Detector(String),
    /// Stopped by the caller's stop flag (Ctrl-C, SIGTERM); nothing of the input was kept.
    #[error("interrupted")]
    Interrupted,
    /// An impossible option value.
    #[error("{0}")]
    Options(String),
}

impl PipelineError {
    pub(crate) fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        PipelineError::Io {
            path: path.to_path_buf(),
            msg: e.to_string().replace('\n', " "),
        }
    }
}

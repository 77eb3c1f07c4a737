/// Errors of the face stages; `Display` is one line.
#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error("face model: {0}")]
    Model(String),
    #[error("{0}")]
    Input(String),
    /// An impossible setting (a detector or tracker option out of its range).
    #[error("{0}")]
    Config(String),
}

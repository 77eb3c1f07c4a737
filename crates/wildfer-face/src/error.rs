/// Errors of the face stages; `Display` is one line.
#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error("face model: {0}")]
    Model(String),
    #[error("{0}")]
    Input(String),
}

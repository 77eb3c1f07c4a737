use std::path::PathBuf;

/// Errors of the frame sources; `Display` is one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    // The I/O error is part of the message, not a `source`: printed as a chain it would
    // appear twice on the one-line error.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Not a readable MP4/MOV container (truncated, corrupt, or another format).
    #[error("{}: not a readable MP4/MOV video ({msg})", path.display())]
    Container { path: PathBuf, msg: String },
    #[error("{}: {msg}", path.display())]
    Unsupported { path: PathBuf, msg: String },
    /// An image that cannot be read (corrupt, unknown format, too large).
    #[error("{}: cannot read image ({msg})", path.display())]
    Image { path: PathBuf, msg: String },
    /// A sample could not be decoded.
    #[error("{}: frame data of sample {sample} is corrupt ({msg})", path.display())]
    Decode {
        path: PathBuf,
        sample: u32,
        msg: String,
    },
}

/// Decoder messages may span lines; errors must not.
pub(crate) fn one_line(msg: impl ToString) -> String {
    msg.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

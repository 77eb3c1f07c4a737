use std::path::PathBuf;

/// Errors that name the file (and line) at fault; `Display` is a single line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file or folder could not be read or written.
    // The I/O error is part of the message, not a `source`: printed as a chain it would
    // appear twice on the one-line error.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A line of a text file is malformed.
    #[error("{}:{line}: {msg}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        msg: String,
    },
    /// The file or folder is well-formed line by line but wrong as a whole.
    #[error("{}: {msg}", path.display())]
    Invalid { path: PathBuf, msg: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error: source,
        }
    }

    pub fn parse(path: impl Into<PathBuf>, line: usize, msg: impl Into<String>) -> Self {
        Error::Parse {
            path: path.into(),
            line,
            msg: msg.into(),
        }
    }

    pub fn invalid(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Invalid {
            path: path.into(),
            msg: msg.into(),
        }
    }
}

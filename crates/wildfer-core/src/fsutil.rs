//! Atomic file output: a reader never sees a partial file under its final name.

use crate::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Write `bytes` to `path` through a temporary file in the same folder, fsync, then rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write(bytes)?;
    f.commit()
}

/// A file written in pieces that appears under its final name only on [`AtomicFile::commit`]
/// (temporary file in the same folder, fsync, rename). Dropped uncommitted, the temporary file
/// is removed: an interrupted run never leaves a partial file under a final name.
pub struct AtomicFile {
    path: std::path::PathBuf,
    tmp: std::path::PathBuf,
    out: Option<std::io::BufWriter<std::fs::File>>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> Result<Self> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| Error::invalid(path, "not a file path"))?
            .to_string_lossy();
        let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
        let f = std::fs::File::create(&tmp).map_err(|e| Error::io(path, e))?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            out: Some(std::io::BufWriter::new(f)),
        })
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append bytes; errors name the final path.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        match self.out.as_mut() {
            Some(w) => w.write_all(bytes).map_err(|e| Error::io(&self.path, e)),
            None => Err(Error::invalid(&self.path, "already committed")),
        }
    }

    /// Flush, fsync and rename to the final name.
    pub fn commit(mut self) -> Result<()> {
        let Some(w) = self.out.take() else {
            return Err(Error::invalid(&self.path, "already committed"));
        };
        let result = (|| {
            let f = w.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            std::fs::rename(&self.tmp, &self.path)
        })();
        result.map_err(|e| Error::io(&self.path, e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_file_appears_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rows.csv");
        let mut f = AtomicFile::create(&p).unwrap();
        f.write(b"a,b\n").unwrap();
        f.write(b"1,2\n").unwrap();
        assert!(!p.exists());
        f.commit().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"a,b\n1,2\n");
        // Dropped without commit: nothing under the final name, no temporary left.
        let q = dir.path().join("other.csv");
        let mut g = AtomicFile::create(&q).unwrap();
        g.write(b"partial").unwrap();
        drop(g);
        assert!(!q.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let e = AtomicFile::create(&dir.path().join("no/such/x.csv"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("x.csv"), "{e}");
    }

    #[test]
    fn writes_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        // No temporary files are left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_folder_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nope").join("a.txt");
        let e = write_atomic(&p, b"x").unwrap_err().to_string();
        assert!(e.contains("nope/a.txt"), "{e}");
    }
}

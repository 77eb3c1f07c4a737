//! Files as wildfer writes and reads them: atomic output (a reader never sees a partial file
//! under its final name; temporary files of an interrupted run found and removed), folder
//! locks (one writer per output folder), bounded reading of users' files (regular files only),
//! and [`Error`]: one-line errors that name the file (and line) at fault.

mod error;

pub use error::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Write `bytes` to `path` through a temporary file in the same folder, fsync, then rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write(bytes)?;
    f.commit()
}

/// The lock file [`lock_folder`] holds in a folder.
pub const LOCK_FILE: &str = ".wildfer.lock";

/// An exclusive lock on a folder, held until dropped. The operating system releases it when
/// the process ends however it ends, so a killed run never leaves a stale lock behind.
#[derive(Debug)]
pub struct FolderLock {
    _file: std::fs::File,
}

/// Lock `dir` (created if missing) for one writer, `what` naming the job (e.g. "`wildfer
/// train`"): a second process that asks while the first holds it gets an error naming the
/// holder, instead of both writing the same files.
pub fn lock_folder(dir: &Path, what: &str) -> Result<FolderLock> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => {
            // Who holds it, for the error a second process gets.
            let holder = format!("{what} (process {})", std::process::id());
            file.set_len(0)
                .and_then(|()| std::io::Write::write_all(&mut file, holder.as_bytes()))
                .map_err(|e| Error::io(&path, e))?;
            Ok(FolderLock { _file: file })
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = std::io::Read::read_to_string(
                &mut std::io::Read::take(&mut file, 200),
                &mut holder,
            );
            let holder = holder.trim();
            Err(Error::invalid(
                dir,
                format!(
                    "in use by {} (wait for it to finish, or choose another folder)",
                    if holder.is_empty() {
                        "another wildfer process"
                    } else {
                        holder
                    }
                ),
            ))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
    }
}

/// Remove the temporary files an interrupted [`AtomicFile`] left in `dir` (`.NAME.tmpPID`;
/// not recursive). Call it only while holding the folder's [`lock_folder`]: then no other
/// process can be writing them. Returns how many were removed.
pub fn remove_stale_temporaries(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for e in entries {
        let e = e.map_err(|err| Error::io(dir, err))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let stale = name.starts_with('.')
            && name
                .rsplit_once(".tmp")
                .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()));
        if stale && e.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::remove_file(e.path()).map_err(|err| Error::io(e.path(), err))?;
            removed += 1;
        }
    }
    Ok(removed)
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

/// Largest image file read (a 16K x 16K PNG fits).
pub const MAX_IMAGE_BYTES: u64 = 1 << 30;
/// Largest text file read (annotations, label lists, configurations).
pub const MAX_TEXT_BYTES: u64 = 256 << 20;

/// Open a user's file for reading: only a regular file (a link to a device such as
/// `/dev/zero`, a FIFO or a folder is refused: such a "file" can be endless) of at most `max`
/// bytes. Returns the file and its length; read it through `Read::take(len)`, so that a file
/// growing meanwhile still cannot make the read unbounded.
pub fn open_regular(path: &Path, max: u64) -> std::io::Result<(std::fs::File, u64)> {
    let f = std::fs::File::open(path)?;
    let m = f.metadata()?;
    if !m.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a device, FIFO or folder)",
        ));
    }
    if m.len() > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} bytes, more than the {max} accepted", m.len()),
        ));
    }
    Ok((f, m.len()))
}

/// The whole of a user's file, read as [`open_regular`] says.
pub fn read_regular(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let (f, len) = open_regular(path, max)?;
    let mut v = Vec::with_capacity(len as usize);
    f.take(len).read_to_end(&mut v)?;
    Ok(v)
}

/// A user's text file (UTF-8), read as [`open_regular`] says.
pub fn read_text(path: &Path, max: u64) -> std::io::Result<String> {
    String::from_utf8(read_regular(path, max)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not a UTF-8 text file"))
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

    #[test]
    fn endless_and_oversized_files_are_refused() {
        #[cfg(unix)]
        {
            let e = read_regular(Path::new("/dev/zero"), MAX_TEXT_BYTES).unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
            let d = tempfile::tempdir().unwrap();
            let link = d.path().join("x.jpg");
            std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
            assert!(open_regular(&link, MAX_IMAGE_BYTES).is_err());
        }
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("big.txt");
        std::fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read_regular(&p, 10).unwrap(), b"0123456789");
        let e = read_regular(&p, 9).unwrap_err().to_string();
        assert!(e.contains("10 bytes") && e.contains("9 accepted"), "{e}");
        assert!(read_regular(d.path(), 10).is_err(), "a folder");
    }

    #[test]
    fn a_locked_folder_refuses_a_second_writer_until_released() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        let first = lock_folder(&dir, "`wildfer train`").unwrap();
        let err = lock_folder(&dir, "`wildfer train`")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("in use by `wildfer train` (process") && err.contains("run"),
            "{err}"
        );
        drop(first);
        lock_folder(&dir, "`wildfer train`").unwrap();
    }

    #[test]
    fn stale_temporaries_are_removed_and_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for f in [
            ".a.csv.tmp123",
            ".b.json.tmp9",
            "a.csv",
            ".hidden",
            ".c.tmp",
            "x.tmp12",
        ] {
            std::fs::write(d.join(f), b"x").unwrap();
        }
        assert_eq!(remove_stale_temporaries(d).unwrap(), 2);
        let mut left: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".c.tmp", ".hidden", "a.csv", "x.tmp12"]);
        assert_eq!(remove_stale_temporaries(&d.join("missing")).unwrap(), 0);
    }
}

//! Shared helpers of the fuzz targets.

use std::path::PathBuf;

/// Write `data` to a per-process scratch file ending in `name` (in `/dev/shm` when there is
/// one, so the path-based readers are fuzzed as users call them without touching the disk).
pub fn scratch_file(name: &str, data: &[u8]) -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("wildfer-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let path = dir.join(name);
    std::fs::write(&path, data).expect("scratch file");
    path
}

/// Every error wildfer prints is one line that names the input.
pub fn check_error(e: &dyn std::fmt::Display, name: &str) {
    let s = e.to_string();
    assert!(!s.contains('\n'), "multi-line error: {s:?}");
    assert!(s.contains(name), "error does not name {name}: {s:?}");
}

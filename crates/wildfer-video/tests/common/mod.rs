//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use wildfer_video::VideoError;

pub use wildfer_video::test_media as media;

/// The error is one line and mentions every `want`.
pub fn one_line(e: VideoError, want: &[&str]) {
    let s = e.to_string();
    eprintln!("{s}");
    assert!(!s.contains('\n'), "{s}");
    for w in want {
        assert!(s.contains(w), "{s:?} lacks {w:?}");
    }
}

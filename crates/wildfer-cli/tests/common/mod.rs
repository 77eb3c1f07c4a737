//! Helpers shared by the CLI tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Run the `wildfer` binary: (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wildfer"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A small synthetic Aff-Wild2 copy (`wildfer synth`: 3 videos of 30 frames, 40 px crops) in
/// `dir/data`; returns its root.
pub fn synth_small(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let (code, _, err) = run(&[
        "synth",
        "--out",
        data.to_str().unwrap(),
        "--videos",
        "3",
        "--frames",
        "30",
        "--size",
        "40",
    ]);
    assert_eq!(code, 0, "{err}");
    data
}

/// Send `signal` (e.g. "-INT") to a running `wildfer` and wait for it: (exit code, stderr).
pub fn signal_and_wait(child: std::process::Child, signal: &str) -> (Option<i32>, String) {
    let kill = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let result = child.wait_with_output().unwrap();
    (
        result.status.code(),
        String::from_utf8(result.stderr).unwrap(),
    )
}

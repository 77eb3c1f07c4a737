//! Fault injection: `wildfer train` killed with SIGKILL at arbitrary moments and resumed ends
//! with exactly the weights of an uninterrupted run, and no checkpoint folder is ever partial.
#![allow(clippy::unwrap_used)]

mod common;
use common::run;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use wildfer_train::checkpoint::{self, RunDir};

const CONFIG: &str = r#"
seed = 5
[model]
input_size = 32
[model.network]
kind = "clip"
num_classes = 7
window = 3
[model.network.backbone]
family = "mini_xception"
[model.network.head]
kind = "rnn"
cell = "lstm"
hidden = 8
bidirectional = true
[data]
root = "ROOT"
[optim]
kind = "sgd"
lr = 0.01
[run]
iterations = 40
batch_size = 2
checkpoint_every = 1
keep_checkpoints = 2
"#;

/// A small synthetic dataset in `dir` and the run configuration [`CONFIG`] over it.
fn write_config(dir: &Path) -> std::path::PathBuf {
    let data = common::synth_small(dir);
    let cfg = dir.join("run.toml");
    std::fs::write(&cfg, CONFIG.replace("ROOT", data.to_str().unwrap())).unwrap();
    cfg
}

fn weights(run: &Path) -> Vec<(String, Vec<f32>)> {
    let dir = RunDir::new(run).resolve("latest").unwrap().unwrap();
    let (_, net, state, _) = checkpoint::load(&dir, &Default::default()).unwrap();
    assert_eq!(state.iteration, 40);
    checkpoint::named_tensors(&net)
}

/// Every checkpoint folder under its final name is complete and loads.
fn check_complete(run: &Path) {
    let Ok(entries) = std::fs::read_dir(run.join("checkpoints")) else {
        return;
    };
    for e in entries {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue; // a staging folder, never read
        }
        for f in ["model.bpk", "state.json", "config.toml"] {
            assert!(p.join(f).is_file(), "{name} lacks {f}");
        }
        checkpoint::load(&p, &Default::default()).unwrap();
    }
}

#[test]
fn killed_training_resumes_to_the_uninterrupted_result() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path());
    let train = |out: &Path, resume: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wildfer"));
        c.args([
            "train",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        if resume {
            c.arg("--resume");
        }
        // One compute thread: parallel reductions add in an order that depends on work
        // stealing, so only single-threaded runs are bit-for-bit repeatable.
        c.env("RAYON_NUM_THREADS", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c
    };
    let whole = tmp.path().join("whole");
    assert!(train(&whole, false).status().unwrap().success());

    // Five kills, each a few steps after the (re)start, at a random moment relative to the
    // checkpoint writes (0-40 ms after the latest pointer moved).
    let killed = tmp.path().join("killed");
    let mut interrupted_at = Vec::new();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let latest = |run: &Path| {
        std::fs::read_to_string(run.join("latest"))
            .ok()
            .and_then(|s| s.trim().strip_prefix("iter-")?.parse::<usize>().ok())
            .unwrap_or(0)
    };
    for _ in 0..5 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let start = latest(&killed);
        let target = start + 3 + (x % 5) as usize;
        let resume = RunDir::new(&killed).resolve("latest").unwrap().is_some();
        let mut child = train(&killed, resume).spawn().unwrap();
        let t = std::time::Instant::now();
        while latest(&killed) < target && t.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis((x >> 20) % 40));
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        check_complete(&killed);
        if let Some(dir) = RunDir::new(&killed).resolve("latest").unwrap() {
            let (_, _, state, _) = checkpoint::load(&dir, &Default::default()).unwrap();
            interrupted_at.push(state.iteration);
        }
    }
    // The kills landed inside the run, not after it.
    assert!(
        interrupted_at.iter().filter(|&&i| i < 40).count() == 5,
        "checkpoints after the kills: {interrupted_at:?}"
    );
    eprintln!("steps done when killed: {interrupted_at:?}");
    let resume = RunDir::new(&killed).resolve("latest").unwrap().is_some();
    assert!(train(&killed, resume).status().unwrap().success());
    check_complete(&killed);
    let (a, b) = (weights(&whole), weights(&killed));
    assert_eq!(a.len(), b.len());
    assert!(a.len() > 20, "{} tensors", a.len());
    for ((na, va), (nb, vb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(va == vb, "{na} differs after kills and resumes");
    }
}

/// Kill `args` after `after`, then check `partial_free`, then re-run to completion.
fn kill_then_rerun(args: &[&str], after: Duration, partial_free: impl Fn()) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wildfer"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let finished_early = child.try_wait().unwrap().is_some();
    let _ = child.kill();
    child.wait().unwrap();
    assert!(!finished_early, "the job finished before the kill");
    partial_free();
    let (code, _, err) = run(args);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn killed_analyze_and_prepare_leave_no_partial_outputs() {
    let video = wildfer_video::test_media("WolfgangLanger_Pexels.mp4");
    let v = video.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let an = tmp.path().join("an");
    let a = an.to_str().unwrap();
    kill_then_rerun(
        &["analyze", v, "--out", a, "--threads", "2"],
        Duration::from_secs(3),
        || {
            for f in [
                "WolfgangLanger_Pexels.csv",
                "WolfgangLanger_Pexels.json",
                "summary.csv",
            ] {
                assert!(!an.join(f).exists(), "{f} exists after the kill");
            }
        },
    );
    let csv = std::fs::read_to_string(an.join("WolfgangLanger_Pexels.csv")).unwrap();
    assert_eq!(csv.lines().count(), 473, "header + one row per frame");

    let prep = tmp.path().join("prep");
    let p = prep.to_str().unwrap();
    kill_then_rerun(
        &["prepare", v, "--out", p, "--threads", "2"],
        Duration::from_secs(3),
        || {
            assert!(!prep.join("cropped_aligned/WolfgangLanger_Pexels").exists());
        },
    );
    let crops = std::fs::read_dir(prep.join("cropped_aligned/WolfgangLanger_Pexels"))
        .unwrap()
        .count();
    assert_eq!(crops, 472);
}

#[test]
fn full_disk_while_checkpointing_is_a_clear_error_and_keeps_the_last_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path());
    let out = tmp.path().join("run");
    let (c, o) = (cfg.to_str().unwrap(), out.to_str().unwrap());
    let (code, _, err) = run(&["train", "--config", c, "--out", o, "--stop-after", "2"]);
    assert_eq!(code, 0, "{err}");
    // Resume with files limited to 64 KiB (the model file is larger).
    let (code, err) = run_with_file_limit(64, &["train", "--config", c, "--out", o, "--resume"]);
    assert_eq!(code, Some(1), "{err}");
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("wildfer: error:") && last.contains("too large"),
        "{err}"
    );
    // The last good checkpoint is intact and still the latest; nothing partial is visible.
    let dir = RunDir::new(&out).resolve("latest").unwrap().unwrap();
    assert!(dir.ends_with("iter-000002"), "{}", dir.display());
    check_complete(&out);
    let (code, _, err) = run(&["train", "--config", c, "--out", o, "--resume"]);
    assert_eq!(code, 0, "{err}");
}

/// Run wildfer with files limited to `kib` KiB (writes beyond fail with EFBIG, as on a full
/// disk; SIGXFSZ ignored so the error reaches wildfer). Returns (exit code, stderr).
fn run_with_file_limit(kib: u32, args: &[&str]) -> (Option<i32>, String) {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!(
        "trap '' XFSZ; ulimit -f {kib}; exec '{}' {}",
        env!("CARGO_BIN_EXE_wildfer"),
        quoted.join(" ")
    );
    let r = Command::new("bash").args(["-c", &script]).output().unwrap();
    (
        r.status.code(),
        String::from_utf8_lossy(&r.stderr).into_owned(),
    )
}

/// Every file under `dir` with its bytes; the lock file's bytes (the last holder) are left out.
fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.ends_with(wildfer_files::LOCK_FILE) {
                out.push((p.clone(), Vec::new()));
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn full_disk_while_writing_analyze_and_prepare_outputs_keeps_the_previous_ones() {
    let video = wildfer_video::test_media("single_face.mp4");
    let v = video.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for (job, kib) in [("analyze", 4), ("prepare", 2)] {
        let out = tmp.path().join(job);
        let o = out.to_str().unwrap();
        let args = [job, v, "--out", o, "--threads", "2"];
        let (code, _, err) = run(&args);
        assert_eq!(code, 0, "{err}");
        let before = snapshot(&out);
        assert!(before.len() > 3, "{job} wrote {} files", before.len());
        let (code, err) = run_with_file_limit(kib, &args);
        assert_eq!(code, Some(1), "{job}: {err}");
        assert!(
            err.lines()
                .any(|l| l.contains(o) && l.contains("File too large")),
            "{job}: no line naming the output and the cause: {err}"
        );
        // The previous run's outputs are all there, byte for byte, with nothing beside them.
        assert!(snapshot(&out) == before, "{job}: outputs changed");
        assert_eq!(
            std::fs::read_dir(out.join(if job == "prepare" {
                "cropped_aligned"
            } else {
                "."
            }))
            .unwrap()
            .count(),
            if job == "prepare" { 1 } else { before.len() },
            "{job}: leftovers"
        );
    }
}

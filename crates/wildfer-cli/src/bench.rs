//! `wildfer bench ...`: wildfer's timings next to the reference framework's, in one run.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;
use wildfer_nn::bench::{self, CaseTiming, median};

/// The PyTorch side, embedded so that the binary needs no checkout to run it.
const REFERENCE_SCRIPTS: [(&str, &str); 3] = [
    (
        "bench_models.py",
        include_str!("../../../reference/bench_models.py"),
    ),
    (
        "nn_fixtures.py",
        include_str!("../../../reference/nn_fixtures.py"),
    ),
    (
        "detparams.py",
        include_str!("../../../reference/detparams.py"),
    ),
];

#[derive(Debug, Deserialize, Serialize)]
struct Reference {
    torch: String,
    threads: usize,
    cases: Vec<CaseTiming>,
}

#[derive(Debug, Serialize)]
struct Report {
    size: usize,
    threads: usize,
    runs: usize,
    wildfer: Vec<CaseTiming>,
    reference: Option<Reference>,
    reference_error: Option<String>,
}

pub struct ModelsArgs {
    pub runs: usize,
    pub size: usize,
    pub threads: usize,
    pub cases: Option<Vec<String>>,
    pub reference: bool,
    pub python: PathBuf,
    pub out: Option<PathBuf>,
}

fn run_reference(args: &ModelsArgs, cases: &[&str]) -> Result<Reference> {
    let dir =
        tempfile::tempdir().context("creating a temporary folder for the reference script")?;
    for (name, text) in REFERENCE_SCRIPTS {
        std::fs::write(dir.path().join(name), text)?;
    }
    let out = Command::new(&args.python)
        .arg(dir.path().join("bench_models.py"))
        .args([
            "--runs",
            &args.runs.to_string(),
            "--size",
            &args.size.to_string(),
        ])
        .args([
            "--threads",
            &args.threads.to_string(),
            "--cases",
            &cases.join(","),
        ])
        .output()
        .with_context(|| format!("running {}", args.python.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("no error output");
        bail!("the PyTorch reference failed: {last}");
    }
    serde_json::from_slice(&out.stdout).context("reading the PyTorch reference's output")
}

pub fn models(args: ModelsArgs) -> Result<()> {
    let cases: Vec<&str> = bench::CASES
        .iter()
        .copied()
        .filter(|c| {
            args.cases
                .as_ref()
                .is_none_or(|sel| sel.iter().any(|s| s == c))
        })
        .collect();
    if cases.is_empty() {
        bail!(
            "--cases: none of the given names is a case (cases: {})",
            bench::CASES.join(", ")
        );
    }
    eprintln!(
        "wildfer bench models: one 8-frame clip of {0}x{0} crops, {1} threads, {2} timed runs after a warm-up",
        args.size, args.threads, args.runs
    );
    let wildfer = bench::run(
        args.runs,
        args.size,
        |c| cases.contains(&c),
        |c| eprintln!("  wildfer: {c}"),
    )?;
    let (reference, reference_error) = if args.reference {
        eprintln!("  pytorch: {} cases", cases.len());
        match run_reference(&args, &cases) {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(format!("{e:#}"))),
        }
    } else {
        (None, Some("not run (--no-reference)".to_string()))
    };

    println!(
        "{:<28} {:>14} {:>14} {:>8}",
        "case (median ms)", "wildfer", "pytorch", "ratio"
    );
    for w in &wildfer {
        let r = reference
            .as_ref()
            .and_then(|r| r.cases.iter().find(|c| c.case == w.case))
            .map(|c| median(&c.runs_ms));
        let (rs, ratio) = match r {
            Some(r) => (format!("{r:.1}"), format!("{:.2}x", w.median_ms() / r)),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:<28} {:>14.1} {:>14} {:>8}",
            w.case,
            w.median_ms(),
            rs,
            ratio
        );
    }
    if let Some(e) = &reference_error {
        println!("pytorch reference: {e}");
    }
    println!("ratio = wildfer time / PyTorch time (below 1 is faster than PyTorch)");
    let report = Report {
        size: args.size,
        threads: args.threads,
        runs: args.runs,
        wildfer,
        reference,
        reference_error,
    };
    if let Some(out) = &args.out {
        write_json(out, &report)?;
    }
    Ok(())
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let json = serde_json::to_string_pretty(value)?;
    wildfer_core::fsutil::write_atomic(path, format!("{json}\n").as_bytes())?;
    Ok(())
}

//! One job's inputs split over the tasks of an array job — Slurm job arrays, Kubernetes Indexed
//! Jobs, or any launcher that can hand each task an index — with no scheduler of wildfer's own.
//! Every task computes the same assignment from the same input list, so tasks need not talk to
//! each other: each input lands in exactly one shard, and as output names are derived from the
//! whole list, no two shards ever write the same file.

use crate::PipelineError;
use std::path::{Path, PathBuf};

/// Task `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Default for Shard {
    /// The whole job in one task.
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// `I/N` (0-based, `I < N`), or `auto`: the task's place in a Slurm job array
    /// (`SLURM_ARRAY_TASK_ID` minus `SLURM_ARRAY_TASK_MIN`, over `SLURM_ARRAY_TASK_STEP`, of
    /// `SLURM_ARRAY_TASK_COUNT`), else in a Kubernetes Indexed Job (`JOB_COMPLETION_INDEX` of
    /// `JOB_COMPLETIONS`). `env` reads a variable (the process environment, or a test's).
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        if text == "auto" {
            return Shard::from_env(env);
        }
        let bad = || format!("--shard {text:?}: expected I/N (0-based, e.g. 0/8) or auto");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        Shard::new(index, count).ok_or_else(|| {
            format!("--shard {text}: the index must be below the count (0-based), and the count at least 1")
        })
    }

    fn new(index: usize, count: usize) -> Option<Shard> {
        (count >= 1 && index < count).then_some(Shard { index, count })
    }

    fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let num = |k: &str| -> Result<Option<usize>, String> {
            env(k)
                .map(|v| {
                    v.trim()
                        .parse::<usize>()
                        .map_err(|_| format!("--shard auto: {k}={v:?} is not a number"))
                })
                .transpose()
        };
        if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let count = num("SLURM_ARRAY_TASK_COUNT")?.ok_or(
                "--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not",
            )?;
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let step = num("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
            let offset = id.checked_sub(min).filter(|o| o % step == 0).ok_or_else(|| {
                format!("--shard auto: task {id} is not on the array's range (min {min}, step {step}); use --array=A-B or A-B:S")
            })?;
            return Shard::new(offset / step, count).ok_or_else(|| {
                format!("--shard auto: task {id} is past the array's {count} tasks (min {min}, step {step}); use --array=A-B or A-B:S")
            });
        }
        if let Some(index) = num("JOB_COMPLETION_INDEX")? {
            let count = num("JOB_COMPLETIONS")?
                .ok_or("--shard auto: JOB_COMPLETION_INDEX is set but JOB_COMPLETIONS is not")?;
            return Shard::new(index, count).ok_or_else(|| {
                format!("--shard auto: JOB_COMPLETION_INDEX {index} of {count} completions")
            });
        }
        Err("--shard auto: not in a Slurm job array (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX); give --shard I/N".into())
    }
}

/// The shard of each input: largest first (ties by position in the list), each to the shard
/// with the fewest bytes so far (ties: the lowest index), so shards get about equal work
/// whatever the mix of long and short videos. The same list gives the same assignment in every
/// task.
pub fn assign(sizes: &[u64], count: usize) -> Vec<usize> {
    let count = count.max(1);
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
    let mut load = vec![0u64; count];
    let mut shard = vec![0; sizes.len()];
    for i in order {
        let (best, _) = load
            .iter()
            .enumerate()
            .min_by_key(|&(k, l)| (*l, k))
            .unwrap_or((0, &0));
        shard[i] = best;
        load[best] = load[best].saturating_add(sizes[i]);
    }
    shard
}

/// The work an input stands for, in bytes: a file's size, a folder's files (a numbered image
/// sequence); 0 when it cannot be read (it fails later, in its shard, with the reason).
pub fn input_size(path: &Path) -> u64 {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.metadata().ok())
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// The paths of a manifest (`--inputs FILE`): one per line, blank lines and `#` comments
/// skipped, relative paths taken from the current folder (as `find` writes them).
pub fn read_manifest(path: &Path) -> Result<Vec<PathBuf>, PipelineError> {
    let text = wildfer_files::read_text(path, wildfer_files::MAX_TEXT_BYTES)
        .map_err(|e| PipelineError::io(path, e))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(PathBuf::from)
        .collect())
}

/// A job's inputs as one task of it sees them.
#[derive(Debug, Default)]
pub struct JobInputs {
    /// This shard's inputs, each with its output name (names are derived from every shard's
    /// inputs, so they never collide across shards).
    pub mine: Vec<(PathBuf, String)>,
    /// Inputs that could not be expanded (a pattern matching nothing, an unreadable folder):
    /// reported by shard 0 only, so a merged job lists each once.
    pub failed: Vec<(PathBuf, String)>,
    /// Inputs of the whole job, every shard's.
    pub total: usize,
}

/// The inputs on the command line and in `manifest`, expanded ([`crate::inputs`]), named, and
/// split: this `shard`'s part. Names that cannot be kept apart stop the job before anything is
/// written.
pub fn job_inputs(
    inputs: &[PathBuf],
    manifest: Option<&Path>,
    shard: Shard,
) -> Result<JobInputs, PipelineError> {
    let mut all = inputs.to_vec();
    if let Some(m) = manifest {
        all.extend(read_manifest(m)?);
    }
    let (expanded, failed) = crate::inputs::expand_inputs(&all);
    let names = crate::inputs::output_names(&expanded)?;
    let sizes: Vec<u64> = expanded.iter().map(|p| input_size(p)).collect();
    let owner = assign(&sizes, shard.count);
    let total = expanded.len() + failed.len();
    Ok(JobInputs {
        mine: expanded
            .into_iter()
            .zip(names)
            .zip(owner)
            .filter(|(_, s)| *s == shard.index)
            .map(|(pair, _)| pair)
            .collect(),
        failed: if shard.index == 0 { failed } else { Vec::new() },
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn explicit_shards_parse_and_bad_ones_are_refused() {
        let none = env(&[]);
        assert_eq!(
            Shard::parse("3/8", &none).unwrap(),
            Shard { index: 3, count: 8 }
        );
        for bad in ["8/8", "0/0", "1", "a/2", "-1/2", "1/2/3"] {
            assert!(Shard::parse(bad, &none).is_err(), "{bad}");
        }
        assert!(
            Shard::parse("auto", &none)
                .unwrap_err()
                .contains("--shard I/N")
        );
    }

    #[test]
    fn auto_reads_slurm_arrays_and_kubernetes_indexed_jobs() {
        // sbatch --array=1-5: IDs 1..5, MIN 1, COUNT 5.
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "5"),
        ]);
        assert_eq!(
            Shard::parse("auto", slurm).unwrap(),
            Shard { index: 2, count: 5 }
        );
        // --array=0-10:2 -> 0,2,...,10: 6 tasks.
        let stepped = env(&[
            ("SLURM_ARRAY_TASK_ID", "6"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "6"),
        ]);
        assert_eq!(
            Shard::parse("auto", stepped).unwrap(),
            Shard { index: 3, count: 6 }
        );
        let k8s = env(&[("JOB_COMPLETION_INDEX", "0"), ("JOB_COMPLETIONS", "4")]);
        assert_eq!(
            Shard::parse("auto", k8s).unwrap(),
            Shard { index: 0, count: 4 }
        );
        let broken = env(&[
            ("SLURM_ARRAY_TASK_ID", "7"),
            ("SLURM_ARRAY_TASK_COUNT", "5"),
        ]);
        assert!(
            Shard::parse("auto", broken)
                .unwrap_err()
                .contains("past the array")
        );
    }

    #[test]
    fn every_input_lands_in_one_shard_and_shards_are_balanced() {
        let sizes: Vec<u64> = (0..100u64).map(|i| (i * 7919) % 1000 + 1).collect();
        for count in [1, 2, 3, 8, 150] {
            let a = assign(&sizes, count);
            assert_eq!(a, assign(&sizes, count), "deterministic");
            assert!(a.iter().all(|&s| s < count));
            let mut load = vec![0u64; count];
            for (i, &s) in a.iter().enumerate() {
                load[s] += sizes[i];
            }
            let (lo, hi) = (load.iter().min().unwrap(), load.iter().max().unwrap());
            // Greedy largest-first: no shard more than the largest input above another.
            assert!(hi - lo <= *sizes.iter().max().unwrap(), "{count}: {load:?}");
        }
        // One huge input and many small ones: the huge one is alone.
        let a = assign(&[1000, 1, 1, 1, 1], 2);
        assert_eq!(a, vec![0, 1, 1, 1, 1]);
    }
}

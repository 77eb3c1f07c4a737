//! A counted progress display: an indicatif bar on a terminal, a plain line every 30 s
//! otherwise (batch jobs' logs; indicatif draws nothing there).

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

/// A bar style from `template`, where `{rate}` shows the speed with one decimal ("32.9/s";
/// indicatif's own `{per_sec}` prints four).
pub fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "rate",
            |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.1}/s", s.per_sec());
            },
        )
}

pub struct Counter {
    bar: ProgressBar,
    /// `Some(last line)` when stderr is not a terminal.
    plain: Option<Instant>,
    what: &'static str,
    unit: &'static str,
    start: Instant,
}

impl Counter {
    /// `what` names the command (`eval-images`), `unit` the things counted (`images`).
    pub fn new(len: usize, what: &'static str, unit: &'static str) -> Counter {
        let bar = ProgressBar::new(len as u64);
        bar.set_style(style(&format!(
            "{what} [{{bar:30}}] {{pos}}/{{len}} {unit} {{rate}} ETA {{eta}}"
        )));
        let now = Instant::now();
        Counter {
            bar,
            plain: (!std::io::stderr().is_terminal()).then_some(now),
            what,
            unit,
            start: now,
        }
    }

    pub fn set(&mut self, done: usize) {
        self.bar.set_position(done as u64);
        if let Some(last) = &mut self.plain
            && last.elapsed().as_secs() >= 30
        {
            *last = Instant::now();
            let len = self.bar.length().unwrap_or(0);
            let rate = done as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
            eprintln!(
                "wildfer {}: {done}/{len} {} ({rate:.1}/s)",
                self.what, self.unit
            );
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Set by the first SIGINT (Ctrl-C) or SIGTERM (what schedulers send before killing): the job
/// stops at the next safe point and writes what is finished; a second signal ends the process
/// at once (exit 130).
pub fn stop_flag() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use anyhow::Context as _;
    use std::sync::{Arc, atomic::AtomicBool};
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&stop)))
            .context("installing the interrupt handler")?;
    }
    Ok(stop)
}

/// A summary line's clause about `n` things (`", 3 unreadable"`), or nothing when `n` is 0.
pub fn clause(n: usize, text: impl FnOnce(usize) -> String) -> String {
    if n == 0 { String::new() } else { text(n) }
}

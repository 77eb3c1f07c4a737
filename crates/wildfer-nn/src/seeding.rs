//! Reproducible random draws in a process that may run several jobs at once.
//!
//! burn's CPU backend keeps one random generator for the whole process, and `Device::seed`
//! replaces it. Two trainings in one process (tests run in parallel; a program training several
//! models) would otherwise interleave their draws — one job's seed landing between another's
//! seed and its parameter initialisation — and a run would stop being a function of its own
//! seed. So every seeded sequence of draws in wildfer runs inside [`seeded`], which holds one
//! process-wide lock from the seed to the last draw.
//!
//! burn initialises most layers lazily, at a parameter's first use, so a model built under the
//! lock must also be [`initialize`]d under it: otherwise its draws would happen later, under
//! whatever seed is current then.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use std::sync::Mutex;

static DRAWS: Mutex<()> = Mutex::new(());

/// Run `f` with the process's random generator seeded with `seed`, no other [`seeded`] call
/// running meanwhile. Not reentrant: `f` must not call [`seeded`].
pub fn seeded<T>(device: &Device, seed: u64, f: impl FnOnce() -> T) -> T {
    // A panic elsewhere while holding the lock leaves nothing half-done that matters here.
    let _held = DRAWS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(seed);
    f()
}

/// Compute every lazily initialised parameter of `module` now.
pub fn initialize<M: Module>(module: &M) {
    struct Touch;
    impl ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = param.val();
        }
    }
    module.visit(&mut Touch);
}

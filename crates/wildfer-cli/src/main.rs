//! The `wildfer` command (see the library, [`wildfer_cli::main_with_args`]).

// burn-flex allocates a fresh buffer for nearly every tensor op. glibc returns large freed
// blocks to the OS, so each op faults its pages in again (~200k page faults in a 10-step
// `bench models` run); mimalloc keeps them for reuse (~30k). Measured: method A's forward and
// the training step 7-10% faster.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(wildfer_cli::main_with_args(std::env::args_os()))
}

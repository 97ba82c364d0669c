//! The `txn-notify` command line; see `txn_notify::cli`.

fn main() -> std::process::ExitCode {
    txn_notify::cli::exit_quietly_on_closed_pipe();
    txn_notify::cli::run()
}

/// The command line (simulate, dev, bench, invoke) allocates with mimalloc: the embedded
/// runtime and the processor in process spend a fifth of their time in glibc's malloc, and
/// take a quarter to a half more work per second with it. The Lambda functions keep glibc's:
/// mimalloc holds more memory, and the processor's peak on a 6 MB batch would pass 64 MiB
/// (70.0 MiB with it).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

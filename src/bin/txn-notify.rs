//! The `txn-notify` command line; see `txn_notify::cli`.

fn main() -> std::process::ExitCode {
    one_arena_for_c_libraries();
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

/// SQLite and zstd (C) allocate with glibc's malloc, which gives each thread that allocates
/// an arena of its own: with one store per shard on threads of their own, each shard's page
/// cache turned over in its own arena, and the freed pages of one were never the next of
/// another (`simulate --transactions 100000`, two shards: peak RSS 124–132 MB with an arena
/// per thread, 111–113 MB with one). Rust's allocations go to mimalloc, above.
fn one_arena_for_c_libraries() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of glibc's allocator; it is called before any
    // thread of ours starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

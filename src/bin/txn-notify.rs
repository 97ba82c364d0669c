//! The `txn-notify` command line; see `txn_notify::cli`.

fn main() -> std::process::ExitCode {
    txn_notify::cli::run()
}

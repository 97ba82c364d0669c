//! The `txn-notify` command line; see `txn_notify::cli`.

fn main() -> std::process::ExitCode {
    txn_notify::cli::exit_quietly_on_closed_pipe();
    txn_notify::cli::run()
}

//! `txn-notify invoke FUNCTION --event FILE`: one handler on a Lambda event file, one file
//! per function; `input` reads event and seed files and opens the embedded store.

mod args;
mod auditor;
mod digest;
mod feedback;
mod ingest;
pub(super) mod input;
mod notifier;
mod processor;

use std::process::ExitCode;

pub use args::InvokeArgs;

use crate::cli::Function;

pub fn run(args: InvokeArgs) -> ExitCode {
    let handled = match args.function {
        Function::Processor => processor::run(&args),
        Function::Auditor => auditor::run(&args),
        Function::Notifier => notifier::run(&args),
        Function::Ingest => ingest::run(&args),
        Function::Digest => digest::run(&args),
        Function::DigestWorker => digest::run_worker(&args),
        Function::Feedback => feedback::run(&args),
    };
    handled.unwrap_or_else(|message| crate::cli::fail(args.json, &message))
}

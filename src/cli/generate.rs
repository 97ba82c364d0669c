use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::workload::{WorkloadSpec, generate, stream::to_stream_event};

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    #[arg(long, default_value_t = 100)]
    accounts: usize,
    #[arg(long, default_value_t = 1000)]
    transactions: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Malformed transaction items, per thousand.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=1000))]
    malformed_per_mille: u32,
    /// Keep only the first N records (the accounts come first).
    #[arg(long, value_name = "N")]
    max_records: Option<usize>,
    /// One line, as Lambda delivers an event (else indented for reading).
    #[arg(long)]
    compact: bool,
    /// Write here instead of standard output.
    #[arg(long, short)]
    out: Option<PathBuf>,
}

pub fn run(args: GenerateArgs) -> ExitCode {
    let mut spec = WorkloadSpec::new(args.accounts, args.transactions, args.seed);
    spec.malformed_per_mille = args.malformed_per_mille;
    if spec.accounts == 0 && spec.transactions > 0 {
        return super::fail(false, "transactions need at least one account");
    }
    let mut writes = generate(&spec);
    if let Some(max) = args.max_records {
        writes.truncate(max);
    }
    let event = to_stream_event(&writes);
    let text = match if args.compact {
        serde_json::to_string(&event)
    } else {
        serde_json::to_string_pretty(&event)
    } {
        Ok(text) => text,
        Err(e) => return super::fail(false, &e.to_string()),
    };
    let written = match &args.out {
        Some(path) => std::fs::write(path, text + "\n"),
        None => writeln!(std::io::stdout().lock(), "{text}"),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::fail(false, &format!("cannot write: {e}")),
    }
}

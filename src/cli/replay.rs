//! `txn-notify replay`: re-delivers archived events of the embedded runtime with
//! `replay-name`, and shows that the consumers redo nothing they had done.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The folder of a `simulate` run (its --data-dir).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// Events archived at or after this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    from: DateTime<Utc>,
    /// Events archived before this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    to: DateTime<Utc>,
    /// Only to this rule of template.yaml (NotifyRule, AuditRule); repeatable. Default: all.
    #[arg(long = "rule", value_name = "NAME")]
    rules: Vec<String>,
    /// The replay-name the events carry.
    #[arg(long, default_value = "txn-notify-replay")]
    name: String,
    #[arg(long)]
    json: bool,
}

pub fn run(args: ReplayArgs) -> ExitCode {
    if args.from >= args.to {
        return super::fail(args.json, "--from must be before --to");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(runtime) => runtime,
        Err(e) => return super::fail(args.json, &format!("cannot start the runtime: {e}")),
    };
    let result = runtime.block_on(crate::local::simulate::replay(
        &args.data_dir,
        &args.name,
        args.from,
        args.to,
        &args.rules,
    ));
    match result {
        Err(message) => super::fail(args.json, &message),
        Ok(report) if args.json => {
            println!("{}", serde_json::to_string(&report).expect("a report serializes"));
            ExitCode::SUCCESS
        }
        Ok(report) => {
            println!(
                "replay {}: {} deliveries; {} new emails, {} new audit items (what was done before was skipped)",
                report.replay_name, report.deliveries, report.new_emails, report.new_audit_items
            );
            ExitCode::SUCCESS
        }
    }
}

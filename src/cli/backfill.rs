//! `txn-notify backfill-statement-zones --table T < account-ids.txt`: gives the account items
//! of a table written before the `accounts-by-zone` index their `statement_zone` (see
//! docs/statements.md, "Backfilling an existing table").

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::aws::dynamodb::zone_backfill::{BackfillError, StatementZoneBackfill, ZoneBackfill};
use crate::ports::FailureKind;

#[derive(Debug, clap::Args)]
pub struct BackfillArgs {
    /// The ledger table (the stack's LedgerTableName output). AWS credentials, region and
    /// endpoint come from the standard settings.
    #[arg(long, value_name = "TABLE")]
    table: String,
    /// Accounts worked on at once.
    #[arg(long, default_value_t = 16, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Read every account and say what would change, without writing.
    #[arg(long)]
    dry_run: bool,
    /// One JSON object on stdout.
    #[arg(long)]
    json: bool,
}

/// What the run did, account by account.
#[derive(Debug, Default, Serialize)]
struct Tally {
    read: u64,
    set: u64,
    removed: u64,
    unchanged: u64,
    missing: u64,
    undecodable: u64,
    failed: u64,
    /// A permanent failure (no such table, access denied) stopped the run: every other
    /// account would fail the same way.
    stopped: Option<String>,
    dry_run: bool,
}

impl Tally {
    fn count(&mut self, outcome: &ZoneBackfill) {
        self.read += 1;
        match outcome {
            ZoneBackfill::Set(_) => self.set += 1,
            ZoneBackfill::Removed => self.removed += 1,
            ZoneBackfill::Unchanged => self.unchanged += 1,
            ZoneBackfill::Missing => self.missing += 1,
            ZoneBackfill::Undecodable => self.undecodable += 1,
        }
    }
}

pub fn run(args: BackfillArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return super::fail(args.json, &format!("cannot start the runtime: {e}")),
    };
    let tally = match runtime.block_on(backfill(&args)) {
        Ok(tally) => tally,
        Err(message) => return super::fail(args.json, &message),
    };
    if args.json {
        println!("{}", serde_json::to_string(&tally).expect("a tally serializes"));
    } else {
        let verb = if tally.dry_run { "would set" } else { "set" };
        println!(
            "backfill-statement-zones on {}: {} accounts read, {verb} {}, {} {}, {} already right, {} missing, {} not readable as accounts, {} failed",
            args.table,
            tally.read + tally.failed,
            tally.set,
            if tally.dry_run { "would remove" } else { "removed" },
            tally.removed,
            tally.unchanged,
            tally.missing,
            tally.undecodable,
            tally.failed
        );
    }
    if let Some(reason) = &tally.stopped {
        if !args.json {
            eprintln!("txn-notify: stopped on a permanent failure: {reason}");
        }
        return ExitCode::from(2);
    }
    if tally.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Account ids from stdin, one a line (blank lines skipped), worked on `concurrency` at a
/// time; stdin is read as the work goes, so a list of millions needs no memory.
async fn backfill(args: &BackfillArgs) -> Result<Tally, String> {
    let config = crate::aws::clients::sdk_config().await;
    let backfill = StatementZoneBackfill::new(aws_sdk_dynamodb::Client::new(&config), args.table.clone());
    let (sender, receiver) = tokio::sync::mpsc::channel::<String>(1024);
    let reader = std::thread::spawn(move || -> Result<(), String> {
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|e| format!("cannot read the account ids on stdin: {e}"))?;
            let id = line.trim();
            if !id.is_empty() && sender.blocking_send(id.to_string()).is_err() {
                break;
            }
        }
        Ok(())
    });
    let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
    let tally = Arc::new(Mutex::new(Tally {
        dry_run: args.dry_run,
        ..Tally::default()
    }));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (receiver, tally, backfill, dry_run) = (
            Arc::clone(&receiver),
            Arc::clone(&tally),
            backfill.clone(),
            args.dry_run,
        );
        workers.spawn(async move {
            loop {
                let Some(id) = receiver.lock().await.recv().await else {
                    break;
                };
                let outcome = backfill.backfill(&id, dry_run).await;
                let mut tally = tally.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if tally.stopped.is_some() {
                    break;
                }
                match outcome {
                    Ok(outcome) => tally.count(&outcome),
                    Err(BackfillError::Store(error)) if error.kind == FailureKind::Permanent => {
                        tally.failed += 1;
                        tally.stopped = Some(format!("{id}: {error}"));
                        break;
                    }
                    Err(error) => {
                        tally.failed += 1;
                        eprintln!("txn-notify: {id}: {error}");
                    }
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    // Workers gone (done or stopped): the reader's sends fail and it ends.
    drop(receiver);
    reader.join().map_err(|_| "the reader of stdin stopped".to_string())??;
    let tally = std::mem::take(&mut *tally.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    Ok(tally)
}

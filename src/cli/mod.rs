//! The `txn-notify` command line. Output for people by default, `--json` for machines.
//! Exit codes: 0 success, 1 a negative answer (invalid rules), 2 bad usage or input.

mod backfill;
mod bench;
mod cost;
mod dashboard;
mod dev;
mod generate;
mod invoke;
mod pattern;
mod replay;
mod rules_check;
mod simulate;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

use crate::rules::Rules;

#[derive(Debug, Parser)]
#[command(name = "txn-notify", version, about = "Real-time bank-transaction notifications")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole pipeline on this machine (embedded store, stream poller, bus, queues,
    /// outbox) on a realistic workload, and report what happened against what must.
    Simulate(simulate::SimulateArgs),
    /// Serve the ingest API on 127.0.0.1 and run the pipeline behind it continuously, with
    /// the outbox at /outbox/, until Ctrl-C.
    Dev(dev::DevArgs),
    /// Draw template.yaml's CloudWatch dashboard as a local HTML page from the EMF of a
    /// `simulate` or `dev` run.
    Dashboard(dashboard::DashboardArgs),
    /// The monthly AWS cost of a workload, line by line, for template.yaml's design and on
    /// EventBridge Pipes.
    Cost(cost::CostArgs),
    /// Give the account items of a ledger table written before the accounts-by-zone index
    /// their statement_zone key: account ids on stdin, one a line.
    BackfillStatementZones(backfill::BackfillArgs),
    /// Print the X-Signature header value of an ingest request (for curl).
    Sign(dev::SignArgs),
    /// Replay archived events with replay-name: an embedded run's archive (its --data-dir),
    /// letting the consumers drain them, or an EventBridge archive (--aws), followed to its end.
    Replay(replay::ReplayArgs),
    /// Run one handler on a Lambda event file, with in-memory adapters or on the embedded
    /// store of a folder (--data-dir).
    Invoke(invoke::InvokeArgs),
    /// Measure a handler in process on your own event file: records/s, events/s, PutEvents
    /// calls and peak RSS.
    Bench(bench::BenchArgs),
    /// Say whether an event matches an EventBridge event pattern, like
    /// `aws events test-event-pattern`: exit 0 match, 1 no match, 2 invalid input.
    Pattern(pattern::PatternArgs),
    /// Work with rules files.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Make sample Lambda events.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Check a rules file against the schema and the rule engine.
    Check(rules_check::CheckArgs),
    /// Print the built-in rules.
    Default,
}

#[derive(Debug, Subcommand)]
enum EventsCommand {
    /// Write a realistic DynamoDB stream event (accounts, a day of transactions, a few
    /// malformed records) for tests, benches and demos.
    Generate(generate::GenerateArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Function {
    Processor,
    Auditor,
    Notifier,
    Ingest,
    /// The digest planner for the event's hour, then the workers on what it queued.
    Digest,
    /// The digest workers alone, on an SQS batch of DigestQueue pages.
    DigestWorker,
    Feedback,
}

/// Where the rules come from: `--rules FILE`, else `TXN_NOTIFY_RULES`, else built in.
#[derive(Debug, Clone, clap::Args)]
pub struct RulesSource {
    /// A rules file to use instead of the built-in rules.
    #[arg(long, env = "TXN_NOTIFY_RULES", value_name = "FILE")]
    rules: Option<PathBuf>,
}

impl RulesSource {
    pub(crate) fn load(&self) -> Result<Arc<Rules>, String> {
        match &self.rules {
            None => Ok(Arc::new(Rules::builtin())),
            Some(path) => Rules::load(path)
                .map(Arc::new)
                .map_err(|e| format!("{}: {e}", path.display())),
        }
    }
}

/// `txn-notify cost --json | head -1`: when the reader goes away, end as Unix tools do, by
/// SIGPIPE, without a panic and its backtrace. Rust ignores SIGPIPE so that writes return
/// an error, and `println!` turns that error into a panic; the default action ends the
/// process quietly instead. Sockets are unaffected: they write with MSG_NOSIGNAL.
pub fn exit_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Simulate(args) => simulate::run(args),
        Command::Dev(args) => dev::run(args),
        Command::Sign(args) => dev::sign(args),
        Command::Dashboard(args) => dashboard::run(args),
        Command::Cost(args) => cost::run(args),
        Command::BackfillStatementZones(args) => backfill::run(args),
        Command::Invoke(args) => invoke::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Pattern(args) => pattern::run(args),
        Command::Rules {
            command: RulesCommand::Check(args),
        } => rules_check::run(args),
        Command::Rules {
            command: RulesCommand::Default,
        } => {
            print!("{}", crate::rules::DEFAULT_RULES_TOML);
            ExitCode::SUCCESS
        }
        Command::Events {
            command: EventsCommand::Generate(args),
        } => generate::run(args),
    }
}

/// A usage or input error: the message on stderr (or as JSON on stdout), exit code 2.
pub(crate) fn fail(json: bool, message: &str) -> ExitCode {
    if json {
        println!("{}", serde_json::json!({ "error": message }));
    } else {
        eprintln!("txn-notify: {message}");
    }
    ExitCode::from(2)
}

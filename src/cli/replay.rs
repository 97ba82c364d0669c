//! `txn-notify replay`: re-delivers archived events with `replay-name`. On the embedded
//! runtime (`--data-dir`), from its archive, showing that the consumers redo nothing they
//! had done; on AWS (`--aws --archive NAME`), with StartReplay, followed to its end.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};

use crate::clock::SystemClock;
use crate::ops::replay::{NoProgress, ReplayPlan, ReplayProgress, replay_archive};
use crate::ports::ReplayState;

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Replay an EventBridge archive (StartReplay, then DescribeReplay until it ends), with
    /// the standard AWS credentials, region and endpoint settings.
    #[arg(long)]
    aws: bool,
    /// --aws: the archive's name (the stack's EventArchiveName output).
    #[arg(long, value_name = "NAME", required_if_eq("aws", "true"))]
    archive: Option<String>,
    /// The folder of a `simulate` or `dev` run (its --data-dir), without --aws. Default:
    /// `dev`'s folder.
    #[arg(long, value_name = "DIR", conflicts_with = "aws")]
    data_dir: Option<PathBuf>,
    /// Events archived at or after this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    from: DateTime<Utc>,
    /// Events archived before this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    to: DateTime<Utc>,
    /// Only to this rule; repeatable. Default: every rule. Embedded: a rule of template.yaml
    /// (NotifyRule, AuditRule). --aws: a rule ARN, or a rule name on the archive's bus.
    #[arg(long = "rule", value_name = "RULE")]
    rules: Vec<String>,
    /// The replay's name (--aws default: txn-notify-<now>; embedded: txn-notify-replay).
    #[arg(long)]
    name: Option<String>,
    /// --aws: replay a window that ends within the last 10 minutes, which the archive may
    /// not hold in full yet.
    #[arg(long)]
    allow_recent: bool,
    /// --aws: seconds between DescribeReplay calls.
    #[arg(long, default_value_t = 5, value_name = "S")]
    poll_seconds: u64,
    #[arg(long)]
    json: bool,
}

pub fn run(args: ReplayArgs) -> ExitCode {
    if args.from >= args.to {
        return super::fail(args.json, "--from must be before --to");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return super::fail(args.json, &format!("cannot start the runtime: {e}")),
    };
    if args.aws {
        return runtime.block_on(run_on_aws(&args));
    }
    let data_dir = args.data_dir.clone().unwrap_or_else(|| PathBuf::from(".txn-notify"));
    let name = args.name.clone().unwrap_or_else(|| "txn-notify-replay".into());
    let result = runtime.block_on(crate::local::tools::simulate::replay(
        &data_dir,
        &name,
        args.from,
        args.to,
        &args.rules,
    ));
    match result {
        Err(error) => super::fail(args.json, &error.to_string()),
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

struct Bar(ProgressBar);

impl ReplayProgress for Bar {
    fn started(&self, name: &str) {
        self.0.set_prefix(name.to_string());
    }

    fn progressed(&self, state: &ReplayState, done: f64) {
        self.0.set_position((done * 1000.0).round() as u64);
        self.0.set_message(state.as_str().to_string());
    }
}

async fn run_on_aws(args: &ReplayArgs) -> ExitCode {
    let config = crate::aws::clients::sdk_config().await;
    let replays = crate::aws::eventbridge::replay::EventBridgeReplays::new(aws_sdk_eventbridge::Client::new(&config));
    let plan = ReplayPlan {
        archive: args.archive.clone().unwrap_or_default(),
        from: args.from,
        to: args.to,
        rules: args.rules.clone(),
        name: args.name.clone(),
        allow_recent: args.allow_recent,
        poll_every: Duration::from_secs(args.poll_seconds.max(1)),
    };
    let result = if args.json {
        replay_archive(&replays, &SystemClock, &plan, &NoProgress).await
    } else {
        let bar = ProgressBar::new(1000).with_style(
            ProgressStyle::with_template("{prefix} {bar:40} {percent:>3}% of the window  {msg}")
                .expect("a valid template"),
        );
        let result = replay_archive(&replays, &SystemClock, &plan, &Bar(bar.clone())).await;
        bar.finish_and_clear();
        result
    };
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(error) => return super::fail(args.json, &error.to_string()),
    };
    let succeeded = outcome.state == "COMPLETED";
    if args.json {
        println!("{}", serde_json::to_string(&outcome).expect("an outcome serializes"));
    } else {
        let time = |t: &Option<DateTime<Utc>>| {
            t.as_ref()
                .map(crate::domain::time::format_rfc3339)
                .unwrap_or_else(|| "-".into())
        };
        println!(
            "replay {}: {}{}",
            outcome.replay_name,
            outcome.state,
            outcome.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
        );
        println!("  archive   {}", outcome.archive_arn);
        println!("  to        {}", outcome.event_bus_arn);
        if outcome.rule_arns.is_empty() {
            println!("  rules     every rule of the bus");
        } else {
            for rule in &outcome.rule_arns {
                println!("  rule      {rule}");
            }
        }
        println!(
            "  window    {} → {}, last replayed {}",
            time(&Some(outcome.from)),
            time(&Some(outcome.to)),
            time(&outcome.last_replayed)
        );
        println!(
            "  ran       {} → {}",
            time(&outcome.started_at),
            time(&outcome.ended_at)
        );
        for note in &outcome.notes {
            println!("  note      {note}");
        }
    }
    if succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

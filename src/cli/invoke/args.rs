//! The options of `txn-notify invoke`, shared by every handler.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::cli::{Function, RulesSource};

#[derive(Debug, clap::Args)]
pub struct InvokeArgs {
    /// The handler to run.
    pub(crate) function: Function,
    /// A Lambda event file (JSON).
    #[arg(long, short, value_name = "FILE")]
    pub(crate) event: PathBuf,
    /// Print one JSON object (processor: {"response", "published"}; notifier: {"response",
    /// "emails", "events"}; ingest: the API Gateway response; digest: {"report", "published"};
    /// feedback: {"response", "stats", "accounts", "notifications", "published"}).
    #[arg(long)]
    pub(crate) json: bool,
    /// The event bus name put on every entry.
    #[arg(long, env = "TXN_NOTIFY_EVENT_BUS", default_value = "txn-notify")]
    pub(crate) bus: String,
    /// Run as if it were this time (RFC 3339), for reproducible output and for the signed
    /// sample requests of events/api/.
    #[arg(long, value_name = "TIME")]
    pub(crate) now: Option<DateTime<Utc>>,
    #[command(flatten)]
    pub(crate) rules: RulesSource,
    /// notifier: also write each email as an RFC 5322 .eml file into this folder.
    #[arg(long, value_name = "DIR")]
    pub(crate) outbox: Option<PathBuf>,
    /// notifier, ingest, digest: seed the in-memory ledger from this file: a DynamoDB Scan
    /// output ({"Items": [...]}) or a stream event. Default: events/ledger/sample.json when
    /// it exists (run from the repository), else an empty ledger.
    #[arg(long, value_name = "FILE")]
    pub(crate) ledger: Option<PathBuf>,
    /// feedback: the SES configuration set whose events are ours (others are skipped).
    #[arg(long, env = "TXN_NOTIFY_SES_CONFIGURATION_SET", default_value = crate::template::CONFIGURATION_SET)]
    pub(crate) configuration_set: String,
    /// notifier: the sender address.
    #[arg(long, env = "TXN_NOTIFY_SENDER", default_value = "alerts@txn-notify.example")]
    pub(crate) sender: String,
    /// Run against the embedded store in this folder (as `dev` and `simulate` keep it)
    /// instead of in-memory adapters: the processor reads profiles from its ledger and
    /// publishes onto its bus (archive and queues); the notifier sends into its outbox under
    /// its idempotency records; the auditor writes its audit items; ingest and the digest
    /// read and write its ledger. `--ledger` does not apply.
    #[arg(long, value_name = "DIR", conflicts_with = "ledger")]
    pub(crate) data_dir: Option<PathBuf>,
}

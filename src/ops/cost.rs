//! The monthly cost of running txn-notify on AWS (`txn-notify cost`), from one price table
//! and a workload model written out below, for the design in template.yaml and for the
//! same flow on EventBridge Pipes. Amounts are integers of picodollars (10⁻¹² USD), so
//! unit prices as small as Lambda's per GB-second stay exact; only the workload's rates
//! are fractions.
//!
//! Prices: US East (N. Virginia) list prices, on-demand, without free tiers (an account in
//! production has usually spent them). `PRICES_AS_OF` says when they were read; AWS's
//! pricing pages are the authority.

use serde::Serialize;

use crate::pipeline::digest::MAX_ACCOUNTS_PER_PAGE;
use crate::pipeline::digest::schedule::{RUNS_PER_WEEK, zones_known};
use crate::ports::MAX_MESSAGES_PER_SEND;
use crate::template::{QueueSource, StreamSource, Template, TemplateError, functions};

pub const PRICES_AS_OF: &str = "2026-11";

/// 1 USD in picodollars.
const USD: u128 = 1_000_000_000_000;
const MONTH_HOURS: u64 = 730;
const MONTH_DAYS_X100: u64 = 3042; // 730 h / 24, in hundredths
const WEEKS_PER_MONTH_X100: u64 = 435;

/// One price: picodollars per `per` units of `unit`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Price {
    pub service: &'static str,
    pub item: &'static str,
    pub picodollars: u128,
    pub per: u64,
    pub unit: &'static str,
}

const fn usd_per(service: &'static str, item: &'static str, micro_usd: u128, per: u64, unit: &'static str) -> Price {
    Price {
        service,
        item,
        picodollars: micro_usd * 1_000_000,
        per,
        unit,
    }
}

/// The price table. Each line: the service, what is billed, the price (in millionths of a
/// dollar, so $0.20 is 200_000) for `per` units.
pub mod prices {
    use super::{Price, usd_per};
    /// Lambda, arm64: $0.0000133334 per GB-second (first 7.5 billion), billed per ms.
    pub const LAMBDA_GB_SECOND: Price = usd_per("Lambda", "arm64 compute", 13_333_400, 1_000_000, "GB-s");
    /// Lambda requests: $0.20 per million.
    pub const LAMBDA_REQUESTS: Price = usd_per("Lambda", "requests", 200_000, 1_000_000, "invocations");
    /// DynamoDB on-demand writes: $0.625 per million write request units.
    pub const DYNAMODB_WRITES: Price = usd_per("DynamoDB", "on-demand writes", 625_000, 1_000_000, "WRU");
    /// DynamoDB on-demand reads: $0.125 per million read request units.
    pub const DYNAMODB_READS: Price = usd_per("DynamoDB", "on-demand reads", 125_000, 1_000_000, "RRU");
    /// DynamoDB Streams reads: GetRecords by a Lambda trigger are free ($0.02 per 100,000
    /// read request units otherwise).
    pub const DYNAMODB_STREAM_READS_BY_LAMBDA: Price = usd_per(
        "DynamoDB",
        "stream reads (Lambda trigger)",
        0,
        1_000_000,
        "read requests",
    );
    /// DynamoDB storage: $0.25 per GB-month (standard table class).
    pub const DYNAMODB_STORAGE: Price = usd_per("DynamoDB", "storage", 250_000, 1, "GB-month");
    /// Continuous backups (PITR) of the ledger: $0.20 per GB-month.
    pub const DYNAMODB_PITR: Price = usd_per("DynamoDB", "point-in-time recovery", 200_000, 1, "GB-month");
    /// EventBridge custom events: $1.00 per million, each 64 KB chunk an event.
    pub const EVENTBRIDGE_EVENTS: Price = usd_per(
        "EventBridge",
        "custom events (64 KB chunks)",
        1_000_000,
        1_000_000,
        "events",
    );
    /// EventBridge archive: $0.10 per GB processed into it.
    pub const EVENTBRIDGE_ARCHIVE_PROCESSING: Price = usd_per("EventBridge", "archive processing", 100_000, 1, "GB");
    /// EventBridge archive storage: $0.023 per GB-month.
    pub const EVENTBRIDGE_ARCHIVE_STORAGE: Price = usd_per("EventBridge", "archive storage", 23_000, 1, "GB-month");
    /// EventBridge Pipes: $0.40 per million requests (after filtering), each 64 KB chunk one.
    pub const PIPES_REQUESTS: Price = usd_per(
        "EventBridge Pipes",
        "pipe requests (64 KB chunks)",
        400_000,
        1_000_000,
        "requests",
    );
    /// SQS standard queues: $0.40 per million requests, each 64 KB chunk one.
    pub const SQS_REQUESTS: Price = usd_per("SQS", "queue requests (64 KB chunks)", 400_000, 1_000_000, "requests");
    /// EventBridge Scheduler: $1.00 per million invocations (the planner's runs).
    pub const SCHEDULER_INVOCATIONS: Price = usd_per(
        "Scheduler",
        "scheduled invocations",
        1_000_000,
        1_000_000,
        "invocations",
    );
    /// SES outbound email: $0.10 per 1,000.
    pub const SES_EMAILS: Price = usd_per("SES", "emails", 100_000, 1_000, "emails");
    /// API Gateway HTTP API: $1.00 per million requests (first 300 million, 512 KB each).
    pub const HTTP_API_REQUESTS: Price = usd_per("API Gateway", "HTTP API requests", 1_000_000, 1_000_000, "requests");
    /// Secrets Manager: $0.40 per secret-month.
    pub const SECRET_MONTH: Price = usd_per("Secrets Manager", "secret", 400_000, 1, "secret-month");
    /// Secrets Manager API calls: $0.05 per 10,000.
    pub const SECRET_CALLS: Price = usd_per("Secrets Manager", "API calls", 50_000, 10_000, "calls");
    /// CloudWatch Logs ingestion: $0.50 per GB.
    pub const LOGS_INGESTION: Price = usd_per("CloudWatch", "logs ingested", 500_000, 1, "GB");
    /// CloudWatch Logs storage: $0.03 per GB-month.
    pub const LOGS_STORAGE: Price = usd_per("CloudWatch", "logs stored", 30_000, 1, "GB-month");
    /// CloudWatch custom metrics (EMF): $0.30 per metric-month (first 10,000).
    pub const CUSTOM_METRICS: Price = usd_per("CloudWatch", "custom metrics", 300_000, 1, "metric-months");
    /// CloudWatch dashboards: $3.00 per dashboard-month (beyond the first three).
    pub const DASHBOARDS: Price = usd_per("CloudWatch", "dashboard", 3_000_000, 1, "dashboard-months");
    /// CloudWatch standard-resolution alarms: $0.10 per alarm-month.
    pub const ALARMS: Price = usd_per("CloudWatch", "alarms", 100_000, 1, "alarm-months");
}

/// The workload: what the operator says about their traffic.
#[derive(Debug, Clone, Serialize)]
pub struct Workload {
    pub transactions_per_day: u64,
    /// Alert events (Large Transaction, Low Balance, Foreign Transaction, …) per transaction.
    pub alert_rate: f64,
    /// Emails per transaction (the email policy and preferences decide; `simulate` measures
    /// 0.93 on its workload).
    pub email_rate: f64,
    pub accounts: u64,
}

/// How the functions behave, measured. Durations are warm billed milliseconds on 256 MB
/// arm64, rounded up from the local runs and the SDK's round trips to DynamoDB, EventBridge
/// and SES in-region. What template.yaml sets (memory, batch sizes and windows, the
/// dashboard, the alarms) is read from it: `Deployment`.
pub mod model {
    /// Ingest: verify, one account read, one TransactWriteItems.
    pub const INGEST_MS: u64 = 12;
    /// Processor: a fixed part, then per record (decode, rules) and per PutEvents call.
    pub const PROCESSOR_BASE_MS: u64 = 8;
    pub const PROCESSOR_PER_RECORD_US: u64 = 400;
    pub const PUT_EVENTS_MS: u64 = 15;
    /// Notifier, per message: emailed (profile, claim, SES, complete) or not.
    pub const NOTIFY_EMAIL_MS: u64 = 45;
    pub const NOTIFY_OTHER_MS: u64 = 8;
    /// Auditor, per message (one conditional put), plus a fixed part per invocation.
    pub const AUDIT_MS: u64 = 6;
    pub const CONSUMER_BASE_MS: u64 = 3;
    /// Feedback, per SES event: a strongly consistent read of the notification and, when
    /// its state moves, one conditional update.
    pub const FEEDBACK_MS: u64 = 10;
    /// SES's events per email of the configuration set: Send, then Delivery (bounces and
    /// complaints are a small share and replace the Delivery). SES's events on the default
    /// bus and the rule that matches them are not billed.
    pub const FEEDBACK_EVENTS_PER_EMAIL: u64 = 2;
    /// Digest planner, per run: the zones due this hour (a Query of the index each, most
    /// of them empty), then per page of 1,000 ids read and per SendMessageBatch.
    pub const PLANNER_RUN_MS: u64 = 60;
    pub const PLANNER_PER_INDEX_PAGE_MS: u64 = 10;
    pub const PLANNER_PER_SEND_MS: u64 = 10;
    /// Digest worker, per page: one BatchGetItem of its profiles; per account due: one
    /// Query of its week and its share of a PutEvents call.
    pub const DIGEST_PER_PAGE_MS: u64 = 15;
    pub const DIGEST_PER_ACCOUNT_MS: u64 = 12;
    /// The zones a bank's accounts live in: each zone's last page is a partial one.
    pub const ZONES_WITH_ACCOUNTS: u64 = 20;
    /// A page of 100 account ids on DigestQueue (ids of about 36 characters, JSON).
    pub const DIGEST_PAGE_BYTES: u64 = 4_200;
    /// An entry of the keys-only index: statement_zone, account_id and the table's keys.
    pub const INDEX_ENTRY_BYTES: u64 = 120;
    pub const ACCOUNT_ITEM_BYTES: u64 = 900;
    /// Accounts opened (or moved to another zone, or closed) per month, in hundredths of a
    /// percent of the accounts: the writes that touch the index entry.
    pub const ACCOUNT_INDEX_CHANGES_PER_MONTH_BP: u64 = 200;
    /// Item sizes, bytes.
    pub const TRANSACTION_ITEM_BYTES: u64 = 1_100;
    pub const AUDIT_ITEM_BYTES: u64 = 1_500;
    /// The notifier's decision for an event, in the audit table.
    pub const NOTIFICATION_ITEM_BYTES: u64 = 600;
    pub const EVENT_BYTES: u64 = 1_800;
    /// The ledger keeps a year of transactions (the digest reads only each account's week).
    pub const LEDGER_DAYS: u64 = 365;
    pub const AUDIT_DAYS: u64 = 396;
    pub const ARCHIVE_DAYS: u64 = 30;
    pub const LOG_RETENTION_DAYS: u64 = 30;
    /// Log bytes: per invocation (START/END/REPORT, our summary line, the EMF document) and
    /// per record (its latency values in EMF, an info line per email or request).
    pub const LOG_BYTES_PER_INVOCATION: u64 = 1_600;
    pub const LOG_BYTES_PER_RECORD: u64 = 60;
    pub const LOG_BYTES_PER_EMAIL: u64 = 260;
    pub const LOG_BYTES_PER_REQUEST: u64 = 420;
    /// Lambda's SQS pollers long-poll an idle queue: 5 pollers, a 20 s wait each.
    pub const SQS_IDLE_RECEIVES_PER_QUEUE: u64 = 5 * 3 * 60 * super::MONTH_HOURS;
    /// Ingest environments alive at once (each fetches the secret every 5 minutes).
    pub const INGEST_ENVIRONMENTS: u64 = 2;
    /// Custom metrics: the TxnNotify (Function, MetricName) pairs of the dashboard, plus
    /// EventsPublished per detail-type (11 from the processor, 1 from the digest, Notification
    /// Undeliverable from the notifier and feedback).
    pub const METRICS_BY_DETAIL_TYPE: u64 = 13;
    /// FeedbackReceived per SES event type (Send, Delivery, DeliveryDelay, Bounce,
    /// Complaint, Reject, Rendering Failure).
    pub const METRICS_BY_EVENT_TYPE: u64 = 7;
    /// Pipes: an event bus target takes at most 10 events per batch, and a record can raise
    /// up to 3 events (Transaction Recorded and two alerts), so a pipe's source batch holds
    /// at most 3 records.
    pub const PIPES_RECORDS_PER_BATCH: u64 = 3;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Design {
    /// template.yaml: the processor Lambda on the stream's event source mapping, publishing
    /// with PutEvents.
    Lambda,
    /// The same flow on EventBridge Pipes: the stream → a pipe (filter) → the rule engine as
    /// the pipe's enrichment Lambda → the bus as its target.
    Pipes,
}

#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub service: &'static str,
    pub item: &'static str,
    pub quantity: u64,
    pub unit: &'static str,
    pub picodollars: u128,
}

#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    pub design: Design,
    pub workload: Workload,
    pub transactions_per_month: u64,
    pub lines: Vec<Line>,
    pub total_picodollars: u128,
    pub per_million_transactions_picodollars: u128,
    pub prices_as_of: &'static str,
}

/// Dollars and cents, rounded to the nearest cent.
pub fn dollars(picodollars: u128) -> String {
    let cents = (picodollars + USD / 200) / (USD / 100);
    format!("${}.{:02}", group(cents / 100), cents % 100)
}

fn group(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn charge(price: Price, quantity: u64) -> Line {
    Line {
        service: price.service,
        item: price.item,
        quantity,
        unit: price.unit,
        picodollars: price.picodollars * u128::from(quantity) / u128::from(price.per),
    }
}

/// GB-seconds are billed from MB-milliseconds; the quantity shown is whole GB-s.
fn compute(mb_ms: u128) -> Line {
    let price = prices::LAMBDA_GB_SECOND;
    Line {
        service: price.service,
        item: price.item,
        quantity: u64::try_from(mb_ms / (1024 * 1000)).unwrap_or(u64::MAX),
        unit: price.unit,
        picodollars: price.picodollars * mb_ms / (1024 * 1000) / u128::from(price.per),
    }
}

fn times(count: u64, rate: f64) -> u64 {
    (count as f64 * rate.max(0.0)).round() as u64
}

/// GB (rounded up) of `count` items of `bytes` each.
fn gigabytes(count: u64, bytes: u64) -> u64 {
    (u128::from(count) * u128::from(bytes)).div_ceil(1 << 30) as u64
}

/// A batch's size when records arrive at `per_day` and the source waits `window_s` for up
/// to `max` of them.
fn batch_size(per_day: u64, window_s: u64, max: u64) -> u64 {
    (per_day * window_s / 86_400).clamp(1, max)
}

/// Write request units of an item of `bytes` (1 per KB, rounded up).
fn wru(bytes: u64) -> u64 {
    bytes.div_ceil(1024)
}

/// What the cost depends on in template.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The TxnNotify (function, metric) pairs on the dashboard.
    pub dashboard_metrics: u64,
    pub alarms: u64,
    pub ingest_memory_mb: u64,
    pub processor_memory_mb: u64,
    pub notifier_memory_mb: u64,
    pub auditor_memory_mb: u64,
    pub digest_planner_memory_mb: u64,
    pub digest_worker_memory_mb: u64,
    pub feedback_memory_mb: u64,
    /// The processor's stream event source.
    pub stream: StreamSource,
    pub notify_queue: QueueSource,
    pub audit_queue: QueueSource,
    pub feedback_queue: QueueSource,
    pub digest_queue: QueueSource,
}

impl Deployment {
    pub fn from_template(template: &Template) -> Result<Deployment, TemplateError> {
        let body = template.dashboard_body()?;
        let mut pairs = std::collections::BTreeSet::new();
        for widget in body["widgets"].as_array().into_iter().flatten() {
            for line in widget["properties"]["metrics"].as_array().into_iter().flatten() {
                let Some(parts) = line.as_array() else { continue };
                if parts.first().and_then(|v| v.as_str()) == Some(crate::telemetry::emf::NAMESPACE) {
                    pairs.insert((parts[3].to_string(), parts[1].to_string()));
                }
            }
        }
        let queue = |function: &str| {
            template
                .queue_sources()?
                .into_iter()
                .find(|source| source.function == function)
                .ok_or_else(|| TemplateError::Missing(format!("SQS event source on {function}")))
        };
        Ok(Deployment {
            dashboard_metrics: pairs.len() as u64,
            alarms: template.alarm_count() as u64,
            ingest_memory_mb: template.memory_mb(functions::INGEST)?,
            processor_memory_mb: template.memory_mb(functions::PROCESSOR)?,
            notifier_memory_mb: template.memory_mb(functions::NOTIFIER)?,
            auditor_memory_mb: template.memory_mb(functions::AUDITOR)?,
            digest_planner_memory_mb: template.memory_mb(functions::DIGEST_PLANNER)?,
            digest_worker_memory_mb: template.memory_mb(functions::DIGEST_WORKER)?,
            feedback_memory_mb: template.memory_mb(functions::FEEDBACK)?,
            stream: template.stream_source(functions::PROCESSOR)?,
            notify_queue: queue(functions::NOTIFIER)?,
            audit_queue: queue(functions::AUDITOR)?,
            feedback_queue: queue(functions::FEEDBACK)?,
            digest_queue: queue(functions::DIGEST_WORKER)?,
        })
    }
}

/// The estimate for a month of this workload on this deployment.
pub fn estimate(workload: &Workload, design: Design, deployment: &Deployment) -> Estimate {
    use model::*;
    let window = |source: std::time::Duration| source.as_secs().max(1);
    let per_day = workload.transactions_per_day;
    let transactions = per_day * MONTH_DAYS_X100 / 100;
    let alerts = times(transactions, workload.alert_rate);
    let statements = workload.accounts * WEEKS_PER_MONTH_X100 / 100;
    let events = transactions + alerts + statements;
    let emails = times(transactions, workload.email_rate) + statements;
    let notify_messages = transactions + statements;

    // Lambda.
    let processor_batch = match design {
        Design::Lambda => batch_size(
            per_day,
            window(deployment.stream.batching_window),
            deployment.stream.batch_size as u64,
        ),
        Design::Pipes => batch_size(per_day, 1, PIPES_RECORDS_PER_BATCH),
    };
    let processor_invocations = transactions.div_ceil(processor_batch);
    let events_per_batch = (processor_batch * (transactions + alerts)).div_ceil(transactions.max(1));
    let put_calls_per_batch = events_per_batch.div_ceil(10);
    let processor_ms_per_batch = PROCESSOR_BASE_MS
        + processor_batch * PROCESSOR_PER_RECORD_US / 1000
        + match design {
            Design::Lambda => put_calls_per_batch * PUT_EVENTS_MS,
            // The pipe puts the events itself.
            Design::Pipes => 0,
        };
    let notify = &deployment.notify_queue;
    let notify_batch = batch_size(
        notify_messages / 30,
        window(notify.batching_window),
        notify.batch_size as u64,
    );
    let notify_invocations = notify_messages.div_ceil(notify_batch);
    let audit = &deployment.audit_queue;
    let audit_batch = batch_size(events / 30, window(audit.batching_window), audit.batch_size as u64);
    let audit_invocations = events.div_ceil(audit_batch);
    let feedback_messages = emails * FEEDBACK_EVENTS_PER_EMAIL;
    let feedback = &deployment.feedback_queue;
    let feedback_batch = batch_size(
        feedback_messages / 30,
        window(feedback.batching_window),
        feedback.batch_size as u64,
    );
    let feedback_invocations = feedback_messages.div_ceil(feedback_batch);
    // The digest: the planner's runs of the Monday window, each zone's accounts read from
    // the index once a week and queued in pages; the workers take the pages in batches.
    let weekly = |per_week: u64| per_week * WEEKS_PER_MONTH_X100 / 100;
    let planner_runs = weekly(RUNS_PER_WEEK);
    let digest_pages_per_week =
        workload.accounts.div_ceil(MAX_ACCOUNTS_PER_PAGE as u64) + ZONES_WITH_ACCOUNTS.min(workload.accounts);
    let digest_pages = weekly(digest_pages_per_week);
    let index_pages = weekly(workload.accounts.div_ceil(1000) + zones_known());
    let pages_per_send = (MAX_MESSAGES_PER_SEND as u64).min((64 * 1024 / DIGEST_PAGE_BYTES).max(1));
    let digest_sends = weekly(digest_pages_per_week.div_ceil(pages_per_send));
    let digest_invocations = weekly(digest_pages_per_week.div_ceil(deployment.digest_queue.batch_size as u64));
    let invocations = transactions
        + processor_invocations
        + notify_invocations
        + audit_invocations
        + feedback_invocations
        + planner_runs
        + digest_invocations;
    let mb = |memory_mb: u64, ms: u64| u128::from(memory_mb) * u128::from(ms);
    let mb_ms = mb(deployment.ingest_memory_mb, transactions * INGEST_MS)
        + mb(
            deployment.processor_memory_mb,
            processor_invocations * processor_ms_per_batch,
        )
        + mb(
            deployment.notifier_memory_mb,
            notify_invocations * CONSUMER_BASE_MS
                + emails * NOTIFY_EMAIL_MS
                + notify_messages.saturating_sub(emails) * NOTIFY_OTHER_MS,
        )
        + mb(
            deployment.auditor_memory_mb,
            audit_invocations * CONSUMER_BASE_MS + events * AUDIT_MS,
        )
        + mb(
            deployment.feedback_memory_mb,
            feedback_invocations * CONSUMER_BASE_MS + feedback_messages * FEEDBACK_MS,
        )
        + mb(
            deployment.digest_planner_memory_mb,
            planner_runs * PLANNER_RUN_MS
                + index_pages * PLANNER_PER_INDEX_PAGE_MS
                + digest_sends * PLANNER_PER_SEND_MS,
        )
        + mb(
            deployment.digest_worker_memory_mb,
            digest_invocations * CONSUMER_BASE_MS
                + digest_pages * DIGEST_PER_PAGE_MS
                + statements * DIGEST_PER_ACCOUNT_MS,
        );

    // DynamoDB. Ingest: a transaction of two items (the marker and the transaction), 2 WRU
    // per KB each; one eventually consistent read of the account (0.5 RRU). Processor: the
    // batch's profiles. Notifier: a profile read and two idempotency writes per email, and
    // its decision for every message (an item and its index entry). Auditor: one item plus
    // its by-account index entry. Feedback: a strongly consistent read of the notification per
    // SES event (1 RRU), and the Delivery's update of it (the item and its index entry).
    // Digest, all eventually consistent (half a unit per 4 KB): a Query of the keys-only
    // index per zone a week (never a transaction: only account items carry its key), one
    // BatchGetItem of each page's profiles, one Query of each account's week. An account
    // item written with a new zone (opened, moved, closed) also writes its index entry.
    let transaction_wru = 2 * (wru(TRANSACTION_ITEM_BYTES) + 1);
    let account_index_changes = workload.accounts * ACCOUNT_INDEX_CHANGES_PER_MONTH_BP / 10_000;
    let writes = transactions * transaction_wru
        + emails * 2
        + notify_messages * 2 * wru(NOTIFICATION_ITEM_BYTES)
        + events * 2 * wru(AUDIT_ITEM_BYTES)
        + emails * 2 * wru(NOTIFICATION_ITEM_BYTES)
        + account_index_changes * (wru(ACCOUNT_ITEM_BYTES) + wru(INDEX_ENTRY_BYTES));
    let ledger_items = per_day * LEDGER_DAYS;
    let index_units = weekly(zones_known() + (workload.accounts * INDEX_ENTRY_BYTES).div_ceil(4096));
    let profile_units = statements * ACCOUNT_ITEM_BYTES.div_ceil(4096);
    let week_per_account = (per_day * 7 * TRANSACTION_ITEM_BYTES / workload.accounts.max(1)).div_ceil(4096);
    let reads_x2 = transactions + processor_invocations * processor_batch.min(workload.accounts.max(1)) + emails;
    let reads = reads_x2.div_ceil(2) + feedback_messages;
    let digest_reads = (index_units + profile_units + statements * week_per_account.max(1)).div_ceil(2);
    let ledger_gb = gigabytes(ledger_items, TRANSACTION_ITEM_BYTES * 2)
        + gigabytes(workload.accounts, ACCOUNT_ITEM_BYTES + INDEX_ENTRY_BYTES);
    let audit_gb = gigabytes(events / 30 * AUDIT_DAYS, AUDIT_ITEM_BYTES * 2)
        + gigabytes(notify_messages / 30 * AUDIT_DAYS, NOTIFICATION_ITEM_BYTES * 2);

    // EventBridge, SQS.
    let archive_gb = gigabytes(events, EVENT_BYTES);
    let archive_stored_gb = gigabytes(events / 30 * ARCHIVE_DAYS, EVENT_BYTES);
    // Per message: EventBridge's send, the poller's receive (one per batch), the delete
    // batch (one per batch); the planner's SendMessageBatch calls; plus the idle long polls
    // of the four queues with a Lambda event source.
    let sqs_requests = (notify_messages + events + feedback_messages)
        + 2 * (notify_invocations + audit_invocations + feedback_invocations + digest_invocations)
        + digest_sends
        + 4 * SQS_IDLE_RECEIVES_PER_QUEUE;

    // CloudWatch.
    let log_bytes = u128::from(invocations) * u128::from(LOG_BYTES_PER_INVOCATION)
        + u128::from(transactions + events + feedback_messages + statements) * u128::from(LOG_BYTES_PER_RECORD)
        + u128::from(emails) * u128::from(LOG_BYTES_PER_EMAIL)
        + u128::from(transactions) * u128::from(LOG_BYTES_PER_REQUEST);
    let log_gb = u64::try_from(log_bytes.div_ceil(1 << 30)).unwrap_or(u64::MAX);
    let log_stored_gb = log_gb * LOG_RETENTION_DAYS / 30;
    let secret_calls = INGEST_ENVIRONMENTS * 12 * MONTH_HOURS;

    let mut lines = vec![
        compute(mb_ms),
        charge(prices::LAMBDA_REQUESTS, invocations),
        charge(prices::DYNAMODB_WRITES, writes),
        charge(prices::DYNAMODB_READS, reads),
        Line {
            item: "on-demand reads (statements)",
            ..charge(prices::DYNAMODB_READS, digest_reads)
        },
        charge(prices::DYNAMODB_STREAM_READS_BY_LAMBDA, processor_invocations),
        charge(prices::DYNAMODB_STORAGE, ledger_gb + audit_gb),
        charge(prices::DYNAMODB_PITR, ledger_gb),
        charge(prices::EVENTBRIDGE_EVENTS, events),
        charge(prices::EVENTBRIDGE_ARCHIVE_PROCESSING, archive_gb),
        charge(prices::EVENTBRIDGE_ARCHIVE_STORAGE, archive_stored_gb),
    ];
    if design == Design::Pipes {
        // One request per stream record that passes the filter (transactions and their
        // changes; the uniqueness markers are filtered out, unbilled).
        lines.push(charge(prices::PIPES_REQUESTS, transactions));
    }
    lines.extend([
        charge(prices::SQS_REQUESTS, sqs_requests),
        charge(prices::SCHEDULER_INVOCATIONS, planner_runs),
        charge(prices::SES_EMAILS, emails),
        charge(prices::HTTP_API_REQUESTS, transactions),
        charge(prices::SECRET_MONTH, 1),
        charge(prices::SECRET_CALLS, secret_calls),
        charge(prices::LOGS_INGESTION, log_gb),
        charge(prices::LOGS_STORAGE, log_stored_gb),
        charge(
            prices::CUSTOM_METRICS,
            deployment.dashboard_metrics + METRICS_BY_DETAIL_TYPE + METRICS_BY_EVENT_TYPE,
        ),
        charge(prices::DASHBOARDS, 1),
        charge(prices::ALARMS, deployment.alarms),
    ]);
    let total: u128 = lines.iter().map(|l| l.picodollars).sum();
    Estimate {
        design,
        workload: workload.clone(),
        transactions_per_month: transactions,
        per_million_transactions_picodollars: if transactions == 0 {
            0
        } else {
            total * 1_000_000 / u128::from(transactions)
        },
        lines,
        total_picodollars: total,
        prices_as_of: PRICES_AS_OF,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Deployment {
        Deployment::from_template(Template::builtin()).unwrap()
    }

    fn workload(per_day: u64) -> Workload {
        Workload {
            transactions_per_day: per_day,
            alert_rate: 0.2,
            email_rate: 0.93,
            accounts: per_day / 10,
        }
    }

    fn line<'a>(estimate: &'a Estimate, item: &str) -> &'a Line {
        estimate.lines.iter().find(|l| l.item == item).unwrap()
    }

    #[test]
    fn amounts_are_exact_and_print_in_dollars_and_cents() {
        assert_eq!(dollars(0), "$0.00");
        assert_eq!(dollars(USD * 1234 + USD / 2), "$1,234.50");
        assert_eq!(dollars(USD / 200), "$0.01", "half a cent rounds up");
        // 3,000,000 emails at $0.10 per 1,000.
        assert_eq!(charge(prices::SES_EMAILS, 3_000_000).picodollars, 300 * USD);
        // 1,024,000 MB-ms = 1 GB-s.
        assert_eq!(compute(1024 * 1000).picodollars, 13_333_400, "$0.0000133334");
    }

    #[test]
    fn a_million_transactions_a_day_costs_what_its_lines_add_up_to() {
        let estimate = estimate(&workload(1_000_000), Design::Lambda, &deployment());
        assert_eq!(estimate.transactions_per_month, 30_420_000);
        // 30.42 M transactions, 6.08 M alerts, 0.43 M statements.
        assert_eq!(
            line(&estimate, "custom events (64 KB chunks)").quantity,
            30_420_000 + 6_084_000 + 435_000
        );
        assert_eq!(line(&estimate, "emails").quantity, 28_290_600 + 435_000);
        assert_eq!(line(&estimate, "HTTP API requests").quantity, 30_420_000);
        // The dashboard's 54 (function, metric) pairs, 13 EventsPublished by detail-type and
        // 7 FeedbackReceived by SES event type.
        assert_eq!(line(&estimate, "custom metrics").quantity, 74);
        // The planner runs every hour from Sunday 16:00 to Monday 18:00 UTC: 27 a week.
        assert_eq!(line(&estimate, "scheduled invocations").quantity, 27 * 435 / 100);
        let sum: u128 = estimate.lines.iter().map(|l| l.picodollars).sum();
        assert_eq!(sum, estimate.total_picodollars);
        // SES and the API are the big lines at this volume; nothing is negative or absurd.
        let ses = line(&estimate, "emails").picodollars;
        assert!(ses > 2_800 * USD && ses < 2_900 * USD, "{}", dollars(ses));
        assert!(
            estimate.total_picodollars < 20_000 * USD,
            "{}",
            dollars(estimate.total_picodollars)
        );
    }

    #[test]
    fn cost_grows_with_volume_and_alerts() {
        let small = estimate(&workload(10_000), Design::Lambda, &deployment());
        let large = estimate(&workload(1_000_000), Design::Lambda, &deployment());
        assert!(large.total_picodollars > 50 * small.total_picodollars);
        let mut alerting = workload(1_000_000);
        alerting.alert_rate = 1.0;
        let more = estimate(&alerting, Design::Lambda, &deployment());
        assert!(more.total_picodollars > large.total_picodollars);
    }

    #[test]
    fn pipes_adds_its_requests_and_saves_the_processor_put_events_time() {
        let lambda = estimate(&workload(1_000_000), Design::Lambda, &deployment());
        let pipes = estimate(&workload(1_000_000), Design::Pipes, &deployment());
        assert_eq!(
            line(&pipes, "pipe requests (64 KB chunks)").quantity,
            pipes.transactions_per_month
        );
        assert!(line(&pipes, "arm64 compute").picodollars < line(&lambda, "arm64 compute").picodollars);
        assert!(pipes.total_picodollars > lambda.total_picodollars);
    }

    #[test]
    fn the_compute_line_follows_the_memory_template_yaml_gives() {
        let text = crate::template::TEMPLATE_YAML.replacen("    MemorySize: 256\n", "    MemorySize: 1024\n", 1);
        let larger = Deployment::from_template(&Template::parse(&text).unwrap()).unwrap();
        assert_eq!((larger.ingest_memory_mb, larger.digest_worker_memory_mb), (1024, 512));
        let compute = |deployment: &Deployment| {
            line(
                &estimate(&workload(1_000_000), Design::Lambda, deployment),
                "arm64 compute",
            )
            .picodollars
        };
        assert!(compute(&larger) > 3 * compute(&deployment()));
    }

    #[test]
    fn the_template_counts_come_from_the_dashboard_and_the_alarms() {
        let deployment = deployment();
        let (metrics, alarms) = (deployment.dashboard_metrics, deployment.alarms);
        assert!(metrics >= 47, "{metrics}");
        // Errors, iterator age, rejected records, six DLQs (DigestQueue's among them), SES
        // throttling and reputation (bounce, complaint), the digest.
        assert_eq!(alarms, 13);
    }

    #[test]
    fn the_digest_reads_the_accounts_due_and_their_weeks_never_the_ledger() {
        let reads = |accounts: u64| {
            let mut w = workload(1_000_000);
            w.accounts = accounts;
            line(
                &estimate(&w, Design::Lambda, &deployment()),
                "on-demand reads (statements)",
            )
            .quantity
        };
        let base = reads(100_000);
        // A Scan of the year of transactions the ledger holds, once a week, would read
        // 365 M items of 1,100 B at half a unit per 4 KB: about 213 M RRU a month alone.
        let scan_a_month = (365_000_000u64 * 1_100).div_ceil(4096).div_ceil(2) * 435 / 100;
        assert!(base < scan_a_month / 2, "{base} vs a Scan's {scan_a_month}");
        // The same transactions over twice the accounts: each added account costs its
        // profile read (half a unit, 4.35 times a month), and the weeks' transactions read
        // stay about what they were: the same bytes, in more Queries.
        let added = reads(200_000) - base;
        let per_added_account = added as f64 / (100_000.0 * 4.35);
        assert!(
            (0.4..=1.6).contains(&per_added_account),
            "{per_added_account} RRU per added account per week"
        );
    }
}

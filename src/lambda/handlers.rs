//! Each function's invocation: the Lambda payload → the use case → the reply Lambda expects,
//! and the metrics of docs/metrics.md. The binaries in `src/bin/` build a use case on its adapters
//! and hand it to `runtime::serve`, which calls `Invoke::invoke` once per event.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::error::HandlerError;
use crate::pipeline::StreamBatch;
use crate::pipeline::audit::Auditor;
use crate::pipeline::consumer::{ConsumerPayload, Reply};
use crate::pipeline::digest::{DigestPlanner, DigestWorker, PlanRequest};
use crate::pipeline::feedback::Feedback;
use crate::pipeline::ingest::Ingest;
use crate::pipeline::notify::Notifier;
use crate::pipeline::process::Processor;
use crate::ports::{AuditLog, Clock, EventBus, Idempotency, Ledger, Mailer, NotificationLog, Secrets, WorkQueue};
use crate::telemetry::emf::Invocation;

/// A use case that a Lambda function runs on each event.
pub trait Invoke {
    /// `deadline`: when Lambda ends the invocation (None locally). Use cases that retry
    /// stop in time to answer.
    /// `payload`: the event's JSON text, as Lambda hands it over: the processor reads its
    /// batch in place, the others parse what they need.
    fn invoke(
        &self,
        payload: &str,
        deadline: Option<DateTime<Utc>>,
        metrics: &mut Invocation,
    ) -> impl Future<Output = Result<Value, HandlerError>>;
}

/// The payload as a JSON value, for the functions that take their event whole.
fn parsed(payload: &str) -> Result<Value, HandlerError> {
    serde_json::from_str(payload).map_err(|e| HandlerError::UnexpectedPayload(format!("not JSON: {e}")))
}

impl<L: Ledger, B: EventBus, C: Clock> Invoke for Processor<L, B, C> {
    async fn invoke(
        &self,
        payload: &str,
        deadline: Option<DateTime<Utc>>,
        metrics: &mut Invocation,
    ) -> Result<Value, HandlerError> {
        processor_text(self, payload, deadline, metrics).await
    }
}

impl<L: Ledger, M: Mailer, B: EventBus, I: Idempotency, N: NotificationLog, S: Secrets, C: Clock> Invoke
    for Notifier<L, M, B, I, N, S, C>
{
    async fn invoke(
        &self,
        payload: &str,
        _deadline: Option<DateTime<Utc>>,
        metrics: &mut Invocation,
    ) -> Result<Value, HandlerError> {
        notifier(self, payload, metrics).await
    }
}

impl<L: Ledger, N: NotificationLog, B: EventBus, I: Idempotency, C: Clock> Invoke for Feedback<L, N, B, I, C> {
    async fn invoke(
        &self,
        payload: &str,
        _deadline: Option<DateTime<Utc>>,
        metrics: &mut Invocation,
    ) -> Result<Value, HandlerError> {
        feedback(self, payload, metrics).await
    }
}

impl<L: AuditLog, C: Clock> Invoke for Auditor<L, C> {
    async fn invoke(
        &self,
        payload: &str,
        _deadline: Option<DateTime<Utc>>,
        metrics: &mut Invocation,
    ) -> Result<Value, HandlerError> {
        auditor(self, payload, metrics).await
    }
}

impl<L: Ledger, Q: WorkQueue, C: Clock> Invoke for DigestPlanner<L, Q, C> {
    async fn invoke(
        &self,
        payload: &str,
        _deadline: Option<DateTime<Utc>>,
        metrics: &mut Invocation,
    ) -> Result<Value, HandlerError> {
        digest_planner(self, parsed(payload)?, metrics).await
    }
}

impl<L: Ledger, B: EventBus, C: Clock> Invoke for DigestWorker<L, B, C> {
    async fn invoke(
        &self,
        payload: &str,
        _deadline: Option<DateTime<Utc>>,
        metrics: &mut Invocation,
    ) -> Result<Value, HandlerError> {
        digest_worker(self, parsed(payload)?, metrics).await
    }
}

impl<L: Ledger, N: NotificationLog, S: Secrets, C: Clock> Invoke for Ingest<L, N, S, C> {
    async fn invoke(
        &self,
        payload: &str,
        _deadline: Option<DateTime<Utc>>,
        metrics: &mut Invocation,
    ) -> Result<Value, HandlerError> {
        ingest(self, parsed(payload)?, metrics).await
    }
}

/// A DynamoDB stream batch → `{"batchItemFailures": [...]}`. A payload that is not a stream
/// event at all is an error (the event source mapping retries, bisects, then keeps it).
pub async fn processor<L: Ledger, B: EventBus, C: Clock>(
    processor: &Processor<L, B, C>,
    payload: Value,
    deadline: Option<DateTime<Utc>>,
    metrics: &mut Invocation,
) -> Result<Value, HandlerError> {
    processor_text(processor, &payload.to_string(), deadline, metrics).await
}

/// `processor`, on the payload's text: the batch is read in place.
pub async fn processor_text<L: Ledger, B: EventBus, C: Clock>(
    processor: &Processor<L, B, C>,
    payload: &str,
    deadline: Option<DateTime<Utc>>,
    metrics: &mut Invocation,
) -> Result<Value, HandlerError> {
    let batch = StreamBatch::from_json(payload).map_err(|e| HandlerError::UnexpectedPayload(e.to_string()))?;
    let outcome = processor.process_batch_until(batch, deadline).await;
    let s = &outcome.stats;
    metrics
        .count("RecordsReceived", s.records_received)
        .count("BatchSize", s.records_received)
        .count("RecordsProcessed", s.records_processed)
        .count("RecordsRejected", s.records_rejected)
        .count("RecordsRetried", s.records_retried)
        .count("EventsPublished", s.events_published)
        .count("PutEventsFailedEntries", s.put_events_failed_entries)
        .milliseconds("EndToEndLatency", s.end_to_end_latency_ms.iter().copied())
        .milliseconds("StreamLag", s.stream_lag_ms.iter().copied());
    for (detail_type, count) in &s.events_by_detail_type {
        metrics.count_by_detail_type("EventsPublished", detail_type, *count);
    }
    tracing::info!(
        received = s.records_received,
        processed = s.records_processed,
        ignored = s.records_ignored,
        rejected = s.records_rejected,
        retried = s.records_retried,
        published = s.events_published,
        "batch done"
    );
    Ok(reply_value(&outcome.response))
}

/// Our replies are plain data: they always serialise.
fn reply_value(reply: &impl serde::Serialize) -> Value {
    serde_json::to_value(reply).expect("a reply serialises")
}

/// What Lambda expects back from an SQS batch (partial failures) or a bare event (Err:
/// retried, then its failure destination).
fn consumer_reply(reply: Reply) -> Result<Value, HandlerError> {
    match reply {
        Reply::Batch(response) => Ok(reply_value(&response)),
        Reply::Single(Ok(())) => Ok(Value::Null),
        Reply::Single(Err(error)) => Err(error.into()),
    }
}

pub async fn notifier<L: Ledger, M: Mailer, B: EventBus, I: Idempotency, N: NotificationLog, S: Secrets, C: Clock>(
    notifier: &Notifier<L, M, B, I, N, S, C>,
    payload: impl ConsumerPayload,
    metrics: &mut Invocation,
) -> Result<Value, HandlerError> {
    let (reply, s) = notifier.handle(payload).await?;
    metrics
        .count("RecordsReceived", s.received)
        .count("RecordsRetried", s.retried)
        .count("RecordsRejected", s.malformed)
        .count("EmailsSent", s.sent)
        .count("EmailsSuppressed", s.suppressed)
        .count("EmailsRejected", s.rejected)
        .count("DuplicatesSkipped", s.duplicates)
        .count("SesThrottled", s.throttled)
        .count("NotificationsUndeliverable", s.undeliverable);
    tracing::info!(
        received = s.received,
        sent = s.sent,
        suppressed = s.suppressed,
        duplicates = s.duplicates,
        rejected = s.rejected,
        retried = s.retried,
        malformed = s.malformed,
        "messages done"
    );
    consumer_reply(reply)
}

pub async fn feedback<L: Ledger, N: NotificationLog, B: EventBus, I: Idempotency, C: Clock>(
    feedback: &Feedback<L, N, B, I, C>,
    payload: impl ConsumerPayload,
    metrics: &mut Invocation,
) -> Result<Value, HandlerError> {
    let (reply, s) = feedback.handle(payload).await?;
    metrics
        .count("RecordsReceived", s.received)
        .count("RecordsRetried", s.retried)
        .count("RecordsRejected", s.malformed)
        .count("FeedbackSkipped", s.skipped())
        .count("AddressesMarkedUndeliverable", s.addresses_marked)
        .count("NotificationsUndeliverable", s.undeliverable);
    for (event_type, count) in &s.by_event_type {
        metrics.count_by("FeedbackReceived", "EventType", event_type, *count);
    }
    tracing::info!(
        received = s.received,
        moved = s.moved,
        unchanged = s.unchanged,
        addresses_marked = s.addresses_marked,
        undeliverable = s.undeliverable,
        skipped = s.skipped(),
        retried = s.retried,
        malformed = s.malformed,
        "messages done"
    );
    consumer_reply(reply)
}

pub async fn auditor<L: AuditLog, C: Clock>(
    auditor: &Auditor<L, C>,
    payload: impl ConsumerPayload,
    metrics: &mut Invocation,
) -> Result<Value, HandlerError> {
    let (reply, s) = auditor.handle(payload).await?;
    metrics
        .count("RecordsReceived", s.received)
        .count("RecordsRetried", s.retried)
        .count("RecordsRejected", s.malformed)
        .count("AuditItemsWritten", s.written)
        .count("DuplicatesSkipped", s.duplicates);
    tracing::info!(
        received = s.received,
        written = s.written,
        duplicates = s.duplicates,
        replays = s.replays,
        retried = s.retried,
        malformed = s.malformed,
        "messages done"
    );
    consumer_reply(reply)
}

/// A scheduled event → the accounts due this hour, as pages on DigestQueue. An incomplete
/// run is an error, so that Lambda runs it again: the pages already sent come to the same
/// statements with the same event ids.
pub async fn digest_planner<L: Ledger, Q: WorkQueue, C: Clock>(
    planner: &DigestPlanner<L, Q, C>,
    payload: Value,
    metrics: &mut Invocation,
) -> Result<Value, HandlerError> {
    let request = PlanRequest::from_event(&payload, planner.clock.now())?;
    let report = planner.run(&request).await;
    metrics
        .count("DigestAccountsRead", report.accounts_read)
        .count("DigestPagesQueued", report.messages_sent);
    if let Some(error) = &report.error {
        return Err(HandlerError::DigestPlanIncomplete(error.clone()));
    }
    Ok(reply_value(&report))
}

/// An SQS batch of DigestQueue pages → their statements; a page that failed is listed in
/// `batchItemFailures`, a message that is not a page too (it ends in the DLQ).
pub async fn digest_worker<L: Ledger, B: EventBus, C: Clock>(
    worker: &DigestWorker<L, B, C>,
    payload: Value,
    metrics: &mut Invocation,
) -> Result<Value, HandlerError> {
    let batch = worker.handle_batch(payload).await?;
    let t = &batch.totals;
    metrics
        .count("RecordsReceived", batch.messages)
        .count("RecordsRetried", batch.retried)
        .count("RecordsRejected", batch.malformed)
        .count("StatementsPublished", t.statements_published)
        .count("EventsPublished", t.statements_published)
        .count_by_detail_type("EventsPublished", "Weekly Statement", t.statements_published);
    tracing::info!(
        messages = batch.messages,
        accounts = t.accounts_read,
        statements = t.statements_published,
        without_transactions = t.accounts_without_transactions,
        not_due = t.accounts_not_due,
        failed = t.accounts_failed.len(),
        malformed = batch.malformed,
        "pages done"
    );
    Ok(serde_json::to_value(&batch.response).expect("an SQS batch response serializes"))
}

/// An API Gateway HTTP API (v2) request → its response. A payload that is not such a request
/// is an error (API Gateway answers 502); a request we cannot read becomes a 400.
pub async fn ingest<L: Ledger, N: NotificationLog, S: Secrets, C: Clock>(
    ingest: &Ingest<L, N, S, C>,
    payload: Value,
    metrics: &mut Invocation,
) -> Result<Value, HandlerError> {
    if payload.pointer("/requestContext/http/method").is_none() {
        return Err(HandlerError::UnexpectedPayload(
            "not an API Gateway HTTP API (v2) request".into(),
        ));
    }
    let response = match super::apigw::request_from_v2(&payload) {
        Ok(request) => ingest.handle(request).await,
        Err(reason) => crate::pipeline::ingest::routes::problem_response(
            &crate::pipeline::ingest::problem::Problem::malformed(reason.to_string()),
        ),
    };
    let status = response.status().as_u16();
    metrics
        .count("RecordsReceived", 1)
        .count("RecordsProcessed", u64::from(status < 400))
        .count("RecordsRejected", u64::from((400..500).contains(&status)))
        .count("RecordsRetried", u64::from(status >= 500));
    tracing::info!(status, "request done");
    Ok(super::apigw::response_to_v2(&response))
}

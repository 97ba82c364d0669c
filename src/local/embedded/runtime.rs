//! The embedded runtime: the use cases of the seven functions wired to the embedded adapters
//! on one store folder, and one `tick` that runs what is ready — the stream in batches
//! through the processor, then the notifier's, the feedback's, the auditor's and the digest
//! workers' queues — with the same handlers as the Lambda functions. `run_schedules` plays
//! EventBridge Scheduler: template.yaml's hourly Monday-morning schedules invoke the digest
//! planner, whose pages the workers take at the next tick. The outbox plays SES's mailbox simulator: its events
//! reach FeedbackQueue through the default bus and template.yaml's FeedbackRule. `simulate`, `dev` and `replay` drive it; a crash throws a `Runtime`
//! away and opens a new one on the same folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::domain::email::Mailbox;
use crate::lambda::error::HandlerError;
use crate::lambda::handlers;
use crate::lambda::runtime::{invoke_measured, measured};
use crate::local::embedded::FixedSecret;
use crate::local::embedded::bus::EmbeddedBus;
use crate::local::embedded::bus::queue_runner::{Batch, deliver, sqs_event};
use crate::local::embedded::faults::{Faults, Faulty};
use crate::local::embedded::outbox::{OutboxLayout, OutboxMailer};
use crate::local::embedded::poller::{PollerConfig, StreamPoller};
use crate::local::embedded::scheduler::{Cron, CronError};
use crate::local::embedded::store::EmbeddedStore;
use crate::local::embedded::store::StoreOpenError;
use crate::local::embedded::work_queue::StoreQueue;
use crate::pipeline::audit::{AuditConfig, Auditor};
use crate::pipeline::digest::{DigestPlanner, DigestWorker, PlannerConfig, WorkerConfig};
use crate::pipeline::feedback::{Feedback, FeedbackConfig};
use crate::pipeline::ingest::{Ingest, IngestConfig};
use crate::pipeline::notify::{Notifier, NotifyConfig};
use crate::pipeline::{Processor, ProcessorConfig};
use crate::ports::{Clock, PortError};
use crate::rules::Rules;
use crate::telemetry::emf::Invocation;
use crate::template::{CONFIGURATION_SET, DIGEST_QUEUE, QueueSource, Routes, Template, TemplateError, functions};

/// Where the scheduler remembers the last instant it looked at.
const SCHEDULE_CHECKPOINT: &str = "scheduler:DigestPlannerFunction";
/// Where a planner run that failed three times is kept (Lambda's on-failure destination).
pub const DIGEST_RUN_DLQ: &str = "DigestDLQ";

/// The bus name put on every event.
pub const EVENT_BUS: &str = "txn-notify";

/// What stops the embedded runtime, or a tool that runs it: its folder, its store, its
/// outbox index.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot create {}: {source}", .dir.display())]
    CreateDir {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Open(#[from] StoreOpenError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Store(#[from] PortError),
    #[error(transparent)]
    Outbox(#[from] crate::local::embedded::outbox::OutboxError),
    #[error("template.yaml's schedule: {0}")]
    Schedule(#[from] CronError),
}

/// What the runtime is built from besides its folder.
#[derive(Clone)]
pub struct RuntimeParts<C> {
    pub clock: C,
    pub faults: Arc<Faults>,
    pub rules: Arc<Rules>,
    pub sender: Mailbox,
    /// Ingest's signing secret.
    pub signing_secret: Vec<u8>,
    /// Where the API answers: statements' unsubscribe links point there.
    pub public_api_url: String,
    /// The outbox's layout, when the folder has none yet.
    pub outbox_layout: OutboxLayout,
    /// The runtimes of the process that split the store's page cache between them (the
    /// shards of a run).
    pub cache_shares: usize,
}

impl<C> RuntimeParts<C> {
    /// No faults, the built-in rules, the local sender and the local signing secret.
    pub fn local(clock: C) -> Self {
        RuntimeParts {
            clock,
            faults: Faults::new(0.0, 0),
            rules: Arc::new(Rules::builtin()),
            sender: Mailbox::new(Some("txn-notify"), "alerts@txn-notify.example").expect("a valid sender"),
            signing_secret: crate::local::LOCAL_SIGNING_SECRET.as_bytes().to_vec(),
            public_api_url: crate::local::LOCAL_API_URL.to_string(),
            outbox_layout: OutboxLayout::EmlFiles,
            cache_shares: 1,
        }
    }
}

type Store<C> = Arc<EmbeddedStore<C>>;
type FaultyStore<C> = Faulty<Store<C>, C>;

/// The notifier on the store: its ledger, idempotency keys and notifications, and the outbox.
pub type EmbeddedNotifier<C> = Notifier<
    FaultyStore<C>,
    Faulty<OutboxMailer<C>, C>,
    Faulty<Arc<EmbeddedBus<C>>, C>,
    FaultyStore<C>,
    FaultyStore<C>,
    FixedSecret,
    C,
>;

/// The feedback function on the store, publishing onto the embedded bus.
pub type EmbeddedFeedback<C> =
    Feedback<FaultyStore<C>, FaultyStore<C>, Faulty<Arc<EmbeddedBus<C>>, C>, FaultyStore<C>, C>;

/// The digest planner on the store, filling its DigestQueue.
pub type EmbeddedPlanner<C> = DigestPlanner<FaultyStore<C>, Faulty<StoreQueue<C>, C>, C>;

/// A digest worker on the store, publishing onto the embedded bus.
pub type EmbeddedWorker<C> = DigestWorker<FaultyStore<C>, Faulty<Arc<EmbeddedBus<C>>, C>, C>;

/// Everything but the store on disk.
pub struct Runtime<C> {
    pub store: Store<C>,
    pub processor: Processor<FaultyStore<C>, Faulty<Arc<EmbeddedBus<C>>, C>, C>,
    pub notifier: EmbeddedNotifier<C>,
    pub feedback: EmbeddedFeedback<C>,
    pub auditor: Auditor<FaultyStore<C>, C>,
    pub digest_planner: EmbeddedPlanner<C>,
    pub digest_worker: EmbeddedWorker<C>,
    /// The planner's schedules in template.yaml, with the Input each hands it.
    pub schedules: Vec<(Cron, Option<String>)>,
    pub ingest: Ingest<FaultyStore<C>, FaultyStore<C>, FixedSecret, C>,
    pub routes: Routes,
    /// The consumers' SQS event sources, as template.yaml sets them.
    pub consumers: Vec<QueueSource>,
    pub outbox: OutboxMailer<C>,
    pub dir: PathBuf,
    warm: std::sync::Mutex<std::collections::BTreeSet<&'static str>>,
    invocations: std::sync::atomic::AtomicU64,
    /// `metrics.emf`, open for appending once the first invocation wrote to it.
    metrics_file: std::sync::Mutex<Option<std::fs::File>>,
}

impl<C: Clock + Clone> Runtime<C> {
    pub fn open(dir: &Path, parts: &RuntimeParts<C>) -> Result<Runtime<C>, RuntimeError> {
        let clock = &parts.clock;
        let store: Store<C> = Arc::new(EmbeddedStore::open_sharing(dir, clock.clone(), parts.cache_shares)?);
        let outbox_layout = OutboxLayout::prepare(&store, &dir.join("outbox"), parts.outbox_layout)?;
        let faulty = || Faulty::new(Arc::clone(&store), Arc::clone(&parts.faults), clock.clone());
        let routes = Routes::builtin();
        let bus = Arc::new(EmbeddedBus::new(Arc::clone(&store), routes.clone()));
        Ok(Runtime {
            processor: Processor::new(
                faulty(),
                Faulty::new(Arc::clone(&bus), Arc::clone(&parts.faults), clock.clone()),
                clock.clone(),
                Arc::clone(&parts.rules),
                ProcessorConfig::new(EVENT_BUS),
            ),
            notifier: Notifier::new(
                faulty(),
                Faulty::new(
                    OutboxMailer::new(Arc::clone(&store), dir.join("outbox"), outbox_layout)
                        .with_feedback(Arc::clone(&bus), CONFIGURATION_SET),
                    Arc::clone(&parts.faults),
                    clock.clone(),
                ),
                Faulty::new(Arc::clone(&bus), Arc::clone(&parts.faults), clock.clone()),
                faulty(),
                faulty(),
                FixedSecret::new(&parts.signing_secret),
                clock.clone(),
                NotifyConfig::new(parts.sender.clone()).with_public_api_url(&parts.public_api_url),
            ),
            feedback: Feedback::new(
                faulty(),
                faulty(),
                Faulty::new(Arc::clone(&bus), Arc::clone(&parts.faults), clock.clone()),
                faulty(),
                clock.clone(),
                FeedbackConfig::new(CONFIGURATION_SET, EVENT_BUS),
            ),
            auditor: Auditor::new(faulty(), clock.clone(), AuditConfig::default()),
            digest_planner: DigestPlanner::new(
                faulty(),
                Faulty::new(
                    StoreQueue::new(Arc::clone(&store), DIGEST_QUEUE),
                    Arc::clone(&parts.faults),
                    clock.clone(),
                ),
                clock.clone(),
                PlannerConfig::default(),
            ),
            digest_worker: DigestWorker::new(
                faulty(),
                Faulty::new(Arc::clone(&bus), Arc::clone(&parts.faults), clock.clone()),
                clock.clone(),
                Arc::clone(&parts.rules),
                WorkerConfig::new(EVENT_BUS),
            ),
            schedules: Template::builtin()
                .schedules(functions::DIGEST_PLANNER)?
                .iter()
                .map(|schedule| Ok((Cron::of(schedule)?, schedule.input.clone())))
                .collect::<Result<_, CronError>>()?,
            ingest: Ingest::new(
                faulty(),
                faulty(),
                FixedSecret::new(&parts.signing_secret),
                clock.clone(),
                IngestConfig::default(),
            ),
            outbox: OutboxMailer::new(Arc::clone(&store), dir.join("outbox"), outbox_layout),
            routes,
            consumers: Template::builtin().queue_sources()?,
            store,
            dir: dir.to_path_buf(),
            warm: Default::default(),
            invocations: Default::default(),
            metrics_file: Default::default(),
        })
    }

    pub fn poller_config(&self) -> PollerConfig {
        PollerConfig::of_template(self.dir.join("on-failure"))
    }

    /// Stream records not yet handled, and queue messages not yet deleted.
    pub fn backlog(&self) -> Result<Backlog, PortError> {
        let stream = StreamPoller::new(&self.store, self.poller_config()).lag()? as u64;
        let mut queued = 0;
        for source in &self.consumers {
            let depth = self.store.queue_depth(&source.queue)?;
            queued += depth.visible + depth.in_flight;
        }
        Ok(Backlog { stream, queued })
    }

    /// Appends one invocation's EMF documents to `metrics.emf`, as the Lambda functions
    /// write them to their logs.
    fn append_metrics(&self, metrics: &Invocation) {
        use std::io::Write;
        let mut lines = String::new();
        for document in metrics.documents() {
            lines.push_str(&document.to_string());
            lines.push('\n');
        }
        // Opened once, at the first invocation, and appended to by each.
        let mut file = self.metrics_file.lock().expect("metrics file lock");
        if file.is_none() {
            *file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join("metrics.emf"))
                .ok();
        }
        if let Some(file) = file.as_mut() {
            let _ = file.write_all(lines.as_bytes());
        }
    }

    /// A cold start is each function's first invocation since the runtime opened.
    fn cold_start(&self, function: &'static str) -> bool {
        self.warm.lock().expect("warm lock").insert(function)
    }

    fn request_id(&self) -> String {
        let n = self.invocations.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        format!("local-{n:08}")
    }

    async fn invoke_processor(&self, event: String) -> Result<Value, HandlerError> {
        let cold = self.cold_start("processor");
        let (reply, metrics) =
            invoke_measured("processor", &self.processor, &event, &self.request_id(), cold, None).await;
        self.append_metrics(&metrics);
        reply
    }

    /// Hands a queue's batch to its consumer. The notifier, the feedback function and the
    /// auditor take its messages as they are, the same ones the SQS event's text gives them
    /// on Lambda (`pipeline::consumer::SqsMessages`); the digest worker takes the event whole.
    async fn invoke_consumer(&self, source: &QueueSource, batch: Batch<'_>) -> Result<Value, HandlerError> {
        let function = source.function.as_str();
        let (name, cold) = match function {
            functions::NOTIFIER => ("notifier", self.cold_start("notifier")),
            functions::FEEDBACK => ("feedback", self.cold_start("feedback")),
            functions::DIGEST_WORKER => ("digest-worker", self.cold_start("digest-worker")),
            _ => ("auditor", self.cold_start("auditor")),
        };
        let request_id = self.request_id();
        let (reply, metrics) = match function {
            functions::NOTIFIER => {
                measured(name, &request_id, cold, async |metrics: &mut Invocation| {
                    handlers::notifier(&self.notifier, batch.into_messages(), metrics).await
                })
                .await
            }
            functions::FEEDBACK => {
                measured(name, &request_id, cold, async |metrics: &mut Invocation| {
                    handlers::feedback(&self.feedback, batch.into_messages(), metrics).await
                })
                .await
            }
            functions::DIGEST_WORKER => {
                invoke_measured(name, &self.digest_worker, &batch.event_text(), &request_id, cold, None).await
            }
            _ => {
                measured(name, &request_id, cold, async |metrics: &mut Invocation| {
                    handlers::auditor(&self.auditor, batch.into_messages(), metrics).await
                })
                .await
            }
        };
        self.append_metrics(&metrics);
        reply
    }

    /// Runs what is ready: the stream in batches (all of it when `drain`, else only the
    /// batches the batching window lets go), then the two queues until nothing is visible.
    /// With `crash`, the runtime dies on the batch it says, between the batch's effects and
    /// its checkpoint, with a notifier batch in flight; the caller must then open a new one.
    pub async fn tick(
        &self,
        drain: bool,
        tally: &mut Tally,
        crash: Option<&dyn Fn(&Tally) -> bool>,
    ) -> Result<Ticked, PortError> {
        // One commit for the whole tick: the effects of every batch it runs, the stream's
        // checkpoint, the queues' receives and deletes. A crash takes the tick back whole,
        // and all of it comes again.
        let whole_tick = self.store.group();
        self.store.trim_stream(self.store.clock().now())?;
        let mut poller = StreamPoller::new(&self.store, self.poller_config());
        loop {
            let crash_now = crash.is_some_and(|crash_here| crash_here(tally));
            let handler = |event| self.invoke_processor(event);
            let step = if crash_now {
                poller.step_then_crash(handler).await
            } else {
                poller.step(drain, handler).await
            }?;
            if step.invoked > 0 {
                tally.processor_batches += 1;
            }
            tally.stream_retried += step.retried as u64;
            tally.stream_discarded += step.discarded as u64;
            if crash_now {
                // What the tick did is on disk, the batch's checkpoint is not.
                self.crash_mid_delivery().await?;
                whole_tick.commit()?;
                tally.crashes += 1;
                return Ok(Ticked::Crashed);
            }
            if step.invoked == 0 && step.discarded == 0 {
                break;
            }
            if step.function_error.is_none() && step.retried > 0 {
                // A partial failure: try the rest right away, as the mapping does.
                continue;
            }
        }
        for source in &self.consumers {
            let settings = self.routes.queues[&source.queue].clone();
            loop {
                let delivered = deliver(&self.store, &source.queue, &settings, source.batch_size, |batch| {
                    self.invoke_consumer(source, batch)
                })
                .await?;
                tally.messages_retried += delivered.failed as u64;
                tally.messages_delivered += delivered.received as u64;
                if delivered.received == 0 {
                    break;
                }
            }
        }
        whole_tick.commit()?;
        Ok(Ticked::Ran)
    }

    /// Plays EventBridge Scheduler up to now: each instant since the last call at which a
    /// planner schedule fires invokes the planner with the schedule's Input (its
    /// `<aws.scheduler.scheduled-time>` filled in), as an asynchronous invocation: a run that
    /// fails is tried twice more, then kept on DigestDLQ. The first call only starts the
    /// clock. Returns the runs made.
    pub async fn run_schedules(&self) -> Result<Vec<ScheduledRun>, PortError> {
        let now = self.store.clock().now();
        let last = self.store.checkpoint(SCHEDULE_CHECKPOINT)?;
        let Some(last) = last.and_then(|text| crate::domain::time::parse_timestamp(&text)) else {
            self.store
                .set_checkpoint(SCHEDULE_CHECKPOINT, &crate::domain::time::format_rfc3339(&now))?;
            return Ok(Vec::new());
        };
        let mut fired: Vec<(chrono::DateTime<chrono::Utc>, Option<&String>)> = self
            .schedules
            .iter()
            .flat_map(|(cron, input)| {
                cron.fires_between(last, now)
                    .into_iter()
                    .map(move |at| (at, input.as_ref()))
            })
            .collect();
        fired.sort_by_key(|(at, _)| *at);
        let mut runs = Vec::new();
        for (at, input) in fired {
            let time = crate::domain::time::format_rfc3339(&at);
            let event: Value = input
                .map(|input| input.replace("<aws.scheduler.scheduled-time>", &time))
                .and_then(|input| serde_json::from_str(&input).ok())
                .unwrap_or_else(|| serde_json::json!({"time": time, "detail": {}}));
            let mut run = ScheduledRun {
                at,
                attempts: 0,
                failed: None,
            };
            for _ in 0..3 {
                run.attempts += 1;
                let cold = self.cold_start("digest-planner");
                let (reply, metrics) = invoke_measured(
                    "digest-planner",
                    &self.digest_planner,
                    &event.to_string(),
                    &self.request_id(),
                    cold,
                    None,
                )
                .await;
                self.append_metrics(&metrics);
                match reply {
                    Ok(_) => {
                        run.failed = None;
                        break;
                    }
                    Err(error) => run.failed = Some(error.to_string()),
                }
            }
            if run.failed.is_some() {
                tracing::error!(run = %time, "the digest planner failed three times: the run is kept on DigestDLQ");
                self.store.enqueue(DIGEST_RUN_DLQ, &event.to_string())?;
            }
            runs.push(run);
        }
        self.store
            .set_checkpoint(SCHEDULE_CHECKPOINT, &crate::domain::time::format_rfc3339(&now))?;
        Ok(runs)
    }

    /// The process dies with a notifier batch in flight: received, emailed, not deleted.
    async fn crash_mid_delivery(&self) -> Result<(), PortError> {
        let Some(source) = self.consumers.iter().find(|s| s.function == functions::NOTIFIER) else {
            return Ok(());
        };
        let settings = self.routes.queues[&source.queue].clone();
        let group = self.store.group();
        let messages = self.store.receive(&source.queue, &settings, source.batch_size)?;
        if !messages.is_empty() {
            let event = sqs_event(&source.queue, &messages);
            let event: Value = serde_json::from_str(&event).expect("an SQS event is JSON");
            let _ = self.notifier.handle(event).await;
        }
        group.commit()?;
        tracing::warn!(
            in_flight = messages.len(),
            "simulated crash: the runtime stops here and starts again from the store"
        );
        Ok(())
    }
}

/// One run of the planner's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledRun {
    pub at: chrono::DateTime<chrono::Utc>,
    pub attempts: u32,
    /// Why its last attempt failed (it is then on DigestDLQ).
    pub failed: Option<String>,
}

/// What is left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    pub stream: u64,
    pub queued: u64,
}

impl Backlog {
    pub fn is_empty(&self) -> bool {
        self.stream == 0 && self.queued == 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ticked {
    Ran,
    /// The runtime is gone: open a new one on the same folder.
    Crashed,
}

/// Counters kept across ticks (and across crashes).
#[derive(Debug, Default)]
pub struct Tally {
    pub processor_batches: u64,
    pub stream_retried: u64,
    pub stream_discarded: u64,
    pub messages_delivered: u64,
    pub messages_retried: u64,
    pub crashes: u64,
}

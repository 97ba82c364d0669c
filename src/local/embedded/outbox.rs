//! The embedded runtime's outbox: each email as a numbered `.eml` file in a folder, indexed
//! in the store, and an `index.html` that lists them with their delivery states. With a bus,
//! it is also SES's mailbox simulator: each email's SES events go to the default bus
//! (`mailbox_simulator`).

use std::path::PathBuf;

use chrono::Utc;

use crate::domain::DeliveryState;
use crate::domain::email::Email;
use crate::local::embedded::bus::{DEFAULT_BUS, EmbeddedBus};
use crate::local::embedded::mailbox_simulator::events_for;
use crate::local::embedded::store::OutboxEntry;
use crate::local::eml::to_eml;
use crate::ports::{BusEntry, EntryResult, EventBus, MailError, Mailer};

/// Why the outbox's index could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Store(#[from] crate::ports::PortError),
    #[error("the outbox index does not render: {0}")]
    Render(#[from] minijinja::Error),
    #[error("{}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// The embedded runtime's mailer: each email as a numbered `.eml` file in a folder, indexed
/// in the store (number, event_id, subject), and an `index.html` that lists them.
pub struct OutboxMailer<C> {
    store: std::sync::Arc<crate::local::embedded::store::EmbeddedStore<C>>,
    folder: PathBuf,
    feedback: Option<SimulatedFeedback<C>>,
}

/// Where the simulated SES events go: the embedded bus, as from this configuration set.
struct SimulatedFeedback<C> {
    bus: std::sync::Arc<EmbeddedBus<C>>,
    configuration_set: String,
}

impl<C: crate::ports::Clock> OutboxMailer<C> {
    pub fn new(store: std::sync::Arc<crate::local::embedded::store::EmbeddedStore<C>>, folder: PathBuf) -> Self {
        OutboxMailer {
            store,
            folder,
            feedback: None,
        }
    }

    /// Also SES's mailbox simulator: each email's events onto `bus`'s default bus.
    pub fn with_feedback(mut self, bus: std::sync::Arc<EmbeddedBus<C>>, configuration_set: &str) -> Self {
        self.feedback = Some(SimulatedFeedback {
            bus,
            configuration_set: configuration_set.to_string(),
        });
        self
    }

    /// SES's events about an email it took, on the default bus. A failure does not undo
    /// the send (SES reports on its own time); it is logged.
    async fn publish_feedback(&self, email: &Email, message_id: &str, sent_at: chrono::DateTime<Utc>) {
        let Some(feedback) = &self.feedback else {
            return;
        };
        let entries: Vec<BusEntry> = events_for(email, message_id, sent_at, &feedback.configuration_set)
            .into_iter()
            .map(|event| BusEntry {
                source: crate::pipeline::feedback::SES_SOURCE.to_string(),
                detail_type: event.detail_type.to_string(),
                detail: event.detail.to_string(),
                event_bus_name: DEFAULT_BUS.to_string(),
                resources: Vec::new(),
                time: None,
            })
            .collect();
        let refs: Vec<&BusEntry> = entries.iter().collect();
        match feedback.bus.put_events(&refs).await {
            Ok(results) if results.iter().all(|r| matches!(r, EntryResult::Accepted { .. })) => {}
            Ok(_) => tracing::warn!(message_id, "an SES event of the mailbox simulator was refused"),
            Err(error) => {
                tracing::warn!(message_id, error = %error, "the mailbox simulator's events were not published")
            }
        }
    }

    pub fn folder(&self) -> &std::path::Path {
        &self.folder
    }

    /// Writes `index.html`: every email, newest first, with its subject, event and file.
    pub fn write_index(&self) -> Result<PathBuf, OutboxError> {
        let entries = self.store.outbox()?;
        let mut states = Vec::with_capacity(entries.len());
        for entry in &entries {
            states.push(self.delivery_state(entry)?);
        }
        let mut env = minijinja::Environment::new();
        env.add_template("index.html", INDEX_TEMPLATE)?;
        let rows: Vec<serde_json::Value> = entries
            .iter()
            .zip(&states)
            .rev()
            .map(|(e, state)| {
                serde_json::json!({
                    "state": state.map(|s| s.as_str()),
                    "number": e.number,
                    "subject": e.subject,
                    "event_id": e.event_id,
                    "file": std::path::Path::new(&e.file).file_name().map(|n| n.to_string_lossy().into_owned()),
                    "sent_at": chrono::DateTime::from_timestamp_millis(e.sent_ms).map(|t| crate::domain::time::format_rfc3339(&t)),
                })
            })
            .collect();
        let html = env
            .get_template("index.html")
            .and_then(|t| t.render(minijinja::context! { emails => minijinja::Value::from(minijinja::value::Serde(&rows)), count => entries.len() }))?;
        let path = self.folder.join("index.html");
        std::fs::create_dir_all(&self.folder)
            .and_then(|()| std::fs::write(&path, html))
            .map_err(|source| OutboxError::Write {
                path: path.clone(),
                source,
            })?;
        Ok(path)
    }

    /// The delivery state the audit trail holds for an outbox email (None: not recorded).
    fn delivery_state(&self, entry: &OutboxEntry) -> Result<Option<DeliveryState>, crate::ports::PortError> {
        let Some(event_id) = &entry.event_id else {
            return Ok(None);
        };
        let message_id = message_id_of(entry.number);
        Ok(self.store.notification(event_id)?.and_then(|n| {
            n.emails
                .iter()
                .find(|e| e.message_id.as_deref() == Some(message_id.as_str()))
                .map(|e| e.delivery_state)
        }))
    }
}

/// The message id the outbox gives its email number `number`.
fn message_id_of(number: i64) -> String {
    format!("{number:06}@outbox.txn-notify.local")
}

const INDEX_TEMPLATE: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>txn-notify outbox</title>
<style>body{font-family:Helvetica,Arial,sans-serif;margin:2em;color:#1f2933}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #e4e7eb;text-align:left}</style>
</head><body>
<h1>Outbox: {{ count }} emails</h1>
<table><tr><th>#</th><th>sent</th><th>subject</th><th>delivery</th><th>event</th><th>file</th></tr>
{% for e in emails %}<tr><td>{{ e.number }}</td><td>{{ e.sent_at }}</td><td>{{ e.subject }}</td><td class="state">{{ e.state or "not recorded" }}</td><td><code>{{ e.event_id }}</code></td><td><a href="{{ e.file }}">{{ e.file }}</a></td></tr>
{% endfor %}</table>
</body></html>
"#;

impl<C: crate::ports::Clock> Mailer for OutboxMailer<C> {
    async fn send(&self, email: &Email) -> Result<String, MailError> {
        let event_id = email
            .tags
            .iter()
            .find(|t| t.name == "event_id")
            .map(|t| t.value.as_str());
        let folder = self.folder.clone();
        std::fs::create_dir_all(&folder).map_err(|e| MailError::Transient(format!("cannot write the outbox: {e}")))?;
        let entry = self
            .store
            .record_email(event_id, email.subject.as_str(), |number| {
                folder.join(format!("{number:06}.eml")).to_string_lossy().into_owned()
            })
            .map_err(|e| MailError::Transient(e.message))?;
        let message_id = message_id_of(entry.number);
        let sent_at = chrono::DateTime::from_timestamp_millis(entry.sent_ms).unwrap_or_else(Utc::now);
        std::fs::write(&entry.file, to_eml(email, &message_id, sent_at))
            .map_err(|e| MailError::Transient(format!("cannot write the outbox: {e}")))?;
        self.publish_feedback(email, &message_id, sent_at).await;
        Ok(message_id)
    }
}

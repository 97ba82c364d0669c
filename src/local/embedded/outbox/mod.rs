//! The embedded runtime's outbox: each email as a numbered `.eml` file in a folder (or, in the
//! mailbox layout, appended to `mboxrd` files a thousand at a time: `mailbox_file`), indexed
//! in the store, and an `index.html` that lists them with their delivery states. With a bus,
//! it is also SES's mailbox simulator: each email's SES events go to the default bus
//! (`mailbox_simulator`).
//!
//! | what happens | the outbox |
//! |---|---|
//! | an email is sent | it is written (no fsync: like the store, it survives the process dying, not the OS), then indexed in the caller's group commit |
//! | the process dies before that group commits | the email is not indexed; at the next open, what lies past the index is removed, and the email is sent again with the same number |
//! | a folder is opened again | its layout stays the one it was created with |

pub mod mailbox_file;

use std::path::PathBuf;

use chrono::Utc;

use crate::domain::DeliveryState;
use crate::domain::email::Email;
use crate::local::embedded::bus::{DEFAULT_BUS, EmbeddedBus};
use crate::local::embedded::mailbox_simulator::events_for;
use crate::local::embedded::store::{OutboxEntry, Placement, RowCommits, WriteOut};
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

/// How the outbox keeps its emails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxLayout {
    /// `000001.eml`, one file each: what `dev` and `invoke` write, for a reader to open.
    EmlFiles,
    /// `000001-001000.mbox`, a thousand emails each: what `simulate` writes.
    Mailboxes,
}

/// Where a store keeps its outbox's layout.
const LAYOUT_CHECKPOINT: &str = "outbox:layout";

impl OutboxLayout {
    fn name(self) -> &'static str {
        match self {
            OutboxLayout::EmlFiles => "eml",
            OutboxLayout::Mailboxes => "mbox",
        }
    }

    /// The layout of the store's outbox: the one it was created with, else `preferred`
    /// (recorded for the next opens). Whatever a crash wrote past the index is removed.
    pub fn prepare<C: crate::ports::Clock>(
        store: &crate::local::embedded::store::EmbeddedStore<C>,
        folder: &std::path::Path,
        preferred: OutboxLayout,
    ) -> Result<OutboxLayout, OutboxError> {
        let layout = match store.checkpoint(LAYOUT_CHECKPOINT)?.as_deref() {
            Some("mbox") => OutboxLayout::Mailboxes,
            Some(_) => OutboxLayout::EmlFiles,
            None => {
                store.set_checkpoint(LAYOUT_CHECKPOINT, preferred.name())?;
                preferred
            }
        };
        let last = store.last_outbox_entry()?;
        let removed = match layout {
            OutboxLayout::Mailboxes => {
                mailbox_file::truncate_after(folder, last.and_then(|e| e.span.map(|span| (e.number, span))))
            }
            OutboxLayout::EmlFiles => remove_eml_files_after(folder, last.map_or(0, |e| e.number)),
        };
        removed.map_err(|source| OutboxError::Write {
            path: folder.to_path_buf(),
            source,
        })?;
        Ok(layout)
    }
}

/// Removes the `NNNNNN.eml` files numbered past `last`: written by a send whose index entry
/// a crash took back.
fn remove_eml_files_after(folder: &std::path::Path, last: i64) -> std::io::Result<()> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        let number = path.file_name().and_then(|n| n.to_str()).and_then(eml_number);
        if number.is_some_and(|n| n > last) {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// The number of an outbox file name (`000123.eml`), if it is one.
pub fn eml_number(name: &str) -> Option<i64> {
    let digits = name.strip_suffix(".eml")?;
    (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The embedded runtime's mailer: each email written as its layout says, indexed in the
/// store (number, event_id, subject, where it is), and an `index.html` that lists them.
pub struct OutboxMailer<C> {
    store: std::sync::Arc<crate::local::embedded::store::EmbeddedStore<C>>,
    folder: PathBuf,
    layout: OutboxLayout,
    feedback: Option<SimulatedFeedback<C>>,
    /// The mailbox file being filled, in the mailbox layout; written out before each commit
    /// of the store (a hook of the store's).
    mailbox: std::sync::Arc<std::sync::Mutex<mailbox_file::Appender>>,
}

/// Where the simulated SES events go: the embedded bus, as from this configuration set.
struct SimulatedFeedback<C> {
    bus: std::sync::Arc<EmbeddedBus<C>>,
    configuration_set: String,
}

impl<C: crate::ports::Clock> OutboxMailer<C> {
    /// A mailer into `folder` in `layout` (from [`OutboxLayout::prepare`]).
    pub fn new(
        store: std::sync::Arc<crate::local::embedded::store::EmbeddedStore<C>>,
        folder: PathBuf,
        layout: OutboxLayout,
    ) -> Self {
        let mailbox: std::sync::Arc<std::sync::Mutex<mailbox_file::Appender>> = Default::default();
        let appender = std::sync::Arc::clone(&mailbox);
        store.before_commit(Box::new(move |why| {
            let mut appender = appender.lock().expect("mailbox lock");
            match why {
                WriteOut::ForCommit => appender.flush_for_commit(),
                WriteOut::ForReader => appender.flush(),
            }
        }));
        OutboxMailer {
            store,
            folder,
            layout,
            feedback: None,
            mailbox,
        }
    }

    /// Email `number` as it was sent (None: the outbox has no such email).
    pub fn read_email(&self, number: i64) -> Result<Option<String>, OutboxError> {
        let Some(entry) = self.store.outbox_entry(number)? else {
            return Ok(None);
        };
        // An email of the open group may still wait in a mailer's buffer.
        self.store.write_out_before_commit()?;
        let path = PathBuf::from(&entry.file);
        let text = match entry.span {
            Some(span) => mailbox_file::read(&path, span),
            None => std::fs::read_to_string(&path),
        };
        text.map(Some).map_err(|source| OutboxError::Write { path, source })
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
                source: crate::pipeline::feedback::SES_SOURCE.into(),
                detail_type: event.detail_type.to_string().into(),
                detail: event.detail,
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

    /// Writes the email numbered `number` where the layout puts it.
    fn write(
        &self,
        email: &Email,
        number: i64,
        sent_at: chrono::DateTime<Utc>,
        commits: RowCommits,
    ) -> std::io::Result<Placement> {
        let eml = to_eml(email, &message_id_of(number), sent_at);
        match self.layout {
            OutboxLayout::EmlFiles => {
                std::fs::create_dir_all(&self.folder)?;
                let file = self.folder.join(format!("{number:06}.eml"));
                std::fs::write(&file, eml)?;
                Ok(Placement {
                    file: file.to_string_lossy().into_owned(),
                    span: None,
                })
            }
            OutboxLayout::Mailboxes => {
                let file = mailbox_file::file_of(&self.folder, number);
                let mut mailbox = self.mailbox.lock().expect("mailbox lock");
                let span = mailbox.append(&file, email.from.address.expose(), sent_at, &eml)?;
                if commits == RowCommits::AtOnce {
                    mailbox.flush()?;
                }
                Ok(Placement {
                    file: file.to_string_lossy().into_owned(),
                    span: Some(span),
                })
            }
        }
    }

    /// Writes `index.html`: every email, newest first, with its subject, event and file.
    /// The emails are read a page at a time and the page written as it goes, so an outbox of a
    /// million emails takes no more memory than one of ten; the file is replaced whole.
    pub fn write_index(&self) -> Result<PathBuf, OutboxError> {
        use std::io::Write;
        const PAGE: u32 = 1000;
        let mut env = minijinja::Environment::new();
        env.add_template("head.html", INDEX_HEAD)?;
        env.add_template("rows.html", INDEX_ROWS)?;
        let (head, rows) = (env.get_template("head.html")?, env.get_template("rows.html")?);
        let path = self.folder.join("index.html");
        let partial = self.folder.join("index.html.partial");
        let unwritable = |source| OutboxError::Write {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.folder).map_err(unwritable)?;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&partial).map_err(unwritable)?);
        let count = self.store.outbox_count()?;
        out.write_all(head.render(minijinja::context! { count })?.as_bytes())
            .map_err(unwritable)?;
        let mut before = i64::MAX;
        loop {
            let entries = self.store.outbox_page_before(before, PAGE)?;
            let page = entries
                .iter()
                .map(|e| {
                    Ok(IndexRow {
                        state: self.delivery_state(e)?.map(|s| s.as_str()),
                        number: e.number,
                        subject: &e.subject,
                        event_id: e.event_id.as_deref(),
                        file: std::path::Path::new(&e.file)
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned()),
                        place: e.span.map(|span| format!("at byte {}", span.offset)),
                        sent_at: chrono::DateTime::from_timestamp_millis(e.sent_ms)
                            .map(|t| crate::domain::time::format_rfc3339(&t)),
                    })
                })
                .collect::<Result<Vec<_>, crate::ports::PortError>>()?;
            // A page in one render: the template's setup once per thousand rows.
            out.write_all(
                rows.render(minijinja::context! { rows => minijinja::Value::from(minijinja::value::Serde(&page)) })?
                    .as_bytes(),
            )
            .map_err(unwritable)?;
            match entries.last() {
                Some(last) if entries.len() == PAGE as usize => before = last.number,
                _ => break,
            }
        }
        out.write_all(INDEX_TAIL.as_bytes()).map_err(unwritable)?;
        // Flushed, then put in place whole: a reader never sees half an index.
        out.into_inner().map_err(|e| unwritable(e.into_error()))?;
        std::fs::rename(&partial, &path).map_err(unwritable)?;
        Ok(path)
    }

    /// The delivery state the audit trail holds for an outbox email (None: not recorded).
    /// Only the notification's emails are read, not its record.
    fn delivery_state(&self, entry: &OutboxEntry) -> Result<Option<DeliveryState>, crate::ports::PortError> {
        let Some(event_id) = &entry.event_id else {
            return Ok(None);
        };
        let message_id = message_id_of(entry.number);
        Ok(self.store.notification_emails(event_id)?.and_then(|emails| {
            emails
                .iter()
                .find(|e| e.message_id.as_deref() == Some(message_id.as_str()))
                .map(|e| e.delivery_state)
        }))
    }
}

/// A line of the outbox's index.
#[derive(serde::Serialize)]
struct IndexRow<'a> {
    state: Option<&'static str>,
    number: i64,
    subject: &'a str,
    event_id: Option<&'a str>,
    file: Option<String>,
    place: Option<String>,
    sent_at: Option<String>,
}

/// The message id the outbox gives its email number `number`.
fn message_id_of(number: i64) -> String {
    format!("{number:06}@outbox.txn-notify.local")
}

const INDEX_HEAD: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>txn-notify outbox</title>
<style>body{font-family:Helvetica,Arial,sans-serif;margin:2em;color:#1f2933}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #e4e7eb;text-align:left}</style>
</head><body>
<h1>Outbox: {{ count }} emails</h1>
<table><tr><th>#</th><th>sent</th><th>subject</th><th>delivery</th><th>event</th><th>file</th></tr>
"#;

const INDEX_ROWS: &str = r#"{% for row in rows %}<tr><td>{{ row.number }}</td><td>{{ row.sent_at }}</td><td>{{ row.subject }}</td><td class="state">{{ row.state or "not recorded" }}</td><td><code>{{ row.event_id }}</code></td><td><a href="{{ row.file }}">{{ row.file }}</a>{% if row.place %} {{ row.place }}{% endif %}</td></tr>
{% endfor %}"#;

const INDEX_TAIL: &str = "</table>\n</body></html>\n";

impl<C: crate::ports::Clock> Mailer for OutboxMailer<C> {
    async fn send(&self, email: &Email) -> Result<String, MailError> {
        let event_id = email
            .tags
            .iter()
            .find(|t| t.name == "event_id")
            .map(|t| t.value.as_str());
        let unwritable = |e: std::io::Error| MailError::Transient(format!("cannot write the outbox: {e}"));
        let entry = self
            .store
            .record_email(event_id, email.subject.as_str(), |number, sent_at, commits| {
                self.write(email, number, sent_at, commits)
            })
            .map_err(|e| MailError::Transient(e.message))?
            .map_err(unwritable)?;
        let message_id = message_id_of(entry.number);
        let sent_at = chrono::DateTime::from_timestamp_millis(entry.sent_ms).unwrap_or_else(Utc::now);
        self.publish_feedback(email, &message_id, sent_at).await;
        Ok(message_id)
    }
}

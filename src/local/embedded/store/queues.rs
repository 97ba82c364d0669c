//! SQS queues and the bus archive on the embedded store.
//!
//! | SQS behaviour | here |
//! |---|---|
//! | a received message is invisible for the visibility timeout | `visible_at` moves on; the receipt changes on every receive |
//! | a message not deleted comes back after the timeout | it is visible again and its receive count goes on |
//! | the receive count passes the redrive policy's `maxReceiveCount` | it moves to the dead-letter queue instead of being received |
//! | a delete with a stale receipt | does nothing (the message was received again since) |
//!
//! Inside a group commit, a message sent is kept in memory ([`FreshMessages`]) until the
//! group commits, and only the messages still on a queue then are written: most are received
//! and deleted within the tick that sent them and never touch the file. What a commit
//! writes is what the queues hold at that moment, so a crash takes back the group whole as
//! before; a group that fails to commit loses its fresh messages with the rest of it.
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use super::{EmbeddedStore, atomic};
use crate::ports::{Clock, PortError};
use crate::template::QueueSettings;

#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt: String,
    pub body: String,
    /// This receive included.
    pub receive_count: u32,
    pub sent_at_ms: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
}

fn random_id() -> String {
    let mut rng = fastrand::Rng::new();
    format!("{:016x}{:016x}", rng.u64(..), rng.u64(..))
}

/// The messages sent during the open group commit, by queue and in the order sent; written
/// to `queue_messages` when the group commits, if still there.
#[derive(Debug, Default)]
pub(super) struct FreshMessages {
    queues: HashMap<String, BTreeMap<u64, FreshMessage>>,
    /// Numbers messages across groups: a fresh message's id ends with its number, so a
    /// delete finds it without a search.
    sent: u64,
}

#[derive(Debug)]
struct FreshMessage {
    message_id: String,
    body: String,
    sent_ms: i64,
    visible_at_ms: i64,
    receive_count: i64,
    receipt: Option<String>,
}

const INSERT_MESSAGE: &str =
    "INSERT INTO queue_messages (message_id, queue, body, sent_ms, visible_at_ms, receive_count, receipt)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

impl FreshMessages {
    fn send(&mut self, queue: &str, body: &str, now_ms: i64) -> String {
        self.sent += 1;
        let number = self.sent;
        let message_id = format!("{:016x}{number:016x}", fastrand::u64(..));
        let message = FreshMessage {
            message_id: message_id.clone(),
            body: body.to_string(),
            sent_ms: now_ms,
            visible_at_ms: now_ms,
            receive_count: 0,
            receipt: None,
        };
        self.queues
            .entry(queue.to_string())
            .or_default()
            .insert(number, message);
        message_id
    }

    /// As [`EmbeddedStore::receive`], on the fresh messages, until `received` holds `max`.
    fn receive(
        &mut self,
        queue: &str,
        settings: &QueueSettings,
        now_ms: i64,
        max: usize,
        received: &mut Vec<ReceivedMessage>,
    ) {
        let Some(messages) = self.queues.get_mut(queue) else {
            return;
        };
        let invisible_until = now_ms + settings.visibility_timeout.as_millis() as i64;
        let mut dead = Vec::new();
        for (&number, message) in messages.iter_mut() {
            if received.len() == max {
                break;
            }
            if message.visible_at_ms > now_ms {
                continue;
            }
            if let (Some(limit), Some(_)) = (settings.max_receive_count, &settings.dead_letter_queue)
                && message.receive_count >= i64::from(limit)
            {
                dead.push(number);
                continue;
            }
            let receipt = format!("{}.{}", message.message_id, random_id());
            message.receive_count += 1;
            message.visible_at_ms = invisible_until;
            message.receipt = Some(receipt.clone());
            received.push(ReceivedMessage {
                message_id: message.message_id.clone(),
                receipt,
                body: message.body.clone(),
                receive_count: message.receive_count as u32,
                sent_at_ms: message.sent_ms,
            });
        }
        if let Some(dlq) = &settings.dead_letter_queue {
            for number in dead {
                let Some(mut message) = self.queues.get_mut(queue).and_then(|m| m.remove(&number)) else {
                    continue;
                };
                tracing::warn!(queue, dead_letter_queue = %dlq, message_id = %message.message_id, receives = message.receive_count, "message moved to its dead-letter queue");
                message.receive_count = 0;
                message.visible_at_ms = now_ms;
                message.receipt = None;
                self.queues.entry(dlq.clone()).or_default().insert(number, message);
            }
        }
    }

    /// Deletes a fresh message by its receipt: None when the message is not a fresh one.
    fn delete(&mut self, queue: &str, message_id: &str, receipt: &str) -> Option<bool> {
        let number = message_id.get(16..).and_then(|n| u64::from_str_radix(n, 16).ok())?;
        let messages = self.queues.get_mut(queue)?;
        let message = messages.get(&number).filter(|m| m.message_id == message_id)?;
        if message.receipt.as_deref() != Some(receipt) {
            return Some(false);
        }
        messages.remove(&number);
        Some(true)
    }

    fn depth(&self, queue: &str, now_ms: i64) -> QueueDepth {
        let mut depth = QueueDepth::default();
        for message in self.queues.get(queue).into_iter().flat_map(|m| m.values()) {
            if message.visible_at_ms <= now_ms {
                depth.visible += 1;
            } else {
                depth.in_flight += 1;
            }
        }
        depth
    }

    fn next_visible_ms(&self, queue: &str) -> Option<i64> {
        self.queues.get(queue)?.values().map(|m| m.visible_at_ms).min()
    }

    /// Writes the messages still on a queue, and forgets them all.
    pub(super) fn write_out(&mut self, connection: &rusqlite::Connection) -> rusqlite::Result<()> {
        let queues = std::mem::take(&mut self.queues);
        let mut insert = None;
        for (queue, messages) in &queues {
            for message in messages.values() {
                if insert.is_none() {
                    insert = Some(connection.prepare_cached(INSERT_MESSAGE)?);
                }
                if let Some(insert) = insert.as_mut() {
                    insert.execute(params![
                        message.message_id,
                        queue,
                        message.body,
                        message.sent_ms,
                        message.visible_at_ms,
                        message.receive_count,
                        message.receipt
                    ])?;
                }
            }
        }
        Ok(())
    }

    /// Forgets them (their group did not commit).
    pub(super) fn discard(&mut self) {
        self.queues.clear();
    }
}

impl<C: Clock> EmbeddedStore<C> {
    /// Puts a message on a queue, visible now. Returns its message id.
    pub fn enqueue(&self, queue: &str, body: &str) -> Result<String, PortError> {
        let now = self.clock.now().timestamp_millis();
        self.with_fresh(|connection, fresh| match fresh {
            Some(fresh) => Ok(fresh.send(queue, body, now)),
            None => {
                let id = random_id();
                connection.prepare_cached(INSERT_MESSAGE)?.execute(params![
                    id,
                    queue,
                    body,
                    now,
                    now,
                    0,
                    None::<String>
                ])?;
                Ok(id)
            }
        })
    }

    /// Puts messages on a queue in one transaction, visible now: all or none.
    pub fn enqueue_all(&self, queue: &str, bodies: &[String]) -> Result<(), PortError> {
        let now = self.clock.now().timestamp_millis();
        self.with_fresh(|connection, fresh| match fresh {
            Some(fresh) => {
                for body in bodies {
                    fresh.send(queue, body, now);
                }
                Ok(())
            }
            None => atomic(connection, |tx| {
                let mut insert = tx.prepare_cached(INSERT_MESSAGE)?;
                for body in bodies {
                    insert.execute(params![random_id(), queue, body, now, now, 0, None::<String>])?;
                }
                Ok(())
            }),
        })
    }

    /// Receives up to `max` visible messages, oldest first, moving those past the redrive
    /// policy to the dead-letter queue instead.
    pub fn receive(
        &self,
        queue: &str,
        settings: &QueueSettings,
        max: usize,
    ) -> Result<Vec<ReceivedMessage>, PortError> {
        let now = self.clock.now().timestamp_millis();
        let invisible_until = now + settings.visibility_timeout.as_millis() as i64;
        self.with_fresh(|connection, fresh| {
            // The messages on disk were sent before the fresh ones: they come first.
            let mut received = atomic(connection, |tx| {
            // In the order of `queue_order`, so the oldest come first without a sort.
            let candidates: Vec<(String, String, i64, i64)> = {
                let mut statement = tx.prepare_cached(
                    "SELECT message_id, body, receive_count, sent_ms FROM queue_messages INDEXED BY queue_order
                     WHERE queue = ?1 AND visible_at_ms <= ?2 ORDER BY sent_ms, message_id LIMIT ?3",
                )?;
                let rows = statement.query_map(params![queue, now, (max * 4) as i64], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let mut received = Vec::new();
            for (message_id, body, count, sent_ms) in candidates {
                if received.len() == max {
                    break;
                }
                if let (Some(limit), Some(dlq)) = (settings.max_receive_count, &settings.dead_letter_queue)
                    && count >= i64::from(limit)
                {
                    tx.prepare_cached(
                        "UPDATE queue_messages SET queue = ?2, receive_count = 0, visible_at_ms = ?3, receipt = NULL
                         WHERE message_id = ?1",
                    )?
                    .execute(params![message_id, dlq, now])?;
                    tracing::warn!(queue, dead_letter_queue = %dlq, message_id = %message_id, receives = count, "message moved to its dead-letter queue");
                    continue;
                }
                // The receipt names its message, so a delete finds it by key.
                let receipt = format!("{message_id}.{}", random_id());
                tx.prepare_cached(
                    "UPDATE queue_messages SET receive_count = receive_count + 1, visible_at_ms = ?2, receipt = ?3
                     WHERE message_id = ?1",
                )?
                .execute(params![message_id, invisible_until, receipt])?;
                received.push(ReceivedMessage {
                    message_id,
                    receipt,
                    body,
                    receive_count: (count + 1) as u32,
                    sent_at_ms: sent_ms,
                });
            }
            Ok(received)
            })?;
            if let Some(fresh) = fresh {
                fresh.receive(queue, settings, now, max, &mut received);
            }
            Ok(received)
        })
    }

    /// Deletes a received message; false when the receipt is stale.
    pub fn delete_message(&self, queue: &str, receipt: &str) -> Result<bool, PortError> {
        let Some((message_id, _)) = receipt.split_once('.') else {
            return Ok(false);
        };
        self.with_fresh(|connection, fresh| {
            if let Some(deleted) = fresh.and_then(|fresh| fresh.delete(queue, message_id, receipt)) {
                return Ok(deleted);
            }
            let deleted = connection
                .prepare_cached("DELETE FROM queue_messages WHERE message_id = ?1 AND queue = ?2 AND receipt = ?3")?
                .execute(params![message_id, queue, receipt])?;
            Ok(deleted == 1)
        })
    }

    pub fn queue_depth(&self, queue: &str) -> Result<QueueDepth, PortError> {
        let now = self.clock.now().timestamp_millis();
        self.with_fresh(|connection, fresh| {
            let stored = connection
                .prepare_cached(
                    "SELECT COALESCE(SUM(visible_at_ms <= ?2), 0), COALESCE(SUM(visible_at_ms > ?2), 0)
                 FROM queue_messages WHERE queue = ?1",
                )?
                .query_row(params![queue, now], |row| {
                    Ok(QueueDepth {
                        visible: row.get::<_, i64>(0)? as u64,
                        in_flight: row.get::<_, i64>(1)? as u64,
                    })
                })?;
            let fresh = fresh.map(|fresh| fresh.depth(queue, now)).unwrap_or_default();
            Ok(QueueDepth {
                visible: stored.visible + fresh.visible,
                in_flight: stored.in_flight + fresh.in_flight,
            })
        })
    }

    /// When the next message of the queue becomes visible (None: the queue is empty).
    pub fn next_visible(&self, queue: &str) -> Result<Option<Duration>, PortError> {
        let now = self.clock.now().timestamp_millis();
        let at: Option<i64> = self.with_fresh(|connection, fresh| {
            let stored: Option<i64> = connection
                .prepare_cached("SELECT MIN(visible_at_ms) FROM queue_messages WHERE queue = ?1")?
                .query_row([queue], |row| row.get(0))?;
            let fresh = fresh.and_then(|fresh| fresh.next_visible_ms(queue));
            Ok(stored.into_iter().chain(fresh).min())
        })?;
        Ok(at.map(|at| Duration::from_millis((at - now).max(0) as u64)))
    }

    /// Keeps an event (its JSON text) in the archive.
    pub fn archive_event(&self, time: DateTime<Utc>, event: &str) -> Result<(), PortError> {
        self.with(|connection| {
            connection
                .prepare_cached(
                    "INSERT INTO archive (sequence, time_ms, event)
                     VALUES ((SELECT COALESCE(MAX(sequence), 0) + 1 FROM archive), ?1, ?2)",
                )?
                .execute(params![
                    time.timestamp_millis(),
                    super::codec::pack(super::codec::Kind::ArchivedEvent, event)
                ])?;
            Ok(())
        })
    }

    /// The archived events whose time is in [from, to), in the order they were put.
    pub fn archived_events(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Value>, PortError> {
        self.with(|connection| {
            let mut statement = connection
                .prepare_cached("SELECT event FROM archive WHERE time_ms >= ?1 AND time_ms < ?2 ORDER BY sequence")?;
            let rows = statement.query_map(params![from.timestamp_millis(), to.timestamp_millis()], |row| {
                super::codec::text_column(row, 0)
            })?;
            rows.map(|row| row.map(|text| serde_json::from_str(&text).unwrap_or(Value::Null)))
                .collect()
        })
    }
}

/// One email of the outbox index.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboxEntry {
    pub number: i64,
    pub event_id: Option<String>,
    pub subject: String,
    /// The `.eml` file, or the mailbox file that holds the email at `span`.
    pub file: String,
    pub sent_ms: i64,
    #[serde(skip)]
    pub span: Option<Span>,
}

const OUTBOX_COLUMNS: &str = "number, event_id, subject, file, sent_ms, byte_offset, byte_length";

fn outbox_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxEntry> {
    let offset: Option<i64> = row.get(5)?;
    let length: Option<i64> = row.get(6)?;
    Ok(OutboxEntry {
        number: row.get(0)?,
        event_id: row.get(1)?,
        subject: row.get(2)?,
        file: row.get(3)?,
        sent_ms: row.get(4)?,
        span: offset.zip(length).map(|(offset, length)| Span {
            offset: offset as u64,
            length: length as u64,
        }),
    })
}

/// Where an email lies inside the file that holds it with others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub offset: u64,
    pub length: u64,
}

/// Where the mailer put an email it was given a number for.
pub struct Placement {
    pub file: String,
    /// Inside a mailbox file; None for a file of its own.
    pub span: Option<Span>,
}

/// When an email's outbox row commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowCommits {
    /// With the open group commit.
    WithGroup,
    /// As soon as it is written (no group is open).
    AtOnce,
}

impl<C: Clock> EmbeddedStore<C> {
    /// Takes the next outbox number for an email, lets `write` put the email somewhere, and
    /// indexes it there; nothing is indexed when `write` fails. `write` is told when the index
    /// row commits: with the open group (what it wrote may wait for the group's
    /// [`before_commit`](EmbeddedStore::before_commit) hooks), or at once (it must be written
    /// before `write` returns).
    pub fn record_email<E>(
        &self,
        event_id: Option<&str>,
        subject: &str,
        write: impl FnOnce(i64, DateTime<Utc>, RowCommits) -> Result<Placement, E>,
    ) -> Result<Result<OutboxEntry, E>, PortError> {
        let now = self.clock.now();
        let sent_ms = now.timestamp_millis();
        let sent_at = DateTime::from_timestamp_millis(sent_ms).unwrap_or(now);
        self.with_fresh(|connection, fresh| {
            let commits = if fresh.is_some() {
                RowCommits::WithGroup
            } else {
                RowCommits::AtOnce
            };
            let number: i64 = connection
                .prepare_cached("SELECT COALESCE(MAX(number), 0) + 1 FROM outbox")?
                .query_row([], |row| row.get(0))?;
            let placement = match write(number, sent_at, commits) {
                Ok(placement) => placement,
                Err(error) => return Ok(Err(error)),
            };
            let (offset, length) = placement.span.map(|s| (s.offset as i64, s.length as i64)).unzip();
            connection
                .prepare_cached(
                    "INSERT INTO outbox (number, event_id, subject, file, sent_ms, byte_offset, byte_length)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    number,
                    event_id,
                    subject,
                    placement.file,
                    sent_ms,
                    offset,
                    length
                ])?;
            Ok(Ok(OutboxEntry {
                number,
                event_id: event_id.map(str::to_string),
                subject: subject.to_string(),
                file: placement.file,
                sent_ms,
                span: placement.span,
            }))
        })
    }

    /// Emails in the outbox, without reading them.
    pub fn outbox_count(&self) -> Result<u64, PortError> {
        self.with(|connection| {
            connection
                .prepare_cached("SELECT COUNT(*) FROM outbox")?
                .query_row([], |row| row.get::<_, i64>(0))
        })
        .map(|n| n as u64)
    }

    /// Hands `visit` the event id and the time of every email of the outbox, in order.
    pub fn visit_outbox(&self, mut visit: impl FnMut(Option<&str>, i64)) -> Result<(), PortError> {
        self.with(|connection| {
            let mut statement = connection.prepare_cached("SELECT event_id, sent_ms FROM outbox ORDER BY number")?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                visit(row.get_ref(0)?.as_str_or_null()?, row.get(1)?);
            }
            Ok(())
        })
    }

    /// One email of the index.
    pub fn outbox_entry(&self, number: i64) -> Result<Option<OutboxEntry>, PortError> {
        self.with(|connection| {
            connection
                .prepare_cached(&format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE number = ?1"))?
                .query_row([number], outbox_entry)
                .optional()
        })
    }

    /// The email of the highest number (None: the outbox is empty).
    pub fn last_outbox_entry(&self) -> Result<Option<OutboxEntry>, PortError> {
        self.with(|connection| {
            connection
                .prepare_cached(&format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY number DESC LIMIT 1"
                ))?
                .query_row([], outbox_entry)
                .optional()
        })
    }

    /// Up to `limit` emails numbered below `before`, newest first.
    pub fn outbox_page_before(&self, before: i64, limit: u32) -> Result<Vec<OutboxEntry>, PortError> {
        self.with(|connection| {
            let mut statement = connection.prepare_cached(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE number < ?1 ORDER BY number DESC LIMIT ?2"
            ))?;
            let rows = statement.query_map(params![before, limit], outbox_entry)?;
            rows.collect()
        })
    }

    pub fn outbox(&self) -> Result<Vec<OutboxEntry>, PortError> {
        self.with(|connection| {
            let mut statement =
                connection.prepare_cached(&format!("SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY number"))?;
            let rows = statement.query_map([], outbox_entry)?;
            rows.collect()
        })
    }
}

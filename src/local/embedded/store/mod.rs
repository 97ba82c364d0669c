//! The embedded runtime's durable store: one SQLite file in WAL mode holding the ledger items with their change stream,
//! audit records, notifications, idempotency records and checkpoints.
//!
//! The change stream is written in the same SQLite transaction as the item it describes, so
//! there is never an item without its record or a record without its item. Its records have
//! the shape of DynamoDB Streams records (NEW_AND_OLD_IMAGES): INSERT, MODIFY, REMOVE, Keys,
//! both images, an increasing SequenceNumber, ApproximateCreationDateTime and SizeBytes. A
//! write that changes nothing makes no record, as in DynamoDB.
//!
//! Durability: outside a group, every write is a committed SQLite transaction in WAL mode
//! with `synchronous = NORMAL`, so a write that returned survives the process being killed
//! at any moment (it is in the WAL, which the next open replays); only a power loss or an OS
//! crash could take back the last commits. `TXN_NOTIFY_STORE_SYNC=full` syncs every commit
//! to disk as well, at about ten times the cost per write.
//!
//! Group commits: the runtime opens a [`Group`] around one invocation (a stream batch with
//! its checkpoint, a queue batch with its receive and its deletes), and the writes made
//! while it is open go into one SQLite transaction, committed when the group ends. A crash
//! before that takes back the whole invocation, which then comes again, as a Lambda that
//! dies mid-batch does. A caller that answers someone (the API) commits what is pending
//! before it answers ([`EmbeddedStore::commit_pending`]), so what it said was written is.
//!
//! It implements the `Ledger`, `AuditLog`, `NotificationLog` and `Idempotency` ports with the same conditions
//! as the DynamoDB adapters.

mod codec;
mod consumers;
mod ledger;
mod queues;
mod writeback;

pub use queues::{OutboxEntry, Placement, QueueDepth, ReceivedMessage, RowCommits, Span};

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, params};
use serde_dynamo::Item;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::ports::{Clock, PortError};
use crate::workload::stream::{RecordParts, StreamOrigin, keys_of};

/// Where the embedded stream says its records come from.
pub const EMBEDDED_STREAM: StreamOrigin = StreamOrigin {
    region: "local",
    stream_arn: "arn:aws:dynamodb:local:000000000000:table/ledger/stream/embedded",
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ledger (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    item BLOB NOT NULL,
    statement_zone TEXT,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stream (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    pk TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    event_id TEXT PRIMARY KEY,
    account_id TEXT,
    detail_type TEXT,
    record BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    in_progress_until_ms INTEGER,
    expires_at_s INTEGER NOT NULL,
    result TEXT
);
CREATE TABLE IF NOT EXISTS checkpoints (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS queue_messages (
    message_id TEXT PRIMARY KEY,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_ms INTEGER NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT
);
CREATE INDEX IF NOT EXISTS queue_visible ON queue_messages (queue, visible_at_ms, sent_ms);
CREATE INDEX IF NOT EXISTS queue_order ON queue_messages (queue, sent_ms, message_id);
CREATE TABLE IF NOT EXISTS outbox (
    number INTEGER PRIMARY KEY,
    event_id TEXT,
    subject TEXT NOT NULL,
    file TEXT NOT NULL,
    sent_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS archive (
    sequence INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    event BLOB NOT NULL
);
";

/// Notifications in the order they were written, found by their key through an index of
/// its own. Keyed by the key itself (a random event id), every write landed on a page of its
/// own and rewrote it at the next commit; in written order the rows go onto the table's last
/// pages, and only the narrow key index takes random writes (`simulate --transactions
/// 100000`: system time 15 % lower). Stores written before hold the table keyed by the key
/// (`WITHOUT ROWID`): [`rebuild_notifications`] copies them over once.
const NOTIFICATIONS_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notifications (
    key TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    decision TEXT NOT NULL,
    record BLOB NOT NULL,
    emails BLOB
);
CREATE INDEX IF NOT EXISTS notifications_by_account ON notifications (account_id, occurred_at, key);
";

/// A store written before keeps its notifications keyed by their key: the rows move to the
/// table [`NOTIFICATIONS_SCHEMA`] makes, in one transaction, once.
fn rebuild_notifications(connection: &Connection) -> rusqlite::Result<()> {
    let keyed_by_key = connection
        .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'notifications' AND sql LIKE '%WITHOUT ROWID%'")?
        .exists([])?;
    if !keyed_by_key {
        return Ok(());
    }
    connection.execute_batch(&format!(
        "BEGIN;
         ALTER TABLE notifications RENAME TO notifications_keyed;
         DROP INDEX IF EXISTS notifications_by_account;
         {NOTIFICATIONS_SCHEMA}
         INSERT INTO notifications (key, account_id, occurred_at, decision, record, emails)
             SELECT key, account_id, occurred_at, decision, record, emails FROM notifications_keyed
             ORDER BY occurred_at, key;
         DROP TABLE notifications_keyed;
         COMMIT;"
    ))
}

/// The partial index that plays the `accounts-by-zone` GSI: only account profiles are in
/// it, and only those that carry a `statement_zone` (kept as a column beside the item).
fn zone_index_sql() -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS ledger_by_zone ON ledger (statement_zone, pk) WHERE sk = '{}'",
        crate::domain::keys::PROFILE_SK
    )
}

/// An item's `statement_zone` string attribute, for its column.
fn statement_zone_of(item: &Item) -> Option<&str> {
    match item.get("statement_zone") {
        Some(serde_dynamo::AttributeValue::S(zone)) => Some(zone),
        _ => None,
    }
}

/// Gives the profiles of a store written before the index their `statement_zone`, as the
/// README's backfill does on DynamoDB. Profiles without one that need none (closed,
/// unsubscribed) are decoded again at each open: there are few.
fn backfill_statement_zones(connection: &Connection) -> rusqlite::Result<()> {
    let rows: Vec<(String, String)> = {
        let mut statement = connection.prepare(&format!(
            "SELECT pk, item FROM ledger WHERE sk = '{}' AND statement_zone IS NULL",
            crate::domain::keys::PROFILE_SK
        ))?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, codec::text_column(row, 1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (pk, text) in rows {
        let Ok(item) = serde_json::from_str::<Item>(&text) else {
            continue;
        };
        if let Some(Some(_)) = crate::domain::Account::statement_zone_fix(&item) {
            let item = crate::domain::Account::with_statement_zone(item);
            connection.execute(
                "UPDATE ledger SET item = ?2, statement_zone = ?4 WHERE pk = ?1 AND sk = ?3",
                params![
                    pk,
                    codec::pack(codec::Kind::LedgerItem, &to_text(&item)),
                    crate::domain::keys::PROFILE_SK,
                    statement_zone_of(&item)
                ],
            )?;
        }
    }
    Ok(())
}

/// Columns added since the first stores were written: a store from an older version gets
/// them when it is opened, filled from its rows (which are all JSON text then).
const ADDED_COLUMNS: &[(&str, &str, &str, Option<&str>)] = &[
    ("idempotency", "result", "TEXT", None),
    ("outbox", "byte_offset", "INTEGER", None),
    ("outbox", "byte_length", "INTEGER", None),
    (
        "stream",
        "created_s",
        "INTEGER",
        Some("UPDATE stream SET created_s = json_extract(record, '$.dynamodb.ApproximateCreationDateTime')"),
    ),
    (
        "audit",
        "detail_type",
        "TEXT",
        Some("UPDATE audit SET detail_type = json_extract(record, '$.detail_type')"),
    ),
    (
        "ledger",
        "statement_zone",
        "TEXT",
        Some("UPDATE ledger SET statement_zone = json_extract(item, '$.statement_zone.S')"),
    ),
    // A notification's emails apart from its record (NULL: in the record, as written before).
    ("notifications", "emails", "BLOB", None),
];

fn upgrade(connection: &Connection) -> rusqlite::Result<()> {
    for (table, column, kind, fill) in ADDED_COLUMNS {
        let present: bool = connection
            .prepare(&format!("SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"))?
            .exists([column])?;
        if !present {
            connection.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
            if let Some(fill) = fill {
                connection.execute_batch(fill)?;
            }
        }
    }
    // The zone index of the stores whose items were all JSON text: it read the zone out of
    // the item, which a compressed item no longer allows.
    connection.execute_batch("DROP INDEX IF EXISTS ledger_by_statement_zone")?;
    Ok(())
}

/// How much a store takes on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StoreSize {
    /// The database's pages that hold something.
    pub in_use_bytes: u64,
    /// The database file and its WAL: pages freed (by the stream's trim, deleted queue
    /// messages) stay in the file, for later writes to reuse.
    pub file_bytes: u64,
}

/// How long the stream keeps a record (DynamoDB Streams: 24 hours).
pub const STREAM_RETENTION: chrono::Duration = chrono::Duration::hours(24);

/// Stream records removed per statement when the stream is trimmed.
const TRIM_CHUNK: usize = 10_000;

/// One record of the change stream, with the store's own position of it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEntry {
    pub sequence: i64,
    /// The item's partition key (the account, for ledger items): the unit of ordering.
    pub pk: String,
    /// Its ApproximateCreationDateTime, in seconds.
    pub created_s: Option<i64>,
    /// The record as JSON text, as the stream hands it over.
    pub text: String,
}

impl StreamEntry {
    /// The record as a JSON value.
    pub fn record(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// Its `dynamodb.SequenceNumber`.
    pub fn sequence_number(&self) -> String {
        crate::workload::stream::sequence_number(self.sequence as usize)
    }
}

/// The DynamoDB Streams event Lambda hands a function for these records, as JSON text. The
/// records are the store's own, each written as JSON (`RecordParts::text`): not read again
/// here to check that they are.
pub fn stream_event(entries: &[StreamEntry]) -> String {
    let mut text = String::with_capacity(16 + entries.iter().map(|e| e.text.len() + 1).sum::<usize>());
    text.push_str("{\"Records\":[");
    for (n, entry) in entries.iter().enumerate() {
        if n > 0 {
            text.push(',');
        }
        text.push_str(&entry.text);
    }
    text.push_str("]}");
    text
}

pub struct EmbeddedStore<C> {
    session: Mutex<Session>,
    /// Taken only while the session is (after it).
    profiles: Mutex<ledger::DecodedProfiles>,
    path: PathBuf,
    clock: C,
}

/// The connection, and the group commit in progress on it.
struct Session {
    connection: Connection,
    /// Groups open (they nest: the outermost commits).
    groups: u32,
    /// Whether the groups' SQLite transaction has begun (at their first statement).
    begun: bool,
    /// The queue messages the open group has sent and not yet written.
    fresh: queues::FreshMessages,
    /// What must reach its files before a commit makes the rows that point at it durable
    /// (the outbox's buffered mailbox appends).
    before_commit: Vec<BeforeCommit>,
    /// After the connection: dropped (its files closed) once the connection is.
    writeback: writeback::Writeback,
}

/// Writes out what rows about to commit point at; an error fails the commit.
pub type BeforeCommit = Box<dyn FnMut(WriteOut) -> std::io::Result<()> + Send>;

/// Why a [`BeforeCommit`] hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOut {
    /// The rows that point at what it holds are about to commit (or, if it fails, to be
    /// rolled back).
    ForCommit,
    /// Someone is about to read what the rows point at; nothing commits.
    ForReader,
}

impl Session {
    fn run_before_commit(&mut self, why: WriteOut) -> rusqlite::Result<()> {
        for hook in &mut self.before_commit {
            hook(why).map_err(|error| {
                rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
                    Some(format!("writing out before a commit: {error}")),
                )
            })?;
        }
        Ok(())
    }

    fn commit(&mut self) -> rusqlite::Result<()> {
        if !self.begun {
            return Ok(());
        }
        self.begun = false;
        let committed = self
            .run_before_commit(WriteOut::ForCommit)
            .and_then(|_| self.fresh.write_out(&self.connection))
            .and_then(|_| self.connection.prepare_cached("COMMIT"))
            .and_then(|mut s| s.execute([]));
        self.fresh.discard();
        if committed.is_ok() {
            self.writeback.committed();
        }
        if committed.is_err() && !self.connection.is_autocommit() {
            // A commit that failed leaves the transaction open: end it, so the next write
            // starts clean (what it held comes again with its invocation).
            let _ = self.connection.execute_batch("ROLLBACK");
        }
        committed.map(|_| ())
    }
}

/// A group commit: the writes made while it is open are committed together when it ends
/// (by [`Group::commit`], or on drop). See the module's notes on durability.
pub struct Group<'a, C> {
    store: &'a EmbeddedStore<C>,
    done: bool,
}

impl<C> Group<'_, C> {
    /// Ends the group; the outermost one commits.
    pub fn commit(mut self) -> Result<(), PortError> {
        self.done = true;
        self.store.end_group()
    }
}

impl<C> Drop for Group<'_, C> {
    fn drop(&mut self) {
        if !self.done
            && let Err(error) = self.store.end_group()
        {
            tracing::error!(error = %error.message, "a group commit failed; its invocation comes again");
        }
    }
}

/// Runs `work` all or nothing, as one savepoint: on its own it is a transaction; inside a
/// group it nests in the group's.
pub(super) fn atomic<T>(
    connection: &Connection,
    work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    connection.prepare_cached("SAVEPOINT atomic_write")?.execute([])?;
    match work(connection) {
        Ok(value) => {
            connection.prepare_cached("RELEASE atomic_write")?.execute([])?;
            Ok(value)
        }
        Err(error) => {
            let _ = connection.execute_batch("ROLLBACK TO atomic_write; RELEASE atomic_write");
            Err(error)
        }
    }
}

fn sqlite(error: rusqlite::Error) -> PortError {
    match &error {
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(
                failure.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            PortError::transient(format!("embedded store busy: {error}"))
        }
        _ => PortError::permanent(format!("embedded store: {error}")),
    }
}

/// Why a store cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreOpenError {
    #[error("cannot create {}: {source}", .dir.display())]
    CreateDir { dir: PathBuf, source: std::io::Error },
    #[error("cannot open {}: {source}", .path.display())]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("{} is in use by another txn-notify process (dev, simulate, replay or invoke --data-dir); one process owns a store at a time", .path.display())]
    InUse { path: PathBuf },
    #[error("cannot prepare {}: {source}", .path.display())]
    Prepare { path: PathBuf, source: rusqlite::Error },
    #[error("{} holds a run split into {shards} shards by account (a `simulate` run): open one of its shard folders, {}", .dir.display(), crate::local::embedded::shards::shard_dir(.dir, 0).display())]
    Sharded { dir: PathBuf, shards: usize },
    #[error(transparent)]
    Shards(#[from] crate::local::embedded::shards::ShardsError),
}

impl<C> EmbeddedStore<C> {
    fn with<T>(&self, work: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, PortError> {
        let mut session = self.session.lock().expect("store lock");
        if session.groups > 0 && !session.begun {
            session
                .connection
                .prepare_cached("BEGIN")
                .and_then(|mut s| s.execute([]))
                .map_err(sqlite)?;
            session.begun = true;
        }
        work(&session.connection).map_err(sqlite)
    }

    /// As `with`, with the open group's fresh queue messages (None outside a group).
    fn with_fresh<T>(
        &self,
        work: impl FnOnce(&Connection, Option<&mut queues::FreshMessages>) -> rusqlite::Result<T>,
    ) -> Result<T, PortError> {
        let mut session = self.session.lock().expect("store lock");
        if session.groups > 0 && !session.begun {
            session
                .connection
                .prepare_cached("BEGIN")
                .and_then(|mut s| s.execute([]))
                .map_err(sqlite)?;
            session.begun = true;
        }
        let Session {
            connection,
            groups,
            fresh,
            ..
        } = &mut *session;
        let fresh = (*groups > 0).then_some(fresh);
        work(connection, fresh).map_err(sqlite)
    }

    /// Opens a group commit (see the module's notes on durability).
    pub fn group(&self) -> Group<'_, C> {
        self.session.lock().expect("store lock").groups += 1;
        Group {
            store: self,
            done: false,
        }
    }

    /// Has `hook` write out, before each commit, what the rows it makes durable point at.
    pub fn before_commit(&self, hook: BeforeCommit) {
        self.session.lock().expect("store lock").before_commit.push(hook);
    }

    /// Runs the before-commit hooks without committing: what a reader of the files about to
    /// be pointed at needs.
    pub fn write_out_before_commit(&self) -> Result<(), PortError> {
        self.session
            .lock()
            .expect("store lock")
            .run_before_commit(WriteOut::ForReader)
            .map_err(sqlite)
    }

    /// Commits what the open groups have written so far (they go on in a new transaction):
    /// what a caller does before it tells someone a write is done.
    pub fn commit_pending(&self) -> Result<(), PortError> {
        self.session.lock().expect("store lock").commit().map_err(sqlite)
    }

    fn end_group(&self) -> Result<(), PortError> {
        let mut session = self.session.lock().expect("store lock");
        session.groups = session.groups.saturating_sub(1);
        if session.groups == 0 {
            session.commit().map_err(sqlite)?;
        }
        Ok(())
    }
}

impl<C: Clock> EmbeddedStore<C> {
    /// Opens (or creates) the store in `dir` (the file `txn-notify.db`).
    pub fn open(dir: &Path, clock: C) -> Result<Self, StoreOpenError> {
        Self::open_sharing(dir, clock, 1)
    }

    /// As [`open`](Self::open), for one of `shares` stores of a process that split its page
    /// cache between them (the shards of a run: each holds a share of the data).
    pub fn open_sharing(dir: &Path, clock: C, shares: usize) -> Result<Self, StoreOpenError> {
        // A store at the top of a sharded folder would be a new, empty one beside its shards.
        if let Some(shards) = crate::local::embedded::shards::shard_count(dir)? {
            return Err(StoreOpenError::Sharded {
                dir: dir.to_path_buf(),
                shards,
            });
        }
        std::fs::create_dir_all(dir).map_err(|source| StoreOpenError::CreateDir {
            dir: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join("txn-notify.db");
        configure_sqlite();
        let connection = Connection::open(&path).map_err(|source| StoreOpenError::Open {
            path: path.clone(),
            source,
        })?;
        connection
            // One process owns the store: no file lock per transaction, and a second process
            // gets a clear "database is locked" instead of interleaving writes.
            .pragma_update(None, "locking_mode", "EXCLUSIVE")
            .and_then(|_| connection.pragma_update(None, "journal_mode", "WAL"))
            .and_then(|_| connection.pragma_update(None, "synchronous", sync_mode()))
            .and_then(|_| connection.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES))
            .and_then(|_| connection.pragma_update(None, "cache_size", -(PAGE_CACHE_KIB / shares.max(1) as i64)))
            // A savepoint's sub-journal (every atomic write inside a group) in memory, not in
            // a temporary file.
            .and_then(|_| connection.pragma_update(None, "temp_store", "MEMORY"))
            // Plans made once, without the values bound: else SQLite plans with a bound LIMIT
            // and prepares the statement again each time another one is bound (every receive,
            // stream read and page of due accounts).
            .and_then(|_| connection.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true))
            .map(|_| ())
            .and_then(|_| connection.busy_timeout(std::time::Duration::from_secs(5)))
            .and_then(|_| connection.execute_batch(SCHEMA))
            .and_then(|_| connection.execute_batch(NOTIFICATIONS_SCHEMA))
            .and_then(|_| upgrade(&connection))
            .and_then(|_| rebuild_notifications(&connection))
            .and_then(|_| connection.execute_batch(&zone_index_sql()))
            .and_then(|_| backfill_statement_zones(&connection))
            .map_err(|source| match source.sqlite_error_code() {
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                    StoreOpenError::InUse { path: path.clone() }
                }
                _ => StoreOpenError::Prepare {
                    path: path.clone(),
                    source,
                },
            })?;
        // Every statement of the store stays prepared.
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(EmbeddedStore {
            session: Mutex::new(Session {
                connection,
                groups: 0,
                begun: false,
                fresh: Default::default(),
                before_commit: Vec::new(),
                writeback: writeback::Writeback::start(&path),
            }),
            profiles: Default::default(),
            path,
            clock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Writes (Some) or deletes (None) the item at (pk, sk) as one unconditional write, with
    /// its stream record. Returns whether anything changed.
    pub fn write_item(&self, pk: &str, sk: &str, item: Option<Item>) -> Result<bool, PortError> {
        let now = self.clock.now();
        self.with(|connection| atomic(connection, |connection| write_in(connection, pk, sk, item, now, false)))
    }

    /// Puts an item as is (a system writing straight into the table would), keyed by its
    /// `pk` and `sk` string attributes (missing ones count as empty).
    pub fn put_item(&self, item: Item) -> Result<bool, PortError> {
        let key = |name: &str| match item.get(name) {
            Some(serde_dynamo::AttributeValue::S(s)) => s.clone(),
            _ => String::new(),
        };
        let (pk, sk) = (key("pk"), key("sk"));
        self.write_item(&pk, &sk, Some(item))
    }

    /// The item at (pk, sk).
    pub fn get_item(&self, pk: &str, sk: &str) -> Result<Option<Item>, PortError> {
        self.with(|connection| read_item(connection, pk, sk))
    }

    /// Stream records after `after` (a sequence), oldest first, at most `limit`.
    pub fn read_stream(&self, after: i64, limit: usize) -> Result<Vec<StreamEntry>, PortError> {
        self.with(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT sequence, pk, created_s, record FROM stream WHERE sequence > ?1 ORDER BY sequence LIMIT ?2",
            )?;
            let rows = statement.query_map(params![after, limit as i64], |row| {
                Ok(StreamEntry {
                    sequence: row.get(0)?,
                    pk: row.get(1)?,
                    created_s: row.get(2)?,
                    text: row.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Removes the stream records written more than [`STREAM_RETENTION`] before `now`, as
    /// DynamoDB Streams trims its shards, whether a reader took them or not. The newest
    /// record always stays, so the next record's sequence still follows the last one's.
    /// Returns how many records went.
    pub fn trim_stream(&self, now: DateTime<Utc>) -> Result<usize, PortError> {
        let cutoff = (now - STREAM_RETENTION).timestamp();
        self.with(|connection| {
            let keep_from: Option<i64> = connection
                .prepare_cached(
                    "SELECT COALESCE(
                         (SELECT sequence FROM stream WHERE created_s IS NULL OR created_s >= ?1 ORDER BY sequence LIMIT 1),
                         (SELECT MAX(sequence) FROM stream))",
                )?
                .query_row([cutoff], |row| row.get(0))?;
            let Some(keep_from) = keep_from else { return Ok(0) };
            // A chunk at a time: SQLite holds the row ids a DELETE removes until it is done,
            // and a day of records at once (the end of a long run) would hold them all.
            let mut removed = 0;
            loop {
                let chunk = connection
                    .prepare_cached(
                        "DELETE FROM stream WHERE sequence IN
                             (SELECT sequence FROM stream WHERE sequence < ?1 ORDER BY sequence LIMIT ?2)",
                    )?
                    .execute(params![keep_from, TRIM_CHUNK as i64])?;
                removed += chunk;
                if chunk < TRIM_CHUNK {
                    return Ok(removed);
                }
            }
        })
    }

    /// The last sequence of the stream (0 when empty).
    pub fn stream_head(&self) -> Result<i64, PortError> {
        self.with(|connection| {
            connection
                .prepare_cached("SELECT COALESCE(MAX(sequence), 0) FROM stream")?
                .query_row([], |row| row.get(0))
        })
    }

    pub fn checkpoint(&self, name: &str) -> Result<Option<String>, PortError> {
        self.with(|connection| {
            connection
                .prepare_cached("SELECT value FROM checkpoints WHERE name = ?1")?
                .query_row([name], |row| row.get(0))
                .optional()
        })
    }

    pub fn set_checkpoint(&self, name: &str, value: &str) -> Result<(), PortError> {
        self.with(|connection| {
            connection
                .prepare_cached(
                    "INSERT INTO checkpoints (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![name, value])?;
            Ok(())
        })
    }

    /// Every account profile that decodes, in account_id order: what a local tool reports
    /// on (the pipeline reads profiles by key or through the zone index).
    pub fn accounts(&self) -> Result<Vec<crate::domain::Account>, PortError> {
        let texts: Vec<String> = self.with(|connection| {
            let mut statement = connection.prepare_cached("SELECT item FROM ledger WHERE sk = ?1 ORDER BY pk")?;
            let rows = statement.query_map([crate::domain::keys::PROFILE_SK], |row| codec::text_column(row, 0))?;
            rows.collect()
        })?;
        Ok(texts
            .iter()
            .filter_map(|text| serde_json::from_str::<Item>(text).ok())
            .filter_map(|item| match crate::domain::LedgerItem::decode(&item) {
                Ok(crate::domain::LedgerItem::Account(account)) => Some(*account),
                _ => None,
            })
            .collect())
    }

    /// How much the store takes on disk.
    pub fn size(&self) -> Result<StoreSize, PortError> {
        let (pages, free, page_size): (i64, i64, i64) = self.with(|connection| {
            Ok((
                connection.query_row("PRAGMA page_count", [], |row| row.get(0))?,
                connection.query_row("PRAGMA freelist_count", [], |row| row.get(0))?,
                connection.query_row("PRAGMA page_size", [], |row| row.get(0))?,
            ))
        })?;
        let file_len = |path: &Path| std::fs::metadata(path).map_or(0, |m| m.len());
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        Ok(StoreSize {
            in_use_bytes: ((pages - free) * page_size) as u64,
            file_bytes: file_len(&self.path) + file_len(Path::new(&wal)),
        })
    }

    /// How many items the ledger holds.
    pub fn item_count(&self) -> Result<u64, PortError> {
        self.with(|connection| connection.query_row("SELECT COUNT(*) FROM ledger", [], |row| row.get::<_, i64>(0)))
            .map(|n| n as u64)
    }
}

/// SQLite's settings for the whole process, made once before its first connection opens
/// (SQLite refuses them after that; a process that opened one first keeps SQLite's
/// defaults, which are only slower).
///
/// Memory statistics off: SQLite counts every allocation under one global mutex, and the
/// shards of a run, each on a thread and a store of its own, queued on it a few hundred
/// thousand times a second (`simulate --transactions 100000`, two shards: 4,449–5,050 tx/s
/// with the count, 5,426–5,525 without). Nothing here reads SQLite's memory figures.
pub fn configure_sqlite() {
    static CONFIGURED: std::sync::Once = std::sync::Once::new();
    CONFIGURED.call_once(|| {
        // SAFETY: sqlite3_config with SQLITE_CONFIG_MEMSTATUS takes one int. Before
        // SQLite is initialized it sets the option; after, it returns SQLITE_MISUSE and
        // changes nothing, which is the documented outcome here.
        unsafe {
            rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int);
        }
    });
}

/// SQLite's page cache, KiB (its default is 2,000): the b-trees' inner pages and the hot
/// leaves of a run of 100,000 transactions (a 500 MB file) stay in it, instead of coming
/// back from the operating system's cache a read at a time.
const PAGE_CACHE_KIB: i64 = 16 * 1024;

/// WAL pages between two checkpoints (SQLite's default is 1,000): a page the pipeline
/// rewrites often (a queue's, a b-tree's right edge) is copied into the database once per
/// checkpoint, and the WAL stays under about 256 MB. With the writeback thread, a longer
/// interval no longer means a longer wait on the checkpoint's syncs (docs/embedded.md#commits).
const WAL_CHECKPOINT_PAGES: i64 = 64_000;

/// More than the store's distinct statements, so none is prepared twice.
const STATEMENT_CACHE: usize = 128;

fn sync_mode() -> &'static str {
    match std::env::var("TXN_NOTIFY_STORE_SYNC").as_deref() {
        Ok("full") => "FULL",
        _ => "NORMAL",
    }
}

fn to_text(item: &Item) -> String {
    serde_json::to_string(item).expect("items serialize")
}

/// The item's JSON text at (pk, sk).
fn item_text(connection: &Connection, pk: &str, sk: &str) -> rusqlite::Result<Option<String>> {
    connection
        .prepare_cached("SELECT item FROM ledger WHERE pk = ?1 AND sk = ?2")?
        .query_row(params![pk, sk], |row| codec::text_column(row, 0))
        .optional()
}

/// An item's JSON text as the ledger keeps it.
fn packed_item(text: Option<&str>) -> Vec<u8> {
    codec::pack(codec::Kind::LedgerItem, text.unwrap_or_default())
}

/// Whether an item is stored at (pk, sk), without reading it.
fn item_exists(connection: &Connection, pk: &str, sk: &str) -> rusqlite::Result<bool> {
    connection
        .prepare_cached("SELECT 1 FROM ledger WHERE pk = ?1 AND sk = ?2")?
        .exists(params![pk, sk])
}

fn item_of(text: &str) -> rusqlite::Result<Item> {
    serde_json::from_str(text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn read_item(connection: &Connection, pk: &str, sk: &str) -> rusqlite::Result<Option<Item>> {
    item_text(connection, pk, sk)?.as_deref().map(item_of).transpose()
}

/// Writes or deletes one item inside a transaction and appends its stream record, unless
/// nothing changes. `by_ttl`: a REMOVE done by TTL (its record names the service).
fn write_in(
    connection: &Connection,
    pk: &str,
    sk: &str,
    new: Option<Item>,
    at: DateTime<Utc>,
    by_ttl: bool,
) -> rusqlite::Result<bool> {
    let old_text = item_text(connection, pk, sk)?;
    write_over(connection, pk, sk, old_text, new, at, by_ttl)
}

/// As [`write_in`], for an item whose key the caller has just found empty in the same
/// transaction: it is not looked up again.
fn insert_in(connection: &Connection, pk: &str, sk: &str, new: Item, at: DateTime<Utc>) -> rusqlite::Result<bool> {
    write_over(connection, pk, sk, None, Some(new), at, false)
}

/// [`write_in`] once the stored item's text (`old_text`) is known.
fn write_over(
    connection: &Connection,
    pk: &str,
    sk: &str,
    old_text: Option<String>,
    new: Option<Item>,
    at: DateTime<Utc>,
    by_ttl: bool,
) -> rusqlite::Result<bool> {
    // Made by serializing the item: a `RawValue` no reader has to go through again.
    let new_text = new
        .as_ref()
        .map(|item| serde_json::value::to_raw_value(item).expect("items serialize"));
    let packed = || packed_item(new_text.as_deref().map(RawValue::get));
    let (event_name, keys) = match (&old_text, &new) {
        (None, None) => return Ok(false),
        (Some(old_text), Some(new)) => {
            if item_of(old_text)? == *new {
                return Ok(false);
            }
            connection
                .prepare_cached("UPDATE ledger SET item = ?3, statement_zone = ?4 WHERE pk = ?1 AND sk = ?2")?
                .execute(params![pk, sk, packed(), statement_zone_of(new)])?;
            ("MODIFY", keys_of(new))
        }
        (None, Some(new)) => {
            connection
                .prepare_cached("INSERT INTO ledger (pk, sk, item, statement_zone) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![pk, sk, packed(), statement_zone_of(new)])?;
            ("INSERT", keys_of(new))
        }
        (Some(old_text), None) => {
            connection
                .prepare_cached("DELETE FROM ledger WHERE pk = ?1 AND sk = ?2")?
                .execute(params![pk, sk])?;
            ("REMOVE", keys_of(&item_of(old_text)?))
        }
    };
    let sequence: i64 = connection
        .prepare_cached("SELECT COALESCE(MAX(sequence), 0) + 1 FROM stream")?
        .query_row([], |row| row.get(0))?;
    // The old image read back from the store: checked as JSON, as a stream reader would.
    let old_image = old_text
        .map(RawValue::from_string)
        .transpose()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))?;
    let record = RecordParts {
        event_name,
        keys: &keys,
        new_image: new_text.as_deref(),
        old_image: old_image.as_deref(),
        at,
        by_ttl: by_ttl && event_name == "REMOVE",
    }
    .text(sequence as usize, EMBEDDED_STREAM);
    connection
        .prepare_cached("INSERT INTO stream (sequence, pk, record, created_s) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![sequence, pk, record, at.timestamp()])?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::StatementStatus;

    /// Every connection of this crate opens through `configure_sqlite`, so SQLite keeps no
    /// memory count from its start: the figure it would keep reads zero.
    #[test]
    fn sqlite_counts_no_allocations() {
        let dir = std::env::temp_dir().join(format!("txn-notify-memstat-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = EmbeddedStore::open(&dir, crate::clock::SystemClock).unwrap();
        store
            .with(|connection| {
                connection.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (randomblob(100000));")
            })
            .unwrap();
        // SAFETY: reads a counter.
        assert_eq!(unsafe { rusqlite::ffi::sqlite3_memory_used() }, 0);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// .cargo/config.toml builds SQLite without a page cache shared by every connection of
    /// the process (and its one mutex): each shard's store keeps its own.
    #[test]
    fn sqlite_is_built_without_a_shared_page_cache() {
        let dir = std::env::temp_dir().join(format!("txn-notify-pcache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = EmbeddedStore::open(&dir, crate::clock::SystemClock).unwrap();
        let options: Vec<String> = store
            .with(|connection| {
                let mut statement = connection.prepare("SELECT compile_options FROM pragma_compile_options")?;
                let rows = statement.query_map([], |row| row.get(0))?;
                rows.collect()
            })
            .unwrap();
        assert!(options.iter().any(|o| o.starts_with("THREADSAFE=")), "{options:?}");
        assert!(!options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"), "{options:?}");
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A statement bound again with another LIMIT runs as it was prepared.
    #[test]
    fn a_statement_is_not_prepared_again_for_each_limit_bound() {
        let dir = std::env::temp_dir().join(format!("txn-notify-qpsg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = EmbeddedStore::open(&dir, crate::clock::SystemClock).unwrap();
        let session = store.session.lock().unwrap();
        let mut statement = session
            .connection
            .prepare("SELECT sequence FROM stream WHERE sequence > ?1 ORDER BY sequence LIMIT ?2")
            .unwrap();
        for limit in [1, 10, 100, 7] {
            statement
                .query_map(params![0, limit], |row| row.get::<_, i64>(0))
                .unwrap()
                .for_each(drop);
        }
        assert_eq!(statement.get_status(StatementStatus::RePrepare), 0);
        drop(statement);
        drop(session);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The shards of a run split one page cache: each store holds its share of the data.
    #[test]
    fn stores_that_share_the_page_cache_each_take_their_part_of_it() {
        let dir = std::env::temp_dir().join(format!("txn-notify-cache-share-{}", std::process::id()));
        for (shares, kib) in [
            (1, PAGE_CACHE_KIB),
            (2, PAGE_CACHE_KIB / 2),
            (4, PAGE_CACHE_KIB / 4),
            (0, PAGE_CACHE_KIB),
        ] {
            let _ = std::fs::remove_dir_all(&dir);
            let store = EmbeddedStore::open_sharing(&dir, crate::clock::SystemClock, shares).unwrap();
            let cache_size: i64 = store
                .with(|connection| connection.query_row("PRAGMA cache_size", [], |row| row.get(0)))
                .unwrap();
            assert_eq!(cache_size, -kib, "{shares} shares");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

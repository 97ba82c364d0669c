//! Where the judge keeps what a run must have done and what it left: a SQLite file of its
//! own beside the store (`judge.db`), so a run of a million transactions is judged in the
//! same memory as a run of five thousand.
//!
//! The expectations are appended as they are worked out, one row each (no index to keep
//! up while the run goes); the audit items and the outbox are copied in once the run is
//! over; the judging is then a few passes in key order, each row let go once read. The file
//! is scratch: no journal, no sync, rebuilt by every run (a crash of the simulated runtime
//! does not touch it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

/// An event id as the report keeps it: the 128 bits of a UUID (every event id the
/// pipeline makes is one), or of the SHA-256 of any other text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey(u128);

impl EventKey {
    /// Its 16 bytes, most significant first: byte order is the order of the UUIDs' text.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    /// The key of 16 bytes from [`EventKey::to_bytes`]; other lengths are padded or cut
    /// (the judge's file holds only what `to_bytes` wrote).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut sixteen = [0u8; 16];
        let n = bytes.len().min(16);
        sixteen[..n].copy_from_slice(&bytes[..n]);
        EventKey(u128::from_be_bytes(sixteen))
    }

    pub fn of(event_id: &str) -> Self {
        match uuid::Uuid::try_parse(event_id) {
            // Only the canonical text (hyphenated, lower case) is kept as its bits: another
            // spelling of the same UUID is another id.
            Ok(uuid) if *uuid.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()) == *event_id => {
                EventKey(uuid.as_u128())
            }
            _ => {
                let digest = ring::digest::digest(&ring::digest::SHA256, event_id.as_bytes());
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(&digest.as_ref()[..16]);
                EventKey(u128::from_be_bytes(bytes))
            }
        }
    }
}

impl std::fmt::Display for EventKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        uuid::Uuid::from_u128(self.0).hyphenated().fmt(f)
    }
}

/// Index of an account in [`Expected`](super::Expected)'s list of the accounts it has seen.
pub type AccountIndex = u32;

/// The judge's file in a run's folder.
pub const JUDGE_FILE: &str = "judge.db";

/// Pages SQLite keeps in memory for the file (and its sorts, which spill to temporary files
/// past it).
const CACHE_KIB: i64 = 4 * 1024;

const SCHEMA: &str = "
CREATE TABLE expected_event (
    key BLOB NOT NULL,
    -- The time the transaction of a Transaction Recorded of an insert was stored (ms).
    stored_ms INTEGER,
    -- The account an email of the event goes to.
    email_to INTEGER
);
CREATE TABLE audited (key BLOB NOT NULL);
CREATE TABLE emailed (key BLOB NOT NULL, sent_ms INTEGER NOT NULL);
";

#[derive(Debug, thiserror::Error)]
#[error("the judge's file {}: {source}", .path.display())]
pub struct JudgeFileError {
    pub path: PathBuf,
    #[source]
    pub source: rusqlite::Error,
}

/// An expected event as judged: what it must have had and what was found of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JudgedEvent {
    pub key: EventKey,
    /// The account its email goes to (None: the policy sends none).
    pub email_to: Option<AccountIndex>,
    pub audited: bool,
    pub emails: u64,
}

#[derive(Debug)]
pub struct JudgeFile {
    connection: Connection,
    path: PathBuf,
}

impl JudgeFile {
    /// A new, empty file at `path` (one left there before is replaced).
    pub fn create(path: &Path) -> Result<JudgeFile, JudgeFileError> {
        Self::create_sharing(path, 1)
    }

    /// As [`create`](Self::create), for one of `shares` judges of a process that split its
    /// cache between them (one per shard).
    pub fn create_sharing(path: &Path, shares: usize) -> Result<JudgeFile, JudgeFileError> {
        let failed = |source| JudgeFileError {
            path: path.to_path_buf(),
            source,
        };
        for stale in [path.to_path_buf(), path.with_extension("db-journal")] {
            let _ = std::fs::remove_file(stale);
        }
        crate::local::embedded::store::configure_sqlite();
        let connection = Connection::open(path).map_err(failed)?;
        connection
            .pragma_update(None, "locking_mode", "EXCLUSIVE")
            .and_then(|_| connection.pragma_update(None, "journal_mode", "OFF"))
            .and_then(|_| connection.pragma_update(None, "synchronous", "OFF"))
            .and_then(|_| connection.pragma_update(None, "cache_size", -(CACHE_KIB / shares.max(1) as i64)))
            // The sorts of the judging spill to files past the cache: the bundled SQLite
            // would keep them in memory.
            .and_then(|_| connection.pragma_update(None, "temp_store", "FILE"))
            .and_then(|_| connection.execute_batch(SCHEMA))
            .map_err(failed)?;
        Ok(JudgeFile {
            connection,
            path: path.to_path_buf(),
        })
    }

    fn failed(&self, source: rusqlite::Error) -> JudgeFileError {
        JudgeFileError {
            path: self.path.clone(),
            source,
        }
    }

    /// Starts a transaction: the rows until [`JudgeFile::commit`] are written together.
    pub fn begin(&self) -> Result<(), JudgeFileError> {
        self.connection.execute_batch("BEGIN").map_err(|e| self.failed(e))
    }

    /// Ends the transaction [`JudgeFile::begin`] started. With no journal, what was written
    /// before a failure stays written: a failed run is judged no more.
    pub fn commit(&self) -> Result<(), JudgeFileError> {
        self.connection.execute_batch("COMMIT").map_err(|e| self.failed(e))
    }

    /// An event that must be published (the same key may come more than once: one event).
    pub fn expect(
        &self,
        key: EventKey,
        stored_ms: Option<i64>,
        email_to: Option<AccountIndex>,
    ) -> Result<(), JudgeFileError> {
        self.connection
            .prepare_cached("INSERT INTO expected_event (key, stored_ms, email_to) VALUES (?1, ?2, ?3)")
            .and_then(|mut insert| insert.execute(params![key.to_bytes(), stored_ms, email_to]))
            .map(|_| ())
            .map_err(|e| self.failed(e))
    }

    /// Replaces what the run left with what `fill` finds: audit items and emails, as
    /// [`Observations`] takes them.
    pub fn observe<E: From<JudgeFileError>>(
        &self,
        fill: impl FnOnce(&mut Observations<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.connection
            .execute_batch(
                "DROP INDEX IF EXISTS audited_key; DROP INDEX IF EXISTS emailed_key;
                 DELETE FROM audited; DELETE FROM emailed;",
            )
            .map_err(|e| self.failed(e))?;
        self.begin()?;
        let mut observations = Observations {
            file: self,
            error: None,
        };
        let filled = fill(&mut observations);
        let error = observations.error.take();
        self.commit()?;
        filled?;
        if let Some(error) = error {
            return Err(error.into());
        }
        // Indexes made once the rows are in: a sort, not a random insert per row.
        self.connection
            .execute_batch(
                "CREATE INDEX IF NOT EXISTS expected_event_key ON expected_event (key, stored_ms, email_to);
                 CREATE INDEX audited_key ON audited (key);
                 CREATE INDEX emailed_key ON emailed (key);",
            )
            .map_err(|e| self.failed(e).into())
    }

    /// Every expected event once, in key order, with what was found of it.
    pub fn visit_expected(&self, mut visit: impl FnMut(JudgedEvent)) -> Result<(), JudgeFileError> {
        let mut run = || -> rusqlite::Result<()> {
            let mut statement = self.connection.prepare(
                "WITH event AS (SELECT key, max(email_to) AS email_to FROM expected_event GROUP BY key)
                 SELECT key, email_to,
                        EXISTS (SELECT 1 FROM audited WHERE audited.key = event.key),
                        (SELECT count(*) FROM emailed WHERE emailed.key = event.key)
                 FROM event ORDER BY key",
            )?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                visit(JudgedEvent {
                    key: EventKey::from_bytes(row.get_ref(0)?.as_blob()?),
                    email_to: row.get(1)?,
                    audited: row.get(2)?,
                    emails: row.get::<_, i64>(3)?.unsigned_abs(),
                });
            }
            Ok(())
        };
        run().map_err(|e| self.failed(e))
    }

    /// The emails of events nobody expected, in key order.
    pub fn visit_unexpected_emails(&self, mut visit: impl FnMut(EventKey)) -> Result<(), JudgeFileError> {
        let mut run = || -> rusqlite::Result<()> {
            let mut statement = self.connection.prepare(
                "SELECT key FROM emailed
                 WHERE NOT EXISTS (SELECT 1 FROM expected_event WHERE expected_event.key = emailed.key)
                 ORDER BY key",
            )?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                visit(EventKey::from_bytes(row.get_ref(0)?.as_blob()?));
            }
            Ok(())
        };
        run().map_err(|e| self.failed(e))
    }

    /// Insert → email of every email of a transaction's own insert, in ms: how many emails
    /// took each.
    pub fn insert_to_email_ms(&self) -> Result<BTreeMap<i64, u64>, JudgeFileError> {
        let run = || -> rusqlite::Result<BTreeMap<i64, u64>> {
            let mut statement = self.connection.prepare(
                "SELECT emailed.sent_ms - expected_event.stored_ms, count(*)
                 FROM emailed JOIN expected_event ON expected_event.key = emailed.key
                 WHERE expected_event.stored_ms IS NOT NULL
                 GROUP BY 1",
            )?;
            let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get::<_, i64>(1)?.unsigned_abs())))?;
            rows.collect()
        };
        run().map_err(|e| self.failed(e))
    }
}

/// What the run left, taken in inside one transaction of [`JudgeFile::observe`].
pub struct Observations<'a> {
    file: &'a JudgeFile,
    /// The first failure: the store's visitors take closures that cannot fail.
    error: Option<JudgeFileError>,
}

impl Observations<'_> {
    pub fn audited(&mut self, key: EventKey) {
        self.insert("INSERT INTO audited (key) VALUES (?1)", params![key.to_bytes()]);
    }

    pub fn emailed(&mut self, key: EventKey, sent_ms: i64) {
        self.insert(
            "INSERT INTO emailed (key, sent_ms) VALUES (?1, ?2)",
            params![key.to_bytes(), sent_ms],
        );
    }

    fn insert(&mut self, sql: &str, values: &[&dyn rusqlite::ToSql]) {
        if self.error.is_some() {
            return;
        }
        let connection = &self.file.connection;
        if let Err(source) = connection.prepare_cached(sql).and_then(|mut s| s.execute(values)) {
            self.error = Some(self.file.failed(source));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{EventKey, JudgeFile, JudgedEvent};

    fn key(n: u8) -> EventKey {
        EventKey::from_bytes(&[n; 16])
    }

    fn judged(file: &JudgeFile) -> Vec<JudgedEvent> {
        let mut events = Vec::new();
        file.visit_expected(|event| events.push(event)).unwrap();
        events
    }

    /// A judge's file of its own for each test.
    fn path(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("txn-notify-judge-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("judge.db")
    }

    fn scratch(name: &str) -> JudgeFile {
        JudgeFile::create(&path(name)).unwrap()
    }

    /// One judge per shard: each takes its part of the cache.
    #[test]
    fn judges_that_share_the_cache_each_take_their_part_of_it() {
        for (shares, kib) in [
            (1, super::CACHE_KIB),
            (2, super::CACHE_KIB / 2),
            (8, super::CACHE_KIB / 8),
        ] {
            let file = JudgeFile::create_sharing(&path("cache-share"), shares).unwrap();
            let cache_size: i64 = file
                .connection
                .query_row("PRAGMA cache_size", [], |row| row.get(0))
                .unwrap();
            assert_eq!(cache_size, -kib, "{shares} shares");
        }
    }

    #[test]
    fn an_event_expected_twice_is_one_event_with_what_both_said() {
        let file = scratch("twice");
        file.begin().unwrap();
        file.expect(key(2), Some(1_000), None).unwrap();
        file.expect(key(1), None, None).unwrap();
        file.expect(key(2), None, Some(7)).unwrap();
        file.commit().unwrap();
        file.observe(|found| -> Result<(), super::JudgeFileError> {
            found.audited(key(2));
            found.emailed(key(2), 1_040);
            found.emailed(key(2), 1_090);
            found.emailed(key(9), 1_100);
            Ok(())
        })
        .unwrap();
        assert_eq!(
            judged(&file),
            vec![
                JudgedEvent {
                    key: key(1),
                    email_to: None,
                    audited: false,
                    emails: 0
                },
                JudgedEvent {
                    key: key(2),
                    email_to: Some(7),
                    audited: true,
                    emails: 2
                },
            ]
        );
        let mut unexpected = Vec::new();
        file.visit_unexpected_emails(|k| unexpected.push(k)).unwrap();
        assert_eq!(unexpected, vec![key(9)]);
        let latencies = file.insert_to_email_ms().unwrap();
        assert_eq!(latencies.into_iter().collect::<Vec<_>>(), vec![(40, 1), (90, 1)]);
    }

    #[test]
    fn observing_again_replaces_what_was_found() {
        let file = scratch("again");
        file.expect(key(1), None, Some(0)).unwrap();
        let observe = |emails: u8| {
            file.observe(|found| -> Result<(), super::JudgeFileError> {
                found.audited(key(1));
                for _ in 0..emails {
                    found.emailed(key(1), 5);
                }
                Ok(())
            })
            .unwrap()
        };
        observe(3);
        assert_eq!(judged(&file)[0].emails, 3);
        observe(1);
        assert_eq!(judged(&file)[0].emails, 1);
        assert!(judged(&file)[0].audited);
    }

    #[test]
    fn a_file_left_by_a_run_before_is_started_afresh() {
        let path = path("afresh");
        JudgeFile::create(&path).unwrap().expect(key(1), None, None).unwrap();
        let file = JudgeFile::create(&path).unwrap();
        assert!(judged(&file).is_empty());
    }

    #[test]
    fn a_uuid_is_kept_as_its_bits_and_written_back_the_same() {
        let id = "71d1aae2-59e4-5e8f-b345-8e3736e2a57b";
        assert_eq!(EventKey::of(id).to_string(), id);
        assert_ne!(EventKey::of(id), EventKey::of("71d1aae2-59e4-5e8f-b345-8e3736e2a57c"));
    }

    #[test]
    fn other_texts_get_keys_of_their_own() {
        // Upper case and unhyphenated forms parse to the same UUID: they must not collide
        // with the canonical text.
        let canonical = EventKey::of("71d1aae2-59e4-5e8f-b345-8e3736e2a57b");
        assert_ne!(EventKey::of("71D1AAE2-59E4-5E8F-B345-8E3736E2A57B"), canonical);
        assert_ne!(EventKey::of("71d1aae259e45e8fb3458e3736e2a57b"), canonical);
        assert_ne!(EventKey::of("evt-1"), EventKey::of("evt-2"));
        assert_eq!(EventKey::of("evt-1"), EventKey::of("evt-1"));
    }

    #[test]
    fn keys_keep_the_order_of_their_text() {
        let low = EventKey::of("0fffffff-ffff-5fff-bfff-ffffffffffff");
        let high = EventKey::of("10000000-0000-5000-8000-000000000000");
        assert!(low.to_bytes() < high.to_bytes());
        assert_eq!(EventKey::from_bytes(&high.to_bytes()), high);
    }
}
